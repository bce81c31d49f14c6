/*
 * debian-mirror.c - the pure part of making a Debian base (docker-base.h):
 * which mirror apt uses, which suite a base image names, the import query,
 * and whether a failed pull means "no registry reachable".
 *
 * apt's two source formats are read as sources.list(5) describes them; only
 * what picking a mirror needs: entry type, URIs, suites, Enabled. Options in
 * brackets ("[arch=amd64 signed-by=...]") are skipped, not interpreted.
 */
#include "drivers/docker/docker-base.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers/docker/docker-int.h"

/* ---- words ---------------------------------------------------------------- */

/* The next whitespace-separated word of [*p, end), or NULL at the end. */
static const char *next_word(const char **p, const char *end, size_t *n)
{
	const char *s = *p, *w;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s == end) {
		*p = s;
		return NULL;
	}
	w = s;
	while (s < end && !isspace((unsigned char)*s))
		s++;
	*n = (size_t)(s - w);
	*p = s;
	return w;
}

static bool word_in(const char *list, size_t len, const char *want)
{
	const char *p = list, *end = list + len, *w;
	size_t n, wl = strlen(want);

	while ((w = next_word(&p, end, &n)))
		if (n == wl && strncmp(w, want, n) == 0)
			return true;
	return false;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncmp(s + n - k, suffix, k) == 0;
}

static bool contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (strncmp(s + i, needle, k) == 0)
			return true;
	return false;
}

/* ---- one entry -------------------------------------------------------------- */

static bool usable_uri(const char *u, size_t n)
{
	if (n > OCC_BASE_MAX_URI)
		return false;
	if (!(n > 7 && strncmp(u, "http://", 7) == 0) && !(n > 8 && strncmp(u, "https://", 8) == 0))
		return false;   /* cdrom:, file:, mirror+, tor+http:, ... */
	return !contains(u, n, "debian-security") && !contains(u, n, "security.debian.org");
}

static enum occ_mirror_rank suite_rank(const char *s, size_t n, const char *suite)
{
	size_t k = strlen(suite);

	if (has_suffix(s, n, "-security") || contains(s, n, "/updates"))
		return OCC_MIRROR_NONE;
	if (n == k && strncmp(s, suite, k) == 0)
		return OCC_MIRROR_EXACT;
	if (n > k && strncmp(s, suite, k) == 0 && s[k] == '-')
		return OCC_MIRROR_RELATED;   /* bookworm-updates, bookworm-backports */
	return OCC_MIRROR_NONE;
}

struct pick {
	enum occ_mirror_rank rank;
	char *uri;
};

/* Consider the entry (URIs and suites as word lists); keep it when it ranks
 * better than what was seen. */
static void consider(struct pick *best, const char *uris, size_t ulen, const char *suites,
		     size_t slen, const char *suite)
{
	enum occ_mirror_rank rank = OCC_MIRROR_NONE;
	const char *p = suites, *w;
	size_t n;

	while ((w = next_word(&p, suites + slen, &n))) {
		enum occ_mirror_rank r = suite_rank(w, n, suite);

		if (r > rank)
			rank = r;
	}
	if (rank <= best->rank)
		return;
	p = uris;
	while ((w = next_word(&p, uris + ulen, &n))) {
		if (!usable_uri(w, n))
			continue;
		while (n > 1 && w[n - 1] == '/')
			n--;
		free(best->uri);
		best->uri = occ_xstrndup(w, n);
		best->rank = rank;
		return;
	}
}

/* ---- one-line format -------------------------------------------------------- */

static void one_line(struct pick *best, const char *line, size_t len, const char *suite)
{
	const char *p = line, *end = line + len, *w, *uri;
	size_t n, un;

	w = next_word(&p, end, &n);
	if (!w || n != 3 || strncmp(w, "deb", 3) != 0)
		return;                       /* comments, deb-src, blank lines */
	w = next_word(&p, end, &n);
	if (w && *w == '[') {                 /* options, possibly spaced out */
		while (w && w[n - 1] != ']')
			w = next_word(&p, end, &n);
		w = w ? next_word(&p, end, &n) : NULL;
	}
	if (!w)
		return;
	uri = w;
	un = n;
	w = next_word(&p, end, &n);
	if (w)
		consider(best, uri, un, w, n, suite);
}

/* ---- deb822 ------------------------------------------------------------------- */

enum { F_TYPES, F_URIS, F_SUITES, F_ENABLED, F_N };
static const char *const field_names[F_N] = { "Types", "URIs", "Suites", "Enabled" };

struct stanza {
	struct occ_strbuf f[F_N];
	int cur;                              /* the field a continuation extends, or -1 */
};

static void stanza_end(struct pick *best, struct stanza *st, const char *suite)
{
	const char *en = occ_strbuf_str(&st->f[F_ENABLED]);

	if (word_in(occ_strbuf_str(&st->f[F_TYPES]), st->f[F_TYPES].len, "deb") &&
	    !word_in(en, strlen(en), "no"))
		consider(best, occ_strbuf_str(&st->f[F_URIS]), st->f[F_URIS].len,
			 occ_strbuf_str(&st->f[F_SUITES]), st->f[F_SUITES].len, suite);
	for (int i = 0; i < F_N; i++)
		occ_strbuf_reset(&st->f[i]);
	st->cur = -1;
}

static void stanza_line(struct stanza *st, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);

	if (isspace((unsigned char)line[0])) {          /* continuation */
		if (st->cur >= 0) {
			occ_strbuf_addc(&st->f[st->cur], ' ');
			occ_strbuf_add(&st->f[st->cur], line, len);
		}
		return;
	}
	st->cur = -1;
	if (!colon)
		return;
	for (int i = 0; i < F_N; i++) {
		size_t k = strlen(field_names[i]);

		if ((size_t)(colon - line) == k && strncasecmp(line, field_names[i], k) == 0) {
			st->cur = i;
			occ_strbuf_reset(&st->f[i]);
			occ_strbuf_add(&st->f[i], colon + 1, len - (size_t)(colon + 1 - line));
			return;
		}
	}
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

enum occ_mirror_rank occ_docker__mirror_in_text(char **out, const char *text, size_t len,
						bool deb822, const char *suite)
{
	struct pick best = { OCC_MIRROR_NONE, NULL };
	struct stanza st = { .cur = -1 };
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!deb822)
			one_line(&best, p, n, suite);
		else if (blank(p, n))
			stanza_end(&best, &st, suite);
		else if (p[0] != '#')
			stanza_line(&st, p, n);
		p += n + (nl != NULL);
	}
	if (deb822)
		stanza_end(&best, &st, suite);
	for (int i = 0; i < F_N; i++)
		occ_strbuf_release(&st.f[i]);
	if (best.rank != OCC_MIRROR_NONE)
		*out = best.uri;
	return best.rank;
}

/* ---- the files apt reads ---------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void consider_file(struct pick *best, const char *path, bool deb822, const char *suite)
{
	struct occ_error err;
	char *text = NULL, *uri = NULL;
	size_t len;
	enum occ_mirror_rank rank;

	if (occ_read_file(path, OCC_BASE_MAX_SOURCES, &text, &len, &err) != 0)
		return;
	rank = occ_docker__mirror_in_text(&uri, text, len, deb822, suite);
	if (rank > best->rank) {
		free(best->uri);
		best->uri = uri;
		best->rank = rank;
		uri = NULL;
	}
	free(uri);
	free(text);
}

/* sources.list.d/: *.list and *.sources, in name order. */
static void consider_dir(struct pick *best, const char *dir, const char *suite)
{
	struct occ_docker_strv names = { 0 };
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) && names.n < 1000) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] != '.' && (has_suffix(de->d_name, n, ".list") ||
					     has_suffix(de->d_name, n, ".sources")))
			occ_docker__strv_push(&names, de->d_name);
	}
	closedir(d);
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		char *path = occ_xasprintf("%s/%s", dir, names.v[i]);

		consider_file(best, path, has_suffix(names.v[i], strlen(names.v[i]), ".sources"),
			      suite);
		free(path);
	}
	occ_docker__strv_release(&names);
}

bool occ_docker__mirror_find(char **out, const char *apt_dir, const char *suite)
{
	struct pick best = { OCC_MIRROR_NONE, NULL };
	char *path = occ_xasprintf("%s/sources.list", apt_dir);

	consider_file(&best, path, false, suite);
	free(path);
	path = occ_xasprintf("%s/sources.list.d", apt_dir);
	consider_dir(&best, path, suite);
	free(path);
	*out = best.uri ? best.uri : occ_xstrdup(OCC_BASE_DEFAULT_MIRROR);
	return best.uri != NULL;
}

/* ---- references ------------------------------------------------------------- */

/* ref split at its tag: repo (malloc'd) and tag (in ref, "latest" without). */
static char *split_ref(const char *ref, const char **tag)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');

	*tag = colon ? colon + 1 : "latest";
	return colon ? occ_xstrndup(ref, (size_t)(colon - ref)) : occ_xstrdup(ref);
}

bool occ_docker__base_suite(char *out, size_t cap, const char *ref)
{
	static const char *const repos[] = { "debian", "library/debian",
					     "docker.io/library/debian",
					     "index.docker.io/library/debian" };
	const char *tag;
	char *repo;
	bool ok = false;
	size_t n;

	if (strchr(ref, '@'))
		return false;
	repo = split_ref(ref, &tag);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(repos); i++)
		ok = ok || strcmp(repo, repos[i]) == 0;
	free(repo);
	n = strlen(tag);
	if (has_suffix(tag, n, "-slim"))
		n -= 5;
	for (size_t i = 0; i < n; i++)
		ok = ok && islower((unsigned char)tag[i]);
	if (!ok || n == 0 || n >= cap || (n == 6 && strncmp(tag, "latest", 6) == 0))
		return false;
	memcpy(out, tag, n);
	out[n] = '\0';
	return true;
}

char *occ_docker__dockerfile_arg(const char *text, size_t len, const char *name)
{
	const char *p = text, *end = text + len;
	size_t k = strlen(name);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *q = p, *w;
		size_t wn;

		w = next_word(&q, p + n, &wn);
		if (w && wn == 3 && strncasecmp(w, "ARG", 3) == 0 &&
		    (w = next_word(&q, p + n, &wn)) && wn > k + 1 &&
		    strncmp(w, name, k) == 0 && w[k] == '=')
			return occ_xstrndup(w + k + 1, wn - k - 1);
		p += n + (nl != NULL);
	}
	return NULL;
}

int occ_docker__import_path(struct occ_strbuf *out, const char *ref, const char *tool,
			    struct occ_error *err)
{
	static const char *const changes[] = {
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"CMD [\"bash\"]",
	};
	const char *tag;
	char *repo, *label;

	if (strchr(ref, '@'))
		return occ_error_set(err, OCC_EINVALID,
				     "cannot import image '%s': a digest cannot be made", ref);
	repo = split_ref(ref, &tag);
	occ_strbuf_adds(out, "/images/create?fromSrc=-&repo=");
	occ_docker__url_escape(out, repo);
	occ_strbuf_adds(out, "&tag=");
	occ_docker__url_escape(out, tag);
	label = occ_xasprintf("LABEL %s=%s", OCC_BASE_LABEL, tool);
	occ_strbuf_adds(out, "&changes=");
	occ_docker__url_escape(out, label);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(changes); i++) {
		occ_strbuf_adds(out, "&changes=");
		occ_docker__url_escape(out, changes[i]);
	}
	occ_strbuf_adds(out, "&message=");
	occ_docker__url_escape(out, "made by occ from the Debian mirror (no registry reachable)");
	free(label);
	free(repo);
	return 0;
}

/* ---- pull failures ------------------------------------------------------------ */

bool occ_docker__pull_unreachable(const char *msg)
{
	static const char *const marks[] = {
		"dial tcp", "no such host", "connection refused", "network is unreachable",
		"no route to host", "i/o timeout", "TLS handshake timeout",
		"Client.Timeout exceeded", "context deadline exceeded", "connection reset",
		"proxyconnect", "server misbehaving", "temporary failure in name resolution",
		"x509: certificate",
	};

	if (!msg)
		return false;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(marks); i++)
		for (const char *p = msg; *p; p++)
			if (strncasecmp(p, marks[i], strlen(marks[i])) == 0)
				return true;
	return false;
}
