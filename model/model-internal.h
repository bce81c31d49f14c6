/*
 * model-internal.h - shared by the loader's files (load.c, keys.c, validate.c,
 * state.c); nothing outside model/ includes it.
 *
 * Loading is three passes:
 *   1. load.c: libyaml events -> a small tree of struct occ_ynode (syntax,
 *      limits, anchors and aliases, duplicate keys), every node with its
 *      1-based line:col;
 *   2. keys.c: the tree -> struct occ_state through key tables (unknown keys,
 *      types, missing keys, per-value rules);
 *   3. validate.c: rules that span several keys (duplicates across list items,
 *      default_host, a public bind without users).
 * The tree does not know about <yaml.h>; only load.c does.
 */
#ifndef OCC_MODEL_INTERNAL_H
#define OCC_MODEL_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/state.h"
#include "model/util.h"

enum occ_ynode_kind {
	OCC_YNODE_SCALAR,
	OCC_YNODE_SEQ,
	OCC_YNODE_MAP,
};

/*
 * One YAML node. Aliases are not copied: an alias is the anchored node itself,
 * so the tree is a DAG and nodes are owned by the document's arena, never by
 * their parents.
 */
struct occ_ynode {
	enum occ_ynode_kind kind;
	struct occ_pos pos;
	bool quoted;               /* scalar: quoted or block style, so never null/int/bool */
	char *str;                 /* scalar: text, NUL-terminated, no NUL inside */
	struct occ_ynode **items;  /* seq: items; map: key0, value0, key1, value1, ... */
	size_t n;                  /* pointers in items (a map has n / 2 pairs) */
	size_t alloc;
	size_t weight;             /* nodes below and including this one, aliases
				    * expanded; 0 while the node is still open */
};

#define OCC_YMAP_PAIRS(node)    ((node)->n / 2)
#define OCC_YMAP_KEY(node, i)   ((node)->items[2 * (i)])
#define OCC_YMAP_VALUE(node, i) ((node)->items[2 * (i) + 1])

struct occ_ydoc {
	struct occ_ynode *root;    /* NULL for an empty stream or document */
	struct occ_ynode **nodes;  /* arena: every node, freed together */
	size_t n_nodes, alloc;
};

/* Parse buf (already known to be valid UTF-8 and within OCC_MAX_FILE_SIZE)
 * into doc. name is for err->file. On error doc holds what was built so far;
 * release it either way. */
int occ_model__parse_yaml(struct occ_ydoc *doc, const char *buf, size_t len,
			  const char *name, struct occ_error *err);
void occ_model__ydoc_release(struct occ_ydoc *doc);

/* The value of key in a map node, or NULL (also when map is not a map). */
const struct occ_ynode *occ_model__map_get(const struct occ_ynode *map, const char *key);

/* The node at a dotted path as used in messages ("hosts[1].overrides.port"),
 * or NULL. */
const struct occ_ynode *occ_model__find(const struct occ_ynode *root, const char *path);

/* State shared by the mapping and validation passes. */
struct occ_model_ctx {
	struct occ_state *st;
	const struct occ_ynode *root;
	const char *file;          /* for err->file; NULL keeps it empty */
	struct occ_error *err;
	struct occ_strbuf path;    /* dotted path of the node being mapped */
	unsigned flags;            /* OCC_LOAD_* */
};

/* Fill c->err with OCC_EINVALID at pos; returns OCC_EINVALID. */
int occ_model__fail(struct occ_model_ctx *c, struct occ_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The current path for messages: "container.port", or "the top level". */
const char *occ_model__path(struct occ_model_ctx *c);

/* Quote a user-supplied value for a message: control characters escaped,
 * long values cut with "...". Returns buf. */
#define OCC_SHOW_MAX 64
const char *occ_model__show(const char *s, char buf[static OCC_SHOW_MAX + 8]);

/* The candidate within edit distance 2 of word (the closest, the first of
 * equals), or NULL: for "did you mean". */
const char *occ_model__suggest(const char *word, const char *const *cands, size_t n);

/* Pass 2 (keys.c): map the tree onto c->st, which starts as the defaults. */
int occ_model__map_state(struct occ_model_ctx *c);

/* Pass 3 (validate.c): rules across keys. */
int occ_model__validate(struct occ_model_ctx *c);

/* Value rules (validate.c). Each returns NULL when s is valid, else a short
 * reason for the message ("must start with a letter or digit"). */
const char *occ_model__check_docker_name(const char *s);
const char *occ_model__check_user_name(const char *s);
const char *occ_model__check_crypt_hash(const char *s);
const char *occ_model__check_image_ref(const char *s);
const char *occ_model__check_env_name(const char *s);
const char *occ_model__check_var_name(const char *s);
const char *occ_model__check_address(const char *s);
const char *occ_model__check_login(const char *s);
const char *occ_model__check_url_path(const char *s);
const char *occ_model__check_abs_path(const char *s);
const char *occ_model__check_shell(const char *s);

/* A container path: absolute, no "..", not "/" itself. On success *out is the
 * path with "//", "/./" and a trailing "/" removed (caller frees). */
const char *occ_model__clean_container_path(const char *s, char **out);

/* Expand ${VAR} and $$ in a host path. Returns 0 with *out the expansion
 * (caller frees), or -1 with the reason in why ("environment variable 'X' is
 * not set"). */
int occ_model__expand_vars(const char *s, char **out, char *why, size_t why_len);

/* Item lifecycle (state.c), for lists the loader builds and replaces. */
void occ_model__user_release(struct occ_user *u);
void occ_model__mount_release(struct occ_mount *m);
void occ_model__volume_release(struct occ_volume *v);
void occ_model__host_release(struct occ_host *h);
void occ_model__user_init(struct occ_user *u);
void occ_model__host_init(struct occ_host *h);

#endif
