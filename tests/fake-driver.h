/*
 * fake-driver.h - an in-memory driver for unit-testing the planner and the
 * apply engine. It holds a "world" (a struct occ_observed), records every
 * call, can fail on the Nth apply call, and (when converging) changes the
 * world the way a real daemon would, so "apply, then plan again: empty" is a
 * test. Never a substitute for the integration tests against dockerd.
 */
#ifndef OCC_FAKE_DRIVER_H
#define OCC_FAKE_DRIVER_H

#include "drivers/driver.h"

#define FAKE_MAX_CALLS 64

struct fake_driver {
	struct occ_driver base;
	struct occ_observed world;
	bool converge;              /* apply changes the world */
	int fail_at;                /* fail the Nth apply call (1-based); 0 = never */
	int fail_observe;           /* observe fails with this code; 0 = never */
	int fail_health;            /* wait_healthy fails with this code; 0 = never */
	int n_calls;                /* apply calls so far */
	enum occ_action_kind calls[FAKE_MAX_CALLS];
	int n_observe, n_health;
	int next_id;
};

struct fake_driver *fake_driver_new(void);

/* Helpers to build worlds. */
struct occ_obs_container *fake_add_container_from(struct fake_driver *f, const struct occ_state *st,
						  enum occ_ctr_state state);
void fake_set_image(struct fake_driver *f, const char *ref, const char *id);
void fake_add_volume(struct fake_driver *f, const char *name, bool owned);

#endif
