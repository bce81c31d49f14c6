#!/usr/bin/env bash
# tests/lab/private-dockerd.sh - a Docker daemon of a test's own, for tests
# that stop and start the daemon (tests/test-daemon-faults.c). It never
# touches the machine's shared daemon: everything is its own, named after TAG
# (letters and digits, at most 10):
#
#   socket    /run/occ-fault-TAG/docker.sock    (DOCKER_HOST=unix://...)
#   pidfile   /run/occ-fault-TAG/dockerd.pid
#   exec-root /run/occ-fault-TAG/exec          (its own containerd)
#   data-root /var/lib/occ-fault-TAG            (overlay2 wants a real disk)
#   bridge    occf-TAG (10.234.N.1/24), --iptables=false: no clash with the
#             shared daemon's docker0; ports are published by docker-proxy
#   log       /run/occ-fault-TAG/dockerd.log
#
#   private-dockerd.sh start TAG   start it (again), wait until it answers
#   private-dockerd.sh stop TAG    SIGTERM the pid in its pidfile, wait for it
#   private-dockerd.sh purge TAG   stop, then remove its data, bridge, files
#
# Needs root. Only the pid in this daemon's own pidfile is ever signalled.
set -euo pipefail

cmd=${1:?usage: private-dockerd.sh start|stop|purge TAG}
tag=${2:?usage: private-dockerd.sh start|stop|purge TAG}
case $tag in *[!a-z0-9]*|'') echo "private-dockerd: bad TAG '$tag'" >&2; exit 64;; esac
[ ${#tag} -le 10 ] || { echo "private-dockerd: TAG '$tag' is longer than 10" >&2; exit 64; }

run=/run/occ-fault-$tag
data=/var/lib/occ-fault-$tag
bridge=occf-$tag
sock=$run/docker.sock
pidfile=$run/dockerd.pid
log=$run/dockerd.log

ping() {
	curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1
}

running_pid() {
	local pid
	[ -s "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

start() {
	local n pid
	if running_pid >/dev/null && ping; then
		echo "private-dockerd: $tag already runs (pid $(running_pid))"
		return 0
	fi
	mkdir -p "$run" "$data"
	if ! ip link show "$bridge" >/dev/null 2>&1; then
		n=$(( $(printf '%s' "$tag" | cksum | cut -d' ' -f1) % 200 + 20 ))
		ip link add "$bridge" type bridge
		ip addr add "10.234.$n.1/24" dev "$bridge"
		ip link set "$bridge" up
	fi
	# a session of its own: a test harness that kills its process group
	# (Check does, after each forked test) must not take the daemon along
	setsid dockerd --host "unix://$sock" --pidfile "$pidfile" --data-root "$data" \
		--exec-root "$run/exec" --bridge "$bridge" --iptables=false --ip-masq=false \
		--ip6tables=false --tls=false >>"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 120); do
		if ping; then
			echo "$pid"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "private-dockerd: dockerd exited; last lines of $log:" >&2
			tail -20 "$log" >&2
			return 1
		fi
		sleep 0.25
	done
	echo "private-dockerd: dockerd $pid did not answer on $sock" >&2
	return 1
}

stop() {
	local pid
	pid=$(running_pid) || return 0
	kill -TERM "$pid"
	for _ in $(seq 1 240); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	echo "private-dockerd: dockerd $pid did not stop within 60 s" >&2
	return 1
}

# Mount points under a directory, deepest first.
mounts_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r
}

purge() {
	# containers go through the daemon first, so their shims exit with them
	if [ -d "$data" ] && { running_pid >/dev/null || start >/dev/null; }; then
		ids=$(docker -H "unix://$sock" ps -aq 2>/dev/null || true)
		[ -z "$ids" ] || docker -H "unix://$sock" rm -f $ids >/dev/null 2>&1 || true
	fi
	stop
	for d in "$run" "$data"; do
		mounts_under "$d" | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	done
	rm -rf "$data"
	ip link del "$bridge" 2>/dev/null || true
	rm -rf "$run"
}

case $cmd in
start) start ;;
stop) stop ;;
purge) purge ;;
*) echo "usage: private-dockerd.sh start|stop|purge TAG" >&2; exit 64 ;;
esac
