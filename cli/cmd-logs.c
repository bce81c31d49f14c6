/*
 * cmd-logs.c - `occ logs`: stream the service container's output from the
 * Docker log API. -f follows (as in docker), so the state file is given with
 * --file here. With several hosts, --host picks one.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/targets.h"
#include "drivers/docker/docker.h"

static void write_out(void *ctx, int stream, const char *data, size_t n)
{
	(void)ctx;
	fwrite(data, 1, n, stream == 2 ? stderr : stdout);
	fflush(stream == 2 ? stderr : stdout);
}

static int parse_since(const char *s, int64_t *out)
{
	uint64_t ms;
	long v;

	/* A bare number is unix seconds, a duration with a unit is "ago". */
	if (occ_parse_long(s, 0, (1L << 40), &v) == 0) {
		*out = v;
		return 0;
	}
	if (occ_parse_duration_ms(s, &ms) != 0)
		return -1;
	*out = (int64_t)time(NULL) - (int64_t)(ms / 1000);
	return 0;
}

int cmd_logs(struct occ_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "tail", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "timestamps", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct occ_docker_logs_opts o = { .tail = -1 };
	struct occ_targets t = { 0 };
	struct occ_target *tg;
	int opt, ret;
	long v;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "fn:t", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': o.follow = true; break;
		case 't': o.timestamps = true; break;
		case 'n':
			if (strcmp(optarg, "all") == 0)
				break;
			if (occ_parse_long(optarg, 0, 1000000000L, &v) != 0)
				return occ_cli_usage_error(cli, "invalid --tail '%s': expected a number of lines", optarg);
			o.tail = (int)v;
			break;
		case 's':
			if (parse_since(optarg, &o.since) != 0)
				return occ_cli_usage_error(cli, "invalid --since '%s': expected unix seconds or a duration such as 10m", optarg);
			break;
		default:
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	ret = occ_cli_targets_open_one(cli, &t);
	if (ret)
		return ret;
	tg = &t.items[0];
	if (tg->rc == 0)
		tg->rc = occ_docker_logs(tg->driver, tg->eff->name, &o, write_out, NULL, &tg->err);
	if (tg->rc) {
		if (tg->rc == OCC_ENOTFOUND)
			occ_error_hint(&tg->err, "the service has not been created yet: run 'occ apply'");
		occ_cli_print_error(cli, &tg->err);
		ret = OCC_EXIT_ERROR;
	}
	occ_cli_targets_release(&t);
	return ret;
}
