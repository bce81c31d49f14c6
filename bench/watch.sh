#!/usr/bin/env bash
# bench/watch.sh - how fast `occ watch` reacts, and what it costs when idle:
#
#   save -> converged    atomic save (temp + rename) of the state file with a
#                        new env value, until the watcher logs "reconciled";
#                        reported whole and without the time Docker spent in
#                        the actions themselves (recreate, health), i.e. what
#                        the watcher adds: notice, settle, load, observe, plan
#   kill -> repaired     POST /containers/NAME/kill, until "reconciled";
#                        whole and without Docker's start
#   idle                 CPU time (user + sys) and RSS of the watcher over
#                        IDLE_SECONDS with nothing happening, and context
#                        switches per thread (wake-ups)
#
# The watcher logs JSON lines (--json) with millisecond timestamps; the script
# stamps each trigger with the same clock just before it fires. Needs a built
# tree, a running dockerd, curl and python3; everything it creates is removed.
#
# usage: bench/watch.sh [BUILD_DIR]   (env RUNS=10, IDLE_SECONDS=60)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-10}
IDLE_SECONDS=${IDLE_SECONDS:-60}
OCC=$(cd "$BUILD" && pwd)/cli/occ
SOCK=${DOCKER_HOST:-unix:///var/run/docker.sock}
SOCK=${SOCK#unix://}
for tool in docker curl python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$OCC" ] || { echo "bench: build first: cmake -S . -B $BUILD && cmake --build $BUILD" >&2; exit 1; }

work=$(mktemp -d /tmp/occ-bench-watch-XXXXXX)
project=occ-bench-watch-$$
image=occ-bench-watch:$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data NO_COLOR=1
watcher=
cleanup() {
	if [ -n "$watcher" ] && kill -0 "$watcher" 2>/dev/null; then
		kill -TERM "$watcher"
		wait "$watcher" 2>/dev/null || true
	fi
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$project")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null
	docker rmi "$image" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

cp -r tests/images/busybox-httpd "$work/ctx"
cp /bin/busybox "$work/ctx/"
state=$work/state.yaml
log=$work/watch.jsonl

save() {  # save VALUE: atomic save with FOO=VALUE
	cat >"$state.tmp" <<EOF
version: 1
name: $project
image:
  ref: $image
  build: {context: $work/ctx}
container:
  port: $port
  health: {path: /healthz, timeout: 20s}
  env: {FOO: "$1"}
volumes: []
EOF
	mv "$state.tmp" "$state"
}

now_ms() { date +%s%3N; }

# wait_reconciled SINCE_LINE: block until a "reconciled" line after SINCE_LINE.
wait_reconciled() {
	for _ in $(seq 1 600); do
		if tail -n +"$(($1 + 1))" "$log" | grep -q '"event":"reconciled"'; then
			return 0
		fi
		sleep 0.05
	done
	echo "bench: no reconcile within 30 s; log:" >&2
	tail -20 "$log" >&2
	exit 1
}

# report T0 SINCE_LINE: one sample, "total docker" in ms.
sample() {
	python3 - "$log" "$1" "$2" <<'EOF'
import json, sys, datetime
log, t0, since = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def ms(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000)
docker = 0
for line in open(log).read().splitlines()[since:]:
    e = json.loads(line)
    if e["event"] in ("action", "health"):
        docker += e.get("elapsed_ms", 0)
    if e["event"] == "reconciled":
        print(ms(e["time"]) - t0, docker)
        break
EOF
}

summary() {  # summary NAME FILE: medians of "total docker" samples
	python3 - "$1" "$2" <<'EOF'
import statistics, sys
name, path = sys.argv[1], sys.argv[2]
rows = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
tot = [r[0] for r in rows]; own = [r[0] - r[1] for r in rows]
print(f"{name:<18} n={len(rows):<3} total median {statistics.median(tot):6.0f} ms "
      f"(min {min(tot)}, max {max(tot)});  without Docker's actions: median "
      f"{statistics.median(own):5.0f} ms (min {min(own)}, max {max(own)})")
EOF
}

echo "== occ watch: $OCC (dockerd at $SOCK)"
save start
"$OCC" watch --json -f "$state" >"$log" 2>"$work/watch.err" &
watcher=$!
wait_reconciled 0
sleep 1

: >"$work/save.txt"
for i in $(seq 1 "$RUNS"); do
	n=$(wc -l <"$log")
	t0=$(now_ms)
	save "v$i"
	wait_reconciled "$n"
	sample "$t0" "$n" >>"$work/save.txt"
	sleep 1.5   # let the follow-up run (the recreate's own events) pass
done

: >"$work/kill.txt"
for i in $(seq 1 "$RUNS"); do
	n=$(wc -l <"$log")
	t0=$(now_ms)
	curl -fsS -X POST --unix-socket "$SOCK" "http://docker/containers/$project/kill" >/dev/null
	wait_reconciled "$n"
	sample "$t0" "$n" >>"$work/kill.txt"
	# stay under the self-heal rate limit (5 repairs within a minute)
	sleep 16
done

summary "save -> converged" "$work/save.txt"
summary "kill -> repaired" "$work/kill.txt"

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$watcher/stat"; }
csw() {
	local sum=0 t v nv
	for t in /proc/"$watcher"/task/*/status; do
		v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t")
		nv=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t")
		sum=$((sum + v + nv))
	done
	echo "$sum"
}
sleep 2
c0=$(cpu); s0=$(csw)
sleep "$IDLE_SECONDS"
c1=$(cpu); s1=$(csw)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$watcher/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$watcher/status")
threads=$(ls "/proc/$watcher/task" | wc -l)
awk -v c=$((c1 - c0)) -v t="$ticks" -v s="$IDLE_SECONDS" -v w=$((s1 - s0)) \
	-v rss="$rss" -v hwm="$hwm" -v th="$threads" 'BEGIN {
	printf "idle %d s            CPU %.2f s (%.3f %%), %d context switches over %d threads (%.1f/s); RSS %.1f MiB (peak %.1f MiB)\n",
		s, c / t, 100 * c / t / s, w, th, w / s, rss / 1024, hwm / 1024 }'
