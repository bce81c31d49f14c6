/*
 * validate.c - rules for single values (names, hashes, paths, references),
 * the rules that span several keys (duplicates, default_host, a public bind
 * without users, opencode's own port), and the mount rules of safety.h
 * (sources that would hand the container this machine, targets over the
 * container's accounts), which `occ mount add` shares.
 *
 * Value rules return a reason, not an error, so keys.c words every message
 * the same way. Cross-key rules run after mapping, on the finished state, and
 * find the offending node again by its path in the tree, so every message
 * points at the value that has to change (the second of two duplicates).
 */
#include "model/model-internal.h"
#include "model/safety.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- value rules ---- */

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

const char *occ_model__check_docker_name(const char *s)
{
	size_t i;

	if (strlen(s) > OCC_MAX_NAME)
		return "names are at most 63 characters";
	if (!is_alnum(s[0]))
		return "names start with a letter or digit";
	for (i = 1; s[i]; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return "names contain only letters, digits, '_', '.' and '-'";
	return NULL;
}

/*
 * Names a user cannot take because the image already has them: the accounts
 * and groups of Debian's base-passwd (and of the packages the image installs),
 * and the image's own. A user named like a group would be added to that group
 * (useradd refuses, or worse: 'shadow' reads /etc/shadow, 'sudo' is root).
 */
static const struct { const char *name; bool group; } reserved_names[] = {
	/* accounts (each also has its own group) */
	{ "root", false }, { "daemon", false }, { "bin", false }, { "sys", false },
	{ "sync", false }, { "games", false }, { "man", false }, { "lp", false },
	{ "mail", false }, { "news", false }, { "uucp", false }, { "proxy", false },
	{ "www-data", false }, { "backup", false }, { "list", false }, { "irc", false },
	{ "gnats", false }, { "nobody", false }, { "_apt", false },
	{ "systemd-network", false }, { "systemd-resolve", false },
	{ "systemd-timesync", false }, { "messagebus", false }, { "sshd", false },
	{ "adm", false }, { "operator", false }, { "opencode", false },
	/* groups only */
	{ "tty", true }, { "disk", true }, { "kmem", true }, { "dialout", true },
	{ "fax", true }, { "voice", true }, { "cdrom", true }, { "floppy", true },
	{ "tape", true }, { "sudo", true }, { "audio", true }, { "dip", true },
	{ "src", true }, { "shadow", true }, { "utmp", true }, { "video", true },
	{ "sasl", true }, { "plugdev", true }, { "staff", true }, { "users", true },
	{ "nogroup", true }, { "systemd-journal", true }, { "occ-auth", true },
};

const char *occ_model__check_user_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return "user names start with a lowercase letter or '_'";
	for (i = 1; s[i]; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return "user names contain only lowercase letters, digits, '_' and '-'";
	if (i > 32)
		return "user names are at most 32 characters";
	for (i = 0; i < OCC_ARRAY_SIZE(reserved_names); i++)
		if (strcmp(s, reserved_names[i].name) == 0)
			return reserved_names[i].group ?
			       "it is a system group in the container: choose another name" :
			       "the name is reserved for a system account in the container: "
			       "choose another name";
	return NULL;
}

static bool is_crypt_chars(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '/' && !strchr(extra, s[i]))
			return false;
	return true;
}

static const char *check_bcrypt(const char *rest)
{
	/* $2b$NN$ + 22 characters of salt + 31 of hash */
	if (!(rest[0] >= '0' && rest[0] <= '3') || !(rest[1] >= '0' && rest[1] <= '9') ||
	    rest[2] != '$')
		return "bcrypt hashes have a two-digit cost after the scheme";
	if (strlen(rest + 3) != 53 || !is_crypt_chars(rest + 3, 53, ""))
		return "a bcrypt hash has 53 characters after its cost";
	return NULL;
}

/*
 * Schemes libxcrypt computes and considers strong: yescrypt, gost-yescrypt,
 * scrypt, SHA-512, SHA-256, bcrypt. The last '$'-field is the hash itself,
 * of a fixed length per scheme; earlier fields (parameters, salt) use the
 * crypt alphabet plus ',' and '=' ("rounds=5000").
 */
const char *occ_model__check_crypt_hash(const char *s)
{
	static const struct { const char *prefix; size_t len; } schemes[] = {
		{ "$y$", 43 }, { "$gy$", 43 }, { "$7$", 43 }, { "$6$", 86 }, { "$5$", 43 },
		{ "$2b$", 0 }, { "$2y$", 0 },
	};
	const char *rest, *last;
	size_t i;

	for (i = 0; i < OCC_ARRAY_SIZE(schemes); i++)
		if (occ_starts_with(s, schemes[i].prefix))
			break;
	if (i == OCC_ARRAY_SIZE(schemes))
		return "it does not start with a supported scheme ($y$, $gy$, $7$, $6$, $5$, $2b$, $2y$)";
	rest = s + strlen(schemes[i].prefix);
	if (schemes[i].len == 0)
		return check_bcrypt(rest);
	last = strrchr(rest, '$');
	if (!last || last == rest)
		return "it has no salt";
	if (!is_crypt_chars(rest, (size_t)(last - rest), "$,="))
		return "its salt or parameters hold characters crypt(3) never writes";
	if (strlen(last + 1) != schemes[i].len || !is_crypt_chars(last + 1, schemes[i].len, ""))
		return "its hash part is truncated or damaged";
	return NULL;
}

/* One path component of a repository: [a-z0-9]+ joined by '.', '_', '__' or '-'+. */
static bool is_path_component(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0;

		while (i < n && is_lower_alnum(s[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return false;
		if (i == n)
			return true;
		if (s[i] == '.' || (s[i] == '_' && (i + 1 == n || s[i + 1] != '_')))
			i++;
		else if (s[i] == '_')
			i += 2;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return false;
		if (i == n)
			return false;
	}
	return n > 0;
}

static bool is_domain(const char *s, size_t n)
{
	size_t i;
	const char *colon = memchr(s, ':', n);
	size_t host = colon ? (size_t)(colon - s) : n;

	if (host == 0)
		return false;
	for (i = 0; i < host; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	if (!colon)
		return true;
	for (i = host + 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return host + 1 < n;
}

static const char *check_tag_digest(const char *tag, const char *digest)
{
	size_t i;

	if (tag) {
		if (!*tag || strlen(tag) > 128 || !(is_alnum(tag[0]) || tag[0] == '_'))
			return "a tag is 1-128 characters and starts with a letter, digit or '_'";
		for (i = 1; tag[i]; i++)
			if (!is_alnum(tag[i]) && !strchr("_.-", tag[i]))
				return "a tag contains only letters, digits, '_', '.' and '-'";
	}
	if (digest) {
		const char *colon = strchr(digest, ':');

		if (!colon || colon == digest || strlen(colon + 1) < 32)
			return "a digest looks like sha256:<64 hex digits>";
		for (i = 1; colon[i]; i++)
			if (!((colon[i] >= '0' && colon[i] <= '9') || (colon[i] >= 'a' && colon[i] <= 'f')))
				return "a digest's hex part uses 0-9 and a-f";
	}
	return NULL;
}

/* Docker's reference grammar: [domain/]path[:tag][@digest]. */
const char *occ_model__check_image_ref(const char *s)
{
	char *copy = occ_xstrdup(s), *at, *slash, *colon, *p;
	const char *why = NULL, *tag = NULL, *digest = NULL;
	bool first = true;

	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		digest = at + 1;
	}
	slash = strrchr(copy, '/');
	colon = strrchr(slash ? slash : copy, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
	}
	why = check_tag_digest(tag, digest);
	if (!why && strlen(copy) > 255)
		why = "a repository name is at most 255 characters";
	for (p = copy; !why; first = false) {
		size_t n = strcspn(p, "/");
		bool domain = first && p[n] == '/' &&
			      (memchr(p, '.', n) || memchr(p, ':', n) ||
			       (n == 9 && strncmp(p, "localhost", 9) == 0));

		if (domain ? !is_domain(p, n) : !is_path_component(p, n))
			why = domain ? "the registry part is not a host name"
				     : "repository names use lowercase letters and digits, "
				       "separated by '.', '_', '__', '-' or '/'";
		if (!p[n])
			break;
		p += n + 1;
	}
	free(copy);
	return why;
}

const char *occ_model__check_env_name(const char *s)
{
	if (!*s)
		return "names cannot be empty";
	if (strchr(s, '=') || has_space_or_control(s))
		return "names cannot contain '=', spaces or control characters";
	return NULL;
}

const char *occ_model__check_var_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return "variable names start with a letter or '_'";
	for (i = 1; s[i]; i++)
		if (!is_alnum(s[i]) && s[i] != '_')
			return "variable names contain only letters, digits and '_'";
	return NULL;
}

const char *occ_model__check_address(const char *s)
{
	unsigned char addr[16];
	const char *label = s;
	size_t i;

	if (inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1)
		return NULL;
	if (strchr(s, '@'))
		return "it contains '@'";
	if (strchr(s, ':'))
		return "it contains ':' but is not an IPv6 address";
	if (strlen(s) > 253)
		return "host names are at most 253 characters";
	for (i = 0;; i++) {
		if (s[i] == '.' || !s[i]) {
			size_t n = (size_t)(s + i - label);

			if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
				return "it is neither an IP address nor a valid host name";
			if (!s[i])
				return NULL;
			label = s + i + 1;
		} else if (!is_alnum(s[i]) && s[i] != '-') {
			return "it is neither an IP address nor a valid host name";
		}
	}
}

const char *occ_model__check_login(const char *s)
{
	size_t i;

	if (strlen(s) > 64)
		return "login names are at most 64 characters";
	if (!is_alnum(s[0]) && s[0] != '_')
		return "login names start with a letter, digit or '_'";
	for (i = 1; s[i]; i++)
		if (!is_alnum(s[i]) && !strchr("_.-", s[i]))
			return "login names contain only letters, digits, '_', '.' and '-'";
	return NULL;
}

const char *occ_model__check_url_path(const char *s)
{
	if (s[0] != '/')
		return "HTTP paths start with '/'";
	if (has_space_or_control(s) || strchr(s, '#'))
		return "HTTP paths contain no spaces, control characters or '#'";
	return NULL;
}

const char *occ_model__check_abs_path(const char *s)
{
	if (s[0] != '/')
		return "the path must be absolute";
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return "the path contains control characters";
	return NULL;
}

/* A login shell: an absolute path that fits a passwd line. */
const char *occ_model__check_shell(const char *s)
{
	const char *why = occ_model__check_abs_path(s);

	if (why)
		return why;
	if (strchr(s, ':'))
		return "a shell path cannot contain ':' (it would break the passwd line)";
	return NULL;
}

const char *occ_model__clean_container_path(const char *s, char **out)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const char *p = s;

	if (s[0] != '/')
		return "container paths must be absolute (start with '/')";
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ':')
			return "container paths contain no ':' or control characters";
	occ_strbuf_init(&sb);
	for (p = s; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			occ_strbuf_release(&sb);
			return "container paths must not contain '..'";
		}
		if (n && !(n == 1 && p[0] == '.')) {
			occ_strbuf_addc(&sb, '/');
			occ_strbuf_add(&sb, p, n);
		}
		p += n;
	}
	if (sb.len == 0) {
		occ_strbuf_release(&sb);
		return "the container's root '/' cannot be a mount target";
	}
	*out = occ_strbuf_detach(&sb);
	return NULL;
}

static int expand_one(const char **pp, struct occ_strbuf *sb, char *why, size_t why_len)
{
	const char *p = *pp, *end;
	char name[256];
	const char *value;

	if (p[1] == '$') {
		occ_strbuf_addc(sb, '$');
		*pp = p + 2;
		return 0;
	}
	if (p[1] != '{') {
		snprintf(why, why_len, "a '$' must start ${VAR} or be doubled as $$");
		return -1;
	}
	end = strchr(p + 2, '}');
	if (!end) {
		snprintf(why, why_len, "'${' has no closing '}'");
		return -1;
	}
	if ((size_t)(end - p - 2) >= sizeof(name)) {
		snprintf(why, why_len, "a variable name is too long");
		return -1;
	}
	memcpy(name, p + 2, (size_t)(end - p - 2));
	name[end - p - 2] = '\0';
	if (occ_model__check_var_name(name)) {
		char show[OCC_SHOW_MAX + 8];

		snprintf(why, why_len, "'${%s}' is not a valid variable reference",
			 occ_model__show(name, show));
		return -1;
	}
	value = getenv(name);
	if (!value) {
		snprintf(why, why_len, "environment variable '%s' is not set", name);
		return -1;
	}
	occ_strbuf_adds(sb, value);
	*pp = end + 1;
	return 0;
}

int occ_model__expand_vars(const char *s, char **out, char *why, size_t why_len)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const char *p = s;

	occ_strbuf_init(&sb);
	while (*p) {
		size_t n = strcspn(p, "$");

		occ_strbuf_add(&sb, p, n);
		p += n;
		if (*p && expand_one(&p, &sb, why, why_len) != 0)
			goto fail;
		if (sb.len > OCC_MAX_STRING) {
			snprintf(why, why_len, "the path expands to more than %d bytes", OCC_MAX_STRING);
			goto fail;
		}
	}
	*out = occ_strbuf_detach(&sb);
	return 0;
fail:
	occ_strbuf_release(&sb);
	return -1;
}

/* ---- dangerous mounts (safety.h) ---- */

/* Whether path is dir or below it; both normalised. */
static bool is_or_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

#define AT     0x1  /* the path itself */
#define BELOW  0x2  /* the path and everything below it */
#define PREFIX 0x4  /* any path starting with these characters (sudoers, sudoers.d) */
#define RW     0x8  /* only a read-write mount */

static const struct {
	const char *path;
	unsigned how;
	const char *why;
} danger_rules[] = {
	{ "/", AT, "it is the host's root directory" },
	{ "/etc", AT, "it is the host's /etc (accounts, sudo rules, system configuration)" },
	{ "/etc/shadow", PREFIX, "it holds the host's password hashes" },     /* shadow- too */
	{ "/etc/gshadow", PREFIX, "it holds the host's group password hashes" },
	{ "/etc/sudoers", PREFIX, "it holds the host's sudo rules" },
	{ "/etc", BELOW | RW, "a read-write mount below /etc lets the container change the "
			      "host's configuration (mount it with readonly: true)" },
	{ "/proc", BELOW, "it is the host's process and kernel interface" },
	{ "/sys", BELOW, "it is the host's kernel and device interface" },
	{ "/dev", BELOW, "it gives access to the host's devices" },
	{ "/boot", BELOW, "it holds the host's kernel and boot loader" },
};

static const char *judge_rules(const char *path, bool readonly)
{
	size_t i;

	for (i = 0; i < OCC_ARRAY_SIZE(danger_rules); i++) {
		unsigned how = danger_rules[i].how;
		const char *p = danger_rules[i].path;
		bool hit = (how & AT) ? strcmp(path, p) == 0 :
			   (how & BELOW) ? is_or_below(path, p) :
			   occ_starts_with(path, p);

		if (hit && !((how & RW) && readonly))
			return danger_rules[i].why;
	}
	return NULL;
}

/* path normalised, and its realpath(3) when it exists and differs. */
static void both_forms(const char *path, char **norm, char **real)
{
	char *r;

	*norm = occ_path_normalise(path);
	*real = NULL;
	r = realpath(*norm, NULL);
	if (r && strcmp(r, *norm) != 0)
		*real = r;
	else
		free(r);
}

static const char *judge_socket(const char *path, const char *sock, char *buf, size_t len)
{
	char *norm, *real;
	const char *why = NULL;

	both_forms(sock, &norm, &real);
	if (strcmp(path, norm) == 0 || (real && strcmp(path, real) == 0))
		why = "it is the Docker socket: whoever can use it is root on this machine";
	else if (is_or_below(norm, path) || (real && is_or_below(real, path)))
		why = "it holds the Docker socket: whoever can use it is root on this machine";
	if (why) {
		snprintf(buf, len, "%s", why);
		why = buf;
	}
	free(norm);
	free(real);
	return why;
}

/* One form of the source (normalised or resolved) against every rule. */
static const char *judge(const char *path, bool readonly, char *buf, size_t len)
{
	static const char *const sockets[] = { "/var/run/docker.sock", "/run/docker.sock" };
	const char *why = judge_rules(path, readonly);
	const char *host = getenv("DOCKER_HOST");
	char *norm, *real;
	size_t i;

	if (why) {
		snprintf(buf, len, "%s", why);
		return buf;
	}
	if (host && occ_starts_with(host, "unix://") && host[7] == '/' &&
	    (why = judge_socket(path, host + 7, buf, len)))
		return why;
	for (i = 0; i < OCC_ARRAY_SIZE(sockets); i++)
		if ((why = judge_socket(path, sockets[i], buf, len)))
			return why;
	both_forms(occ_home_dir(), &norm, &real);
	if (strcmp(path, norm) == 0 || (real && strcmp(path, real) == 0))
		why = "it is your whole home directory (SSH keys, credentials, shell history)";
	free(norm);
	free(real);
	if (why) {
		snprintf(buf, len, "%s", why);
		return buf;
	}
	return NULL;
}

const char *occ_mount_source_danger(const char *source, bool readonly, char *buf, size_t len)
{
	char *norm, *real;
	const char *why;

	both_forms(source, &norm, &real);
	why = judge(norm, readonly, buf, len);
	if (!why && real && judge(real, readonly, buf, len)) {
		char *inner = occ_xstrdup(buf);

		snprintf(buf, len, "it resolves to '%s', and %s", real, inner);
		free(inner);
		why = buf;
	}
	free(norm);
	free(real);
	return why;
}

const char *occ_mount_target_danger(const char *target)
{
	static const char *const accounts[] = {
		"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow",
	};
	char *norm = occ_path_normalise(target);
	const char *why = NULL;
	size_t i;

	for (i = 0; i < OCC_ARRAY_SIZE(accounts) && !why; i++)
		if (is_or_below(accounts[i], norm))
			why = "occ writes the container's accounts in /etc/passwd, /etc/shadow "
			      "and /etc/group: a mount there would hide them or write them to the host";
	free(norm);
	return why;
}

/* ---- rules across keys ---- */

/*
 * Fail at the node named by the printf-style path (falling back to pos when
 * the path is not in the tree, e.g. for the default volumes); the message
 * starts with the path.
 */
static int fail_at_path(struct occ_model_ctx *c, struct occ_pos pos, const char *path,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at_path(struct occ_model_ctx *c, struct occ_pos pos, const char *path,
			const char *fmt, ...)
{
	const struct occ_ynode *n = occ_model__find(c->root, path);
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return occ_model__fail(c, n ? n->pos : pos, "%s: %s", path, msg);
}

static struct occ_pos pos_of(struct occ_model_ctx *c, struct occ_pos fallback, const char *path)
{
	const struct occ_ynode *n = occ_model__find(c->root, path);

	return n ? n->pos : fallback;
}

static int check_users(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	char path[64], first[64];
	size_t i, j;

	for (j = 1; j < st->n_users; j++) {
		for (i = 0; i < j; i++) {
			struct occ_pos p;

			if (strcmp(st->users[i].name, st->users[j].name) != 0)
				continue;
			snprintf(first, sizeof(first), "users[%zu].name", i);
			snprintf(path, sizeof(path), "users[%zu].name", j);
			p = pos_of(c, st->users[i].pos, first);
			return fail_at_path(c, st->users[j].pos, path,
					    "duplicate user '%s' (first at %d:%d)",
					    st->users[j].name, p.line, p.col);
		}
	}
	return 0;
}

/* Where a container path is already taken, for duplicate targets. */
struct target {
	const char *target;
	char path[128];        /* "mounts[0].target", or "" for a default volume */
	const char *volume;    /* the volume's name when it is one */
	struct occ_pos pos;
};

static void add_mounts(struct target *t, size_t *n, const char *prefix,
		       const struct occ_mount *m, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++, (*n)++) {
		t[*n] = (struct target){ .target = m[i].target, .pos = m[i].pos };
		snprintf(t[*n].path, sizeof(t[*n].path), "%.80smounts[%zu].target", prefix, i);
	}
}

static int report_target(struct occ_model_ctx *c, const struct target *dup,
			 const struct target *first)
{
	struct occ_pos p = pos_of(c, first->pos, first->path);

	if (!first->path[0] || !occ_model__find(c->root, first->path)) {
		fail_at_path(c, dup->pos, dup->path, "'%s' is already the target of the default volume '%s'",
			     dup->target, first->volume);
		occ_error_hint(c->err, "list the volumes you want under 'volumes:' ('volumes: []' for none)");
		return OCC_EINVALID;
	}
	return fail_at_path(c, dup->pos, dup->path, "'%s' is already the target of %s (at %d:%d)",
			    dup->target, first->path, p.line, p.col);
}

/* Every container path used once among volumes, mounts and extra (a host's
 * override mounts, which may replace a shared mount but not a volume). */
static int check_targets(struct occ_model_ctx *c, const struct occ_host *host, size_t host_i)
{
	const struct occ_state *st = c->st;
	size_t n_extra = host ? host->overrides.n_mounts : 0;
	size_t n = 0, n_vol = st->n_volumes, i, j;
	struct target *t = occ_xcalloc(n_vol + st->n_mounts + n_extra + 1, sizeof(*t));
	int ret = 0;

	for (i = 0; i < n_vol; i++, n++) {
		t[n] = (struct target){ .target = st->volumes[i].target, .pos = st->volumes[i].pos,
					.volume = st->volumes[i].name };
		if (!st->volumes_default)
			snprintf(t[n].path, sizeof(t[n].path), "volumes[%zu].target", i);
	}
	if (host) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "hosts[%zu].overrides.", host_i);
		add_mounts(t, &n, prefix, host->overrides.mounts, n_extra);
	} else {
		add_mounts(t, &n, "", st->mounts, st->n_mounts);
	}
	for (j = 1; j < n && !ret; j++)
		for (i = 0; i < j && !ret; i++)
			if (strcmp(t[i].target, t[j].target) == 0)
				ret = report_target(c, &t[j], &t[i]);
	free(t);
	return ret;
}

static int check_volume_names(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	char path[64], first[64];
	size_t i, j;

	for (j = 1; j < st->n_volumes; j++) {
		for (i = 0; i < j; i++) {
			struct occ_pos p;

			if (strcmp(st->volumes[i].name, st->volumes[j].name) != 0)
				continue;
			snprintf(first, sizeof(first), "volumes[%zu].name", i);
			snprintf(path, sizeof(path), "volumes[%zu].name", j);
			p = pos_of(c, st->volumes[i].pos, first);
			return fail_at_path(c, st->volumes[j].pos, path,
					    "duplicate volume '%s' (first at %d:%d)",
					    st->volumes[j].name, p.line, p.col);
		}
	}
	return 0;
}

static int check_hosts(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	char path[64], first[64];
	size_t i, j;
	int ret;

	for (j = 0; j < st->n_hosts; j++) {
		for (i = 0; i < j; i++) {
			struct occ_pos p;

			if (strcmp(st->hosts[i].name, st->hosts[j].name) != 0)
				continue;
			snprintf(first, sizeof(first), "hosts[%zu].name", i);
			snprintf(path, sizeof(path), "hosts[%zu].name", j);
			p = pos_of(c, st->hosts[i].pos, first);
			return fail_at_path(c, st->hosts[j].pos, path,
					    "duplicate host '%s' (first at %d:%d)",
					    st->hosts[j].name, p.line, p.col);
		}
		ret = check_targets(c, &st->hosts[j], j);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_default_host(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	const char **names;
	const char *best;
	size_t i;

	if (!st->default_host)
		return 0;
	if (st->n_hosts == 0 && strcmp(st->default_host, "local") == 0)
		return 0;
	names = occ_xcalloc(st->n_hosts + 1, sizeof(*names));
	for (i = 0; i < st->n_hosts; i++) {
		if (strcmp(st->hosts[i].name, st->default_host) == 0) {
			free(names);
			return 0;
		}
		names[i] = st->hosts[i].name;
	}
	best = occ_model__suggest(st->default_host, names, st->n_hosts);
	if (best)
		fail_at_path(c, (struct occ_pos){ 1, 1 }, "default_host",
			     "no host is named '%s', did you mean '%s'?", st->default_host, best);
	else
		fail_at_path(c, (struct occ_pos){ 1, 1 }, "default_host",
			     "no host is named '%s'", st->default_host);
	if (st->n_hosts == 0)
		occ_error_hint(c->err, "without 'hosts:' the only host is 'local'");
	free(names);
	return OCC_EINVALID;
}

static bool someone_can_log_in(const struct occ_state *st)
{
	size_t i;

	for (i = 0; i < st->n_users; i++)
		if (st->users[i].enabled && st->users[i].pw_source != OCC_PW_NONE)
			return true;
	return false;
}

/*
 * A service reachable beyond this machine with nobody able to log in is a
 * mistake either way: open to anyone, or useless.
 */
static int check_exposure(struct occ_model_ctx *c, const char *bind, const char *path)
{
	const struct occ_state *st = c->st;

	if (occ_bind_is_loopback(bind) || someone_can_log_in(st))
		return 0;
	fail_at_path(c, (struct occ_pos){ 1, 1 }, path,
		     "%s exposes the service beyond this machine but %s", bind,
		     st->n_users ? "no enabled user has a password to log in"
				 : "no users are defined to log in");
	occ_error_hint(c->err, "add a user ('occ user add NAME'), or bind to 127.0.0.1");
	return OCC_EINVALID;
}

/* Each host's own bind, then the shared one if any host (or no host list) uses it. */
static int check_binds(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	bool shared_used = st->n_hosts == 0;
	char path[96];
	size_t i;
	int ret;

	for (i = 0; i < st->n_hosts; i++) {
		const char *bind = st->hosts[i].overrides.bind;

		if (!bind) {
			shared_used = true;
			continue;
		}
		snprintf(path, sizeof(path), "hosts[%zu].overrides.container.bind", i);
		ret = check_exposure(c, bind, path);
		if (ret)
			return ret;
	}
	return shared_used ? check_exposure(c, st->container.bind, "container.bind") : 0;
}

/*
 * In occ's embedded image opencode itself listens on 127.0.0.1:4096 and
 * nginx (the login) on container_port in front of it: the same port for both
 * cannot work, and must not leave opencode reachable without the login.
 */
#define OPENCODE_INNER_PORT 4096

static int inner_port_error(struct occ_model_ctx *c, struct occ_pos pos, const char *path)
{
	fail_at_path(c, pos, path, "%d is opencode's own port inside occ's image "
		     "(the login in front of it listens on container_port)", OPENCODE_INNER_PORT);
	occ_error_hint(c->err, "use another port, such as the default 3000");
	return OCC_EINVALID;
}

static int check_inner_port(struct occ_model_ctx *c)
{
	const struct occ_state *st = c->st;
	char path[96];
	size_t i;

	if (!st->image.build.enabled || !st->image.build.embedded)
		return 0;
	if (st->container.container_port == OPENCODE_INNER_PORT)
		return inner_port_error(c, st->container.pos, "container.container_port");
	for (i = 0; i < st->n_hosts; i++) {
		const struct occ_overrides *o = &st->hosts[i].overrides;

		if (!o->has_container_port || o->container_port != OPENCODE_INNER_PORT)
			continue;
		snprintf(path, sizeof(path), "hosts[%zu].overrides.container.container_port", i);
		return inner_port_error(c, o->pos, path);
	}
	return 0;
}

int occ_model__validate(struct occ_model_ctx *c)
{
	int ret;

	ret = check_users(c);
	if (!ret)
		ret = check_volume_names(c);
	if (!ret)
		ret = check_targets(c, NULL, 0);
	if (!ret)
		ret = check_hosts(c);
	if (!ret)
		ret = check_default_host(c);
	if (!ret)
		ret = check_inner_port(c);
	if (!ret && !(c->flags & OCC_LOAD_NO_LOGIN_OK))
		ret = check_binds(c);
	return ret;
}
