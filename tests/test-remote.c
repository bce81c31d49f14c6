/*
 * test-remote.c - several hosts from one state file, through the occ
 * binary, against real parts: this machine's dockerd and a "remote" host of
 * tests/lab/remote.sh (a dockerd in its own network namespace, reachable
 * only through a real sshd there, key-only). The lab writes
 * /run/occ-lab/remote.env ($OCC_LAB_ENV overrides; the lab's first host is
 * used, $OCC_LAB_HOST picks another); without it the suite is skipped (exit
 * 77) with a message saying how to start the lab.
 *
 * HOME is a temporary directory, so ~/.ssh/known_hosts and ~/.ssh/config
 * are the test's own. The tests build on each other (one process,
 * CK_NOFORK, in order): two hosts converge; a second apply changes nothing
 * and makes exactly one SSH handshake; host keys (unknown, accepted,
 * changed); the remote sshd stopped (the local host still converges, the
 * remote one is reported, exit 1) and started again (a watcher resyncs it);
 * host add/test, status, logs and user add on the remote host; occ open.
 * Deadlines are bounds, not measurements (timings live in bench/).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/testutil.h"


static char *tmp, *home, *ctx_dir, *state_path, *project, *image, *known_hosts;
static char *lab_dir, *lab_addr, *lab_port, *lab_socket, *lab_key, *lab_known, *lab_script, *lab_user;
static int port, lab_index = 1;
static pid_t watcher = -1;
static char *out_log, *err_log;

/* docker inspect -f fmt of the project's container, here (remote false) or
 * on the lab host (through its socket, as root: the test's own view). */
static char *inspect(bool remote, const char *fmt)
{
	char *host = occ_xasprintf("unix://%s", remote ? lab_socket : "/var/run/docker.sock");
	const char *argv[] = { "docker", "-H", host, "inspect", "-f", fmt, project, NULL };
	char *s = capture_out(argv);

	free(host);
	return s;
}

static bool env_has(bool remote, const char *kv)
{
	char *env = inspect(remote, "{{range .Config.Env}}{{println .}}{{end}}");
	char *want = occ_xasprintf("%s\n", kv);
	bool ok = env && strstr(env, want) != NULL;

	free(want);
	free(env);
	return ok;
}

static bool running(bool remote)
{
	char *st = inspect(remote, "{{.State.Running}}");
	bool ok = st && strcmp(st, "true") == 0;

	free(st);
	return ok;
}

static void lab(const char *what)
{
	char *cmd = occ_xasprintf("OCC_LAB_DIR=%s bash %s %s %d >/dev/null", lab_dir, lab_script,
				  what, lab_index);

	ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
	free(cmd);
}

/* The state: this machine and the lab host, env given, extra lines after. */
static void save_state(const char *env, const char *extra)
{
	char *text = occ_xasprintf(
		"# two hosts\n"
		"version: 1\n"
		"name: %s\n"
		"image:\n"
		"  ref: %s\n"
		"  build: {context: %s}\n"
		"container:\n"
		"  port: %d\n"
		"  health: {path: /healthz, timeout: 30s}\n"
		"  env: {%s}\n"
		"volumes: []\n"
		"hosts:\n"
		"  - name: local\n"
		"  - name: lab\n"
		"    address: %s\n"
		"    user: %s\n"
		"    port: %s\n"
		"    identity: %s\n"
		"    socket: %s\n"
		"%s",
		project, image, ctx_dir, port, env, lab_addr, lab_user, lab_port, lab_key,
		lab_socket, extra);
	char *tmp_path = occ_xasprintf("%s.tmp", state_path);

	write_text(tmp_path, text);
	ck_assert_int_eq(rename(tmp_path, state_path), 0);
	free(tmp_path);
	free(text);
}

/* occ ARGS... --file STATE (--file: `logs` takes -f as --follow). */
static void occ_argv(struct run_result *r, const char *const *given)
{
	const char *args[16];
	int n = 0;

	for (int i = 0; given[i] && n < 13; i++)
		args[n++] = given[i];
	args[n++] = "--file";
	args[n++] = state_path;
	args[n] = NULL;
	run_occ(r, args);
}

#define OCC(r, ...) occ_argv((r), (const char *const[]){ __VA_ARGS__, NULL })

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void trust_lab_key(void)
{
	char *line = occ_xasprintf("%s\n", lab_known);

	write_text(known_hosts, line);
	free(line);
}

START_TEST(test_two_hosts_converge)
{
	struct run_result r;

	trust_lab_key();
	save_state("TZ: UTC", "");
	OCC(&r, "apply");
	ck_assert_msg(r.status == 0, "apply failed (%d):\n%s", r.status, r.err.buf);
	ck_assert(running(false));
	ck_assert(running(true));
	ck_assert(env_has(true, "TZ=UTC"));
	/* Per-host output and the summary. */
	ck_assert_msg(strstr(r.err.buf, "lab: converged"), "%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "local: converged"), "%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "Hosts"), "%s", r.err.buf);
	run_result_release(&r);
}
END_TEST

/* A no-op: no changes, no mutating call, one handshake for the lab host. */
START_TEST(test_noop_is_one_handshake)
{
	struct run_result r;

	OCC(&r, "apply", "-vv");
	ck_assert_msg(r.status == 0, "apply failed (%d):\n%s", r.status, r.err.buf);
	ck_assert_msg(strstr(r.out.buf, "No changes."), "%s", r.out.buf);
	ck_assert_msg(count(r.err.buf, "handshake") == 1, "expected one SSH handshake:\n%s",
		      r.err.buf);
	ck_assert_msg(count(r.err.buf, "GET /v") >= 4, "expected API calls in the trace:\n%s",
		      r.err.buf);
	ck_assert_msg(!strstr(r.err.buf, "POST /") && !strstr(r.err.buf, "DELETE /"),
		      "a no-op made a mutating call:\n%s", r.err.buf);
	run_result_release(&r);

	OCC(&r, "diff", "--exit-code");
	ck_assert_msg(r.status == 0, "diff: %d\n%s%s", r.status, r.out.buf, r.err.buf);
	run_result_release(&r);
}
END_TEST

START_TEST(test_host_test_reports)
{
	struct run_result r;

	OCC(&r, "host", "test", "lab");
	ck_assert_msg(r.status == 0, "host test failed (%d):\n%s", r.status, r.err.buf);
	ck_assert_msg(strstr(r.out.buf, "ssh-ed25519"), "%s", r.out.buf);
	ck_assert_msg(strstr(r.out.buf, "SHA256:"), "%s", r.out.buf);
	ck_assert_msg(strstr(r.out.buf, "docker") && strstr(r.out.buf, "API 1."), "%s", r.out.buf);
	ck_assert_msg(strstr(r.out.buf, "round trip"), "%s", r.out.buf);
	run_result_release(&r);

	OCC(&r, "host", "test", "--json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(count(r.out.buf, "\"ok\":true") == 2, "%s", r.out.buf);
	run_result_release(&r);
}
END_TEST

START_TEST(test_unknown_host_key_refused_then_accepted)
{
	struct run_result r;
	char *kh;

	write_text(known_hosts, "");
	OCC(&r, "diff");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "lab") && strstr(r.err.buf, "SHA256:"),
		      "no fingerprint:\n%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "--accept-new"), "no way out:\n%s", r.err.buf);
	/* The local host is still planned. */
	ck_assert_msg(strstr(r.out.buf, "host local") || strstr(r.out.buf, "No changes"),
		      "%s", r.out.buf);
	run_result_release(&r);
	kh = read_text_or_empty(known_hosts);
	ck_assert_str_eq(kh, "");
	free(kh);

	OCC(&r, "host", "test", "lab", "--accept-new");
	ck_assert_msg(r.status == 0, "accept-new failed (%d):\n%s", r.status, r.err.buf);
	run_result_release(&r);
	kh = read_text_or_empty(known_hosts);
	ck_assert_msg(strstr(kh, lab_addr) && strstr(kh, "ssh-ed25519"), "not recorded: %s", kh);
	free(kh);

	OCC(&r, "diff", "--exit-code");
	ck_assert_msg(r.status == 0, "diff after accepting: %d\n%s", r.status, r.err.buf);
	run_result_release(&r);
}
END_TEST

START_TEST(test_changed_host_key_always_refused)
{
	const char *keygen[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", NULL, NULL };
	struct run_result r;
	char *keyfile = occ_xasprintf("%s/other_key", tmp), *pub, *line, *before, *after;

	keygen[7] = keyfile;
	run_prog(&r, keygen);
	ck_assert_int_eq(r.status, 0);
	run_result_release(&r);
	line = occ_xasprintf("%s.pub", keyfile);
	pub = read_text_or_empty(line);
	free(line);
	/* "ssh-ed25519 AAAA... comment" -> the lab's address with another key. */
	*strchr(strchr(pub, ' ') + 1, ' ') = '\0';
	line = occ_xasprintf("%s %s\n", lab_addr, pub);
	write_text(known_hosts, line);
	before = read_text_or_empty(known_hosts);

	OCC(&r, "host", "test", "lab", "--accept-new");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "CHANGED") || strstr(r.err.buf, "changed"),
		      "not loud about a changed key:\n%s", r.err.buf);
	run_result_release(&r);
	after = read_text_or_empty(known_hosts);
	ck_assert_str_eq(before, after);

	trust_lab_key();
	free(before);
	free(after);
	free(line);
	free(pub);
	free(keyfile);
}
END_TEST

/* sshd gone: the local host still converges, the lab is reported, exit 1. */
START_TEST(test_unreachable_host_does_not_stop_the_others)
{
	struct run_result r;

	lab("sshd-stop");
	save_state("TZ: UTC, FOO: one", "");
	OCC(&r, "apply");
	ck_assert_msg(r.status == 1, "expected exit 1, got %d:\n%s", r.status, r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "'lab'"), "the lab host is not named:\n%s", r.err.buf);
	ck_assert_msg(strstr(r.err.buf, "FAILED"), "no summary:\n%s", r.err.buf);
	ck_assert(env_has(false, "FOO=one"));
	ck_assert(!env_has(true, "FOO=one"));
	run_result_release(&r);
	lab("sshd-start");
}
END_TEST

/* A watcher keeps both converged; the lab host, back, is resynced. */
START_TEST(test_watch_resyncs_a_host_that_comes_back)
{
	const char *args[] = { OCC_BIN, "watch", "-f", state_path, NULL };
	pid_t pid;

	out_log = occ_xasprintf("%s/watch.out", tmp);
	err_log = occ_xasprintf("%s/watch.err", tmp);
	wait_log = err_log;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(out_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int e = open(err_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int n = open("/dev/null", O_RDONLY | O_CLOEXEC);

		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(OCC_BIN, (char *const *)(uintptr_t)args);
		_exit(127);
	}
	watcher = pid;
	WAIT_FOR(env_has(true, "FOO=one") && running(true), 120000,
		 "the watcher did not bring the lab host up to date");
	lab("sshd-stop");
	save_state("TZ: UTC, FOO: two", "");
	WAIT_FOR(env_has(false, "FOO=two") && running(false), 60000, "local did not converge");
	ck_assert(!env_has(true, "FOO=two"));
	lab("sshd-start");
	WAIT_FOR(env_has(true, "FOO=two") && running(true), 90000,
		 "the lab host was not resynced after its sshd came back");
	kill(watcher, SIGTERM);
	ck_assert_int_eq(waitpid(watcher, NULL, 0), watcher);
	watcher = -1;
}
END_TEST

START_TEST(test_one_host_commands)
{
	struct run_result r;
	char *passwd_cmd, *passwd;

	OCC(&r, "status", "--host", "lab");
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	ck_assert_msg(strstr(r.out.buf, "on lab"), "%s", r.out.buf);
	ck_assert_msg(strstr(r.out.buf, "running"), "%s", r.out.buf);
	run_result_release(&r);

	OCC(&r, "logs", "--host", "lab", "-n", "20");
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	ck_assert_msg(strstr(r.out.buf, "occ-test-stdout"), "%s", r.out.buf);
	run_result_release(&r);

	/* logs needs one host: without --host and default_host it says so. */
	OCC(&r, "logs");
	ck_assert_int_eq(r.status, 64);
	ck_assert_msg(strstr(r.err.buf, "--host"), "%s", r.err.buf);
	run_result_release(&r);

	/* A user reaches both hosts' accounts (the password on stdin, never in argv). */
	{
		char *cmd = occ_xasprintf("printf 's3cret-pass\\n' | %s user add bob "
					  "--password-stdin -f %s", OCC_BIN, state_path);
		const char *argv[] = { "sh", "-c", cmd, NULL };

		run_prog(&r, argv);
		free(cmd);
	}
	ck_assert_msg(r.status == 0, "user add: %d\n%s", r.status, r.err.buf);
	run_result_release(&r);
	passwd_cmd = occ_xasprintf("docker -H unix://%s exec %s cat /etc/passwd", lab_socket,
				   project);
	{
		const char *argv[] = { "sh", "-c", passwd_cmd, NULL };

		passwd = capture_out(argv);
	}
	ck_assert_msg(passwd && strstr(passwd, "bob:"), "bob is not on the lab host: %s",
		      passwd ? passwd : "(exec failed)");
	free(passwd);
	free(passwd_cmd);
}
END_TEST

/* host add connects first (and records the key with --accept-new). */
START_TEST(test_host_add_connects_first)
{
	char *file = occ_xasprintf("%s/add.yaml", tmp), *text, *addr;
	const char *bad[] = { "host", "add", "lab2", NULL, "-i", NULL, "--socket", NULL, "-f",
			      NULL, NULL };

	/* Without --accept-new the unknown key stops it before anything is written. */
	struct run_result r;

	write_text(file, "version: 1\nname: occ-remote-add\n");
	write_text(known_hosts, "");
	addr = occ_xasprintf("%s@%s", lab_user, lab_addr);
	bad[3] = addr;
	bad[5] = lab_key;
	bad[7] = lab_socket;
	bad[9] = file;
	run_occ(&r, bad);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "nothing was written"), "%s", r.err.buf);
	run_result_release(&r);
	text = read_text_or_empty(file);
	ck_assert_str_eq(text, "version: 1\nname: occ-remote-add\n");
	free(text);

	{
		const char *good[] = { bad[0], bad[1], bad[2], bad[3], bad[4], bad[5], bad[6],
				       bad[7], bad[8], bad[9], "--accept-new", NULL };

		run_occ(&r, good);
	}
	ck_assert_msg(r.status == 0, "host add: %d\n%s", r.status, r.err.buf);
	run_result_release(&r);
	text = read_text_or_empty(file);
	ck_assert_msg(strstr(text, "  - name: local\n  - name: lab2\n"), "%s", text);
	free(text);
	text = read_text_or_empty(known_hosts);
	ck_assert_msg(strstr(text, lab_addr), "%s", text);
	free(text);
	trust_lab_key();
	free(addr);
	free(file);
}
END_TEST

/* occ open forwards the lab's loopback-only service to this machine. */
START_TEST(test_open_forwards_the_service)
{
	const char *args[] = { OCC_BIN, "open", "--host", "lab", "--print", "--port", NULL,
			       "-f", NULL, NULL };
	char *local_port = occ_xasprintf("%d", port + 1), *url, *body = NULL;
	char *log = occ_xasprintf("%s/open.out", tmp);
	pid_t pid;

	args[6] = local_port;
	args[8] = state_path;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int n = open("/dev/null", O_RDONLY | O_CLOEXEC);

		dup2(n, 0);
		dup2(o, 1);
		dup2(o, 2);
		execv(OCC_BIN, (char *const *)(uintptr_t)args);
		_exit(127);
	}
	url = occ_xasprintf("http://127.0.0.1:%d/healthz", port + 1);
	{
		const char *curl[] = { "curl", "-fsS", "--max-time", "2", "--noproxy", "*", url, NULL };
		uint64_t until = occ_now_ms() + 20000;

		while (!body && occ_now_ms() < until) {
			body = capture_out(curl);
			if (!body)
				sleep_ms(200);
		}
	}
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	{
		char *out = read_text_or_empty(log);

		ck_assert_msg(body != NULL, "nothing answered at %s; occ open said:\n%s", url, out);
		ck_assert_msg(strstr(out, "127.0.0.1"), "%s", out);
		free(out);
	}
	free(body);
	free(url);
	free(log);
	free(local_port);
}
END_TEST

/* Read KEY=value lines (values may be single-quoted) of the lab's env file. */
static char *env_value(const char *text, const char *key)
{
	char *needle = occ_xasprintf("\n%s=", key);
	char *full = occ_xasprintf("\n%s", text);
	const char *p = strstr(full, needle), *e;
	char *v = NULL;

	if (p) {
		p += strlen(needle);
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (*p == '\'' && e > p + 1 && e[-1] == '\'')
			v = occ_xstrndup(p + 1, (size_t)(e - p - 2));
		else
			v = occ_xstrndup(p, (size_t)(e - p));
	}
	free(needle);
	free(full);
	return v;
}

static int free_port(void)
{
	/* A port unlikely to clash with the other suites: pid-derived in a range of our own. */
	return 24000 + (int)(getpid() % 900) * 2;
}

static bool setup_lab(void)
{
	const char *path = getenv("OCC_LAB_ENV") ? getenv("OCC_LAB_ENV") : "/run/occ-lab/remote.env";
	char *text, key[64];

	if (access(path, R_OK) != 0)
		return false;
	text = read_text_or_empty(path);
	lab_dir = occ_path_dirname(path);
	{
		char *first = env_value(text, "OCC_LAB_FIRST");
		long v;

		if (first && occ_parse_long(first, 1, 200, &v) == 0)
			lab_index = (int)v;
		free(first);
	}
	if (getenv("OCC_LAB_HOST")) {
		long v;

		if (occ_parse_long(getenv("OCC_LAB_HOST"), 1, 200, &v) == 0)
			lab_index = (int)v;
	}
#define LABVAR(name) (snprintf(key, sizeof(key), "OCC_LAB_R%d_" name, lab_index), key)
	lab_addr = env_value(text, LABVAR("ADDR"));
	lab_port = env_value(text, LABVAR("PORT"));
	lab_socket = env_value(text, LABVAR("SOCKET"));
	lab_known = env_value(text, LABVAR("KNOWN_HOSTS"));
#undef LABVAR
	lab_key = env_value(text, "OCC_LAB_KEY");
	lab_user = env_value(text, "OCC_LAB_USER");
	lab_script = env_value(text, "OCC_LAB_SCRIPT");
	free(text);
	return lab_addr && lab_port && lab_socket && lab_known && lab_key && lab_user && lab_script;
}

/* Check's asserts work only inside a test run: an unchecked fixture. */
static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("remote");
	home = occ_xasprintf("%s/home", tmp);
	project = occ_xasprintf("occ-rt-%ld", (long)getpid());
	image = occ_xasprintf("occ-rtest-%ld:1", (long)getpid());
	port = free_port();
	ctx_dir = occ_xasprintf("%s/ctx", tmp);
	state_path = occ_xasprintf("%s/state.yaml", tmp);
	known_hosts = occ_xasprintf("%s/.ssh/known_hosts", home);
	cmd = occ_xasprintf("mkdir -p %s/.ssh && chmod 700 %s/.ssh && "
			    "cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    home, home, OCC_SOURCE_DIR, ctx_dir, ctx_dir);
	if (system(cmd) != 0)
		abort();
	free(cmd);
	set_test_env(tmp, true);
	setenv("HOME", home, 1);
	unsetenv("SSH_AUTH_SOCK");
}

static void teardown(void)
{
	char *cmd;

	if (watcher > 0) {
		kill(watcher, SIGKILL);
		waitpid(watcher, NULL, 0);
	}
	cmd = occ_xasprintf(
		"OCC_LAB_DIR=%s bash %s sshd-start %d >/dev/null 2>&1; "
		"for h in unix:///var/run/docker.sock unix://%s; do "
		"ids=$(docker -H $h ps -aq --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$ids\" ] || docker -H $h rm -f $ids >/dev/null; "
		"docker -H $h rmi %s >/dev/null 2>&1; done; true",
		lab_dir, lab_script, lab_index, lab_socket, project, image);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
	free(cmd);
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("remote");
	TCase *tc = tcase_create("remote");
	SRunner *sr;
	int failed;

	if (!setup_lab()) {
		fprintf(stderr, "test-remote: skipped: no remote lab (start one with "
			"'bash tests/lab/remote.sh start', as root)\n");
		return 77;
	}
	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_two_hosts_converge);
	tcase_add_test(tc, test_noop_is_one_handshake);
	tcase_add_test(tc, test_host_test_reports);
	tcase_add_test(tc, test_unknown_host_key_refused_then_accepted);
	tcase_add_test(tc, test_changed_host_key_always_refused);
	tcase_add_test(tc, test_unreachable_host_does_not_stop_the_others);
	tcase_add_test(tc, test_watch_resyncs_a_host_that_comes_back);
	tcase_add_test(tc, test_one_host_commands);
	tcase_add_test(tc, test_host_add_connects_first);
	tcase_add_test(tc, test_open_forwards_the_service);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
