#!/usr/bin/env bash
# bench/front.sh [IMAGE] [SECONDS] - the opencode image's front under a
# password-guessing load (a benchmark, not a test: it prints numbers).
#
# Starts IMAGE (default opencode-cloud:local; tests/e2e-security.sh leaves
# occ-sec-e2e:local) the way occ runs it (init, CapDrop ALL + CHOWN SETUID
# SETGID KILL, no-new-privileges) on 127.0.0.1:23130 with one account, then
# for SECONDS (default 30) runs 8 clients that send wrong passwords as fast as
# they are answered (4 for the real user, 4 for unknown users) and, meanwhile,
# probes /healthz and a valid login (GET /global/health) every 0.25 s. Prints
# the median and p95 of both probes, the median answer time of a wrong
# password for the real and for an unknown user, and Docker's health status
# at the end. The container is removed afterwards. Needs root and dockerd.
set -euo pipefail

IMAGE=${1:-opencode-cloud:local}
DURATION=${2:-30}
NAME=occ-bench-front
PORT=23130
URL=http://127.0.0.1:$PORT
USER_NAME=benchuser
PASSWORD=bench-pw-$RANDOM$RANDOM

WORK=$(mktemp -d /tmp/occ-bench-front.XXXXXX)
cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
	docker rm -f "$NAME" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" --init --cap-drop ALL --cap-add CHOWN --cap-add SETUID \
	--cap-add SETGID --cap-add KILL --security-opt no-new-privileges --pids-limit 512 \
	-p "127.0.0.1:$PORT:3000" "$IMAGE" >/dev/null
# One account, as occ makes them (uid 1000+, a yescrypt hash in /etc/shadow);
# the password goes on stdin.
docker exec "$NAME" useradd -u 1000 -M -d /nonexistent -s /usr/sbin/nologin "$USER_NAME"
printf '%s:%s\n' "$USER_NAME" "$PASSWORD" | docker exec -i "$NAME" chpasswd
for _ in $(seq 1 240); do
	[ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ] && break
	sleep 0.5
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ] ||
	{ docker logs --tail 20 "$NAME" >&2; echo "bench/front: $NAME is not healthy" >&2; exit 1; }
# Warm-up: opencode's first answers are slow; the success cache is filled
# by the first valid login anyway.
printf 'user = "%s:%s"\n' "$USER_NAME" "$PASSWORD" |
	curl -s -m 10 -o /dev/null -K - "$URL/global/health" || true

# attacker FILE CREDENTIALS: wrong passwords until the deadline, one time a line.
attacker() {
	local end=$((SECONDS + DURATION)) n=0
	while ((SECONDS < end)); do
		printf 'user = "%s"\n' "$2" |
			curl -s -m 20 -o /dev/null -w '%{http_code} %{time_total}\n' -K - "$URL/session" >>"$1" || true
		n=$((n + 1))
	done
}
for i in 1 2 3 4; do
	attacker "$WORK/real.$i" "$USER_NAME:wrong-$i-$RANDOM" &
	attacker "$WORK/unknown.$i" "nobody$i$RANDOM:wrong-$i" &
done
end=$((SECONDS + DURATION))
while ((SECONDS < end)); do
	curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}\n' "$URL/healthz" >>"$WORK/healthz" || true
	printf 'user = "%s:%s"\n' "$USER_NAME" "$PASSWORD" |
		curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}\n' -K - "$URL/global/health" \
		>>"$WORK/login" || true
	sleep 0.25
done
wait
health=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")

# stats WHAT FILES...: count, answers other than 2xx/401, median and p95 in ms.
stats() {
	local what=$1 codes
	shift
	codes=$(cat "$@" | awk '$1 !~ /^2/ && $1 != 401 { c[$1]++ }
		END { for (k in c) printf " %sx%d", k, c[k] }')
	cat "$@" | awk '{ printf "%.1f\n", $2 * 1000 }' | sort -n | awk -v what="$what" -v codes="$codes" '
		{ t[++n] = $1 }
		END {
			if (n == 0) { printf "%-30s no samples\n", what; exit }
			p = int(n * 0.95); if (p < n * 0.95) p++
			printf "%-30s n=%-5d median %7.1f ms   p95 %7.1f ms%s\n", what, n,
				t[int((n + 1) / 2)], t[p], codes == "" ? "" : "   (other answers:" codes ")"
		}'
}
echo "front under $DURATION s of 8 parallel wrong-password clients ($IMAGE):"
stats "/healthz during the load" "$WORK/healthz"
stats "valid login during the load" "$WORK/login"
stats "wrong password, real user" "$WORK"/real.*
stats "wrong password, unknown user" "$WORK"/unknown.*
echo "wrong-password attempts in total: $(cat "$WORK"/real.* "$WORK"/unknown.* | wc -l)"
echo "failure lines in the log: $(docker logs "$NAME" 2>&1 | grep -c 'login failed for' || true)"
echo "Docker health at the end: $health"
