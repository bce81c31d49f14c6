/*
 * cmd-watch.c - `occ watch`: keep every host converged to the state file.
 *
 * One libev loop in the main thread owns all state: the last good state
 * file, each host's state machine (reconciler/watch.h, which decides when to
 * run), the timers, the status file. This is the only file that sees
 * struct ev_loop. Around the loop:
 *
 *  - ev_stat watchers on the state file and every file it references. A
 *    notification only starts the settle timer; when it fires, files are
 *    hashed (SHA-256 of the content) and only a changed hash reloads. A file
 *    that fails to load is logged with file:line:col and the last good state
 *    stays in force. libev compares stat data at one-second resolution, so a
 *    same-size rewrite within the second of an earlier change raises no
 *    notification: after every change the files are hashed once more when
 *    the second has turned (the "racy" timer, as git does for racily clean
 *    index entries).
 *  - one worker thread per host runs a reconcile when told: project lock,
 *    observe, plan, apply, with a driver it opened itself (the Docker driver
 *    is not thread-safe; no driver is ever shared between threads).
 *  - one events thread per host follows Docker's event stream, also with a
 *    driver of its own, and posts what it sees. A stream that comes back
 *    (daemon restarted, SSH session re-established) resyncs the host.
 *  - a remote host's two drivers share its one SSH connection (drivers/
 *    conn.h), kept for the watcher's life and re-established by the SSH
 *    layer with its own backoff: a reconcile over it costs round trips,
 *    never a handshake.
 *
 * Threads reach the loop only through a mutex-guarded queue plus ev_async;
 * the loop reaches a worker through its job slot and condition variable.
 * Threads block every signal, so signals land in the loop.
 *
 * The project lock is taken per reconcile, so `occ apply` and the watcher
 * never interleave. Hosts of one watcher share it (a reference count) so
 * they stay concurrent: the lock keeps processes apart, not hosts.
 * SIGHUP reloads and runs every host, SIGUSR1 prints each host's state,
 * SIGTERM/SIGINT let running reconciles finish, then exit 0.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "drivers/conn.h"
#include "drivers/docker/docker.h"
#include "model/hash.h"
#include "reconciler/apply.h"
#include "reconciler/lock.h"
#include "reconciler/watch.h"

#define RACY_RECHECK_MS    1100
#define HASH_MAX_BYTES     (16u << 20)  /* larger files: stat data stands in */
#define EVENTS_RETRY_MIN   1000
#define EVENTS_RETRY_MAX   30000
#define LOCK_POLL_MS       1000
#define REMOVAL_WAIT_MS    5000

struct watch;

enum events_state { EVS_NONE = 0, EVS_CONNECTING, EVS_CONNECTED, EVS_DOWN };

/* A reconcile handed to a worker; the worker owns it. */
struct job {
	struct occ_state *eff;
	struct occ_watch_run run;
	char state_hash[OCC_HASH_HEX_LEN + 1];
};

struct host {
	struct watch *w;
	char *name;
	char *address;            /* NULL: this machine */
	struct occ_host cfg;      /* how to reach it: name, address, user, port, identity, socket */
	struct occ_state *eff;    /* the effective state for this host */
	struct occ_watch_host sm;
	enum events_state evs;
	size_t last_drift;        /* drift a check-only run found */
	bool awaiting_events;     /* the first run waits for the event stream */
	bool retired;             /* left the state file: stopping */
	int live;                 /* threads that have not yet exited */
	pthread_t worker, events;
	bool has_worker, has_events;
	struct occ_state *ev_state; /* the events thread's copy (project name) */

	/* The host's one connection (for a remote host: one SSH session shared
	 * by the worker's and the events thread's drivers), opened by whichever
	 * thread needs it first, closed after both have exited. */
	pthread_mutex_t conn_mu;
	struct occ_conn *conn;
	struct occ_trace_sink ssh_trace;

	/* shared with the threads, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *job;
	volatile int stop;
};

enum msg_kind { MSG_DONE, MSG_EVENT, MSG_SUBSCRIBED, MSG_STREAM_LOST, MSG_EXITED };

struct msg {
	enum msg_kind kind;
	struct host *h;
	struct msg *next;
	int rc;
	struct occ_error err;
	size_t changes, drift;
	uint64_t elapsed_ms, retry_ms;
	char state_hash[OCC_HASH_HEX_LEN + 1]; /* DONE: the state the run used */
	struct occ_event ev;
};

struct wfile {
	struct watch *w;
	ev_stat st;
	char *path;
	char *role;
	char hash[OCC_HASH_HEX_LEN + 1];  /* last content seen; "" = absent */
};

struct watch {
	struct occ_cli *cli;
	struct ev_loop *loop;
	bool once, stopping;
	int exit_code;
	char *state_path;
	char *project;
	struct occ_state *state;  /* last good */
	char state_hash[OCC_HASH_HEX_LEN + 1];
	struct occ_error config_err; /* code 0: the last load succeeded */
	char *journal;
	char *status_path;
	char started[40];
	struct occ_lock *instance;   /* one watcher per project */

	struct wfile **files;
	size_t n_files;
	struct occ_watch_debounce settle_db;
	ev_timer settle, racy, tick;
	ev_signal sig_hup, sig_term, sig_int, sig_usr1;
	ev_async wake;

	struct host **hosts;
	size_t n_hosts, hosts_alloc;

	pthread_mutex_t qmu;      /* the message queue */
	struct msg *q_head, *q_tail;
	pthread_mutex_t lock_mu;  /* the shared project lock */
	struct occ_lock *lock;
	int lock_refs;
	pthread_mutex_t log_mu;
};

/* ---- time and log ------------------------------------------------------- */

static void iso_time(char *buf, size_t n, const struct timespec *ts)
{
	struct tm tm;
	size_t k;

	gmtime_r(&ts->tv_sec, &tm);
	k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ts->tv_nsec / 1000000L % 1000));
}

static void iso_now(char *buf, size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	iso_time(buf, n, &ts);
}

/* A monotonic deadline as wall-clock ISO-8601. */
static void iso_at(char *buf, size_t n, uint64_t mono_ms)
{
	struct timespec ts;
	uint64_t now = occ_now_ms();
	int64_t delta = (int64_t)mono_ms - (int64_t)now;
	int64_t ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + delta;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	iso_time(buf, n, &ts);
}

static void fmt_duration(char *buf, size_t n, uint64_t ms)
{
	if (ms < 1000)
		snprintf(buf, n, "%llu ms", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1f s", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, n, "%llum%02llus", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
	else
		snprintf(buf, n, "%lluh%02llum", (unsigned long long)(ms / 3600000),
			 (unsigned long long)(ms / 60000 % 60));
}

/* L_STATUS is info that --quiet does not hide (SIGUSR1's answer). */
enum lvl { L_DEBUG, L_INFO, L_OK, L_WARN, L_ERROR, L_STATUS };

/* Optional structured fields of a log line. */
struct logx {
	const struct occ_error *err;  /* kind, file, line, col, hint */
	int64_t elapsed_ms;           /* -1: none */
	int64_t changes;              /* -1: none */
	const char *reasons;
};

static const char *lvl_name(enum lvl l)
{
	static const char *const names[] = { "debug", "info", "ok", "warning", "error", "info" };

	return names[l];
}

static bool lvl_shown(const struct watch *w, enum lvl l)
{
	if (l == L_DEBUG)
		return w->cli->verbose > 0;
	return !w->cli->quiet || l >= L_WARN;
}

static void log_json(enum lvl l, const char *host, const char *event,
		     const struct logx *x, const char *msg, const char *stamp)
{
	struct occ_json j;

	occ_json_init(&j);
	occ_json_obj_begin(&j);
	occ_json_kstr(&j, "time", stamp);
	occ_json_kstr(&j, "level", lvl_name(l));
	occ_json_kstr(&j, "host", host);
	occ_json_kstr(&j, "event", event);
	occ_json_kstr(&j, "message", msg);
	if (x && x->err && x->err->code) {
		occ_json_kstr(&j, "kind", occ_error_kind(x->err->code));
		if (x->err->file[0])
			occ_json_kstr(&j, "file", x->err->file);
		if (x->err->line > 0) {
			occ_json_kint(&j, "line", x->err->line);
			occ_json_kint(&j, "col", x->err->col);
		}
		if (x->err->hint[0])
			occ_json_kstr(&j, "hint", x->err->hint);
	}
	if (x && x->elapsed_ms >= 0)
		occ_json_kint(&j, "elapsed_ms", x->elapsed_ms);
	if (x && x->changes >= 0)
		occ_json_kint(&j, "changes", x->changes);
	if (x && x->reasons)
		occ_json_kstr(&j, "reasons", x->reasons);
	occ_json_obj_end(&j);
	fprintf(stdout, "%s\n", j.sb.buf);
	fflush(stdout);
	occ_json_release(&j);
}

static void log_text(struct watch *w, enum lvl l, const char *host, const struct logx *x,
		     const char *msg, const char *stamp)
{
	static const char *const colours[] = { "\033[2m", "", "\033[32m", "\033[33m", "\033[1;31m",
					       "\033[36m" };
	static const char *const tags[] = { "", "", "", "warning: ", "error: ", "" };
	bool c = w->cli->color_err;
	const struct occ_error *e = x ? x->err : NULL;

	fprintf(stderr, "%s%s%s %s%s%s%s%s%s", c ? "\033[2m" : "", stamp, c ? "\033[0m" : "",
		host ? host : "watch", ": ", c ? colours[l] : "", tags[l], msg,
		c && colours[l][0] ? "\033[0m" : "");
	if (e && e->hint[0])
		fprintf(stderr, " (hint: %s)", e->hint);
	fputc('\n', stderr);
}

static void wlog(struct watch *w, enum lvl l, const char *host, const char *event,
		 const struct logx *x, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void wlog(struct watch *w, enum lvl l, const char *host, const char *event,
		 const struct logx *x, const char *fmt, ...)
{
	char stamp[40], msg[2048];
	va_list ap;

	if (!lvl_shown(w, l))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	iso_now(stamp, sizeof(stamp));
	pthread_mutex_lock(&w->log_mu);
	if (w->cli->json)
		log_json(l, host, event, x, msg, stamp);
	else
		log_text(w, l, host, x, msg, stamp);
	pthread_mutex_unlock(&w->log_mu);
}

/* Room for err_text(): the file, the message and "file:line:col: ". */
#define ERR_TEXT_MAX (sizeof(((struct occ_error *)0)->file) + \
		      sizeof(((struct occ_error *)0)->msg) + 32)

/* "file:line:col: message" for errors that know their place. */
static void err_text(char *buf, size_t n, const struct occ_error *err)
{
	if (err->file[0] && err->line > 0)
		snprintf(buf, n, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
	else if (err->file[0] && !strstr(err->msg, err->file))
		snprintf(buf, n, "%s: %s", err->file, err->msg);
	else
		snprintf(buf, n, "%s", err->msg);
}

/* h->stop is read outside h->mu (by the driver too, as the events slot's
 * const volatile int *): atomic accesses keep that race-free. */
static bool stopping(struct host *h)
{
	return __atomic_load_n(&h->stop, __ATOMIC_RELAXED) != 0;
}

/* ---- messages from the threads ------------------------------------------ */

static struct msg *msg_new(enum msg_kind kind, struct host *h)
{
	struct msg *m = occ_xcalloc(1, sizeof(*m));

	m->kind = kind;
	m->h = h;
	occ_error_clear(&m->err);
	return m;
}

static void post(struct watch *w, struct msg *m)
{
	pthread_mutex_lock(&w->qmu);
	if (w->q_tail)
		w->q_tail->next = m;
	else
		w->q_head = m;
	w->q_tail = m;
	pthread_mutex_unlock(&w->qmu);
	ev_async_send(w->loop, &w->wake);
}

static struct msg *take_all(struct watch *w)
{
	struct msg *m;

	pthread_mutex_lock(&w->qmu);
	m = w->q_head;
	w->q_head = w->q_tail = NULL;
	pthread_mutex_unlock(&w->qmu);
	return m;
}

/* ---- the shared project lock (worker threads) --------------------------- */

struct lock_wait {
	struct host *h;
	bool told;
};

static void on_lock_wait(void *vctx, const struct occ_lock_holder *holder)
{
	struct lock_wait *lw = vctx;

	if (lw->told)
		return;
	lw->told = true;
	if (holder->pid)
		wlog(lw->h->w, L_INFO, lw->h->name, "lock_wait", NULL,
		     "waiting for the project lock (held by occ %s, pid %ld on %s)",
		     holder->operation, (long)holder->pid, holder->host);
	else
		wlog(lw->h->w, L_INFO, lw->h->name, "lock_wait", NULL,
		     "waiting for the project lock");
}

static int lock_take(struct host *h, struct occ_error *err)
{
	struct watch *w = h->w;
	struct lock_wait lw = { h, false };
	int ret = 0;

	pthread_mutex_lock(&w->lock_mu);
	while (w->lock_refs == 0) {
		ret = occ_lock_acquire(&w->lock, NULL, w->project, "watch", LOCK_POLL_MS,
				       on_lock_wait, &lw, err);
		if (ret != OCC_ELOCKED || stopping(h))
			break;
	}
	if (ret == 0)
		w->lock_refs++;
	pthread_mutex_unlock(&w->lock_mu);
	return ret;
}

static void lock_drop(struct watch *w)
{
	pthread_mutex_lock(&w->lock_mu);
	if (--w->lock_refs == 0) {
		occ_lock_release(w->lock);
		w->lock = NULL;
	}
	pthread_mutex_unlock(&w->lock_mu);
}

/* ---- the worker: one reconcile per job ---------------------------------- */

static void on_action_start(void *vctx, const struct occ_action *a)
{
	struct host *h = vctx;

	wlog(h->w, L_DEBUG, h->name, "action_start", NULL, "%s %s %s: %s ...",
	     occ_action_kind_name(a->kind), a->resource, a->name, a->cause ? a->cause : "");
}

static void on_action_done(void *vctx, const struct occ_action *a, int rc, uint64_t ms,
			   const struct occ_error *err)
{
	struct host *h = vctx;
	struct logx x = { .err = err, .elapsed_ms = (int64_t)ms, .changes = -1 };

	/* The reconcile's own failure line carries the message. */
	if (rc) {
		wlog(h->w, L_DEBUG, h->name, "action", &x, "%s %s %s failed (%llu ms): %s",
		     occ_action_kind_name(a->kind), a->resource, a->name,
		     (unsigned long long)ms, err ? err->msg : "");
		return;
	}
	wlog(h->w, L_INFO, h->name, "action", &x, "%s %s %s: %s: done (%llu ms)",
	     occ_action_kind_name(a->kind), a->resource, a->name, a->cause ? a->cause : "",
	     (unsigned long long)ms);
}

static void on_health_done(void *vctx, const char *name, int rc, uint64_t ms)
{
	struct host *h = vctx;
	struct logx x = { .elapsed_ms = (int64_t)ms, .changes = -1 };

	if (rc == 0)
		wlog(h->w, L_INFO, h->name, "health", &x, "%s is healthy (%llu ms)", name,
		     (unsigned long long)ms);
}

static void on_progress(void *vctx, const struct occ_progress *p)
{
	struct host *h = vctx;

	if (p->kind == OCC_PROGRESS_LINE && p->text && *p->text)
		wlog(h->w, L_DEBUG, h->name, "progress", NULL, "%s", p->text);
}

static void on_trace(void *vctx, const char *line)
{
	struct host *h = vctx;

	if (h->w->cli->verbose >= 2)
		wlog(h->w, L_DEBUG, h->name, "trace", NULL, "%s", line);
}

/* The host's connection, opened on first use (a remote host's SSH handshake
 * happens here; a failure is retried on the next run). */
static int get_conn(struct host *h, struct occ_conn **out, struct occ_error *err)
{
	struct occ_conn_opts o = { .trace = &h->ssh_trace };
	int ret = 0;

	pthread_mutex_lock(&h->conn_mu);
	if (!h->conn)
		ret = occ_conn_open(&h->conn, h->cfg.address ? &h->cfg : NULL, &o, err);
	*out = h->conn;
	pthread_mutex_unlock(&h->conn_mu);
	return ret;
}

/* A driver of the calling thread's own over the host's connection. */
static int open_driver(struct host *h, struct occ_driver **out, struct occ_error *err)
{
	struct occ_conn *c;

	if (get_conn(h, &c, err) || occ_conn_driver(c, out, err))
		return err->code;
	(*out)->progress.fn = on_progress;
	(*out)->progress.ctx = h;
	(*out)->trace.fn = on_trace;
	(*out)->trace.ctx = h;
	return 0;
}

static bool any_destructive(const struct occ_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->actions[i].destructive)
			return true;
	return false;
}

static int apply_job(struct host *h, struct job *job, struct occ_driver *d,
		     const struct occ_observed *obs, const struct occ_plan *plan,
		     struct msg *m)
{
	struct occ_apply_hooks hooks = {
		.ctx = h, .action_start = on_action_start, .action_done = on_action_done,
		.health_done = on_health_done,
	};
	struct occ_apply_opts opts = { .journal_path = h->w->journal, .host = h->name };
	struct occ_apply_report rep;
	int ret;

	if (any_destructive(plan) && !h->w->cli->yes) {
		occ_error_set(&m->err, OCC_ECANCELED,
			      "the plan has destructive changes: not applied by the watcher");
		occ_error_hint(&m->err, "review and apply them with 'occ apply', or run "
			       "'occ watch --yes' to let the watcher apply them");
		return m->err.code;
	}
	ret = occ_apply_plan(d, job->eff, obs, plan, &opts, &hooks, &rep, &m->err);
	m->changes = rep.n_done;
	return ret;
}

static bool any_removing(const struct occ_observed *obs)
{
	for (size_t i = 0; i < obs->n_containers; i++)
		if (obs->containers[i].owned && obs->containers[i].state == OCC_CTR_REMOVING)
			return true;
	return false;
}

/*
 * Observe; while one of the project's containers is being removed (`docker
 * rm -f` kills first, so the repair's debounce may end between "die" and
 * "destroy"), wait a little and look again rather than plan a start of a
 * container Docker is deleting.
 */
static int observe_settled(struct host *h, struct occ_driver *d, const struct occ_state *eff,
			   struct occ_observed *obs, struct occ_error *err)
{
	int ret = occ_driver_observe(d, eff, obs, err);

	for (int i = 0; !ret && i < REMOVAL_WAIT_MS / 100 && any_removing(obs) && !stopping(h); i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		occ_observed_release(obs);
		occ_observed_init(obs);
		ret = occ_driver_observe(d, eff, obs, err);
	}
	return ret;
}

static int reconcile(struct host *h, struct job *job, struct occ_driver **d, struct msg *m)
{
	struct occ_observed obs;
	struct occ_plan plan;
	bool locked = false;
	int ret;

	occ_observed_init(&obs);
	occ_plan_init(&plan);
	ret = *d ? 0 : open_driver(h, d, &m->err);
	if (ret)
		goto out;
	ret = lock_take(h, &m->err);
	if (ret)
		goto out;
	locked = true;
	ret = observe_settled(h, *d, job->eff, &obs, &m->err);
	if (!ret)
		ret = occ_plan_compute(&plan, job->eff, &obs, &m->err);
	if (ret || occ_plan_empty(&plan))
		goto out;
	if (!job->run.apply)
		m->drift = plan.n;
	else
		ret = apply_job(h, job, *d, &obs, &plan, m);
out:
	if (locked)
		lock_drop(h->w);
	occ_plan_release(&plan);
	occ_observed_release(&obs);
	/* A daemon that went away may come back another version: start afresh. */
	if (ret == OCC_EDAEMON && *d) {
		occ_driver_free(*d);
		*d = NULL;
	}
	return ret;
}

static void job_free(struct job *job)
{
	if (!job)
		return;
	occ_state_free(job->eff);
	free(job);
}

/* The next job, or NULL when the host is told to stop. */
static struct job *wait_job(struct host *h)
{
	struct job *job;

	pthread_mutex_lock(&h->mu);
	while (!h->job && !h->stop)
		pthread_cond_wait(&h->cv, &h->mu);
	job = h->job;
	h->job = NULL;
	if (h->stop) {
		job_free(job);
		job = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	return job;
}

static void *worker_main(void *arg)
{
	struct host *h = arg;
	struct occ_driver *d = NULL;
	struct job *job;

	while ((job = wait_job(h))) {
		struct msg *m = msg_new(MSG_DONE, h);
		uint64_t t0 = occ_now_ms();

		m->rc = reconcile(h, job, &d, m);
		m->elapsed_ms = occ_now_ms() - t0;
		memcpy(m->state_hash, job->state_hash, sizeof(m->state_hash));
		job_free(job);
		post(h->w, m);
	}
	occ_driver_free(d);
	post(h->w, msg_new(MSG_EXITED, h));
	return NULL;
}

/* ---- the events thread -------------------------------------------------- */

struct stream_ctx {
	struct host *h;
	unsigned *attempt;
};

static void on_stream_event(void *vctx, const struct occ_event *e)
{
	struct stream_ctx *s = vctx;
	struct msg *m;

	if (e->kind == OCC_EVENT_SUBSCRIBED) {
		*s->attempt = 0;
		post(s->h->w, msg_new(MSG_SUBSCRIBED, s->h));
		return;
	}
	if (e->kind != OCC_EVENT_CONTAINER)
		return;
	m = msg_new(MSG_EVENT, s->h);
	m->ev = *e;
	post(s->h->w, m);
}

/* Sleep ms, or less when told to stop. */
static void nap(struct host *h, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&h->mu);
}

static void *events_main(void *arg)
{
	struct host *h = arg;
	struct occ_driver *d = NULL;
	unsigned attempt = 0;
	struct stream_ctx ctx = { h, &attempt };

	while (!stopping(h)) {
		struct msg *m = msg_new(MSG_STREAM_LOST, h);
		int ret = open_driver(h, &d, &m->err);

		if (!ret)
			ret = occ_driver_events(d, h->ev_state, on_stream_event, &ctx, &h->stop,
						&m->err);
		occ_driver_free(d);
		d = NULL;
		if (stopping(h)) {
			free(m);
			break;
		}
		m->rc = ret;
		m->retry_ms = occ_watch_backoff_delay(attempt++, EVENTS_RETRY_MIN, EVENTS_RETRY_MAX);
		post(h->w, m);
		nap(h, m->retry_ms);
	}
	post(h->w, msg_new(MSG_EXITED, h));
	return NULL;
}

/* ---- hosts -------------------------------------------------------------- */

static void spawn(struct host *h, pthread_t *t, void *(*fn)(void *), bool *started)
{
	static const int handled[] = { SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE,
				       SIGALRM, SIGCHLD };
	sigset_t block, old;
	int rc;

	/* Threads inherit this mask: the signals occ handles reach the loop only.
	 * (Faults such as SIGSEGV stay unblocked for the sanitizers.) */
	sigemptyset(&block);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(handled); i++)
		sigaddset(&block, handled[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(t, NULL, fn, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		fprintf(stderr, "occ: cannot create a thread: %s\n", strerror(rc));
		abort();
	}
	*started = true;
	h->live++;
}

static uint64_t seed_for(const char *name)
{
	struct timespec ts;
	uint64_t s = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;

	clock_gettime(CLOCK_REALTIME, &ts);
	s ^= (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)ts.tv_sec;
	for (const char *p = name; *p; p++)
		s = s * 131 + (unsigned char)*p;
	return s;
}

static struct host *host_new(struct watch *w, const struct occ_host *cfg, const char *name)
{
	struct host *h = occ_xcalloc(1, sizeof(*h));
	struct occ_watch_config wc;
	pthread_condattr_t ca;

	h->w = w;
	h->name = occ_xstrdup(name);
	h->address = occ_xstrdup(cfg ? cfg->address : NULL);
	h->cfg = (struct occ_host){
		.name = h->name, .address = h->address,
		.user = occ_xstrdup(cfg ? cfg->user : NULL),
		.port = cfg ? cfg->port : 0,
		.identity = occ_xstrdup(cfg ? cfg->identity : NULL),
		.socket = occ_xstrdup(cfg ? cfg->socket : NULL),
	};
	h->ssh_trace = (struct occ_trace_sink){ on_trace, h };
	pthread_mutex_init(&h->conn_mu, NULL);
	h->eff = occ_state_for_host(w->state, cfg);
	occ_watch_config_init(&wc, &w->state->watch);
	occ_watch_host_init(&h->sm, &wc, seed_for(name), occ_now_ms());
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	spawn(h, &h->worker, worker_main, &h->has_worker);
	if (!w->once) {
		h->ev_state = occ_state_clone(h->eff);
		h->evs = EVS_CONNECTING;
		spawn(h, &h->events, events_main, &h->has_events);
	}
	/* With an event stream, the first run waits until it is subscribed (or
	 * has failed), so nothing that happens after that run's observation can
	 * go unseen; the subscription takes a few milliseconds. */
	h->awaiting_events = h->has_events;
	if (!h->awaiting_events)
		occ_watch_host_on_event(&h->sm, occ_now_ms(), OCC_WATCH_EV_START);
	return h;
}

static void host_stop(struct host *h)
{
	pthread_mutex_lock(&h->mu);
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Join (the threads have exited) and free. */
static void host_free(struct host *h)
{
	if (h->has_worker)
		pthread_join(h->worker, NULL);
	if (h->has_events)
		pthread_join(h->events, NULL);
	job_free(h->job);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	occ_conn_close(h->conn);
	pthread_mutex_destroy(&h->conn_mu);
	occ_state_free(h->ev_state);
	occ_state_free(h->eff);
	free(h->cfg.user);
	free(h->cfg.identity);
	free(h->cfg.socket);
	free(h->address);
	free(h->name);
	free(h);
}

static void hosts_add(struct watch *w, struct host *h)
{
	OCC_GROW(w->hosts, w->n_hosts, w->hosts_alloc);
	w->hosts[w->n_hosts++] = h;
}

static struct host *host_find(struct watch *w, const char *name)
{
	for (size_t i = 0; i < w->n_hosts; i++)
		if (!w->hosts[i]->retired && strcmp(w->hosts[i]->name, name) == 0)
			return w->hosts[i];
	return NULL;
}

static void host_retire(struct watch *w, struct host *h, const char *why)
{
	if (h->retired)
		return;
	h->retired = true;
	wlog(w, L_INFO, h->name, "host_removed", NULL, "%s: stopping its watch", why);
	host_stop(h);
}

/* Whether the host is reached the same way (else it gets a new connection). */
static bool same_endpoint(const struct occ_host *a, const struct occ_host *b)
{
	if (!b || !b->address)
		return !a->address;
	return occ_streq(a->address, b->address) && occ_streq(a->user, b->user) &&
	       a->port == b->port && occ_streq(a->identity, b->identity) &&
	       occ_streq(a->socket, b->socket);
}

/* Bring one desired host in line: new, updated, or replaced. */
static void host_sync(struct watch *w, const struct occ_host *cfg, const char *name)
{
	struct host *h = host_find(w, name);
	struct occ_watch_config wc;

	if (h && !same_endpoint(&h->cfg, cfg)) {
		host_retire(w, h, "how to reach it changed");
		h = NULL;
	}
	if (!h) {
		hosts_add(w, host_new(w, cfg, name));
		return;
	}
	occ_state_free(h->eff);
	h->eff = occ_state_for_host(w->state, cfg);
	occ_watch_config_init(&wc, &w->state->watch);
	occ_watch_host_set_config(&h->sm, &wc, occ_now_ms());
}

static bool host_wanted(const struct watch *w, const char *name)
{
	const struct occ_state *st = w->state;

	if (w->cli->host && strcmp(w->cli->host, name) != 0)
		return false;
	if (st->n_hosts == 0)
		return strcmp(name, "local") == 0;
	for (size_t i = 0; i < st->n_hosts; i++)
		if (strcmp(st->hosts[i].name, name) == 0)
			return true;
	return false;
}

/* The hosts of w->state (honouring --host); returns how many are wanted. */
static size_t hosts_sync(struct watch *w)
{
	const struct occ_state *st = w->state;
	size_t n = 0;

	for (size_t i = 0; i < w->n_hosts; i++)
		if (!host_wanted(w, w->hosts[i]->name))
			host_retire(w, w->hosts[i], "no longer in the state file");
	if (st->n_hosts == 0 && (!w->cli->host || strcmp(w->cli->host, "local") == 0)) {
		host_sync(w, NULL, "local");
		return 1;
	}
	for (size_t i = 0; i < st->n_hosts; i++) {
		if (w->cli->host && strcmp(w->cli->host, st->hosts[i].name) != 0)
			continue;
		host_sync(w, &st->hosts[i], st->hosts[i].name);
		n++;
	}
	return n;
}

/* ---- status ------------------------------------------------------------- */

static const char *evs_name(enum events_state s)
{
	static const char *const names[] = { "none", "connecting", "connected", "disconnected" };

	return names[s];
}

static void json_time_or_null(struct occ_json *j, const char *key, uint64_t mono)
{
	char buf[40];

	occ_json_key(j, key);
	if (!mono || mono == OCC_WATCH_NEVER) {
		occ_json_null(j);
		return;
	}
	iso_at(buf, sizeof(buf), mono);
	occ_json_str(j, buf);
}

static void status_host(struct occ_json *j, const struct host *h)
{
	const struct occ_watch_host *sm = &h->sm;

	occ_json_obj_begin(j);
	occ_json_kstr(j, "name", h->name);
	occ_json_kstr(j, "state", occ_watch_phase_name(occ_watch_host_phase(sm)));
	occ_json_kstr(j, "last_result", !sm->has_result ? "none" : sm->last_rc ? "failed" : "ok");
	occ_json_kstr(j, "last_error", sm->last_err[0] ? sm->last_err : NULL);
	occ_json_kint(j, "last_changes", (int64_t)sm->last_changes);
	json_time_or_null(j, "last_run", sm->last_end);
	json_time_or_null(j, "last_ok", sm->last_ok);
	json_time_or_null(j, "next_run", occ_watch_host_next_at(sm));
	occ_json_kint(j, "backoff_ms", (int64_t)sm->backoff_ms);
	occ_json_kbool(j, "stalled", sm->stalled);
	occ_json_kint(j, "runs", (int64_t)sm->runs);
	occ_json_kint(j, "failures", (int64_t)sm->failures);
	occ_json_kint(j, "repairs", (int64_t)sm->repairs);
	occ_json_kint(j, "drift", (int64_t)h->last_drift);
	json_time_or_null(j, "heal_paused_until",
			  sm->heal_resume_at > occ_now_ms() ? sm->heal_resume_at : 0);
	occ_json_kstr(j, "events", evs_name(h->evs));
	occ_json_obj_end(j);
}

static void status_config_error(struct occ_json *j, const struct occ_error *err)
{
	occ_json_key(j, "config_error");
	if (!err->code) {
		occ_json_null(j);
		return;
	}
	occ_json_obj_begin(j);
	occ_json_kstr(j, "message", err->msg);
	occ_json_kstr(j, "file", err->file[0] ? err->file : NULL);
	occ_json_kint(j, "line", err->line);
	occ_json_kint(j, "col", err->col);
	occ_json_obj_end(j);
}

static void write_status(struct watch *w)
{
	struct occ_json j;
	struct occ_error err;
	char now[40];

	if (w->once)
		return;
	occ_error_clear(&err);
	iso_now(now, sizeof(now));
	occ_json_init(&j);
	occ_json_obj_begin(&j);
	occ_json_kint(&j, "format_version", 1);
	occ_json_kint(&j, "pid", (int64_t)getpid());
	occ_json_kstr(&j, "project", w->project);
	occ_json_kstr(&j, "state_file", w->state_path);
	occ_json_kstr(&j, "started", w->started);
	occ_json_kstr(&j, "updated", now);
	occ_json_kstr(&j, "state_hash", w->state_hash);
	status_config_error(&j, &w->config_err);
	occ_json_key(&j, "hosts");
	occ_json_arr_begin(&j);
	for (size_t i = 0; i < w->n_hosts; i++)
		if (!w->hosts[i]->retired)
			status_host(&j, w->hosts[i]);
	occ_json_arr_end(&j);
	occ_json_obj_end(&j);
	occ_strbuf_addc(&j.sb, '\n');
	if (occ_write_file_atomic(w->status_path, j.sb.buf, j.sb.len, 0600, &err))
		wlog(w, L_WARN, NULL, "status", &(struct logx){ .err = &err, .elapsed_ms = -1,
			.changes = -1 }, "cannot write the status file: %s", err.msg);
	occ_json_release(&j);
}

/* "in 4m31s" for a deadline, "-" for none. */
static void fmt_in(char *buf, size_t n, uint64_t deadline, uint64_t now)
{
	if (deadline == OCC_WATCH_NEVER || deadline == 0)
		snprintf(buf, n, "-");
	else
		fmt_duration(buf, n, deadline > now ? deadline - now : 0);
}

static void print_host_state(struct watch *w, const struct host *h)
{
	const struct occ_watch_host *sm = &h->sm;
	uint64_t now = occ_now_ms();
	char next[32], backoff[32] = "0 s", paused[32], last[OCC_WATCH_ERR_MAX + 64];

	fmt_in(next, sizeof(next), occ_watch_host_next_at(sm), now);
	fmt_in(paused, sizeof(paused), sm->heal_resume_at > now ? sm->heal_resume_at : 0, now);
	if (sm->backoff_ms)
		fmt_duration(backoff, sizeof(backoff), sm->backoff_ms);
	if (!sm->has_result)
		snprintf(last, sizeof(last), "none yet");
	else if (sm->last_rc)
		snprintf(last, sizeof(last), "failed: %s", sm->last_err);
	else
		snprintf(last, sizeof(last), "ok (%zu changes)", sm->last_changes);
	wlog(w, L_STATUS, h->name, "host_state", NULL,
	     "state %s; last result %s; next run in %s; backoff %s; stalled %s; "
	     "self-heal paused for %s; runs %lu, failures %lu, repairs %lu; events %s",
	     occ_watch_phase_name(occ_watch_host_phase(sm)), last, next, backoff,
	     sm->stalled ? "yes" : "no", paused, sm->runs, sm->failures, sm->repairs,
	     evs_name(h->evs));
}

/* ---- scheduling --------------------------------------------------------- */

static void dispatch(struct watch *w, struct host *h, const struct occ_watch_run *run)
{
	struct job *job = occ_xcalloc(1, sizeof(*job));
	char why[128];

	job->eff = occ_state_clone(h->eff);
	job->run = *run;
	snprintf(job->state_hash, sizeof(job->state_hash), "%s", w->state_hash);
	occ_watch_reasons_str(why, sizeof(why), run->reasons);
	wlog(w, L_DEBUG, h->name, "reconcile_start", &(struct logx){ .elapsed_ms = -1,
	     .changes = -1, .reasons = why }, "%s (%s)",
	     run->apply ? "reconciling" : "checking for drift", why);
	/* Broadcast: the events thread naps on the same condition variable. */
	pthread_mutex_lock(&h->mu);
	h->job = job;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Start what is due and arm the tick timer for the next deadline. */
static void schedule(struct watch *w)
{
	uint64_t now = occ_now_ms(), next = OCC_WATCH_NEVER;
	bool started = false;

	ev_timer_stop(w->loop, &w->tick);
	if (w->stopping)
		return;
	ev_now_update(w->loop);
	for (size_t i = 0; i < w->n_hosts; i++) {
		struct host *h = w->hosts[i];
		struct occ_watch_run run;
		uint64_t deadline;

		if (h->retired || (w->once && h->sm.runs > 0))
			continue;
		if (occ_watch_host_next(&h->sm, now, &deadline, &run)) {
			dispatch(w, h, &run);
			started = true;
			continue;
		}
		if (deadline < next)
			next = deadline;
	}
	if (started)
		write_status(w);
	if (next == OCC_WATCH_NEVER || w->once)
		return;
	/* +1 ms: libev's clock may run a hair ahead of ours. */
	ev_timer_set(&w->tick, (double)(next > now ? next - now : 0) / 1000.0 + 0.001, 0.);
	ev_timer_start(w->loop, &w->tick);
}

static void post_all(struct watch *w, enum occ_watch_event ev)
{
	uint64_t now = occ_now_ms();

	for (size_t i = 0; i < w->n_hosts; i++)
		if (!w->hosts[i]->retired && !w->hosts[i]->awaiting_events)
			occ_watch_host_on_event(&w->hosts[i]->sm, now, ev);
}

/* ---- shutdown ----------------------------------------------------------- */

static size_t hosts_live(const struct watch *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_hosts; i++)
		n += w->hosts[i]->live > 0;
	return n;
}

static void stop_files(struct watch *w);

static void begin_stop(struct watch *w, const char *why)
{
	size_t busy = 0;

	if (w->stopping)
		return;
	w->stopping = true;
	for (size_t i = 0; i < w->n_hosts; i++) {
		busy += w->hosts[i]->sm.running;
		host_stop(w->hosts[i]);
	}
	stop_files(w);
	ev_timer_stop(w->loop, &w->tick);
	ev_timer_stop(w->loop, &w->settle);
	ev_timer_stop(w->loop, &w->racy);
	if (!w->once)
		wlog(w, L_INFO, NULL, "stopping", NULL, "%s: stopping%s", why,
		     busy ? " after the running reconciles finish" : "");
	if (hosts_live(w) == 0)
		ev_break(w->loop, EVBREAK_ALL);
}

/* ---- files -------------------------------------------------------------- */

/* SHA-256 of a file's content; "" when absent. Beyond HASH_MAX_BYTES the
 * stat data stands in (a huge mount source is not read on every save). */
static void hash_file(const char *path, char out[OCC_HASH_HEX_LEN + 1])
{
	struct occ_error err;
	struct stat st;
	char *buf = NULL, meta[160];
	size_t len;

	out[0] = '\0';
	if (stat(path, &st) != 0)
		return;
	occ_error_clear(&err);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size <= HASH_MAX_BYTES &&
	    occ_read_file(path, HASH_MAX_BYTES, &buf, &len, &err) == 0) {
		occ_sha256_hex(buf, len, out);
		free(buf);
		return;
	}
	snprintf(meta, sizeof(meta), "stat:%llu:%llu:%lld.%09ld:%o",
		 (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned)st.st_mode);
	occ_sha256_hex(meta, strlen(meta), out);
}

/* One hash over every watched file: the identity of the desired state. */
static void files_hash(struct watch *w, char out[OCC_HASH_HEX_LEN + 1])
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < w->n_files; i++)
		occ_strbuf_addf(&sb, "%s%c%s\n", w->files[i]->path, 0, w->files[i]->hash);
	occ_sha256_hex(sb.buf, sb.len, out);
	occ_strbuf_release(&sb);
}

static void on_stat(struct ev_loop *loop, ev_stat *st, int revents)
{
	struct wfile *f = st->data;
	struct watch *w = f->w;
	uint64_t deadline;

	(void)loop;
	(void)revents;
	occ_watch_debounce_poke(&w->settle_db, occ_now_ms());
	occ_watch_debounce_fire(&w->settle_db, occ_now_ms(), &deadline);
	ev_timer_stop(w->loop, &w->settle);
	ev_timer_set(&w->settle, (double)(deadline - occ_now_ms()) / 1000.0 + 0.001, 0.);
	ev_timer_start(w->loop, &w->settle);
}

static struct wfile *file_find(struct watch *w, const char *path)
{
	/* During files_sync, entries already moved to the new set are NULL. */
	for (size_t i = 0; i < w->n_files; i++)
		if (w->files[i] && strcmp(w->files[i]->path, path) == 0)
			return w->files[i];
	return NULL;
}

static void file_free(struct watch *w, struct wfile *f)
{
	ev_stat_stop(w->loop, &f->st);
	free(f->path);
	free(f->role);
	free(f);
}

static void stop_files(struct watch *w)
{
	for (size_t i = 0; i < w->n_files; i++)
		file_free(w, w->files[i]);
	free(w->files);
	w->files = NULL;
	w->n_files = 0;
}

/* Add path to the new set, reusing the old watcher (and its hash) if any. */
static void file_keep(struct watch *w, struct wfile ***set, size_t *n, size_t *alloc,
		      const char *path, const char *role)
{
	struct wfile *f = file_find(w, path);

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*set)[i]->path, path) == 0)
			return;
	if (f) {
		for (size_t i = 0; i < w->n_files; i++)
			if (w->files[i] == f)
				w->files[i] = NULL;
		free(f->role);
		f->role = occ_xstrdup(role);
	} else {
		f = occ_xcalloc(1, sizeof(*f));
		f->w = w;
		f->path = occ_xstrdup(path);
		f->role = occ_xstrdup(role);
		/* Watch first, then hash: an edit in between is not lost. */
		ev_stat_init(&f->st, on_stat, f->path, 0.);
		f->st.data = f;
		if (!w->once)
			ev_stat_start(w->loop, &f->st);
		hash_file(path, f->hash);
	}
	OCC_GROW(*set, *n, *alloc);
	(*set)[(*n)++] = f;
}

struct fileset {
	struct watch *w;
	struct wfile **v;
	size_t n, alloc;
};

static void fs_add(struct fileset *fs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fs_add(struct fileset *fs, const char *path, const char *fmt, ...)
{
	char role[256], *real;
	va_list ap;

	if (!path)
		return;
	va_start(ap, fmt);
	vsnprintf(role, sizeof(role), fmt, ap);
	va_end(ap);
	file_keep(fs->w, &fs->v, &fs->n, &fs->alloc, path, role);
	/* libev watches a symlink itself, not what it points to (a dotfile
	 * manager's link edited in place would go unseen): watch the target too. */
	real = realpath(path, NULL);
	if (real && strcmp(real, path) != 0) {
		snprintf(role + strnlen(role, sizeof(role) - 20), 20, " (link target)");
		file_keep(fs->w, &fs->v, &fs->n, &fs->alloc, real, role);
	}
	free(real);
}

/* Mount sources that are files (directories are the container's business). */
static void fs_add_mounts(struct fileset *fs, const struct occ_mount *m, size_t n)
{
	struct stat st;

	for (size_t i = 0; i < n; i++)
		if (stat(m[i].source, &st) == 0 && S_ISREG(st.st_mode))
			fs_add(fs, m[i].source, "mount source for %s", m[i].target);
}

static void fs_add_build(struct fileset *fs, const struct occ_image_build *b)
{
	char *dockerfile;

	if (!b->enabled)
		return;
	if (!b->embedded && b->context) {
		dockerfile = occ_path_resolve(b->dockerfile ? b->dockerfile : "Dockerfile",
					      b->context);
		fs_add(fs, dockerfile, "Dockerfile");
		free(dockerfile);
	}
	for (size_t i = 0; i < b->n_ca_certs; i++)
		fs_add(fs, b->ca_certs[i], "CA certificate");
}

/* Watch exactly the state file and the files st references. */
static void files_sync(struct watch *w, const struct occ_state *st)
{
	struct fileset fs = { .w = w };

	fs_add(&fs, w->state_path, "state file");
	for (size_t i = 0; i < st->n_users; i++)
		if (st->users[i].pw_source == OCC_PW_FILE)
			fs_add(&fs, st->users[i].password_file, "password file of user '%s'",
			       st->users[i].name);
	fs_add_mounts(&fs, st->mounts, st->n_mounts);
	for (size_t i = 0; i < st->n_hosts; i++)
		fs_add_mounts(&fs, st->hosts[i].overrides.mounts, st->hosts[i].overrides.n_mounts);
	fs_add_build(&fs, &st->image.build);
	for (size_t i = 0; i < w->n_files; i++)
		if (w->files[i])
			file_free(w, w->files[i]);
	free(w->files);
	w->files = fs.v;
	w->n_files = fs.n;
}

/* ---- loading ------------------------------------------------------------ */

static void log_config_error(struct watch *w, const struct occ_error *err)
{
	struct logx x = { .err = err, .elapsed_ms = -1, .changes = -1 };
	char text[ERR_TEXT_MAX];

	err_text(text, sizeof(text), err);
	wlog(w, L_ERROR, NULL, "config_error", &x, "%s; keeping the last good state", text);
}

/* Load the state file; on success it replaces the last good state. */
static int reload(struct watch *w, enum occ_watch_event ev)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	size_t n;

	occ_error_clear(&err);
	if (occ_model_load(&st, w->state_path, &err) == 0 && strcmp(st->name, w->project) != 0) {
		occ_error_set(&err, OCC_EINVALID,
			      "the project name changed from '%s' to '%s': restart occ watch to "
			      "follow a renamed project", w->project, st->name);
		occ_error_at(&err, w->state_path, 0, 0);
		occ_state_free(st);
		st = NULL;
	}
	if (!st) {
		w->config_err = err;
		log_config_error(w, &err);
		write_status(w);
		return err.code;
	}
	occ_state_free(w->state);
	w->state = st;
	occ_error_clear(&w->config_err);
	files_sync(w, st);
	files_hash(w, w->state_hash);
	n = hosts_sync(w);
	wlog(w, L_INFO, NULL, "config_loaded", NULL, "loaded %s: %zu host%s, state %.12s",
	     w->state_path, n, n == 1 ? "" : "s", w->state_hash);
	if (n == 0)
		wlog(w, L_WARN, NULL, "config_loaded", NULL, "no host to watch");
	post_all(w, ev);
	return 0;
}

/* A change may be followed, in the same second, by another of the same size
 * that stat cannot see: look again once the second has turned. */
static void arm_racy(struct watch *w)
{
	ev_timer_stop(w->loop, &w->racy);
	ev_timer_set(&w->racy, RACY_RECHECK_MS / 1000.0, 0.);
	ev_timer_start(w->loop, &w->racy);
}

/* Hash every watched file; reload when any content changed. */
static void check_files(struct watch *w, bool racy)
{
	bool changed = false;

	for (size_t i = 0; i < w->n_files; i++) {
		struct wfile *f = w->files[i];
		char hash[OCC_HASH_HEX_LEN + 1];

		hash_file(f->path, hash);
		if (strcmp(hash, f->hash) == 0)
			continue;
		changed = true;
		wlog(w, L_INFO, NULL, "file_changed", NULL, "%s %s %s%s", f->role, f->path,
		     !hash[0] ? "was removed" : !f->hash[0] ? "appeared" : "changed",
		     racy ? " (within the second of an earlier change)" : "");
		memcpy(f->hash, hash, sizeof(hash));
	}
	if (!changed)
		return;
	reload(w, OCC_WATCH_EV_FILE);
	arm_racy(w);
	schedule(w);
}

static void on_settle(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	uint64_t deadline;

	(void)loop;
	(void)revents;
	if (!occ_watch_debounce_fire(&w->settle_db, occ_now_ms(), &deadline)) {
		if (deadline != OCC_WATCH_NEVER) {
			ev_timer_set(&w->settle, (double)(deadline - occ_now_ms()) / 1000.0 + 0.001, 0.);
			ev_timer_start(w->loop, &w->settle);
		}
		return;
	}
	check_files(w, false);
	arm_racy(w);
}

static void on_racy(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	check_files(t->data, true);
}

/* ---- the loop's handlers ------------------------------------------------ */

/* What the state machine noted (OCC_WATCH_NOTE_*), one line each. */
static void log_notes(struct watch *w, const struct host *h, unsigned notes)
{
	uint64_t now = occ_now_ms();
	char in[32];

	if (notes & OCC_WATCH_NOTE_RATE_LIMITED) {
		fmt_duration(in, sizeof(in), h->sm.heal_resume_at > now ? h->sm.heal_resume_at - now : 0);
		wlog(w, L_WARN, h->name, "rate_limited", NULL,
		     "%u repairs within %llu s: self-heal backs off, next repair in %s",
		     h->sm.cfg.heal_max, (unsigned long long)(h->sm.cfg.heal_window_ms / 1000), in);
	}
	if (notes & OCC_WATCH_NOTE_STALLED)
		wlog(w, L_WARN, h->name, "stalled", NULL,
		     "the same failure %u times for this state: stalled until the state file "
		     "or the failure changes", h->sm.same_failures);
	if (notes & OCC_WATCH_NOTE_RECOVERED)
		wlog(w, L_OK, h->name, "recovered", NULL, "recovered after %lu failure%s",
		     h->sm.failures, h->sm.failures == 1 ? "" : "s");
}

static void on_done(struct watch *w, struct host *h, const struct msg *m)
{
	unsigned notes = occ_watch_host_done(&h->sm, occ_now_ms(), m->rc, m->err.msg,
					     m->state_hash, m->changes);
	struct logx x = { .err = m->rc ? &m->err : NULL, .elapsed_ms = (int64_t)m->elapsed_ms,
			  .changes = (int64_t)m->changes };
	char dur[32], text[ERR_TEXT_MAX];

	fmt_duration(dur, sizeof(dur), m->elapsed_ms);
	h->last_drift = m->drift;
	if (m->rc) {
		char next[64];

		err_text(text, sizeof(text), &m->err);
		fmt_duration(dur, sizeof(dur), h->sm.backoff_ms);
		snprintf(next, sizeof(next), w->stopping ? "not retried: stopping" : "retrying in %s",
			 dur);
		wlog(w, L_ERROR, h->name, "failed", &x, "%s; %s", text,
		     h->sm.stalled ? "stalled: no retries until the state file or the failure "
				     "changes (resync and drift still run it)" : next);
	} else if (m->drift) {
		wlog(w, L_WARN, h->name, "drift", &x, "%zu action%s pending; not repaired "
		     "(watch.self_heal is off)", m->drift, m->drift == 1 ? "" : "s");
	} else if (m->changes) {
		wlog(w, L_OK, h->name, "reconciled", &x, "converged: %zu action%s in %s",
		     m->changes, m->changes == 1 ? "" : "s", dur);
	} else {
		wlog(w, L_DEBUG, h->name, "reconciled", &x, "in sync (%s)", dur);
	}
	log_notes(w, h, notes);
	write_status(w);
}

static void on_docker_event(struct watch *w, struct host *h, const struct occ_event *e)
{
	unsigned notes;
	char code[32] = "";

	if (!occ_watch_action_is_drift(e->action)) {
		wlog(w, L_DEBUG, h->name, "docker_event", NULL, "container %s: %s", e->name,
		     e->action);
		return;
	}
	if (e->exit_code >= 0)
		snprintf(code, sizeof(code), " (exit code %d)", e->exit_code);
	notes = occ_watch_host_on_event(&h->sm, occ_now_ms(), OCC_WATCH_EV_DRIFT);
	wlog(w, h->sm.running ? L_DEBUG : L_INFO, h->name, "docker_event", NULL,
	     "container %s: %s%s%s", e->name, e->action, code,
	     (notes & OCC_WATCH_NOTE_IGNORED) ? " (not repaired: watch.self_heal is off)" :
	     h->sm.running ? " (during a reconcile: one follow-up run)" : "");
	log_notes(w, h, notes);
}

static void on_stream(struct watch *w, struct host *h, const struct msg *m)
{
	char in[32], text[ERR_TEXT_MAX];
	bool first = h->awaiting_events;

	/* The first answer of the stream, good or bad, releases the first run. */
	h->awaiting_events = false;
	if (first)
		occ_watch_host_on_event(&h->sm, occ_now_ms(), OCC_WATCH_EV_START);
	if (m->kind == MSG_SUBSCRIBED) {
		wlog(w, h->evs == EVS_DOWN ? L_OK : L_DEBUG, h->name, "events_connected", NULL,
		     "following Docker events%s", h->evs == EVS_DOWN ? " again: resyncing" : "");
		h->evs = EVS_CONNECTED;
		if (!first)
			occ_watch_host_on_event(&h->sm, occ_now_ms(), OCC_WATCH_EV_RECONNECT);
		write_status(w);
		return;
	}
	fmt_duration(in, sizeof(in), m->retry_ms);
	err_text(text, sizeof(text), &m->err);
	wlog(w, L_WARN, h->name, "events_lost", &(struct logx){ .err = &m->err,
	     .elapsed_ms = -1, .changes = -1 }, "Docker events: %s; reconnecting in %s", text, in);
	h->evs = EVS_DOWN;
	write_status(w);
}

static void reap(struct watch *w)
{
	size_t k = 0;

	for (size_t i = 0; i < w->n_hosts; i++) {
		struct host *h = w->hosts[i];

		if (h->retired && h->live == 0)
			host_free(h);
		else
			w->hosts[k++] = h;
	}
	w->n_hosts = k;
}

static bool once_done(const struct watch *w)
{
	for (size_t i = 0; i < w->n_hosts; i++)
		if (!w->hosts[i]->retired && !w->hosts[i]->sm.has_result)
			return false;
	return true;
}

static void handle(struct watch *w, struct msg *m)
{
	struct host *h = m->h;

	switch (m->kind) {
	case MSG_DONE:
		on_done(w, h, m);
		break;
	case MSG_EVENT:
		if (!w->stopping && !h->retired)
			on_docker_event(w, h, &m->ev);
		break;
	case MSG_SUBSCRIBED:
	case MSG_STREAM_LOST:
		if (!w->stopping && !h->retired)
			on_stream(w, h, m);
		break;
	case MSG_EXITED:
		h->live--;
		break;
	}
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct watch *w = a->data;
	struct msg *m = take_all(w);

	(void)loop;
	(void)revents;
	while (m) {
		struct msg *next = m->next;

		handle(w, m);
		free(m);
		m = next;
	}
	reap(w);
	if (w->once && !w->stopping && once_done(w))
		begin_stop(w, "--once");
	if (w->stopping && hosts_live(w) == 0) {
		ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	schedule(w);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	schedule(t->data);
	write_status(t->data);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct watch *w = s->data;

	(void)loop;
	(void)revents;
	if (s->signum == SIGUSR1) {
		for (size_t i = 0; i < w->n_hosts; i++)
			if (!w->hosts[i]->retired)
				print_host_state(w, w->hosts[i]);
		return;
	}
	if (s->signum == SIGHUP) {
		if (w->stopping)
			return;
		wlog(w, L_INFO, NULL, "reload", NULL, "SIGHUP: reloading %s", w->state_path);
		for (size_t i = 0; i < w->n_files; i++)
			hash_file(w->files[i]->path, w->files[i]->hash);
		reload(w, OCC_WATCH_EV_MANUAL);
		schedule(w);
		return;
	}
	if (w->stopping) {
		wlog(w, L_INFO, NULL, "stopping", NULL, "still waiting for %zu host%s to finish",
		     hosts_live(w), hosts_live(w) == 1 ? "" : "s");
		return;
	}
	w->exit_code = OCC_EXIT_OK;
	begin_stop(w, s->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- set-up and tear-down ----------------------------------------------- */

static void watch_init(struct watch *w, struct occ_cli *cli, bool once)
{
	memset(w, 0, sizeof(*w));
	w->cli = cli;
	w->once = once;
	w->state = cli->state;
	cli->state = NULL;
	/* Absolute: a daemon's log and status should not depend on its cwd. */
	w->state_path = occ_path_resolve(cli->file, NULL);
	w->project = occ_xstrdup(w->state->name);
	w->journal = occ_journal_default_path(w->project);
	w->status_path = occ_watch_status_path(w->project);
	occ_error_clear(&w->config_err);
	iso_now(w->started, sizeof(w->started));
	pthread_mutex_init(&w->qmu, NULL);
	pthread_mutex_init(&w->lock_mu, NULL);
	pthread_mutex_init(&w->log_mu, NULL);
	occ_watch_debounce_init(&w->settle_db, OCC_WATCH_DEBOUNCE_MS, OCC_WATCH_DEBOUNCE_MAX_MS);
	w->loop = ev_default_loop(EVFLAG_AUTO);
	ev_async_init(&w->wake, on_wake);
	ev_timer_init(&w->tick, on_tick, 0., 0.);
	ev_timer_init(&w->settle, on_settle, 0., 0.);
	ev_timer_init(&w->racy, on_racy, 0., 0.);
	w->wake.data = w->tick.data = w->settle.data = w->racy.data = w;
	ev_async_start(w->loop, &w->wake);
}

static void signals_start(struct watch *w)
{
	struct { ev_signal *s; int signum; } sigs[] = {
		{ &w->sig_hup, SIGHUP }, { &w->sig_term, SIGTERM },
		{ &w->sig_int, SIGINT }, { &w->sig_usr1, SIGUSR1 },
	};

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(sigs); i++) {
		ev_signal_init(sigs[i].s, on_signal, sigs[i].signum);
		sigs[i].s->data = w;
		ev_signal_start(w->loop, sigs[i].s);
	}
}

static void watch_release(struct watch *w)
{
	struct msg *m = take_all(w);

	while (m) {
		struct msg *next = m->next;

		free(m);
		m = next;
	}
	for (size_t i = 0; i < w->n_hosts; i++)
		host_free(w->hosts[i]);
	free(w->hosts);
	stop_files(w);
	if (w->loop) {
		ev_signal_stop(w->loop, &w->sig_hup);
		ev_signal_stop(w->loop, &w->sig_term);
		ev_signal_stop(w->loop, &w->sig_int);
		ev_signal_stop(w->loop, &w->sig_usr1);
		ev_timer_stop(w->loop, &w->tick);
		ev_timer_stop(w->loop, &w->settle);
		ev_timer_stop(w->loop, &w->racy);
		ev_async_stop(w->loop, &w->wake);
		ev_loop_destroy(w->loop);
	}
	if (!w->once && w->status_path)
		unlink(w->status_path);
	occ_lock_release(w->instance);
	pthread_mutex_destroy(&w->qmu);
	pthread_mutex_destroy(&w->lock_mu);
	pthread_mutex_destroy(&w->log_mu);
	occ_state_free(w->state);
	free(w->status_path);
	free(w->journal);
	free(w->project);
	free(w->state_path);
}

/* One watcher per project: hold <data>/watch/<project>.lock for life. */
static int take_instance_lock(struct watch *w)
{
	struct occ_error err;
	char *dir = occ_watch_lock_dir();
	int ret;

	occ_error_clear(&err);
	ret = occ_lock_acquire(&w->instance, dir, w->project, "watch", 0, NULL, NULL, &err);
	free(dir);
	if (ret == OCC_ELOCKED) {
		occ_error_set(&err, OCC_ELOCKED, "another occ watch is already watching project '%s'",
			      w->project);
		occ_error_hint(&err, "stop it first; its state is in %s", w->status_path);
	}
	if (ret)
		occ_cli_print_error(w->cli, &err);
	return ret;
}

/* The first load: watch, then hash, then load, so no edit falls in between. */
static int watch_start(struct watch *w)
{
	size_t n;

	files_sync(w, w->state);
	if (reload(w, OCC_WATCH_EV_START) != 0)
		return OCC_EXIT_ERROR;
	n = 0;
	for (size_t i = 0; i < w->n_hosts; i++)
		n += !w->hosts[i]->retired;
	if (n == 0) {
		occ_cli_errorf(w->cli, "no host to watch%s%s", w->cli->host ? " named " : "",
			       w->cli->host ? w->cli->host : "");
		return OCC_EXIT_ERROR;
	}
	if (!w->once)
		wlog(w, L_INFO, NULL, "watching", NULL,
		     "watching %s and %zu referenced file%s (pid %ld); status in %s",
		     w->state_path, w->n_files - 1, w->n_files == 2 ? "" : "s", (long)getpid(),
		     w->status_path);
	return 0;
}

static int parse_args(struct occ_cli *cli, int argc, char **argv, bool *once)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'o')
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
		*once = true;
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int once_exit_code(const struct watch *w)
{
	for (size_t i = 0; i < w->n_hosts; i++)
		if (w->hosts[i]->sm.has_result && w->hosts[i]->sm.last_rc)
			return OCC_EXIT_ERROR;
	return OCC_EXIT_OK;
}

int cmd_watch(struct occ_cli *cli, int argc, char **argv)
{
	struct watch w;
	bool once = false;
	int ret = parse_args(cli, argc, argv, &once);

	if (ret)
		return ret;
	watch_init(&w, cli, once);
	if (!once && take_instance_lock(&w) != 0) {
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	signals_start(&w);
	ret = watch_start(&w);
	if (ret) {
		begin_stop(&w, "start-up failed");
		if (hosts_live(&w))
			ev_run(w.loop, 0);
		goto out;
	}
	write_status(&w);
	schedule(&w);
	ev_run(w.loop, 0);
	ret = once ? once_exit_code(&w) : w.exit_code;
	if (!once)
		wlog(&w, L_INFO, NULL, "stopped", NULL, "stopped");
out:
	watch_release(&w);
	return ret;
}
