#!/usr/bin/env bash
# tests/run-all.sh - the whole test suite, as README.md and .ci/run call it.
#
#   1. build occ (warnings are errors) and run every test: unit tests and the
#      integration tests against a real dockerd (started here when none
#      answers, and stopped again by pid) and a remote host of the lab (a
#      dockerd in a network namespace behind a real sshd, tests/lab/remote.sh);
#   2. build again under AddressSanitizer + UBSan and run the unit tests;
#   3. validate examples/ against schemas/ (part of the unit label);
#   4. build the libFuzzer targets with clang and run each one briefly;
#   5. after the first build, the npm packages' tests (node --test).
#
# Environment: OCC_FUZZ_SECONDS (default 20) per fuzz target; OCC_SKIP_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

bash tests/install-deps.sh

. tests/lab/dockerd.sh
. tests/lab/remote.sh
# Stop only what this run started (each lab records its own pids; a remote
# lab that was already up is left as it was).
LAB_REMOTE_OURS=0
trap '[ "$LAB_REMOTE_OURS" = 1 ] && lab_remote_stop; lab_dockerd_stop' EXIT

echo "== build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCC_WERROR=ON >/dev/null
cmake --build build -j"$JOBS"

# The npm packages (packages/): the launcher, the release scripts and an
# offline `npm install -g` of the packed packages, using build/cli/occ from
# the build above. Test files are listed by the shell: `node --test DIR`
# searches DIR on Node 18/20 only (Node 22+ takes globs and not directories).
echo "== npm packages (node --test)"
node --test packages/test/*.test.js

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DOCC_SANITIZE=ON -DOCC_WERROR=ON >/dev/null
cmake --build build-asan -j"$JOBS"

echo "== unit tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan -L unit --output-on-failure -j"$JOBS"

echo "== Docker"
lab_dockerd_start
echo "== remote host lab (network namespace: dockerd + sshd)"
[ -s "$LAB_REMOTE_ENV" ] || LAB_REMOTE_OURS=1
lab_remote_start 1

echo "== all tests (unit + integration)"
ctest --test-dir build -LE e2e --output-on-failure

echo "== integration tests (ASan + UBSan, leak detection)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan -L integration --output-on-failure

echo "== end-to-end: the opencode image (label e2e)"
ctest --test-dir build -L e2e --output-on-failure

if [ "${OCC_SKIP_FUZZ:-0}" != 1 ] && command -v clang >/dev/null; then
	echo "== fuzz smoke"
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON -DOCC_TESTS=ON \
		-DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build build-fuzz -j"$JOBS"
	for t in build-fuzz/tests/fuzz-*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		corpus=tests/fuzz/corpus-${name#fuzz-}
		work=$(mktemp -d)
		cp -r "$corpus"/. "$work"/
		echo "-- $name (${OCC_FUZZ_SECONDS:-20} s)"
		status=0
		"$t" -max_total_time="${OCC_FUZZ_SECONDS:-20}" -print_final_stats=1 "$work" \
			>"$work.log" 2>&1 || status=$?
		grep -E '^stat::number_of_executed_units|ERROR' "$work.log" || true
		if [ "$status" -ne 0 ]; then
			tail -40 "$work.log"
			echo "fuzz target $name failed" >&2
			exit 1
		fi
		rm -rf "$work" "$work.log"
	done
fi
echo "== all tests passed"
