/*
 * ssh-int.h - private to drivers/ssh/ (and its tests).
 *
 * The SSH transport, in layers:
 *
 *   ssh-config.c   pure: the ~/.ssh/config subset, ProxyJump specs (unit-tested);
 *   ssh-session.c  one session: TCP connect, handshake, known_hosts, auth;
 *   ssh-jump.c     ProxyJump: a session through another session's channel;
 *   ssh-pump.c     bytes between a local socket and a channel, EOF both ways;
 *   ssh.c          the API (ssh.h): the bridge thread, its listeners and
 *                  reconnects, and the Docker driver over it.
 */
#ifndef OCC_SSH_INT_H
#define OCC_SSH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "model/error.h"

#define OCC_SSH_CONFIG_MAX (1u << 20)   /* a larger ~/.ssh/config is refused */

/*
 * What ~/.ssh/config says about one host alias. Every field NULL / 0 when no
 * matching block sets it. Like ssh(1), the first value found wins, blocks are
 * read in file order, and `Host` patterns are fnmatch(3) globs where a `!`
 * pattern that matches excludes the block. `Match` blocks and `Include` are
 * not understood: their contents are skipped (documented in README).
 */
struct occ_ssh_config {
	char *hostname;       /* HostName, "%h" replaced by the alias */
	char *user;           /* User */
	uint16_t port;        /* Port; 0 when unset */
	char *identity;       /* the first IdentityFile, "~/" expanded with home */
	char *proxy_jump;     /* ProxyJump ("none" is reported as NULL) */
};

/*
 * Parse text (len bytes, need not be NUL-terminated) for alias. name is the
 * file, for messages; home expands "~/". OCC_EINVALID, with err->file and
 * line, for a bad Port or an unterminated quote. Pure. *out is written only
 * on success; release it with occ_ssh__config_release().
 */
int occ_ssh__config_parse(struct occ_ssh_config *out, const char *text, size_t len,
			  const char *alias, const char *name, const char *home,
			  struct occ_error *err);
void occ_ssh__config_release(struct occ_ssh_config *c);

/* Whether a `Host` line's patterns (space-separated, already split into
 * argv) select alias. Pure. */
int occ_ssh__host_matches(const char *const *patterns, size_t n, const char *alias);

#endif

/* One ProxyJump hop, "[user@]host[:port]" (or ssh://...); port 0 = unset. */
struct occ_ssh_jump_spec {
	char *user;           /* NULL when not given */
	char *host;
	uint16_t port;
};

/* OCC_EPERM for several hops ("a,b": not supported), OCC_EINVALID for a
 * malformed one. Pure. */
int occ_ssh__parse_jump(struct occ_ssh_jump_spec *out, const char *spec, struct occ_error *err);
void occ_ssh__jump_spec_release(struct occ_ssh_jump_spec *j);

/* ---- sessions (ssh-session.c) ------------------------------------------- */

#include <stdbool.h>
#include <libssh2.h>

struct occ_ssh_info;

/* Where and as whom to connect, resolved from the options, ~/.ssh/config
 * and the defaults. */
struct occ_ssh_target {
	char *name;           /* the state file's host name */
	char *host;           /* what to connect to (HostName, else the address) */
	char *user;
	uint16_t port;
	char *identity;       /* an explicit key (options, then config), or NULL */
	char *known_hosts;
	bool accept_new, interactive;
	long timeout_ms;
	char *passphrase;     /* the key's, once it worked; wiped on release */
	struct occ_ssh_target *jump; /* ProxyJump: reach host:port through this one */
	int (*ask)(void *ctx, const char *key_path, char *buf, size_t cap);
	void *ask_ctx;        /* the options' ask_passphrase, or NULL: /dev/tty */
	char label[256];      /* "host 'lab' (10.231.1.2:22)", for messages */
};
void occ_ssh__target_release(struct occ_ssh_target *t);

struct occ_ssh_jump;

/* One authenticated session on a blocking, connected socket. */
struct occ_ssh_conn {
	int fd;
	LIBSSH2_SESSION *session;
	struct occ_ssh_jump *jump;  /* ProxyJump: the hop fd is bridged through */
};

/* ---- ProxyJump (ssh-jump.c) ---------------------------------------------- */

/*
 * Connect to the jump host jt, open a direct-tcpip channel to host:port
 * there, and bridge it (a thread of its own, which alone owns the jump
 * session) to one end of a socketpair, returned in *fd: the target's session
 * runs over it as over a TCP socket. Blocking, bounded by jt->timeout_ms.
 * When either side ends, the other sees EOF.
 */
int occ_ssh__jump_open(struct occ_ssh_jump **out, int *fd, struct occ_ssh_target *jt,
		       const char *host, uint16_t port, struct occ_error *err);
/* Stop the thread and close the jump session. NULL is a no-op. */
void occ_ssh__jump_close(struct occ_ssh_jump *j);

/*
 * Connect, handshake, check the host key, authenticate (agent, then key
 * files); fill the handshake fields of info. Blocking, bounded by
 * t->timeout_ms. On failure conn is left closed (fd -1, no session).
 */
int occ_ssh__connect(struct occ_ssh_conn *conn, struct occ_ssh_target *t,
		     struct occ_ssh_info *info, struct occ_error *err);
/* Disconnect politely (bounded) and free. Safe on a closed conn. */
void occ_ssh__disconnect(struct occ_ssh_conn *conn, const char *why);

/* ---- pumps (ssh-pump.c) ------------------------------------------------- */

#define OCC_SSH_BUF (64u << 10)

struct occ_ssh_listener;

/* A local socket joined to a channel; the buffers hold what one side sent
 * and the other has not taken yet. */
struct occ_ssh_pump {
	int fd;
	const struct occ_ssh_listener *l; /* ssh.c's: where the client came from */
	LIBSSH2_CHANNEL *ch;  /* NULL while the open is pending */
	char up[OCC_SSH_BUF];    /* client -> channel */
	size_t up_len;
	char down[OCC_SSH_BUF];  /* channel -> client */
	size_t down_off, down_len;
	bool client_eof, eof_sent, chan_eof, shut_wr, done;
	struct occ_ssh_pump *next;
};

/* Whether a libssh2 error code means the whole session is gone. */
bool occ_ssh__fatal(int rc);

/*
 * Move bytes one step each way (client -> channel, channel -> client) and
 * pass EOF on; sets *progress when anything moved and p->done once both
 * sides are finished or the client broke. Returns 0, or a fatal libssh2
 * code (the session died). Only the session's owning thread may call it.
 */
int occ_ssh__pump_step(struct occ_ssh_pump *p, bool *progress);

/* "SHA256:<base64 without padding>" of a raw key blob. */
void occ_ssh__fingerprint(char *out, size_t cap, const unsigned char *key, size_t len);
