/*
 * testutil.c - see testutil.h.
 */
#include "tests/testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Read both pipes until both close, without deadlocking on a full pipe. */
static void drain2(int out, int err, struct occ_strbuf *o, struct occ_strbuf *e)
{
	struct pollfd fds[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
	int open_fds = 2;
	char buf[8192];

	while (open_fds > 0) {
		if (poll(fds, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0) {
				occ_strbuf_add(i == 0 ? o : e, buf, (size_t)n);
				continue;
			}
			close(fds[i].fd);
			fds[i].fd = -1;
			open_fds--;
		}
	}
}

static void run_argv(struct run_result *r, const char *path, const char *const *argv)
{
	int out[2], err[2], st;
	pid_t pid;

	occ_strbuf_init(&r->out);
	occ_strbuf_init(&r->err);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(err), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		char *v[64];
		int i;

		/* exec wants char *const[]: copy (the child is about to be replaced). */
		for (i = 0; argv[i] && i < 63; i++)
			v[i] = occ_xstrdup(argv[i]);
		v[i] = NULL;

		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (strchr(path, '/'))
			execv(path, v);
		else
			execvp(path, v);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	drain2(out[0], err[0], &r->out, &r->err);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * argv for OCC_BIN with args, behind $OCC_TEST_WRAPPER when that is set
 * (words split on spaces), e.g.
 *     OCC_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99"
 * Returns the program to run; the strings in argv are the caller's to free
 * up to *n.
 */
static const char *occ_argv(char **argv, size_t cap, size_t *n, const char *const *args)
{
	const char *wrapper = getenv("OCC_TEST_WRAPPER");
	size_t k = 0;

	if (wrapper && *wrapper) {
		char *copy = occ_xstrdup(wrapper), *p = copy;

		while (*p && k + 2 < cap) {
			size_t len = strcspn(p, " ");

			if (len)
				argv[k++] = occ_xstrndup(p, len);
			p += len + (p[len] == ' ');
		}
		free(copy);
	}
	argv[k++] = occ_xstrdup(OCC_BIN);
	for (size_t i = 0; args[i] && k + 1 < cap; i++)
		argv[k++] = occ_xstrdup(args[i]);
	argv[k] = NULL;
	*n = k;
	return argv[0];
}

void run_occ(struct run_result *r, const char *const *args)
{
	char *argv[96];
	size_t n;
	const char *prog = occ_argv(argv, OCC_ARRAY_SIZE(argv), &n, args);

	run_argv(r, prog, (const char *const *)argv);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
}

void run_prog(struct run_result *r, const char *const *argv)
{
	run_argv(r, argv[0], argv);
}

void run_result_release(struct run_result *r)
{
	occ_strbuf_release(&r->out);
	occ_strbuf_release(&r->err);
}

void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	ck_assert_msg(fp != NULL, "cannot write %s", path);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

char *read_text(const char *path)
{
	struct occ_error err;
	char *buf = NULL;
	size_t len;

	occ_error_clear(&err);
	ck_assert_msg(occ_read_file(path, 64u << 20, &buf, &len, &err) == 0, "%s", err.msg);
	return buf;
}

char *read_text_or_empty(const char *path)
{
	struct occ_error err;
	char *buf = NULL;
	size_t len;

	occ_error_clear(&err);
	if (occ_read_file(path, 64u << 20, &buf, &len, &err) != 0)
		return occ_xstrdup("");
	return buf;
}

/* r's stdout, its last line breaks cut; releases r. */
static char *take_out(struct run_result *r)
{
	char *s = occ_strbuf_detach(&r->out);

	while (*s && s[strlen(s) - 1] == '\n')
		s[strlen(s) - 1] = '\0';
	run_result_release(r);
	return s;
}

char *capture_out(const char *const *argv)
{
	struct run_result r;

	run_prog(&r, argv);
	if (r.status != 0) {
		run_result_release(&r);
		return NULL;
	}
	return take_out(&r);
}

char *sh_out(const char *cmd)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct run_result r;

	run_prog(&r, argv);
	return take_out(&r);
}

char *sh_ok(const char *cmd)
{
	const char *argv[] = { "sh", "-c", cmd, NULL };
	struct run_result r;

	run_prog(&r, argv);
	ck_assert_msg(r.status == 0, "'%s' failed (%d): %s", cmd, r.status, r.err.buf);
	return take_out(&r);
}

const char *wait_log;

void print_log_tail(const char *path)
{
	char *log;
	size_t n;

	if (!path)
		return;
	log = read_text_or_empty(path);
	n = strlen(log);
	fprintf(stderr, "---- %s (last 4 KiB) ----\n%s\n----\n", path, log + (n > 4096 ? n - 4096 : 0));
	free(log);
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void set_test_env(const char *dir, bool real_docker)
{
	char *v = occ_xasprintf("%s/config", dir);

	setenv("XDG_CONFIG_HOME", v, 1);
	free(v);
	v = occ_xasprintf("%s/data", dir);
	setenv("XDG_DATA_HOME", v, 1);
	free(v);
	setenv("NO_COLOR", "1", 1);
	if (real_docker)
		unsetenv("DOCKER_HOST");
	else
		setenv("DOCKER_HOST", "unix:///nonexistent/occ-test.sock", 1);
}

char *make_tmpdir(const char *tag)
{
	char *dir = occ_xasprintf("/tmp/occ-%s-XXXXXX", tag);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

void remove_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	struct run_result r;

	if (!dir || strncmp(dir, "/tmp/occ-", 9) != 0)
		return;
	run_prog(&r, argv);
	run_result_release(&r);
}

void bg_start(struct occ_bg *b, const char *const *args, const char *stop_after)
{
	int p[2];

	occ_strbuf_init(&b->err);
	ck_assert_int_eq(pipe(p), 0);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		char *argv[96];
		size_t n;
		const char *prog = occ_argv(argv, OCC_ARRAY_SIZE(argv), &n, args);
		int devnull = open("/dev/null", O_RDWR);

		if (stop_after)
			setenv("OCC_FAULT_STOP_AFTER", stop_after, 1);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(p[1], 2);
		close(p[0]);
		execvp(prog, argv);
		_exit(127);
	}
	close(p[1]);
	b->err_fd = p[0];
}

/* Read b's stderr until it holds text (or ends); whether it does. */
bool bg_wait_for_after(struct occ_bg *b, size_t from, const char *text)
{
	char buf[4096];
	ssize_t n;

	while (!strstr(b->err.buf + (from < b->err.len ? from : b->err.len), text)) {
		n = read(b->err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		occ_strbuf_add(&b->err, buf, (size_t)n);
	}
	return true;
}

bool bg_wait_for(struct occ_bg *b, const char *text)
{
	return bg_wait_for_after(b, 0, text);
}

void bg_wait_stopped(struct occ_bg *b)
{
	int st;

	ck_assert_int_eq(waitpid(b->pid, &st, WUNTRACED), b->pid);
	if (!WIFSTOPPED(st)) {
		bg_wait_for(b, "\x01never\x01");
		ck_assert_msg(false, "occ did not stop at the fault point (status %d):\n%s", st,
			      b->err.buf);
	}
}

int bg_finish(struct occ_bg *b)
{
	int st;

	bg_wait_for(b, "\x01never\x01");
	close(b->err_fd);
	ck_assert_int_eq(waitpid(b->pid, &st, 0), b->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
