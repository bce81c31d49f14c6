/*
 * rootfs.c - make a minbase Debian root filesystem tarball with mmdebstrap
 * or debootstrap (docker-base.h).
 *
 * mmdebstrap is preferred: it writes the tarball itself, and without root it
 * builds in a user namespace or under fakeroot, so it needs root only where
 * the machine gives it no other way. debootstrap always needs root, and its
 * tree is packed with tar (--numeric-owner: the image must not depend on this
 * machine's user names).
 *
 * Everything lives in one new directory (0755, under $TMPDIR or
 * /var/tmp: a root filesystem is ~200 MB, too much for a small /tmp tmpfs),
 * which is also the tool's TMPDIR, so whatever it leaves goes with the
 * directory. The removal never crosses into another file system: debootstrap
 * mounts /proc and /sys inside its target while it runs, and a failed run
 * may leave them there.
 *
 * The tools run from argv through posix_spawn (no shell), stdin /dev/null,
 * stdout and stderr into one pipe read line by line ('\r' ends a line too:
 * progress bars), each line cut at OCC_ROOTFS_MAX_LINE bytes; only the last
 * OCC_ROOTFS_TAIL_LINES are kept, for the error message. A run is bounded in
 * time; when it runs out the tool gets SIGTERM (it cleans up its own
 * children), then SIGKILL after 10 s.
 */
#include "drivers/docker/docker-base.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/util.h"

extern char **environ;

/* ---- finding a tool ------------------------------------------------------- */

static char *find_in(const char *dirs, const char *name)
{
	const char *p = dirs;

	while (p && *p) {
		size_t n = strcspn(p, ":");
		char *path = occ_xasprintf("%.*s/%s", (int)n, p, name);

		if (n && access(path, X_OK) == 0)
			return path;
		free(path);
		p += n + (p[n] == ':');
	}
	return NULL;
}

/* PATH first; then the sbin directories a user's PATH often lacks. */
static char *find_tool(const char *name)
{
	char *path = find_in(getenv("PATH"), name);

	return path ? path : find_in("/usr/sbin:/usr/bin:/sbin:/bin", name);
}

const char *occ_docker__rootfs_tool(char **path)
{
	static const char *const tools[] = { "mmdebstrap", "debootstrap" };

	for (size_t i = 0; i < OCC_ARRAY_SIZE(tools); i++) {
		*path = find_tool(tools[i]);
		if (*path)
			return tools[i];
	}
	return NULL;
}

/* ---- output: lines, bounded --------------------------------------------------- */

struct out_lines {
	char cur[OCC_ROOTFS_MAX_LINE + 1];
	size_t len;
	bool cut;                                 /* dropping the rest of a long line */
	char tail[OCC_ROOTFS_TAIL_LINES][OCC_ROOTFS_MAX_LINE + 1];
	size_t n_tail;                            /* lines ever kept (ring index) */
	char first_err[OCC_ROOTFS_MAX_LINE + 1];  /* the first "E: " line: the cause */
	const struct occ_rootfs_opts *o;
};

static void line_end(struct out_lines *l)
{
	if (l->len) {
		l->cur[l->len] = '\0';
		if (l->o->line)
			l->o->line(l->o->ctx, l->cur);
		memcpy(l->tail[l->n_tail++ % OCC_ROOTFS_TAIL_LINES], l->cur, l->len + 1);
		if (!l->first_err[0] && occ_starts_with(l->cur, "E: "))
			memcpy(l->first_err, l->cur, l->len + 1);
	}
	l->len = 0;
	l->cut = false;
}

static void lines_feed(struct out_lines *l, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n' || c == '\r')
			line_end(l);
		else if (l->len < OCC_ROOTFS_MAX_LINE)
			l->cur[l->len++] = c;
		else
			l->cut = true;            /* the rest of this line is dropped */
	}
}

/* For an error message: the tool's first error line (its later ones say
 * that it failed), else its last few lines: "a | b | c". */
static void lines_tail(const struct out_lines *l, struct occ_strbuf *sb, size_t max)
{
	size_t n = l->n_tail < max ? l->n_tail : max;

	if (l->first_err[0]) {
		occ_strbuf_adds(sb, l->first_err);
		return;
	}

	for (size_t i = l->n_tail - n; i < l->n_tail; i++) {
		if (sb->len)
			occ_strbuf_adds(sb, " | ");
		occ_strbuf_adds(sb, l->tail[i % OCC_ROOTFS_TAIL_LINES]);
	}
}

/* ---- running one tool ------------------------------------------------------------ */

/* environ with TMPDIR=tmpdir (and the locale C.UTF-8: stable messages). */
static char **child_env(const char *tmpdir)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = occ_xcalloc(n + 3, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (!occ_starts_with(environ[i], "TMPDIR=") && !occ_starts_with(environ[i], "LC_ALL="))
			env[k++] = environ[i];
	env[k++] = occ_xasprintf("TMPDIR=%s", tmpdir);
	env[k++] = occ_xstrdup("LC_ALL=C.UTF-8");
	env[k] = NULL;
	return env;
}

static void free_env(char **env)
{
	size_t n = 0;

	while (env[n])
		n++;
	free(env[n - 1]);    /* the two added last */
	free(env[n - 2]);
	free(env);
}

/* The child starts with no blocked signals and default dispositions: occ
 * may ignore SIGPIPE or block signals in its threads, and apt, run by the
 * tool, waits for its own children and writes to pipes. */
static void default_signals(posix_spawnattr_t *at)
{
	static const int sigs[] = { SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
				    SIGUSR1, SIGUSR2, SIGALRM };
	sigset_t def, none;

	sigemptyset(&def);
	sigemptyset(&none);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(sigs); i++)
		sigaddset(&def, sigs[i]);
	posix_spawnattr_init(at);
	posix_spawnattr_setsigdefault(at, &def);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

/* Close in the child every descriptor the parent left inheritable (some
 * libraries open sockets without O_CLOEXEC): the tool's own pipes must get
 * low numbers, as mmdebstrap hands them to dash as `>&N`, which takes one
 * digit only. */
static void close_inherited(posix_spawn_file_actions_t *fa)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			posix_spawn_file_actions_addclose(fa, fd);
	}
}

static int spawn(pid_t *pid, int *out_fd, char *const argv[], const char *tmpdir,
		 struct occ_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int fds[2], rc;
	char **env;

	if (pipe(fds) != 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot run %s", argv[0]);
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	close_inherited(&fa);
	default_signals(&at);
	env = child_env(tmpdir);
	rc = posix_spawn(pid, argv[0], &fa, &at, argv, env);
	free_env(env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return occ_error_errno(err, OCC_EIO, rc, "cannot run %s", argv[0]);
	}
	*out_fd = fds[0];
	return 0;
}

/* SIGTERM, then SIGKILL after 10 s; reaps the child. */
static void stop_child(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		poll(NULL, 0, 100);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* Read the child's output until it closes; 0, or OCC_ETIMEOUT / OCC_EIO. */
static int pump(int fd, struct out_lines *lines, uint64_t deadline, struct occ_error *err)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = occ_now_ms();
		ssize_t n;
		int rc;

		if (now >= deadline)
			return occ_error_set(err, OCC_ETIMEOUT, "no result within %u minutes",
					     OCC_ROOTFS_TIMEOUT_MS / 60000);
		rc = poll(&p, 1, (int)(deadline - now < 1000 ? deadline - now : 1000));
		if (rc < 0 && errno != EINTR)
			return occ_error_errno(err, OCC_EIO, errno, "cannot read its output");
		if (rc <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return occ_error_errno(err, OCC_EIO, errno, "cannot read its output");
		if (n == 0)
			return 0;
		lines_feed(lines, buf, (size_t)n);
	}
}

static int wait_status(pid_t pid, const char *name, const struct out_lines *lines,
		       struct occ_error *err)
{
	struct occ_strbuf tail = OCC_STRBUF_INIT;
	int status, ret = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return occ_error_errno(err, OCC_EIO, errno, "cannot wait for %s", name);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	lines_tail(lines, &tail, 3);
	if (WIFEXITED(status))
		ret = occ_error_set(err, OCC_EGENERIC, "%s exited with status %d%s%s", name,
				    WEXITSTATUS(status), tail.len ? ": " : "", occ_strbuf_str(&tail));
	else
		ret = occ_error_set(err, OCC_EGENERIC, "%s was killed by signal %d%s%s", name,
				    WTERMSIG(status), tail.len ? ": " : "", occ_strbuf_str(&tail));
	occ_strbuf_release(&tail);
	return ret;
}

/* Run argv to its end, its output to o->line. */
static int run(char *const argv[], const char *tmpdir, const struct occ_rootfs_opts *o,
	       struct occ_error *err)
{
	struct out_lines *lines = occ_xcalloc(1, sizeof(*lines));
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	pid_t pid;
	int fd, ret;

	lines->o = o;
	ret = spawn(&pid, &fd, argv, tmpdir, err);
	if (ret)
		goto out;
	ret = pump(fd, lines, occ_now_ms() + OCC_ROOTFS_TIMEOUT_MS, err);
	close(fd);
	line_end(lines);
	if (ret) {
		stop_child(pid);
		occ_error_prefix(err, "%s", name);
		goto out;
	}
	ret = wait_status(pid, name, lines, err);
out:
	free(lines);
	return ret;
}

/* ---- the temporary directory --------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;   /* best effort: go on with the rest */
}

void occ_docker__rootfs_release(struct occ_rootfs *r)
{
	if (r->dir)
		nftw(r->dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(r->dir);
	free(r->tarball);
	memset(r, 0, sizeof(*r));
}

static int make_dir(char **out, struct occ_error *err)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (!base || !*base)
		base = "/var/tmp";
	dir = occ_xasprintf("%s/occ-base.XXXXXX", base);
	if (!mkdtemp(dir)) {
		int e = errno;

		free(dir);
		return occ_error_errno(err, OCC_EIO, e, "cannot make a directory under %s", base);
	}
	/* Traversable: apt, run by the tool, downloads as the user _apt into a
	 * directory under this one (nothing secret here: a public Debian). */
	chmod(dir, 0755);
	*out = dir;
	return 0;
}

/* ---- the tools ----------------------------------------------------------------- */

/* An argv of copies (argv[] is char *const, the strings here are const). */
struct args {
	char *v[10];
	size_t n;
};

static void arg(struct args *a, const char *s)
{
	if (a->n + 1 < OCC_ARRAY_SIZE(a->v)) {
		a->v[a->n++] = occ_xstrdup(s);
		a->v[a->n] = NULL;
	}
}

static void args_release(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int with_mmdebstrap(const char *tool, struct occ_rootfs *r,
			   const struct occ_rootfs_opts *o, struct occ_error *err)
{
	struct args a = { 0 };
	int ret;

	arg(&a, tool);
	arg(&a, "--variant=minbase");
	arg(&a, o->suite);
	arg(&a, r->tarball);
	arg(&a, o->mirror);
	ret = run(a.v, r->dir, o, err);
	args_release(&a);
	return ret;
}

static int with_debootstrap(const char *tool, struct occ_rootfs *r,
			    const struct occ_rootfs_opts *o, struct occ_error *err)
{
	char *tree = occ_xasprintf("%s/tree", r->dir), *tar = find_tool("tar");
	struct args boot = { 0 }, pack = { 0 };
	int ret;

	if (geteuid() != 0) {
		ret = occ_error_set(err, OCC_EPERM, "debootstrap needs root");
		occ_error_hint(err, "run occ as root (sudo), or install mmdebstrap, which does "
			       "not: apt-get install mmdebstrap");
		goto out;
	}
	if (!tar) {
		ret = occ_error_set(err, OCC_ENOTFOUND, "tar is not installed");
		goto out;
	}
	arg(&boot, tool);
	arg(&boot, "--variant=minbase");
	arg(&boot, o->suite);
	arg(&boot, tree);
	arg(&boot, o->mirror);
	arg(&pack, tar);
	arg(&pack, "--numeric-owner");
	arg(&pack, "-C");
	arg(&pack, tree);
	arg(&pack, o->gzip ? "-czf" : "-cf");
	arg(&pack, r->tarball);
	arg(&pack, ".");
	ret = run(boot.v, r->dir, o, err);
	if (!ret)
		ret = run(pack.v, r->dir, o, err);
out:
	args_release(&boot);
	args_release(&pack);
	free(tar);
	free(tree);
	return ret;
}

int occ_docker__rootfs_make(struct occ_rootfs *out, const struct occ_rootfs_opts *o,
			    struct occ_error *err)
{
	struct occ_rootfs r = { 0 };
	char *path = o->tool_path ? occ_xstrdup(o->tool_path) : NULL;
	const char *tool;
	struct stat sb;
	int ret;

	tool = path ? (strstr(path, "debootstrap") ? "debootstrap" : "mmdebstrap")
		    : occ_docker__rootfs_tool(&path);
	if (!tool) {
		ret = occ_error_set(err, OCC_ENOTFOUND, "neither mmdebstrap nor debootstrap is "
				    "installed");
		occ_error_hint(err, "apt-get install mmdebstrap");
		goto out;
	}
	ret = make_dir(&r.dir, err);
	if (ret)
		goto out;
	r.tool = tool;
	r.tarball = occ_xasprintf("%s/rootfs.tar%s", r.dir, o->gzip ? ".gz" : "");
	if (strcmp(tool, "mmdebstrap") == 0)
		ret = with_mmdebstrap(path, &r, o, err);
	else
		ret = with_debootstrap(path, &r, o, err);
	if (!ret && (stat(r.tarball, &sb) != 0 || sb.st_size < 1024 * 1024))
		ret = occ_error_set(err, OCC_EGENERIC, "%s left no root filesystem tarball", tool);
	if (ret && ret != OCC_EPERM)
		occ_error_prefix(err, "cannot make a Debian %s root filesystem from %s", o->suite,
				 o->mirror);
out:
	if (ret)
		occ_docker__rootfs_release(&r);
	else
		*out = r;
	free(path);
	return ret;
}
