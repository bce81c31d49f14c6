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
#include "drivers/conn.h"
#include "drivers/driver.h"
#include "reconciler/observed.h"
#include "reconciler/plan.h"

struct occ_target {
	char *name;               /* "local" or the host's name */
	char *address;            /* the host's address; NULL for this machine */
	struct occ_state *eff;    /* the effective state for this host */
	struct occ_conn *conn;    /* how the host is reached; NULL when that failed */
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

/* Report that the state file has no host name (listing the ones it has);
 * returns OCC_EXIT_ERROR. */
int occ_cli_unknown_host(struct occ_cli *cli, const char *name);

/* At most this many hosts are worked on at once. */
#define OCC_CLI_MAX_PARALLEL_HOSTS 8

/* Like occ_cli_targets_open, for commands that act on one host: --host, else
 * the state file's default_host, else its only host. Several hosts and no
 * way to choose is a usage error (printed). */
int occ_cli_targets_open_one(struct occ_cli *cli, struct occ_targets *out);

/* Run fn on every target, up to OCC_CLI_MAX_PARALLEL_HOSTS at once, each in
 * its own thread (inline for one target); returns when all are done. fn must
 * touch only its target (and print whole lines). */
void occ_cli_targets_run(struct occ_targets *t, void (*fn)(struct occ_target *tg, void *ctx),
			 void *ctx);

/* Observe and plan every target that opened, concurrently. */
void occ_cli_targets_plan(struct occ_cli *cli, struct occ_targets *t);

/* With several hosts: one line per host on stderr (in sync, changes,
 * converged, FAILED); nothing for one host, --quiet or --json. */
void occ_cli_print_host_summary(struct occ_cli *cli, const struct occ_targets *t, bool applied);

void occ_cli_targets_release(struct occ_targets *t);

/*
 * Open one target for host h (which need not be in the state file: `host
 * add` tests a host before writing it), with the effective state of h.
 * accept_new records an unknown SSH host key. Returns tg->rc; tg is always
 * initialised and must be closed with occ_cli_target_close().
 */
int occ_cli_target_open_host(struct occ_cli *cli, struct occ_target *tg, const struct occ_host *h,
			     bool accept_new);
void occ_cli_target_close(struct occ_target *tg);

/* The service's URL as seen from this machine: a wildcard bind on a remote
 * host gives its address. With a loopback bind on a remote host the URL is
 * only valid there (*remote_only set; `occ open --host` forwards it).
 * Caller frees. */
char *occ_cli_service_url(const struct occ_target *tg, bool *remote_only);

/* Install the CLI's progress printer on a target's driver. */
void occ_cli_target_progress(struct occ_cli *cli, struct occ_target *t);

struct occ_json;

/* A failed target as one JSON object: host, project, reached (false when
 * its daemon could not be reached), error {kind, message, hint}. It has no
 * actions: an unknown plan, not an empty one. Shared by diff, apply and
 * status. */
void occ_cli_target_error_json(struct occ_json *j, const struct occ_target *tg);

/* Whether a failed target failed because its daemon could not be reached
 * (no connection, daemon down, not a socket, SSH down, permission denied,
 * no answer), rather than in planning. */
bool occ_cli_target_unreachable(const struct occ_target *tg);

/* The end of diff's and apply's JSON object: "changes" (true: a host has
 * actions; false: every host was planned and none has; null: unknown, a host
 * failed and none of the others has actions), "ok", and "failed_hosts" (the
 * names of the hosts without a plan or with a failed apply). */
void occ_cli_json_outcome(struct occ_json *j, const struct occ_targets *t, bool changes);

/* Print every target's plan (or its error) as text, or into j as JSON array
 * items when j is not NULL. Shared by diff and apply. */
void occ_cli_print_plans(struct occ_cli *cli, struct occ_targets *t, struct occ_json *j);

#endif
