/*
 * launchd.c - the launchd backend of service.h: renders
 * units/dev.opencode-cloud.occ.plist.in and drives launchctl's modern verbs
 * (print, bootstrap, bootout, enable, kickstart; macOS 10.11 and later).
 *
 * A per-user agent lives in the gui/<uid> domain, which exists while the user
 * is logged in at the console; a system daemon lives in the system domain.
 * Values go into the plist XML-escaped; launchd passes ProgramArguments to
 * execvp as they are, so no shell quoting is involved. launchd restarts a
 * failed job no sooner than ThrottleInterval seconds later and has no growing
 * backoff.
 *
 * Nothing here is macOS-only, so the rendering is tested on Linux.
 */
#include "drivers/service-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *occ_launchd__xml_escape(const char *s)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (; *s; s++) {
		switch (*s) {
		case '&': occ_strbuf_adds(&sb, "&amp;"); break;
		case '<': occ_strbuf_adds(&sb, "&lt;"); break;
		case '>': occ_strbuf_adds(&sb, "&gt;"); break;
		case '"': occ_strbuf_adds(&sb, "&quot;"); break;
		case '\'': occ_strbuf_adds(&sb, "&apos;"); break;
		default: occ_strbuf_addc(&sb, *s); break;
		}
	}
	return occ_strbuf_detach(&sb);
}

static char *domain(const struct occ_service_ctx *c)
{
	return c->system ? occ_xstrdup("system") : occ_xasprintf("gui/%ld", (long)c->uid);
}

static char *service_target(const struct occ_service_ctx *c)
{
	char *d = domain(c);
	char *t = occ_xasprintf("%s/%s", d, OCC_SERVICE_LABEL);

	free(d);
	return t;
}

static void launchd_locate(struct occ_service_ctx *c, const char *unit_dir)
{
	if (unit_dir)
		c->dir = occ_path_resolve(unit_dir, NULL);
	else if (c->system)
		c->dir = occ_xstrdup("/Library/LaunchDaemons");
	else
		c->dir = occ_xasprintf("%s/Library/LaunchAgents", c->home);
	c->path = occ_xasprintf("%s/%s.plist", c->dir, OCC_SERVICE_LABEL);
	c->log_path = occ_xasprintf("%s/Library/Logs/opencode-cloud/watch.log",
				    c->system ? "" : c->home);
}

enum { V_LABEL, V_SOCKET, V_EXE, V_STATE, V_HOME, V_CONFIG, V_DATA, V_XSTATE, V_CACHE,
       V_DOCKER, V_LOG, V_N };

static int render_values(struct occ_strbuf *out, char *const *x, struct occ_error *err)
{
	char wait[16];
	const struct occ_tmpl_var vars[] = {
		{ "LABEL", x[V_LABEL] }, { "SOCKET", x[V_SOCKET] }, { "WAIT_S", wait },
		{ "EXE", x[V_EXE] }, { "STATE_FILE", x[V_STATE] }, { "HOME", x[V_HOME] },
		{ "XDG_CONFIG_HOME", x[V_CONFIG] }, { "XDG_DATA_HOME", x[V_DATA] },
		{ "XDG_STATE_HOME", x[V_XSTATE] }, { "XDG_CACHE_HOME", x[V_CACHE] },
		{ "DOCKER_HOST", x[V_DOCKER] }, { "LOG", x[V_LOG] },
	};

	snprintf(wait, sizeof(wait), "%d", OCC_SERVICE_SOCKET_WAIT_S);
	return occ_service__render_template(out, (const char *)occ_unit_tmpl_launchd, vars,
					    OCC_ARRAY_SIZE(vars), err);
}

static int launchd_render(struct occ_strbuf *out, const struct occ_service_ctx *c,
			  struct occ_error *err)
{
	const char *raw[V_N] = {
		[V_LABEL] = OCC_SERVICE_LABEL, [V_SOCKET] = c->socket, [V_EXE] = c->exe,
		[V_STATE] = c->state_file, [V_HOME] = c->home, [V_CONFIG] = c->xdg_config,
		[V_DATA] = c->xdg_data, [V_XSTATE] = c->xdg_state, [V_CACHE] = c->xdg_cache,
		[V_DOCKER] = c->docker_host, [V_LOG] = c->log_path,
	};
	char *x[V_N];
	int ret;

	for (size_t i = 0; i < V_N; i++)
		x[i] = raw[i] ? occ_launchd__xml_escape(raw[i]) : NULL;
	ret = render_values(out, x, err);
	for (size_t i = 0; i < V_N; i++)
		free(x[i]);
	return ret;
}

/* `launchctl print what`: its exit status (127: launchctl cannot run). */
static int lc_print(const struct occ_service_ctx *c, const char *what, bool *running)
{
	const char *argv[] = { "launchctl", "print", what, NULL };
	struct occ_service_output res;
	struct occ_error err;
	int status;

	occ_error_clear(&err);
	status = occ_service__run(c, argv, &res, &err) ? 127 : res.status;
	if (running)
		*running = status == 0 && strstr(res.out.buf, "state = running") != NULL;
	occ_service_output_release(&res);
	return status;
}

static void launchd_probe(struct occ_service_probe *p, const struct occ_service_ctx *c)
{
	char *d = domain(c), *t = service_target(c);
	int st;

	memset(p, 0, sizeof(*p));
	snprintf(p->state, sizeof(p->state), "unknown");
	st = lc_print(c, d, NULL);
	if (st == 127) {
		snprintf(p->reason, sizeof(p->reason), "launchctl cannot be run here");
	} else if (st != 0) {
		snprintf(p->reason, sizeof(p->reason),
			 "launchd has no '%s' domain here (is %s logged in at the console?)", d,
			 c->user);
	} else {
		p->usable = true;
		p->enabled = lc_print(c, t, &p->active) == 0;
		snprintf(p->state, sizeof(p->state), "%s",
			 !p->enabled ? "not loaded" : p->active ? "running" : "not running");
	}
	free(d);
	free(t);
}

static struct occ_service_cmd *add(struct occ_service_plan *plan, unsigned flags,
				   const char *verb, const char *a1, const char *a2)
{
	const char *argv[] = { "launchctl", verb, a1, a2, NULL };

	return occ_service__plan_add(plan, flags, argv);
}

static void launchd_plan_install(struct occ_service_plan *plan, const struct occ_service_ctx *c,
				 const struct occ_service_probe *p, bool changed)
{
	const unsigned after = OCC_SERVICE_AFTER_FILE;
	char *d = domain(c), *t = service_target(c);
	bool loaded = p->usable && p->enabled;

	if (changed && loaded)
		add(plan, after, "bootout", t, NULL);
	if (!p->usable || changed || !loaded) {
		/* A job disabled earlier refuses to bootstrap; bootstrap right
		 * after bootout can fail while the old job is torn down. */
		add(plan, after, "enable", t, NULL);
		add(plan, after, "bootstrap", d, c->path)->retries = 3;
	} else if (!p->active) {
		add(plan, after, "kickstart", t, NULL);
	}
	free(d);
	free(t);
}

static void launchd_plan_remove(struct occ_service_plan *plan, const struct occ_service_ctx *c,
				const struct occ_service_probe *p, bool exists)
{
	char *t = service_target(c);

	if (p->usable ? p->enabled : exists)
		add(plan, 0, "bootout", t, NULL);
	free(t);
}

const struct occ_service_backend occ_launchd_backend = {
	.manager = "launchd",
	.locate = launchd_locate,
	.render = launchd_render,
	.probe = launchd_probe,
	.plan_install = launchd_plan_install,
	.plan_remove = launchd_plan_remove,
	.forget = NULL,
};
