/*
 * conn.c - see conn.h.
 */
#include "drivers/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/docker/docker.h"
#include "drivers/ssh/ssh.h"
#include "model/util.h"

struct occ_conn {
	struct occ_ssh *ssh;      /* NULL: this machine */
};

int occ_conn_open(struct occ_conn **out, const struct occ_host *h, const struct occ_conn_opts *o,
		  struct occ_error *err)
{
	struct occ_conn *c = occ_xcalloc(1, sizeof(*c));
	struct occ_ssh_opts so;
	int ret;

	if (!h || !h->address) {
		*out = c;
		return 0;
	}
	memset(&so, 0, sizeof(so));
	so.name = h->name;
	so.address = h->address;
	so.user = h->user;
	so.port = h->port;
	so.identity = h->identity;
	so.remote_socket = h->socket;
	so.accept_new = o && o->accept_new;
	so.interactive = o && o->interactive;
	so.trace = o ? o->trace : NULL;
	ret = occ_ssh_open(&c->ssh, &so, err);
	if (ret) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int occ_conn_driver(struct occ_conn *c, struct occ_driver **out, struct occ_error *err)
{
	if (c->ssh)
		return occ_ssh_docker_open(out, c->ssh, err);
	return occ_docker_open(out, NULL, err);
}

bool occ_conn_is_remote(const struct occ_conn *c)
{
	return c->ssh != NULL;
}

void occ_conn_get_info(struct occ_conn *c, struct occ_conn_info *out)
{
	struct occ_ssh_info si;

	memset(out, 0, sizeof(*out));
	if (!c->ssh) {
		const char *dh = getenv("DOCKER_HOST");

		snprintf(out->endpoint, sizeof(out->endpoint), "%s",
			 dh && *dh ? dh : "unix:///var/run/docker.sock");
		return;
	}
	occ_ssh_get_info(c->ssh, &si);
	out->ssh = true;
	snprintf(out->endpoint, sizeof(out->endpoint), "%s", si.endpoint);
	snprintf(out->banner, sizeof(out->banner), "%s", si.banner);
	snprintf(out->hostkey_type, sizeof(out->hostkey_type), "%s", si.hostkey_type);
	snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", si.fingerprint);
	snprintf(out->kex, sizeof(out->kex), "%s", si.kex);
	out->handshake_ms = si.handshake_ms;
	out->handshakes = si.handshakes;
	out->connected = si.connected;
}

int occ_conn_forward(struct occ_conn *c, const char *bind, uint16_t *local_port,
		     const char *host, uint16_t port, struct occ_error *err)
{
	if (!c->ssh)
		return occ_error_set(err, OCC_EINVALID,
				     "this machine needs no forwarding: open the service's URL directly");
	return occ_ssh_listen(c->ssh, bind, local_port, host, port, err);
}

void occ_conn_close(struct occ_conn *c)
{
	if (!c)
		return;
	occ_ssh_close(c->ssh);
	free(c);
}
