/*
 * docker.h - the Docker Engine driver (local unix socket).
 *
 * occ_docker_open() returns a struct occ_driver (see drivers/driver.h) that
 * observes and converges one project's image, volumes and container through
 * the Engine API. Opening does no I/O: the first call pings the daemon and
 * settles the API version (min(daemon, 1.45); daemons older than 1.40 are
 * refused with OCC_EVERSION). One connection is reused for every call.
 *
 * Errors, for every function here: OCC_EDAEMON (no socket, connection refused,
 * no answer), OCC_EPERM (socket permission), OCC_EVERSION, OCC_EAPI (Docker's
 * message and HTTP status), and per action OCC_ECONFLICT (a container occ does
 * not own holds the name), OCC_EPORT (published port taken), OCC_ENOTFOUND.
 * Nothing here prints; progress goes to the driver's progress sink.
 */
#ifndef OCC_DOCKER_H
#define OCC_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "model/error.h"

/* Extra CA certificates (image.build.ca_certs) reach a build under this
 * directory of the context, which is always present (possibly empty), so a
 * Dockerfile may `COPY .occ-ca-certificates/ /usr/local/share/ca-certificates/`.
 * A directory of that name in the user's context is replaced. */
#define OCC_DOCKER_CA_DIR ".occ-ca-certificates"

/*
 * Open a driver for the daemon at docker_host ("unix:///path"; NULL or "":
 * $DOCKER_HOST, else unix:///var/run/docker.sock). Other schemes are refused
 * with OCC_EINVALID: remote hosts go through `hosts:` in the state file.
 * *out is written only on success; free it with occ_driver_free().
 */
int occ_docker_open(struct occ_driver **out, const char *docker_host,
		    struct occ_error *err);

/* "unix:///var/run/docker.sock": where this driver talks to, for messages. */
const char *occ_docker_endpoint(struct occ_driver *d);

struct occ_docker_version {
	char version[64];       /* daemon version, "20.10.24+dfsg1" */
	char api_version[16];   /* the negotiated API version, "1.41" */
	char daemon_api[16];    /* the daemon's own API version */
	char os[32];
	char arch[32];
};

/* The daemon's version (one request, cached for the driver's life). */
int occ_docker_versions(struct occ_docker_version *out, struct occ_driver *d,
			struct occ_error *err);

struct occ_docker_logs_opts {
	bool follow;            /* keep streaming until the container stops */
	int tail;               /* last N lines; -1 = all */
	int64_t since;          /* unix seconds; 0 = from the start */
	bool timestamps;        /* prefix each line with its RFC 3339 time */
};

/*
 * Stream a container's output (id or name) to write(ctx, stream, data, n),
 * stream 1 = stdout, 2 = stderr (always 1 for a TTY container). Data comes in
 * chunks as it arrives, not necessarily whole lines. o may be NULL (all
 * lines, no follow). OCC_ENOTFOUND when the container does not exist.
 */
int occ_docker_logs(struct occ_driver *d, const char *container,
		    const struct occ_docker_logs_opts *o,
		    void (*write)(void *ctx, int stream, const char *data, size_t n),
		    void *ctx, struct occ_error *err);

/*
 * Remove the volume name (Docker's full name) of project, only if occ created
 * it for that project. Never called by the reconciler: volumes hold data and
 * go only on an explicit, confirmed request. OCC_ENOTFOUND, OCC_ECONFLICT
 * (not ours, or still in use).
 */
int occ_docker_volume_remove(struct occ_driver *d, const char *project, const char *name,
			     struct occ_error *err);

/*
 * Delete /home/<user> in the project's running container (occ user remove
 * --remove-home). Only in a container occ created for project; user must be a
 * valid user name. OCC_ENOTFOUND, OCC_ECONFLICT, OCC_EGENERIC (not running,
 * rm failed), OCC_ETIMEOUT.
 */
int occ_docker_remove_home(struct occ_driver *d, const char *project, const char *user,
			   struct occ_error *err);

/* ---- opencode's database across version changes (docker-db.c) ----------- */

/* The label the embedded image carries: the opencode version it runs. */
#define OCC_DOCKER_LABEL_OPENCODE_VERSION "dev.opencode-cloud.opencode-version"
/* opencode's database and occ's one snapshot of it, on the data volume. */
#define OCC_DOCKER_OPENCODE_DB "/home/opencode/.local/share/opencode/opencode.db"
#define OCC_DOCKER_DB_SNAPSHOT "/home/opencode/.local/share/opencode/occ-pre-update.db"

/*
 * Snapshot opencode's database in project's running container with SQLite's
 * online backup (consistent while opencode writes): `sqlite3 DB ".backup
 * TMP"` as user opencode through the exec API, then TMP renamed over
 * OCC_DOCKER_DB_SNAPSHOT, the one snapshot, replaced by the next. An image
 * without sqlite3 (built by an older occ): the same run in a throwaway
 * container of fallback_image (NULL: none) sharing the container's volumes.
 * *taken is false (and 0 returned) when there is no database yet. Does I/O.
 * OCC_ENOTFOUND (no container), OCC_EGENERIC (not running, sqlite3 failed),
 * OCC_ETIMEOUT.
 */
int occ_docker_db_snapshot(struct occ_driver *d, const char *project,
			   const char *fallback_image, bool *taken, struct occ_error *err);

/*
 * Put the snapshot back as opencode's database in project's container:
 * stops it (opencode must not run while its files are swapped), then a
 * throwaway container of the same image, sharing its volumes (VolumesFrom),
 * no network, no capabilities, as user opencode, copies the snapshot to
 * opencode.db (copy, then rename) and removes opencode.db-wal and -shm (the
 * failed version's journal). The snapshot stays. Only when the container
 * runs image if_image (the version that failed; "sha256:..."): otherwise
 * *restored is false and nothing is touched (the new version never ran, as
 * when its container could not start and the old one was put back). Does
 * I/O; OCC_ENOTFOUND (no container), OCC_EGENERIC (the copy failed), Docker
 * errors.
 */
int occ_docker_db_restore(struct occ_driver *d, const char *project, const char *if_image,
			  bool *restored, struct occ_error *err);

/* The value of label key on image ref; *out NULL when the image has none.
 * OCC_ENOTFOUND when the image does not exist. Caller frees *out. */
int occ_docker_image_label(struct occ_driver *d, const char *ref, const char *key, char **out,
			   struct occ_error *err);

/* ---- updates (docker-update.c) ------------------------------------------ */

/* The label occ_docker's builds put on an image: the hash of its build inputs
 * (occ_docker_build_hash). No project label: containers inherit their image's
 * labels. */
#define OCC_DOCKER_LABEL_BUILD_HASH "dev.opencode-cloud.build-hash"
#define OCC_DOCKER_BUILD_HASH_LEN 64

struct occ_state;

/*
 * SHA-256 (hex) of what building desired's image.build would send: the
 * context's files (contents, names, modes; not their mtimes), the Dockerfile
 * name and the build args. Reads the context; no daemon. OCC_EINVALID without
 * image.build, OCC_EGENERIC for the embedded context when this build has none,
 * OCC_EIO/OCC_ENOTFOUND for an unreadable context.
 */
int occ_docker_build_hash(char out[OCC_DOCKER_BUILD_HASH_LEN + 1],
			  const struct occ_state *desired, struct occ_error *err);

/*
 * The digest ("sha256:...") the registry has for ref now (GET
 * /distribution/REF/json: the daemon asks the registry). OCC_EAPI "cannot
 * reach the registry of image 'ref': ..." when the daemon could not get an
 * answer. Caller frees *out.
 */
int occ_docker_registry_digest(struct occ_driver *d, const char *ref, char **out,
			       struct occ_error *err);

/* The image id ("sha256:...") ref names now; OCC_ENOTFOUND when absent.
 * Caller frees *out. */
int occ_docker_image_id(struct occ_driver *d, const char *ref, char **out,
			struct occ_error *err);

/* Tag image (an id or a reference) as ref ("repo:tag", "repo" = ":latest"),
 * moving the tag if it named another image. OCC_ENOTFOUND when image does
 * not exist; OCC_EINVALID for a digest reference. */
int occ_docker_image_tag(struct occ_driver *d, const char *image, const char *ref,
			 struct occ_error *err);

#endif
