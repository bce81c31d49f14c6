/*
 * output.c - errors, messages, colours, confirmations and loading the state
 * file on behalf of commands.
 *
 * Error output follows git: `error: <what failed>`, then `  at FILE:LINE:COL`
 * and `hint: ...` when known. With --json the same record is printed to
 * stdout as {"ok":false,"error":{...}} so scripts need only parse stdout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"

const char *occ_c(const struct occ_cli *cli, const char *what)
{
	static const struct { const char *name, *code; } codes[] = {
		{ "red", "\033[31m" }, { "green", "\033[32m" }, { "yellow", "\033[33m" },
		{ "blue", "\033[34m" }, { "cyan", "\033[36m" }, { "bold", "\033[1m" },
		{ "dim", "\033[2m" }, { "reset", "\033[0m" },
	};

	if (!cli->color)
		return "";
	for (size_t i = 0; i < OCC_ARRAY_SIZE(codes); i++)
		if (strcmp(codes[i].name, what) == 0)
			return codes[i].code;
	return "";
}

static const char *ce(const struct occ_cli *cli, const char *code)
{
	return cli->color_err ? code : "";
}

void occ_cli_print_error(struct occ_cli *cli, const struct occ_error *err)
{
	if (cli->json) {
		struct occ_json j;

		occ_json_init(&j);
		occ_json_obj_begin(&j);
		occ_json_kbool(&j, "ok", false);
		occ_json_key(&j, "error");
		occ_json_obj_begin(&j);
		occ_json_kstr(&j, "kind", occ_error_kind(err->code));
		occ_json_kstr(&j, "message", err->msg);
		if (err->file[0]) {
			occ_json_kstr(&j, "file", err->file);
			occ_json_kint(&j, "line", err->line);
			occ_json_kint(&j, "col", err->col);
		}
		if (err->hint[0])
			occ_json_kstr(&j, "hint", err->hint);
		occ_json_obj_end(&j);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return;
	}
	fprintf(stderr, "%serror:%s %s\n", ce(cli, "\033[1;31m"), ce(cli, "\033[0m"), err->msg);
	if (err->file[0] && err->line > 0)
		fprintf(stderr, "  at %s:%d:%d\n", err->file, err->line, err->col);
	else if (err->file[0])
		fprintf(stderr, "  in %s\n", err->file);
	if (err->hint[0])
		fprintf(stderr, "%shint:%s %s\n", ce(cli, "\033[33m"), ce(cli, "\033[0m"), err->hint);
}

void occ_cli_errorf(struct occ_cli *cli, const char *fmt, ...)
{
	struct occ_error err;
	va_list ap;

	occ_error_clear(&err);
	va_start(ap, fmt);
	occ_error_setv(&err, OCC_EGENERIC, fmt, ap);
	va_end(ap);
	occ_cli_print_error(cli, &err);
}

int occ_cli_usage_error(struct occ_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%susage error:%s ", ce(cli, "\033[1;31m"), ce(cli, "\033[0m"));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cli->cmd)
		fprintf(stderr, "usage: occ %s %s\n       (see 'occ help %s')\n",
			cli->cmd->name, cli->cmd->usage, cli->cmd->name);
	return OCC_EXIT_USAGE;
}

void occ_cli_info(struct occ_cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void occ_cli_verbose(struct occ_cli *cli, int level, const char *fmt, ...)
{
	va_list ap;

	if (cli->verbose < level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

bool occ_cli_confirm(struct occ_cli *cli, const char *question)
{
	char buf[16];
	FILE *tty;
	bool yes;

	if (cli->yes)
		return true;
	if (!cli->tty_in)
		return false;
	tty = fopen("/dev/tty", "r+e");
	if (!tty)
		return false;
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	yes = fgets(buf, sizeof(buf), tty) && (buf[0] == 'y' || buf[0] == 'Y');
	fclose(tty);
	return yes;
}

char *occ_cli_default_state_path(void)
{
	char *dir = occ_config_dir();
	char *path = occ_xasprintf("%s/state.yaml", dir);

	free(dir);
	return path;
}

static const char default_state_text[] =
	"# occ state file: the desired state of the opencode service.\n"
	"# Created by `occ apply` with the defaults; edit it and run `occ apply`,\n"
	"# or let `occ watch` keep it converged. See `occ help` and examples/.\n"
	"version: 1\n"
	"\n"
	"# Defaults in force (uncomment to change):\n"
	"# name: opencode-cloud\n"
	"# image:\n"
	"#   ref: opencode-cloud:local\n"
	"#   pull: missing\n"
	"# container:\n"
	"#   port: 3000\n"
	"#   bind: 127.0.0.1\n";

const char *occ_cli_default_state_text(void)
{
	return default_state_text;
}

static int create_default_state(struct occ_cli *cli, struct occ_error *err)
{
	char *dir = occ_path_dirname(cli->file);
	int ret = occ_mkdir_p(dir, 0700, err);

	if (ret == 0)
		ret = occ_write_file_keep(cli->file, default_state_text,
					  sizeof(default_state_text) - 1, cli->file, 0600, err);
	free(dir);
	if (ret == 0)
		cli->state_created = true;
	return ret;
}

/* A missing state file that is a dangling symlink: err says so, naming both. */
static bool dangling_link(const char *path, struct occ_error *err)
{
	struct occ_error lerr;
	char *target = NULL;
	bool dangling;

	occ_error_clear(&lerr);
	dangling = occ_path_resolve_link(&target, path, &lerr) != 0;
	if (dangling)
		*err = lerr;
	free(target);
	return dangling;
}

int occ_cli_load_state(struct occ_cli *cli, bool create_default)
{
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	if (create_default && !cli->file_given && access(cli->file, F_OK) != 0 && errno == ENOENT) {
		ret = create_default_state(cli, &err);
		if (ret) {
			occ_cli_print_error(cli, &err);
			return OCC_EXIT_ERROR;
		}
		occ_cli_info(cli, "created %s with the defaults\n", cli->file);
	}
	ret = occ_model_load_flags(&cli->state, cli->file, cli->load_flags, &err);
	if (ret) {
		if (ret == OCC_ENOTFOUND && !err.line && !dangling_link(cli->file, &err)) {
			occ_error_hint(&err, cli->file_given ?
				       "check the path given with --file" :
				       "create one with 'occ apply' (defaults) or pass --file");
		}
		occ_cli_print_error(cli, &err);
		return OCC_EXIT_ERROR;
	}
	return 0;
}
