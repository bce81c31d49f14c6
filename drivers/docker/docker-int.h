/*
 * docker-int.h - private to drivers/docker/ (and its tests).
 *
 * Three layers, each in its own file, none of them exposing libcurl or jansson
 * types (those stay inside the .c files):
 *
 *   transport  (http.c)       how bytes reach a daemon: a unix socket path, or
 *                             a hook handing over an already-connected socket
 *                             (the seam drivers/ssh plugs into);
 *   HTTP client (http.c)      one reused curl handle, the /vX.YY/ prefix from
 *                             version negotiation, bounded or streamed bodies;
 *   translation (translate.c, stream.c, tar.c)
 *                             pure functions: Docker JSON <-> occ structs,
 *                             stream framing, the build-context tar stream;
 *
 * and the driver (docker.c, docker-apply.c, docker-image.c, docker-health.c)
 * on top.
 */
#ifndef OCC_DOCKER_INT_H
#define OCC_DOCKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/docker/docker.h"
#include "drivers/driver.h"
#include "model/error.h"
#include "model/util.h"
#include "reconciler/observed.h"

#define OCC_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define OCC_DOCKER_MAX_RESPONSE   (32u << 20)  /* buffered response bodies */
#define OCC_DOCKER_PARALLEL       5            /* requests occ_docker__http_do_many sends at once */
#define OCC_DOCKER_MAX_LINE       (1u << 20)   /* one line of a JSON stream */
#define OCC_DOCKER_API_MIN_MAJOR  1
#define OCC_DOCKER_API_MIN_MINOR  40
#define OCC_DOCKER_API_MAX_MAJOR  1
#define OCC_DOCKER_API_MAX_MINOR  45
#define OCC_DOCKER_NEXT_SUFFIX    "-occ-next"  /* a recreate's new container */
#define OCC_DOCKER_OLD_SUFFIX     "-occ-old"   /* ...and the one it replaces */

/* ---- transport ---------------------------------------------------------- */

/*
 * Where a daemon is, and the one place that knows how to reach it. A unix
 * transport sets socket_path. A tunnelled one has two ways in (drivers/ssh
 * takes the first, see occ_ssh_docker_open()):
 *
 *  - serve a private unix socket (0700 directory) that it bridges to the
 *    remote socket, set socket_path to it, and keep its state in ctx (freed
 *    by free_ctx when the driver closes). Works with every libcurl; a test
 *    drives a bridge of this kind.
 *  - set open_socket to hand over an already-connected stream socket (one
 *    end of a socketpair bridged to a channel); socket_path is then only a
 *    label. libcurl 7.88.x (Debian 12) ignores CURL_SOCKOPT_ALREADY_CONNECTED
 *    and fails such sockets with EISCONN, so occ_docker__http_new refuses
 *    this way on those versions with a clear error.
 */
struct occ_docker_transport {
	char *endpoint;     /* for messages: "unix:///var/run/docker.sock" */
	char *socket_path;
	/* Optional: return a connected, O_CLOEXEC stream socket, or -1 with err set. */
	int (*open_socket)(void *ctx, struct occ_error *err);
	/* Optional (tunnels): write to path (cap bytes) a local unix socket that
	 * reaches host:port as seen from the daemon's machine; the HTTP health
	 * probe goes through it instead of connecting to host:port here. */
	int (*tcp_socket)(void *ctx, const char *host, uint16_t port, char *path, size_t cap,
			  struct occ_error *err);
	/* Optional (tunnels): after a request failed below HTTP, replace err with
	 * the tunnel's own account (host unreachable, key refused) when it has one. */
	void (*explain)(void *ctx, struct occ_error *err);
	void (*free_ctx)(void *ctx);
	void *ctx;
	/* Connections may be opened side by side (occ_docker__http_do_many):
	 * true for a local unix socket; a tunnel opts in once it can. */
	bool parallel;
};

/* Open a driver on transport t (taken, left empty, even on failure). No I/O. */
int occ_docker__open_transport(struct occ_driver **out, struct occ_docker_transport *t,
			       struct occ_error *err);

/* Whether this libcurl can use a socket open_socket hands over (not 7.88.x). */
bool occ_docker__curl_takes_connected_sockets(void);

/* Fill out from a DOCKER_HOST value (NULL or "": $DOCKER_HOST, then the
 * default socket). Only unix:// is accepted: other schemes give OCC_EINVALID. */
int occ_docker__transport_from_host(struct occ_docker_transport *out,
				    const char *docker_host, struct occ_error *err);
void occ_docker__transport_release(struct occ_docker_transport *t);

/* ---- HTTP client -------------------------------------------------------- */

struct occ_docker_http;

struct occ_docker_req {
	const char *method;       /* "GET", "HEAD", "POST", "PUT", "DELETE" */
	const char *path;         /* API path with query, already escaped: "/containers/json?all=1" */
	bool unversioned;         /* no /vX.YY prefix (only _ping and version) */
	const char *content_type; /* NULL: "application/json" when a body is sent */
	const char *body;         /* in-memory request body, or NULL */
	size_t body_len;
	/* Streamed request body (chunked); *out_n == 0 ends it. Return 0 or a
	 * negative code with err filled. */
	int (*read_body)(void *ctx, char *buf, size_t cap, size_t *out_n,
			 struct occ_error *err);
	void *read_ctx;
	/* Streamed response body, called only for 2xx answers; others are
	 * buffered for their error message. Return 0 or a negative code with
	 * err filled to abort. */
	int (*on_data)(void *ctx, const char *data, size_t n, struct occ_error *err);
	void *data_ctx;
	long timeout_ms;          /* 0: the default (60 s); -1: none */
};

struct occ_docker_resp {
	long status;
	struct occ_strbuf body;   /* the (bounded) body unless it was streamed */
	char api_version[16];     /* the Api-Version header, or "" */
	char server[96];          /* the Server header ("Docker/20.10.24 (linux)"), or "" */
	char path_stat[512];      /* X-Docker-Container-Path-Stat (archive HEAD), or "" */
};

void occ_docker__resp_init(struct occ_docker_resp *r);
void occ_docker__resp_release(struct occ_docker_resp *r);

/* Takes ownership of *t (leaving it empty) even on failure. No I/O. */
int occ_docker__http_new(struct occ_docker_http **out, struct occ_docker_transport *t,
			 struct occ_error *err);
void occ_docker__http_free(struct occ_docker_http *h);

/* Ping the daemon and settle the API version, once; later calls are no-ops. */
int occ_docker__http_negotiate(struct occ_docker_http *h, struct occ_error *err);
/* "1.41" after negotiation, else NULL. */
const char *occ_docker__http_api_version(const struct occ_docker_http *h);
const char *occ_docker__http_endpoint(const struct occ_docker_http *h);
const struct occ_docker_transport *occ_docker__http_transport(const struct occ_docker_http *h);
/* The daemon's own Api-Version after negotiation, else "". */
const char *occ_docker__http_daemon_api(const struct occ_docker_http *h);
/* The per-request default timeout (tests shorten it). */
void occ_docker__http_set_timeout(struct occ_docker_http *h, long timeout_ms);

/* The daemon's version from the Server header of the negotiating _ping
 * ("20.10.24+dfsg1"), or "" before negotiation. Costs no request: GET
 * /version takes the daemon several milliseconds, a no-op observe must not. */
const char *occ_docker__http_server_version(const struct occ_docker_http *h);

/* Report every request (method, path, status, time) to sink, which must
 * outlive h; NULL fn disables. */
struct occ_trace_sink;
void occ_docker__http_set_trace(struct occ_docker_http *h, const struct occ_trace_sink *sink);

/*
 * Send one request (negotiating first unless req->unversioned). Returns 0
 * when the daemon answered, whatever the status: resp (initialised by the
 * caller) holds it. Transport failures give OCC_EDAEMON / OCC_EPERM; a body
 * over OCC_DOCKER_MAX_RESPONSE gives OCC_EAPI; a callback's error is passed on.
 */
int occ_docker__http_do(struct occ_docker_http *h, const struct occ_docker_req *req,
			struct occ_docker_resp *resp, struct occ_error *err);

/*
 * Send n (at most OCC_DOCKER_PARALLEL) independent requests at once, each on
 * a connection of its own, when the transport allows it (t.parallel: a local
 * unix socket); otherwise one after the other. Like occ_docker__http_do for
 * each one: resps[i] initialised by the caller. All are sent even when one
 * fails; the first failure in index order is returned. The parallel
 * connections are kept for the next call.
 */
int occ_docker__http_do_many(struct occ_docker_http *h, const struct occ_docker_req *reqs,
			     struct occ_docker_resp *resps, size_t n, struct occ_error *err);

/* How a request failed below HTTP. */
enum occ_docker_fail {
	OCC_DOCKER_FAIL_CONNECT = 0, /* could not connect (os_errno says why) */
	OCC_DOCKER_FAIL_TIMEOUT,     /* connected, no answer in time */
	OCC_DOCKER_FAIL_LOST,        /* the connection broke mid-request */
	OCC_DOCKER_FAIL_OTHER,
};

/* Fill err for a failed request: OCC_EDAEMON, or OCC_EPERM for a socket the
 * user may not open. detail: the transport's own words, may be NULL. Pure. */
int occ_docker__connect_error(struct occ_error *err, const char *endpoint,
			      enum occ_docker_fail fail, int os_errno, const char *detail);

/* When the unix socket path exists but is not a socket (a regular file, a
 * directory, a FIFO...) or runs through a non-directory, replace err with an
 * error saying so and return its code; otherwise (missing, a socket, NULL)
 * leave err and return 0. Stats path. */
int occ_docker__socket_path_error(struct occ_error *err, const char *path);

/* Which of the failures above a libcurl result code (CURLcode) is. */
enum occ_docker_fail occ_docker__fail_kind(int curl_code);

/* The API version to use for a daemon's Api-Version: min(daemon, 1.45);
 * OCC_EVERSION below 1.40, OCC_EAPI when unparsable. Pure. */
int occ_docker__negotiate_version(char out[16], const char *daemon_api,
				  struct occ_error *err);

/* ---- translation (pure) ------------------------------------------------- */

/* A growable list of strings. */
struct occ_docker_strv {
	char **v;
	size_t n, alloc;
};
void occ_docker__strv_push(struct occ_docker_strv *sv, const char *s);
bool occ_docker__strv_has(const struct occ_docker_strv *sv, const char *s);
void occ_docker__strv_release(struct occ_docker_strv *sv);

/* Percent-encode s for a URL query value or path segment. */
void occ_docker__url_escape(struct occ_strbuf *sb, const char *s);

/* Docker's {"message": ...} from an error body; falls back to the raw text
 * (trimmed) or "(no message)". Caller frees. */
char *occ_docker__error_message(const char *body, size_t len);

/* Whether a start error says the published port is taken; addr receives
 * "127.0.0.1:3000" when the message names it, else "". */
bool occ_docker__port_in_use(const char *msg, char *addr, size_t addr_len);

/* Image inspect -> out (present, id, ref, digests, labels); env receives the
 * image's Config.Env (may be NULL). */
int occ_docker__parse_image(struct occ_obs_image *out, struct occ_kvlist *env,
			    const char *json, size_t len, const char *ref,
			    struct occ_error *err);

/* Container inspect -> out. image_env: the env of the container's image,
 * whose identical entries are left out (NULL: none). project decides
 * `owned`; container_port picks the port binding (the first tcp binding
 * when that one is absent). */
int occ_docker__parse_container(struct occ_obs_container *out, const char *json,
				size_t len, const struct occ_kvlist *image_env,
				const char *project, uint16_t container_port,
				struct occ_error *err);

/* The few fields of a container inspect the driver itself needs. */
struct occ_docker_brief {
	char id[80];
	enum occ_ctr_state state;
	bool tty;
	int exit_code;
	int restart_count;
	char started_at[64];
	char health[16];                  /* Docker HEALTHCHECK status, "" without one */
	char image_id[80];
	char project[OCC_MAX_NAME + 1];   /* the project label, or "" */
	bool managed;                     /* managed-by=occ */
};
int occ_docker__parse_brief(struct occ_docker_brief *out, const char *json, size_t len,
			    struct occ_error *err);

/* A container list: append to ids the Id of every container labelled with
 * project or named exactly one of names (not already in ids). */
int occ_docker__parse_container_list(struct occ_docker_strv *ids, const char *json,
				     size_t len, const char *project,
				     const struct occ_docker_strv *names,
				     struct occ_error *err);

/* A volume list: append to *vols every volume labelled with project or named
 * exactly one of names (not already there). */
int occ_docker__parse_volume_list(struct occ_obs_volume **vols, size_t *n,
				  const char *json, size_t len, const char *project,
				  const struct occ_docker_strv *names,
				  struct occ_error *err);

/* The "Id" of a create answer. Caller frees *out. */
int occ_docker__parse_id(char **out, const char *json, size_t len, struct occ_error *err);

/* An exec inspect answer: whether it still runs, and its exit code. */
int occ_docker__parse_exec(bool *running, int *exit_code, const char *json, size_t len,
			   struct occ_error *err);

/* The Labels of a volume create/inspect answer, into out (initialised). */
int occ_docker__parse_volume_labels(struct occ_kvlist *out, const char *json, size_t len,
				    struct occ_error *err);

/* GET /version. */
int occ_docker__parse_version(struct occ_docker_version *out, const char *json,
			      size_t len, struct occ_error *err);

/* The POST /containers/create body for the effective state eff. Caller frees. */
char *occ_docker__create_body(const struct occ_state *eff, const char *spec_hash,
			      int hash_version, const char *image_id);

/* A filters= value: {"key": [values...]}. Caller frees. */
char *occ_docker__filters(const char *key, const struct occ_docker_strv *values);

/* The filters= value of the events stream: the project's containers,
 * {"label":["dev.opencode-cloud.project=<project>"],"type":["container"]}.
 * Caller frees. */
char *occ_docker__events_filters(const char *project);

/* The POST /volumes/create body. Caller frees. */
char *occ_docker__volume_body(const char *docker_name, const char *project);

/* A JSON object {k: v, ...} of a kvlist (build args, labels). Caller frees. */
char *occ_docker__kv_json(const struct occ_kvlist *kv);

/* One message of a pull or build stream. */
struct occ_docker_msg {
	char *stream;       /* build output text */
	char *status;       /* pull status ("Downloading") */
	char *id;           /* layer id */
	char *error;        /* error / errorDetail.message */
	char *aux_id;       /* aux.ID: the built image */
	uint64_t current, total;
};
int occ_docker__parse_msg(struct occ_docker_msg *out, const char *line, size_t len,
			  struct occ_error *err);
void occ_docker__msg_release(struct occ_docker_msg *m);

/* One line of GET /events into out (kind CONTAINER or OTHER; never
 * SUBSCRIBED). Accepts the current shape (Type, Action, Actor.ID,
 * Actor.Attributes.name/exitCode, time, timeNano) and the pre-1.22 one
 * (status, id); over-long values are truncated. OCC_EAPI when the line is not
 * a JSON object or names no action. *out is written only on success. */
int occ_docker__parse_event(struct occ_event *out, const char *line, size_t len,
			    struct occ_error *err);

/* ---- stream framing (pure) ---------------------------------------------- */

/* Splits a byte stream into lines ('\n', a '\r' before it dropped), each at
 * most OCC_DOCKER_MAX_LINE bytes. */
struct occ_docker_lines {
	struct occ_strbuf buf;
	int (*fn)(void *ctx, const char *line, size_t n, struct occ_error *err);
	void *ctx;
};
void occ_docker__lines_init(struct occ_docker_lines *l,
			    int (*fn)(void *, const char *, size_t, struct occ_error *),
			    void *ctx);
int occ_docker__lines_feed(struct occ_docker_lines *l, const char *data, size_t n,
			   struct occ_error *err);
/* Deliver a last line without '\n'. */
int occ_docker__lines_finish(struct occ_docker_lines *l, struct occ_error *err);
void occ_docker__lines_release(struct occ_docker_lines *l);

/* Demultiplexes Docker's attach/logs stream: frames of an 8-byte header
 * (stream, 0, 0, 0, big-endian length) and payload. raw (TTY containers):
 * everything is stdout. */
struct occ_docker_demux {
	bool raw;
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t left;      /* payload bytes left in the current frame */
	int stream;
	void (*write)(void *ctx, int stream, const char *data, size_t n);
	void *ctx;
};
void occ_docker__demux_init(struct occ_docker_demux *d, bool raw,
			    void (*write)(void *, int, const char *, size_t), void *ctx);
int occ_docker__demux_feed(struct occ_docker_demux *d, const char *data, size_t n,
			   struct occ_error *err);

/* ---- build context (tar.c) ---------------------------------------------- */

/* .dockerignore rules. */
struct occ_docker_ignore {
	struct occ_docker_strv patterns;  /* cleaned, without '!' */
	bool *negate;
	bool any_negation;
};
void occ_docker__ignore_parse(struct occ_docker_ignore *out, const char *text, size_t len);
bool occ_docker__ignore_match(const struct occ_docker_ignore *ig, const char *relpath);
void occ_docker__ignore_release(struct occ_docker_ignore *ig);
/* Glob match: '*' and '?' stay within a path segment, "**" crosses them. */
bool occ_docker__glob(const char *pattern, const char *path);

/*
 * A ustar stream of a build context, produced lazily as it is read. The
 * directory is listed up front (sorted, .dockerignore applied, at most
 * OCC_DOCKER_TAR_MAX_ENTRIES entries); file contents are read while streaming.
 * Owner is root, as the docker CLI sends it. Extra files (CA certificates) go
 * under OCC_DOCKER_CA_DIR/, which is always present (possibly empty).
 */
#define OCC_DOCKER_TAR_MAX_ENTRIES 200000

struct occ_docker_tar;

/* Where Debian (update-ca-certificates) keeps the CAs a machine's
 * administrator added. */
#define OCC_DOCKER_LOCAL_CA_DIR "/usr/local/share/ca-certificates"

/* The build context of image.build as a tar stream: the embedded files or
 * the context directory, plus the CA certificates: image.build.ca_certs, or
 * without that key, for the embedded image, this machine's local CAs
 * (OCC_DOCKER_LOCAL_CA_DIR). Both a build and `occ update`'s hash of the
 * build inputs read exactly this. */
struct occ_image_build;
int occ_docker__build_context(struct occ_docker_tar **out, const struct occ_image_build *b,
			      struct occ_error *err);

int occ_docker__tar_new(struct occ_docker_tar **out, const char *context_dir,
			const char *dockerfile, char *const *extra_files, size_t n_extra,
			struct occ_error *err);
/* A file of an in-memory context; name relative, clean ("a/b"), not under
 * OCC_DOCKER_CA_DIR. data is not copied: it must outlive the tar. */
struct occ_docker_file {
	const char *name;
	const unsigned char *data;
	size_t size;
	unsigned mode;
};
/* Same stream from a fixed list of files (in that order), then the CA
 * directory. OCC_EINVALID for a bad name; CA errors as occ_docker__tar_new. */
int occ_docker__tar_new_mem(struct occ_docker_tar **out, const struct occ_docker_file *files,
			    size_t n, char *const *extra_files, size_t n_extra,
			    struct occ_error *err);
/* The opencode image's build context compiled into occ (Dockerfile,
 * .dockerignore, packages/image/): generated by units/embed.cmake. */
extern const struct occ_docker_file occ_docker__image_files[];
extern const size_t occ_docker__image_n_files;
int occ_docker__tar_read(struct occ_docker_tar *t, char *buf, size_t cap, size_t *out_n,
			 struct occ_error *err);
void occ_docker__tar_free(struct occ_docker_tar *t);

/* ---- the driver --------------------------------------------------------- */

struct occ_docker {
	struct occ_driver base;
	struct occ_docker_http *http;
	bool have_version;
	struct occ_docker_version version;
};

/* The driver behind d (asserts it is a Docker driver). */
struct occ_docker *occ_docker__from(struct occ_driver *d);

/* One request with an optional JSON body; the answer in resp (initialised
 * here, released by the caller even on failure). */
int occ_docker__call(struct occ_docker *dk, const char *method, const char *path,
		     const char *json, struct occ_docker_resp *resp, struct occ_error *err);

/* err = OCC_EAPI "<what>: <docker's message> (HTTP nnn)". */
int occ_docker__api_error(struct occ_error *err, const struct occ_docker_resp *r,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Inspect a container (id or name) into out; OCC_ENOTFOUND when absent. */
int occ_docker__inspect_brief(struct occ_docker *dk, struct occ_docker_brief *out,
			      const char *container, struct occ_error *err);

/* The image id of ref now; OCC_ENOTFOUND when absent. Caller frees *out. */
int occ_docker__image_id(struct occ_docker *dk, char **out, const char *ref,
			 struct occ_error *err);

/* Stop (t seconds), start, remove (force, volumes kept) a container. Stop and
 * start treat "already so" as success; remove treats "gone" as success. */
int occ_docker__stop(struct occ_docker *dk, const char *container, int timeout_s,
		     struct occ_error *err);
int occ_docker__start(struct occ_docker *dk, const struct occ_state *desired,
		      const char *container, const char *display_name,
		      struct occ_error *err);
int occ_docker__remove(struct occ_docker *dk, const char *container, struct occ_error *err);

/* Run argv (NULL-terminated, no shell) in the running container as user
 * ("name" or "uid:gid"), detached, and wait up to timeout_ms for it to end:
 * *exit_code is its exit status (126/127: not executable / not found).
 * OCC_ETIMEOUT when it runs longer; Docker's refusals as OCC_EAPI. */
int occ_docker__exec(struct occ_docker *dk, const char *container, const char *user,
		     const char *const *argv, long timeout_ms, int *exit_code,
		     struct occ_error *err);

int occ_docker__apply(struct occ_driver *d, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *act,
		      struct occ_error *err);
int occ_docker__wait_healthy(struct occ_driver *d, const struct occ_state *desired,
			     uint64_t timeout_ms, struct occ_error *err);
/* The events slot (docker-events.c): GET /events, filtered by the project's
 * label and type container, streamed through a curl handle of its own. */
int occ_docker__events(struct occ_driver *d, const struct occ_state *desired,
		       occ_event_fn fn, void *ctx, const volatile int *stop,
		       struct occ_error *err);
int occ_docker__build(struct occ_docker *dk, const struct occ_state *desired,
		      struct occ_error *err);
int occ_docker__pull(struct occ_docker *dk, const struct occ_state *desired,
		     struct occ_error *err);
/* Pull ref (progress to the sink); no hint added to err. */
int occ_docker__pull_ref(struct occ_docker *dk, const char *ref, struct occ_error *err);
/* Send req (pull, build, import) and decode its JSON-lines answer as it
 * arrives: progress to the sink; a non-200 status or an error in the stream
 * becomes OCC_EAPI "cannot <what> image '<ref>': ...". Sets req's on_data,
 * data_ctx and timeout (none). */
int occ_docker__image_stream(struct occ_docker *dk, struct occ_docker_req *req,
			     const char *what, const char *ref, struct occ_error *err);
/* Before an embedded build: make sure its base image (BASE_IMAGE) is on the
 * daemon; pull it, or make it from the Debian mirror when no registry is
 * reachable (docker-base.c, docker-base.h). */
struct occ_image_build;
int occ_docker__ensure_base(struct occ_docker *dk, const struct occ_image_build *b,
			    struct occ_error *err);

/* The last lines a container printed, both streams, at most max bytes. */
void occ_docker__tail_output(struct occ_docker *dk, const char *container, int lines,
			     size_t max, struct occ_strbuf *out);

/* Used by tests to reach the raw API. */
struct occ_docker_http *occ_docker__http_of(struct occ_driver *d);

/* ---- accounts in the container (docker-users.c) ------------------------- */

struct occ_users_file;
struct occ_users_files;
struct occ_users_result;

/*
 * Reads the tar stream of GET .../archive?path=/etc as it arrives, keeping
 * only etc/passwd, etc/shadow and etc/group (each at most OCC_USERS_MAX_FILE
 * bytes, with mode and owner): memory stays bounded whatever else /etc
 * holds. PAX and GNU long-name records are understood. Pure.
 */
struct occ_docker_etc {
	unsigned char hdr[512];
	size_t hdr_len;
	uint64_t left, pad;          /* data and padding of the current entry to come */
	struct occ_users_file *cur;  /* where that data goes, or NULL: skipped */
	struct occ_strbuf meta;      /* a PAX ('x') or long-name ('L') record */
	char meta_kind;              /* 'x', 'L' or 0 */
	char *next_name;             /* the name such a record gives the next entry */
	bool end;                    /* the end-of-archive block was seen */
	struct occ_users_files *out; /* absent files stay absent */
};
void occ_docker__etc_init(struct occ_docker_etc *r, struct occ_users_files *out);
/* OCC_EAPI for a damaged stream, OCC_EINVALID for one of the three files
 * not regular or too large. */
int occ_docker__etc_feed(struct occ_docker_etc *r, const char *data, size_t n,
			 struct occ_error *err);
/* At the end of the stream: OCC_EAPI when it stopped inside an entry. */
int occ_docker__etc_finish(struct occ_docker_etc *r, struct occ_error *err);
void occ_docker__etc_release(struct occ_docker_etc *r);

/* The tar a write of res PUTs at "/": etc/passwd and etc/group (0644, root),
 * etc/shadow (its owner, mode & 0640), home directories of new accounts
 * (0750, their ids; none where a bind mount of desired targets it). Pure. */
void occ_docker__users_tar(struct occ_strbuf *out, const struct occ_users_result *res,
			   const struct occ_state *desired, int64_t mtime);

/* Read the accounts of the project's container (when it exists and occ owns
 * it) into obs->users, setting users_observed. asked (may be NULL): the
 * marker probe's answer when it was sent ahead for that container. */
/*
 * The accounts cache (accounts-cache.c): what observe last parsed of a
 * container's accounts, keyed by the X-Docker-Container-Path-Stat of
 * /etc/passwd, /etc/shadow and /etc/group, so an unchanged container costs
 * three HEADs instead of an archive GET. Local files only; best effort.
 */
#define OCC_DOCKER_ACCOUNT_FILES 3
/* Whether the file's mtime in a path-stat header is at least 2 s from now
 * (a record taken earlier could miss a same-size write in that second). */
bool occ_docker__path_stat_settled(const char *b64, int64_t now);
void occ_docker__accounts_cache_store(const char *project, const char *container,
				      const char stat[OCC_DOCKER_ACCOUNT_FILES][512],
				      const struct occ_obs_user *users, size_t n);
/* true: *out (n_out entries, the caller's) holds desired->name's record of
 * container, with the desired users' hashes put back; false: no usable record. */
bool occ_docker__accounts_cache_load(struct occ_obs_user **out, size_t *n_out,
				     const char *container,
				     const char stat[OCC_DOCKER_ACCOUNT_FILES][512],
				     const struct occ_state *desired);

/* The accounts-marker probe, asked ahead (with the container inspect): the
 * container it was asked about and the answer. */
struct occ_docker_marker {
	char container[80];      /* id; "": not asked */
	bool present;
};
/* HEAD path of the marker in container; the answer to it (0, or an error for
 * an unexpected status). */
char *occ_docker__marker_path(const char *container);
int occ_docker__marker_answer(bool *out, const struct occ_docker_resp *resp,
			      const char *container, struct occ_error *err);
int occ_docker__users_observe(struct occ_docker *dk, const struct occ_state *desired,
			      struct occ_observed *obs, const struct occ_docker_marker *asked,
			      struct occ_error *err);

/* Write every desired account into container (a new one, before its start),
 * removing marked accounts not desired. An account occ had made in the
 * container being replaced (obs, may be NULL) keeps its uid/gid when free.
 * No request without desired users. */
int occ_docker__users_provision(struct occ_docker *dk, const struct occ_state *desired,
				const struct occ_observed *obs, const char *container,
				struct occ_error *err);

/* OCC_ACT_USER_CREATE / UPDATE / REMOVE on an existing container. */
int occ_docker__act_user(struct occ_docker *dk, const struct occ_state *desired,
			 const struct occ_observed *obs, const struct occ_action *act,
			 struct occ_error *err);

#endif
