/*
 * test-docker-stream.c - the Docker driver's byte-level pure parts: the JSON
 * line splitter, the logs demultiplexer, .dockerignore matching and the
 * build-context tar writer (read back with a small ustar reader here).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/docker/docker-int.h"

/* ---- lines -------------------------------------------------------------- */

static int collect_line(void *ctx, const char *line, size_t n, struct occ_error *err)
{
	(void)err;
	occ_strbuf_add(ctx, line, n);
	occ_strbuf_addc(ctx, '|');
	return 0;
}

static int fail_line(void *ctx, const char *line, size_t n, struct occ_error *err)
{
	(void)ctx;
	(void)line;
	(void)n;
	return occ_error_set(err, OCC_EAPI, "stop");
}

/* Feed the same text in chunks of every size: the result never changes. */
START_TEST(test_lines_chunks)
{
	static const char text[] = "{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}\r\n{\"tail\":4}";
	size_t chunk = (size_t)_i + 1, len = strlen(text);
	struct occ_strbuf got = OCC_STRBUF_INIT;
	struct occ_docker_lines l;
	struct occ_error err;

	occ_error_clear(&err);
	occ_strbuf_init(&got);
	occ_docker__lines_init(&l, collect_line, &got);
	for (size_t off = 0; off < len; off += chunk)
		ck_assert_int_eq(occ_docker__lines_feed(&l, text + off,
							len - off < chunk ? len - off : chunk, &err), 0);
	ck_assert_int_eq(occ_docker__lines_finish(&l, &err), 0);
	ck_assert_str_eq(got.buf, "{\"a\":1}|{\"b\":2}|{\"c\":3}|{\"tail\":4}|");
	occ_docker__lines_release(&l);
	occ_strbuf_release(&got);
}
END_TEST

START_TEST(test_lines_limits)
{
	struct occ_docker_lines l;
	struct occ_error err;
	char *big = occ_xmalloc(OCC_DOCKER_MAX_LINE + 2);

	occ_error_clear(&err);
	memset(big, 'x', OCC_DOCKER_MAX_LINE + 1);
	big[OCC_DOCKER_MAX_LINE + 1] = '\n';
	occ_docker__lines_init(&l, fail_line, NULL);
	ck_assert_int_eq(occ_docker__lines_feed(&l, big, OCC_DOCKER_MAX_LINE + 2, &err), OCC_EAPI);
	ck_assert_msg(strstr(err.msg, "longer than"), "%s", err.msg);
	occ_docker__lines_release(&l);
	occ_docker__lines_init(&l, fail_line, NULL);
	ck_assert_int_eq(occ_docker__lines_feed(&l, "a\nb\n", 4, &err), OCC_EAPI);
	ck_assert_str_eq(err.msg, "stop");
	occ_docker__lines_release(&l);
	free(big);
}
END_TEST

/* ---- demux -------------------------------------------------------------- */

struct demuxed {
	struct occ_strbuf out, err;
};

static void demux_write(void *ctx, int stream, const char *data, size_t n)
{
	struct demuxed *d = ctx;

	occ_strbuf_add(stream == 2 ? &d->err : &d->out, data, n);
}

static size_t frame(char *dst, int stream, const char *payload)
{
	size_t n = strlen(payload);

	dst[0] = (char)stream;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (char)(n >> 24);
	dst[5] = (char)(n >> 16);
	dst[6] = (char)(n >> 8);
	dst[7] = (char)n;
	memcpy(dst + 8, payload, n);
	return n + 8;
}

START_TEST(test_demux_chunks)
{
	size_t chunk = (size_t)_i + 1, len = 0;
	struct occ_docker_demux dm;
	struct demuxed d;
	struct occ_error err;
	char buf[256];

	occ_error_clear(&err);
	occ_strbuf_init(&d.out);
	occ_strbuf_init(&d.err);
	len += frame(buf + len, 1, "hello\n");
	len += frame(buf + len, 2, "oops\n");
	len += frame(buf + len, 1, "");
	len += frame(buf + len, 0, "in");
	len += frame(buf + len, 1, "world\n");
	occ_docker__demux_init(&dm, false, demux_write, &d);
	for (size_t off = 0; off < len; off += chunk)
		ck_assert_int_eq(occ_docker__demux_feed(&dm, buf + off,
							len - off < chunk ? len - off : chunk, &err), 0);
	ck_assert_str_eq(d.out.buf, "hello\ninworld\n");
	ck_assert_str_eq(d.err.buf, "oops\n");
	occ_strbuf_release(&d.out);
	occ_strbuf_release(&d.err);
}
END_TEST

START_TEST(test_demux_raw_and_bad)
{
	struct occ_docker_demux dm;
	struct demuxed d;
	struct occ_error err;
	char buf[32];
	size_t len;

	occ_error_clear(&err);
	occ_strbuf_init(&d.out);
	occ_strbuf_init(&d.err);
	occ_docker__demux_init(&dm, true, demux_write, &d);
	ck_assert_int_eq(occ_docker__demux_feed(&dm, "\x01\x00tty text", 10, &err), 0);
	ck_assert_uint_eq(d.out.len, 10);
	ck_assert_uint_eq(d.err.len, 0);
	len = frame(buf, 7, "x");
	occ_docker__demux_init(&dm, false, demux_write, &d);
	ck_assert_int_eq(occ_docker__demux_feed(&dm, buf, len, &err), OCC_EAPI);
	len = frame(buf, 1, "x");
	buf[2] = 1;
	occ_docker__demux_init(&dm, false, demux_write, &d);
	ck_assert_int_eq(occ_docker__demux_feed(&dm, buf, len, &err), OCC_EAPI);
	occ_strbuf_release(&d.out);
	occ_strbuf_release(&d.err);
}
END_TEST

/* ---- .dockerignore ------------------------------------------------------ */

struct glob_case {
	const char *pattern, *path;
	bool match;
};

static const struct glob_case glob_cases[] = {
	{ "*.md", "README.md", true },
	{ "*.md", "docs/README.md", false },
	{ "**/*.md", "docs/README.md", true },
	{ "**/*.md", "README.md", true },
	{ "docs/**", "docs/a/b", true },
	{ "a/**/b", "a/b", true },
	{ "a/**/b", "a/x/y/b", true },
	{ "a/**/b", "a/x/y/c", false },
	{ "?.txt", "a.txt", true },
	{ "?.txt", "ab.txt", false },
	{ "[a-c]*", "bee", true },
	{ "[!a-c]*", "bee", false },
	{ "[abc", "[abc", true },
	{ "x\\*", "x*", true },
	{ "x\\*", "xy", false },
	{ "node_modules", "node_modules", true },
	{ "*", "a/b", false },
};

START_TEST(test_glob)
{
	const struct glob_case *t = &glob_cases[_i];

	ck_assert_msg(occ_docker__glob(t->pattern, t->path) == t->match, "'%s' vs '%s'",
		      t->pattern, t->path);
}
END_TEST

struct ignore_case {
	const char *path;
	bool ignored;
};

static const char ignore_text[] =
	"# comment\n"
	"\n"
	"  node_modules  \n"
	"/build/\n"
	"*.log\n"
	"!keep.log\n"
	"docs/**/*.tmp\n"
	"secret\r\n"
	"./cache/./x/../y\n";

static const struct ignore_case ignore_cases[] = {
	{ "node_modules", true },
	{ "node_modules/pkg/index.js", true },
	{ "src/node_modules", false },
	{ "build", true },
	{ "build/out.o", true },
	{ "debug.log", true },
	{ "keep.log", false },
	{ "logs/debug.log", false },
	{ "docs/a/b/c.tmp", true },
	{ "docs/c.tmp", true },
	{ "secret", true },
	{ "cache/y", true },
	{ "cache/x", false },
	{ "Dockerfile", false },
};

START_TEST(test_ignore)
{
	const struct ignore_case *t = &ignore_cases[_i];
	struct occ_docker_ignore ig;

	occ_docker__ignore_parse(&ig, ignore_text, strlen(ignore_text));
	ck_assert(ig.any_negation);
	ck_assert_msg(occ_docker__ignore_match(&ig, t->path) == t->ignored, "'%s'", t->path);
	occ_docker__ignore_release(&ig);
}
END_TEST

/* ---- tar ---------------------------------------------------------------- */

static char *tmpdir;

static void put_file(const char *rel, const char *content, unsigned mode)
{
	char *path = occ_xasprintf("%s/%s", tmpdir, rel);
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_write_file_atomic(path, content, strlen(content), mode, &err), 0);
	free(path);
}

static void put_dir(const char *rel)
{
	char *path = occ_xasprintf("%s/%s", tmpdir, rel);
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_mkdir_p(path, 0755, &err), 0);
	free(path);
}

static void rm_rf(const char *path)
{
	char *cmd = occ_xasprintf("rm -rf '%s'", path);

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* A made-up tree: files, a directory to ignore, a symlink, long names. */
static void make_context(void)
{
	char tmpl[] = "/tmp/occ-test-tar-XXXXXX";
	char *longdir, *longer, *link;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	tmpdir = occ_xstrdup(tmpl);
	put_file("Dockerfile", "FROM scratch\n", 0644);
	put_file(".dockerignore", "ignored\n*.log\nDockerfile\n", 0644);
	put_file("run.sh", "#!/bin/sh\necho hi\n", 0755);
	put_file("empty", "", 0600);
	put_file("debug.log", "noise", 0644);
	put_dir("ignored/deep");
	put_file("ignored/deep/x", "x", 0644);
	put_dir(OCC_DOCKER_CA_DIR);
	put_file(OCC_DOCKER_CA_DIR "/stale.crt", "stale", 0644);
	longdir = occ_xasprintf("%0120d", 0);
	put_dir(longdir);
	longer = occ_xasprintf("%s/%0150d", longdir, 1);
	put_file(longer, "deep file", 0644);
	free(longer);
	longer = occ_xasprintf("%s/short", longdir);
	put_file(longer, "prefixed", 0644);
	link = occ_xasprintf("%s/link", tmpdir);
	ck_assert_int_eq(symlink("run.sh", link), 0);
	put_file("big", "", 0644);
	free(longdir);
	free(longer);
	free(link);
}

struct tar_ent {
	char name[1024];
	char type;
	unsigned mode;
	size_t size;
	char link[256];
	char *data;
};

static unsigned long octal(const char *f, size_t n)
{
	char buf[16];

	memcpy(buf, f, n);
	buf[n] = '\0';
	return strtoul(buf, NULL, 8);
}

static void check_checksum(const unsigned char *h)
{
	unsigned sum = 0;

	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	ck_assert_uint_eq(sum, octal((const char *)h + 148, 7));
}

/* Parse a ustar archive (with PAX 'path' records) into ents. */
static size_t read_tar(const char *buf, size_t len, struct tar_ent *ents, size_t max)
{
	size_t off = 0, n = 0;
	char pax_path[1024] = "";

	while (off + 512 <= len) {
		const unsigned char *h = (const unsigned char *)buf + off;
		struct tar_ent *e = &ents[n];
		size_t size;

		if (h[0] == 0)
			break;
		check_checksum(h);
		ck_assert_int_eq(memcmp(h + 257, "ustar", 6), 0);
		ck_assert_uint_eq(octal((const char *)h + 108, 7), 0);
		size = octal((const char *)h + 124, 11);
		if (h[156] == 'x') {
			const char *rec = strstr(buf + off + 512, " path=");

			ck_assert_ptr_nonnull(rec);
			snprintf(pax_path, sizeof(pax_path), "%.*s",
				 (int)strcspn(rec + 6, "\n"), rec + 6);
			off += 512 + (size + 511) / 512 * 512;
			continue;
		}
		ck_assert_uint_lt(n, max);
		memset(e, 0, sizeof(*e));
		if (pax_path[0])
			snprintf(e->name, sizeof(e->name), "%s", pax_path);
		else if (h[345])
			snprintf(e->name, sizeof(e->name), "%.155s/%.100s", (const char *)h + 345,
				 (const char *)h);
		else
			snprintf(e->name, sizeof(e->name), "%.100s", (const char *)h);
		pax_path[0] = '\0';
		e->type = (char)h[156];
		e->mode = (unsigned)octal((const char *)h + 100, 7);
		e->size = size;
		snprintf(e->link, sizeof(e->link), "%.100s", (const char *)h + 157);
		e->data = occ_xstrndup(buf + off + 512, size);
		off += 512 + (size + 511) / 512 * 512;
		n++;
	}
	ck_assert_uint_eq(len % 512, 0);
	ck_assert_uint_ge(len - off, 1024);
	return n;
}

static const struct tar_ent *find(const struct tar_ent *ents, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ents[i].name, name) == 0)
			return &ents[i];
	return NULL;
}

START_TEST(test_tar_context)
{
	char *ca = NULL, *ca2 = NULL, *longname = NULL;
	char *extra[2];
	struct occ_docker_tar *t = NULL;
	struct occ_strbuf out = OCC_STRBUF_INIT;
	struct tar_ent ents[32];
	const struct tar_ent *e;
	struct occ_error err;
	char buf[700];          /* odd size: headers and data straddle reads */
	size_t n, got;

	occ_error_clear(&err);
	make_context();
	put_dir("certs/a");
	put_dir("certs/b");
	put_file("certs/a/corp.crt", "-----BEGIN CERTIFICATE-----\n", 0600);
	put_file("certs/b/corp.crt", "second", 0600);
	ca = occ_xasprintf("%s/certs/a/corp.crt", tmpdir);
	ca2 = occ_xasprintf("%s/certs/b/corp.crt", tmpdir);
	extra[0] = ca;
	extra[1] = ca2;
	ck_assert_int_eq(occ_docker__tar_new(&t, tmpdir, "./Dockerfile", extra, 2, &err), 0);
	occ_strbuf_init(&out);
	do {
		ck_assert_int_eq(occ_docker__tar_read(t, buf, sizeof(buf), &got, &err), 0);
		occ_strbuf_add(&out, buf, got);
	} while (got);
	n = read_tar(out.buf, out.len, ents, OCC_ARRAY_SIZE(ents));

	ck_assert_ptr_nonnull(e = find(ents, n, "Dockerfile"));   /* ignored, sent anyway */
	ck_assert_str_eq(e->data, "FROM scratch\n");
	ck_assert_ptr_nonnull(find(ents, n, ".dockerignore"));
	ck_assert_ptr_nonnull(e = find(ents, n, "run.sh"));
	ck_assert_uint_eq(e->mode, 0755);
	ck_assert_int_eq(e->type, '0');
	ck_assert_ptr_nonnull(e = find(ents, n, "empty"));
	ck_assert_uint_eq(e->size, 0);
	ck_assert_ptr_nonnull(e = find(ents, n, "link"));
	ck_assert_int_eq(e->type, '2');
	ck_assert_str_eq(e->link, "run.sh");
	ck_assert_ptr_null(find(ents, n, "debug.log"));
	ck_assert_ptr_null(find(ents, n, "ignored/"));
	ck_assert_ptr_null(find(ents, n, "ignored/deep/x"));
	ck_assert_ptr_null(find(ents, n, OCC_DOCKER_CA_DIR "/stale.crt"));
	ck_assert_ptr_nonnull(e = find(ents, n, OCC_DOCKER_CA_DIR "/"));
	ck_assert_int_eq(e->type, '5');
	ck_assert_ptr_nonnull(e = find(ents, n, OCC_DOCKER_CA_DIR "/corp.crt"));
	ck_assert_str_eq(e->data, "-----BEGIN CERTIFICATE-----\n");
	ck_assert_uint_eq(e->mode, 0644);
	ck_assert_ptr_nonnull(e = find(ents, n, OCC_DOCKER_CA_DIR "/1-corp.crt"));
	ck_assert_str_eq(e->data, "second");
	longname = occ_xasprintf("%0120d/%0150d", 0, 1);
	ck_assert_ptr_nonnull(e = find(ents, n, longname));   /* via PAX */
	ck_assert_str_eq(e->data, "deep file");
	free(longname);
	longname = occ_xasprintf("%0120d/", 0);
	ck_assert_ptr_nonnull(find(ents, n, longname));       /* via PAX too */
	free(longname);
	longname = occ_xasprintf("%0120d/short", 0);
	ck_assert_ptr_nonnull(e = find(ents, n, longname));   /* via the prefix field */
	ck_assert_str_eq(e->data, "prefixed");

	for (size_t i = 0; i < n; i++)
		free(ents[i].data);
	free(longname);
	occ_docker__tar_free(t);
	occ_strbuf_release(&out);
	free(ca);
	free(ca2);
	rm_rf(tmpdir);
	free(tmpdir);
}
END_TEST

static size_t tar_of(const char *dockerfile, struct tar_ent *ents, size_t max)
{
	struct occ_docker_tar *t = NULL;
	struct occ_strbuf out = OCC_STRBUF_INIT;
	struct occ_error err;
	char buf[4096];
	size_t got, n;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__tar_new(&t, tmpdir, dockerfile, NULL, 0, &err), 0);
	occ_strbuf_init(&out);
	do {
		ck_assert_int_eq(occ_docker__tar_read(t, buf, sizeof(buf), &got, &err), 0);
		occ_strbuf_add(&out, buf, got);
	} while (got);
	n = read_tar(out.buf, out.len, ents, max);
	occ_docker__tar_free(t);
	occ_strbuf_release(&out);
	return n;
}

/* An ignored directory is still walked for the Dockerfile inside it. */
START_TEST(test_tar_dockerfile_in_ignored_dir)
{
	struct tar_ent ents[8];
	char tmpl[] = "/tmp/occ-test-tar-XXXXXX";
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	tmpdir = occ_xstrdup(tmpl);
	put_file(".dockerignore", "build\n", 0644);
	put_dir("build");
	put_file("build/Dockerfile", "FROM scratch\n", 0644);
	put_file("build/other", "x", 0644);
	n = tar_of("build/Dockerfile", ents, OCC_ARRAY_SIZE(ents));
	ck_assert_ptr_nonnull(find(ents, n, "build/Dockerfile"));
	ck_assert_ptr_null(find(ents, n, "build/other"));
	ck_assert_ptr_null(find(ents, n, "build/"));
	ck_assert_ptr_nonnull(find(ents, n, OCC_DOCKER_CA_DIR "/"));
	for (size_t i = 0; i < n; i++)
		free(ents[i].data);
	rm_rf(tmpdir);
	free(tmpdir);
}
END_TEST

/* An in-memory context: the files as given, in order, then the CA directory. */
START_TEST(test_tar_memory)
{
	static unsigned char big[1300];
	const struct occ_docker_file files[] = {
		{ "Dockerfile", (const unsigned char *)"FROM scratch\n", 13, 0644 },
		{ "packages/image/run.sh", (const unsigned char *)"#!/bin/sh\n", 10, 0755 },
		{ "packages/image/empty", (const unsigned char *)"", 0, 0644 },
		{ "packages/image/big", big, sizeof(big), 0644 },
	};
	struct occ_docker_tar *t = NULL;
	struct occ_strbuf out = OCC_STRBUF_INIT;
	struct tar_ent ents[16];
	const struct tar_ent *e;
	struct occ_error err;
	char buf[700], *ca, *extra[1];
	size_t n, got;

	occ_error_clear(&err);
	memset(big, 'x', sizeof(big));
	make_context();
	put_file("corp.pem", "PEM", 0600);
	ca = occ_xasprintf("%s/corp.pem", tmpdir);
	extra[0] = ca;
	ck_assert_int_eq(occ_docker__tar_new_mem(&t, files, OCC_ARRAY_SIZE(files), extra, 1, &err),
			 0);
	occ_strbuf_init(&out);
	do {
		ck_assert_int_eq(occ_docker__tar_read(t, buf, sizeof(buf), &got, &err), 0);
		occ_strbuf_add(&out, buf, got);
	} while (got);
	n = read_tar(out.buf, out.len, ents, OCC_ARRAY_SIZE(ents));
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(ents[0].name, "Dockerfile");
	ck_assert_str_eq(ents[0].data, "FROM scratch\n");
	ck_assert_str_eq(ents[1].name, "packages/image/run.sh");
	ck_assert_uint_eq(ents[1].mode, 0755);
	ck_assert_uint_eq(ents[2].size, 0);
	ck_assert_uint_eq(ents[3].size, sizeof(big));
	ck_assert_uint_eq(strspn(ents[3].data, "x"), sizeof(big));
	ck_assert_str_eq(ents[4].name, OCC_DOCKER_CA_DIR "/");
	ck_assert_ptr_nonnull(e = find(ents, n, OCC_DOCKER_CA_DIR "/corp.pem"));
	ck_assert_str_eq(e->data, "PEM");
	for (size_t i = 0; i < n; i++)
		free(ents[i].data);
	occ_docker__tar_free(t);
	occ_strbuf_release(&out);
	free(ca);
	rm_rf(tmpdir);
	free(tmpdir);
}
END_TEST

START_TEST(test_tar_memory_bad_names)
{
	static const char *const bad[] = { "", "/abs", "a/../b", "./a", "a//b", "a/",
					   OCC_DOCKER_CA_DIR, OCC_DOCKER_CA_DIR "/x.crt" };
	struct occ_docker_tar *t = NULL;
	struct occ_error err;

	for (size_t i = 0; i < OCC_ARRAY_SIZE(bad); i++) {
		struct occ_docker_file f = { bad[i], (const unsigned char *)"x", 1, 0644 };

		occ_error_clear(&err);
		ck_assert_msg(occ_docker__tar_new_mem(&t, &f, 1, NULL, 0, &err) == OCC_EINVALID,
			      "'%s' accepted", bad[i]);
	}
}
END_TEST

/* The embedded opencode image: every file its Dockerfile COPYs is compiled in. */
START_TEST(test_embedded_image_context)
{
	const struct occ_docker_file *df = NULL;
	size_t copies = 0;

	for (size_t i = 0; i < occ_docker__image_n_files; i++)
		if (strcmp(occ_docker__image_files[i].name, "Dockerfile") == 0)
			df = &occ_docker__image_files[i];
	ck_assert_ptr_nonnull(df);
	ck_assert_uint_eq(strlen((const char *)df->data), df->size);
	for (const char *p = (const char *)df->data; (p = strstr(p, "\nCOPY ")); p++) {
		const char *src = p + 6;
		size_t len = strcspn(src, " \n");
		bool found = false;

		if (strncmp(src, OCC_DOCKER_CA_DIR, strlen(OCC_DOCKER_CA_DIR)) == 0)
			continue;
		/* A copy from another build stage takes nothing from the context. */
		if (strncmp(src, "--from=", 7) == 0)
			continue;
		for (size_t i = 0; i < occ_docker__image_n_files; i++)
			found = found || (strlen(occ_docker__image_files[i].name) == len &&
					  strncmp(occ_docker__image_files[i].name, src, len) == 0);
		ck_assert_msg(found, "the Dockerfile copies '%.*s', which is not embedded",
			      (int)len, src);
		copies++;
	}
	ck_assert_uint_ge(copies, 4);
}
END_TEST

START_TEST(test_tar_errors)
{
	struct occ_docker_tar *t = NULL;
	struct occ_error err;
	char *missing = occ_xstrdup("/nonexistent/ca.crt");
	char buf[512];
	size_t got;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__tar_new(&t, "/nonexistent-occ-context", NULL, NULL, 0, &err),
			 OCC_ENOTFOUND);
	make_context();
	ck_assert_int_eq(occ_docker__tar_new(&t, tmpdir, NULL, &missing, 1, &err), OCC_ENOTFOUND);
	ck_assert_msg(strstr(err.msg, "ca.crt"), "%s", err.msg);
	/* A file that shrinks between listing and sending is an error, not a bad archive. */
	put_file("big", "0123456789", 0644);
	ck_assert_int_eq(occ_docker__tar_new(&t, tmpdir, NULL, NULL, 0, &err), 0);
	put_file("big", "", 0644);
	do {
		if (occ_docker__tar_read(t, buf, sizeof(buf), &got, &err))
			break;
	} while (got);
	ck_assert_int_eq(err.code, OCC_EIO);
	ck_assert_msg(strstr(err.msg, "shrank"), "%s", err.msg);
	occ_docker__tar_free(t);
	rm_rf(tmpdir);
	free(tmpdir);
	free(missing);
}
END_TEST

static Suite *docker_stream_suite(void)
{
	Suite *s = suite_create("docker-stream");
	TCase *tc = tcase_create("framing");

	tcase_add_loop_test(tc, test_lines_chunks, 0, 12);
	tcase_add_test(tc, test_lines_limits);
	tcase_add_loop_test(tc, test_demux_chunks, 0, 20);
	tcase_add_test(tc, test_demux_raw_and_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("context");
	tcase_add_loop_test(tc, test_glob, 0, OCC_ARRAY_SIZE(glob_cases));
	tcase_add_loop_test(tc, test_ignore, 0, OCC_ARRAY_SIZE(ignore_cases));
	tcase_add_test(tc, test_tar_context);
	tcase_add_test(tc, test_tar_dockerfile_in_ignored_dir);
	tcase_add_test(tc, test_tar_errors);
	tcase_add_test(tc, test_tar_memory);
	tcase_add_test(tc, test_tar_memory_bad_names);
	tcase_add_test(tc, test_embedded_image_context);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(docker_stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
