/*
 * ssh-session.c - one SSH session: TCP connect, handshake, host key check,
 * authentication. Everything here blocks (bounded by the target's timeout);
 * the bridge (ssh.c) switches the session to non-blocking afterwards.
 *
 * Host keys follow OpenSSH's known_hosts, hashed entries included (libssh2's
 * knownhost API reads them). A key for the host that differs from the one on
 * file is refused even with accept_new: the user must remove the old line
 * (we say which one). Keys are tried as ssh(1) does: the agent's first, then
 * the identity file(s). libssh2 1.10 signs with RSA keys using SHA-1
 * ("ssh-rsa"), which OpenSSH 8.8+ refuses: a refused RSA key says so.
 */
#include "drivers/ssh/ssh-int.h"
#include "drivers/ssh/ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "model/util.h"

#define KEEPALIVE_S     15
#define MAX_KEY_FILE    (64u << 10)
#define MAX_KNOWN_HOSTS (8u << 20)

void occ_ssh__target_release(struct occ_ssh_target *t)
{
	free(t->name);
	free(t->host);
	free(t->user);
	free(t->identity);
	free(t->known_hosts);
	if (t->jump) {
		occ_ssh__target_release(t->jump);
		free(t->jump);
	}
	if (t->passphrase) {
		explicit_bzero(t->passphrase, strlen(t->passphrase));
		free(t->passphrase);
	}
	memset(t, 0, sizeof(*t));
}

void occ_ssh__fingerprint(char *out, size_t cap, const unsigned char *key, size_t len)
{
	/* SHA-256: 32 bytes, 44 characters of base64 (one '=' of padding). */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char b64[4 * ((32 + 2) / 3) + 1];
	unsigned int md_len = 0;
	int n;

	EVP_Digest(key, len, md, &md_len, EVP_sha256(), NULL);
	if (md_len > 32)
		md_len = 32;
	n = EVP_EncodeBlock(b64, md, (int)md_len);
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(out, cap, "SHA256:%s", (const char *)b64);
}

static uint64_t left_ms(uint64_t deadline)
{
	uint64_t now = occ_now_ms();

	return deadline > now ? deadline - now : 0;
}

/* ---- TCP ------------------------------------------------------------------ */

/*
 * Every read of the SSH socket, with an immediate ACK. sshd leaves Nagle on
 * for sessions without a terminal, so a small message it sends right after
 * another (the channel-open confirmation after a global request) waits until
 * our ACK of the first arrives, and Linux delays that ACK up to 40 ms: the
 * first request of every channel took ~44 ms. TCP_QUICKACK is not sticky,
 * so it is set again after each read. (Harmless on a ProxyJump socketpair,
 * where it fails.)
 */
static LIBSSH2_RECV_FUNC(recv_quickack)
{
	ssize_t n = recv(socket, buffer, length, flags);
	int one = 1, saved = errno;

	(void)abstract;
	if (n > 0)
		setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	if (n < 0)
		return -saved;
	errno = saved;
	return n;
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *out_errno)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	unsigned user_timeout = 3 * KEEPALIVE_S * 1000;
	int e = 0, one = 1;

	if (fd < 0) {
		*out_errno = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		e = errno;
		goto fail;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, (int)left_ms(deadline)) <= 0) {
		e = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		e = errno;
	if (e)
		goto fail;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* SSH keepalives go out every KEEPALIVE_S: data unacknowledged for three
	 * periods means the peer is gone, and the session fails instead of
	 * waiting out TCP's retransmissions (~15 min). */
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
	return fd;
fail:
	close(fd);
	*out_errno = e;
	return -1;
}

static int tcp_connect(int *out, const struct occ_ssh_target *t, uint64_t deadline,
		       struct occ_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int rc, fd = -1, e = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0) {
		occ_error_set(err, OCC_EDAEMON, "cannot resolve %s: %s", t->label, gai_strerror(rc));
		occ_error_hint(err, "check the host's address in the state file (or HostName in ~/.ssh/config)");
		return err->code;
	}
	for (ai = res; ai && fd < 0 && left_ms(deadline) > 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &e);
	freeaddrinfo(res);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (e == ETIMEDOUT || e == 0) {
		occ_error_set(err, OCC_ETIMEOUT, "cannot connect to %s: no answer within %.1f s",
			      t->label, (double)t->timeout_ms / 1000.0);
		occ_error_hint(err, "is the machine up and port %u reachable (firewall)?",
			       (unsigned)t->port);
		return err->code;
	}
	occ_error_set(err, OCC_EDAEMON, "cannot connect to %s: %s", t->label, strerror(e));
	err->sys_errno = e;
	occ_error_hint(err, e == ECONNREFUSED ? "is sshd running there, on port %u?"
					      : "check the address and port (%u) of the host",
		       (unsigned)t->port);
	return err->code;
}

/* ---- host key ------------------------------------------------------------- */

static const char *key_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
	default: return "unknown";
	}
}

static int key_bit(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* The known_hosts name: "host", or "[host]:port" off port 22 (as OpenSSH). */
static char *kh_name(const struct occ_ssh_target *t)
{
	return t->port == 22 ? occ_xstrdup(t->host)
			     : occ_xasprintf("[%s]:%u", t->host, (unsigned)t->port);
}

static int kh_check(LIBSSH2_KNOWNHOSTS *kh, const struct occ_ssh_target *t,
		    const char *key, size_t len, int type)
{
	return libssh2_knownhost_checkp(kh, t->host, t->port == 22 ? -1 : t->port, key, len,
					LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
					key_bit(type), NULL);
}

/* What known_hosts says about the host's key, line by line (1-based). */
struct kh_verdict {
	int match;       /* a line with this key, or 0 */
	int mismatch;    /* the first line with another key of this type, or 0 */
	int revoked;     /* a "@revoked" line with this key, or 0 */
};

/* Check one line on its own. libssh2 1.10's readline misreads the key at
 * the very end of its buffer unless a line ending follows, so the line is
 * passed with one. */
static int kh_check_line(LIBSSH2_SESSION *s, const char *line, size_t n,
			 const struct occ_ssh_target *t, const char *key, size_t klen, int type)
{
	LIBSSH2_KNOWNHOSTS *one = libssh2_knownhost_init(s);
	int check = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
	char *copy = occ_xmalloc(n + 2);

	memcpy(copy, line, n);
	copy[n] = '\n';
	copy[n + 1] = '\0';
	if (one && libssh2_knownhost_readline(one, copy, n + 1, LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
		check = kh_check(one, t, key, klen, type);
	if (one)
		libssh2_knownhost_free(one);
	free(copy);
	return check;
}

/*
 * Each line is read on its own, so that a line libssh2 cannot parse (a
 * certificate authority, a key type it does not know) hides nothing after
 * it, and so that the line holding a changed key can be named. "@revoked"
 * lines revoke; "@cert-authority" lines are skipped (no certificates here).
 */
static void kh_scan(struct kh_verdict *v, LIBSSH2_SESSION *s, const char *text, size_t len,
		    const struct occ_ssh_target *t, const char *key, size_t klen, int type)
{
	size_t pos = 0, end, skip;
	int line = 0, check;

	memset(v, 0, sizeof(*v));
	for (; pos < len; pos = end + 1) {
		for (end = pos; end < len && text[end] != '\n'; end++)
			;
		line++;
		skip = strspn(text + pos, " \t");
		if (pos + skip >= end || text[pos + skip] == '#')
			continue;
		if (occ_starts_with(text + pos + skip, "@cert-authority"))
			continue;
		if (occ_starts_with(text + pos + skip, "@revoked")) {
			skip += strlen("@revoked");
			if (kh_check_line(s, text + pos + skip, end - pos - skip, t, key, klen, type) ==
			    LIBSSH2_KNOWNHOST_CHECK_MATCH)
				v->revoked = v->revoked ? v->revoked : line;
			continue;
		}
		check = kh_check_line(s, text + pos, end - pos, t, key, klen, type);
		if (check == LIBSSH2_KNOWNHOST_CHECK_MATCH && !v->match)
			v->match = line;
		else if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !v->mismatch)
			v->mismatch = line;
	}
}

/* Append "name type base64" to known_hosts, keeping every existing line
 * (temp file + rename); ~/.ssh is created 0700, the file 0600. */
static int kh_append(const struct occ_ssh_target *t, const char *old, size_t old_len,
		     const char *key, size_t klen, int type, struct occ_error *err)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	unsigned char *b64 = occ_xmalloc(4 * ((klen + 2) / 3) + 1);
	char *name = kh_name(t), *dir = occ_path_dirname(t->known_hosts);
	int ret = occ_mkdir_p(dir, 0700, err);

	if (ret)
		goto out;
	EVP_EncodeBlock(b64, (const unsigned char *)key, (int)klen);
	occ_strbuf_init(&sb);
	occ_strbuf_add(&sb, old, old_len);
	if (old_len && old[old_len - 1] != '\n')
		occ_strbuf_addc(&sb, '\n');
	occ_strbuf_addf(&sb, "%s %s %s\n", name, key_name(type), (const char *)b64);
	ret = occ_write_file_atomic(t->known_hosts, sb.buf, sb.len, 0600, err);
out:
	occ_strbuf_release(&sb);
	free(b64);
	free(name);
	free(dir);
	return ret;
}

static int check_hostkey(LIBSSH2_SESSION *s, const struct occ_ssh_target *t,
			 struct occ_ssh_info *info, struct occ_error *err)
{
	size_t klen = 0, text_len = 0;
	int type = 0, ret = 0;
	const char *key = libssh2_session_hostkey(s, &klen, &type);
	struct kh_verdict v = { 0 };
	char *text = NULL;

	if (!key)
		return occ_error_set(err, OCC_EDAEMON, "%s sent no host key", t->label);
	snprintf(info->hostkey_type, sizeof(info->hostkey_type), "%s", key_name(type));
	occ_ssh__fingerprint(info->fingerprint, sizeof(info->fingerprint),
			     (const unsigned char *)key, klen);
	if (access(t->known_hosts, F_OK) == 0) {
		ret = occ_read_file(t->known_hosts, MAX_KNOWN_HOSTS, &text, &text_len, err);
		if (ret)
			goto out;
		kh_scan(&v, s, text, text_len, t, key, klen, type);
	}
	if (v.revoked) {
		ret = occ_error_set(err, OCC_EPERM, "REFUSED: the host key of %s (%s %s) is marked "
				    "@revoked at %s:%d", t->label, info->hostkey_type,
				    info->fingerprint, t->known_hosts, v.revoked);
		occ_error_at(err, t->known_hosts, v.revoked, 0);
		occ_error_hint(err, "the host must get a new key; ask its administrator");
		goto out;
	}
	if (v.match)
		goto out;
	if (v.mismatch) {
		ret = occ_error_set(err, OCC_EPERM,
				    "REFUSED: the host key of %s has CHANGED: it now offers %s %s, "
				    "but %s:%d holds a different key; someone may be intercepting "
				    "the connection, or the machine was reinstalled",
				    t->label, info->hostkey_type, info->fingerprint,
				    t->known_hosts, v.mismatch);
		occ_error_at(err, t->known_hosts, v.mismatch, 0);
		occ_error_hint(err, "if you know why it changed, delete line %d of %s "
			       "(ssh-keygen -R '%s' -f %s) and connect again with --accept-new",
			       v.mismatch, t->known_hosts, t->host, t->known_hosts);
		goto out;
	}
	if (t->accept_new) {
		ret = kh_append(t, text ? text : "", text_len, key, klen, type, err);
		goto out;
	}
	ret = occ_error_set(err, OCC_EPERM,
			    "%s is not a known host: its %s key has fingerprint %s (not in %s)",
			    t->label, info->hostkey_type, info->fingerprint, t->known_hosts);
	occ_error_hint(err, "if that fingerprint is the host's, trust it with "
		       "'occ host test %s --accept-new' (or 'occ host add ... --accept-new')",
		       t->name);
out:
	free(text);
	return ret;
}

/* ---- keys ----------------------------------------------------------------- */

struct keyfile {
	bool exists;
	bool encrypted;
	char type[32];        /* "ssh-ed25519", "ssh-rsa", ... or "" */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read one SSH string at *pos of buf (len); false when truncated. */
static bool ssh_string(const unsigned char *buf, size_t len, size_t *pos,
		       const unsigned char **s, size_t *slen)
{
	uint32_t n;

	if (len - *pos < 4)
		return false;
	n = be32(buf + *pos);
	if (len - *pos - 4 < n)
		return false;
	*s = buf + *pos + 4;
	*slen = n;
	*pos += 4 + n;
	return true;
}

/* An OpenSSH-format key: cipher name and the public key's type, both
 * readable without the passphrase. */
static void inspect_openssh(struct keyfile *k, const char *text)
{
	const char *b = strstr(text, "-----BEGIN OPENSSH PRIVATE KEY-----");
	const char *e = b ? strstr(b, "-----END") : NULL;
	struct occ_strbuf clean = OCC_STRBUF_INIT;
	const unsigned char *s, *pub;
	unsigned char *raw = NULL;
	size_t pos = 15, slen, plen, ppos = 0;
	int n;

	if (!b || !e)
		return;
	occ_strbuf_init(&clean);
	for (b += 35; b < e; b++)
		if (*b != '\n' && *b != '\r' && *b != ' ')
			occ_strbuf_addc(&clean, *b);
	raw = occ_xmalloc(clean.len + 4);
	n = EVP_DecodeBlock(raw, (const unsigned char *)clean.buf, (int)clean.len);
	if (n < 15 || memcmp(raw, "openssh-key-v1", 15) != 0)
		goto out;
	if (!ssh_string(raw, (size_t)n, &pos, &s, &slen))
		goto out;
	k->encrypted = !(slen == 4 && memcmp(s, "none", 4) == 0);
	if (!ssh_string(raw, (size_t)n, &pos, &s, &slen) ||     /* kdf */
	    !ssh_string(raw, (size_t)n, &pos, &s, &slen) ||     /* kdf options */
	    (size_t)n - pos < 4)
		goto out;
	pos += 4;                                               /* number of keys */
	if (!ssh_string(raw, (size_t)n, &pos, &pub, &plen) ||
	    !ssh_string(pub, plen, &ppos, &s, &slen))
		goto out;
	snprintf(k->type, sizeof(k->type), "%.*s", (int)slen, (const char *)s);
out:
	free(raw);
	occ_strbuf_release(&clean);
}

static void inspect_key(struct keyfile *k, const char *path)
{
	struct occ_error ignored;
	char *text = NULL;
	size_t len = 0;

	memset(k, 0, sizeof(*k));
	if (occ_read_file(path, MAX_KEY_FILE, &text, &len, &ignored) != 0)
		return;
	k->exists = true;
	if (strstr(text, "BEGIN RSA PRIVATE KEY"))
		snprintf(k->type, sizeof(k->type), "ssh-rsa");
	else if (strstr(text, "BEGIN EC PRIVATE KEY"))
		snprintf(k->type, sizeof(k->type), "ecdsa");
	else if (strstr(text, "BEGIN DSA PRIVATE KEY"))
		snprintf(k->type, sizeof(k->type), "ssh-dss");
	if (strstr(text, "ENCRYPTED"))
		k->encrypted = true;
	inspect_openssh(k, text);
	explicit_bzero(text, len);
	free(text);
}

/* Ask for a passphrase on /dev/tty, echo off. Caller frees (and wipes). */
static int read_passphrase(char **out, const char *path, const char *label,
			   struct occ_error *err)
{
	char buf[1024];
	char *prompt = occ_xasprintf("Enter passphrase for key '%s' of %s: ", path, label);
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	size_t n = 0;
	ssize_t r;
	int ret = 0;

	if (fd < 0) {
		ret = occ_error_errno(err, OCC_EPERM, errno, "cannot ask for the passphrase of '%s'",
				      path);
		goto out;
	}
	if (write(fd, prompt, strlen(prompt)) < 0 || tcgetattr(fd, &old) < 0) {
		ret = occ_error_errno(err, OCC_EPERM, errno, "cannot ask for the passphrase of '%s'",
				      path);
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while (n + 1 < sizeof(buf) && (r = read(fd, buf + n, 1)) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		(void)0;
	*out = occ_xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
out:
	if (fd >= 0)
		close(fd);
	free(prompt);
	return ret;
}

/* Hosts connect side by side: one question on the terminal at a time. */
static pthread_mutex_t ask_mu = PTHREAD_MUTEX_INITIALIZER;

/* The caller's prompt when it gave one (the CLI's), else /dev/tty. */
static int ask_passphrase(char **out, const struct occ_ssh_target *t, const char *path,
			  struct occ_error *err)
{
	char buf[1024];
	int rc;

	pthread_mutex_lock(&ask_mu);
	if (!t->ask) {
		rc = read_passphrase(out, path, t->label, err);
		pthread_mutex_unlock(&ask_mu);
		return rc;
	}
	rc = t->ask(t->ask_ctx, path, buf, sizeof(buf));
	pthread_mutex_unlock(&ask_mu);
	if (rc != 0) {
		explicit_bzero(buf, sizeof(buf));
		occ_error_set(err, OCC_ECANCELED, "no passphrase given for the key '%s' of %s", path,
			      t->label);
		return err->code;
	}
	buf[sizeof(buf) - 1] = '\0';
	*out = occ_xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ---- authentication ------------------------------------------------------- */

struct auth {
	struct occ_strbuf tried;   /* "ssh-agent (2 keys), /root/.ssh/id_ed25519" */
	bool rsa_refused;
	char encrypted[512];       /* an encrypted key we could not unlock, or "" */
	char bad_pass[512];        /* a key whose passphrase, as given, was wrong */
};

static void tried(struct auth *a, const char *what)
{
	if (a->tried.len)
		occ_strbuf_adds(&a->tried, ", ");
	occ_strbuf_adds(&a->tried, what);
}

static bool blob_is_rsa(const unsigned char *blob, size_t len)
{
	return len > 11 && be32(blob) == 7 && memcmp(blob + 4, "ssh-rsa", 7) == 0;
}

static bool try_agent(LIBSSH2_SESSION *s, const struct occ_ssh_target *t, struct auth *a)
{
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	LIBSSH2_AGENT *agent;
	unsigned n = 0;
	bool ok = false;
	char what[64];

	if (!getenv("SSH_AUTH_SOCK") || !(agent = libssh2_agent_init(s)))
		return false;
	if (libssh2_agent_connect(agent) != 0 || libssh2_agent_list_identities(agent) != 0)
		goto out;
	while (!ok && libssh2_agent_get_identity(agent, &id, prev) == 0) {
		n++;
		if (libssh2_agent_userauth(agent, t->user, id) == 0)
			ok = true;
		else if (blob_is_rsa(id->blob, id->blob_len))
			a->rsa_refused = true;
		prev = id;
	}
	snprintf(what, sizeof(what), "ssh-agent (%u key%s)", n, n == 1 ? "" : "s");
	tried(a, what);
out:
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return ok;
}

/* 1: authenticated; 0: refused (noted in a); <0: an error to report. */
static int try_key(LIBSSH2_SESSION *s, struct occ_ssh_target *t, const char *path,
		   bool explicit, struct auth *a, struct occ_error *err)
{
	struct keyfile k;
	char *pass = NULL;
	int ret = 0;

	inspect_key(&k, path);
	if (!k.exists) {
		if (!explicit)
			return 0;
		occ_error_set(err, OCC_EIO, "cannot read the identity file '%s' for %s", path,
			      t->label);
		occ_error_hint(err, "check identity: in the state file (or IdentityFile in ~/.ssh/config)");
		return err->code;
	}
	if (k.encrypted && !t->passphrase) {
		if (!t->interactive) {
			snprintf(a->encrypted, sizeof(a->encrypted), "%s", path);
			tried(a, path);
			return 0;
		}
		ret = ask_passphrase(&pass, t, path, err);
		if (ret)
			return ret;
	}
	tried(a, path);
	if (libssh2_userauth_publickey_fromfile_ex(s, t->user, (unsigned)strlen(t->user), NULL,
						   path, pass ? pass : t->passphrase) == 0) {
		if (pass) {
			t->passphrase = pass;
			pass = NULL;
		}
		ret = 1;
	} else if (strcmp(k.type, "ssh-rsa") == 0) {
		a->rsa_refused = true;
	} else if (pass && libssh2_session_last_errno(s) == LIBSSH2_ERROR_FILE) {
		snprintf(a->bad_pass, sizeof(a->bad_pass), "%s", path);
	} else if (k.encrypted) {
		snprintf(a->encrypted, sizeof(a->encrypted), "%s", path);
	}
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	return ret;
}

static int refused(const struct occ_ssh_target *t, struct auth *a, struct occ_error *err)
{
	if (a->rsa_refused) {
		occ_error_set(err, OCC_EPERM,
			      "%s refused the RSA key (tried %s): libssh2 1.10 signs with RSA "
			      "keys using SHA-1 (ssh-rsa), which OpenSSH 8.8 and newer reject",
			      t->label, a->tried.len ? a->tried.buf : "nothing");
		occ_error_hint(err, "use an ed25519 key: 'ssh-keygen -t ed25519', add the .pub "
			       "to ~/.ssh/authorized_keys of %s on the host, and set identity: "
			       "to the new key", t->user);
		return err->code;
	}
	if (a->bad_pass[0]) {
		occ_error_set(err, OCC_EPERM, "cannot log in to %s: wrong passphrase for the key '%s'",
			      t->label, a->bad_pass);
		occ_error_hint(err, "try again, or load the key into ssh-agent ('ssh-add %s')",
			       a->bad_pass);
		return err->code;
	}
	if (a->encrypted[0]) {
		occ_error_set(err, OCC_EPERM,
			      "cannot log in to %s: the key '%s' is protected by a passphrase "
			      "and occ may not ask for it here", t->label, a->encrypted);
		occ_error_hint(err, "load it into ssh-agent ('ssh-add %s') or run the command "
			       "from a terminal", a->encrypted);
		return err->code;
	}
	occ_error_set(err, OCC_EPERM, "%s refused every key for user '%s' (tried %s)", t->label,
		      t->user, a->tried.len ? a->tried.buf : "no keys: no agent, no key files");
	occ_error_hint(err, "add your public key to ~%s/.ssh/authorized_keys there, or set "
		       "identity: for the host", t->user);
	return err->code;
}

static int authenticate(LIBSSH2_SESSION *s, struct occ_ssh_target *t, struct occ_error *err)
{
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa" };
	struct auth a = { .rsa_refused = false };
	char *path;
	size_t i;
	int ret = 0;

	occ_strbuf_init(&a.tried);
	/* The list of methods also starts the "none" exchange ssh(1) does. */
	libssh2_userauth_list(s, t->user, (unsigned)strlen(t->user));
	if (libssh2_userauth_authenticated(s) || try_agent(s, t, &a))
		goto out;
	if (t->identity) {
		ret = try_key(s, t, t->identity, true, &a, err);
		ret = ret == 1 ? 0 : ret ? ret : refused(t, &a, err);
		goto out;
	}
	for (i = 0; i < OCC_ARRAY_SIZE(defaults); i++) {
		path = occ_xasprintf("%s/.ssh/%s", occ_home_dir(), defaults[i]);
		ret = try_key(s, t, path, false, &a, err);
		free(path);
		if (ret)
			break;
	}
	ret = ret == 1 ? 0 : ret ? ret : refused(t, &a, err);
out:
	occ_strbuf_release(&a.tried);
	return ret;
}

/* ---- the session ---------------------------------------------------------- */

static int session_error(LIBSSH2_SESSION *s, const struct occ_ssh_target *t,
			 const char *what, struct occ_error *err)
{
	char *msg = NULL;
	int code = libssh2_session_last_error(s, &msg, NULL, 0);

	if (code == LIBSSH2_ERROR_TIMEOUT || code == LIBSSH2_ERROR_SOCKET_TIMEOUT) {
		occ_error_set(err, OCC_ETIMEOUT, "%s with %s: no answer within %.1f s", what,
			      t->label, (double)t->timeout_ms / 1000.0);
		occ_error_hint(err, "is the machine overloaded, or is something other than sshd "
			       "listening on port %u?", (unsigned)t->port);
		return err->code;
	}
	occ_error_set(err, OCC_EDAEMON, "%s with %s failed: %s", what, t->label,
		      msg && *msg ? msg : "unknown error");
	occ_error_hint(err, "is sshd running on port %u of that machine?", (unsigned)t->port);
	return err->code;
}

int occ_ssh__connect(struct occ_ssh_conn *conn, struct occ_ssh_target *t,
		     struct occ_ssh_info *info, struct occ_error *err)
{
	uint64_t deadline = occ_now_ms() + (uint64_t)t->timeout_ms;
	double t0 = occ_now_ms_precise();
	const char *kex, *banner;
	int ret;

	conn->fd = -1;
	conn->session = NULL;
	conn->jump = NULL;
	if (t->jump)
		ret = occ_ssh__jump_open(&conn->jump, &conn->fd, t->jump, t->host, t->port, err);
	else
		ret = tcp_connect(&conn->fd, t, deadline, err);
	if (ret)
		goto out;
	conn->session = libssh2_session_init();
	if (!conn->session) {
		ret = occ_error_set(err, OCC_EGENERIC, "libssh2 cannot start a session");
		goto out;
	}
	{
		/* libssh2 1.10 takes callbacks as void *. */
		union { LIBSSH2_RECV_FUNC((*fn)); void *p; } cb = { .fn = recv_quickack };

		libssh2_session_callback_set(conn->session, LIBSSH2_CALLBACK_RECV, cb.p);
	}
	libssh2_session_set_blocking(conn->session, 1);
	libssh2_session_set_timeout(conn->session, (long)left_ms(deadline) + 1);
	if (libssh2_session_handshake(conn->session, conn->fd) != 0) {
		ret = session_error(conn->session, t, "the SSH handshake", err);
		goto out;
	}
	ret = check_hostkey(conn->session, t, info, err);
	if (ret)
		goto out;
	libssh2_session_set_timeout(conn->session, (long)left_ms(deadline) + 1);
	ret = authenticate(conn->session, t, err);
	if (ret)
		goto out;
	/* No reply wanted: an idle bridge does not read the socket, and a dead
	 * peer shows as unacknowledged keepalives (TCP_USER_TIMEOUT). */
	libssh2_keepalive_config(conn->session, 0, KEEPALIVE_S);
	kex = libssh2_session_methods(conn->session, LIBSSH2_METHOD_KEX);
	banner = libssh2_session_banner_get(conn->session);
	snprintf(info->kex, sizeof(info->kex), "%s", kex ? kex : "");
	snprintf(info->banner, sizeof(info->banner), "%s", banner ? banner : "");
	info->handshake_ms = occ_now_ms_precise() - t0;
out:
	if (ret)
		occ_ssh__disconnect(conn, NULL);
	return ret;
}

void occ_ssh__disconnect(struct occ_ssh_conn *conn, const char *why)
{
	if (conn->session) {
		libssh2_session_set_blocking(conn->session, 1);
		libssh2_session_set_timeout(conn->session, 1000);
		if (why)
			libssh2_session_disconnect(conn->session, why);
		libssh2_session_free(conn->session);
		conn->session = NULL;
	}
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
	occ_ssh__jump_close(conn->jump);
	conn->jump = NULL;
}
