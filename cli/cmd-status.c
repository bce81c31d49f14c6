/*
 * cmd-status.c - `occ status`: what runs where, whether it is healthy and
 * whether it matches the state file. Read-only: it observes and plans but
 * never applies, and takes no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/render.h"
#include "cli/targets.h"
#include "drivers/service.h"
#include "reconciler/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

static int64_t parse_rfc3339(const char *s)
{
	struct tm tm = { 0 };

	if (!s || strncmp(s, "0001-", 5) == 0)
		return 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static void format_uptime(char *buf, size_t n, int64_t secs)
{
	if (secs < 60)
		snprintf(buf, n, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(buf, n, "%lldm %llds", (long long)secs / 60, (long long)secs % 60);
	else if (secs < 86400)
		snprintf(buf, n, "%lldh %lldm", (long long)secs / 3600, (long long)secs % 3600 / 60);
	else
		snprintf(buf, n, "%lldd %lldh", (long long)secs / 86400, (long long)secs % 86400 / 3600);
}

struct status {
	const struct occ_obs_container *c;
	const char *state;      /* "running", "stopped", "not created", ... */
	bool stopped_by_user;
	char uptime[32];
	const char *health;     /* "healthy", "unhealthy", "n/a" */
	char *url;
	bool exposed;
	bool open;              /* login open: OCC_LOGIN=open (see state.h) */
	bool remote_only;       /* a loopback URL on a remote host */
	size_t n_enabled;       /* accounts that can log in */
	const char *opencode_version; /* image labels; NULL when absent */
	const char *image_version;
};

/* The login mode of the container as it runs (its OCC_LOGIN), or the one
 * it will get when it does not exist yet. */
static bool login_open(const struct occ_obs_container *c, const struct occ_state *st)
{
	if (c)
		return occ_streq(occ_kvlist_get(&c->env, OCC_LOGIN_ENV), "open");
	return occ_state_login_open(st);
}

static void status_compute(struct status *s, struct occ_target *tg)
{
	const struct occ_state *st = tg->eff;
	const char *bind = st->container.bind;
	struct occ_error err;

	memset(s, 0, sizeof(*s));
	s->c = occ_observed_container(&tg->obs, st->name);
	s->exposed = !occ_bind_is_loopback(bind);
	s->open = login_open(s->c, st);
	for (size_t i = 0; i < st->n_users; i++)
		s->n_enabled += st->users[i].enabled;
	if (tg->obs.image.present) {
		s->opencode_version = occ_kvlist_get(&tg->obs.image.labels, OCC_IMAGE_LABEL_OPENCODE);
		s->image_version = occ_kvlist_get(&tg->obs.image.labels, OCC_IMAGE_LABEL_VERSION);
	}
	s->url = occ_cli_service_url(tg, &s->remote_only);
	s->health = "n/a";
	if (!s->c) {
		s->state = "not created";
		return;
	}
	s->state = occ_ctr_state_name(s->c->state);
	s->stopped_by_user = !st->container.running;
	if (s->c->state == OCC_CTR_RUNNING) {
		int64_t started = parse_rfc3339(s->c->started_at);

		if (started)
			format_uptime(s->uptime, sizeof(s->uptime), (int64_t)time(NULL) - started);
		occ_error_clear(&err);
		s->health = occ_driver_wait_healthy(tg->driver, st, 2000, &err) == 0 ? "healthy"
										      : "unhealthy";
	}
}

static void print_drift_text(struct occ_cli *cli, const struct occ_target *tg)
{
	const struct occ_plan *p = &tg->plan;

	if (occ_plan_empty(p)) {
		printf("  drift:    %sin sync%s\n", occ_c(cli, "green"), occ_c(cli, "reset"));
		return;
	}
	printf("  drift:    %s%zu pending action%s%s (run 'occ diff' for details, 'occ apply' to fix)\n",
	       occ_c(cli, "yellow"), p->n, p->n == 1 ? "" : "s", occ_c(cli, "reset"));
	for (size_t i = 0; i < p->n; i++)
		printf("            %s %s %s: %s\n", occ_action_kind_name(p->actions[i].kind),
		       p->actions[i].resource, p->actions[i].name,
		       p->actions[i].cause ? p->actions[i].cause : "");
}

static void print_login(struct occ_cli *cli, const struct occ_state *st, const struct status *s)
{
	size_t disabled = st->n_users - s->n_enabled;

	if (s->open) {
		printf("  login:    %sOPEN%s (no users, loopback only)\n", occ_c(cli, "yellow"),
		       occ_c(cli, "reset"));
		return;
	}
	if (!s->n_enabled) {
		printf("  login:    required, but no user is enabled ('occ user add' adds one)\n");
		return;
	}
	printf("  login:    %zu user%s", s->n_enabled, s->n_enabled == 1 ? "" : "s");
	if (disabled)
		printf(" (%zu disabled)", disabled);
	printf("\n");
}

static void print_text(struct occ_cli *cli, struct occ_target *tg, const struct status *s)
{
	const struct occ_state *st = tg->eff;
	const struct occ_obs_container *c = s->c;

	printf("%s%s%s on %s\n", occ_c(cli, "bold"), st->name, occ_c(cli, "reset"), tg->name);
	printf("  state:    %s%s%s%s%s\n", s->state, s->uptime[0] ? " (up " : "", s->uptime,
	       s->uptime[0] ? ")" : "",
	       s->stopped_by_user ? " — stopped by 'occ stop'; 'occ start' starts it" : "");
	printf("  url:      %s  %s%s%s\n", s->url, occ_c(cli, s->exposed ? "red" : "green"),
	       s->exposed ? "[NETWORK EXPOSED]" : "[LOCAL ONLY]", occ_c(cli, "reset"));
	if (s->remote_only)
		printf("            (on %s itself; 'occ open --host %s' forwards it here)\n", tg->name,
		       tg->name);
	print_login(cli, st, s);
	printf("  health:   %s\n", s->health);
	printf("  image:    %s", st->image.ref);
	if (c && c->image_id)
		printf(" (%.19s)", c->image_id);
	if (s->image_version)
		printf(" version %s", s->image_version);
	printf("\n");
	if (s->opencode_version)
		printf("  opencode: %s\n", s->opencode_version);
	if (c && c->port)
		printf("  ports:    %s:%u -> %u/tcp\n", c->bind ? c->bind : "0.0.0.0", c->port,
		       c->container_port);
	for (size_t i = 0; c && i < c->n_mounts; i++)
		printf("  mount:    %s -> %s%s\n", c->mounts[i].source, c->mounts[i].target,
		       c->mounts[i].readonly ? " (ro)" : "");
	for (size_t i = 0; c && i < c->n_volumes; i++)
		printf("  volume:   %s -> %s\n", c->volumes[i].name, c->volumes[i].target);
	print_drift_text(cli, tg);
}

static void print_json(struct occ_json *j, struct occ_target *tg, const struct status *s)
{
	const struct occ_obs_container *c = s->c;

	occ_json_obj_begin(j);
	occ_json_kstr(j, "host", tg->name);
	occ_json_kstr(j, "project", tg->eff->name);
	occ_json_kstr(j, "state", s->state);
	occ_json_kbool(j, "desired_running", tg->eff->container.running);
	occ_json_kstr(j, "url", s->url);
	occ_json_kstr(j, "binding", s->exposed ? "network" : "local");
	occ_json_kbool(j, "open", s->open);
	occ_json_kint(j, "login_users", (int64_t)s->n_enabled);
	occ_json_kstr(j, "health", s->health);
	occ_json_kstr(j, "image", tg->eff->image.ref);
	occ_json_kstr(j, "image_id", c ? c->image_id : NULL);
	occ_json_kstr(j, "image_version", s->image_version);
	occ_json_kstr(j, "opencode_version", s->opencode_version);
	occ_json_kstr(j, "container_id", c ? c->id : NULL);
	occ_json_kstr(j, "started_at", c && c->state == OCC_CTR_RUNNING ? c->started_at : NULL);
	occ_json_kbool(j, "in_sync", occ_plan_empty(&tg->plan));
	occ_json_key(j, "drift");
	occ_json_arr_begin(j);
	for (size_t i = 0; i < tg->plan.n; i++)
		occ_json_str(j, tg->plan.actions[i].cause);
	occ_json_arr_end(j);
	occ_json_obj_end(j);
}

static const char *service_word(const struct occ_service_status *s)
{
	if (!s->installed)
		return "not installed";
	if (s->running == OCC_SERVICE_RUNNING_YES)
		return "running";
	if (s->running == OCC_SERVICE_RUNNING_NO)
		return "installed, not running";
	return "installed (state unknown)";
}

/* The user service that runs `occ watch` (occ install / service.install). */
static void print_service(struct occ_cli *cli, struct occ_json *j)
{
	struct occ_service_status s;
	struct occ_error err;

	occ_error_clear(&err);
	if (occ_service_status(&s, cli->file, cli->state, false, &err) != 0) {
		if (!j)
			printf("service:    unknown (%s)\n", err.msg);
		return;
	}
	if (j) {
		occ_json_key(j, "service");
		occ_json_obj_begin(j);
		occ_json_kstr(j, "manager", s.manager);
		occ_json_kstr(j, "path", s.path);
		occ_json_kbool(j, "installed", s.installed);
		occ_json_kbool(j, "up_to_date", s.up_to_date);
		occ_json_kstr(j, "state", service_word(&s));
		occ_json_obj_end(j);
		return;
	}
	printf("service:    %s (%s%s%s%s)\n", service_word(&s), s.manager,
	       s.installed && !s.up_to_date ? ", out of date: run 'occ install'" : "",
	       s.installed && s.running == OCC_SERVICE_RUNNING_UNKNOWN && s.reason[0] ? ": " : "",
	       s.installed && s.running == OCC_SERVICE_RUNNING_UNKNOWN ? s.reason : "");
}

/* Whether an `occ watch` of the project runs: it holds its lock file. */
static bool watcher_running(const char *project)
{
	char *dir = occ_watch_lock_dir();
	char *path = occ_xasprintf("%s/%s.lock", dir, project);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held = false;

	if (fd >= 0) {
		held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	free(path);
	free(dir);
	return held;
}

/*
 * The watcher's own account of every host (reconciler/watch.h documents the
 * file): embedded as is in --json; in text, where it is and how to get the
 * per-host state on its log (SIGUSR1).
 */
static void print_watch(struct occ_cli *cli, struct occ_json *j)
{
	char *path = occ_watch_status_path(cli->state->name), *text = NULL;
	bool running = watcher_running(cli->state->name);
	struct occ_error err;
	size_t len = 0;

	occ_error_clear(&err);
	if (running && occ_read_file(path, 1 << 20, &text, &len, &err) != 0)
		text = NULL;
	if (j) {
		occ_json_key(j, "watch");
		if (text && text[0] == '{') {
			while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
				text[--len] = '\0';
			occ_json_raw(j, text);   /* the watcher's own JSON object */
		} else {
			occ_json_obj_begin(j);
			occ_json_kbool(j, "running", running);
			occ_json_obj_end(j);
		}
	} else if (running) {
		printf("watch:      running (state in %s; 'kill -USR1' the watcher for a per-host report)\n",
		       path);
	} else {
		printf("watch:      not running ('occ watch' or 'occ install' keeps it converged)\n");
	}
	free(text);
	free(path);
}

int cmd_status(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_targets t;
	struct occ_json j;
	bool failed = false;
	int ret;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	ret = occ_cli_targets_open(cli, &t);
	if (ret)
		return ret;
	occ_cli_targets_plan(cli, &t);
	if (cli->json) {
		occ_json_init(&j);
		occ_json_obj_begin(&j);
		occ_json_key(&j, "hosts");
		occ_json_arr_begin(&j);
	}
	for (size_t i = 0; i < t.n; i++) {
		struct occ_target *tg = &t.items[i];
		struct status s;

		if (!tg->planned) {
			failed = true;
			if (cli->json) {
				occ_cli_target_error_json(&j, tg);
				continue;
			}
			occ_cli_print_error(cli, &tg->err);
			printf("%s%s%s on %s\n  state:    unknown: %s host '%s' (see the error above)\n",
			       occ_c(cli, "bold"), tg->eff->name, occ_c(cli, "reset"), tg->name,
			       occ_cli_target_unreachable(tg) ? "could not reach" : "could not observe",
			       tg->name);
			continue;
		}
		status_compute(&s, tg);
		if (cli->json)
			print_json(&j, tg, &s);
		else
			print_text(cli, tg, &s);
		free(s.url);
	}
	if (cli->json) {
		occ_json_arr_end(&j);
		print_service(cli, &j);
		print_watch(cli, &j);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	}
	if (!cli->json) {
		print_service(cli, NULL);
		print_watch(cli, NULL);
	}
	occ_cli_targets_release(&t);
	return failed ? OCC_EXIT_ERROR : OCC_EXIT_OK;
}
