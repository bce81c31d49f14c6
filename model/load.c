/*
 * load.c - the state file's bytes -> a tree of struct occ_ynode -> occ_state.
 *
 * libyaml's event API (not its document loader) is used so that every limit
 * is enforced while parsing, before anything large is built: nesting depth,
 * entries per collection, scalar size, alias uses, and the size of the
 * document with aliases expanded. Aliases are kept as shared pointers, so an
 * "alias bomb" costs one node per alias here; the expanded size is counted
 * anyway, because every later pass walks the expanded tree.
 *
 * Bytes are checked for UTF-8 before libyaml sees them: its reader reports a
 * byte offset only, and we want line:col and a clear message. Tags (`!foo`)
 * and YAML merge keys are not supported; a tag is an error, `<<` an unknown key.
 */
#include "model/model-internal.h"
#include "model/safety.h"

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct anchor {
	char *name;
	struct occ_ynode *node;
};

struct builder {
	struct occ_ydoc *doc;
	struct occ_ynode *stack[OCC_MAX_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, alloc_anchors;
	size_t aliases;            /* alias uses so far */
	size_t expanded;           /* nodes so far, aliases expanded */
	int documents;
	const char *name;
	struct occ_error *err;
};

static struct occ_pos mark_pos(yaml_mark_t m)
{
	return (struct occ_pos){ (int)m.line + 1, (int)m.column + 1 };
}

static int fail(struct builder *b, int code, struct occ_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct builder *b, int code, struct occ_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	occ_error_setv(b->err, code, fmt, ap);
	va_end(ap);
	occ_error_at(b->err, b->name ? b->name : "", pos.line, pos.col);
	return code;
}

/* The path of the innermost open collection, for messages: "hosts[1].env". */
static void stack_path(const struct builder *b, struct occ_strbuf *sb)
{
	size_t i;

	for (i = 1; i < b->depth; i++) {
		const struct occ_ynode *parent = b->stack[i - 1];

		if (parent->kind == OCC_YNODE_SEQ) {
			occ_strbuf_addf(sb, "[%zu]", parent->n - 1);
			continue;
		}
		if (sb->len)
			occ_strbuf_addc(sb, '.');
		occ_strbuf_adds(sb, parent->items[parent->n - 2]->str);
	}
}

static struct occ_ynode *node_new(struct builder *b, enum occ_ynode_kind kind, yaml_mark_t m)
{
	struct occ_ydoc *doc = b->doc;
	struct occ_ynode *n = occ_xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->pos = mark_pos(m);
	OCC_GROW(doc->nodes, doc->n_nodes, doc->alloc);
	doc->nodes[doc->n_nodes++] = n;
	return n;
}

static int add_anchor(struct builder *b, const yaml_char_t *name, struct occ_ynode *n)
{
	if (!name)
		return 0;
	OCC_GROW(b->anchors, b->n_anchors, b->alloc_anchors);
	b->anchors[b->n_anchors].name = occ_xstrdup((const char *)name);
	b->anchors[b->n_anchors].node = n;
	b->n_anchors++;
	return 0;
}

/* The latest definition wins, as in YAML. */
static struct occ_ynode *find_anchor(const struct builder *b, const char *name)
{
	size_t i;

	for (i = b->n_anchors; i > 0; i--)
		if (strcmp(b->anchors[i - 1].name, name) == 0)
			return b->anchors[i - 1].node;
	return NULL;
}

static int check_tag(struct builder *b, const yaml_char_t *tag, yaml_mark_t m)
{
	char show[OCC_SHOW_MAX + 8];

	if (!tag)
		return 0;
	fail(b, OCC_EINVALID, mark_pos(m), "YAML tags such as '%s' are not supported",
	     occ_model__show((const char *)tag, show));
	occ_error_hint(b->err, "write the value without a tag; quote it to make it a string");
	return OCC_EINVALID;
}

/* Hang n under the innermost open collection (or make it the root). */
static int attach(struct builder *b, struct occ_ynode *n, struct occ_pos pos)
{
	struct occ_ynode *parent;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int ret = 0;

	if (b->depth == 0) {
		b->doc->root = n;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	stack_path(b, &sb);
	if (parent->kind == OCC_YNODE_MAP && parent->n % 2 == 0) {
		if (n->kind != OCC_YNODE_SCALAR) {
			ret = fail(b, OCC_EINVALID, pos, "keys must be plain strings, not %s",
				   n->kind == OCC_YNODE_MAP ? "mappings" : "lists");
			goto out;
		}
		if (parent->n / 2 >= OCC_MAX_ITEMS) {
			ret = fail(b, OCC_EINVALID, pos, "%s%s has more than %d entries",
				   sb.len ? "" : "the top level", occ_strbuf_str(&sb), OCC_MAX_ITEMS);
			goto out;
		}
	} else if (parent->kind == OCC_YNODE_SEQ && parent->n >= OCC_MAX_ITEMS) {
		ret = fail(b, OCC_EINVALID, pos, "%s has more than %d items",
			   occ_strbuf_str(&sb), OCC_MAX_ITEMS);
		goto out;
	}
	OCC_GROW(parent->items, parent->n, parent->alloc);
	parent->items[parent->n++] = n;
out:
	occ_strbuf_release(&sb);
	return ret;
}

static int count_node(struct builder *b, size_t weight, struct occ_pos pos)
{
	b->expanded += weight;
	if (b->expanded <= OCC_MAX_NODES)
		return 0;
	fail(b, OCC_EINVALID, pos, "the document has more than %d nodes with aliases expanded",
	     OCC_MAX_NODES);
	occ_error_hint(b->err, "an alias repeats its anchor's whole content; use fewer or smaller aliases");
	return OCC_EINVALID;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct occ_pos pos = mark_pos(ev->start_mark);
	struct occ_ynode *n;
	int ret;

	ret = check_tag(b, ev->data.scalar.tag, ev->start_mark);
	if (ret)
		return ret;
	if (len > OCC_MAX_STRING)
		return fail(b, OCC_EINVALID, pos, "a value is longer than %d bytes", OCC_MAX_STRING);
	if (memchr(value, '\0', len))
		return fail(b, OCC_EINVALID, pos, "a value contains a NUL character");
	ret = count_node(b, 1, pos);
	if (ret)
		return ret;
	n = node_new(b, OCC_YNODE_SCALAR, ev->start_mark);
	n->str = occ_xstrndup(value, len);
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->weight = 1;
	add_anchor(b, ev->data.scalar.anchor, n);
	return attach(b, n, pos);
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct occ_pos pos = mark_pos(ev->start_mark);
	char show[OCC_SHOW_MAX + 8];
	struct occ_ynode *n;
	int ret;

	if (++b->aliases > OCC_MAX_ALIASES)
		return fail(b, OCC_EINVALID, pos, "more than %d aliases in one file", OCC_MAX_ALIASES);
	n = find_anchor(b, name);
	if (!n)
		return fail(b, OCC_EINVALID, pos, "alias '*%s' names no anchor defined before it",
			    occ_model__show(name, show));
	if (n->weight == 0)
		return fail(b, OCC_EINVALID, pos, "alias '*%s' is inside the node it refers to",
			    occ_model__show(name, show));
	ret = count_node(b, n->weight, pos);
	if (ret)
		return ret;
	return attach(b, n, pos);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum occ_ynode_kind kind)
{
	const yaml_char_t *tag = kind == OCC_YNODE_MAP ? ev->data.mapping_start.tag
						       : ev->data.sequence_start.tag;
	const yaml_char_t *anchor = kind == OCC_YNODE_MAP ? ev->data.mapping_start.anchor
							  : ev->data.sequence_start.anchor;
	struct occ_pos pos = mark_pos(ev->start_mark);
	struct occ_ynode *n;
	int ret;

	ret = check_tag(b, tag, ev->start_mark);
	if (ret)
		return ret;
	if (b->depth >= OCC_MAX_DEPTH)
		return fail(b, OCC_EINVALID, pos, "the document is nested deeper than %d levels",
			    OCC_MAX_DEPTH);
	ret = count_node(b, 1, pos);
	if (ret)
		return ret;
	n = node_new(b, kind, ev->start_mark);
	add_anchor(b, anchor, n);
	ret = attach(b, n, pos);
	if (ret)
		return ret;
	b->stack[b->depth++] = n;
	return 0;
}

struct keyref {
	const char *key;
	size_t index;
};

static int keyref_cmp(const void *pa, const void *pb)
{
	const struct keyref *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	if (c)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

/*
 * Report the first key (in document order) that repeats an earlier one.
 * Sorting keeps this O(n log n) for maps of OCC_MAX_ITEMS entries.
 */
static int check_duplicate_keys(struct builder *b, const struct occ_ynode *map)
{
	size_t pairs = OCC_YMAP_PAIRS(map), i, first = 0, dup = SIZE_MAX;
	struct keyref *refs;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char show[OCC_SHOW_MAX + 8];
	const struct occ_ynode *k, *k0;
	int ret = 0;

	if (pairs < 2)
		return 0;
	refs = occ_xmalloc(pairs * sizeof(*refs));
	for (i = 0; i < pairs; i++)
		refs[i] = (struct keyref){ OCC_YMAP_KEY(map, i)->str, i };
	qsort(refs, pairs, sizeof(*refs), keyref_cmp);
	for (i = 1; i < pairs; i++) {
		size_t start = i - 1;

		if (strcmp(refs[i].key, refs[i - 1].key) != 0)
			continue;
		while (start > 0 && strcmp(refs[start - 1].key, refs[i].key) == 0)
			start--;
		if (refs[i].index < dup) {
			dup = refs[i].index;
			first = refs[start].index;
		}
	}
	free(refs);
	if (dup == SIZE_MAX)
		return 0;
	k = OCC_YMAP_KEY(map, dup);
	k0 = OCC_YMAP_KEY(map, first);
	stack_path(b, &sb);
	ret = fail(b, OCC_EINVALID, k->pos, "duplicate key '%s' %s%s (first at %d:%d)",
		   occ_model__show(k->str, show), sb.len ? "in " : "at the top level",
		   occ_strbuf_str(&sb), k0->pos.line, k0->pos.col);
	occ_strbuf_release(&sb);
	return ret;
}

static int on_end(struct builder *b)
{
	struct occ_ynode *n = b->stack[b->depth - 1];
	size_t i, weight = 1;
	int ret = 0;

	if (n->kind == OCC_YNODE_MAP)
		ret = check_duplicate_keys(b, n);
	b->depth--;
	for (i = 0; i < n->n; i++)
		weight += n->items[i]->weight;
	n->weight = weight;
	return ret;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1) {
			fail(b, OCC_EINVALID, mark_pos(ev->start_mark),
			     "a state file holds one YAML document, this is the second");
			occ_error_hint(b->err, "remove the '---' line and merge the documents");
			return OCC_EINVALID;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, OCC_YNODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, OCC_YNODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(b);
	default:
		return 0;
	}
}

/* line:col of a byte offset, columns counted in characters as libyaml does. */
static struct occ_pos offset_pos(const char *buf, size_t len, size_t off)
{
	struct occ_pos pos = { 1, 1 };
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\n') {
			pos.line++;
			pos.col = 1;
		} else if ((ch & 0xc0) != 0x80) {
			pos.col++;
		}
	}
	return pos;
}

/* The byte at a 1-based line:col, or 0. */
static unsigned char byte_at(const char *buf, size_t len, struct occ_pos pos)
{
	size_t i = 0;
	int line = 1, col = 1;

	while (i < len && line < pos.line)
		if (buf[i++] == '\n')
			line++;
	while (i < len && col < pos.col && buf[i] != '\n') {
		i++;
		while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
			i++;
		col++;
	}
	return i < len ? (unsigned char)buf[i] : 0;
}

static int syntax_error(struct builder *b, const yaml_parser_t *p, const char *buf, size_t len)
{
	struct occ_pos pos;

	if (p->error == YAML_MEMORY_ERROR) {
		fprintf(stderr, "occ: out of memory in libyaml\n");
		abort();
	}
	if (p->error == YAML_READER_ERROR) {
		pos = offset_pos(buf, len, p->problem_offset);
		return fail(b, OCC_ESYNTAX, pos, "invalid YAML: %s",
			    p->problem ? p->problem : "unreadable input");
	}
	pos = mark_pos(p->problem_mark);
	if (p->context)
		fail(b, OCC_ESYNTAX, pos, "invalid YAML: %s, %s that started at %d:%d",
		     p->problem ? p->problem : "syntax error", p->context,
		     (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	else
		fail(b, OCC_ESYNTAX, pos, "invalid YAML: %s",
		     p->problem ? p->problem : "syntax error");
	if (byte_at(buf, len, pos) == '\t')
		occ_error_hint(b->err, "YAML indentation uses spaces; this line has a tab");
	return OCC_ESYNTAX;
}

int occ_model__parse_yaml(struct occ_ydoc *doc, const char *buf, size_t len,
			  const char *name, struct occ_error *err)
{
	struct builder b = { .doc = doc, .name = name, .err = err };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	size_t i;
	int ret = 0;

	if (!yaml_parser_initialize(&parser)) {
		fprintf(stderr, "occ: out of memory in libyaml\n");
		abort();
	}
	/* libyaml skips a BOM only when it detects the encoding itself; marks
	 * do not count it either way. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			ret = syntax_error(&b, &parser, buf, len);
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ret = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (ret)
			goto out;
	}
out:
	yaml_parser_delete(&parser);
	for (i = 0; i < b.n_anchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	return ret;
}

void occ_model__ydoc_release(struct occ_ydoc *doc)
{
	size_t i;

	for (i = 0; i < doc->n_nodes; i++) {
		free(doc->nodes[i]->str);
		free(doc->nodes[i]->items);
		free(doc->nodes[i]);
	}
	free(doc->nodes);
	memset(doc, 0, sizeof(*doc));
}

const struct occ_ynode *occ_model__map_get(const struct occ_ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != OCC_YNODE_MAP)
		return NULL;
	for (i = 0; i < OCC_YMAP_PAIRS(map); i++)
		if (strcmp(OCC_YMAP_KEY(map, i)->str, key) == 0)
			return OCC_YMAP_VALUE(map, i);
	return NULL;
}

const struct occ_ynode *occ_model__find(const struct occ_ynode *root, const char *path)
{
	const struct occ_ynode *n = root;
	const char *p = path;
	char key[128];

	while (n && *p) {
		size_t len = strcspn(p, ".[");

		if (len) {
			if (len >= sizeof(key))
				return NULL;
			memcpy(key, p, len);
			key[len] = '\0';
			n = occ_model__map_get(n, key);
			p += len;
		} else if (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (*end != ']' || n->kind != OCC_YNODE_SEQ || i >= n->n)
				return NULL;
			n = n->items[i];
			p = end + 1;
		}
		if (*p == '.')
			p++;
	}
	return n;
}

/*
 * Length of the valid UTF-8 prefix of buf (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return i;
}

static int check_bytes(const char *buf, size_t len, const char *name, struct occ_error *err)
{
	size_t ok;
	struct occ_pos pos;

	if (len > OCC_MAX_FILE_SIZE) {
		occ_error_set(err, OCC_EINVALID, "the state file is larger than the limit of %d bytes",
			      OCC_MAX_FILE_SIZE);
		occ_error_at(err, name ? name : "", 0, 0);
		return OCC_EINVALID;
	}
	ok = utf8_valid_prefix((const unsigned char *)buf, len);
	if (ok == len)
		return 0;
	pos = offset_pos(buf, len, ok);
	occ_error_set(err, OCC_ESYNTAX, "the state file is not valid UTF-8 (byte 0x%02x at offset %zu)",
		      (unsigned char)buf[ok], ok);
	occ_error_at(err, name ? name : "", pos.line, pos.col);
	occ_error_hint(err, "save the file as UTF-8 text");
	return OCC_ESYNTAX;
}

int occ_model_load_buffer(struct occ_state **out, const char *buf, size_t len,
			  const char *name, const char *dir, struct occ_error *err)
{
	return occ_model_load_buffer_flags(out, buf, len, name, dir, 0, err);
}

int occ_model_load_buffer_flags(struct occ_state **out, const char *buf, size_t len,
				const char *name, const char *dir, unsigned flags,
				struct occ_error *err)
{
	struct occ_model_ctx c = { .file = name, .err = err, .flags = flags };
	struct occ_ydoc doc = { 0 };
	int ret;

	occ_error_clear(err);
	ret = check_bytes(buf, len, name, err);
	if (ret)
		return ret;
	c.st = occ_state_new_default();
	c.st->path = occ_xstrdup(name);
	free(c.st->dir);
	c.st->dir = occ_path_resolve(dir ? dir : ".", NULL);
	ret = occ_model__parse_yaml(&doc, buf, len, name, err);
	if (ret)
		goto out;
	c.root = doc.root;
	occ_strbuf_init(&c.path);
	ret = occ_model__map_state(&c);
	if (!ret)
		ret = occ_model__validate(&c);
	occ_strbuf_release(&c.path);
	if (ret)
		goto out;
	*out = c.st;
	c.st = NULL;
out:
	occ_state_free(c.st);
	occ_model__ydoc_release(&doc);
	return ret;
}

static int unsafe(struct occ_error *err, const char *path, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int unsafe(struct occ_error *err, const char *path, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	occ_error_setv(err, OCC_EINVALID, fmt, ap);
	va_end(ap);
	occ_error_at(err, path, 0, 0);
	occ_error_hint(err, "%s", hint);
	return OCC_EINVALID;
}

static const char *my_name(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)geteuid());
	return buf;
}

/*
 * Like sshd's StrictModes: judge the file occ would follow (realpath), and
 * its directory, since whoever can rename entries there can replace it.
 */
int occ_model_check_file_safety(const char *path, struct occ_error *err)
{
	struct stat sb, db;
	char *real = realpath(path, NULL), *dir = NULL, *hint = NULL, me[64];
	int ret = 0;

	if (!real || stat(real, &sb) != 0)
		goto out;
	dir = occ_path_dirname(real);
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		hint = occ_xasprintf("chmod go-w %s", path);
		ret = unsafe(err, path, hint, "refusing to use '%s': it defines users and is %s-writable, "
			     "so others can add a login", path,
			     (sb.st_mode & S_IWOTH) ? "world" : "group");
	} else if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		hint = occ_xasprintf("chown %s %s", my_name(me, sizeof(me)), path);
		ret = unsafe(err, path, hint, "refusing to use '%s': it defines users and is owned by "
			     "uid %u, neither you nor root", path, (unsigned)sb.st_uid);
	} else if (stat(dir, &db) == 0 && (db.st_mode & S_IWOTH) && !(db.st_mode & S_ISVTX)) {
		hint = occ_xasprintf("chmod o-w %s (or chmod +t %s), or move the file", dir, dir);
		ret = unsafe(err, path, hint, "refusing to use '%s': it defines users and its directory "
			     "'%s' is world-writable, so anyone can replace it", path, dir);
	}
out:
	free(hint);
	free(dir);
	free(real);
	return ret;
}

int occ_model_load(struct occ_state **out, const char *path, struct occ_error *err)
{
	return occ_model_load_flags(out, path, 0, err);
}

int occ_model_load_flags(struct occ_state **out, const char *path, unsigned flags,
			 struct occ_error *err)
{
	struct occ_state *st = NULL;
	char *buf = NULL, *dir = NULL;
	size_t len = 0;
	int ret;

	occ_error_clear(err);
	ret = occ_read_file(path, OCC_MAX_FILE_SIZE, &buf, &len, err);
	if (ret) {
		occ_error_at(err, path, 0, 0);
		if (ret == OCC_EINVALID)
			occ_error_set(err, OCC_EINVALID,
				      "the state file is larger than the limit of %d bytes",
				      OCC_MAX_FILE_SIZE);
		goto out;
	}
	dir = occ_path_dirname(path);
	ret = occ_model_load_buffer_flags(&st, buf, len, path, dir, flags, err);
	if (!ret && st->n_users)
		ret = occ_model_check_file_safety(path, err);
	if (!ret) {
		*out = st;
		st = NULL;
	}
out:
	occ_state_free(st);
	free(buf);
	free(dir);
	return ret;
}
