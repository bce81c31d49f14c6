/*
 * test-watch.c - the pure core of `occ watch` (reconciler/watch.c) without a
 * loop, a clock or threads: scripted scenarios of events, decisions and
 * results at injected times; plus the Docker event-line parser and filters
 * (drivers/docker/translate.c).
 *
 * A scenario is a list of steps. EV feeds an event, RUN expects next() to
 * start a run (with exactly these reasons), WAIT expects it not to, with this
 * deadline, OK/ERR end the run, PHASE checks the phase. Notes returned by EV,
 * OK and ERR are checked when the step gives them (NOTES_ANY skips).
 * Jitter is 0 in scenarios; it has its own test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/docker/docker-int.h"
#include "reconciler/watch.h"

#define NEVER OCC_WATCH_NEVER
#define NOTES_ANY 0xffffffffu
#define MAX_STEPS 40

enum op { OP_END = 0, OP_EV, OP_RUN, OP_WAIT, OP_OK, OP_ERR, OP_PHASE, OP_APPLY };

struct step {
	enum op op;
	uint64_t t;
	int arg;              /* EV: event; RUN: reasons; PHASE: phase; APPLY: bool */
	uint64_t deadline;    /* WAIT */
	const char *msg;      /* ERR */
	const char *hash;     /* ERR */
	size_t changes;       /* OK, ERR */
	unsigned notes;       /* EV, OK, ERR; NOTES_ANY: not checked */
};

#define EV(t, e, n)      { OP_EV, (t), OCC_WATCH_EV_##e, 0, NULL, NULL, 0, (n) }
#define RUN(t, r)        { OP_RUN, (t), (int)(r), 0, NULL, NULL, 0, NOTES_ANY }
#define WAIT(t, d)       { OP_WAIT, (t), 0, (d), NULL, NULL, 0, NOTES_ANY }
#define OK(t, c, n)      { OP_OK, (t), 0, 0, NULL, NULL, (c), (n) }
#define ERR(t, m, h, n)  { OP_ERR, (t), 0, 0, (m), (h), 0, (n) }
#define PHASE(t, p)      { OP_PHASE, (t), OCC_WATCH_##p, 0, NULL, NULL, 0, NOTES_ANY }
#define APPLY(b)         { OP_APPLY, 0, (b), 0, NULL, NULL, 0, NOTES_ANY }

#define R(x) OCC_WATCH_R_##x
#define N(x) OCC_WATCH_NOTE_##x

struct scenario {
	const char *name;
	uint64_t resync_ms;
	bool self_heal;
	unsigned stall_after;   /* 0: the default */
	unsigned heal_max;      /* 0: the default */
	uint64_t backoff_max;   /* 0: the default */
	struct step steps[MAX_STEPS];
};

static const struct scenario scenarios[] = {
	{ "start runs at once, then waits for the resync", 60000, true, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), PHASE(0, RUNNING), WAIT(1, NEVER),
		OK(100, 2, 0), PHASE(100, IDLE), WAIT(100, 60100), RUN(60100, R(RESYNC)),
	} },
	{ "drift is debounced: the last event of a burst counts", 0, true, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(10, 0, 0),
		EV(1000, DRIFT, 0), WAIT(1000, 1150), EV(1100, DRIFT, 0), WAIT(1100, 1250),
		WAIT(1249, 1250), RUN(1250, R(DRIFT)), OK(1300, 1, 0), WAIT(1300, NEVER),
	} },
	{ "a long burst runs debounce_max after its first event", 0, true, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(10, 0, 0),
		EV(1000, DRIFT, 0), EV(1140, DRIFT, 0), EV(1280, DRIFT, 0), EV(1420, DRIFT, 0),
		EV(1560, DRIFT, 0), EV(1700, DRIFT, 0), EV(1840, DRIFT, 0), EV(1980, DRIFT, 0),
		WAIT(1980, 2000), RUN(2000, R(DRIFT)),
	} },
	{ "events during a run collapse into exactly one follow-up", 0, true, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)),
		EV(10, DRIFT, 0), EV(20, DRIFT, 0), EV(30, FILE, 0), EV(40, RECONNECT, 0),
		EV(50, DRIFT, 0), WAIT(60, NEVER),
		OK(100, 1, N(FOLLOW_UP)), RUN(100, R(FILE) | R(DRIFT) | R(RECONNECT)),
		OK(200, 0, 0), WAIT(200, NEVER),
	} },
	{ "drift during a run: the follow-up is debounced", 0, true, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), EV(10, DRIFT, 0),
		OK(100, 1, N(FOLLOW_UP)), WAIT(100, 250), RUN(250, R(DRIFT)),
	} },
	{ "failures back off, doubling up to the cap", 0, true, 100, 0, 20000, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "boom", "h", 0), PHASE(0, BACKOFF),
		WAIT(1, 5000), RUN(5000, R(RETRY)), ERR(5000, "boom", "h", 0),
		WAIT(5000, 15000), RUN(15000, R(RETRY)), ERR(15000, "boom", "h", 0),
		WAIT(15000, 35000), RUN(35000, R(RETRY)), ERR(35000, "boom", "h", 0),
		WAIT(35000, 55000), RUN(55000, R(RETRY)), ERR(55000, "boom", "h", 0),
		WAIT(55000, 75000),
	} },
	{ "success resets the backoff", 0, true, 100, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "a", "h", 0),
		RUN(5000, R(RETRY)), ERR(5000, "a", "h", 0), RUN(15000, R(RETRY)),
		OK(15000, 1, N(RECOVERED)), PHASE(15000, IDLE),
		EV(20000, FILE, 0), RUN(20000, R(FILE)), ERR(20000, "a", "h", 0), WAIT(20000, 25000),
	} },
	{ "identical failures for the same state stall the host", 0, true, 3, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "port taken", "h1", 0),
		RUN(5000, R(RETRY)), ERR(5000, "port taken", "h1", 0),
		RUN(15000, R(RETRY)), ERR(15000, "port taken", "h1", N(STALLED)),
		PHASE(15000, STALLED), WAIT(16000, NEVER), WAIT(999999, NEVER),
		EV(1000000, FILE, N(UNSTALLED)), PHASE(1000000, PENDING),
		RUN(1000000, R(FILE)), ERR(1000000, "port taken", "h2", 0), PHASE(1000000, BACKOFF),
	} },
	{ "a different message is not the same failure", 0, true, 3, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "a", "h", 0),
		RUN(5000, R(RETRY)), ERR(5000, "b", "h", 0),
		RUN(15000, R(RETRY)), ERR(15000, "a", "h", 0), PHASE(15000, BACKOFF),
		RUN(35000, R(RETRY)), ERR(35000, "a", "h", 0),
		RUN(75000, R(RETRY)), ERR(75000, "a", "h", N(STALLED)),
	} },
	{ "a different state hash is not the same failure", 0, true, 3, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "a", "h1", 0),
		RUN(5000, R(RETRY)), ERR(5000, "a", "h2", 0),
		RUN(15000, R(RETRY)), ERR(15000, "a", "h1", 0), PHASE(15000, BACKOFF),
	} },
	{ "a failure that changes unstalls", 0, true, 2, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "a", "h", 0),
		RUN(5000, R(RETRY)), ERR(5000, "a", "h", N(STALLED)),
		EV(6000, DRIFT, 0), WAIT(6000, 15000), RUN(15000, R(DRIFT)),
		ERR(15000, "b", "h", N(UNSTALLED)), PHASE(15000, BACKOFF), WAIT(15000, 35000),
	} },
	{ "drift never brings a retry forward", 0, true, 100, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "x", "h", 0),
		EV(100, DRIFT, 0), WAIT(100, 5000), EV(4000, DRIFT, 0), WAIT(4000, 5000),
		RUN(5000, R(RETRY) | R(DRIFT)),
	} },
	{ "a new state file brings a retry forward", 0, true, 100, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "x", "h", 0),
		EV(100, FILE, 0), RUN(100, R(RETRY) | R(FILE)),
	} },
	{ "a reconnect brings a retry forward (debounced)", 0, true, 100, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "daemon down", "h", 0),
		EV(1000, RECONNECT, 0), WAIT(1000, 1150), RUN(1150, R(RETRY) | R(RECONNECT)),
	} },
	{ "SIGHUP clears backoff and stall", 0, true, 2, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "a", "h", 0),
		RUN(5000, R(RETRY)), ERR(5000, "a", "h", N(STALLED)),
		EV(6000, MANUAL, N(UNSTALLED)), RUN(6000, R(MANUAL)), ERR(6000, "a", "h", 0),
		WAIT(6000, 11000),
	} },
	{ "self_heal off: drift is ignored, reconnect only checks", 0, false, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), APPLY(true), OK(10, 0, 0),
		EV(100, DRIFT, N(IGNORED)), WAIT(100, NEVER), WAIT(5000, NEVER),
		EV(6000, RECONNECT, 0), RUN(6150, R(RECONNECT)), APPLY(false),
		EV(6200, DRIFT, N(IGNORED)), OK(6300, 0, 0), WAIT(6300, NEVER),
	} },
	{ "self_heal off: a resync only checks, a file change applies", 10000, false, 0, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(0, 0, 0),
		RUN(10000, R(RESYNC)), APPLY(false), OK(10000, 0, 0),
		EV(12000, FILE, 0), RUN(12000, R(FILE)), APPLY(true),
	} },
	{ "self-heal rate limit, then a doubling back-off", 0, true, 0, 2, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(0, 1, 0),
		EV(1000, DRIFT, 0), RUN(1150, R(DRIFT)), OK(1200, 1, 0),
		EV(2000, DRIFT, 0), RUN(2150, R(DRIFT)), OK(2200, 1, 0),
		EV(3000, DRIFT, N(RATE_LIMITED)), WAIT(3000, 63000), EV(4000, DRIFT, 0),
		WAIT(4000, 63000), RUN(63000, R(DRIFT)), OK(63000, 1, 0),
		EV(64000, DRIFT, 0), RUN(64150, R(DRIFT)), OK(64200, 1, 0),
		EV(65000, DRIFT, N(RATE_LIMITED)), WAIT(65000, 185000),
	} },
	{ "runs for a new state never count as repairs", 0, true, 0, 2, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(0, 3, 0),
		EV(100, FILE, 0), RUN(100, R(FILE)), OK(100, 3, 0),
		EV(200, FILE, 0), RUN(200, R(FILE)), OK(200, 3, 0),
		EV(300, DRIFT, 0), RUN(450, R(DRIFT)), OK(450, 1, 0),
	} },
	{ "a rate-limited drift never delays a new state", 0, true, 0, 1, 0, {
		EV(0, START, 0), RUN(0, R(START)), OK(0, 0, 0),
		EV(1000, DRIFT, 0), RUN(1150, R(DRIFT)), OK(1200, 1, 0),
		EV(2000, DRIFT, N(RATE_LIMITED)), WAIT(2000, 62000),
		EV(3000, FILE, 0), RUN(3000, R(DRIFT) | R(FILE)),
	} },
	{ "a failing host resyncs no earlier than its retry", 1000, true, 100, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "x", "h", 0), WAIT(10, 5000),
		RUN(5000, R(RETRY) | R(RESYNC)),
	} },
	{ "a stalled host still resyncs", 10000, true, 1, 0, 0, {
		EV(0, START, 0), RUN(0, R(START)), ERR(0, "x", "h", N(STALLED)),
		WAIT(1, 10000), RUN(10000, R(RESYNC)), OK(10100, 0, N(RECOVERED) | N(UNSTALLED)),
		PHASE(10100, IDLE),
	} },
};

static void check_step(const struct scenario *sc, struct occ_watch_host *h, int i,
		       const struct step *s, struct occ_watch_run *run)
{
	uint64_t deadline = 0;
	unsigned notes = NOTES_ANY;
	bool started;

	switch (s->op) {
	case OP_EV:
		notes = occ_watch_host_on_event(h, s->t, (enum occ_watch_event)s->arg);
		break;
	case OP_RUN:
	case OP_WAIT:
		started = occ_watch_host_next(h, s->t, &deadline, run);
		ck_assert_msg(started == (s->op == OP_RUN), "%s: step %d at %llu: %s", sc->name,
			      i, (unsigned long long)s->t,
			      started ? "a run started" : "no run started");
		if (s->op == OP_RUN)
			ck_assert_msg(run->reasons == (unsigned)s->arg,
				      "%s: step %d: reasons %#x, want %#x", sc->name, i,
				      run->reasons, (unsigned)s->arg);
		else
			ck_assert_msg(deadline == s->deadline, "%s: step %d: deadline %llu, want %llu",
				      sc->name, i, (unsigned long long)deadline,
				      (unsigned long long)s->deadline);
		return;
	case OP_OK:
		notes = occ_watch_host_done(h, s->t, 0, NULL, "h", s->changes);
		break;
	case OP_ERR:
		notes = occ_watch_host_done(h, s->t, OCC_EGENERIC, s->msg, s->hash, s->changes);
		break;
	case OP_PHASE:
		ck_assert_msg(occ_watch_host_phase(h) == (enum occ_watch_phase)s->arg,
			      "%s: step %d: phase %s, want %s", sc->name, i,
			      occ_watch_phase_name(occ_watch_host_phase(h)),
			      occ_watch_phase_name((enum occ_watch_phase)s->arg));
		return;
	case OP_APPLY:
		ck_assert_msg(run->apply == (s->arg != 0), "%s: step %d: apply %d", sc->name, i,
			      run->apply);
		return;
	default:
		return;
	}
	if (s->notes != NOTES_ANY)
		ck_assert_msg(notes == s->notes, "%s: step %d: notes %#x, want %#x", sc->name, i,
			      notes, s->notes);
}

START_TEST(test_scenario)
{
	const struct scenario *sc = &scenarios[_i];
	struct occ_watch_config cfg;
	struct occ_watch_host h;
	struct occ_watch_run run = { 0 };

	occ_watch_config_init(&cfg, NULL);
	cfg.resync_ms = sc->resync_ms;
	cfg.self_heal = sc->self_heal;
	cfg.jitter_pct = 0;
	if (sc->stall_after)
		cfg.stall_after = sc->stall_after;
	if (sc->heal_max)
		cfg.heal_max = sc->heal_max;
	if (sc->backoff_max)
		cfg.backoff_max_ms = sc->backoff_max;
	occ_watch_host_init(&h, &cfg, 1, 0);
	for (int i = 0; i < MAX_STEPS && sc->steps[i].op != OP_END; i++)
		check_step(sc, &h, i, &sc->steps[i], &run);
}
END_TEST

/* Resyncs spread over +-10 %, cover both sides, and repeat per seed. */
START_TEST(test_resync_jitter)
{
	struct occ_watch_config cfg;
	uint64_t lo = NEVER, hi = 0;

	occ_watch_config_init(&cfg, NULL);
	for (uint64_t seed = 1; seed <= 2000; seed++) {
		struct occ_watch_host a, b;
		uint64_t at;

		occ_watch_host_init(&a, &cfg, seed, 1000);
		occ_watch_host_init(&b, &cfg, seed, 1000);
		at = occ_watch_host_next_at(&a);
		ck_assert_uint_eq(at, occ_watch_host_next_at(&b));
		ck_assert_uint_ge(at, 1000 + 270000);
		ck_assert_uint_le(at, 1000 + 330000);
		lo = at < lo ? at : lo;
		hi = at > hi ? at : hi;
	}
	ck_assert_uint_lt(lo, 1000 + 276000);
	ck_assert_uint_gt(hi, 1000 + 324000);
}
END_TEST

START_TEST(test_resync_period_change)
{
	struct occ_watch_config cfg;
	struct occ_watch_host h;

	occ_watch_config_init(&cfg, NULL);
	cfg.jitter_pct = 0;
	occ_watch_host_init(&h, &cfg, 7, 0);
	ck_assert_uint_eq(occ_watch_host_next_at(&h), 300000);
	cfg.resync_ms = 60000;
	occ_watch_host_set_config(&h, &cfg, 1000);
	ck_assert_uint_eq(occ_watch_host_next_at(&h), 61000);
	cfg.resync_ms = 0;
	occ_watch_host_set_config(&h, &cfg, 2000);
	ck_assert_uint_eq(occ_watch_host_next_at(&h), NEVER);
}
END_TEST

START_TEST(test_config_from_state)
{
	struct occ_watch w = { .resync_ms = 30000, .self_heal = false };
	struct occ_watch_config cfg;

	occ_watch_config_init(&cfg, &w);
	ck_assert_uint_eq(cfg.resync_ms, 30000);
	ck_assert(!cfg.self_heal);
	ck_assert_uint_eq(cfg.debounce_ms, 150);
	ck_assert_uint_eq(cfg.backoff_min_ms, 5000);
	ck_assert_uint_eq(cfg.backoff_max_ms, 300000);
	occ_watch_config_init(&cfg, NULL);
	ck_assert_uint_eq(cfg.resync_ms, 300000);
	ck_assert(cfg.self_heal);
}
END_TEST

/* done() without a run in progress is ignored; bad event kinds too. */
START_TEST(test_misuse_is_harmless)
{
	struct occ_watch_config cfg;
	struct occ_watch_host h;
	struct occ_watch_run run;
	uint64_t deadline;

	occ_watch_config_init(&cfg, NULL);
	cfg.resync_ms = 0;
	occ_watch_host_init(&h, &cfg, 1, 0);
	ck_assert_uint_eq(occ_watch_host_done(&h, 5, OCC_EGENERIC, "x", "h", 0), 0);
	ck_assert_uint_eq(h.failures, 0);
	ck_assert_uint_eq(occ_watch_host_on_event(&h, 5, (enum occ_watch_event)99), 0);
	ck_assert(!occ_watch_host_next(&h, 10, &deadline, &run));
	ck_assert_uint_eq(deadline, NEVER);
}
END_TEST

static const struct { const char *action; bool drift; } drift_table[] = {
	{ "die", true }, { "stop", true }, { "kill", true }, { "destroy", true },
	{ "start", true }, { "oom", true }, { "pause", true }, { "rename", true },
	{ "health_status: unhealthy", true }, { "health_status: healthy", false },
	{ "exec_create: sh -c id", false }, { "exec_start: sh -c id", false },
	{ "exec_die", false }, { "attach", false }, { "create", false }, { "top", false },
	{ "resize", false }, { "", false }, { "DIE", false },
};

START_TEST(test_action_is_drift)
{
	ck_assert_msg(occ_watch_action_is_drift(drift_table[_i].action) == drift_table[_i].drift,
		      "'%s'", drift_table[_i].action);
	ck_assert(!occ_watch_action_is_drift(NULL));
}
END_TEST

START_TEST(test_backoff_delay)
{
	static const struct { unsigned attempt; uint64_t want; } t[] = {
		{ 0, 1000 }, { 1, 2000 }, { 2, 4000 }, { 4, 16000 }, { 5, 30000 }, { 60, 30000 },
		{ 4000000000u, 30000 },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(t); i++)
		ck_assert_uint_eq(occ_watch_backoff_delay(t[i].attempt, 1000, 30000), t[i].want);
	ck_assert_uint_eq(occ_watch_backoff_delay(70, 5000, NEVER), NEVER);
}
END_TEST

START_TEST(test_file_debounce)
{
	struct occ_watch_debounce d;
	uint64_t deadline;

	occ_watch_debounce_init(&d, 150, 1000);
	ck_assert(!occ_watch_debounce_fire(&d, 0, &deadline));
	ck_assert_uint_eq(deadline, NEVER);
	occ_watch_debounce_poke(&d, 100);
	ck_assert(!occ_watch_debounce_fire(&d, 200, &deadline));
	ck_assert_uint_eq(deadline, 250);
	occ_watch_debounce_poke(&d, 200);
	ck_assert(!occ_watch_debounce_fire(&d, 250, &deadline));
	ck_assert_uint_eq(deadline, 350);
	ck_assert(occ_watch_debounce_fire(&d, 350, &deadline));
	ck_assert(!occ_watch_debounce_fire(&d, 360, &deadline));
	/* a stream of pokes fires max_ms after the first */
	for (uint64_t t = 1000; t < 2200; t += 100)
		occ_watch_debounce_poke(&d, t);
	ck_assert(!occ_watch_debounce_fire(&d, 1999, &deadline));
	ck_assert_uint_eq(deadline, 2000);
	ck_assert(occ_watch_debounce_fire(&d, 2100, &deadline));
}
END_TEST

START_TEST(test_names)
{
	char buf[64];

	ck_assert_str_eq(occ_watch_phase_name(OCC_WATCH_STALLED), "stalled");
	ck_assert_str_eq(occ_watch_phase_name((enum occ_watch_phase)42), "unknown");
	occ_watch_reasons_str(buf, sizeof(buf), R(DRIFT) | R(FILE));
	ck_assert_str_eq(buf, "state changed, drift");
	occ_watch_reasons_str(buf, 8, R(DRIFT) | R(FILE) | R(RETRY));
	ck_assert_str_eq(buf, "state c");  /* truncated, as snprintf does */
	occ_watch_reasons_str(buf, sizeof(buf), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- the Docker event line parser ---------------------------------------- */

static const char kill_line[] =
	"{\"status\":\"kill\",\"id\":\"72c8356\",\"from\":\"occ-perf:1\",\"Type\":\"container\","
	"\"Action\":\"kill\",\"Actor\":{\"ID\":\"72c835666e6ae0a7\",\"Attributes\":{\"image\":"
	"\"occ-perf:1\",\"name\":\"evtest\",\"signal\":\"9\"}},\"scope\":\"local\","
	"\"time\":1795482911,\"timeNano\":1795482911598552009}";

static const struct {
	const char *line;
	int ret;
	enum occ_event_kind kind;
	const char *action, *id, *name;
	int exit_code;
	int64_t time_ns;
} event_table[] = {
	{ kill_line, 0, OCC_EVENT_CONTAINER, "kill", "72c835666e6ae0a7", "evtest", -1,
	  1795482911598552009LL },
	{ "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"ab\",\"Attributes\":"
	  "{\"exitCode\":\"137\",\"name\":\"p\"}},\"time\":5}", 0, OCC_EVENT_CONTAINER, "die",
	  "ab", "p", 137, 5000000000LL },
	{ "{\"status\":\"stop\",\"id\":\"old\",\"from\":\"img\",\"time\":7}", 0,
	  OCC_EVENT_CONTAINER, "stop", "old", "", -1, 7000000000LL },
	{ "{\"Type\":\"image\",\"Action\":\"pull\",\"Actor\":{\"ID\":\"busybox\"}}", 0,
	  OCC_EVENT_OTHER, "pull", "busybox", "", -1, 0 },
	{ "{\"Type\":\"container\",\"Action\":\"health_status: unhealthy\",\"Actor\":{\"ID\":"
	  "\"x\",\"Attributes\":{\"exitCode\":\"oops\",\"name\":null}},\"time\":-3}", 0,
	  OCC_EVENT_CONTAINER, "health_status: unhealthy", "x", "", -1, 0 },
	{ "{\"Type\":\"container\",\"Actor\":{\"ID\":\"x\"}}", OCC_EAPI, 0, NULL, NULL, NULL, 0, 0 },
	{ "[1,2]", OCC_EAPI, 0, NULL, NULL, NULL, 0, 0 },
	{ "{\"Action\":", OCC_EAPI, 0, NULL, NULL, NULL, 0, 0 },
	{ "", OCC_EAPI, 0, NULL, NULL, NULL, 0, 0 },
};

START_TEST(test_parse_event)
{
	struct occ_event e = { .exit_code = 99 };
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ret = occ_docker__parse_event(&e, event_table[_i].line, strlen(event_table[_i].line), &err);
	ck_assert_int_eq(ret, event_table[_i].ret);
	if (ret) {
		ck_assert_int_eq(e.exit_code, 99);  /* untouched */
		ck_assert(err.msg[0]);
		return;
	}
	ck_assert_int_eq(e.kind, event_table[_i].kind);
	ck_assert_str_eq(e.action, event_table[_i].action);
	ck_assert_str_eq(e.id, event_table[_i].id);
	ck_assert_str_eq(e.name, event_table[_i].name);
	ck_assert_int_eq(e.exit_code, event_table[_i].exit_code);
	ck_assert(e.time_ns == event_table[_i].time_ns);
}
END_TEST

START_TEST(test_parse_event_truncates)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_event e;
	struct occ_error err;

	occ_strbuf_init(&sb);
	occ_strbuf_adds(&sb, "{\"Type\":\"container-with-a-very-long-type\",\"Action\":\"");
	for (int i = 0; i < 300; i++)
		occ_strbuf_addc(&sb, 'a');
	occ_strbuf_adds(&sb, "\",\"Actor\":{\"ID\":\"");
	for (int i = 0; i < 300; i++)
		occ_strbuf_addc(&sb, 'f');
	occ_strbuf_adds(&sb, "\",\"Attributes\":{\"name\":\"");
	for (int i = 0; i < 300; i++)
		occ_strbuf_addc(&sb, 'n');
	occ_strbuf_adds(&sb, "\"}}}");
	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__parse_event(&e, sb.buf, sb.len, &err), 0);
	ck_assert_uint_eq(strlen(e.action), sizeof(e.action) - 1);
	ck_assert_uint_eq(strlen(e.id), sizeof(e.id) - 1);
	ck_assert_uint_eq(strlen(e.name), sizeof(e.name) - 1);
	ck_assert_uint_eq(strlen(e.type), sizeof(e.type) - 1);
	ck_assert_int_eq(e.kind, OCC_EVENT_OTHER);
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_events_filters)
{
	char *f = occ_docker__events_filters("my-proj");

	ck_assert_str_eq(f, "{\"label\":[\"dev.opencode-cloud.project=my-proj\"],"
			    "\"type\":[\"container\"]}");
	free(f);
}
END_TEST

START_TEST(test_status_path)
{
	char *p;

	setenv("XDG_DATA_HOME", "/tmp/occ-xdg", 1);
	p = occ_watch_status_path("proj");
	ck_assert_str_eq(p, "/tmp/occ-xdg/opencode-cloud/watch/proj.json");
	free(p);
	p = occ_watch_lock_dir();
	ck_assert_str_eq(p, "/tmp/occ-xdg/opencode-cloud/watch");
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("machine");
	TCase *te = tcase_create("events");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_scenario, 0, (int)OCC_ARRAY_SIZE(scenarios));
	tcase_add_test(tc, test_resync_jitter);
	tcase_add_test(tc, test_resync_period_change);
	tcase_add_test(tc, test_config_from_state);
	tcase_add_test(tc, test_misuse_is_harmless);
	tcase_add_loop_test(tc, test_action_is_drift, 0, (int)OCC_ARRAY_SIZE(drift_table));
	tcase_add_test(tc, test_backoff_delay);
	tcase_add_test(tc, test_file_debounce);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_status_path);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(te, test_parse_event, 0, (int)OCC_ARRAY_SIZE(event_table));
	tcase_add_test(te, test_parse_event_truncates);
	tcase_add_test(te, test_events_filters);
	suite_add_tcase(s, te);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
