/*
 * lock.c - see lock.h.
 */
#include "reconciler/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "model/util.h"

struct occ_lock {
	int fd;
	char *path;
};

static char *lock_path(const char *dir, const char *project)
{
	char *data, *path;

	if (dir)
		return occ_xasprintf("%s/%s.lock", dir, project);
	data = occ_data_dir();
	path = occ_xasprintf("%s/locks/%s.lock", data, project);
	free(data);
	return path;
}

static void parse_holder(struct occ_lock_holder *h, const char *text)
{
	const char *line = text;

	memset(h, 0, sizeof(*h));
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[300];
		long v;

		snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
		if (occ_starts_with(buf, "pid=") && occ_parse_long(buf + 4, 1, 1L << 30, &v) == 0)
			h->pid = (pid_t)v;
		else if (occ_starts_with(buf, "host="))
			snprintf(h->host, sizeof(h->host), "%.255s", buf + 5);
		else if (occ_starts_with(buf, "operation="))
			snprintf(h->operation, sizeof(h->operation), "%.63s", buf + 10);
		else if (occ_starts_with(buf, "started=") &&
			 occ_parse_long(buf + 8, 0, 1L << 40, &v) == 0)
			h->started = v;
		line = nl ? nl + 1 : NULL;
	}
}

static void read_holder_fd(int fd, struct occ_lock_holder *h)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	parse_holder(h, buf);
}

static void write_holder(int fd, const char *operation)
{
	char host[256] = "", buf[1024];
	int n;

	gethostname(host, sizeof(host) - 1);
	n = snprintf(buf, sizeof(buf), "pid=%ld\nhost=%s\noperation=%s\nstarted=%lld\n",
		     (long)getpid(), host, operation, (long long)time(NULL));
	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)!pwrite(fd, buf, (size_t)n, 0);
}

static void holder_message(struct occ_error *err, const char *project,
			   const struct occ_lock_holder *h)
{
	if (h->pid)
		occ_error_set(err, OCC_ELOCKED,
			      "project '%s' is locked by occ %s (pid %ld on %s)", project,
			      h->operation[0] ? h->operation : "(unknown)", (long)h->pid, h->host);
	else
		occ_error_set(err, OCC_ELOCKED, "project '%s' is locked by another occ", project);
	occ_error_hint(err, "wait for it to finish, or raise --lock-timeout");
}

int occ_lock_acquire(struct occ_lock **out, const char *dir, const char *project,
		     const char *operation, int64_t timeout_ms, occ_lock_wait_fn wait_fn,
		     void *ctx, struct occ_error *err)
{
	char *path = lock_path(dir, project);
	char *parent = occ_path_dirname(path);
	uint64_t start = occ_now_ms();
	bool told = false;
	int fd = -1, ret;

	/* The directory exists on every run but the first: open before mkdir -p. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		ret = occ_mkdir_p(parent, 0700, err);
		if (ret)
			goto fail;
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot open lock file '%s'", path);
		goto fail;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct occ_lock_holder h;
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			ret = occ_error_errno(err, OCC_EIO, errno, "cannot lock '%s'", path);
			goto fail;
		}
		read_holder_fd(fd, &h);
		if (timeout_ms >= 0 && occ_now_ms() - start >= (uint64_t)timeout_ms) {
			holder_message(err, project, &h);
			ret = OCC_ELOCKED;
			goto fail;
		}
		if (!told && wait_fn)
			wait_fn(ctx, &h);
		told = true;
		nanosleep(&ts, NULL);
	}
	write_holder(fd, operation);
	*out = occ_xcalloc(1, sizeof(**out));
	(*out)->fd = fd;
	(*out)->path = path;
	free(parent);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	free(parent);
	return ret;
}

void occ_lock_release(struct occ_lock *lock)
{
	if (!lock)
		return;
	/* Clear the holder record before dropping the lock so no reader sees us. */
	if (ftruncate(lock->fd, 0) < 0) {
		/* nothing useful to do: the flock below is what matters */
	}
	close(lock->fd);
	free(lock->path);
	free(lock);
}

int occ_lock_read_holder(struct occ_lock_holder *out, const char *dir, const char *project,
			 struct occ_error *err)
{
	char *path = lock_path(dir, project);
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0) {
		ret = occ_error_errno(err, OCC_ENOTFOUND, errno, "cannot open '%s'", path);
		goto out;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		memset(out, 0, sizeof(*out));
		ret = occ_error_set(err, OCC_ENOTFOUND, "project '%s' is not locked", project);
		goto out;
	}
	read_holder_fd(fd, out);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}
