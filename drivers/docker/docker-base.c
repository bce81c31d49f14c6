/*
 * docker-base.c - the embedded build's base image, made from this machine's
 * Debian mirror when no registry is reachable (docker-base.h).
 *
 *   GET /images/BASE/json        present: nothing to do (the usual case)
 *   POST /images/create?fromImage=BASE
 *                                a registry answers: as before
 *   mmdebstrap (or debootstrap)  only when the pull failed for lack of a
 *                                registry and BASE is a Debian suite
 *   POST /images/create?fromSrc=-&repo=..&tag=..&changes=LABEL ...
 *                                the complete tarball as the body
 *
 * The import is one request whose body is streamed from the tarball, so a
 * daemon reached over SSH gets a tarball made here (gzipped: it crosses a
 * network), as long as it runs this machine's architecture. Docker imports
 * a tarball whole or not at all: a failed import leaves no image behind,
 * and only a tarball the tool finished is sent.
 */
#include "drivers/docker/docker-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "drivers/docker/docker-base.h"
#include "model/state.h"

static void say(struct occ_docker *dk, const char *text)
{
	struct occ_progress p = { .kind = OCC_PROGRESS_LINE, .text = text };

	occ_driver_progress(&dk->base, &p);
}

static void say_line(void *ctx, const char *line)
{
	say(ctx, line);
}

/* BASE_IMAGE from the build args, else the embedded Dockerfile's default. */
static char *base_ref(const struct occ_image_build *b)
{
	const char *arg = occ_kvlist_get(&b->args, "BASE_IMAGE");
	const char *name = b->dockerfile ? b->dockerfile : "Dockerfile";

	if (arg)
		return occ_xstrdup(arg);
	for (size_t i = 0; i < occ_docker__image_n_files; i++) {
		const struct occ_docker_file *f = &occ_docker__image_files[i];
		char *v;

		if (strcmp(f->name, name) != 0)
			continue;
		v = occ_docker__dockerfile_arg((const char *)f->data, f->size, "BASE_IMAGE");
		if (v)
			return v;
	}
	return occ_xstrdup(OCC_BASE_DEFAULT_IMAGE);
}

static bool is_remote(struct occ_docker *dk)
{
	const struct occ_docker_transport *t = occ_docker__http_transport(dk->http);

	return t->tcp_socket || t->open_socket;
}

/* Docker's name for this machine's architecture ("amd64"), or the kernel's. */
static void local_arch(char *out, size_t cap)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" },
		{ "i686", "386" }, { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
		{ "riscv64", "riscv64" },
	};
	struct utsname u;

	snprintf(out, cap, "unknown");
	if (uname(&u) != 0)
		return;
	if (snprintf(out, cap, "%s", u.machine) >= (int)cap)
		snprintf(out, cap, "unknown");
	for (size_t i = 0; i < OCC_ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i][0]) == 0)
			snprintf(out, cap, "%s", map[i][1]);
}

/* A remote daemon gets a tarball made here only when it runs this arch. */
static int check_arch(struct occ_docker *dk, const char *ref, struct occ_error *err)
{
	struct occ_docker_version v;
	char here[32];
	int ret = occ_docker_versions(&v, &dk->base, err);

	if (ret)
		return ret;
	local_arch(here, sizeof(here));
	if (strcmp(v.arch, here) == 0)
		return 0;
	ret = occ_error_set(err, OCC_ENOTFOUND, "base image '%s' is missing on %s (%s) and "
			    "cannot be pulled there (no registry reachable); this machine (%s) "
			    "cannot make it for that architecture", ref,
			    occ_docker__http_endpoint(dk->http), v.arch, here);
	occ_error_hint(err, "load it there from a machine of that architecture: docker save %s "
		       "| ssh HOST docker load", ref);
	return ret;
}

/* Stream the tarball as the body of the import. */
static int read_file_body(void *ctx, char *buf, size_t cap, size_t *out_n, struct occ_error *err)
{
	FILE *f = ctx;
	size_t n = fread(buf, 1, cap, f);

	if (n == 0 && ferror(f))
		return occ_error_errno(err, OCC_EIO, errno, "cannot read the root filesystem tarball");
	*out_n = n;
	return 0;
}

static int import(struct occ_docker *dk, const char *ref, const struct occ_rootfs *r,
		  struct occ_error *err)
{
	struct occ_strbuf path = OCC_STRBUF_INIT;
	struct occ_docker_req req = { .method = "POST", .content_type = "application/x-tar" };
	int fd = open(r->tarball, O_RDONLY | O_CLOEXEC), ret;
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;

	if (!f) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot open %s", r->tarball);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ret = occ_docker__import_path(&path, ref, r->tool, err);
	if (ret)
		goto out;
	req.path = path.buf;
	req.read_body = read_file_body;
	req.read_ctx = f;
	ret = occ_docker__image_stream(dk, &req, "import", ref, err);
out:
	occ_strbuf_release(&path);
	fclose(f);
	return ret;
}

static void sayf(struct occ_docker *dk, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sayf(struct occ_docker *dk, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say(dk, buf);
}

/* The mirror to make the base from: OCC_BASE_MIRROR, else apt's. *found:
 * whether it is not the default. Caller frees. */
static char *pick_mirror(const char *suite, bool *found)
{
	const char *env = getenv("OCC_BASE_MIRROR");
	char *mirror = NULL;

	*found = occ_docker__mirror_find(&mirror, OCC_BASE_APT_DIR, suite);
	if (env && *env) {
		free(mirror);
		mirror = occ_xstrdup(env);
		*found = true;
	}
	return mirror;
}

/* Why and how, before the minute or two it takes. */
static void announce(struct occ_docker *dk, const char *ref, const char *mirror, bool found,
		     const char *tool)
{
	const char *note = found ? "" : " (no apt source for it here)";

	if (is_remote(dk))
		sayf(dk, "base image %s is missing on %s and cannot be pulled there (no registry "
		     "reachable): making it here from %s%s with %s and sending it (~1 min, once)",
		     ref, occ_docker__http_endpoint(dk->http), mirror, note, tool);
	else
		sayf(dk, "base image %s cannot be pulled (no registry reachable): making it from "
		     "%s%s with %s (~1 min, once)", ref, mirror, note, tool);
}

/* Make ref from the mirror and import it. */
static int make_base(struct occ_docker *dk, const char *ref, const char *suite,
		     struct occ_error *err)
{
	struct occ_rootfs_opts o = { .suite = suite, .line = say_line, .ctx = dk };
	struct occ_rootfs r = { 0 };
	char *tool_path = NULL;
	const char *tool = occ_docker__rootfs_tool(&tool_path);
	bool found;
	char *mirror = pick_mirror(suite, &found);
	uint64_t t0 = occ_now_ms(), t1;
	int ret;

	o.mirror = mirror;
	o.gzip = is_remote(dk);              /* it crosses a network */
	o.tool_path = tool_path;
	if (tool)                            /* else rootfs_make says none is installed */
		announce(dk, ref, mirror, found, tool);
	ret = occ_docker__rootfs_make(&r, &o, err);
	if (ret == OCC_EGENERIC || ret == OCC_ETIMEOUT)
		occ_error_hint(err, "check that %s answers (apt-get update uses it; OCC_BASE_MIRROR "
			       "names another), or load %s with docker load", mirror, ref);
	if (ret) {
		occ_error_prefix(err, "base image %s cannot be pulled (no registry reachable) and "
				 "was not made here", ref);
		goto out;
	}
	t1 = occ_now_ms();
	sayf(dk, "made with %s in %.0f s; importing it as %s", r.tool, (double)(t1 - t0) / 1000,
	     ref);
	ret = import(dk, ref, &r, err);
	if (!ret)
		sayf(dk, "imported %s in %.1f s (label %s=%s)", ref,
		     (double)(occ_now_ms() - t1) / 1000, OCC_BASE_LABEL, r.tool);
out:
	occ_docker__rootfs_release(&r);
	free(tool_path);
	free(mirror);
	return ret;
}

/* Try the pull; 1 when it failed for lack of a registry (err filled), 0 when
 * it worked, else its error. */
static int try_pull(struct occ_docker *dk, const char *ref, struct occ_error *err)
{
	int ret = occ_docker__pull_ref(dk, ref, err);

	if (ret == OCC_EAPI && occ_docker__pull_unreachable(err->msg))
		return 1;
	if (ret)
		occ_error_hint(err, "check BASE_IMAGE in image.build.args and access to its "
			       "registry");
	return ret;
}

int occ_docker__ensure_base(struct occ_docker *dk, const struct occ_image_build *b,
			    struct occ_error *err)
{
	char *ref = base_ref(b), *id = NULL, suite[32];
	int ret = occ_docker__image_id(dk, &id, ref, err);

	if (ret != OCC_ENOTFOUND)
		goto out;                          /* present, or the daemon failed */
	ret = try_pull(dk, ref, err);
	if (ret <= 0)
		goto out;
	if (!occ_docker__base_suite(suite, sizeof(suite), ref)) {
		occ_error_prefix(err, "base image '%s' is missing and cannot be pulled", ref);
		occ_error_hint(err, "load it with docker load, or name an image the daemon has "
			       "in image.build.args.BASE_IMAGE");
		ret = OCC_ENOTFOUND;
		goto out;
	}
	ret = is_remote(dk) ? check_arch(dk, ref, err) : 0;
	if (!ret)
		ret = make_base(dk, ref, suite, err);
out:
	free(id);
	free(ref);
	return ret;
}
