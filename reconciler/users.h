/*
 * users.h - accounts inside the container: /etc/passwd, /etc/shadow and
 * /etc/group as text, read, changed and written back.
 *
 * occ creates real accounts for the state file's users. It marks every
 * account it creates with OCC_USERS_MARKER in the GECOS field and only ever
 * changes or removes marked accounts (with ids in its own range: a marked
 * root is not occ's): system accounts and accounts someone else made are
 * never touched, and a desired user whose name an unmarked account holds is
 * a conflict (OCC_ECONFLICT).
 *
 * Everything here is pure (no I/O, no clock) except the password resolution
 * at the end, which reads password_file and password_env. Lines occ does not
 * change are kept byte for byte, malformed ones and comments included. Crypt
 * hashes pass through these functions but never reach an error message.
 */
#ifndef OCC_USERS_H
#define OCC_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"
#include "model/state.h"
#include "reconciler/observed.h"
#include "reconciler/plan.h"

#define OCC_USERS_MARKER    "occ-managed"  /* GECOS of every account occ creates */
#define OCC_USERS_MAX_FILE  (1024 * 1024)  /* bytes in one of the three files */
#define OCC_USERS_MAX_LINES 100000         /* lines in one file */
#define OCC_USERS_MAX_LINE  4096           /* bytes in one line */
#define OCC_USERS_MAX_HASH  512            /* bytes in a resolved crypt hash */
#define OCC_USERS_ID_MIN    1000           /* uids/gids occ allocates: [MIN, MAX] */
#define OCC_USERS_ID_MAX    59999
#define OCC_USERS_HOME_MODE 0750

/* One account file as found in (or written to) the container. */
struct occ_users_file {
	bool present;         /* the file exists; absent reads as empty */
	char *data;           /* its bytes (NUL-terminated for convenience) */
	size_t len;
	unsigned mode;        /* permission bits, uid and gid as found (0 when absent) */
	unsigned uid, gid;
};

struct occ_users_files {
	struct occ_users_file passwd, shadow, group;
};

void occ_users_files_release(struct occ_users_files *f);

/*
 * The accounts in the files, sorted by name, into *out (caller frees with
 * occ_users_free). Every line of /etc/passwd that names an account is one
 * entry, malformed lines too (as unmarked accounts, so they are never
 * touched); the first line wins for a name listed twice. Hashes are read
 * only for marked accounts. Errors: OCC_EINVALID when a file exceeds the
 * bounds above or holds a NUL byte.
 */
int occ_users_parse(struct occ_obs_user **out, size_t *n_out, const struct occ_users_files *in,
		    struct occ_error *err);
void occ_users_free(struct occ_obs_user *users, size_t n);

/* A desired account with its password resolved. Everything is owned. */
struct occ_users_want {
	char *name;
	char *hash;           /* crypt hash; NULL: no password (the account cannot log in) */
	bool enabled;         /* false: locked ('!' before the hash in /etc/shadow) */
	char *shell;
	struct occ_pos pos;   /* the user's place in the state file, for messages */
	unsigned prefer_id;   /* a new account gets this uid/gid when it is free and in
	                         [OCC_USERS_ID_MIN, OCC_USERS_ID_MAX] (the id it had in
	                         the container being replaced); 0: the first free one */
};

/* What occ_users_compute is asked to do. */
struct occ_users_request {
	const struct occ_users_want *want; /* create or update these */
	size_t n_want;
	const char *const *remove; /* remove these marked accounts (absent ones are skipped) */
	size_t n_remove;
	bool prune;           /* also remove every marked account not in want */
	const char *state_path; /* for messages; may be NULL */
};

/* A home directory to create for a new account. */
struct occ_users_home {
	char *path;           /* "/home/<name>" */
	unsigned uid, gid;
};

struct occ_users_result {
	struct occ_users_files files; /* the new text; mode and owner as found, for a
	                                 file created now 0644 (0600 for shadow), root */
	bool changed;         /* some file differs from the input */
	size_t n_managed;     /* marked accounts in the new files */
	struct occ_users_home *homes; /* for accounts created, in name order */
	size_t n_homes;
};

void occ_users_result_release(struct occ_users_result *r);

/*
 * Apply req to the files in: new accounts get their prefer_id, else the first
 * id free as both uid and gid in [OCC_USERS_ID_MIN, OCC_USERS_ID_MAX] (in name
 * order, preferred ids set aside first), a group of
 * their own, home /home/<name>, the marker; existing marked accounts get
 * their password, lock state and shell set; removed ones lose their passwd,
 * shadow and own group lines and their name in other groups' member lists
 * (their home is kept). Errors: OCC_ECONFLICT (an unmarked account or a
 * group holds a wanted name; err points at want->pos), OCC_EINVALID (bounds,
 * a name, shell or hash that would break the files' syntax, no free id).
 * *out is written only on success.
 */
int occ_users_compute(struct occ_users_result *out, const struct occ_users_files *in,
		      const struct occ_users_request *req, struct occ_error *err);

/* err = OCC_ECONFLICT: user name is held by an account occ did not create. */
int occ_users_conflict(struct occ_error *err, const char *name, const char *state_path,
		       struct occ_pos pos);

/* The /etc/shadow password field for a hash (NULL = none) and lock state. Caller frees. */
char *occ_users_shadow_field(const char *hash, bool enabled);

/* ---- passwords (I/O) ---------------------------------------------------- */

/*
 * The crypt hash of u: password_hash as is, the content of password_file
 * (at most 4 KiB, surrounding white space trimmed) or the value of the
 * environment variable password_env. *out is NULL for OCC_PW_NONE. The value
 * must look like a crypt hash (no ':' or line break, which would corrupt
 * /etc/shadow). Errors (OCC_ENOTFOUND, OCC_EIO, OCC_EINVALID) name the user,
 * the source and the user's place in state_path, never the value.
 */
int occ_users_resolve_password(char **out, const struct occ_user *u, const char *state_path,
			       struct occ_error *err);

/* Fill one want from a desired user (resolving its password). */
int occ_users_want_init(struct occ_users_want *out, const struct occ_user *u,
			const char *state_path, struct occ_error *err);
void occ_users_want_release(struct occ_users_want *w);

/* ---- planner ------------------------------------------------------------ */

/*
 * Called by occ_plan_compute after the container actions (reconciler/
 * plan-users.c). When the plan creates or recreates the container, the
 * accounts are written by that action and shown as its changes; otherwise,
 * when the container exists and its accounts were observed, one USER_*
 * action per account to create, update or remove, in name order. Resolves
 * password_file/password_env only to compare with an existing account (the
 * planner's only I/O). Errors: OCC_ECONFLICT, the resolution's errors, and
 * OCC_EINVALID for removing users while the service is published beyond
 * loopback and nobody else could log in.
 */
int occ_plan__users(struct occ_plan *plan, const struct occ_state *st,
		    const struct occ_observed *obs, const struct occ_obs_container *c,
		    struct occ_error *err);

#endif
