#!/usr/bin/env bash
# tests/e2e-image.sh OCC - end to end: occ builds its embedded opencode image
# and runs it; logins, health and data are checked over HTTP with curl.
#
#   1. A Debian base: `debootstrap --variant=minbase bookworm` from the mirror
#      this machine's apt uses, imported as the Dockerfile's default base
#      (debian:bookworm-slim; there is no registry to pull from). The rootfs
#      tarball is cached in /var/cache/occ-test/; nothing is done when the
#      image already exists.
#   2. `occ apply` of a state file with the embedded build and this machine's
#      extra CA certificates (/usr/local/share/ca-certificates/*.crt), then:
#      no users on loopback: open; two users: 401 without or with wrong
#      credentials, 200 with each user's, /healthz 200 without; server-sent
#      events and a websocket pass through the front; a disabled
#      user: 401 for them only; opencode's info (/api/info for 2.x,
#      /global/health for 1.x) reports the pinned opencode version; a
#      session made through the API survives a recreate, an image built
#      from another embedded Dockerfile (an older occ) is rebuilt, and
#      `occ update` moves the service to a new image when a build input
#      changes (health-gated; the session and the logins survive it).
#   3. Fail closed: the image run without OCC_LOGIN=open (or with another
#      value) asks for a login even with no accounts; occ refuses a
#      non-loopback bind without users; a build whose opencode download does
#      not match the pinned integrity fails.
#
# OCC_E2E_OPENCODE_VERSION=1.18.18 builds that opencode instead of the
# Dockerfile's default (image.build.args.OPENCODE_VERSION, as a state file
# that pinned 1.x does): the same checks, on 1.x's API paths.
#
# Only the project occ-img-e2e's containers and volumes are removed at the
# end; the images stay (they are the build cache). Passwords go to occ on
# stdin and to curl in a config read from stdin (-K -), never in argv.
# Exit 77 (skipped) without root or a Docker daemon. Host ports 23110-23112.
set -euo pipefail

OCC=$(realpath "${1:?usage: e2e-image.sh OCC_BINARY}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
PROJECT=occ-img-e2e
REF=occ-img-e2e:local
PORT=23110
RAW_PORT=23112
BASE=debian:bookworm-slim
CACHE=/var/cache/occ-test
ROOTFS_TAR=$CACHE/debian-bookworm-minbase.tar

if [ "$(id -u)" != 0 ] || ! docker info >/dev/null 2>&1; then
	echo "e2e-image: skipped: needs root and a running Docker daemon" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/occ-img-e2e.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state
STATE=$WORK/state.yaml

cleanup_project() {
	local ids
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$PROJECT") || true
	[ -z "$ids" ] || docker rm -f $ids >/dev/null || true
	docker rm -f occ-img-e2e-raw >/dev/null 2>&1 || true
	for p in "$PROJECT" "$PROJECT-bad"; do
		ids=$(docker volume ls -q --filter "label=dev.opencode-cloud.project=$p") || true
		[ -z "$ids" ] || docker volume rm $ids >/dev/null || true
	done
}
cleanup() {
	cleanup_project
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "e2e-image: FAIL: $*" >&2
	docker logs --tail 30 "$PROJECT" 2>&1 | sed 's/^/  | /' >&2 || true
	exit 1
}
step() { echo "== $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# ---- the base image ---------------------------------------------------------

debian_mirror() {
	local m=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
			if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
	step "base image $BASE (debootstrap, cached in $ROOTFS_TAR)"
	command -v debootstrap >/dev/null || fail "debootstrap is missing: run tests/install-deps.sh"
	mkdir -p "$CACHE"
	if [ ! -s "$ROOTFS_TAR" ]; then
		rootfs=$WORK/rootfs
		debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1 ||
			{ tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
		tar -C "$rootfs" -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
		rm -rf "$rootfs"
	fi
	docker import "$ROOTFS_TAR" "$BASE" >/dev/null
fi

# ---- helpers ----------------------------------------------------------------

# code URL [USER:PASSWORD]: the HTTP status; credentials via a config on stdin.
code() {
	local url=$1 cred=${2:-}
	if [ -n "$cred" ]; then
		printf 'user = "%s"\n' "$cred" | curl -s -m 5 -o /dev/null -w '%{http_code}' -K - "$url"
	else
		curl -s -m 5 -o /dev/null -w '%{http_code}' "$url"
	fi
}

# body URL USER:PASSWORD [curl options...]
body() {
	local url=$1 cred=$2
	shift 2
	printf 'user = "%s"\n' "$cred" | curl -sf -m 10 -K - "$@" "$url"
}

expect_code() {
	local want=$1 what=$2 got
	shift 2
	got=$(code "$@")
	[ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
	echo "   ok: $what -> $want"
}

apply() {
	"$OCC" apply -y -f "$STATE" >"$WORK/apply.log" 2>&1 || { cat "$WORK/apply.log" >&2; fail "occ apply"; }
}

ca_list=""
for f in /usr/local/share/ca-certificates/*.crt; do
	[ -f "$f" ] && ca_list="$ca_list${ca_list:+, }$f"
done
write_state() {   # write_state ENV_GEN [BIND]
	cat >"$STATE" <<-EOF
	version: 1
	name: $PROJECT
	image:
	  ref: $REF
	  build:
	    context: embedded
	    ca_certs: [$ca_list]
	EOF
	if [ -n "${OCC_E2E_OPENCODE_VERSION:-}" ]; then
		printf '    args:\n      OPENCODE_VERSION: "%s"\n' "$OCC_E2E_OPENCODE_VERSION" >>"$STATE"
	fi
	cat >>"$STATE" <<-EOF
	container:
	  port: $PORT
	  bind: ${2:-127.0.0.1}
	  env: {E2E_GEN: "$1"}
	  health: {path: /healthz, timeout: 300s}
	EOF
}

pinned=${OCC_E2E_OPENCODE_VERSION:-$(awk -F= '/^ARG OPENCODE_VERSION=/ { print $2 }' "$SRC/Dockerfile")}
[ -n "$pinned" ] || fail "no ARG OPENCODE_VERSION in $SRC/Dockerfile"
# opencode 2 serves its API under /api (its web UI at /); 1.x at /.
case "$pinned" in
1.*) API="" INFO=/global/health ;;
*) API=/api INFO=/api/info ;;
esac
echo "== opencode $pinned (API at '${API:-/}', info at $INFO)"
URL=http://127.0.0.1:$PORT

# ---- no users, loopback: open -----------------------------------------------

cleanup_project
write_state 1
# occ builds only a missing image: drop the last run's tag so this run builds
# the Dockerfile of this checkout, keeping its layers (the build cache) under
# a second tag.
if docker image inspect "$REF" >/dev/null 2>&1; then
	docker tag "$REF" "$PROJECT:cache"
	docker rmi "$REF" >/dev/null
fi
step "occ apply: build and start"
t0=$(now)
apply
echo "   apply (build included) to healthy: $(since "$t0")"
grep -E "build image .* done|is healthy \(" "$WORK/apply.log" | sed 's/^/   /'
"$OCC" status -f "$STATE" | tee "$WORK/status.txt" | sed 's/^/   | /'
grep -q "login:    OPEN (no users, loopback only)" "$WORK/status.txt" || fail "status: login not OPEN"
grep -q "opencode: $pinned" "$WORK/status.txt" || fail "status: opencode version is not $pinned"
expect_code 200 "no users, loopback: / without credentials" "$URL/"

# ---- two users ---------------------------------------------------------------

step "two users"
printf 'alice-pw-1\n' | "$OCC" user add alice --password-stdin -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
	{ cat "$WORK/user.log" >&2; fail "occ user add alice"; }
printf 'bob-pw-2\n' | "$OCC" user add bob --password-stdin -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
	{ cat "$WORK/user.log" >&2; fail "occ user add bob"; }
"$OCC" status -f "$STATE" | grep -q "login:    2 users" || fail "status: not 'login: 2 users'"
expect_code 200 "/healthz without credentials" "$URL/healthz"
[ "$(curl -s -m 5 "$URL/healthz")" = ok ] || fail "/healthz says more than 'ok'"
expect_code 401 "/ without credentials" "$URL/"
expect_code 401 "/ with a wrong password" "$URL/" "alice:wrong"
expect_code 401 "/ as a system account" "$URL/" "opencode:"
expect_code 401 "/ as nobody" "$URL/" "nobody:"
expect_code 200 "/ as alice" "$URL/" "alice:alice-pw-1"
expect_code 200 "/ as bob" "$URL/" "bob:bob-pw-2"
health=$(body "$URL$INFO" "alice:alice-pw-1")
echo "   $INFO: $health"
echo "$health" | grep -q "\"version\":\"$pinned\"" || fail "opencode reports '$health', pinned $pinned"

# Server-sent events pass unbuffered: the first event arrives at once.
events=$(printf 'user = "alice:alice-pw-1"\n' | curl -s -N -m 3 -K - "$URL$API/event" || true)
echo "$events" | grep -q '^data:' || fail "no server-sent event from $API/event within 3 s: '$events'"
echo "   ok: $API/event streams ($(echo "$events" | head -1 | cut -c1-60))"

# Websockets are upgraded: a terminal (POST /pty) and its /connect socket.
pty=$(body "$URL$API/pty" "alice:alice-pw-1" -X POST -H 'Content-Type: application/json' -d '{}' |
	grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4) || true
[ -n "$pty" ] || fail "POST $API/pty made no terminal"
auth=$(printf '%s' "alice:alice-pw-1" | base64 -w0)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET %s/pty/%s/connect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' \
	"$API" "$pty" "$auth" >&3
status_line=$(timeout 5 head -n 1 <&3 | tr -d '\r') || true
exec 3>&-
case "$status_line" in
"HTTP/1.1 101"*) echo "   ok: websocket upgrade: $status_line" ;;
*) fail "websocket upgrade of $API/pty/$pty/connect: '$status_line'" ;;
esac

step "a disabled user"
"$OCC" user disable bob -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
	{ cat "$WORK/user.log" >&2; fail "occ user disable bob"; }
expect_code 401 "/ as disabled bob" "$URL/" "bob:bob-pw-2"
expect_code 200 "/ as alice" "$URL/" "alice:alice-pw-1"

# ---- data survives a recreate ---------------------------------------------------

step "data across a recreate"
title="e2e-$$-$RANDOM"
body "$URL$API/session" "alice:alice-pw-1" -X POST -H 'Content-Type: application/json' \
	-d "{\"title\":\"$title\"}" >/dev/null || fail "POST $API/session"
body "$URL$API/session" "alice:alice-pw-1" | grep -q "\"$title\"" || fail "GET $API/session lacks the new session"
before=$(docker inspect -f '{{.Id}}' "$PROJECT")
sed -i 's/E2E_GEN: "1"/E2E_GEN: "2"/' "$STATE"
t0=$(now)
apply
echo "   recreate to healthy: $(since "$t0")"
grep -E " done \(|is healthy \(" "$WORK/apply.log" | sed 's/^/   /'
after=$(docker inspect -f '{{.Id}}' "$PROJECT")
[ "$before" != "$after" ] || fail "changing container.env did not recreate the container"
body "$URL$API/session" "alice:alice-pw-1" | grep -q "\"$title\"" || fail "the session is gone after the recreate"
echo "   ok: session '$title' survived"
expect_code 401 "/ as disabled bob after the recreate" "$URL/" "bob:bob-pw-2"

step "upgrade: an image built from another embedded Dockerfile is rebuilt"
label=$(docker image inspect -f '{{index .Config.Labels "dev.opencode-cloud.embedded-context"}}' "$REF")
[ ${#label} = 64 ] || fail "the image lacks its embedded-context label ('$label')"
relabelled=$(printf 'FROM %s\nLABEL dev.opencode-cloud.embedded-context=from-an-older-occ\n' "$REF" |
	DOCKER_BUILDKIT=0 docker build -q -t "$REF" - 2>/dev/null) || fail "docker build (relabel)"
"$OCC" diff -f "$STATE" | grep -q "built from another version of the embedded Dockerfile" ||
	fail "occ diff does not plan the rebuild"
t0=$(now)
apply
echo "   rebuild to converged: $(since "$t0")"
grep -q "build image $REF.* done" "$WORK/apply.log" || fail "occ apply did not rebuild"
# Same Dockerfile here, so the rebuild is the container's own image again
# (an upgrade's new Dockerfile gives a new image ID, and a recreate).
[ "$(docker inspect -f '{{.Image}}' "$PROJECT")" = "$(docker image inspect -f '{{.Id}}' "$REF")" ] ||
	fail "the container does not run the image $REF now names"
[ "$(docker image inspect -f '{{index .Config.Labels "dev.opencode-cloud.embedded-context"}}' "$REF")" = "$label" ] ||
	fail "the rebuilt image has another label"
body "$URL$API/session" "alice:alice-pw-1" | grep -q "\"$title\"" || fail "the session is gone after the upgrade"
"$OCC" diff --exit-code -f "$STATE" >/dev/null || fail "not converged after the rebuild"
echo "   ok: rebuilt, data kept, converged"
docker rmi "$relabelled" >/dev/null   # untagged now; it would pin the old layers

step "occ update: a changed build input, behind the health gate, data kept"
"$OCC" update --check -f "$STATE" >/dev/null || fail "occ update --check: not current after apply"
# A build argument the Dockerfile does not use: the same layers, but new build
# inputs (their hash is the image's label), so a new image and a recreate.
"$OCC" config set image.build.args.OCC_E2E_UPDATE "$$" -f "$STATE" >/dev/null
rc=0
"$OCC" update --check -f "$STATE" >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "occ update --check after a build input changed: exit $rc, want 2"
old_image=$(docker inspect -f '{{.Image}}' "$PROJECT")
t0=$(now)
"$OCC" update --yes -f "$STATE" >"$WORK/update.log" 2>&1 ||
	{ tail -20 "$WORK/update.log" >&2; fail "occ update"; }
echo "   update to healthy: $(since "$t0")"
[ "$(docker inspect -f '{{.Image}}' "$PROJECT")" != "$old_image" ] ||
	fail "occ update left the container on its old image"
body "$URL$API/session" "alice:alice-pw-1" | grep -q "\"$title\"" || fail "the session is gone after occ update"
expect_code 401 "/ as disabled bob after occ update" "$URL/" "bob:bob-pw-2"
"$OCC" update --check -f "$STATE" >/dev/null || fail "occ update --check: not current after the update"
echo "   ok: updated, data and logins kept"

t0=$(now)
docker stop "$PROJECT" >/dev/null
echo "   docker stop: $(since "$t0")"
docker start "$PROJECT" >/dev/null

# ---- fail closed ------------------------------------------------------------------

step "fail closed"
write_state 2 0.0.0.0
if "$OCC" validate -f "$STATE" >"$WORK/validate.log" 2>&1; then
	fail "occ accepted bind 0.0.0.0 without users"
fi
grep -q "exposes the service beyond this machine" "$WORK/validate.log" ||
	{ cat "$WORK/validate.log" >&2; fail "unexpected validate error"; }
echo "   ok: occ refuses bind 0.0.0.0 without users"
for login in "" yes; do
	docker rm -f occ-img-e2e-raw >/dev/null 2>&1 || true
	docker run -d --name occ-img-e2e-raw --init -p "127.0.0.1:$RAW_PORT:3000" \
		${login:+-e OCC_LOGIN=$login} "$REF" >/dev/null
	for _ in $(seq 1 60); do
		[ "$(code "http://127.0.0.1:$RAW_PORT/healthz")" = 200 ] && break
		sleep 0.5
	done
	expect_code 401 "image without accounts, OCC_LOGIN='$login': /" "http://127.0.0.1:$RAW_PORT/"
done

# ---- a tampered download fails the build ---------------------------------------------

step "integrity mismatch"
bad=$WORK/bad.yaml
cat >"$bad" <<-EOF
	version: 1
	name: $PROJECT-bad
	image:
	  ref: $PROJECT-bad:local
	  build:
	    context: embedded
	    ca_certs: [$ca_list]
	    args: {OPENCODE_INTEGRITY_AMD64: sha512-AAAA, OPENCODE_INTEGRITY_AMD64_BASELINE: sha512-AAAA,
	           OPENCODE_INTEGRITY_ARM64: sha512-AAAA}
	container:
	  port: $RAW_PORT
	EOF
if "$OCC" apply -y -f "$bad" >"$WORK/bad.log" 2>&1; then
	fail "a build with a wrong opencode integrity succeeded"
fi
grep -q "INTEGRITY MISMATCH for http" "$WORK/bad.log" || { tail -20 "$WORK/bad.log" >&2; fail "no integrity error"; }
docker image inspect "$PROJECT-bad:local" >/dev/null 2>&1 && fail "the tampered image was tagged"
echo "   ok: the build fails: $(grep -m1 -o "INTEGRITY MISMATCH for http[^ ]*" "$WORK/bad.log")"

docker tag "$REF" "$PROJECT:cache"
size=$(docker image inspect -f '{{.Size}}' "$REF")
echo "== image $REF: $((size / 1000000)) MB"
echo "== e2e-image: all checks passed"
