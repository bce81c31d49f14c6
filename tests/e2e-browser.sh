#!/usr/bin/env bash
# tests/e2e-browser.sh OCC [ARTEFACTS] - end to end in a real browser: occ
# builds and runs its embedded opencode image, and Debian's Chromium, driven
# by playwright-core (tests/browser/ui.mjs), uses opencode's web UI through
# occ's front, twice:
#
#   1. open mode (loopback, no accounts), then
#   2. with an account (HTTP Basic, Playwright's httpCredentials).
#
# Each time: / opens straight into the app (never opencode's own "Connect to
# a server" page), a session made through the UI is there after a reload,
# server-sent events and the terminal's websocket pass the front (Host and
# Origin checks included). Screenshots: ARTEFACTS/browser-{open,login}-*.png
# (default ./artefacts).
#
# Then opencode's own password, which occ's front holds: not in docker
# inspect, not in any process's argv, not in the container's log, not in
# occ's state file, journal or other files; `occ restart` draws a new one and
# the UI still opens.
#
# The browser runs in the container's network namespace (nsenter) and opens
# http://127.0.0.1:3000/, the front itself: on a shared Docker host every
# veth another container adds makes Chromium drop its requests with
# ERR_NETWORK_CHANGED, which a namespace of its own does not see. (The
# published port and Docker's proxy are e2e-image's subject.)
#
# playwright-core is installed with npm into /var/cache/occ-test/ (never a
# browser download). Exit 77 (skipped) without root, a Docker daemon or
# /usr/bin/chromium. Host port 23130. The base image is e2e-image's
# (debian:bookworm-slim, imported by that test).
set -euo pipefail

OCC=$(realpath "${1:?usage: e2e-browser.sh OCC_BINARY [ARTEFACTS]}")
ART=$(mkdir -p "${2:-artefacts}" && realpath "${2:-artefacts}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
PROJECT=occ-browser-e2e
REF=occ-browser-e2e:local
PORT=23130
CHROMIUM=/usr/bin/chromium
NODE_DIR=/var/cache/occ-test/browser-node
PLAYWRIGHT=playwright-core@1.65.2

if [ "$(id -u)" != 0 ] || ! docker info >/dev/null 2>&1; then
	echo "e2e-browser: skipped: needs root and a running Docker daemon" >&2
	exit 77
fi
if [ ! -x "$CHROMIUM" ]; then
	echo "e2e-browser: skipped: no $CHROMIUM (apt-get install chromium)" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/occ-browser-e2e.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state
STATE=$WORK/state.yaml

cleanup_project() {
	local ids
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$PROJECT") || true
	[ -z "$ids" ] || docker rm -f $ids >/dev/null || true
	ids=$(docker volume ls -q --filter "label=dev.opencode-cloud.project=$PROJECT") || true
	[ -z "$ids" ] || docker volume rm $ids >/dev/null || true
}
cleanup() {
	cleanup_project
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "e2e-browser: FAIL: $*" >&2
	docker logs --tail 30 "$PROJECT" 2>&1 | sed 's/^/  | /' >&2 || true
	exit 1
}
step() { echo "== $*"; }

docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
	fail "no base image debian:bookworm-slim: run tests/e2e-image.sh first (it imports one)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm are missing: run tests/install-deps.sh"

# ---- playwright-core ----------------------------------------------------------

if [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ]; then
	step "npm install $PLAYWRIGHT into $NODE_DIR"
	mkdir -p "$NODE_DIR"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$NODE_DIR" --no-audit --no-fund \
		--no-save "$PLAYWRIGHT" >"$WORK/npm.log" 2>&1 || { tail -20 "$WORK/npm.log" >&2; fail "npm install $PLAYWRIGHT"; }
fi
cp "$SRC/tests/browser/ui.mjs" "$NODE_DIR/ui.mjs"   # resolves playwright-core there

# ---- the service ------------------------------------------------------------------

ca_list=""
for f in /usr/local/share/ca-certificates/*.crt; do
	[ -f "$f" ] && ca_list="$ca_list${ca_list:+, }$f"
done
cat >"$STATE" <<EOF
version: 1
name: $PROJECT
image:
  ref: $REF
  build:
    context: embedded
    ca_certs: [$ca_list]
container:
  port: $PORT
  bind: 127.0.0.1
  health: {path: /healthz, timeout: 300s}
EOF

apply() {
	"$OCC" apply -y -f "$STATE" >"$WORK/apply.log" 2>&1 || { cat "$WORK/apply.log" >&2; fail "occ apply"; }
}

# browser LABEL [USER]: ui.mjs in the container's network namespace; the
# password, if any, in the environment (OCC_E2E_PASSWORD), never in argv.
browser() {
	local label=$1 pid
	pid=$(docker inspect -f '{{.State.Pid}}' "$PROJECT")
	[ "$pid" -gt 0 ] || fail "the container is not running"
	printf '#!/bin/sh\nexec nsenter --net=/proc/%d/ns/net %s "$@"\n' "$pid" "$CHROMIUM" >"$WORK/chromium"
	chmod 0755 "$WORK/chromium"
	OCC_E2E_CHROME=$WORK/chromium OCC_E2E_USER=${2:-} \
		timeout 300 node "$NODE_DIR/ui.mjs" http://127.0.0.1:3000/ "$ART" "$label" ||
		fail "the browser ($label): see $ART/browser-$label-failure.png"
}

cleanup_project
step "occ apply: open mode (loopback, no accounts)"
apply
"$OCC" status -f "$STATE" | grep -E "opencode:|login:" | sed 's/^/   | /'
browser open

step "with an account: HTTP Basic"
printf 'alice-pw-1\n' | "$OCC" user add alice --password-stdin -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
	{ cat "$WORK/user.log" >&2; fail "occ user add alice"; }
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[ "$code" = 401 ] || fail "/ without credentials: HTTP $code, expected 401"
OCC_E2E_PASSWORD=alice-pw-1 browser login alice

# ---- opencode's own password ------------------------------------------------------

step "opencode's own password: occ's front holds it, nothing shows it"
# secret: the password from the root-only nginx snippet (root in the
# container can read it; that is the point of the check, not a leak).
secret() {
	docker exec "$PROJECT" sed -n 's/.*"Basic \([A-Za-z0-9+/=]*\)".*/\1/p' /etc/nginx/occ/opencode-auth.conf |
		base64 -d | sed -n 's/^opencode://p'
}
s1=$(secret)
[ ${#s1} -ge 40 ] || fail "no password of opencode's in the nginx snippet"
mode=$(docker exec "$PROJECT" stat -c '%U:%G %a' /etc/nginx/occ/opencode-auth.conf)
[ "$mode" = "root:root 600" ] || fail "the snippet is $mode, expected root:root 600"
docker inspect "$PROJECT" | grep -qF -- "$s1" && fail "the password is in docker inspect"
docker image inspect "$REF" | grep -qF -- "$s1" && fail "the password is in the image"
docker logs "$PROJECT" 2>&1 | grep -qF -- "$s1" && fail "the password is in the container's log"
docker exec "$PROJECT" sh -c 'for p in /proc/[0-9]*; do tr "\0" " " <"$p/cmdline"; echo; done' >"$WORK/argv" 2>/dev/null || true
grep -q "opencode serve" "$WORK/argv" || fail "no 'opencode serve' among the container's processes"
grep -qF -- "$s1" "$WORK/argv" && fail "the password is in a process's argv"
grep -rqF -- "$s1" "$WORK" && fail "the password is in occ's files ($(grep -rlF -- "$s1" "$WORK" | head -1))"
# The front sends it: opencode answers through it, and not without it.
[ "$(docker exec "$PROJECT" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:4096/api/info)" = 401 ] ||
	fail "opencode answers without its password"
echo "   ok: not in docker inspect, argv, the log, occ's state/journal; snippet root:root 600"

"$OCC" restart -y -f "$STATE" >"$WORK/restart.log" 2>&1 || { cat "$WORK/restart.log" >&2; fail "occ restart"; }
s2=$(secret)
[ ${#s2} -ge 40 ] && [ "$s2" != "$s1" ] || fail "occ restart did not draw a new password"
code=$(printf 'user = "alice:alice-pw-1"\n' | curl -s -m 5 -o /dev/null -w '%{http_code}' -K - "http://127.0.0.1:$PORT/api/info")
[ "$code" = 200 ] || fail "/api/info as alice after occ restart: HTTP $code"
echo "   ok: occ restart rotated it; the front still gets in"

echo "== screenshots: $(cd "$ART" && ls browser-*.png | tr '\n' ' ')"
echo "== e2e-browser: all checks passed"
