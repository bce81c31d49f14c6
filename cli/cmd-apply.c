/*
 * cmd-apply.c - `occ apply`: take the project lock, plan every host, confirm
 * destructive changes, apply host by host and report what was done with
 * timings. A failing host stops only its own actions; the exit code is 1 if
 * any host failed. Also the engine behind start/stop/restart.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "cli/render.h"
#include "cli/targets.h"
#include "reconciler/apply.h"
#include "reconciler/lock.h"

struct apply_ctx {
	struct occ_cli *cli;
	struct occ_target *tg;
	struct occ_json *j;     /* --json: per-action results go here */
};

static void on_action_start(void *vctx, const struct occ_action *a)
{
	struct apply_ctx *ctx = vctx;
	struct occ_cli *cli = ctx->cli;

	if (cli->json || cli->quiet)
		return;
	fprintf(stderr, "%s: %s %s %s ...\n", ctx->tg->name, occ_action_kind_name(a->kind),
		a->resource, a->name);
}

static void on_action_done(void *vctx, const struct occ_action *a, int rc, uint64_t ms,
			   const struct occ_error *err)
{
	struct apply_ctx *ctx = vctx;
	struct occ_cli *cli = ctx->cli;

	if (ctx->j) {
		occ_json_obj_begin(ctx->j);
		occ_json_kstr(ctx->j, "action", occ_action_kind_name(a->kind));
		occ_json_kstr(ctx->j, "resource", a->resource);
		occ_json_kstr(ctx->j, "name", a->name);
		occ_json_kstr(ctx->j, "result", rc ? "failed" : "done");
		occ_json_kint(ctx->j, "elapsed_ms", (int64_t)ms);
		if (err)
			occ_json_kstr(ctx->j, "error", err->msg);
		occ_json_obj_end(ctx->j);
		return;
	}
	if (cli->quiet)
		return;
	fprintf(stderr, "%s: %s %s %s %s%s%s (%llu ms)\n", ctx->tg->name,
		occ_action_kind_name(a->kind), a->resource, a->name,
		cli->color_err ? (rc ? "\033[31m" : "\033[32m") : "", rc ? "failed" : "done",
		cli->color_err ? "\033[0m" : "", (unsigned long long)ms);
}

static void on_health_start(void *vctx, const char *name, uint64_t timeout_ms)
{
	struct apply_ctx *ctx = vctx;

	if (ctx->cli->json || ctx->cli->quiet)
		return;
	fprintf(stderr, "%s: waiting for %s to be healthy (up to %llu s) ...\n", ctx->tg->name,
		name, (unsigned long long)(timeout_ms / 1000));
}

static void on_health_done(void *vctx, const char *name, int rc, uint64_t ms)
{
	struct apply_ctx *ctx = vctx;

	if (ctx->j) {
		occ_json_obj_begin(ctx->j);
		occ_json_kstr(ctx->j, "action", "health");
		occ_json_kstr(ctx->j, "resource", "container");
		occ_json_kstr(ctx->j, "name", name);
		occ_json_kstr(ctx->j, "result", rc ? "failed" : "done");
		occ_json_kint(ctx->j, "elapsed_ms", (int64_t)ms);
		occ_json_obj_end(ctx->j);
		return;
	}
	if (ctx->cli->quiet || rc)
		return;
	fprintf(stderr, "%s: %s is healthy (%llu ms)\n", ctx->tg->name, name,
		(unsigned long long)ms);
}

static void on_lock_wait(void *vctx, const struct occ_lock_holder *h)
{
	struct occ_cli *cli = vctx;

	if (h->pid)
		occ_cli_info(cli, "waiting for the project lock (held by occ %s, pid %ld on %s) ...\n",
			     h->operation, (long)h->pid, h->host);
	else
		occ_cli_info(cli, "waiting for the project lock ...\n");
}

int occ_cli_lock(struct occ_cli *cli, struct occ_lock **out, const char *operation)
{
	struct occ_error err;

	occ_error_clear(&err);
	if (occ_lock_acquire(out, NULL, cli->state->name, operation, cli->lock_timeout_ms,
			     on_lock_wait, cli, &err) == 0)
		return 0;
	occ_cli_print_error(cli, &err);
	return OCC_EXIT_ERROR;
}

static bool any_destructive(const struct occ_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; t->items[i].planned && k < t->items[i].plan.n; k++)
			if (t->items[i].plan.actions[k].destructive)
				return true;
	return false;
}

/* One host's apply, run concurrently with the others: it prints progress
 * lines as they happen and keeps everything else for report_target. */
struct host_apply {
	struct occ_cli *cli;
	const struct occ_apply_opts *opts;
	struct occ_target *tg;
	struct occ_apply_report rep;
	struct occ_json j;      /* --json: this host's "applied" array */
	bool ran;
};

static void apply_target(struct occ_target *tg, void *vctx)
{
	struct host_apply *all = vctx, *ha = &all[tg - all[0].tg];
	struct apply_ctx ctx = { ha->cli, tg, NULL };
	struct occ_apply_hooks hooks = {
		.ctx = &ctx, .action_start = on_action_start, .action_done = on_action_done,
		.health_start = on_health_start, .health_done = on_health_done,
	};
	struct occ_apply_opts opts = *ha->opts;

	if (!tg->planned || occ_plan_empty(&tg->plan))
		return;
	ha->ran = true;
	opts.host = tg->name;
	if (ha->cli->json) {
		occ_json_init(&ha->j);
		occ_json_arr_begin(&ha->j);
		ctx.j = &ha->j;
	}
	occ_cli_target_progress(ha->cli, tg);
	tg->rc = occ_apply_plan(tg->driver, tg->eff, &tg->obs, &tg->plan, &opts, &hooks, &ha->rep,
				&tg->err);
	if (ha->cli->json)
		occ_json_arr_end(&ha->j);
}

static void report_target(struct occ_cli *cli, struct host_apply *ha, struct occ_json *j)
{
	struct occ_target *tg = ha->tg;

	if (!ha->ran)
		return;
	if (j) {
		occ_json_obj_begin(j);
		occ_json_kstr(j, "host", tg->name);
		occ_json_key(j, "applied");
		occ_json_raw(j, ha->j.sb.buf);
		occ_json_kbool(j, "ok", tg->rc == 0);
		if (tg->rc)
			occ_json_kstr(j, "error", tg->err.msg);
		occ_json_kint(j, "elapsed_ms", (int64_t)ha->rep.elapsed_ms);
		occ_json_obj_end(j);
		return;
	}
	if (tg->rc) {
		occ_cli_print_error(cli, &tg->err);
		fprintf(stderr, "%s: stopped after %zu of the planned actions; the next apply "
			"continues from here\n", tg->name, ha->rep.n_done);
		return;
	}
	if (!cli->quiet) {
		bool remote_only;
		char *url = occ_cli_service_url(tg, &remote_only);

		fprintf(stderr, "%s: converged in %.2f s%s%s%s\n", tg->name,
			ha->rep.elapsed_ms / 1000.0,
			tg->eff->container.running ? ", service at " : "",
			tg->eff->container.running ? url : "",
			tg->eff->container.running && remote_only ? " on that host" : "");
		free(url);
	}
}

/* The core of apply, also run by start/stop/restart after they edit state. */
int occ_cli_apply(struct occ_cli *cli, const struct occ_apply_opts *o, const char *operation,
		  bool lock_held)
{
	struct occ_targets t = { 0 };
	struct occ_lock *lock = NULL;
	struct occ_error err;
	struct occ_json j;
	bool failed = false, changes = false;
	char *journal = occ_journal_default_path(cli->state->name);
	struct occ_apply_opts opts = *o;
	struct host_apply *ha;
	int ret;

	occ_error_clear(&err);
	opts.journal_path = journal;
	ret = lock_held ? 0 : occ_cli_lock(cli, &lock, operation);
	if (ret)
		goto out;
	ret = occ_cli_targets_open(cli, &t);
	if (ret)
		goto out;
	occ_cli_targets_plan(cli, &t);
	for (size_t i = 0; i < t.n; i++)
		changes |= t.items[i].planned && !occ_plan_empty(&t.items[i].plan);
	if (cli->json) {
		occ_json_init(&j);
		occ_json_obj_begin(&j);
		occ_json_kint(&j, "format_version", 1);
		occ_json_key(&j, "plan");
		occ_json_arr_begin(&j);
		occ_cli_print_plans(cli, &t, &j);
		occ_json_arr_end(&j);
	} else if (!cli->quiet) {
		occ_cli_print_plans(cli, &t, NULL);
	}
	if (changes && any_destructive(&t) &&
	    !occ_cli_confirm(cli, "The plan has destructive changes. Apply them?")) {
		occ_error_set(&err, OCC_ECANCELED, "the plan has destructive changes and was not confirmed");
		occ_error_hint(&err, "review 'occ diff' and re-run with --yes");
		if (cli->json)
			occ_json_release(&j);
		occ_cli_print_error(cli, &err);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	if (cli->json) {
		occ_json_key(&j, "hosts");
		occ_json_arr_begin(&j);
	}
	ha = occ_xcalloc(t.n, sizeof(*ha));
	for (size_t i = 0; i < t.n; i++)
		ha[i] = (struct host_apply){ .cli = cli, .opts = &opts, .tg = &t.items[i] };
	occ_cli_targets_run(&t, apply_target, ha);
	for (size_t i = 0; i < t.n; i++) {
		report_target(cli, &ha[i], cli->json ? &j : NULL);
		failed |= t.items[i].rc != 0;
		if (cli->json && ha[i].ran)
			occ_json_release(&ha[i].j);
	}
	free(ha);
	if (!cli->json)
		occ_cli_print_host_summary(cli, &t, true);
	if (cli->json) {
		occ_json_arr_end(&j);
		occ_cli_json_outcome(&j, &t, changes);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	}
	ret = failed ? OCC_EXIT_ERROR : OCC_EXIT_OK;
	/* service.install: true keeps a user service running `occ watch` on this file. */
	if (ret == OCC_EXIT_OK)
		ret = occ_cli_service_apply(cli);
out:
	occ_cli_targets_release(&t);
	occ_lock_release(lock);
	free(journal);
	return ret;
}

int cmd_apply(struct occ_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-health", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct occ_apply_opts o = { 0 };
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'H')
			o.skip_health = true;
		else
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	return occ_cli_apply(cli, &o, "apply", false);
}
