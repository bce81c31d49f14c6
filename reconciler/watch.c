/*
 * watch.c - see watch.h.
 *
 * A host holds at most one pending run (due, reasons, apply) and at most one
 * run in progress; everything that happens merges into the pending one, so
 * any number of events costs one run. A failed run leaves a pending RETRY at
 * retry_at (none when stalled). The jitter RNG is splitmix64: tiny, seedable
 * and good enough to spread resyncs.
 */
#include "reconciler/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

#define HEAL_REASONS (OCC_WATCH_R_DRIFT | OCC_WATCH_R_RECONNECT | OCC_WATCH_R_RESYNC | \
		      OCC_WATCH_R_RETRY)
#define DEBOUNCED (OCC_WATCH_R_DRIFT | OCC_WATCH_R_RECONNECT)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > OCC_WATCH_NEVER - b ? OCC_WATCH_NEVER : a + b;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void occ_watch_config_init(struct occ_watch_config *cfg, const struct occ_watch *w)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->debounce_ms = OCC_WATCH_DEBOUNCE_MS;
	cfg->debounce_max_ms = OCC_WATCH_DEBOUNCE_MAX_MS;
	cfg->backoff_min_ms = OCC_WATCH_BACKOFF_MIN_MS;
	cfg->backoff_max_ms = OCC_WATCH_BACKOFF_MAX_MS;
	cfg->resync_ms = w ? w->resync_ms : 5 * 60 * 1000;
	cfg->jitter_pct = OCC_WATCH_JITTER_PCT;
	cfg->stall_after = OCC_WATCH_STALL_AFTER;
	cfg->self_heal = w ? w->self_heal : true;
	cfg->heal_max = OCC_WATCH_HEAL_MAX;
	cfg->heal_window_ms = OCC_WATCH_HEAL_WINDOW_MS;
}

/* Clamp what would break the arithmetic; the defaults never need it. */
static void config_sanitise(struct occ_watch_config *cfg)
{
	if (cfg->jitter_pct > 50)
		cfg->jitter_pct = 50;
	if (cfg->stall_after < 1)
		cfg->stall_after = 1;
	if (cfg->heal_max < 1)
		cfg->heal_max = 1;
	if (cfg->heal_max > OCC_WATCH_HEAL_CAP)
		cfg->heal_max = OCC_WATCH_HEAL_CAP;
	if (cfg->backoff_min_ms < 1)
		cfg->backoff_min_ms = 1;
	if (cfg->backoff_max_ms < cfg->backoff_min_ms)
		cfg->backoff_max_ms = cfg->backoff_min_ms;
	if (cfg->debounce_max_ms < cfg->debounce_ms)
		cfg->debounce_max_ms = cfg->debounce_ms;
}

/* resync_ms +- jitter_pct, uniformly. */
static uint64_t resync_deadline(struct occ_watch_host *h, uint64_t now)
{
	uint64_t period = h->cfg.resync_ms, span, offset;

	if (period == 0)
		return OCC_WATCH_NEVER;
	span = period / 100 * h->cfg.jitter_pct + period % 100 * h->cfg.jitter_pct / 100;
	offset = span ? splitmix64(&h->rng) % (2 * span + 1) : 0;
	return add_sat(now, period - span + offset);
}

void occ_watch_host_init(struct occ_watch_host *h, const struct occ_watch_config *cfg,
			 uint64_t seed, uint64_t now)
{
	memset(h, 0, sizeof(*h));
	h->cfg = *cfg;
	config_sanitise(&h->cfg);
	h->rng = seed;
	h->retry_at = 0;
	h->resync_at = resync_deadline(h, now);
}

void occ_watch_host_set_config(struct occ_watch_host *h, const struct occ_watch_config *cfg,
			       uint64_t now)
{
	bool resync_changed = cfg->resync_ms != h->cfg.resync_ms;

	h->cfg = *cfg;
	config_sanitise(&h->cfg);
	if (resync_changed)
		h->resync_at = resync_deadline(h, now);
}

/*
 * Merge a run into the pending one; the earliest due wins. not_before is a
 * floor (backoff, heal limit) for this reason only: it never delays a run
 * that is already due for another reason. The exception is a burst: while
 * the pending run is only waiting out the debounce of earlier events, a
 * later event of the burst pushes it back (due is bounded by the burst's
 * first event + debounce_max_ms, see debounced()).
 */
static void pending_add(struct occ_watch_host *h, uint64_t due, uint64_t not_before,
			unsigned reason, bool apply)
{
	due = max_u64(due, not_before);
	if (!h->pending) {
		h->pending = true;
		h->due = due;
		h->reasons = 0;
		h->apply = false;
	} else if ((reason & DEBOUNCED) && (h->reasons & ~DEBOUNCED) == 0) {
		h->due = max_u64(h->due, due);
	} else {
		h->due = min_u64(h->due, due);
	}
	h->reasons |= reason;
	h->apply |= apply;
}

/* Debounced due time: debounce after this event, bounded by the first. */
static uint64_t debounced(struct occ_watch_host *h, uint64_t now)
{
	if (!h->pending || h->first_event == 0 || now < h->first_event)
		h->first_event = now;
	return min_u64(add_sat(now, h->cfg.debounce_ms),
		       add_sat(h->first_event, h->cfg.debounce_max_ms));
}

/* Drift and reconnect wait for a failing host's retry time. */
static uint64_t failure_floor(const struct occ_watch_host *h)
{
	return h->failing ? h->retry_at : 0;
}

/* Whether the repairs in the ring fill the window ending at now. */
static bool heal_window_full(const struct occ_watch_host *h, uint64_t now)
{
	unsigned oldest;

	if (h->heal_n < h->cfg.heal_max)
		return false;
	oldest = (h->heal_next + OCC_WATCH_HEAL_CAP - h->cfg.heal_max) % OCC_WATCH_HEAL_CAP;
	return now - h->heal_times[oldest] < h->cfg.heal_window_ms;
}

static void heal_record(struct occ_watch_host *h, uint64_t now)
{
	h->heal_times[h->heal_next] = now;
	h->heal_next = (h->heal_next + 1) % OCC_WATCH_HEAL_CAP;
	if (h->heal_n < OCC_WATCH_HEAL_CAP)
		h->heal_n++;
	h->repairs++;
}

/* The earliest a drift repair may start; notes RATE_LIMITED on a new hit. */
static uint64_t heal_floor(struct occ_watch_host *h, uint64_t now, unsigned *notes)
{
	bool consecutive;

	if (h->heal_resume_at && now < h->heal_resume_at)
		return h->heal_resume_at;
	if (!heal_window_full(h, now))
		return 0;
	consecutive = h->heal_resume_at && now < add_sat(h->heal_resume_at, h->cfg.heal_window_ms);
	h->heal_backoff_ms = consecutive ? min_u64(h->heal_backoff_ms * 2, h->cfg.backoff_max_ms)
					 : h->cfg.heal_window_ms;
	h->heal_resume_at = add_sat(now, h->heal_backoff_ms);
	*notes |= OCC_WATCH_NOTE_RATE_LIMITED;
	return h->heal_resume_at;
}

static unsigned on_drift(struct occ_watch_host *h, uint64_t now)
{
	unsigned notes = 0;
	uint64_t floor;

	if (!h->cfg.self_heal)
		return OCC_WATCH_NOTE_IGNORED;
	floor = max_u64(failure_floor(h), heal_floor(h, now, &notes));
	pending_add(h, debounced(h, now), floor, OCC_WATCH_R_DRIFT, true);
	return notes;
}

/* A new desired state (or SIGHUP): earlier failures say nothing about the
 * next run, so backoff and stall start over. last_rc and last_err stay for
 * the status until that run ends. */
static void forget_failures(struct occ_watch_host *h, unsigned *notes)
{
	if (h->stalled)
		*notes |= OCC_WATCH_NOTE_UNSTALLED;
	h->stalled = false;
	h->failing = false;
	h->backoff_ms = 0;
	h->retry_at = 0;
	h->same_failures = 0;
	h->fail_hash[0] = '\0';
}

static unsigned apply_event(struct occ_watch_host *h, uint64_t now, enum occ_watch_event ev)
{
	unsigned notes = 0;

	switch (ev) {
	case OCC_WATCH_EV_START:
		pending_add(h, now, 0, OCC_WATCH_R_START, true);
		break;
	case OCC_WATCH_EV_FILE:
		forget_failures(h, &notes);
		pending_add(h, now, 0, OCC_WATCH_R_FILE, true);
		break;
	case OCC_WATCH_EV_MANUAL:
		forget_failures(h, &notes);
		pending_add(h, now, 0, OCC_WATCH_R_MANUAL, true);
		break;
	case OCC_WATCH_EV_DRIFT:
		notes |= on_drift(h, now);
		break;
	case OCC_WATCH_EV_RECONNECT:
		/* The host's daemon just answered again: evidence enough that a
		 * failing host may now succeed, so no backoff floor. Reconnects are
		 * themselves backed off by the events thread. */
		pending_add(h, debounced(h, now), 0, OCC_WATCH_R_RECONNECT, h->cfg.self_heal);
		break;
	default:
		break;
	}
	return notes;
}

unsigned occ_watch_host_on_event(struct occ_watch_host *h, uint64_t now,
				 enum occ_watch_event ev)
{
	if ((unsigned)ev >= OCC_WATCH_EV_COUNT)
		return 0;
	if (ev == OCC_WATCH_EV_DRIFT && !h->cfg.self_heal)
		return OCC_WATCH_NOTE_IGNORED;
	if (h->running) {
		h->follow_up |= 1u << ev;
		return 0;
	}
	return apply_event(h, now, ev);
}

static uint64_t resync_due(const struct occ_watch_host *h)
{
	if (h->resync_at == OCC_WATCH_NEVER)
		return OCC_WATCH_NEVER;
	return max_u64(h->resync_at, failure_floor(h));
}

uint64_t occ_watch_host_next_at(const struct occ_watch_host *h)
{
	if (h->running)
		return OCC_WATCH_NEVER;
	return h->pending ? min_u64(h->due, resync_due(h)) : resync_due(h);
}

bool occ_watch_host_next(struct occ_watch_host *h, uint64_t now, uint64_t *deadline,
			 struct occ_watch_run *run)
{
	*deadline = OCC_WATCH_NEVER;
	if (h->running)
		return false;
	if (now >= resync_due(h))
		pending_add(h, now, 0, OCC_WATCH_R_RESYNC, h->cfg.self_heal);
	if (!h->pending || now < h->due) {
		*deadline = occ_watch_host_next_at(h);
		return false;
	}
	h->pending = false;
	h->first_event = 0;
	h->running = true;
	h->run.reasons = h->reasons;
	h->run.apply = h->apply;
	h->last_start = now;
	h->runs++;
	*run = h->run;
	return true;
}

static bool same_failure(const struct occ_watch_host *h, const char *msg, const char *hash)
{
	char cut[OCC_WATCH_ERR_MAX];

	snprintf(cut, sizeof(cut), "%s", msg);
	return h->failing && strcmp(h->last_err, cut) == 0 && strcmp(h->fail_hash, hash) == 0;
}

static unsigned on_failure(struct occ_watch_host *h, uint64_t now, int rc, const char *msg,
			   const char *hash)
{
	unsigned notes = 0;

	h->failures++;
	if (same_failure(h, msg, hash)) {
		h->same_failures++;
	} else {
		if (h->stalled)
			notes |= OCC_WATCH_NOTE_UNSTALLED;
		h->stalled = false;
		h->same_failures = 1;
	}
	h->failing = true;
	h->last_rc = rc;
	snprintf(h->last_err, sizeof(h->last_err), "%s", msg);
	snprintf(h->fail_hash, sizeof(h->fail_hash), "%s", hash);
	h->backoff_ms = h->backoff_ms ? min_u64(h->backoff_ms * 2, h->cfg.backoff_max_ms)
				      : h->cfg.backoff_min_ms;
	h->retry_at = add_sat(now, h->backoff_ms);
	if (!h->stalled && h->same_failures >= h->cfg.stall_after) {
		h->stalled = true;
		notes |= OCC_WATCH_NOTE_STALLED;
	}
	if (!h->stalled)
		pending_add(h, h->retry_at, 0, OCC_WATCH_R_RETRY, h->run.apply);
	return notes;
}

static unsigned on_success(struct occ_watch_host *h, uint64_t now)
{
	unsigned notes = h->failing ? OCC_WATCH_NOTE_RECOVERED : 0;

	if (h->stalled)
		notes |= OCC_WATCH_NOTE_UNSTALLED;
	h->failing = false;
	h->stalled = false;
	h->same_failures = 0;
	h->backoff_ms = 0;
	h->retry_at = 0;
	h->last_rc = 0;
	h->last_err[0] = '\0';
	h->fail_hash[0] = '\0';
	h->last_ok = now;
	return notes;
}

/* Events seen during the run, replayed in a fixed order into one pending run. */
static unsigned replay_follow_up(struct occ_watch_host *h, uint64_t now)
{
	unsigned seen = h->follow_up, notes = 0;

	h->follow_up = 0;
	if (!seen)
		return 0;
	for (unsigned ev = 0; ev < OCC_WATCH_EV_COUNT; ev++)
		if (seen & (1u << ev))
			notes |= apply_event(h, now, (enum occ_watch_event)ev);
	return notes | OCC_WATCH_NOTE_FOLLOW_UP;
}

unsigned occ_watch_host_done(struct occ_watch_host *h, uint64_t now, int rc,
			     const char *err_msg, const char *state_hash, size_t changes)
{
	unsigned notes;

	if (!h->running)
		return 0;
	h->running = false;
	h->has_result = true;
	h->last_end = now;
	h->last_changes = changes;
	h->resync_at = resync_deadline(h, now);
	if (changes > 0 && (h->run.reasons & ~HEAL_REASONS) == 0)
		heal_record(h, now);
	if (rc)
		notes = on_failure(h, now, rc, err_msg ? err_msg : "(no message)",
				   state_hash ? state_hash : "");
	else
		notes = on_success(h, now);
	return notes | replay_follow_up(h, now);
}

enum occ_watch_phase occ_watch_host_phase(const struct occ_watch_host *h)
{
	if (h->running)
		return OCC_WATCH_RUNNING;
	if (h->stalled)
		return OCC_WATCH_STALLED;
	if (h->failing)
		return OCC_WATCH_BACKOFF;
	if (h->pending)
		return OCC_WATCH_PENDING;
	return OCC_WATCH_IDLE;
}

const char *occ_watch_phase_name(enum occ_watch_phase p)
{
	static const char *const names[] = {
		[OCC_WATCH_IDLE] = "idle", [OCC_WATCH_PENDING] = "pending",
		[OCC_WATCH_RUNNING] = "running", [OCC_WATCH_BACKOFF] = "backoff",
		[OCC_WATCH_STALLED] = "stalled",
	};

	return (unsigned)p < OCC_ARRAY_SIZE(names) ? names[p] : "unknown";
}

void occ_watch_reasons_str(char *buf, size_t n, unsigned reasons)
{
	static const struct { unsigned bit; const char *word; } words[] = {
		{ OCC_WATCH_R_START, "start" }, { OCC_WATCH_R_FILE, "state changed" },
		{ OCC_WATCH_R_MANUAL, "reload" }, { OCC_WATCH_R_DRIFT, "drift" },
		{ OCC_WATCH_R_RECONNECT, "events reconnected" },
		{ OCC_WATCH_R_RESYNC, "resync" }, { OCC_WATCH_R_RETRY, "retry" },
	};
	size_t len = 0;

	if (n == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < OCC_ARRAY_SIZE(words); i++) {
		int k;

		if (!(reasons & words[i].bit))
			continue;
		k = snprintf(buf + len, n - len, "%s%s", len ? ", " : "", words[i].word);
		if (k < 0 || (size_t)k >= n - len)
			return;
		len += (size_t)k;
	}
}

bool occ_watch_action_is_drift(const char *action)
{
	static const char *const drift[] = {
		"die", "stop", "kill", "destroy", "start", "restart", "pause", "unpause",
		"oom", "rename", "update", "health_status: unhealthy",
	};

	if (!action)
		return false;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(drift); i++)
		if (strcmp(action, drift[i]) == 0)
			return true;
	return false;
}

uint64_t occ_watch_backoff_delay(unsigned attempt, uint64_t min_ms, uint64_t max_ms)
{
	uint64_t d = min_ms;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;
	return min_u64(d, max_ms);
}

void occ_watch_debounce_init(struct occ_watch_debounce *d, uint64_t delay_ms, uint64_t max_ms)
{
	memset(d, 0, sizeof(*d));
	d->delay_ms = delay_ms;
	d->max_ms = max_u64(max_ms, delay_ms);
}

void occ_watch_debounce_poke(struct occ_watch_debounce *d, uint64_t now)
{
	if (!d->armed) {
		d->armed = true;
		d->first = now;
	}
	d->due = min_u64(add_sat(now, d->delay_ms), add_sat(d->first, d->max_ms));
}

bool occ_watch_debounce_fire(struct occ_watch_debounce *d, uint64_t now, uint64_t *deadline)
{
	*deadline = OCC_WATCH_NEVER;
	if (!d->armed)
		return false;
	if (now < d->due) {
		*deadline = d->due;
		return false;
	}
	d->armed = false;
	return true;
}

char *occ_watch_lock_dir(void)
{
	char *data = occ_data_dir();
	char *dir = occ_xasprintf("%s/watch", data);

	free(data);
	return dir;
}

char *occ_watch_status_path(const char *project)
{
	char *dir = occ_watch_lock_dir();
	char *path = occ_xasprintf("%s/%s.json", dir, project);

	free(dir);
	return path;
}
