/*
 * test-base.c - making the embedded build's Debian base (docker-base.h): the
 * mirror apt uses (deb822 and one-line sources, as text and as an /etc/apt
 * tree), the suite a base reference names, ARG defaults of a Dockerfile, the
 * import query, which pull failures mean "no registry", and the tool run
 * itself with a fake mmdebstrap (a shell script: progress lines, long lines
 * cut, failure with its last lines, nothing left in TMPDIR either way).
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/docker/docker-base.h"

/* ---- mirrors in one file --------------------------------------------------- */

struct mirror_case {
	const char *name;
	bool deb822;
	const char *text;
	enum occ_mirror_rank rank;
	const char *uri;               /* NULL: none */
};

static const struct mirror_case mirror_cases[] = {
	{ "deb822 Debian 12 default", true,
	  "Types: deb\n"
	  "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
	  "URIs: http://deb.debian.org/debian\n"
	  "Suites: bookworm bookworm-updates\n"
	  "Components: main\n"
	  "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
	  "\n"
	  "Types: deb\n"
	  "URIs: http://deb.debian.org/debian-security\n"
	  "Suites: bookworm-security\n"
	  "Components: main\n",
	  OCC_MIRROR_EXACT, "http://deb.debian.org/debian" },
	{ "deb822 security first, then the mirror", true,
	  "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n\n"
	  "Types: deb deb-src\nURIs: https://mirror.example.org/debian/\nSuites: bookworm\n",
	  OCC_MIRROR_EXACT, "https://mirror.example.org/debian" },
	{ "deb822 disabled stanza skipped", true,
	  "Enabled: no\nTypes: deb\nURIs: http://a.example/debian\nSuites: bookworm\n\n"
	  "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\n",
	  OCC_MIRROR_EXACT, "http://b.example/debian" },
	{ "deb822 deb-src only skipped", true,
	  "Types: deb-src\nURIs: http://a.example/debian\nSuites: bookworm\n",
	  OCC_MIRROR_NONE, NULL },
	{ "deb822 continuation lines, lower-case keys, several URIs", true,
	  "types: deb\nuris:\n cdrom:[Debian 12]/\n http://c.example/debian\nsuites: bookworm\n",
	  OCC_MIRROR_EXACT, "http://c.example/debian" },
	{ "deb822 only -updates: related", true,
	  "Types: deb\nURIs: http://d.example/debian\nSuites: bookworm-updates\n",
	  OCC_MIRROR_RELATED, "http://d.example/debian" },
	{ "deb822 exact beats an earlier related", true,
	  "Types: deb\nURIs: http://related.example/debian\nSuites: bookworm-backports\n\n"
	  "Types: deb\nURIs: http://exact.example/debian\nSuites: bookworm\n",
	  OCC_MIRROR_EXACT, "http://exact.example/debian" },
	{ "deb822 another release", true,
	  "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: jammy jammy-updates\n",
	  OCC_MIRROR_NONE, NULL },
	{ "deb822 comments between stanzas and fields", true,
	  "# a comment\n\n# another\nTypes: deb\n# inside\nURIs: http://e.example/debian\n"
	  "Suites: bookworm\n\n\n",
	  OCC_MIRROR_EXACT, "http://e.example/debian" },
	{ "one-line Debian 11 style", false,
	  "deb http://deb.debian.org/debian bookworm main\n"
	  "deb http://security.debian.org/debian-security bookworm-security main\n"
	  "deb http://deb.debian.org/debian bookworm-updates main\n",
	  OCC_MIRROR_EXACT, "http://deb.debian.org/debian" },
	{ "one-line comments, deb-src and cdrom skipped", false,
	  "# deb http://commented.example/debian bookworm main\n"
	  "#deb http://commented2.example/debian bookworm main\n"
	  "deb cdrom:[Debian GNU/Linux 12 _Bookworm_]/ bookworm main\n"
	  "deb-src http://src.example/debian bookworm main\n"
	  "   deb   http://f.example/debian/   bookworm   main contrib\n",
	  OCC_MIRROR_EXACT, "http://f.example/debian" },
	{ "one-line options in brackets", false,
	  "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://g.example/debian bookworm main\n",
	  OCC_MIRROR_EXACT, "https://g.example/debian" },
	{ "one-line option without spaces", false,
	  "deb [trusted=yes] http://h.example/debian bookworm main\n",
	  OCC_MIRROR_EXACT, "http://h.example/debian" },
	{ "one-line old security suite form", false,
	  "deb http://i.example/debian bookworm/updates main\n",
	  OCC_MIRROR_NONE, NULL },
	{ "one-line file: and tor+ skipped", false,
	  "deb file:/srv/debian bookworm main\ndeb tor+http://j.example/debian bookworm main\n",
	  OCC_MIRROR_NONE, NULL },
	{ "one-line no trailing newline", false,
	  "deb http://k.example/debian bookworm main",
	  OCC_MIRROR_EXACT, "http://k.example/debian" },
	{ "one-line truncated entries", false,
	  "deb\ndeb [arch=amd64\ndeb http://l.example/debian\n",
	  OCC_MIRROR_NONE, NULL },
	{ "empty", false, "", OCC_MIRROR_NONE, NULL },
	{ "empty deb822", true, "", OCC_MIRROR_NONE, NULL },
};

START_TEST(test_mirror_in_text)
{
	const struct mirror_case *c = &mirror_cases[_i];
	char *uri = NULL;
	enum occ_mirror_rank rank;

	rank = occ_docker__mirror_in_text(&uri, c->text, strlen(c->text), c->deb822, "bookworm");
	ck_assert_msg(rank == c->rank, "%s: rank %d, want %d", c->name, rank, c->rank);
	if (c->uri)
		ck_assert_msg(uri && strcmp(uri, c->uri) == 0, "%s: got %s", c->name,
			      uri ? uri : "(null)");
	else
		ck_assert_msg(uri == NULL, "%s: got %s", c->name, uri);
	free(uri);
}
END_TEST

/* ---- an /etc/apt tree ------------------------------------------------------ */

static char *tmp_dir(void)
{
	char *d = strdup("/tmp/occ-test-base.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *path = occ_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void rm_rf(const char *dir)
{
	char *cmd = occ_xasprintf("rm -rf '%s'", dir);

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

START_TEST(test_mirror_find)
{
	char *apt = tmp_dir(), *d = occ_xasprintf("%s/sources.list.d", apt), *uri = NULL;

	/* nothing at all: the default */
	ck_assert(!occ_docker__mirror_find(&uri, apt, "bookworm"));
	ck_assert_str_eq(uri, OCC_BASE_DEFAULT_MIRROR);
	free(uri);

	/* sources.list only related; a .sources file later has the suite */
	put(apt, "sources.list", "deb http://updates.example/debian bookworm-updates main\n");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	put(d, "a.list", "deb http://third.example/x jammy main\n");
	put(d, "debian.sources", "Types: deb\nURIs: http://exact.example/debian\nSuites: bookworm\n");
	put(d, "z.sources", "Types: deb\nURIs: http://later.example/debian\nSuites: bookworm\n");
	put(d, "ignored.save", "deb http://ignored.example/debian bookworm main\n");
	ck_assert(occ_docker__mirror_find(&uri, apt, "bookworm"));
	ck_assert_str_eq(uri, "http://exact.example/debian");
	free(uri);

	/* the exact suite in sources.list wins over the same rank later */
	put(apt, "sources.list", "deb http://first.example/debian bookworm main\n");
	ck_assert(occ_docker__mirror_find(&uri, apt, "bookworm"));
	ck_assert_str_eq(uri, "http://first.example/debian");
	free(uri);

	/* another suite: only the related entry of none, so the default */
	ck_assert(!occ_docker__mirror_find(&uri, apt, "trixie"));
	ck_assert_str_eq(uri, OCC_BASE_DEFAULT_MIRROR);
	free(uri);

	rm_rf(apt);
	free(d);
	free(apt);
}
END_TEST

/* ---- references and Dockerfiles --------------------------------------------- */

static const struct { const char *ref, *suite; } suite_cases[] = {
	{ "debian:bookworm-slim", "bookworm" },
	{ "debian:bookworm", "bookworm" },
	{ "debian:trixie-slim", "trixie" },
	{ "docker.io/library/debian:bookworm-slim", "bookworm" },
	{ "library/debian:bullseye", "bullseye" },
	{ "debian", NULL },                       /* latest */
	{ "debian:latest", NULL },
	{ "debian:12", NULL },
	{ "debian:12-slim", NULL },
	{ "debian:-slim", NULL },
	{ "debian@sha256:0123456789abcdef", NULL },
	{ "ubuntu:jammy", NULL },
	{ "example.org/debian:bookworm", NULL },
	{ "localhost:5000/debian:bookworm", NULL },
};

START_TEST(test_base_suite)
{
	char got[32];
	bool ok = occ_docker__base_suite(got, sizeof(got), suite_cases[_i].ref);

	if (!suite_cases[_i].suite) {
		ck_assert_msg(!ok, "%s: got %s", suite_cases[_i].ref, got);
		return;
	}
	ck_assert_msg(ok, "%s: refused", suite_cases[_i].ref);
	ck_assert_str_eq(got, suite_cases[_i].suite);
}
END_TEST

static const struct { const char *text, *want; } arg_cases[] = {
	{ "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\n", "debian:bookworm-slim" },
	{ "# ARG BASE_IMAGE=commented\n  arg   BASE_IMAGE=indented:1\n", "indented:1" },
	{ "ARG BASE_IMAGE_X=no\nARG BASE_IMAGE\nARG BASE_IMAGE=yes", "yes" },
	{ "ARG OTHER=1\nFROM scratch\n", NULL },
	{ "", NULL },
};

START_TEST(test_dockerfile_arg)
{
	char *got = occ_docker__dockerfile_arg(arg_cases[_i].text, strlen(arg_cases[_i].text),
					       "BASE_IMAGE");

	if (arg_cases[_i].want)
		ck_assert_str_eq(got, arg_cases[_i].want);
	else
		ck_assert_ptr_null(got);
	free(got);
}
END_TEST

/* The real embedded Dockerfile names the default base. */
START_TEST(test_dockerfile_default_base)
{
	char *text = NULL, *got;
	size_t len;
	struct occ_error err;

	ck_assert_int_eq(occ_read_file(OCC_SOURCE_DIR "/Dockerfile", 1 << 20, &text, &len, &err), 0);
	got = occ_docker__dockerfile_arg(text, len, "BASE_IMAGE");
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, OCC_BASE_DEFAULT_IMAGE);
	free(got);
	free(text);
}
END_TEST

static const struct { const char *ref, *tool, *want; } import_cases[] = {
	{ "debian:bookworm-slim", "mmdebstrap",
	  "/images/create?fromSrc=-&repo=debian&tag=bookworm-slim"
	  "&changes=LABEL%20dev.opencode-cloud.base%3Dmmdebstrap"
	  "&changes=ENV%20PATH%3D%2Fusr%2Flocal%2Fsbin%3A%2Fusr%2Flocal%2Fbin%3A%2Fusr%2Fsbin"
	  "%3A%2Fusr%2Fbin%3A%2Fsbin%3A%2Fbin"
	  "&changes=CMD%20%5B%22bash%22%5D"
	  "&message=made%20by%20occ%20from%20the%20Debian%20mirror%20%28no%20registry%20reachable%29" },
	{ "debian", "debootstrap", "/images/create?fromSrc=-&repo=debian&tag=latest"
	  "&changes=LABEL%20dev.opencode-cloud.base%3Ddebootstrap&" },
	{ "localhost:5000/debian:bookworm", "mmdebstrap",
	  "/images/create?fromSrc=-&repo=localhost%3A5000%2Fdebian&tag=bookworm&" },
	{ "debian@sha256:0123", "mmdebstrap", NULL },
};

START_TEST(test_import_path)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_error err;
	int ret = occ_docker__import_path(&sb, import_cases[_i].ref, import_cases[_i].tool, &err);

	if (!import_cases[_i].want) {
		ck_assert_int_eq(ret, OCC_EINVALID);
		ck_assert_msg(strstr(err.msg, "digest"), "%s", err.msg);
		occ_strbuf_release(&sb);
		return;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_msg(strncmp(occ_strbuf_str(&sb), import_cases[_i].want,
			      strlen(import_cases[_i].want)) == 0, "%s\nwant %s",
		      occ_strbuf_str(&sb), import_cases[_i].want);
	occ_strbuf_release(&sb);
}
END_TEST

static const struct { const char *msg; bool unreachable; } pull_cases[] = {
	{ "cannot pull image 'debian:bookworm-slim': Get \"https://registry-1.docker.io/v2/\": "
	  "dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host (HTTP 500)", true },
	{ "Get \"https://registry-1.docker.io/v2/\": proxyconnect tcp: dial tcp 127.0.0.1:9: "
	  "connect: connection refused", true },
	{ "Get \"https://registry-1.docker.io/v2/\": net/http: request canceled while waiting for "
	  "connection (Client.Timeout exceeded while awaiting headers)", true },
	{ "Get \"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout", true },
	{ "dial tcp 1.2.3.4:443: connect: network is unreachable", true },
	{ "x509: certificate signed by unknown authority", true },
	{ "pull access denied for debian-nope, repository does not exist or may require "
	  "'docker login'", false },
	{ "manifest for debian:nope not found: manifest unknown", false },
	{ "", false },
	{ NULL, false },
};

START_TEST(test_pull_unreachable)
{
	ck_assert_msg(occ_docker__pull_unreachable(pull_cases[_i].msg) == pull_cases[_i].unreachable,
		      "%s", pull_cases[_i].msg ? pull_cases[_i].msg : "(null)");
}
END_TEST

/* ---- the tool run, with a fake mmdebstrap ------------------------------------ */

struct seen {
	struct occ_strbuf lines;
	size_t n;
	size_t longest;
};

static void on_line(void *ctx, const char *line)
{
	struct seen *s = ctx;

	occ_strbuf_adds(&s->lines, line);
	occ_strbuf_addc(&s->lines, '\n');
	s->n++;
	if (strlen(line) > s->longest)
		s->longest = strlen(line);
}

/* A fake tool: argv is --variant=minbase SUITE TARBALL MIRROR (mmdebstrap's). */
static char *fake_tool(const char *dir, const char *body)
{
	char *path = occ_xasprintf("%s/fake-mmdebstrap", dir);
	char *text = occ_xasprintf("#!/bin/sh\n%s\n", body);

	put(dir, "fake-mmdebstrap", text);
	ck_assert_int_eq(chmod(path, 0755), 0);
	free(text);
	return path;
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(test_rootfs_ok)
{
	char *dir = tmp_dir(), *tmp = occ_xasprintf("%s/tmp", dir), *tool;
	struct seen seen = { OCC_STRBUF_INIT, 0, 0 };
	struct occ_rootfs_opts o = { .suite = "bookworm", .mirror = "http://m.example/debian",
				     .line = on_line, .ctx = &seen };
	struct occ_rootfs r = { 0 };
	struct occ_error err;
	struct stat sb;

	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	ck_assert_int_eq(dup2(1, 50), 50);          /* inheritable: must not reach the tool */
	tool = fake_tool(dir, "[ \"$1\" = --variant=minbase ] || exit 9\n"
			 "[ -e /proc/self/fd/50 ] && exit 8\n"
			 "echo \"I: suite $2 from $4 in $TMPDIR\"\n"
			 "printf 'progress 10%%\\rprogress 100%%\\n' >&2\n"
			 "head -c 3000 /dev/zero | tr '\\0' x; echo\n"
			 "head -c 2000000 /dev/zero > \"$3\"\n"
			 "mkdir \"$TMPDIR/leftover\"\n"
			 "echo 'I: done'");
	o.tool_path = tool;
	ck_assert_msg(occ_docker__rootfs_make(&r, &o, &err) == 0, "%s", err.msg);
	close(50);
	ck_assert_str_eq(r.tool, "mmdebstrap");
	ck_assert_int_eq(stat(r.tarball, &sb), 0);
	ck_assert_int_eq(sb.st_size, 2000000);
	ck_assert_msg(strstr(seen.lines.buf, "I: suite bookworm from http://m.example/debian in "),
		      "%s", seen.lines.buf);
	ck_assert_msg(strstr(seen.lines.buf, "\nprogress 10%\nprogress 100%\n"), "%s",
		      seen.lines.buf);
	ck_assert_uint_eq(seen.longest, OCC_ROOTFS_MAX_LINE);        /* cut */
	ck_assert_msg(strstr(seen.lines.buf, "I: done\n"), "%s", seen.lines.buf);
	ck_assert_uint_eq(entries(tmp), 1);                           /* occ-base.XXXXXX */
	occ_docker__rootfs_release(&r);
	ck_assert_uint_eq(entries(tmp), 0);
	occ_docker__rootfs_release(&r);                               /* zeroed: no-op */
	unsetenv("TMPDIR");
	occ_strbuf_release(&seen.lines);
	rm_rf(dir);
	free(tool);
	free(tmp);
	free(dir);
}
END_TEST

/* debootstrap: argv is --variant=minbase SUITE TARGET MIRROR; occ packs the
 * tree with tar. Needs root (refused clearly without it). */
START_TEST(test_rootfs_debootstrap)
{
	char *dir = tmp_dir(), *tmp = occ_xasprintf("%s/tmp", dir), *path, *cmd;
	struct occ_rootfs_opts o = { .suite = "bookworm", .mirror = "http://m.example/debian" };
	struct occ_rootfs r = { 0 };
	struct occ_error err;
	int ret;

	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	path = occ_xasprintf("%s/fake-debootstrap", dir);
	put(dir, "fake-debootstrap", "#!/bin/sh\n[ \"$1\" = --variant=minbase ] || exit 9\n"
	    "mkdir -p \"$3/etc\" && head -c 2000000 /dev/zero > \"$3/etc/big\"\n");
	ck_assert_int_eq(chmod(path, 0755), 0);
	o.tool_path = path;
	ret = occ_docker__rootfs_make(&r, &o, &err);
	if (geteuid() != 0) {
		ck_assert_int_eq(ret, OCC_EPERM);
		ck_assert_msg(strstr(err.hint, "mmdebstrap"), "%s", err.hint);
	} else {
		ck_assert_msg(ret == 0, "%s", err.msg);
		ck_assert_str_eq(r.tool, "debootstrap");
		cmd = occ_xasprintf("tar -tvf '%s' | grep -q ' 0/0 .* ./etc/big$'", r.tarball);
		ck_assert_msg(system(cmd) == 0, "numeric owners, etc/big in %s", r.tarball);
		free(cmd);
		occ_docker__rootfs_release(&r);
	}
	ck_assert_uint_eq(entries(tmp), 0);
	unsetenv("TMPDIR");
	rm_rf(dir);
	free(path);
	free(tmp);
	free(dir);
}
END_TEST

static const struct { const char *body, *want; int code; } fail_cases[] = {
	{ "echo 'I: downloading'; echo 'E: cannot reach the mirror' >&2; echo 'E: failed'; "
	  "mkdir \"$TMPDIR/x\"; exit 1",
	  "mmdebstrap exited with status 1: E: cannot reach the mirror", OCC_EGENERIC },
	{ "echo one; echo two; echo three; echo four; exit 2",
	  "mmdebstrap exited with status 2: two | three | four", OCC_EGENERIC },
	{ "echo 'I: ok'; exit 0", "left no root filesystem tarball", OCC_EGENERIC },
	{ "kill -9 $$", "killed by signal 9", OCC_EGENERIC },
};

START_TEST(test_rootfs_fails)
{
	char *dir = tmp_dir(), *tmp = occ_xasprintf("%s/tmp", dir), *tool;
	struct occ_rootfs_opts o = { .suite = "bookworm", .mirror = "http://m.example/debian" };
	struct occ_rootfs r = { 0 };
	struct occ_error err;

	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	tool = fake_tool(dir, fail_cases[_i].body);
	o.tool_path = tool;
	ck_assert_int_eq(occ_docker__rootfs_make(&r, &o, &err), fail_cases[_i].code);
	ck_assert_msg(strstr(err.msg, fail_cases[_i].want), "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "cannot make a Debian bookworm root filesystem from "
			      "http://m.example/debian"), "%s", err.msg);
	ck_assert_ptr_null(r.dir);
	ck_assert_uint_eq(entries(tmp), 0);                           /* nothing left */
	unsetenv("TMPDIR");
	rm_rf(dir);
	free(tool);
	free(tmp);
	free(dir);
}
END_TEST

START_TEST(test_rootfs_no_tool)
{
	struct occ_rootfs_opts o = { .suite = "bookworm", .mirror = "http://m.example/debian" };
	struct occ_rootfs r = { 0 };
	struct occ_error err;
	char *path = NULL, *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	const char *tool = occ_docker__rootfs_tool(&path);

	free(path);
	if (tool) {               /* installed here: the PATH cannot hide /usr/sbin */
		free(old);
		return;
	}
	ck_assert_int_eq(occ_docker__rootfs_make(&r, &o, &err), OCC_ENOTFOUND);
	ck_assert_msg(strstr(err.hint, "apt-get install mmdebstrap"), "%s", err.hint);
	free(old);
}
END_TEST

static Suite *base_suite(void)
{
	Suite *s = suite_create("docker-base");
	TCase *tc = tcase_create("pure");

	tcase_add_loop_test(tc, test_mirror_in_text, 0, OCC_ARRAY_SIZE(mirror_cases));
	tcase_add_test(tc, test_mirror_find);
	tcase_add_loop_test(tc, test_base_suite, 0, OCC_ARRAY_SIZE(suite_cases));
	tcase_add_loop_test(tc, test_dockerfile_arg, 0, OCC_ARRAY_SIZE(arg_cases));
	tcase_add_test(tc, test_dockerfile_default_base);
	tcase_add_loop_test(tc, test_import_path, 0, OCC_ARRAY_SIZE(import_cases));
	tcase_add_loop_test(tc, test_pull_unreachable, 0, OCC_ARRAY_SIZE(pull_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("tool");
	tcase_add_test(tc, test_rootfs_ok);
	tcase_add_loop_test(tc, test_rootfs_fails, 0, OCC_ARRAY_SIZE(fail_cases));
	tcase_add_test(tc, test_rootfs_debootstrap);
	tcase_add_test(tc, test_rootfs_no_tool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(base_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
