/*
 * ssh.h - the SSH transport: one persistent SSH connection to one host, and
 * local sockets bridged through it.
 *
 * occ_ssh_open() connects, checks the host key against known_hosts and
 * authenticates, all before it returns, so every configuration mistake is
 * reported there. It then starts one bridge thread, the only code that calls
 * libssh2 from then on (libssh2 sessions are not thread-safe). The bridge
 * serves local sockets in a private 0700 directory (under $XDG_RUNTIME_DIR,
 * else /tmp): each client accepted there gets a channel of its own to the
 * remote Docker socket (direct-streamlocal@openssh.com) or to a remote TCP
 * port (direct-tcpip), with data and EOF pumped both ways. libcurl keeps one
 * connection per Docker driver, so a driver costs one channel, and a whole
 * no-op reconcile one handshake and one channel.
 *
 * When the session drops (sshd gone, network down), open clients are closed;
 * the next client accepted triggers a reconnect (which holds up the bridge's
 * other clients for at most timeout_ms), at most one attempt per backoff
 * period (0.5 s doubling to 30 s) so a dead host is not hammered;
 * clients arriving in between are closed at once, and a Docker driver opened
 * with occ_ssh_docker_open() reports the last connection error, naming the
 * host. SSH keepalives (every 15 s) notice a peer that vanished silently.
 *
 * Errors, for every function here: OCC_EDAEMON (cannot resolve, connect, or
 * complete the handshake; the channel refused),
 * OCC_EPERM (unknown or changed host key, authentication refused, encrypted
 * key without a way to ask for its passphrase, unsupported ProxyJump),
 * OCC_ETIMEOUT (no answer within
 * timeout_ms), OCC_EINVALID (bad ~/.ssh/config), OCC_EIO (local files and
 * sockets). Messages name the host and end with a hint.
 *
 * Nothing here prints. Passphrases come from the caller's ask_passphrase or
 * /dev/tty (never argv or the environment), are kept in memory for
 * reconnects, and wiped on close.
 */
#ifndef OCC_SSH_H
#define OCC_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "model/error.h"

struct occ_ssh;

struct occ_ssh_opts {
	const char *name;           /* host name from the state file, for messages; required */
	const char *address;        /* as written; a ~/.ssh/config Host block may map it (HostName); required */
	const char *user;           /* NULL: ssh config User, then $USER / getpwuid */
	uint16_t port;              /* 0: ssh config Port, then 22 */
	const char *identity;       /* NULL: ssh config IdentityFile, then ~/.ssh/id_ed25519, id_ecdsa */
	const char *remote_socket;  /* NULL: /var/run/docker.sock */
	bool accept_new;            /* unknown host key: record it in known_hosts and go on */
	bool interactive;           /* may ask for a key passphrase (ask_passphrase, else /dev/tty) */
	/* Optional, with interactive: the caller's prompt for the passphrase of
	 * key_path (the CLI's, so the library never touches the terminal): write
	 * it NUL-terminated into buf (cap bytes), return 0, or non-zero to give up
	 * (OCC_ECANCELED). NULL: occ asks on /dev/tty, echo off. Asked once: the
	 * passphrase is kept in memory for reconnects and wiped on close. */
	int (*ask_passphrase)(void *ctx, const char *key_path, char *buf, size_t cap);
	void *ask_ctx;
	const char *known_hosts;    /* NULL: ~/.ssh/known_hosts */
	const char *ssh_config;     /* NULL: ~/.ssh/config (if present); "none": don't read one */
	long timeout_ms;            /* connect + handshake + auth; 0 = 10 s */
	/* Optional, must outlive the connection; called from the bridge thread
	 * too: "ssh lab: handshake 10.231.1.2:22 curve25519-sha256 31.2 ms",
	 * "ssh lab: connection lost: ...", "ssh lab: reconnect failed: ...". */
	const struct occ_trace_sink *trace;
};

/*
 * Connect to o->address and start the bridge. Does network I/O (blocking, at
 * most timeout_ms per session). A ProxyJump in ~/.ssh/config is followed for
 * one hop ("[user@]jump[:port]", the jump host's own Host block applying to
 * it, the target's key used when it names none): the target's session runs
 * through a direct-tcpip channel of the jump host's, each checked against
 * known_hosts. Several hops ("a,b") and a jump host behind its own ProxyJump
 * are refused with OCC_EPERM. *out is written only on success; close it with
 * occ_ssh_close().
 */
int occ_ssh_open(struct occ_ssh **out, const struct occ_ssh_opts *o, struct occ_error *err);

/* "unix:///run/user/0/occ-ssh-XXXXXX/docker.sock": a local socket bridged to
 * the remote Docker socket, for occ_docker_open(). Valid until close. */
const char *occ_ssh_docker_host(struct occ_ssh *s);

/*
 * Write to path (cap bytes) a local unix socket bridged to host:port as seen
 * from the remote machine (direct-tcpip), e.g. a container's published port,
 * for HTTP probes. The same host:port gives the same socket. No network I/O:
 * channels open per accepted client. OCC_EIO, OCC_EINVALID (path too long).
 * Thread-safe.
 */
int occ_ssh_tcp_socket(struct occ_ssh *s, const char *host, uint16_t port, char *path,
		       size_t cap, struct occ_error *err);

/*
 * Listen on bind:*local_port (TCP; bind NULL = 127.0.0.1; *local_port 0 =
 * any free port, written back) and forward each connection to host:port on
 * the remote side (for `occ open --host`). Lives until close. OCC_EIO (port
 * in use: OCC_EPORT). Thread-safe.
 */
int occ_ssh_listen(struct occ_ssh *s, const char *bind, uint16_t *local_port,
		   const char *host, uint16_t port, struct occ_error *err);

struct occ_ssh_info {
	unsigned handshakes;        /* successful handshakes, the first included */
	unsigned channels_opened;   /* channels opened since occ_ssh_open */
	double handshake_ms;        /* the last one: connect + kex + auth */
	char banner[128];           /* the server's identification string */
	char hostkey_type[32];      /* "ssh-ed25519" */
	char fingerprint[80];       /* "SHA256:base64", as OpenSSH prints it */
	char kex[64];               /* "curve25519-sha256" */
	char endpoint[160];         /* "ssh://user@addr:port" */
	bool connected;             /* the session is up now */
};

/* A snapshot (thread-safe, no I/O). */
void occ_ssh_get_info(struct occ_ssh *s, struct occ_ssh_info *out);

/* Stop the bridge thread, close every client and the session, remove the
 * private directory. NULL is a no-op. Drivers opened over s must be freed
 * first. */
void occ_ssh_close(struct occ_ssh *s);

/*
 * Open a Docker driver over s: occ_docker_open() on the bridge socket, with
 * the endpoint in messages "host 'lab' (ssh://root@10.231.1.2:22)", transport
 * failures explained by the SSH side (why the host cannot be reached), and
 * the HTTP health probe going through occ_ssh_tcp_socket() (the published
 * port is reached from the remote machine). No I/O. s must outlive the
 * driver; free it with occ_driver_free().
 */
int occ_ssh_docker_open(struct occ_driver **out, struct occ_ssh *s, struct occ_error *err);

#endif
