/*
 * sub.h - subcommand tables for the command groups (user, mount, config).
 */
#ifndef OCC_CLI_SUB_H
#define OCC_CLI_SUB_H

#include "cli/cli.h"

struct occ_subcmd {
	const char *name;
	int (*fn)(struct occ_cli *cli, int argc, char **argv);
	const char *usage;
	const char *summary;
};

/* Dispatch argv[1] (argv[0] is the group) through table (NULL-terminated);
 * argv passed on starts at the subcommand's name. */
int occ_cli_run_sub(struct occ_cli *cli, const char *group, const struct occ_subcmd *table,
		    int argc, char **argv);

/* Parse the options shared by commands that edit the state file and then
 * reconcile: --no-apply / --apply. Returns the index of the first operand,
 * or -1 after printing a usage error (*ret holds the exit code). The
 * remaining options are given as getopt_long tables. */
struct option;
int occ_cli_getopt(struct occ_cli *cli, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, int (*on_opt)(void *ctx, int opt, const char *arg),
		   void *ctx, int *ret);

#endif
