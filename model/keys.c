/*
 * keys.c - the key tables: which keys exist where, how each value is parsed,
 * and where it lands in struct occ_state.
 *
 * One generic walker (map_table) handles every mapping in the file, so unknown
 * keys, wrong types and missing keys are reported the same way everywhere
 * (systemd's config tables). The same tables generate occ_model_key_paths(),
 * which a test compares with schemas/state.schema.json.
 *
 * Typing follows YAML 1.2's core schema rather than libyaml's 1.1 heritage:
 * booleans are true/false only (not yes/no/on/off), integers are plain decimal
 * without leading zeros (YAML 1.1 would read 0700 as octal), and a quoted
 * value is always a string, so `port: "3000"` is an error instead of a guess.
 * Every parser replaces what the field held (the state starts as the defaults).
 */
#include "model/model-internal.h"
#include "model/password.h"
#include "model/safety.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct key;
typedef int parse_fn(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		     const struct key *k);
typedef const char *rule_fn(const char *s);

enum shape {
	SHAPE_LEAF,
	SHAPE_MAP,       /* sub is a struct table */
	SHAPE_LIST,      /* sub is a struct list */
	SHAPE_FREEMAP,   /* keys are the user's (env, build args) */
};

#define KEY_REQUIRED 0x1
#define KEY_REFUSED  0x2   /* a known mistake: reported as unknown, with hint */

struct key {
	const char *name;
	parse_fn *parse;
	size_t offset;         /* of the field, from the struct the table maps */
	unsigned flags;
	enum shape shape;
	const void *sub;       /* struct table, struct list or struct enum_def */
	rule_fn *rule;         /* for parse_string: NULL when any text will do */
	const char *hint;      /* when the value is refused (or the key, KEY_REFUSED) */
};

#define MAX_TABLE_KEYS 16

struct table {
	const struct key *keys;
	size_t n;
	bool has_pos;
	size_t pos_offset;     /* of a struct occ_pos to fill with the map's place */
	int (*check)(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		     const struct occ_ynode *const *seen);
};

struct list {
	const struct table *items;   /* NULL: a list of strings (char **): host
	                                paths, or item_rule's strings */
	rule_fn *item_rule;          /* items == NULL: plain strings this accepts */
	size_t item_size;
	size_t count_offset;         /* of the size_t count, beside the array */
	void (*init)(void *item);
	void (*release)(void *item);
	const char *item_hint;       /* when an item is not a mapping */
};

struct enum_value {
	const char *name;
	int value;
};

struct enum_def {
	const struct enum_value *values;
	size_t n;
};

static_assert(sizeof(enum occ_pull_policy) == sizeof(int), "enums are stored as int");
static_assert(sizeof(enum occ_restart_policy) == sizeof(int), "enums are stored as int");

#define FIELD(base, k) ((void *)((char *)(base) + (k)->offset))

/* ---- messages ---- */

int occ_model__fail(struct occ_model_ctx *c, struct occ_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	occ_error_setv(c->err, OCC_EINVALID, fmt, ap);
	va_end(ap);
	occ_error_at(c->err, c->file ? c->file : "", pos.line, pos.col);
	return OCC_EINVALID;
}

const char *occ_model__path(struct occ_model_ctx *c)
{
	return c->path.len ? c->path.buf : "the top level";
}

/* Cuts on a character boundary so the message stays valid UTF-8. */
const char *occ_model__show(const char *s, char buf[static OCC_SHOW_MAX + 8])
{
	size_t i = 0, o = 0;

	while (s[i]) {
		unsigned char ch = (unsigned char)s[i];
		bool ctrl = ch < 0x20 || ch == 0x7f;
		size_t w = 1, need;

		while (ch >= 0x80 && w < 4 && ((unsigned char)s[i + w] & 0xc0) == 0x80)
			w++;
		need = ctrl ? 4 : w;
		if (o + need > OCC_SHOW_MAX) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (ctrl)
			snprintf(buf + o, 5, "\\x%02x", ch);
		else
			memcpy(buf + o, s + i, w);
		o += need;
		i += w;
	}
	buf[o] = '\0';
	return buf;
}

/* Optimal string alignment distance, cut off above 2 (callers want <= 2). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[24][24];

	if (la > lb + 2 || lb > la + 2 || la >= 24 || lb >= 24)
		return 3;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *occ_model__suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3, i;

	for (i = 0; i < n; i++) {
		size_t d = edit_distance(word, cands[i]);

		/* A 2-letter word is 2 edits from any other 2-letter word. */
		if (d < best_d && d < strlen(cands[i])) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

static const char *suggest_key(const struct table *t, const char *word)
{
	const char *cands[MAX_TABLE_KEYS];
	size_t i, n = 0;

	for (i = 0; i < t->n; i++)
		if (!(t->keys[i].flags & KEY_REFUSED))
			cands[n++] = t->keys[i].name;
	return occ_model__suggest(word, cands, n);
}

static bool is_null(const struct occ_ynode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->kind != OCC_YNODE_SCALAR || n->quoted)
		return false;
	for (i = 0; i < OCC_ARRAY_SIZE(nulls); i++)
		if (strcmp(n->str, nulls[i]) == 0)
			return true;
	return false;
}

static int type_error(struct occ_model_ctx *c, const struct occ_ynode *n, const char *expected)
{
	char show[OCC_SHOW_MAX + 8];
	const char *what = n->kind == OCC_YNODE_MAP ? "a mapping" : "a list";

	if (is_null(n))
		what = "nothing (null)";
	else if (n->kind == OCC_YNODE_SCALAR)
		return occ_model__fail(c, n->pos, "%s: expected %s, got %s'%s'", occ_model__path(c),
				       expected, n->quoted ? "the string " : "",
				       occ_model__show(n->str, show));
	return occ_model__fail(c, n->pos, "%s: expected %s, got %s", occ_model__path(c),
			       expected, what);
}

/* A quoted value that would be right without its quotes. */
static int quoted_error(struct occ_model_ctx *c, const struct occ_ynode *n, const char *expected)
{
	type_error(c, n, expected);
	occ_error_hint(c->err, "remove the quotes");
	return OCC_EINVALID;
}

/* A value as written; quoted or not, but not null and not a collection. */
static int scalar_text(struct occ_model_ctx *c, const struct occ_ynode *n, const char **out)
{
	if (n->kind != OCC_YNODE_SCALAR || is_null(n))
		return type_error(c, n, "a string");
	*out = n->str;
	return 0;
}

static int value_error(struct occ_model_ctx *c, const struct occ_ynode *n, const struct key *k,
		       const char *why)
{
	char show[OCC_SHOW_MAX + 8];

	occ_model__fail(c, n->pos, "%s: '%s' is not valid: %s", occ_model__path(c),
			occ_model__show(n->str, show), why);
	if (k->hint)
		occ_error_hint(c->err, "%s", k->hint);
	return OCC_EINVALID;
}

static void set_string(char **field, const char *s)
{
	free(*field);
	*field = occ_xstrdup(s);
}

/* ---- scalar parsers ---- */

static bool is_decimal(const char *s)
{
	const char *p = s + (*s == '-');

	if (!*p || (p[0] == '0' && p[1]))
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int parse_integer(struct occ_model_ctx *c, const struct occ_ynode *n, long min,
			 long max, long *out)
{
	char show[OCC_SHOW_MAX + 8];

	if (n->kind == OCC_YNODE_SCALAR && n->quoted && is_decimal(n->str))
		return quoted_error(c, n, "an integer");
	if (n->kind != OCC_YNODE_SCALAR || n->quoted || is_null(n) || !is_decimal(n->str))
		return type_error(c, n, "an integer");
	if (occ_parse_long(n->str, min, max, out) != 0)
		return occ_model__fail(c, n->pos, "%s: %s is out of range (%ld-%ld)",
				       occ_model__path(c), occ_model__show(n->str, show), min, max);
	return 0;
}

static int parse_version(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			 const struct key *k)
{
	long v;
	int ret = parse_integer(c, n, 0, 1000000, &v);

	if (ret)
		return ret;
	if (v != OCC_STATE_VERSION) {
		occ_model__fail(c, n->pos, "unsupported version %ld: this occ understands version %d",
				v, OCC_STATE_VERSION);
		if (v > OCC_STATE_VERSION)
			occ_error_hint(c->err, "the file was written for a newer occ; upgrade occ");
		return OCC_EINVALID;
	}
	*(int *)FIELD(base, k) = (int)v;
	return 0;
}

static int parse_port(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	long v;
	int ret = parse_integer(c, n, 1, 65535, &v);

	if (ret)
		return ret;
	*(uint16_t *)FIELD(base, k) = (uint16_t)v;
	return 0;
}

static int parse_override_port(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			       const struct key *k)
{
	struct occ_overrides *o = base;
	int ret = parse_port(c, n, base, k);

	if (ret)
		return ret;
	if (k->offset == offsetof(struct occ_overrides, port))
		o->has_port = true;
	else
		o->has_container_port = true;
	return 0;
}

static int parse_bool(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	size_t i;

	if (n->kind != OCC_YNODE_SCALAR)
		return type_error(c, n, "true or false");
	for (i = 0; i < OCC_ARRAY_SIZE(yes); i++) {
		if (strcmp(n->str, yes[i]) != 0 && strcmp(n->str, no[i]) != 0)
			continue;
		if (n->quoted)
			return quoted_error(c, n, "true or false");
		*(bool *)FIELD(base, k) = n->str[0] == 't' || n->str[0] == 'T';
		return 0;
	}
	return type_error(c, n, "true or false");
}

static int parse_duration(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			  const struct key *k)
{
	char show[OCC_SHOW_MAX + 8];
	uint64_t ms;

	if (n->kind != OCC_YNODE_SCALAR || is_null(n))
		return type_error(c, n, "a duration");
	if (occ_parse_duration_ms(n->str, &ms) != 0 || ms == 0) {
		occ_model__fail(c, n->pos, "%s: '%s' is not a valid duration", occ_model__path(c),
				occ_model__show(n->str, show));
		occ_error_hint(c->err, "write a positive number with a unit: 500ms, 30s, 5m, 1h");
		return OCC_EINVALID;
	}
	*(uint64_t *)FIELD(base, k) = ms;
	return 0;
}

/* Docker's memory sizes: a number of bytes, or with a binary unit b, k, m, g. */
static int parse_memory(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			const struct key *k)
{
	static const struct { char unit; unsigned shift; } units[] = {
		{ 'b', 0 }, { 'k', 10 }, { 'm', 20 }, { 'g', 30 },
	};
	char show[OCC_SHOW_MAX + 8], digits[24];
	const char *s;
	size_t len;
	unsigned shift = 0;
	long v;

	if (n->kind != OCC_YNODE_SCALAR || is_null(n))
		return type_error(c, n, "a size");
	s = n->str;
	len = strlen(s);
	for (size_t i = 0; len > 1 && i < OCC_ARRAY_SIZE(units); i++) {
		if ((s[len - 1] | 0x20) == units[i].unit) {
			shift = units[i].shift;
			len--;
		}
	}
	if (len == 0 || len >= sizeof(digits))
		goto bad;
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (!is_decimal(digits) || occ_parse_long(digits, 0, (1L << 40) >> shift, &v) != 0)
		goto bad;
	if (v && ((uint64_t)v << shift) < 6 * 1024 * 1024) {
		occ_model__fail(c, n->pos, "%s: %s is below Docker's minimum of 6m",
				occ_model__path(c), occ_model__show(s, show));
		return OCC_EINVALID;
	}
	*(uint64_t *)FIELD(base, k) = (uint64_t)v << shift;
	return 0;
bad:
	occ_model__fail(c, n->pos, "%s: '%s' is not a valid size", occ_model__path(c),
			occ_model__show(s, show));
	occ_error_hint(c->err, "write bytes or a number with a unit: 512m, 2g (0: no limit)");
	return OCC_EINVALID;
}

/* CPUs as a decimal with up to 3 places ("1.5"): Docker's NanoCpus. */
static int parse_cpus(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	char show[OCC_SHOW_MAX + 8];
	const char *p;
	uint64_t whole = 0, frac = 0, scale = 1000000000;
	int places = 0;

	if (n->kind != OCC_YNODE_SCALAR || is_null(n))
		return type_error(c, n, "a number of CPUs");
	p = n->str;
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > 1024)
			goto bad;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, places++) {
			if (places == 3)
				goto bad;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
		if (places == 0)
			goto bad;
	}
	/* 0 is no limit; below a hundredth of a CPU Docker refuses. */
	if (*p || (whole * 1000000000 + frac && whole * 1000000000 + frac < 10000000))
		goto bad;
	*(uint64_t *)FIELD(base, k) = whole * 1000000000 + frac;
	return 0;
bad:
	occ_model__fail(c, n->pos, "%s: '%s' is not a valid number of CPUs", occ_model__path(c),
			occ_model__show(n->str ? n->str : "", show));
	occ_error_hint(c->err, "write a number from 0.01 to 1024, e.g. 2 or 1.5 (0: no limit)");
	return OCC_EINVALID;
}

static int parse_pids(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	long v;
	int ret = parse_integer(c, n, 0, 4194304, &v);

	if (ret)
		return ret;
	if (v > 0 && v < 32) {
		occ_model__fail(c, n->pos, "%s: %ld processes cannot run opencode and its tools",
				occ_model__path(c), v);
		occ_error_hint(c->err, "write at least 32, or 0 for no limit");
		return OCC_EINVALID;
	}
	*(long *)FIELD(base, k) = v;
	return 0;
}

static int parse_enum(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	const struct enum_def *e = k->sub;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char show[OCC_SHOW_MAX + 8];
	const char *s = "";
	size_t i;
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	for (i = 0; i < e->n; i++) {
		if (strcmp(s, e->values[i].name) == 0) {
			*(int *)FIELD(base, k) = e->values[i].value;
			return 0;
		}
	}
	for (i = 0; i < e->n; i++)
		occ_strbuf_addf(&sb, "%s%s", i ? ", " : "", e->values[i].name);
	ret = occ_model__fail(c, n->pos, "%s: invalid value '%s' (expected one of: %s)",
			      occ_model__path(c), occ_model__show(s, show), sb.buf);
	occ_strbuf_release(&sb);
	return ret;
}

/* Any non-empty text, checked by k->rule when there is one. */
static int parse_string(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			const struct key *k)
{
	const char *s = "", *why;
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	if (!*s)
		return occ_model__fail(c, n->pos, "%s: must not be empty", occ_model__path(c));
	why = k->rule ? k->rule(s) : NULL;
	if (why)
		return value_error(c, n, k, why);
	set_string(FIELD(base, k), s);
	return 0;
}

/* Never echoes the value: a refused hash may well be a plain password. */
static int parse_password_hash(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			       const struct key *k)
{
	const char *s = "", *why;
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	why = occ_model__check_crypt_hash(s);
	if (why) {
		occ_model__fail(c, n->pos, "%s: not a crypt(3) password hash: %s",
				occ_model__path(c), why);
		occ_error_hint(c->err, "%s", k->hint);
		return OCC_EINVALID;
	}
	set_string(FIELD(base, k), s);
	return 0;
}

/* A path on the machine running occ: ${VAR} expanded, then resolved. */
static int host_path(struct occ_model_ctx *c, const struct occ_ynode *n, char **out)
{
	char why[256];
	char *expanded = NULL;
	const char *s = "";
	int ret = scalar_text(c, n, &s);

	if (ret && strcmp(n->str ? n->str : "", "~") == 0)
		occ_error_hint(c->err, "a bare ~ is YAML's null; write \"~\" for the home directory");
	if (ret)
		return ret;
	if (occ_model__expand_vars(s, &expanded, why, sizeof(why)) != 0) {
		occ_model__fail(c, n->pos, "%s: %s", occ_model__path(c), why);
		occ_error_hint(c->err, "paths may use ${VAR} for an environment variable and $$ for a literal '$'");
		return OCC_EINVALID;
	}
	if (!*expanded) {
		free(expanded);
		return occ_model__fail(c, n->pos, "%s: the path is empty", occ_model__path(c));
	}
	*out = occ_path_resolve(expanded, c->st->dir);
	free(expanded);
	return 0;
}

static int parse_host_path(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			   const struct key *k)
{
	char **field = FIELD(base, k);
	char *path;
	int ret = host_path(c, n, &path);

	if (ret)
		return ret;
	free(*field);
	*field = path;
	return 0;
}

static int parse_container_path(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
				const struct key *k)
{
	char **field = FIELD(base, k);
	const char *s = "", *why;
	char *clean;
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	why = occ_model__clean_container_path(s, &clean);
	if (!why && (why = occ_mount_target_danger(clean)))
		free(clean);
	if (why)
		return value_error(c, n, k, why);
	free(*field);
	*field = clean;
	return 0;
}

static int parse_bind(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	unsigned char addr[16];
	char show[OCC_SHOW_MAX + 8];
	const char *s = "";
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	if (inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1) {
		occ_model__fail(c, n->pos, "%s: '%s' is not an IP address", occ_model__path(c),
				occ_model__show(s, show));
		occ_error_hint(c->err, "%s", k->hint);
		return OCC_EINVALID;
	}
	set_string(FIELD(base, k), s);
	return 0;
}

static int parse_health_path(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			     const struct key *k)
{
	char **field = FIELD(base, k);
	const char *s = "";
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	if (strcmp(s, "none") == 0) {
		free(*field);
		*field = NULL;
		return 0;
	}
	return parse_string(c, n, base, k);
}

static int parse_context(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			 const struct key *k)
{
	struct occ_image_build *b = base;
	const char *s = "";
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	b->embedded = strcmp(s, "embedded") == 0;
	free(b->context);
	b->context = NULL;
	if (b->embedded)
		return 0;
	return parse_host_path(c, n, base, k);
}

static void path_pop(struct occ_model_ctx *c, size_t len);

static int kv_type_error(struct occ_model_ctx *c, const struct occ_ynode *key,
			 const struct occ_ynode *val)
{
	size_t len = c->path.len;

	occ_strbuf_addf(&c->path, ".%s", key->str);
	type_error(c, val, "a string");
	path_pop(c, len);
	occ_error_hint(c->err, "write \"\" for an empty value");
	return OCC_EINVALID;
}

/*
 * The container's OCC_* variables are occ's interface to its image (login
 * mode, listening port): one set by hand could open the login or move nginx
 * off the published port, so the whole prefix is occ's.
 */
#define OCC_ENV_PREFIX "OCC_"

static int reserved_env(struct occ_model_ctx *c, const struct occ_ynode *key)
{
	char show[OCC_SHOW_MAX + 8];

	if (strcmp(key->str, OCC_LOGIN_ENV) == 0) {
		occ_model__fail(c, key->pos, "%s.%s: is reserved: occ sets it itself",
				occ_model__path(c), OCC_LOGIN_ENV);
		occ_error_hint(c->err, "login is open only on a loopback bind with no enabled "
			       "users; add users (occ user add) to require a login");
	} else if (strcmp(key->str, OCC_LISTEN_PORT_ENV) == 0) {
		occ_model__fail(c, key->pos, "%s.%s: is set by occ (from container.container_port); "
				"OCC_* variables are reserved", occ_model__path(c),
				OCC_LISTEN_PORT_ENV);
		occ_error_hint(c->err, "remove it and set container.container_port instead");
	} else {
		occ_model__fail(c, key->pos, "%s.%s: OCC_* variables are reserved for occ",
				occ_model__path(c), occ_model__show(key->str, show));
		occ_error_hint(c->err, "rename the variable");
	}
	return OCC_EINVALID;
}

/* env and build args: free keys, scalar values kept as written. */
static int parse_kvlist(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			const struct key *k)
{
	struct occ_kvlist *kv = FIELD(base, k);
	char show[OCC_SHOW_MAX + 8];
	size_t i;

	if (n->kind != OCC_YNODE_MAP)
		return type_error(c, n, "a mapping");
	occ_kvlist_release(kv);
	for (i = 0; i < OCC_YMAP_PAIRS(n); i++) {
		const struct occ_ynode *key = OCC_YMAP_KEY(n, i), *val = OCC_YMAP_VALUE(n, i);
		const char *why = occ_model__check_env_name(key->str);

		if (why)
			return occ_model__fail(c, key->pos, "%s: invalid name '%s': %s",
					       occ_model__path(c), occ_model__show(key->str, show), why);
		if (strcmp(k->name, "env") == 0 && occ_starts_with(key->str, OCC_ENV_PREFIX))
			return reserved_env(c, key);
		if (val->kind != OCC_YNODE_SCALAR || is_null(val))
			return kv_type_error(c, key, val);
		occ_kvlist_set(kv, key->str, val->str);
		kv->items[kv->n - 1].pos = key->pos;
	}
	return 0;
}

/* ---- collections ---- */

static int map_table(struct occ_model_ctx *c, const struct occ_ynode *n,
		     const struct table *t, void *obj);

static void path_push(struct occ_model_ctx *c, const char *name)
{
	occ_strbuf_addf(&c->path, c->path.len ? ".%s" : "%s", name);
}

static void path_push_index(struct occ_model_ctx *c, size_t index)
{
	occ_strbuf_addf(&c->path, "[%zu]", index);
}

static void path_pop(struct occ_model_ctx *c, size_t len)
{
	c->path.len = len;
	c->path.buf[len] = '\0';
}

static int parse_map(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		     const struct key *k)
{
	return map_table(c, n, k->sub, FIELD(base, k));
}

static int parse_build(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		       const struct key *k)
{
	struct occ_image_build *b = FIELD(base, k);

	b->enabled = true;
	b->embedded = true;
	return parse_map(c, n, base, k);
}

static void *get_ptr(void *field)
{
	void *p;

	memcpy(&p, field, sizeof(p));
	return p;
}

static void set_ptr(void *field, void *p)
{
	memcpy(field, &p, sizeof(p));
}

static void list_release(const struct list *l, void *field, size_t *count)
{
	char *arr = get_ptr(field);
	size_t i;

	for (i = 0; i < *count; i++)
		l->release(arr + i * l->item_size);
	free(arr);
	set_ptr(field, NULL);
	*count = 0;
}

static int list_string(struct occ_model_ctx *c, const struct occ_ynode *n,
		       const struct list *l, void *item)
{
	char show[OCC_SHOW_MAX + 8];
	const char *s = "", *why;
	int ret = scalar_text(c, n, &s);

	if (ret)
		return ret;
	why = l->item_rule(s);
	if (why) {
		occ_model__fail(c, n->pos, "%s: '%s' is not valid: %s", occ_model__path(c),
				occ_model__show(s, show), why);
		if (l->item_hint)
			occ_error_hint(c->err, "%s", l->item_hint);
		return OCC_EINVALID;
	}
	set_ptr(item, occ_xstrdup(s));
	return 0;
}

static int parse_list_item(struct occ_model_ctx *c, const struct occ_ynode *n,
			   const struct list *l, void *item)
{
	char *path;
	int ret;

	if (l->items && n->kind != OCC_YNODE_MAP && l->item_hint) {
		type_error(c, n, "a mapping");
		occ_error_hint(c->err, "%s", l->item_hint);
		return OCC_EINVALID;
	}
	if (l->items)
		return map_table(c, n, l->items, item);
	if (l->item_rule)
		return list_string(c, n, l, item);
	ret = host_path(c, n, &path);
	if (!ret)
		set_ptr(item, path);
	return ret;
}

static int parse_list(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
		      const struct key *k)
{
	const struct list *l = k->sub;
	size_t *count = (size_t *)((char *)base + l->count_offset);
	size_t i, len = c->path.len;
	char *arr;
	int ret = 0;

	if (n->kind != OCC_YNODE_SEQ)
		return type_error(c, n, "a list");
	list_release(l, FIELD(base, k), count);
	if (n->n == 0)
		return 0;
	arr = occ_xcalloc(n->n, l->item_size);
	set_ptr(FIELD(base, k), arr);
	for (i = 0; i < n->n && !ret; i++) {
		void *item = arr + i * l->item_size;

		if (l->init)
			l->init(item);
		(*count)++;
		path_push_index(c, i);
		ret = parse_list_item(c, n->items[i], l, item);
		path_pop(c, len);
	}
	return ret;
}

static int parse_volumes(struct occ_model_ctx *c, const struct occ_ynode *n, void *base,
			 const struct key *k)
{
	struct occ_state *st = base;

	st->volumes_default = false;
	return parse_list(c, n, base, k);
}

static const struct key *table_find(const struct table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].name, name) == 0)
			return &t->keys[i];
	return NULL;
}

static int unknown_key(struct occ_model_ctx *c, const struct table *t,
		       const struct occ_ynode *key, const struct key *refused)
{
	char show[OCC_SHOW_MAX + 8];
	const char *best = suggest_key(t, key->str);
	bool top = c->path.len == 0;

	if (best && !refused)
		occ_model__fail(c, key->pos, "unknown key '%s' %s%s, did you mean '%s'?",
				occ_model__show(key->str, show), top ? "at " : "in ",
				occ_model__path(c), best);
	else
		occ_model__fail(c, key->pos, "unknown key '%s' %s%s",
				occ_model__show(key->str, show), top ? "at " : "in ",
				occ_model__path(c));
	if (refused)
		occ_error_hint(c->err, "%s", refused->hint);
	else if (strcmp(key->str, "<<") == 0)
		occ_error_hint(c->err, "YAML merge keys ('<<') are not supported");
	return OCC_EINVALID;
}

static int missing_key(struct occ_model_ctx *c, const struct occ_ynode *map, const struct key *k)
{
	return occ_model__fail(c, map->pos, "missing required key '%s' %s%s", k->name,
			       c->path.len ? "in " : "at ", occ_model__path(c));
}

static int map_table(struct occ_model_ctx *c, const struct occ_ynode *n,
		     const struct table *t, void *obj)
{
	const struct occ_ynode *seen[MAX_TABLE_KEYS] = { 0 };
	size_t i, len = c->path.len;
	int ret;

	assert(t->n <= MAX_TABLE_KEYS);
	if (n->kind != OCC_YNODE_MAP)
		return type_error(c, n, "a mapping");
	if (t->has_pos)
		*(struct occ_pos *)((char *)obj + t->pos_offset) = n->pos;
	for (i = 0; i < OCC_YMAP_PAIRS(n); i++) {
		const struct occ_ynode *key = OCC_YMAP_KEY(n, i);
		const struct key *k = table_find(t, key->str);

		if (!k || (k->flags & KEY_REFUSED))
			return unknown_key(c, t, key, k);
		path_push(c, k->name);
		ret = k->parse(c, OCC_YMAP_VALUE(n, i), obj, k);
		path_pop(c, len);
		if (ret)
			return ret;
		seen[k - t->keys] = OCC_YMAP_VALUE(n, i);
	}
	for (i = 0; i < t->n; i++)
		if ((t->keys[i].flags & KEY_REQUIRED) && !seen[i])
			return missing_key(c, n, &t->keys[i]);
	return t->check ? t->check(c, n, obj, seen) : 0;
}

static const struct occ_ynode *seen_get(const struct table *t,
					const struct occ_ynode *const *seen, const char *name)
{
	const struct key *k = table_find(t, name);

	assert(k);
	return seen[k - t->keys];
}

/* ---- the tables ---- */

#define LEAF(n, fn, T, f)           { .name = n, .parse = fn, .offset = offsetof(T, f) }
#define LEAF_REQ(n, fn, T, f)       { .name = n, .parse = fn, .offset = offsetof(T, f), \
				      .flags = KEY_REQUIRED }
#define STR(n, T, f, r, h)          { .name = n, .parse = parse_string, .offset = offsetof(T, f), \
				      .rule = r, .hint = h }
#define STR_REQ(n, T, f, r, h)      { .name = n, .parse = parse_string, .offset = offsetof(T, f), \
				      .rule = r, .hint = h, .flags = KEY_REQUIRED }
#define ENUM(n, T, f, e)            { .name = n, .parse = parse_enum, .offset = offsetof(T, f), \
				      .sub = &e }
#define MAP(n, fn, T, f, t)         { .name = n, .parse = fn, .offset = offsetof(T, f), \
				      .shape = SHAPE_MAP, .sub = &t }
#define LIST(n, fn, T, f, l)        { .name = n, .parse = fn, .offset = offsetof(T, f), \
				      .shape = SHAPE_LIST, .sub = &l }
#define FREEMAP(n, T, f, h)         { .name = n, .parse = parse_kvlist, .offset = offsetof(T, f), \
				      .shape = SHAPE_FREEMAP, .hint = h }
#define REFUSED(n, h)               { .name = n, .flags = KEY_REFUSED, .hint = h }
#define TABLE(k, ...)               { .keys = k, .n = OCC_ARRAY_SIZE(k), __VA_ARGS__ }
#define POS(T)                      .has_pos = true, .pos_offset = offsetof(T, pos)

#define BIND_HINT "use 127.0.0.1 for this machine only, or 0.0.0.0 to listen on every interface"
#define HASH_HINT "generate one with 'occ user passwd NAME' or 'mkpasswd -m yescrypt'"

static const struct enum_value pull_values[] = {
	{ "always", OCC_PULL_ALWAYS },
	{ "missing", OCC_PULL_MISSING },
	{ "never", OCC_PULL_NEVER },
};
static const struct enum_def pull_enum = { pull_values, OCC_ARRAY_SIZE(pull_values) };

static const struct enum_value restart_values[] = {
	{ "no", OCC_RESTART_NO },
	{ "on-failure", OCC_RESTART_ON_FAILURE },
	{ "always", OCC_RESTART_ALWAYS },
	{ "unless-stopped", OCC_RESTART_UNLESS_STOPPED },
};
static const struct enum_def restart_enum = { restart_values, OCC_ARRAY_SIZE(restart_values) };

static int check_build(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen);
static int check_image(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen);
static int check_user(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		      const struct occ_ynode *const *seen);
static int check_host(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		      const struct occ_ynode *const *seen);
static int check_mount(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen);

static void string_release(void *item)
{
	free(get_ptr(item));
}

static const struct list ca_certs_list = {
	.item_size = sizeof(char *),
	.count_offset = offsetof(struct occ_image_build, n_ca_certs),
	.release = string_release,
};

static const struct key build_keys[] = {
	LEAF("context", parse_context, struct occ_image_build, context),
	STR("dockerfile", struct occ_image_build, dockerfile, NULL, NULL),
	FREEMAP("args", struct occ_image_build, args, NULL),
	LIST("ca_certs", parse_list, struct occ_image_build, ca_certs, ca_certs_list),
};
static const struct table build_table = TABLE(build_keys, POS(struct occ_image_build),
					      .check = check_build);

static const struct key image_keys[] = {
	STR("ref", struct occ_image, ref, occ_model__check_image_ref,
	    "write a reference such as 'opencode-cloud:local' or 'ghcr.io/owner/name:tag'"),
	ENUM("pull", struct occ_image, pull, pull_enum),
	MAP("build", parse_build, struct occ_image, build, build_table),
};
static const struct table image_table = TABLE(image_keys, POS(struct occ_image),
					      .check = check_image);

static const struct key health_keys[] = {
	{ .name = "path", .parse = parse_health_path, .offset = offsetof(struct occ_health, path),
	  .rule = occ_model__check_url_path,
	  .hint = "write an HTTP path such as /global/health, or 'none' for no probe" },
	LEAF("timeout", parse_duration, struct occ_health, timeout_ms),
};
static const struct table health_table = TABLE(health_keys);

static const struct list server_names_list = {
	.item_rule = occ_model__check_address,
	.item_size = sizeof(char *),
	.count_offset = offsetof(struct occ_container, n_server_names),
	.release = string_release,
	.item_hint = "write a host name or IP address the service is reached by, e.g. code.example.com",
};

static const struct key container_keys[] = {
	LEAF("port", parse_port, struct occ_container, port),
	{ .name = "bind", .parse = parse_bind, .offset = offsetof(struct occ_container, bind),
	  .hint = BIND_HINT },
	LEAF("container_port", parse_port, struct occ_container, container_port),
	FREEMAP("env", struct occ_container, env, NULL),
	ENUM("restart", struct occ_container, restart, restart_enum),
	MAP("health", parse_map, struct occ_container, health, health_table),
	LEAF("running", parse_bool, struct occ_container, running),
	LIST("server_names", parse_list, struct occ_container, server_names, server_names_list),
	REFUSED("ports", "occ publishes one port: set 'port' (host) and 'container_port'"),
	REFUSED("environment", "the key is 'env'"),
};
static const struct table container_table = TABLE(container_keys, POS(struct occ_container));

static const struct key user_keys[] = {
	STR_REQ("name", struct occ_user, name, occ_model__check_user_name, NULL),
	{ .name = "password_hash", .parse = parse_password_hash,
	  .offset = offsetof(struct occ_user, password_hash), .hint = HASH_HINT },
	LEAF("password_file", parse_host_path, struct occ_user, password_file),
	STR("password_env", struct occ_user, password_env, occ_model__check_var_name, NULL),
	LEAF("enabled", parse_bool, struct occ_user, enabled),
	STR("shell", struct occ_user, shell, occ_model__check_shell,
	    "write the absolute path of a shell, such as /bin/bash"),
	REFUSED("password", "plain-text passwords are not accepted: put a crypt hash in "
		"password_hash (" HASH_HINT "), or use password_file or password_env"),
};
static const struct table user_table = TABLE(user_keys, POS(struct occ_user), .check = check_user);

#define TARGET_HINT "choose another container path, such as one under /home/opencode"

static const struct key mount_keys[] = {
	LEAF_REQ("source", parse_host_path, struct occ_mount, source),
	{ .name = "target", .parse = parse_container_path, .flags = KEY_REQUIRED,
	  .offset = offsetof(struct occ_mount, target), .hint = TARGET_HINT },
	LEAF("readonly", parse_bool, struct occ_mount, readonly),
	LEAF("allow_dangerous", parse_bool, struct occ_mount, allow_dangerous),
};
static const struct table mount_table = TABLE(mount_keys, POS(struct occ_mount),
					      .check = check_mount);

static const struct key volume_keys[] = {
	STR_REQ("name", struct occ_volume, name, occ_model__check_docker_name, NULL),
	{ .name = "target", .parse = parse_container_path, .flags = KEY_REQUIRED,
	  .offset = offsetof(struct occ_volume, target), .hint = TARGET_HINT },
};
static const struct table volume_table = TABLE(volume_keys, POS(struct occ_volume));

static void user_init(void *item) { occ_model__user_init(item); }
static void user_release(void *item) { occ_model__user_release(item); }
static void mount_release(void *item) { occ_model__mount_release(item); }
static void volume_release(void *item) { occ_model__volume_release(item); }
static void host_init(void *item) { occ_model__host_init(item); }
static void host_release(void *item) { occ_model__host_release(item); }

static const struct list user_list = {
	.items = &user_table,
	.item_size = sizeof(struct occ_user),
	.count_offset = offsetof(struct occ_state, n_users),
	.init = user_init,
	.release = user_release,
};

#define MOUNT_HINT "each mount is a mapping, e.g. '- {source: ./src, target: /home/opencode/src}'"
static const struct list mount_list = {
	.items = &mount_table,
	.item_size = sizeof(struct occ_mount),
	.count_offset = offsetof(struct occ_state, n_mounts),
	.release = mount_release,
	.item_hint = MOUNT_HINT,
};
static const struct list override_mount_list = {
	.items = &mount_table,
	.item_size = sizeof(struct occ_mount),
	.count_offset = offsetof(struct occ_overrides, n_mounts),
	.release = mount_release,
	.item_hint = MOUNT_HINT,
};
static const struct list volume_list = {
	.items = &volume_table,
	.item_size = sizeof(struct occ_volume),
	.count_offset = offsetof(struct occ_state, n_volumes),
	.release = volume_release,
};

/* overrides.container maps onto struct occ_overrides itself (offset 0). */
static const struct key override_container_keys[] = {
	LEAF("port", parse_override_port, struct occ_overrides, port),
	{ .name = "bind", .parse = parse_bind, .offset = offsetof(struct occ_overrides, bind),
	  .hint = BIND_HINT },
	LEAF("container_port", parse_override_port, struct occ_overrides, container_port),
	FREEMAP("env", struct occ_overrides, env, NULL),
};
static const struct table override_container_table = TABLE(override_container_keys);

static const struct key override_keys[] = {
	{ .name = "container", .parse = parse_map, .offset = 0, .shape = SHAPE_MAP,
	  .sub = &override_container_table },
	LIST("mounts", parse_list, struct occ_overrides, mounts, override_mount_list),
};
static const struct table override_table = TABLE(override_keys, POS(struct occ_overrides));

static const struct key host_keys[] = {
	STR_REQ("name", struct occ_host, name, occ_model__check_docker_name, NULL),
	STR("address", struct occ_host, address, occ_model__check_address,
	    "write a host name or IP address; the login name goes in 'user', the SSH port in 'port'"),
	STR("user", struct occ_host, user, occ_model__check_login, NULL),
	LEAF("port", parse_port, struct occ_host, port),
	LEAF("identity", parse_host_path, struct occ_host, identity),
	STR("socket", struct occ_host, socket, occ_model__check_abs_path, NULL),
	MAP("overrides", parse_map, struct occ_host, overrides, override_table),
};
static const struct table host_table = TABLE(host_keys, POS(struct occ_host), .check = check_host);

static const struct list host_list = {
	.items = &host_table,
	.item_size = sizeof(struct occ_host),
	.count_offset = offsetof(struct occ_state, n_hosts),
	.init = host_init,
	.release = host_release,
};

static const struct key service_keys[] = {
	LEAF("install", parse_bool, struct occ_service, install),
};
static const struct table service_table = TABLE(service_keys);

static const struct key watch_keys[] = {
	LEAF("resync", parse_duration, struct occ_watch, resync_ms),
	LEAF("self_heal", parse_bool, struct occ_watch, self_heal),
};
static const struct table watch_table = TABLE(watch_keys);

static const struct key resources_keys[] = {
	LEAF("memory", parse_memory, struct occ_resources, memory),
	LEAF("cpus", parse_cpus, struct occ_resources, nano_cpus),
	LEAF("pids", parse_pids, struct occ_resources, pids),
};
static const struct table resources_table = TABLE(resources_keys, POS(struct occ_resources));

static const struct key top_keys[] = {
	LEAF_REQ("version", parse_version, struct occ_state, version),
	STR("name", struct occ_state, name, occ_model__check_docker_name, NULL),
	MAP("image", parse_map, struct occ_state, image, image_table),
	MAP("container", parse_map, struct occ_state, container, container_table),
	LIST("users", parse_list, struct occ_state, users, user_list),
	LIST("mounts", parse_list, struct occ_state, mounts, mount_list),
	LIST("volumes", parse_volumes, struct occ_state, volumes, volume_list),
	LIST("hosts", parse_list, struct occ_state, hosts, host_list),
	STR("default_host", struct occ_state, default_host, occ_model__check_docker_name, NULL),
	MAP("service", parse_map, struct occ_state, service, service_table),
	MAP("watch", parse_map, struct occ_state, watch, watch_table),
	MAP("resources", parse_map, struct occ_state, resources, resources_table),
};
static const struct table top_table = TABLE(top_keys);

/* ---- checks that need several keys of one mapping ---- */

static int check_build(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen)
{
	struct occ_image_build *b = obj;
	const struct occ_ynode *df = seen_get(&build_table, seen, "dockerfile");

	(void)map;
	if (b->embedded && df) {
		occ_model__fail(c, df->pos, "%s.dockerfile: has no effect with context: embedded",
				occ_model__path(c));
		occ_error_hint(c->err, "remove it, or set context to the directory holding your Dockerfile");
		return OCC_EINVALID;
	}
	if (!b->dockerfile)
		b->dockerfile = occ_xstrdup("Dockerfile");
	b->ca_certs_set = seen_get(&build_table, seen, "ca_certs") != NULL;
	return 0;
}

/*
 * Unless the file names an image (image.ref) without saying how to build it,
 * occ builds its own image from the embedded Dockerfile (the default state).
 * An image.ref without image.build is an image to pull or use, as it always
 * was.
 */
static int check_image(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen)
{
	struct occ_image *im = obj;

	(void)c;
	(void)map;
	if (seen_get(&image_table, seen, "ref") && !seen_get(&image_table, seen, "build")) {
		im->build.enabled = false;
		im->build.embedded = false;
	}
	return 0;
}

static bool pos_before(struct occ_pos a, struct occ_pos b)
{
	return a.line < b.line || (a.line == b.line && a.col < b.col);
}

#define MAX_PASSWORD_FILE 4096

static int no_hash_in_file(struct occ_model_ctx *c, const struct occ_ynode *n, const char *file,
			   const char *what)
{
	char show[OCC_SHOW_MAX + 8];

	occ_model__fail(c, n->pos, "%s.password_file: '%s' %s", occ_model__path(c),
			occ_model__show(file, show), what);
	occ_error_hint(c->err, "write the user's hash into it (mkpasswd -m yescrypt > FILE), "
		       "never the password itself");
	return OCC_EINVALID;
}

/*
 * The file is read now, so that `occ validate` refuses what apply would
 * (after creating the volumes). A file that does not exist (yet) or cannot
 * be read here is left to apply, which reports it. The content is never
 * shown: it may be a password, or another file's secrets.
 */
static int check_password_file(struct occ_model_ctx *c, const struct occ_ynode *n,
			       const struct occ_user *u)
{
	struct occ_error ignored;
	struct stat sb;
	char *text = NULL;
	size_t len = 0, start = 0, size;
	int ret = 0;

	if (stat(u->password_file, &sb) != 0)
		return 0;
	if (!S_ISREG(sb.st_mode))
		return no_hash_in_file(c, n, u->password_file, "is not a regular file");
	occ_error_clear(&ignored);
	ret = occ_read_file(u->password_file, MAX_PASSWORD_FILE, &text, &len, &ignored);
	if (ret == OCC_EINVALID)
		return no_hash_in_file(c, n, u->password_file, "holds no crypt hash (expected "
				       "one line like $y$...)");
	if (ret)
		return 0;
	size = len;
	while (len && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	while (start < len && strchr(" \t\r\n", text[start]))
		start++;
	ret = 0;
	if (strlen(text) != len || occ_model__check_crypt_hash(text + start))
		ret = no_hash_in_file(c, n, u->password_file, "holds no crypt hash (expected "
				      "one line like $y$...)");
	occ_secure_zero(text, size);
	free(text);
	return ret;
}

/* One password source at most; a second one is reported where it is written. */
static int check_user(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		      const struct occ_ynode *const *seen)
{
	static const struct { const char *key; enum occ_password_source src; } sources[] = {
		{ "password_hash", OCC_PW_HASH },
		{ "password_file", OCC_PW_FILE },
		{ "password_env", OCC_PW_ENV },
	};
	struct occ_user *u = obj;
	const struct occ_ynode *first = NULL, *second = NULL;
	size_t i, first_i = 0, second_i = 0;

	(void)map;
	for (i = 0; i < OCC_ARRAY_SIZE(sources); i++) {
		const struct occ_ynode *n = seen_get(&user_table, seen, sources[i].key);

		if (!n)
			continue;
		if (!first || pos_before(n->pos, first->pos)) {
			second = first;
			second_i = first_i;
			first = n;
			first_i = i;
		} else if (!second || pos_before(n->pos, second->pos)) {
			second = n;
			second_i = i;
		}
	}
	if (first)
		u->pw_source = sources[first_i].src;
	if (!second)
		return u->pw_source == OCC_PW_FILE ?
		       check_password_file(c, seen_get(&user_table, seen, "password_file"), u) : 0;
	occ_model__fail(c, second->pos, "%s: both %s and %s are set", occ_model__path(c),
			sources[first_i].key, sources[second_i].key);
	occ_error_hint(c->err, "give each user one password source: password_hash, "
		       "password_file or password_env");
	return OCC_EINVALID;
}

/* A mount that would hand the container the host: refused unless the file
 * says allow_dangerous: true on that very mount (occ mount add --force). */
static int check_mount(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		       const struct occ_ynode *const *seen)
{
	const struct occ_mount *m = obj;
	const struct occ_ynode *src = seen_get(&mount_table, seen, "source");
	char show[OCC_SHOW_MAX + 8], why[512];

	(void)map;
	if (m->allow_dangerous || !occ_mount_source_danger(m->source, m->readonly, why, sizeof(why)))
		return 0;
	occ_model__fail(c, src->pos, "%s.source: refusing to mount '%s' into the container: %s",
			occ_model__path(c), occ_model__show(m->source, show), why);
	occ_error_hint(c->err, "mount a project directory instead; if you really mean it, set "
		       "'allow_dangerous: true' on this mount");
	return OCC_EINVALID;
}

static int check_host(struct occ_model_ctx *c, const struct occ_ynode *map, void *obj,
		      const struct occ_ynode *const *seen)
{
	static const char *const remote_only[] = { "user", "port", "identity" };
	struct occ_host *h = obj;
	size_t i;

	if (h->address)
		return 0;
	if (strcmp(h->name, "local") != 0) {
		occ_model__fail(c, map->pos, "%s: host '%s' has no address", occ_model__path(c),
				h->name);
		occ_error_hint(c->err, "set its address; only the host named 'local' may omit it "
			       "(meaning this machine)");
		return OCC_EINVALID;
	}
	for (i = 0; i < OCC_ARRAY_SIZE(remote_only); i++) {
		const struct occ_ynode *n = seen_get(&host_table, seen, remote_only[i]);

		if (!n)
			continue;
		occ_model__fail(c, n->pos, "%s.%s: has no effect on the local machine",
				occ_model__path(c), remote_only[i]);
		occ_error_hint(c->err, "set an address to reach this host over SSH, or remove '%s'",
			       remote_only[i]);
		return OCC_EINVALID;
	}
	return 0;
}

/* ---- entry points ---- */

static int check_version(struct occ_model_ctx *c)
{
	const struct occ_ynode *root = c->root, *v;
	int ret;

	if (!root || is_null(root)) {
		occ_model__fail(c, (struct occ_pos){ 1, 1 }, "the state file is empty");
		occ_error_hint(c->err, "a state file needs at least the line 'version: 1'");
		return OCC_EINVALID;
	}
	if (root->kind != OCC_YNODE_MAP) {
		type_error(c, root, "a mapping of keys such as 'version: 1'");
		return OCC_EINVALID;
	}
	v = occ_model__map_get(root, "version");
	if (!v) {
		missing_key(c, root, table_find(&top_table, "version"));
		occ_error_hint(c->err, "add the line 'version: 1' at the top of the file");
		return OCC_EINVALID;
	}
	path_push(c, "version");
	ret = parse_version(c, v, c->st, table_find(&top_table, "version"));
	path_pop(c, 0);
	return ret;
}

int occ_model__map_state(struct occ_model_ctx *c)
{
	int ret = check_version(c);

	if (ret)
		return ret;
	return map_table(c, c->root, &top_table, c->st);
}

struct paths {
	const char **items;
	size_t n, alloc;
};

static void paths_add(struct paths *p, char *s)
{
	OCC_GROW(p->items, p->n, p->alloc);
	p->items[p->n++] = s;
}

static void walk_table(struct paths *p, const struct table *t, const char *prefix)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		char *path;

		if (k->flags & KEY_REFUSED)
			continue;
		path = prefix ? occ_xasprintf("%s.%s", prefix, k->name) : occ_xstrdup(k->name);
		paths_add(p, path);
		if (k->shape == SHAPE_MAP) {
			walk_table(p, k->sub, path);
		} else if (k->shape == SHAPE_FREEMAP) {
			paths_add(p, occ_xasprintf("%s.*", path));
		} else if (k->shape == SHAPE_LIST && ((const struct list *)k->sub)->items) {
			char *items = occ_xasprintf("%s[]", path);

			walk_table(p, ((const struct list *)k->sub)->items, items);
			free(items);
		}
	}
}

static struct paths key_paths;
static pthread_once_t key_paths_once = PTHREAD_ONCE_INIT;

static void build_key_paths(void)
{
	walk_table(&key_paths, &top_table, NULL);
}

const char *const *occ_model_key_paths(size_t *n)
{
	pthread_once(&key_paths_once, build_key_paths);
	*n = key_paths.n;
	return key_paths.items;
}
