/*
 * ssh-pump.c - moving bytes between a local socket and an SSH channel, both
 * non-blocking, EOF passed on each way. Used by the bridge (ssh.c) for every
 * client and by ProxyJump (ssh-jump.c) for the hop to the target.
 */
#include "drivers/ssh/ssh-int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* Whether a libssh2 error means the whole session is gone. */
bool occ_ssh__fatal(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_PROTO:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_KEX_FAILURE:
		return true;
	default:
		return false;
	}
}

/* Move bytes one step each way. Returns a fatal libssh2 code, or 0. */
int occ_ssh__pump_step(struct occ_ssh_pump *p, bool *progress)
{
	ssize_t n;

	if (!p->client_eof && p->up_len < OCC_SSH_BUF) {
		n = recv(p->fd, p->up + p->up_len, OCC_SSH_BUF - p->up_len, MSG_DONTWAIT);
		if (n > 0)
			p->up_len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			p->client_eof = true;
		*progress |= n >= 0 || p->client_eof;
	}
	while (p->up_len) {
		n = libssh2_channel_write(p->ch, p->up, p->up_len);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0) {
			p->done = true;
			return occ_ssh__fatal((int)n) ? (int)n : 0;
		}
		memmove(p->up, p->up + n, p->up_len - (size_t)n);
		p->up_len -= (size_t)n;
		*progress = true;
	}
	if (p->client_eof && !p->up_len && !p->eof_sent) {
		n = libssh2_channel_send_eof(p->ch);
		if (n == 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN && !occ_ssh__fatal((int)n)))
			p->eof_sent = *progress = true;
		else if (n < 0 && occ_ssh__fatal((int)n))
			return (int)n;
	}
	if (p->down_off == p->down_len && !p->chan_eof) {
		p->down_off = p->down_len = 0;
		n = libssh2_channel_read(p->ch, p->down, OCC_SSH_BUF);
		if (n > 0) {
			p->down_len = (size_t)n;
			*progress = true;
		} else if (n == 0 || (n < 0 && n != LIBSSH2_ERROR_EAGAIN)) {
			if (n < 0 && occ_ssh__fatal((int)n))
				return (int)n;
			if (n < 0 || libssh2_channel_eof(p->ch))
				p->chan_eof = *progress = true;
		}
	}
	if (p->down_off < p->down_len) {
		n = send(p->fd, p->down + p->down_off, p->down_len - p->down_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p->down_off += (size_t)n;
			*progress = true;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			p->done = true;
		}
	}
	if (p->chan_eof && p->down_off == p->down_len && !p->shut_wr) {
		shutdown(p->fd, SHUT_WR);
		p->shut_wr = *progress = true;
	}
	if (p->chan_eof && p->shut_wr && p->client_eof && p->eof_sent)
		p->done = true;
	return 0;
}

