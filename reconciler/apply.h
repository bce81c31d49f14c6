/*
 * apply.h - carry out a plan through a driver, in order, stopping at the first
 * failure.
 *
 * The engine reports each step through hooks (the library never prints) and
 * appends one journal line per completed action. Image actions run first; when
 * they changed anything, the host is observed again and the rest of the plan
 * recomputed, because a new image ID can only be known after the pull or build.
 */
#ifndef OCC_APPLY_H
#define OCC_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "reconciler/plan.h"

struct occ_apply_hooks {
	void *ctx;
	void (*action_start)(void *ctx, const struct occ_action *a);
	/* rc is 0 or the failure; err is NULL on success. */
	void (*action_done)(void *ctx, const struct occ_action *a, int rc, uint64_t elapsed_ms,
			    const struct occ_error *err);
	/* The rest of the plan after image actions, when it differs. */
	void (*replanned)(void *ctx, const struct occ_plan *plan);
	void (*health_start)(void *ctx, const char *name, uint64_t timeout_ms);
	void (*health_done)(void *ctx, const char *name, int rc, uint64_t elapsed_ms);
};

struct occ_apply_opts {
	const char *journal_path; /* NULL: no journal */
	const char *host;         /* for the journal: "local" or the host name */
	bool skip_health;         /* do not wait for health after starting */
};

struct occ_apply_report {
	size_t n_done;           /* actions that completed */
	size_t n_failed;         /* 0 or 1: apply stops at the first failure */
	uint64_t elapsed_ms;
	bool healthy;            /* health was waited for and passed */
};

/*
 * Apply plan (computed from obs) to desired through d. On failure returns the
 * failing action's error (err says which action); actions before it stay done
 * and are listed in the report and the journal.
 */
int occ_apply_plan(struct occ_driver *d, const struct occ_state *desired,
		   const struct occ_observed *obs, const struct occ_plan *plan,
		   const struct occ_apply_opts *opts, const struct occ_apply_hooks *hooks,
		   struct occ_apply_report *rep, struct occ_error *err);

/*
 * Whether the journal at path can take an apply's lines: it opens for
 * appending (created 0600 with its directory) and its file system has room.
 * OCC_EIO (with errno, e.g. EROFS, ENOSPC) and a hint otherwise. Does I/O;
 * occ_apply_plan calls it before the first action of a non-empty plan, so a
 * full or read-only data directory fails an apply before it changes anything.
 */
int occ_journal_check(const char *path, struct occ_error *err);

/* Append one line to a journal file (created 0600 with its directory). */
int occ_journal_append(const char *path, const char *host, const char *what,
		       const char *result, struct occ_error *err);

/* The default journal path of a project. Caller frees. */
char *occ_journal_default_path(const char *project);

#endif
