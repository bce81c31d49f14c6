/*
 * sub.c - see sub.h.
 */
#include "cli/sub.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int occ_cli_run_sub(struct occ_cli *cli, const char *group, const struct occ_subcmd *table,
		    int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: occ %s <command>\n\ncommands:\n", group);
		for (const struct occ_subcmd *s = table; s->name; s++)
			fprintf(stderr, "  %-8s %-34s %s\n", s->name, s->usage, s->summary);
		return OCC_EXIT_USAGE;
	}
	for (const struct occ_subcmd *s = table; s->name; s++)
		if (strcmp(s->name, argv[1]) == 0)
			return s->fn(cli, argc - 1, argv + 1);
	return occ_cli_usage_error(cli, "unknown command 'occ %s %s'", group, argv[1]);
}

int occ_cli_getopt(struct occ_cli *cli, int argc, char **argv, const char *shortopts,
		   const struct option *longopts, int (*on_opt)(void *ctx, int opt, const char *arg),
		   void *ctx, int *ret)
{
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			*ret = occ_cli_usage_error(cli, "unknown option or missing value: '%s'",
						   argv[optind - 1]);
			return -1;
		}
		*ret = on_opt(ctx, opt, optarg);
		if (*ret)
			return -1;
	}
	return optind;
}
