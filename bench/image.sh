#!/usr/bin/env bash
# bench/image.sh - the opencode image, opencode 2.2.5 (the Dockerfile's
# default OPENCODE_VERSION) and 1.18.18 (image.build.args.OPENCODE_VERSION)
# side by side, each through occ itself with the embedded build
# (image.build.context: embedded). Rows, in bench/run's table (occ = 2.2.5,
# peer = 1.18.18, ratio = 2.2.5 / 1.18.18):
#
#   image size             docker image inspect -f '{{.Size}}', in MB (10^6 B)
#   cold build in apply    the image action of the first `occ apply` (its
#                          elapsed_ms in `occ apply --json`): no image of the
#                          project, and a build cache that cannot help from
#                          the final stage's first RUN on (below)
#   apply -> healthy, cold the whole first `occ apply` (wall clock): build,
#                          volumes, create, start, wait for Docker's "healthy"
#   apply -> healthy, image present
#                          `occ apply` after the container is removed (image
#                          and volumes kept), median of IMAGE_RUNS (default 3),
#                          the two versions alternating
#   idle memory            `docker stats --no-stream` MemUsage of the container
#                          IDLE_SECONDS (default 60) after it became healthy,
#                          nothing talking to it (Docker's figure: the cgroup's
#                          usage minus its inactive file pages)
#   idle RSS               at the same moment, the sum of the VmRSS of the
#                          container's processes (`docker top NAME -eo pid,rss`;
#                          file pages of the binary included)
#
# Cold build without touching anyone's cache (the daemon is shared; `docker
# builder prune` would empty everyone's): each run passes a unique
# OCC_IMAGE_VERSION build argument (0.1.0+bench.NONCE; it only sets the
# image's version label). Docker's builder keys every RUN after an ARG's
# declaration on its value, so in the final stage everything from the first
# RUN on is built afresh: apt-get (curl, nginx-light from the Debian mirror),
# the CA step, the opencode download from npm and its integrity check, the
# users, the nginx check. Not rebuilt: the base image (present) and the
# occ-authd stage (a C compile that does not depend on the opencode version,
# taken from the cache when an earlier build made it).
#
# The state files name their own projects (occ-bench-img-PID-2, -1), image
# refs (occ-bench-img-PID-2:local, -1:local) and host ports (23150, 23151);
# occ's config, data, state and runtime directories are in a temp dir. The
# service waits for Docker's health check (the image's, every 5 s: the
# healthy times move in steps of up to 5 s), as a state file without a
# health path does. Removes what it created (containers and volumes by the
# project label, the images by ref and by the nonce's label), Ctrl-C
# included. Needs a built tree, a running dockerd (20.10 or later), the
# npm registry and a Debian mirror (the build), python3; ~5 min.
#
# usage: bench/image.sh [--markdown | --json | --rows FILE] BUILD_DIR
#
#   --rows FILE   append the rows to FILE (bench/run's rows) and print nothing
#   env           IMAGE_RUNS (3), IDLE_SECONDS (60), DOCKER_HOST
set -euo pipefail

usage() { sed -n '/^# usage:/,/^#   env/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }

FORMAT=text OUT= BUILD=
while [ $# -gt 0 ]; do
	case $1 in
	--markdown) FORMAT=markdown ;;
	--json) FORMAT=json ;;
	--rows) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
	-h|--help) usage ;;
	-*) echo "bench/image: unknown option '$1'" >&2; usage ;;
	*) [ -z "$BUILD" ] || usage; BUILD=$1 ;;
	esac
	shift
done
[ -n "$BUILD" ] || usage
[ -d "$BUILD" ] || { echo "bench/image: no build directory '$BUILD'" >&2; exit 1; }
BUILD=$(cd "$BUILD" && pwd)
[ -z "$OUT" ] || OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
cd "$(dirname "$0")/.."
IMAGE_RUNS=${IMAGE_RUNS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-60}
OCC=$BUILD/cli/occ
[ -x "$OCC" ] || { echo "bench/image: build first: cmake -S . -B $BUILD && cmake --build $BUILD" >&2; exit 1; }
for tool in docker python3; do
	command -v "$tool" >/dev/null || { echo "bench/image: $tool is missing" >&2; exit 1; }
done

VERSIONS=(2.2.5 1.18.18)
TAGS=(2 1)
PORTS=(23150 23151)
nonce=$(date +%s)-$$-$RANDOM
label_version="$("$OCC" --version | awk '{print $2}')+bench.$nonce"
prefix=occ-bench-img-$$
work=$(mktemp -d /tmp/occ-bench-image-XXXXXX)
export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state \
	XDG_CACHE_HOME=$work/cache XDG_RUNTIME_DIR=$work/run TMPDIR=$work/tmp NO_COLOR=1
mkdir -p "$XDG_RUNTIME_DIR" "$TMPDIR"
chmod 0700 "$XDG_RUNTIME_DIR"
rows=$work/rows.tsv
: >"$rows"
samplers=()

say() { echo "bench/image: $*" >&2; }

cleanup() {
	trap - EXIT INT TERM
	set +e +o pipefail   # remove all there is to remove, whatever fails
	local p ids vols imgs t s
	for s in "${samplers[@]}"; do kill "$s" 2>/dev/null || true; done
	for t in "${TAGS[@]}"; do
		p=$prefix-$t
		ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$p")
		[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
		vols=$(docker volume ls -q --filter "label=dev.opencode-cloud.project=$p")
		[ -z "$vols" ] || docker volume rm $vols >/dev/null 2>&1 || true
		docker rmi "$p:local" >/dev/null 2>&1 || true
	done
	# An interrupted build can leave untagged images of this run: the final one
	# has the run's label, the intermediate ones its build argument in the
	# command the builder recorded. Newest first (children before parents).
	imgs=$(docker images -aq --filter "label=org.opencontainers.image.version=$label_version")
	[ -z "$imgs" ] || docker rmi -f $imgs >/dev/null 2>&1 || true
	docker images -aq --no-trunc | sort -u |
		xargs -r docker image inspect -f '{{.Created}} {{.Id}} {{json .ContainerConfig.Cmd}}' 2>/dev/null |
		grep -F "\"OCC_IMAGE_VERSION=$label_version\"" | sort -r | cut -d' ' -f2 |
		while read -r id; do docker rmi "$id" >/dev/null 2>&1 || true; done || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for port in "${PORTS[@]}"; do
	python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" \
		2>/dev/null || { say "port $port is taken"; exit 1; }
done

now_ms() { date +%s%3N; }
median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in 0 1; do
	cat >"$work/${TAGS[$i]}.yaml" <<YAML
version: 1
name: $prefix-${TAGS[$i]}
image:
  ref: $prefix-${TAGS[$i]}:local
  build:
    context: embedded
    args: {OPENCODE_VERSION: "${VERSIONS[$i]}", OCC_IMAGE_VERSION: "$label_version"}
container:
  port: ${PORTS[$i]}
YAML
done

# apply TAG: `occ apply --json` of version TAG; prints "wall_ms image_ms"
# (image_ms: the image action's elapsed_ms, 0 when there was none).
apply() {
	local t0 t1
	t0=$(now_ms)
	"$OCC" apply --json --yes -f "$work/$1.yaml" >"$work/apply.json" 2>"$work/apply.err" ||
		{ say "occ apply ($1) failed:"; cat "$work/apply.err" "$work/apply.json" >&2; return 1; }
	t1=$(now_ms)
	python3 - "$work/apply.json" $((t1 - t0)) <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
found = []
def walk(v):
    if isinstance(v, dict):
        if v.get("resource") == "image" and "elapsed_ms" in v and v.get("result") == "done":
            found.append(v["elapsed_ms"])
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(doc)
print(sys.argv[2], sum(found))
PY
}

# mem TAG: the container's memory as docker stats shows it, in MiB.
mem() {
	docker stats --no-stream --format '{{.MemUsage}}' "$prefix-$1" | python3 -c '
import re, sys
v, u = re.match(r"\s*([0-9.]+)\s*([KMG]i?B|B)", sys.stdin.read()).groups()
print("%.1f" % (float(v) * {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024,
                            "kB": 1e3 / 2**20, "MB": 1e6 / 2**20, "GB": 1e9 / 2**20}[u]))'
}

# rss TAG: the sum of the VmRSS of the container's processes, in MiB (file
# pages of the opencode binary included; shared pages counted once a process).
rss() {
	docker top "$prefix-$1" -eo pid,rss | awk 'NR > 1 { k += $2 } END { printf "%.1f\n", k / 1024 }'
}

declare -A cold_wall cold_build size idle idle_rss
for i in 0 1; do
	t=${TAGS[$i]}
	say "opencode ${VERSIONS[$i]}: cold occ apply (embedded build, OCC_IMAGE_VERSION=$label_version)"
	apply "$t" >"$work/applied"
	read -r cold_wall[$t] cold_build[$t] <"$work/applied"
	[ "${cold_build[$t]}" -gt 0 ] || { say "the cold apply of ${VERSIONS[$i]} built nothing"; exit 1; }
	size[$t]=$(docker image inspect -f '{{.Size}}' "$prefix-$t:local")
	say "opencode ${VERSIONS[$i]}: healthy after ${cold_wall[$t]} ms, image action ${cold_build[$t]} ms, ${size[$t]} bytes"
	# The idle sample, IDLE_SECONDS after healthy, while the other version builds.
	( sleep "$IDLE_SECONDS"; mem "$t" >"$work/idle-$t"; rss "$t" >"$work/rss-$t" ) &
	samplers+=($!)
done
say "waiting for the idle samples (${IDLE_SECONDS} s after healthy)"
for s in "${samplers[@]}"; do wait "$s"; done
samplers=()
for t in "${TAGS[@]}"; do
	idle[$t]=$(cat "$work/idle-$t") idle_rss[$t]=$(cat "$work/rss-$t")
	say "$t: idle ${idle[$t]} MiB (docker stats), ${idle_rss[$t]} MiB (sum of RSS)"
done

say "occ apply with the image present: $IMAGE_RUNS runs each, alternating"
warm2=() warm1=()
for r in $(seq 1 "$IMAGE_RUNS"); do
	for t in "${TAGS[@]}"; do
		docker rm -f "$prefix-$t" >/dev/null
		apply "$t" >"$work/applied"
		read -r wall built <"$work/applied"
		say "$t: healthy after $wall ms (image present)"
		[ "$built" = 0 ] || { say "apply $t rebuilt the image"; exit 1; }
		if [ "$t" = 2 ]; then warm2+=("$wall"); else warm1+=("$wall"); fi
	done
done

row() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$rows"; }
peer="opencode ${VERSIONS[1]}"
row "opencode ${VERSIONS[0]} image: size" \
	"$(python3 -c "print(${size[2]} / 1e6)")" "$peer" "$(python3 -c "print(${size[1]} / 1e6)")" MB
row "opencode ${VERSIONS[0]} image: cold build in occ apply (cache from the final stage's first RUN off)" \
	"$(python3 -c "print(${cold_build[2]} / 1000)")" "$peer" "$(python3 -c "print(${cold_build[1]} / 1000)")" s
row "opencode ${VERSIONS[0]} image: occ apply -> healthy, cold (build included)" \
	"$(python3 -c "print(${cold_wall[2]} / 1000)")" "$peer" "$(python3 -c "print(${cold_wall[1]} / 1000)")" s
row "opencode ${VERSIONS[0]} image: occ apply -> healthy, image present" \
	"$(python3 -c "print($(median "${warm2[@]}") / 1000)")" "$peer" \
	"$(python3 -c "print($(median "${warm1[@]}") / 1000)")" s
row "opencode ${VERSIONS[0]} image: idle memory, docker stats (${IDLE_SECONDS} s after healthy)" \
	"${idle[2]}" "$peer" "${idle[1]}" MiB
row "opencode ${VERSIONS[0]} image: idle RSS, sum over the container's processes (same moment)" \
	"${idle_rss[2]}" "$peer" "${idle_rss[1]}" MiB

load1=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average: $load0 at the start, $load1 at the end ($(nproc) cores)"
if [ -n "$OUT" ]; then
	cat "$rows" >>"$OUT"
else
	python3 bench/table.py "$rows" "$FORMAT" \
		"cold: one run per version; image present: median of $IMAGE_RUNS; ratio = ${VERSIONS[0]} / ${VERSIONS[1]}; load average $load0 -> $load1 on $(nproc) cores"
fi
