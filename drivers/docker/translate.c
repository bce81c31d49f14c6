/*
 * translate.c - Docker JSON <-> occ structs. Pure: no I/O, no clock.
 *
 * Parsers take the raw answer text (so tests and fuzzers feed canned JSON),
 * tolerate absent and null members (Docker omits and nulls freely across API
 * versions) and fail only on text that is not the expected JSON shape.
 */
#include "drivers/docker/docker-int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/state.h"

/* ---- small helpers ------------------------------------------------------ */

void occ_docker__strv_push(struct occ_docker_strv *sv, const char *s)
{
	OCC_GROW(sv->v, sv->n, sv->alloc);
	sv->v[sv->n++] = occ_xstrdup(s);
}

bool occ_docker__strv_has(const struct occ_docker_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void occ_docker__strv_release(struct occ_docker_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

void occ_docker__url_escape(struct occ_strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			occ_strbuf_addc(sb, (char)*p);
			continue;
		}
		occ_strbuf_addc(sb, '%');
		occ_strbuf_addc(sb, hex[*p >> 4]);
		occ_strbuf_addc(sb, hex[*p & 15]);
	}
}

static json_t *load(const char *text, size_t len, const char *what, struct occ_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, 0, &jerr);

	if (!root)
		occ_error_set(err, OCC_EAPI, "cannot parse the Docker daemon's %s: %s",
			      what, jerr.text);
	return root;
}

static json_t *load_object(const char *text, size_t len, const char *what,
			   struct occ_error *err)
{
	json_t *root = load(text, len, what, err);

	if (root && !json_is_object(root)) {
		occ_error_set(err, OCC_EAPI, "the Docker daemon's %s is not a JSON object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* obj.key as a string, or NULL (absent, null or another type). */
static const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* obj.a.b... as an object member; NULL when any step is missing. */
static json_t *jget(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);

	return b ? json_object_get(v, b) : v;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? occ_xstrdup(s) : NULL;
}

static void label_kvlist(struct occ_kvlist *out, json_t *labels)
{
	const char *key;
	json_t *v;

	json_object_foreach(labels, key, v) {
		if (json_is_string(v))
			occ_kvlist_set(out, key, json_string_value(v));
	}
}

/* "K=V" entries into kv; entries without '=' (unset markers) are skipped. */
static void env_kvlist(struct occ_kvlist *out, json_t *env, const struct occ_kvlist *minus)
{
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v), *eq;
		char *key;

		if (!s || !(eq = strchr(s, '=')) || eq == s)
			continue;
		key = occ_xstrndup(s, (size_t)(eq - s));
		if (!minus || !occ_streq(occ_kvlist_get(minus, key), eq + 1))
			occ_kvlist_set(out, key, eq + 1);
		free(key);
	}
}

/*
 * An error message for the terminal: at most 300 bytes, control characters
 * (a NUL, an escape sequence from a confused or hostile daemon) shown as
 * '?', never empty.
 */
static char *printable_message(const char *s, size_t len)
{
	char *out;

	if (len > 300)
		len = 300;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (!len)
		return occ_xstrdup("(no message)");
	out = occ_xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[len] = '\0';
	return out;
}

char *occ_docker__error_message(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *msg = jstr(root, "message");
	char *ret;

	if (msg && *msg) {
		ret = printable_message(msg, strlen(msg));
		json_decref(root);
		return ret;
	}
	json_decref(root);
	return printable_message(body, len);
}

static void copy_span(char *dst, size_t dst_len, const char *from, const char *to)
{
	size_t n = to > from ? (size_t)(to - from) : 0;

	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, from, n);
	dst[n] = '\0';
}

bool occ_docker__port_in_use(const char *msg, char *addr, size_t addr_len)
{
	const char *p, *end;

	addr[0] = '\0';
	if (!strstr(msg, "address already in use") && !strstr(msg, "port is already allocated"))
		return false;
	/* "Bind for 127.0.0.1:3000 failed: port is already allocated" */
	p = strstr(msg, "Bind for ");
	p = p ? p + strlen("Bind for ") : NULL;
	/* searched for after the prefix: "Bind for failed" names no address */
	end = p ? strstr(p, " failed") : NULL;
	if (p && end) {
		copy_span(addr, addr_len, p, end);
		return true;
	}
	/* "listen tcp4 127.0.0.1:3000: bind: address already in use" */
	p = strstr(msg, "listen tcp");
	p = p ? strchr(p + strlen("listen "), ' ') : NULL;
	end = p ? strstr(p, ": bind") : NULL;
	if (p && end)
		copy_span(addr, addr_len, p + 1, end);
	return true;
}

/* ---- images ------------------------------------------------------------- */

int occ_docker__parse_image(struct occ_obs_image *out, struct occ_kvlist *env,
			    const char *json, size_t len, const char *ref,
			    struct occ_error *err)
{
	json_t *root = load_object(json, len, "image inspect answer", err), *v;
	struct occ_obs_image img = { .present = true };
	size_t i, alloc = 0;

	if (!root)
		return err->code;
	if (!jstr(root, "Id")) {
		json_decref(root);
		return occ_error_set(err, OCC_EAPI, "image inspect of '%s' has no Id", ref);
	}
	img.id = occ_xstrdup(jstr(root, "Id"));
	img.ref = occ_xstrdup(ref);
	json_array_foreach(json_object_get(root, "RepoDigests"), i, v) {
		if (!json_is_string(v))
			continue;
		OCC_GROW(img.repo_digests, img.n_repo_digests, alloc);
		img.repo_digests[img.n_repo_digests++] = occ_xstrdup(json_string_value(v));
	}
	label_kvlist(&img.labels, jget(root, "Config", "Labels"));
	if (env)
		env_kvlist(env, jget(root, "Config", "Env"), NULL);
	*out = img;
	json_decref(root);
	return 0;
}

/* ---- containers --------------------------------------------------------- */

static enum occ_ctr_state parse_state(const char *s)
{
	static const struct { const char *name; enum occ_ctr_state st; } map[] = {
		{ "created", OCC_CTR_CREATED }, { "running", OCC_CTR_RUNNING },
		{ "paused", OCC_CTR_PAUSED }, { "restarting", OCC_CTR_RESTARTING },
		{ "exited", OCC_CTR_EXITED }, { "dead", OCC_CTR_DEAD },
		{ "removing", OCC_CTR_REMOVING },
	};

	for (size_t i = 0; s && i < OCC_ARRAY_SIZE(map); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].st;
	return OCC_CTR_DEAD;
}

static enum occ_restart_policy parse_restart(const char *s)
{
	if (occ_streq(s, "always"))
		return OCC_RESTART_ALWAYS;
	if (occ_streq(s, "unless-stopped"))
		return OCC_RESTART_UNLESS_STOPPED;
	if (occ_streq(s, "on-failure"))
		return OCC_RESTART_ON_FAILURE;
	return OCC_RESTART_NO;
}

static const char *restart_name(enum occ_restart_policy r)
{
	switch (r) {
	case OCC_RESTART_NO:
		return "no";
	case OCC_RESTART_ON_FAILURE:
		return "on-failure";
	case OCC_RESTART_ALWAYS:
		return "always";
	case OCC_RESTART_UNLESS_STOPPED:
	default:
		return "unless-stopped";
	}
}

static void parse_labels(struct occ_obs_container *c, json_t *labels, const char *project)
{
	const char *hv = jstr(labels, OCC_LABEL_HASH_VERSION);
	long v;

	c->project = dup_or_null(jstr(labels, OCC_LABEL_PROJECT));
	c->spec_hash = dup_or_null(jstr(labels, OCC_LABEL_SPEC_HASH));
	c->hash_version = hv && occ_parse_long(hv, 0, 1000000, &v) == 0 ? (int)v : 0;
	c->owned = project && occ_streq(c->project, project) &&
		   occ_streq(jstr(labels, OCC_LABEL_MANAGED_BY), OCC_MANAGED_BY);
}

/* One "<port>/tcp": [{"HostIp":..., "HostPort":...}] binding. */
static bool parse_binding(struct occ_obs_container *c, const char *key, json_t *list)
{
	json_t *b = json_array_get(list, 0);
	const char *ip = jstr(b, "HostIp");
	long cport, hport;
	char buf[16];
	const char *slash = strchr(key, '/');

	if (!b || !slash || strcmp(slash, "/tcp") != 0 || (size_t)(slash - key) >= sizeof(buf))
		return false;
	copy_span(buf, sizeof(buf), key, slash);
	if (occ_parse_long(buf, 1, 65535, &cport) ||
	    occ_parse_long(jstr(b, "HostPort"), 1, 65535, &hport))
		return false;
	c->container_port = (uint16_t)cport;
	c->port = (uint16_t)hport;
	c->bind = occ_xstrdup(ip && *ip ? ip : "0.0.0.0");
	return true;
}

static void parse_ports(struct occ_obs_container *c, json_t *bindings, uint16_t want)
{
	char key[32];
	const char *k;
	json_t *v;

	snprintf(key, sizeof(key), "%u/tcp", (unsigned)want);
	if (want && parse_binding(c, key, json_object_get(bindings, key)))
		return;
	json_object_foreach(bindings, k, v) {
		if (parse_binding(c, k, v))
			return;
	}
}

static void add_mount(struct occ_obs_container *c, const char *src, const char *dst, bool ro)
{
	size_t alloc = c->n_mounts;

	OCC_GROW(c->mounts, c->n_mounts, alloc);
	c->mounts[c->n_mounts++] = (struct occ_mount){
		.source = occ_xstrdup(src), .target = occ_xstrdup(dst), .readonly = ro,
	};
}

static void add_volume(struct occ_obs_container *c, const char *name, const char *dst)
{
	size_t alloc = c->n_volumes;

	OCC_GROW(c->volumes, c->n_volumes, alloc);
	c->volumes[c->n_volumes++] = (struct occ_volume){
		.name = occ_xstrdup(name), .target = occ_xstrdup(dst),
	};
}

/* "src:dst[:opts]" from HostConfig.Binds: absolute src = bind, else volume. */
static void parse_bind_spec(struct occ_obs_container *c, const char *spec)
{
	const char *c1 = strchr(spec, ':'), *c2;
	char *src, *dst;

	if (!c1 || c1 == spec)
		return;
	c2 = strchr(c1 + 1, ':');
	src = occ_xstrndup(spec, (size_t)(c1 - spec));
	dst = c2 ? occ_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : occ_xstrdup(c1 + 1);
	if (src[0] == '/')
		add_mount(c, src, dst, c2 && strstr(c2 + 1, "ro") != NULL);
	else
		add_volume(c, src, dst);
	free(src);
	free(dst);
}

/*
 * HostConfig.Mounts/Binds: what the container was created with. The top-level
 * Mounts would also list anonymous volumes from the image's VOLUME lines,
 * which are not part of anyone's spec.
 */
static void parse_mounts(struct occ_obs_container *c, json_t *host_config)
{
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(host_config, "Mounts"), i, m) {
		const char *type = jstr(m, "Type"), *src = jstr(m, "Source"), *dst = jstr(m, "Target");

		if (!src || !dst)
			continue;
		if (occ_streq(type, "bind"))
			add_mount(c, src, dst, json_is_true(json_object_get(m, "ReadOnly")));
		else if (occ_streq(type, "volume"))
			add_volume(c, src, dst);
	}
	json_array_foreach(json_object_get(host_config, "Binds"), i, m) {
		if (json_is_string(m))
			parse_bind_spec(c, json_string_value(m));
	}
}

static void parse_state_block(struct occ_obs_container *c, json_t *state)
{
	const char *started = jstr(state, "StartedAt");

	c->state = parse_state(jstr(state, "Status"));
	c->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	c->health = dup_or_null(jstr(json_object_get(state, "Health"), "Status"));
	/* Docker's zero time means "never started". */
	if (started && !occ_starts_with(started, "0001-"))
		c->started_at = occ_xstrdup(started);
}

static bool array_has(json_t *arr, const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcasecmp(json_string_value(v), want) == 0)
			return true;
	return false;
}

/* Capabilities, no-new-privileges, limits and log rotation, as occ's
 * canonical texts (model/state.h) so the planner compares like with like. */
static void parse_hardening(struct occ_obs_container *c, json_t *host)
{
	json_t *add = json_object_get(host, "CapAdd"), *log = json_object_get(host, "LogConfig");
	json_t *cfg = json_object_get(log, "Config"), *opts = json_object_get(host, "SecurityOpt");
	const char *caps[64];
	size_t n = 0, i;
	json_t *v;
	json_int_t pids = json_integer_value(json_object_get(host, "PidsLimit"));
	json_int_t mem = json_integer_value(json_object_get(host, "Memory"));
	json_int_t cpus = json_integer_value(json_object_get(host, "NanoCpus"));

	json_array_foreach(add, i, v)
		if (json_is_string(v) && n < OCC_ARRAY_SIZE(caps))
			caps[n++] = json_string_value(v);
	c->security = occ_security_text(array_has(json_object_get(host, "CapDrop"), "ALL"), caps, n,
					array_has(opts, "no-new-privileges") ||
					array_has(opts, "no-new-privileges:true"));
	c->log = occ_log_text(jstr(log, "Type"), jstr(cfg, "max-size"), jstr(cfg, "max-file"));
	c->pids_limit = pids > 0 ? (long)pids : 0;
	c->memory = mem > 0 ? (uint64_t)mem : 0;
	c->nano_cpus = cpus > 0 ? (uint64_t)cpus : 0;
}

int occ_docker__parse_container(struct occ_obs_container *out, const char *json,
				size_t len, const struct occ_kvlist *image_env,
				const char *project, uint16_t container_port,
				struct occ_error *err)
{
	json_t *root = load_object(json, len, "container inspect answer", err);
	json_t *config, *host;
	struct occ_obs_container c;
	const char *name;

	if (!root)
		return err->code;
	if (!jstr(root, "Id")) {
		json_decref(root);
		return occ_error_set(err, OCC_EAPI,
				     "the Docker daemon's container inspect answer has no Id");
	}
	memset(&c, 0, sizeof(c));
	config = json_object_get(root, "Config");
	host = json_object_get(root, "HostConfig");
	name = jstr(root, "Name");
	c.id = occ_xstrdup(jstr(root, "Id"));
	c.name = occ_xstrdup(name ? name + (name[0] == '/') : "");
	parse_state_block(&c, json_object_get(root, "State"));
	parse_labels(&c, json_object_get(config, "Labels"), project);
	c.image_ref = dup_or_null(jstr(config, "Image"));
	c.image_id = dup_or_null(jstr(root, "Image"));
	env_kvlist(&c.env, json_object_get(config, "Env"), image_env);
	parse_ports(&c, json_object_get(host, "PortBindings"), container_port);
	c.restart = parse_restart(jstr(json_object_get(host, "RestartPolicy"), "Name"));
	parse_mounts(&c, host);
	c.init = json_is_true(json_object_get(host, "Init"));
	parse_hardening(&c, host);
	*out = c;
	json_decref(root);
	return 0;
}

static void copy_str(char *dst, size_t dst_len, const char *s)
{
	snprintf(dst, dst_len, "%s", s ? s : "");
}

int occ_docker__parse_brief(struct occ_docker_brief *out, const char *json, size_t len,
			    struct occ_error *err)
{
	json_t *root = load_object(json, len, "container inspect answer", err);
	json_t *state, *labels;
	struct occ_docker_brief b;

	if (!root)
		return err->code;
	memset(&b, 0, sizeof(b));
	state = json_object_get(root, "State");
	labels = jget(root, "Config", "Labels");
	copy_str(b.id, sizeof(b.id), jstr(root, "Id"));
	b.state = parse_state(jstr(state, "Status"));
	b.tty = json_is_true(jget(root, "Config", "Tty"));
	b.exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
	b.restart_count = (int)json_integer_value(json_object_get(root, "RestartCount"));
	copy_str(b.started_at, sizeof(b.started_at), jstr(state, "StartedAt"));
	copy_str(b.health, sizeof(b.health), jstr(json_object_get(state, "Health"), "Status"));
	copy_str(b.image_id, sizeof(b.image_id), jstr(root, "Image"));
	copy_str(b.project, sizeof(b.project), jstr(labels, OCC_LABEL_PROJECT));
	b.managed = occ_streq(jstr(labels, OCC_LABEL_MANAGED_BY), OCC_MANAGED_BY);
	*out = b;
	json_decref(root);
	return 0;
}

static bool named_one_of(json_t *names, const struct occ_docker_strv *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		const char *s = json_string_value(v);

		if (s && want && occ_docker__strv_has(want, s + (s[0] == '/')))
			return true;
	}
	return false;
}

int occ_docker__parse_container_list(struct occ_docker_strv *ids, const char *json,
				     size_t len, const char *project,
				     const struct occ_docker_strv *names,
				     struct occ_error *err)
{
	json_t *root = load(json, len, "container list", err), *c;
	size_t i;

	if (!root)
		return err->code;
	if (!json_is_array(root)) {
		json_decref(root);
		return occ_error_set(err, OCC_EAPI, "the Docker daemon's container list is not an array");
	}
	json_array_foreach(root, i, c) {
		const char *id = jstr(c, "Id");
		bool ours = occ_streq(jstr(json_object_get(c, "Labels"), OCC_LABEL_PROJECT), project);

		if (!id || occ_docker__strv_has(ids, id))
			continue;
		if (ours || named_one_of(json_object_get(c, "Names"), names))
			occ_docker__strv_push(ids, id);
	}
	json_decref(root);
	return 0;
}

int occ_docker__parse_volume_list(struct occ_obs_volume **vols, size_t *n,
				  const char *json, size_t len, const char *project,
				  const struct occ_docker_strv *names,
				  struct occ_error *err)
{
	json_t *root = load_object(json, len, "volume list", err), *v;
	size_t i, alloc = *n;

	if (!root)
		return err->code;
	json_array_foreach(json_object_get(root, "Volumes"), i, v) {
		const char *name = jstr(v, "Name");
		json_t *labels = json_object_get(v, "Labels");
		bool owned = occ_streq(jstr(labels, OCC_LABEL_PROJECT), project);
		bool dup = false;

		if (!name || (!owned && !(names && occ_docker__strv_has(names, name))))
			continue;
		for (size_t j = 0; j < *n; j++)
			dup = dup || strcmp((*vols)[j].name, name) == 0;
		if (dup)
			continue;
		OCC_GROW(*vols, *n, alloc);
		(*vols)[(*n)++] = (struct occ_obs_volume){
			.name = occ_xstrdup(name), .owned = owned,
			.spec_hash = dup_or_null(jstr(labels, OCC_LABEL_SPEC_HASH)),
		};
	}
	json_decref(root);
	return 0;
}

int occ_docker__parse_id(char **out, const char *json, size_t len, struct occ_error *err)
{
	json_t *root = load_object(json, len, "create answer", err);
	const char *id = jstr(root, "Id");

	if (!root)
		return err->code;
	if (!id || !*id) {
		json_decref(root);
		return occ_error_set(err, OCC_EAPI, "the Docker daemon's create answer has no Id");
	}
	*out = occ_xstrdup(id);
	json_decref(root);
	return 0;
}

int occ_docker__parse_exec(bool *running, int *exit_code, const char *json, size_t len,
			   struct occ_error *err)
{
	json_t *root = load_object(json, len, "exec inspect answer", err);

	if (!root)
		return err->code;
	*running = json_is_true(json_object_get(root, "Running"));
	*exit_code = (int)json_integer_value(json_object_get(root, "ExitCode"));
	json_decref(root);
	return 0;
}

int occ_docker__parse_volume_labels(struct occ_kvlist *out, const char *json, size_t len,
				    struct occ_error *err)
{
	json_t *root = load_object(json, len, "volume answer", err);

	if (!root)
		return err->code;
	label_kvlist(out, json_object_get(root, "Labels"));
	json_decref(root);
	return 0;
}

int occ_docker__parse_version(struct occ_docker_version *out, const char *json,
			      size_t len, struct occ_error *err)
{
	json_t *root = load_object(json, len, "version answer", err);

	if (!root)
		return err->code;
	copy_str(out->version, sizeof(out->version), jstr(root, "Version"));
	copy_str(out->daemon_api, sizeof(out->daemon_api), jstr(root, "ApiVersion"));
	copy_str(out->os, sizeof(out->os), jstr(root, "Os"));
	copy_str(out->arch, sizeof(out->arch), jstr(root, "Arch"));
	json_decref(root);
	return 0;
}

/* ---- request bodies ----------------------------------------------------- */

static char *dump(json_t *root)
{
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(root);
	if (!s)
		abort(); /* jansson fails only on allocation */
	return s;
}

static json_t *kv_object(const struct occ_kvlist *kv)
{
	json_t *o = json_object();

	for (size_t i = 0; kv && i < kv->n; i++)
		json_object_set_new(o, kv->items[i].key, json_string(kv->items[i].value));
	return o;
}

char *occ_docker__kv_json(const struct occ_kvlist *kv)
{
	return dump(kv_object(kv));
}

static int cmp_kv_key(const void *a, const void *b)
{
	const struct occ_kv *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static json_t *env_array(const struct occ_kvlist *env)
{
	const struct occ_kv **sorted = occ_xcalloc(env->n, sizeof(*sorted));
	json_t *arr = json_array();

	for (size_t i = 0; i < env->n; i++)
		sorted[i] = &env->items[i];
	qsort(sorted, env->n, sizeof(*sorted), cmp_kv_key);
	for (size_t i = 0; i < env->n; i++) {
		char *s = occ_xasprintf("%s=%s", sorted[i]->key, sorted[i]->value);

		json_array_append_new(arr, json_string(s));
		free(s);
	}
	free(sorted);
	return arr;
}

static json_t *owner_labels(const char *project)
{
	json_t *o = json_object();

	json_object_set_new(o, OCC_LABEL_PROJECT, json_string(project));
	json_object_set_new(o, OCC_LABEL_MANAGED_BY, json_string(OCC_MANAGED_BY));
	return o;
}

static json_t *mounts_array(const struct occ_state *eff)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < eff->n_mounts; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b}",
			"Type", "bind", "Source", eff->mounts[i].source,
			"Target", eff->mounts[i].target, "ReadOnly", eff->mounts[i].readonly));
	for (size_t i = 0; i < eff->n_volumes; i++) {
		char *name = occ_volume_docker_name(eff, &eff->volumes[i]);

		/* Labels apply if Docker has to create the volume itself. */
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:{s:o}}",
			"Type", "volume", "Source", name, "Target", eff->volumes[i].target,
			"VolumeOptions", "Labels", owner_labels(eff->name)));
		free(name);
	}
	return arr;
}

static json_t *host_config(const struct occ_state *eff, const char *port_key)
{
	const struct occ_container *c = &eff->container;
	char host_port[8];
	json_t *bindings = json_object();

	json_t *caps = json_array(), *hc;

	snprintf(host_port, sizeof(host_port), "%u", (unsigned)c->port);
	json_object_set_new(bindings, port_key, json_pack("[{s:s, s:s}]",
		"HostIp", c->bind ? c->bind : "127.0.0.1", "HostPort", host_port));
	for (size_t i = 0; i < occ_n_cap_add; i++)
		json_array_append_new(caps, json_string(occ_cap_add[i]));
	/* The hardening and limits of model/state.h; the spec hash covers them. */
	hc = json_pack("{s:o, s:o, s:{s:s}, s:b, s:[s], s:o, s:[s], s:{s:s, s:{s:s, s:s}}}",
		"PortBindings", bindings,
		"Mounts", mounts_array(eff),
		"RestartPolicy", "Name", restart_name(c->restart),
		"Init", 1,
		"CapDrop", "ALL",
		"CapAdd", caps,
		"SecurityOpt", OCC_SECURITY_OPT,
		"LogConfig", "Type", OCC_LOG_DRIVER,
		"Config", "max-size", OCC_LOG_MAX_SIZE, "max-file", OCC_LOG_MAX_FILE);
	if (eff->resources.pids)
		json_object_set_new(hc, "PidsLimit", json_integer(eff->resources.pids));
	if (eff->resources.memory)
		json_object_set_new(hc, "Memory", json_integer((json_int_t)eff->resources.memory));
	if (eff->resources.nano_cpus)
		json_object_set_new(hc, "NanoCpus",
				    json_integer((json_int_t)eff->resources.nano_cpus));
	return hc;
}

char *occ_docker__create_body(const struct occ_state *eff, const char *spec_hash,
			      int hash_version, const char *image_id)
{
	json_t *labels = owner_labels(eff->name);
	struct occ_kvlist env;
	char port_key[32], hv[16];
	char *body;

	snprintf(port_key, sizeof(port_key), "%u/tcp", (unsigned)eff->container.container_port);
	snprintf(hv, sizeof(hv), "%d", hash_version);
	json_object_set_new(labels, OCC_LABEL_SPEC_HASH, json_string(spec_hash));
	json_object_set_new(labels, OCC_LABEL_HASH_VERSION, json_string(hv));
	if (image_id)
		json_object_set_new(labels, OCC_LABEL_IMAGE_ID, json_string(image_id));
	/* container.env plus the login mode (OCC_LOGIN, see state.h). */
	occ_state_container_env(&env, eff);
	body = dump(json_pack("{s:s, s:o, s:{s:{}}, s:o, s:o}",
		"Image", eff->image.ref,
		"Env", env_array(&env),
		"ExposedPorts", port_key,
		"Labels", labels,
		"HostConfig", host_config(eff, port_key)));
	occ_kvlist_release(&env);
	return body;
}

char *occ_docker__filters(const char *key, const struct occ_docker_strv *values)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < values->n; i++)
		json_array_append_new(arr, json_string(values->v[i]));
	return dump(json_pack("{s:o}", key, arr));
}

char *occ_docker__events_filters(const char *project)
{
	char *label = occ_xasprintf("%s=%s", OCC_LABEL_PROJECT, project);
	char *ret = dump(json_pack("{s:[s], s:[s]}", "label", label, "type", "container"));

	free(label);
	return ret;
}

char *occ_docker__volume_body(const char *docker_name, const char *project)
{
	return dump(json_pack("{s:s, s:o}", "Name", docker_name,
			      "Labels", owner_labels(project)));
}

/* ---- streams ------------------------------------------------------------ */

void occ_docker__msg_release(struct occ_docker_msg *m)
{
	free(m->stream);
	free(m->status);
	free(m->id);
	free(m->error);
	free(m->aux_id);
	memset(m, 0, sizeof(*m));
}

static uint64_t juint(json_t *v)
{
	json_int_t i = json_integer_value(v);

	return i > 0 ? (uint64_t)i : 0;
}

int occ_docker__parse_msg(struct occ_docker_msg *out, const char *line, size_t len,
			  struct occ_error *err)
{
	json_t *root = load_object(line, len, "progress message", err), *detail;
	struct occ_docker_msg m = { 0 };

	if (!root)
		return err->code;
	m.stream = dup_or_null(jstr(root, "stream"));
	m.status = dup_or_null(jstr(root, "status"));
	m.id = dup_or_null(jstr(root, "id"));
	m.error = dup_or_null(jstr(jget(root, "errorDetail", NULL), "message"));
	if (!m.error)
		m.error = dup_or_null(jstr(root, "error"));
	m.aux_id = dup_or_null(jstr(json_object_get(root, "aux"), "ID"));
	detail = json_object_get(root, "progressDetail");
	m.current = juint(json_object_get(detail, "current"));
	m.total = juint(json_object_get(detail, "total"));
	*out = m;
	json_decref(root);
	return 0;
}

/* ---- events ------------------------------------------------------------- */

/* Copy s (may be NULL) into a fixed buffer, truncating. */
static void copy_field(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

/* "137" -> 137; -1 when absent or not a small integer. */
static int exit_code_attr(const char *s)
{
	long v;

	return s && occ_parse_long(s, -1000000, 1000000, &v) == 0 ? (int)v : -1;
}

static int64_t event_time_ns(json_t *root)
{
	json_int_t ns = json_integer_value(json_object_get(root, "timeNano"));
	json_int_t s = json_integer_value(json_object_get(root, "time"));

	if (ns > 0)
		return (int64_t)ns;
	/* Seconds beyond year 2262 do not fit in int64 nanoseconds. */
	if (s > 0 && s < INT64_MAX / 1000000000)
		return (int64_t)s * 1000000000;
	return 0;
}

int occ_docker__parse_event(struct occ_event *out, const char *line, size_t len,
			    struct occ_error *err)
{
	json_t *root = load_object(line, len, "event", err);
	json_t *actor, *attrs;
	struct occ_event e = { .exit_code = -1 };
	const char *type, *action, *id;

	if (!root)
		return err->code;
	actor = json_object_get(root, "Actor");
	attrs = json_object_get(actor, "Attributes");
	type = jstr(root, "Type");
	action = jstr(root, "Action");
	id = jstr(actor, "ID");
	/* API < 1.22 (and "status" still today): only status/id/from. */
	if (!action || !*action)
		action = jstr(root, "status");
	if (!id || !*id)
		id = jstr(root, "id");
	if (!type || !*type)
		type = "container";
	if (!action || !*action) {
		json_decref(root);
		return occ_error_set(err, OCC_EAPI, "the Docker daemon sent an event without an action");
	}
	copy_field(e.type, sizeof(e.type), type);
	copy_field(e.action, sizeof(e.action), action);
	copy_field(e.id, sizeof(e.id), id);
	copy_field(e.name, sizeof(e.name), jstr(attrs, "name"));
	e.kind = strcmp(e.type, "container") == 0 ? OCC_EVENT_CONTAINER : OCC_EVENT_OTHER;
	e.exit_code = exit_code_attr(jstr(attrs, "exitCode"));
	e.time_ns = event_time_ns(root);
	json_decref(root);
	*out = e;
	return 0;
}
