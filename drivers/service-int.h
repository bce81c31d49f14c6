/*
 * service-int.h - what drivers/service.c shares with its two backends
 * (drivers/systemd/systemd.c, drivers/launchd/launchd.c) and with tests.
 *
 * service.c gathers every input of a rendering into one struct
 * occ_service_ctx (paths, environment, uid, the manager's version), so a
 * backend's render is a pure function of it. A backend also asks its manager
 * what state the service is in (probe) and turns that into the commands to
 * run (plan); service.c runs them, writes or removes the file between them,
 * and fills the result.
 *
 * Templates (the .in files in units/, compiled in as occ_unit_tmpl_*):
 * `@NAME@` is replaced by the variable's value, which the backend has already
 * escaped for the file's syntax; a line starting `@?NAME@` is kept (without
 * the prefix) only when NAME is set, `@!NAME@` only when it is not; lines
 * starting `@#` are template comments and dropped; `@@` is a literal `@`.
 */
#ifndef OCC_SERVICE_INT_H
#define OCC_SERVICE_INT_H

#include "drivers/service.h"

/* The templates, NUL-terminated (generated from units/ at configure time). */
extern const unsigned char occ_unit_tmpl_systemd[];
extern const unsigned char occ_unit_tmpl_launchd[];

/* Seconds the unit waits for the Docker socket before it gives up (and the
 * manager restarts it). */
#define OCC_SERVICE_SOCKET_WAIT_S 60

struct occ_service_ctx {
	bool system;
	uid_t uid;
	char *exe;              /* absolute path of the occ binary */
	char *state_file;       /* absolute */
	char *home;
	char *xdg_config, *xdg_data, *xdg_state, *xdg_cache; /* absolute */
	char *docker_host;      /* $DOCKER_HOST, or NULL when unset/empty */
	char *socket;           /* the Docker socket to wait for, or NULL */
	char *dir;              /* directory of the unit file */
	char *path;             /* the unit file */
	char *log_path;         /* launchd's output file; NULL with systemd */
	char *user;             /* login name */
	int manager_version;    /* systemd's version, 0 when unknown */
	occ_service_run_fn run;
	void *run_ctx;
};

/* What the manager said about the service. */
struct occ_service_probe {
	bool usable;
	char reason[256];       /* why not usable */
	bool enabled;
	bool active;            /* running, or on its way (activating) */
	char state[64];         /* the manager's own word for it */
};

enum occ_service_cmd_flags {
	OCC_SERVICE_AFTER_FILE = 1 << 0, /* runs after the file is written or removed */
	OCC_SERVICE_MAY_FAIL = 1 << 1,   /* a failure is ignored */
};

struct occ_service_cmd {
	char *argv[8];          /* owned, NULL-terminated */
	unsigned flags;         /* enum occ_service_cmd_flags */
	int retries;            /* extra attempts, one second apart, when it fails */
};

struct occ_service_plan {
	struct occ_service_cmd cmds[OCC_SERVICE_MAX_CMDS];
	size_t n;
};

/* Append a command (argv NULL-terminated, at most 7 words, copied). */
struct occ_service_cmd *occ_service__plan_add(struct occ_service_plan *p, unsigned flags,
					      const char *const *argv);
void occ_service__plan_release(struct occ_service_plan *p);

struct occ_service_backend {
	const char *manager;
	/* Set c->dir, c->path, c->log_path and c->manager_version (may run
	 * read-only queries through c->run). unit_dir overrides the directory. */
	void (*locate)(struct occ_service_ctx *c, const char *unit_dir);
	int (*render)(struct occ_strbuf *out, const struct occ_service_ctx *c,
		      struct occ_error *err);
	void (*probe)(struct occ_service_probe *p, const struct occ_service_ctx *c);
	/* The commands that make the service enabled and running with the
	 * (changed or not) file; with p->usable false, those to run later. */
	void (*plan_install)(struct occ_service_plan *plan, const struct occ_service_ctx *c,
			     const struct occ_service_probe *p, bool changed);
	/* The commands that stop and forget it, around removing the file. */
	void (*plan_remove)(struct occ_service_plan *plan, const struct occ_service_ctx *c,
			    const struct occ_service_probe *p, bool exists);
	/* Optional: remove what the manager would have removed itself (systemd:
	 * a dangling enablement symlink). Called after the file is removed. */
	void (*forget)(const struct occ_service_ctx *c);
};

extern const struct occ_service_backend occ_systemd_backend;
extern const struct occ_service_backend occ_launchd_backend;

/* Render tmpl with vars (value NULL = unset). An unknown or unset variable
 * in a kept line is OCC_EINVALID (a bug in a template). */
struct occ_tmpl_var {
	const char *name;
	const char *value;
};
int occ_service__render_template(struct occ_strbuf *out, const char *tmpl,
				 const struct occ_tmpl_var *vars, size_t n,
				 struct occ_error *err);

/* OCC_EINVALID unless s is valid UTF-8 without control characters; what
 * names the value in the message ("the state file path"). */
int occ_service__check_text(const char *s, const char *what, struct occ_error *err);

/* Run argv through c->run; *res is always initialised. */
int occ_service__run(const struct occ_service_ctx *c, const char *const *argv,
		     struct occ_service_output *res, struct occ_error *err);

/* Shell-quote argv for display ("systemctl --user enable --now x"). */
char *occ_service__display(const char *const *argv);

/* Escaping, exposed for tests. All return a new string. */
char *occ_systemd__quote_exe(const char *s);   /* the program of an Exec*= line */
char *occ_systemd__quote_arg(const char *s);   /* an argument in an Exec*= line */
char *occ_systemd__quote_env(const char *name, const char *value); /* Environment= */
char *occ_systemd__escape_text(const char *s); /* Description= and other plain values */
char *occ_launchd__xml_escape(const char *s);

/* systemd's version from `systemctl --version` output ("systemd 252 (...)"),
 * 0 when it cannot be read. */
int occ_systemd__parse_version(const char *text);

#endif
