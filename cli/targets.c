/*
 * targets.c - see targets.h.
 */
#include "cli/targets.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "drivers/conn.h"
#include "drivers/docker/docker.h"

static void target_init(struct occ_target *t, const char *name, struct occ_state *eff)
{
	memset(t, 0, sizeof(*t));
	t->name = occ_xstrdup(name);
	t->eff = eff;
	occ_observed_init(&t->obs);
	occ_plan_init(&t->plan);
	occ_error_clear(&t->err);
}

int occ_cli_unknown_host(struct occ_cli *cli, const char *name)
{
	const struct occ_state *st = cli->state;
	struct occ_strbuf names = OCC_STRBUF_INIT;
	struct occ_error err;

	occ_strbuf_init(&names);
	for (size_t i = 0; i < st->n_hosts; i++)
		occ_strbuf_addf(&names, "%s%s", i ? ", " : "", st->hosts[i].name);
	occ_error_clear(&err);
	if (st->n_hosts) {
		occ_error_set(&err, OCC_ENOTFOUND, "unknown host '%s'", name);
		occ_error_hint(&err, "hosts in %s: %s", cli->file, names.buf);
	} else {
		occ_error_set(&err, OCC_ENOTFOUND, "unknown host '%s': %s lists no hosts, only "
			      "'local' (this machine)", name, cli->file);
		occ_error_hint(&err, "add one with 'occ host add NAME ADDRESS'");
	}
	occ_cli_print_error(cli, &err);
	occ_strbuf_release(&names);
	return OCC_EXIT_ERROR;
}

static void print_trace(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

/* -vv: every API call and SSH handshake on stderr (one whole line each). */
static const struct occ_trace_sink stderr_trace = { print_trace, NULL };

/* Connect t to its host: the SSH handshake of a remote host happens here. */
static void target_connect(struct occ_cli *cli, struct occ_target *t, const struct occ_host *h,
			   bool accept_new)
{
	struct occ_conn_opts o = {
		.accept_new = accept_new,
		.interactive = cli->tty_in,
		.trace = cli->verbose >= 2 ? &stderr_trace : NULL,
	};

	t->address = h && h->address ? occ_xstrdup(h->address) : NULL;
	t->rc = occ_conn_open(&t->conn, h, &o, &t->err);
	if (t->rc == 0)
		t->rc = occ_conn_driver(t->conn, &t->driver, &t->err);
	if (t->driver && cli->verbose >= 2)
		t->driver->trace = stderr_trace;
}

struct connect_ctx {
	struct occ_cli *cli;
	const struct occ_host **hosts;   /* per target, NULL: this machine */
	struct occ_target *base;
};

static void connect_one(struct occ_target *tg, void *vctx)
{
	struct connect_ctx *c = vctx;

	target_connect(c->cli, tg, c->hosts[tg - c->base], false);
}

int occ_cli_targets_open(struct occ_cli *cli, struct occ_targets *out)
{
	const struct occ_state *st = cli->state;
	const struct occ_host **hosts;
	struct connect_ctx cc;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (st->n_hosts == 0 && cli->host && strcmp(cli->host, "local") != 0)
		return occ_cli_unknown_host(cli, cli->host);
	out->items = occ_xcalloc(st->n_hosts ? st->n_hosts : 1, sizeof(*out->items));
	hosts = occ_xcalloc(st->n_hosts ? st->n_hosts : 1, sizeof(*hosts));
	if (st->n_hosts == 0)
		target_init(&out->items[n++], "local", occ_state_for_host(st, NULL));
	for (size_t i = 0; i < st->n_hosts; i++) {
		const struct occ_host *h = &st->hosts[i];

		if (cli->host && strcmp(cli->host, h->name) != 0)
			continue;
		hosts[n] = h;
		target_init(&out->items[n++], h->name, occ_state_for_host(st, h));
	}
	out->n = n;
	if (n == 0) {
		free(hosts);
		occ_cli_targets_release(out);
		return occ_cli_unknown_host(cli, cli->host);
	}
	/* Handshakes with several hosts happen side by side. */
	cc = (struct connect_ctx){ cli, hosts, out->items };
	occ_cli_targets_run(out, connect_one, &cc);
	free(hosts);
	return 0;
}

struct run_ctx {
	struct occ_targets *t;
	void (*fn)(struct occ_target *tg, void *ctx);
	void *ctx;
	atomic_size_t next;
};

static void *run_worker(void *vctx)
{
	struct run_ctx *r = vctx;
	size_t i;

	while ((i = atomic_fetch_add(&r->next, 1)) < r->t->n)
		r->fn(&r->t->items[i], r->ctx);
	return NULL;
}

void occ_cli_targets_run(struct occ_targets *t, void (*fn)(struct occ_target *tg, void *ctx),
			 void *ctx)
{
	struct run_ctx r = { .t = t, .fn = fn, .ctx = ctx };
	size_t n = t->n < OCC_CLI_MAX_PARALLEL_HOSTS ? t->n : OCC_CLI_MAX_PARALLEL_HOSTS;
	pthread_t *th;
	size_t started = 0;

	atomic_init(&r.next, 0);
	if (n <= 1) {
		run_worker(&r);
		return;
	}
	th = occ_xcalloc(n, sizeof(*th));
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, run_worker, &r) == 0)
			started++;
	/* No thread at all (out of resources): this thread does the work. */
	if (started == 0)
		run_worker(&r);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
}

static void plan_one(struct occ_target *tg, void *ctx)
{
	(void)ctx;
	if (tg->rc)
		return;
	tg->rc = occ_driver_observe(tg->driver, tg->eff, &tg->obs, &tg->err);
	if (tg->rc == 0)
		tg->rc = occ_plan_compute(&tg->plan, tg->eff, &tg->obs, &tg->err);
	tg->planned = tg->rc == 0;
}

void occ_cli_targets_plan(struct occ_cli *cli, struct occ_targets *t)
{
	(void)cli;
	occ_cli_targets_run(t, plan_one, NULL);
}

int occ_cli_targets_open_one(struct occ_cli *cli, struct occ_targets *out)
{
	const struct occ_state *st = cli->state;
	const char *saved = cli->host;
	int ret;

	/* Without --host: the state file's default_host, or its only host. */
	if (!cli->host && st->n_hosts > 1 && st->default_host)
		cli->host = st->default_host;
	ret = occ_cli_targets_open(cli, out);
	cli->host = saved;
	if (ret)
		return ret;
	if (out->n > 1) {
		occ_cli_errorf(cli, "%s lists %zu hosts and no default_host: choose one with "
			       "--host NAME (or set one with 'occ host default NAME')", cli->file, out->n);
		occ_cli_targets_release(out);
		return OCC_EXIT_USAGE;
	}
	return 0;
}

void occ_cli_print_host_summary(struct occ_cli *cli, const struct occ_targets *t, bool applied)
{
	size_t w = 4;

	if (t->n < 2 || cli->quiet || cli->json)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->items[i].name) > w)
			w = strlen(t->items[i].name);
	fprintf(stderr, "\n%sHosts%s\n", occ_c(cli, "bold"), occ_c(cli, "reset"));
	for (size_t i = 0; i < t->n; i++) {
		const struct occ_target *tg = &t->items[i];
		const struct occ_plan *p = &tg->plan;
		size_t n = p->n_create + p->n_change + p->n_recreate + p->n_remove;

		if (tg->rc)
			fprintf(stderr, "  %-*s  %sFAILED%s     %.70s%s\n", (int)w, tg->name,
				occ_c(cli, "red"), occ_c(cli, "reset"), tg->err.msg,
				strlen(tg->err.msg) > 70 ? "..." : "");
		else if (!tg->planned)
			fprintf(stderr, "  %-*s  skipped\n", (int)w, tg->name);
		else if (occ_plan_empty(p))
			fprintf(stderr, "  %-*s  %sin sync%s\n", (int)w, tg->name, occ_c(cli, "green"),
				occ_c(cli, "reset"));
		else
			fprintf(stderr, "  %-*s  %s%s%s  %zu change%s\n", (int)w, tg->name,
				occ_c(cli, applied ? "green" : "yellow"),
				applied ? "converged" : "changes  ", occ_c(cli, "reset"), n,
				n == 1 ? "" : "s");
	}
}

void occ_cli_target_close(struct occ_target *tg)
{
	occ_plan_release(&tg->plan);
	occ_observed_release(&tg->obs);
	occ_driver_free(tg->driver);
	occ_conn_close(tg->conn);
	occ_state_free(tg->eff);
	free(tg->name);
	free(tg->address);
	memset(tg, 0, sizeof(*tg));
}

void occ_cli_targets_release(struct occ_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		occ_cli_target_close(&t->items[i]);
	free(t->items);
	memset(t, 0, sizeof(*t));
}

int occ_cli_target_open_host(struct occ_cli *cli, struct occ_target *tg, const struct occ_host *h,
			     bool accept_new)
{
	target_init(tg, h->name, occ_state_for_host(cli->state, h));
	target_connect(cli, tg, h->address ? h : NULL, accept_new);
	return tg->rc;
}

bool occ_cli_target_unreachable(const struct occ_target *tg)
{
	return tg->rc && (!tg->driver || tg->rc == OCC_EDAEMON || tg->rc == OCC_EPERM ||
			  tg->rc == OCC_ETIMEOUT);
}

void occ_cli_json_outcome(struct occ_json *j, const struct occ_targets *t, bool changes)
{
	bool failed = false;

	for (size_t i = 0; i < t->n; i++)
		failed |= t->items[i].rc != 0;
	occ_json_key(j, "changes");
	if (failed && !changes)
		occ_json_null(j);
	else
		occ_json_bool(j, changes);
	occ_json_kbool(j, "ok", !failed);
	occ_json_key(j, "failed_hosts");
	occ_json_arr_begin(j);
	for (size_t i = 0; i < t->n; i++)
		if (t->items[i].rc)
			occ_json_str(j, t->items[i].name);
	occ_json_arr_end(j);
}

void occ_cli_target_error_json(struct occ_json *j, const struct occ_target *tg)
{
	occ_json_obj_begin(j);
	occ_json_kstr(j, "host", tg->name);
	occ_json_kstr(j, "project", tg->eff->name);
	occ_json_kbool(j, "reached", !occ_cli_target_unreachable(tg));
	occ_json_key(j, "error");
	occ_json_obj_begin(j);
	occ_json_kstr(j, "kind", occ_error_kind(tg->rc));
	occ_json_kstr(j, "message", tg->err.msg);
	if (tg->err.hint[0])
		occ_json_kstr(j, "hint", tg->err.hint);
	occ_json_obj_end(j);
	occ_json_obj_end(j);
}

char *occ_cli_service_url(const struct occ_target *tg, bool *remote_only)
{
	const struct occ_state *st = tg->eff;
	const char *bind = st->container.bind, *host = bind;
	bool wildcard = strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0;

	if (wildcard)
		host = tg->address ? tg->address : strcmp(bind, "::") == 0 ? "::1" : "127.0.0.1";
	if (remote_only)
		*remote_only = tg->address && occ_bind_is_loopback(bind);
	if (strchr(host, ':'))
		return occ_xasprintf("http://[%s]:%u/", host, st->container.port);
	return occ_xasprintf("http://%s:%u/", host, st->container.port);
}

static void print_progress(void *ctx, const struct occ_progress *p)
{
	struct occ_cli *cli = ctx;

	if (cli->quiet || cli->json)
		return;
	if (p->kind == OCC_PROGRESS_LAYER) {
		if (!cli->color_err) {
			/* Not a terminal: one quiet line per layer status change. */
			if (p->total == 0 || p->current == 0)
				fprintf(stderr, "    %s: %s\n", p->id ? p->id : "", p->text);
			return;
		}
		if (p->total)
			fprintf(stderr, "\r\033[K    %s: %s %3d%% (%llu/%llu MB)", p->id ? p->id : "",
				p->text, (int)(p->current * 100 / p->total),
				(unsigned long long)(p->current >> 20),
				(unsigned long long)(p->total >> 20));
		else
			fprintf(stderr, "\r\033[K    %s: %s\n", p->id ? p->id : "", p->text);
		return;
	}
	fprintf(stderr, "    %s%s%s\n", cli->color_err ? "\033[2m" : "", p->text,
		cli->color_err ? "\033[0m" : "");
}

void occ_cli_target_progress(struct occ_cli *cli, struct occ_target *t)
{
	if (!t->driver)
		return;
	t->driver->progress.fn = print_progress;
	t->driver->progress.ctx = cli;
}
