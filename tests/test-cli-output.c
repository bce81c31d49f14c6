/*
 * test-cli-output.c - what occ prints, checked through the binary without a
 * Docker daemon: `config show --json` is JSON for every kind of state (parsed
 * with jansson), secret env values never reach stdout or stderr, edits go
 * through a symlinked state file and keep its owner and mode, a DOCKER_HOST
 * that is not a socket says what it is, and a host that cannot be reached
 * never ends in "No changes.".
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *tmp;

#define HASH_A "$6$abcdefgh$" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

#define EX(p) OCC_SOURCE_DIR "/examples/" p

static char *state_path(void)
{
	return occ_xasprintf("%s/state.yaml", tmp);
}

/* ---- config show --json is JSON ----------------------------------------- */

/* States with every shape the walk produces; "@DIR@" is the temp directory. */
static const char *const shapes[] = {
	"version: 1\n",
	"version: 1\nusers: []\nmounts: []\nvolumes: []\n",
	"version: 1\nname: sec-a\ncontainer:\n  env: {TZ: UTC, API_TOKEN: t0k3n}\n"
	"users:\n  - name: alice\n    password_hash: \"" HASH_A "\"\n"
	"  - name: bob\n    password_env: BOB_PW\n    enabled: false\n"
	"mounts:\n  - {source: @DIR@, target: /work, readonly: true}\n"
	"volumes:\n  - {name: data, target: /data}\n",
	"version: 1\nhosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n    user: root\n"
	"    overrides:\n      container: {port: 3001, bind: 0.0.0.0, env: {LEVEL: debug, X_KEY: k}}\n"
	"      mounts:\n        - {source: /srv, target: /work}\n"
	"users:\n  - name: alice\n    password_hash: \"" HASH_A "\"\n",
	"version: 1\ncontainer:\n  env:\n    QUOTE: 'say \"hi\"'\n    BACKSLASH: 'C:\\dir\\file'\n"
	"    NEWLINE: \"a\\nb\"\n    TAB: \"a\\tb\"\n    CTRL: \"a\\x01b\"\n    UTF8: \"caf\\u00e9 \\u2713\"\n"
	"    EMPTY: ''\n    COLON: 'a: b # c'\n",
	"version: 1\nimage:\n  ref: my/img:1\n  build: {context: @DIR@, args: {A: b, NPM_TOKEN: n}}\n",
};

static void check_json(const char *what, const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);

	ck_assert_msg(doc, "%s: not JSON (%s at %d:%d):\n%s", what, e.text, e.line, e.column, text);
	json_decref(doc);
}

static void show_json_valid(const char *path)
{
	const char *show[] = { "config", "show", "--json", "-f", path, NULL };
	const char *get[] = { "config", "get", "--json", "container", "-f", path, NULL };
	const char *get2[] = { "config", "get", "--json", "hosts", "-f", path, NULL };
	const char *const *const runs[] = { show, get, get2 };
	struct run_result r;

	for (size_t i = 0; i < OCC_ARRAY_SIZE(runs); i++) {
		run_occ(&r, runs[i]);
		ck_assert_msg(r.status == 0, "%s %s: exit %d\n%s", runs[i][1], path, r.status, r.err.buf);
		check_json(path, r.out.buf);
		run_result_release(&r);
	}
}

/* shapes[i] with @DIR@ replaced by the temp directory. */
static char *shape_text(size_t i)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const char *p = shapes[i], *at;

	occ_strbuf_init(&sb);
	while ((at = strstr(p, "@DIR@"))) {
		occ_strbuf_add(&sb, p, (size_t)(at - p));
		occ_strbuf_adds(&sb, tmp);
		p = at + strlen("@DIR@");
	}
	occ_strbuf_adds(&sb, p);
	return occ_strbuf_detach(&sb);
}

START_TEST(test_show_json_shapes)
{
	char *path = state_path(), *text = shape_text((size_t)_i);

	write_text(path, text);
	show_json_valid(path);
	free(text);
	free(path);
}
END_TEST

/* Every file in examples/, whatever is added there later. */
START_TEST(test_show_json_examples)
{
	DIR *d = opendir(OCC_SOURCE_DIR "/examples");
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *path;

		if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		path = occ_xasprintf("%s/examples/%s", OCC_SOURCE_DIR, e->d_name);
		show_json_valid(path);
		free(path);
		n++;
	}
	closedir(d);
	ck_assert_uint_ge(n, 3);
}
END_TEST

/* The escapes survive the round trip through JSON. */
START_TEST(test_show_json_escapes)
{
	char *path = state_path(), *text = shape_text(4);
	const char *show[] = { "config", "show", "--json", "-f", path, NULL };
	struct run_result r;
	json_t *doc, *env;

	write_text(path, text);
	run_occ(&r, show);
	ck_assert_int_eq(r.status, 0);
	doc = json_loads(r.out.buf, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	env = json_object_get(json_object_get(doc, "container"), "env");
	ck_assert_str_eq(json_string_value(json_object_get(env, "QUOTE")), "say \"hi\"");
	ck_assert_str_eq(json_string_value(json_object_get(env, "BACKSLASH")), "C:\\dir\\file");
	ck_assert_str_eq(json_string_value(json_object_get(env, "NEWLINE")), "a\nb");
	ck_assert_str_eq(json_string_value(json_object_get(env, "CTRL")), "a\x01" "b");
	ck_assert_str_eq(json_string_value(json_object_get(env, "UTF8")), "caf\xc3\xa9 \xe2\x9c\x93");
	ck_assert_str_eq(json_string_value(json_object_get(env, "EMPTY")), "");
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "version")), 1);
	json_decref(doc);
	run_result_release(&r);
	free(text);
	free(path);
}
END_TEST

/* ---- secrets never printed ---------------------------------------------- */

#define SECRET_STATE \
	"version: 1\n" \
	"container:\n" \
	"  env:\n" \
	"    DATABASE_URL: postgres://app:PWsecret1@db.example.com:5432/app\n" \
	"    GITHUB_PAT: patsecret2\n" \
	"    AUTH: Bearer bearersecret3\n" \
	"    OPENAI: sk-proj-sksecret4abcdefghijklmn\n" \
	"    KEYBOARD: fr\n" \
	"    HTTP_PROXY: http://proxy:3128\n" \
	"image:\n" \
	"  ref: my/img:1\n" \
	"  build: {context: embedded, args: {NPM_REGISTRY: 'https://u:argsecret5@npm.example.com/'}}\n" \
	"hosts:\n" \
	"  - name: local\n" \
	"    overrides: {container: {env: {GH: ghp_hostsecret6abcdefghijklmnop}}}\n"

static const char *const secret_words[] = {
	"PWsecret1", "patsecret2", "bearersecret3", "sksecret4", "argsecret5", "hostsecret6",
};

static void assert_no_secret(const char *what, const struct run_result *r)
{
	for (size_t i = 0; i < OCC_ARRAY_SIZE(secret_words); i++) {
		ck_assert_msg(!strstr(r->out.buf, secret_words[i]), "%s: stdout shows %s:\n%s", what,
			      secret_words[i], r->out.buf);
		ck_assert_msg(!strstr(r->err.buf, secret_words[i]), "%s: stderr shows %s:\n%s", what,
			      secret_words[i], r->err.buf);
	}
}

static const struct {
	const char *args[6];
	const char *out_has;  /* proves the value was looked at (masked or in clear) */
	bool json;
} secret_cmds[] = {
	{ { "config", "show" }, "DATABASE_URL: (sensitive)", false },
	{ { "config", "show", "--json" }, "\"DATABASE_URL\":\"(sensitive)\"", true },
	{ { "config", "get", "container.env.DATABASE_URL" }, "(sensitive)\n", false },
	{ { "config", "get", "container.env.AUTH" }, "(sensitive)\n", false },
	{ { "config", "get", "container.env" }, "GITHUB_PAT: (sensitive)", false },
	{ { "config", "get", "--json", "container.env" }, "\"KEYBOARD\":\"fr\"", true },
	{ { "config", "get", "image.build.args" }, "NPM_REGISTRY: (sensitive)", false },
	{ { "config", "get", "hosts[name=local].overrides" }, "GH: (sensitive)", false },
	{ { "config", "env", "list" }, "HTTP_PROXY=http://proxy:3128\n", false },
	{ { "config", "env", "list" }, "OPENAI=(sensitive)\n", false },
	{ { "config", "env", "list", "--json" }, "\"AUTH\":\"(sensitive)\"", true },
};

START_TEST(test_secret_values_masked)
{
	char *path = state_path();
	const char *args[10];
	struct run_result r;
	size_t n = 0;

	write_text(path, SECRET_STATE);
	for (; secret_cmds[_i].args[n]; n++)
		args[n] = secret_cmds[_i].args[n];
	args[n++] = "-f";
	args[n++] = path;
	args[n] = NULL;
	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "case %d: exit %d\n%s", _i, r.status, r.err.buf);
	assert_no_secret(secret_cmds[_i].args[1], &r);
	ck_assert_msg(strstr(r.out.buf, secret_cmds[_i].out_has), "case %d: stdout lacks '%s':\n%s",
		      _i, secret_cmds[_i].out_has, r.out.buf);
	if (secret_cmds[_i].json)
		check_json("secret case", r.out.buf);
	run_result_release(&r);
	free(path);
}
END_TEST

/* ---- edits through symlinks keep owner and mode ------------------------ */

#define EDITABLE "version: 1\n# kept\ncontainer:\n  port: 3000\n"

static void occ_ok(const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "occ %s %s: exit %d\n%s%s", args[0], args[1], r.status,
		      r.out.buf, r.err.buf);
	run_result_release(&r);
}

/* _i: 0 a relative link, 1 an absolute one, 2 a link to a link. */
START_TEST(test_edit_through_symlink)
{
	char *dir = occ_xasprintf("%s/dotfiles", tmp), *real = occ_xasprintf("%s/state.yaml", dir);
	char *link = state_path(), *mid = occ_xasprintf("%s/mid.yaml", tmp);
	char *bak = occ_xasprintf("%s.bak", link), *text, got[512];
	const char *to = _i == 1 ? real : "dotfiles/state.yaml";
	const char *set[] = { "config", "set", "container.port", "3001", "-f", link, NULL };
	const char *env[] = { "config", "env", "set", "TZ=UTC", "-f", link, NULL };
	struct stat st;
	ssize_t n;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	write_text(real, EDITABLE);
	if (_i == 2) {
		ck_assert_int_eq(symlink("dotfiles/state.yaml", mid), 0);
		to = "mid.yaml";
	}
	ck_assert_int_eq(symlink(to, link), 0);
	occ_ok(set);
	occ_ok(env);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert_msg(S_ISLNK(st.st_mode), "the symlink was replaced by a file");
	n = readlink(link, got, sizeof(got) - 1);
	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	ck_assert_str_eq(got, to);
	if (_i == 2) {
		ck_assert_int_eq(lstat(mid, &st), 0);
		ck_assert(S_ISLNK(st.st_mode));
	}
	text = read_text(real);
	ck_assert_msg(strstr(text, "port: 3001") && strstr(text, "# kept") && strstr(text, "TZ: UTC"),
		      "%s", text);
	free(text);
	text = read_text(bak);
	ck_assert_msg(strstr(text, "port: 3001") && !strstr(text, "TZ"), "%s", text);
	free(text);
	free(dir);
	free(real);
	free(link);
	free(mid);
	free(bak);
}
END_TEST

/* A dangling link is an error naming it, with --file and at the default path. */
START_TEST(test_edit_dangling_link)
{
	char *link = state_path(), *missing = occ_xasprintf("%s/missing.yaml", tmp);
	char *cfg = occ_xasprintf("%s/config/opencode-cloud", tmp);
	char *deflink = occ_xasprintf("%s/state.yaml", cfg), *want;
	const char *set[] = { "config", "set", "container.port", "3001", "-f", link, NULL };
	const char *apply[] = { "apply", NULL };
	struct run_result r;
	struct stat st;

	ck_assert_int_eq(symlink("missing.yaml", link), 0);
	run_occ(&r, set);
	ck_assert_int_eq(r.status, 1);
	want = occ_xasprintf("'%s' is a symbolic link to 'missing.yaml', which does not exist", link);
	ck_assert_msg(strstr(r.err.buf, want), "%s", r.err.buf);
	free(want);
	run_result_release(&r);

	want = occ_xasprintf("mkdir -p %s", cfg);
	free(sh_ok(want));
	free(want);
	ck_assert_int_eq(symlink(missing, deflink), 0);
	run_occ(&r, apply);
	ck_assert_int_eq(r.status, 1);
	want = occ_xasprintf("'%s' is a symbolic link to '%s', which does not exist", deflink, missing);
	ck_assert_msg(strstr(r.err.buf, want), "%s", r.err.buf);
	free(want);
	run_result_release(&r);
	ck_assert_int_eq(lstat(deflink, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_ne(access(missing, F_OK), 0);
	free(link);
	free(missing);
	free(cfg);
	free(deflink);
}
END_TEST

static void assert_owner_mode(const char *path, uid_t uid, gid_t gid, unsigned mode)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg(st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == mode,
		      "%s: %u:%u %o, want %u:%u %o", path, (unsigned)st.st_uid, (unsigned)st.st_gid,
		      (unsigned)(st.st_mode & 07777), (unsigned)uid, (unsigned)gid, mode);
}

/* Root editing a user's file (sudo occ ...) leaves it, and its .bak, the user's. */
START_TEST(test_edit_keeps_owner_mode)
{
	char *path = state_path(), *bak = occ_xasprintf("%s.bak", path);
	char *link = occ_xasprintf("%s/link.yaml", tmp), *text;
	const char *set[] = { "config", "set", "container.port", "3001", "-f", path, NULL };
	const char *env[] = { "config", "env", "set", "TZ=UTC", "-f", link, NULL };

	if (geteuid() != 0) {
		fprintf(stderr, "test_edit_keeps_owner_mode: skipped, needs root to chown\n");
		free(path);
		free(bak);
		free(link);
		return;
	}
	write_text(path, EDITABLE);
	ck_assert_int_eq(chown(path, 1000, 1001), 0);
	ck_assert_int_eq(chmod(path, 0640), 0);
	occ_ok(set);
	assert_owner_mode(path, 1000, 1001, 0640);
	assert_owner_mode(bak, 1000, 1001, 0640);
	/* Through a link too; and the mode is the file's, not 0600. */
	ck_assert_int_eq(chmod(path, 0664), 0);
	ck_assert_int_eq(symlink(path, link), 0);
	occ_ok(env);
	assert_owner_mode(path, 1000, 1001, 0664);
	text = read_text(path);
	ck_assert_msg(strstr(text, "port: 3001") && strstr(text, "TZ: UTC"), "%s", text);
	free(text);
	free(path);
	free(bak);
	free(link);
}
END_TEST

/* ---- a daemon that cannot be reached ----------------------------------- */

/* _i: 0 a regular file, 1 a directory, 2 a FIFO. */
START_TEST(test_docker_host_not_a_socket)
{
	static const char *const kinds[] = { "a regular file", "a directory", "a FIFO" };
	char *path = occ_xasprintf("%s/not-a-socket", tmp), *host, *want;
	const char *diff[] = { "diff", "-f", EX("minimal.yaml"), NULL };
	struct run_result r;

	if (_i == 0)
		write_text(path, "");
	else if (_i == 1)
		ck_assert_int_eq(mkdir(path, 0700), 0);
	else
		ck_assert_int_eq(mkfifo(path, 0600), 0);
	host = occ_xasprintf("unix://%s", path);
	setenv("DOCKER_HOST", host, 1);
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 1);
	want = occ_xasprintf("error: cannot connect to Docker at %s: it is %s, not a socket\n", path,
			     kinds[_i]);
	ck_assert_msg(strstr(r.err.buf, want), "stderr lacks '%s':\n%s", want, r.err.buf);
	ck_assert_msg(!strstr(r.err.buf, "is dockerd running"), "%s", r.err.buf);
	ck_assert_msg(!strstr(r.out.buf, "No changes."), "%s", r.out.buf);
	free(want);
	run_result_release(&r);
	free(host);
	free(path);
}
END_TEST

/* A missing path and a socket nobody listens on keep dockerd's hint; a path
 * through a regular file does not. */
START_TEST(test_docker_host_missing_or_dead)
{
	char *sock = occ_xasprintf("%s/dead.sock", tmp), *host;
	const char *diff[] = { "diff", "-f", EX("minimal.yaml"), NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct run_result r;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* Bound, never listening: connect is refused. */
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(sock), sizeof(sun.sun_path));
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	host = occ_xasprintf("unix://%s", sock);
	setenv("DOCKER_HOST", host, 1);
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, ": connection refused\n") &&
		      strstr(r.err.buf, "hint: is dockerd running?"), "%s", r.err.buf);
	ck_assert_msg(!strstr(r.out.buf, "No changes."), "%s", r.out.buf);
	run_result_release(&r);
	close(fd);

	setenv("DOCKER_HOST", "unix:///nonexistent/occ.sock", 1);
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "unix:///nonexistent/occ.sock: no such socket\n") &&
		      strstr(r.err.buf, "hint: is dockerd running?"), "%s", r.err.buf);
	run_result_release(&r);

	/* Through a regular file: not dockerd's fault either. */
	free(host);
	host = occ_xasprintf("unix://%s/file/docker.sock", tmp);
	free(sock);
	sock = occ_xasprintf("%s/file", tmp);
	write_text(sock, "");
	setenv("DOCKER_HOST", host, 1);
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "/file/docker.sock: a part of that path is not a directory\n") &&
		      !strstr(r.err.buf, "is dockerd running"), "%s", r.err.buf);
	run_result_release(&r);
	free(host);
	free(sock);
}
END_TEST

/* DOCKER_HOST values that fail in different places. */
static const char *const bad_hosts[] = {
	"unix://@DIR@/regular", "tcp://127.0.0.1:2375", "unix:///nonexistent/occ.sock", "unix://relative",
};

static const struct {
	const char *args[4];
	bool json;
} failed_cmds[] = {
	{ { "diff" }, false },
	{ { "diff", "--exit-code" }, false },
	{ { "apply" }, false },
	{ { "apply", "--yes" }, false },
	{ { "status" }, false },
	{ { "diff", "--json" }, true },
	{ { "apply", "--json" }, true },
	{ { "status", "--json" }, true },
};

/* A failed JSON host: marked, unreached, no plan (not an empty one). */
static void check_failed_json(const char *what, const char *text, bool top)
{
	json_t *doc = json_loads(text, 0, NULL), *hosts, *h;

	ck_assert_msg(doc, "%s: not JSON:\n%s", what, text);
	hosts = json_object_get(doc, json_object_get(doc, "plan") ? "plan" : "hosts");
	ck_assert_msg(json_array_size(hosts) == 1, "%s: %s", what, text);
	h = json_array_get(hosts, 0);
	ck_assert_str_eq(json_string_value(json_object_get(h, "host")), "local");
	ck_assert(json_is_false(json_object_get(h, "reached")));
	ck_assert(json_is_object(json_object_get(h, "error")));
	ck_assert_ptr_null(json_object_get(h, "actions"));
	ck_assert_ptr_null(json_object_get(h, "summary"));
	if (top) {
		ck_assert_msg(json_is_null(json_object_get(doc, "changes")), "%s: %s", what, text);
		ck_assert(json_is_false(json_object_get(doc, "ok")));
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "failed_hosts"), 0)),
				 "local");
	}
	json_decref(doc);
}

/* Never "No changes." after a host failed: the summary names it, exit 1. */
START_TEST(test_failed_host_no_changes_claim)
{
	char *reg = occ_xasprintf("%s/regular", tmp), *path = state_path();
	const char *args[8];
	struct run_result r;
	size_t n;

	write_text(reg, "");
	write_text(path, "version: 1\n");
	for (size_t h = 0; h < OCC_ARRAY_SIZE(bad_hosts); h++) {
		char *host = occ_xasprintf("%s", bad_hosts[h]), *at = strstr(host, "@DIR@");

		if (at) {
			char *full = occ_xasprintf("%.*s%s%s", (int)(at - host), host, tmp, at + 5);

			free(host);
			host = full;
		}
		setenv("DOCKER_HOST", host, 1);
		for (n = 0; failed_cmds[_i].args[n]; n++)
			args[n] = failed_cmds[_i].args[n];
		args[n++] = "-f";
		args[n++] = path;
		args[n] = NULL;
		run_occ(&r, args);
		ck_assert_msg(r.status == 1, "%s with %s: exit %d\n%s%s", args[0], host, r.status,
			      r.out.buf, r.err.buf);
		ck_assert_msg(!strstr(r.out.buf, "No changes") && !strstr(r.err.buf, "No changes"),
			      "%s with %s:\n%s%s", args[0], host, r.out.buf, r.err.buf);
		if (failed_cmds[_i].json)
			check_failed_json(host, r.out.buf, strcmp(args[0], "status") != 0);
		else if (strcmp(args[0], "status") == 0)
			ck_assert_msg(strstr(r.out.buf, "unknown: could not reach host 'local'"),
				      "%s with %s:\n%s", args[0], host, r.out.buf);
		else
			ck_assert_msg(strstr(r.out.buf, "Could not reach host 'local' (see the error "
					     "above): no plan for it.\n"),
				      "%s with %s:\n%s", args[0], host, r.out.buf);
		run_result_release(&r);
		free(host);
	}
	free(path);
	free(reg);
}
END_TEST

/* Two hosts, neither reachable (nothing listens on 127.0.0.1:1). */
START_TEST(test_failed_hosts_named)
{
	char *path = state_path();
	const char *diff[] = { "diff", "-f", path, NULL };
	struct run_result r;

	write_text(path, "version: 1\nhosts:\n  - name: local\n  - name: lab\n    address: 127.0.0.1\n"
		   "    port: 1\n");
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.out.buf, "Could not reach hosts 'local', 'lab' (see the error above): "
			     "no plan for them.\n"), "%s%s", r.out.buf, r.err.buf);
	ck_assert_msg(!strstr(r.out.buf, "No changes"), "%s", r.out.buf);
	run_result_release(&r);
	free(path);
}
END_TEST

static void setup(void)
{
	tmp = make_tmpdir("cli-output");
	set_test_env(tmp, false);
}

static void teardown(void)
{
	remove_tree(tmp);
	free(tmp);
	tmp = NULL;
}

int main(void)
{
	Suite *s = suite_create("cli-output");
	TCase *tc = tcase_create("output");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_show_json_shapes, 0, (int)OCC_ARRAY_SIZE(shapes));
	tcase_add_test(tc, test_show_json_examples);
	tcase_add_test(tc, test_show_json_escapes);
	tcase_add_loop_test(tc, test_secret_values_masked, 0, (int)OCC_ARRAY_SIZE(secret_cmds));
	tcase_add_loop_test(tc, test_edit_through_symlink, 0, 3);
	tcase_add_test(tc, test_edit_dangling_link);
	tcase_add_test(tc, test_edit_keeps_owner_mode);
	tcase_add_loop_test(tc, test_docker_host_not_a_socket, 0, 3);
	tcase_add_test(tc, test_docker_host_missing_or_dead);
	tcase_add_loop_test(tc, test_failed_host_no_changes_claim, 0, (int)OCC_ARRAY_SIZE(failed_cmds));
	tcase_add_test(tc, test_failed_hosts_named);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
