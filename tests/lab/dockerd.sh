#!/usr/bin/env bash
# tests/lab/dockerd.sh - make sure a Docker daemon answers for the integration
# tests. Sourced by tests/run-all.sh:
#
#   lab_dockerd_start   use the daemon at $DOCKER_SOCK if it answers; else start
#                       dockerd (Debian's docker.io) and remember its pid
#   lab_dockerd_stop    stop the daemon only if lab_dockerd_start started it
#
# Only processes started here are ever stopped, by pid.

DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
LAB_DOCKERD_PID=
LAB_DOCKERD_LOG=${LAB_DOCKERD_LOG:-/tmp/occ-lab-dockerd.log}

lab_docker_ping() {
	curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCK" http://docker/_ping >/dev/null 2>&1
}

lab_dockerd_start() {
	if lab_docker_ping; then
		echo "lab: using the Docker daemon at $DOCKER_SOCK"
		return 0
	fi
	if ! command -v dockerd >/dev/null; then
		echo "lab: dockerd not found: apt-get install docker.io" >&2
		return 1
	fi
	echo "lab: starting dockerd (log: $LAB_DOCKERD_LOG)"
	dockerd --host "unix://$DOCKER_SOCK" --pidfile /run/occ-lab-dockerd.pid \
		>"$LAB_DOCKERD_LOG" 2>&1 &
	LAB_DOCKERD_PID=$!
	for _ in $(seq 1 60); do
		if lab_docker_ping; then
			echo "lab: dockerd is up (pid $LAB_DOCKERD_PID)"
			return 0
		fi
		if ! kill -0 "$LAB_DOCKERD_PID" 2>/dev/null; then
			echo "lab: dockerd exited; last lines of its log:" >&2
			tail -20 "$LAB_DOCKERD_LOG" >&2
			return 1
		fi
		sleep 0.5
	done
	echo "lab: dockerd did not answer within 30 s" >&2
	return 1
}

lab_dockerd_stop() {
	if [ -n "$LAB_DOCKERD_PID" ] && kill -0 "$LAB_DOCKERD_PID" 2>/dev/null; then
		echo "lab: stopping dockerd (pid $LAB_DOCKERD_PID)"
		kill "$LAB_DOCKERD_PID"
		for _ in $(seq 1 40); do
			kill -0 "$LAB_DOCKERD_PID" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$LAB_DOCKERD_PID" 2>/dev/null; then
			kill -9 "$LAB_DOCKERD_PID" 2>/dev/null || true
		fi
		wait "$LAB_DOCKERD_PID" 2>/dev/null || true
		LAB_DOCKERD_PID=
	fi
}
