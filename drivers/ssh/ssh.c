/*
 * ssh.c - the bridge: local sockets in a private directory, one channel per
 * accepted client, pumped by one thread that alone owns the libssh2 session.
 *
 * Other threads only add listeners (under the mutex) and poke the thread
 * through a pipe; they never call libssh2. The session runs non-blocking
 * inside the thread: every loop tries each pump until nothing moves, then
 * polls the SSH socket, the listeners, the clients and the wake pipe.
 *
 * Channel opens are serialised (libssh2 keeps one open in progress per
 * session): the oldest pump without a channel is retried until it gets one
 * or is refused. Finished channels are freed on later turns, as closing one
 * waits for the peer's CLOSE.
 *
 * Built with _GNU_SOURCE (drivers/CMakeLists.txt: banned.h is force-included
 * before this file) for accept4() and pipe2(): every fd here is born O_CLOEXEC,
 * with no window for another thread's fork+exec to inherit it.
 */
#include "drivers/ssh/ssh.h"
#include "drivers/ssh/ssh-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "drivers/docker/docker-int.h"
#include "model/util.h"

#define BACKOFF_MIN_MS  500u
#define BACKOFF_MAX_MS  30000u
#define DEFAULT_TIMEOUT 10000L
#define MAX_POLL        1024

enum listener_kind { L_STREAMLOCAL, L_TCP };

struct occ_ssh_listener {
	int fd;
	enum listener_kind kind;
	char *target;         /* remote socket path, or remote host */
	uint16_t port;        /* remote port (TCP) */
	char *path;           /* our unix socket, NULL for a TCP listener */
	struct occ_ssh_listener *next;
};

struct dying {
	LIBSSH2_CHANNEL *ch;
	struct dying *next;
};

struct occ_ssh {
	struct occ_ssh_target t;
	char *remote_socket;
	char *dir;
	char *docker_host;     /* "unix://<dir>/docker.sock" */
	char endpoint[256];    /* "host 'lab' (ssh://root@10.231.1.2:22)" */
	const struct occ_trace_sink *trace;

	/* Bridge thread only. */
	struct occ_ssh_conn conn;
	struct occ_ssh_pump *pumps;
	struct dying *dying;
	uint64_t next_try_ms;
	unsigned backoff_ms;

	pthread_t thread;
	bool thread_started;
	int wake[2];

	pthread_mutex_t mu;    /* guards what follows */
	struct occ_ssh_listener *listeners;
	unsigned n_sockets;
	bool stop;
	struct occ_ssh_info info;
	struct occ_error last_err;   /* the last failure, until a channel opens */
	bool have_err;
};

/* ---- helpers -------------------------------------------------------------- */

static void tracef(struct occ_ssh *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tracef(struct occ_ssh *s, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (!s->trace || !s->trace->fn)
		return;
	n = snprintf(line, sizeof(line), "ssh %s: ", s->t.name);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	s->trace->fn(s->trace->ctx, line);
}

static void set_err(struct occ_ssh *s, const struct occ_error *err)
{
	pthread_mutex_lock(&s->mu);
	s->last_err = *err;
	s->have_err = true;
	pthread_mutex_unlock(&s->mu);
}

static void wake(struct occ_ssh *s)
{
	char c = 1;

	if (write(s->wake[1], &c, 1) < 0)
		(void)0;  /* the pipe is full: the thread is awake anyway */
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- pumps ---------------------------------------------------------------- */

static void pump_free(struct occ_ssh *s, struct occ_ssh_pump *p)
{
	if (p->ch) {
		struct dying *d = occ_xcalloc(1, sizeof(*d));

		d->ch = p->ch;
		d->next = s->dying;
		s->dying = d;
	}
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void reap_dying(struct occ_ssh *s)
{
	struct dying **pp = &s->dying, *d;

	while ((d = *pp)) {
		if (libssh2_channel_free(d->ch) == LIBSSH2_ERROR_EAGAIN) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		free(d);
	}
}

/* The direct-streamlocal@openssh.com open message after the window and
 * packet sizes (OpenSSH's PROTOCOL, 2.4): socket path, reserved string,
 * reserved uint32. */
static LIBSSH2_CHANNEL *open_streamlocal(LIBSSH2_SESSION *ss, const char *path)
{
	static const char type[] = "direct-streamlocal@openssh.com";
	static const char reserved[] = "127.0.0.1";
	unsigned char msg[4 + 108 + 4 + sizeof(reserved) + 4];
	size_t plen = strlen(path), rlen = strlen(reserved), o = 0;

	if (plen > 108)
		return NULL;
	msg[o++] = (unsigned char)(plen >> 24); msg[o++] = (unsigned char)(plen >> 16);
	msg[o++] = (unsigned char)(plen >> 8);  msg[o++] = (unsigned char)plen;
	memcpy(msg + o, path, plen);
	o += plen;
	msg[o++] = 0; msg[o++] = 0; msg[o++] = 0; msg[o++] = (unsigned char)rlen;
	memcpy(msg + o, reserved, rlen);
	o += rlen;
	memset(msg + o, 0, 4);
	o += 4;
	return libssh2_channel_open_ex(ss, type, sizeof(type) - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT,
				       LIBSSH2_CHANNEL_PACKET_DEFAULT, (const char *)msg,
				       (unsigned)o);
}

/* Open the first pending channel. Returns a fatal libssh2 code, or 0. */
static int open_pending(struct occ_ssh *s, bool *progress)
{
	LIBSSH2_SESSION *ss = s->conn.session;
	struct occ_error err;
	struct occ_ssh_pump *p;
	char *msg = NULL;
	int rc;

	for (p = s->pumps; p && (p->ch || p->done); p = p->next)
		;
	if (!p)
		return 0;
	p->ch = p->l->kind == L_STREAMLOCAL
		? open_streamlocal(ss, p->l->target)
		: libssh2_channel_direct_tcpip_ex(ss, p->l->target, p->l->port, "127.0.0.1", 0);
	if (p->ch) {
		pthread_mutex_lock(&s->mu);
		s->info.channels_opened++;
		s->have_err = false;
		pthread_mutex_unlock(&s->mu);
		*progress = true;
		return 0;
	}
	rc = libssh2_session_last_error(ss, &msg, NULL, 0);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return 0;
	if (occ_ssh__fatal(rc))
		return rc;
	/* The host refused this channel: the remote socket or port is not there. */
	p->done = true;
	*progress = true;
	occ_error_clear(&err);
	if (p->l->kind == L_STREAMLOCAL) {
		occ_error_set(&err, OCC_EDAEMON, "%s cannot reach the Docker socket %s there: %s",
			      s->t.label, p->l->target, msg && *msg ? msg : "channel refused");
		occ_error_hint(&err, "is dockerd running on that machine, with its socket at %s "
			       "(the host's socket: in the state file)? sshd must allow "
			       "AllowStreamLocalForwarding", p->l->target);
		set_err(s, &err);
	} else {
		/* Not an error for the Docker socket: a health probe meets this
		 * while the service starts; the client sees its connection close. */
		occ_error_set(&err, OCC_EDAEMON, "%s cannot reach %s:%u from there: %s",
			      s->t.label, p->l->target, (unsigned)p->l->port,
			      msg && *msg ? msg : "channel refused");
	}
	tracef(s, "%s", err.msg);
	return 0;
}

/* ---- the session ---------------------------------------------------------- */

static bool reconnect(struct occ_ssh *s);

/* Close clients whose channel died with the session; with keep_pending,
 * clients still waiting for a channel stay, for the next session. */
static void drop_clients(struct occ_ssh *s, bool keep_pending)
{
	struct occ_ssh_pump **pp = &s->pumps, *p;

	while ((p = *pp)) {
		if (keep_pending && !p->ch && !p->done) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->ch = NULL;   /* freed with the session */
		pump_free(s, p);
	}
}

static void session_lost(struct occ_ssh *s)
{
	struct occ_error err;
	char *msg = NULL;
	struct dying *d;

	libssh2_session_last_error(s->conn.session, &msg, NULL, 0);
	occ_error_clear(&err);
	occ_error_set(&err, OCC_EDAEMON, "the SSH connection to %s was lost: %s", s->t.label,
		      msg && *msg ? msg : "connection closed");
	occ_error_hint(&err, "occ reconnects on the next request; is sshd still running there?");
	tracef(s, "%s", err.msg);
	drop_clients(s, true);
	while ((d = s->dying)) {
		s->dying = d->next;
		free(d);
	}
	occ_ssh__disconnect(&s->conn, NULL);
	pthread_mutex_lock(&s->mu);
	s->info.connected = false;
	s->last_err = err;
	s->have_err = true;
	pthread_mutex_unlock(&s->mu);
	s->next_try_ms = 0;
	s->backoff_ms = 0;
	/* A client that arrived as the session died (found dead only when its
	 * channel was opened, typically after an idle spell) gets a new one now. */
	if (s->pumps && !reconnect(s))
		drop_clients(s, false);
}

static void connected(struct occ_ssh *s, const struct occ_ssh_info *hs)
{
	libssh2_session_set_blocking(s->conn.session, 0);
	set_nonblock(s->conn.fd);
	pthread_mutex_lock(&s->mu);
	s->info.handshakes++;
	s->info.handshake_ms = hs->handshake_ms;
	memcpy(s->info.banner, hs->banner, sizeof(s->info.banner));
	memcpy(s->info.hostkey_type, hs->hostkey_type, sizeof(s->info.hostkey_type));
	memcpy(s->info.fingerprint, hs->fingerprint, sizeof(s->info.fingerprint));
	memcpy(s->info.kex, hs->kex, sizeof(s->info.kex));
	s->info.connected = true;
	pthread_mutex_unlock(&s->mu);
	tracef(s, "handshake %s:%u %s %.1f ms", s->t.host, (unsigned)s->t.port, hs->kex,
	       hs->handshake_ms);
}

/* Bring the session back for a new client, at most once per backoff period. */
static bool reconnect(struct occ_ssh *s)
{
	struct occ_ssh_info hs;
	struct occ_error err;
	uint64_t now = occ_now_ms();

	if (now < s->next_try_ms)
		return false;
	memset(&hs, 0, sizeof(hs));
	occ_error_clear(&err);
	if (occ_ssh__connect(&s->conn, &s->t, &hs, &err) == 0) {
		s->backoff_ms = 0;
		connected(s, &hs);
		return true;
	}
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	s->next_try_ms = occ_now_ms() + s->backoff_ms;
	tracef(s, "reconnect failed (next try in %.1f s): %s", s->backoff_ms / 1000.0, err.msg);
	set_err(s, &err);
	return false;
}

static void accept_client(struct occ_ssh *s, const struct occ_ssh_listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct occ_ssh_pump *p, **tail;

	if (fd < 0)
		return;
	if (!s->conn.session && !reconnect(s)) {
		close(fd);  /* the client sees the connection close; last_err says why */
		return;
	}
	if (l->kind == L_TCP) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	p = occ_xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->l = l;
	for (tail = &s->pumps; *tail; tail = &(*tail)->next)
		;
	*tail = p;
}

/* Run every pump until nothing moves; false when the session died. */
static bool service(struct occ_ssh *s)
{
	struct occ_ssh_pump **pp, *p;
	bool progress;
	int rc = 0, next = 0;

	do {
		progress = false;
		rc = open_pending(s, &progress);
		for (p = s->pumps; p && !rc; p = p->next)
			if (p->ch && !p->done)
				rc = occ_ssh__pump_step(p, &progress);
	} while (progress && !rc);
	if (!rc && libssh2_keepalive_send(s->conn.session, &next) != 0) {
		rc = libssh2_session_last_errno(s->conn.session);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			rc = 0;
	}
	if (rc && occ_ssh__fatal(rc)) {
		session_lost(s);
		return false;
	}
	for (pp = &s->pumps; (p = *pp);) {
		if (p->done) {
			*pp = p->next;
			pump_free(s, p);
		} else {
			pp = &p->next;
		}
	}
	reap_dying(s);
	return true;
}

struct pollset {
	struct pollfd fds[MAX_POLL];
	const struct occ_ssh_listener *ls[MAX_POLL];
	size_t n, n_listen;
};

/*
 * Whether libssh2 will read the SSH socket this turn: only calls on channels
 * (read, open, free) do, and only when a pump can take data. Otherwise the
 * socket is watched for the peer closing only (POLLRDHUP): pending bytes no
 * one reads (a keepalive reply, a global request) must not spin the loop.
 */
static bool wants_input(const struct occ_ssh *s)
{
	const struct occ_ssh_pump *p;

	if (s->dying)
		return true;
	for (p = s->pumps; p; p = p->next)
		if (!p->done && (!p->ch || (p->down_off == p->down_len && !p->chan_eof) ||
				 p->up_len || (p->client_eof && !p->eof_sent)))
			return true;
	return false;
}

static void build_pollset(struct occ_ssh *s, struct pollset *ps)
{
	const struct occ_ssh_listener *l;
	struct occ_ssh_pump *p;
	short ev;
	int dir;

	ps->n = 0;
	ps->fds[ps->n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
	pthread_mutex_lock(&s->mu);
	for (l = s->listeners; l && ps->n < MAX_POLL / 2; l = l->next) {
		ps->ls[ps->n] = l;
		ps->fds[ps->n++] = (struct pollfd){ .fd = l->fd, .events = POLLIN };
	}
	pthread_mutex_unlock(&s->mu);
	ps->n_listen = ps->n;
	if (!s->conn.session)
		return;
	dir = libssh2_session_block_directions(s->conn.session);
	ev = wants_input(s) ? POLLIN : POLLRDHUP;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= POLLOUT;
	ps->fds[ps->n++] = (struct pollfd){ .fd = s->conn.fd, .events = ev };
	for (p = s->pumps; p && ps->n < MAX_POLL; p = p->next) {
		ev = 0;
		if (p->ch && !p->client_eof && p->up_len < OCC_SSH_BUF)
			ev |= POLLIN;
		if (p->down_off < p->down_len)
			ev |= POLLOUT;
		ps->fds[ps->n++] = (struct pollfd){ .fd = p->fd, .events = ev };
	}
}

/* Whether poll says the SSH peer is gone for good. While libssh2 reads the
 * socket (POLLIN asked) it finds out by itself, after the data before the
 * end; while nobody reads, a hang-up is final even with bytes pending (a
 * last DISCONNECT message), or the loop would wake for it forever. */
static bool peer_gone(const struct pollfd *pfd)
{
	if (!(pfd->events & POLLIN))
		return pfd->revents & (POLLERR | POLLHUP | POLLRDHUP);
	return (pfd->revents & (POLLERR | POLLHUP)) && !(pfd->revents & POLLIN);
}

static void *bridge_main(void *arg)
{
	struct occ_ssh *s = arg;
	struct pollset *ps = occ_xmalloc(sizeof(*ps));
	char drain[64];
	size_t i;

	for (;;) {
		bool stop;

		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (s->conn.session)
			service(s);
		build_pollset(s, ps);
		if (poll(ps->fds, (nfds_t)ps->n, 1000) < 0 && errno != EINTR)
			break;
		while (read(s->wake[0], drain, sizeof(drain)) > 0)
			;
		for (i = 1; i < ps->n_listen; i++)
			if (ps->fds[i].revents & POLLIN)
				accept_client(s, ps->ls[i]);
		if (ps->n > ps->n_listen && s->conn.session &&
		    peer_gone(&ps->fds[ps->n_listen]))
			session_lost(s);
	}
	free(ps);
	drop_clients(s, false);
	reap_dying(s);
	while (s->dying) {
		struct dying *d = s->dying;

		s->dying = d->next;
		free(d);
	}
	occ_ssh__disconnect(&s->conn, "occ closed the connection");
	return NULL;
}

/* ---- resolving the target ------------------------------------------------- */

/* The ssh config file's text, or NULL when there is none to read. */
static int read_config_text(char **text, size_t *len, char **path, const struct occ_ssh_opts *o,
			    struct occ_error *err)
{
	int ret;

	*text = *path = NULL;
	*len = 0;
	if (o->ssh_config && strcmp(o->ssh_config, "none") == 0)
		return 0;
	*path = o->ssh_config ? occ_xstrdup(o->ssh_config)
			      : occ_xasprintf("%s/.ssh/config", occ_home_dir());
	if (!o->ssh_config && access(*path, F_OK) != 0)
		return 0;
	ret = occ_read_file(*path, OCC_SSH_CONFIG_MAX, text, len, err);
	if (ret)
		occ_error_prefix(err, "host '%s': ", o->name);
	return ret;
}

static int config_for(struct occ_ssh_config *cfg, const char *text, size_t len,
		      const char *path, const char *alias, const char *name,
		      struct occ_error *err)
{
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (!text)
		return 0;
	ret = occ_ssh__config_parse(cfg, text, len, alias, path, occ_home_dir(), err);
	if (ret)
		occ_error_prefix(err, "host '%s': ", name);
	return ret;
}

static char *default_user(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u)
		return occ_xstrdup(u);
	pw = getpwuid(getuid());
	return occ_xstrdup(pw ? pw->pw_name : "root");
}

/*
 * The jump host of t from ProxyJump spec: its own Host block gives HostName,
 * User, Port and IdentityFile (a user and port in the spec win); without an
 * IdentityFile it uses the target's key. Only one hop, and no ProxyJump of
 * its own.
 */
static int resolve_jump(struct occ_ssh_target *t, const char *spec, const char *text,
			size_t len, const char *path, struct occ_error *err)
{
	struct occ_ssh_jump_spec js;
	struct occ_ssh_config cfg;
	struct occ_ssh_target *j;
	int ret = occ_ssh__parse_jump(&js, spec, err);

	if (ret) {
		occ_error_prefix(err, "host '%s': ", t->name);
		return ret;
	}
	ret = config_for(&cfg, text, len, path, js.host, t->name, err);
	if (ret)
		goto out;
	if (cfg.proxy_jump) {
		ret = occ_error_set(err, OCC_EPERM, "host '%s': ProxyJump through '%s', itself "
				    "behind ProxyJump %s: nested jumps are not supported",
				    t->name, js.host, cfg.proxy_jump);
		goto out;
	}
	j = t->jump = occ_xcalloc(1, sizeof(*j));
	j->name = occ_xstrdup(t->name);   /* hints name the state file's host */
	j->host = occ_xstrdup(cfg.hostname ? cfg.hostname : js.host);
	j->user = js.user ? occ_xstrdup(js.user) : cfg.user ? occ_xstrdup(cfg.user) : default_user();
	j->port = js.port ? js.port : cfg.port ? cfg.port : 22;
	j->identity = occ_xstrdup(cfg.identity ? cfg.identity : t->identity);
	j->known_hosts = occ_xstrdup(t->known_hosts);
	j->accept_new = t->accept_new;
	j->interactive = t->interactive;
	j->ask = t->ask;
	j->ask_ctx = t->ask_ctx;
	j->timeout_ms = t->timeout_ms;
	snprintf(j->label, sizeof(j->label), "jump host '%s' (%s:%u) of host '%s'", js.host,
		 j->host, (unsigned)j->port, t->name);
	snprintf(t->label, sizeof(t->label), "host '%s' (%s:%u via %s)", t->name, t->host,
		 (unsigned)t->port, js.host);
out:
	occ_ssh__config_release(&cfg);
	occ_ssh__jump_spec_release(&js);
	return ret;
}

static int resolve(struct occ_ssh *s, const struct occ_ssh_opts *o, struct occ_error *err)
{
	struct occ_ssh_target *t = &s->t;
	struct occ_ssh_config cfg = { 0 };
	char *text = NULL, *path = NULL;
	size_t len = 0;
	int ret = read_config_text(&text, &len, &path, o, err);

	if (!ret)
		ret = config_for(&cfg, text, len, path, o->address, o->name, err);
	if (ret)
		goto out;
	t->name = occ_xstrdup(o->name);
	t->host = occ_xstrdup(cfg.hostname ? cfg.hostname : o->address);
	t->user = o->user ? occ_xstrdup(o->user) : cfg.user ? occ_xstrdup(cfg.user) : default_user();
	t->port = o->port ? o->port : cfg.port ? cfg.port : 22;
	t->identity = o->identity ? occ_path_resolve(o->identity, NULL)
				  : occ_xstrdup(cfg.identity);
	t->known_hosts = o->known_hosts ? occ_xstrdup(o->known_hosts)
					: occ_xasprintf("%s/.ssh/known_hosts", occ_home_dir());
	t->accept_new = o->accept_new;
	t->interactive = o->interactive;
	t->ask = o->ask_passphrase;
	t->ask_ctx = o->ask_ctx;
	t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT;
	snprintf(t->label, sizeof(t->label), "host '%s' (%s:%u)", t->name, t->host,
		 (unsigned)t->port);
	if (cfg.proxy_jump)
		ret = resolve_jump(t, cfg.proxy_jump, text, len, path, err);
out:
	occ_ssh__config_release(&cfg);
	free(text);
	free(path);
	return ret;
}

/* ---- sockets -------------------------------------------------------------- */

static int make_dir(struct occ_ssh *s, struct occ_error *err)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char *tmpl;

	if (!base || !*base || access(base, W_OK) != 0)
		base = "/tmp";
	tmpl = occ_xasprintf("%s/occ-ssh-XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		int e = errno;

		free(tmpl);
		return occ_error_errno(err, OCC_EIO, e, "cannot create a private directory in %s",
				       base);
	}
	s->dir = tmpl;
	return 0;
}

static int unix_listener(int *out, const char *path, struct occ_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return occ_error_set(err, OCC_EINVALID, "socket path '%s' is too long", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot create a socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0) {
		int e = errno;

		close(fd);
		return occ_error_errno(err, OCC_EIO, e, "cannot listen on '%s'", path);
	}
	*out = fd;
	return 0;
}

static void add_listener(struct occ_ssh *s, struct occ_ssh_listener *l)
{
	struct occ_ssh_listener **tail;

	pthread_mutex_lock(&s->mu);
	for (tail = &s->listeners; *tail; tail = &(*tail)->next)
		;
	*tail = l;
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started)
		wake(s);
}

/* ---- the API -------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libssh2(void)
{
	libssh2_init(0);
}

int occ_ssh_open(struct occ_ssh **out, const struct occ_ssh_opts *o, struct occ_error *err)
{
	struct occ_ssh *s;
	struct occ_ssh_info hs;
	struct occ_ssh_listener *l;
	int ret;

	if (!o->name || !o->address)
		return occ_error_set(err, OCC_EINVALID, "an SSH host needs a name and an address");
	s = occ_xcalloc(1, sizeof(*s));
	pthread_once(&init_once, init_libssh2);
	pthread_mutex_init(&s->mu, NULL);
	s->conn.fd = -1;
	s->wake[0] = s->wake[1] = -1;
	s->trace = o->trace;
	s->remote_socket = occ_xstrdup(o->remote_socket ? o->remote_socket : OCC_DOCKER_DEFAULT_SOCKET);
	if (s->remote_socket[0] != '/' || strlen(s->remote_socket) >= 108) {
		ret = occ_error_set(err, OCC_EINVALID, "host '%s': the Docker socket '%s' is not an "
				    "absolute path of at most 107 bytes", o->name, s->remote_socket);
		goto out;
	}
	ret = resolve(s, o, err);
	if (ret)
		goto out;
	snprintf(s->info.endpoint, sizeof(s->info.endpoint), "ssh://%s@%s:%u", s->t.user,
		 s->t.host, (unsigned)s->t.port);
	snprintf(s->endpoint, sizeof(s->endpoint), "host '%s' (%s)", s->t.name, s->info.endpoint);
	memset(&hs, 0, sizeof(hs));
	ret = occ_ssh__connect(&s->conn, &s->t, &hs, err);
	if (ret)
		goto out;
	connected(s, &hs);
	ret = make_dir(s, err);
	if (ret)
		goto out;
	l = occ_xcalloc(1, sizeof(*l));
	l->kind = L_STREAMLOCAL;
	l->target = occ_xstrdup(s->remote_socket);
	l->path = occ_xasprintf("%s/docker.sock", s->dir);
	ret = unix_listener(&l->fd, l->path, err);
	if (ret) {
		free(l->target);
		free(l->path);
		free(l);
		goto out;
	}
	add_listener(s, l);
	s->docker_host = occ_xasprintf("unix://%s", l->path);
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot create a pipe");
		goto out;
	}
	if ((errno = pthread_create(&s->thread, NULL, bridge_main, s)) != 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot start the SSH bridge thread");
		goto out;
	}
	s->thread_started = true;
out:
	if (ret) {
		occ_ssh_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

const char *occ_ssh_docker_host(struct occ_ssh *s)
{
	return s->docker_host;
}

int occ_ssh_tcp_socket(struct occ_ssh *s, const char *host, uint16_t port, char *path,
		       size_t cap, struct occ_error *err)
{
	struct occ_ssh_listener *l;
	const char *found = NULL;
	unsigned n;
	int ret;

	pthread_mutex_lock(&s->mu);
	for (l = s->listeners; l && !found; l = l->next)
		if (l->kind == L_TCP && l->path && l->port == port && strcmp(l->target, host) == 0)
			found = l->path;
	n = ++s->n_sockets;
	pthread_mutex_unlock(&s->mu);
	if (found) {
		if (strlen(found) >= cap)
			return occ_error_set(err, OCC_EINVALID, "socket path '%s' is too long", found);
		memcpy(path, found, strlen(found) + 1);
		return 0;
	}
	l = occ_xcalloc(1, sizeof(*l));
	l->kind = L_TCP;
	l->target = occ_xstrdup(host);
	l->port = port;
	l->path = occ_xasprintf("%s/tcp-%u.sock", s->dir, n);
	ret = strlen(l->path) < cap ? unix_listener(&l->fd, l->path, err)
				    : occ_error_set(err, OCC_EINVALID, "socket path '%s' is too long",
						    l->path);
	if (ret) {
		free(l->target);
		free(l->path);
		free(l);
		return ret;
	}
	memcpy(path, l->path, strlen(l->path) + 1);
	add_listener(s, l);
	return 0;
}

int occ_ssh_listen(struct occ_ssh *s, const char *bind_addr, uint16_t *local_port,
		   const char *host, uint16_t port, struct occ_error *err)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(*local_port) };
	socklen_t len = sizeof(sin);
	struct occ_ssh_listener *l;
	int fd, one = 1, e;

	if (!bind_addr)
		bind_addr = "127.0.0.1";
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1)
		return occ_error_set(err, OCC_EINVALID, "cannot listen on '%s': not an IPv4 address",
				     bind_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot create a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		e = errno;
		close(fd);
		occ_error_errno(err, e == EADDRINUSE ? OCC_EPORT : OCC_EIO, e,
				"cannot listen on %s:%u for %s", bind_addr, (unsigned)*local_port,
				s->t.label);
		if (e == EADDRINUSE)
			occ_error_hint(err, "choose another local port");
		return err->code;
	}
	l = occ_xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->kind = L_TCP;
	l->target = occ_xstrdup(host);
	l->port = port;
	*local_port = ntohs(sin.sin_port);
	add_listener(s, l);
	return 0;
}

void occ_ssh_get_info(struct occ_ssh *s, struct occ_ssh_info *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->info;
	pthread_mutex_unlock(&s->mu);
}

void occ_ssh_close(struct occ_ssh *s)
{
	struct occ_ssh_listener *l, *next;

	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_mutex_unlock(&s->mu);
		wake(s);
		pthread_join(s->thread, NULL);
	} else {
		occ_ssh__disconnect(&s->conn, NULL);
	}
	for (l = s->listeners; l; l = next) {
		next = l->next;
		close(l->fd);
		if (l->path)
			unlink(l->path);
		free(l->path);
		free(l->target);
		free(l);
	}
	if (s->dir)
		rmdir(s->dir);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	pthread_mutex_destroy(&s->mu);
	occ_ssh__target_release(&s->t);
	free(s->remote_socket);
	free(s->docker_host);
	free(s->dir);
	free(s);
}

/* ---- the Docker driver over SSH ------------------------------------------- */

static int tr_tcp_socket(void *ctx, const char *host, uint16_t port, char *path, size_t cap,
			 struct occ_error *err)
{
	return occ_ssh_tcp_socket(ctx, host, port, path, cap, err);
}

/* A request failed below HTTP: when the bridge knows why (host unreachable,
 * channel refused), that is the better message. */
static void tr_explain(void *ctx, struct occ_error *err)
{
	struct occ_ssh *s = ctx;

	pthread_mutex_lock(&s->mu);
	if (s->have_err)
		*err = s->last_err;
	pthread_mutex_unlock(&s->mu);
}

int occ_ssh_docker_open(struct occ_driver **out, struct occ_ssh *s, struct occ_error *err)
{
	struct occ_docker_transport t = {
		.endpoint = occ_xstrdup(s->endpoint),
		.socket_path = occ_xstrdup(s->docker_host + strlen("unix://")),
		.tcp_socket = tr_tcp_socket,
		.explain = tr_explain,
		.ctx = s,
		/* Observe's independent reads go out at once, each on a channel of
		 * its own over the one session: one round trip instead of five on
		 * a distant host. */
		.parallel = true,
	};

	return occ_docker__open_transport(out, &t, err);
}
