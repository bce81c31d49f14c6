/*
 * observed.c - lifetime helpers for struct occ_observed.
 */
#include "reconciler/observed.h"

#include <stdlib.h>
#include <string.h>

#include "model/util.h"

void occ_observed_init(struct occ_observed *obs)
{
	memset(obs, 0, sizeof(*obs));
}

static void mounts_free(struct occ_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].source);
		free(m[i].target);
	}
	free(m);
}

static void volumes_free(struct occ_volume *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].target);
	}
	free(v);
}

void occ_obs_container_release(struct occ_obs_container *c)
{
	free(c->id);
	free(c->name);
	free(c->project);
	free(c->spec_hash);
	free(c->image_ref);
	free(c->image_id);
	free(c->bind);
	occ_kvlist_release(&c->env);
	mounts_free(c->mounts, c->n_mounts);
	volumes_free(c->volumes, c->n_volumes);
	free(c->security);
	free(c->log);
	free(c->health);
	free(c->started_at);
	memset(c, 0, sizeof(*c));
}

void occ_obs_image_release(struct occ_obs_image *img)
{
	free(img->id);
	free(img->ref);
	for (size_t i = 0; i < img->n_repo_digests; i++)
		free(img->repo_digests[i]);
	free(img->repo_digests);
	occ_kvlist_release(&img->labels);
	occ_kvlist_release(&img->env);
	memset(img, 0, sizeof(*img));
}

static void users_free(struct occ_obs_user *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(u[i].name);
		free(u[i].home);
		free(u[i].shell);
		free(u[i].hash);
	}
	free(u);
}

void occ_observed_release(struct occ_observed *obs)
{
	if (!obs)
		return;
	free(obs->api_version);
	free(obs->daemon_version);
	occ_obs_image_release(&obs->image);
	for (size_t i = 0; i < obs->n_containers; i++)
		occ_obs_container_release(&obs->containers[i]);
	free(obs->containers);
	for (size_t i = 0; i < obs->n_volumes; i++) {
		free(obs->volumes[i].name);
		free(obs->volumes[i].spec_hash);
	}
	free(obs->volumes);
	users_free(obs->users, obs->n_users);
	memset(obs, 0, sizeof(*obs));
}

static void kvlist_copy(struct occ_kvlist *dst, const struct occ_kvlist *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		occ_kvlist_set(dst, src->items[i].key, src->items[i].value);
}

static struct occ_mount *mounts_copy(const struct occ_mount *m, size_t n)
{
	struct occ_mount *out = occ_xcalloc(n, sizeof(*out));

	for (size_t i = 0; i < n; i++) {
		out[i] = m[i];
		out[i].source = occ_xstrdup(m[i].source);
		out[i].target = occ_xstrdup(m[i].target);
	}
	return out;
}

static struct occ_volume *volumes_copy(const struct occ_volume *v, size_t n)
{
	struct occ_volume *out = occ_xcalloc(n, sizeof(*out));

	for (size_t i = 0; i < n; i++) {
		out[i] = v[i];
		out[i].name = occ_xstrdup(v[i].name);
		out[i].target = occ_xstrdup(v[i].target);
	}
	return out;
}

static void container_copy(struct occ_obs_container *d, const struct occ_obs_container *s)
{
	*d = *s;
	d->id = occ_xstrdup(s->id);
	d->name = occ_xstrdup(s->name);
	d->project = occ_xstrdup(s->project);
	d->spec_hash = occ_xstrdup(s->spec_hash);
	d->image_ref = occ_xstrdup(s->image_ref);
	d->image_id = occ_xstrdup(s->image_id);
	d->bind = occ_xstrdup(s->bind);
	kvlist_copy(&d->env, &s->env);
	d->mounts = mounts_copy(s->mounts, s->n_mounts);
	d->volumes = volumes_copy(s->volumes, s->n_volumes);
	d->security = occ_xstrdup(s->security);
	d->log = occ_xstrdup(s->log);
	d->health = occ_xstrdup(s->health);
	d->started_at = occ_xstrdup(s->started_at);
}

void occ_observed_copy(struct occ_observed *dst, const struct occ_observed *src)
{
	occ_observed_init(dst);
	dst->api_version = occ_xstrdup(src->api_version);
	dst->daemon_version = occ_xstrdup(src->daemon_version);
	dst->image.present = src->image.present;
	dst->image.id = occ_xstrdup(src->image.id);
	dst->image.ref = occ_xstrdup(src->image.ref);
	dst->image.n_repo_digests = src->image.n_repo_digests;
	dst->image.repo_digests = occ_xcalloc(src->image.n_repo_digests, sizeof(char *));
	for (size_t i = 0; i < src->image.n_repo_digests; i++)
		dst->image.repo_digests[i] = occ_xstrdup(src->image.repo_digests[i]);
	kvlist_copy(&dst->image.labels, &src->image.labels);
	kvlist_copy(&dst->image.env, &src->image.env);
	dst->n_containers = src->n_containers;
	dst->containers = occ_xcalloc(src->n_containers, sizeof(*dst->containers));
	for (size_t i = 0; i < src->n_containers; i++)
		container_copy(&dst->containers[i], &src->containers[i]);
	dst->n_volumes = src->n_volumes;
	dst->volumes = occ_xcalloc(src->n_volumes, sizeof(*dst->volumes));
	for (size_t i = 0; i < src->n_volumes; i++) {
		dst->volumes[i] = src->volumes[i];
		dst->volumes[i].name = occ_xstrdup(src->volumes[i].name);
		dst->volumes[i].spec_hash = occ_xstrdup(src->volumes[i].spec_hash);
	}
	dst->users_observed = src->users_observed;
	dst->n_users = src->n_users;
	dst->users = occ_xcalloc(src->n_users, sizeof(*dst->users));
	for (size_t i = 0; i < src->n_users; i++) {
		dst->users[i] = src->users[i];
		dst->users[i].name = occ_xstrdup(src->users[i].name);
		dst->users[i].home = occ_xstrdup(src->users[i].home);
		dst->users[i].shell = occ_xstrdup(src->users[i].shell);
		dst->users[i].hash = occ_xstrdup(src->users[i].hash);
	}
}

const struct occ_obs_container *occ_observed_container(const struct occ_observed *obs,
						       const char *name)
{
	for (size_t i = 0; i < obs->n_containers; i++)
		if (occ_streq(obs->containers[i].name, name))
			return &obs->containers[i];
	return NULL;
}

const struct occ_obs_volume *occ_observed_volume(const struct occ_observed *obs,
						 const char *name)
{
	for (size_t i = 0; i < obs->n_volumes; i++)
		if (occ_streq(obs->volumes[i].name, name))
			return &obs->volumes[i];
	return NULL;
}

const char *occ_ctr_state_name(enum occ_ctr_state s)
{
	static const char *const names[] = {
		[OCC_CTR_CREATED] = "created", [OCC_CTR_RUNNING] = "running",
		[OCC_CTR_PAUSED] = "paused", [OCC_CTR_RESTARTING] = "restarting",
		[OCC_CTR_EXITED] = "exited", [OCC_CTR_DEAD] = "dead",
		[OCC_CTR_REMOVING] = "removing",
	};

	if ((size_t)s >= OCC_ARRAY_SIZE(names))
		return "unknown";
	return names[s];
}
