/*
 * plan.c - occ_plan_compute(): desired + observed -> ordered actions.
 *
 * Pure by contract: no I/O, no clock (except reading password_file/password_env
 * to compare an existing account, see plan-users.c). The order of actions is
 * the apply order: image, volumes, leftovers, container (create or recreate),
 * accounts in the container, run state. The container is compared cheaply
 * first (spec-hash label against the desired hash, in the hash version the
 * container was created with, so a newer occ does not recreate everything)
 * and field by field only on a mismatch, which is what names the cause.
 */
#include "reconciler/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"
#include "model/secrets.h"
#include "model/util.h"
#include "reconciler/users.h"

void occ_plan_init(struct occ_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
}

static void change_release(struct occ_change *c)
{
	free(c->field);
	free(c->old_value);
	free(c->new_value);
}

static void action_release(struct occ_action *a)
{
	free(a->resource);
	free(a->name);
	free(a->target_id);
	free(a->cause);
	for (size_t i = 0; i < a->n_changes; i++)
		change_release(&a->changes[i]);
	free(a->changes);
}

void occ_plan_release(struct occ_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		action_release(&plan->actions[i]);
	free(plan->actions);
	memset(plan, 0, sizeof(*plan));
}

bool occ_plan_empty(const struct occ_plan *plan)
{
	return plan->n == 0;
}

static struct occ_action *add_action(struct occ_plan *plan, enum occ_action_kind kind,
				     enum occ_op op, const char *resource, const char *name)
{
	struct occ_action *a;

	OCC_GROW(plan->actions, plan->n, plan->alloc);
	a = &plan->actions[plan->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->op = op;
	a->resource = occ_xstrdup(resource);
	a->name = occ_xstrdup(name);
	switch (op) {
	case OCC_OP_CREATE: plan->n_create++; break;
	case OCC_OP_UPDATE: plan->n_change++; break;
	case OCC_OP_RECREATE: plan->n_recreate++; break;
	case OCC_OP_REMOVE: plan->n_remove++; break;
	case OCC_OP_START:
	case OCC_OP_STOP: plan->n_change++; break;
	}
	return a;
}

/* A list of field changes being collected before it is attached to an action. */
struct changes {
	struct occ_change *items;
	size_t n, alloc;
};

static void changes_add(struct changes *cs, const char *field, const char *old_value,
			const char *new_value, bool sensitive, bool forces)
{
	struct occ_change *c;

	OCC_GROW(cs->items, cs->n, cs->alloc);
	c = &cs->items[cs->n++];
	memset(c, 0, sizeof(*c));
	c->field = occ_xstrdup(field);
	c->old_value = occ_xstrdup(old_value);
	c->new_value = occ_xstrdup(new_value);
	c->sensitive = sensitive;
	c->forces_recreate = forces;
}

static void changes_attach(struct occ_action *a, struct changes *cs)
{
	a->changes = cs->items;
	a->n_changes = cs->n;
	memset(cs, 0, sizeof(*cs));
}

static void changes_release(struct changes *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		change_release(&cs->items[i]);
	free(cs->items);
	memset(cs, 0, sizeof(*cs));
}

static void cmp_str(struct changes *cs, const char *field, const char *old_value,
		    const char *new_value)
{
	if (!occ_streq(old_value, new_value))
		changes_add(cs, field, old_value, new_value, false, true);
}

/* A numeric field; 0 is "none" (no port, no limit). */
static void cmp_num(struct changes *cs, const char *field, uint64_t old_value,
		    uint64_t new_value)
{
	char a[24], b[24];

	if (old_value == new_value)
		return;
	snprintf(a, sizeof(a), "%llu", (unsigned long long)old_value);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)new_value);
	changes_add(cs, field, old_value ? a : NULL, new_value ? b : NULL, false, true);
	cs->items[cs->n - 1].number = true;
}

static int cmp_kv_key(const void *a, const void *b)
{
	return strcmp(((const struct occ_kv *)a)->key, ((const struct occ_kv *)b)->key);
}

/* Sorted copy of a kvlist's items (shallow). */
static struct occ_kv *sorted_kv(const struct occ_kvlist *kv)
{
	struct occ_kv *items = occ_xcalloc(kv->n, sizeof(*items));

	if (kv->n)
		memcpy(items, kv->items, kv->n * sizeof(*items));
	qsort(items, kv->n, sizeof(*items), cmp_kv_key);
	return items;
}

/*
 * Env changes, merged over the two sorted key lists so the output is sorted.
 * The driver reports the container's env without entries equal to the image's
 * own defaults, so a desired entry the image already sets is satisfied.
 */
static void cmp_env(struct changes *cs, const struct occ_kvlist *old_env,
		    const struct occ_kvlist *new_env, const struct occ_kvlist *image_env)
{
	struct occ_kv *o = sorted_kv(old_env), *n = sorted_kv(new_env);
	size_t i = 0, j = 0;

	while (i < old_env->n || j < new_env->n) {
		int c = i == old_env->n ? 1 : j == new_env->n ? -1 : strcmp(o[i].key, n[j].key);
		const char *key = c <= 0 ? o[i].key : n[j].key;
		char *field = occ_xasprintf("env.%s", key);
		bool sens = occ_env_is_sensitive(key, c <= 0 ? o[i].value : NULL) ||
			    occ_env_is_sensitive(key, c >= 0 ? n[j].value : NULL);

		if (c < 0)
			changes_add(cs, field, o[i++].value, NULL, sens, true);
		else if (c > 0 && image_env && occ_streq(occ_kvlist_get(image_env, key), n[j].value))
			j++;
		else if (c > 0)
			changes_add(cs, field, NULL, n[j++].value, sens, true);
		else {
			if (!occ_streq(o[i].value, n[j].value))
				changes_add(cs, field, o[i].value, n[j].value, sens, true);
			i++, j++;
		}
		free(field);
	}
	free(o);
	free(n);
}

static char *mount_text(const struct occ_mount *m)
{
	return occ_xasprintf("%s:%s%s", m->source, m->target, m->readonly ? ":ro" : "");
}

static const struct occ_mount *find_mount(const struct occ_mount *m, size_t n, const char *target)
{
	for (size_t i = 0; i < n; i++)
		if (occ_streq(m[i].target, target))
			return &m[i];
	return NULL;
}

static void cmp_mounts(struct changes *cs, const struct occ_obs_container *c,
		       const struct occ_state *st)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct occ_mount *o = &c->mounts[i];
		const struct occ_mount *d = find_mount(st->mounts, st->n_mounts, o->target);
		char *field = occ_xasprintf("mounts[%s]", o->target);
		char *ot = mount_text(o), *dt = d ? mount_text(d) : NULL;

		if (!occ_streq(ot, dt))
			changes_add(cs, field, ot, dt, false, true);
		free(field);
		free(ot);
		free(dt);
	}
	for (size_t i = 0; i < st->n_mounts; i++) {
		const struct occ_mount *d = &st->mounts[i];

		if (find_mount(c->mounts, c->n_mounts, d->target))
			continue;
		char *field = occ_xasprintf("mounts[%s]", d->target);
		char *dt = mount_text(d);

		changes_add(cs, field, NULL, dt, false, true);
		free(field);
		free(dt);
	}
}

static const struct occ_volume *find_volume(const struct occ_volume *v, size_t n, const char *target)
{
	for (size_t i = 0; i < n; i++)
		if (occ_streq(v[i].target, target))
			return &v[i];
	return NULL;
}

/* Observed volumes carry Docker's full name; desired ones the short name. */
static bool cmp_volumes(struct changes *cs, const struct occ_obs_container *c,
			const struct occ_state *st)
{
	bool dropped = false;

	for (size_t i = 0; i < c->n_volumes; i++) {
		const struct occ_volume *o = &c->volumes[i];
		const struct occ_volume *d = find_volume(st->volumes, st->n_volumes, o->target);
		char *field = occ_xasprintf("volumes[%s]", o->target);
		char *dn = d ? occ_volume_docker_name(st, d) : NULL;

		if (!occ_streq(o->name, dn)) {
			changes_add(cs, field, o->name, dn, false, true);
			dropped = true;
		}
		free(field);
		free(dn);
	}
	for (size_t i = 0; i < st->n_volumes; i++) {
		const struct occ_volume *d = &st->volumes[i];

		if (find_volume(c->volumes, c->n_volumes, d->target))
			continue;
		char *field = occ_xasprintf("volumes[%s]", d->target);
		char *dn = occ_volume_docker_name(st, d);

		changes_add(cs, field, NULL, dn, false, true);
		free(field);
		free(dn);
	}
	return dropped;
}

/* The hardening (state.h) and resources: a container made by an older occ
 * lacks the hardening, which recreates it. */
static void container_limits(struct changes *cs, const struct occ_obs_container *c,
			     const struct occ_state *st)
{
	char *sec = occ_security_text_desired();
	char *log = occ_log_text(OCC_LOG_DRIVER, OCC_LOG_MAX_SIZE, OCC_LOG_MAX_FILE);

	cmp_str(cs, "container.security", c->security, sec);
	cmp_str(cs, "container.log", c->log, log);
	cmp_num(cs, "resources.memory", c->memory, st->resources.memory);
	cmp_num(cs, "resources.nano_cpus", c->nano_cpus, st->resources.nano_cpus);
	cmp_num(cs, "resources.pids", (uint64_t)c->pids_limit, (uint64_t)st->resources.pids);
	free(sec);
	free(log);
}

/* Field-level compare; returns whether a volume the container had is dropped. */
static bool container_fields(struct changes *cs, const struct occ_obs_container *c,
			     const struct occ_state *st, const struct occ_kvlist *image_env)
{
	const struct occ_container *d = &st->container;
	struct occ_kvlist env;
	bool dropped;

	occ_state_container_env(&env, st);
	cmp_str(cs, "image", c->image_ref, st->image.ref);
	cmp_str(cs, "container.bind", c->bind, d->bind);
	cmp_num(cs, "container.port", c->port, d->port);
	cmp_num(cs, "container.container_port", c->container_port, d->container_port);
	cmp_str(cs, "container.restart", occ_restart_policy_name(c->restart),
		occ_restart_policy_name(d->restart));
	if (!c->init)
		changes_add(cs, "container.init", "false", "true", false, true);
	container_limits(cs, c, st);
	/* With the login mode (env.OCC_LOGIN), which users and bind decide. */
	cmp_env(cs, &c->env, &env, image_env);
	cmp_mounts(cs, c, st);
	dropped = cmp_volumes(cs, c, st);
	occ_kvlist_release(&env);
	return dropped;
}

/* Every field of a container about to be created, for the diff. */
static void container_create_fields(struct changes *cs, const struct occ_state *st)
{
	struct occ_obs_container none = { .init = true, .restart = st->container.restart };

	container_fields(cs, &none, st, NULL);
	changes_add(cs, "container.restart", NULL,
		    occ_restart_policy_name(st->container.restart), false, false);
}

/*
 * An image occ built from its embedded context carries that context's hash;
 * another hash means another occ built it (an upgrade brings a new Dockerfile,
 * a new opencode): build again. The apply then re-plans and recreates the
 * container on the new image ID. An image without the label (built by hand,
 * or pulled) is left alone.
 */
static void plan_embedded_rebuild(struct occ_plan *plan, const struct occ_state *st,
				  const struct occ_observed *obs)
{
	const char *built = occ_kvlist_get(&obs->image.labels, OCC_IMAGE_LABEL_CONTEXT);
	struct occ_action *a;

	if (!st->image.build.embedded || !built || occ_streq(built, occ_embedded_image_hash))
		return;
	a = add_action(plan, OCC_ACT_IMAGE_BUILD, OCC_OP_UPDATE, "image", st->image.ref);
	a->cause = occ_xasprintf("image '%s' was built from another version of the embedded "
				 "Dockerfile: build it again", st->image.ref);
}

static int plan_image(struct occ_plan *plan, const struct occ_state *st,
		      const struct occ_observed *obs, struct occ_error *err)
{
	struct occ_action *a;

	if (st->image.build.enabled) {
		if (obs->image.present) {
			plan_embedded_rebuild(plan, st, obs);
			return 0;
		}
		a = add_action(plan, OCC_ACT_IMAGE_BUILD, OCC_OP_CREATE, "image", st->image.ref);
		a->cause = occ_xasprintf("image '%s' is not present: build it from %s",
					 st->image.ref,
					 st->image.build.embedded ? "the embedded Dockerfile"
								  : st->image.build.context);
		return 0;
	}
	switch (st->image.pull) {
	case OCC_PULL_ALWAYS:
		a = add_action(plan, OCC_ACT_IMAGE_PULL, obs->image.present ? OCC_OP_UPDATE : OCC_OP_CREATE,
			       "image", st->image.ref);
		a->cause = occ_xstrdup("image.pull is always");
		return 0;
	case OCC_PULL_MISSING:
		if (obs->image.present)
			return 0;
		a = add_action(plan, OCC_ACT_IMAGE_PULL, OCC_OP_CREATE, "image", st->image.ref);
		a->cause = occ_xasprintf("image '%s' is not present", st->image.ref);
		return 0;
	case OCC_PULL_NEVER:
		if (obs->image.present)
			return 0;
		occ_error_set(err, OCC_ENOTFOUND,
			      "image '%s' is not present and image.pull is never", st->image.ref);
		occ_error_at(err, st->path, st->image.pos.line, st->image.pos.col);
		occ_error_hint(err, "load the image (docker load), set image.pull: missing, or add image.build");
		return OCC_ENOTFOUND;
	}
	return 0;
}

static int plan_volumes(struct occ_plan *plan, const struct occ_state *st,
			const struct occ_observed *obs, struct occ_error *err)
{
	for (size_t i = 0; i < st->n_volumes; i++) {
		char *name = occ_volume_docker_name(st, &st->volumes[i]);
		const struct occ_obs_volume *v = occ_observed_volume(obs, name);
		struct occ_action *a;

		if (v && !v->owned) {
			occ_error_set(err, OCC_ECONFLICT,
				      "volume '%s' exists but was not created by occ for project '%s'",
				      name, st->name);
			occ_error_at(err, st->path, st->volumes[i].pos.line, st->volumes[i].pos.col);
			occ_error_hint(err, "occ never takes over a volume it did not create: "
				       "rename the volume in the state file, or remove the existing one "
				       "(docker volume rm %s) if its data is not needed", name);
			free(name);
			return OCC_ECONFLICT;
		}
		if (!v) {
			a = add_action(plan, OCC_ACT_VOLUME_CREATE, OCC_OP_CREATE, "volume", name);
			a->cause = occ_xasprintf("volume '%s' does not exist", name);
		}
		free(name);
	}
	return 0;
}

static int conflict(const struct occ_state *st, const struct occ_obs_container *c,
		    struct occ_error *err)
{
	if (c->project && !occ_streq(c->project, st->name))
		occ_error_set(err, OCC_ECONFLICT,
			      "container '%s' belongs to occ project '%s', not '%s'",
			      c->name, c->project, st->name);
	else
		occ_error_set(err, OCC_ECONFLICT,
			      "container '%s' exists but was not created by occ", c->name);
	occ_error_at(err, st->path, 0, 0);
	occ_error_hint(err, "occ never touches containers it does not own: remove or rename "
		       "it (docker rm -f %s), or set another name: in the state file", c->name);
	return OCC_ECONFLICT;
}

static void plan_leftovers(struct occ_plan *plan, const struct occ_state *st,
			   const struct occ_observed *obs)
{
	for (size_t i = 0; i < obs->n_containers; i++) {
		const struct occ_obs_container *c = &obs->containers[i];
		struct occ_action *a;

		if (!c->owned || occ_streq(c->name, st->name))
			continue;
		a = add_action(plan, OCC_ACT_CONTAINER_REMOVE, OCC_OP_REMOVE, "container", c->name);
		a->target_id = occ_xstrdup(c->id);
		a->cause = occ_xstrdup("left over from an interrupted apply");
	}
}

/* Whether the container's spec matches, by label first, by fields second. */
static bool spec_matches(const struct occ_obs_container *c, const struct occ_state *st)
{
	char hash[OCC_HASH_HEX_LEN + 1];

	/* An older version's hash lacks the hardening: compare the fields. */
	if (!c->spec_hash || c->hash_version != OCC_HASH_VERSION)
		return false;
	if (occ_spec_hash(st, c->hash_version, hash) != 0)
		return false;
	return strcmp(hash, c->spec_hash) == 0;
}

static bool ctr_is_up(const struct occ_obs_container *c)
{
	return c->state == OCC_CTR_RUNNING || c->state == OCC_CTR_RESTARTING;
}

static void plan_run_state(struct occ_plan *plan, const struct occ_state *st,
			   const struct occ_obs_container *c)
{
	struct occ_action *a;

	if (st->container.running && !ctr_is_up(c)) {
		a = add_action(plan, OCC_ACT_CONTAINER_START, OCC_OP_START, "container", st->name);
		a->target_id = occ_xstrdup(c->id);
		if (c->state == OCC_CTR_EXITED || c->state == OCC_CTR_DEAD)
			a->cause = occ_xasprintf("container is %s (exit code %d)",
						 occ_ctr_state_name(c->state), c->exit_code);
		else
			a->cause = occ_xasprintf("container is %s", occ_ctr_state_name(c->state));
		a->wait_healthy = true;
	} else if (!st->container.running && ctr_is_up(c)) {
		a = add_action(plan, OCC_ACT_CONTAINER_STOP, OCC_OP_STOP, "container", st->name);
		a->target_id = occ_xstrdup(c->id);
		a->cause = occ_xstrdup("container.running is false (occ stop)");
	} else {
		plan->in_sync = true;
	}
}

static void plan_create(struct occ_plan *plan, const struct occ_state *st)
{
	struct changes cs = { 0 };
	struct occ_action *a;

	a = add_action(plan, OCC_ACT_CONTAINER_CREATE, OCC_OP_CREATE, "container", st->name);
	a->cause = occ_xasprintf("container '%s' does not exist", st->name);
	container_create_fields(&cs, st);
	changes_attach(a, &cs);
	if (st->container.running) {
		a = add_action(plan, OCC_ACT_CONTAINER_START, OCC_OP_START, "container", st->name);
		a->cause = occ_xstrdup("new container");
		a->wait_healthy = true;
		plan->n_change--; /* part of the create, not a change of its own */
	}
}

static char *recreate_cause(const struct occ_change *c)
{
	const char *oq = c->old_value && !c->number ? "\"" : "";
	const char *nq = c->new_value && !c->number ? "\"" : "";

	if (c->sensitive)
		return occ_xasprintf("%s changed (forces recreate)", c->field);
	return occ_xasprintf("%s: %s%s%s -> %s%s%s (forces recreate)", c->field,
			     oq, c->old_value ? c->old_value : "(none)", oq,
			     nq, c->new_value ? c->new_value : "(none)", nq);
}

/* Recreate the container when its spec differs; returns whether it does. */
static bool plan_container(struct occ_plan *plan, const struct occ_state *st,
			   const struct occ_observed *obs, const struct occ_obs_container *c)
{
	struct changes cs = { 0 };
	struct occ_action *a;
	bool dropped = false;

	if (!spec_matches(c, st))
		dropped = container_fields(&cs, c, st, &obs->image.env);
	if (cs.n == 0 && obs->image.present && c->image_id && obs->image.id &&
	    !occ_streq(c->image_id, obs->image.id))
		changes_add(&cs, "image.id", c->image_id, obs->image.id, false, true);
	if (cs.n == 0)
		return false;
	a = add_action(plan, OCC_ACT_CONTAINER_RECREATE, OCC_OP_RECREATE, "container", st->name);
	a->target_id = occ_xstrdup(c->id);
	a->cause = recreate_cause(&cs.items[0]);
	a->wait_healthy = st->container.running;
	a->destructive = dropped;
	changes_attach(a, &cs);
	changes_release(&cs);
	return true;
}

int occ_plan_compute(struct occ_plan *out, const struct occ_state *desired,
		     const struct occ_observed *obs, struct occ_error *err)
{
	const struct occ_obs_container *c;
	struct occ_plan plan;
	bool recreated = false;
	int ret;

	occ_plan_init(out);
	occ_plan_init(&plan);
	c = occ_observed_container(obs, desired->name);
	if (c && !c->owned) {
		ret = conflict(desired, c, err);
		goto fail;
	}
	ret = plan_image(&plan, desired, obs, err);
	if (ret)
		goto fail;
	ret = plan_volumes(&plan, desired, obs, err);
	if (ret)
		goto fail;
	plan_leftovers(&plan, desired, obs);
	if (!c)
		plan_create(&plan, desired);
	else
		recreated = plan_container(&plan, desired, obs, c);
	/* Accounts before the run state: a start finds them in place. */
	ret = occ_plan__users(&plan, desired, obs, c, err);
	if (ret)
		goto fail;
	if (c && !recreated)
		plan_run_state(&plan, desired, c);
	*out = plan;
	return 0;
fail:
	occ_plan_release(&plan);
	return ret;
}

const char *occ_action_kind_name(enum occ_action_kind k)
{
	static const char *const names[] = {
		[OCC_ACT_IMAGE_PULL] = "pull", [OCC_ACT_IMAGE_BUILD] = "build",
		[OCC_ACT_VOLUME_CREATE] = "create", [OCC_ACT_CONTAINER_CREATE] = "create",
		[OCC_ACT_CONTAINER_RECREATE] = "recreate", [OCC_ACT_CONTAINER_START] = "start",
		[OCC_ACT_CONTAINER_STOP] = "stop", [OCC_ACT_CONTAINER_REMOVE] = "remove",
		[OCC_ACT_USER_CREATE] = "create", [OCC_ACT_USER_UPDATE] = "update",
		[OCC_ACT_USER_REMOVE] = "remove",
	};

	return (size_t)k < OCC_ARRAY_SIZE(names) ? names[k] : "unknown";
}

const char *occ_op_name(enum occ_op op)
{
	static const char *const names[] = {
		[OCC_OP_CREATE] = "create", [OCC_OP_UPDATE] = "update",
		[OCC_OP_RECREATE] = "recreate", [OCC_OP_START] = "start",
		[OCC_OP_STOP] = "stop", [OCC_OP_REMOVE] = "remove",
	};

	return (size_t)op < OCC_ARRAY_SIZE(names) ? names[op] : "unknown";
}
