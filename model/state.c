/*
 * state.c - defaults, copies, per-host views and small helpers of the state.
 *
 * The defaults live here and nowhere else: the loader starts from
 * occ_state_new_default() and overwrites what the file says, so "a file with
 * only `version: 1`" and "the default state" cannot drift apart.
 */
#include "model/model-internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_NAME      "opencode-cloud"
#define DEFAULT_IMAGE     "opencode-cloud:local"
#define DEFAULT_PORT      3000
#define DEFAULT_BIND      "127.0.0.1"
#define DEFAULT_SHELL     "/bin/bash"
#define DEFAULT_SOCKET    "/var/run/docker.sock"
#define DEFAULT_SSH_PORT  22
#define DEFAULT_HEALTH_MS (60 * 1000)
#define DEFAULT_RESYNC_MS (5 * 60 * 1000)

/* The users' home directories, and opencode's data, config, state and cache
 * directories (XDG layout of the image's user): one volume each keeps them
 * across recreates and image updates. */
static const struct { const char *name, *target; } default_volumes[] = {
	{ "home", "/home" },
	{ "data", "/home/opencode/.local/share/opencode" },
	{ "config", "/home/opencode/.config/opencode" },
	{ "state", "/home/opencode/.local/state/opencode" },
	{ "cache", "/home/opencode/.cache/opencode" },
};

/* ---- kvlist ---- */

const char *occ_kvlist_get(const struct occ_kvlist *kv, const char *key)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		if (strcmp(kv->items[i].key, key) == 0)
			return kv->items[i].value;
	return NULL;
}

void occ_kvlist_set(struct occ_kvlist *kv, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		if (strcmp(kv->items[i].key, key) == 0) {
			free(kv->items[i].value);
			kv->items[i].value = occ_xstrdup(value);
			return;
		}
	}
	OCC_GROW(kv->items, kv->n, kv->alloc);
	kv->items[kv->n++] = (struct occ_kv){ occ_xstrdup(key), occ_xstrdup(value), { 0, 0 } };
}

void occ_kvlist_release(struct occ_kvlist *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->items[i].key);
		free(kv->items[i].value);
	}
	free(kv->items);
	memset(kv, 0, sizeof(*kv));
}

static void kvlist_copy(struct occ_kvlist *dst, const struct occ_kvlist *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++) {
		occ_kvlist_set(dst, src->items[i].key, src->items[i].value);
		dst->items[i].pos = src->items[i].pos;
	}
}

/* ---- items ---- */

void occ_model__user_init(struct occ_user *u)
{
	memset(u, 0, sizeof(*u));
	u->enabled = true;
	u->shell = occ_xstrdup(DEFAULT_SHELL);
}

void occ_model__host_init(struct occ_host *h)
{
	memset(h, 0, sizeof(*h));
	h->port = DEFAULT_SSH_PORT;
	h->socket = occ_xstrdup(DEFAULT_SOCKET);
}

void occ_model__user_release(struct occ_user *u)
{
	free(u->name);
	free(u->password_hash);
	free(u->password_file);
	free(u->password_env);
	free(u->shell);
}

void occ_model__mount_release(struct occ_mount *m)
{
	free(m->source);
	free(m->target);
}

void occ_model__volume_release(struct occ_volume *v)
{
	free(v->name);
	free(v->target);
}

static void mounts_free(struct occ_mount *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		occ_model__mount_release(&m[i]);
	free(m);
}

void occ_model__host_release(struct occ_host *h)
{
	free(h->name);
	free(h->address);
	free(h->user);
	free(h->identity);
	free(h->socket);
	free(h->overrides.bind);
	occ_kvlist_release(&h->overrides.env);
	mounts_free(h->overrides.mounts, h->overrides.n_mounts);
}

static struct occ_mount *mounts_copy(const struct occ_mount *src, size_t n)
{
	struct occ_mount *m = n ? occ_xcalloc(n, sizeof(*m)) : NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		m[i] = src[i];
		m[i].source = occ_xstrdup(src[i].source);
		m[i].target = occ_xstrdup(src[i].target);
	}
	return m;
}

static void host_copy(struct occ_host *dst, const struct occ_host *src)
{
	*dst = *src;
	dst->name = occ_xstrdup(src->name);
	dst->address = occ_xstrdup(src->address);
	dst->user = occ_xstrdup(src->user);
	dst->identity = occ_xstrdup(src->identity);
	dst->socket = occ_xstrdup(src->socket);
	dst->overrides.bind = occ_xstrdup(src->overrides.bind);
	kvlist_copy(&dst->overrides.env, &src->overrides.env);
	dst->overrides.mounts = mounts_copy(src->overrides.mounts, src->overrides.n_mounts);
}

static void user_copy(struct occ_user *dst, const struct occ_user *src)
{
	*dst = *src;
	dst->name = occ_xstrdup(src->name);
	dst->password_hash = occ_xstrdup(src->password_hash);
	dst->password_file = occ_xstrdup(src->password_file);
	dst->password_env = occ_xstrdup(src->password_env);
	dst->shell = occ_xstrdup(src->shell);
}

/* ---- the state ---- */

static void set_default_volumes(struct occ_state *st)
{
	size_t i, n = OCC_ARRAY_SIZE(default_volumes);

	st->volumes_default = true;
	st->volumes = occ_xcalloc(n, sizeof(*st->volumes));
	for (i = 0; i < n; i++) {
		st->volumes[i].name = occ_xstrdup(default_volumes[i].name);
		st->volumes[i].target = occ_xstrdup(default_volumes[i].target);
	}
	st->n_volumes = n;
}

struct occ_state *occ_state_new_default(void)
{
	struct occ_state *st = occ_xcalloc(1, sizeof(*st));

	st->dir = occ_path_resolve(".", NULL);
	st->version = OCC_STATE_VERSION;
	st->name = occ_xstrdup(DEFAULT_NAME);
	st->image.ref = occ_xstrdup(DEFAULT_IMAGE);
	st->image.pull = OCC_PULL_MISSING;
	/* No image: section: build occ's own image (check_image in keys.c). */
	st->image.build.enabled = true;
	st->image.build.embedded = true;
	st->image.build.dockerfile = occ_xstrdup("Dockerfile");
	st->container.port = DEFAULT_PORT;
	st->container.bind = occ_xstrdup(DEFAULT_BIND);
	st->container.container_port = DEFAULT_PORT;
	st->container.restart = OCC_RESTART_UNLESS_STOPPED;
	st->container.health.timeout_ms = DEFAULT_HEALTH_MS;
	st->container.running = true;
	st->resources.pids = OCC_DEFAULT_PIDS_LIMIT;
	set_default_volumes(st);
	st->watch.resync_ms = DEFAULT_RESYNC_MS;
	st->watch.self_heal = true;
	return st;
}

static char **strv_copy(char *const *src, size_t n)
{
	char **v = n ? occ_xcalloc(n, sizeof(*v)) : NULL;

	for (size_t i = 0; i < n; i++)
		v[i] = occ_xstrdup(src[i]);
	return v;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void build_release(struct occ_image_build *b)
{
	size_t i;

	free(b->context);
	free(b->dockerfile);
	occ_kvlist_release(&b->args);
	for (i = 0; i < b->n_ca_certs; i++)
		free(b->ca_certs[i]);
	free(b->ca_certs);
}

static void hosts_free(struct occ_host *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		occ_model__host_release(&h[i]);
	free(h);
}

void occ_state_free(struct occ_state *st)
{
	size_t i;

	if (!st)
		return;
	free(st->path);
	free(st->dir);
	free(st->name);
	free(st->image.ref);
	build_release(&st->image.build);
	free(st->container.bind);
	occ_kvlist_release(&st->container.env);
	free(st->container.health.path);
	strv_free(st->container.server_names, st->container.n_server_names);
	for (i = 0; i < st->n_users; i++)
		occ_model__user_release(&st->users[i]);
	free(st->users);
	mounts_free(st->mounts, st->n_mounts);
	for (i = 0; i < st->n_volumes; i++)
		occ_model__volume_release(&st->volumes[i]);
	free(st->volumes);
	hosts_free(st->hosts, st->n_hosts);
	free(st->default_host);
	free(st);
}

static void image_copy(struct occ_image *dst, const struct occ_image *src)
{
	const struct occ_image_build *sb = &src->build;
	struct occ_image_build *db = &dst->build;
	size_t i;

	*dst = *src;
	dst->ref = occ_xstrdup(src->ref);
	db->context = occ_xstrdup(sb->context);
	db->dockerfile = occ_xstrdup(sb->dockerfile);
	kvlist_copy(&db->args, &sb->args);
	db->ca_certs = sb->n_ca_certs ? occ_xcalloc(sb->n_ca_certs, sizeof(char *)) : NULL;
	for (i = 0; i < sb->n_ca_certs; i++)
		db->ca_certs[i] = occ_xstrdup(sb->ca_certs[i]);
}

static void container_copy(struct occ_container *dst, const struct occ_container *src)
{
	*dst = *src;
	dst->bind = occ_xstrdup(src->bind);
	kvlist_copy(&dst->env, &src->env);
	dst->health.path = occ_xstrdup(src->health.path);
	dst->server_names = strv_copy(src->server_names, src->n_server_names);
}

struct occ_state *occ_state_clone(const struct occ_state *st)
{
	struct occ_state *c = occ_xmalloc(sizeof(*c));
	size_t i;

	*c = *st;
	c->path = occ_xstrdup(st->path);
	c->dir = occ_xstrdup(st->dir);
	c->name = occ_xstrdup(st->name);
	image_copy(&c->image, &st->image);
	container_copy(&c->container, &st->container);
	c->users = st->n_users ? occ_xcalloc(st->n_users, sizeof(*c->users)) : NULL;
	for (i = 0; i < st->n_users; i++)
		user_copy(&c->users[i], &st->users[i]);
	c->mounts = mounts_copy(st->mounts, st->n_mounts);
	c->volumes = st->n_volumes ? occ_xcalloc(st->n_volumes, sizeof(*c->volumes)) : NULL;
	for (i = 0; i < st->n_volumes; i++) {
		c->volumes[i] = st->volumes[i];
		c->volumes[i].name = occ_xstrdup(st->volumes[i].name);
		c->volumes[i].target = occ_xstrdup(st->volumes[i].target);
	}
	c->hosts = st->n_hosts ? occ_xcalloc(st->n_hosts, sizeof(*c->hosts)) : NULL;
	for (i = 0; i < st->n_hosts; i++)
		host_copy(&c->hosts[i], &st->hosts[i]);
	c->default_host = occ_xstrdup(st->default_host);
	return c;
}

/* An override mount replaces the shared mount on the same target, else adds. */
static void merge_mount(struct occ_state *st, const struct occ_mount *m)
{
	size_t i;

	for (i = 0; i < st->n_mounts; i++) {
		if (strcmp(st->mounts[i].target, m->target) == 0) {
			occ_model__mount_release(&st->mounts[i]);
			break;
		}
	}
	if (i == st->n_mounts) {
		st->mounts = occ_xrealloc(st->mounts, (st->n_mounts + 1) * sizeof(*st->mounts));
		st->n_mounts++;
	}
	st->mounts[i] = *m;
	st->mounts[i].source = occ_xstrdup(m->source);
	st->mounts[i].target = occ_xstrdup(m->target);
}

static void add_server_name(struct occ_container *ct, const char *name)
{
	for (size_t i = 0; i < ct->n_server_names; i++)
		if (strcasecmp(ct->server_names[i], name) == 0)
			return;
	ct->server_names = occ_xrealloc(ct->server_names,
					(ct->n_server_names + 1) * sizeof(*ct->server_names));
	ct->server_names[ct->n_server_names++] = occ_xstrdup(name);
}

struct occ_state *occ_state_for_host(const struct occ_state *st, const struct occ_host *host)
{
	struct occ_state *c = occ_state_clone(st);
	const struct occ_overrides *o;
	size_t i;

	hosts_free(c->hosts, c->n_hosts);
	c->hosts = NULL;
	c->n_hosts = 0;
	free(c->default_host);
	c->default_host = NULL;
	if (!host)
		return c;
	o = &host->overrides;
	if (o->has_port)
		c->container.port = o->port;
	if (o->has_container_port)
		c->container.container_port = o->container_port;
	if (o->bind) {
		free(c->container.bind);
		c->container.bind = occ_xstrdup(o->bind);
	}
	for (i = 0; i < o->env.n; i++)
		occ_kvlist_set(&c->container.env, o->env.items[i].key, o->env.items[i].value);
	for (i = 0; i < o->n_mounts; i++)
		merge_mount(c, &o->mounts[i]);
	/* The name users reach a remote host by is one the front serves. */
	if (host->address)
		add_server_name(&c->container, host->address);
	return c;
}

/* ---- names and predicates ---- */

const char *occ_pull_policy_name(enum occ_pull_policy p)
{
	switch (p) {
	case OCC_PULL_MISSING: return "missing";
	case OCC_PULL_ALWAYS: return "always";
	case OCC_PULL_NEVER: return "never";
	}
	return "?";
}

const char *occ_restart_policy_name(enum occ_restart_policy r)
{
	switch (r) {
	case OCC_RESTART_UNLESS_STOPPED: return "unless-stopped";
	case OCC_RESTART_NO: return "no";
	case OCC_RESTART_ON_FAILURE: return "on-failure";
	case OCC_RESTART_ALWAYS: return "always";
	}
	return "?";
}

char *occ_volume_docker_name(const struct occ_state *st, const struct occ_volume *v)
{
	return occ_xasprintf("%s-%s", st->name, v->name);
}

bool occ_env_key_is_sensitive(const char *key)
{
	static const char *const words[] = {
		"PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "PRIVATE",
	};
	size_t i, j, len = strlen(key);

	for (i = 0; i < OCC_ARRAY_SIZE(words); i++) {
		size_t wl = strlen(words[i]);

		for (j = 0; j + wl <= len; j++)
			if (strncasecmp(key + j, words[i], wl) == 0)
				return true;
	}
	return false;
}

const char *const occ_cap_add[] = { "CHOWN", "KILL", "SETGID", "SETUID" };
const size_t occ_n_cap_add = OCC_ARRAY_SIZE(occ_cap_add);

static int cmp_cap(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "cap_chown" and "CAP_CHOWN" are Docker's spellings of CHOWN too. */
static char *cap_name(const char *s)
{
	char *n;

	if (strncasecmp(s, "CAP_", 4) == 0)
		s += 4;
	n = occ_xstrdup(s);
	for (char *p = n; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return n;
}

char *occ_security_text(bool drop_all, const char *const *cap_add, size_t n_cap_add,
			bool no_new_privileges)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char **caps = n_cap_add ? occ_xcalloc(n_cap_add, sizeof(*caps)) : NULL;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < n_cap_add; i++)
		caps[i] = cap_name(cap_add[i]);
	if (n_cap_add)
		qsort(caps, n_cap_add, sizeof(*caps), cmp_cap);
	occ_strbuf_adds(&sb, drop_all ? "drop ALL" : "Docker's default capabilities");
	for (size_t i = 0; i < n_cap_add; i++) {
		occ_strbuf_adds(&sb, i ? "," : "; add ");
		occ_strbuf_adds(&sb, caps[i]);
		free(caps[i]);
	}
	free(caps);
	if (no_new_privileges)
		occ_strbuf_adds(&sb, "; " OCC_SECURITY_OPT);
	return occ_strbuf_detach(&sb);
}

char *occ_security_text_desired(void)
{
	return occ_security_text(true, occ_cap_add, occ_n_cap_add, true);
}

char *occ_log_text(const char *driver, const char *max_size, const char *max_file)
{
	if (!driver || !*driver)
		return occ_xstrdup("(daemon default)");
	return occ_xasprintf("%s max-size=%s max-file=%s", driver,
			     max_size && *max_size ? max_size : "(none)",
			     max_file && *max_file ? max_file : "(none)");
}

bool occ_bind_is_loopback(const char *bind)
{
	unsigned char a[16];
	static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (!bind)
		return false;
	if (strcasecmp(bind, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, bind, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, bind, a) != 1)
		return false;
	if (memcmp(a, v6_loopback, 16) == 0)
		return true;
	return memcmp(a, v4_mapped, 12) == 0 && a[12] == 127;
}

bool occ_state_login_open(const struct occ_state *eff)
{
	if (!occ_bind_is_loopback(eff->container.bind))
		return false;
	for (size_t i = 0; i < eff->n_users; i++)
		if (eff->users[i].enabled)
			return false;
	return true;
}

/* A bind address that names one interface (not 0.0.0.0, ::, or loopback,
 * which the front serves anyway). */
static bool bind_is_specific(const char *bind)
{
	return bind && *bind && strcmp(bind, "0.0.0.0") != 0 && strcmp(bind, "::") != 0 &&
	       !occ_bind_is_loopback(bind);
}

/* IPv6 addresses in the short form browsers send ("fd00::1", not
 * "fd00:0::1"), since the front compares names as text. */
static void add_public_name(struct occ_strbuf *names, const char *name)
{
	unsigned char a[16];
	char canon[INET6_ADDRSTRLEN];

	if (names->len)
		occ_strbuf_addc(names, ',');
	if (strchr(name, ':') && inet_pton(AF_INET6, name, a) == 1 &&
	    inet_ntop(AF_INET6, a, canon, sizeof(canon)))
		name = canon;
	occ_strbuf_adds(names, name);
}

void occ_state_container_env(struct occ_kvlist *out, const struct occ_state *eff)
{
	const struct occ_container *ct = &eff->container;
	struct occ_strbuf names = OCC_STRBUF_INIT;
	char port[8];

	occ_strbuf_init(&names);
	kvlist_copy(out, &ct->env);
	snprintf(port, sizeof(port), "%u", (unsigned)ct->container_port);
	occ_kvlist_set(out, OCC_LISTEN_PORT_ENV, port);
	if (bind_is_specific(ct->bind))
		add_public_name(&names, ct->bind);
	for (size_t i = 0; i < ct->n_server_names; i++) {
		if (bind_is_specific(ct->bind) && strcasecmp(ct->server_names[i], ct->bind) == 0)
			continue;
		add_public_name(&names, ct->server_names[i]);
	}
	if (names.len)
		occ_kvlist_set(out, OCC_PUBLIC_NAMES_ENV, names.buf);
	occ_strbuf_release(&names);
	if (occ_state_login_open(eff))
		occ_kvlist_set(out, OCC_LOGIN_ENV, "open");
}
