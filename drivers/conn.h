/*
 * conn.h - how occ reaches one host: this machine's Docker socket, or one
 * SSH connection kept open for the host's whole life in the process.
 *
 * A connection hands out any number of Docker drivers (a command's observe
 * and apply use one; `occ watch` gives its events stream a second one); over
 * SSH they share the one session, each on a channel of its own, so a no-op
 * reconcile of a remote host costs one handshake when the connection opens
 * and none after. The SSH side reconnects by itself (with backoff) when the
 * session drops. Thread-safe: drivers may be opened from any thread.
 */
#ifndef OCC_CONN_H
#define OCC_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "model/error.h"
#include "model/state.h"

struct occ_conn;

struct occ_conn_opts {
	bool accept_new;     /* record an unknown SSH host key (never a changed one) */
	bool interactive;    /* may ask for a key passphrase on the terminal */
	/* Optional, must outlive the connection; may be called from another
	 * thread: SSH handshakes, reconnects, lost connections. */
	const struct occ_trace_sink *trace;
};

/* What a connection is, for `occ host test` and status. */
struct occ_conn_info {
	bool ssh;                 /* over SSH (else the local Docker socket) */
	char endpoint[160];       /* "unix:///var/run/docker.sock", "ssh://root@10.0.0.5:22" */
	char banner[128];         /* the SSH server's version */
	char hostkey_type[32];
	char fingerprint[80];     /* "SHA256:..." */
	char kex[64];
	double handshake_ms;      /* the last SSH handshake */
	unsigned handshakes;      /* SSH handshakes so far (1 after opening) */
	bool connected;           /* the SSH session is up now */
};

/*
 * Open a connection to h: NULL or a host without an address is this
 * machine ($DOCKER_HOST or the default socket; no I/O). A remote host is
 * connected at once (host key, login), so its problems are reported here,
 * naming the host. *out is written only on success.
 */
int occ_conn_open(struct occ_conn **out, const struct occ_host *h, const struct occ_conn_opts *o,
		  struct occ_error *err);

/* A new Docker driver over c (no I/O). Free it with occ_driver_free() before
 * closing c. */
int occ_conn_driver(struct occ_conn *c, struct occ_driver **out, struct occ_error *err);

/* Whether c reaches a remote host. */
bool occ_conn_is_remote(const struct occ_conn *c);

void occ_conn_get_info(struct occ_conn *c, struct occ_conn_info *out);

/*
 * Listen on bind:*local_port (NULL: 127.0.0.1; 0: any free port, written
 * back) and forward each connection to host:port as the remote machine sees
 * it, until c is closed. Only for remote hosts (OCC_EINVALID otherwise).
 */
int occ_conn_forward(struct occ_conn *c, const char *bind, uint16_t *local_port,
		     const char *host, uint16_t port, struct occ_error *err);

/* Close (NULL is a no-op). Every driver opened over c must be freed first. */
void occ_conn_close(struct occ_conn *c);

#endif
