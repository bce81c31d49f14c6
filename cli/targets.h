/*
 * targets.h - the hosts a command acts on, each with its driver, observation
 * and plan.
 *
 * A state file without hosts: means this machine only. Each target's failure
 * is recorded on the target (rc, err) so one unreachable host never stops the
 * others; the command reports them all and exits with the worst outcome.
 */
#ifndef OCC_CLI_TARGETS_H
#define OCC_CLI_TARGETS_H

#include "cli/cli.h"
#include "drivers/driver.h"
#include "reconciler/observed.h"
#include "reconciler/plan.h"

struct occ_target {
	char *name;               /* "local" or the host's name */
	struct occ_state *eff;    /* the effective state for this host */
	struct occ_driver *driver;/* NULL when opening failed */
	struct occ_observed obs;
	struct occ_plan plan;
	bool planned;             /* obs and plan are valid */
	int rc;                   /* 0 or the first failure on this host */
	struct occ_error err;
};

struct occ_targets {
	struct occ_target *items;
	size_t n;
};

/* Build the target list from cli->state (honouring --host) and open drivers.
 * Returns OCC_EXIT_USAGE/ERROR only for problems with the command itself
 * (an unknown --host); per-host failures are recorded on the targets. */
int occ_cli_targets_open(struct occ_cli *cli, struct occ_targets *out);

/* Observe and plan every target that opened. */
void occ_cli_targets_plan(struct occ_cli *cli, struct occ_targets *t);

void occ_cli_targets_release(struct occ_targets *t);

/* Install the CLI's progress printer on a target's driver. */
void occ_cli_target_progress(struct occ_cli *cli, struct occ_target *t);

/* Print every target's plan (or its error) as text, or into j as JSON array
 * items when j is not NULL. Shared by diff and apply. */
struct occ_json;
void occ_cli_print_plans(struct occ_cli *cli, struct occ_targets *t, struct occ_json *j);

#endif
