/*
 * test-authd.c - occ-authd (packages/image/occ-authd.c), the image front's
 * password check, through the built binary: it runs on temporary passwd and
 * shadow files and is spoken to in raw HTTP over its unix socket, the way
 * nginx's auth_request does. Failures must come no earlier than the fail
 * delay (a lower bound is behaviour; no upper bound is ever asserted).
 */
#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "model/util.h"
#include "tests/testutil.h"

#define DELAY_MS 300
#define DELAY_ARG "300"

/* Hashes made once (unchecked fixture), inherited by every test. */
static char hash_alice[CRYPT_OUTPUT_SIZE];     /* yescrypt, "alice-pw" */
static char hash_alice_new[CRYPT_OUTPUT_SIZE]; /* yescrypt, "alice-new" */
static char hash_bob[CRYPT_OUTPUT_SIZE];       /* SHA-512, "bob-pw" */
static char hash_carol[CRYPT_OUTPUT_SIZE];     /* yescrypt, "carol-pw" (locked) */
static char hash_sys[CRYPT_OUTPUT_SIZE];       /* yescrypt, "sys-pw" (uid 990) */

static char *tmpdir, *sock_path, *passwd_path, *shadow_path, *log_path;
static pid_t authd_pid = -1;

static void make_hash(char *out, const char *prefix, const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;

	ck_assert_ptr_nonnull(cd);
	ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, 0, NULL, 0, setting, (int)sizeof(setting)));
	h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_lt(strlen(h), CRYPT_OUTPUT_SIZE);
	memcpy(out, h, strlen(h) + 1);
	free(cd);
}

static void make_hashes(void)
{
	make_hash(hash_alice, "$y$", "alice-pw");
	make_hash(hash_alice_new, "$y$", "alice-new");
	make_hash(hash_bob, "$6$", "bob-pw");
	make_hash(hash_carol, "$y$", "carol-pw");
	make_hash(hash_sys, "$y$", "sys-pw");
}

static void no_teardown(void)
{
}

/* Replace path by text through a rename (a new inode, as shadow tools do). */
static void replace_text(const char *path, const char *text)
{
	char *tmp = occ_xasprintf("%s.new", path);

	write_text(tmp, text);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
}

static void write_shadow(const char *alice_hash)
{
	char *text = occ_xasprintf("root:*:19000:0:99999:7:::\n"
				   "sys:%s:19000:0:99999:7:::\n"
				   "alice:%s:19000:0:99999:7:::\n"
				   "bob:%s:19000:0:99999:7:::\n"
				   "carol:!%s:19000:0:99999:7:::\n",
				   hash_sys, alice_hash, hash_bob, hash_carol);

	replace_text(shadow_path, text);
	free(text);
}

static bool can_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* occ-authd on the test's files with the given fail delay, its stderr in
 * log_path; dies with the test process. */
static void authd_start(const char *delay_ms)
{
	authd_pid = fork();
	ck_assert_int_ge(authd_pid, 0);
	if (authd_pid == 0) {
		int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int devnull = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(log, 2);
		execl(OCC_AUTHD_BIN, "occ-authd", "--socket", sock_path, "--passwd", passwd_path,
		      "--shadow", shadow_path, "--fail-delay-ms", delay_ms, "--workers", "2",
		      (char *)NULL);
		_exit(127);
	}
	WAIT_FOR(can_connect(sock_path), 20000, "occ-authd does not listen on %s", sock_path);
}

/* SIGTERM and reap: the exit status (128+N when killed by signal N). */
static int authd_stop(void)
{
	int st;

	ck_assert_int_eq(kill(authd_pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(authd_pid, &st, 0), authd_pid);
	authd_pid = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void setup(void)
{
	tmpdir = make_tmpdir("authd");
	sock_path = occ_xasprintf("%s/authd.sock", tmpdir);
	passwd_path = occ_xasprintf("%s/passwd", tmpdir);
	shadow_path = occ_xasprintf("%s/shadow", tmpdir);
	log_path = occ_xasprintf("%s/authd.log", tmpdir);
	wait_log = log_path;
	write_text(passwd_path, "root:x:0:0:root:/root:/bin/sh\n"
				"sys:x:990:990::/:/usr/sbin/nologin\n"
				"alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
				"bob:x:1001:1001::/home/bob:/bin/bash\n"
				"carol:x:1002:1002::/home/carol:/bin/bash\n");
	write_shadow(hash_alice);
}

static void teardown(void)
{
	if (authd_pid > 0) {
		kill(authd_pid, SIGKILL);
		waitpid(authd_pid, NULL, 0);
		authd_pid = -1;
	}
	remove_tree(tmpdir);
	free(tmpdir);
	free(sock_path);
	free(passwd_path);
	free(shadow_path);
	free(log_path);
	wait_log = NULL;
}

static void setup_running(void)
{
	setup();
	authd_start(DELAY_ARG);
}

static double now_ms(void)
{
	return occ_now_ms_precise();
}

/* Whether occ-authd's log holds text. */
static bool log_has(const char *text)
{
	char *log = read_text_or_empty(log_path);
	bool has = strstr(log, text) != NULL;

	free(log);
	return has;
}

static int connect_authd(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 60, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	ck_assert_msg(connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s",
		      strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send what fits (the server may close early: errors ignored). */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* The answer, read to the server's close (a reset after data ends it too). */
static char *read_answer(int fd)
{
	struct occ_strbuf sb;
	char buf[4096];
	ssize_t n;

	occ_strbuf_init(&sb);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			occ_strbuf_add(&sb, buf, (size_t)n);
	return occ_strbuf_detach(&sb);
}

static char *exchange(const char *req)
{
	int fd = connect_authd();
	char *answer;

	send_all(fd, req, strlen(req));
	answer = read_answer(fd);
	close(fd);
	return answer;
}

static int status_of(const char *answer)
{
	int status = 0;

	if (sscanf(answer, "HTTP/1.1 %d ", &status) != 1)
		return 0;
	return status;
}

static char *basic(const char *user_pass)
{
	size_t n = strlen(user_pass);
	unsigned char *out = calloc(1, 4 * ((n + 2) / 3) + 1);

	ck_assert_ptr_nonnull(out);
	EVP_EncodeBlock(out, (const unsigned char *)user_pass, (int)n);
	return (char *)out;
}

/* A request carrying Authorization: Basic base64(user_pass). */
static char *request_basic(const char *user_pass)
{
	char *b = basic(user_pass);
	char *req = occ_xasprintf("GET /check HTTP/1.0\r\nHost: localhost\r\n"
				  "Authorization: Basic %s\r\nX-Occ-Client: 192.0.2.7\r\n\r\n", b);

	free(b);
	return req;
}

/* One request by credentials: the answer's status, its time, the user. */
static void check_login(const char *user_pass, int want_status, const char *want_user)
{
	char *req = request_basic(user_pass);
	double t0 = now_ms(), took;
	char *answer = exchange(req);

	took = now_ms() - t0;
	ck_assert_msg(status_of(answer) == want_status, "%s: want %d, got:\n%s", user_pass,
		      want_status, answer);
	if (want_user) {
		char *h = occ_xasprintf("\r\nX-Occ-User: %s\r\n", want_user);

		ck_assert_msg(strstr(answer, h), "%s: no X-Occ-User %s in:\n%s", user_pass,
			      want_user, answer);
		free(h);
	}
	if (want_status == 401)
		ck_assert_msg(took >= DELAY_MS, "%s: failure answered after %.1f ms, before the "
			      "%d ms delay", user_pass, took, DELAY_MS);
	free(answer);
	free(req);
}

/* ---- Logins by credentials ---- */

struct login_case {
	const char *what;
	const char *user_pass;     /* base64'd into a Basic header */
	const char *raw_auth;      /* or this Authorization value as it is */
	int status;
	const char *user;          /* X-Occ-User on success */
};

static const struct login_case login_cases[] = {
	{ "yescrypt", "alice:alice-pw", NULL, 204, "alice" },
	{ "sha-512", "bob:bob-pw", NULL, 204, "bob" },
	{ "wrong password", "alice:alice-nope", NULL, 401, NULL },
	{ "unknown user", "mallory:alice-pw", NULL, 401, NULL },
	{ "locked account", "carol:carol-pw", NULL, 401, NULL },
	{ "uid 990, out of range", "sys:sys-pw", NULL, 401, NULL },
	{ "root", "root:", NULL, 401, NULL },
	{ "no colon", "alicealice-pw", NULL, 401, NULL },
	{ "empty password", "alice:", NULL, 401, NULL },
	{ "malformed base64", NULL, "Basic !!not*base64", 401, NULL },
	{ "bad padding", NULL, "Basic YWxpY2U6YWxpY2UtcHc", 401, NULL },
	{ "Basic, nothing after", NULL, "Basic", 401, NULL },
	{ "scheme in lower case", NULL, "basic YWxpY2U6YWxpY2UtcHc=", 204, "alice" },
};

START_TEST(test_login_case)
{
	const struct login_case *c = &login_cases[_i];
	char *req, *answer;
	double t0, took;

	if (c->user_pass) {
		check_login(c->user_pass, c->status, c->user);
		return;
	}
	req = occ_xasprintf("GET / HTTP/1.1\r\nAuthorization: %s\r\n\r\n", c->raw_auth);
	t0 = now_ms();
	answer = exchange(req);
	took = now_ms() - t0;
	ck_assert_msg(status_of(answer) == c->status, "%s: want %d, got:\n%s", c->what, c->status,
		      answer);
	if (c->user)
		ck_assert_ptr_nonnull(strstr(answer, c->user));
	if (c->status == 401)
		ck_assert_msg(took >= DELAY_MS, "%s: answered after %.1f ms", c->what, took);
	free(answer);
	free(req);
}
END_TEST

/* The log names the user and the client, sanitised, never the password. */
START_TEST(test_failure_logged)
{
	check_login("alice:s3cret-guess", 401, NULL);
	check_login("bad\x01name:s3cret-guess", 401, NULL);
	WAIT_FOR(log_has("bad?name"), 10000, "no log line for 'bad?name'");
	ck_assert(log_has("occ-authd: login failed for 'alice' from 192.0.2.7\n"));
	ck_assert(log_has("login failed for 'bad?name' from 192.0.2.7\n"));
	ck_assert(!log_has("s3cret"));
}
END_TEST

/* ---- Request heads ---- */

struct head_case {
	const char *what;
	const char *head;
	int status;
};

static const struct head_case head_cases[] = {
	{ "no Authorization", "GET /check HTTP/1.0\r\nHost: x\r\n\r\n", 401 },
	{ "other scheme", "GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n", 401 },
	{ "bare newlines", "GET / HTTP/1.1\nHost: x\n\n", 401 },
	{ "header names any case",
	  "POST /x HTTP/1.1\r\naUtHoRiZaTiOn:   Basic YWxpY2U6YWxpY2UtcHc=  \r\n\r\n", 204 },
	{ "not HTTP", "garbage\r\n\r\n", 400 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 400 },
	{ "header without colon", "GET / HTTP/1.1\r\nBroken header\r\n\r\n", 400 },
	{ "control byte in a value", "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", 400 },
	{ "folded header", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 400 },
	{ "two Authorization headers",
	  "GET / HTTP/1.1\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n"
	  "Authorization: Basic Ym9iOmJvYi1wdw==\r\n\r\n", 400 },
	{ "blank first line", "\r\nGET / HTTP/1.1\r\n\r\n", 400 },
};

START_TEST(test_head_case)
{
	const struct head_case *c = &head_cases[_i];
	char *answer = exchange(c->head);

	ck_assert_msg(status_of(answer) == c->status, "%s: want %d, got:\n%s", c->what, c->status,
		      answer);
	free(answer);
}
END_TEST

/* A head over 8 KiB: 400, and the next request is answered as usual. */
START_TEST(test_head_too_large)
{
	size_t n = 9000;
	char *req = malloc(n + 1);
	char *answer;

	ck_assert_ptr_nonnull(req);
	memcpy(req, "GET / HTTP/1.1\r\nX-Pad: ", 23);
	memset(req + 23, 'a', n - 23);
	req[n] = '\0';
	answer = exchange(req);
	ck_assert_msg(status_of(answer) == 400, "want 400, got:\n%s", answer);
	free(answer);
	free(req);
	check_login("alice:alice-pw", 204, "alice");
	answer = exchange("GET / HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(status_of(answer), 401);
	free(answer);
}
END_TEST

/* A connection that never finishes its head does not block the others. */
START_TEST(test_slow_client)
{
	int fd = connect_authd();

	send_all(fd, "GET / HTTP/1.1\r\nHost:", 21);
	check_login("bob:bob-pw", 204, "bob");
	close(fd);
}
END_TEST

/* A head that comes a byte at a time (its end split across reads) is read
 * whole. */
START_TEST(test_head_in_pieces)
{
	char *req = request_basic("alice:alice-pw");
	int fd = connect_authd();
	char *answer;

	for (size_t i = 0; req[i]; i++) {
		send_all(fd, req + i, 1);
		sleep_ms(1);
	}
	answer = read_answer(fd);
	ck_assert_msg(status_of(answer) == 204, "want 204, got:\n%s", answer);
	close(fd);
	free(answer);
	free(req);
}
END_TEST

/* ---- Accounts changes ---- */

/* A new password works at once and the old one (cached) fails at once. */
START_TEST(test_password_change)
{
	check_login("alice:alice-pw", 204, "alice");
	check_login("alice:alice-pw", 204, "alice");
	write_shadow(hash_alice_new);
	check_login("alice:alice-pw", 401, NULL);
	check_login("alice:alice-new", 204, "alice");
}
END_TEST

/* Locking an account (cached success) takes effect at once. */
START_TEST(test_lock_account)
{
	char *text;

	check_login("alice:alice-pw", 204, "alice");
	text = occ_xasprintf("alice:!%s:19000:0:99999:7:::\n", hash_alice);
	replace_text(shadow_path, text);
	free(text);
	check_login("alice:alice-pw", 401, NULL);
}
END_TEST

/* ---- Load and lifetime ---- */

#define CROWD 200

/* 200 connections at once (half with wrong passwords, more than the queue
 * holds): each gets its 401 or is closed, and the server lives on. */
START_TEST(test_crowd)
{
	static int fds[CROWD];
	char *wrong = request_basic("alice:wrong");
	const char *anon = "GET / HTTP/1.1\r\n\r\n";
	int answered = 0;

	for (int i = 0; i < CROWD; i++)
		fds[i] = connect_authd();
	for (int i = 0; i < CROWD; i++)
		send_all(fds[i], i % 2 ? wrong : anon, strlen(i % 2 ? wrong : anon));
	for (int i = 0; i < CROWD; i++) {
		char *answer = read_answer(fds[i]);
		int st = status_of(answer);

		ck_assert_msg(st == 401 || *answer == '\0', "connection %d got:\n%s", i, answer);
		answered += st == 401;
		free(answer);
		close(fds[i]);
	}
	ck_assert_int_gt(answered, 0);
	ck_assert_int_eq(kill(authd_pid, 0), 0);
	check_login("bob:bob-pw", 204, "bob");
	free(wrong);
}
END_TEST

START_TEST(test_sigterm)
{
	struct stat st;

	check_login("bob:bob-pw", 204, "bob");
	ck_assert_int_eq(authd_stop(), 0);
	ck_assert_int_ne(lstat(sock_path, &st), 0);
	ck_assert(log_has("occ-authd: stopped\n"));
}
END_TEST

/* A socket left by a killed occ-authd is replaced at the next start. */
START_TEST(test_stale_socket_replaced)
{
	struct stat st;

	ck_assert_int_eq(kill(authd_pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(authd_pid, NULL, 0), authd_pid);
	ck_assert_int_eq(lstat(sock_path, &st), 0);
	ck_assert(!can_connect(sock_path));
	authd_start(DELAY_ARG);
	check_login("bob:bob-pw", 204, "bob");
}
END_TEST

/* A second occ-authd on a live socket exits 1 and leaves the first alone. */
START_TEST(test_live_socket_kept)
{
	const char *argv[] = { OCC_AUTHD_BIN, "--socket", sock_path, "--passwd", passwd_path,
			       "--shadow", shadow_path, NULL };
	struct run_result r;

	run_prog(&r, argv);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "another server answers there"));
	run_result_release(&r);
	check_login("bob:bob-pw", 204, "bob");
}
END_TEST

/* Without credentials the answer never waits for the fail delay: with a
 * 10-minute delay the 401 still arrives (the test would time out). */
START_TEST(test_no_credentials_not_delayed)
{
	char *answer;

	authd_start("600000");
	answer = exchange("GET / HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(status_of(answer), 401);
	ck_assert_ptr_nonnull(strstr(answer, "WWW-Authenticate: Basic realm=\"opencode\""));
	free(answer);
}
END_TEST

/* A regular file where the socket goes is left alone: exit 1. */
START_TEST(test_refuses_non_socket)
{
	const char *argv[] = { OCC_AUTHD_BIN, "--socket", sock_path, "--passwd", passwd_path,
			       "--shadow", shadow_path, NULL };
	struct run_result r;
	char *kept;

	write_text(sock_path, "keep me\n");
	run_prog(&r, argv);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "not a socket"));
	kept = read_text(sock_path);
	ck_assert_str_eq(kept, "keep me\n");
	free(kept);
	run_result_release(&r);
}
END_TEST

struct args_case {
	const char *args[6];
	const char *err_has;
};

static const struct args_case args_cases[] = {
	{ { NULL }, "--socket is required" },
	{ { "--socket", "/tmp/x.sock", "--workers", "0" }, "invalid --workers '0'" },
	{ { "--socket", "/tmp/x.sock", "--fail-delay-ms", "soon" }, "invalid --fail-delay-ms" },
	{ { "--socket", "/tmp/x.sock", "--uid-min", "5", "--uid-max", "1" }, "above --uid-max" },
	{ { "--socket", "/tmp/x.sock", "--bogus" }, "unknown option '--bogus'" },
	{ { "--socket" }, "needs a value" },
};

START_TEST(test_bad_args)
{
	const struct args_case *c = &args_cases[_i];
	const char *argv[8] = { OCC_AUTHD_BIN };
	struct run_result r;

	for (int i = 0; i < 6 && c->args[i]; i++)
		argv[i + 1] = c->args[i];
	run_prog(&r, argv);
	ck_assert_int_eq(r.status, 64);
	ck_assert_msg(strstr(r.err.buf, c->err_has), "want '%s' in: %s", c->err_has, r.err.buf);
	run_result_release(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("authd");
	TCase *running = tcase_create("running");
	TCase *own = tcase_create("own-start");
	SRunner *sr;
	int failed;

	tcase_set_timeout(running, 120);
	tcase_add_unchecked_fixture(running, make_hashes, no_teardown);
	tcase_add_checked_fixture(running, setup_running, teardown);
	tcase_add_loop_test(running, test_login_case, 0, (int)OCC_ARRAY_SIZE(login_cases));
	tcase_add_test(running, test_failure_logged);
	tcase_add_loop_test(running, test_head_case, 0, (int)OCC_ARRAY_SIZE(head_cases));
	tcase_add_test(running, test_head_too_large);
	tcase_add_test(running, test_slow_client);
	tcase_add_test(running, test_head_in_pieces);
	tcase_add_test(running, test_password_change);
	tcase_add_test(running, test_lock_account);
	tcase_add_test(running, test_crowd);
	tcase_add_test(running, test_sigterm);
	tcase_add_test(running, test_stale_socket_replaced);
	tcase_add_test(running, test_live_socket_kept);
	suite_add_tcase(s, running);

	tcase_set_timeout(own, 120);
	tcase_add_unchecked_fixture(own, make_hashes, no_teardown);
	tcase_add_checked_fixture(own, setup, teardown);
	tcase_add_test(own, test_no_credentials_not_delayed);
	tcase_add_test(own, test_refuses_non_socket);
	tcase_add_loop_test(own, test_bad_args, 0, (int)OCC_ARRAY_SIZE(args_cases));
	suite_add_tcase(s, own);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
