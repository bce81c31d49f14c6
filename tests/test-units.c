/*
 * test-units.c - `occ install` / `occ uninstall` (drivers/service.h,
 * cli/cmd-service.c): the template renderer, escaping, the rendered systemd
 * units against `systemd-analyze verify` and the rendered launchd plists
 * against tests/plist.dtd with xmllint (plistutil accepts broken XML),
 * idempotency, --dry-run, uninstall and --purge, the root check, status, and
 * the built binary end to end.
 *
 * Every test runs with a temporary HOME and XDG_CONFIG_HOME. A fake runner
 * stands in for systemctl and launchctl: it answers their queries from a
 * small simulated manager and records every command, so "a second install
 * runs nothing" is an assertion on that record. The binary tests run with no
 * $XDG_RUNTIME_DIR, so occ itself decides the user manager is unreachable and
 * runs no systemctl command at all.
 *
 * systemd-analyze (Debian: systemd) and xmllint (libxml2-utils) are installed
 * by .ci/run; without them those two tests say so and pass.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drivers/service-int.h"
#include "model/util.h"
#include "tests/testutil.h"

static char *tmp;          /* per test */

/* ---- fixtures ------------------------------------------------------------ */

static char *tpath(const char *rel)
{
	return occ_xasprintf("%s/%s", tmp, rel);
}

static void setup(void)
{
	char *home, *cfg, *run;

	tmp = make_tmpdir("units");
	home = tpath("home");
	cfg = tpath("home/.config");
	run = tpath("run");
	ck_assert_int_eq(mkdir(home, 0755), 0);
	ck_assert_int_eq(mkdir(run, 0700), 0);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", cfg, 1);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("DOCKER_HOST");
	free(home);
	free(cfg);
	free(run);
}

static void teardown(void)
{
	remove_tree(tmp);
	free(tmp);
	tmp = NULL;
}

/* ---- a fake systemctl / launchctl ----------------------------------------- */

struct fake {
	bool usable;            /* the manager answers */
	int version;            /* systemctl --version */
	bool enabled, active;   /* systemd; launchd: loaded, running */
	char *log[64];          /* every command, shell-quoted */
	size_t n;
};

static bool has(const char *const *argv, const char *word)
{
	for (; *argv; argv++)
		if (strcmp(*argv, word) == 0)
			return true;
	return false;
}

static const char *last(const char *const *argv)
{
	const char *l = argv[0];

	for (; *argv; argv++)
		l = *argv;
	return l;
}

static bool is_query(const char *cmd)
{
	static const char *const q[] = { " is-system-running", " is-enabled ", " is-active ",
					 " --version", "launchctl print " };

	for (size_t i = 0; i < OCC_ARRAY_SIZE(q); i++)
		if (strstr(cmd, q[i]))
			return true;
	return false;
}

static size_t n_actions(const struct fake *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += !is_query(f->log[i]);
	return n;
}

static void fake_reset(struct fake *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->log[i]);
	f->n = 0;
}

static void answer(struct occ_service_output *res, int status, const char *out)
{
	res->status = status;
	occ_strbuf_adds(&res->out, out);
}

static void fake_systemctl(struct fake *f, const char *const *argv, struct occ_service_output *res)
{
	char v[64];

	if (has(argv, "--version")) {
		snprintf(v, sizeof(v), "systemd %d (test)\n+PAM\n", f->version);
		answer(res, 0, v);
	} else if (has(argv, "is-system-running")) {
		answer(res, f->usable ? 0 : 1, f->usable ? "running\n" : "offline\n");
	} else if (has(argv, "is-enabled")) {
		answer(res, f->enabled ? 0 : 1, f->enabled ? "enabled\n" : "disabled\n");
	} else if (has(argv, "is-active")) {
		answer(res, f->active ? 0 : 3, f->active ? "active\n" : "inactive\n");
	} else if (has(argv, "enable")) {
		f->enabled = true;
		f->active |= has(argv, "--now");
	} else if (has(argv, "disable")) {
		f->enabled = false;
		f->active &= !has(argv, "--now");
	} else if (has(argv, "restart")) {
		f->active = true;
	} else if (has(argv, "stop")) {
		f->active = false;
	}
}

static void fake_launchctl(struct fake *f, const char *const *argv, struct occ_service_output *res)
{
	if (has(argv, "print") && strchr(last(argv), '.') == NULL)
		answer(res, f->usable ? 0 : 1, "");
	else if (has(argv, "print"))
		answer(res, f->enabled ? 0 : 113, f->active ? "\tstate = running\n" : "\tstate = not running\n");
	else if (has(argv, "bootstrap"))
		f->enabled = f->active = true;
	else if (has(argv, "bootout"))
		f->enabled = f->active = false;
	else if (has(argv, "kickstart"))
		f->active = true;
}

static int fake_run(void *ctx, const char *const *argv, struct occ_service_output *res,
		    struct occ_error *err)
{
	struct fake *f = ctx;

	(void)err;
	ck_assert_uint_lt(f->n, OCC_ARRAY_SIZE(f->log));
	f->log[f->n++] = occ_service__display(argv);
	occ_strbuf_init(&res->out);
	occ_strbuf_init(&res->err);
	res->status = 0;
	if (strcmp(argv[0], "systemctl") == 0)
		fake_systemctl(f, argv, res);
	else if (strcmp(argv[0], "launchctl") == 0)
		fake_launchctl(f, argv, res);
	else
		res->status = 127;
	return 0;
}

static struct occ_service_opts opts_for(struct fake *f, enum occ_service_manager m)
{
	struct occ_service_opts o = {
		.manager = m, .exe = "/usr/bin/occ", .run = fake_run, .run_ctx = f,
	};

	return o;
}

static char *state_path(void)
{
	char *p = tpath("state.yaml");

	write_text(p, "version: 1\n");
	return p;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* ---- templates ------------------------------------------------------------ */

struct tmpl_case {
	const char *tmpl;
	const char *want;       /* NULL: an error */
};

static const struct tmpl_case tmpl_cases[] = {
	{ "a=@A@\n", "a=1\n" },
	{ "@A@@B@", "1two" },
	{ "mail@@host\n", "mail@host\n" },
	{ "@# dropped\nkept\n", "kept\n" },
	{ "@?A@yes @A@\n@?U@no\n", "yes 1\n" },
	{ "@!U@unset\n@!A@set\n", "unset\n" },
	{ "x\n@?U@@U@\ny", "x\ny" },
	{ "@U@\n", NULL },          /* unset in a kept line */
	{ "@NOPE@\n", NULL },       /* unknown */
	{ "@?NOPE@x\n", NULL },
	{ "a @A\n", NULL },         /* unterminated */
};

START_TEST(test_template)
{
	const struct tmpl_case *c = &tmpl_cases[_i];
	const struct occ_tmpl_var vars[] = { { "A", "1" }, { "B", "two" }, { "U", NULL } };
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_error err;
	int ret;

	occ_strbuf_init(&sb);
	occ_error_clear(&err);
	ret = occ_service__render_template(&sb, c->tmpl, vars, OCC_ARRAY_SIZE(vars), &err);
	if (c->want) {
		ck_assert_msg(ret == 0, "case %d: %s", _i, err.msg);
		ck_assert_str_eq(sb.buf, c->want);
	} else {
		ck_assert_int_eq(ret, OCC_EINVALID);
		ck_assert_msg(strstr(err.msg, "unit template"), "%s", err.msg);
	}
	occ_strbuf_release(&sb);
}
END_TEST

/* ---- escaping --------------------------------------------------------------- */

struct escape_case {
	const char *in;
	const char *exe;        /* the program of ExecStart= */
	const char *arg;        /* an argument of ExecStart= */
	const char *env;        /* Environment="X=..." */
	const char *text;       /* Description= */
	const char *xml;
};

static const struct escape_case escape_cases[] = {
	{ "/usr/bin/occ", "\"/usr/bin/occ\"", "\"/usr/bin/occ\"", "\"X=/usr/bin/occ\"", "/usr/bin/occ",
	  "/usr/bin/occ" },
	{ "/a b/c", "\"/a b/c\"", "\"/a b/c\"", "\"X=/a b/c\"", "/a b/c", "/a b/c" },
	{ "/100%/%h", "\"/100%%/%%h\"", "\"/100%%/%%h\"", "\"X=/100%%/%%h\"", "/100%%/%%h", "/100%/%h" },
	{ "/$HOME/${X}", "\"/$HOME/${X}\"", "\"/$$HOME/$${X}\"", "\"X=/$HOME/${X}\"", "/$HOME/${X}",
	  "/$HOME/${X}" },
	{ "/q\"d'", "\"/q\\\"d'\"", "\"/q\\\"d'\"", "\"X=/q\\\"d'\"", "/q\"d'", "/q&quot;d&apos;" },
	{ "/b\\s", "\"/b\\\\s\"", "\"/b\\\\s\"", "\"X=/b\\\\s\"", "/b\\s", "/b\\s" },
	{ "/x&y<z>", "\"/x&y<z>\"", "\"/x&y<z>\"", "\"X=/x&y<z>\"", "/x&y<z>", "/x&amp;y&lt;z&gt;" },
	{ "/caf\xc3\xa9;", "\"/caf\xc3\xa9;\"", "\"/caf\xc3\xa9;\"", "\"X=/caf\xc3\xa9;\"", "/caf\xc3\xa9;",
	  "/caf\xc3\xa9;" },
};

START_TEST(test_escape)
{
	const struct escape_case *c = &escape_cases[_i];
	char *exe = occ_systemd__quote_exe(c->in);
	char *arg = occ_systemd__quote_arg(c->in);
	char *env = occ_systemd__quote_env("X", c->in);
	char *text = occ_systemd__escape_text(c->in);
	char *xml = occ_launchd__xml_escape(c->in);

	ck_assert_str_eq(exe, c->exe);
	ck_assert_str_eq(arg, c->arg);
	ck_assert_str_eq(env, c->env);
	ck_assert_str_eq(text, c->text);
	ck_assert_str_eq(xml, c->xml);
	free(exe);
	free(arg);
	free(env);
	free(text);
	free(xml);
}
END_TEST

struct text_case {
	const char *s;
	bool ok;
};

static const struct text_case text_cases[] = {
	{ "/plain/path", true },
	{ "/caf\xc3\xa9/\xf0\x9f\x90\xb3", true },
	{ "/new\nline", false },
	{ "/tab\there", false },
	{ "/del\x7f", false },
	{ "/overlong\xc0\xaf", false },
	{ "/surrogate\xed\xa0\x80", false },
	{ "/cut\xe2\x82", false },
	{ "/latin1\xe9t\xe9", false },
};

START_TEST(test_check_text)
{
	const struct text_case *c = &text_cases[_i];
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_service__check_text(c->s, "the path", &err), c->ok ? 0 : OCC_EINVALID);
}
END_TEST

/* A state file path a unit cannot carry is refused before anything is written. */
START_TEST(test_bad_path_refused)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	struct occ_error err;
	char *unit = tpath("home/.config/systemd/user/opencode-cloud.service");

	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_ensure(&r, "/tmp/a\nb.yaml", NULL, &o, &err), OCC_EINVALID);
	ck_assert_msg(strstr(err.msg, "state file"), "%s", err.msg);
	ck_assert(!file_exists(unit));
	occ_service_result_release(&r);
	free(unit);
	fake_reset(&f);
}
END_TEST

/* systemd cannot run a program from a path with a quote or a backslash; the
 * plist can carry it. */
START_TEST(test_exe_refused)
{
	static const char *const bad[] = { "/opt/it's/occ", "/opt/\"q\"/occ", "/opt/b\\s/occ" };
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_error err;
	char *text = NULL;

	for (size_t i = 0; i < OCC_ARRAY_SIZE(bad); i++) {
		o.manager = OCC_SERVICE_SYSTEMD;
		o.exe = bad[i];
		occ_error_clear(&err);
		ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", NULL, &o, &err), OCC_EINVALID);
		ck_assert_msg(strstr(err.msg, "quote or a backslash"), "%s", err.msg);
		o.manager = OCC_SERVICE_LAUNCHD;
		ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", NULL, &o, &err), 0);
		free(text);
	}
	fake_reset(&f);
}
END_TEST

START_TEST(test_parse_version)
{
	ck_assert_int_eq(occ_systemd__parse_version("systemd 252 (252.38-1~deb12u1)\n+PAM"), 252);
	ck_assert_int_eq(occ_systemd__parse_version("systemd 256.1"), 256);
	ck_assert_int_eq(occ_systemd__parse_version("launchctl"), 0);
	ck_assert_int_eq(occ_systemd__parse_version("systemd x"), 0);
	ck_assert_int_eq(occ_systemd__parse_version(""), 0);
}
END_TEST

/* ---- rendered files against the real checkers ----------------------------- */

/* Awkward but legal names for the binary's directory and the state file. */
struct path_case {
	bool system;
	const char *exe_dir;
	const char *state;
	const char *docker_host;
};

static const struct path_case path_cases[] = {
	{ false, "bin", "state.yaml", NULL },
	{ true, "bin", "state.yaml", NULL },
	{ false, "my bin", "my state.yaml", NULL },
	{ true, "100% & <more>", "50%h \"quoted\" 'single'.yaml", NULL },
	{ false, "$HOME ${X} 100%", "a;b & c<d> \\back.yaml", "unix:///run/my docker/%i.sock" },
	{ true, "caf\xc3\xa9 \xe2\x9c\x93", "%%n $$ \\n.yaml", "unix:///var/run/docker.sock" },
	{ false, "bin", "state.yaml", "tcp://127.0.0.1:2375" },
};

/* Make <tmp>/<dir>/occ an executable (a link to /bin/true); return its path. */
static char *make_exe(const char *dir)
{
	char *d = occ_xasprintf("%s/%s", tmp, dir);
	char *exe = occ_xasprintf("%s/occ", d);
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_mkdir_p(d, 0755, &err), 0);
	ck_assert_int_eq(symlink("/bin/true", exe), 0);
	free(d);
	return exe;
}

static char *render_case(const struct path_case *c, enum occ_service_manager m, int version,
			 char **exe_out, char **state_out)
{
	struct fake f = { .usable = true, .version = version };
	struct occ_service_opts o = opts_for(&f, m);
	char *exe = make_exe(c->exe_dir), *state = tpath(c->state), *text = NULL, *path = NULL;
	struct occ_error err;

	if (c->docker_host)
		setenv("DOCKER_HOST", c->docker_host, 1);
	o.exe = exe;
	o.system = c->system;
	o.unit_dir = tmp;
	occ_error_clear(&err);
	ck_assert_msg(occ_service_render(&text, &path, state, NULL, &o, &err) == 0, "%s", err.msg);
	write_text(path, text);
	unsetenv("DOCKER_HOST");
	free(text);
	fake_reset(&f);
	*exe_out = exe;
	*state_out = state;
	return path;
}

/* The installed systemd's version, 0 when systemd-analyze is missing. */
static int analyze_version(void)
{
	const char *argv[] = { "systemd-analyze", "--version", NULL };
	struct run_result r;
	int v;

	run_prog(&r, argv);
	v = r.status == 0 ? occ_systemd__parse_version(r.out.buf) : 0;
	run_result_release(&r);
	return v;
}

START_TEST(test_systemd_verify)
{
	const struct path_case *c = &path_cases[_i];
	int version = analyze_version();
	char *exe, *state, *path, *text, *want;
	struct run_result r;
	size_t len;
	struct occ_error err;

	if (!version) {
		printf("test_systemd_verify: skipped: systemd-analyze is not installed "
		       "(Debian package: systemd)\n");
		return;
	}
	path = render_case(c, OCC_SERVICE_SYSTEMD, version, &exe, &state);
	{
		const char *argv[] = { "systemd-analyze", c->system ? "--system" : "--user",
				       "verify", path, NULL };

		run_prog(&r, argv);
	}
	/* verify resolves ExecStart's first word: a wrong escape names a
	 * binary that does not exist, and fails. */
	ck_assert_msg(r.status == 0 && r.err.len == 0 && r.out.len == 0,
		      "case %d: systemd-analyze verify exit %d:\n%s%s", _i, r.status, r.out.buf,
		      r.err.buf);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_read_file(path, 65536, &text, &len, &err), 0);
	want = occ_systemd__quote_arg(state);
	ck_assert_msg(strstr(text, want), "state path %s not in\n%s", want, text);
	ck_assert(strstr(text, "Restart=on-failure\n"));
	ck_assert(strstr(text, c->system ? "WantedBy=multi-user.target\n" : "WantedBy=default.target\n"));
	ck_assert(!c->system == !strstr(text, "After=network-online.target docker.service"));
	ck_assert(!strstr(text, "ExecStartPre") == (c->docker_host && strncmp(c->docker_host, "tcp:", 4) == 0));
	run_result_release(&r);
	free(want);
	free(text);
	free(path);
	free(exe);
	free(state);
}
END_TEST

/* One string of the plist, by XPath, as xmllint reads it back. */
static char *xpath_string(const char *file, const char *expr)
{
	const char *argv[] = { "xmllint", "--nonet", "--xpath", expr, file, NULL };
	struct run_result r;
	char *s;

	run_prog(&r, argv);
	ck_assert_msg(r.status == 0, "xmllint --xpath %s: %s", expr, r.err.buf);
	if (r.out.len && r.out.buf[r.out.len - 1] == '\n')
		r.out.buf[--r.out.len] = '\0';
	s = occ_xstrdup(r.out.buf);
	run_result_release(&r);
	return s;
}

static bool have_xmllint(void)
{
	const char *argv[] = { "xmllint", "--version", NULL };
	struct run_result r;
	bool ok;

	run_prog(&r, argv);
	ok = r.status == 0;
	run_result_release(&r);
	return ok;
}

/* Validate against tests/plist.dtd: a catalog maps the public id in the
 * plist's DOCTYPE to it, so the file is checked exactly as rendered. */
static void xmllint_valid(const char *file, int *status, char **errors)
{
	char *catalog = tpath("catalog.xml");
	char *text = occ_xasprintf(
		"<?xml version=\"1.0\"?>\n"
		"<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">\n"
		"  <public publicId=\"-//Apple//DTD PLIST 1.0//EN\" uri=\"file://%s/tests/plist.dtd\"/>\n"
		"</catalog>\n", OCC_SOURCE_DIR);
	const char *argv[] = { "xmllint", "--noout", "--nonet", "--valid", file, NULL };
	struct run_result r;

	write_text(catalog, text);
	setenv("XML_CATALOG_FILES", catalog, 1);
	run_prog(&r, argv);
	unsetenv("XML_CATALOG_FILES");
	*status = r.status;
	*errors = occ_xasprintf("%s%s", r.out.buf, r.err.buf);
	run_result_release(&r);
	free(text);
	free(catalog);
}

START_TEST(test_plist_valid)
{
	const struct path_case *c = &path_cases[_i];
	char *exe, *state, *path, *errors, *got;
	int status;

	if (!have_xmllint()) {
		printf("test_plist_valid: skipped: xmllint is not installed (Debian package: "
		       "libxml2-utils)\n");
		return;
	}
	path = render_case(c, OCC_SERVICE_LAUNCHD, 0, &exe, &state);
	xmllint_valid(path, &status, &errors);
	ck_assert_msg(status == 0 && !errors[0], "case %d: xmllint exit %d:\n%s", _i, status, errors);
	/* What launchd will read back is exactly what went in. */
	got = xpath_string(path, "string(/plist/dict/array/string[last()])");
	ck_assert_str_eq(got, state);
	free(got);
	got = xpath_string(path, "string(/plist/dict/array/string[.='watch']/preceding-sibling::string[1])");
	ck_assert_str_eq(got, exe);
	free(got);
	if (c->docker_host) {
		got = xpath_string(path, "string(//dict/key[.='DOCKER_HOST']/following-sibling::string[1])");
		ck_assert_str_eq(got, c->docker_host);
		free(got);
	}
	free(errors);
	free(path);
	free(exe);
	free(state);
}
END_TEST

/* The DTD is strict enough to catch a broken plist. */
START_TEST(test_plist_dtd_rejects)
{
	static const char *const bad[] = {
		"<dict><key>a</key><key>b</key><string>x</string></dict>",
		"<dict><key>a</key></dict>",
		"<dict><string>x</string></dict>",
		"<array><key>a</key></array>",
		"<dict><key>a</key><bool/></dict>",
		"<string>a</string><string>b</string>",
	};
	char *file = tpath("bad.plist");

	if (!have_xmllint())
		return;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(bad); i++) {
		char *text = occ_xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
					   "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
					   "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
					   "<plist version=\"1.0\">%s</plist>\n", bad[i]);
		char *errors;
		int status;

		write_text(file, text);
		xmllint_valid(file, &status, &errors);
		ck_assert_msg(status != 0, "accepted: %s", bad[i]);
		free(errors);
		free(text);
	}
	free(file);
}
END_TEST

/* ---- behaviour through the fake manager ------------------------------------ */

static void ensure_ok(struct occ_service_result *r, const char *state, const struct occ_service_opts *o)
{
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_msg(occ_service_ensure(r, state, NULL, o, &err) == 0, "%s", err.msg);
}

static void assert_commands(const struct occ_service_result *r, const char *const *want)
{
	size_t n = 0;

	for (; want[n]; n++) {
		ck_assert_msg(n < r->n_commands, "missing command '%s'", want[n]);
		ck_assert_str_eq(r->commands[n], want[n]);
	}
	ck_assert_uint_eq(r->n_commands, n);
}

struct idem_case {
	enum occ_service_manager m;
	const char *unit;                 /* relative to tmp */
	const char *first[4];             /* commands of the first install */
	const char *changed[4];           /* ... after the inputs change */
};

static const struct idem_case idem_cases[] = {
	{ OCC_SERVICE_SYSTEMD, "home/.config/systemd/user/opencode-cloud.service",
	  { "systemctl --user daemon-reload",
	    "systemctl --user enable --now --no-block opencode-cloud.service" },
	  { "systemctl --user daemon-reload",
	    "systemctl --user restart --no-block opencode-cloud.service" } },
	{ OCC_SERVICE_LAUNCHD, "home/Library/LaunchAgents/dev.opencode-cloud.occ.plist",
	  { "launchctl enable gui/0/dev.opencode-cloud.occ", NULL },
	  { "launchctl bootout gui/0/dev.opencode-cloud.occ",
	    "launchctl enable gui/0/dev.opencode-cloud.occ", NULL } },
};

START_TEST(test_idempotent)
{
	const struct idem_case *c = &idem_cases[_i];
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, c->m);
	struct occ_service_result r;
	char *state = state_path(), *unit = tpath(c->unit);
	struct stat st1, st2;

	o.uid_set = true;
	o.uid = 0;
	ensure_ok(&r, state, &o);
	ck_assert(r.changed && !r.existed && r.manager_ok && r.ran);
	ck_assert_str_eq(r.path, unit);
	ck_assert_str_eq(r.commands[0], c->first[0]);
	if (c->m == OCC_SERVICE_SYSTEMD)
		assert_commands(&r, c->first);
	ck_assert(f.enabled && f.active);
	ck_assert_int_eq(stat(unit, &st1), 0);
	ck_assert_int_eq(st1.st_mode & 07777, 0644);
	occ_service_result_release(&r);

	/* The same inputs again: nothing written, no action run. */
	fake_reset(&f);
	ensure_ok(&r, state, &o);
	ck_assert(!r.changed && r.existed && !r.ran);
	ck_assert_uint_eq(r.n_commands, 0);
	ck_assert_uint_eq(n_actions(&f), 0);
	ck_assert_int_eq(stat(unit, &st2), 0);
	ck_assert(same_file(&st1, &st2));
	occ_service_result_release(&r);

	/* Changed inputs: rewritten and restarted. */
	fake_reset(&f);
	setenv("DOCKER_HOST", "unix:///run/other.sock", 1);
	ensure_ok(&r, state, &o);
	ck_assert(r.changed && r.existed && r.ran);
	ck_assert_str_eq(r.commands[0], c->changed[0]);
	if (c->m == OCC_SERVICE_SYSTEMD)
		assert_commands(&r, c->changed);
	ck_assert(f.enabled && f.active);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
	free(unit);
}
END_TEST

/* Installed but stopped (or disabled): started again without a rewrite. */
START_TEST(test_restarts_stopped)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	char *state = state_path();
	const char *start[] = { "systemctl --user enable --now --no-block opencode-cloud.service",
				NULL };

	ensure_ok(&r, state, &o);
	occ_service_result_release(&r);
	f.active = false;
	fake_reset(&f);
	ensure_ok(&r, state, &o);
	ck_assert(!r.changed);
	assert_commands(&r, start);
	ck_assert(f.active);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
}
END_TEST

START_TEST(test_dry_run_writes_nothing)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	char *state = state_path(), *dir = tpath("home/.config/systemd");
	char *unit = tpath("home/.config/systemd/user/opencode-cloud.service");
	const char *would[] = { "systemctl --user daemon-reload",
				"systemctl --user enable --now --no-block opencode-cloud.service", NULL };
	struct stat st1, st2;

	o.dry_run = true;
	ensure_ok(&r, state, &o);
	ck_assert(r.changed && !r.ran && r.manager_ok);
	assert_commands(&r, would);
	ck_assert(strstr(r.content, "watch -f"));
	ck_assert(!file_exists(dir));
	ck_assert_uint_eq(n_actions(&f), 0);
	occ_service_result_release(&r);

	/* Installed, then a dry run with changed inputs leaves the file alone. */
	o.dry_run = false;
	ensure_ok(&r, state, &o);
	occ_service_result_release(&r);
	ck_assert_int_eq(stat(unit, &st1), 0);
	fake_reset(&f);
	o.dry_run = true;
	setenv("DOCKER_HOST", "unix:///run/other.sock", 1);
	ensure_ok(&r, state, &o);
	ck_assert(r.changed && !r.ran);
	ck_assert_uint_eq(n_actions(&f), 0);
	ck_assert_int_eq(stat(unit, &st2), 0);
	ck_assert(same_file(&st1, &st2));
	occ_service_result_release(&r);

	/* Nor does a dry-run uninstall. */
	fake_reset(&f);
	ck_assert_int_eq(occ_service_remove(&r, &o, &(struct occ_error){ 0 }), 0);
	ck_assert(r.existed && !r.ran);
	ck_assert(file_exists(unit));
	ck_assert_uint_eq(n_actions(&f), 0);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
	free(dir);
	free(unit);
}
END_TEST

/* No user manager: the file is written, nothing runs, the result says what
 * to run later. */
START_TEST(test_manager_unusable)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	char *state = state_path();
	const char *later[] = { "systemctl --user daemon-reload",
				"systemctl --user enable --now opencode-cloud.service", NULL };

	unsetenv("XDG_RUNTIME_DIR");
	ensure_ok(&r, state, &o);
	ck_assert(r.changed && !r.manager_ok && !r.ran);
	ck_assert_msg(strstr(r.reason, "XDG_RUNTIME_DIR"), "%s", r.reason);
	assert_commands(&r, later);
	ck_assert(file_exists(r.path));
	ck_assert_uint_eq(n_actions(&f), 0);
	ck_assert_uint_eq(f.n, 1);          /* systemctl --version only */
	occ_service_result_release(&r);

	/* A session, but the manager is down. */
	fake_reset(&f);
	setenv("XDG_RUNTIME_DIR", tmp, 1);
	f.usable = false;
	ensure_ok(&r, state, &o);
	ck_assert(!r.changed && !r.manager_ok && !r.ran);
	ck_assert_msg(strstr(r.reason, "offline"), "%s", r.reason);
	assert_commands(&r, later);
	ck_assert_uint_eq(n_actions(&f), 0);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
}
END_TEST

START_TEST(test_uninstall)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	struct occ_error err;
	char *state = state_path();
	char *link = tpath("home/.config/systemd/user/default.target.wants/opencode-cloud.service");
	char *wants;
	const char *remove[] = { "systemctl --user disable --now opencode-cloud.service",
				 "systemctl --user daemon-reload", NULL };

	ensure_ok(&r, state, &o);
	occ_service_result_release(&r);
	fake_reset(&f);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_remove(&r, &o, &err), 0);
	ck_assert(r.existed && r.changed && r.ran);
	assert_commands(&r, remove);
	ck_assert(!file_exists(r.path));
	ck_assert(!f.enabled && !f.active);
	ck_assert(file_exists(state));
	occ_service_result_release(&r);

	/* Nothing installed: nothing to do. */
	fake_reset(&f);
	ck_assert_int_eq(occ_service_remove(&r, &o, &err), 0);
	ck_assert(!r.existed && !r.changed && !r.ran);
	ck_assert_uint_eq(r.n_commands, 0);
	ck_assert_uint_eq(n_actions(&f), 0);
	occ_service_result_release(&r);

	/* Without a manager, the enablement link goes with the file. */
	ensure_ok(&r, state, &o);
	occ_service_result_release(&r);
	wants = occ_path_dirname(link);
	ck_assert_int_eq(occ_mkdir_p(wants, 0755, &err), 0);
	ck_assert_int_eq(symlink("../opencode-cloud.service", link), 0);
	unsetenv("XDG_RUNTIME_DIR");
	fake_reset(&f);
	ck_assert_int_eq(occ_service_remove(&r, &o, &err), 0);
	ck_assert(r.existed && !r.manager_ok && !r.ran);
	ck_assert(!file_exists(r.path));
	ck_assert_int_ne(access(link, F_OK), 0);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(n_actions(&f), 0);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
	free(link);
	free(wants);
}
END_TEST

START_TEST(test_launchd_uninstall)
{
	struct fake f = { .usable = true };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_LAUNCHD);
	struct occ_service_result r;
	struct occ_error err;
	char *state = state_path();
	const char *remove[] = { "launchctl bootout gui/7/dev.opencode-cloud.occ", NULL };

	o.uid_set = true;
	o.uid = 7;
	ensure_ok(&r, state, &o);
	ck_assert(r.log_path && strstr(r.log_path, "/Library/Logs/opencode-cloud/"));
	ck_assert(strstr(r.content, "<key>KeepAlive</key>"));
	occ_service_result_release(&r);
	fake_reset(&f);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_remove(&r, &o, &err), 0);
	assert_commands(&r, remove);
	ck_assert(!file_exists(r.path) && !f.enabled);
	occ_service_result_release(&r);
	fake_reset(&f);
	free(state);
}
END_TEST

START_TEST(test_system_refused)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_result r;
	struct occ_error err;
	char *state = state_path(), *dir = tpath("units");

	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_check_system(1000, true, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "needs root"), "%s", err.msg);
	ck_assert(strstr(err.hint, "sudo"));
	ck_assert_int_eq(occ_service_check_system(0, true, &err), 0);
	ck_assert_int_eq(occ_service_check_system(1000, false, &err), 0);

	o.system = true;
	o.uid_set = true;
	o.uid = 1000;
	o.unit_dir = dir;
	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_ensure(&r, state, NULL, &o, &err), OCC_EPERM);
	occ_service_result_release(&r);
	ck_assert_int_eq(occ_service_remove(&r, &o, &err), OCC_EPERM);
	occ_service_result_release(&r);
	ck_assert(!file_exists(dir));
	ck_assert_uint_eq(f.n, 0);          /* refused before asking anything */
	fake_reset(&f);
	free(state);
	free(dir);
}
END_TEST

START_TEST(test_status)
{
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_service_status s;
	struct occ_service_result r;
	struct occ_error err;
	char *state = state_path();

	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_status_opts(&s, state, NULL, &o, &err), 0);
	ck_assert(!s.installed && !s.up_to_date && !s.enabled);
	ck_assert_int_eq(s.running, OCC_SERVICE_RUNNING_NO);
	ck_assert_str_eq(s.manager, "systemd");

	ensure_ok(&r, state, &o);
	occ_service_result_release(&r);
	ck_assert_int_eq(occ_service_status_opts(&s, state, NULL, &o, &err), 0);
	ck_assert(s.installed && s.up_to_date && s.enabled);
	ck_assert_int_eq(s.running, OCC_SERVICE_RUNNING_YES);
	ck_assert_str_eq(s.state, "active");
	ck_assert(strstr(s.path, "/systemd/user/opencode-cloud.service"));

	/* Another state file: installed, but not up to date. */
	ck_assert_int_eq(occ_service_status_opts(&s, "/elsewhere.yaml", NULL, &o, &err), 0);
	ck_assert(s.installed && !s.up_to_date);

	unsetenv("XDG_RUNTIME_DIR");
	ck_assert_int_eq(occ_service_status_opts(&s, state, NULL, &o, &err), 0);
	ck_assert_int_eq(s.running, OCC_SERVICE_RUNNING_UNKNOWN);
	ck_assert_str_eq(s.state, "unknown");
	ck_assert(s.reason[0]);
	fake_reset(&f);
	free(state);
}
END_TEST

/* What the unit waits for follows the state file and DOCKER_HOST. */
START_TEST(test_socket_wait)
{
	static const char remote[] =
		"version: 1\nhosts:\n  - {name: lab, address: 10.0.0.5}\n";
	static const char mixed[] =
		"version: 1\nhosts:\n  - {name: local}\n  - {name: lab, address: 10.0.0.5}\n";
	struct fake f = { .usable = true, .version = 252 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_state *st = NULL;
	struct occ_error err;
	char *text;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_model_load_buffer(&st, remote, strlen(remote), "r.yaml", tmp, &err), 0);
	ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", st, &o, &err), 0);
	ck_assert(!strstr(text, "ExecStartPre"));
	free(text);
	occ_state_free(st);

	ck_assert_int_eq(occ_model_load_buffer(&st, mixed, strlen(mixed), "m.yaml", tmp, &err), 0);
	setenv("DOCKER_HOST", "unix:///run/d.sock", 1);
	ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", st, &o, &err), 0);
	ck_assert(strstr(text, "occ-wait-docker \"/run/d.sock\"\n"));
	ck_assert(strstr(text, "Environment=\"DOCKER_HOST=unix:///run/d.sock\"\n"));
	free(text);
	occ_state_free(st);
	fake_reset(&f);
}
END_TEST

/* RestartSteps= only where systemd understands it (>= 254). */
START_TEST(test_backoff)
{
	struct fake f = { .usable = true, .version = 254 };
	struct occ_service_opts o = opts_for(&f, OCC_SERVICE_SYSTEMD);
	struct occ_error err;
	char *text;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", NULL, &o, &err), 0);
	ck_assert(strstr(text, "RestartSec=5s\nRestartSteps=6\nRestartMaxDelaySec=5min\n"));
	free(text);
	f.version = 253;
	ck_assert_int_eq(occ_service_render(&text, NULL, "/s.yaml", NULL, &o, &err), 0);
	ck_assert(strstr(text, "RestartSec=5s\n") && !strstr(text, "RestartSteps"));
	free(text);
	fake_reset(&f);
}
END_TEST

/* `occ apply` with service.install: true installs through the real runner
 * (no $XDG_RUNTIME_DIR: no systemctl command runs). */
START_TEST(test_cli_service_apply)
{
	struct occ_cli cli = { .quiet = true };
	struct occ_error err;
	char *state = tpath("state.yaml");
	char *unit = tpath("home/.config/systemd/user/opencode-cloud.service");

	unsetenv("XDG_RUNTIME_DIR");
	write_text(state, "version: 1\nservice:\n  install: true\n");
	occ_error_clear(&err);
	ck_assert_int_eq(occ_model_load(&cli.state, state, &err), 0);
	cli.file = state;
	ck_assert_int_eq(occ_cli_service_apply(&cli), 0);
	ck_assert(file_exists(unit));
	cli.state->service.install = false;
	ck_assert_int_eq(unlink(unit), 0);
	ck_assert_int_eq(occ_cli_service_apply(&cli), 0);
	ck_assert(!file_exists(unit));
	occ_state_free(cli.state);
	free(state);
	free(unit);
}
END_TEST

/* ---- the binary ------------------------------------------------------------- */

static void mkdir_for(const char *file)
{
	char *dir = occ_path_dirname(file);
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_mkdir_p(dir, 0700, &err), 0);
	free(dir);
}

static void occ_ok(struct run_result *r, const char *const *args, int status)
{
	run_occ(r, args);
	ck_assert_msg(r->status == status, "occ %s: exit %d, want %d\nstdout: %s\nstderr: %s",
		      args[0], r->status, status, r->out.buf, r->err.buf);
}

START_TEST(test_binary)
{
	char *state = tpath("my state.yaml"), *unit = tpath("home/.config/systemd/user/opencode-cloud.service");
	char *journal = tpath("home/.local/share/opencode-cloud/journal/opencode-cloud.log");
	char *lock = tpath("home/.local/share/opencode-cloud/locks/opencode-cloud.lock");
	char *watch = tpath("home/.local/share/opencode-cloud/watch/opencode-cloud.json");
	const char *dry[] = { "install", "--dry-run", "-f", state, NULL };
	const char *install[] = { "install", "-f", state, NULL };
	const char *uninstall[] = { "uninstall", "--purge", "-f", state, NULL };
	struct run_result r;
	struct stat st1, st2;

	unsetenv("XDG_RUNTIME_DIR");
	write_text(state, "version: 1\n");

	occ_ok(&r, dry, 0);
	ck_assert(strstr(r.out.buf, "would write "));
	ck_assert(strstr(r.out.buf, " watch -f \"") && strstr(r.out.buf, "/my state.yaml\"\n"));
	ck_assert(strstr(r.out.buf, "systemctl --user enable --now opencode-cloud.service"));
	ck_assert(!file_exists(unit));
	run_result_release(&r);

	occ_ok(&r, install, 0);
	ck_assert(file_exists(unit));
	ck_assert(strstr(r.err.buf, "systemctl --user enable --now opencode-cloud.service"));
	ck_assert(strstr(r.err.buf, "loginctl enable-linger"));
	ck_assert_int_eq(stat(unit, &st1), 0);
	run_result_release(&r);

	occ_ok(&r, install, 0);
	ck_assert(strstr(r.err.buf, "is up to date"));
	ck_assert_int_eq(stat(unit, &st2), 0);
	ck_assert(same_file(&st1, &st2));
	run_result_release(&r);

	mkdir_for(journal);
	mkdir_for(lock);
	mkdir_for(watch);
	write_text(journal, "x\n");
	write_text(lock, "");
	write_text(watch, "{}\n");
	occ_ok(&r, uninstall, 0);
	ck_assert(!file_exists(unit) && !file_exists(journal) && !file_exists(lock));
	ck_assert(!file_exists(watch));
	ck_assert(file_exists(state));
	ck_assert(strstr(r.err.buf, "never removes volumes"));
	run_result_release(&r);

	{
		const char *bad[] = { "install", "--bogus", NULL };

		occ_ok(&r, bad, 64);
		run_result_release(&r);
	}
	free(state);
	free(unit);
	free(journal);
	free(lock);
	free(watch);
}
END_TEST

static Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("units");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_template, 0, OCC_ARRAY_SIZE(tmpl_cases));
	tcase_add_loop_test(tc, test_escape, 0, OCC_ARRAY_SIZE(escape_cases));
	tcase_add_loop_test(tc, test_check_text, 0, OCC_ARRAY_SIZE(text_cases));
	tcase_add_test(tc, test_bad_path_refused);
	tcase_add_test(tc, test_exe_refused);
	tcase_add_test(tc, test_parse_version);
	tcase_add_loop_test(tc, test_systemd_verify, 0, OCC_ARRAY_SIZE(path_cases));
	tcase_add_loop_test(tc, test_plist_valid, 0, OCC_ARRAY_SIZE(path_cases));
	tcase_add_test(tc, test_plist_dtd_rejects);
	tcase_add_loop_test(tc, test_idempotent, 0, OCC_ARRAY_SIZE(idem_cases));
	tcase_add_test(tc, test_restarts_stopped);
	tcase_add_test(tc, test_dry_run_writes_nothing);
	tcase_add_test(tc, test_manager_unusable);
	tcase_add_test(tc, test_uninstall);
	tcase_add_test(tc, test_launchd_uninstall);
	tcase_add_test(tc, test_system_refused);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_socket_wait);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_cli_service_apply);
	tcase_add_test(tc, test_binary);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
