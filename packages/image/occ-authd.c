/*
 * occ-authd - the password check behind the container's nginx front.
 *
 * nginx asks it about every request through auth_request, proxied to a unix
 * socket. That subrequest is asynchronous in nginx: while occ-authd takes its
 * time, no nginx worker waits. The PAM module it replaces ran inside nginx's
 * only worker, so PAM's failure delay stalled every user, and that delay came
 * only for existing users, which told an attacker which names exist.
 *
 * The design follows from that:
 *  - One thread runs an epoll loop: it accepts, reads one request head per
 *    connection, answers and closes. A request without Basic credentials gets
 *    401 at once (a browser's first request, which must show the dialog).
 *  - Credentials go to a small pool of worker threads that run crypt
 *    (yescrypt costs tens of milliseconds of CPU on purpose). Every check runs
 *    exactly one crypt: unknown users, locked accounts and garbage run it
 *    against a dummy hash of the same method and cost, so the CPU work tells
 *    nothing. Workers hand results back through an eventfd.
 *  - A failure is answered no earlier than arrival + --fail-delay-ms, whatever
 *    its reason, so timing tells nothing either. The wait is a timer in the
 *    loop (a min-heap that also holds the 5 s read deadlines), never a
 *    sleeping thread: failures cost the attacker time, not the server.
 *  - Successes are cached for 5 minutes under an HMAC of user and password
 *    with a per-process random key, so a browser's stream of requests does not
 *    run crypt each time. The accounts files are stat'ed on each request; any
 *    change reloads them and empties the cache, so a new password or a locked
 *    account takes effect at once.
 *  - The workers run at the lowest priority (nice 19), so a flood of guesses
 *    cannot take the CPU from opencode, nginx or this loop.
 *  - Everything from outside is bounded: 8 KiB heads, 1024 connections, 64
 *    queued checks (beyond that: failure after the delay, without hashing),
 *    4 MiB accounts files with 4 KiB lines.
 *
 * Standalone on purpose (libc, libcrypt, libcrypto, pthreads): the image
 * compiles this one file, without libocc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define OCC_HEAD_MAX 8192                 /* request head, blank line included */
#define OCC_CONNS_MAX 1024
#define OCC_QUEUE_MAX 64                  /* checks waiting for a worker */
#define OCC_READ_TIMEOUT_US (5 * 1000000ull)
#define OCC_CACHE_MAX 1024
#define OCC_CACHE_TTL_US (300 * 1000000ull)
#define OCC_FILE_MAX (4u << 20)
#define OCC_LINE_MAX 4096
#define OCC_NAME_MAX 64                   /* user names, logged names and addresses */
#define OCC_MAC_LEN 32
#define OCC_EX_USAGE 64

#define OCC_TAG_LISTEN UINT64_MAX
#define OCC_TAG_SIGNAL (UINT64_MAX - 1)
#define OCC_TAG_WAKE (UINT64_MAX - 2)
#define OCC_NO_TIMER SIZE_MAX

static const char resp_400[] = "HTTP/1.1 400 Bad Request\r\n"
			       "Content-Length: 0\r\nConnection: close\r\n\r\n";
static const char resp_401[] = "HTTP/1.1 401 Unauthorized\r\n"
			       "WWW-Authenticate: Basic realm=\"opencode\", charset=\"UTF-8\"\r\n"
			       "Content-Length: 0\r\nConnection: close\r\n\r\n";

struct options {
	const char *socket_path, *passwd, *shadow;
	unsigned long fail_delay_ms, workers, uid_min, uid_max;
};

/* What the accounts files looked like when read: a change means reload. */
struct file_id {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* A passwd entry; hash NULL when it cannot log in (locked, no shadow line,
 * uid out of range). Strings point into the accounts' file texts. */
struct account {
	const char *name, *hash;
	size_t line;
};

struct accounts {
	char *passwd_text, *shadow_text;
	struct account *v;                /* sorted by name, one per name */
	size_t n;
	struct file_id passwd_id, shadow_id;
	uint64_t gen;                     /* bumped at every reload */
};

struct cache_entry {
	unsigned char mac[OCC_MAC_LEN];
	uint64_t at;
	char user[OCC_NAME_MAX + 1];
};

/* One password check, from the loop to a worker and back. */
struct job {
	struct job *next;
	size_t slot;
	uint32_t conn_gen;
	uint64_t acc_gen;
	bool dummy, cacheable, ok;
	char user[OCC_NAME_MAX + 1];
	char setting[CRYPT_OUTPUT_SIZE];
	char password[CRYPT_MAX_PASSPHRASE_SIZE];
	unsigned char mac[OCC_MAC_LEN];
};

struct jobq {
	struct job *head, *tail;
	size_t n;
};

struct worker {
	pthread_t thread;
	struct pool *pool;
	struct crypt_data *cd;
	bool started;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobq todo, done;
	bool stopping;
	int wake_fd;
	struct worker *workers;
	size_t nworkers;
};

enum conn_state { CONN_FREE, CONN_READING, CONN_CHECKING, CONN_FAILING };

struct conn {
	int fd;
	enum conn_state state;
	uint32_t gen;                     /* tells a reused slot from its past */
	size_t heap_idx;
	uint64_t due;                     /* the timer: read deadline or fail_at */
	uint64_t fail_at;                 /* a failure's earliest answer */
	char *buf;                        /* the head while reading */
	size_t len;
	char client[OCC_NAME_MAX + 1];
	char user_log[OCC_NAME_MAX + 1];
};

struct server {
	struct options opt;
	int listen_fd, epoll_fd, signal_fd;
	dev_t sock_dev;
	ino_t sock_ino;
	bool sock_made, pool_started, acc_loaded, stop;
	struct pool pool;
	struct accounts acc;
	char dummy[CRYPT_OUTPUT_SIZE];    /* what unknown users are hashed against */
	char gen_dummy[CRYPT_GENSALT_OUTPUT_SIZE];
	unsigned char mac_key[OCC_MAC_LEN];
	uint64_t last_busy_log;
	struct conn conns[OCC_CONNS_MAX];
	size_t max_conns, free_slots[OCC_CONNS_MAX], nfree;
	struct conn *heap[OCC_CONNS_MAX];
	size_t nheap;
	struct cache_entry cache[OCC_CACHE_MAX];
	size_t ncache;
};

/* ---- Small helpers ---- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One line on stderr, written at once. */
__attribute__((format(printf, 1, 2)))
static void logmsg(const char *fmt, ...)
{
	static const char prefix[] = "occ-authd: ";
	char line[1024];
	size_t len = sizeof(prefix) - 1, room = sizeof(line) - len - 1;
	va_list ap;
	int n;

	memcpy(line, prefix, len);
	va_start(ap, fmt);
	n = vsnprintf(line + len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len += (size_t)n < room ? (size_t)n : room - 1;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

/* in[0..len) for a log line: printable ASCII, at most OCC_NAME_MAX chars. */
static void sanitize(char out[OCC_NAME_MAX + 1], const char *in, size_t len)
{
	size_t n = len < OCC_NAME_MAX ? len : OCC_NAME_MAX;

	for (size_t i = 0; i < n; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[n] = '\0';
}

static void copy_str(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* ---- Command line ---- */

enum opt_kind { OPT_STRING, OPT_NUMBER };

static const struct opt_spec {
	const char *name;
	enum opt_kind kind;
	size_t offset;
	unsigned long min, max;
} opt_specs[] = {
	{ "--socket", OPT_STRING, offsetof(struct options, socket_path), 0, 0 },
	{ "--passwd", OPT_STRING, offsetof(struct options, passwd), 0, 0 },
	{ "--shadow", OPT_STRING, offsetof(struct options, shadow), 0, 0 },
	{ "--fail-delay-ms", OPT_NUMBER, offsetof(struct options, fail_delay_ms), 0, 600000 },
	{ "--workers", OPT_NUMBER, offsetof(struct options, workers), 1, 64 },
	{ "--uid-min", OPT_NUMBER, offsetof(struct options, uid_min), 0, 4294967294ul },
	{ "--uid-max", OPT_NUMBER, offsetof(struct options, uid_max), 0, 4294967294ul },
};

static const char usage[] =
	"usage: occ-authd --socket PATH [--passwd FILE] [--shadow FILE]\n"
	"                 [--fail-delay-ms N] [--workers N] [--uid-min N] [--uid-max N]\n";

static int set_option(struct options *o, const struct opt_spec *spec, const char *value)
{
	char *field = (char *)o + spec->offset;

	if (spec->kind == OPT_STRING) {
		if (!*value) {
			fprintf(stderr, "occ-authd: option '%s' needs a non-empty value\n", spec->name);
			return -1;
		}
		memcpy(field, &value, sizeof(value));
		return 0;
	}
	if (!parse_ulong(value, spec->min, spec->max, (unsigned long *)(void *)field)) {
		fprintf(stderr, "occ-authd: invalid %s '%s' (%lu..%lu)\n", spec->name, value,
			spec->min, spec->max);
		return -1;
	}
	return 0;
}

/* One "--name value" or "--name=value" at argv[*i]; advances *i. */
static int parse_one(struct options *o, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);

	for (size_t k = 0; k < sizeof(opt_specs) / sizeof(opt_specs[0]); k++) {
		const struct opt_spec *spec = &opt_specs[k];

		if (strlen(spec->name) != name_len || strncmp(spec->name, arg, name_len) != 0)
			continue;
		if (eq)
			return set_option(o, spec, eq + 1);
		if (*i + 1 >= argc) {
			fprintf(stderr, "occ-authd: option '%s' needs a value\n", spec->name);
			return -1;
		}
		return set_option(o, spec, argv[++*i]);
	}
	fprintf(stderr, "occ-authd: unknown option '%s'\n%s", arg, usage);
	return -1;
}

static int parse_args(struct options *o, int argc, char **argv)
{
	struct sockaddr_un sa;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (parse_one(o, argc, argv, &i) < 0)
			return -1;
	}
	if (!o->socket_path) {
		fprintf(stderr, "occ-authd: --socket is required\n%s", usage);
		return -1;
	}
	if (strlen(o->socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "occ-authd: socket path '%s' is too long\n", o->socket_path);
		return -1;
	}
	if (o->uid_min > o->uid_max) {
		fprintf(stderr, "occ-authd: --uid-min %lu is above --uid-max %lu\n", o->uid_min,
			o->uid_max);
		return -1;
	}
	return 0;
}

/* ---- Accounts: /etc/passwd + /etc/shadow ---- */

static void file_id_of(struct file_id *out, const struct stat *st)
{
	memset(out, 0, sizeof(*out));
	out->present = true;
	out->dev = st->st_dev;
	out->ino = st->st_ino;
	out->size = st->st_size;
	out->mtime = st->st_mtim;
}

static void file_id_stat(struct file_id *out, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		memset(out, 0, sizeof(*out));
		return;
	}
	file_id_of(out, &st);
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Up to cap bytes from fd (fewer at its end); errno set on failure. */
static int read_upto(int fd, char *buf, size_t cap, size_t *out)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = len;
	return 0;
}

/* path's content, NUL-terminated, at most OCC_FILE_MAX bytes; logs why not. */
static int read_small_file(const char *path, char **out, struct file_id *id)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = -1;
	char *buf = NULL;
	size_t len = 0, cap;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		logmsg("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)OCC_FILE_MAX) {
		logmsg("cannot read '%s': not a regular file of at most 4 MiB", path);
		goto out;
	}
	cap = (size_t)st.st_size;
	buf = malloc(cap + 1);
	if (!buf) {
		logmsg("cannot read '%s': out of memory", path);
		goto out;
	}
	if (read_upto(fd, buf, cap, &len) < 0) {
		logmsg("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	file_id_of(id, &st);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static size_t count_lines(const char *text)
{
	size_t n = 1;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* The next line of *pos, NUL-terminated in place; NULL at the end. A line
 * over OCC_LINE_MAX comes back empty, so that callers skip it. */
static char *next_line(char **pos)
{
	char *line = *pos, *nl;

	if (!*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*pos = nl + 1;
	} else {
		*pos = line + strlen(line);
	}
	if (strlen(line) > OCC_LINE_MAX)
		return line + strlen(line);
	return line;
}

/* Split line at ':' in place into at most max fields; their count. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

/* A name that may log in: visible ASCII, no NIS '+'/'-' entries. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > OCC_NAME_MAX || s[0] == '+' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':')
			return false;
	}
	return true;
}

static bool hash_usable(const char *h)
{
	return h[0] && h[0] != '!' && h[0] != '*' && strlen(h) < CRYPT_OUTPUT_SIZE;
}

static int account_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct account *)a)->name, ((const struct account *)b)->name);
}

static int account_cmp(const void *a, const void *b)
{
	const struct account *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sort by name, keeping each name's first line only (as getpwnam does). */
static size_t sort_unique(struct account *v, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), account_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k == 0 || strcmp(v[k - 1].name, v[i].name) != 0)
			v[k++] = v[i];
	}
	return k;
}

static const struct account *account_find(const struct account *v, size_t n, const char *name)
{
	struct account key = { .name = name };

	if (n == 0)
		return NULL;
	return bsearch(&key, v, n, sizeof(*v), account_name_cmp);
}

/* The shadow file's name:hash pairs, sorted (strings point into text). */
static int parse_shadow(char *text, struct account **out, size_t *out_n)
{
	struct account *v = calloc(count_lines(text), sizeof(*v));
	size_t n = 0, lineno = 0;
	char *pos = text, *line, *f[3];

	if (!v)
		return -1;
	while ((line = next_line(&pos)) != NULL) {
		lineno++;
		if (split_fields(line, f, 3) < 2 || !name_ok(f[0], strlen(f[0])))
			continue;
		v[n++] = (struct account){ f[0], f[1], lineno };
	}
	*out = v;
	*out_n = sort_unique(v, n);
	return 0;
}

static int parse_passwd(struct accounts *a, const struct options *o,
			const struct account *sh, size_t nsh)
{
	char *pos = a->passwd_text, *line, *f[7];
	size_t lineno = 0;

	a->v = calloc(count_lines(pos), sizeof(*a->v));
	if (!a->v)
		return -1;
	while ((line = next_line(&pos)) != NULL) {
		const struct account *s;
		unsigned long uid;
		bool in_range;

		lineno++;
		if (split_fields(line, f, 7) != 7 || !name_ok(f[0], strlen(f[0])) ||
		    !parse_ulong(f[2], 0, UINT32_MAX, &uid))
			continue;
		in_range = uid >= o->uid_min && uid <= o->uid_max;
		s = account_find(sh, nsh, f[0]);
		a->v[a->n++] = (struct account){
			f[0], in_range && s && hash_usable(s->hash) ? s->hash : NULL, lineno
		};
	}
	a->n = sort_unique(a->v, a->n);
	return 0;
}

static void accounts_release(struct accounts *a)
{
	free(a->v);
	free(a->passwd_text);
	if (a->shadow_text) {
		OPENSSL_cleanse(a->shadow_text, strlen(a->shadow_text));
		free(a->shadow_text);
	}
	a->v = NULL;
	a->passwd_text = a->shadow_text = NULL;
	a->n = 0;
}

static int accounts_load(struct accounts *out, const struct options *o)
{
	struct accounts a = { 0 };
	struct account *sh = NULL;
	size_t nsh = 0;
	int rc = -1;

	if (read_small_file(o->passwd, &a.passwd_text, &a.passwd_id) < 0 ||
	    read_small_file(o->shadow, &a.shadow_text, &a.shadow_id) < 0 ||
	    parse_shadow(a.shadow_text, &sh, &nsh) < 0 || parse_passwd(&a, o, sh, nsh) < 0)
		goto out;
	*out = a;
	memset(&a, 0, sizeof(a));
	rc = 0;
out:
	free(sh);
	accounts_release(&a);
	return rc;
}

static size_t count_logins(const struct accounts *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->v[i].hash != NULL;
	return n;
}

/* Unknown users are hashed against the first real account's hash (same method
 * and cost), or against a fresh yescrypt setting when there is none. */
static void dummy_update(struct server *s)
{
	const struct account *first = NULL;

	for (size_t i = 0; i < s->acc.n; i++) {
		if (s->acc.v[i].hash && (!first || s->acc.v[i].line < first->line))
			first = &s->acc.v[i];
	}
	copy_str(s->dummy, sizeof(s->dummy), first ? first->hash : s->gen_dummy);
}

static void cache_clear(struct server *s)
{
	OPENSSL_cleanse(s->cache, sizeof(s->cache));
	s->ncache = 0;
}

/* Reload the accounts (and empty the cache) when either file changed. */
static void accounts_refresh(struct server *s)
{
	struct accounts fresh = { 0 };
	struct file_id p, sh;

	file_id_stat(&p, s->opt.passwd);
	file_id_stat(&sh, s->opt.shadow);
	if (s->acc_loaded && file_id_eq(&p, &s->acc.passwd_id) &&
	    file_id_eq(&sh, &s->acc.shadow_id))
		return;
	if (accounts_load(&fresh, &s->opt) < 0) {
		logmsg("no account can log in until the accounts files can be read");
		fresh.passwd_id = p;
		fresh.shadow_id = sh;
	} else {
		logmsg("accounts read: %zu can log in", count_logins(&fresh));
	}
	fresh.gen = s->acc.gen + 1;
	accounts_release(&s->acc);
	s->acc = fresh;
	s->acc_loaded = true;
	cache_clear(s);
	dummy_update(s);
}

/* ---- Success cache ---- */

static bool cred_mac(const struct server *s, struct job *j)
{
	unsigned char msg[OCC_NAME_MAX + 1 + CRYPT_MAX_PASSPHRASE_SIZE];
	size_t nu = strlen(j->user), np = strlen(j->password);
	unsigned int len = OCC_MAC_LEN;
	bool ok;

	memcpy(msg, j->user, nu + 1);
	memcpy(msg + nu + 1, j->password, np);
	ok = HMAC(EVP_sha256(), s->mac_key, OCC_MAC_LEN, msg, nu + 1 + np, j->mac, &len) &&
	     len == OCC_MAC_LEN;
	OPENSSL_cleanse(msg, sizeof(msg));
	return ok;
}

/* The user name of a live entry for mac, or NULL. Looks at every entry. */
static const char *cache_lookup(const struct server *s, const unsigned char *mac)
{
	uint64_t now = now_us();
	const char *user = NULL;

	for (size_t i = 0; i < s->ncache; i++) {
		const struct cache_entry *e = &s->cache[i];

		if (CRYPTO_memcmp(e->mac, mac, OCC_MAC_LEN) == 0 && now - e->at < OCC_CACHE_TTL_US)
			user = e->user;
	}
	return user;
}

static void cache_insert(struct server *s, const unsigned char *mac, const char *user)
{
	struct cache_entry *e = NULL;

	for (size_t i = 0; i < s->ncache && !e; i++) {
		if (CRYPTO_memcmp(s->cache[i].mac, mac, OCC_MAC_LEN) == 0)
			e = &s->cache[i];
	}
	if (!e && s->ncache < OCC_CACHE_MAX)
		e = &s->cache[s->ncache++];
	if (!e) {
		e = &s->cache[0];
		for (size_t i = 1; i < s->ncache; i++) {
			if (s->cache[i].at < e->at)
				e = &s->cache[i];
		}
	}
	memcpy(e->mac, mac, OCC_MAC_LEN);
	e->at = now_us();
	copy_str(e->user, sizeof(e->user), user);
}

/* ---- Worker pool ---- */

static void jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->n++;
}

static struct job *jobq_pop(struct jobq *q)
{
	struct job *j = q->head;

	if (!j)
		return NULL;
	q->head = j->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	return j;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

/* One crypt, compared in constant time; a dummy check never succeeds. */
static bool verify(struct crypt_data *cd, const struct job *j)
{
	const char *h = crypt_rn(j->password, j->setting, cd, (int)sizeof(*cd));
	size_t n = strlen(j->setting);
	bool ok = h && strlen(h) == n && CRYPTO_memcmp(h, j->setting, n) == 0;

	OPENSSL_cleanse(cd, sizeof(*cd));
	return ok && !j->dummy;
}

static struct job *pool_next(struct pool *p)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping && !p->todo.head)
		pthread_cond_wait(&p->cond, &p->lock);
	j = p->stopping ? NULL : jobq_pop(&p->todo);
	pthread_mutex_unlock(&p->lock);
	return j;
}

static void pool_done(struct pool *p, struct job *j)
{
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	jobq_push(&p->done, j);
	pthread_mutex_unlock(&p->lock);
	/* EAGAIN means the counter is full: a wake-up is pending anyway. */
	if (write(p->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/*
 * Password hashing is the one thing here an attacker can make the server do
 * at will, so it yields to everything else in the container: on Linux nice
 * is per thread, and raising it needs no privilege. Under a guessing flood
 * opencode and nginx keep the CPU; the guesses wait. Failure to renice is
 * harmless (the check still runs).
 */
static void worker_lower_priority(void)
{
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j;

	worker_lower_priority();
	while ((j = pool_next(w->pool)) != NULL) {
		j->ok = verify(w->cd, j);
		OPENSSL_cleanse(j->password, sizeof(j->password));
		pool_done(w->pool, j);
	}
	return NULL;
}

/* Queue j (taken on success); -1 when OCC_QUEUE_MAX checks already wait. */
static int pool_submit(struct pool *p, struct job *j, size_t *queued)
{
	int rc = -1;

	pthread_mutex_lock(&p->lock);
	*queued = p->todo.n;
	if (p->todo.n < OCC_QUEUE_MAX) {
		jobq_push(&p->todo, j);
		pthread_cond_signal(&p->cond);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void pool_stop(struct pool *p)
{
	struct job *j;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nworkers; i++) {
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
		free(p->workers[i].cd);
	}
	free(p->workers);
	while ((j = jobq_pop(&p->todo)) != NULL)
		job_free(j);
	while ((j = jobq_pop(&p->done)) != NULL)
		job_free(j);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

static int pool_start(struct pool *p, size_t nworkers, int wake_fd)
{
	int err;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->wake_fd = wake_fd;
	p->workers = calloc(nworkers, sizeof(*p->workers));
	if (!p->workers)
		return -1;
	p->nworkers = nworkers;
	for (size_t i = 0; i < nworkers; i++) {
		struct worker *w = &p->workers[i];

		w->pool = p;
		w->cd = calloc(1, sizeof(*w->cd));
		if (!w->cd)
			return -1;
		err = pthread_create(&w->thread, NULL, worker_main, w);
		if (err) {
			logmsg("cannot start a worker thread: %s", strerror(err));
			return -1;
		}
		w->started = true;
	}
	return 0;
}

/* ---- Timers: a min-heap of connections by due time ---- */

static void heap_swap(struct server *s, size_t a, size_t b)
{
	struct conn *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_idx = a;
	s->heap[b]->heap_idx = b;
}

static void heap_up(struct server *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->due > s->heap[i]->due) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct server *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && s->heap[l]->due < s->heap[m]->due)
			m = l;
		if (r < s->nheap && s->heap[r]->due < s->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void timer_clear(struct server *s, struct conn *c)
{
	size_t i = c->heap_idx;
	struct conn *moved;

	if (i == OCC_NO_TIMER)
		return;
	c->heap_idx = OCC_NO_TIMER;
	if (i == --s->nheap)
		return;
	moved = s->heap[s->nheap];
	s->heap[i] = moved;
	moved->heap_idx = i;
	heap_up(s, i);
	heap_down(s, moved->heap_idx);
}

static void timer_set(struct server *s, struct conn *c, uint64_t due)
{
	timer_clear(s, c);
	c->due = due;
	c->heap_idx = s->nheap;
	s->heap[s->nheap++] = c;
	heap_up(s, c->heap_idx);
}

/* epoll_wait's timeout: until the first timer, rounded up. */
static int next_timeout_ms(const struct server *s)
{
	uint64_t now, ms;

	if (s->nheap == 0)
		return -1;
	now = now_us();
	if (s->heap[0]->due <= now)
		return 0;
	ms = (s->heap[0]->due - now + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- HTTP request heads ---- */

struct request {
	const char *auth, *client;
	size_t auth_len, client_len;
};

/* Length of the head through its blank line, 0 while incomplete; looks from
 * from on (what came before was looked at already). */
static size_t head_length(const char *buf, size_t from, size_t len)
{
	for (size_t i = from; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool is_tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* METHOD SP target SP HTTP/1.x; method and target are not looked at. */
static int parse_request_line(const char *p, size_t n)
{
	size_t i = 0, t;

	while (i < n && is_tchar(p[i]))
		i++;
	if (i == 0 || i == n || p[i++] != ' ')
		return -1;
	for (t = i; i < n && p[i] > 0x20 && p[i] < 0x7f; i++)
		;
	if (i == t || i == n || p[i++] != ' ')
		return -1;
	if (n - i != 8 || (memcmp(p + i, "HTTP/1.0", 8) != 0 && memcmp(p + i, "HTTP/1.1", 8) != 0))
		return -1;
	return 0;
}

/* Name: value, the value's surrounding blanks cut. A header twice: -1. */
static int parse_header(struct request *r, const char *p, size_t n)
{
	const char *v;
	size_t k = 0, vn;

	while (k < n && is_tchar(p[k]))
		k++;
	if (k == 0 || k == n || p[k] != ':')
		return -1;
	v = p + k + 1;
	vn = n - k - 1;
	for (size_t i = 0; i < vn; i++) {
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return -1;
	}
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (k == 13 && strncasecmp(p, "authorization", k) == 0) {
		if (r->auth)
			return -1;
		r->auth = v;
		r->auth_len = vn;
	} else if (k == 12 && strncasecmp(p, "x-occ-client", k) == 0) {
		if (r->client)
			return -1;
		r->client = v;
		r->client_len = vn;
	}
	return 0;
}

/* The head buf[0..len) (len from head_length); -1 when malformed. */
static int parse_head(struct request *out, const char *buf, size_t len)
{
	struct request r = { 0 };
	const char *p = buf, *end = buf + len;
	bool first = true;

	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);

		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (first ? parse_request_line(p, n) < 0 : parse_header(&r, p, n) < 0)
			return -1;
		first = false;
		p = nl + 1;
	}
	if (first)
		return -1;
	*out = r;
	return 0;
}

/* The token of "Basic <token>" (scheme case-insensitive), or NULL when the
 * value uses another scheme. */
static const char *basic_token(const char *v, size_t n, size_t *out_len)
{
	if (n < 5 || strncasecmp(v, "Basic", 5) != 0 || (n > 5 && v[5] != ' '))
		return NULL;
	v += 5;
	n -= 5;
	while (n && *v == ' ')
		v++, n--;
	*out_len = n;
	return v;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict padded base64 into out; the decoded length, or -1. */
static ssize_t b64_decode(unsigned char *out, size_t cap, const char *in, size_t len)
{
	size_t o = 0;

	if (len == 0 || len % 4 || len / 4 * 3 > cap)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t triple = 0;
		int pad = 0;

		for (size_t k = 0; k < 4; k++) {
			char c = in[i + k];
			int v = c == '=' && k >= 2 && i + 4 == len ? 0 : b64_value(c);

			if (v < 0 || (pad && c != '='))
				return -1;
			pad += c == '=';
			triple = triple << 6 | (uint32_t)v;
		}
		out[o++] = (unsigned char)(triple >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(triple >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)triple;
	}
	return (ssize_t)o;
}

/* "user:password" from a Basic token into j; false when malformed. The
 * name as it looked goes to user_log either way. */
static bool decode_basic(struct job *j, char user_log[OCC_NAME_MAX + 1], const char *tok,
			 size_t n)
{
	unsigned char raw[OCC_HEAD_MAX];
	const unsigned char *colon;
	ssize_t len = b64_decode(raw, sizeof(raw), tok, n);
	size_t nu, np;
	bool ok = false;

	user_log[0] = '\0';
	if (len < 0)
		goto out;
	colon = memchr(raw, ':', (size_t)len);
	nu = colon ? (size_t)(colon - raw) : (size_t)len;
	sanitize(user_log, (const char *)raw, nu);
	if (!colon || !name_ok((const char *)raw, nu))
		goto out;
	np = (size_t)len - nu - 1;
	if (np >= sizeof(j->password) || memchr(colon + 1, '\0', np))
		goto out;
	memcpy(j->user, raw, nu);
	j->user[nu] = '\0';
	memcpy(j->password, colon + 1, np);
	j->password[np] = '\0';
	ok = true;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return ok;
}

/* ---- Connections ---- */

static size_t conn_slot(const struct server *s, const struct conn *c)
{
	return (size_t)(c - s->conns);
}

static uint64_t conn_tag(const struct server *s, const struct conn *c)
{
	return (uint64_t)c->gen << 32 | conn_slot(s, c);
}

static void conn_drop_buf(struct conn *c)
{
	if (!c->buf)
		return;
	OPENSSL_cleanse(c->buf, c->len);
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

static void conn_close(struct server *s, struct conn *c)
{
	timer_clear(s, c);
	conn_drop_buf(c);
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->state = CONN_FREE;
	s->free_slots[s->nfree++] = conn_slot(s, c);
}

/* Send a whole (small) answer and close: a fresh socket's buffer takes it. */
static void conn_answer(struct server *s, struct conn *c, const char *resp, size_t len)
{
	if (send(c->fd, resp, len, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		logmsg("cannot answer: %s", strerror(errno));
	conn_close(s, c);
}

static void answer_ok(struct server *s, struct conn *c, const char *user)
{
	char resp[256];
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 204 No Content\r\nX-Occ-User: %s\r\nConnection: close\r\n\r\n",
			 user);

	if (n < 0 || (size_t)n >= sizeof(resp)) {
		conn_close(s, c);
		return;
	}
	conn_answer(s, c, resp, (size_t)n);
}

/* A failure: answered now when its delay has passed, else by the timer. */
static void conn_fail(struct server *s, struct conn *c)
{
	if (now_us() < c->fail_at) {
		c->state = CONN_FAILING;
		timer_set(s, c, c->fail_at);
		return;
	}
	logmsg("login failed for '%s' from %s", c->user_log, c->client);
	conn_answer(s, c, resp_401, sizeof(resp_401) - 1);
}

static void log_busy(struct server *s, size_t queued)
{
	uint64_t now = now_us();

	if (s->last_busy_log && now - s->last_busy_log < 1000000u)
		return;
	s->last_busy_log = now;
	logmsg("busy, %zu checks queued", queued);
}

/* Answer from the cache or hand one crypt to the pool. */
static void check_credentials(struct server *s, struct conn *c, const char *tok, size_t n)
{
	struct job *j = calloc(1, sizeof(*j));
	const struct account *a = NULL;
	const char *cached;
	size_t queued;
	bool valid;

	c->fail_at = now_us() + s->opt.fail_delay_ms * 1000u;
	if (!j) {
		logmsg("cannot check a login: out of memory");
		conn_close(s, c);
		return;
	}
	accounts_refresh(s);
	valid = decode_basic(j, c->user_log, tok, n);
	conn_drop_buf(c);
	j->cacheable = valid && cred_mac(s, j);
	cached = j->cacheable ? cache_lookup(s, j->mac) : NULL;
	if (cached) {
		answer_ok(s, c, cached);
		goto out;
	}
	if (valid)
		a = account_find(s->acc.v, s->acc.n, j->user);
	j->dummy = !a || !a->hash;
	copy_str(j->setting, sizeof(j->setting), j->dummy ? s->dummy : a->hash);
	j->slot = conn_slot(s, c);
	j->conn_gen = c->gen;
	j->acc_gen = s->acc.gen;
	if (pool_submit(&s->pool, j, &queued) < 0) {
		log_busy(s, queued);
		conn_fail(s, c);
		goto out;
	}
	j = NULL;
	c->state = CONN_CHECKING;
out:
	job_free(j);
}

static void on_head(struct server *s, struct conn *c, size_t len)
{
	struct request r = { 0 };
	const char *tok;
	size_t tok_len = 0;

	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	timer_clear(s, c);
	if (parse_head(&r, c->buf, len) < 0) {
		conn_answer(s, c, resp_400, sizeof(resp_400) - 1);
		return;
	}
	if (r.client)
		sanitize(c->client, r.client, r.client_len);
	tok = r.auth ? basic_token(r.auth, r.auth_len, &tok_len) : NULL;
	if (!tok) {
		conn_answer(s, c, resp_401, sizeof(resp_401) - 1);
		return;
	}
	check_credentials(s, c, tok, tok_len);
}

static void conn_read(struct server *s, struct conn *c)
{
	for (;;) {
		size_t head, from = c->len > 2 ? c->len - 2 : 0;
		ssize_t n;

		if (c->len == OCC_HEAD_MAX) {
			epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
			conn_answer(s, c, resp_400, sizeof(resp_400) - 1);
			return;
		}
		n = read(c->fd, c->buf + c->len, OCC_HEAD_MAX - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(s, c);
			return;
		}
		c->len += (size_t)n;
		head = head_length(c->buf, from, c->len);
		if (head) {
			on_head(s, c, head);
			return;
		}
	}
}

static void conn_open(struct server *s, int fd)
{
	size_t slot = s->free_slots[--s->nfree];
	struct conn *c = &s->conns[slot];
	struct epoll_event ev = { .events = EPOLLIN };

	c->buf = malloc(OCC_HEAD_MAX);
	ev.data.u64 = conn_tag(s, c);
	if (!c->buf || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c->buf);
		c->buf = NULL;
		s->nfree++;
		close(fd);
		return;
	}
	c->fd = fd;
	c->len = 0;
	c->state = CONN_READING;
	copy_str(c->client, sizeof(c->client), "-");
	c->user_log[0] = '\0';
	timer_set(s, c, now_us() + OCC_READ_TIMEOUT_US);
}

static void on_accept(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				logmsg("cannot accept a connection: %s", strerror(errno));
			return;
		}
		if (s->nfree == 0) {
			close(fd);
			continue;
		}
		conn_open(s, fd);
	}
}

/* ---- The loop ---- */

static void on_result(struct server *s, struct job *j)
{
	struct conn *c = &s->conns[j->slot];

	if (c->state != CONN_CHECKING || c->gen != j->conn_gen)
		return;
	if (!j->ok) {
		conn_fail(s, c);
		return;
	}
	if (j->cacheable && j->acc_gen == s->acc.gen)
		cache_insert(s, j->mac, j->user);
	answer_ok(s, c, j->user);
}

static void on_wake(struct server *s)
{
	struct jobq done;
	struct job *j;
	uint64_t v;

	if (read(s->pool.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		logmsg("cannot read the wake-up counter: %s", strerror(errno));
	pthread_mutex_lock(&s->pool.lock);
	done = s->pool.done;
	memset(&s->pool.done, 0, sizeof(s->pool.done));
	pthread_mutex_unlock(&s->pool.lock);
	while ((j = jobq_pop(&done)) != NULL) {
		on_result(s, j);
		job_free(j);
	}
}

static void on_signal(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		logmsg("stopping on signal %u", si.ssi_signo);
		s->stop = true;
	}
}

static void on_conn_event(struct server *s, uint64_t tag)
{
	size_t slot = (size_t)(tag & 0xffffffffu);
	struct conn *c;

	if (slot >= s->max_conns)
		return;
	c = &s->conns[slot];
	if (c->state == CONN_READING && c->gen == (uint32_t)(tag >> 32))
		conn_read(s, c);
}

static void run_timers(struct server *s)
{
	uint64_t now = now_us();

	while (s->nheap && s->heap[0]->due <= now) {
		struct conn *c = s->heap[0];

		timer_clear(s, c);
		if (c->state == CONN_FAILING)
			conn_fail(s, c);
		else
			conn_close(s, c);
	}
}

static int server_run(struct server *s)
{
	struct epoll_event ev[64];

	while (!s->stop) {
		int n = epoll_wait(s->epoll_fd, ev, 64, next_timeout_ms(s));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			logmsg("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;

			if (tag == OCC_TAG_LISTEN)
				on_accept(s);
			else if (tag == OCC_TAG_SIGNAL)
				on_signal(s);
			else if (tag == OCC_TAG_WAKE)
				on_wake(s);
			else
				on_conn_event(s, tag);
		}
		run_timers(s);
	}
	return 0;
}

/* ---- Set-up and tear-down ---- */

static int watch_fd(struct server *s, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = tag;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logmsg("epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether something answers on path (a live daemon, not a stale socket). */
static bool socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

/* Remove a stale socket at path; refuse anything else. */
static int clear_path(const struct sockaddr_un *sa)
{
	const char *path = sa->sun_path;
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		logmsg("cannot use '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		logmsg("refusing to replace '%s': not a socket", path);
		return -1;
	}
	if (socket_live(sa)) {
		logmsg("cannot listen on '%s': another server answers there", path);
		return -1;
	}
	if (unlink(path) < 0) {
		logmsg("cannot remove the stale socket '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int listen_unix(struct server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = s->opt.socket_path;
	int fd = -1, rc = -1, r;
	struct stat st;
	mode_t old;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (clear_path(&sa) < 0)
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		logmsg("socket: %s", strerror(errno));
		goto out;
	}
	old = umask(0117);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0 || lstat(path, &st) < 0) {
		logmsg("cannot listen on '%s': %s", path, strerror(errno));
		goto out;
	}
	s->sock_made = true;
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	s->listen_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Block SIGTERM/SIGINT for every thread and read them from a signalfd. */
static int signals_init(struct server *s)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t set;

	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->signal_fd < 0) {
		logmsg("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Connections allowed: OCC_CONNS_MAX, or fewer when files are scarce. */
static size_t conn_limit(void)
{
	const rlim_t want = OCC_CONNS_MAX + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return OCC_CONNS_MAX;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return OCC_CONNS_MAX;
	return rl.rlim_cur > 128 ? (size_t)rl.rlim_cur - 64 : 64;
}

static int secrets_init(struct server *s)
{
	if (RAND_bytes(s->mac_key, sizeof(s->mac_key)) != 1) {
		logmsg("cannot get random bytes for the cache key");
		return -1;
	}
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, s->gen_dummy, (int)sizeof(s->gen_dummy))) {
		logmsg("cannot make a yescrypt setting: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int server_init(struct server *s)
{
	int wake_fd;

	s->max_conns = conn_limit();
	for (size_t i = 0; i < s->max_conns; i++) {
		s->conns[i].fd = -1;
		s->conns[i].heap_idx = OCC_NO_TIMER;
		s->free_slots[s->nfree++] = s->max_conns - 1 - i;
	}
	if (signals_init(s) < 0 || secrets_init(s) < 0)
		return -1;
	accounts_refresh(s);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->pool.wake_fd = wake_fd;
	if (s->epoll_fd < 0 || wake_fd < 0) {
		logmsg("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	if (listen_unix(s) < 0 || watch_fd(s, s->listen_fd, OCC_TAG_LISTEN) < 0 ||
	    watch_fd(s, s->signal_fd, OCC_TAG_SIGNAL) < 0 ||
	    watch_fd(s, wake_fd, OCC_TAG_WAKE) < 0)
		return -1;
	s->pool_started = true;
	return pool_start(&s->pool, s->opt.workers, wake_fd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Copes with a half-built server; removes the socket only if still ours. */
static void server_free(struct server *s)
{
	struct stat st;

	if (!s)
		return;
	if (s->pool_started)
		pool_stop(&s->pool);
	for (size_t i = 0; i < s->max_conns; i++) {
		if (s->conns[i].state != CONN_FREE)
			conn_close(s, &s->conns[i]);
	}
	if (s->sock_made && lstat(s->opt.socket_path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		unlink(s->opt.socket_path);
	close_fd(&s->listen_fd);
	close_fd(&s->epoll_fd);
	close_fd(&s->signal_fd);
	close_fd(&s->pool.wake_fd);
	accounts_release(&s->acc);
	cache_clear(s);
	OPENSSL_cleanse(s->mac_key, sizeof(s->mac_key));
	free(s);
}

int main(int argc, char **argv)
{
	struct options opt = {
		.passwd = "/etc/passwd", .shadow = "/etc/shadow",
		.fail_delay_ms = 1000, .workers = 2, .uid_min = 1000, .uid_max = 59999,
	};
	struct server *s;
	int rc = 1;

	if (parse_args(&opt, argc, argv) < 0)
		return OCC_EX_USAGE;
	s = calloc(1, sizeof(*s));
	if (!s) {
		logmsg("out of memory");
		return 1;
	}
	s->opt = opt;
	s->listen_fd = s->epoll_fd = s->signal_fd = s->pool.wake_fd = -1;
	if (server_init(s) < 0)
		goto out;
	logmsg("listening on %s (%lu workers, fail delay %lu ms, uids %lu..%lu)", opt.socket_path,
	       opt.workers, opt.fail_delay_ms, opt.uid_min, opt.uid_max);
	rc = server_run(s) < 0 ? 1 : 0;
	logmsg("stopped");
out:
	server_free(s);
	return rc;
}
