/*
 * cmd-validate.c - `occ validate`: load and validate the state file, nothing
 * else. Prints `ok` (or {"ok":true}) and exits 0, or prints the first error
 * with its place and exits 1. Never touches Docker.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/json.h"

int cmd_validate(struct occ_cli *cli, int argc, char **argv)
{
	int ret;

	(void)argv;
	if (argc > 1)
		return occ_cli_usage_error(cli, "'validate' takes no arguments; use --file FILE");
	ret = occ_cli_load_state(cli, false);
	if (ret)
		return ret;
	if (cli->json) {
		struct occ_json j;

		occ_json_init(&j);
		occ_json_obj_begin(&j);
		occ_json_kbool(&j, "ok", true);
		occ_json_kstr(&j, "file", cli->file);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	} else {
		printf("ok\n");
	}
	return OCC_EXIT_OK;
}
