/*
 * plan.h - the difference between desired and observed state, as actions.
 *
 * occ_plan_compute() is pure: no clock, no randomness, no Docker. The only
 * reads are a user's password_file / password_env (to compare an existing
 * account's hash), never printed. The same inputs give the same plan, actions in apply order (image, volumes, container,
 * start/stop). Each action is one driver call and carries its cause and the
 * field-level changes behind it.
 */
#ifndef OCC_PLAN_H
#define OCC_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "model/state.h"
#include "reconciler/observed.h"

enum occ_action_kind {
	OCC_ACT_IMAGE_PULL = 0,
	OCC_ACT_IMAGE_BUILD,
	OCC_ACT_VOLUME_CREATE,
	OCC_ACT_CONTAINER_CREATE,   /* create (not start) the project's container */
	OCC_ACT_CONTAINER_RECREATE, /* replace target_id, keeping it until the new
	                               one exists; starts the new one if desired */
	OCC_ACT_CONTAINER_START,
	OCC_ACT_CONTAINER_STOP,
	OCC_ACT_CONTAINER_REMOVE,   /* a leftover occ created (never a foreign one) */
	OCC_ACT_USER_CREATE,        /* an account in the container (name = user) */
	OCC_ACT_USER_UPDATE,        /* password, lock state or shell, in place */
	OCC_ACT_USER_REMOVE,        /* an account occ created; home kept */
};

/* What a diff line shows: + ~ -/+ - and the start/stop markers. */
enum occ_op {
	OCC_OP_CREATE = 0,
	OCC_OP_UPDATE,
	OCC_OP_RECREATE,
	OCC_OP_START,
	OCC_OP_STOP,
	OCC_OP_REMOVE,
};

struct occ_change {
	char *field;          /* "env.TZ", "container.port", "image" */
	char *old_value;      /* NULL = absent */
	char *new_value;      /* NULL = absent */
	bool sensitive;       /* values are secrets: show only "(sensitive)" */
	bool number;          /* values are numbers: shown unquoted */
	bool forces_recreate;
};

struct occ_action {
	enum occ_action_kind kind;
	enum occ_op op;
	char *resource;       /* "image", "volume", "container" */
	char *name;           /* the Docker name of the resource */
	char *target_id;      /* the existing object acted on, if any */
	char *cause;          /* one line: why this action exists */
	struct occ_change *changes;
	size_t n_changes;
	bool wait_healthy;    /* after this action, wait for the service's health */
	bool destructive;     /* loses data: needs --yes or a confirmation */
};

struct occ_plan {
	struct occ_action *actions;
	size_t n, alloc;
	/* Summary counts, terraform-style. */
	int n_create, n_change, n_recreate, n_remove;
	/* Desired and observed agree on the container's run state. */
	bool in_sync;
};

void occ_plan_init(struct occ_plan *plan);
void occ_plan_release(struct occ_plan *plan);

/*
 * Compute the plan that takes obs to desired (an effective, per-host state:
 * see occ_state_for_host). Fails only when the desired state cannot be reached
 * safely: OCC_ECONFLICT when a container or volume occ does not own holds a
 * name occ needs. *out is initialised by the call and filled on success.
 */
int occ_plan_compute(struct occ_plan *out, const struct occ_state *desired,
		     const struct occ_observed *obs, struct occ_error *err);

/* True when the plan has nothing to do. */
bool occ_plan_empty(const struct occ_plan *plan);

const char *occ_action_kind_name(enum occ_action_kind k);
const char *occ_op_name(enum occ_op op);

#endif
