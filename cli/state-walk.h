/*
 * state-walk.h - walk the effective state (defaults filled in, paths
 * resolved) in file order, for `occ config show|get`. Secret values
 * (password hashes, env and build args with secret-looking names) are
 * reported as secret so no consumer can print them by accident.
 */
#ifndef OCC_CLI_STATE_WALK_H
#define OCC_CLI_STATE_WALK_H

#include <stdbool.h>

#include "model/state.h"

enum occ_walk_kind {
	OCC_WALK_STRING = 0,
	OCC_WALK_NUMBER,
	OCC_WALK_BOOL,
	OCC_WALK_NULL,
};

struct occ_walk_ops {
	/* key is NULL for an item of a list; id is then its selector
	 * ("name=alice", "target=/work") or NULL. */
	void (*map_begin)(void *ctx, const char *key, const char *id);
	void (*map_end)(void *ctx);
	void (*list_begin)(void *ctx, const char *key);
	void (*list_end)(void *ctx);
	void (*scalar)(void *ctx, const char *key, const char *value, enum occ_walk_kind kind,
		       bool secret);
};

void occ_cli_walk_state(const struct occ_state *st, const struct occ_walk_ops *ops, void *ctx);

#endif
