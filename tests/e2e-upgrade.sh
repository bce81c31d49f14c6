#!/usr/bin/env bash
# tests/e2e-upgrade.sh OCC - end to end: `occ update` from opencode 1.18.18 to
# 2.2.5 keeps the sessions, and a failed upgrade rolls back the image and the
# database.
#
#   1. `occ apply` of the embedded image with OPENCODE_VERSION 1.18.18 (as a
#      state file that pinned 1.x does), one user; sessions made through
#      1.x's API (POST /session) through the front.
#   2. A failed upgrade: the state file asks for 2.2.5 plus the Dockerfile's
#      test-only ARG OCC_TEST_UNHEALTHY (its /healthz never passes while
#      opencode 2 runs on the data). `occ update` snapshots the database,
#      fails the health gate, puts the snapshot back and runs 1.18.18 again:
#      exit 1, opencode reports 1.18.18, `PRAGMA integrity_check` is ok
#      (sqlite3 in the container, as opencode) and the session list is the
#      one from before.
#   3. The upgrade: 2.2.5 without the hook. `occ update` snapshots again and
#      2.2.5 lists the sessions made on 1.18 (GET /api/session).
#
# Needs what e2e-image needs (root, dockerd, the Debian mirror, npm) and its
# base image (debian:bookworm-slim: run e2e-image first, which makes it when
# it is missing). Only the project occ-upg-e2e's containers and volumes are
# removed at the end; its images stay (build cache). Exit 77 (skipped)
# without root, a Docker daemon or the base image. Host port 23140.
set -euo pipefail

OCC=$(realpath "${1:?usage: e2e-upgrade.sh OCC_BINARY}")
PROJECT=occ-upg-e2e
REF=occ-upg-e2e:local
PORT=23140
OLD=1.18.18
NEW=2.2.5
DB=/home/opencode/.local/share/opencode/opencode.db
SNAP=/home/opencode/.local/share/opencode/occ-pre-update.db

if [ "$(id -u)" != 0 ] || ! docker info >/dev/null 2>&1; then
	echo "e2e-upgrade: skipped: needs root and a running Docker daemon" >&2
	exit 77
fi
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
	echo "e2e-upgrade: skipped: no debian:bookworm-slim (tests/e2e-image.sh makes it)" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/occ-upg-e2e.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state
STATE=$WORK/state.yaml

cleanup_project() {
	local ids
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.project=$PROJECT") || true
	[ -z "$ids" ] || docker rm -f $ids >/dev/null || true
	ids=$(docker ps -aq --filter "label=dev.opencode-cloud.throwaway") || true
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
	echo "e2e-upgrade: FAIL: $*" >&2
	docker logs --tail 30 "$PROJECT" 2>&1 | sed 's/^/  | /' >&2 || true
	exit 1
}
step() { echo "== $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

URL=http://127.0.0.1:$PORT
CRED=alice:alice-pw-1
# body PATH [curl options...]: as alice, credentials in a config on stdin.
body() {
	local path=$1
	shift
	printf 'user = "%s"\n' "$CRED" | curl -sf -m 20 -K - "$@" "$URL$path"
}
# The session ids opencode lists (1.x: /session, 2.x: /api/session), sorted.
sessions() {
	body "$1/session" | grep -o '"id":"ses_[^"]*"' | sort -u
}
in_ctr() { docker exec -u opencode "$PROJECT" "$@"; }
# The schema of a database in the container, as a hash: 2.x migrates 1.x's.
schema() { in_ctr sqlite3 "$1" .schema | sha256sum | cut -c1-16; }
# occ's own lines of a log (not the image build's output, which is indented).
occ_lines() { grep -v '^[[:space:]]' "$1" | sed 's/^/   | /'; }

ca_list=""
for f in /usr/local/share/ca-certificates/*.crt; do
	[ -f "$f" ] && ca_list="$ca_list${ca_list:+, }$f"
done
write_state() {   # write_state OPENCODE_VERSION [UNHEALTHY]
	cat >"$STATE" <<-EOF
	version: 1
	name: $PROJECT
	image:
	  ref: $REF
	  build:
	    context: embedded
	    ca_certs: [$ca_list]
	    args:
	      OPENCODE_VERSION: "$1"
	EOF
	[ -z "${2:-}" ] || printf '      OCC_TEST_UNHEALTHY: "1"\n' >>"$STATE"
	cat >>"$STATE" <<-EOF
	container:
	  port: $PORT
	  health: {path: /healthz, timeout: ${3:-300s}}
	EOF
}

# ---- 1.18.18 with sessions -------------------------------------------------------

cleanup_project
# occ builds only a missing image: drop the last run's tags (its layers stay
# the build cache under a tag of their own) so this run builds $OLD afresh.
for tag in "$REF" "$PROJECT-previous:latest"; do
	if docker image inspect "$tag" >/dev/null 2>&1; then
		docker tag "$tag" "$PROJECT:cache"
		docker rmi "$tag" >/dev/null
	fi
done
step "occ apply: opencode $OLD"
write_state "$OLD"
t0=$(now)
"$OCC" apply -y -f "$STATE" >"$WORK/apply.log" 2>&1 || { cat "$WORK/apply.log" >&2; fail "occ apply"; }
echo "   apply (build included) to healthy: $(since "$t0")"
printf 'alice-pw-1\n' | "$OCC" user add alice --password-stdin -y -f "$STATE" >"$WORK/user.log" 2>&1 ||
	{ cat "$WORK/user.log" >&2; fail "occ user add alice"; }
body /global/health | grep -q "\"version\":\"$OLD\"" || fail "opencode does not report $OLD"
for i in 1 2 3; do
	body /session -X POST -H 'Content-Type: application/json' -d '{}' | grep -q '"id":"ses_' ||
		fail "POST /session ($i) on $OLD"
done
sessions "" >"$WORK/before.txt"
schema_old=$(schema "$DB")
[ "$(wc -l <"$WORK/before.txt")" -ge 3 ] || fail "$OLD lists $(wc -l <"$WORK/before.txt") sessions, want 3"
echo "   ok: $(wc -l <"$WORK/before.txt") sessions on $OLD; database $(in_ctr stat -c %s "$DB") bytes"

# ---- a failed upgrade rolls back the image and the database -------------------------

step "occ update to $NEW that fails its health gate (OCC_TEST_UNHEALTHY)"
write_state "$NEW" unhealthy 90s
old_image=$(docker inspect -f '{{.Image}}' "$PROJECT")
t0=$(now)
rc=0
"$OCC" update --yes -f "$STATE" >"$WORK/update-bad.log" 2>&1 || rc=$?
echo "   failed update and rollback: $(since "$t0")"
occ_lines "$WORK/update-bad.log"
[ "$rc" = 1 ] || fail "occ update of an unhealthy image: exit $rc, want 1"
grep -q "opencode $OLD -> $NEW: database snapshot taken" "$WORK/update-bad.log" ||
	fail "no snapshot before the version change"
grep -q "opencode's database is back as it was before the update" "$WORK/update-bad.log" ||
	fail "the snapshot was not put back"
grep -q "rolled back" "$WORK/update-bad.log" || fail "occ update did not roll back"
[ "$(docker inspect -f '{{.Image}}' "$PROJECT")" = "$old_image" ] ||
	fail "the container does not run the $OLD image again"
[ "$(docker inspect -f '{{.State.Running}}' "$PROJECT")" = true ] || fail "the container is not running"
body /global/health | grep -q "\"version\":\"$OLD\"" || fail "opencode does not report $OLD after the rollback"
check=$(in_ctr sqlite3 "$DB" "PRAGMA integrity_check") || fail "sqlite3 integrity_check did not run"
[ "$check" = ok ] || fail "PRAGMA integrity_check after the rollback: $check"
[ "$(schema "$DB")" = "$schema_old" ] || fail "the database has another schema than $OLD's"
echo "   ok: $OLD runs again; PRAGMA integrity_check: $check; $OLD's schema ($schema_old)"
sessions "" >"$WORK/rolled-back.txt"
diff "$WORK/before.txt" "$WORK/rolled-back.txt" >/dev/null ||
	fail "the session list changed: $(diff "$WORK/before.txt" "$WORK/rolled-back.txt" | tr '\n' ' ')"
body /session -X POST -H 'Content-Type: application/json' -d '{}' | grep -q '"id":"ses_' ||
	fail "$OLD cannot make a session after the rollback"
sessions "" >"$WORK/before.txt"
echo "   ok: the same $(wc -l <"$WORK/rolled-back.txt") sessions; $OLD writes again"
in_ctr test -f "$SNAP" || fail "no snapshot $SNAP on the data volume"

# ---- the upgrade keeps the sessions ----------------------------------------------------

step "occ update to $NEW"
write_state "$NEW"
t0=$(now)
"$OCC" update --yes -f "$STATE" >"$WORK/update.log" 2>&1 ||
	{ cat "$WORK/update.log" >&2; fail "occ update to $NEW"; }
echo "   update to healthy: $(since "$t0")"
occ_lines "$WORK/update.log"
grep -q "opencode $OLD -> $NEW: database snapshot taken" "$WORK/update.log" ||
	fail "no snapshot before the version change"
body /api/info | grep -q "\"version\":\"$NEW\"" || fail "opencode does not report $NEW"
sessions /api >"$WORK/after.txt"
missing=$(comm -23 "$WORK/before.txt" "$WORK/after.txt")
[ -z "$missing" ] || fail "$NEW does not list the sessions made on $OLD: $missing"
echo "   ok: $NEW lists all $(wc -l <"$WORK/before.txt") sessions made on $OLD"
# What the failed run undid: $NEW migrates opencode.db in place.
schema_new=$(schema "$DB")
[ "$schema_new" != "$schema_old" ] || fail "$NEW left the schema as it was: the rollback test proves nothing"
echo "   ok: $NEW migrated opencode.db in place (schema $schema_old -> $schema_new)"
check=$(in_ctr sqlite3 "$SNAP" "PRAGMA integrity_check") || fail "sqlite3 on the snapshot"
[ "$check" = ok ] || fail "PRAGMA integrity_check of the snapshot: $check"
echo "   ok: the snapshot ($(in_ctr stat -c %s "$SNAP") bytes) is intact"
echo "== e2e-upgrade: all checks passed"
