/*
 * cmd-diff.c - `occ diff`: observe every host and print the plan, changing
 * nothing. With --exit-code: 0 no changes, 2 changes, 1 error (like
 * `git diff --exit-code`). Hosts that fail are reported and make it exit 1.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "cli/targets.h"

/* "host 'a'" or "hosts 'a', 'b'": the failed targets that are (or are not) unreachable. */
static size_t failed_names(struct occ_strbuf *out, const struct occ_targets *t, bool unreachable)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->items[i].rc && occ_cli_target_unreachable(&t->items[i]) == unreachable)
			n++;
	occ_strbuf_adds(out, n == 1 ? "host " : "hosts ");
	for (size_t i = 0, k = 0; i < t->n; i++)
		if (t->items[i].rc && occ_cli_target_unreachable(&t->items[i]) == unreachable)
			occ_strbuf_addf(out, "%s'%s'", k++ ? ", " : "", t->items[i].name);
	return n;
}

/* The summary when a host failed: which, and what is known of the others.
 * Never "No changes.": nothing is known of a host without a plan. */
static void summary_with_failures(struct occ_strbuf *out, const struct occ_targets *t, int c,
				  int u, int r, int d)
{
	struct occ_strbuf names = OCC_STRBUF_INIT;
	size_t n_planned = 0, n;

	occ_strbuf_init(&names);
	for (size_t i = 0; i < t->n; i++)
		n_planned += t->items[i].planned;
	n = failed_names(&names, t, true);
	if (n)
		occ_strbuf_addf(out, "Could not reach %s (see the error above): no plan for %s.\n",
				names.buf, n == 1 ? "it" : "them");
	occ_strbuf_reset(&names);
	if (failed_names(&names, t, false))
		occ_strbuf_addf(out, "Could not plan for %s (see the error above).\n", names.buf);
	occ_strbuf_release(&names);
	if (n_planned && c + u + r + d == 0)
		occ_strbuf_adds(out, "The other hosts are in sync.\n");
	else if (n_planned)
		occ_strbuf_addf(out, "Plan for the other hosts: %d to create, %d to change, %d to "
				"recreate, %d to remove.\n", c, u, r, d);
}

void occ_cli_print_plans(struct occ_cli *cli, struct occ_targets *t, struct occ_json *j)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int c = 0, u = 0, r = 0, d = 0;
	bool failed = false;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < t->n; i++) {
		struct occ_target *tg = &t->items[i];

		if (j) {
			if (tg->planned) {
				occ_render_plan_json(j, tg->name, tg->eff->name, &tg->plan);
			} else {
				occ_cli_target_error_json(j, tg);
			}
			continue;
		}
		if (!tg->planned) {
			failed = true;
			fprintf(stdout, "%shost %s%s\n", occ_c(cli, "bold"), tg->name, occ_c(cli, "reset"));
			fflush(stdout);
			occ_cli_print_error(cli, &tg->err);
			continue;
		}
		occ_strbuf_reset(&sb);
		occ_render_plan_text(&sb, tg->name, &tg->plan, cli->color);
		fputs(sb.buf, stdout);
		c += tg->plan.n_create;
		u += tg->plan.n_change;
		r += tg->plan.n_recreate;
		d += tg->plan.n_remove;
	}
	if (!j) {
		occ_strbuf_reset(&sb);
		if (failed)
			summary_with_failures(&sb, t, c, u, r, d);
		else
			occ_render_summary_text(&sb, c, u, r, d);
		printf("\n%s", sb.buf);
	}
	occ_strbuf_release(&sb);
}

int cmd_diff(struct occ_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "exit-code", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct occ_targets t;
	struct occ_json j;
	bool exit_code = false, changes = false, failed = false;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'e')
			exit_code = true;
		else
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	ret = occ_cli_targets_open(cli, &t);
	if (ret)
		return ret;
	occ_cli_targets_plan(cli, &t);
	for (size_t i = 0; i < t.n; i++) {
		failed |= t.items[i].rc != 0;
		changes |= t.items[i].planned && !occ_plan_empty(&t.items[i].plan);
	}
	if (cli->json) {
		occ_json_init(&j);
		occ_json_obj_begin(&j);
		occ_json_kint(&j, "format_version", 1);
		occ_cli_json_outcome(&j, &t, changes);
		occ_json_key(&j, "hosts");
		occ_json_arr_begin(&j);
		occ_cli_print_plans(cli, &t, &j);
		occ_json_arr_end(&j);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	} else {
		occ_cli_print_plans(cli, &t, NULL);
		occ_cli_print_host_summary(cli, &t, false);
	}
	occ_cli_targets_release(&t);
	if (failed)
		return OCC_EXIT_ERROR;
	return exit_code && changes ? OCC_EXIT_CHANGES : OCC_EXIT_OK;
}
