/*
 * state.h - the desired state: what the user's YAML file asks for.
 *
 * occ_model_load() turns a state file into a struct occ_state; every node
 * remembers where it came from (line:col in state->path) so later stages can
 * point at the file. Everything here is owned by the struct occ_state and freed
 * by occ_state_free(). Paths are already resolved (absolute, "~" expanded);
 * defaults are already filled in, so consumers never see "unset".
 */
#ifndef OCC_STATE_H
#define OCC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/error.h"

#define OCC_STATE_VERSION 1

/* Bounds on what the loader accepts (everything read from outside is bounded). */
#define OCC_MAX_FILE_SIZE   (1024 * 1024)
#define OCC_MAX_DEPTH       32
#define OCC_MAX_ITEMS       1024   /* entries in any one list or map */
#define OCC_MAX_STRING      4096   /* bytes in any scalar */
#define OCC_MAX_ALIASES     64     /* alias uses per file */
#define OCC_MAX_NAME        63     /* project, user, volume and host names */
#define OCC_MAX_NODES       100000 /* YAML nodes in a file with aliases expanded */

/* Where a node came from; line and col are 1-based, 0 when synthesised. */
struct occ_pos {
	int line, col;
};

struct occ_kv {
	char *key;
	char *value;
	struct occ_pos pos;
};

/* An ordered map of strings (env, build args). Keys are unique. */
struct occ_kvlist {
	struct occ_kv *items;
	size_t n, alloc;
};

enum occ_pull_policy {
	OCC_PULL_MISSING = 0,
	OCC_PULL_ALWAYS,
	OCC_PULL_NEVER,
};

enum occ_restart_policy {
	OCC_RESTART_UNLESS_STOPPED = 0,
	OCC_RESTART_NO,
	OCC_RESTART_ON_FAILURE,
	OCC_RESTART_ALWAYS,
};

struct occ_image_build {
	bool enabled;         /* image.build present */
	bool embedded;        /* context: embedded (the Dockerfile built into occ) */
	char *context;        /* absolute directory; NULL when embedded */
	char *dockerfile;     /* relative to context; default "Dockerfile" */
	struct occ_kvlist args;
	char **ca_certs;      /* absolute paths of extra CA certificates (PEM) */
	size_t n_ca_certs;
	bool ca_certs_set;    /* ca_certs: written (an empty list included) */
	struct occ_pos pos;
};

struct occ_image {
	char *ref;            /* default "opencode-cloud:local" */
	enum occ_pull_policy pull;
	struct occ_image_build build;
	struct occ_pos pos;
};

struct occ_health {
	char *path;           /* HTTP path probed through the published port; NULL = none */
	uint64_t timeout_ms;  /* how long apply waits for healthy; default 60 s */
};

struct occ_container {
	uint16_t port;        /* published host port; default 3000 */
	char *bind;           /* host address; default "127.0.0.1" */
	uint16_t container_port; /* default 3000 */
	struct occ_kvlist env;
	enum occ_restart_policy restart;
	struct occ_health health;
	bool running;         /* desired run state; false after `occ stop` */
	char **server_names;  /* extra Host names the front answers to */
	size_t n_server_names;
	struct occ_pos pos;
};

/*
 * Limits of the container (Docker's Memory, NanoCpus, PidsLimit). A pids
 * limit is on by default: an agent's fork bomb must not reach the host.
 */
#define OCC_DEFAULT_PIDS_LIMIT 4096
struct occ_resources {
	uint64_t memory;      /* bytes; 0 = no limit (the default) */
	uint64_t nano_cpus;   /* 10^9 = one CPU; 0 = no limit (the default) */
	long pids;            /* default OCC_DEFAULT_PIDS_LIMIT; 0 = no limit */
	struct occ_pos pos;
};

enum occ_password_source {
	OCC_PW_NONE = 0,      /* no password: the account cannot log in */
	OCC_PW_HASH,          /* password_hash: a crypt(3) hash */
	OCC_PW_FILE,          /* password_file: a file holding the crypt hash */
	OCC_PW_ENV,           /* password_env: an environment variable holding it */
};

struct occ_user {
	char *name;
	enum occ_password_source pw_source;
	char *password_hash;  /* OCC_PW_HASH only */
	char *password_file;  /* OCC_PW_FILE only, absolute */
	char *password_env;   /* OCC_PW_ENV only */
	bool enabled;         /* default true */
	char *shell;          /* default "/bin/bash" */
	struct occ_pos pos;
};

struct occ_mount {
	char *source;         /* absolute host path */
	char *target;         /* absolute container path */
	bool readonly;
	struct occ_pos pos;
	bool allow_dangerous; /* allow_dangerous: true skips occ_mount_source_danger() */
};

struct occ_volume {
	char *name;           /* as written; Docker's name is "<project>-<name>" */
	char *target;         /* absolute container path */
	struct occ_pos pos;
};

/* Per-host changes merged over the shared spec (only these fields). */
struct occ_overrides {
	bool has_port;
	uint16_t port;
	char *bind;                 /* NULL = inherit */
	bool has_container_port;
	uint16_t container_port;
	struct occ_kvlist env;      /* merged over container.env */
	struct occ_mount *mounts;   /* added; same target replaces */
	size_t n_mounts;
	struct occ_pos pos;
};

struct occ_host {
	char *name;
	char *address;        /* NULL for the local machine */
	char *user;           /* NULL = ssh default */
	uint16_t port;        /* default 22 */
	char *identity;       /* absolute path or NULL */
	char *socket;         /* remote Docker socket; default /var/run/docker.sock */
	struct occ_overrides overrides;
	struct occ_pos pos;
};

struct occ_service {
	bool install;
};

struct occ_watch {
	uint64_t resync_ms;   /* default 5 min */
	bool self_heal;       /* default true */
};

struct occ_state {
	char *path;           /* the state file as given (for messages); may be NULL */
	char *dir;            /* absolute directory relative paths resolved against */
	int version;
	char *name;           /* project name; default "opencode-cloud" */
	struct occ_image image;
	struct occ_container container;
	struct occ_user *users;
	size_t n_users;
	struct occ_mount *mounts;
	size_t n_mounts;
	bool volumes_default; /* `volumes:` absent: the default data volumes */
	struct occ_volume *volumes;
	size_t n_volumes;
	struct occ_host *hosts; /* empty: this machine only */
	size_t n_hosts;
	char *default_host;   /* NULL = "local" */
	struct occ_service service;
	struct occ_watch watch;
	struct occ_resources resources;
};

/*
 * Load and validate a state file. path is read (at most OCC_MAX_FILE_SIZE
 * bytes); relative paths inside resolve against its directory. On error
 * returns OCC_ESYNTAX/OCC_EINVALID/OCC_EIO/OCC_ENOTFOUND with err->file,
 * line, col naming the place. *out is written only on success.
 */
int occ_model_load(struct occ_state **out, const char *path, struct occ_error *err);

/* Same, from a buffer; name is used in messages, dir for relative paths
 * (NULL = the current directory). */
int occ_model_load_buffer(struct occ_state **out, const char *buf, size_t len,
			  const char *name, const char *dir, struct occ_error *err);

/*
 * OCC_LOAD_NO_LOGIN_OK skips one rule: a non-loopback bind needs a user who
 * can log in. Only for a command that adds that user and loads its edited
 * file again without the flag before writing it (`occ user add`), so the
 * advice "add a user" works on the file that needs it.
 */
#define OCC_LOAD_NO_LOGIN_OK 0x1
int occ_model_load_flags(struct occ_state **out, const char *path, unsigned flags,
			 struct occ_error *err);
int occ_model_load_buffer_flags(struct occ_state **out, const char *buf, size_t len,
				const char *name, const char *dir, unsigned flags,
				struct occ_error *err);

/* The state a file with only `version: 1` means. Never fails. */
struct occ_state *occ_state_new_default(void);

/* Deep copy. */
struct occ_state *occ_state_clone(const struct occ_state *st);

/* The effective state for one host: a deep copy with that host's overrides
 * merged in and hosts cleared. host may be NULL (the shared spec). */
struct occ_state *occ_state_for_host(const struct occ_state *st, const struct occ_host *host);

void occ_state_free(struct occ_state *st); /* NULL is a no-op */

/*
 * Every dotted key path the loader accepts, generated from the loader's own
 * key tables: "container.port", list items as "users[].name", maps of free
 * keys as "container.env.*"; containers are listed too ("image", "users").
 * Static storage, built on first use (thread-safe); *n receives the count.
 */
const char *const *occ_model_key_paths(size_t *n);

/* Look up a key in a kvlist; NULL when absent. */
const char *occ_kvlist_get(const struct occ_kvlist *kv, const char *key);
/* Set (replace or append) key=value; copies both. */
void occ_kvlist_set(struct occ_kvlist *kv, const char *key, const char *value);
void occ_kvlist_release(struct occ_kvlist *kv);

/* Names of enum values as they appear in the file. */
const char *occ_pull_policy_name(enum occ_pull_policy p);
const char *occ_restart_policy_name(enum occ_restart_policy r);

/* Docker's name for a volume: "<project>-<volume name>". Caller frees. */
char *occ_volume_docker_name(const struct occ_state *st, const struct occ_volume *v);

/* Whether an env key's name matches PASSWORD, TOKEN, SECRET, KEY ... anywhere.
 * Outputs do not use it: they decide with occ_env_is_sensitive (model/
 * secrets.h), which looks at the value too and at KEY as a word. */
bool occ_env_key_is_sensitive(const char *key);

/*
 * The hardening occ gives every container it creates: all capabilities
 * dropped but these (CHOWN: the entrypoint hands fresh volume mountpoints to
 * their users; SETUID/SETGID: it and nginx drop to unprivileged users; KILL:
 * root forwards signals to processes of other users), no-new-privileges, and
 * Docker's json-file log driver with rotation. occ_security_text() is the
 * canonical text of such a set, the same for the desired state and for what
 * the driver observes: "drop ALL; add CHOWN,KILL,SETGID,SETUID;
 * no-new-privileges" (names upper case without CAP_, sorted), or
 * "Docker's default capabilities" without a drop of ALL.
 */
extern const char *const occ_cap_add[];
extern const size_t occ_n_cap_add;
#define OCC_SECURITY_OPT   "no-new-privileges"
#define OCC_LOG_DRIVER     "json-file"
#define OCC_LOG_MAX_SIZE   "10m"
#define OCC_LOG_MAX_FILE   "3"
char *occ_security_text(bool drop_all, const char *const *cap_add, size_t n_cap_add,
			bool no_new_privileges);
/* The desired text (occ_cap_add, no-new-privileges) and log setting text
 * ("json-file max-size=10m max-file=3"). Caller frees. */
char *occ_security_text_desired(void);
char *occ_log_text(const char *driver, const char *max_size, const char *max_file);

/* Whether an address (the container bind) is a loopback address. */
bool occ_bind_is_loopback(const char *bind);

/*
 * Login mode of occ's image. occ sets OCC_LOGIN=open in the container's
 * environment only when the container is published on a loopback address and
 * no account is enabled; the image requires a login for any other value or
 * none (fail closed). The key is reserved: the loader rejects it in env.
 */
#define OCC_LOGIN_ENV "OCC_LOGIN"
bool occ_state_login_open(const struct occ_state *eff);

/*
 * Variables occ derives for its image; every OCC_* key is reserved (the
 * loader rejects them in env). OCC_LISTEN_PORT is container.container_port,
 * OCC_PUBLIC_NAMES the Host names the front answers to besides localhost,
 * 127.0.0.1 and [::1]: a specific bind address and container.server_names
 * (a remote host's address is added to those by occ_state_for_host).
 */
#define OCC_LISTEN_PORT_ENV  "OCC_LISTEN_PORT"
#define OCC_PUBLIC_NAMES_ENV "OCC_PUBLIC_NAMES"
/* The port nginx listens on inside occ's image: opencode has 4096. */
#define OCC_IMAGE_LISTEN_PORT 3000

/* The environment the container is created with: container.env, then
 * OCC_LISTEN_PORT, OCC_PUBLIC_NAMES when there are names, and OCC_LOGIN=open
 * when occ_state_login_open(eff). out is initialised here; release it with
 * occ_kvlist_release(). */
void occ_state_container_env(struct occ_kvlist *out, const struct occ_state *eff);

#endif
