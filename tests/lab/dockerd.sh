#!/usr/bin/env bash
# tests/lab/dockerd.sh - make sure a Docker daemon answers for the integration
# tests. Sourced by tests/run-all.sh:
#
#   lab_dockerd_start   use the daemon at $DOCKER_SOCK if it answers; else start
#                       dockerd (Debian's docker.io) and remember its pid
#   lab_dockerd_stop    stop the daemon only if lab_dockerd_start started it
#   lab_dockerd_restart stop and start again the daemon lab_dockerd_start
#                       started (the watcher's reconnect test); also run as
#                       `tests/lab/dockerd.sh restart`, which lab_dockerd_start
#                       exports as $OCC_TEST_DOCKERD_RESTART when it started
#                       the daemon (a daemon found running is never restarted)
#
# Only processes started here are ever stopped, by pid: the one recorded at
# start, or after a restart the one in the lab's own pidfile.

DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
LAB_DOCKERD_PID=
LAB_DOCKERD_LOG=${LAB_DOCKERD_LOG:-/tmp/occ-lab-dockerd.log}
LAB_DOCKERD_PIDFILE=/run/occ-lab-dockerd.pid

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
	dockerd --host "unix://$DOCKER_SOCK" --pidfile "$LAB_DOCKERD_PIDFILE" \
		>"$LAB_DOCKERD_LOG" 2>&1 &
	LAB_DOCKERD_PID=$!
	OCC_TEST_DOCKERD_RESTART="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dockerd.sh restart"
	export OCC_TEST_DOCKERD_RESTART
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

# The pid of the lab's daemon now: a restart (run by a test, in another
# process) replaces the one recorded at start.
lab_dockerd_current_pid() {
	if [ -n "$LAB_DOCKERD_PID" ] && ! kill -0 "$LAB_DOCKERD_PID" 2>/dev/null &&
		[ -s "$LAB_DOCKERD_PIDFILE" ]; then
		LAB_DOCKERD_PID=$(cat "$LAB_DOCKERD_PIDFILE")
	fi
}

lab_dockerd_stop() {
	lab_dockerd_current_pid
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

lab_dockerd_restart() {
	local pid
	pid=$(cat "$LAB_DOCKERD_PIDFILE" 2>/dev/null || true)
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "lab: no lab-started dockerd to restart (no live pid in $LAB_DOCKERD_PIDFILE)" >&2
		return 1
	fi
	echo "lab: restarting dockerd (pid $pid)"
	kill "$pid"
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "lab: dockerd (pid $pid) did not stop within 30 s" >&2
		return 1
	fi
	# setsid: the new daemon must outlive the test that asked for the restart.
	setsid dockerd --host "unix://$DOCKER_SOCK" --pidfile "$LAB_DOCKERD_PIDFILE" \
		>>"$LAB_DOCKERD_LOG" 2>&1 </dev/null &
	for _ in $(seq 1 60); do
		if lab_docker_ping; then
			echo "lab: dockerd is up again (pid $(cat "$LAB_DOCKERD_PIDFILE"))"
			return 0
		fi
		sleep 0.5
	done
	echo "lab: dockerd did not answer within 30 s of its restart" >&2
	return 1
}

# Run directly: `dockerd.sh restart`.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	restart) lab_dockerd_restart ;;
	*) echo "usage: $0 restart" >&2; exit 64 ;;
	esac
fi
