/*
 * targets.c - see targets.h.
 */
#include "cli/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void target_open(struct occ_target *t, const struct occ_host *h)
{
	if (h && h->address) {
		t->rc = occ_error_set(&t->err, OCC_EGENERIC,
				      "host '%s' (%s): remote hosts over SSH are not supported by this build yet",
				      h->name, h->address);
		occ_error_hint(&t->err, "limit the command to local hosts with --host NAME");
		return;
	}
	t->rc = occ_docker_open(&t->driver, NULL, &t->err);
}

static void print_trace(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

/* -vv: every API call on stderr. */
static void target_trace(struct occ_cli *cli, struct occ_target *t)
{
	if (t->driver && cli->verbose >= 2)
		t->driver->trace.fn = print_trace;
}

int occ_cli_targets_open(struct occ_cli *cli, struct occ_targets *out)
{
	const struct occ_state *st = cli->state;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (st->n_hosts == 0) {
		if (cli->host && strcmp(cli->host, "local") != 0) {
			occ_cli_errorf(cli, "unknown host '%s': %s lists no hosts, only 'local'",
				       cli->host, cli->file);
			return OCC_EXIT_ERROR;
		}
		out->items = occ_xcalloc(1, sizeof(*out->items));
		target_init(&out->items[0], "local", occ_state_for_host(st, NULL));
		target_open(&out->items[0], NULL);
		target_trace(cli, &out->items[0]);
		out->n = 1;
		return 0;
	}
	out->items = occ_xcalloc(st->n_hosts, sizeof(*out->items));
	for (size_t i = 0; i < st->n_hosts; i++) {
		const struct occ_host *h = &st->hosts[i];

		if (cli->host && strcmp(cli->host, h->name) != 0)
			continue;
		target_init(&out->items[n], h->name, occ_state_for_host(st, h));
		target_open(&out->items[n], h);
		target_trace(cli, &out->items[n]);
		n++;
	}
	out->n = n;
	if (n == 0) {
		struct occ_strbuf names = OCC_STRBUF_INIT;
		struct occ_error err;

		occ_strbuf_init(&names);
		for (size_t i = 0; i < st->n_hosts; i++)
			occ_strbuf_addf(&names, "%s%s", i ? ", " : "", st->hosts[i].name);
		occ_error_clear(&err);
		occ_error_set(&err, OCC_ENOTFOUND, "unknown host '%s'", cli->host);
		occ_error_hint(&err, "hosts in %s: %s", cli->file, names.buf);
		occ_cli_print_error(cli, &err);
		occ_strbuf_release(&names);
		occ_cli_targets_release(out);
		return OCC_EXIT_ERROR;
	}
	return 0;
}

void occ_cli_targets_plan(struct occ_cli *cli, struct occ_targets *t)
{
	(void)cli;
	for (size_t i = 0; i < t->n; i++) {
		struct occ_target *tg = &t->items[i];

		if (tg->rc)
			continue;
		tg->rc = occ_driver_observe(tg->driver, tg->eff, &tg->obs, &tg->err);
		if (tg->rc == 0)
			tg->rc = occ_plan_compute(&tg->plan, tg->eff, &tg->obs, &tg->err);
		tg->planned = tg->rc == 0;
	}
}

void occ_cli_targets_release(struct occ_targets *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct occ_target *tg = &t->items[i];

		occ_plan_release(&tg->plan);
		occ_observed_release(&tg->obs);
		occ_driver_free(tg->driver);
		occ_state_free(tg->eff);
		free(tg->name);
	}
	free(t->items);
	memset(t, 0, sizeof(*t));
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
