/*
 * cmd-volume.c - `occ volume list|remove`: the named volumes occ created for
 * the project. The reconciler never removes a volume (they hold opencode's
 * data and the users' homes), even when the state file stops naming it; this
 * command is the only way, and it asks first (--yes to skip the question).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "cli/sub.h"
#include "cli/targets.h"
#include "drivers/docker/docker.h"

static bool desired_volume(const struct occ_state *st, const char *docker_name)
{
	for (size_t i = 0; i < st->n_volumes; i++) {
		char *n = occ_volume_docker_name(st, &st->volumes[i]);
		bool same = strcmp(n, docker_name) == 0;

		free(n);
		if (same)
			return true;
	}
	return false;
}

static int one_target(struct occ_cli *cli, struct occ_targets *t)
{
	int ret = occ_cli_targets_open(cli, t);

	if (ret)
		return ret;
	if (t->n > 1) {
		occ_cli_errorf(cli, "the state file lists %zu hosts: choose one with --host NAME", t->n);
		return OCC_EXIT_USAGE;
	}
	occ_cli_targets_plan(cli, t);
	if (t->items[0].rc) {
		occ_cli_print_error(cli, &t->items[0].err);
		return OCC_EXIT_ERROR;
	}
	return 0;
}

static int volume_list(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_targets t = { 0 };
	const struct occ_observed *obs;
	struct occ_json j;
	int ret;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	ret = one_target(cli, &t);
	if (ret)
		goto out;
	obs = &t.items[0].obs;
	if (cli->json) {
		occ_json_init(&j);
		occ_json_arr_begin(&j);
	} else if (!cli->quiet) {
		printf("%-40s %-8s %s\n", "VOLUME", "OWNED", "IN STATE FILE");
	}
	for (size_t i = 0; i < obs->n_volumes; i++) {
		const struct occ_obs_volume *v = &obs->volumes[i];
		bool wanted = desired_volume(t.items[0].eff, v->name);

		if (cli->json) {
			occ_json_obj_begin(&j);
			occ_json_kstr(&j, "name", v->name);
			occ_json_kbool(&j, "owned", v->owned);
			occ_json_kbool(&j, "desired", wanted);
			occ_json_obj_end(&j);
		} else if (cli->quiet) {
			printf("%s\n", v->name);
		} else {
			printf("%-40s %-8s %s\n", v->name, v->owned ? "yes" : "no", wanted ? "yes" : "no");
		}
	}
	if (cli->json) {
		occ_json_arr_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	}
out:
	occ_cli_targets_release(&t);
	return ret;
}

static int volume_remove(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_targets t = { 0 };
	struct occ_target *tg;
	char *name = NULL, *q = NULL;
	int ret;

	if (argc != 2)
		return occ_cli_usage_error(cli, "expected one volume name (see 'occ volume list')");
	ret = one_target(cli, &t);
	if (ret)
		goto out;
	tg = &t.items[0];
	/* "data" means "<project>-data"; a full name is taken as is. */
	name = occ_observed_volume(&tg->obs, argv[1]) ? occ_xstrdup(argv[1])
						     : occ_xasprintf("%s-%s", tg->eff->name, argv[1]);
	q = occ_xasprintf("Delete volume '%s' and all the data in it? This cannot be undone.", name);
	if (!occ_cli_confirm(cli, q)) {
		occ_cli_errorf(cli, "not confirmed; volume '%s' was kept", name);
		fprintf(stderr, "hint: pass --yes to remove it without a question\n");
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	if (occ_docker_volume_remove(tg->driver, tg->eff->name, name, &tg->err)) {
		occ_cli_print_error(cli, &tg->err);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	occ_cli_info(cli, "removed volume %s\n", name);
	if (desired_volume(tg->eff, name))
		occ_cli_info(cli, "note: %s still lists it: the next apply creates it again, empty\n",
			     cli->file);
out:
	free(name);
	free(q);
	occ_cli_targets_release(&t);
	return ret;
}

static const struct occ_subcmd volume_cmds[] = {
	{ "list", volume_list, "[--json] [-q]", "the project's volumes" },
	{ "remove", volume_remove, "NAME [--yes]", "delete a volume and its data (asks first)" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_volume(struct occ_cli *cli, int argc, char **argv)
{
	return occ_cli_run_sub(cli, "volume", volume_cmds, argc, argv);
}
