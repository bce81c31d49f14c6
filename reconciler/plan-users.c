/*
 * plan-users.c - the planner's part for accounts in the container.
 *
 * Compares the state file's users with the accounts the driver read from
 * the container. A container created or recreated by this plan gets its
 * accounts from that action (the driver writes them before starting it), so
 * the differences become changes of that action instead of actions of their
 * own: the diff still shows them. Password values are hashes and the
 * changes carrying them are sensitive: renderers show only a digest.
 *
 * The one impurity: password_file and password_env are read when (and only
 * when) an existing account has to be compared with them. A new account
 * needs no comparison, so its hash is read at apply time only.
 */
#include "reconciler/users.h"

#include <stdlib.h>
#include <string.h>

#include "model/util.h"

struct uchanges {
	struct occ_change *items;
	size_t n, alloc;
};

/* One account to look at: desired, observed, or both. */
struct entry {
	const char *name;
	const struct occ_user *want;
	const struct occ_obs_user *have;
};

static void uchange(struct uchanges *cs, const char *user, const char *what,
		    const char *old_value, const char *new_value, bool sensitive)
{
	struct occ_change *c;

	OCC_GROW(cs->items, cs->n, cs->alloc);
	c = &cs->items[cs->n++];
	memset(c, 0, sizeof(*c));
	c->field = what ? occ_xasprintf("users[%s].%s", user, what)
			: occ_xasprintf("users[%s]", user);
	c->old_value = occ_xstrdup(old_value);
	c->new_value = occ_xstrdup(new_value);
	c->sensitive = sensitive;
}

static void uchanges_release(struct uchanges *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->items[i].field);
		free(cs->items[i].old_value);
		free(cs->items[i].new_value);
	}
	free(cs->items);
	memset(cs, 0, sizeof(*cs));
}

/* Move the collected changes to the end of a's. */
static void uchanges_append(struct occ_action *a, struct uchanges *cs)
{
	if (!cs->n)
		return;
	a->changes = occ_xrealloc(a->changes, (a->n_changes + cs->n) * sizeof(*a->changes));
	memcpy(a->changes + a->n_changes, cs->items, cs->n * sizeof(*cs->items));
	a->n_changes += cs->n;
	free(cs->items);
	memset(cs, 0, sizeof(*cs));
}

static const char *bool_text(bool b)
{
	return b ? "true" : "false";
}

/* A new account, as the diff shows it: where its password comes from
 * (the hash itself, masked, or the file or variable read at apply time),
 * whether it can log in, its shell. */
static void new_user_changes(struct uchanges *cs, const struct occ_user *u)
{
	switch (u->pw_source) {
	case OCC_PW_HASH:
		uchange(cs, u->name, "password", NULL, u->password_hash, true);
		break;
	case OCC_PW_FILE:
		uchange(cs, u->name, "password_file", NULL, u->password_file, false);
		break;
	case OCC_PW_ENV:
		uchange(cs, u->name, "password_env", NULL, u->password_env, false);
		break;
	case OCC_PW_NONE:
		uchange(cs, u->name, "password", NULL, NULL, false);
		break;
	}
	uchange(cs, u->name, "enabled", NULL, bool_text(u->enabled), false);
	uchange(cs, u->name, "shell", NULL, u->shell, false);
}

static int update_changes(struct uchanges *cs, const struct occ_user *u,
			  const struct occ_obs_user *have, const char *state_path,
			  struct occ_error *err)
{
	char *hash = NULL;
	int ret = occ_users_resolve_password(&hash, u, state_path, err);

	if (ret)
		return ret;
	if (!occ_streq(have->hash, hash))
		uchange(cs, u->name, "password", have->hash, hash, true);
	if (have->locked == u->enabled)
		uchange(cs, u->name, "enabled", bool_text(!have->locked), bool_text(u->enabled),
			false);
	if (!occ_streq(have->shell, u->shell))
		uchange(cs, u->name, "shell", have->shell, u->shell, false);
	free(hash);
	return 0;
}

static void removed_changes(struct uchanges *cs, const struct occ_obs_user *have)
{
	char uid[32];

	snprintf(uid, sizeof(uid), "uid %u", have->uid);
	uchange(cs, have->name, NULL, uid, NULL, false);
}

static struct occ_action *add_user_action(struct occ_plan *plan, enum occ_action_kind kind,
					  enum occ_op op, const char *name,
					  const struct occ_obs_container *c)
{
	struct occ_action *a;

	OCC_GROW(plan->actions, plan->n, plan->alloc);
	a = &plan->actions[plan->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->op = op;
	a->resource = occ_xstrdup("user");
	a->name = occ_xstrdup(name);
	a->target_id = occ_xstrdup(c->id);
	if (op == OCC_OP_CREATE)
		plan->n_create++;
	else if (op == OCC_OP_REMOVE)
		plan->n_remove++;
	else
		plan->n_change++;
	return a;
}

/* "password changed", "password and shell changed", "password, enabled and
 * shell changed" (the action names the user already). */
static char *update_cause(const struct uchanges *cs)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < cs->n; i++) {
		const char *dot = strrchr(cs->items[i].field, '.');

		if (i)
			occ_strbuf_adds(&sb, i + 1 == cs->n ? " and " : ", ");
		occ_strbuf_adds(&sb, dot ? dot + 1 : cs->items[i].field);
	}
	occ_strbuf_adds(&sb, " changed");
	return occ_strbuf_detach(&sb);
}

static bool someone_can_log_in(const struct occ_state *st)
{
	for (size_t i = 0; i < st->n_users; i++)
		if (st->users[i].enabled && st->users[i].pw_source != OCC_PW_NONE)
			return true;
	return false;
}

/* The loader refuses such a state file too; this keeps a state built any
 * other way from locking everyone out of a published service silently. */
static int removal_allowed(const struct occ_state *st, const char *name, struct occ_error *err)
{
	if (occ_bind_is_loopback(st->container.bind) || someone_can_log_in(st))
		return 0;
	occ_error_set(err, OCC_EINVALID, "refusing to remove user '%s': the service is published "
		      "on %s and no other user could log in", name,
		      st->container.bind ? st->container.bind : "(default)");
	occ_error_at(err, st->path, st->container.pos.line, st->container.pos.col);
	occ_error_hint(err, "keep an enabled user with a password, or set container.bind "
		       "to 127.0.0.1");
	return OCC_EINVALID;
}

static const struct occ_obs_user *find_have(const struct occ_observed *obs, const char *name)
{
	for (size_t i = 0; i < obs->n_users; i++)
		if (occ_streq(obs->users[i].name, name))
			return &obs->users[i];
	return NULL;
}

static bool is_desired(const struct occ_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_users; i++)
		if (occ_streq(st->users[i].name, name))
			return true;
	return false;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Desired users and occ's accounts no longer desired, by name. */
static struct entry *entries(const struct occ_state *st, const struct occ_observed *obs,
			     size_t *n_out)
{
	struct entry *v = occ_xcalloc(st->n_users + obs->n_users + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < st->n_users; i++)
		v[n++] = (struct entry){ st->users[i].name, &st->users[i],
					 find_have(obs, st->users[i].name) };
	for (size_t i = 0; i < obs->n_users; i++)
		if (obs->users[i].managed && !is_desired(st, obs->users[i].name))
			v[n++] = (struct entry){ obs->users[i].name, NULL, &obs->users[i] };
	qsort(v, n, sizeof(*v), cmp_entry);
	*n_out = n;
	return v;
}

/*
 * One account: its changes go to ca (the recreate of this plan) when there
 * is one, else into an action of their own.
 */
static int plan_entry(struct occ_plan *plan, const struct occ_state *st,
		      const struct occ_obs_container *c, size_t ca, const struct entry *e,
		      struct occ_error *err)
{
	enum occ_action_kind kind;
	enum occ_op op;
	struct uchanges cs = { 0 };
	struct occ_action *a;
	int ret = 0;

	if (e->want && e->have && !e->have->managed)
		return occ_users_conflict(err, e->name, st->path, e->want->pos);
	if (!e->want) {
		ret = removal_allowed(st, e->name, err);
		removed_changes(&cs, e->have);
		kind = OCC_ACT_USER_REMOVE, op = OCC_OP_REMOVE;
	} else if (!e->have) {
		new_user_changes(&cs, e->want);
		kind = OCC_ACT_USER_CREATE, op = OCC_OP_CREATE;
	} else {
		ret = update_changes(&cs, e->want, e->have, st->path, err);
		kind = OCC_ACT_USER_UPDATE, op = OCC_OP_UPDATE;
	}
	if (ret || !cs.n)
		goto out;
	if (ca != (size_t)-1) {
		uchanges_append(&plan->actions[ca], &cs);
		goto out;
	}
	a = add_user_action(plan, kind, op, e->name, c);
	if (op == OCC_OP_CREATE)
		a->cause = occ_xasprintf("user '%s' does not exist in the container", e->name);
	else if (op == OCC_OP_REMOVE)
		a->cause = occ_xasprintf("user '%s' is not in the state file (its home %s is kept)",
					 e->name, e->have->home ? e->have->home : "directory");
	else
		a->cause = update_cause(&cs);
	a->changes = cs.items;
	a->n_changes = cs.n;
	memset(&cs, 0, sizeof(cs));
out:
	uchanges_release(&cs);
	return ret;
}

/* The index of this plan's create or recreate of the container, or -1. */
static size_t container_action(const struct occ_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct occ_action *a = &plan->actions[i];

		if ((a->kind == OCC_ACT_CONTAINER_CREATE || a->kind == OCC_ACT_CONTAINER_RECREATE) &&
		    occ_streq(a->name, name))
			return i;
	}
	return (size_t)-1;
}

static int cmp_user_ptr(const void *a, const void *b)
{
	return strcmp((*(const struct occ_user *const *)a)->name,
		      (*(const struct occ_user *const *)b)->name);
}

/* Every desired user as new: on a container created now, or one whose
 * accounts could not be read. */
static void attach_all(struct occ_action *a, const struct occ_state *st)
{
	struct uchanges cs = { 0 };
	const struct occ_user **order = occ_xcalloc(st->n_users + 1, sizeof(*order));

	for (size_t i = 0; i < st->n_users; i++)
		order[i] = &st->users[i];
	qsort(order, st->n_users, sizeof(*order), cmp_user_ptr);
	for (size_t i = 0; i < st->n_users; i++)
		new_user_changes(&cs, order[i]);
	uchanges_append(a, &cs);
	uchanges_release(&cs);
	free(order);
}

int occ_plan__users(struct occ_plan *plan, const struct occ_state *st,
		    const struct occ_observed *obs, const struct occ_obs_container *c,
		    struct occ_error *err)
{
	size_t ca = container_action(plan, st->name), n = 0;
	struct entry *v;
	int ret = 0;

	if (ca != (size_t)-1 && (!c || !obs->users_observed)) {
		attach_all(&plan->actions[ca], st);
		return 0;
	}
	if (!c || !obs->users_observed)
		return 0;
	v = entries(st, obs, &n);
	for (size_t i = 0; !ret && i < n; i++)
		ret = plan_entry(plan, st, c, ca, &v[i], err);
	free(v);
	return ret;
}
