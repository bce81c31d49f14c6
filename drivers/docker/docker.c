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

/* Image inspect: 0 with *found false when the image does not exist. */
static int inspect_image(struct occ_docker *dk, struct occ_obs_image *out,
			 struct occ_kvlist *env, bool *found, const char *ref,
			 struct occ_error *err)
{
	char *path = object_path("images", ref, "/json");
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "GET", path, NULL, &resp, err);

	*found = false;
	if (ret)
		goto out;
	if (resp.status == 200) {
		ret = occ_docker__parse_image(out, env, resp.body.buf, resp.body.len, ref, err);
		*found = ret == 0;
	} else if (resp.status != 404) {
		ret = occ_docker__api_error(err, &resp, "cannot inspect image '%s'", ref);
	}
out:
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

static void image_release(struct occ_obs_image *img)
{
	free(img->id);
	free(img->ref);
	for (size_t i = 0; i < img->n_repo_digests; i++)
		free(img->repo_digests[i]);
	free(img->repo_digests);
	occ_kvlist_release(&img->labels);
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
	image_release(&img);
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

/* GET <collection>?<extra>filters=<filters> into resp. */
static int list_filtered(struct occ_docker *dk, const char *collection, const char *extra,
			 const char *key, const struct occ_docker_strv *values,
			 struct occ_docker_resp *resp, struct occ_error *err)
{
	char *filters = occ_docker__filters(key, values);
	struct occ_strbuf path = OCC_STRBUF_INIT;
	int ret;

	occ_strbuf_addf(&path, "/%s?%sfilters=", collection, extra);
	occ_docker__url_escape(&path, filters);
	ret = occ_docker__call(dk, "GET", path.buf, NULL, resp, err);
	if (!ret && resp->status != 200)
		ret = occ_docker__api_error(err, resp, "cannot list %s", collection);
	occ_strbuf_release(&path);
	free(filters);
	return ret;
}

static void project_filter(struct occ_docker_strv *out, const char *project)
{
	char *label = occ_xasprintf("%s=%s", OCC_LABEL_PROJECT, project);

	occ_docker__strv_push(out, label);
	free(label);
}

static int list_container_ids(struct occ_docker *dk, struct occ_docker_strv *ids,
			      const char *project, struct occ_error *err)
{
	struct occ_docker_strv names = { 0 }, label = { 0 }, name_filter = { 0 };
	char *next = occ_xasprintf("%s%s", project, OCC_DOCKER_NEXT_SUFFIX);
	char *prev = occ_xasprintf("%s%s", project, OCC_DOCKER_OLD_SUFFIX);
	struct occ_docker_resp resp;
	int ret;

	occ_docker__strv_push(&names, project);
	occ_docker__strv_push(&names, next);
	occ_docker__strv_push(&names, prev);
	project_filter(&label, project);
	/* Docker's name filter matches substrings: "<name>" finds all three. */
	occ_docker__strv_push(&name_filter, project);
	ret = list_filtered(dk, "containers/json", "all=1&", "label", &label, &resp, err);
	if (!ret)
		ret = occ_docker__parse_container_list(ids, resp.body.buf, resp.body.len, project,
						       &names, err);
	occ_docker__resp_release(&resp);
	if (!ret)
		ret = list_filtered(dk, "containers/json", "all=1&", "name", &name_filter, &resp, err);
	if (!ret)
		ret = occ_docker__parse_container_list(ids, resp.body.buf, resp.body.len, project,
						       &names, err);
	occ_docker__resp_release(&resp);
	occ_docker__strv_release(&names);
	occ_docker__strv_release(&label);
	occ_docker__strv_release(&name_filter);
	free(prev);
	free(next);
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

	image_release(&img);
	return ret;
}

/* Inspect one listed container into obs; one that vanished since is skipped. */
static int observe_container(struct occ_docker *dk, const struct occ_state *desired,
			     struct occ_observed *obs, const struct occ_kvlist *desired_env,
			     const char *id, size_t *alloc, struct occ_error *err)
{
	char *path = object_path("containers", id, "/json");
	struct occ_docker_brief b;
	struct occ_kvlist other_env = { 0 };
	const struct occ_kvlist *env = desired_env;
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "GET", path, NULL, &resp, err);

	if (ret || resp.status == 404)
		goto out;
	if (resp.status != 200) {
		ret = occ_docker__api_error(err, &resp, "cannot inspect container %.12s", id);
		goto out;
	}
	ret = occ_docker__parse_brief(&b, resp.body.buf, resp.body.len, err);
	if (!ret && b.image_id[0] && !occ_streq(b.image_id, obs->image.id)) {
		ret = image_env(dk, &other_env, b.image_id, err);
		env = &other_env;
	}
	if (ret)
		goto out;
	OCC_GROW(obs->containers, obs->n_containers, *alloc);
	ret = occ_docker__parse_container(&obs->containers[obs->n_containers], resp.body.buf,
					  resp.body.len, env, desired->name,
					  desired->container.container_port, err);
	if (!ret)
		obs->n_containers++;
out:
	occ_kvlist_release(&other_env);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

static int cmp_containers(const void *a, const void *b)
{
	const struct occ_obs_container *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

static int observe_containers(struct occ_docker *dk, const struct occ_state *desired,
			      struct occ_observed *obs, const struct occ_kvlist *desired_env,
			      struct occ_error *err)
{
	struct occ_docker_strv ids = { 0 };
	size_t alloc = 0;
	int ret = list_container_ids(dk, &ids, desired->name, err);

	for (size_t i = 0; !ret && i < ids.n; i++)
		ret = observe_container(dk, desired, obs, desired_env, ids.v[i], &alloc, err);
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

static int observe_volumes(struct occ_docker *dk, const struct occ_state *desired,
			   struct occ_observed *obs, struct occ_error *err)
{
	struct occ_docker_strv names = { 0 }, label = { 0 };
	struct occ_docker_resp resp;
	int ret;

	for (size_t i = 0; i < desired->n_volumes; i++) {
		char *name = occ_volume_docker_name(desired, &desired->volumes[i]);

		occ_docker__strv_push(&names, name);
		free(name);
	}
	project_filter(&label, desired->name);
	ret = list_filtered(dk, "volumes", "", "label", &label, &resp, err);
	if (!ret)
		ret = occ_docker__parse_volume_list(&obs->volumes, &obs->n_volumes, resp.body.buf,
						    resp.body.len, desired->name, &names, err);
	occ_docker__resp_release(&resp);
	if (!ret && names.n) {
		ret = list_filtered(dk, "volumes", "", "name", &names, &resp, err);
		if (!ret)
			ret = occ_docker__parse_volume_list(&obs->volumes, &obs->n_volumes,
							    resp.body.buf, resp.body.len,
							    desired->name, &names, err);
		occ_docker__resp_release(&resp);
	}
	if (!ret && obs->n_volumes > 1)
		qsort(obs->volumes, obs->n_volumes, sizeof(*obs->volumes), cmp_volumes);
	occ_docker__strv_release(&names);
	occ_docker__strv_release(&label);
	return ret;
}

static int observe(struct occ_driver *d, const struct occ_state *desired,
		   struct occ_observed *out, struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	struct occ_kvlist env = { 0 };
	struct occ_observed obs;
	bool found;
	int ret;

	occ_observed_init(&obs);
	ret = occ_docker__http_negotiate(dk->http, err);
	if (ret)
		goto out;
	obs.api_version = occ_xstrdup(occ_docker__http_api_version(dk->http));
	obs.daemon_version = occ_xstrdup(occ_docker__http_server_version(dk->http));
	ret = inspect_image(dk, &obs.image, &env, &found, desired->image.ref, err);
	if (ret)
		goto out;
	/* The planner needs the image's env too (entries equal to it are satisfied). */
	obs.image.env = env;
	memset(&env, 0, sizeof(env));
	if (!found)
		obs.image.ref = occ_xstrdup(desired->image.ref);
	ret = observe_containers(dk, desired, &obs, &obs.image.env, err);
	if (!ret)
		ret = observe_volumes(dk, desired, &obs, err);
	if (!ret)
		ret = occ_docker__users_observe(dk, desired, &obs, err);
out:
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
