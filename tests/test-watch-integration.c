/*
 * test-watch-integration.c - `occ watch` against a real dockerd, through the
 * binary: one watcher runs in the background for the whole suite (its
 * stdout and stderr in files), and each test changes the world and waits,
 * with a bounded deadline, for the watcher to converge it again: an atomic
 * save of the state file, broken edits (the container stays), `docker
 * kill`, `docker rm -f`, the project lock held by someone else, SIGUSR1, a
 * failing host beside the local one, a daemon restart (only when the lab
 * started dockerd itself and says how to restart it, in
 * $OCC_TEST_DOCKERD_RESTART), a second watcher, SIGTERM, and --once.
 *
 * Deadlines are bounds, not measurements: timings live in bench/watch.sh.
 * The tests build on each other and share the watcher, so they run in one
 * process (CK_NOFORK), in order. Everything is created under a project name
 * unique to the run (image built through image.build, as in
 * test-integration.c) and removed by label at the end. $DOCKER_HOST is
 * honoured, by occ and by the docker CLI alike.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reconciler/lock.h"
#include "tests/testutil.h"

#define POLL_MS 100

static char *tmp, *ctx_dir, *state_path, *project, *image, *out_log, *err_log;
static char *status_path;
static int port;
static pid_t watcher = -1;

static char *inspect(const char *fmt)
{
	const char *argv[] = { "docker", "inspect", "-f", fmt, project, NULL };

	return capture_out(argv);
}

static void docker_ok(const char *const *argv)
{
	char *s = capture_out(argv);

	ck_assert_msg(s != NULL, "%s %s %s failed", argv[0], argv[1], argv[2]);
	free(s);
}

static bool file_has(const char *path, const char *needle)
{
	char *text = read_text_or_empty(path);
	bool ok = strstr(text, needle) != NULL;

	free(text);
	return ok;
}

static bool log_has(const char *needle)
{
	char *log = read_text_or_empty(err_log);
	bool ok = strstr(log, needle) != NULL;

	free(log);
	return ok;
}

/* The log from offset on (what the watcher said since a mark). */
static size_t log_mark(void)
{
	char *log = read_text_or_empty(err_log);
	size_t n = strlen(log);

	free(log);
	return n;
}

static bool log_has_since(size_t mark, const char *needle)
{
	char *log = read_text_or_empty(err_log);
	bool ok = strlen(log) >= mark && strstr(log + mark, needle) != NULL;

	free(log);
	return ok;
}


static bool env_has(const char *kv)
{
	char *env = inspect("{{range .Config.Env}}{{println .}}{{end}}");
	char *want = occ_xasprintf("%s\n", kv);
	bool ok = env && strstr(env, want) != NULL;

	free(want);
	free(env);
	return ok;
}

static bool running(void)
{
	char *st = inspect("{{.State.Running}}");
	bool ok = st && strcmp(st, "true") == 0;

	free(st);
	return ok;
}

static bool running_with(const char *fmt, const char *value, bool equal)
{
	char *v = inspect(fmt);
	bool ok = v && (strcmp(v, value) == 0) == equal && running();

	free(v);
	return ok;
}

/* Replace the state file the way editors do: a temp file, then rename. */
static void save_atomic(const char *text)
{
	char *tmp_path = occ_xasprintf("%s.tmp-%ld", state_path, (long)getpid());

	write_text(tmp_path, text);
	ck_assert_int_eq(rename(tmp_path, state_path), 0);
	free(tmp_path);
}

static void save_state(const char *env, const char *extra)
{
	char *text = occ_xasprintf(
		"# watch integration test state\n"
		"version: 1\n"
		"name: %s\n"
		"image:\n"
		"  ref: %s\n"
		"  build:\n"
		"    context: %s\n"
		"container:\n"
		"  port: %d\n"
		"  health: {path: /healthz, timeout: 20s}\n"
		"  env: {%s}\n"
		"volumes: []\n"
		"%s",
		project, image, ctx_dir, port, env, extra);

	save_atomic(text);
	free(text);
}

static pid_t spawn_occ(const char *const *args, const char *out, const char *err)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *v[16];
		int i = 0, o = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int n = open("/dev/null", O_RDONLY | O_CLOEXEC);

		v[i++] = occ_xstrdup(OCC_BIN);
		for (int k = 0; args[k] && i < 15; k++)
			v[i++] = occ_xstrdup(args[k]);
		v[i] = NULL;
		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(OCC_BIN, v);
		_exit(127);
	}
	return pid;
}

/* Wait for pid to exit within deadline_ms; its exit status, or -1. */
static int reap(pid_t pid, long deadline_ms)
{
	uint64_t until = occ_now_ms() + (uint64_t)deadline_ms;
	int st;

	while (occ_now_ms() < until) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		sleep_ms(POLL_MS);
	}
	return -1;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

START_TEST(test_watch_converges_from_nothing)
{
	const char *args[] = { "watch", "-f", state_path, NULL };
	char *status;

	save_state("TZ: UTC", "");
	watcher = spawn_occ(args, out_log, err_log);
	/* Includes building the test image. */
	WAIT_FOR(running() && env_has("TZ=UTC"), 120000, "the watcher did not converge");
	WAIT_FOR(file_exists(status_path), 10000, "no status file at %s", status_path);
	status = read_text_or_empty(status_path);
	ck_assert_msg(strstr(status, "\"format_version\":1"), "%s", status);
	ck_assert_msg(strstr(status, "\"name\":\"local\""), "%s", status);
	free(status);
	status = occ_xasprintf("\"pid\":%ld,", (long)watcher);
	WAIT_FOR(file_has(status_path, status), 5000, "status lacks %s", status);
	free(status);
}
END_TEST

START_TEST(test_atomic_save_converges)
{
	char *before = inspect("{{.Id}}");

	ck_assert_ptr_nonnull(before);
	save_state("TZ: UTC, FOO: bar", "");
	WAIT_FOR(env_has("FOO=bar") && running(), 30000, "FOO=bar never reached the container");
	ck_assert(log_has("state file"));
	free(before);
}
END_TEST

/* "<state_path>:L:C: " followed by what, somewhere in the log since mark. */
static bool log_has_position(size_t mark, const char *what)
{
	char *log = read_text_or_empty(err_log);
	char *p = strlen(log) >= mark ? log + mark : log;
	bool ok = false;

	while (!ok && (p = strstr(p, state_path))) {
		int line = 0, col = 0, n = 0;

		p += strlen(state_path);
		if (sscanf(p, ":%d:%d: %n", &line, &col, &n) == 2 && n > 0 && line > 0 && col > 0)
			ok = strncmp(p + n, what, strlen(what)) == 0 || strstr(p + n, what) != NULL;
	}
	free(log);
	return ok;
}

START_TEST(test_broken_edits_keep_the_last_good_state)
{
	char *id = inspect("{{.Id}}"), *id2;
	size_t mark = log_mark();
	char *bad_value;

	ck_assert_ptr_nonnull(id);
	save_atomic("version: 1\nname: broken\ncontainer:\n  port: [oops\n");
	WAIT_FOR(log_has_position(mark, "invalid YAML"), 10000, "no file:line:col for bad YAML");
	ck_assert(log_has_since(mark, "keeping the last good state"));
	mark = log_mark();
	bad_value = occ_xasprintf("version: 1\nname: %s\ncontainer:\n  port: 99999\n", project);
	save_atomic(bad_value);
	WAIT_FOR(log_has_position(mark, "container.port"), 10000, "no file:line:col for a bad value");
	/* Nothing was torn down because of the typos. */
	id2 = inspect("{{.Id}}");
	ck_assert_ptr_nonnull(id2);
	ck_assert_str_eq(id, id2);
	ck_assert(running());
	save_state("TZ: UTC, FOO: fixed", "");
	WAIT_FOR(env_has("FOO=fixed") && running(), 30000, "the fixed state was not applied");
	free(bad_value);
	free(id2);
	free(id);
}
END_TEST

START_TEST(test_kill_is_repaired)
{
	const char *kill_cmd[] = { "docker", "kill", project, NULL };
	char *started = inspect("{{.State.StartedAt}}");
	size_t mark = log_mark();

	ck_assert_ptr_nonnull(started);
	docker_ok(kill_cmd);
	WAIT_FOR(running_with("{{.State.StartedAt}}", started, false), 30000,
		 "the killed container was not restarted");
	/* Docker may restart the container (restart policy) before the watcher
	 * has logged the event it reacted to: wait for the line too. Docker sends
	 * "kill" and then "die" with the signal's exit code; the watcher logs an
	 * event at info level only outside a reconcile, so which of the two shows
	 * depends on when the repair starts: either names the kill. */
	WAIT_FOR(log_has_since(mark, ": kill") || log_has_since(mark, ": die (exit code 137)"),
		 30000,
		 "the watcher did not log the kill");
	free(started);
}
END_TEST

START_TEST(test_rm_is_repaired)
{
	const char *rm[] = { "docker", "rm", "-f", project, NULL };
	char *id = inspect("{{.Id}}");

	ck_assert_ptr_nonnull(id);
	docker_ok(rm);
	WAIT_FOR(running_with("{{.Id}}", id, false), 30000, "the removed container was not recreated");
	ck_assert(env_has("FOO=fixed"));
	free(id);
}
END_TEST

/* While another occ holds the project lock the watcher waits, then repairs. */
START_TEST(test_project_lock_is_honoured)
{
	const char *stop[] = { "docker", "stop", "-t", "1", project, NULL };
	struct occ_lock *lock = NULL;
	struct occ_error err;
	size_t mark = log_mark();

	occ_error_clear(&err);
	ck_assert_int_eq(occ_lock_acquire(&lock, NULL, project, "test", 5000, NULL, NULL, &err), 0);
	docker_ok(stop);
	WAIT_FOR(log_has_since(mark, "waiting for the project lock"), 15000,
		 "the watcher did not wait for the lock");
	ck_assert(!running());
	occ_lock_release(lock);
	WAIT_FOR(running(), 30000, "not repaired after the lock was released");
}
END_TEST

START_TEST(test_sigusr1_reports_hosts)
{
	size_t mark = log_mark();

	ck_assert_int_eq(kill(watcher, SIGUSR1), 0);
	WAIT_FOR(log_has_since(mark, "local: state "), 10000, "no state report");
	ck_assert(log_has_since(mark, "stalled no"));
	ck_assert(log_has_since(mark, "events connected"));
}
END_TEST

/* A host that cannot be reached (nothing listens on 127.0.0.1:1, so its SSH
 * connection is refused at once) fails on its own schedule; the local host
 * converges as if it were alone. */
START_TEST(test_failing_host_does_not_delay_local)
{
	size_t mark = log_mark();

	save_state("TZ: UTC, FOO: two-hosts",
		   "hosts:\n  - name: local\n  - name: far\n    address: 127.0.0.1\n    port: 1\n");
	WAIT_FOR(env_has("FOO=two-hosts") && running(), 30000, "local did not converge");
	WAIT_FOR(log_has_since(mark, "far: error: cannot connect to host 'far'"), 10000,
		 "far did not fail");
	WAIT_FOR(file_has(status_path, "\"name\":\"far\",\"state\":\"backoff\"") ||
		 file_has(status_path, "\"name\":\"far\",\"state\":\"stalled\""), 10000,
		 "far is not failing in the status file");
	save_state("TZ: UTC, FOO: fixed", "");
	WAIT_FOR(env_has("FOO=fixed") && running(), 30000, "back to one host: not converged");
	WAIT_FOR(!file_has(status_path, "\"far\""), 10000, "far is still in the status file");
}
END_TEST

START_TEST(test_daemon_restart_is_survived)
{
	const char *restart = getenv("OCC_TEST_DOCKERD_RESTART");
	const char *kill_cmd[] = { "docker", "kill", project, NULL };
	size_t mark;
	char *started;

	if (!restart || !*restart) {
		fprintf(stderr, "test_daemon_restart_is_survived: skipped: the lab did not start "
			"dockerd itself, so it may not restart it (set OCC_TEST_DOCKERD_RESTART "
			"to a command that restarts the daemon)\n");
		return;
	}
	mark = log_mark();
	ck_assert_msg(system(restart) == 0, "'%s' failed", restart);
	WAIT_FOR(log_has_since(mark, "following Docker events again"), 60000,
		 "the watcher did not reconnect to the events stream");
	WAIT_FOR(running() && env_has("FOO=fixed"), 60000, "not converged after the restart");
	started = inspect("{{.State.StartedAt}}");
	docker_ok(kill_cmd);
	WAIT_FOR(running_with("{{.State.StartedAt}}", started, false), 30000,
		 "kill after the restart was not repaired");
	free(started);
}
END_TEST

START_TEST(test_second_watcher_is_refused)
{
	const char *args[] = { "watch", "-f", state_path, NULL };
	struct run_result r;

	run_occ(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "already watching"), "%s", r.err.buf);
	run_result_release(&r);
}
END_TEST

START_TEST(test_sigterm_exits_zero)
{
	int status;

	ck_assert_int_eq(kill(watcher, SIGTERM), 0);
	status = reap(watcher, 30000);
	if (status != 0)
		print_log_tail(err_log);
	ck_assert_int_eq(status, 0);
	watcher = -1;
	ck_assert(log_has("SIGTERM: stopping"));
	ck_assert(!file_exists(status_path));
	ck_assert(running());  /* the service outlives its watcher */
}
END_TEST

START_TEST(test_once)
{
	const char *args[] = { "watch", "--once", "-f", state_path, NULL };
	const char *stop[] = { "docker", "stop", "-t", "1", project, NULL };
	struct run_result r;

	docker_ok(stop);
	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "watch --once: %d\n%s", r.status, r.err.buf);
	ck_assert(running());
	run_result_release(&r);
}
END_TEST

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p ? p : 20000 + (int)(getpid() % 20000);
}

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("wtest");
	project = occ_xasprintf("occ-wt-%ld", (long)getpid());
	image = occ_xasprintf("occ-wtest-%ld:1", (long)getpid());
	port = free_port();
	ctx_dir = occ_xasprintf("%s/ctx", tmp);
	state_path = occ_xasprintf("%s/state.yaml", tmp);
	out_log = occ_xasprintf("%s/watch.out", tmp);
	err_log = occ_xasprintf("%s/watch.err", tmp);
	wait_log = err_log;
	status_path = occ_xasprintf("%s/data/opencode-cloud/watch/%s.json", tmp, project);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    OCC_SOURCE_DIR, ctx_dir, ctx_dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	cmd = occ_xasprintf("%s/config", tmp);
	setenv("XDG_CONFIG_HOME", cmd, 1);
	free(cmd);
	cmd = occ_xasprintf("%s/data", tmp);
	setenv("XDG_DATA_HOME", cmd, 1);
	free(cmd);
	setenv("NO_COLOR", "1", 1);
}

static void teardown(void)
{
	char *cmd;

	if (watcher > 0) {
		kill(watcher, SIGTERM);
		if (reap(watcher, 30000) < 0) {
			kill(watcher, SIGKILL);
			waitpid(watcher, NULL, 0);
		}
	}
	cmd = occ_xasprintf(
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"docker rmi %s >/dev/null 2>&1; true", project, image);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
	free(cmd);
	remove_tree(tmp);
	free(tmp);
	free(project);
	free(image);
	free(ctx_dir);
	free(state_path);
	free(out_log);
	free(err_log);
	free(status_path);
}

int main(void)
{
	Suite *s = suite_create("watch-integration");
	TCase *tc = tcase_create("watch");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_watch_converges_from_nothing);
	tcase_add_test(tc, test_atomic_save_converges);
	tcase_add_test(tc, test_broken_edits_keep_the_last_good_state);
	tcase_add_test(tc, test_kill_is_repaired);
	tcase_add_test(tc, test_rm_is_repaired);
	tcase_add_test(tc, test_project_lock_is_honoured);
	tcase_add_test(tc, test_sigusr1_reports_hosts);
	tcase_add_test(tc, test_failing_host_does_not_delay_local);
	tcase_add_test(tc, test_daemon_restart_is_survived);
	tcase_add_test(tc, test_second_watcher_is_refused);
	tcase_add_test(tc, test_sigterm_exits_zero);
	tcase_add_test(tc, test_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* One process: the tests share the watcher (only its parent can reap it). */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
