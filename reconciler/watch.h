/*
 * watch.h - the pure core of `occ watch`: when each host reconciles.
 *
 * One struct occ_watch_host per host is a small state machine. The loop
 * (cli/cmd-watch.c) feeds it what happened (occ_watch_host_on_event), asks
 * it whether to start a reconcile and when to ask again
 * (occ_watch_host_next), and reports how the reconcile ended
 * (occ_watch_host_done). Nothing here does I/O, reads a clock or takes a
 * lock: every call takes `now` (monotonic milliseconds, never decreasing
 * across calls for one host) and the only randomness, the resync jitter,
 * comes from a seed given at init. One host is driven by one thread.
 *
 * The rules, all of them here and unit-tested (tests/test-watch.c):
 *
 *  - Debounce. Drift and reconnect events start a run debounce_ms after the
 *    last of a burst, but never later than debounce_max_ms after the first.
 *    A new desired state (FILE, already settled by the loop's file debounce),
 *    START and MANUAL run at once.
 *  - Follow-up collapse. Events arriving while a run is in progress are
 *    remembered; when it ends they make exactly one more run, however many
 *    there were.
 *  - Backoff. A failed run is retried after backoff_min_ms, doubling per
 *    consecutive failure up to backoff_max_ms; success resets it. Drift never
 *    brings a retry forward; a reconnect of the event stream (the daemon
 *    answers again) does. A new desired state and SIGHUP (MANUAL) run at
 *    once and start backoff and stall over: earlier failures say nothing
 *    about a different state.
 *  - Stall. After stall_after consecutive failures with the same message for
 *    the same desired state (state_hash), the host is stalled: no more
 *    retries on the backoff schedule, only the periodic resync, drift events
 *    (no earlier than the backoff would allow), a reconnect, a new state
 *    file or SIGHUP run it. It stays stalled until a run succeeds, fails
 *    differently, or the desired state changes.
 *  - Self-heal rate limit. With self_heal on, drift starts a repair; a run
 *    caused only by drift, reconnect, resync or retry that changed anything
 *    counts as a repair. When heal_max repairs fall within heal_window_ms,
 *    further drift waits (heal back-off: one window, doubling for each
 *    limit hit within a window of the last resume, up to backoff_max_ms).
 *    With self_heal off, drift events start nothing, and resync and
 *    reconnect runs only observe and plan (run.apply false): drift is
 *    reported, never repaired.
 *  - Resync. resync_ms after every run (+-jitter_pct, uniform), a run with
 *    reason RESYNC starts, catching whatever the event stream missed. A
 *    failing host resyncs no earlier than its retry would be due.
 */
#ifndef OCC_WATCH_H
#define OCC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/hash.h"
#include "model/state.h"

#define OCC_WATCH_NEVER UINT64_MAX  /* "no deadline" */

#define OCC_WATCH_DEBOUNCE_MS     150
#define OCC_WATCH_DEBOUNCE_MAX_MS 1000
#define OCC_WATCH_BACKOFF_MIN_MS  5000
#define OCC_WATCH_BACKOFF_MAX_MS  (5 * 60 * 1000)
#define OCC_WATCH_STALL_AFTER     3
#define OCC_WATCH_HEAL_MAX        5
#define OCC_WATCH_HEAL_WINDOW_MS  60000
#define OCC_WATCH_JITTER_PCT      10
#define OCC_WATCH_HEAL_CAP        32     /* largest heal_max accepted */
#define OCC_WATCH_ERR_MAX         256    /* bytes of a failure kept for comparison */

struct occ_watch_config {
	uint64_t debounce_ms;
	uint64_t debounce_max_ms;
	uint64_t backoff_min_ms;
	uint64_t backoff_max_ms;
	uint64_t resync_ms;       /* 0: no periodic resync */
	unsigned jitter_pct;      /* 0..50 */
	unsigned stall_after;     /* >= 1 */
	bool self_heal;
	unsigned heal_max;        /* 1..OCC_WATCH_HEAL_CAP */
	uint64_t heal_window_ms;
};

/* The defaults above, with resync and self_heal from the state file's
 * watch: section (w may be NULL: resync 5 min, self_heal on). */
void occ_watch_config_init(struct occ_watch_config *cfg, const struct occ_watch *w);

enum occ_watch_event {
	OCC_WATCH_EV_START = 0,   /* the watcher started: converge now */
	OCC_WATCH_EV_FILE,        /* a new desired state was loaded */
	OCC_WATCH_EV_DRIFT,       /* the host changed one of the project's containers */
	OCC_WATCH_EV_RECONNECT,   /* the event stream (re)opened: events may be lost */
	OCC_WATCH_EV_MANUAL,      /* SIGHUP: now, clearing backoff and stall */
	OCC_WATCH_EV_COUNT,       /* not an event: how many there are */
};

/* Why a run starts: a set of these bits. */
enum {
	OCC_WATCH_R_START = 1u << 0,
	OCC_WATCH_R_FILE = 1u << 1,
	OCC_WATCH_R_DRIFT = 1u << 2,
	OCC_WATCH_R_RECONNECT = 1u << 3,
	OCC_WATCH_R_MANUAL = 1u << 4,
	OCC_WATCH_R_RESYNC = 1u << 5,
	OCC_WATCH_R_RETRY = 1u << 6,
};

/* What on_event and done report, for the loop's log: a set of these bits. */
enum {
	OCC_WATCH_NOTE_IGNORED = 1u << 0,      /* drift with self_heal off */
	OCC_WATCH_NOTE_RATE_LIMITED = 1u << 1, /* self-heal limit hit: repairs wait */
	OCC_WATCH_NOTE_STALLED = 1u << 2,      /* the host just became stalled */
	OCC_WATCH_NOTE_UNSTALLED = 1u << 3,    /* ...and just stopped being so */
	OCC_WATCH_NOTE_FOLLOW_UP = 1u << 4,    /* events during the run: one more */
	OCC_WATCH_NOTE_RECOVERED = 1u << 5,    /* success after failures */
};

enum occ_watch_phase {
	OCC_WATCH_IDLE = 0,       /* converged (or never failed): waiting */
	OCC_WATCH_PENDING,        /* a run is due at next_at */
	OCC_WATCH_RUNNING,
	OCC_WATCH_BACKOFF,        /* the last run failed: retry at next_at */
	OCC_WATCH_STALLED,        /* failing the same way: see "Stall" above */
};

struct occ_watch_run {
	unsigned reasons;         /* OCC_WATCH_R_* */
	bool apply;               /* false: observe and plan only, report drift */
};

/*
 * A host's machine. Fields are private to watch.c except the ones under
 * "read-only", which the loop may read for logs and status.
 */
struct occ_watch_host {
	struct occ_watch_config cfg;
	uint64_t rng;

	/* read-only */
	bool running;
	struct occ_watch_run run;  /* the run in progress (valid while running) */
	bool failing;              /* the last run failed */
	bool stalled;
	uint64_t backoff_ms;       /* current backoff; 0 when not failing */
	uint64_t retry_at;         /* earliest retry while failing */
	unsigned same_failures;    /* consecutive identical failures */
	bool has_result;           /* a run has completed */
	int last_rc;
	char last_err[OCC_WATCH_ERR_MAX];   /* "" on success */
	size_t last_changes;
	uint64_t last_start, last_end, last_ok;
	uint64_t resync_at;        /* OCC_WATCH_NEVER without resync */
	uint64_t heal_resume_at;   /* drift repairs wait until then; 0 = not limited */
	unsigned long runs, failures, repairs;

	/* private */
	bool pending;
	uint64_t due, first_event;
	unsigned reasons;
	bool apply;
	unsigned follow_up;        /* bit per enum occ_watch_event seen while running */
	char fail_hash[OCC_HASH_HEX_LEN + 1];
	uint64_t heal_times[OCC_WATCH_HEAL_CAP];  /* ring of the last repairs */
	unsigned heal_n, heal_next;
	uint64_t heal_backoff_ms;
};

/* Start a host's machine at now. cfg is copied; seed feeds the jitter. */
void occ_watch_host_init(struct occ_watch_host *h, const struct occ_watch_config *cfg,
			 uint64_t seed, uint64_t now);

/* Take a new configuration (a reloaded state file); a changed resync
 * period reschedules the next resync from now. */
void occ_watch_host_set_config(struct occ_watch_host *h, const struct occ_watch_config *cfg,
			       uint64_t now);

/* Something happened. Returns OCC_WATCH_NOTE_* bits. */
unsigned occ_watch_host_on_event(struct occ_watch_host *h, uint64_t now,
				 enum occ_watch_event ev);

/*
 * Whether to start a run now. true: *run says why and how, the host is
 * running, and the loop must call occ_watch_host_done when it ends; *deadline
 * is OCC_WATCH_NEVER. false: *deadline is when to call again (OCC_WATCH_NEVER:
 * only after an event); *run is untouched.
 */
bool occ_watch_host_next(struct occ_watch_host *h, uint64_t now, uint64_t *deadline,
			 struct occ_watch_run *run);

/*
 * The run started by the last occ_watch_host_next ended: rc 0 or the error
 * code, err_msg its message (NULL or ignored on success), state_hash the
 * desired state it ran against (any string; compared for the stall), changes
 * how many actions it applied. Returns OCC_WATCH_NOTE_* bits.
 */
unsigned occ_watch_host_done(struct occ_watch_host *h, uint64_t now, int rc,
			     const char *err_msg, const char *state_hash, size_t changes);

enum occ_watch_phase occ_watch_host_phase(const struct occ_watch_host *h);

/* When the host next does something on its own: a due run, a retry or the
 * resync; OCC_WATCH_NEVER when it only waits for events or is running. */
uint64_t occ_watch_host_next_at(const struct occ_watch_host *h);

/* "idle", "pending", "running", "backoff", "stalled". */
const char *occ_watch_phase_name(enum occ_watch_phase p);

/* Reasons as words joined by ", ": "file changed, drift". */
void occ_watch_reasons_str(char *buf, size_t n, unsigned reasons);

/* Whether a container event's action means the container may no longer be
 * what the state file says ("die", "stop", "kill", "destroy", "start",
 * "pause", "oom", "rename", "health_status: unhealthy" ...), as opposed to
 * noise (exec_*, attach, top, "health_status: healthy" ...). */
bool occ_watch_action_is_drift(const char *action);

/* attempt 0, 1, 2 ... -> min, 2*min, 4*min ... capped at max. */
uint64_t occ_watch_backoff_delay(unsigned attempt, uint64_t min_ms, uint64_t max_ms);

/*
 * A trailing debounce for bursts of file notifications: poke on each one;
 * it fires delay_ms after the last poke, or max_ms after the first.
 */
struct occ_watch_debounce {
	uint64_t delay_ms, max_ms;
	bool armed;
	uint64_t first, due;
};

void occ_watch_debounce_init(struct occ_watch_debounce *d, uint64_t delay_ms, uint64_t max_ms);
void occ_watch_debounce_poke(struct occ_watch_debounce *d, uint64_t now);
/* true (and disarmed) when due; else *deadline is when (OCC_WATCH_NEVER when
 * not armed). */
bool occ_watch_debounce_fire(struct occ_watch_debounce *d, uint64_t now, uint64_t *deadline);

/*
 * The status file `occ watch` keeps for `occ status` and scripts:
 * $XDG_DATA_HOME/opencode-cloud/watch/<project>.json (occ_watch_status_path),
 * replaced atomically (temp + rename) whenever a host changes phase or a run
 * ends, and removed when the watcher exits cleanly; a file whose pid is not
 * alive was left by a watcher that crashed. One JSON object:
 *
 *   format_version  1
 *   pid             the watcher's process id
 *   project         the project name
 *   state_file      the state file it watches
 *   started, updated   ISO-8601 UTC times
 *   state_hash      SHA-256 over the state file and every file it references
 *   config_error    null, or {message, file, line, col}: the last edit that
 *                   failed to load (the previous state stays in force)
 *   hosts           array of {name, state ("idle", "pending", "running",
 *                   "backoff", "stalled"), last_result ("none", "ok",
 *                   "failed"), last_error (string or null), last_changes,
 *                   last_run, last_ok, next_run (ISO-8601 or null),
 *                   backoff_ms, stalled, runs, failures, repairs,
 *                   drift (actions a check-only run found: watch.self_heal
 *                   off), heal_paused_until (ISO-8601 while the self-heal
 *                   rate limit holds repairs back, else null), events
 *                   ("none", "connecting", "connected", "disconnected",
 *                   "unsupported")}
 *
 * The watcher also holds an flock on <same directory>/<project>.lock for its
 * whole life, so a second `occ watch` of the same project refuses to start.
 */
char *occ_watch_status_path(const char *project); /* caller frees */
char *occ_watch_lock_dir(void);                   /* caller frees */

#endif
