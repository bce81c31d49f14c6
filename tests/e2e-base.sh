#!/usr/bin/env bash
# tests/e2e-base.sh OCC - the first `occ apply` works without a container
# registry: occ makes the embedded Dockerfile's base image (debian:
# bookworm-slim) from this machine's Debian mirror and reuses it.
#
# Runs on a Docker daemon of its own (tests/lab/private-dockerd.sh, TAG
# occbase: its own data root, so removing the base there disturbs no other
# test), started with an unreachable proxy for its pulls (HTTPS_PROXY=
# 127.0.0.1:9): no registry is reachable, whatever the machine has. That
# daemon runs with --iptables=false, so this test gives its bridge NAT and
# forwarding for the build's apt-get and npm downloads (rules tagged
# occ-e2e-base, removed at the end).
#
#   0. with OCC_BASE_MIRROR pointing at a closed port: the apply fails with
#      an error and a hint naming that mirror, no image, no directory left.
#   1. occ apply of an embedded build: the progress says why and with what
#      the base is made, the base has the label dev.opencode-cloud.base, the
#      service answers /healthz on 127.0.0.1:23140; the durations printed by
#      occ (tool, import) and the whole apply are reported.
#   2. occ apply again: nothing to do, no base made.
#   3. an apply of another image ref builds again (from the cache): the base
#      is found, not made again.
#   4. a remote host over SSH (a lab host of its own: tests/lab/remote.sh
#      with OCC_LAB_DIR=/run/occ-lab-base, host 17) without the base: occ
#      makes it here and imports it there over the connection (labelled);
#      OCC_E2E_BASE_REMOTE=0 leaves this step out, and it is skipped when the
#      lab cannot start.
#
# Exit 77 (skipped) without root, dockerd, iptables or mmdebstrap/debootstrap.
# Host port 23140.
set -euo pipefail

OCC=$(realpath "${1:?usage: e2e-base.sh OCC_BINARY}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB=$SRC/tests/lab/private-dockerd.sh
TAG=occbase
BRIDGE=occf-$TAG
PROJECT=occ-base-e2e
PORT=23140
BASE=debian:bookworm-slim
RULE=(-m comment --comment occ-e2e-base)

if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v iptables >/dev/null; then
	echo "e2e-base: skipped: needs root, dockerd and iptables" >&2
	exit 77
fi
if ! command -v mmdebstrap >/dev/null && ! command -v debootstrap >/dev/null; then
	echo "e2e-base: skipped: needs mmdebstrap or debootstrap (tests/install-deps.sh)" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/occ-base-e2e.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state
export DOCKER_HOST=unix:///run/occ-fault-$TAG/docker.sock
STATE=$WORK/state.yaml
NET=""
LAB_DIR=/run/occ-lab-base   # a lab of its own beside tests/lab/remote.sh's
LAB_HOST=17
LAB_STARTED=""

nat() {   # nat -D: remove the bridge's masquerading and forwarding
	[ -n "$NET" ] || return 0
	iptables -t nat "$1" POSTROUTING -s "$NET" ! -o "$BRIDGE" -j MASQUERADE "${RULE[@]}"
	iptables "$1" FORWARD -i "$BRIDGE" -j ACCEPT "${RULE[@]}"
	iptables "$1" FORWARD -o "$BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED \
		-j ACCEPT "${RULE[@]}"
}
cleanup() {
	nat -D 2>/dev/null || true
	if [ -n "$LAB_STARTED" ]; then
		OCC_LAB_DIR=$LAB_DIR bash "$SRC/tests/lab/remote.sh" stop >/dev/null 2>&1 || true
		rmdir "$LAB_DIR" 2>/dev/null || true
	fi
	bash "$LAB" purge "$TAG" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "e2e-base: FAIL: $*" >&2
	docker logs --tail 30 "$PROJECT" 2>&1 | sed 's/^/  | /' >&2 || true
	exit 1
}
step() { echo "== $*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- a daemon of its own, without a registry ---------------------------------

step "private dockerd $TAG, pulls through an unreachable proxy"
bash "$LAB" purge "$TAG" >/dev/null 2>&1 || true
HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY= \
	bash "$LAB" start "$TAG" >/dev/null || fail "cannot start the private dockerd"
NET=$(ip -4 -o addr show dev "$BRIDGE" | awk '{ print $4 }')
NET=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_interface(sys.argv[1]).network)' "$NET")
[ -n "$NET" ] || fail "no address on $BRIDGE"
# -I: ahead of the shared daemon's DOCKER-USER and isolation chains
iptables -t nat -I POSTROUTING -s "$NET" ! -o "$BRIDGE" -j MASQUERADE "${RULE[@]}"
iptables -I FORWARD -i "$BRIDGE" -j ACCEPT "${RULE[@]}"
iptables -I FORWARD -o "$BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT "${RULE[@]}"
! docker image inspect "$BASE" >/dev/null 2>&1 || fail "$BASE is already on the new daemon"
if docker pull "$BASE" >/dev/null 2>&1; then
	fail "the private daemon can pull $BASE: a registry is reachable"
fi

cat >"$STATE" <<EOF
version: 1
name: $PROJECT
image:
  ref: $PROJECT:local
  build: {context: embedded}
container:
  port: $PORT
  health: {path: /healthz, timeout: 180s}
EOF

# ---- 0. a mirror that fails --------------------------------------------------

step "a mirror that does not answer: an error naming it, nothing left behind"
left() { find /var/tmp -maxdepth 1 -name 'occ-base.*' 2>/dev/null | sort; }
before=$(left)
if OCC_BASE_MIRROR=http://127.0.0.1:9/debian "$OCC" -f "$STATE" apply --yes \
	>"$WORK/apply0.log" 2>&1; then
	fail "the apply with a dead mirror succeeded"
fi
grep -q "base image $BASE cannot be pulled (no registry reachable) and was not made here: cannot make a Debian bookworm root filesystem from http://127.0.0.1:9/debian: " \
	"$WORK/apply0.log" || { cat "$WORK/apply0.log" >&2; fail "the error does not name the mirror"; }
grep -q "^hint: check that http://127.0.0.1:9/debian answers" "$WORK/apply0.log" ||
	fail "no hint about the mirror"
! docker image inspect "$BASE" >/dev/null 2>&1 || fail "a base was imported anyway"
[ "$(left)" = "$before" ] || fail "a temporary directory was left in /var/tmp"

# ---- 1. the first apply makes the base ---------------------------------------

step "occ apply (the base is missing; no registry)"
t0=$(now)
"$OCC" -f "$STATE" apply --yes >"$WORK/apply1.log" 2>&1 ||
	{ tail -40 "$WORK/apply1.log" >&2; fail "the first apply failed"; }
total=$(secs "$t0")
grep -E "base image $BASE cannot be pulled \(no registry reachable\): making it from [a-z]+://[^ ]+ with (mmdebstrap|debootstrap) \(~1 min, once\)" \
	"$WORK/apply1.log" >/dev/null || { cat "$WORK/apply1.log" >&2; fail "no line saying the base is made"; }
grep -q "^ *I: " "$WORK/apply1.log" ||
	fail "the tool's progress lines were not shown"
made=$(grep -o 'made with [a-z]* in [0-9]* s' "$WORK/apply1.log" | head -1)
imported=$(grep -o "imported $BASE in [0-9.]* s" "$WORK/apply1.log" | head -1)
label=$(docker image inspect -f '{{index .Config.Labels "dev.opencode-cloud.base"}}' "$BASE") ||
	fail "$BASE is not on the daemon after the apply"
case $label in mmdebstrap|debootstrap) ;; *) fail "$BASE has no occ label (got '$label')";; esac
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz") || true
[ "$code" = 200 ] || fail "/healthz answered '$code', not 200"
echo "   base: $made; $imported; label $label; first apply healthy after $total s"

# ---- 2. again: nothing to do -------------------------------------------------

step "occ apply again: no changes, no base made"
base_id=$(docker image inspect -f '{{.Id}}' "$BASE")
"$OCC" -f "$STATE" apply --yes >"$WORK/apply2.log" 2>&1 || fail "the second apply failed"
! grep -q "making it" "$WORK/apply2.log" || fail "the second apply made the base again"

# ---- 3. another build reuses the base ----------------------------------------

step "a build of another ref finds the base"
sed -i "s/ref: $PROJECT:local/ref: $PROJECT:second/" "$STATE"
t0=$(now)
"$OCC" -f "$STATE" apply --yes >"$WORK/apply3.log" 2>&1 ||
	{ tail -30 "$WORK/apply3.log" >&2; fail "the third apply failed"; }
! grep -q "making it" "$WORK/apply3.log" || fail "the third apply made the base again"
docker image inspect "$PROJECT:second" >/dev/null 2>&1 || fail "$PROJECT:second was not built"
[ "$(docker image inspect -f '{{.Id}}' "$BASE")" = "$base_id" ] || fail "the base changed"
echo "   rebuilt from the cache with the base kept, healthy after $(secs "$t0") s"

# ---- 4. a remote host: made here, sent over the SSH connection -------------------

remote_step() {
	local env kh addr sock key r
	step "a remote host without the base (SSH lab host $LAB_HOST): made here, sent over SSH"
	if ! OCC_LAB_DIR=$LAB_DIR OCC_LAB_FIRST=$LAB_HOST bash "$SRC/tests/lab/remote.sh" start 1 \
		>"$WORK/lab.log" 2>&1; then
		echo "   skipped: the SSH lab does not start here:"; tail -3 "$WORK/lab.log" | sed 's/^/   | /'
		return 0
	fi
	LAB_STARTED=1
	env=$LAB_DIR/remote.env
	addr=$(bash -c ". '$env'; echo \$OCC_LAB_R${LAB_HOST}_ADDR")
	sock=$(bash -c ". '$env'; echo \$OCC_LAB_R${LAB_HOST}_SOCKET")
	kh=$(bash -c ". '$env'; echo \"\$OCC_LAB_R${LAB_HOST}_KNOWN_HOSTS\"")
	key=$(bash -c ". '$env'; echo \$OCC_LAB_KEY")
	r="docker -H unix://$sock"
	# its data root outlives the lab: start from a daemon without the base
	$r rmi -f "$BASE" "$PROJECT-remote:local" >/dev/null 2>&1 || true
	mkdir -p "$WORK/home/.ssh"
	echo "$kh" >"$WORK/home/.ssh/known_hosts"
	cat >"$WORK/remote.yaml" <<EOT
version: 1
name: $PROJECT-remote
image:
  ref: $PROJECT-remote:local
  build: {context: embedded}
container:
  port: $PORT
hosts:
  - name: lab
    address: $addr
    user: root
    identity: $key
    socket: $sock
EOT
	t0=$(now)
	# The lab's namespaces reach no network: the build stops at its first
	# download once the base is there; only the base step is checked.
	HOME=$WORK/home "$OCC" -f "$WORK/remote.yaml" apply --yes >"$WORK/remote.log" 2>&1 || true
	grep -E "base image $BASE is missing on host 'lab' \(ssh://root@$addr:22\) and cannot be pulled there \(no registry reachable\): making it here from [a-z]+://[^ ]+ with (mmdebstrap|debootstrap) and sending it" \
		"$WORK/remote.log" >/dev/null || { cat "$WORK/remote.log" >&2; fail "no line saying the base is made for the remote host"; }
	label=$($r image inspect -f '{{index .Config.Labels "dev.opencode-cloud.base"}}' "$BASE") ||
		{ cat "$WORK/remote.log" >&2; fail "$BASE is not on the remote daemon"; }
	case $label in mmdebstrap|debootstrap) ;; *) fail "the remote $BASE has no occ label";; esac
	echo "   $(grep -o 'made with [a-z]* in [0-9]* s' "$WORK/remote.log" | head -1);" \
		"$(grep -o "imported $BASE in [0-9.]* s" "$WORK/remote.log" | head -1) over SSH;" \
		"base step and build attempt $(secs "$t0") s"
	# what the build attempt left there (its data root stays on disk)
	$r rmi -f "$BASE" >/dev/null 2>&1 || true
	$r image prune -af >/dev/null 2>&1 || true
}
[ "${OCC_E2E_BASE_REMOTE:-1}" = 0 ] || remote_step

echo "e2e-base: ok"
