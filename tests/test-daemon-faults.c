/*
 * test-daemon-faults.c - the Docker daemon going away under occ, on a
 * daemon of the test's own (tests/lab/private-dockerd.sh; needs root), so
 * the machine's shared daemon is never stopped.
 *
 * OCC_FAULT_STOP_AFTER=N freezes occ after its N-th state-changing call; the
 * test stops the daemon, lets occ go on, and expects exit 1 with an error
 * that names the daemon's socket and a hint; once the daemon is back, the
 * next apply converges with exactly one project container. This is done for
 * a first apply and for a recreate. `occ watch` must log the lost daemon and
 * converge again on its own once the daemon is back.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *tag, *sock, *tmp, *ctx_dir, *state_path, *project, *hash;
static int port;

static void daemon_ctl(const char *verb)
{
	char *cmd = occ_xasprintf("%s/tests/lab/private-dockerd.sh %s %s >/dev/null", OCC_SOURCE_DIR,
				  verb, tag);

	ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
	free(cmd);
}

static void write_state(const char *tz)
{
	char *text = occ_xasprintf(
		"version: 1\nname: %s\n"
		"image: {ref: 'occ-fault-dmn:1', build: {context: %s}}\n"
		"container: {port: %d, env: {TZ: %s}, health: {path: /healthz, timeout: 20s}}\n"
		"volumes: [{name: data, target: /data}]\n"
		"users: [{name: alice, password_hash: \"%s\"}]\n",
		project, ctx_dir, port, tz, hash);

	write_text(state_path, text);
	free(text);
}

static void occ_ok(const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "occ %s exited %d\n%s%s", args[0], r.status, r.out.buf,
		      r.err.buf);
	run_result_release(&r);
}

/* Converged, one container (running), none left under a helper name. */
static void assert_converged(void)
{
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	char *cmd = occ_xasprintf("docker -H unix://%s ps -a --format '{{.Names}} {{.State}}'", sock);
	char *got = sh_ok(cmd), *want = occ_xasprintf("%s running", project);

	occ_ok(diff);
	ck_assert_msg(strcmp(got, want) == 0, "containers:\n%s", got);
	free(want);
	free(got);
	free(cmd);
}

/* Apply with the daemon stopped after occ's n-th change: a clear error;
 * with the daemon back, the next apply converges. */
static void stop_daemon_after(const char *n)
{
	const char *apply[] = { "apply", "--yes", "-f", state_path, NULL };
	struct occ_bg b;
	char *where = occ_xasprintf("Docker daemon at unix://%s", sock);

	bg_start(&b, apply, n);
	bg_wait_stopped(&b);
	daemon_ctl("stop");
	kill(b.pid, SIGCONT);
	ck_assert_msg(bg_finish(&b) == 1, "apply with the daemon gone:\n%s", b.err.buf);
	ck_assert_msg(strstr(b.err.buf, where), "no '%s' in\n%s", where, b.err.buf);
	ck_assert_msg(strstr(b.err.buf, "hint: is dockerd running?"), "no hint in\n%s", b.err.buf);
	ck_assert_msg(strstr(b.err.buf, "the next apply continues from here"), "%s", b.err.buf);
	occ_strbuf_release(&b.err);
	daemon_ctl("start");
	occ_ok(apply);
	assert_converged();
	free(where);
}

START_TEST(test_daemon_stops_mid_first_apply)
{
	write_state("UTC");
	/* build, volume, create: stopped before the accounts and the start */
	stop_daemon_after("3");
}
END_TEST

START_TEST(test_daemon_stops_mid_recreate)
{
	write_state("Europe/Paris");
	/* create "-occ-next", its accounts, stop the old one: then the daemon goes */
	stop_daemon_after("3");
}
END_TEST

START_TEST(test_watch_survives_daemon_stop)
{
	const char *watch[] = { "watch", "-v", "-f", state_path, NULL };
	struct occ_bg w;
	size_t mark;
	int st;

	bg_start(&w, watch, NULL);
	ck_assert_msg(bg_wait_for(&w, "following Docker events"), "watch:\n%s", w.err.buf);
	mark = w.err.len;
	daemon_ctl("stop");
	ck_assert_msg(bg_wait_for_after(&w, mark, "Docker events: "), "no lost-daemon line:\n%s",
		      w.err.buf);
	ck_assert_msg(strstr(w.err.buf + mark, sock), "the lost daemon is not named:\n%s",
		      w.err.buf + mark);
	/* a change while the daemon is away is applied once it is back */
	write_state("Asia/Tokyo");
	daemon_ctl("start");
	ck_assert_msg(bg_wait_for_after(&w, mark, "following Docker events again"), "watch:\n%s",
		      w.err.buf);
	ck_assert_msg(bg_wait_for_after(&w, mark, "converged: "), "watch:\n%s", w.err.buf);
	kill(w.pid, SIGTERM);
	close(w.err_fd);
	ck_assert_int_eq(waitpid(w.pid, &st, 0), w.pid);
	occ_strbuf_release(&w.err);
	assert_converged();
}
END_TEST

static void setup(void)
{
	char *cmd;

	ck_assert_msg(geteuid() == 0, "test-daemon-faults needs root (it runs a dockerd of its own)");
	tag = occ_xasprintf("df%ld", (long)getpid() % 100000);
	sock = occ_xasprintf("/run/occ-fault-%s/docker.sock", tag);
	tmp = make_tmpdir("daemonfault");
	project = occ_xasprintf("occ-fault-dmn-%ld", (long)getpid());
	port = 23350 + (int)(getpid() % 50);
	ctx_dir = occ_xasprintf("%s/ctx", tmp);
	state_path = occ_xasprintf("%s/state.yaml", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    OCC_SOURCE_DIR, ctx_dir, ctx_dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	hash = sh_ok("openssl passwd -6 -salt daemonAsalt alice");
	daemon_ctl("start");
	set_test_env(tmp, true);
	cmd = occ_xasprintf("unix://%s", sock);
	setenv("DOCKER_HOST", cmd, 1);
	free(cmd);
}

static void teardown(void)
{
	char *cmd = occ_xasprintf("%s/tests/lab/private-dockerd.sh purge %s", OCC_SOURCE_DIR, tag);

	if (system(cmd) != 0)
		fprintf(stderr, "'%s' failed\n", cmd);
	free(cmd);
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("daemon-faults");
	TCase *tc = tcase_create("private-dockerd");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_daemon_stops_mid_first_apply);
	tcase_add_test(tc, test_daemon_stops_mid_recreate);
	tcase_add_test(tc, test_watch_survives_daemon_stop);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
