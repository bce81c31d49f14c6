/*
 * util.c - see util.h.
 */
#include "model/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "occ: out of memory allocating %zu bytes\n", n);
	abort();
}

void *occ_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die_oom(n);
	return p;
}

void *occ_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		die_oom(nmemb * size);
	return p;
}

void *occ_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die_oom(n);
	return q;
}

char *occ_xstrdup(const char *s)
{
	return s ? occ_xstrndup(s, strlen(s)) : NULL;
}

char *occ_xstrndup(const char *s, size_t n)
{
	char *p = occ_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *occ_xasprintf(const char *fmt, ...)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	sb.buf = occ_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(sb.buf, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return sb.buf;
}

void occ_grow(void **items, size_t *alloc, size_t need, size_t elem)
{
	size_t n = *alloc;

	if (need <= n)
		return;
	n = n ? n : 4;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			die_oom(SIZE_MAX);
		n *= 2;
	}
	*items = occ_xrealloc(*items, n * elem);
	*alloc = n;
}

void occ_strbuf_init(struct occ_strbuf *sb)
{
	sb->alloc = 64;
	sb->len = 0;
	sb->buf = occ_xmalloc(sb->alloc);
	sb->buf[0] = '\0';
}

void occ_strbuf_release(struct occ_strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
}

static void strbuf_reserve(struct occ_strbuf *sb, size_t extra)
{
	if (!sb->buf)
		occ_strbuf_init(sb);
	if (sb->len + extra + 1 > sb->alloc) {
		size_t n = sb->alloc;

		while (sb->len + extra + 1 > n)
			n *= 2;
		sb->buf = occ_xrealloc(sb->buf, n);
		sb->alloc = n;
	}
}

void occ_strbuf_add(struct occ_strbuf *sb, const void *data, size_t n)
{
	strbuf_reserve(sb, n);
	if (n)
		memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void occ_strbuf_adds(struct occ_strbuf *sb, const char *s)
{
	occ_strbuf_add(sb, s, strlen(s));
}

void occ_strbuf_addc(struct occ_strbuf *sb, char c)
{
	occ_strbuf_add(sb, &c, 1);
}

void occ_strbuf_addf(struct occ_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	strbuf_reserve(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void occ_strbuf_reset(struct occ_strbuf *sb)
{
	if (!sb->buf)
		occ_strbuf_init(sb);
	sb->len = 0;
	sb->buf[0] = '\0';
}

char *occ_strbuf_detach(struct occ_strbuf *sb)
{
	char *s;

	if (!sb->buf)
		occ_strbuf_init(sb);
	s = sb->buf;
	sb->buf = NULL;
	sb->len = sb->alloc = 0;
	return s;
}

const char *occ_strbuf_str(struct occ_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

bool occ_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool occ_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int occ_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return OCC_EINVALID;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return OCC_EINVALID;
	*out = v;
	return 0;
}

int occ_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; uint64_t mult; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return OCC_EINVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return OCC_EINVALID;
	for (i = 0; i < OCC_ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult / 1000)
				return OCC_EINVALID;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return OCC_EINVALID;
}

int occ_read_file(const char *path, size_t max, char **out, size_t *out_len,
		  struct occ_error *err)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char chunk[16384];
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return occ_error_errno(err, errno == ENOENT ? OCC_ENOTFOUND : OCC_EIO,
				       errno, "cannot open '%s'", path);
	occ_strbuf_init(&sb);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = occ_error_errno(err, OCC_EIO, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			ret = occ_error_set(err, OCC_EINVALID,
					    "'%s' is larger than the limit of %zu bytes", path, max);
			goto out;
		}
		occ_strbuf_add(&sb, chunk, (size_t)n);
	}
	*out_len = sb.len;
	*out = occ_strbuf_detach(&sb);
out:
	close(fd);
	occ_strbuf_release(&sb);
	return ret;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* The temp file's owner and group become like's (when given), then its mode:
 * chown may clear set-id bits, so the mode comes second. */
static int set_owner_mode(int fd, const char *tmp, unsigned mode, const struct stat *like,
			  struct occ_error *err)
{
	struct stat cur;

	if (like && fstat(fd, &cur) == 0 &&
	    (cur.st_uid != like->st_uid || cur.st_gid != like->st_gid) &&
	    fchown(fd, like->st_uid, like->st_gid) < 0) {
		occ_error_errno(err, OCC_EIO, errno, "cannot give '%s' the owner %u:%u of the file it "
				"replaces", tmp, (unsigned)like->st_uid, (unsigned)like->st_gid);
		occ_error_hint(err, "run occ as the file's owner (or as root)");
		return err->code;
	}
	if (fchmod(fd, like ? (unsigned)(like->st_mode & 07777) : mode) < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot set the mode of '%s'", tmp);
	return 0;
}

/* occ_write_file_atomic; like: the owner, group and mode to give the new file. */
static int write_atomic(const char *path, const void *data, size_t len, unsigned mode,
			const struct stat *like, struct occ_error *err)
{
	char *dir = occ_path_dirname(path);
	char *tmp = occ_xasprintf("%s.tmp.XXXXXX", path);
	const char *p = data;
	int fd, ret = 0;

	fd = mkstemp(tmp);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fd < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot create a temporary file next to '%s'", path);
		goto out_free;
	}
	ret = set_owner_mode(fd, tmp, mode, like, err);
	if (ret)
		goto out_unlink;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = occ_error_errno(err, OCC_EIO, errno, "cannot write '%s'", tmp);
			goto out_unlink;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot sync '%s'", tmp);
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot write '%s'", tmp);
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot replace '%s'", path);
		goto out_unlink;
	}
	fsync_dir(dir);
	goto out_free;
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	free(dir);
	return ret;
}

int occ_write_file_atomic(const char *path, const void *data, size_t len,
			  unsigned mode, struct occ_error *err)
{
	return write_atomic(path, data, len, mode, NULL, err);
}

int occ_path_resolve_link(char **out, const char *path, struct occ_error *err)
{
	char target[PATH_MAX];
	struct stat st;
	char *real;
	ssize_t n;

	if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode)) {
		*out = occ_xstrdup(path);
		return 0;
	}
	real = realpath(path, NULL);
	if (real) {
		*out = real;
		return 0;
	}
	if (errno != ENOENT)
		return occ_error_errno(err, OCC_EIO, errno, "cannot follow the symbolic link '%s'",
				       path);
	n = readlink(path, target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	occ_error_set(err, OCC_EINVALID, "'%s' is a symbolic link to '%s', which does not exist",
		      path, target);
	occ_error_hint(err, "create the file it points to, or remove the link");
	return err->code;
}

int occ_write_file_keep(const char *path, const void *data, size_t len, const char *like,
			unsigned mode, struct occ_error *err)
{
	struct stat st;
	char *target = NULL;
	int ret = occ_path_resolve_link(&target, path, err);

	if (ret)
		return ret;
	bool exists = stat(like, &st) == 0;

	if (!exists && errno != ENOENT) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot stat '%s'", like);
		goto out;
	}
	ret = write_atomic(target, data, len, mode, exists ? &st : NULL, err);
out:
	free(target);
	return ret;
}

int occ_mkdir_p(const char *path, unsigned mode, struct occ_error *err)
{
	char *buf = occ_xstrdup(path);
	char *p;
	int ret = 0;

	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST) {
			ret = occ_error_errno(err, OCC_EIO, errno, "cannot create directory '%s'", buf);
			break;
		}
		*p = save;
		if (!save)
			break;
	}
	free(buf);
	return ret;
}

const char *occ_home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home)
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

static char *xdg_dir(const char *var, const char *fallback)
{
	const char *base = getenv(var);

	if (base && base[0] == '/')
		return occ_xasprintf("%s/opencode-cloud", base);
	return occ_xasprintf("%s/%s/opencode-cloud", occ_home_dir(), fallback);
}

char *occ_config_dir(void)
{
	return xdg_dir("XDG_CONFIG_HOME", ".config");
}

char *occ_data_dir(void)
{
	return xdg_dir("XDG_DATA_HOME", ".local/share");
}

char *occ_path_normalise(const char *abs)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const char *p = abs;

	occ_strbuf_init(&sb);
	while (*p) {
		const char *seg;
		size_t n;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			char *slash = strrchr(sb.buf, '/');

			sb.len = slash ? (size_t)(slash - sb.buf) : 0;
			sb.buf[sb.len] = '\0';
			continue;
		}
		occ_strbuf_addc(&sb, '/');
		occ_strbuf_add(&sb, seg, n);
	}
	if (sb.len == 0)
		occ_strbuf_addc(&sb, '/');
	return occ_strbuf_detach(&sb);
}

char *occ_path_resolve(const char *path, const char *base_dir)
{
	char *joined, *ret;
	char cwd[PATH_MAX];

	if (path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
		joined = occ_xasprintf("%s/%s", occ_home_dir(), path + 1);
	else if (path[0] == '/')
		joined = occ_xstrdup(path);
	else if (base_dir && base_dir[0] == '/')
		joined = occ_xasprintf("%s/%s", base_dir, path);
	else {
		if (!getcwd(cwd, sizeof(cwd)))
			snprintf(cwd, sizeof(cwd), "/");
		if (base_dir)
			joined = occ_xasprintf("%s/%s/%s", cwd, base_dir, path);
		else
			joined = occ_xasprintf("%s/%s", cwd, path);
	}
	ret = occ_path_normalise(joined);
	free(joined);
	return ret;
}

char *occ_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return occ_xstrdup(".");
	if (slash == path)
		return occ_xstrdup("/");
	return occ_xstrndup(path, (size_t)(slash - path));
}

uint64_t occ_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double occ_now_ms_precise(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
