#!/usr/bin/env bash
# tests/e2e-security.sh OCC - end to end: the opencode image's front (nginx +
# occ-authd) against the attacks a security probe reproduced on the PAM
# front, through occ apply's embedded build, with curl over HTTP.
#
#   open mode (no users, loopback): DNS rebinding (a foreign Host) -> 421
#     and the command does not run; a cross-site simple POST (CSRF) -> 403; a
#     foreign Origin on GET and on a websocket -> 403; allowed Host/Origin,
#     curl-style JSON -> work; other containers on the bridge -> refused
#   the exact capabilities occ grants (CapDrop ALL + CHOWN SETUID SETGID
#     KILL, no-new-privileges, init), port 80 without NET_BIND_SERVICE,
#     OCC_PUBLIC_NAMES, root-owned mountpoints
#   two users: 401 for an unknown and a real user's wrong password, 200 for
#     the right one, one log line per failure; 8 parallel wrong-password
#     loops do not stall /healthz, a valid login or the health status
#   an OCC_LISTEN_PORT carrying nginx directives stops the container; no
#     setuid/setgid file; each process runs as its own user
#
# Reuses tests/e2e-image.sh's conventions: the Debian base (made there with
# debootstrap when missing), passwords to occ on stdin and to curl through
# -K -, only this project's containers and volumes removed at the end (the
# images stay: they are the build cache). Exit 77 (skipped) without root or
# a Docker daemon. Host ports 23120-23124.
set -euo pipefail

OCC=$(realpath "${1:?usage: e2e-security.sh OCC_BINARY}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
PROJECT=occ-sec-e2e
REF=occ-sec-e2e:local
BUSYBOX=occ-sec-e2e-busybox:latest
PORT=23120
CAPS_PORT=23121
INJ_PORT=23122
BASE=debian:bookworm-slim
LABEL=dev.opencode-cloud.project=$PROJECT

if [ "$(id -u)" != 0 ] || ! docker info >/dev/null 2>&1; then
	echo "e2e-security: skipped: needs root and a running Docker daemon" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/occ-sec-e2e.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state
STATE=$WORK/state.yaml
LOGS_OF=$PROJECT   # the container whose log tail a failure shows

cleanup_project() {
	local ids
	ids=$(docker ps -aq --filter "label=$LABEL") || true
	[ -z "$ids" ] || docker rm -f $ids >/dev/null || true
	ids=$(docker volume ls -q --filter "label=$LABEL") || true
	[ -z "$ids" ] || docker volume rm $ids >/dev/null || true
}
cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
	cleanup_project
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "e2e-security: FAIL: $*" >&2
	docker logs --tail 30 "$LOGS_OF" 2>&1 | sed 's/^/  | /' >&2 || true
	exit 1
}
step() { echo "== $*"; }
ok() { echo "   ok: $*"; }

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
	fail "no $BASE image: run tests/e2e-image.sh once (it makes it with debootstrap)"
fi

# ---- helpers ---------------------------------------------------------------------

# code URL [USER:PASSWORD] [curl options...]: the HTTP status (000: no answer
# within 15 s: opencode itself sometimes takes seconds on this shared
# machine); credentials in a config on stdin.
code() {
	local url=$1 cred=${2:-}
	shift $(($# < 2 ? $# : 2))
	printf '%s' "${cred:+user = \"$cred\"
}" | curl -s -m 15 -o /dev/null -w '%{http_code}' -K - "$@" "$url" || true
}
expect() {   # expect CODE WHAT URL [USER:PASSWORD] [curl options...]
	local want=$1 what=$2 got
	shift 2
	got=$(code "$@")
	[ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
	ok "$what -> $want"
}
# The status line of a websocket handshake: raw, as a browser sends it.
ws_status() {   # ws_status PORT PATH HOST ORIGIN
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$1"
	printf 'GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' \
		"$2" "$3" "$4" >&3
	line=$(timeout 5 head -n 1 <&3 | tr -d '\r') || true
	exec 3>&-
	echo "$line"
}
wait_healthy() {   # wait_healthy CONTAINER SECONDS
	local s
	for _ in $(seq 1 $(($2 * 2))); do
		s=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null) || s=gone
		[ "$s" = healthy ] && return 0
		[ "$s" = gone ] && break
		[ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ] || break
		sleep 0.5
	done
	fail "$1 is not healthy ($s)"
}
apply() {
	"$OCC" apply -y -f "$STATE" >"$WORK/apply.log" 2>&1 || { cat "$WORK/apply.log" >&2; fail "occ apply"; }
}
user_add() {   # user_add NAME PASSWORD
	printf '%s\n' "$2" | "$OCC" user add "$1" --password-stdin -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
		{ cat "$WORK/user.log" >&2; fail "occ user add $1"; }
}
# The processes of a container as "USER COMMAND" lines (the image has no ps).
procs() {
	docker exec "$1" sh -c 'for p in /proc/[0-9]*; do
		[ "$p" != /proc/$$ ] || continue
		u=$(awk "/^Uid:/ { print \$2 }" $p/status 2>/dev/null) || continue
		c=$(tr "\0" " " <$p/cmdline 2>/dev/null) || continue
		[ -n "$c" ] && echo "$(getent passwd $u | cut -d: -f1) $c"
	done'
}

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
URL=http://127.0.0.1:$PORT
# Checks that reach opencode use its API (/session): 1.x's / proxies the web
# UI from the Internet, whose delays are not the front's; opencode 2 serves
# its API under /api (and its UI on every other path, so a check of
# /session would not reach the API there).
case "$(awk -F= '/^ARG OPENCODE_VERSION=/ { print $2 }' "$SRC/Dockerfile")" in
1.*) API="" TEXT_PLAIN_OK=200 ;;
*) API=/api TEXT_PLAIN_OK=415 ;;
esac

# ---- the image, through occ ---------------------------------------------------------

cleanup_project
# occ builds only a missing image: drop the last run's tag so this run builds
# this checkout's Dockerfile, keeping its layers (the cache) under another tag.
if docker image inspect "$REF" >/dev/null 2>&1; then
	docker tag "$REF" "$PROJECT:cache"
	docker rmi "$REF" >/dev/null
fi
step "occ apply: build and start (open mode: no users, loopback)"
t0=$SECONDS
apply
echo "   apply (build included): $((SECONDS - t0)) s"
"$OCC" status -f "$STATE" | grep -q "OPEN" || fail "occ status does not say login OPEN"
docker tag "$REF" "$PROJECT:cache"

# ---- open mode: DNS rebinding, CSRF, websocket hijacking -----------------------------

step "open mode: Host and Origin"
sid=$(curl -sf -m 10 -X POST -H 'Content-Type: application/json' --data '{}' "$URL$API/session" |
	grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4) || true
[ -n "$sid" ] || fail "POST /session with a correct Host made no session"
ok "POST /session (Host 127.0.0.1:$PORT, JSON, no Origin) -> session $sid"

# The probe's request, exactly: a page of rebind.evil.example, its name now
# resolving to 127.0.0.1, runs a shell command through opencode.
got=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H "Host: rebind.evil.example:$PORT" \
	-H 'Content-Type: application/json' --data '{"agent":"build","command":"id > /tmp/x"}' \
	"http://127.0.0.1:$PORT$API/session/$sid/shell") || true
[ "$got" = 421 ] || fail "DNS rebinding (Host: rebind.evil.example): HTTP $got, expected 421"
sleep 1
docker exec "$PROJECT" test ! -e /tmp/x || fail "the rebinding request ran its command (/tmp/x exists)"
ok "DNS rebinding: POST /session/$sid/shell with Host rebind.evil.example -> 421, /tmp/x absent"
# The control: the same request under a name the front serves runs (so the
# 421 above is what stopped it).
got=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data '{"agent":"build","command":"id > /tmp/x"}' "http://127.0.0.1:$PORT$API/session/$sid/shell") || true
# (1.x answers when the command is done, 200; opencode 2 at once, 204.)
case "$got" in 200 | 204) ;; *) fail "the shell request with Host 127.0.0.1: HTTP $got, expected 200 or 204" ;; esac
for _ in $(seq 1 50); do
	docker exec "$PROJECT" test -s /tmp/x && break
	sleep 0.2
done
docker exec "$PROJECT" test -s /tmp/x || fail "the shell request with Host 127.0.0.1 did not run"
ok "control: the same request with Host 127.0.0.1:$PORT -> $got, ran as $(docker exec "$PROJECT" cut -d' ' -f1 /tmp/x)"

# The probe's blind CSRF: a cross-origin simple request.
got=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' \
	-H 'Origin: http://evil.example' --data '{}' "http://127.0.0.1:$PORT$API/session") || true
[ "$got" = 403 ] || fail "CSRF (text/plain POST, Origin http://evil.example): HTTP $got, expected 403"
ok "CSRF: POST /session text/plain from Origin http://evil.example -> 403"

expect 421 "GET / with Host evil.example" "$URL/" "" -H "Host: evil.example"
expect 421 "GET / without a Host (HTTP/1.0)" "$URL/" "" -0 -H "Host:"
expect 200 "/healthz with Host evil.example (probed by IP)" "$URL/healthz" "" -H "Host: 10.9.8.7"
[ "$(curl -s -m 5 -H 'Host: evil.example' "$URL/healthz")" = ok ] || fail "/healthz says more than 'ok'"
expect 403 "GET /session with Origin http://evil.example" "$URL$API/session" "" -H "Origin: http://evil.example"
expect 403 "GET /session with Origin null" "$URL$API/session" "" -H "Origin: null"
expect 403 "GET /session with Origin http://localhost.evil.example:$PORT" "$URL$API/session" "" \
	-H "Origin: http://localhost.evil.example:$PORT"
expect 403 "GET /session with Sec-Fetch-Site: cross-site" "$URL$API/session" "" -H "Sec-Fetch-Site: cross-site"
expect 200 "GET /session with Host localhost:$PORT, Origin http://localhost:$PORT" "$URL$API/session" "" \
	-H "Host: localhost:$PORT" -H "Origin: http://localhost:$PORT" -H "Sec-Fetch-Site: same-origin"
expect 200 "GET /session with Host [::1]:8080 (a forward), Origin http://[::1]:8080" "$URL$API/session" "" \
	-H "Host: [::1]:8080" -H "Origin: http://[::1]:8080"
expect 200 "POST /session JSON with Origin http://127.0.0.1:$PORT" "$URL$API/session" "" \
	-X POST -H 'Content-Type: application/json' -H "Origin: http://127.0.0.1:$PORT" --data '{}'
# The front lets it through; opencode 2 itself takes JSON only (415).
expect "$TEXT_PLAIN_OK" "POST /session text/plain with Origin https://LOCALHOST" "$URL$API/session" "" \
	-X POST -H 'Content-Type: text/plain' -H "Origin: https://LOCALHOST" --data '{}'
expect 200 "POST /session JSON without Origin (an API client)" "$URL$API/session" "" \
	-X POST -H 'Content-Type: application/json; charset=utf-8' --data '{}'
expect 403 "POST /session text/plain without Origin" "$URL$API/session" "" \
	-X POST -H 'Content-Type: text/plain' --data '{}'
expect 403 "POST /session form data without Origin" "$URL$API/session" "" -X POST --data 'a=b'

pty=$(curl -sf -m 10 -X POST -H 'Content-Type: application/json' --data '{}' "$URL$API/pty" |
	grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4) || true
[ -n "$pty" ] || fail "POST /pty made no terminal"
line=$(ws_status "$PORT" "$API/pty/$pty/connect" "127.0.0.1:$PORT" "http://evil.example")
case "$line" in
"HTTP/1.1 403"*) ok "websocket /pty/$pty/connect from Origin http://evil.example -> 403" ;;
*) fail "websocket from a foreign Origin: '$line', expected 403" ;;
esac
line=$(ws_status "$PORT" "$API/pty/$pty/connect" "localhost:$PORT" "http://localhost:$PORT")
case "$line" in
"HTTP/1.1 101"*) ok "websocket /pty/$pty/connect from Origin http://localhost:$PORT -> 101" ;;
*) fail "websocket from our own Origin: '$line', expected 101" ;;
esac

# ---- open mode: other containers on the bridge -----------------------------------------

step "open mode: other containers on the default bridge"
if ! docker image inspect "$BUSYBOX" >/dev/null 2>&1; then
	mkdir -p "$WORK/busybox"
	cp /bin/busybox "$WORK/busybox/" || fail "no /bin/busybox: run tests/install-deps.sh (busybox-static)"
	printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$WORK/busybox/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$BUSYBOX" "$WORK/busybox" >"$WORK/busybox.log" 2>&1 ||
		{ cat "$WORK/busybox.log" >&2; fail "docker build busybox"; }
fi
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$PROJECT")
[ -n "$ip" ] || fail "the container has no IP address"
# (busybox's wget crashes in this FROM-scratch image; nc does the job.)
out=$(docker run --rm --label "$LABEL" "$BUSYBOX" /bin/busybox sh -c \
	"printf 'GET / HTTP/1.1\r\nHost: $ip:3000\r\nConnection: close\r\n\r\n' |
	 /bin/busybox nc -w 5 $ip 3000 | /bin/busybox head -n 1" 2>&1 | tr -d '\r') || true
case "$out" in
"HTTP/1.1 403"*|*refused*) ok "http://$ip:3000/ from another container: $out" ;;
*) fail "http://$ip:3000/ from another container: '$out', expected 403 or refused" ;;
esac
expect 200 "the published port 127.0.0.1:$PORT still (GET /session)" "$URL$API/session"

# ---- exactly occ's capabilities, port 80, OCC_PUBLIC_NAMES, root-owned mountpoints ---------

step "CapDrop ALL + CHOWN SETUID SETGID KILL, no-new-privileges; port 80; names"
mkdir -m 0700 "$WORK/cache" "$WORK/ws"
docker run -d --name "$PROJECT-caps" --label "$LABEL" --init --cap-drop ALL \
	--cap-add CHOWN --cap-add SETUID --cap-add SETGID --cap-add KILL \
	--security-opt no-new-privileges --pids-limit 512 \
	-e OCC_LOGIN=open -e OCC_LISTEN_PORT=80 -e 'OCC_PUBLIC_NAMES=opencode.example, [2001:db8::1],10.1.2.3' \
	-v "$WORK/cache:/home/opencode/.cache/opencode" -v "$WORK/ws:/home/opencode/workspace" \
	-p "127.0.0.1:$CAPS_PORT:80" "$REF" >/dev/null
LOGS_OF=$PROJECT-caps
wait_healthy "$PROJECT-caps" 60
C=http://127.0.0.1:$CAPS_PORT
expect 200 "port 80 without NET_BIND_SERVICE: GET /session" "$C$API/session"
expect 200 "Host opencode.example, Origin https://opencode.example" "$C$API/session" "" \
	-H "Host: opencode.example" -H "Origin: https://opencode.example"
expect 200 "Host [2001:db8::1]:443" "$C$API/session" "" -H "Host: [2001:db8::1]:443"
expect 200 "Host 10.1.2.3" "$C$API/session" "" -H "Host: 10.1.2.3"
expect 421 "Host opencode.example.evil" "$C$API/session" "" -H "Host: opencode.example.evil"
[ "$(stat -c %u "$WORK/cache")" = 990 ] || fail "the root-owned 0700 mountpoint was not given to opencode"
[ "$(stat -c %u "$WORK/ws")" = 990 ] || fail "the root-owned workspace was not given to opencode"
ok "root-owned mountpoints (0700) given to opencode with CHOWN only"
t0=$(date +%s%N)
docker stop "$PROJECT-caps" >/dev/null
echo "   docker stop: $((($(date +%s%N) - t0) / 1000000)) ms"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$PROJECT-caps")" != 137 ] || fail "docker stop had to kill"
LOGS_OF=$PROJECT

# ---- two users: failures logged once, the front not stallable ------------------------------

step "two users"
user_add alice 'alice-pw-1'
user_add bob 'bob-pw-2'
wait_healthy "$PROJECT" 60
expect 401 "/session without credentials" "$URL$API/session"
t_logs=$(date +%s)
expect 401 "/session as an unknown user" "$URL$API/session" "mallory$$:x"
expect 401 "/session as alice with a wrong password" "$URL$API/session" "alice:wrong$$"
expect 401 "/session as alice with a wrong password, again" "$URL$API/session" "alice:wrong$$"
expect 200 "/session as alice" "$URL$API/session" "alice:alice-pw-1"
expect 200 "/session as bob" "$URL$API/session" "bob:bob-pw-2"
expect 421 "/session as alice with Host evil.example" "$URL$API/session" "alice:alice-pw-1" -H "Host: evil.example"
expect 403 "/ as alice, text/plain POST from Origin http://evil.example" "$URL$API/session" "alice:alice-pw-1" \
	-X POST -H 'Content-Type: text/plain' -H 'Origin: http://evil.example' --data '{}'
sleep 1
docker logs --since "$t_logs" "$PROJECT" >"$WORK/fail.log" 2>&1
n_mallory=$(grep -c "mallory$$" "$WORK/fail.log" || true)
n_alice=$(grep -v '" 200 ' "$WORK/fail.log" | grep -c "alice" || true)
n_401=$(grep -c '" 401 ' "$WORK/fail.log" || true)
if [ "$n_mallory" != 1 ] || [ "$n_alice" != 2 ] || [ "$n_401" != 0 ]; then
	sed 's/^/  | /' "$WORK/fail.log" >&2
	fail "failure log lines: unknown user $n_mallory (want 1), alice $n_alice (want 2), nginx 401 lines $n_401 (want 0)"
fi
ok "one log line per failed login ($(grep -m1 "mallory$$" "$WORK/fail.log" | cut -c1-100))"

step "8 parallel wrong-password loops for 20 s"
loop() {   # loop CREDENTIALS: at most 20 s and 400 attempts
	local end=$((SECONDS + 20)) n=0
	while ((SECONDS < end && n < 400)); do
		printf 'user = "%s"\n' "$1" | curl -s -m 10 -o /dev/null -K - "$URL$API/session" || true
		n=$((n + 1))
	done
}
for i in 1 2 3 4; do
	loop "alice:wrong-$i" &
	loop "nobody$i:wrong-$i" &
done
t0=$SECONDS
worst_h=0 worst_l=0 rounds=0
while ((SECONDS - t0 < 20)); do
	h=$(curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$URL/healthz") || true
	l=$(printf 'user = "alice:alice-pw-1"\n' | curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' -K - "$URL/global/health") || true
	[ "${h%% *}" = 200 ] || fail "/healthz during the loops: '$h'"
	[ "${l%% *}" = 200 ] || fail "a valid login during the loops: '$l'"
	s=$(docker inspect -f '{{.State.Health.Status}}' "$PROJECT")
	[ "$s" != unhealthy ] || fail "Docker marked the container unhealthy during the loops"
	worst_h=$(awk -v a="$worst_h" -v b="${h#* }" 'BEGIN { print (b > a ? b : a) }')
	worst_l=$(awk -v a="$worst_l" -v b="${l#* }" 'BEGIN { print (b > a ? b : a) }')
	rounds=$((rounds + 1))
	sleep 0.5
done
wait
s=$(docker inspect -f '{{.State.Health.Status}}' "$PROJECT")
[ "$s" = healthy ] || fail "health after the loops: $s"
ok "$rounds rounds: /healthz and a valid login 200 each (slowest ${worst_h} s and ${worst_l} s), health $s"

step "processes"
procs "$PROJECT" >"$WORK/procs.txt"
sed 's/^/   | /' "$WORK/procs.txt"
grep -q '^occ-auth /usr/local/sbin/occ-authd' "$WORK/procs.txt" || fail "occ-authd does not run as occ-auth"
grep -q '^opencode .*opencode serve' "$WORK/procs.txt" || fail "opencode does not run as opencode"
grep -q '^www-data nginx: worker process' "$WORK/procs.txt" || fail "no nginx worker as www-data"
if grep -v '^www-data' "$WORK/procs.txt" | grep -q 'nginx: worker'; then
	fail "an nginx worker runs as another user"
fi
ok "occ-authd as occ-auth, opencode as opencode, nginx workers as www-data"

# ---- the image: no env text in the config, no setuid ---------------------------------------

step "the image"
LOGS_OF=$PROJECT-inj
for env in 'OCC_LISTEN_PORT=3000 default_server; return 200 pwned; #' 'OCC_LISTEN_PORT=4096' \
	'OCC_PUBLIC_NAMES=localhost;return 200 pwned' 'OCC_PUBLIC_NAMES=ok.example,"evil"'; do
	docker rm -f "$PROJECT-inj" >/dev/null 2>&1 || true
	docker run -d --name "$PROJECT-inj" --label "$LABEL" --init -e OCC_LOGIN=open -e "$env" \
		-p "127.0.0.1:$INJ_PORT:3000" "$REF" >/dev/null
	rc=$(timeout 30 docker wait "$PROJECT-inj") || fail "$env: the container kept running"
	[ "$rc" = 1 ] || fail "$env: exit code $rc, expected 1"
	msg=$(docker logs "$PROJECT-inj" 2>&1 | tail -1)
	case "$msg" in
	"occ-entrypoint: OCC_"*) ;;
	*) fail "$env: no validation message: '$msg'" ;;
	esac
	got=$(code "http://127.0.0.1:$INJ_PORT/")
	[ "$got" = 000 ] || fail "$env: something answered on the port ($got)"
	ok "${env:0:40}: exit 1, '$msg'"
done
LOGS_OF=$PROJECT

suid=$(docker run --rm --label "$LABEL" --entrypoint find "$REF" / -xdev -perm /6000 -type f) ||
	fail "find in the image"
[ -z "$suid" ] || fail "setuid/setgid files in the image: $suid"
ok "no setuid/setgid file in the image"

echo "== e2e-security: all checks passed ($SECONDS s)"
