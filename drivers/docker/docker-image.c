/*
 * docker-image.c - IMAGE_PULL and IMAGE_BUILD.
 *
 * A build sends its context as a tar stream: a directory (tar.c walks it) or,
 * for image.build.context: embedded, the Dockerfile and packages/image/ files
 * compiled into occ (units/embed.cmake), plus image.build.ca_certs.
 *
 * Both answer with a stream of JSON lines that may end in an error even after
 * HTTP 200, so every line is decoded as it arrives: progress goes to the
 * driver's sink, the first error is kept and reported once the stream ends.
 */
#include "drivers/docker/docker-int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/state.h"

struct image_stream {
	struct occ_docker *dk;
	struct occ_docker_lines lines;
	char *error;        /* the first error message the stream carried */
};

static void emit_line(struct occ_docker *dk, const char *text, const char *id)
{
	struct occ_progress p = { .kind = OCC_PROGRESS_LINE, .id = id, .text = text };

	occ_driver_progress(&dk->base, &p);
}

/* Build output: one progress line per text line, empty ones dropped. */
static void emit_text(struct occ_docker *dk, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		if (n) {
			char *line = occ_xstrndup(text, n);

			emit_line(dk, line, NULL);
			free(line);
		}
		text += n + (text[n] == '\n');
	}
}

static void emit_msg(struct occ_docker *dk, const struct occ_docker_msg *m)
{
	struct occ_progress p = {
		.kind = OCC_PROGRESS_LAYER, .id = m->id, .text = m->status,
		.current = m->current, .total = m->total,
	};

	if (m->stream)
		emit_text(dk, m->stream);
	else if (m->status && m->id)
		occ_driver_progress(&dk->base, &p);
	else if (m->status)
		emit_line(dk, m->status, NULL);
}

static int on_line(void *ctx, const char *line, size_t n, struct occ_error *err)
{
	struct image_stream *s = ctx;
	struct occ_docker_msg m;
	int ret = occ_docker__parse_msg(&m, line, n, err);

	if (ret)
		return ret;
	if (m.error && !s->error)
		s->error = occ_xstrdup(m.error);
	else if (!m.error)
		emit_msg(s->dk, &m);
	occ_docker__msg_release(&m);
	return 0;
}

static int on_data(void *ctx, const char *data, size_t n, struct occ_error *err)
{
	struct image_stream *s = ctx;

	return occ_docker__lines_feed(&s->lines, data, n, err);
}

int occ_docker__image_stream(struct occ_docker *dk, struct occ_docker_req *req,
			     const char *what, const char *ref, struct occ_error *err)
{
	struct image_stream s = { .dk = dk };
	struct occ_docker_resp resp;
	int ret;

	occ_docker__lines_init(&s.lines, on_line, &s);
	req->on_data = on_data;
	req->data_ctx = &s;
	req->timeout_ms = -1;
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(dk->http, req, &resp, err);
	if (!ret && resp.status == 200)
		ret = occ_docker__lines_finish(&s.lines, err);
	if (!ret && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot %s image '%s'", what, ref);
	if (!ret && s.error) {
		size_t len = strlen(s.error);

		while (len && (s.error[len - 1] == '\n' || s.error[len - 1] == '\r'))
			s.error[--len] = '\0';
		ret = occ_error_set(err, OCC_EAPI, "cannot %s image '%s': %s", what, ref, s.error);
	}
	occ_docker__lines_release(&s.lines);
	occ_docker__resp_release(&resp);
	free(s.error);
	return ret;
}

/* ---- pull --------------------------------------------------------------- */

/* fromImage and tag for ref: "name:tag", "name@digest", or "name" (latest). */
static void pull_query(struct occ_strbuf *sb, const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	char *name;

	occ_strbuf_adds(sb, "/images/create?fromImage=");
	if (strchr(ref, '@')) {
		occ_docker__url_escape(sb, ref);
		return;
	}
	name = colon ? occ_xstrndup(ref, (size_t)(colon - ref)) : occ_xstrdup(ref);
	occ_docker__url_escape(sb, name);
	occ_strbuf_adds(sb, "&tag=");
	occ_docker__url_escape(sb, colon ? colon + 1 : "latest");
	free(name);
}

int occ_docker__pull_ref(struct occ_docker *dk, const char *ref, struct occ_error *err)
{
	struct occ_strbuf path = OCC_STRBUF_INIT;
	struct occ_docker_req req = { .method = "POST" };
	int ret;

	pull_query(&path, ref);
	req.path = path.buf;
	ret = occ_docker__image_stream(dk, &req, "pull", ref, err);
	occ_strbuf_release(&path);
	return ret;
}

int occ_docker__pull(struct occ_docker *dk, const struct occ_state *desired,
		     struct occ_error *err)
{
	int ret = occ_docker__pull_ref(dk, desired->image.ref, err);

	if (ret == OCC_EAPI)
		occ_error_hint(err, "check the image reference and access to its registry; "
			       "with image.pull: never occ uses a local image only");
	return ret;
}

/* ---- build -------------------------------------------------------------- */

static int read_tar(void *ctx, char *buf, size_t cap, size_t *out_n, struct occ_error *err)
{
	return occ_docker__tar_read(ctx, buf, cap, out_n, err);
}

/*
 * No project labels on the image: containers inherit their image's labels, so
 * a project label here would make any container run from the image, by
 * anyone, look like one occ manages. Every build is labelled with the hash of
 * its inputs, for `occ update` (docker-update.c); the embedded build also
 * with the hash of the context built into this occ (OCC_IMAGE_LABEL_CONTEXT),
 * so an occ upgrade that changes it rebuilds.
 */
static char *build_path(const struct occ_state *desired, const char *inputs_hash)
{
	const struct occ_image_build *b = &desired->image.build;
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_kvlist kv = { 0 }, labels = { 0 };
	char *args, *labels_json;

	/* The embedded image is labelled with this occ's version unless the
	 * state file says otherwise. */
	if (b->embedded && !occ_kvlist_get(&b->args, "OCC_IMAGE_VERSION"))
		occ_kvlist_set(&kv, "OCC_IMAGE_VERSION", OCC_VERSION);
	for (size_t i = 0; i < b->args.n; i++)
		occ_kvlist_set(&kv, b->args.items[i].key, b->args.items[i].value);
	args = occ_docker__kv_json(&kv);
	occ_kvlist_release(&kv);
	occ_kvlist_set(&labels, OCC_DOCKER_LABEL_BUILD_HASH, inputs_hash);
	if (b->embedded)
		occ_kvlist_set(&labels, OCC_IMAGE_LABEL_CONTEXT, occ_embedded_image_hash);
	labels_json = occ_docker__kv_json(&labels);
	occ_kvlist_release(&labels);

	occ_strbuf_adds(&sb, "/build?rm=1&forcerm=1&t=");
	occ_docker__url_escape(&sb, desired->image.ref);
	occ_strbuf_adds(&sb, "&dockerfile=");
	occ_docker__url_escape(&sb, b->dockerfile ? b->dockerfile : "Dockerfile");
	occ_strbuf_adds(&sb, "&buildargs=");
	occ_docker__url_escape(&sb, args);
	occ_strbuf_adds(&sb, "&labels=");
	occ_docker__url_escape(&sb, labels_json);
	free(labels_json);
	free(args);
	return occ_strbuf_detach(&sb);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.crt files of dir (and of its subdirectories, one level), sorted. */
static void local_cas(struct occ_docker_strv *out, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t first = out->n;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *path;
		struct stat sb;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		path = occ_xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &sb) != 0) {
			free(path);   /* gone, or a dangling link: not a certificate */
			continue;
		}
		if (S_ISDIR(sb.st_mode) && depth > 0)
			local_cas(out, path, depth - 1);
		else if (S_ISREG(sb.st_mode) && len > 4 && strcmp(de->d_name + len - 4, ".crt") == 0)
			occ_docker__strv_push(out, path);
		free(path);
	}
	closedir(d);
	qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
}

int occ_docker__build_context(struct occ_docker_tar **out, const struct occ_image_build *b,
			      struct occ_error *err)
{
	struct occ_docker_strv cas = { 0 };
	char *const *certs = b->ca_certs;
	size_t n = b->n_ca_certs;
	int ret;

	/* The embedded image trusts this machine's locally installed CAs unless
	 * the state file lists its own (an empty list: none). A machine behind
	 * a TLS-intercepting proxy has the proxy's CA there, and the build
	 * fetches opencode over HTTPS. */
	if (b->embedded && !b->ca_certs_set) {
		local_cas(&cas, OCC_DOCKER_LOCAL_CA_DIR, 1);
		certs = cas.v;
		n = cas.n;
	}
	if (b->embedded)
		ret = occ_docker__tar_new_mem(out, occ_docker__image_files,
					      occ_docker__image_n_files, certs, n, err);
	else
		ret = occ_docker__tar_new(out, b->context, b->dockerfile, certs, n, err);
	occ_docker__strv_release(&cas);
	return ret;
}

int occ_docker__build(struct occ_docker *dk, const struct occ_state *desired,
		      struct occ_error *err)
{
	const struct occ_image_build *b = &desired->image.build;
	struct occ_docker_req req = { .method = "POST", .content_type = "application/x-tar" };
	struct occ_docker_tar *tar = NULL;
	char inputs_hash[OCC_DOCKER_BUILD_HASH_LEN + 1];
	char *path = NULL;
	int ret;

	/* The embedded Dockerfile's base is made here when no registry has it
	 * (docker-base.c); a user's own Dockerfile is left to the builder. */
	ret = b->embedded ? occ_docker__ensure_base(dk, b, err) : 0;
	if (!ret)
		ret = occ_docker__build_context(&tar, b, err);
	if (ret) {
		occ_error_prefix(err, "cannot build image '%s'", desired->image.ref);
		return ret;
	}
	ret = occ_docker_build_hash(inputs_hash, desired, err);
	if (ret) {
		occ_docker__tar_free(tar);
		return ret;
	}
	path = build_path(desired, inputs_hash);
	req.path = path;
	req.read_body = read_tar;
	req.read_ctx = tar;
	ret = occ_docker__image_stream(dk, &req, "build", desired->image.ref, err);
	if (ret == OCC_EAPI && b->embedded)
		occ_error_hint(err, "the build output above names the failing step; behind a "
			       "TLS-intercepting proxy, list its CA certificates in image.build.ca_certs");
	occ_docker__tar_free(tar);
	free(path);
	return ret;
}
