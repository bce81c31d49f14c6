/*
 * cmd-config.c - `occ config show|get|set|reset|env`.
 *
 * show prints the effective state (defaults filled in, paths resolved,
 * secrets masked) as YAML, or JSON with --json. get reads one value by its
 * dotted path (container.port, users[name=alice].shell). set edits one value
 * in the state file, validated exactly like the loader, says whether it needs
 * a new container and applies at once with --apply. reset puts the defaults
 * back (after a confirmation; the previous file is kept as FILE.bak). env
 * manages container.env.
 *
 * The effective state is walked (state-walk.h) into a small tree, which the
 * three outputs (YAML, JSON, one value) read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "cli/state-walk.h"
#include "cli/sub.h"
#include "cli/txn.h"
#include "model/hash.h"
#include "model/secrets.h"
#include "reconciler/apply.h"

#define MASK "(sensitive)"

/* ---- the tree ----------------------------------------------------------- */

enum node_kind { N_SCALAR, N_MAP, N_LIST };

struct node {
	enum node_kind kind;
	char *key;             /* NULL in a list */
	char *id;              /* list items: "name=alice" */
	char *value;
	enum occ_walk_kind vkind;
	bool secret;
	struct node *kids;
	size_t n, alloc;
	struct node *parent;
};

struct builder {
	struct node root;
	struct node *cur;
	bool started;
};

static struct node *add_kid(struct builder *b, enum node_kind kind, const char *key)
{
	struct node *p = b->cur, *k;

	OCC_GROW(p->kids, p->n, p->alloc);
	k = &p->kids[p->n++];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->key = occ_xstrdup(key);
	k->parent = p;
	return k;
}

static void b_map_begin(void *ctx, const char *key, const char *id)
{
	struct builder *b = ctx;

	if (!b->started) {
		b->started = true;
		b->root.kind = N_MAP;
		b->cur = &b->root;
		return;
	}
	b->cur = add_kid(b, N_MAP, key);
	b->cur->id = occ_xstrdup(id);
}

static void b_list_begin(void *ctx, const char *key)
{
	struct builder *b = ctx;

	b->cur = add_kid(b, N_LIST, key);
}

static void b_end(void *ctx)
{
	struct builder *b = ctx;

	if (b->cur->parent)
		b->cur = b->cur->parent;
}

static void b_scalar(void *ctx, const char *key, const char *value, enum occ_walk_kind kind,
		     bool secret)
{
	struct builder *b = ctx;
	struct node *k = add_kid(b, N_SCALAR, key);

	k->value = occ_xstrdup(value);
	k->vkind = kind;
	k->secret = secret;
}

static const struct occ_walk_ops builder_ops = {
	b_map_begin, b_end, b_list_begin, b_end, b_scalar,
};

/* The kids array is realloc'ed while building: fix parent pointers after. */
static void fix_parents(struct node *n)
{
	for (size_t i = 0; i < n->n; i++) {
		n->kids[i].parent = n;
		fix_parents(&n->kids[i]);
	}
}

static void node_release(struct node *n)
{
	for (size_t i = 0; i < n->n; i++)
		node_release(&n->kids[i]);
	free(n->kids);
	free(n->key);
	free(n->id);
	free(n->value);
}

static void build(struct node *out, const struct occ_state *st)
{
	struct builder b = { 0 };

	occ_cli_walk_state(st, &builder_ops, &b);
	/* The root is copied out of b: its kids must point at the copy. */
	*out = b.root;
	fix_parents(out);
}

/* ---- YAML --------------------------------------------------------------- */

static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "true", "false", "null", "yes", "no", "on", "off", "~" };
	size_t len = strlen(s);

	if (!len || strchr(" -?:,[]{}#&*!|>'\"%@`", s[0]) || strstr(s, ": ") || strstr(s, " #") ||
	    s[len - 1] == ' ' || s[len - 1] == ':' || strpbrk(s, "\n\t\r"))
		return true;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return strspn(s, "0123456789.+-eE") == len;
}

static void yaml_value(struct occ_strbuf *sb, const struct node *n)
{
	if (n->secret)
		occ_strbuf_adds(sb, MASK);
	else if (n->vkind == OCC_WALK_NULL)
		occ_strbuf_adds(sb, "null");
	else if (n->vkind == OCC_WALK_STRING && needs_quotes(n->value))
		occ_json_quote(sb, n->value);
	else
		occ_strbuf_adds(sb, n->value);
	occ_strbuf_addc(sb, '\n');
}

static void yaml_list(struct occ_strbuf *sb, const struct node *n, int indent);

static void yaml_map(struct occ_strbuf *sb, const struct node *n, int indent, bool inline_first)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct node *k = &n->kids[i];
		int pad = i == 0 && inline_first ? 0 : indent;

		occ_strbuf_addf(sb, "%*s%s:", pad, "", k->key);
		if (k->kind == N_SCALAR) {
			occ_strbuf_addc(sb, ' ');
			yaml_value(sb, k);
		} else if (k->n == 0) {
			occ_strbuf_adds(sb, k->kind == N_MAP ? " {}\n" : " []\n");
		} else if (k->kind == N_MAP) {
			occ_strbuf_addc(sb, '\n');
			yaml_map(sb, k, indent + 2, false);
		} else {
			occ_strbuf_addc(sb, '\n');
			yaml_list(sb, k, indent + 2);
		}
	}
}

static void yaml_list(struct occ_strbuf *sb, const struct node *n, int indent)
{
	for (size_t i = 0; i < n->n; i++) {
		const struct node *k = &n->kids[i];

		occ_strbuf_addf(sb, "%*s- ", indent, "");
		if (k->kind == N_SCALAR)
			yaml_value(sb, k);
		else if (k->n == 0)
			occ_strbuf_adds(sb, "{}\n");
		else
			yaml_map(sb, k, indent + 2, true);
	}
}

/* ---- JSON --------------------------------------------------------------- */

/* n as a JSON value; with its key first when it is a member of a map (the
 * caller knows: a parent pointer is not needed to decide). */
static void json_node(struct occ_json *j, const struct node *n, bool with_key)
{
	if (with_key && n->key)
		occ_json_key(j, n->key);
	switch (n->kind) {
	case N_SCALAR:
		if (n->secret)
			occ_json_str(j, MASK);
		else if (n->vkind == OCC_WALK_NULL)
			occ_json_null(j);
		else if (n->vkind == OCC_WALK_NUMBER)
			occ_json_int(j, strtoll(n->value, NULL, 10));
		else if (n->vkind == OCC_WALK_BOOL)
			occ_json_bool(j, strcmp(n->value, "true") == 0);
		else
			occ_json_str(j, n->value);
		return;
	case N_MAP:
		occ_json_obj_begin(j);
		for (size_t i = 0; i < n->n; i++)
			json_node(j, &n->kids[i], true);
		occ_json_obj_end(j);
		return;
	case N_LIST:
		occ_json_arr_begin(j);
		for (size_t i = 0; i < n->n; i++)
			json_node(j, &n->kids[i], false);
		occ_json_arr_end(j);
		return;
	}
}

/* ---- lookup by path ----------------------------------------------------- */

/* Find the node at a dotted path: "a.b", "users[name=alice].shell", "hosts[0]". */
static const struct node *lookup(const struct node *n, const char *path)
{
	while (*path && n) {
		size_t klen = strcspn(path, ".[");
		const struct node *next = NULL;

		for (size_t i = 0; klen && i < n->n && !next; i++)
			if (n->kids[i].key && strlen(n->kids[i].key) == klen &&
			    strncmp(n->kids[i].key, path, klen) == 0)
				next = &n->kids[i];
		if (klen && !next)
			return NULL;
		n = next ? next : n;
		path += klen;
		while (*path == '[' && n && n->kind == N_LIST) {
			const char *end = strchr(path, ']');
			const struct node *item = NULL;
			size_t slen;
			long idx;
			char *sel;

			if (!end)
				return NULL;
			slen = (size_t)(end - path - 1);
			sel = occ_xstrndup(path + 1, slen);
			for (size_t i = 0; i < n->n && !item; i++)
				if (n->kids[i].id && strcmp(n->kids[i].id, sel) == 0)
					item = &n->kids[i];
			if (!item && occ_parse_long(sel, 0, (long)n->n - 1, &idx) == 0)
				item = &n->kids[idx];
			free(sel);
			n = item;
			path = end + 1;
		}
		if (*path == '.')
			path++;
		else if (*path)
			return NULL;
	}
	return n;
}

/* ---- commands ----------------------------------------------------------- */

static int config_show(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct node root;
	struct occ_json j;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	build(&root, cli->state);
	if (cli->json) {
		occ_json_init(&j);
		json_node(&j, &root, false);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	} else {
		occ_strbuf_init(&sb);
		occ_strbuf_addf(&sb, "# effective state of %s (defaults filled in, secrets masked)\n",
				cli->file);
		yaml_map(&sb, &root, 0, false);
		fputs(sb.buf, stdout);
		occ_strbuf_release(&sb);
	}
	node_release(&root);
	return 0;
}

static int config_get(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	const struct node *n;
	struct node root;
	struct occ_json j;
	int ret = 0;

	if (argc != 2)
		return occ_cli_usage_error(cli, "expected one KEY, e.g. container.port");
	build(&root, cli->state);
	n = lookup(&root, argv[1]);
	if (!n) {
		occ_cli_errorf(cli, "no key '%s' in the state; 'occ config show' lists them", argv[1]);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	occ_strbuf_init(&sb);
	if (cli->json) {
		occ_json_init(&j);
		json_node(&j, n, false);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	} else if (n->kind == N_SCALAR) {
		printf("%s\n", n->secret ? MASK : n->vkind == OCC_WALK_NULL ? "null" : n->value);
	} else if (n->kind == N_MAP) {
		yaml_map(&sb, n, 0, false);
		fputs(sb.buf, stdout);
	} else {
		yaml_list(&sb, n, 0);
		fputs(sb.buf, stdout);
	}
	occ_strbuf_release(&sb);
out:
	node_release(&root);
	return ret;
}

/* Keys the loader reads as numbers or booleans are written plain. */
static enum occ_edit_style style_for(const char *path)
{
	static const char *const typed[] = {
		"port", "container_port", "running", "enabled", "readonly", "install",
		"self_heal", "version", "pids", "cpus", "memory",
	};
	const char *last = strrchr(path, '.');

	last = last ? last + 1 : path;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(typed); i++)
		if (strcmp(last, typed[i]) == 0)
			return OCC_EDIT_PLAIN;
	return OCC_EDIT_STRING;
}

/* The local (or shared) container spec hash, to tell whether a change recreates. */
static void spec_hash(const struct occ_state *st, char out[OCC_HASH_HEX_LEN + 1])
{
	struct occ_state *eff = occ_state_for_host(st, NULL);

	occ_spec_hash(eff, OCC_HASH_VERSION, out);
	occ_state_free(eff);
}

struct set_opts {
	bool apply;
};

static int on_set_opt(void *ctx, int opt, const char *arg)
{
	(void)arg;
	if (opt == 'A')
		((struct set_opts *)ctx)->apply = true;
	return 0;
}

static const struct option set_long[] = {
	{ "apply", no_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

/* After an edit: warn about exposure, say what the change means, apply.
 * path: the key set (NULL for other edits). */
static int after_edit(struct occ_cli *cli, struct occ_cli_txn *t, const char *before_hash,
		      bool apply, const char *operation, const char *path)
{
	struct occ_apply_opts ao = { 0 };
	char after[OCC_HASH_HEX_LEN + 1];
	int ret = occ_cli_txn_commit(t);

	if (ret)
		return ret;
	if (!occ_bind_is_loopback(cli->state->container.bind))
		fprintf(stderr, "warning: the service is published on %s: NETWORK EXPOSED; only "
			"the users in %s can log in\n", cli->state->container.bind, cli->file);
	spec_hash(cli->state, after);
	if (apply)
		return occ_cli_apply(cli, &ao, operation, true);
	if (strcmp(before_hash, after) != 0)
		occ_cli_info(cli, "this change needs a new container: the next 'occ apply' recreates "
			     "it (or pass --apply)\n");
	else if (path && occ_starts_with(path, "image.build."))
		/* A build input: apply uses the image as it is; update rebuilds. */
		occ_cli_info(cli, "saved; 'occ update' builds the image again from it and moves "
			     "the service to the new image\n");
	else
		occ_cli_info(cli, "saved; 'occ apply' (or --apply) puts it into effect\n");
	return 0;
}

static int config_set(struct occ_cli *cli, int argc, char **argv)
{
	char before[OCC_HASH_HEX_LEN + 1];
	struct set_opts o = { 0 };
	struct occ_cli_txn t;
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", set_long, on_set_opt, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 2)
		return occ_cli_usage_error(cli, "expected KEY VALUE, e.g. 'occ config set container.port 3001'");
	if (strstr(argv[first], "password_hash"))
		return occ_cli_usage_error(cli, "passwords are set with 'occ user passwd NAME'");
	ret = occ_cli_txn_begin(&t, cli, "config set");
	if (ret)
		return ret;
	spec_hash(cli->state, before);
	ret = occ_cli_txn_set(&t, argv[first], argv[first + 1], style_for(argv[first]));
	if (ret == 0)
		ret = after_edit(cli, &t, before, o.apply, "config set", argv[first]);
	occ_cli_txn_end(&t);
	return ret;
}

static int config_reset(struct occ_cli *cli, int argc, char **argv)
{
	char before[OCC_HASH_HEX_LEN + 1];
	struct occ_cli_txn t;
	int ret;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (!occ_cli_confirm(cli, "Replace the state file with the defaults (a .bak copy is kept)?")) {
		occ_cli_errorf(cli, "not confirmed; nothing was changed");
		fprintf(stderr, "hint: pass --yes to reset without a question\n");
		return OCC_EXIT_ERROR;
	}
	ret = occ_cli_txn_begin(&t, cli, "config reset");
	if (ret)
		return ret;
	spec_hash(cli->state, before);
	occ_cli_txn_replace(&t, occ_cli_default_state_text());
	ret = after_edit(cli, &t, before, false, "config reset", NULL);
	if (ret == 0)
		occ_cli_info(cli, "the previous file is %s.bak\n", cli->file);
	occ_cli_txn_end(&t);
	return ret;
}

/* One edit of container.env per argument: "KEY=VALUE" sets, "KEY" unsets. */
static int env_set_one(struct occ_cli_txn *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *path = occ_xasprintf("container.env.%.*s", (int)(eq - arg), arg);
	int ret = occ_cli_txn_set(t, path, eq + 1, OCC_EDIT_STRING);

	free(path);
	return ret;
}

static int env_unset_one(struct occ_cli_txn *t, const char *arg)
{
	char *path = occ_xasprintf("container.env.%s", arg);
	int ret = occ_cli_txn_delete(t, path);

	free(path);
	return ret;
}

/* config env set/unset: options, then every argument edited in one
 * transaction (all or nothing), then what the change means. set checks its
 * KEY=VALUE arguments before it takes the lock. */
static int env_edit(struct occ_cli *cli, int argc, char **argv, bool set)
{
	const char *operation = set ? "config env set" : "config env unset";
	char before[OCC_HASH_HEX_LEN + 1];
	struct set_opts o = { 0 };
	struct occ_cli_txn t;
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", set_long, on_set_opt, &o, &ret);

	if (first < 0)
		return ret;
	if (first >= argc)
		return occ_cli_usage_error(cli, set ? "expected KEY=VALUE ..." : "expected KEY ...");
	for (int i = first; set && i < argc; i++)
		if (!strchr(argv[i], '=') || argv[i][0] == '=')
			return occ_cli_usage_error(cli, "expected KEY=VALUE, got '%s'", argv[i]);
	ret = occ_cli_txn_begin(&t, cli, operation);
	if (ret)
		return ret;
	spec_hash(cli->state, before);
	for (int i = first; i < argc && ret == 0; i++)
		ret = set ? env_set_one(&t, argv[i]) : env_unset_one(&t, argv[i]);
	if (ret == 0)
		ret = after_edit(cli, &t, before, o.apply, operation, NULL);
	occ_cli_txn_end(&t);
	return ret;
}

static int env_set(struct occ_cli *cli, int argc, char **argv)
{
	return env_edit(cli, argc, argv, true);
}

static int env_unset(struct occ_cli *cli, int argc, char **argv)
{
	return env_edit(cli, argc, argv, false);
}

static int env_list(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_kvlist *env = &cli->state->container.env;
	struct occ_json j;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (cli->json) {
		occ_json_init(&j);
		occ_json_obj_begin(&j);
		for (size_t i = 0; i < env->n; i++)
			occ_json_kstr(&j, env->items[i].key,
				      occ_env_is_sensitive(env->items[i].key, env->items[i].value)
					      ? MASK : env->items[i].value);
		occ_json_obj_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return 0;
	}
	for (size_t i = 0; i < env->n; i++)
		printf("%s=%s\n", env->items[i].key,
		       occ_env_is_sensitive(env->items[i].key, env->items[i].value) ? MASK
										   : env->items[i].value);
	return 0;
}

static const struct occ_subcmd env_cmds[] = {
	{ "set", env_set, "KEY=VALUE... [--apply]", "set container environment variables" },
	{ "unset", env_unset, "KEY... [--apply]", "remove container environment variables" },
	{ "list", env_list, "[--json]", "list the container environment (secrets masked)" },
	{ NULL, NULL, NULL, NULL },
};

static int config_env(struct occ_cli *cli, int argc, char **argv)
{
	return occ_cli_run_sub(cli, "config env", env_cmds, argc, argv);
}

static const struct occ_subcmd config_cmds[] = {
	{ "show", config_show, "[--json]", "the effective state, defaults filled in" },
	{ "get", config_get, "KEY", "one value, e.g. container.port" },
	{ "set", config_set, "KEY VALUE [--apply]", "change one value in the state file" },
	{ "reset", config_reset, "[--yes]", "back to the defaults (FILE.bak kept)" },
	{ "env", config_env, "set|unset|list", "the container's environment" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_config(struct occ_cli *cli, int argc, char **argv)
{
	return occ_cli_run_sub(cli, "config", config_cmds, argc, argv);
}
