#!/usr/bin/env bash
# bench/noop.sh - a no-op reconcile, side by side in one run:
#
#   occ apply     (no-op)   occ's whole job when nothing changed
#   occ diff      (no-op)
#   floor                   one filtered list + one inspect through libcurl
#   docker inspect          the docker CLI doing one inspect
#   docker-compose up -d    (no-op) the tool users would otherwise pick
#
# Needs a built tree (cmake -B build), a running dockerd, hyperfine and
# docker-compose (apt-get install hyperfine docker-compose). Prints medians and
# the ratios the project targets: occ apply <= 1.5x floor, >= 30x faster than
# docker-compose. Everything it creates is removed at the end.
#
# usage: bench/noop.sh [BUILD_DIR]   (env RUNS, default 30; BASELINE=path to
#        another occ binary, e.g. an older build, measured in the same run)
set -euo pipefail
BUILD=${1:-build}
# A relative BUILD_DIR is relative to where the script was started.
[ -d "$BUILD" ] || { echo "bench: no build directory '$BUILD'" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
OCC=$BUILD/cli/occ
FLOOR=$BUILD/bench/floor
for tool in hyperfine docker-compose docker python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done
[ -x "$OCC" ] && [ -x "$FLOOR" ] || { echo "bench: build first: cmake -S . -B $BUILD && cmake --build $BUILD" >&2; exit 1; }

work=$(mktemp -d /tmp/occ-bench-XXXXXX)
project=occ-bench-$$
image=occ-bench:$$
# Two free host ports of 23400-23499.
read -r port_occ port_compose < <(python3 - $$ <<'PY'
import socket, sys
start, free = int(sys.argv[1]) % 100, []
for i in range(100):
    p = 23400 + (start + i) % 100
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); free.append(p)
    except OSError:
        pass
    finally:
        s.close()
    if len(free) == 2:
        break
print(*free)
PY
)
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data NO_COLOR=1
cleanup() {
	docker-compose -p "$project-compose" -f "$work/compose.yaml" down -v >/dev/null 2>&1 || true
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$project")
	[ -z "$ids" ] || docker rm -f $ids >/dev/null
	vols=$(docker volume ls -q --filter "label=dev.opencode-cloud.project=$project")
	[ -z "$vols" ] || docker volume rm $vols >/dev/null
	docker rmi "$image" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

cp -r tests/images/busybox-httpd "$work/ctx"
cp /bin/busybox "$work/ctx/"
docker build -q -t "$image" "$work/ctx" >/dev/null

cat >"$work/state.yaml" <<YAML
version: 1
name: $project
image: {ref: '$image', pull: never}
container:
  port: $port_occ
  env: {TZ: UTC, MODE: bench}
volumes:
  - {name: data, target: /data}
YAML
cat >"$work/compose.yaml" <<YAML
services:
  web:
    image: $image
    ports: ["127.0.0.1:$port_compose:3000"]
    environment: {TZ: UTC, MODE: bench}
    restart: unless-stopped
    init: true
    volumes: ["data:/data"]
volumes:
  data: {}
YAML
sed -i '1i version: "2.4"' "$work/compose.yaml"

"$OCC" apply -q -f "$work/state.yaml"
docker-compose -p "$project-compose" -f "$work/compose.yaml" up -d >/dev/null 2>&1

# Sanity: the no-op apply really is a no-op.
"$OCC" diff --exit-code -f "$work/state.yaml" >/dev/null

baseline=()
if [ -n "${BASELINE:-}" ]; then
	baseline=(-n "baseline apply (no-op)" "$BASELINE apply -q -f $work/state.yaml"
		  -n "baseline diff (no-op)" "$BASELINE diff -f $work/state.yaml")
fi
# Rounds of every command (ROUNDS, default 8): load that comes and goes
# (a shared machine) then weighs on all of them alike. Times are pooled.
ROUNDS=${ROUNDS:-8}
for r in $(seq 1 "$ROUNDS"); do
	hyperfine -N --warmup 1 --runs $(( (RUNS + ROUNDS - 1) / ROUNDS )) \
		--export-json "$work/noop-$r.json" \
		"${baseline[@]}" \
		-n "occ apply (no-op)" "$OCC apply -q -f $work/state.yaml" \
		-n "occ diff (no-op)" "$OCC diff -f $work/state.yaml" \
		-n "floor (list+inspect)" "$FLOOR $project" \
		-n "docker inspect" "docker inspect $project" \
		-n "docker-compose up -d (no-op)" "docker-compose -p $project-compose -f $work/compose.yaml up -d" \
		>/dev/null
done

python3 - "$work"/noop-*.json <<'PY'
import json, statistics, sys
times = {}
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
print("%-30s %10s %10s" % ("operation", "median ms", "vs occ"))
occ = med["occ apply (no-op)"]
for k, v in med.items():
    print("%-30s %10.2f %9.2fx" % (k, v, v / occ))
print()
print("occ apply / floor          = %.2fx (target <= 1.5x)" % (occ / med["floor (list+inspect)"]))
print("occ diff / floor           = %.2fx" % (med["occ diff (no-op)"] / med["floor (list+inspect)"]))
if "baseline apply (no-op)" in med:
    print("baseline apply / floor     = %.2fx" % (med["baseline apply (no-op)"] / med["floor (list+inspect)"]))
print("docker-compose / occ apply = %.1fx (target >= 30x)" % (med["docker-compose up -d (no-op)"] / occ))
PY
