/*
 * observed.h - what a driver reports exists on one host, as occ structs.
 *
 * Drivers fill a struct occ_observed; the planner compares it with the desired
 * state. Everything is owned by the struct and freed by occ_observed_release().
 * No Docker or JSON types appear here: drivers translate.
 */
#ifndef OCC_OBSERVED_H
#define OCC_OBSERVED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/state.h"

/* Labels occ puts on everything it creates. */
#define OCC_LABEL_PROJECT      "dev.opencode-cloud.project"
#define OCC_LABEL_SPEC_HASH    "dev.opencode-cloud.spec-hash"
#define OCC_LABEL_HASH_VERSION "dev.opencode-cloud.hash-version"
#define OCC_LABEL_MANAGED_BY   "dev.opencode-cloud.managed-by"
#define OCC_LABEL_IMAGE_ID     "dev.opencode-cloud.image-id"
#define OCC_MANAGED_BY         "occ"

/* Labels of occ's own image (Dockerfile), shown by `occ status`. */
#define OCC_IMAGE_LABEL_VERSION  "org.opencontainers.image.version"
#define OCC_IMAGE_LABEL_OPENCODE "dev.opencode-cloud.opencode-version"
/* On an image occ built from its embedded context: which context it was. */
#define OCC_IMAGE_LABEL_CONTEXT  "dev.opencode-cloud.embedded-context"

/* SHA-256 (hex) of the embedded build context (Dockerfile, packages/image/):
 * generated at build time by units/embed.cmake. */
extern const char occ_embedded_image_hash[];

enum occ_ctr_state {
	OCC_CTR_CREATED = 0,
	OCC_CTR_RUNNING,
	OCC_CTR_PAUSED,
	OCC_CTR_RESTARTING,
	OCC_CTR_EXITED,
	OCC_CTR_DEAD,
	OCC_CTR_REMOVING,
};

struct occ_obs_container {
	char *id;
	char *name;               /* without Docker's leading '/' */
	enum occ_ctr_state state;
	bool owned;               /* labelled with this project and managed-by occ */
	char *project;            /* the project label, NULL when unlabelled */
	char *spec_hash;          /* label; NULL when absent */
	int hash_version;         /* label; 0 when absent */
	char *image_ref;          /* Config.Image as created */
	char *image_id;           /* Image (sha256:...) */
	uint16_t port;            /* published host port for container_port; 0 = none */
	char *bind;               /* host address of that binding */
	uint16_t container_port;
	struct occ_kvlist env;    /* Config.Env minus entries equal to the image's */
	enum occ_restart_policy restart;
	struct occ_mount *mounts; /* bind mounts */
	size_t n_mounts;
	struct occ_volume *volumes; /* named volumes: name is Docker's full name */
	size_t n_volumes;
	bool init;
	char *security;           /* occ_security_text() of CapDrop/CapAdd/SecurityOpt */
	char *log;                /* occ_log_text() of LogConfig */
	uint64_t memory;          /* HostConfig.Memory; 0 = none */
	uint64_t nano_cpus;       /* HostConfig.NanoCpus; 0 = none */
	long pids_limit;          /* HostConfig.PidsLimit; 0 = none (null/0/-1) */
	char *health;             /* Docker healthcheck status or NULL */
	char *started_at;         /* RFC 3339 or NULL */
	int exit_code;
};

struct occ_obs_image {
	bool present;
	char *id;                 /* sha256:... */
	char *ref;                /* the reference it was looked up by */
	char **repo_digests;
	size_t n_repo_digests;
	struct occ_kvlist labels;
	struct occ_kvlist env;    /* the image's own Config.Env */
};

/* An account inside the container (from /etc/passwd, /etc/shadow). */
struct occ_obs_user {
	char *name;
	unsigned uid, gid;
	char *home;
	char *shell;
	char *hash;               /* crypt hash from /etc/shadow without the lock
	                             prefix '!'; NULL when none. Never printed. */
	bool locked;              /* the shadow hash is locked ('!' prefix) */
	bool managed;             /* created by occ (marker in the GECOS field) */
};

struct occ_obs_volume {
	char *name;               /* Docker's name */
	bool owned;               /* labelled with this project */
	char *spec_hash;
};

struct occ_observed {
	char *api_version;        /* negotiated, e.g. "1.41" */
	char *daemon_version;
	struct occ_obs_image image;
	struct occ_obs_container *containers; /* owned by the project, plus any
	                                         container using the project's name */
	size_t n_containers;
	struct occ_obs_volume *volumes;       /* owned by the project, plus any
	                                         volume using one of its names */
	size_t n_volumes;
	bool users_observed;      /* the project's container exists and its
	                             accounts were read (when a recreate was
	                             cut short and left it only under a helper
	                             name, there: the planner creates the
	                             container anew, with the same uids) */
	struct occ_obs_user *users;           /* every account in the container */
	size_t n_users;
};

void occ_observed_init(struct occ_observed *obs);
void occ_observed_release(struct occ_observed *obs);
/* Free what an image observation holds and zero it. */
void occ_obs_image_release(struct occ_obs_image *img);
void occ_obs_container_release(struct occ_obs_container *c);

/* Deep copy (the fake driver and tests keep observed states around). */
void occ_observed_copy(struct occ_observed *dst, const struct occ_observed *src);

/* The container named exactly name, or NULL. */
const struct occ_obs_container *occ_observed_container(const struct occ_observed *obs,
						       const char *name);
const struct occ_obs_volume *occ_observed_volume(const struct occ_observed *obs,
						 const char *name);

const char *occ_ctr_state_name(enum occ_ctr_state s);

#endif
