#!/usr/bin/env bash
# tests/lab/remote.sh - "remote" Docker hosts for the SSH transport's tests:
# each one a network namespace with its own dockerd and a real sshd.
#
#   bash tests/lab/remote.sh start [N]     start hosts 1..N (default 1); idempotent
#   bash tests/lab/remote.sh stop          stop everything started here, remove it
#   bash tests/lab/remote.sh sshd-stop [I] stop only host I's sshd (default 1)
#   bash tests/lab/remote.sh sshd-start [I] start it again
#
# Also sourced (like dockerd.sh): lab_remote_start, lab_remote_stop,
# lab_remote_sshd_stop, lab_remote_sshd_start. OCC_LAB_DIR (default
# /run/occ-lab) holds the pids, sockets and remote.env: two labs side by side
# need different OCC_LAB_DIRs *and* different host numbers (namespaces and
# addresses are named by number only). The first host of a lab is
# OCC_LAB_FIRST (default 1): `OCC_LAB_FIRST=7 ... start 1` runs host 7 alone.
#
# Host i is the namespace occ-lab-r$i: a veth pair 10.231.$i.1/24 (here) <->
# 10.231.$i.2/24 (there), a dockerd serving /run/occ-lab/r$i/docker.sock (the
# "remote socket": the host's `socket:` in a state file; the machine's own
# /var/run/docker.sock is left alone), and sshd on 10.231.$i.2:22 with its own
# ed25519 host key, publickey authentication only, root login with the lab
# keys and stream-local and TCP forwarding allowed. The remote daemon gets the
# test image occ-test-busybox:1, built there from tests/images/busybox-httpd.
#
# Keys, made once under /var/lib/occ-lab: id_ed25519 (the lab's user key),
# id_ed25519_pass (the same kind with the passphrase in pass.txt, for the
# "encrypted key" tests), id_rsa (authorised too, to show libssh2 1.10's
# SHA-1 RSA signatures being refused). /run/occ-lab/remote.env tells the tests
# where everything is (OCC_LAB_R1_ADDR, ..._KNOWN_HOSTS, OCC_LAB_KEY, ...).
#
# Every daemon started here writes its pid under /run/occ-lab/r$i (dockerd's
# --pidfile, sshd's PidFile); only those pids are stopped, and only while
# their command line still names this lab's paths (a recycled pid is left
# alone). The daemons are started with setsid, detached from the caller's
# session, so $! would be the wrong pid: the daemons' own pidfiles are used.

LAB_REMOTE_DIR=${OCC_LAB_DIR:-/run/occ-lab}
LAB_REMOTE_STATE=/var/lib/occ-lab
LAB_REMOTE_ENV=$LAB_REMOTE_DIR/remote.env
LAB_REMOTE_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

lab_remote__ns() { echo "occ-lab-r$1"; }
lab_remote__in() { local i=$1; shift; nsenter --net="/run/netns/$(lab_remote__ns "$i")" "$@"; }

# Whether pidfile $1 names a live process whose command line contains $2.
lab_remote__alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

lab_remote__keys() {
	mkdir -p "$LAB_REMOTE_STATE"
	chmod 0700 "$LAB_REMOTE_STATE"
	[ -f "$LAB_REMOTE_STATE/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C occ-lab -f "$LAB_REMOTE_STATE/id_ed25519"
	if [ ! -f "$LAB_REMOTE_STATE/id_ed25519_pass" ]; then
		head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$LAB_REMOTE_STATE/pass.txt"
		chmod 0600 "$LAB_REMOTE_STATE/pass.txt"
		ssh-keygen -q -t ed25519 -N "$(cat "$LAB_REMOTE_STATE/pass.txt")" -C occ-lab-pass \
			-f "$LAB_REMOTE_STATE/id_ed25519_pass"
	fi
	[ -f "$LAB_REMOTE_STATE/id_rsa" ] ||
		ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C occ-lab-rsa -f "$LAB_REMOTE_STATE/id_rsa"
	cat "$LAB_REMOTE_STATE"/id_ed25519.pub "$LAB_REMOTE_STATE"/id_ed25519_pass.pub \
		"$LAB_REMOTE_STATE"/id_rsa.pub >"$LAB_REMOTE_STATE/authorized_keys"
	chmod 0600 "$LAB_REMOTE_STATE/authorized_keys"
}

lab_remote__net() {
	local i=$1 ns veth
	ns=$(lab_remote__ns "$i")
	veth="occlab$i"
	[ -e "/run/netns/$ns" ] || ip netns add "$ns"
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip link add "$veth" type veth peer name eth0 netns "$ns"
		ip addr add "10.231.$i.1/24" dev "$veth"
		ip link set "$veth" up
		lab_remote__in "$i" ip addr add "10.231.$i.2/24" dev eth0
		lab_remote__in "$i" ip link set eth0 up
		lab_remote__in "$i" ip link set lo up
		lab_remote__in "$i" ip route add default via "10.231.$i.1" 2>/dev/null || true
	fi
}

lab_remote__ping_docker() {
	curl -fsS --max-time 2 --unix-socket "$LAB_REMOTE_DIR/r$1/docker.sock" \
		http://docker/_ping >/dev/null 2>&1
}

lab_remote__dockerd() {
	local i=$1 d=$LAB_REMOTE_DIR/r$1
	mkdir -p "$d/exec" "$LAB_REMOTE_STATE/r$i"
	if ! lab_remote__alive "$d/dockerd.pid" "$d/docker.sock"; then
		lab_remote__in "$i" setsid dockerd --data-root "$LAB_REMOTE_STATE/r$i" \
			--exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
			--host "unix://$d/docker.sock" --tls=false \
			>>"/tmp/occ-lab-r$i-dockerd.log" 2>&1 </dev/null &
	fi
	for _ in $(seq 1 60); do
		lab_remote__ping_docker "$i" && return 0
		sleep 0.5
	done
	echo "lab: the dockerd of host $i did not answer; see /tmp/occ-lab-r$i-dockerd.log" >&2
	return 1
}

lab_remote__image() {
	local i=$1 sock=unix://$LAB_REMOTE_DIR/r$1/docker.sock ctx
	docker -H "$sock" image inspect occ-test-busybox:1 >/dev/null 2>&1 && return 0
	ctx=$(mktemp -d)
	cp -r "$LAB_REMOTE_SRC/tests/images/busybox-httpd/." "$ctx/"
	cp /bin/busybox "$ctx/busybox"
	docker -H "$sock" build -q -t occ-test-busybox:1 "$ctx" >/dev/null
	local rc=$?
	rm -rf "$ctx"
	return $rc
}

lab_remote__sshd_conf() {
	local i=$1 d=$LAB_REMOTE_DIR/r$1
	[ -f "$LAB_REMOTE_STATE/r$i-host_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C "occ-lab-r$i" -f "$LAB_REMOTE_STATE/r$i-host_ed25519"
	cat >"$d/sshd_config" <<EOF
ListenAddress 10.231.$i.2:22
HostKey $LAB_REMOTE_STATE/r$i-host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $LAB_REMOTE_STATE/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
UsePAM no
StrictModes no
LogLevel VERBOSE
EOF
}

lab_remote_sshd_start() {
	local i=${1:-1} d=$LAB_REMOTE_DIR/r${1:-1}
	lab_remote__alive "$d/sshd.pid" "$d/sshd_config" && return 0
	mkdir -p /run/sshd
	chmod 0755 /run/sshd
	lab_remote__in "$i" setsid /usr/sbin/sshd -D -e -f "$d/sshd_config" \
		>>"/tmp/occ-lab-r$i-sshd.log" 2>&1 </dev/null &
	for _ in $(seq 1 40); do
		lab_remote__alive "$d/sshd.pid" "$d/sshd_config" &&
			lab_remote__in "$i" bash -c "exec 3<>/dev/tcp/10.231.$i.2/22" 2>/dev/null &&
			return 0
		sleep 0.25
	done
	echo "lab: sshd of host $i did not listen; see /tmp/occ-lab-r$i-sshd.log" >&2
	return 1
}

# Stop the process of pidfile $1 if its command line contains $2; wait for it.
lab_remote__kill() {
	local pidfile=$1 pid
	[ -s "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if lab_remote__alive "$pidfile" "$2"; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

# The pids descending from $1 (sshd's per-connection processes call setsid(),
# so a process group would miss them).
lab_remote__descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		lab_remote__descendants "$c"
	done
}

# "The host goes away": the listening sshd and every session it serves, so
# open connections break too, as when the machine drops off the network.
lab_remote_sshd_stop() {
	local d=$LAB_REMOTE_DIR/r${1:-1} pid kids k
	lab_remote__alive "$d/sshd.pid" "$d/sshd_config" || return 0
	pid=$(cat "$d/sshd.pid")
	kids=$(lab_remote__descendants "$pid")
	lab_remote__kill "$d/sshd.pid" "$d/sshd_config"
	[ -n "$kids" ] && kill $kids 2>/dev/null || true
	# Return only once every session is gone: callers test what follows.
	for k in $kids; do
		for _ in $(seq 1 40); do
			kill -0 "$k" 2>/dev/null || break
			sleep 0.25
		done
	done
	return 0
}

lab_remote__env() {
	local first=$1 n=$2 i
	{
		echo "OCC_LAB_HOSTS=$n"
		echo "OCC_LAB_FIRST=$first"
		echo "OCC_LAB_KEY=$LAB_REMOTE_STATE/id_ed25519"
		echo "OCC_LAB_KEY_PASS=$LAB_REMOTE_STATE/id_ed25519_pass"
		echo "OCC_LAB_KEY_PASS_FILE=$LAB_REMOTE_STATE/pass.txt"
		echo "OCC_LAB_KEY_RSA=$LAB_REMOTE_STATE/id_rsa"
		echo "OCC_LAB_USER=root"
		echo "OCC_LAB_SCRIPT=$LAB_REMOTE_SRC/tests/lab/remote.sh"
		for i in $(seq "$first" $((first + n - 1))); do
			echo "OCC_LAB_R${i}_ADDR=10.231.$i.2"
			echo "OCC_LAB_R${i}_PORT=22"
			echo "OCC_LAB_R${i}_SOCKET=$LAB_REMOTE_DIR/r$i/docker.sock"
			echo "OCC_LAB_R${i}_KNOWN_HOSTS='10.231.$i.2 $(cut -d' ' -f1-2 "$LAB_REMOTE_STATE/r$i-host_ed25519.pub")'"
		done
	} >"$LAB_REMOTE_ENV.tmp"
	mv "$LAB_REMOTE_ENV.tmp" "$LAB_REMOTE_ENV"
}

lab_remote_start() {
	local n=${1:-1} first=${OCC_LAB_FIRST:-1} i
	mkdir -p "$LAB_REMOTE_DIR"
	chmod 0755 "$LAB_REMOTE_DIR"
	lab_remote__keys || return 1
	for i in $(seq "$first" $((first + n - 1))); do
		mkdir -p "$LAB_REMOTE_DIR/r$i"
		lab_remote__net "$i" || return 1
		lab_remote__dockerd "$i" || return 1
		lab_remote__image "$i" || { echo "lab: cannot build the test image on host $i" >&2; return 1; }
		lab_remote__sshd_conf "$i"
		lab_remote_sshd_start "$i" || return 1
		echo "lab: remote host $i: ssh root@10.231.$i.2, socket $LAB_REMOTE_DIR/r$i/docker.sock"
	done
	lab_remote__env "$first" "$n"
	echo "lab: environment in $LAB_REMOTE_ENV"
}

lab_remote_stop() {
	local d i ctrs
	for d in "$LAB_REMOTE_DIR"/r*; do
		[ -d "$d" ] || continue
		i=${d##*/r}
		lab_remote_sshd_stop "$i"
		if lab_remote__alive "$d/dockerd.pid" "$d/docker.sock"; then
			# Stop what tests left running, so nothing lingers in the namespace.
			ctrs=$(docker -H "unix://$d/docker.sock" ps -q 2>/dev/null || true)
			[ -n "$ctrs" ] && docker -H "unix://$d/docker.sock" kill $ctrs >/dev/null 2>&1 || true
		fi
		lab_remote__kill "$d/dockerd.pid" "$d/docker.sock"
		# Only the namespace of a host this directory holds: another lab
		# (another OCC_LAB_DIR) may run other host numbers beside it.
		ip link del "occlab$i" 2>/dev/null
		[ -e "/run/netns/occ-lab-r$i" ] && ip netns del "occ-lab-r$i"
		rm -rf "$d"
	done
	rm -f "$LAB_REMOTE_ENV"
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	start) lab_remote_start "${2:-1}" ;;
	stop) lab_remote_stop ;;
	sshd-stop) lab_remote_sshd_stop "${2:-1}" ;;
	sshd-start) lab_remote_sshd_start "${2:-1}" ;;
	*) echo "usage: $0 start [N] | stop | sshd-stop [I] | sshd-start [I]" >&2; exit 64 ;;
	esac
fi
