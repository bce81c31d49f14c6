/*
 * tar.c - the build context as a ustar stream, produced while it is sent.
 *
 * The directory is listed first (sorted, so the same tree gives the same
 * archive; .dockerignore applied with Docker's rules: last matching pattern
 * wins, a pattern also matches everything under a matching directory,
 * Dockerfile and .dockerignore are always sent). Contents are read only as
 * curl asks for bytes, so a large context never sits in memory. Names that do
 * not fit ustar's name/prefix fields get a PAX 'path'/'linkpath' record.
 * Everything is owned by root (uid/gid 0), as the docker CLI sends it.
 *
 * An in-memory context (the Dockerfile compiled into occ) is a fixed list of
 * files: no .dockerignore and no walk, the same CA directory, the same stream.
 */
#include "drivers/docker/docker-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512
#define MAX_DEPTH 256
#define MAX_IGNORE_FILE (1024 * 1024)
#define MAX_FILE_SIZE 077777777777ULL   /* 11 octal digits: 8 GiB - 1 */

enum ent_type { ENT_FILE, ENT_DIR, ENT_LINK };

struct entry {
	char *name;            /* archive path, '/'-separated, no trailing '/' */
	char *path;            /* where to read it; NULL for made-up directories */
	const unsigned char *data; /* or its bytes (in-memory contexts), not owned */
	enum ent_type type;
	unsigned mode;
	uint64_t size;
	int64_t mtime;
	char *link;            /* symlink target */
};

struct occ_docker_tar {
	struct entry *ents;
	size_t n, alloc;
	size_t next;           /* next entry to emit */
	struct occ_strbuf pending; /* header/padding bytes not yet handed out */
	size_t pending_off;
	int fd;                /* the file being streamed, or -1 */
	const struct entry *cur;
	uint64_t left;         /* its bytes still to send */
	bool done;             /* trailer queued */
};

/* ---- .dockerignore ------------------------------------------------------ */

static bool class_match(const char **pp, char c, bool *ok)
{
	const char *p = *pp + 1;
	bool neg = false, hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	for (const char *start = p; *p && (*p != ']' || p == start); p++) {
		char lo = *p, hi = *p;

		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
		}
		hit = hit || (c >= lo && c <= hi);
	}
	if (*p != ']') {
		*ok = false;       /* no closing bracket: '[' is literal */
		return false;
	}
	*ok = true;
	*pp = p + 1;
	return hit != neg && c != '/';
}

bool occ_docker__glob(const char *p, const char *s)
{
	for (;;) {
		bool ok;

		if (p[0] == '*' && p[1] == '*') {
			p += 2;
			if (*p == '/' && occ_docker__glob(p + 1, s))
				return true;
			for (const char *q = s; ; q++) {
				if (occ_docker__glob(p, q))
					return true;
				if (!*q)
					return false;
			}
		}
		if (*p == '*') {
			for (const char *q = s; ; q++) {
				if (occ_docker__glob(p + 1, q))
					return true;
				if (!*q || *q == '/')
					return false;
			}
		}
		if (!*p || !*s)
			return !*p && !*s;
		if (*p == '?' && *s != '/') {
			p++;
			s++;
			continue;
		}
		if (*p == '[') {
			const char *q = p;
			bool hit = class_match(&q, *s, &ok);

			if (ok) {
				if (!hit)
					return false;
				p = q;
				s++;
				continue;
			}
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return false;
		p++;
		s++;
	}
}

/* Lexically clean a pattern or path: no leading '/', no "." or empty parts,
 * ".." resolved without climbing out of the context. */
static char *clean_path(const char *in)
{
	char *rooted = occ_path_normalise(in);
	char *rel = occ_xstrdup(rooted + 1);

	free(rooted);
	return rel;
}

static void ignore_add(struct occ_docker_ignore *ig, const char *line, size_t n)
{
	bool neg = false;
	char *raw, *pat;

	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	if (!n || line[0] == '#')
		return;
	if (line[0] == '!') {
		neg = true;
		line++;
		n--;
	}
	raw = occ_xstrndup(line, n);
	pat = clean_path(raw);
	free(raw);
	if (*pat) {
		occ_docker__strv_push(&ig->patterns, pat);
		ig->negate = occ_xrealloc(ig->negate, ig->patterns.n * sizeof(*ig->negate));
		ig->negate[ig->patterns.n - 1] = neg;
		ig->any_negation = ig->any_negation || neg;
	}
	free(pat);
}

void occ_docker__ignore_parse(struct occ_docker_ignore *out, const char *text, size_t len)
{
	const char *end = text + len;

	memset(out, 0, sizeof(*out));
	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		size_t n = nl ? (size_t)(nl - text) : (size_t)(end - text);

		ignore_add(out, text, n);
		text += n + (nl != NULL);
	}
}

static size_t count_parts(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

/* The first k components of path, or NULL when it has no more than k. */
static char *leading_parts(const char *path, size_t k)
{
	const char *p = path;

	for (size_t i = 0; i < k; i++) {
		p = strchr(p, '/');
		if (!p)
			return NULL;
		if (i + 1 < k)
			p++;
	}
	return occ_xstrndup(path, (size_t)(p - path));
}

bool occ_docker__ignore_match(const struct occ_docker_ignore *ig, const char *relpath)
{
	bool matched = false;

	for (size_t i = 0; i < ig->patterns.n; i++) {
		const char *pat = ig->patterns.v[i];
		bool m = occ_docker__glob(pat, relpath);

		if (!m) {
			char *parent = leading_parts(relpath, count_parts(pat));

			m = parent && occ_docker__glob(pat, parent);
			free(parent);
		}
		if (m)
			matched = !ig->negate[i];
	}
	return matched;
}

void occ_docker__ignore_release(struct occ_docker_ignore *ig)
{
	occ_docker__strv_release(&ig->patterns);
	free(ig->negate);
	memset(ig, 0, sizeof(*ig));
}

/* ---- listing the context ------------------------------------------------ */

struct walk {
	struct occ_docker_tar *t;
	const struct occ_docker_ignore *ig;
	const char *dockerfile;  /* cleaned, relative */
};

static struct entry *add_entry(struct occ_docker_tar *t, const char *name, enum ent_type type)
{
	struct entry *e;

	OCC_GROW(t->ents, t->n, t->alloc);
	e = &t->ents[t->n++];
	memset(e, 0, sizeof(*e));
	e->name = occ_xstrdup(name);
	e->type = type;
	return e;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct occ_docker_strv *out, const char *abs, struct occ_error *err)
{
	int fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return occ_error_errno(err, errno == ENOENT ? OCC_ENOTFOUND : OCC_EIO, errno,
				       "cannot read build context directory '%s'", abs);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return occ_error_errno(err, OCC_EIO, errno, "cannot read directory '%s'", abs);
	}
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			occ_docker__strv_push(out, de->d_name);
	closedir(dir);
	qsort(out->v, out->n, sizeof(*out->v), cmp_names);
	return 0;
}

static bool excluded(const struct walk *w, const char *rel)
{
	if (strcmp(rel, ".dockerignore") == 0 || strcmp(rel, w->dockerfile) == 0)
		return false;
	return occ_docker__ignore_match(w->ig, rel);
}

/* Whether the Dockerfile lies under directory rel (then it is walked even
 * when ignored: the Dockerfile is always sent). */
static bool holds_dockerfile(const struct walk *w, const char *rel)
{
	size_t n = strlen(rel);

	return strncmp(w->dockerfile, rel, n) == 0 && w->dockerfile[n] == '/';
}

static int walk_dir(struct walk *w, const char *abs, const char *rel, int depth,
		    struct occ_error *err);

static int add_dir(struct walk *w, const char *abs, const char *rel, const struct stat *st,
		   bool skip, int depth, struct occ_error *err)
{
	struct entry *e;

	if (!skip) {
		e = add_entry(w->t, rel, ENT_DIR);
		e->mode = st->st_mode & 07777;
		e->mtime = st->st_mtim.tv_sec;
	}
	if (skip && !w->ig->any_negation && !holds_dockerfile(w, rel))
		return 0;
	return walk_dir(w, abs, rel, depth + 1, err);
}

static int add_file(struct walk *w, const char *abs, const char *rel, const struct stat *st,
		    struct occ_error *err)
{
	char target[PATH_MAX];
	struct entry *e;
	ssize_t n;

	if (S_ISREG(st->st_mode) && (uint64_t)st->st_size > MAX_FILE_SIZE)
		return occ_error_set(err, OCC_EINVALID,
				     "'%s' is too large for the build context", abs);
	e = add_entry(w->t, rel, S_ISREG(st->st_mode) ? ENT_FILE : ENT_LINK);
	e->mode = st->st_mode & 07777;
	e->mtime = st->st_mtim.tv_sec;
	if (e->type == ENT_FILE) {
		e->path = occ_xstrdup(abs);
		e->size = (uint64_t)st->st_size;
		return 0;
	}
	n = readlink(abs, target, sizeof(target) - 1);
	if (n < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot read symlink '%s'", abs);
	e->link = occ_xstrndup(target, (size_t)n);
	return 0;
}

static int add_path(struct walk *w, const char *abs, const char *rel, int depth,
		    struct occ_error *err)
{
	bool skip = excluded(w, rel);
	struct stat st;

	if (lstat(abs, &st) < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot stat '%s'", abs);
	if (S_ISDIR(st.st_mode))
		return add_dir(w, abs, rel, &st, skip, depth, err);
	if (skip || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
		return 0;          /* sockets, fifos, devices: not build input */
	return add_file(w, abs, rel, &st, err);
}

static int walk_dir(struct walk *w, const char *abs, const char *rel, int depth,
		    struct occ_error *err)
{
	struct occ_docker_strv names = { 0 };
	int ret;

	if (depth > MAX_DEPTH)
		return occ_error_set(err, OCC_EINVALID,
				     "build context '%s' is nested more than %d levels deep", abs,
				     MAX_DEPTH);
	ret = list_dir(&names, abs, err);
	for (size_t i = 0; !ret && i < names.n; i++) {
		char *cabs = occ_xasprintf("%s/%s", abs, names.v[i]);
		char *crel = rel ? occ_xasprintf("%s/%s", rel, names.v[i])
				 : occ_xstrdup(names.v[i]);

		/* occ's own CA directory replaces one of the same name. */
		if (rel || strcmp(crel, OCC_DOCKER_CA_DIR) != 0)
			ret = add_path(w, cabs, crel, depth, err);
		free(cabs);
		free(crel);
		if (!ret && w->t->n > OCC_DOCKER_TAR_MAX_ENTRIES)
			ret = occ_error_set(err, OCC_EINVALID,
					    "build context has more than %d files",
					    OCC_DOCKER_TAR_MAX_ENTRIES);
	}
	occ_docker__strv_release(&names);
	return ret;
}

static int read_ignore(struct occ_docker_ignore *ig, const char *context, struct occ_error *err)
{
	char *path = occ_xasprintf("%s/.dockerignore", context);
	char *text = NULL;
	size_t len = 0;
	int ret = occ_read_file(path, MAX_IGNORE_FILE, &text, &len, err);

	memset(ig, 0, sizeof(*ig));
	if (ret == OCC_ENOTFOUND)
		ret = 0;
	else if (ret == 0)
		occ_docker__ignore_parse(ig, text, len);
	free(text);
	free(path);
	return ret;
}

static int add_extra(struct occ_docker_tar *t, char *const *files, size_t n,
		     struct occ_error *err)
{
	struct entry *e = add_entry(t, OCC_DOCKER_CA_DIR, ENT_DIR);

	e->mode = 0755;
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		char *name = occ_xasprintf("%s/%s", OCC_DOCKER_CA_DIR, base);
		struct stat st;

		for (size_t j = 0; j < t->n; j++) {
			if (strcmp(t->ents[j].name, name) == 0) {
				free(name);
				name = occ_xasprintf("%s/%zu-%s", OCC_DOCKER_CA_DIR, i, base);
				break;
			}
		}
		if (stat(files[i], &st) < 0) {
			int e_no = errno;

			free(name);
			return occ_error_errno(err, e_no == ENOENT ? OCC_ENOTFOUND : OCC_EIO, e_no,
					       "cannot use CA certificate '%s'", files[i]);
		}
		if (!S_ISREG(st.st_mode)) {
			free(name);
			return occ_error_set(err, OCC_EINVALID,
					     "CA certificate '%s' is not a regular file", files[i]);
		}
		e = add_entry(t, name, ENT_FILE);
		free(name);
		e->path = occ_xstrdup(files[i]);
		e->size = (uint64_t)st.st_size;
		e->mode = 0644;
		e->mtime = st.st_mtim.tv_sec;
	}
	return 0;
}

static bool valid_mem_name(const char *name)
{
	char *clean;
	bool ok;

	if (!name || !*name || name[0] == '/')
		return false;
	clean = clean_path(name);
	ok = strcmp(clean, name) == 0 && strcmp(clean, OCC_DOCKER_CA_DIR) != 0 &&
	     strncmp(clean, OCC_DOCKER_CA_DIR "/", sizeof(OCC_DOCKER_CA_DIR)) != 0;
	free(clean);
	return ok;
}

int occ_docker__tar_new_mem(struct occ_docker_tar **out, const struct occ_docker_file *files,
			    size_t n, char *const *extra_files, size_t n_extra,
			    struct occ_error *err)
{
	struct occ_docker_tar *t = occ_xcalloc(1, sizeof(*t));
	int ret = 0;

	t->fd = -1;
	occ_strbuf_init(&t->pending);
	for (size_t i = 0; i < n && !ret; i++) {
		struct entry *e;

		if (!valid_mem_name(files[i].name) || files[i].size > MAX_FILE_SIZE) {
			ret = occ_error_set(err, OCC_EINVALID,
					    "invalid build context file '%s'",
					    files[i].name ? files[i].name : "(null)");
			break;
		}
		e = add_entry(t, files[i].name, ENT_FILE);
		e->data = files[i].data;
		e->size = files[i].size;
		e->mode = files[i].mode & 07777;
	}
	if (!ret)
		ret = add_extra(t, extra_files, n_extra, err);
	if (ret) {
		occ_docker__tar_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

int occ_docker__tar_new(struct occ_docker_tar **out, const char *context_dir,
			const char *dockerfile, char *const *extra_files, size_t n_extra,
			struct occ_error *err)
{
	struct occ_docker_tar *t = occ_xcalloc(1, sizeof(*t));
	struct occ_docker_ignore ig;
	struct walk w = { .t = t, .ig = &ig };
	char *df = clean_path(dockerfile ? dockerfile : "Dockerfile");
	int ret;

	t->fd = -1;
	occ_strbuf_init(&t->pending);
	w.dockerfile = df;
	ret = read_ignore(&ig, context_dir, err);
	if (ret)
		goto out;
	ret = walk_dir(&w, context_dir, NULL, 0, err);
	if (!ret)
		ret = add_extra(t, extra_files, n_extra, err);
	occ_docker__ignore_release(&ig);
out:
	free(df);
	if (ret) {
		occ_docker__tar_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void occ_docker__tar_free(struct occ_docker_tar *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->ents[i].name);
		free(t->ents[i].path);
		free(t->ents[i].link);
	}
	free(t->ents);
	if (t->fd >= 0)
		close(t->fd);
	occ_strbuf_release(&t->pending);
	free(t);
}

/* ---- producing the stream ----------------------------------------------- */

/* width - 1 zero-padded octal digits and a NUL; callers keep v in range. */
static void octal(char *dst, size_t width, uint64_t v)
{
	dst[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		dst[i] = (char)('0' + (v & 7));
}

/* Split name into ustar's prefix (<= 155) and name (<= 100) fields. */
static bool ustar_split(const char *name, size_t *prefix_len)
{
	size_t len = strlen(name);

	*prefix_len = 0;
	if (len <= 100)
		return true;
	for (size_t i = len - 1; i > 0; i--) {
		if (name[i] != '/' || i == len - 1)
			continue;
		if (len - i - 1 > 100)
			return false;
		if (i <= 155) {
			*prefix_len = i;
			return true;
		}
	}
	return false;
}

static void header_block(struct occ_strbuf *out, const char *name, char type, unsigned mode,
			 uint64_t size, int64_t mtime, const char *link)
{
	unsigned char h[BLOCK];
	char *f = (char *)h;
	size_t prefix = 0, nlen;
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	if (!ustar_split(name, &prefix))
		prefix = 0;        /* a PAX record carries the full name */
	nlen = strlen(name + (prefix ? prefix + 1 : 0));
	memcpy(f, name + (prefix ? prefix + 1 : 0), nlen < 100 ? nlen : 100);
	memcpy(f + 345, name, prefix);
	octal(f + 100, 8, mode);
	octal(f + 108, 8, 0);
	octal(f + 116, 8, 0);
	octal(f + 124, 12, size);
	octal(f + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
	memset(f + 148, ' ', 8);
	f[156] = type;
	if (link)
		memcpy(f + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(f + 257, "ustar", 6);
	memcpy(f + 263, "00", 2);
	memcpy(f + 265, "root", 4);
	memcpy(f + 297, "root", 4);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf(f + 148, 8, "%06o", sum);
	occ_strbuf_add(out, h, sizeof(h));
}

static void pad_block(struct occ_strbuf *out, uint64_t size)
{
	static const char zero[BLOCK];

	if (size % BLOCK)
		occ_strbuf_add(out, zero, BLOCK - size % BLOCK);
}

/* "<len> key=value\n", where len counts the whole record, its digits too. */
static void pax_record(struct occ_strbuf *out, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1;
	char digits[24];

	for (;;) {
		size_t d = (size_t)snprintf(digits, sizeof(digits), "%zu", len);

		if (body + d == len)
			break;
		len = body + d;
	}
	occ_strbuf_addf(out, "%zu %s=%s\n", len, key, value);
}

static void queue_entry(struct occ_docker_tar *t, const struct entry *e)
{
	static const char types[] = { [ENT_FILE] = '0', [ENT_DIR] = '5', [ENT_LINK] = '2' };
	char *name = e->type == ENT_DIR ? occ_xasprintf("%s/", e->name) : occ_xstrdup(e->name);
	bool long_link = e->link && strlen(e->link) > 100;
	size_t prefix;

	if (!ustar_split(name, &prefix) || long_link) {
		struct occ_strbuf pax = OCC_STRBUF_INIT;

		occ_strbuf_init(&pax);
		pax_record(&pax, "path", name);
		if (long_link)
			pax_record(&pax, "linkpath", e->link);
		header_block(&t->pending, "././@PaxHeader", 'x', 0644, pax.len, e->mtime, NULL);
		occ_strbuf_add(&t->pending, pax.buf, pax.len);
		pad_block(&t->pending, pax.len);
		occ_strbuf_release(&pax);
	}
	header_block(&t->pending, name, types[e->type], e->mode,
		     e->type == ENT_FILE ? e->size : 0, e->mtime, e->link);
	free(name);
}

static int open_next(struct occ_docker_tar *t, struct occ_error *err)
{
	static const char trailer[2 * BLOCK];
	const struct entry *e;

	if (t->next == t->n) {
		occ_strbuf_add(&t->pending, trailer, sizeof(trailer));
		t->done = true;
		return 0;
	}
	e = &t->ents[t->next++];
	if (e->data) {
		queue_entry(t, e);
		occ_strbuf_add(&t->pending, e->data, (size_t)e->size);
		pad_block(&t->pending, e->size);
		return 0;
	}
	if (e->type == ENT_FILE && e->size) {
		t->fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (t->fd < 0)
			return occ_error_errno(err, OCC_EIO, errno, "cannot open '%s'", e->path);
		t->cur = e;
		t->left = e->size;
	}
	queue_entry(t, e);
	return 0;
}

static int read_file(struct occ_docker_tar *t, char *buf, size_t cap, size_t *got,
		     struct occ_error *err)
{
	size_t want = cap < t->left ? cap : (size_t)t->left;
	ssize_t r;

	do
		r = read(t->fd, buf, want);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot read '%s'", t->cur->path);
	if (r == 0)
		return occ_error_set(err, OCC_EIO,
				     "'%s' shrank while the build context was being sent",
				     t->cur->path);
	t->left -= (uint64_t)r;
	*got = (size_t)r;
	if (!t->left) {
		close(t->fd);
		t->fd = -1;
		pad_block(&t->pending, t->cur->size);
	}
	return 0;
}

static size_t drain(struct occ_docker_tar *t, char *buf, size_t cap)
{
	size_t k = t->pending.len - t->pending_off;

	if (k > cap)
		k = cap;
	memcpy(buf, t->pending.buf + t->pending_off, k);
	t->pending_off += k;
	if (t->pending_off == t->pending.len) {
		occ_strbuf_reset(&t->pending);
		t->pending_off = 0;
	}
	return k;
}

int occ_docker__tar_read(struct occ_docker_tar *t, char *buf, size_t cap, size_t *out_n,
			 struct occ_error *err)
{
	size_t n = 0, k = 0;
	int ret = 0;

	while (n < cap && !ret) {
		if (t->pending_off < t->pending.len) {
			n += drain(t, buf + n, cap - n);
		} else if (t->fd >= 0) {
			ret = read_file(t, buf + n, cap - n, &k, err);
			n += ret ? 0 : k;
		} else if (t->done) {
			break;
		} else {
			ret = open_next(t, err);
		}
	}
	if (!ret)
		*out_n = n;
	return ret;
}
