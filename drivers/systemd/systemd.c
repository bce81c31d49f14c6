/*
 * systemd.c - the systemd backend of service.h: renders
 * units/opencode-cloud.service.in and drives systemctl.
 *
 * Escaping follows systemd.syntax(7) and systemd.service(5): in Exec*= lines
 * every word is double-quoted, with \ and " backslash-escaped and % doubled
 * (specifiers); in the arguments $ is doubled too (systemd expands $VAR
 * there, but not in the program's path, which also may not hold a quote or
 * a backslash at all: such a path is refused). Environment= assignments are
 * quoted the same way but keep $ (no variable expansion there); plain values
 * such as Description= only double %. Control characters never get this far
 * (service.c refuses them).
 *
 * Nothing here is Linux-only, so the rendering is tested on every platform.
 */
#include "drivers/service-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* RestartSteps= and RestartMaxDelaySec= appeared in systemd 254. */
#define SYSTEMD_BACKOFF_VERSION 254

static char *escape(const char *s, bool quote, bool dollar)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (; *s; s++) {
		if (quote && (*s == '\\' || *s == '"'))
			occ_strbuf_addc(&sb, '\\');
		else if (*s == '%' || (dollar && *s == '$'))
			occ_strbuf_addc(&sb, *s);
		occ_strbuf_addc(&sb, *s);
	}
	return occ_strbuf_detach(&sb);
}

char *occ_systemd__quote_arg(const char *s)
{
	char *e = escape(s, true, true);
	char *q = occ_xasprintf("\"%s\"", e);

	free(e);
	return q;
}

char *occ_systemd__quote_exe(const char *s)
{
	char *e = escape(s, true, false);
	char *q = occ_xasprintf("\"%s\"", e);

	free(e);
	return q;
}

char *occ_systemd__quote_env(const char *name, const char *value)
{
	char *e = escape(value, true, false);
	char *q = occ_xasprintf("\"%s=%s\"", name, e);

	free(e);
	return q;
}

char *occ_systemd__escape_text(const char *s)
{
	return escape(s, false, false);
}

int occ_systemd__parse_version(const char *text)
{
	long v;
	char *end;

	if (!text || !occ_starts_with(text, "systemd "))
		return 0;
	v = strtol(text + strlen("systemd "), &end, 10);
	if (end == text + strlen("systemd ") || v <= 0 || v > 100000)
		return 0;
	return (int)v;
}

static const char *wanted_by(const struct occ_service_ctx *c)
{
	return c->system ? "multi-user.target" : "default.target";
}

/* Run `systemctl [--user] verb [unit]`; *word gets the first line of stdout.
 * Returns the exit status, 127 when systemctl could not be run at all. */
static int ask(const struct occ_service_ctx *c, const char *verb, const char *unit,
	       char *word, size_t n)
{
	const char *argv[5];
	struct occ_service_output res;
	struct occ_error err;
	size_t i = 0;
	int status;

	argv[i++] = "systemctl";
	if (!c->system)
		argv[i++] = "--user";
	argv[i++] = verb;
	if (unit)
		argv[i++] = unit;
	argv[i] = NULL;
	occ_error_clear(&err);
	status = occ_service__run(c, argv, &res, &err) ? 127 : res.status;
	snprintf(word, n, "%.*s", (int)strcspn(res.out.buf, "\r\n"), res.out.buf);
	occ_service_output_release(&res);
	return status;
}

static void systemd_locate(struct occ_service_ctx *c, const char *unit_dir)
{
	char line[128];

	if (unit_dir)
		c->dir = occ_path_resolve(unit_dir, NULL);
	else if (c->system)
		c->dir = occ_xstrdup("/etc/systemd/system");
	else
		c->dir = occ_xasprintf("%s/systemd/user", c->xdg_config);
	c->path = occ_xasprintf("%s/%s", c->dir, OCC_SERVICE_UNIT_NAME);
	c->manager_version = ask(c, "--version", NULL, line, sizeof(line)) == 0 ?
			     occ_systemd__parse_version(line) : 0;
}

struct unit_values {
	char *desc, *exe, *state, *socket;
	char *env[6];   /* HOME, XDG_{CONFIG,DATA,STATE,CACHE}_HOME, DOCKER_HOST */
	char wait[16], timeout[16];
};

static void values_init(struct unit_values *v, const struct occ_service_ctx *c)
{
	memset(v, 0, sizeof(*v));
	v->desc = occ_systemd__escape_text(c->state_file);
	v->exe = occ_systemd__quote_exe(c->exe);
	v->state = occ_systemd__quote_arg(c->state_file);
	v->socket = c->socket ? occ_systemd__quote_arg(c->socket) : NULL;
	v->env[0] = occ_systemd__quote_env("HOME", c->home);
	v->env[1] = occ_systemd__quote_env("XDG_CONFIG_HOME", c->xdg_config);
	v->env[2] = occ_systemd__quote_env("XDG_DATA_HOME", c->xdg_data);
	v->env[3] = occ_systemd__quote_env("XDG_STATE_HOME", c->xdg_state);
	v->env[4] = occ_systemd__quote_env("XDG_CACHE_HOME", c->xdg_cache);
	v->env[5] = c->docker_host ? occ_systemd__quote_env("DOCKER_HOST", c->docker_host) : NULL;
	snprintf(v->wait, sizeof(v->wait), "%d", OCC_SERVICE_SOCKET_WAIT_S);
	/* The wait runs inside the start timeout: leave room for it. */
	snprintf(v->timeout, sizeof(v->timeout), "%d", OCC_SERVICE_SOCKET_WAIT_S + 30);
}

static void values_release(struct unit_values *v)
{
	free(v->desc);
	free(v->exe);
	free(v->state);
	free(v->socket);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(v->env); i++)
		free(v->env[i]);
}

/* systemd refuses to run a program whose path holds a quote or a backslash
 * ("Executable name contains special characters"), however it is escaped. */
static int check_exe(const char *exe, struct occ_error *err)
{
	if (!strpbrk(exe, "\"'\\"))
		return 0;
	occ_error_set(err, OCC_EINVALID,
		      "systemd cannot run '%s': the path holds a quote or a backslash", exe);
	occ_error_hint(err, "put occ in a directory whose path has neither, and install from there");
	return OCC_EINVALID;
}

static int render_values(struct occ_strbuf *out, const struct occ_service_ctx *c,
			 const struct unit_values *v, struct occ_error *err)
{
	const struct occ_tmpl_var vars[] = {
		{ "SYSTEM", c->system ? "1" : NULL },
		{ "DESCRIPTION", v->desc },
		{ "SOCKET", v->socket },
		{ "WAIT_S", v->wait },
		{ "TIMEOUT_S", v->timeout },
		{ "EXE", v->exe },
		{ "STATE_FILE", v->state },
		{ "ENV_HOME", v->env[0] },
		{ "ENV_XDG_CONFIG_HOME", v->env[1] },
		{ "ENV_XDG_DATA_HOME", v->env[2] },
		{ "ENV_XDG_STATE_HOME", v->env[3] },
		{ "ENV_XDG_CACHE_HOME", v->env[4] },
		{ "ENV_DOCKER_HOST", v->env[5] },
		{ "BACKOFF", c->manager_version >= SYSTEMD_BACKOFF_VERSION ? "1" : NULL },
		{ "WANTED_BY", wanted_by(c) },
	};

	return occ_service__render_template(out, (const char *)occ_unit_tmpl_systemd, vars,
					    OCC_ARRAY_SIZE(vars), err);
}

static int systemd_render(struct occ_strbuf *out, const struct occ_service_ctx *c,
			  struct occ_error *err)
{
	struct unit_values v;
	int ret = check_exe(c->exe, err);

	if (ret)
		return ret;
	values_init(&v, c);
	ret = render_values(out, c, &v, err);
	values_release(&v);
	return ret;
}

static bool one_of(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(word, *list) == 0)
			return true;
	return false;
}

static void systemd_probe(struct occ_service_probe *p, const struct occ_service_ctx *c)
{
	static const char *const up[] = { "running", "degraded", "starting", "initializing",
					  "maintenance", NULL };
	static const char *const active[] = { "active", "activating", "reloading", NULL };
	const char *scope = c->system ? "" : " --user";
	char word[64];
	int st;

	memset(p, 0, sizeof(*p));
	snprintf(p->state, sizeof(p->state), "unknown");
	if (!c->system && !getenv("XDG_RUNTIME_DIR")) {
		snprintf(p->reason, sizeof(p->reason),
			 "there is no systemd user session here ($XDG_RUNTIME_DIR is not set)");
		return;
	}
	st = ask(c, "is-system-running", NULL, word, sizeof(word));
	if (st == 127) {
		snprintf(p->reason, sizeof(p->reason), "systemctl cannot be run here");
		return;
	}
	if (!one_of(word, up)) {
		snprintf(p->reason, sizeof(p->reason), "'systemctl%s is-system-running' says '%s'",
			 scope, word[0] ? word : "nothing");
		return;
	}
	p->usable = true;
	ask(c, "is-enabled", OCC_SERVICE_UNIT_NAME, word, sizeof(word));
	p->enabled = strcmp(word, "enabled") == 0;
	ask(c, "is-active", OCC_SERVICE_UNIT_NAME, p->state, sizeof(p->state));
	p->active = one_of(p->state, active);
	if (!p->state[0])
		snprintf(p->state, sizeof(p->state), "unknown");
}

/* Plan `systemctl [--user] words...`. */
static void add(struct occ_service_plan *plan, const struct occ_service_ctx *c, unsigned flags,
		const char *const *words)
{
	const char *argv[8];
	size_t i = 0;

	argv[i++] = "systemctl";
	if (!c->system)
		argv[i++] = "--user";
	for (; *words && i + 1 < OCC_ARRAY_SIZE(argv); words++)
		argv[i++] = *words;
	argv[i] = NULL;
	occ_service__plan_add(plan, flags, argv);
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define UNIT OCC_SERVICE_UNIT_NAME

/*
 * Starts are queued with --no-block: a start waits for ExecStartPre, which
 * may wait a minute for the Docker socket. The commands to run later (the
 * manager is unusable) are written without it, as a person would type them.
 */
static void systemd_plan_install(struct occ_service_plan *plan, const struct occ_service_ctx *c,
				 const struct occ_service_probe *p, bool changed)
{
	const unsigned after = OCC_SERVICE_AFTER_FILE;

	if (!p->usable) {
		add(plan, c, after, WORDS("daemon-reload"));
		add(plan, c, after, WORDS("enable", "--now", UNIT));
		return;
	}
	if (changed)
		add(plan, c, after, WORDS("daemon-reload"));
	if (changed && p->active) {
		/* enable --now would leave the old process running. */
		if (!p->enabled)
			add(plan, c, after, WORDS("enable", UNIT));
		add(plan, c, after, WORDS("restart", "--no-block", UNIT));
	} else if (!p->enabled || !p->active) {
		add(plan, c, after, WORDS("enable", "--now", "--no-block", UNIT));
	}
}

static void systemd_plan_remove(struct occ_service_plan *plan, const struct occ_service_ctx *c,
				const struct occ_service_probe *p, bool exists)
{
	const unsigned after = OCC_SERVICE_AFTER_FILE;
	bool failed = strcmp(p->state, "failed") == 0;

	if (!p->usable) {
		/* The file goes now; a manager we could not reach may still run it. */
		if (exists) {
			add(plan, c, after, WORDS("stop", UNIT));
			add(plan, c, after, WORDS("daemon-reload"));
		}
		return;
	}
	if (exists)
		add(plan, c, 0, WORDS("disable", "--now", UNIT));
	else if (p->active || failed)
		add(plan, c, OCC_SERVICE_MAY_FAIL, WORDS("stop", UNIT));
	else if (!p->enabled)
		return;
	add(plan, c, after, WORDS("daemon-reload"));
	if (failed)
		add(plan, c, after | OCC_SERVICE_MAY_FAIL, WORDS("reset-failed", UNIT));
}

/* `systemctl disable` removes the enablement symlink; without a manager to
 * ask, remove it here so no dangling link is left behind. */
static void systemd_forget(const struct occ_service_ctx *c)
{
	char *link = occ_xasprintf("%s/%s.wants/%s", c->dir, wanted_by(c), OCC_SERVICE_UNIT_NAME);
	struct stat st;

	if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(link);
	free(link);
}

const struct occ_service_backend occ_systemd_backend = {
	.manager = "systemd",
	.locate = systemd_locate,
	.render = systemd_render,
	.probe = systemd_probe,
	.plan_install = systemd_plan_install,
	.plan_remove = systemd_plan_remove,
	.forget = systemd_forget,
};
