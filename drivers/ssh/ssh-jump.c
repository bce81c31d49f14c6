/*
 * ssh-jump.c - ProxyJump: the target's SSH session runs over a socketpair
 * whose other end a thread pumps into a direct-tcpip channel of the jump
 * host's session. Each session keeps its own owning thread (the caller's or
 * the bridge's for the target, this one for the jump), so neither libssh2
 * session is ever used from two threads.
 *
 * Only one hop: "ProxyJump a,b" is refused where it is parsed (ssh.c).
 * Built with _GNU_SOURCE (drivers/CMakeLists.txt) for pipe2().
 */
#include "drivers/ssh/ssh-int.h"
#include "drivers/ssh/ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "model/util.h"

struct occ_ssh_jump {
	struct occ_ssh_conn conn;
	struct occ_ssh_pump pump;   /* fd: our end of the socketpair */
	pthread_t thread;
	bool thread_started;
	int stop[2];
};

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void *jump_main(void *arg)
{
	struct occ_ssh_jump *j = arg;
	struct occ_ssh_pump *p = &j->pump;
	LIBSSH2_SESSION *ss = j->conn.session;
	struct pollfd fds[3];
	bool progress;
	int rc = 0, next = 0, dir;

	for (;;) {
		do {
			progress = false;
			rc = occ_ssh__pump_step(p, &progress);
		} while (progress && !rc && !p->done);
		if (rc || p->done)
			break;
		if (libssh2_keepalive_send(ss, &next) != 0 &&
		    occ_ssh__fatal(libssh2_session_last_errno(ss)))
			break;
		dir = libssh2_session_block_directions(ss);
		fds[0] = (struct pollfd){ .fd = j->stop[0], .events = POLLIN };
		/* Read the jump socket only when the pump can take data (see
		 * wants_input in ssh.c); otherwise watch for the peer closing. */
		fds[1] = (struct pollfd){
			.fd = j->conn.fd,
			.events = (short)((p->down_off == p->down_len || p->up_len ? POLLIN : POLLRDHUP) |
					  (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND ? POLLOUT : 0)),
		};
		fds[2] = (struct pollfd){
			.fd = p->fd,
			.events = (short)((!p->client_eof && p->up_len < OCC_SSH_BUF ? POLLIN : 0) |
					  (p->down_off < p->down_len ? POLLOUT : 0)),
		};
		if (poll(fds, 3, 1000) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		/* As peer_gone() in ssh.c. */
		if (!(fds[1].events & POLLIN) ? fds[1].revents & (POLLHUP | POLLERR | POLLRDHUP)
					       : (fds[1].revents & (POLLHUP | POLLERR)) &&
						 !(fds[1].revents & POLLIN))
			break;
	}
	/* The target's session sees EOF and fails over to a reconnect. */
	shutdown(p->fd, SHUT_RDWR);
	return NULL;
}

int occ_ssh__jump_open(struct occ_ssh_jump **out, int *fd, struct occ_ssh_target *jt,
		       const char *host, uint16_t port, struct occ_error *err)
{
	struct occ_ssh_jump *j = occ_xcalloc(1, sizeof(*j));
	struct occ_ssh_info info;
	int sv[2] = { -1, -1 };
	char *msg = NULL;
	int ret;

	j->conn.fd = -1;
	j->pump.fd = -1;
	j->stop[0] = j->stop[1] = -1;
	memset(&info, 0, sizeof(info));
	ret = occ_ssh__connect(&j->conn, jt, &info, err);
	if (ret)
		goto out;
	j->pump.ch = libssh2_channel_direct_tcpip_ex(j->conn.session, host, port, "127.0.0.1", 22);
	if (!j->pump.ch) {
		libssh2_session_last_error(j->conn.session, &msg, NULL, 0);
		ret = occ_error_set(err, OCC_EDAEMON, "%s cannot reach %s:%u: %s", jt->label, host,
				    (unsigned)port, msg && *msg ? msg : "channel refused");
		occ_error_hint(err, "check the target's HostName and Port, and that the jump "
			       "host's sshd allows AllowTcpForwarding");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(j->stop, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot create a socket pair");
		goto out;
	}
	libssh2_session_set_blocking(j->conn.session, 0);
	nonblock(j->conn.fd);
	nonblock(sv[1]);
	j->pump.fd = sv[1];
	sv[1] = -1;
	if ((errno = pthread_create(&j->thread, NULL, jump_main, j)) != 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot start the ProxyJump thread");
		goto out;
	}
	j->thread_started = true;
	*fd = sv[0];
	sv[0] = -1;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (ret) {
		occ_ssh__jump_close(j);
		return ret;
	}
	*out = j;
	return 0;
}

void occ_ssh__jump_close(struct occ_ssh_jump *j)
{
	char c = 1;

	if (!j)
		return;
	if (j->thread_started) {
		if (write(j->stop[1], &c, 1) < 0)
			(void)0;
		pthread_join(j->thread, NULL);
	}
	if (j->pump.fd >= 0)
		close(j->pump.fd);
	/* The channel goes with the session. */
	occ_ssh__disconnect(&j->conn, j->thread_started ? "occ closed the connection" : NULL);
	if (j->stop[0] >= 0) {
		close(j->stop[0]);
		close(j->stop[1]);
	}
	free(j);
}
