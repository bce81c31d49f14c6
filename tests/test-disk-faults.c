/*
 * test-disk-faults.c - a full and a read-only state directory (needs root:
 * it mounts a small tmpfs under /run/occ-fault-tmpfs-PID).
 *
 * The state file, its .bak and XDG_DATA_HOME (journal, lock) live on the
 * tmpfs. Once it is full, and again once it is remounted read-only, an edit
 * (`occ config set`, `occ user add`) and `occ apply` must fail with exit 1
 * and an error naming the cause, change nothing in Docker (-vv trace), and
 * leave the state file, its .bak and the journal byte for byte as they were.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *mnt, *tmp, *state_path, *bak_path, *journal_path;
static bool mounted;

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
}

struct snapshot {
	char *state, *bak, *journal;
};

static void take(struct snapshot *s)
{
	s->state = read_text(state_path);
	s->bak = read_text(bak_path);
	s->journal = read_text(journal_path);
}

static void same(const struct snapshot *a, const char *what)
{
	struct snapshot b;

	take(&b);
	ck_assert_msg(strcmp(a->state, b.state) == 0, "%s changed the state file", what);
	ck_assert_msg(strcmp(a->bak, b.bak) == 0, "%s changed the .bak", what);
	ck_assert_msg(strcmp(a->journal, b.journal) == 0, "%s changed the journal", what);
	free(b.state);
	free(b.bak);
	free(b.journal);
}

static void release(struct snapshot *s)
{
	free(s->state);
	free(s->bak);
	free(s->journal);
}

/* Every command must fail with cause in its error and touch nothing. */
static void check_all_fail(const char *cause)
{
	const char *set[] = { "config", "set", "container.port", "23398", "-f", state_path, NULL };
	const char *add[] = { "user", "add", "dave", "--generate", "--no-apply", "-f", state_path,
			      NULL };
	const char *apply[] = { "apply", "--yes", "-vv", "-f", state_path, NULL };
	const char *const *cmds[] = { set, add, apply };
	struct snapshot before;

	take(&before);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(cmds); i++) {
		struct run_result r;

		run_occ(&r, cmds[i]);
		ck_assert_msg(r.status == 1, "occ %s %s exited %d (%s)\n%s%s", cmds[i][0],
			      cmds[i][1], r.status, cause, r.out.buf, r.err.buf);
		ck_assert_msg(strstr(r.err.buf, cause), "occ %s %s: no '%s' in\n%s", cmds[i][0],
			      cmds[i][1], cause, r.err.buf);
		ck_assert_msg(!strstr(r.err.buf, "docker: POST") && !strstr(r.err.buf, "docker: PUT") &&
			      !strstr(r.err.buf, "docker: DELETE"), "occ %s changed Docker:\n%s",
			      cmds[i][0], r.err.buf);
		run_result_release(&r);
		same(&before, cmds[i][0]);
	}
	release(&before);
}

START_TEST(test_full_state_dir)
{
	char *cmd = occ_xasprintf("dd if=/dev/zero of=%s/fill bs=4k >/dev/null 2>&1; "
				  "df %s | tail -1 | grep -q ' 100%% '", mnt, mnt);

	sh(cmd);
	check_all_fail("No space left on device");
	free(cmd);
	cmd = occ_xasprintf("rm -f %s/fill", mnt);
	sh(cmd);
	free(cmd);
}
END_TEST

START_TEST(test_read_only_state_dir)
{
	char *cmd = occ_xasprintf("mount -o remount,ro %s", mnt);

	sh(cmd);
	check_all_fail("Read-only file system");
	free(cmd);
	cmd = occ_xasprintf("mount -o remount,rw %s", mnt);
	sh(cmd);
	free(cmd);
}
END_TEST

static void setup(void)
{
	char *cmd, *ctx, *text, *dir;
	const char *set[] = { "config", "set", "container.port", "23397", NULL, NULL, NULL };
	struct run_result r;

	ck_assert_msg(geteuid() == 0, "test-disk-faults needs root (it mounts a tmpfs)");
	tmp = make_tmpdir("diskfault");
	mnt = occ_xasprintf("/run/occ-fault-tmpfs-%ld", (long)getpid());
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	cmd = occ_xasprintf("mount -t tmpfs -o size=512k occ-fault-tmpfs %s", mnt);
	sh(cmd);
	free(cmd);
	mounted = true;
	set_test_env(mnt, true);
	state_path = occ_xasprintf("%s/state.yaml", mnt);
	bak_path = occ_xasprintf("%s.bak", state_path);
	dir = occ_xasprintf("%s/data/opencode-cloud/journal", mnt);
	journal_path = occ_xasprintf("%s/occ-fault-disk-%ld.log", dir, (long)getpid());
	/* a build context that exists, for an image that does not: the plan
	 * has work to do, which apply must refuse before starting */
	ctx = occ_xasprintf("%s/ctx", tmp);
	cmd = occ_xasprintf("mkdir -p %s %s && printf 'FROM scratch\\n' > %s/Dockerfile", ctx, dir,
			    ctx);
	sh(cmd);
	free(cmd);
	text = occ_xasprintf("# a state file on a small tmpfs\nversion: 1\nname: occ-fault-disk-%ld\n"
			     "image: {ref: 'occ-fault-disk-%ld:1', build: {context: %s}}\n"
			     "container: {port: 23396}\n", (long)getpid(), (long)getpid(), ctx);
	write_text(state_path, text);
	write_text(journal_path, "2026-01-01T00:00:00Z\tlocal\tcreate container x\tdone\n");
	/* one good edit first, so there is a .bak */
	set[4] = "-f";
	set[5] = state_path;
	run_occ(&r, set);
	ck_assert_msg(r.status == 0, "config set: %s", r.err.buf);
	run_result_release(&r);
	free(text);
	free(ctx);
	free(dir);
}

static void teardown(void)
{
	char *cmd;

	if (mounted) {
		cmd = occ_xasprintf("umount %s && rmdir %s", mnt, mnt);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot unmount %s\n", mnt);
		free(cmd);
	}
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("disk-faults");
	TCase *tc = tcase_create("tmpfs");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_state_dir);
	tcase_add_test(tc, test_read_only_state_dir);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
