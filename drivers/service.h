/*
 * service.h - keep `occ watch` running under the platform's service manager.
 *
 * `occ install` writes a systemd unit (Linux) or a launchd property list
 * (macOS) that runs `<this occ binary> watch -f <state file>`, restarts it on
 * failure, waits for the local Docker socket first and survives logouts and
 * reboots; `occ uninstall` takes it away again. The unit is rendered from the
 * templates in units/, which are compiled into occ, so installing needs no
 * source checkout.
 *
 * Everything here is idempotent. occ_service_ensure() renders the unit,
 * compares it with the file on disk, rewrites the file (atomically) only when
 * it differs, and asks the manager to reload/enable/start/restart only when
 * the file changed or the service is not enabled and running. A second call
 * with the same inputs writes nothing and runs no action command; it still
 * runs the manager's read-only queries (systemctl is-system-running,
 * is-enabled, is-active, --version; launchctl print), a few milliseconds each.
 *
 * Every external command goes through one runner (fork + exec, argv only, no
 * shell, output captured, bounded in size and time); tests swap in their own.
 * The manager is "unusable" when it cannot be asked (systemd: no
 * $XDG_RUNTIME_DIR for a user unit, or `systemctl [--user] is-system-running`
 * does not answer with a running state; launchd: no such domain). Then the
 * file is still written, no command runs, and the result lists exactly the
 * commands to run later.
 *
 * Names: the systemd unit is opencode-cloud.service, in
 * $XDG_CONFIG_HOME/systemd/user/ (or /etc/systemd/system/ with system); the
 * launchd job is dev.opencode-cloud.occ, in ~/Library/LaunchAgents/ (or
 * /Library/LaunchDaemons/ with system) and logs to
 * ~/Library/Logs/opencode-cloud/watch.log (/Library/Logs/... with system).
 *
 * The library never prints: results and status come back as structs and the
 * CLI (cli/cmd-service.c) words them.
 */
#ifndef OCC_SERVICE_H
#define OCC_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "model/error.h"
#include "model/state.h"
#include "model/util.h"

#define OCC_SERVICE_UNIT_NAME "opencode-cloud.service"
#define OCC_SERVICE_LABEL     "dev.opencode-cloud.occ"

enum occ_service_manager {
	OCC_SERVICE_MANAGER_DEFAULT = 0, /* this platform's: launchd on macOS, else systemd */
	OCC_SERVICE_SYSTEMD,
	OCC_SERVICE_LAUNCHD,
};

/* What one external command did. out and err are initialised by the runner
 * and released by the caller with occ_service_output_release(). */
struct occ_service_output {
	int status;             /* exit status; 127: could not be executed;
	                           128+N: killed by signal N */
	struct occ_strbuf out;  /* stdout, at most OCC_SERVICE_MAX_OUTPUT bytes */
	struct occ_strbuf err;  /* stderr, likewise */
};

#define OCC_SERVICE_MAX_OUTPUT (64 * 1024)
#define OCC_SERVICE_RUN_TIMEOUT_MS 30000

void occ_service_output_release(struct occ_service_output *o);

/*
 * A runner: run argv (argv[0] searched in PATH; NULL-terminated), stdin from
 * /dev/null, and fill res (always initialised, even on error). Returns 0 when
 * the command ran to an exit status (any status), OCC_EIO when it could not be
 * started (fork, pipe), OCC_ETIMEOUT when it was killed after
 * OCC_SERVICE_RUN_TIMEOUT_MS.
 */
typedef int (*occ_service_run_fn)(void *ctx, const char *const *argv,
				  struct occ_service_output *res, struct occ_error *err);

/* The real runner (ctx unused): fork + exec, no shell. Does I/O. It reaps
 * its own child with waitpid(pid): a caller must not reap every child behind
 * its back (SIGCHLD set to SIG_IGN, or a waitpid(-1) loop). */
int occ_service_run(void *ctx, const char *const *argv, struct occ_service_output *res,
		    struct occ_error *err);

struct occ_service_opts {
	bool system;            /* system-wide service; needs root */
	bool dry_run;           /* render and plan: run only the read-only
	                           queries, write nothing, run no action */
	/* Seams for tests; zero values mean the real thing. */
	enum occ_service_manager manager;
	const char *exe;        /* the occ binary the unit runs; NULL: this one */
	const char *unit_dir;   /* directory of the unit file; NULL: the manager's */
	bool uid_set;           /* use uid instead of getuid() */
	uid_t uid;
	occ_service_run_fn run; /* NULL: occ_service_run */
	void *run_ctx;
};

#define OCC_SERVICE_MAX_CMDS 8

struct occ_service_result {
	const char *manager;    /* "systemd" or "launchd" (static) */
	char *path;             /* the unit file */
	char *content;          /* what was rendered (ensure only, else NULL) */
	char *log_path;         /* launchd: where the watcher's output goes; NULL
	                           with systemd (the journal) */
	bool changed;           /* the file was (dry run: would be) written or removed */
	bool existed;           /* the file existed before */
	bool manager_ok;        /* the manager answered its queries */
	char reason[256];       /* why not, when !manager_ok */
	bool ran;               /* commands[] were run (false: dry run, or !manager_ok:
	                           they are what the user should run later) */
	char *commands[OCC_SERVICE_MAX_CMDS]; /* action commands, shell-quoted for display */
	size_t n_commands;
	bool linger_hint;       /* systemd user unit, lingering off: without
	                           `loginctl enable-linger USER` it stops at logout
	                           and starts only at login */
	char user[64];          /* the login name, for that hint */
};

void occ_service_result_release(struct occ_service_result *r);

/*
 * Refuse a system service for a non-root uid (OCC_EPERM with a hint); 0
 * otherwise. Pure: the uid is the caller's to give.
 */
int occ_service_check_system(uid_t uid, bool system, struct occ_error *err);

/*
 * Render the unit file for state_file (any path: it is made absolute
 * lexically, "~" expanded) without touching the disk or running anything but
 * `systemctl --version` (systemd's version decides whether RestartSteps= is
 * understood). st, when not NULL, says whether the local machine is a target
 * (no hosts:, or a host without address): only then does the unit wait for
 * the local Docker socket. NULL means it is. *out_text and *out_path (may be
 * NULL) are the caller's to free. Errors: OCC_EPERM (system, not root),
 * OCC_EINVALID (a path is not valid UTF-8 or holds control characters),
 * OCC_EIO (the running binary cannot be found).
 */
int occ_service_render(char **out_text, char **out_path, const char *state_file,
		       const struct occ_state *st, const struct occ_service_opts *opts,
		       struct occ_error *err);

/*
 * Install or update the service for state_file (see occ_service_render for
 * st) and make sure it is enabled and running. opts may be NULL (a user
 * service, for real). out is always filled (release it even on error); on
 * error it says how far it got. Errors: those of occ_service_render, OCC_EIO
 * (writing the file), OCC_EGENERIC (a manager command failed: the message
 * quotes it and its stderr), OCC_ETIMEOUT. An unusable manager is not an
 * error: see out->manager_ok.
 *
 * `occ apply` calls this when the state file says service.install: true
 * (cli/cmd-service.c: occ_cli_service_apply()).
 */
int occ_service_ensure(struct occ_service_result *out, const char *state_file,
		       const struct occ_state *st, const struct occ_service_opts *opts,
		       struct occ_error *err);

/*
 * Stop, disable and remove the service. Never touches the state file, the
 * journal, Docker containers or volumes. Removing what is not installed is
 * not an error (out->existed is false and nothing runs). opts may be NULL.
 */
int occ_service_remove(struct occ_service_result *out, const struct occ_service_opts *opts,
		       struct occ_error *err);

enum occ_service_running {
	OCC_SERVICE_RUNNING_UNKNOWN = 0, /* the manager could not be asked */
	OCC_SERVICE_RUNNING_NO,
	OCC_SERVICE_RUNNING_YES,
};

struct occ_service_status {
	const char *manager;    /* "systemd" or "launchd" (static) */
	char path[4096];        /* where the unit file is (or would be) */
	bool installed;         /* the file exists */
	bool up_to_date;        /* installed, and equal to what would be rendered */
	bool enabled;           /* systemd: is-enabled; launchd: loaded (false when unknown) */
	enum occ_service_running running;
	char state[64];         /* the manager's word: "active", "failed",
	                           "inactive", "running", "not loaded", or "unknown" */
	char reason[256];       /* why unknown, when running is UNKNOWN */
};

/*
 * What is installed and running, for `occ status`: for the user service, or
 * the system one with system. state_file (required) and st (may be NULL) are
 * what up_to_date compares against. Runs read-only queries only. Errors: as
 * for occ_service_render; an unusable manager is not an error (running is
 * UNKNOWN and reason says why).
 */
int occ_service_status(struct occ_service_status *out, const char *state_file,
		       const struct occ_state *st, bool system, struct occ_error *err);

/* The same with every seam of opts (opts may be NULL; dry_run is ignored). */
int occ_service_status_opts(struct occ_service_status *out, const char *state_file,
			    const struct occ_state *st, const struct occ_service_opts *opts,
			    struct occ_error *err);

#endif
