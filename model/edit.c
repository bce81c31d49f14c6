/*
 * edit.c - surgical edits of the state file (see edit.h).
 *
 * libyaml's event stream gives every node's start and end; from them a small
 * tree of nodes with byte ranges is built, the path is walked on it, and the
 * edit becomes one or two splices of the original buffer. Bytes outside the
 * splices are copied as they are, which is what keeps comments, quoting and
 * layout intact.
 *
 * libyaml's marks need care:
 *  - mark.index counts characters, not bytes, and skips a UTF-8 BOM, so a
 *    character -> byte table maps them back (the input is checked for UTF-8
 *    first; libyaml would also accept UTF-16, which we refuse);
 *  - a block collection's end mark is where the next token starts (after
 *    blank lines and comments), so its end is its last child's end;
 *  - a block scalar's end mark is after its trailing line breaks, so ends
 *    are trimmed of trailing blanks;
 *  - an empty value sits just after its ':' in a block mapping and at the
 *    next token in a flow one;
 *  - a node with an anchor or a tag starts at the anchor; `body` is where
 *    its content starts.
 *
 * New text follows the file's conventions: its line break (LF, CRLF or CR),
 * the indentation step of its nested mappings, and the offset of its block
 * sequences under their key ("users:\n- a" or "users:\n  - a").
 *
 * Decisions, for predictability rather than cleverness:
 *  - a new key goes after its mapping's last entry (before comment lines
 *    that follow it), at the indentation of the mapping's first key;
 *  - removing the only entry leaves "{}" or "[]", never a null that the
 *    loader would read differently (`volumes:` absent means the defaults);
 *  - a value written on the line below its key moves up to the key's line
 *    when it is replaced;
 *  - sharing through anchors is refused, not resolved: changing the anchored
 *    node would change every alias, changing a copy would silently fork it;
 *  - layouts that YAML allows but state files do not use (explicit "? key"
 *    entries, tabs in blank lines, a BOM inside the file) are refused with
 *    OCC_EGENERIC rather than guessed at.
 *
 * Every result is parsed again before it is returned: the path must hold
 * the new value (or be gone), and every node but the edited ones must be
 * the same, in the same order, at the same depth. A layout this code gets
 * wrong becomes an error, never a broken state file; the fuzz target
 * (tests/fuzz/fuzz-edit.c) treats that check firing as a bug.
 */
#include "model/edit.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/state.h"
#include "model/util.h"

#define MAX_DEPTH    128      /* nesting the editor follows */
#define MAX_PATH_LEN 4096     /* bytes in a path */
#define MAX_KEY      256      /* bytes in a key it writes */
#define NONE         SIZE_MAX

enum nkind { N_SCALAR, N_SEQ, N_MAP, N_ALIAS };

struct node {
	enum nkind kind;
	bool flow;               /* collections: written with [ ] or { } */
	int style;               /* scalars: a yaml_scalar_style_t */
	size_t start;            /* byte offset of the node, its anchor included */
	size_t body;             /* byte offset of its content */
	size_t end;              /* byte offset just after its content */
	size_t after;            /* byte offset of the line after it */
	int line, col;           /* 1-based position of start, for messages */
	char *value;             /* scalars: value_len bytes, NUL-terminated */
	size_t value_len;
	char *anchor;            /* the anchor defined here, without '&', or NULL */
	struct node *target;     /* aliases: the anchored node */
	struct node *alias_use;  /* anchored nodes: the first alias naming it */
	struct node *parent;
	size_t idx;              /* position in parent->kids */
	size_t seq_no;           /* position in doc->nodes (document order) */
	size_t depth;            /* ancestors */
	struct node **kids;      /* seq: items; map: key0, value0, key1, ... */
	size_t n, alloc;
};

struct doc {
	const char *buf;
	size_t len;
	size_t base;             /* bytes of a UTF-8 BOM */
	uint32_t *offs;          /* character index -> byte offset from base */
	size_t n_chars;
	struct node *root;       /* NULL for an empty stream */
	size_t end_marker;       /* byte offset of an explicit "...", or NONE */
	bool explicit_start;     /* the document starts with "---" */
	struct node **nodes;     /* every node, in document order */
	size_t n_nodes, alloc_nodes;
	const char *nl;          /* the file's line break */
	size_t step;             /* indentation of a nested mapping */
	size_t seq_indent;       /* a block sequence's '-' right of its key */
	size_t item_off;         /* an item's content right of its '-' */
	bool block_scalar_at_eof; /* a | or > scalar ends the file, unbroken */
};

struct seg {
	char *key;
	size_t key_end;          /* offset in the path text just after the key */
	char *field;             /* selector [field=want], or NULL */
	char *want;
	size_t end;              /* offset in the path text just after it */
};

struct splice {
	size_t start, end;       /* replace buf[start, end) ... */
	char *text;              /* ... with this (owned) */
};

/* What occ_edit_set/append put at the end of the path. */
struct leaf {
	const char *value;       /* set: the scalar */
	enum occ_edit_style style;
	const struct occ_edit_kv *fields; /* append: the new item */
	size_t n_fields;
};

struct edit {
	const char *path;
	char *path_copy;         /* segs point into it */
	struct seg segs[OCC_EDIT_MAX_SEGMENTS];
	size_t n_segs;
	struct doc doc;
	const struct leaf *leaf;
	struct splice sp[3];
	size_t n_sp;
	size_t removed, added;   /* nodes the splices remove and add */
	bool root_gone;          /* the document may become empty */
	struct occ_error *err;
};

/* How far a path resolved. */
struct walk {
	size_t done;             /* segments resolved */
	struct node *node;       /* the value there (the root when done == 0) */
	struct node *map;        /* the last key's mapping and pair */
	size_t pair;
	struct node *seq;        /* the last selector's sequence and item */
	size_t item;
	struct node *shared;     /* an anchored node the walk went into */
};

static int fail(struct edit *e, int code, const struct node *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "cannot edit 'path': <what>", at the node's line:col when there is one. */
static int fail(struct edit *e, int code, const struct node *at, const char *fmt, ...)
{
	char what[sizeof(e->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	occ_error_set(e->err, code, "cannot edit '%s': %s", e->path, what);
	if (at)
		occ_error_at(e->err, NULL, at->line, at->col);
	return code;
}

/* A layout the editor does not rewrite: the user edits by hand. */
static int unsupported(struct edit *e, const struct node *at)
{
	fail(e, OCC_EGENERIC, at, "the file's layout here is not one occ rewrites");
	occ_error_hint(e->err, "edit the file by hand");
	return OCC_EGENERIC;
}

/* ---- UTF-8 ---- */

/* Decode one character at s[*i]; -1 on a malformed, overlong or surrogate
 * sequence. */
static int utf8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	unsigned char c = s[*i];
	size_t k, extra;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return 0;
	}
	if ((c & 0xe0) == 0xc0)
		extra = 1, v = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		extra = 2, v = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		extra = 3, v = c & 0x07;
	else
		return -1;
	if (n - *i <= extra)
		return -1;
	for (k = 1; k <= extra; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		v = (v << 6) | (s[*i + k] & 0x3f);
	}
	if (v < min[extra] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return -1;
	*cp = v;
	*i += extra + 1;
	return 0;
}

static bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	while (i < n)
		if (utf8_next((const unsigned char *)s, n, &i, &cp))
			return false;
	return true;
}

/* Printable on one line: what plain and single-quoted scalars may hold. */
static bool cp_inline(uint32_t cp)
{
	if (cp >= 0x20 && cp <= 0x7e)
		return true;
	if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
		return false;
	return (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
	       cp >= 0x10000;
}

/* ---- writing scalars ---- */

static bool all_inline(const char *v, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		if (utf8_next((const unsigned char *)v, n, &i, &cp) || !cp_inline(cp))
			return false;
	}
	return true;
}

/* Whether v, written plain, reads back as the text v (not whether it is a
 * string: see looks_typed). Deliberately conservative. */
static bool plain_ok(const char *v, size_t n, bool flow)
{
	size_t i;

	if (n == 0 || !all_inline(v, n) || v[0] == ' ' || v[n - 1] == ' ')
		return false;
	if (strchr("?:,[]{}#&*!|>'\"%@`", v[0]))
		return false;
	if (v[0] == '-' && (n == 1 || v[1] == ' '))
		return false;
	if (n >= 3 && (!memcmp(v, "---", 3) || !memcmp(v, "...", 3)))
		return false;
	for (i = 0; i < n; i++) {
		if (v[i] == ':' && (flow || i + 1 == n || v[i + 1] == ' '))
			return false;
		if (v[i] == '#' && v[i - 1] == ' ')
			return false;
		if (flow && strchr(",[]{}", v[i]))
			return false;
	}
	return true;
}

static bool looks_number(const char *v, size_t n)
{
	size_t i = 0, dots = 0;

	if (i < n && (v[i] == '+' || v[i] == '-'))
		i++;
	if (i < n && v[i] == '.' && n - i == 4 &&
	    (strchr("iI", v[i + 1]) || strchr("nN", v[i + 1])))
		return true;                    /* .inf .nan and case variants */
	if (i == n || !(isdigit((unsigned char)v[i]) ||
			(v[i] == '.' && i + 1 < n && isdigit((unsigned char)v[i + 1]))))
		return false;
	for (; i < n; i++) {
		if (v[i] == '.')
			dots++;
		else if (!strchr("0123456789abcdefABCDEFxXoO_:+-", v[i]))
			return false;
	}
	return dots <= 1;
}

/* Whether a plain v would be read as null, a boolean or a number (YAML 1.1
 * or 1.2) rather than a string; errs on the side of yes. */
static bool looks_typed(const char *v, size_t n)
{
	static const char *const words[] = {
		"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false",
		"False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On",
		"ON", "off", "Off", "OFF", "y", "Y", "n", "N", "=", "<<",
	};
	size_t i;

	for (i = 0; i < OCC_ARRAY_SIZE(words); i++)
		if (strlen(words[i]) == n && !memcmp(words[i], v, n))
			return true;
	return looks_number(v, n);
}

static void add_single_quoted(struct occ_strbuf *sb, const char *v, size_t n)
{
	size_t i;

	occ_strbuf_addc(sb, '\'');
	for (i = 0; i < n; i++) {
		if (v[i] == '\'')
			occ_strbuf_addc(sb, '\'');
		occ_strbuf_addc(sb, v[i]);
	}
	occ_strbuf_addc(sb, '\'');
}

static void add_escape(struct occ_strbuf *sb, uint32_t cp)
{
	static const char simple[][2] = {
		{ '\0', '0' }, { '\a', 'a' }, { '\b', 'b' }, { '\t', 't' }, { '\n', 'n' },
		{ '\v', 'v' }, { '\f', 'f' }, { '\r', 'r' }, { 0x1b, 'e' },
	};
	size_t i;

	for (i = 0; i < OCC_ARRAY_SIZE(simple); i++) {
		if ((uint32_t)(unsigned char)simple[i][0] == cp) {
			occ_strbuf_addc(sb, '\\');
			occ_strbuf_addc(sb, simple[i][1]);
			return;
		}
	}
	if (cp <= 0xff)
		occ_strbuf_addf(sb, "\\x%02X", (unsigned)cp);
	else if (cp <= 0xffff)
		occ_strbuf_addf(sb, "\\u%04X", (unsigned)cp);
	else
		occ_strbuf_addf(sb, "\\U%08X", (unsigned)cp);
}

/* v must be valid UTF-8. */
static void add_double_quoted(struct occ_strbuf *sb, const char *v, size_t n)
{
	size_t i = 0, prev;
	uint32_t cp;

	occ_strbuf_addc(sb, '"');
	while (i < n) {
		prev = i;
		if (utf8_next((const unsigned char *)v, n, &i, &cp))
			abort();
		if (cp == '"' || cp == '\\') {
			occ_strbuf_addc(sb, '\\');
			occ_strbuf_addc(sb, (char)cp);
		} else if (cp_inline(cp)) {
			occ_strbuf_add(sb, v + prev, i - prev);
		} else {
			add_escape(sb, cp);
		}
	}
	occ_strbuf_addc(sb, '"');
}

/*
 * Write v so that it reads back as v. prev_style is the style of the scalar
 * it replaces (-1 for a new one): a STRING keeps single or double quotes.
 */
static void add_scalar(struct occ_strbuf *sb, const char *v, enum occ_edit_style style,
		       int prev_style, bool flow)
{
	size_t n = strlen(v);

	if (style == OCC_EDIT_PLAIN && plain_ok(v, n, flow)) {
		occ_strbuf_add(sb, v, n);
		return;
	}
	if (style == OCC_EDIT_STRING) {
		if (prev_style == YAML_SINGLE_QUOTED_SCALAR_STYLE && all_inline(v, n)) {
			add_single_quoted(sb, v, n);
			return;
		}
		if (prev_style != YAML_DOUBLE_QUOTED_SCALAR_STYLE &&
		    plain_ok(v, n, flow) && !looks_typed(v, n)) {
			occ_strbuf_add(sb, v, n);
			return;
		}
	}
	add_double_quoted(sb, v, n);
}

static void add_key(struct occ_strbuf *sb, const char *key, bool flow)
{
	add_scalar(sb, key, OCC_EDIT_STRING, -1, flow);
}

static void add_spaces(struct occ_strbuf *sb, size_t n)
{
	while (n--)
		occ_strbuf_addc(sb, ' ');
}

/* ---- lines ---- */

static bool is_break(char c)
{
	return c == '\n' || c == '\r';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || is_break(c);
}

/* Just after the anchor or tag at p: an anchor's name is [A-Za-z0-9_-]
 * (libyaml's rule: "&a:0" is the anchor a on the scalar ":0"), a tag runs
 * to a blank. */
static size_t prop_end(const struct doc *d, size_t p, size_t limit)
{
	bool anchor = d->buf[p] == '&';

	for (p++; p < limit && !is_space(d->buf[p]); p++)
		if (anchor && !isalnum((unsigned char)d->buf[p]) && !strchr("_-", d->buf[p]))
			break;
	return p;
}

static size_t line_start(const struct doc *d, size_t pos)
{
	while (pos > d->base && !is_break(d->buf[pos - 1]))
		pos--;
	return pos;
}

/* Where the line holding pos ends (its break, or the end of the buffer). */
static size_t line_end(const struct doc *d, size_t pos)
{
	while (pos < d->len && !is_break(d->buf[pos]))
		pos++;
	return pos;
}

/* Just after the line holding pos, its break included. */
static size_t next_line(const struct doc *d, size_t pos)
{
	pos = line_end(d, pos);
	if (pos + 1 < d->len && d->buf[pos] == '\r' && d->buf[pos + 1] == '\n')
		return pos + 2;
	return pos < d->len ? pos + 1 : pos;
}

static size_t column(const struct doc *d, size_t pos)
{
	return pos - line_start(d, pos);
}

static bool blank_before(const struct doc *d, size_t pos)
{
	size_t p;

	for (p = line_start(d, pos); p < pos; p++)
		if (d->buf[p] != ' ' && d->buf[p] != '\t')
			return false;
	return true;
}

/* The column of the '-' introducing a block sequence item, or NONE when the
 * item does not sit on its dash's line ("-\n  a: 1", "- - a"). */
static size_t dash_column(const struct doc *d, const struct node *item)
{
	size_t ls = line_start(d, item->start), p = ls, dash;

	while (p < item->start && d->buf[p] == ' ')
		p++;
	if (p >= item->start || d->buf[p] != '-')
		return NONE;
	dash = p - ls;
	for (p++; p < item->start; p++)
		if (d->buf[p] != ' ' && d->buf[p] != '\t')
			return NONE;
	if (p == ls + dash + 1)
		return NONE;
	return dash;
}

/* Where an item's first key sits: after its anchor when that is on the
 * dash's line. */
static size_t item_content(const struct doc *d, const struct node *item)
{
	if (line_start(d, item->body) == line_start(d, item->start))
		return item->body;
	return item->start;
}

/* Whether pos is just after a ':': a flow indicator there would make libyaml
 * reject the key before it ("{a:, b}"), so a blank goes in between. */
static bool after_colon(const struct doc *d, size_t pos)
{
	return pos > d->base && d->buf[pos - 1] == ':';
}

/* Just after a node's anchor and tag ("&a !t"), which come first. */
static size_t props_end(const struct doc *d, const struct node *n)
{
	size_t p = n->start, q;

	for (;;) {
		p = prop_end(d, p, n->body);
		for (q = p; q < n->body && (d->buf[q] == ' ' || d->buf[q] == '\t'); q++)
			;
		if (q >= n->body || (d->buf[q] != '&' && d->buf[q] != '!'))
			return p;
		p = q;
	}
}

/*
 * Whether key starts an ordinary block mapping entry: at the mapping's
 * indentation (the column of its first token, which is the '?' of an
 * explicit key), first on its line or just after its item's dash.
 */
static bool plain_entry(const struct doc *d, const struct node *key)
{
	const struct node *map = key->parent;

	if (column(d, key->start) != column(d, map->body))
		return false;
	return blank_before(d, key->start) || (key->idx == 0 && dash_column(d, map) != NONE);
}

/* The ':' after a key, or NONE (flow "{a}", explicit "? a"). */
static size_t colon_after(const struct doc *d, const struct node *key)
{
	size_t p = key->end;

	while (p < d->len && (d->buf[p] == ' ' || d->buf[p] == '\t'))
		p++;
	return p < d->len && d->buf[p] == ':' ? p : NONE;
}

/* ---- the tree ---- */

struct anchor {
	const char *name;
	struct node *node;
};

struct builder {
	struct edit *e;
	struct doc *d;
	struct node *stack[MAX_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, alloc_anchors;
	int documents;
	size_t aliases;
};

static void doc_release(struct doc *d)
{
	size_t i;

	for (i = 0; i < d->n_nodes; i++) {
		free(d->nodes[i]->value);
		free(d->nodes[i]->anchor);
		free(d->nodes[i]->kids);
		free(d->nodes[i]);
	}
	free(d->nodes);
	free(d->offs);
	memset(d, 0, sizeof(*d));
}

static size_t mark_byte(const struct doc *d, yaml_mark_t m)
{
	size_t i = m.index < d->n_chars ? m.index : d->n_chars;

	return d->base + d->offs[i];
}

/* Skip n properties (an anchor, a tag) from p, and the blanks and comments
 * after them (up to limit). */
static size_t skip_props(const struct doc *d, size_t p, size_t limit, int n)
{
	while (p < limit) {
		char c = d->buf[p];

		if ((c == '&' || c == '!') && n > 0) {
			n--;
			p = prop_end(d, p, limit);
		} else if (is_space(c)) {
			p++;
		} else if (c == '#' && (p == 0 || is_space(d->buf[p - 1]))) {
			p = line_end(d, p);
		} else {
			break;
		}
	}
	return p;
}

static size_t trim_end(const struct doc *d, size_t end, size_t body)
{
	while (end > body && is_space(d->buf[end - 1]))
		end--;
	return end;
}

static int build_fail(struct builder *b, int code, yaml_mark_t m, const char *what)
{
	struct node at = { .line = (int)m.line + 1, .col = (int)m.column + 1 };

	return fail(b->e, code, &at, "%s", what);
}

static struct node *node_new(struct builder *b, enum nkind kind, const yaml_event_t *ev,
			     const yaml_char_t *anchor)
{
	struct doc *d = b->d;
	struct node *n = occ_xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->start = mark_byte(d, ev->start_mark);
	n->line = (int)ev->start_mark.line + 1;
	n->col = (int)ev->start_mark.column + 1;
	n->anchor = occ_xstrdup((const char *)anchor);
	n->depth = b->depth;
	n->seq_no = d->n_nodes;
	OCC_GROW(d->nodes, d->n_nodes, d->alloc_nodes);
	d->nodes[d->n_nodes++] = n;
	if (anchor) {
		OCC_GROW(b->anchors, b->n_anchors, b->alloc_anchors);
		b->anchors[b->n_anchors].name = n->anchor;
		b->anchors[b->n_anchors++].node = n;
	}
	return n;
}

static void attach(struct builder *b, struct node *n)
{
	struct node *parent;

	if (b->depth == 0) {
		b->d->root = n;
		return;
	}
	parent = b->stack[b->depth - 1];
	OCC_GROW(parent->kids, parent->n, parent->alloc);
	n->parent = parent;
	n->idx = parent->n;
	parent->kids[parent->n++] = n;
}

static bool is_block_scalar(const struct node *n)
{
	return n->kind == N_SCALAR && (n->style == YAML_LITERAL_SCALAR_STYLE ||
				       n->style == YAML_FOLDED_SCALAR_STYLE);
}

/*
 * The line after a scalar. A block scalar's lines may go on past its last
 * non-blank character (whitespace-only lines that are content, kept blank
 * lines); libyaml's end mark is in the indentation of the next line that
 * is not the scalar's, so that line is the one after it.
 */
static size_t scalar_after(struct doc *d, const struct node *n, size_t raw_end)
{
	if (!is_block_scalar(n))
		return next_line(d, n->end);
	if (raw_end == d->len) {
		if (d->len > d->base && !is_break(d->buf[d->len - 1]))
			d->block_scalar_at_eof = true;
		return d->len;
	}
	if (blank_before(d, raw_end) && line_start(d, raw_end) >= n->end)
		return line_start(d, raw_end);
	return next_line(d, n->end);
}

/*
 * An empty value that libyaml places at the next token ("? x" with no ':',
 * "{a:" before a '}' on the next line) may sit lines after its key: move it
 * back just after its ':' (or its key), so that the entry does not seem to
 * span those lines.
 */
static void clamp_empty_value(struct builder *b, struct node *n, size_t *raw_end)
{
	const struct node *map = b->depth ? b->stack[b->depth - 1] : NULL, *key;
	size_t p, colon;

	if (!map || map->kind != N_MAP || map->n % 2 == 0 || *raw_end != n->start ||
	    (n->start > 0 && b->d->buf[n->start - 1] == ':'))
		return;
	key = map->kids[map->n - 1];
	for (p = key->end; p < n->start; p++) {
		if (is_break(b->d->buf[p])) {
			colon = colon_after(b->d, key);
			n->start = *raw_end = colon != NONE && colon < p ? colon + 1 : key->end;
			return;
		}
	}
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct node *n = node_new(b, N_SCALAR, ev, ev->data.scalar.anchor);
	size_t raw_end = mark_byte(b->d, ev->end_mark);

	clamp_empty_value(b, n, &raw_end);
	n->style = ev->data.scalar.style;
	n->value = occ_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	n->value_len = ev->data.scalar.length;
	n->body = skip_props(b->d, n->start, raw_end,
			     !!ev->data.scalar.anchor + !!ev->data.scalar.tag);
	n->end = trim_end(b->d, raw_end, n->body);
	n->after = scalar_after(b->d, n, raw_end);
	attach(b, n);
	return 0;
}

/* The latest definition of an anchor wins, as in YAML. */
static int on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct node *n;
	size_t i;

	/* As the loader: a file with more is not a state file, and each one
	 * costs a search of the anchors here. */
	if (++b->aliases > OCC_MAX_ALIASES)
		return build_fail(b, OCC_EINVALID, ev->start_mark,
				  "the file uses too many aliases");
	n = node_new(b, N_ALIAS, ev, NULL);
	n->body = n->start;
	n->end = mark_byte(b->d, ev->end_mark);
	n->value = occ_xstrdup(name);
	n->value_len = strlen(name);
	n->after = next_line(b->d, n->end);
	for (i = b->n_anchors; i > 0 && !n->target; i--)
		if (strcmp(b->anchors[i - 1].name, name) == 0)
			n->target = b->anchors[i - 1].node;
	if (!n->target)
		return build_fail(b, OCC_ESYNTAX, ev->start_mark,
				  "the file is not valid YAML: undefined alias");
	if (!n->target->alias_use)
		n->target->alias_use = n;
	attach(b, n);
	return 0;
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum nkind kind)
{
	const yaml_char_t *anchor = kind == N_MAP ? ev->data.mapping_start.anchor
						  : ev->data.sequence_start.anchor;
	const yaml_char_t *tag = kind == N_MAP ? ev->data.mapping_start.tag
					       : ev->data.sequence_start.tag;
	struct node *n;

	if (b->depth == MAX_DEPTH)
		return build_fail(b, OCC_EINVALID, ev->start_mark,
				  "the file is nested too deeply");
	n = node_new(b, kind, ev, anchor);
	n->flow = kind == N_MAP ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
				: ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	n->body = skip_props(b->d, n->start, b->d->len, !!anchor + !!tag);
	attach(b, n);
	b->stack[b->depth++] = n;
	return 0;
}

static void on_end(struct builder *b, const yaml_event_t *ev)
{
	struct node *n = b->stack[--b->depth];

	if (n->flow)
		n->end = mark_byte(b->d, ev->end_mark);
	else
		n->end = n->n ? n->kids[n->n - 1]->end : n->body;
	if (n->end < n->body)
		n->end = n->body;
	if (n->flow || !n->n)
		n->after = next_line(b->d, n->end);
	else
		n->after = n->kids[n->n - 1]->after;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	if (b->d->n_nodes >= OCC_MAX_NODES)
		return build_fail(b, OCC_EINVALID, ev->start_mark,
				  "the file has too many nodes");
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			return build_fail(b, OCC_EINVALID, ev->start_mark,
					  "the file holds more than one YAML document");
		b->d->explicit_start = !ev->data.document_start.implicit;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		if (!ev->data.document_end.implicit)
			b->d->end_marker = mark_byte(b->d, ev->start_mark);
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, N_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, N_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_end(b, ev);
		return 0;
	default:
		return 0;
	}
}

/* The character -> byte table; fails on bytes that are not UTF-8. */
static int index_chars(struct edit *e, struct doc *d)
{
	const unsigned char *s = (const unsigned char *)d->buf;
	size_t i, n = 0, line = 1, col = 1;
	uint32_t cp;

	if (d->len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		d->base = 3;
	d->offs = occ_xmalloc((d->len - d->base + 1) * sizeof(*d->offs));
	for (i = d->base; i < d->len; n++, col++) {
		d->offs[n] = (uint32_t)(i - d->base);
		if (utf8_next(s, d->len, &i, &cp)) {
			struct node at = { .line = (int)line, .col = (int)col };

			return fail(e, OCC_ESYNTAX, &at, "the file is not valid UTF-8");
		}
		if (cp == 0xfeff) {
			/* libyaml skips it at a line start, which shifts columns. */
			struct node at = { .line = (int)line, .col = (int)col };

			return unsupported(e, &at);
		}
		if (cp == '\n')
			line++, col = 0;
	}
	d->offs[n] = (uint32_t)(i - d->base);
	d->n_chars = n;
	return 0;
}

static const char *detect_nl(const struct doc *d)
{
	const char *p = memchr(d->buf, '\n', d->len);

	if (p && p > d->buf && p[-1] == '\r')
		return "\r\n";
	if (!p && memchr(d->buf, '\r', d->len))
		return "\r";
	return "\n";
}

/* The key of the mapping pair whose value is n, or NULL. */
static struct node *key_of(const struct node *n)
{
	if (!n->parent || n->parent->kind != N_MAP || n->idx % 2 == 0)
		return NULL;
	return n->parent->kids[n->idx - 1];
}

/* Learn the file's indentation from its first nested block mapping and
 * block sequence. */
static void detect_layout(struct doc *d)
{
	bool have_step = false, have_seq = false;
	size_t i;

	d->step = 2;
	d->item_off = 2;
	for (i = 0; i < d->n_nodes && !(have_step && have_seq); i++) {
		const struct node *n = d->nodes[i], *key = key_of(n);
		size_t kcol, c, dash;

		if (!key || n->flow || n->parent->flow || n->n == 0)
			continue;
		kcol = column(d, key->start);
		c = column(d, n->kind == N_SEQ ? item_content(d, n->kids[0]) : n->body);
		if (n->kind == N_MAP && !have_step && c > kcol) {
			d->step = c - kcol;
			have_step = true;
		}
		dash = n->kind == N_SEQ ? dash_column(d, n->kids[0]) : NONE;
		if (dash != NONE && !have_seq && dash >= kcol) {
			d->seq_indent = dash - kcol;
			d->item_off = c - dash;
			have_seq = true;
		}
	}
	if (!have_seq)
		d->seq_indent = d->step;
}

static int parse_doc(struct edit *e, struct doc *d, const char *buf, size_t len)
{
	struct builder b = { .e = e, .d = d };
	yaml_parser_t parser;
	yaml_event_t ev;
	int ret = 0;
	bool done = false;

	memset(d, 0, sizeof(*d));
	d->buf = buf;
	d->len = len;
	d->end_marker = NONE;
	ret = index_chars(e, d);
	if (ret)
		return ret;
	d->nl = detect_nl(d);
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !ret) {
		if (!yaml_parser_parse(&parser, &ev)) {
			struct node at = { .line = (int)parser.problem_mark.line + 1,
					   .col = (int)parser.problem_mark.column + 1 };

			ret = fail(e, OCC_ESYNTAX, &at, "the file is not valid YAML: %s",
				   parser.problem ? parser.problem : "parse error");
			break;
		}
		ret = on_event(&b, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	free(b.anchors);
	if (!ret)
		detect_layout(d);
	return ret;
}

/* ---- paths ---- */

static int path_fail(struct edit *e, const char *why)
{
	return occ_error_set(e->err, OCC_EUSAGE, "invalid path '%s': %s", e->path, why);
}

/* Read up to a byte of stop (or the end) into a NUL-terminated piece. */
static char *path_piece(char **p, const char *stop)
{
	char *s = *p;

	while (**p && !strchr(stop, **p))
		(*p)++;
	return s;
}

static int parse_selector(struct edit *e, struct seg *seg, char **p)
{
	seg->field = path_piece(p, "=].[");
	if (**p != '=' || *p == seg->field)
		return path_fail(e, "expected [field=value] after a key");
	*(*p)++ = '\0';
	seg->want = path_piece(p, "]");
	if (**p != ']' || *p == seg->want)
		return path_fail(e, "expected a value and ']' in [field=value]");
	*(*p)++ = '\0';
	return 0;
}

static int parse_path(struct edit *e)
{
	char *p;
	int ret;

	if (strlen(e->path) > MAX_PATH_LEN)
		return path_fail(e, "too long");
	if (!utf8_valid(e->path, strlen(e->path)))
		return path_fail(e, "not valid UTF-8");
	e->path_copy = occ_xstrdup(e->path);
	p = e->path_copy;
	for (;;) {
		struct seg *seg = &e->segs[e->n_segs];
		char c;

		if (e->n_segs == OCC_EDIT_MAX_SEGMENTS)
			return path_fail(e, "more than 64 keys");
		seg->key = path_piece(&p, ".[]");
		if (p == seg->key)
			return path_fail(e, "empty key");
		if ((size_t)(p - seg->key) > MAX_KEY)
			return path_fail(e, "a key is too long");
		seg->key_end = (size_t)(p - e->path_copy);
		c = *p;
		*p++ = '\0';
		if (c == '[') {
			ret = parse_selector(e, seg, &p);
			if (ret)
				return ret;
			c = *p++;
		}
		seg->end = (size_t)(p - e->path_copy) - (c ? 1 : 0);
		e->n_segs++;
		if (!c)
			return 0;
		if (c == ']')
			return path_fail(e, "']' without '['");
		if (c != '.')
			return path_fail(e, "expected '.' after ']'");
	}
}

/* "'container.env'", or "the top level" before the first segment. */
static const char *prefix(const struct edit *e, size_t i, char *out, size_t size)
{
	if (i == 0)
		return "the top level";
	snprintf(out, size, "'%.*s'", (int)e->segs[i - 1].end, e->path);
	return out;
}

/* "in 'container.env'", or "at the top level". */
static const char *in_prefix(const struct edit *e, size_t i, char *out, size_t size)
{
	if (i == 0)
		return "at the top level";
	snprintf(out, size, "in '%.*s'", (int)e->segs[i - 1].end, e->path);
	return out;
}

/* ---- walking ---- */

static bool is_null(const struct node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->kind != N_SCALAR || n->style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (i = 0; i < OCC_ARRAY_SIZE(nulls); i++)
		if (strcmp(n->value, nulls[i]) == 0)
			return true;
	return false;
}

static const struct node *resolve(const struct node *n)
{
	return n && n->kind == N_ALIAS ? n->target : n;
}

/* Step into n (to read or change what is below it): note sharing. */
static struct node *enter(struct walk *w, struct node *n)
{
	if (n && n->kind == N_ALIAS) {
		if (!w->shared)
			w->shared = n->target;
		n = n->target;
	}
	if (n && n->alias_use && !w->shared)
		w->shared = n;
	return n;
}

static bool scalar_is(const struct node *n, const char *s)
{
	n = resolve(n);
	return n && n->kind == N_SCALAR && n->value_len == strlen(s) &&
	       memcmp(n->value, s, n->value_len) == 0;
}

static const char *kind_name(const struct node *n)
{
	n = resolve(n);
	if (n->kind == N_MAP)
		return "a mapping";
	if (n->kind == N_SEQ)
		return "a sequence";
	return "a scalar";
}

/* The pair of map whose key is key, or NONE; a duplicate key is an error. */
static int find_key(struct edit *e, size_t i, const struct node *map, const char *key,
		    size_t *out)
{
	char where[MAX_PATH_LEN + 8];
	size_t p;

	*out = NONE;
	for (p = 0; p < map->n / 2; p++) {
		const struct node *k = map->kids[2 * p];

		if (k->kind != N_SCALAR || !scalar_is(k, key))
			continue;
		if (*out != NONE)
			return fail(e, OCC_EINVALID, k, "duplicate key '%s' %s", key,
				    in_prefix(e, i, where, sizeof(where)));
		*out = p;
	}
	return 0;
}

static bool item_matches(const struct node *item, const struct seg *seg)
{
	size_t p;

	item = resolve(item);
	if (!item || item->kind != N_MAP)
		return false;
	for (p = 0; p < item->n / 2; p++)
		if (scalar_is(item->kids[2 * p], seg->field) &&
		    scalar_is(item->kids[2 * p + 1], seg->want))
			return true;
	return false;
}

static int select_item(struct edit *e, size_t i, struct walk *w, struct node *val)
{
	const struct seg *seg = &e->segs[i];
	char where[MAX_PATH_LEN + 8];
	struct node *seq = enter(w, val);
	size_t k, found = NONE;

	snprintf(where, sizeof(where), "'%.*s'", (int)seg->key_end, e->path);
	if (!seq)
		return fail(e, OCC_EINVALID, val, "%s has no value", where);
	if (seq->kind != N_SEQ && !is_null(seq))
		return fail(e, OCC_EINVALID, seq, "%s is %s, not a sequence", where,
			    kind_name(seq));
	for (k = 0; k < seq->n; k++) {
		if (!item_matches(seq->kids[k], seg))
			continue;
		if (found != NONE)
			return fail(e, OCC_EINVALID, seq->kids[k],
				    "more than one item with %s=%s in %s (%d:%d and %d:%d)",
				    seg->field, seg->want, where, seq->kids[found]->line,
				    seq->kids[found]->col, seq->kids[k]->line, seq->kids[k]->col);
		found = k;
	}
	if (found == NONE)
		return fail(e, OCC_ENOTFOUND, seq, "no item with %s=%s in %s",
			    seg->field, seg->want, where);
	w->seq = seq;
	w->item = found;
	w->node = seq->kids[found];
	return 0;
}

/*
 * Resolve the first n segments as far as they exist. Returns 0 with w->done
 * < n when a key is missing (w->node then is the mapping or null that lacks
 * it, or NULL for an empty document); an error when the path goes through a
 * scalar or the wrong collection, or a selector matches no item.
 */
static int walk(struct edit *e, struct doc *d, size_t n, struct walk *w)
{
	char where[MAX_PATH_LEN + 8];
	size_t i, pair;
	int ret;

	memset(w, 0, sizeof(*w));
	w->node = d->root;
	for (i = 0; i < n; i++) {
		struct node *cur = enter(w, w->node);

		if (!cur || is_null(cur)) {
			w->node = cur;
			return 0;
		}
		if (cur->kind != N_MAP)
			return fail(e, OCC_EINVALID, cur, "%s is %s, not a mapping",
				    prefix(e, i, where, sizeof(where)), kind_name(cur));
		ret = find_key(e, i, cur, e->segs[i].key, &pair);
		if (ret || pair == NONE) {
			w->node = cur;
			return ret;
		}
		w->map = cur;
		w->pair = pair;
		w->seq = NULL;
		w->node = cur->kids[2 * pair + 1];
		if (e->segs[i].field) {
			ret = select_item(e, i, w, w->node);
			if (ret)
				return ret;
		}
		w->done = i + 1;
	}
	return 0;
}

static int shared_fail(struct edit *e, const struct node *anchored)
{
	return fail(e, OCC_EINVALID, anchored,
		    "it is shared through the anchor '&%s' at %d:%d", anchored->anchor,
		    anchored->line, anchored->col);
}

/* ---- splices ---- */

static void splice(struct edit *e, size_t start, size_t end, struct occ_strbuf *text)
{
	struct splice *sp;

	assert(e->n_sp < OCC_ARRAY_SIZE(e->sp) && start <= end && end <= e->doc.len);
	sp = &e->sp[e->n_sp++];
	sp->start = start;
	sp->end = end;
	sp->text = occ_strbuf_detach(text);
}

static void cut(struct edit *e, size_t start, size_t end)
{
	struct occ_strbuf none = OCC_STRBUF_INIT;

	splice(e, start, end, &none);
}

static void replace_str(struct edit *e, size_t start, size_t end, const char *s)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_adds(&sb, s);
	splice(e, start, end, &sb);
}

/*
 * Whether blank or comment lines indented with a tab follow pos. The scalar
 * above took them in; after a new line they would stand alone, and libyaml
 * refuses a tab there.
 */
static bool tab_filler_at(const struct doc *d, size_t pos)
{
	size_t p;

	while (pos < d->len) {
		bool tab = false;

		for (p = pos; p < d->len && (d->buf[p] == ' ' || d->buf[p] == '\t'); p++)
			tab = tab || d->buf[p] == '\t';
		if (p < d->len && !is_break(d->buf[p]) && d->buf[p] != '#')
			return false;
		if (tab)
			return true;
		pos = next_line(d, pos);
	}
	return false;
}

/*
 * Insert text as a line of its own at at, the start of a line. At the end
 * of a file without a final break, the break goes before it instead, which
 * would add a line break to a block scalar ending there: that is refused.
 */
static int insert_line_after(struct edit *e, size_t at, struct occ_strbuf *text)
{
	const struct doc *d = &e->doc;
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	if (at == d->len && d->block_scalar_at_eof) {
		occ_strbuf_release(text);
		return unsupported(e, NULL);
	}
	if (at == d->len && d->len > d->base && !is_break(d->buf[d->len - 1])) {
		occ_strbuf_adds(&sb, d->nl);
		occ_strbuf_add(&sb, text->buf, text->len);
	} else {
		occ_strbuf_add(&sb, text->buf, text->len);
		occ_strbuf_adds(&sb, d->nl);
	}
	occ_strbuf_release(text);
	splice(e, at, at, &sb);
	return 0;
}

/* The block scalar whose last line is the one before pos, or NULL. */
static const struct node *block_scalar_before(const struct doc *d, size_t pos)
{
	size_t i;

	for (i = 0; i < d->n_nodes; i++)
		if (is_block_scalar(d->nodes[i]) && d->nodes[i]->after == pos)
			return d->nodes[i];
	return NULL;
}

/* Whether a block scalar keeps its trailing blank lines ("|+"). */
static bool keeps_blank_lines(const struct doc *d, const struct node *n)
{
	size_t p;

	for (p = n->body + 1; p < n->end && !is_space(d->buf[p]); p++)
		if (d->buf[p] == '+')
			return true;
	return false;
}

/*
 * Whether the lines from pos start with lines a block scalar above would
 * take in as content once the lines before pos are gone: an indented
 * comment or blank line, or for "|+" an empty line.
 */
static bool filler_at(const struct doc *d, size_t pos, bool keep)
{
	size_t p;

	while (pos < d->len) {
		for (p = pos; p < d->len && (d->buf[p] == ' ' || d->buf[p] == '\t'); p++)
			;
		if (p < d->len && d->buf[p] != '#' && !is_break(d->buf[p]))
			return false;           /* content */
		if (p > pos || (keep && p < d->len && is_break(d->buf[p])))
			return true;
		if (p < d->len && d->buf[p] == '#')
			return false;           /* a comment in column 1 ends the scalar */
		pos = next_line(d, pos);
	}
	return false;
}

/*
 * Delete the lines from the one holding start up to the line starting at
 * to, trailing comments and breaks included. When they end a file that has
 * no final break, the break before them goes instead, so it still has none.
 */
static int cut_lines(struct edit *e, size_t start, size_t to)
{
	const struct doc *d = &e->doc;
	size_t from = line_start(d, start);
	const struct node *scalar_above = block_scalar_before(d, from);

	if (scalar_above && filler_at(d, to, keeps_blank_lines(d, scalar_above)))
		return unsupported(e, NULL);
	if (to == d->len && to > from && !is_break(d->buf[to - 1]) && from > d->base &&
	    !scalar_above) {
		from--;
		if (from > d->base && d->buf[from] == '\n' && d->buf[from - 1] == '\r')
			from--;
	}
	cut(e, from, to);
	return 0;
}

/*
 * A splice must not be followed by blank or comment lines indented with a
 * tab: a scalar it replaced or ended may have taken them in, and standing
 * alone they are a syntax error.
 */
static int check_splices(struct edit *e)
{
	const struct doc *d = &e->doc;
	size_t i, at;

	for (i = 0; i < e->n_sp; i++) {
		at = e->sp[i].end;
		if (at > d->base && !is_break(d->buf[at - 1]))
			at = next_line(d, at);
		if (tab_filler_at(d, at))
			return unsupported(e, NULL);
	}
	return 0;
}

static int cmp_splice(const void *a, const void *b)
{
	const struct splice *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static char *apply_splices(struct edit *e, size_t *out_len)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t i, at = 0;

	qsort(e->sp, e->n_sp, sizeof(e->sp[0]), cmp_splice);
	occ_strbuf_init(&sb);
	for (i = 0; i < e->n_sp; i++) {
		assert(e->sp[i].start >= at);
		occ_strbuf_add(&sb, e->doc.buf + at, e->sp[i].start - at);
		occ_strbuf_adds(&sb, e->sp[i].text);
		at = e->sp[i].end;
	}
	occ_strbuf_add(&sb, e->doc.buf + at, e->doc.len - at);
	*out_len = sb.len;
	return occ_strbuf_detach(&sb);
}

/* ---- new text ---- */

static void block_entry(struct occ_strbuf *sb, const struct edit *e, size_t i, size_t col);

static void block_item(struct occ_strbuf *sb, const struct edit *e, size_t dash, size_t off)
{
	const struct leaf *leaf = e->leaf;
	size_t i;

	add_spaces(sb, dash);
	occ_strbuf_addc(sb, '-');
	add_spaces(sb, off - 1);
	for (i = 0; i < leaf->n_fields; i++) {
		if (i) {
			occ_strbuf_adds(sb, e->doc.nl);
			add_spaces(sb, dash + off);
		}
		add_key(sb, leaf->fields[i].key, false);
		occ_strbuf_addc(sb, ':');
		occ_strbuf_addc(sb, ' ');
		add_scalar(sb, leaf->fields[i].value, leaf->fields[i].style, -1, false);
	}
}

/* What follows "key:" when the key sits at column col and its value is to
 * hold segments i.. and the leaf. */
static void block_value(struct occ_strbuf *sb, const struct edit *e, size_t i, size_t col)
{
	const struct doc *d = &e->doc;

	if (i < e->n_segs) {
		occ_strbuf_adds(sb, d->nl);
		add_spaces(sb, col + d->step);
		block_entry(sb, e, i, col + d->step);
	} else if (!e->leaf->fields) {
		occ_strbuf_addc(sb, ' ');
		add_scalar(sb, e->leaf->value, e->leaf->style, -1, false);
	} else {
		occ_strbuf_adds(sb, d->nl);
		block_item(sb, e, col + d->seq_indent, d->item_off);
	}
}

/* "key: ..." for segment i at column col, without the indentation. */
static void block_entry(struct occ_strbuf *sb, const struct edit *e, size_t i, size_t col)
{
	add_key(sb, e->segs[i].key, false);
	occ_strbuf_addc(sb, ':');
	block_value(sb, e, i + 1, col);
}

static void flow_item(struct occ_strbuf *sb, const struct edit *e)
{
	const struct leaf *leaf = e->leaf;
	size_t i;

	occ_strbuf_addc(sb, '{');
	for (i = 0; i < leaf->n_fields; i++) {
		if (i)
			occ_strbuf_adds(sb, ", ");
		add_key(sb, leaf->fields[i].key, true);
		occ_strbuf_adds(sb, ": ");
		add_scalar(sb, leaf->fields[i].value, leaf->fields[i].style, -1, true);
	}
	occ_strbuf_addc(sb, '}');
}

static void flow_entry(struct occ_strbuf *sb, const struct edit *e, size_t i);

/* A flow value holding segments i.. and the leaf. */
static void flow_value(struct occ_strbuf *sb, const struct edit *e, size_t i)
{
	if (i < e->n_segs) {
		occ_strbuf_addc(sb, '{');
		flow_entry(sb, e, i);
		occ_strbuf_addc(sb, '}');
	} else if (!e->leaf->fields) {
		add_scalar(sb, e->leaf->value, e->leaf->style, -1, true);
	} else {
		occ_strbuf_addc(sb, '[');
		flow_item(sb, e);
		occ_strbuf_addc(sb, ']');
	}
}

static void flow_entry(struct occ_strbuf *sb, const struct edit *e, size_t i)
{
	add_key(sb, e->segs[i].key, true);
	occ_strbuf_adds(sb, ": ");
	flow_value(sb, e, i + 1);
}

/* ---- creating what is missing ---- */

static size_t entry_end(const struct node *c, size_t i)
{
	if (c->kind == N_SEQ)
		return c->kids[i]->end;
	return c->kids[2 * i + 1]->end > c->kids[2 * i]->end ? c->kids[2 * i + 1]->end
							       : c->kids[2 * i]->end;
}

static size_t entry_start(const struct node *c, size_t i)
{
	return c->kind == N_SEQ ? c->kids[i]->start : c->kids[2 * i]->start;
}

/* The line after entry i. */
static size_t entry_after(const struct node *c, size_t i)
{
	return c->kind == N_SEQ ? c->kids[i]->after : c->kids[2 * i + 1]->after;
}

static size_t entries(const struct node *c)
{
	return c->kind == N_SEQ ? c->n : c->n / 2;
}

/* Nodes in a value holding segments from.. and the leaf: a mapping and a
 * key per segment, then a scalar, or a sequence and its item. */
static size_t value_nodes(const struct edit *e, size_t from)
{
	size_t leaf = e->leaf->fields ? 2 + 2 * e->leaf->n_fields : 1;

	return 2 * (e->n_segs - from) + leaf;
}

/* Whether key is explicit ("? key"): a '?' on its own comes just before
 * it (errs on the side of yes: a comment ending in " ?" counts). */
static bool explicit_key(const struct doc *d, const struct node *key)
{
	size_t p = key->start;

	while (p > d->base && is_space(d->buf[p - 1]))
		p--;
	if (p == d->base || d->buf[p - 1] != '?' || column(d, p - 1) >= column(d, key->start))
		return false;
	return p - 1 == d->base || is_space(d->buf[p - 2]) || d->buf[p - 2] == ',' ||
	       d->buf[p - 2] == '{';
}

/* A mapping with an explicit key ("? a\n: b") or a collection as a key has
 * its own layout rules; occ does not rewrite it. */
static bool has_complex_key(const struct doc *d, const struct node *map)
{
	size_t i;

	for (i = 0; map->kind == N_MAP && i < map->n; i += 2)
		if (map->kids[i]->kind == N_MAP || map->kids[i]->kind == N_SEQ ||
		    explicit_key(d, map->kids[i]))
			return true;
	return false;
}

/* Where a flow collection's entries end: new ones go there. */
static size_t flow_tail(const struct node *c)
{
	size_t n = entries(c);

	return n ? entry_end(c, n - 1) : c->body + 1;
}

/* Add segments i.. (and the leaf) to the mapping map. */
static int add_to_map(struct edit *e, struct node *map, size_t i)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const struct doc *d = &e->doc;
	size_t n = entries(map), col;

	e->added = value_nodes(e, i) - 1;
	if (has_complex_key(d, map))
		return unsupported(e, map);
	if (map->flow) {
		if (n)
			occ_strbuf_adds(&sb, after_colon(d, flow_tail(map)) ? " , " : ", ");
		flow_entry(&sb, e, i);
		splice(e, flow_tail(map), flow_tail(map), &sb);
		return 0;
	}
	col = column(d, map->body);
	if (!blank_before(d, map->body) && dash_column(d, map) == NONE)
		return unsupported(e, map);
	add_spaces(&sb, col);
	block_entry(&sb, e, i, col);
	return insert_line_after(e, map->after, &sb);
}

/*
 * Put text where scalar or alias n is. A block scalar goes with all its
 * lines, the break that ended the last one staying. A value written below
 * its key ("key:\n  value") moves up to the key's line, where its
 * indentation cannot be wrong.
 */
static int replace_scalar(struct edit *e, const struct node *n, struct occ_strbuf *text)
{
	const struct doc *d = &e->doc;
	const struct node *key = key_of(n);
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t from = n->kind == N_ALIAS ? n->start : n->body, to = n->end, colon;

	if (is_block_scalar(n)) {
		to = n->after;
		if (to > from && is_break(d->buf[to - 1]))
			occ_strbuf_adds(text, d->nl);
	}
	if (key && !key->parent->flow && line_start(d, from) != line_start(d, key->start)) {
		colon = colon_after(d, key);
		if (colon == NONE) {
			occ_strbuf_release(text);
			return unsupported(e, key);
		}
		from = colon + 1;
		occ_strbuf_addc(&sb, ' ');
	} else if (n->body > n->start && !is_space(d->buf[from - 1])) {
		occ_strbuf_addc(&sb, ' ');      /* right after its anchor or tag */
	}
	occ_strbuf_add(&sb, text->buf, text->len);
	occ_strbuf_release(text);
	splice(e, from, to, &sb);
	return 0;
}

/* Text written where an empty value (with no anchor or tag) was: "key:" +
 * " v" or "{a}" + ": v". */
static int fill_empty(struct edit *e, const struct node *empty, struct occ_strbuf *text)
{
	const struct doc *d = &e->doc;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t p = empty->end;

	while (p > d->base && (d->buf[p - 1] == ' ' || d->buf[p - 1] == '\t'))
		p--;
	if (p > d->base && d->buf[p - 1] == ':')
		occ_strbuf_adds(&sb, p < empty->end ? "" : " ");
	else
		occ_strbuf_adds(&sb, ": ");             /* flow "{a, b}" */
	occ_strbuf_add(&sb, text->buf, text->len);
	occ_strbuf_release(text);
	splice(e, empty->end, empty->end, &sb);
	return 0;
}

/* The value of key (a null) becomes segments i.. and the leaf. */
static int fill_null(struct edit *e, const struct node *key, const struct node *null, size_t i)
{
	const struct doc *d = &e->doc;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t colon;

	e->removed = 1;
	e->added = value_nodes(e, i);
	if (key->parent->flow) {
		flow_value(&sb, e, i);
		if (null->start == null->end)
			return fill_empty(e, null, &sb);
		return replace_scalar(e, null, &sb);
	}
	colon = colon_after(d, key);
	if (colon == NONE || !plain_entry(d, key))
		return unsupported(e, key);
	if (null->end > null->body)
		cut(e, colon + 1, null->end);
	block_value(&sb, e, i, column(d, key->start));
	splice(e, line_end(d, null->end), line_end(d, null->end), &sb);
	return 0;
}

/* An empty document gets segments i.. as its first keys. */
static int fill_document(struct edit *e, size_t i)
{
	const struct doc *d = &e->doc;
	const struct node *root = d->root;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t at;

	e->removed = root ? 1 : 0;
	e->added = value_nodes(e, i);
	block_entry(&sb, e, i, 0);
	if (root && root->end > root->body) {
		if (column(d, root->body) != 0) {
			occ_strbuf_release(&sb);
			return unsupported(e, root);
		}
		splice(e, root->body, root->end, &sb);
		return 0;
	}
	if (d->end_marker == NONE)
		return insert_line_after(e, d->len, &sb);
	at = line_start(d, d->end_marker);
	occ_strbuf_adds(&sb, d->nl);
	splice(e, at, at, &sb);
	return 0;
}

/* Create what the walk did not find. */
static int create_missing(struct edit *e, const struct walk *w)
{
	struct node *at = w->node;
	char where[MAX_PATH_LEN + 8];
	size_t i;

	/* Items are added by occ_edit_append, never made up from a selector. */
	for (i = w->done; i < e->n_segs; i++)
		if (e->segs[i].field)
			return fail(e, OCC_ENOTFOUND, at, "no key '%s' %s", e->segs[w->done].key,
				    in_prefix(e, w->done, where, sizeof(where)));
	if (w->shared)
		return shared_fail(e, w->shared);
	if (w->done == 0)
		return at && at->kind == N_MAP ? add_to_map(e, at, 0) : fill_document(e, 0);
	if (at->kind == N_MAP)
		return add_to_map(e, at, w->done);
	if (w->seq)
		return unsupported(e, at);
	return fill_null(e, w->map->kids[2 * w->pair], at, w->done);
}

/* ---- set ---- */

static int set_existing(struct edit *e, const struct walk *w)
{
	const struct node *n = w->node;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	bool flow = n->parent && n->parent->flow;

	e->removed = e->added = 1;
	if (n->kind == N_MAP || n->kind == N_SEQ || resolve(n)->kind != N_SCALAR)
		return fail(e, OCC_EINVALID, n, "it is %s, not a scalar", kind_name(n));
	if (w->shared)
		return shared_fail(e, w->shared);
	if (n->alias_use)
		return shared_fail(e, n);
	if (key_of(n) && explicit_key(&e->doc, key_of(n)))
		return unsupported(e, n);
	/* An alias is replaced: the node it names is not touched. */
	add_scalar(&sb, e->leaf->value, e->leaf->style, n->kind == N_ALIAS ? -1 : n->style,
		   flow);
	if (n->kind == N_SCALAR && n->start == n->end)
		return fill_empty(e, n, &sb);
	return replace_scalar(e, n, &sb);
}

/* ---- delete ---- */

/* Deleting [start, end) must not orphan an alias outside it. */
static int check_orphans(struct edit *e, size_t start, size_t end)
{
	size_t i;

	for (i = 0; i < e->doc.n_nodes; i++) {
		const struct node *a = e->doc.nodes[i];

		if (a->kind != N_ALIAS || (a->start >= start && a->start < end))
			continue;
		if (a->target->start >= start && a->target->start < end)
			return shared_fail(e, a->target);
	}
	return 0;
}

/* Delete entry i of a flow collection, with one of its commas. */
static void delete_flow(struct edit *e, const struct node *c, size_t i)
{
	size_t n = entries(c), prev;

	if (n == 1) {
		/* Up to the bracket: a trailing comma goes too. */
		cut(e, entry_start(c, 0), c->end - 1);
	} else if (i + 1 < n) {
		cut(e, entry_start(c, i), entry_start(c, i + 1));
	} else {
		prev = entry_end(c, i - 1);
		replace_str(e, prev, entry_end(c, i), after_colon(&e->doc, prev) ? " " : "");
	}
}

/* The only entry of a block collection goes: it becomes {} or []. */
static int delete_only(struct edit *e, const struct node *c, bool on_own_line)
{
	const struct doc *d = &e->doc;
	const struct node *key = key_of(c);
	size_t s = entry_start(c, 0), t = entry_end(c, 0), colon, at;

	/* An empty document is fine, but "..." alone is not. */
	if (!c->parent && on_own_line && (d->end_marker == NONE || d->explicit_start)) {
		e->root_gone = true;
		return cut_lines(e, s, entry_after(c, 0));
	}
	if (key && !key->parent->flow && on_own_line &&
	    (colon = colon_after(d, key)) != NONE) {
		at = c->body > c->start ? props_end(d, c) : colon + 1;
		if (at >= line_start(d, s))
			return unsupported(e, c);
		replace_str(e, at, at, c->kind == N_MAP ? " {}" : " []");
		return cut_lines(e, s, entry_after(c, 0));
	}
	if (c->kind != N_MAP)
		return unsupported(e, c);
	replace_str(e, s, t, "{}");
	return 0;
}

static int delete_block(struct edit *e, const struct node *c, size_t i)
{
	const struct doc *d = &e->doc;
	size_t s = entry_start(c, i);
	bool own_line;

	if (c->kind == N_SEQ)
		own_line = dash_column(d, c->kids[i]) != NONE;
	else if (!plain_entry(d, c->kids[2 * i]))
		return unsupported(e, c->kids[2 * i]);
	else
		own_line = blank_before(d, s);
	if (c->kind == N_SEQ && !own_line)
		return unsupported(e, c->kids[i]);
	if (entries(c) == 1)
		return delete_only(e, c, own_line);
	if (own_line)
		return cut_lines(e, s, entry_after(c, i));
	if (i != 0 || dash_column(d, c) == NONE)
		return unsupported(e, c->kids[2 * i]);
	cut(e, s, entry_start(c, 1));
	return 0;
}

/* Nodes from first to the end of top's subtree (document order). */
static size_t subtree_nodes(const struct node *first, const struct node *top)
{
	const struct node *last = top;

	while (last->kind != N_ALIAS && last->n)
		last = last->kids[last->n - 1];
	return last->seq_no - first->seq_no + 1;
}

static int delete_entry(struct edit *e, const struct walk *w, const struct node *c, size_t i)
{
	int ret;

	if (c->kind == N_SEQ)
		e->removed = subtree_nodes(c->kids[i], c->kids[i]);
	else
		e->removed = subtree_nodes(c->kids[2 * i], c->kids[2 * i + 1]);
	if (w->shared)
		return shared_fail(e, w->shared);
	ret = check_orphans(e, entry_start(c, i), entry_end(c, i));
	if (ret)
		return ret;
	if (has_complex_key(&e->doc, c))
		return unsupported(e, c);
	if (c->flow) {
		delete_flow(e, c, i);
		return 0;
	}
	return delete_block(e, c, i);
}

/* ---- append ---- */

static int append_item(struct edit *e, struct walk *w)
{
	const struct doc *d = &e->doc;
	struct node *seq = enter(w, w->node);
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t n, dash;

	if (w->shared)
		return shared_fail(e, w->shared);
	if (is_null(seq))
		return w->seq ? unsupported(e, seq)
			      : fill_null(e, w->map->kids[2 * w->pair], seq, e->n_segs);
	if (seq->kind != N_SEQ)
		return fail(e, OCC_EINVALID, seq, "it is %s, not a sequence", kind_name(seq));
	n = seq->n;
	e->added = 1 + 2 * e->leaf->n_fields;
	if (seq->flow) {
		if (n)
			occ_strbuf_adds(&sb, after_colon(d, flow_tail(seq)) ? " , " : ", ");
		flow_item(&sb, e);
		splice(e, flow_tail(seq), flow_tail(seq), &sb);
		return 0;
	}
	dash = dash_column(d, seq->kids[0]);
	if (dash == NONE)
		return unsupported(e, seq);
	block_item(&sb, e, dash, column(d, item_content(d, seq->kids[0])) - dash);
	return insert_line_after(e, seq->after, &sb);
}

/* ---- checking the result ---- */

static bool check_set(struct edit *e, const struct walk *w)
{
	const struct node *n = w->node;

	return w->done == e->n_segs && n && n->kind == N_SCALAR &&
	       scalar_is(n, e->leaf->value);
}

static bool check_append(struct edit *e, const struct walk *w)
{
	const struct node *seq = resolve(w->node), *item;
	size_t i;

	if (w->done != e->n_segs || !seq || seq->kind != N_SEQ || !seq->n)
		return false;
	item = seq->kids[seq->n - 1];
	if (item->kind != N_MAP || item->n != 2 * e->leaf->n_fields)
		return false;
	for (i = 0; i < e->leaf->n_fields; i++) {
		if (!scalar_is(item->kids[2 * i], e->leaf->fields[i].key) ||
		    !scalar_is(item->kids[2 * i + 1], e->leaf->fields[i].value))
			return false;
	}
	return true;
}

static bool same_node(const struct node *a, const struct node *b)
{
	return a->kind == b->kind && a->depth == b->depth && a->style == b->style &&
	       a->value_len == b->value_len &&
	       (!a->value_len || !memcmp(a->value, b->value, a->value_len)) &&
	       occ_streq(a->anchor, b->anchor);
}

/*
 * Whether the result's nodes are the original's but for the ones the edit
 * meant to remove and add: every other node must be found, at the same
 * depth, in the common prefix or suffix of the two node lists. This catches
 * a splice that re-parents its neighbours, which the path check cannot.
 */
static bool only_expected_changes(const struct edit *e, const struct doc *b)
{
	const struct doc *a = &e->doc;
	size_t na = a->n_nodes, nb = b->n_nodes, p = 0, s = 0;
	size_t removed = e->removed, added = e->added;

	if (e->root_gone) {
		removed++;
		added = b->root ? 1 : 0;
	}
	if (na < removed || nb < added || na - removed != nb - added)
		return false;
	while (p < na && p < nb && same_node(a->nodes[p], b->nodes[p]))
		p++;
	while (s < na - p && s < nb - p &&
	       same_node(a->nodes[na - 1 - s], b->nodes[nb - 1 - s]))
		s++;
	return p + s >= na - removed;
}

/* Parse the result and look the path up in it. */
static int check_result(struct edit *e, const char *out, size_t out_len, bool deleted)
{
	struct occ_error scratch;
	struct edit again = *e;
	struct walk w = { 0 };
	bool ok;
	int ret;

	again.err = &scratch;
	again.n_sp = 0;
	ret = parse_doc(&again, &again.doc, out, out_len);
	if (!ret)
		ret = walk(&again, &again.doc, e->n_segs, &w);
	if (deleted)
		ok = w.done < e->n_segs && (ret == 0 || ret == OCC_ENOTFOUND);
	else if (e->leaf->fields)
		ok = !ret && check_append(&again, &w);
	else
		ok = !ret && check_set(&again, &w);
	ok = ok && only_expected_changes(e, &again.doc);
	doc_release(&again.doc);
	if (ok)
		return 0;
	fail(e, OCC_EGENERIC, NULL, "the edited file would not read back as expected");
	occ_error_hint(e->err, "edit the file by hand");
	return OCC_EGENERIC;
}

/* ---- the API ---- */

static int check_value(struct edit *e, const char *v)
{
	size_t n = strlen(v);

	if (n > OCC_MAX_STRING)
		return fail(e, OCC_EUSAGE, NULL, "a value is longer than %d bytes",
			    OCC_MAX_STRING);
	if (!utf8_valid(v, n))
		return fail(e, OCC_EUSAGE, NULL, "a value is not valid UTF-8");
	return 0;
}

static int check_fields(struct edit *e, const struct occ_edit_kv *fields, size_t n)
{
	size_t i;
	int ret;

	if (n == 0)
		return fail(e, OCC_EUSAGE, NULL, "an item needs at least one field");
	for (i = 0; i < n; i++) {
		assert(fields[i].key && fields[i].value);
		if (!fields[i].key[0] || strlen(fields[i].key) > MAX_KEY)
			return fail(e, OCC_EUSAGE, NULL, "a field name is empty or too long");
		ret = check_value(e, fields[i].key);
		if (!ret)
			ret = check_value(e, fields[i].value);
		if (ret)
			return ret;
	}
	return 0;
}

static int start(struct edit *e, const char *buf, size_t len, const char *path,
		 const struct leaf *leaf, struct occ_error *err)
{
	int ret;

	assert(path && (buf || !len) && (!leaf || leaf->fields || leaf->value));
	memset(e, 0, sizeof(*e));
	e->path = path;
	e->leaf = leaf;
	e->err = err;
	occ_error_clear(err);
	if (len > OCC_MAX_FILE_SIZE)
		return fail(e, OCC_EINVALID, NULL, "the file is larger than %d bytes",
			    OCC_MAX_FILE_SIZE);
	ret = parse_path(e);
	if (!ret && leaf && leaf->fields)
		ret = check_fields(e, leaf->fields, leaf->n_fields);
	else if (!ret && leaf)
		ret = check_value(e, leaf->value);
	if (!ret)
		ret = parse_doc(e, &e->doc, buf, len);
	return ret;
}

static int finish(struct edit *e, int ret, bool deleted, char **out, size_t *out_len)
{
	char *res = NULL;
	size_t res_len = 0, i;

	if (!ret)
		ret = check_splices(e);
	if (!ret) {
		res = apply_splices(e, &res_len);
		ret = check_result(e, res, res_len, deleted);
	}
	if (!ret) {
		*out = res;
		*out_len = res_len;
	} else {
		free(res);
	}
	for (i = 0; i < e->n_sp; i++)
		free(e->sp[i].text);
	doc_release(&e->doc);
	free(e->path_copy);
	return ret;
}

int occ_edit_set(char **out, size_t *out_len, const char *buf, size_t len,
		 const char *path, const char *value, enum occ_edit_style style,
		 struct occ_error *err)
{
	struct leaf leaf = { .value = value, .style = style };
	struct edit e;
	struct walk w;
	int ret;

	ret = start(&e, buf, len, path, &leaf, err);
	if (ret)
		goto out;
	ret = walk(&e, &e.doc, e.n_segs, &w);
	if (ret)
		goto out;
	if (w.done < e.n_segs)
		ret = create_missing(&e, &w);
	else
		ret = set_existing(&e, &w);
out:
	return finish(&e, ret, false, out, out_len);
}

int occ_edit_delete(char **out, size_t *out_len, const char *buf, size_t len,
		    const char *path, struct occ_error *err)
{
	struct edit e;
	struct walk w;
	char where[MAX_PATH_LEN + 8];
	int ret;

	ret = start(&e, buf, len, path, NULL, err);
	if (ret)
		goto out;
	ret = walk(&e, &e.doc, e.n_segs, &w);
	if (ret)
		goto out;
	if (w.done < e.n_segs) {
		ret = fail(&e, OCC_ENOTFOUND, w.node, "no key '%s' %s",
			   e.segs[w.done].key, in_prefix(&e, w.done, where, sizeof(where)));
		goto out;
	}
	if (w.seq)
		ret = delete_entry(&e, &w, w.seq, w.item);
	else
		ret = delete_entry(&e, &w, w.map, w.pair);
out:
	return finish(&e, ret, true, out, out_len);
}

int occ_edit_append(char **out, size_t *out_len, const char *buf, size_t len,
		    const char *seq_path, const struct occ_edit_kv *fields,
		    size_t n_fields, struct occ_error *err)
{
	struct leaf leaf = { .fields = fields, .n_fields = n_fields };
	struct edit e;
	struct walk w;
	int ret;

	ret = start(&e, buf, len, seq_path, &leaf, err);
	if (ret)
		goto out;
	ret = walk(&e, &e.doc, e.n_segs, &w);
	if (ret)
		goto out;
	if (w.done < e.n_segs)
		ret = create_missing(&e, &w);
	else
		ret = append_item(&e, &w);
out:
	return finish(&e, ret, false, out, out_len);
}
