/*
 * test-docker.c - the Docker driver against the real dockerd (label
 * `integration`).
 *
 * The image comes from the driver's own IMAGE_BUILD: a temporary context
 * holding tests/images/busybox-httpd and /bin/busybox, tagged
 * occ-test-busybox:latest. Every project is named occ-test-<pid>[-suffix];
 * everything a test creates is removed by id in the teardown (containers the
 * driver made are found by the project label, unique to this run), and the
 * image tag last. Nothing else on the daemon is touched.
 *
 * The daemon is $DOCKER_HOST's, else /var/run/docker.sock. Set
 * OCC_TEST_NO_DOCKER=1 to skip (the only way to skip: an unreachable daemon
 * is a failure). The tests run in order, in one process (CK_NOFORK),
 * and build on each other: build, then create, start, stop, recreate...
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "drivers/docker/docker-int.h"
#include "model/hash.h"
#include "model/state.h"

#define IMAGE "occ-test-busybox:latest"

static char *project, *foreign_project, *ctx_dir, *mount_dir;
static struct occ_docker_strv created_ctrs, created_vols, projects;
static struct occ_driver *drv;
static uint16_t port;
static char *first_id;     /* the container test_create made */
static struct occ_docker_transport daemon_tr;   /* $DOCKER_HOST or the default */
static char api[16];       /* the API version the driver settled on */

/* ---- helpers ------------------------------------------------------------ */

static void ck_ok(int ret, const struct occ_error *err, const char *what)
{
	ck_assert_msg(ret == 0, "%s: %d %s (hint: %s)", what, ret, err->msg, err->hint);
}

static void replace(char **field, const char *value)
{
	free(*field);
	*field = occ_xstrdup(value);
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A socket listening on 127.0.0.1:p that never answers. */
static int listen_on(uint16_t p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %u: %s",
		      (unsigned)p, strerror(errno));
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* The project's desired state: one volume, one read-only mount, two env vars. */
static struct occ_state *test_state(const char *name, uint16_t p)
{
	struct occ_state *st = occ_state_new_default();

	replace(&st->name, name);
	replace(&st->image.ref, IMAGE);
	st->image.build.enabled = false;   /* as image.ref without image.build */
	st->image.build.embedded = false;
	st->container.port = p;
	occ_kvlist_set(&st->container.env, "OCC_TEST_MODE", "a");
	occ_kvlist_set(&st->container.env, "TZ", "UTC");
	for (size_t i = 0; i < st->n_volumes; i++) {
		free(st->volumes[i].name);
		free(st->volumes[i].target);
	}
	st->volumes_default = false;
	st->n_volumes = 1;
	st->volumes[0] = (struct occ_volume){ occ_xstrdup("data"), occ_xstrdup("/data"), { 0, 0 } };
	st->mounts = occ_xcalloc(1, sizeof(*st->mounts));
	st->mounts[0] = (struct occ_mount){ occ_xstrdup(mount_dir), occ_xstrdup("/host"), true,
					    { 0, 0 } };
	st->n_mounts = 1;
	if (!occ_docker__strv_has(&projects, name))
		occ_docker__strv_push(&projects, name);
	return st;
}

static int observe(struct occ_observed *obs, const struct occ_state *st, struct occ_error *err)
{
	occ_observed_init(obs);
	return occ_driver_observe(drv, st, obs, err);
}

/* Observe, then carry out one action. */
static int act(const struct occ_state *st, enum occ_action_kind kind, const char *name,
	       const char *target_id, struct occ_error *err)
{
	struct occ_action a = { .kind = kind };
	struct occ_observed obs;
	int ret = observe(&obs, st, err);

	if (ret)
		return ret;
	a.name = occ_xstrdup(name);
	a.target_id = occ_xstrdup(target_id);
	ret = occ_driver_apply(drv, st, &obs, &a, err);
	free(a.name);
	free(a.target_id);
	occ_observed_release(&obs);
	return ret;
}

static void must_act(const struct occ_state *st, enum occ_action_kind kind, const char *name,
		     const char *target_id)
{
	struct occ_error err;

	occ_error_clear(&err);
	ck_ok(act(st, kind, name, target_id, &err), &err, occ_action_kind_name(kind));
}

/* One raw request; returns the status, body into *body (may be NULL). */
static long raw(const char *method, const char *path, const char *json, char **body)
{
	struct occ_docker_req req = { .method = method, .path = path, .body = json,
				      .body_len = json ? strlen(json) : 0 };
	struct occ_docker_resp resp;
	struct occ_error err;
	long status;

	occ_error_clear(&err);
	occ_docker__resp_init(&resp);
	ck_ok(occ_docker__http_do(occ_docker__http_of(drv), &req, &resp, &err), &err, path);
	status = resp.status;
	if (body)
		*body = occ_strbuf_detach(&resp.body);
	occ_docker__resp_release(&resp);
	return status;
}

/* Remember the first volume of st (by its Docker name) for the teardown. */
static void track_volume(const struct occ_state *st)
{
	char *name = occ_volume_docker_name(st, &st->volumes[0]);

	occ_docker__strv_push(&created_vols, name);
	free(name);
}

/* The id of the project's one container now. Caller frees. */
static char *current_id(const struct occ_state *st);

static bool container_exists(const char *id)
{
	char *path = occ_xasprintf("/containers/%s/json", id);
	long status = raw("GET", path, NULL, NULL);

	free(path);
	return status == 200;
}

static void copy_file(const char *from, const char *to, unsigned mode)
{
	struct occ_error err;
	char *data = NULL;
	size_t len = 0;

	occ_error_clear(&err);
	ck_ok(occ_read_file(from, 64u << 20, &data, &len, &err), &err, from);
	ck_ok(occ_write_file_atomic(to, data, len, mode, &err), &err, to);
	free(data);
}

static void rm_rf(const char *path)
{
	char *cmd = occ_xasprintf("rm -rf '%s'", path);

	if (system(cmd) != 0)
		fprintf(stderr, "test-docker: could not remove %s\n", path);
	free(cmd);
}

/* ---- fixtures ----------------------------------------------------------- */

static bool skip(void)
{
	return occ_streq(getenv("OCC_TEST_NO_DOCKER"), "1");
}

static void make_context(void)
{
	static const char *const files[] = { "Dockerfile", ".dockerignore", "www/healthz" };
	char tmpl[] = "/tmp/occ-test-docker-XXXXXX";
	struct occ_error err;
	char *dir = mkdtemp(tmpl), *bb;

	occ_error_clear(&err);
	ck_assert_ptr_nonnull(dir);
	ctx_dir = occ_xasprintf("%s/ctx", dir);
	mount_dir = occ_xasprintf("%s/mount", dir);
	ck_ok(occ_mkdir_p(ctx_dir, 0755, &err), &err, ctx_dir);
	ck_ok(occ_mkdir_p(mount_dir, 0755, &err), &err, mount_dir);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(files); i++) {
		char *from = occ_xasprintf("%s/tests/images/busybox-httpd/%s", OCC_SOURCE_DIR, files[i]);
		char *to = occ_xasprintf("%s/%s", ctx_dir, files[i]);
		char *to_dir = occ_path_dirname(to);

		ck_ok(occ_mkdir_p(to_dir, 0755, &err), &err, to_dir);
		copy_file(from, to, 0644);
		free(from);
		free(to);
		free(to_dir);
	}
	bb = occ_xasprintf("%s/busybox", ctx_dir);
	copy_file("/bin/busybox", bb, 0755);
	free(bb);
}

static void setup_all(void)
{
	struct occ_error err;

	if (skip())
		return;
	occ_error_clear(&err);
	project = occ_xasprintf("occ-test-%d", (int)getpid());
	foreign_project = occ_xasprintf("occ-test-%d-foreign", (int)getpid());
	ck_ok(occ_docker__transport_from_host(&daemon_tr, NULL, &err), &err, "DOCKER_HOST");
	ck_ok(occ_docker_open(&drv, NULL, &err), &err, "open");
	/* No daemon: fail here, before anything needs cleaning up. */
	ck_ok(occ_driver_ping(drv, &err), &err, "ping");
	snprintf(api, sizeof(api), "%s", occ_docker__http_api_version(occ_docker__http_of(drv)));
	make_context();
	port = free_port();
}

/* Remove, by id, every container and volume this run created. */
static void cleanup_objects(void)
{
	struct occ_error err;

	occ_error_clear(&err);
	for (size_t i = 0; i < projects.n; i++) {
		struct occ_state *st = test_state(projects.v[i], port);
		struct occ_observed obs;

		if (observe(&obs, st, &err) == 0) {
			for (size_t j = 0; j < obs.n_containers; j++)
				if (obs.containers[j].owned)
					occ_docker__remove(occ_docker__from(drv),
							   obs.containers[j].id, &err);
			/* Volumes Docker made for our containers carry our label. */
			for (size_t j = 0; j < obs.n_volumes; j++)
				if (obs.volumes[j].owned &&
				    !occ_docker__strv_has(&created_vols, obs.volumes[j].name))
					occ_docker__strv_push(&created_vols, obs.volumes[j].name);
			occ_observed_release(&obs);
		}
		occ_state_free(st);
	}
	for (size_t i = 0; i < created_ctrs.n; i++)
		occ_docker__remove(occ_docker__from(drv), created_ctrs.v[i], &err);
	for (size_t i = 0; i < created_vols.n; i++) {
		char *path = occ_xasprintf("/volumes/%s", created_vols.v[i]);

		raw("DELETE", path, NULL, NULL);
		free(path);
	}
	occ_docker__strv_release(&created_ctrs);
	occ_docker__strv_release(&created_vols);
}

static void teardown_all(void)
{
	char *dir;

	if (skip() || !drv)
		return;
	cleanup_objects();
	/* Untag; Docker deletes the image only if nothing else uses it. */
	raw("DELETE", "/images/" IMAGE, NULL, NULL);
	occ_driver_free(drv);
	dir = occ_path_dirname(ctx_dir);
	rm_rf(dir);
	free(dir);
	free(ctx_dir);
	free(mount_dir);
	free(project);
	free(foreign_project);
	free(first_id);
	occ_docker__strv_release(&projects);
	occ_docker__transport_release(&daemon_tr);
}

/* ---- the daemon, unreachable -------------------------------------------- */

START_TEST(test_unreachable)
{
	struct occ_driver *d = NULL;
	struct occ_state *st = occ_state_new_default();
	struct occ_observed obs;
	struct occ_error err;

	occ_error_clear(&err);
	ck_ok(occ_docker_open(&d, "unix:///nonexistent", &err), &err, "open");
	ck_assert_str_eq(occ_docker_endpoint(d), "unix:///nonexistent");
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(d, st, &obs, &err), OCC_EDAEMON);
	ck_assert_str_eq(err.msg, "cannot connect to the Docker daemon at unix:///nonexistent: "
				  "no such socket");
	ck_assert_str_eq(err.hint, "is dockerd running? start it with 'systemctl start docker' "
				   "or 'dockerd &'");
	ck_assert_int_eq(occ_driver_ping(d, &err), OCC_EDAEMON);
	occ_driver_free(d);
	ck_assert_int_eq(occ_docker_open(&d, "tcp://127.0.0.1:2375", &err), OCC_EINVALID);
	occ_state_free(st);
}
END_TEST

/* A socket that exists but refuses, and one that accepts but never answers. */
START_TEST(test_refused_and_silent)
{
	char path[] = "/tmp/occ-test-sock-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct occ_driver *d = NULL;
	struct occ_error err;
	char *host;
	int fd;

	occ_error_clear(&err);
	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/d.sock", path);
	host = occ_xasprintf("unix://%s", sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_ok(occ_docker_open(&d, host, &err), &err, "open");
	ck_assert_int_eq(occ_driver_ping(d, &err), OCC_EDAEMON);
	ck_assert_msg(strstr(err.msg, "connection refused"), "%s", err.msg);
	ck_assert_int_eq(listen(fd, 4), 0);
	occ_docker__http_set_timeout(occ_docker__http_of(d), 300);
	ck_assert_int_eq(occ_driver_ping(d, &err), OCC_EDAEMON);
	ck_assert_msg(strstr(err.msg, "did not answer in time"), "%s", err.msg);
	occ_driver_free(d);
	close(fd);
	unlink(sa.sun_path);
	rmdir(path);
	free(host);
}
END_TEST

/* ---- the transport seam ------------------------------------------------- */

static int hook_calls;

/* What a tunnelled transport may do: hand over an already-connected socket. */
static int hook_open(void *ctx, struct occ_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	hook_calls++;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", (const char *)ctx);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		occ_error_errno(err, OCC_EDAEMON, errno, "hook cannot connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Six requests over a transport; returns 0 or the first error. */
static int six_requests(struct occ_docker_transport *t, struct occ_error *err)
{
	struct occ_docker_req req = { .method = "GET", .path = "/version" };
	struct occ_docker_http *h = NULL;
	int ret = occ_docker__http_new(&h, t, err);

	for (int i = 0; !ret && i < 6; i++) {
		struct occ_docker_resp resp;

		occ_docker__resp_init(&resp);
		ret = occ_docker__http_do(h, &req, &resp, err);
		ck_assert(ret || (resp.status == 200 && strstr(resp.body.buf, "ApiVersion")));
		occ_docker__resp_release(&resp);
	}
	if (!ret)
		ck_assert_str_eq(occ_docker__http_api_version(h), api);
	occ_docker__http_free(h);
	return ret;
}

START_TEST(test_transport_hook)
{
	struct occ_docker_transport t = {
		.endpoint = occ_xstrdup("test://hook"), .socket_path = occ_xstrdup("/label-only"),
		.open_socket = hook_open, .ctx = daemon_tr.socket_path,
	};
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	hook_calls = 0;
	ret = six_requests(&t, &err);
	if (!occ_docker__curl_takes_connected_sockets()) {
		ck_assert_int_eq(ret, OCC_EGENERIC);
		ck_assert_msg(strstr(err.msg, "cannot use an already-connected socket for test://hook"),
			      "%s", err.msg);
		return;
	}
	ck_ok(ret, &err, "requests through the hook");
	ck_assert_int_eq(hook_calls, 1);   /* one connection for ping + six requests */
}
END_TEST

/* A bridge like a tunnelled transport would run: a private socket relayed
 * to the daemon's, one connection at a time. */
struct bridge {
	int listen_fd;
	int accepts;
	pthread_t thread;
	char path[108];
	char dir[64];
};

static void pump(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[16384];

	while (poll(p, 2, -1) > 0) {
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
				return;
		}
	}
}

static void *bridge_main(void *arg)
{
	struct bridge *b = arg;
	int c, d;

	while ((c = accept(b->listen_fd, NULL, NULL)) >= 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		b->accepts++;
		fcntl(c, F_SETFD, FD_CLOEXEC);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", daemon_tr.socket_path);
		d = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (d >= 0 && connect(d, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			pump(c, d);
		if (d >= 0)
			close(d);
		close(c);
	}
	return NULL;
}

static void bridge_free(void *ctx)
{
	struct bridge *b = ctx;

	shutdown(b->listen_fd, SHUT_RDWR);   /* ends accept() */
	pthread_join(b->thread, NULL);
	close(b->listen_fd);
	unlink(b->path);
	rmdir(b->dir);
}

START_TEST(test_transport_bridge)
{
	static struct bridge b = { .dir = "/tmp/occ-test-bridge-XXXXXX" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct occ_docker_transport t = { .free_ctx = bridge_free, .ctx = &b };
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_ptr_nonnull(mkdtemp(b.dir));
	snprintf(b.path, sizeof(b.path), "%s/docker.sock", b.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b.path);
	b.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(b.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(b.listen_fd, 4), 0);
	ck_assert_int_eq(pthread_create(&b.thread, NULL, bridge_main, &b), 0);
	t.endpoint = occ_xstrdup("test://bridge");
	t.socket_path = occ_xstrdup(b.path);
	ck_ok(six_requests(&t, &err), &err, "requests through the bridge");
	/* six_requests freed the transport, so the bridge is down: count is final. */
	ck_assert_int_eq(b.accepts, 1);
}
END_TEST

/* ---- versions, images --------------------------------------------------- */

START_TEST(test_versions)
{
	struct occ_docker_version v;
	struct occ_error err;
	char want[16];

	occ_error_clear(&err);
	ck_ok(occ_docker_versions(&v, drv, &err), &err, "versions");
	ck_assert_str_eq(v.api_version, api);
	ck_ok(occ_docker__negotiate_version(want, v.daemon_api, &err), &err, "negotiate");
	ck_assert_str_eq(v.api_version, want);
	ck_assert_msg(v.version[0] >= '1' && v.version[0] <= '9', "version '%s'", v.version);
	ck_assert_str_eq(v.os, "linux");
}
END_TEST

struct sink {
	int lines, layers;
	struct occ_strbuf text;
};

static void sink_fn(void *ctx, const struct occ_progress *p)
{
	struct sink *s = ctx;

	if (p->kind == OCC_PROGRESS_LINE)
		s->lines++;
	else
		s->layers++;
	occ_strbuf_addf(&s->text, "%s\n", p->text ? p->text : "");
}

START_TEST(test_build)
{
	struct occ_state *st = test_state(project, port);
	struct sink s = { 0 };
	struct occ_error err;
	char *id = NULL;

	occ_error_clear(&err);
	occ_strbuf_init(&s.text);
	st->image.build.enabled = true;
	st->image.build.context = occ_xstrdup(ctx_dir);
	replace(&st->image.build.dockerfile, "Dockerfile");
	drv->progress = (struct occ_progress_sink){ sink_fn, &s };
	must_act(st, OCC_ACT_IMAGE_BUILD, "image", NULL);
	drv->progress = (struct occ_progress_sink){ 0 };
	ck_assert_msg(strstr(s.text.buf, "Step 1/"), "build output: %s", s.text.buf);
	ck_assert_int_gt(s.lines, 3);
	ck_ok(occ_docker__image_id(occ_docker__from(drv), &id, IMAGE, &err), &err, "image id");
	ck_assert(occ_starts_with(id, "sha256:"));
	free(id);
	occ_strbuf_release(&s.text);
	occ_state_free(st);
}
END_TEST

START_TEST(test_build_errors)
{
	struct occ_state *st = test_state(project, port);
	char *bad = occ_xasprintf("%s/bad", ctx_dir), *df = occ_xasprintf("%s/Dockerfile", bad);
	struct occ_error err;

	occ_error_clear(&err);
	ck_ok(occ_mkdir_p(bad, 0755, &err), &err, bad);
	ck_ok(occ_write_file_atomic(df, "FROM scratch\nCOPY missing /x\n", 29, 0644, &err), &err, df);
	replace(&st->image.ref, "occ-test-broken:never");
	st->image.build.enabled = true;
	st->image.build.context = occ_xstrdup(bad);
	ck_assert_int_eq(act(st, OCC_ACT_IMAGE_BUILD, "image", NULL, &err), OCC_EAPI);
	ck_assert_msg(strstr(err.msg, "cannot build image 'occ-test-broken:never': COPY failed"),
		      "%s", err.msg);
	free(bad);
	free(df);
	occ_state_free(st);
}
END_TEST

START_TEST(test_pull_fails)
{
	struct occ_state *st = test_state(project, port);
	struct occ_error err;

	occ_error_clear(&err);
	replace(&st->image.ref, "occ-test-nonexistent/none");
	ck_assert_int_eq(act(st, OCC_ACT_IMAGE_PULL, "image", NULL, &err), OCC_EAPI);
	ck_assert_msg(occ_starts_with(err.msg, "cannot pull image 'occ-test-nonexistent/none': "),
		      "%s", err.msg);
	ck_assert_msg(strstr(err.hint, "image.pull"), "%s", err.hint);
	occ_state_free(st);
}
END_TEST

/* ---- observe, create, start, stop --------------------------------------- */

START_TEST(test_observe_empty)
{
	struct occ_state *st = test_state(project, port);
	struct occ_observed obs;
	struct occ_error err;

	occ_error_clear(&err);
	replace(&st->image.ref, "occ-test-absent:none");
	ck_ok(observe(&obs, st, &err), &err, "observe");
	ck_assert(!obs.image.present);
	ck_assert_str_eq(obs.image.ref, "occ-test-absent:none");
	ck_assert_uint_eq(obs.n_containers, 0);
	ck_assert_uint_eq(obs.n_volumes, 0);
	ck_assert_str_eq(obs.api_version, api);
	ck_assert_ptr_nonnull(obs.daemon_version);
	occ_observed_release(&obs);
	occ_state_free(st);
}
END_TEST

static const struct occ_obs_container *the_container(const struct occ_observed *obs)
{
	ck_assert_uint_eq(obs->n_containers, 1);
	ck_assert_str_eq(obs->containers[0].name, project);
	return &obs->containers[0];
}

START_TEST(test_create_start)
{
	struct occ_state *st = test_state(project, port);
	char hash[OCC_HASH_HEX_LEN + 1];
	const struct occ_obs_container *c;
	struct occ_observed obs;
	struct occ_error err;
	char *body = NULL, *path;

	occ_error_clear(&err);
	track_volume(st);
	must_act(st, OCC_ACT_VOLUME_CREATE, created_vols.v[created_vols.n - 1], NULL);
	must_act(st, OCC_ACT_CONTAINER_CREATE, project, NULL);
	must_act(st, OCC_ACT_CONTAINER_START, project, NULL);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	ck_assert(obs.image.present);
	c = the_container(&obs);
	first_id = occ_xstrdup(c->id);
	ck_assert_int_eq(c->state, OCC_CTR_RUNNING);
	ck_assert(c->owned);
	ck_assert_str_eq(c->project, project);
	ck_assert_int_eq(occ_spec_hash(st, OCC_HASH_VERSION, hash), 0);
	ck_assert_str_eq(c->spec_hash, hash);
	ck_assert_int_eq(c->hash_version, OCC_HASH_VERSION);
	ck_assert_str_eq(c->image_ref, IMAGE);
	ck_assert_str_eq(c->image_id, obs.image.id);
	/* The image's own OCC_TEST_IMAGE and PATH are left out; no users on
	 * loopback: login open; the listen port occ derives. */
	ck_assert_uint_eq(c->env.n, 4);
	ck_assert_str_eq(occ_kvlist_get(&c->env, OCC_LOGIN_ENV), "open");
	ck_assert_str_eq(occ_kvlist_get(&c->env, OCC_LISTEN_PORT_ENV), "3000");
	ck_assert_str_eq(occ_kvlist_get(&c->env, "OCC_TEST_MODE"), "a");
	ck_assert_str_eq(occ_kvlist_get(&c->env, "TZ"), "UTC");
	ck_assert_uint_eq(c->port, port);
	ck_assert_str_eq(c->bind, "127.0.0.1");
	ck_assert_uint_eq(c->container_port, 3000);
	ck_assert_int_eq(c->restart, OCC_RESTART_UNLESS_STOPPED);
	ck_assert(c->init);
	ck_assert_str_eq(c->security, "drop ALL; add CHOWN,KILL,SETGID,SETUID; no-new-privileges");
	ck_assert_str_eq(c->log, "json-file max-size=10m max-file=3");
	ck_assert_int_eq(c->pids_limit, OCC_DEFAULT_PIDS_LIMIT);
	ck_assert_uint_eq(c->n_mounts, 1);
	ck_assert_str_eq(c->mounts[0].source, mount_dir);
	ck_assert(c->mounts[0].readonly);
	ck_assert_uint_eq(c->n_volumes, 1);
	ck_assert_str_eq(c->volumes[0].name, created_vols.v[created_vols.n - 1]);
	ck_assert_str_eq(c->volumes[0].target, "/data");
	ck_assert_ptr_nonnull(c->started_at);
	ck_assert_uint_eq(obs.n_volumes, 1);
	ck_assert(obs.volumes[0].owned);
	path = occ_xasprintf("/containers/%s/json", c->id);
	ck_assert_int_eq(raw("GET", path, NULL, &body), 200);
	ck_assert_msg(strstr(body, "\"dev.opencode-cloud.image-id\":\"sha256:"), "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "\"dev.opencode-cloud.managed-by\":\"occ\""));
	free(body);
	free(path);
	occ_observed_release(&obs);
	occ_state_free(st);
}
END_TEST

START_TEST(test_wait_healthy_http)
{
	struct occ_state *st = test_state(project, port);
	struct occ_error err;

	occ_error_clear(&err);
	st->container.health.path = occ_xstrdup("/healthz");
	ck_ok(occ_driver_wait_healthy(drv, st, 10000, &err), &err, "wait_healthy");
	free(st->container.health.path);
	st->container.health.path = NULL;
	ck_ok(occ_driver_wait_healthy(drv, st, 5000, &err), &err, "wait_healthy (running)");
	occ_state_free(st);
}
END_TEST

/* The container runs, but the probed port belongs to a socket that never answers. */
START_TEST(test_wait_healthy_timeout)
{
	uint16_t silent = free_port();
	struct occ_state *st = test_state(project, silent);
	struct occ_error err;
	uint64_t t0;
	int fd = listen_on(silent);

	occ_error_clear(&err);
	st->container.health.path = occ_xstrdup("healthz");
	t0 = occ_now_ms();
	ck_assert_int_eq(occ_driver_wait_healthy(drv, st, 1500, &err), OCC_EUNHEALTHY);
	ck_assert_uint_lt(occ_now_ms() - t0, 3500);
	ck_assert_msg(strstr(err.msg, "did not answer http://127.0.0.1:") &&
		      strstr(err.msg, "/healthz within 1.5 s"), "%s", err.msg);
	close(fd);
	occ_state_free(st);
}
END_TEST

struct logs {
	struct occ_strbuf out, err;
};

static void logs_write(void *ctx, int stream, const char *data, size_t n)
{
	struct logs *l = ctx;

	occ_strbuf_add(stream == 2 ? &l->err : &l->out, data, n);
}

START_TEST(test_logs)
{
	struct occ_docker_logs_opts o = { .tail = -1, .timestamps = true };
	struct logs l;
	struct occ_error err;

	occ_error_clear(&err);
	occ_strbuf_init(&l.out);
	occ_strbuf_init(&l.err);
	ck_ok(occ_docker_logs(drv, project, NULL, logs_write, &l, &err), &err, "logs");
	ck_assert_str_eq(l.out.buf, "occ-test-stdout\n");
	ck_assert_str_eq(l.err.buf, "occ-test-stderr\n");
	occ_strbuf_reset(&l.out);
	occ_strbuf_reset(&l.err);
	ck_ok(occ_docker_logs(drv, project, &o, logs_write, &l, &err), &err, "logs -t");
	ck_assert_msg(occ_starts_with(l.out.buf, "20") && strstr(l.out.buf, "Z occ-test-stdout\n"),
		      "%s", l.out.buf);
	ck_assert_int_eq(occ_docker_logs(drv, "occ-test-no-such-container", NULL, logs_write, &l,
					 &err), OCC_ENOTFOUND);
	occ_strbuf_release(&l.out);
	occ_strbuf_release(&l.err);
}
END_TEST

static char *current_id(const struct occ_state *st)
{
	struct occ_observed obs;
	struct occ_error err;
	char *id;

	occ_error_clear(&err);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	id = occ_xstrdup(the_container(&obs)->id);
	occ_observed_release(&obs);
	return id;
}

static enum occ_ctr_state state_of(const struct occ_state *st)
{
	struct occ_observed obs;
	struct occ_error err;
	enum occ_ctr_state s;

	occ_error_clear(&err);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	s = the_container(&obs)->state;
	occ_observed_release(&obs);
	return s;
}

START_TEST(test_stop_start)
{
	struct occ_state *st = test_state(project, port);

	must_act(st, OCC_ACT_CONTAINER_STOP, project, first_id);
	ck_assert_int_eq(state_of(st), OCC_CTR_EXITED);
	must_act(st, OCC_ACT_CONTAINER_STOP, project, first_id);   /* already stopped */
	must_act(st, OCC_ACT_CONTAINER_START, project, first_id);
	ck_assert_int_eq(state_of(st), OCC_CTR_RUNNING);
	must_act(st, OCC_ACT_CONTAINER_START, project, NULL);      /* already running */
	occ_state_free(st);
}
END_TEST

START_TEST(test_port_in_use)
{
	struct occ_state *st = test_state(project, port);
	struct occ_error err;
	char want[128];
	int fd;

	occ_error_clear(&err);
	must_act(st, OCC_ACT_CONTAINER_STOP, project, first_id);
	fd = listen_on(port);
	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_START, project, first_id, &err), OCC_EPORT);
	snprintf(want, sizeof(want), "cannot start container '%s': port 127.0.0.1:%u is already "
		 "in use", project, (unsigned)port);
	ck_assert_str_eq(err.msg, want);
	ck_assert(err.hint[0]);
	close(fd);
	must_act(st, OCC_ACT_CONTAINER_START, project, first_id);
	ck_assert_int_eq(state_of(st), OCC_CTR_RUNNING);
	occ_state_free(st);
}
END_TEST

/* ---- recreate ----------------------------------------------------------- */

START_TEST(test_recreate)
{
	struct occ_state *st = test_state(project, port);
	const struct occ_obs_container *c;
	struct occ_observed obs;
	struct occ_error err;

	occ_error_clear(&err);
	occ_kvlist_set(&st->container.env, "OCC_TEST_MODE", "b");
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	c = the_container(&obs);          /* one container: no -occ-next left */
	ck_assert_str_ne(c->id, first_id);
	ck_assert_str_eq(occ_kvlist_get(&c->env, "OCC_TEST_MODE"), "b");
	ck_assert_int_eq(c->state, OCC_CTR_RUNNING);
	ck_assert(!container_exists(first_id));
	free(first_id);
	first_id = occ_xstrdup(c->id);
	occ_observed_release(&obs);
	st->container.health.path = occ_xstrdup("/healthz");
	ck_ok(occ_driver_wait_healthy(drv, st, 10000, &err), &err, "healthy after recreate");
	occ_state_free(st);
}
END_TEST

/* The new container cannot start: the old one is back and running, alone. */
START_TEST(test_recreate_rollback)
{
	uint16_t taken = free_port();
	struct occ_state *st = test_state(project, taken);
	const struct occ_obs_container *c;
	struct occ_observed obs;
	struct occ_error err;
	int fd = listen_on(taken);

	occ_error_clear(&err);
	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id, &err), OCC_EPORT);
	ck_assert_msg(strstr(err.msg, "is already in use; the previous container is running again"),
		      "%s", err.msg);
	close(fd);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	c = the_container(&obs);
	ck_assert_str_eq(c->id, first_id);
	ck_assert_int_eq(c->state, OCC_CTR_RUNNING);
	ck_assert_uint_eq(c->port, port);
	occ_observed_release(&obs);
	occ_state_free(st);
}
END_TEST

/* What an interrupted recreate leaves: a stray "-occ-next" of ours (removed),
 * or the service itself under that name (renamed back, then replaced). */
START_TEST(test_recreate_leftovers)
{
	struct occ_state *st = test_state(project, port);
	char *next = occ_xasprintf("%s%s", project, OCC_DOCKER_NEXT_SUFFIX);
	char *path = occ_xasprintf("/containers/create?name=%s", next);
	char *path_old = occ_xasprintf("/containers/create?name=%s%s", project,
				       OCC_DOCKER_OLD_SUFFIX);
	char *body = occ_xasprintf("{\"Image\":\"" IMAGE "\",\"Labels\":{\"%s\":\"%s\","
				   "\"%s\":\"occ\"}}", OCC_LABEL_PROJECT, project,
				   OCC_LABEL_MANAGED_BY);
	char *rename;

	ck_assert_int_eq(raw("POST", path, body, NULL), 201);
	ck_assert_int_eq(raw("POST", path_old, body, NULL), 201);
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	free(first_id);
	first_id = current_id(st);            /* one container: the stray is gone */
	rename = occ_xasprintf("/containers/%s/rename?name=%s", first_id, next);
	ck_assert_int_eq(raw("POST", rename, NULL, NULL), 204);
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	ck_assert(!container_exists(first_id));
	free(first_id);
	first_id = current_id(st);
	ck_assert_int_eq(state_of(st), OCC_CTR_RUNNING);
	free(rename);
	free(body);
	free(path);
	free(path_old);
	free(next);
	occ_state_free(st);
}
END_TEST

/* The new service dies at once: the recreate itself succeeds (the start
 * did), and the health wait reports the exit. */
START_TEST(test_recreate_crashing)
{
	struct occ_state *st = test_state(project, port);
	struct occ_error err;

	occ_error_clear(&err);
	st->container.restart = OCC_RESTART_NO;
	occ_kvlist_set(&st->container.env, "TEST_EXIT", "3");
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	ck_assert_int_eq(occ_driver_wait_healthy(drv, st, 5000, &err), OCC_EUNHEALTHY);
	ck_assert_msg(strstr(err.msg, "exited with code 3"), "%s", err.msg);
	free(first_id);
	first_id = current_id(st);
	occ_state_free(st);
	st = test_state(project, port);
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	ck_ok(occ_driver_wait_healthy(drv, st, 5000, &err), &err, "healthy again");
	free(first_id);
	first_id = current_id(st);
	occ_state_free(st);
}
END_TEST

START_TEST(test_recreate_stopped)
{
	struct occ_state *st = test_state(project, port);
	struct occ_error err;

	occ_error_clear(&err);
	st->container.running = false;
	occ_kvlist_set(&st->container.env, "OCC_TEST_MODE", "c");
	must_act(st, OCC_ACT_CONTAINER_RECREATE, project, first_id);
	ck_assert_int_eq(state_of(st), OCC_CTR_CREATED);
	free(first_id);
	first_id = current_id(st);
	must_act(st, OCC_ACT_CONTAINER_START, project, NULL);
	ck_assert_int_eq(state_of(st), OCC_CTR_RUNNING);
	occ_state_free(st);
}
END_TEST

/* ---- objects occ does not own ------------------------------------------- */

START_TEST(test_foreign)
{
	struct occ_state *st = test_state(foreign_project, free_port());
	char *path = occ_xasprintf("/containers/create?name=%s", foreign_project);
	char *body = NULL, *id = NULL, *vol_body;
	struct occ_observed obs;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(raw("POST", path, "{\"Image\":\"" IMAGE "\"}", &body), 201);
	ck_ok(occ_docker__parse_id(&id, body, strlen(body), &err), &err, "id");
	occ_docker__strv_push(&created_ctrs, id);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	ck_assert_uint_eq(obs.n_containers, 1);
	ck_assert(!obs.containers[0].owned);
	ck_assert_ptr_null(obs.containers[0].project);   /* nothing inherited from the image */
	occ_observed_release(&obs);

	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_CREATE, foreign_project, NULL, &err),
			 OCC_ECONFLICT);
	ck_assert_msg(strstr(err.msg, "which occ does not manage"), "%s", err.msg);
	ck_assert(err.hint[0]);
	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_REMOVE, foreign_project, id, &err), OCC_ECONFLICT);
	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_STOP, foreign_project, id, &err), OCC_ECONFLICT);
	ck_assert_int_eq(act(st, OCC_ACT_CONTAINER_RECREATE, foreign_project, id, &err),
			 OCC_ECONFLICT);
	ck_assert(container_exists(id));

	/* A volume with the project's name, not made by occ. */
	track_volume(st);
	vol_body = occ_xasprintf("{\"Name\":\"%s\"}", created_vols.v[created_vols.n - 1]);
	ck_assert_int_eq(raw("POST", "/volumes/create", vol_body, NULL), 201);
	ck_assert_int_eq(act(st, OCC_ACT_VOLUME_CREATE, created_vols.v[created_vols.n - 1], NULL,
			     &err), OCC_ECONFLICT);
	ck_ok(observe(&obs, st, &err), &err, "observe");
	ck_assert_uint_eq(obs.n_volumes, 1);
	ck_assert(!obs.volumes[0].owned);
	occ_observed_release(&obs);
	free(vol_body);
	free(body);
	free(id);
	free(path);
	occ_state_free(st);
}
END_TEST

/* A service that dies: the wait ends at once with the exit code and output. */
START_TEST(test_wait_healthy_exit)
{
	char *name = occ_xasprintf("%s-exit", project);
	struct occ_state *st = test_state(name, free_port());
	struct occ_error err;
	uint64_t t0;

	occ_error_clear(&err);
	st->container.restart = OCC_RESTART_NO;
	occ_kvlist_set(&st->container.env, "TEST_EXIT", "3");
	must_act(st, OCC_ACT_CONTAINER_CREATE, name, NULL);
	must_act(st, OCC_ACT_CONTAINER_START, name, NULL);
	st->container.health.path = occ_xstrdup("/healthz");
	t0 = occ_now_ms();
	ck_assert_int_eq(occ_driver_wait_healthy(drv, st, 30000, &err), OCC_EUNHEALTHY);
	ck_assert_uint_lt(occ_now_ms() - t0, 10000);
	ck_assert_msg(strstr(err.msg, "exited with code 3; last output:\n") &&
		      strstr(err.msg, "exiting with 3"), "%s", err.msg);
	free(st->container.health.path);
	st->container.health.path = NULL;
	ck_assert_int_eq(occ_driver_wait_healthy(drv, st, 1000, &err), OCC_EUNHEALTHY);
	ck_assert_msg(strstr(err.msg, "exited with code 3"), "%s", err.msg);
	occ_state_free(st);
	free(name);
}
END_TEST

START_TEST(test_remove)
{
	struct occ_state *st = test_state(project, port);
	struct occ_observed obs;
	struct occ_error err;

	occ_error_clear(&err);
	must_act(st, OCC_ACT_CONTAINER_REMOVE, project, first_id);
	must_act(st, OCC_ACT_CONTAINER_REMOVE, project, first_id);   /* already gone */
	ck_ok(observe(&obs, st, &err), &err, "observe");
	ck_assert_uint_eq(obs.n_containers, 0);
	ck_assert_uint_eq(obs.n_volumes, 1);   /* volumes are never removed */
	occ_observed_release(&obs);
	occ_state_free(st);
}
END_TEST

static Suite *docker_suite(void)
{
	Suite *s = suite_create("docker");
	TCase *tc = tcase_create("daemon");

	tcase_add_unchecked_fixture(tc, setup_all, teardown_all);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_refused_and_silent);
	tcase_add_test(tc, test_transport_hook);
	tcase_add_test(tc, test_transport_bridge);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_build);
	tcase_add_test(tc, test_build_errors);
	tcase_add_test(tc, test_pull_fails);
	tcase_add_test(tc, test_observe_empty);
	tcase_add_test(tc, test_create_start);
	tcase_add_test(tc, test_wait_healthy_http);
	tcase_add_test(tc, test_wait_healthy_timeout);
	tcase_add_test(tc, test_logs);
	tcase_add_test(tc, test_stop_start);
	tcase_add_test(tc, test_port_in_use);
	tcase_add_test(tc, test_recreate);
	tcase_add_test(tc, test_recreate_rollback);
	tcase_add_test(tc, test_recreate_leftovers);
	tcase_add_test(tc, test_recreate_crashing);
	tcase_add_test(tc, test_recreate_stopped);
	tcase_add_test(tc, test_foreign);
	tcase_add_test(tc, test_wait_healthy_exit);
	tcase_add_test(tc, test_remove);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (skip()) {
		printf("test-docker: skipped (OCC_TEST_NO_DOCKER=1)\n");
		return EXIT_SUCCESS;
	}
	sr = srunner_create(docker_suite());
	/* One process: the tests share the image and containers, and the
	 * teardown must run even after a failed assertion. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
