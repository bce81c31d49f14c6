/*
 * docker.c - the Docker driver: opening, observing, logs, and the small API
 * helpers the action code (docker-apply.c, docker-image.c, docker-health.c)
 * shares.
 *
 * Observe asks only about the project: the desired image by reference,
 * containers labelled with the project or named exactly "<name>",
 * "<name>-occ-next" or "<name>-occ-old" (the names a recreate uses; a
 * container occ does not own that holds one is reported with owned = false,
 * so the planner can refuse), and
 * volumes labelled with the project or named like a desired volume, and the
 * accounts inside the project's container (docker-users.c). Docker's name
 * filters match substrings, so the exact match is done here.
 */
#include "drivers/docker/docker-int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/state.h"

static const struct occ_driver_ops docker_ops;

struct occ_docker *occ_docker__from(struct occ_driver *d)
{
	assert(d && d->ops == &docker_ops);
	return (struct occ_docker *)d;
}

struct occ_docker_http *occ_docker__http_of(struct occ_driver *d)
{
	return occ_docker__from(d)->http;
}

const char *occ_docker_endpoint(struct occ_driver *d)
{
	return occ_docker__http_endpoint(occ_docker__from(d)->http);
}

int occ_docker__call(struct occ_docker *dk, const char *method, const char *path,
		     const char *json, struct occ_docker_resp *resp, struct occ_error *err)
{
	struct occ_docker_req req = {
		.method = method, .path = path,
		.body = json, .body_len = json ? strlen(json) : 0,
	};

	occ_docker__resp_init(resp);
	return occ_docker__http_do(dk->http, &req, resp, err);
}

int occ_docker__api_error(struct occ_error *err, const struct occ_docker_resp *r,
			  const char *fmt, ...)
{
	char what[512];
	char *msg = occ_docker__error_message(r->body.buf, r->body.len);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	occ_error_set(err, OCC_EAPI, "%s: %s (HTTP %ld)", what, msg, r->status);
	free(msg);
	return err->code;
}

/* "/<collection>/<escaped name><suffix>" */
static char *object_path(const char *collection, const char *name, const char *suffix)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_addf(&sb, "/%s/", collection);
	occ_docker__url_escape(&sb, name);
	occ_strbuf_adds(&sb, suffix);
	return occ_strbuf_detach(&sb);
}

int occ_docker__inspect_brief(struct occ_docker *dk, struct occ_docker_brief *out,
			      const char *container, struct occ_error *err)
{
	char *path = object_path("containers", container, "/json");
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "GET", path, NULL, &resp, err);

	if (ret)
		goto out;
	if (resp.status == 404)
		ret = occ_error_set(err, OCC_ENOTFOUND, "no such container '%s'", container);
	else if (resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot inspect container '%s'", container);
	else
		ret = occ_docker__parse_brief(out, resp.body.buf, resp.body.len, err);
out:
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

/* An image inspect's answer: 0 with *found false when the image does not exist. */
static int take_image(struct occ_obs_image *out, struct occ_kvlist *env, bool *found,
		      const struct occ_docker_resp *resp, const char *ref, struct occ_error *err)
{
	int ret = 0;

	*found = false;
	if (resp->status == 200) {
		ret = occ_docker__parse_image(out, env, resp->body.buf, resp->body.len, ref, err);
		*found = ret == 0;
	} else if (resp->status != 404) {
		ret = occ_docker__api_error(err, resp, "cannot inspect image '%s'", ref);
	}
	return ret;
}

static int inspect_image(struct occ_docker *dk, struct occ_obs_image *out,
			 struct occ_kvlist *env, bool *found, const char *ref,
			 struct occ_error *err)
{
	char *path = object_path("images", ref, "/json");
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "GET", path, NULL, &resp, err);

	*found = false;
	if (!ret)
		ret = take_image(out, env, found, &resp, ref, err);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

int occ_docker__image_id(struct occ_docker *dk, char **out, const char *ref,
			 struct occ_error *err)
{
	struct occ_obs_image img = { 0 };
	bool found;
	int ret = inspect_image(dk, &img, NULL, &found, ref, err);

	if (!ret && !found) {
		ret = occ_error_set(err, OCC_ENOTFOUND, "image '%s' does not exist", ref);
		occ_error_hint(err, "pull or build it first (see image.pull and image.build)");
	}
	if (!ret) {
		*out = img.id;
		img.id = NULL;
	}
	occ_obs_image_release(&img);
	return ret;
}

int occ_docker_image_label(struct occ_driver *d, const char *ref, const char *key, char **out,
			   struct occ_error *err)
{
	struct occ_obs_image img = { 0 };
	bool found;
	int ret = inspect_image(occ_docker__from(d), &img, NULL, &found, ref, err);

	if (!ret && !found)
		ret = occ_error_set(err, OCC_ENOTFOUND, "image '%s' does not exist", ref);
	if (!ret) {
		const char *v = occ_kvlist_get(&img.labels, key);

		*out = v ? occ_xstrdup(v) : NULL;
	}
	occ_obs_image_release(&img);
	return ret;
}

static int ensure_version(struct occ_docker *dk, struct occ_error *err)
{
	struct occ_docker_resp resp;
	int ret;

	if (dk->have_version)
		return 0;
	ret = occ_docker__call(dk, "GET", "/version", NULL, &resp, err);
	if (ret)
		goto out;
	if (resp.status != 200) {
		ret = occ_docker__api_error(err, &resp, "cannot read the Docker daemon's version");
		goto out;
	}
	ret = occ_docker__parse_version(&dk->version, resp.body.buf, resp.body.len, err);
	if (ret)
		goto out;
	snprintf(dk->version.api_version, sizeof(dk->version.api_version), "%s",
		 occ_docker__http_api_version(dk->http));
	dk->have_version = true;
out:
	occ_docker__resp_release(&resp);
	return ret;
}

int occ_docker_versions(struct occ_docker_version *out, struct occ_driver *d,
			struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	int ret = ensure_version(dk, err);

	if (!ret)
		*out = dk->version;
	return ret;
}

/* "/<collection>?<extra>filters=<filters>" */
static char *filtered_path(const char *collection, const char *extra, const char *key,
			   const struct occ_docker_strv *values)
{
	char *filters = occ_docker__filters(key, values);
	struct occ_strbuf path = OCC_STRBUF_INIT;

	occ_strbuf_addf(&path, "/%s?%sfilters=", collection, extra);
	occ_docker__url_escape(&path, filters);
	free(filters);
	return occ_strbuf_detach(&path);
}

/* "/<collection>?<extra>filters={"label":["dev.opencode-cloud.project=<project>"]}" */
static char *project_path(const char *collection, const char *extra, const char *project)
{
	struct occ_docker_strv label = { 0 };
	char *value = occ_xasprintf("%s=%s", OCC_LABEL_PROJECT, project), *path;

	occ_docker__strv_push(&label, value);
	path = filtered_path(collection, extra, "label", &label);
	occ_docker__strv_release(&label);
	free(value);
	return path;
}

static int list_status(const struct occ_docker_resp *resp, const char *what,
		       struct occ_error *err)
{
	if (resp->status == 200)
		return 0;
	return occ_docker__api_error(err, resp, "cannot list %s", what);
}

/*
 * The reads of an observe that need nothing but the state file go out
 * together (occ_docker__http_do_many): the desired image, the containers
 * by label and by name, the volumes by label and by name. A no-op reconcile
 * then costs few more round trips than its floor (issue #3): the ping, this
 * batch, and the container inspects with the accounts probe alongside.
 */
enum { Q_IMAGE, Q_CTR_LABEL, Q_CTR_NAME, Q_VOL_LABEL, Q_VOL_NAME, Q_N };

struct batch {
	char *path[Q_N];
	struct occ_docker_req req[Q_N];
	struct occ_docker_resp resp[Q_N];
	size_t n;
	struct occ_docker_strv names;   /* the containers' exact names */
	struct occ_docker_strv volumes; /* the desired volumes' names */
};

static void batch_init(struct batch *b, const struct occ_state *desired)
{
	struct occ_docker_strv name_filter = { 0 };

	memset(b, 0, sizeof(*b));
	occ_docker__strv_push(&b->names, desired->name);
	for (size_t i = 0; i < 2; i++) {
		char *n = occ_xasprintf("%s%s", desired->name,
					i ? OCC_DOCKER_OLD_SUFFIX : OCC_DOCKER_NEXT_SUFFIX);

		occ_docker__strv_push(&b->names, n);
		free(n);
	}
	for (size_t i = 0; i < desired->n_volumes; i++) {
		char *name = occ_volume_docker_name(desired, &desired->volumes[i]);

		occ_docker__strv_push(&b->volumes, name);
		free(name);
	}
	/* Docker's name filter matches substrings: "<name>" finds all three. */
	occ_docker__strv_push(&name_filter, desired->name);
	b->path[Q_IMAGE] = object_path("images", desired->image.ref, "/json");
	b->path[Q_CTR_LABEL] = project_path("containers/json", "all=1&", desired->name);
	b->path[Q_CTR_NAME] = filtered_path("containers/json", "all=1&", "name", &name_filter);
	b->path[Q_VOL_LABEL] = project_path("volumes", "", desired->name);
	b->n = Q_VOL_LABEL + 1;
	if (b->volumes.n)
		b->path[b->n++] = filtered_path("volumes", "", "name", &b->volumes);
	for (size_t i = 0; i < b->n; i++) {
		b->req[i].method = "GET";
		b->req[i].path = b->path[i];
		occ_docker__resp_init(&b->resp[i]);
	}
	occ_docker__strv_release(&name_filter);
}

static void batch_release(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		occ_docker__resp_release(&b->resp[i]);
		free(b->path[i]);
	}
	occ_docker__strv_release(&b->names);
	occ_docker__strv_release(&b->volumes);
}

static int list_container_ids(struct occ_docker_strv *ids, const struct batch *b,
			      const char *project, struct occ_error *err)
{
	int ret = 0;

	for (size_t q = Q_CTR_LABEL; !ret && q <= Q_CTR_NAME; q++) {
		ret = list_status(&b->resp[q], "containers/json", err);
		if (!ret)
			ret = occ_docker__parse_container_list(ids, b->resp[q].body.buf,
							       b->resp[q].body.len, project,
							       &b->names, err);
	}
	return ret;
}

/* The env of image id, for leaving out what the image sets itself. A
 * missing image (deleted since) gives an empty list. */
static int image_env(struct occ_docker *dk, struct occ_kvlist *out, const char *id,
		     struct occ_error *err)
{
	struct occ_obs_image img = { 0 };
	bool found;
	int ret = inspect_image(dk, &img, out, &found, id, err);

	occ_obs_image_release(&img);
	return ret;
}

/* One listed container's inspect into obs; one that vanished since is skipped. */
static int take_container(struct occ_docker *dk, const struct occ_state *desired,
			  struct occ_observed *obs, const struct occ_kvlist *desired_env,
			  const struct occ_docker_resp *resp, const char *id, size_t *alloc,
			  struct occ_error *err)
{
	struct occ_docker_brief b;
	struct occ_kvlist other_env = { 0 };
	const struct occ_kvlist *env = desired_env;
	int ret = 0;

	if (resp->status == 404)
		return 0;
	if (resp->status != 200)
		return occ_docker__api_error(err, resp, "cannot inspect container %.12s", id);
	ret = occ_docker__parse_brief(&b, resp->body.buf, resp->body.len, err);
	if (!ret && b.image_id[0] && !occ_streq(b.image_id, obs->image.id)) {
		ret = image_env(dk, &other_env, b.image_id, err);
		env = &other_env;
	}
	if (ret)
		goto out;
	OCC_GROW(obs->containers, obs->n_containers, *alloc);
	ret = occ_docker__parse_container(&obs->containers[obs->n_containers], resp->body.buf,
					  resp->body.len, env, desired->name,
					  desired->container.container_port, err);
	if (!ret)
		obs->n_containers++;
out:
	occ_kvlist_release(&other_env);
	return ret;
}

static int cmp_containers(const void *a, const void *b)
{
	const struct occ_obs_container *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

/*
 * The inspects of the listed containers go out together. With no users
 * desired and one container listed (a no-op's case), the accounts-marker
 * probe rides along: it needs only the id, and users_observe uses the
 * answer when that container turns out to be the project's.
 */
static int observe_containers(struct occ_docker *dk, const struct occ_state *desired,
			      struct occ_observed *obs, const struct occ_kvlist *desired_env,
			      const struct batch *b, struct occ_docker_marker *marker,
			      struct occ_error *err)
{
	struct occ_docker_strv ids = { 0 };
	struct occ_docker_req req[OCC_DOCKER_PARALLEL] = { 0 };
	struct occ_docker_resp resp[OCC_DOCKER_PARALLEL];
	char *path[OCC_DOCKER_PARALLEL] = { 0 };
	struct occ_error scratch;
	size_t alloc = 0, n = 0;
	bool probe;
	int ret = list_container_ids(&ids, b, desired->name, err);

	occ_error_clear(&scratch);

	for (size_t i = 0; !ret && i < ids.n; i += n) {
		n = ids.n - i < OCC_DOCKER_PARALLEL ? ids.n - i : OCC_DOCKER_PARALLEL;
		probe = ids.n == 1 && !desired->n_users;
		for (size_t k = 0; k < n + probe; k++) {
			path[k] = k < n ? object_path("containers", ids.v[i + k], "/json")
					: occ_docker__marker_path(ids.v[i]);
			req[k].method = k < n ? "GET" : "HEAD";
			req[k].path = path[k];
			occ_docker__resp_init(&resp[k]);
		}
		ret = occ_docker__http_do_many(dk->http, req, resp, n + probe, err);
		for (size_t k = 0; !ret && k < n; k++)
			ret = take_container(dk, desired, obs, desired_env, &resp[k], ids.v[i + k],
					     &alloc, err);
		/* A surprising answer is left to users_observe, which asks again. */
		if (!ret && probe && !occ_docker__marker_answer(&marker->present, &resp[n],
								ids.v[i], &scratch))
			snprintf(marker->container, sizeof(marker->container), "%s", ids.v[i]);
		for (size_t k = 0; k < n + probe; k++) {
			occ_docker__resp_release(&resp[k]);
			free(path[k]);
		}
	}
	if (!ret && obs->n_containers > 1)
		qsort(obs->containers, obs->n_containers, sizeof(*obs->containers),
		      cmp_containers);
	occ_docker__strv_release(&ids);
	return ret;
}

static int cmp_volumes(const void *a, const void *b)
{
	return strcmp(((const struct occ_obs_volume *)a)->name,
		      ((const struct occ_obs_volume *)b)->name);
}

static int observe_volumes(const struct occ_state *desired, struct occ_observed *obs,
			   const struct batch *b, struct occ_error *err)
{
	int ret = 0;

	for (size_t q = Q_VOL_LABEL; !ret && q < b->n; q++) {
		ret = list_status(&b->resp[q], "volumes", err);
		if (!ret)
			ret = occ_docker__parse_volume_list(&obs->volumes, &obs->n_volumes,
							    b->resp[q].body.buf, b->resp[q].body.len,
							    desired->name, &b->volumes, err);
	}
	if (!ret && obs->n_volumes > 1)
		qsort(obs->volumes, obs->n_volumes, sizeof(*obs->volumes), cmp_volumes);
	return ret;
}

static int observe(struct occ_driver *d, const struct occ_state *desired,
		   struct occ_observed *out, struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	struct occ_kvlist env = { 0 };
	struct occ_observed obs;
	struct occ_docker_marker marker = { .present = false };
	struct batch b;
	bool found;
	int ret;

	occ_observed_init(&obs);
	batch_init(&b, desired);
	ret = occ_docker__http_negotiate(dk->http, err);
	if (ret)
		goto out;
	obs.api_version = occ_xstrdup(occ_docker__http_api_version(dk->http));
	obs.daemon_version = occ_xstrdup(occ_docker__http_server_version(dk->http));
	ret = occ_docker__http_do_many(dk->http, b.req, b.resp, b.n, err);
	if (!ret)
		ret = take_image(&obs.image, &env, &found, &b.resp[Q_IMAGE], desired->image.ref, err);
	if (ret)
		goto out;
	/* The planner needs the image's env too (entries equal to it are satisfied). */
	obs.image.env = env;
	memset(&env, 0, sizeof(env));
	if (!found)
		obs.image.ref = occ_xstrdup(desired->image.ref);
	ret = observe_containers(dk, desired, &obs, &obs.image.env, &b, &marker, err);
	if (!ret)
		ret = observe_volumes(desired, &obs, &b, err);
	if (!ret)
		ret = occ_docker__users_observe(dk, desired, &obs, &marker, err);
out:
	batch_release(&b);
	occ_kvlist_release(&env);
	if (ret) {
		occ_observed_release(&obs);
		return ret;
	}
	*out = obs;
	return 0;
}

/* One round trip to the daemon (the first also settles the API version). */
static int ping(struct occ_driver *d, struct occ_error *err)
{
	struct occ_docker_http *h = occ_docker__from(d)->http;
	struct occ_docker_req req = { .method = "GET", .path = "/_ping", .unversioned = true };
	struct occ_docker_resp resp;
	int ret;

	if (!occ_docker__http_api_version(h))
		return occ_docker__http_negotiate(h, err);
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(h, &req, &resp, err);
	if (ret == 0 && resp.status != 200)
		ret = occ_error_set(err, OCC_EAPI, "%s: GET /_ping answered HTTP %ld",
				    occ_docker__http_endpoint(h), resp.status);
	occ_docker__resp_release(&resp);
	return ret;
}

static void destroy(struct occ_driver *d)
{
	struct occ_docker *dk = occ_docker__from(d);

	occ_docker__http_free(dk->http);
	free(dk);
}

static const struct occ_driver_ops docker_ops = {
	.name = "docker",
	.observe = observe,
	.apply = occ_docker__apply,
	.wait_healthy = occ_docker__wait_healthy,
	.ping = ping,
	.events = occ_docker__events,
	.destroy = destroy,
};

int occ_docker_open(struct occ_driver **out, const char *docker_host, struct occ_error *err)
{
	struct occ_docker_transport t;
	int ret = occ_docker__transport_from_host(&t, docker_host, err);

	if (ret)
		return ret;
	return occ_docker__open_transport(out, &t, err);
}

int occ_docker__open_transport(struct occ_driver **out, struct occ_docker_transport *t,
			       struct occ_error *err)
{
	struct occ_docker *dk = occ_xcalloc(1, sizeof(*dk));
	int ret;

	dk->base.ops = &docker_ops;
	ret = occ_docker__http_new(&dk->http, t, err);
	if (ret) {
		free(dk);
		return ret;
	}
	/* The sink lives in the driver, so callers may set it after opening. */
	occ_docker__http_set_trace(dk->http, &dk->base.trace);
	*out = &dk->base;
	return 0;
}

/* ---- logs --------------------------------------------------------------- */

static int demux_cb(void *ctx, const char *data, size_t n, struct occ_error *err)
{
	return occ_docker__demux_feed(ctx, data, n, err);
}

static char *logs_path(const char *container, const struct occ_docker_logs_opts *o)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char *base = object_path("containers", container, "/logs");

	occ_strbuf_addf(&sb, "%s?stdout=1&stderr=1&follow=%d&timestamps=%d", base,
			o->follow, o->timestamps);
	if (o->tail >= 0)
		occ_strbuf_addf(&sb, "&tail=%d", o->tail);
	else
		occ_strbuf_adds(&sb, "&tail=all");
	if (o->since > 0)
		occ_strbuf_addf(&sb, "&since=%lld", (long long)o->since);
	free(base);
	return occ_strbuf_detach(&sb);
}

int occ_docker_logs(struct occ_driver *d, const char *container,
		    const struct occ_docker_logs_opts *o,
		    void (*write)(void *ctx, int stream, const char *data, size_t n),
		    void *ctx, struct occ_error *err)
{
	static const struct occ_docker_logs_opts all = { .tail = -1 };
	struct occ_docker *dk = occ_docker__from(d);
	struct occ_docker_demux demux;
	struct occ_docker_brief b;
	struct occ_docker_req req = { .method = "GET", .on_data = demux_cb, .data_ctx = &demux };
	struct occ_docker_resp resp;
	char *path;
	int ret = occ_docker__inspect_brief(dk, &b, container, err);

	if (ret)
		return ret;
	o = o ? o : &all;
	path = logs_path(container, o);
	req.path = path;
	req.timeout_ms = o->follow ? -1 : 0;
	occ_docker__demux_init(&demux, b.tty, write, ctx);
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(dk->http, &req, &resp, err);
	if (!ret && resp.status == 404)
		ret = occ_error_set(err, OCC_ENOTFOUND, "no such container '%s'", container);
	else if (!ret && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot read the logs of container '%s'",
					    container);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

static void tail_write(void *ctx, int stream, const char *data, size_t n)
{
	(void)stream;
	occ_strbuf_add(ctx, data, n);
}

void occ_docker__tail_output(struct occ_docker *dk, const char *container, int lines,
			     size_t max, struct occ_strbuf *out)
{
	const struct occ_docker_logs_opts o = { .tail = lines };
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_error ignored;
	size_t skip = 0;

	occ_strbuf_init(&sb);
	occ_error_clear(&ignored);
	if (occ_docker_logs(&dk->base, container, &o, tail_write, &sb, &ignored) == 0) {
		while (sb.len && sb.buf[sb.len - 1] == '\n')
			sb.buf[--sb.len] = '\0';
		if (sb.len > max)
			skip = sb.len - max;
		occ_strbuf_adds(out, sb.buf + skip);
	}
	occ_strbuf_release(&sb);
}
