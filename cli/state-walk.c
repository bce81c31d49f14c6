/*
 * state-walk.c - see state-walk.h. The order follows DESIGN.md's state file.
 */
#include "cli/state-walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/secrets.h"
#include "model/util.h"

struct w {
	const struct occ_walk_ops *ops;
	void *ctx;
};

static void str(struct w *w, const char *key, const char *v)
{
	w->ops->scalar(w->ctx, key, v, v ? OCC_WALK_STRING : OCC_WALK_NULL, false);
}

static void secret(struct w *w, const char *key, const char *v)
{
	w->ops->scalar(w->ctx, key, v, v ? OCC_WALK_STRING : OCC_WALK_NULL, v != NULL);
}

static void num(struct w *w, const char *key, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	w->ops->scalar(w->ctx, key, buf, OCC_WALK_NUMBER, false);
}

static void boolean(struct w *w, const char *key, bool v)
{
	w->ops->scalar(w->ctx, key, v ? "true" : "false", OCC_WALK_BOOL, false);
}

static void duration(struct w *w, const char *key, uint64_t ms)
{
	char buf[32];

	if (ms % 60000 == 0 && ms)
		snprintf(buf, sizeof(buf), "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, sizeof(buf), "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, sizeof(buf), "%llums", (unsigned long long)ms);
	str(w, key, buf);
}

static void kvmap(struct w *w, const char *key, const struct occ_kvlist *kv)
{
	w->ops->map_begin(w->ctx, key, NULL);
	for (size_t i = 0; i < kv->n; i++) {
		if (occ_env_is_sensitive(kv->items[i].key, kv->items[i].value))
			secret(w, kv->items[i].key, kv->items[i].value);
		else
			str(w, kv->items[i].key, kv->items[i].value);
	}
	w->ops->map_end(w->ctx);
}

static void image(struct w *w, const struct occ_image *img)
{
	w->ops->map_begin(w->ctx, "image", NULL);
	str(w, "ref", img->ref);
	str(w, "pull", occ_pull_policy_name(img->pull));
	if (img->build.enabled) {
		w->ops->map_begin(w->ctx, "build", NULL);
		str(w, "context", img->build.embedded ? "embedded" : img->build.context);
		str(w, "dockerfile", img->build.dockerfile);
		kvmap(w, "args", &img->build.args);
		w->ops->list_begin(w->ctx, "ca_certs");
		for (size_t i = 0; i < img->build.n_ca_certs; i++)
			str(w, NULL, img->build.ca_certs[i]);
		w->ops->list_end(w->ctx);
		w->ops->map_end(w->ctx);
	}
	w->ops->map_end(w->ctx);
}

static void container(struct w *w, const struct occ_container *c)
{
	w->ops->map_begin(w->ctx, "container", NULL);
	num(w, "port", c->port);
	str(w, "bind", c->bind);
	num(w, "container_port", c->container_port);
	kvmap(w, "env", &c->env);
	str(w, "restart", occ_restart_policy_name(c->restart));
	w->ops->map_begin(w->ctx, "health", NULL);
	str(w, "path", c->health.path ? c->health.path : "none");
	duration(w, "timeout", c->health.timeout_ms);
	w->ops->map_end(w->ctx);
	boolean(w, "running", c->running);
	w->ops->list_begin(w->ctx, "server_names");
	for (size_t i = 0; i < c->n_server_names; i++)
		str(w, NULL, c->server_names[i]);
	w->ops->list_end(w->ctx);
	w->ops->map_end(w->ctx);
}

/* Sizes as the file writes them: the largest exact binary unit. */
static void memory(struct w *w, const char *key, uint64_t bytes)
{
	static const char units[] = "gmk";
	char buf[32];

	for (int i = 0; i < 3 && bytes; i++) {
		unsigned shift = (unsigned)(30 - 10 * i);

		if (bytes % (1ULL << shift) == 0) {
			snprintf(buf, sizeof(buf), "%llu%c", (unsigned long long)(bytes >> shift),
				 units[i]);
			str(w, key, buf);
			return;
		}
	}
	num(w, key, bytes);
}

static void resources(struct w *w, const struct occ_resources *r)
{
	char buf[32];

	w->ops->map_begin(w->ctx, "resources", NULL);
	memory(w, "memory", r->memory);
	snprintf(buf, sizeof(buf), "%llu.%03llu", (unsigned long long)(r->nano_cpus / 1000000000),
		 (unsigned long long)(r->nano_cpus % 1000000000 / 1000000));
	/* "1.500" -> "1.5", "2.000" -> "2" */
	for (char *e = buf + strlen(buf) - 1; *e == '0' || *e == '.'; e--) {
		bool dot = *e == '.';

		*e = '\0';
		if (dot)
			break;
	}
	w->ops->scalar(w->ctx, "cpus", buf, OCC_WALK_NUMBER, false);
	num(w, "pids", (unsigned long long)r->pids);
	w->ops->map_end(w->ctx);
}

static void users(struct w *w, const struct occ_state *st)
{
	w->ops->list_begin(w->ctx, "users");
	for (size_t i = 0; i < st->n_users; i++) {
		const struct occ_user *u = &st->users[i];
		char *id = occ_xasprintf("name=%s", u->name);

		w->ops->map_begin(w->ctx, NULL, id);
		str(w, "name", u->name);
		if (u->pw_source == OCC_PW_HASH)
			secret(w, "password_hash", u->password_hash);
		else if (u->pw_source == OCC_PW_FILE)
			str(w, "password_file", u->password_file);
		else if (u->pw_source == OCC_PW_ENV)
			str(w, "password_env", u->password_env);
		boolean(w, "enabled", u->enabled);
		str(w, "shell", u->shell);
		w->ops->map_end(w->ctx);
		free(id);
	}
	w->ops->list_end(w->ctx);
}

static void mounts(struct w *w, const char *key, const struct occ_mount *m, size_t n)
{
	w->ops->list_begin(w->ctx, key);
	for (size_t i = 0; i < n; i++) {
		char *id = occ_xasprintf("target=%s", m[i].target);

		w->ops->map_begin(w->ctx, NULL, id);
		str(w, "source", m[i].source);
		str(w, "target", m[i].target);
		boolean(w, "readonly", m[i].readonly);
		if (m[i].allow_dangerous)   /* shown only when set, like the file */
			boolean(w, "allow_dangerous", true);
		w->ops->map_end(w->ctx);
		free(id);
	}
	w->ops->list_end(w->ctx);
}

static void volumes(struct w *w, const struct occ_state *st)
{
	w->ops->list_begin(w->ctx, "volumes");
	for (size_t i = 0; i < st->n_volumes; i++) {
		char *id = occ_xasprintf("name=%s", st->volumes[i].name);

		w->ops->map_begin(w->ctx, NULL, id);
		str(w, "name", st->volumes[i].name);
		str(w, "target", st->volumes[i].target);
		w->ops->map_end(w->ctx);
		free(id);
	}
	w->ops->list_end(w->ctx);
}

static void host(struct w *w, const struct occ_host *h)
{
	const struct occ_overrides *o = &h->overrides;
	char *id = occ_xasprintf("name=%s", h->name);

	w->ops->map_begin(w->ctx, NULL, id);
	str(w, "name", h->name);
	str(w, "address", h->address);
	str(w, "user", h->user);
	num(w, "port", h->port);
	str(w, "identity", h->identity);
	str(w, "socket", h->socket);
	w->ops->map_begin(w->ctx, "overrides", NULL);
	w->ops->map_begin(w->ctx, "container", NULL);
	if (o->has_port)
		num(w, "port", o->port);
	if (o->bind)
		str(w, "bind", o->bind);
	if (o->has_container_port)
		num(w, "container_port", o->container_port);
	if (o->env.n)
		kvmap(w, "env", &o->env);
	w->ops->map_end(w->ctx);
	if (o->n_mounts)
		mounts(w, "mounts", o->mounts, o->n_mounts);
	w->ops->map_end(w->ctx);
	w->ops->map_end(w->ctx);
	free(id);
}

void occ_cli_walk_state(const struct occ_state *st, const struct occ_walk_ops *ops, void *ctx)
{
	struct w w = { ops, ctx };

	ops->map_begin(ctx, NULL, NULL);
	num(&w, "version", (unsigned long long)st->version);
	str(&w, "name", st->name);
	image(&w, &st->image);
	container(&w, &st->container);
	users(&w, st);
	mounts(&w, "mounts", st->mounts, st->n_mounts);
	volumes(&w, st);
	ops->list_begin(ctx, "hosts");
	for (size_t i = 0; i < st->n_hosts; i++)
		host(&w, &st->hosts[i]);
	ops->list_end(ctx);
	str(&w, "default_host", st->default_host ? st->default_host : "local");
	ops->map_begin(ctx, "service", NULL);
	boolean(&w, "install", st->service.install);
	ops->map_end(ctx);
	ops->map_begin(ctx, "watch", NULL);
	duration(&w, "resync", st->watch.resync_ms);
	boolean(&w, "self_heal", st->watch.self_heal);
	ops->map_end(ctx);
	resources(&w, &st->resources);
	ops->map_end(ctx);
}
