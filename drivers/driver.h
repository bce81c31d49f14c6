/*
 * driver.h - the seam between the reconciler and the outside world.
 *
 * A driver observes one host and carries out plan actions on it. Implementations
 * embed struct occ_driver first and fill the ops table; optional slots may be
 * NULL and the inline wrappers below treat them as no-ops. Drivers never print:
 * progress (pull layers, build output) goes to the sink the caller installed.
 */
#ifndef OCC_DRIVER_H
#define OCC_DRIVER_H

#include <stdint.h>

#include "model/error.h"
#include "model/state.h"
#include "reconciler/observed.h"
#include "reconciler/plan.h"

enum occ_progress_kind {
	OCC_PROGRESS_LINE = 0,  /* a line of build output or a status message */
	OCC_PROGRESS_LAYER,     /* pull progress of one layer */
};

struct occ_progress {
	enum occ_progress_kind kind;
	const char *id;         /* layer id (LAYER) or NULL */
	const char *text;       /* the line, or the layer's status ("Downloading") */
	uint64_t current, total;/* bytes, LAYER only; total 0 = unknown */
};

struct occ_progress_sink {
	void (*fn)(void *ctx, const struct occ_progress *p);
	void *ctx;
};

/* Optional trace of every request a driver makes ("GET /v1.41/... 200 0.4 ms"),
 * for `occ -vv` and for tests that assert which calls were made. */
struct occ_trace_sink {
	void (*fn)(void *ctx, const char *line);
	void *ctx;
};

struct occ_driver;

/*
 * One event from a host's event stream (Docker: GET /events). Fixed-size so
 * delivering one never allocates; longer values are truncated. Strings are
 * always NUL-terminated and "" when the daemon did not say.
 */
enum occ_event_kind {
	OCC_EVENT_SUBSCRIBED = 0, /* the stream is open: later changes are seen */
	OCC_EVENT_CONTAINER,      /* an event about one of the project's containers */
	OCC_EVENT_OTHER,          /* any other type (image, volume, network...) */
};

struct occ_event {
	enum occ_event_kind kind;
	char type[16];          /* the daemon's Type: "container" */
	char action[64];        /* "die", "stop", "kill", "destroy", "start",
	                           "health_status: healthy", "exec_start: sh" ... */
	char id[72];            /* the object's full ID */
	char name[128];         /* the container's name, without '/' */
	int exit_code;          /* "die": the exit code; -1 when not given */
	int64_t time_ns;        /* when the daemon saw it, unix nanoseconds; 0 unknown */
};

typedef void (*occ_event_fn)(void *ctx, const struct occ_event *e);

struct occ_driver_ops {
	const char *name;
	/* Fill out (initialised by the caller) with what exists for desired's project. */
	int (*observe)(struct occ_driver *d, const struct occ_state *desired,
		       struct occ_observed *out, struct occ_error *err);
	/* Carry out one action. obs is the observation the plan was made from. */
	int (*apply)(struct occ_driver *d, const struct occ_state *desired,
		     const struct occ_observed *obs, const struct occ_action *act,
		     struct occ_error *err);
	/* Optional: wait until the service answers its health check. */
	int (*wait_healthy)(struct occ_driver *d, const struct occ_state *desired,
			    uint64_t timeout_ms, struct occ_error *err);
	/* Optional: check the host is reachable. */
	int (*ping)(struct occ_driver *d, struct occ_error *err);
	/*
	 * Optional: follow the events of desired's project (its containers only),
	 * calling fn for each from the calling thread: first one
	 * OCC_EVENT_SUBSCRIBED once the daemon accepted the subscription, then
	 * one per event. Blocks until the stream fails or ends (an error: the
	 * caller reconnects and resyncs, as events may have been missed) or *stop
	 * becomes non-zero (checked at least once a second; returns 0). The
	 * stream uses the driver exclusively for its whole life: give it a driver
	 * of its own.
	 */
	int (*events)(struct occ_driver *d, const struct occ_state *desired,
		      occ_event_fn fn, void *ctx, const volatile int *stop,
		      struct occ_error *err);
	void (*destroy)(struct occ_driver *d);
};

struct occ_driver {
	const struct occ_driver_ops *ops;
	struct occ_progress_sink progress;
	struct occ_trace_sink trace;
};

static inline int occ_driver_observe(struct occ_driver *d, const struct occ_state *desired,
				     struct occ_observed *out, struct occ_error *err)
{
	return d->ops->observe(d, desired, out, err);
}

static inline int occ_driver_apply(struct occ_driver *d, const struct occ_state *desired,
				   const struct occ_observed *obs, const struct occ_action *act,
				   struct occ_error *err)
{
	return d->ops->apply(d, desired, obs, act, err);
}

static inline int occ_driver_wait_healthy(struct occ_driver *d, const struct occ_state *desired,
					  uint64_t timeout_ms, struct occ_error *err)
{
	return d->ops->wait_healthy ? d->ops->wait_healthy(d, desired, timeout_ms, err) : 0;
}

static inline int occ_driver_ping(struct occ_driver *d, struct occ_error *err)
{
	return d->ops->ping ? d->ops->ping(d, err) : 0;
}

/* A driver without events fails with OCC_EGENERIC: there is nothing to wait on. */
static inline int occ_driver_events(struct occ_driver *d, const struct occ_state *desired,
				    occ_event_fn fn, void *ctx, const volatile int *stop,
				    struct occ_error *err)
{
	if (!d->ops->events)
		return occ_error_set(err, OCC_EGENERIC, "the %s driver cannot follow events",
				     d->ops->name);
	return d->ops->events(d, desired, fn, ctx, stop, err);
}

static inline void occ_driver_free(struct occ_driver *d)
{
	if (d)
		d->ops->destroy(d);
}

static inline void occ_driver_progress(struct occ_driver *d, const struct occ_progress *p)
{
	if (d->progress.fn)
		d->progress.fn(d->progress.ctx, p);
}

#endif
