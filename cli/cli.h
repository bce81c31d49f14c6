/*
 * cli.h - the command table, global options and terminal output.
 *
 * Only cli/ talks to the terminal. Every command is one entry in the table in
 * main.c; flags say what shared work run_command() does before calling it
 * (load the state file, open drivers, take the project lock), and help and
 * completions are generated from the same table.
 */
#ifndef OCC_CLI_H
#define OCC_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/error.h"
#include "model/state.h"
#include "model/util.h"

/* Exit codes (DESIGN.md). */
enum {
	OCC_EXIT_OK = 0,
	OCC_EXIT_ERROR = 1,
	OCC_EXIT_CHANGES = 2,
	OCC_EXIT_USAGE = 64,
};

enum occ_cmd_flags {
	CMD_LOAD_STATE = 1 << 0,  /* load and validate the state file first */
	CMD_DEFAULT_STATE = 1 << 1,/* a missing default state file means the defaults */
	CMD_OWN_F = 1 << 2,       /* -f is the command's own flag, not --file */
	CMD_HIDDEN = 1 << 3,      /* not listed in help */
};

struct occ_cli;

struct occ_cmd {
	const char *name;
	int (*fn)(struct occ_cli *cli, int argc, char **argv);
	unsigned flags;
	const char *usage;      /* arguments after the command name */
	const char *summary;    /* one line for `occ help` */
	const char *help;       /* options and details for `occ help CMD` */
};

struct occ_cli {
	const struct occ_cmd *cmd;
	const char *file;       /* state file path (given or default) */
	bool file_given;
	const char *host;       /* --host, NULL for all */
	bool json;
	bool color;             /* stdout */
	bool color_err;         /* stderr */
	bool quiet;
	int verbose;
	bool yes;               /* --yes: answer confirmations */
	int64_t lock_timeout_ms;/* --lock-timeout; -1 waits forever */
	bool tty_in, tty_out;
	struct occ_state *state;/* CMD_LOAD_STATE */
	unsigned load_flags;    /* OCC_LOAD_* for loading the file before an edit */
	bool state_created;     /* the default state file did not exist */
};

/* The whole program: parse, dispatch, return the exit code. */
int occ_cli_main(int argc, char **argv);

/* The command table, NULL-terminated on name. */
extern const struct occ_cmd occ_commands[];
const struct occ_cmd *occ_cli_find_command(const char *name);

/* Output. Errors go to stderr (or as JSON to stdout with --json). */
void occ_cli_print_error(struct occ_cli *cli, const struct occ_error *err);
void occ_cli_errorf(struct occ_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int occ_cli_usage_error(struct occ_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void occ_cli_info(struct occ_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void occ_cli_verbose(struct occ_cli *cli, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ANSI colour (empty strings without colour). */
const char *occ_c(const struct occ_cli *cli, const char *what); /* "red" "green" "yellow" "bold" "dim" "reset" */

/* Ask a yes/no question on the terminal; false without a terminal. */
bool occ_cli_confirm(struct occ_cli *cli, const char *question);

/* Help. */
void occ_cli_print_help(FILE *out, const struct occ_cmd *cmd);
void occ_cli_print_overview(FILE *out);

/* Load cli->state from cli->file (see CMD_LOAD_STATE); prints errors. */
int occ_cli_load_state(struct occ_cli *cli, bool create_default);

/* The text of a new default state file (commented). */
const char *occ_cli_default_state_text(void);

/* The default state file path. Caller frees. */
char *occ_cli_default_state_path(void);

/* Lock (unless lock_held), plan and apply every target (apply, start, stop,
 * restart). Returns an exit code. */
struct occ_apply_opts;
int occ_cli_apply(struct occ_cli *cli, const struct occ_apply_opts *o, const char *operation,
		  bool lock_held);

/* Take the project lock of cli->state, waiting per --lock-timeout; prints
 * errors and returns an exit code. */
struct occ_lock;
int occ_cli_lock(struct occ_cli *cli, struct occ_lock **out, const char *operation);


/* Command handlers. */
int cmd_help(struct occ_cli *cli, int argc, char **argv);
int cmd_version(struct occ_cli *cli, int argc, char **argv);
int cmd_completion(struct occ_cli *cli, int argc, char **argv);
int cmd_validate(struct occ_cli *cli, int argc, char **argv);
int cmd_diff(struct occ_cli *cli, int argc, char **argv);
int cmd_apply(struct occ_cli *cli, int argc, char **argv);
int cmd_status(struct occ_cli *cli, int argc, char **argv);
int cmd_start(struct occ_cli *cli, int argc, char **argv);
int cmd_stop(struct occ_cli *cli, int argc, char **argv);
int cmd_restart(struct occ_cli *cli, int argc, char **argv);
int cmd_logs(struct occ_cli *cli, int argc, char **argv);
int cmd_watch(struct occ_cli *cli, int argc, char **argv);
int cmd_man(struct occ_cli *cli, int argc, char **argv);
int cmd_user(struct occ_cli *cli, int argc, char **argv);
int cmd_mount(struct occ_cli *cli, int argc, char **argv);
int cmd_host(struct occ_cli *cli, int argc, char **argv);
int cmd_open(struct occ_cli *cli, int argc, char **argv);
int cmd_config(struct occ_cli *cli, int argc, char **argv);
int cmd_volume(struct occ_cli *cli, int argc, char **argv);
int cmd_install(struct occ_cli *cli, int argc, char **argv);
int cmd_uninstall(struct occ_cli *cli, int argc, char **argv);
int cmd_update(struct occ_cli *cli, int argc, char **argv);
int cmd_setup(struct occ_cli *cli, int argc, char **argv);

/* For `occ apply` (cli/cmd-service.c): when cli->state says service.install:
 * true, install or update the user service that runs `occ watch -f
 * cli->file` (drivers/service.h: occ_service_ensure) and report changes on
 * stderr. Idempotent and cheap when nothing changed. Returns an exit code;
 * OCC_EXIT_OK when service.install is false. */
int occ_cli_service_apply(struct occ_cli *cli);

#endif
