/*
 * test-faults.c - occ interrupted, and occ against occ, on a real dockerd.
 *
 * Kill at every step: OCC_FAULT_KILL_AFTER=i (drivers/docker/http.c) makes
 * occ SIGKILL itself right after its i-th state-changing Docker API call.
 * For a first apply from nothing (image build, volume, container, accounts,
 * start) and for a recreate with accounts and volume data, every i up to the
 * plan's last call is tried; after each interruption a plain `occ apply`
 * must converge: `occ diff --exit-code` is 0, there is exactly one project
 * container (no "-occ-next"/"-occ-old" left, no duplicate), the accounts and
 * a file in the volume are as they were, and the lock is free (the next
 * apply runs with --lock-timeout 0s).
 *
 * Concurrency: OCC_FAULT_STOP_AFTER=1 freezes one occ (SIGSTOP) in the
 * middle of its apply while it holds the project lock; a second apply waits
 * (and says so), one with --lock-timeout fails naming the holder, `occ
 * watch` waits the same way, and the journal shows the runs one after the
 * other. No timing is asserted: the frozen process is the synchronisation.
 *
 * Project names start with "occ-fault-", ports are 23300-23399; everything
 * created is removed by label and name at the end.
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

#define MAX_STEPS 40

static char *tmp, *ctx_dir, *state_path, *project, *image_ref, *hash_alice, *hash_bob;
static int port;

/* A first account, listed before the others, gets the lowest uid; once it
 * is gone, alice and bob keep theirs (1001, 1002), which a fresh container
 * would not give them (1000, 1001): so the accounts show whether a recreate
 * cut short kept the uids. */
static bool with_abe;

static void write_state(const char *tz, bool extra_volume, bool running)
{
	char *abe = occ_xasprintf("  - {name: abe, password_hash: \"%s\"}\n", hash_alice);
	char *text = occ_xasprintf(
		"version: 1\n"
		"name: %s\n"
		"image:\n"
		"  ref: %s\n"
		"  build: {context: %s}\n"
		"container:\n"
		"  port: %d\n"
		"  running: %s\n"
		"  env: {TZ: %s}\n"
		"  health: {path: /healthz, timeout: 20s}\n"
		"volumes:\n"
		"  - {name: data, target: /data}\n"
		"%s"
		"users:\n"
		"%s"
		"  - name: alice\n"
		"    password_hash: \"%s\"\n"
		"  - name: bob\n"
		"    password_hash: \"%s\"\n"
		"    shell: /bin/sh\n",
		project, image_ref, ctx_dir, port, running ? "true" : "false", tz,
		extra_volume ? "  - {name: extra, target: /extra}\n" : "",
		with_abe ? abe : "", hash_alice, hash_bob);

	write_text(state_path, text);
	free(text);
	free(abe);
}

/* Every container of the project, by label or by one of its three names:
 * "name status" lines, sorted. */
static char *project_containers(void)
{
	char *cmd = occ_xasprintf(
		"{ docker ps -a --filter label=dev.opencode-cloud.project=%s --format '{{.Names}} {{.State}}';"
		"  docker ps -a --filter name=%s --format '{{.Names}} {{.State}}'; } | sort -u",
		project, project);
	char *out = sh_ok(cmd);

	free(cmd);
	return out;
}

static void remove_everything(bool image_too)
{
	char *cmd = occ_xasprintf(
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$vols\" ] || docker volume rm $vols >/dev/null; "
		"[ %d = 0 ] || docker rmi -f %s >/dev/null 2>&1; true",
		project, project, image_too, image_ref);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
	free(cmd);
}

static void occ_ok(const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "occ %s exited %d\nstdout:\n%s\nstderr:\n%s", args[0],
		      r.status, r.out.buf, r.err.buf);
	run_result_release(&r);
}

/* occ apply with OCC_FAULT_KILL_AFTER=i: 0 when it finished, 1 when killed. */
static int apply_killed_after(int i)
{
	const char *args[] = { "apply", "--yes", "-vv", "-f", state_path, NULL };
	char n[16];
	struct run_result r;
	int killed;

	snprintf(n, sizeof(n), "%d", i);
	setenv("OCC_FAULT_KILL_AFTER", n, 1);
	run_occ(&r, args);
	unsetenv("OCC_FAULT_KILL_AFTER");
	killed = r.status == 128 + SIGKILL;
	ck_assert_msg(killed || r.status == 0, "apply killed after %d exited %d\n%s%s", i,
		      r.status, r.out.buf, r.err.buf);
	run_result_release(&r);
	return killed;
}

static char *in_container(const char *cmd)
{
	char *full = occ_xasprintf("docker exec %s sh -c '%s'", project, cmd);
	char *out = sh_ok(full);

	free(full);
	return out;
}

/* The next apply: no waiting for a lock, and it converges. */
static void recover_and_check(int step)
{
	const char *apply[] = { "apply", "--yes", "--lock-timeout", "0s", "-f", state_path, NULL };
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	char *want = occ_xasprintf("%s running", project), *got, *passwd, *shadow;

	occ_ok(apply);
	occ_ok(diff);
	got = project_containers();
	ck_assert_msg(strcmp(got, want) == 0, "after a kill at step %d: containers\n%s", step, got);
	passwd = in_container("grep -c -E \"^(alice|bob):\" /etc/passwd");
	ck_assert_str_eq(passwd, "2");
	shadow = in_container("cat /etc/shadow");
	ck_assert_msg(strstr(shadow, hash_alice) && strstr(shadow, hash_bob),
		      "after a kill at step %d: shadow\n%s", step, shadow);
	free(shadow);
	free(passwd);
	free(got);
	free(want);
}

START_TEST(test_kill_first_apply_at_every_step)
{
	int i;

	write_state("UTC", false, true);
	for (i = 1; i <= MAX_STEPS; i++) {
		remove_everything(true);
		if (!apply_killed_after(i))
			break;
		recover_and_check(i);
	}
	ck_assert_msg(i > 5 && i <= MAX_STEPS, "first apply: %d state-changing calls", i - 1);
	fprintf(stderr, "first apply: killed after each of %d state-changing calls\n", i - 1);
	recover_and_check(i);
}
END_TEST

START_TEST(test_kill_recreate_at_every_step)
{
	char *keep, *before, *after, *tz;
	int i;

	with_abe = true;
	write_state("UTC", false, true);
	remove_everything(false);
	recover_and_check(0);
	with_abe = false;
	write_state("UTC", false, true);
	recover_and_check(0);
	free(in_container("echo kept > /data/keep"));
	before = in_container("grep -E \"^(alice|bob):\" /etc/passwd /etc/shadow /etc/group");
	for (i = 1; i <= MAX_STEPS; i++) {
		tz = occ_xasprintf("Zone%d", i);
		write_state(tz, false, true);
		free(tz);
		if (!apply_killed_after(i))
			break;
		recover_and_check(i);
		keep = in_container("cat /data/keep");
		ck_assert_msg(strcmp(keep, "kept") == 0, "kill at step %d: volume data '%s'", i, keep);
		free(keep);
		after = in_container("grep -E \"^(alice|bob):\" /etc/passwd /etc/shadow /etc/group");
		ck_assert_msg(strcmp(before, after) == 0, "kill at step %d: accounts\n%s\nwere\n%s",
			      i, after, before);
		free(after);
	}
	ck_assert_msg(i > 4 && i <= MAX_STEPS, "recreate: %d state-changing calls", i - 1);
	fprintf(stderr, "recreate: killed after each of %d state-changing calls\n", i - 1);
	recover_and_check(i);
	free(before);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------- */

static char *journal_path(void)
{
	return occ_xasprintf("%s/data/opencode-cloud/journal/%s.log", tmp, project);
}

/* The journal's "what" column from line skip on, one per line. */
static char *journal_since(int skip)
{
	char *path = journal_path();
	char *cmd = occ_xasprintf("tail -n +%d %s | cut -f3", skip + 1, path);
	char *out = sh_ok(cmd);

	free(cmd);
	free(path);
	return out;
}

static int journal_count(void)
{
	char *path = journal_path();
	char *cmd = occ_xasprintf("cat %s 2>/dev/null | wc -l", path);
	char *out = sh_ok(cmd);
	long n = 0;

	ck_assert_int_eq(occ_parse_long(out, 0, 1L << 30, &n), 0);
	free(out);
	free(cmd);
	free(path);
	return (int)n;
}

START_TEST(test_two_applies_never_interleave)
{
	const char *a_args[] = { "apply", "--yes", "-vv", "-f", NULL, NULL };
	const char *b_args[] = { "apply", "--yes", "-vv", "-f", NULL, NULL };
	const char *c_args[] = { "apply", "--yes", "--lock-timeout", "1s", "-f", NULL, NULL };
	char *a_path = occ_xasprintf("%s/a.yaml", tmp), *b_path = occ_xasprintf("%s/b.yaml", tmp);
	char *holder, *seq, *want;
	struct occ_bg a, b;
	struct run_result r;
	int skip;

	/* converged first; then A adds a volume (create volume, recreate), B
	 * recreates without it, stopped */
	write_state("UTC", false, true);
	remove_everything(false);
	recover_and_check(0);
	skip = journal_count();
	write_state("UTC", true, true);
	ck_assert_int_eq(rename(state_path, a_path), 0);
	write_state("UTC", false, false);
	ck_assert_int_eq(rename(state_path, b_path), 0);
	write_state("UTC", false, false);
	a_args[4] = a_path;
	b_args[4] = b_path;
	c_args[5] = b_path;

	bg_start(&a, a_args, "1");
	bg_wait_stopped(&a);
	/* A is frozen after its first change, holding the lock */
	run_occ(&r, c_args);
	ck_assert_int_eq(r.status, 1);
	holder = occ_xasprintf("is locked by occ apply (pid %ld on ", (long)a.pid);
	ck_assert_msg(strstr(r.err.buf, holder), "lock-timeout message:\n%s", r.err.buf);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "--lock-timeout"));
	run_result_release(&r);

	bg_start(&b, b_args, NULL);
	ck_assert_msg(bg_wait_for(&b, "waiting for the project lock (held by occ apply"),
		      "second apply did not wait:\n%s", b.err.buf);
	ck_assert_msg(!strstr(b.err.buf, "docker: POST") && !strstr(b.err.buf, "docker: DELETE") &&
		      !strstr(b.err.buf, "docker: PUT"), "B changed something while waiting:\n%s",
		      b.err.buf);
	kill(a.pid, SIGCONT);
	ck_assert_int_eq(bg_finish(&a), 0);
	ck_assert_msg(bg_finish(&b) == 0, "B:\n%s", b.err.buf);

	/* A's two actions, then B's one: never mixed */
	seq = journal_since(skip);
	want = occ_xasprintf("create volume %s-extra\nrecreate container %s\nrecreate container %s",
			     project, project, project);
	ck_assert_msg(strcmp(seq, want) == 0, "journal:\n%s\nexpected:\n%s", seq, want);
	free(want);
	free(seq);
	free(holder);
	occ_strbuf_release(&a.err);
	occ_strbuf_release(&b.err);
	free(a_path);
	free(b_path);
}
END_TEST

/* occ watch and a manual apply take turns on the same lock. */
START_TEST(test_watch_and_apply_take_turns)
{
	const char *w_args[] = { "watch", "-f", NULL, NULL };
	const char *c_args[] = { "apply", "--yes", "--lock-timeout", "1s", "-f", NULL, NULL };
	const char *m_args[] = { "apply", "--yes", "-vv", "-f", NULL, NULL };
	char *w_path = occ_xasprintf("%s/w.yaml", tmp), *holder;
	struct occ_bg w, m;
	struct run_result r;
	int st;

	/* the container is stopped (previous test); the watcher starts it */
	write_state("UTC", false, true);
	ck_assert_int_eq(rename(state_path, w_path), 0);
	write_state("UTC", false, true);
	w_args[2] = w_path;
	c_args[5] = state_path;
	m_args[4] = state_path;
	bg_start(&w, w_args, "1");
	bg_wait_stopped(&w);

	run_occ(&r, c_args);
	ck_assert_int_eq(r.status, 1);
	holder = occ_xasprintf("(pid %ld on ", (long)w.pid);
	ck_assert_msg(strstr(r.err.buf, "is locked by occ watch") && strstr(r.err.buf, holder),
		      "lock-timeout message:\n%s", r.err.buf);
	run_result_release(&r);

	bg_start(&m, m_args, NULL);
	ck_assert_msg(bg_wait_for(&m, "waiting for the project lock (held by occ watch"),
		      "apply did not wait for the watcher:\n%s", m.err.buf);
	ck_assert_msg(!strstr(m.err.buf, "docker: POST"), "apply changed something:\n%s",
		      m.err.buf);
	kill(w.pid, SIGCONT);
	ck_assert_msg(bg_finish(&m) == 0, "apply after watch:\n%s", m.err.buf);
	kill(w.pid, SIGTERM);
	close(w.err_fd);
	ck_assert_int_eq(waitpid(w.pid, &st, 0), w.pid);
	occ_strbuf_release(&w.err);
	occ_strbuf_release(&m.err);
	free(holder);
	free(w_path);
}
END_TEST

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("fault");
	project = occ_xasprintf("occ-fault-%ld", (long)getpid());
	image_ref = occ_xasprintf("occ-fault-img-%ld:1", (long)getpid());
	port = 23300 + (int)(getpid() % 100);
	ctx_dir = occ_xasprintf("%s/ctx", tmp);
	state_path = occ_xasprintf("%s/state.yaml", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    OCC_SOURCE_DIR, ctx_dir, ctx_dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	hash_alice = sh_ok("openssl passwd -6 -salt faultAsalt alice");
	hash_bob = sh_ok("openssl passwd -6 -salt faultBsalt bob");
	set_test_env(tmp, true);
	unsetenv("OCC_FAULT_KILL_AFTER");
	unsetenv("OCC_FAULT_STOP_AFTER");
}

static void teardown(void)
{
	remove_everything(true);
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("docker");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kill_first_apply_at_every_step);
	tcase_add_test(tc, test_kill_recreate_at_every_step);
	tcase_add_test(tc, test_two_applies_never_interleave);
	tcase_add_test(tc, test_watch_and_apply_take_turns);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
