/*
 * fake-driver.c - see fake-driver.h.
 */
#include "tests/fake-driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"
#include "model/util.h"

static int fake_observe(struct occ_driver *d, const struct occ_state *desired,
			struct occ_observed *out, struct occ_error *err)
{
	struct fake_driver *f = (struct fake_driver *)d;

	(void)desired;
	f->n_observe++;
	if (f->fail_observe)
		return occ_error_set(err, f->fail_observe, "fake: observe failed");
	occ_observed_copy(out, &f->world);
	return 0;
}

static struct occ_obs_container *find(struct fake_driver *f, const char *name, size_t *idx)
{
	for (size_t i = 0; i < f->world.n_containers; i++) {
		if (occ_streq(f->world.containers[i].name, name)) {
			if (idx)
				*idx = i;
			return &f->world.containers[i];
		}
	}
	return NULL;
}

static void remove_at(struct fake_driver *f, size_t i)
{
	occ_obs_container_release(&f->world.containers[i]);
	memmove(&f->world.containers[i], &f->world.containers[i + 1],
		(f->world.n_containers - i - 1) * sizeof(f->world.containers[0]));
	f->world.n_containers--;
}

void fake_set_image(struct fake_driver *f, const char *ref, const char *id)
{
	free(f->world.image.ref);
	free(f->world.image.id);
	f->world.image.present = true;
	f->world.image.ref = occ_xstrdup(ref);
	f->world.image.id = occ_xstrdup(id);
}

void fake_add_volume(struct fake_driver *f, const char *name, bool owned)
{
	struct occ_obs_volume *v;

	f->world.volumes = occ_xrealloc(f->world.volumes,
					(f->world.n_volumes + 1) * sizeof(*f->world.volumes));
	v = &f->world.volumes[f->world.n_volumes++];
	memset(v, 0, sizeof(*v));
	v->name = occ_xstrdup(name);
	v->owned = owned;
}

struct occ_obs_container *fake_add_container_from(struct fake_driver *f, const struct occ_state *st,
						  enum occ_ctr_state state)
{
	char hash[OCC_HASH_HEX_LEN + 1];
	struct occ_obs_container *c;

	f->world.containers = occ_xrealloc(f->world.containers,
					   (f->world.n_containers + 1) * sizeof(*f->world.containers));
	c = &f->world.containers[f->world.n_containers++];
	memset(c, 0, sizeof(*c));
	c->id = occ_xasprintf("fake%04d", ++f->next_id);
	c->name = occ_xstrdup(st->name);
	c->state = state;
	c->owned = true;
	c->project = occ_xstrdup(st->name);
	occ_spec_hash(st, OCC_HASH_VERSION, hash);
	c->spec_hash = occ_xstrdup(hash);
	c->hash_version = OCC_HASH_VERSION;
	c->image_ref = occ_xstrdup(st->image.ref);
	c->image_id = occ_xstrdup(f->world.image.id);
	c->port = st->container.port;
	c->bind = occ_xstrdup(st->container.bind);
	c->container_port = st->container.container_port;
	occ_state_container_env(&c->env, st);
	c->restart = st->container.restart;
	c->n_mounts = st->n_mounts;
	c->mounts = occ_xcalloc(st->n_mounts, sizeof(*c->mounts));
	for (size_t i = 0; i < st->n_mounts; i++) {
		c->mounts[i].source = occ_xstrdup(st->mounts[i].source);
		c->mounts[i].target = occ_xstrdup(st->mounts[i].target);
		c->mounts[i].readonly = st->mounts[i].readonly;
	}
	c->n_volumes = st->n_volumes;
	c->volumes = occ_xcalloc(st->n_volumes, sizeof(*c->volumes));
	for (size_t i = 0; i < st->n_volumes; i++) {
		c->volumes[i].name = occ_volume_docker_name(st, &st->volumes[i]);
		c->volumes[i].target = occ_xstrdup(st->volumes[i].target);
	}
	c->init = true;
	/* What the Docker driver creates (translate.c's host_config). */
	c->security = occ_security_text_desired();
	c->log = occ_log_text(OCC_LOG_DRIVER, OCC_LOG_MAX_SIZE, OCC_LOG_MAX_FILE);
	c->memory = st->resources.memory;
	c->nano_cpus = st->resources.nano_cpus;
	c->pids_limit = st->resources.pids;
	return c;
}

static struct occ_obs_user *find_user(struct fake_driver *f, const char *name, size_t *idx)
{
	for (size_t i = 0; i < f->world.n_users; i++) {
		if (occ_streq(f->world.users[i].name, name)) {
			if (idx)
				*idx = i;
			return &f->world.users[i];
		}
	}
	return NULL;
}

/* Accounts as the real driver leaves them: desired hash (resolved from the
 * state, hash sources only), lock state and shell; removal drops the entry. */
static void fake_converge_user(struct fake_driver *f, const struct occ_state *st,
			       const struct occ_action *a)
{
	const struct occ_user *want = NULL;
	struct occ_obs_user *u;
	size_t idx;

	for (size_t i = 0; i < st->n_users; i++)
		if (occ_streq(st->users[i].name, a->name))
			want = &st->users[i];
	u = find_user(f, a->name, &idx);
	if (a->kind == OCC_ACT_USER_REMOVE) {
		if (!u)
			return;
		free(u->name);
		free(u->home);
		free(u->shell);
		free(u->hash);
		memmove(u, u + 1, (f->world.n_users - idx - 1) * sizeof(*u));
		f->world.n_users--;
		return;
	}
	if (!want)
		return;
	if (!u) {
		f->world.users = occ_xrealloc(f->world.users,
					      (f->world.n_users + 1) * sizeof(*f->world.users));
		u = &f->world.users[f->world.n_users++];
		memset(u, 0, sizeof(*u));
		u->name = occ_xstrdup(want->name);
		u->uid = u->gid = 1000 + (unsigned)f->world.n_users;
		u->home = occ_xasprintf("/home/%s", want->name);
		u->managed = true;
	}
	free(u->shell);
	u->shell = occ_xstrdup(want->shell);
	free(u->hash);
	u->hash = occ_xstrdup(want->password_hash);
	u->locked = !want->enabled;
}

static void converge(struct fake_driver *f, const struct occ_state *st, const struct occ_action *a)
{
	struct occ_obs_container *c;
	size_t idx;
	char id[80];

	switch (a->kind) {
	case OCC_ACT_IMAGE_PULL:
	case OCC_ACT_IMAGE_BUILD:
		snprintf(id, sizeof(id), "sha256:fake-%d", ++f->next_id);
		fake_set_image(f, st->image.ref, id);
		break;
	case OCC_ACT_VOLUME_CREATE:
		fake_add_volume(f, a->name, true);
		break;
	case OCC_ACT_CONTAINER_CREATE:
		fake_add_container_from(f, st, OCC_CTR_CREATED);
		break;
	case OCC_ACT_CONTAINER_RECREATE:
		if (find(f, a->name, &idx))
			remove_at(f, idx);
		fake_add_container_from(f, st, st->container.running ? OCC_CTR_RUNNING : OCC_CTR_CREATED);
		break;
	case OCC_ACT_CONTAINER_START:
		if ((c = find(f, a->name, NULL)))
			c->state = OCC_CTR_RUNNING;
		break;
	case OCC_ACT_CONTAINER_STOP:
		if ((c = find(f, a->name, NULL)))
			c->state = OCC_CTR_EXITED;
		break;
	case OCC_ACT_CONTAINER_REMOVE:
		if (find(f, a->name, &idx))
			remove_at(f, idx);
		break;
	case OCC_ACT_USER_CREATE:
	case OCC_ACT_USER_UPDATE:
	case OCC_ACT_USER_REMOVE:
		fake_converge_user(f, st, a);
		break;
	}
}

static int fake_apply(struct occ_driver *d, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *a,
		      struct occ_error *err)
{
	struct fake_driver *f = (struct fake_driver *)d;

	(void)obs;
	if (f->n_calls < FAKE_MAX_CALLS)
		f->calls[f->n_calls] = a->kind;
	f->n_calls++;
	if (f->fail_at && f->n_calls == f->fail_at)
		return occ_error_set(err, OCC_EAPI, "fake: injected failure on call %d (%s %s)",
				     f->n_calls, occ_action_kind_name(a->kind), a->name);
	if (f->converge)
		converge(f, desired, a);
	return 0;
}

static int fake_wait_healthy(struct occ_driver *d, const struct occ_state *desired,
			     uint64_t timeout_ms, struct occ_error *err)
{
	struct fake_driver *f = (struct fake_driver *)d;

	(void)desired;
	(void)timeout_ms;
	f->n_health++;
	if (f->fail_health)
		return occ_error_set(err, f->fail_health, "fake: not healthy");
	return 0;
}

static void fake_destroy(struct occ_driver *d)
{
	struct fake_driver *f = (struct fake_driver *)d;

	occ_observed_release(&f->world);
	free(f);
}

static const struct occ_driver_ops fake_ops = {
	.name = "fake",
	.observe = fake_observe,
	.apply = fake_apply,
	.wait_healthy = fake_wait_healthy,
	.destroy = fake_destroy,
};

struct fake_driver *fake_driver_new(void)
{
	struct fake_driver *f = occ_xcalloc(1, sizeof(*f));

	f->base.ops = &fake_ops;
	occ_observed_init(&f->world);
	f->world.api_version = occ_xstrdup("1.41");
	return f;
}
