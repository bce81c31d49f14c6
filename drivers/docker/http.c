/*
 * http.c - the transport (where the daemon is) and the HTTP client on top.
 *
 * One curl easy handle per driver, reset and set up afresh for every request:
 * curl_easy_reset() keeps live connections, so consecutive calls reuse one
 * socket (no connect per call). Sockets are always opened here (O_CLOEXEC);
 * a transport with an open_socket hook (SSH, later) hands over a connected
 * socket and curl skips its own connect. The unix socket path is set either
 * way, so curl never resolves the URL's host name.
 */
#include "drivers/docker/docker-int.h"
#include "drivers/driver.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define DEFAULT_TIMEOUT_MS 60000L
#define PING_TIMEOUT_MS    10000L
#define CONNECT_TIMEOUT_MS 5000L

/* One easy handle and the error buffer it writes to (which must outlive it). */
struct handle {
	CURL *c;
	char errbuf[CURL_ERROR_SIZE];
};

struct occ_docker_http {
	struct occ_docker_transport t;
	CURL *curl;            /* == one.c: sequential requests */
	struct handle one;
	struct handle par[OCC_DOCKER_PARALLEL];  /* concurrent requests, made on first use */
	CURLM *multi;
	char api[16];          /* negotiated; "" until then */
	char daemon_api[16];
	char server_version[64];  /* from the _ping's Server header */
	long timeout_ms;
	bool global_init;      /* curl_global_init() succeeded: clean up once */
	const struct occ_trace_sink *trace; /* the driver's; NULL = none */
};

/* One request in flight: what the curl callbacks see. */
struct xfer {
	struct occ_docker_http *h;
	struct handle *hd;     /* the easy handle it runs on */
	const struct occ_docker_req *req;
	struct occ_docker_resp *resp;
	struct curl_slist *hdrs;
	char *url;
	uint64_t t0;
	struct occ_error cb_err;
	int cb_code;           /* a callback failed with this code */
	bool too_large;
};

int occ_docker__transport_from_host(struct occ_docker_transport *out,
				    const char *docker_host, struct occ_error *err)
{
	struct sockaddr_un sun;
	const char *host = docker_host, *path;

	if (!host || !*host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host)
		host = "unix://" OCC_DOCKER_DEFAULT_SOCKET;
	if (!occ_starts_with(host, "unix://")) {
		occ_error_set(err, OCC_EINVALID,
			      "unsupported DOCKER_HOST '%s': only unix:// is supported; "
			      "for remote hosts use hosts: in the state file", host);
		occ_error_hint(err, "unset DOCKER_HOST, or list the machine under hosts: in the state file");
		return err->code;
	}
	path = host + strlen("unix://");
	if (path[0] != '/')
		return occ_error_set(err, OCC_EINVALID,
				     "DOCKER_HOST '%s' does not name an absolute socket path", host);
	if (strlen(path) >= sizeof(sun.sun_path))
		return occ_error_set(err, OCC_EINVALID,
				     "DOCKER_HOST '%s': the socket path is too long", host);
	memset(out, 0, sizeof(*out));
	out->endpoint = occ_xasprintf("unix://%s", path);
	out->socket_path = occ_xstrdup(path);
	out->parallel = true;
	return 0;
}

void occ_docker__transport_release(struct occ_docker_transport *t)
{
	if (t->free_ctx && t->ctx)
		t->free_ctx(t->ctx);
	free(t->endpoint);
	free(t->socket_path);
	memset(t, 0, sizeof(*t));
}

static const char *const start_hint =
	"is dockerd running? start it with 'systemctl start docker' or 'dockerd &'";

int occ_docker__connect_error(struct occ_error *err, const char *endpoint,
			      enum occ_docker_fail fail, int os_errno, const char *detail)
{
	const char *why = detail && *detail ? detail : "unknown error";

	if (fail == OCC_DOCKER_FAIL_TIMEOUT) {
		occ_error_set(err, OCC_EDAEMON, "the Docker daemon at %s did not answer in time",
			      endpoint);
		occ_error_hint(err, "dockerd may be hung or overloaded; check its log");
		return err->code;
	}
	if (fail == OCC_DOCKER_FAIL_LOST) {
		occ_error_set(err, OCC_EDAEMON,
			      "the Docker daemon at %s closed the connection: %s", endpoint, why);
		occ_error_hint(err, "%s", start_hint);
		return err->code;
	}
	if (fail == OCC_DOCKER_FAIL_CONNECT && (os_errno == EACCES || os_errno == EPERM)) {
		occ_error_set(err, OCC_EPERM,
			      "cannot connect to the Docker daemon at %s: permission denied",
			      endpoint);
		err->sys_errno = os_errno;
		occ_error_hint(err, "add your user to the 'docker' group "
			       "('sudo usermod -aG docker $USER') and log in again");
		return err->code;
	}
	if (fail == OCC_DOCKER_FAIL_CONNECT && os_errno == ENOENT)
		occ_error_set(err, OCC_EDAEMON,
			      "cannot connect to the Docker daemon at %s: no such socket", endpoint);
	else if (fail == OCC_DOCKER_FAIL_CONNECT && os_errno == ECONNREFUSED)
		occ_error_set(err, OCC_EDAEMON,
			      "cannot connect to the Docker daemon at %s: connection refused", endpoint);
	else if (fail == OCC_DOCKER_FAIL_CONNECT && os_errno)
		occ_error_set(err, OCC_EDAEMON, "cannot connect to the Docker daemon at %s: %s",
			      endpoint, strerror(os_errno));
	else
		occ_error_set(err, OCC_EDAEMON, "cannot talk to the Docker daemon at %s: %s",
			      endpoint, why);
	err->sys_errno = os_errno;
	occ_error_hint(err, "%s", start_hint);
	return err->code;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "something else";
}

int occ_docker__socket_path_error(struct occ_error *err, const char *path)
{
	struct stat st;
	int rc;

	/* Missing, or a socket: connect's own error says it (no such socket,
	 * connection refused: is dockerd running?). */
	if (!path)
		return 0;
	rc = stat(path, &st);
	if (rc < 0 && errno == ENOTDIR)
		occ_error_set(err, OCC_EDAEMON, "cannot connect to Docker at %s: a part of that "
			      "path is not a directory", path);
	else if (rc == 0 && !S_ISSOCK(st.st_mode))
		occ_error_set(err, OCC_EDAEMON, "cannot connect to Docker at %s: it is %s, not a "
			      "socket", path, file_kind(st.st_mode));
	else
		return 0;
	occ_error_hint(err, "point DOCKER_HOST (or socket: of the host in the state file) at "
		       "dockerd's unix socket, e.g. unix://%s", OCC_DOCKER_DEFAULT_SOCKET);
	return err->code;
}

/* "1.41" -> 1, 41; digits only. */
static bool parse_api(const char *s, long *major, long *minor)
{
	const char *dot = strchr(s, '.');
	char buf[16];

	if (!dot || (size_t)(dot - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(dot - s));
	buf[dot - s] = '\0';
	return occ_parse_long(buf, 0, 99, major) == 0 &&
	       occ_parse_long(dot + 1, 0, 999, minor) == 0;
}

int occ_docker__negotiate_version(char out[16], const char *daemon_api,
				  struct occ_error *err)
{
	long major, minor;

	if (!daemon_api || !parse_api(daemon_api, &major, &minor))
		return occ_error_set(err, OCC_EAPI,
				     "the Docker daemon reported no usable API version ('%s')",
				     daemon_api ? daemon_api : "");
	if (major < OCC_DOCKER_API_MIN_MAJOR ||
	    (major == OCC_DOCKER_API_MIN_MAJOR && minor < OCC_DOCKER_API_MIN_MINOR)) {
		occ_error_set(err, OCC_EVERSION,
			      "the Docker daemon speaks API %ld.%ld; occ needs %d.%d or newer",
			      major, minor, OCC_DOCKER_API_MIN_MAJOR, OCC_DOCKER_API_MIN_MINOR);
		occ_error_hint(err, "upgrade Docker Engine to 19.03 or newer");
		return err->code;
	}
	if (major > OCC_DOCKER_API_MAX_MAJOR ||
	    (major == OCC_DOCKER_API_MAX_MAJOR && minor > OCC_DOCKER_API_MAX_MINOR)) {
		major = OCC_DOCKER_API_MAX_MAJOR;
		minor = OCC_DOCKER_API_MAX_MINOR;
	}
	snprintf(out, 16, "%ld.%ld", major, minor);
	return 0;
}

void occ_docker__resp_init(struct occ_docker_resp *r)
{
	memset(r, 0, sizeof(*r));
	occ_strbuf_init(&r->body);
}

void occ_docker__resp_release(struct occ_docker_resp *r)
{
	occ_strbuf_release(&r->body);
}

/*
 * libcurl 7.88.x connects even when CURLOPT_SOCKOPTFUNCTION says the socket
 * is already connected (curl issue #10626, fixed in 8.0.0), so a handed-over
 * socket fails there with EISCONN. A transport for those versions serves a
 * private unix socket path instead (a local bridge) and leaves open_socket NULL.
 */
bool occ_docker__curl_takes_connected_sockets(void)
{
	unsigned v = curl_version_info(CURLVERSION_NOW)->version_num;

	return v < 0x075800 || v >= 0x080000;
}

int occ_docker__http_new(struct occ_docker_http **out, struct occ_docker_transport *t,
			 struct occ_error *err)
{
	struct occ_docker_http *h = occ_xcalloc(1, sizeof(*h));
	int ret = 0;

	h->t = *t;
	memset(t, 0, sizeof(*t));
	h->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (h->t.open_socket && !occ_docker__curl_takes_connected_sockets()) {
		ret = occ_error_set(err, OCC_EGENERIC,
				    "libcurl %s cannot use an already-connected socket for %s",
				    curl_version_info(CURLVERSION_NOW)->version, h->t.endpoint);
		occ_error_hint(err, "upgrade libcurl to 8.0 or newer");
		goto out;
	}
	h->global_init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	h->one.c = h->global_init ? curl_easy_init() : NULL;
	h->curl = h->one.c;
	if (!h->curl)
		ret = occ_error_set(err, OCC_EGENERIC, "cannot initialise libcurl");
out:
	if (ret) {
		occ_docker__http_free(h);
		return ret;
	}
	*out = h;
	return 0;
}

void occ_docker__http_free(struct occ_docker_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < OCC_DOCKER_PARALLEL; i++) {
		if (h->multi && h->par[i].c)
			curl_multi_remove_handle(h->multi, h->par[i].c);
		if (h->par[i].c)
			curl_easy_cleanup(h->par[i].c);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->curl)
		curl_easy_cleanup(h->curl);
	if (h->global_init)
		curl_global_cleanup();
	occ_docker__transport_release(&h->t);
	free(h);
}

const char *occ_docker__http_server_version(const struct occ_docker_http *h)
{
	return h->server_version;
}

const char *occ_docker__http_api_version(const struct occ_docker_http *h)
{
	return h->api[0] ? h->api : NULL;
}

const char *occ_docker__http_endpoint(const struct occ_docker_http *h)
{
	return h->t.endpoint;
}

const struct occ_docker_transport *occ_docker__http_transport(const struct occ_docker_http *h)
{
	return &h->t;
}

void occ_docker__http_set_timeout(struct occ_docker_http *h, long timeout_ms)
{
	h->timeout_ms = timeout_ms;
}

void occ_docker__http_set_trace(struct occ_docker_http *h, const struct occ_trace_sink *sink)
{
	h->trace = sink;
}

/* The path as traced: a build's args (buildargs=, which may hold tokens)
 * are left out. */
static char *trace_path(const char *path)
{
	const char *args = strstr(path, "buildargs="), *end;

	if (!args)
		return occ_xstrdup(path);
	end = strchr(args, '&');
	return occ_xasprintf("%.*sbuildargs=(not shown)%s", (int)(args - path), path,
			     end ? end : "");
}

static void trace(struct occ_docker_http *h, const struct occ_docker_req *req, long status,
		  uint64_t t0, int ret)
{
	char line[1024], *path;

	if (!h->trace || !h->trace->fn)
		return;
	path = trace_path(req->path);
	if (ret)
		snprintf(line, sizeof(line), "docker: %s %s%s%s -> failed (%llu ms)", req->method,
			 req->unversioned ? "" : "/v", req->unversioned ? "" : h->api, path,
			 (unsigned long long)(occ_now_ms() - t0));
	else
		snprintf(line, sizeof(line), "docker: %s %s%s%s -> %ld (%llu ms)", req->method,
			 req->unversioned ? "" : "/v", req->unversioned ? "" : h->api, path,
			 status, (unsigned long long)(occ_now_ms() - t0));
	free(path);
	h->trace->fn(h->trace->ctx, line);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->hd->c, CURLINFO_RESPONSE_CODE, &status);
	if (x->req->on_data && status >= 200 && status < 300) {
		x->cb_code = x->req->on_data(x->req->data_ctx, data, n, &x->cb_err);
		return x->cb_code ? 0 : n;
	}
	if (x->resp->body.len + n > OCC_DOCKER_MAX_RESPONSE) {
		x->too_large = true;
		return 0;
	}
	occ_strbuf_add(&x->resp->body, data, n);
	return n;
}

/* Copy a header's value (trimmed) when its name matches. */
static void header_value(const char *line, size_t n, const char *name,
			 char *dst, size_t dst_len)
{
	size_t name_len = strlen(name), v, end;

	if (n <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
		return;
	for (v = name_len + 1; v < n && line[v] == ' '; v++)
		;
	for (end = n; end > v && (line[end - 1] == '\r' || line[end - 1] == '\n' ||
				  line[end - 1] == ' '); end--)
		;
	snprintf(dst, dst_len, "%.*s", (int)(end - v), line + v);
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;

	header_value(line, n, "Api-Version", x->resp->api_version,
		     sizeof(x->resp->api_version));
	header_value(line, n, "Server", x->resp->server, sizeof(x->resp->server));
	header_value(line, n, "X-Docker-Container-Path-Stat", x->resp->path_stat,
		     sizeof(x->resp->path_stat));
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = 0;

	x->cb_code = x->req->read_body(x->req->read_ctx, buf, size * nmemb, &n, &x->cb_err);
	return x->cb_code ? CURL_READFUNC_ABORT : n;
}

static curl_socket_t on_opensocket(void *userp, curlsocktype purpose,
				   struct curl_sockaddr *addr)
{
	struct xfer *x = userp;
	int fd;

	(void)purpose;
	if (x->h->t.open_socket) {
		fd = x->h->t.open_socket(x->h->t.ctx, &x->cb_err);
		if (fd < 0)
			x->cb_code = x->cb_err.code ? x->cb_err.code : OCC_EDAEMON;
		return fd < 0 ? CURL_SOCKET_BAD : fd;
	}
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int on_sockopt(void *userp, curl_socket_t fd, curlsocktype purpose)
{
	struct xfer *x = userp;

	(void)fd;
	(void)purpose;
	return x->h->t.open_socket ? CURL_SOCKOPT_ALREADY_CONNECTED : CURL_SOCKOPT_OK;
}

static void set_method(CURL *c, const struct occ_docker_req *req, struct xfer *x,
		       struct curl_slist **hdrs)
{
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		return;
	}
	if (strcmp(req->method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->read_body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		*hdrs = curl_slist_append(*hdrs, "Transfer-Encoding: chunked");
	} else if (req->body || strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(req->body ? req->body_len : 0));
	}
	if (req->body || req->read_body) {
		char *ct = occ_xasprintf("Content-Type: %s",
					 req->content_type ? req->content_type : "application/json");

		*hdrs = curl_slist_append(*hdrs, ct);
		free(ct);
	}
}

static void set_options(struct xfer *x, const char *url, struct curl_slist **hdrs)
{
	struct occ_docker_http *h = x->h;
	const struct occ_docker_req *req = x->req;
	CURL *c = x->hd->c;
	long timeout = req->timeout_ms ? req->timeout_ms : h->timeout_ms;

	curl_easy_reset(c);
	x->hd->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->t.socket_path);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->hd->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	if (timeout > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, x);
	/* Large POST bodies would otherwise wait a second for "100 Continue". */
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	set_method(c, req, x, hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
}

/*
 * Fault injection, a test aid (tests/test-faults.c): with
 * OCC_FAULT_KILL_AFTER=N in the environment occ sends itself SIGKILL right
 * after the answer to its N-th state-changing request (any method but GET
 * and HEAD) arrived, as if the machine lost power there; with
 * OCC_FAULT_STOP_AFTER=N it sends itself SIGSTOP instead, so a test can do
 * something to the daemon while occ is frozen and then SIGCONT it. The
 * variables are read once per process and count over the whole process
 * (every driver, every reconcile of `occ watch`; with several hosts in
 * threads the count is approximate, which a test aid can live with). Unset,
 * this is one comparison per request.
 */
struct fault {
	bool read;
	long kill_after, stop_after, count;
};

static struct fault fault;

static long fault_env(const char *name)
{
	const char *v = getenv(name);
	long n = 0;

	if (v && *v && occ_parse_long(v, 1, 1L << 30, &n) != 0)
		n = 0;
	return n;
}

static void fault_point(const struct occ_docker_req *req)
{
	if (!fault.read) {
		fault.kill_after = fault_env("OCC_FAULT_KILL_AFTER");
		fault.stop_after = fault_env("OCC_FAULT_STOP_AFTER");
		fault.read = true;
	}
	if ((!fault.kill_after && !fault.stop_after) || strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0)
		return;
	fault.count++;
	if (fault.count == fault.kill_after)
		raise(SIGKILL);
	if (fault.count == fault.stop_after)
		raise(SIGSTOP);
}

enum occ_docker_fail occ_docker__fail_kind(int curl_code)
{
	switch ((CURLcode)curl_code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return OCC_DOCKER_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return OCC_DOCKER_FAIL_TIMEOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return OCC_DOCKER_FAIL_LOST;
	default:
		return OCC_DOCKER_FAIL_OTHER;
	}
}

static void prepare(struct xfer *x, struct occ_docker_http *h, struct handle *hd,
		    const struct occ_docker_req *req, struct occ_docker_resp *resp)
{
	memset(x, 0, sizeof(*x));
	x->h = h;
	x->hd = hd;
	x->req = req;
	x->resp = resp;
	x->t0 = occ_now_ms();
	x->url = req->unversioned ? occ_xasprintf("http://docker%s", req->path)
				  : occ_xasprintf("http://docker/v%s%s", h->api, req->path);
	set_options(x, x->url, &x->hdrs);
}

/* The outcome of a finished transfer (rc: curl's result), traced; frees x's parts. */
static int finish(struct xfer *x, CURLcode rc, struct occ_error *err)
{
	struct occ_docker_http *h = x->h;
	const struct occ_docker_req *req = x->req;
	long os_errno = 0;
	int ret = 0;

	if (x->cb_code) {
		*err = x->cb_err;
		ret = x->cb_code;
	} else if (x->too_large) {
		ret = occ_error_set(err, OCC_EAPI,
				    "the Docker daemon at %s sent a response larger than %u MiB to %s %s",
				    h->t.endpoint, OCC_DOCKER_MAX_RESPONSE >> 20, req->method, req->path);
	} else if (rc != CURLE_OK) {
		curl_easy_getinfo(x->hd->c, CURLINFO_OS_ERRNO, &os_errno);
		ret = occ_docker__connect_error(err, h->t.endpoint, occ_docker__fail_kind(rc),
						(int)os_errno,
						x->hd->errbuf[0] ? x->hd->errbuf : curl_easy_strerror(rc));
		/* Not a socket at all: say what it is rather than blame dockerd. */
		if (!h->t.open_socket && occ_docker__fail_kind(rc) == OCC_DOCKER_FAIL_CONNECT)
			occ_docker__socket_path_error(err, h->t.socket_path);
		/* A tunnelled transport knows why (the SSH host is unreachable). */
		if (h->t.explain)
			h->t.explain(h->t.ctx, err);
		ret = err->code;
	} else {
		curl_easy_getinfo(x->hd->c, CURLINFO_RESPONSE_CODE, &x->resp->status);
	}
	trace(h, req, x->resp->status, x->t0, ret);
	if (!ret)
		fault_point(req);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	free(x->url);
	x->url = NULL;
	return ret;
}

static int perform(struct occ_docker_http *h, const struct occ_docker_req *req,
		   struct occ_docker_resp *resp, struct occ_error *err)
{
	struct xfer x;

	prepare(&x, h, &h->one, req, resp);
	return finish(&x, curl_easy_perform(h->curl), err);
}

int occ_docker__http_negotiate(struct occ_docker_http *h, struct occ_error *err)
{
	struct occ_docker_req req = {
		.method = "GET", .path = "/_ping", .unversioned = true,
		.timeout_ms = h->timeout_ms < PING_TIMEOUT_MS ? h->timeout_ms : PING_TIMEOUT_MS,
	};
	struct occ_docker_resp resp;
	int ret;

	if (h->api[0])
		return 0;
	occ_docker__resp_init(&resp);
	ret = perform(h, &req, &resp, err);
	if (ret)
		goto out;
	if (resp.status != 200) {
		ret = occ_error_set(err, OCC_EDAEMON,
				    "the Docker daemon at %s answered its health check with HTTP %ld",
				    h->t.endpoint, resp.status);
		goto out;
	}
	ret = occ_docker__negotiate_version(h->api, resp.api_version, err);
	if (ret)
		goto out;
	snprintf(h->daemon_api, sizeof(h->daemon_api), "%s", resp.api_version);
	if (strncmp(resp.server, "Docker/", 7) == 0)
		snprintf(h->server_version, sizeof(h->server_version), "%.*s",
			 (int)strcspn(resp.server + 7, " "), resp.server + 7);
out:
	occ_docker__resp_release(&resp);
	return ret;
}

int occ_docker__http_do(struct occ_docker_http *h, const struct occ_docker_req *req,
			struct occ_docker_resp *resp, struct occ_error *err)
{
	int ret;

	if (!req->unversioned) {
		ret = occ_docker__http_negotiate(h, err);
		if (ret)
			return ret;
	}
	return perform(h, req, resp, err);
}

static int sequential(struct occ_docker_http *h, const struct occ_docker_req *reqs,
		      struct occ_docker_resp *resps, size_t n, struct occ_error *err)
{
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = perform(h, &reqs[i], &resps[i], err);
	return ret;
}

/* The multi handle and n parallel easy handles, made once and kept. */
static bool parallel_ready(struct occ_docker_http *h, size_t n)
{
	if (!h->multi)
		h->multi = curl_multi_init();
	for (size_t i = 0; h->multi && i < n; i++)
		if (!h->par[i].c && !(h->par[i].c = curl_easy_init()))
			return false;
	return h->multi != NULL;
}

/* Drive the transfers in x[0..n) to their end; rc[i] is each one's result. */
static void run_multi(struct occ_docker_http *h, struct xfer *x, CURLcode *rc, size_t n)
{
	CURLMcode mc = CURLM_OK;
	CURLMsg *msg;
	int running = 1, left;

	for (size_t i = 0; i < n; i++) {
		rc[i] = CURLE_FAILED_INIT;
		if (curl_multi_add_handle(h->multi, x[i].hd->c) != CURLM_OK)
			x[i].hd = NULL;
	}
	while (running && mc == CURLM_OK) {
		mc = curl_multi_perform(h->multi, &running);
		if (running && mc == CURLM_OK)
			mc = curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(h->multi, &left)))
		for (size_t i = 0; msg->msg == CURLMSG_DONE && i < n; i++)
			if (x[i].hd && x[i].hd->c == msg->easy_handle)
				rc[i] = msg->data.result;
	for (size_t i = 0; i < n; i++)
		if (x[i].hd)
			curl_multi_remove_handle(h->multi, x[i].hd->c);
}

int occ_docker__http_do_many(struct occ_docker_http *h, const struct occ_docker_req *reqs,
			     struct occ_docker_resp *resps, size_t n, struct occ_error *err)
{
	struct xfer x[OCC_DOCKER_PARALLEL];
	CURLcode rc[OCC_DOCKER_PARALLEL];
	int ret = occ_docker__http_negotiate(h, err);

	if (ret)
		return ret;
	if (n < 2 || n > OCC_DOCKER_PARALLEL || !h->t.parallel || !parallel_ready(h, n))
		return sequential(h, reqs, resps, n, err);
	for (size_t i = 0; i < n; i++)
		prepare(&x[i], h, &h->par[i], &reqs[i], &resps[i]);
	run_multi(h, x, rc, n);
	for (size_t i = 0; i < n; i++) {
		struct occ_error e;
		int r;

		occ_error_clear(&e);
		if (!x[i].hd) {   /* never added to the multi handle: run it on its own */
			x[i].hd = &h->par[i];
			rc[i] = curl_easy_perform(h->par[i].c);
		}
		r = finish(&x[i], rc[i], &e);
		if (r && !ret) {
			*err = e;
			ret = r;
		}
	}
	return ret;
}

const char *occ_docker__http_daemon_api(const struct occ_docker_http *h)
{
	return h->daemon_api;
}
