/*
 * cmd-lifecycle.c - `occ start`, `occ stop`, `occ restart`.
 *
 * start and stop are desired state: they set container.running in the state
 * file (surgically, keeping the user's comments) and apply, so neither a
 * watcher nor the next apply undoes them. restart converges first, then stops
 * and starts the container and waits for health. All three hold the project
 * lock from the edit to the end of the apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/targets.h"
#include "cli/txn.h"
#include "model/edit.h"
#include "reconciler/apply.h"
#include "reconciler/lock.h"

static int set_running(struct occ_cli *cli, bool running, const char *operation)
{
	struct occ_apply_opts o = { 0 };
	struct occ_cli_txn t;
	int ret;

	ret = occ_cli_txn_begin(&t, cli, operation);
	if (ret)
		return ret;
	if (cli->state->container.running != running)
		ret = occ_cli_txn_set(&t, "container.running", running ? "true" : "false",
				      OCC_EDIT_PLAIN);
	if (ret == 0)
		ret = occ_cli_txn_commit(&t);
	if (ret == 0)
		ret = occ_cli_apply(cli, &o, operation, true);
	occ_cli_txn_end(&t);
	return ret;
}

int cmd_start(struct occ_cli *cli, int argc, char **argv)
{
	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	return set_running(cli, true, "start");
}

int cmd_stop(struct occ_cli *cli, int argc, char **argv)
{
	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	return set_running(cli, false, "stop");
}

/* Stop and start one target's container through the driver, then wait. */
static int restart_target(struct occ_cli *cli, struct occ_target *tg)
{
	const struct occ_obs_container *c = occ_observed_container(&tg->obs, tg->eff->name);
	char resource[] = "container";
	struct occ_action stop = { .kind = OCC_ACT_CONTAINER_STOP, .op = OCC_OP_STOP,
				   .resource = resource, .name = tg->eff->name };
	struct occ_action start = { .kind = OCC_ACT_CONTAINER_START, .op = OCC_OP_START,
				    .resource = resource, .name = tg->eff->name,
				    .wait_healthy = true };
	uint64_t t0 = occ_now_ms();
	int ret;

	if (!c) {
		occ_error_set(&tg->err, OCC_ENOTFOUND, "container '%s' does not exist", tg->eff->name);
		return OCC_ENOTFOUND;
	}
	stop.target_id = start.target_id = c->id;
	ret = occ_driver_apply(tg->driver, tg->eff, &tg->obs, &stop, &tg->err);
	if (ret == 0)
		ret = occ_driver_apply(tg->driver, tg->eff, &tg->obs, &start, &tg->err);
	if (ret == 0)
		ret = occ_driver_wait_healthy(tg->driver, tg->eff, tg->eff->container.health.timeout_ms,
					      &tg->err);
	if (ret == 0)
		occ_cli_info(cli, "%s: restarted %s (%llu ms)\n", tg->name, tg->eff->name,
			     (unsigned long long)(occ_now_ms() - t0));
	return ret;
}

int cmd_restart(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_apply_opts o = { 0 };
	struct occ_lock *lock = NULL;
	struct occ_targets t = { 0 };
	bool failed = false;
	int ret;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	ret = occ_cli_lock(cli, &lock, "restart");
	if (ret)
		return ret;
	if (!cli->state->container.running) {
		occ_cli_errorf(cli, "the service is stopped by 'occ stop'; use 'occ start' to start it");
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	ret = occ_cli_apply(cli, &o, "restart", true);
	if (ret)
		goto out;
	ret = occ_cli_targets_open(cli, &t);
	if (ret)
		goto out;
	occ_cli_targets_plan(cli, &t);
	for (size_t i = 0; i < t.n; i++) {
		struct occ_target *tg = &t.items[i];

		if (tg->rc == 0)
			tg->rc = restart_target(cli, tg);
		if (tg->rc) {
			occ_cli_print_error(cli, &tg->err);
			failed = true;
		}
	}
	ret = failed ? OCC_EXIT_ERROR : OCC_EXIT_OK;
out:
	occ_cli_targets_release(&t);
	occ_lock_release(lock);
	return ret;
}
