/*
 * service.c - see service.h and service-int.h: the manager-neutral half of
 * `occ install`: the command runner, the template renderer, gathering the
 * inputs of a rendering, and the install/remove/status sequences that drive
 * a backend (systemd.c, launchd.c).
 */
#include "drivers/service-int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

/* ---- the runner ---------------------------------------------------------- */

void occ_service_output_release(struct occ_service_output *o)
{
	occ_strbuf_release(&o->out);
	occ_strbuf_release(&o->err);
}

static int cloexec_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: only async-signal-safe calls until exec. */
static void __attribute__((noreturn)) child_exec(char *const *argv, int out, int err)
{
	int devnull = open("/dev/null", O_RDONLY);
	sigset_t none;

	/* The caller (the watch loop) may block signals; systemctl should not. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

static void keep_bounded(struct occ_strbuf *sb, const char *buf, size_t n)
{
	if (sb->len >= OCC_SERVICE_MAX_OUTPUT)
		return;
	if (n > OCC_SERVICE_MAX_OUTPUT - sb->len)
		n = OCC_SERVICE_MAX_OUTPUT - sb->len;
	occ_strbuf_add(sb, buf, n);
}

/* Read both pipes until both close or the deadline passes. */
static int drain(int fd_out, int fd_err, struct occ_service_output *res, uint64_t deadline)
{
	struct pollfd fds[2] = { { fd_out, POLLIN, 0 }, { fd_err, POLLIN, 0 } };
	int open_fds = 2;
	char buf[4096];

	while (open_fds > 0) {
		uint64_t now = occ_now_ms();
		int n;

		if (now >= deadline)
			return OCC_ETIMEOUT;
		n = poll(fds, 2, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return OCC_EIO;
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			r = read(fds[i].fd, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				keep_bounded(i == 0 ? &res->out : &res->err, buf, (size_t)r);
				continue;
			}
			fds[i].fd = -1;
			open_fds--;
		}
	}
	return 0;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 127;
}

int occ_service_run(void *ctx, const char *const *argv, struct occ_service_output *res,
		    struct occ_error *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, ret = 0;
	char *v[16];
	size_t n = 0;
	pid_t pid;

	(void)ctx;
	occ_strbuf_init(&res->out);
	occ_strbuf_init(&res->err);
	res->status = 127;
	/* exec wants char *const[]: copy before fork, never allocate after it. */
	for (; argv[n] && n + 1 < OCC_ARRAY_SIZE(v); n++)
		v[n] = occ_xstrdup(argv[n]);
	v[n] = NULL;
	if (cloexec_pipe(out) < 0 || cloexec_pipe(errp) < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot run '%s'", argv[0]);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot run '%s'", argv[0]);
		goto out;
	}
	if (pid == 0)
		child_exec(v, out[1], errp[1]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	ret = drain(out[0], errp[0], res, occ_now_ms() + OCC_SERVICE_RUN_TIMEOUT_MS);
	if (ret)
		kill(pid, SIGKILL);
	res->status = reap(pid);
	if (ret == OCC_ETIMEOUT)
		occ_error_set(err, ret, "'%s' did not finish within %d s", argv[0],
			      OCC_SERVICE_RUN_TIMEOUT_MS / 1000);
	else if (ret)
		occ_error_errno(err, ret, errno, "cannot read the output of '%s'", argv[0]);
out:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	return ret;
}

int occ_service__run(const struct occ_service_ctx *c, const char *const *argv,
		     struct occ_service_output *res, struct occ_error *err)
{
	int ret = c->run(c->run_ctx, argv, res, err);

	assert(res->out.buf && res->err.buf);
	return ret;
}

static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("@%+=:,./_-", *s)))
			return false;
	return true;
}

char *occ_service__display(const char *const *argv)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			occ_strbuf_addc(&sb, ' ');
		if (shell_safe(argv[i])) {
			occ_strbuf_adds(&sb, argv[i]);
			continue;
		}
		occ_strbuf_addc(&sb, '\'');
		for (const char *p = argv[i]; *p; p++)
			if (*p == '\'')
				occ_strbuf_adds(&sb, "'\\''");
			else
				occ_strbuf_addc(&sb, *p);
		occ_strbuf_addc(&sb, '\'');
	}
	return occ_strbuf_detach(&sb);
}

/* ---- plans --------------------------------------------------------------- */

struct occ_service_cmd *occ_service__plan_add(struct occ_service_plan *p, unsigned flags,
					      const char *const *argv)
{
	struct occ_service_cmd *c;
	size_t i;

	assert(p->n < OCC_SERVICE_MAX_CMDS);
	c = &p->cmds[p->n++];
	memset(c, 0, sizeof(*c));
	c->flags = flags;
	for (i = 0; argv[i]; i++) {
		assert(i + 1 < OCC_ARRAY_SIZE(c->argv));
		c->argv[i] = occ_xstrdup(argv[i]);
	}
	return c;
}

void occ_service__plan_release(struct occ_service_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; p->cmds[i].argv[k]; k++)
			free(p->cmds[i].argv[k]);
	p->n = 0;
}

/* ---- templates ------------------------------------------------------------ */

static const struct occ_tmpl_var *find_var(const struct occ_tmpl_var *vars, size_t n,
					   const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
			return &vars[i];
	return NULL;
}

static int tmpl_error(struct occ_error *err, const char *what, const char *name, size_t len)
{
	return occ_error_set(err, OCC_EINVALID, "unit template: %s '@%.*s@'", what, (int)len, name);
}

/* A leading @?NAME@ or @!NAME@: decide *keep and step past it. */
static int line_condition(const char **line, size_t *len, const struct occ_tmpl_var *vars,
			  size_t n, bool *keep, struct occ_error *err)
{
	const char *l = *line, *end;
	const struct occ_tmpl_var *v;

	*keep = true;
	if (*len < 2 || l[0] != '@' || (l[1] != '?' && l[1] != '!'))
		return 0;
	end = memchr(l + 2, '@', *len - 2);
	if (!end)
		return tmpl_error(err, "unterminated condition", l + 2, *len - 2);
	v = find_var(vars, n, l + 2, (size_t)(end - l - 2));
	if (!v)
		return tmpl_error(err, "unknown variable", l + 2, (size_t)(end - l - 2));
	*keep = (l[1] == '?') == (v->value != NULL);
	*len -= (size_t)(end + 1 - l);
	*line = end + 1;
	return 0;
}

static int expand_line(struct occ_strbuf *out, const char *line, size_t len,
		       const struct occ_tmpl_var *vars, size_t n, struct occ_error *err)
{
	for (size_t i = 0; i < len; i++) {
		const struct occ_tmpl_var *v;
		const char *name = line + i + 1, *end;

		if (line[i] != '@') {
			occ_strbuf_addc(out, line[i]);
			continue;
		}
		end = memchr(name, '@', len - i - 1);
		if (!end)
			return tmpl_error(err, "unterminated variable", name, len - i - 1);
		i = (size_t)(end - line);
		if (end == name) {
			occ_strbuf_addc(out, '@');
			continue;
		}
		v = find_var(vars, n, name, (size_t)(end - name));
		if (!v || !v->value)
			return tmpl_error(err, v ? "unset variable" : "unknown variable", name,
					  (size_t)(end - name));
		occ_strbuf_adds(out, v->value);
	}
	return 0;
}

int occ_service__render_template(struct occ_strbuf *out, const char *tmpl,
				 const struct occ_tmpl_var *vars, size_t n,
				 struct occ_error *err)
{
	const char *p = tmpl;

	while (*p) {
		const char *line = p, *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		bool keep;
		int ret;

		p += len + (nl ? 1 : 0);
		if (len >= 2 && line[0] == '@' && line[1] == '#')
			continue;
		ret = line_condition(&line, &len, vars, n, &keep, err);
		if (ret)
			return ret;
		if (!keep)
			continue;
		ret = expand_line(out, line, len, vars, n, err);
		if (ret)
			return ret;
		if (nl)
			occ_strbuf_addc(out, '\n');
	}
	return 0;
}

/* ---- inputs ---------------------------------------------------------------- */

/* Length of the UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates),
 * 0 when invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int occ_service__check_text(const char *s, const char *what, struct occ_error *err)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n;

		if (*p < 0x20 || *p == 0x7f)
			return occ_error_set(err, OCC_EINVALID,
					     "%s holds a control character, which a service file cannot carry",
					     what);
		n = utf8_len(p);
		if (!n)
			return occ_error_set(err, OCC_EINVALID,
					     "%s is not valid UTF-8, which a service file needs", what);
		p += n;
	}
	return 0;
}

int occ_service_check_system(uid_t uid, bool system, struct occ_error *err)
{
	if (!system || uid == 0)
		return 0;
	occ_error_set(err, OCC_EPERM, "a system service needs root, and occ runs as uid %ld",
		      (long)uid);
	occ_error_hint(err, "run it with sudo, or leave out --system for a service of your own user");
	return OCC_EPERM;
}

static int self_exe(char **out, struct occ_error *err)
{
#ifdef __APPLE__
	char buf[PATH_MAX], *real;
	uint32_t size = sizeof(buf);

	if (_NSGetExecutablePath(buf, &size) != 0)
		return occ_error_set(err, OCC_EIO, "cannot find the running occ binary: its path is too long");
	real = realpath(buf, NULL);
	if (!real)
		return occ_error_errno(err, OCC_EIO, errno, "cannot resolve the running occ binary '%s'", buf);
	*out = real;
	return 0;
#else
	static const char deleted[] = " (deleted)";
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	size_t len;

	if (n < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot find the running occ binary (/proc/self/exe)");
	buf[n] = '\0';
	len = (size_t)n;
	if (len > sizeof(deleted) - 1 && strcmp(buf + len - (sizeof(deleted) - 1), deleted) == 0) {
		occ_error_set(err, OCC_EIO, "the running occ binary '%s' was deleted or replaced", buf);
		occ_error_hint(err, "run the installed occ again");
		return OCC_EIO;
	}
	*out = occ_xstrdup(buf);
	return 0;
#endif
}

static char *xdg_dir(const char *var, const char *home, const char *fallback)
{
	const char *v = getenv(var);

	if (v && v[0] == '/')
		return occ_path_resolve(v, NULL);
	return occ_xasprintf("%s/%s", home, fallback);
}

static const struct occ_service_backend *backend_for(enum occ_service_manager m)
{
	if (m == OCC_SERVICE_MANAGER_DEFAULT) {
#ifdef __APPLE__
		m = OCC_SERVICE_LAUNCHD;
#else
		m = OCC_SERVICE_SYSTEMD;
#endif
	}
	return m == OCC_SERVICE_LAUNCHD ? &occ_launchd_backend : &occ_systemd_backend;
}

/* Does the state file make occ talk to this machine's Docker? */
static bool targets_local(const struct occ_state *st)
{
	if (!st || st->n_hosts == 0)
		return true;
	for (size_t i = 0; i < st->n_hosts; i++)
		if (!st->hosts[i].address)
			return true;
	return false;
}

/* The socket the Docker driver will use (drivers/docker: DOCKER_HOST unix://
 * only, else the default); NULL when it is not a local socket. */
static char *docker_socket(const char *docker_host)
{
	if (!docker_host)
		return occ_xstrdup("/var/run/docker.sock");
	if (occ_starts_with(docker_host, "unix:///"))
		return occ_xstrdup(docker_host + strlen("unix://"));
	return NULL;
}

static void login_name(char *buf, size_t n, uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	const char *user = getenv("USER");

	if (pw && pw->pw_name)
		user = pw->pw_name;
	snprintf(buf, n, "%s", user && *user ? user : "$USER");
}

static void ctx_release(struct occ_service_ctx *c)
{
	free(c->exe);
	free(c->state_file);
	free(c->home);
	free(c->xdg_config);
	free(c->xdg_data);
	free(c->xdg_state);
	free(c->xdg_cache);
	free(c->docker_host);
	free(c->socket);
	free(c->dir);
	free(c->path);
	free(c->log_path);
	free(c->user);
}

static int check_inputs(const struct occ_service_ctx *c, struct occ_error *err)
{
	const struct { const char *what, *value; } in[] = {
		{ "the path of the occ binary", c->exe },
		{ "the path of the state file", c->state_file },
		{ "$HOME", c->home },
		{ "$XDG_CONFIG_HOME", c->xdg_config },
		{ "$XDG_DATA_HOME", c->xdg_data },
		{ "$XDG_STATE_HOME", c->xdg_state },
		{ "$XDG_CACHE_HOME", c->xdg_cache },
		{ "$DOCKER_HOST", c->docker_host },
		{ "the log path", c->log_path },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(in); i++) {
		int ret = in[i].value ? occ_service__check_text(in[i].value, in[i].what, err) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

static uid_t opts_uid(const struct occ_service_opts *o)
{
	return o->uid_set ? o->uid : getuid();
}

/*
 * Gather everything a rendering depends on. state_file NULL: the caller only
 * needs the paths (remove), so the binary is not looked up.
 */
static int ctx_init(struct occ_service_ctx *c, const struct occ_service_backend *be,
		    const char *state_file, const struct occ_state *st,
		    const struct occ_service_opts *o, struct occ_error *err)
{
	const char *dh = getenv("DOCKER_HOST");
	char user[256];
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->system = o->system;
	c->uid = opts_uid(o);
	c->run = o->run ? o->run : occ_service_run;
	c->run_ctx = o->run_ctx;
	c->home = occ_path_resolve(occ_home_dir(), NULL);
	c->xdg_config = xdg_dir("XDG_CONFIG_HOME", c->home, ".config");
	c->xdg_data = xdg_dir("XDG_DATA_HOME", c->home, ".local/share");
	c->xdg_state = xdg_dir("XDG_STATE_HOME", c->home, ".local/state");
	c->xdg_cache = xdg_dir("XDG_CACHE_HOME", c->home, ".cache");
	c->docker_host = dh && *dh ? occ_xstrdup(dh) : NULL;
	c->socket = targets_local(st) ? docker_socket(c->docker_host) : NULL;
	login_name(user, sizeof(user), c->uid);
	c->user = occ_xstrdup(user);
	be->locate(c, o->unit_dir);
	if (!state_file)
		return 0;
	c->state_file = occ_path_resolve(state_file, NULL);
	if (o->exe)
		c->exe = occ_path_resolve(o->exe, NULL);
	else
		ret = self_exe(&c->exe, err);
	return ret ? ret : check_inputs(c, err);
}

/* ---- install, remove, status ---------------------------------------------- */

static void result_init(struct occ_service_result *r, const struct occ_service_backend *be)
{
	memset(r, 0, sizeof(*r));
	r->manager = be->manager;
}

void occ_service_result_release(struct occ_service_result *r)
{
	free(r->path);
	free(r->content);
	free(r->log_path);
	for (size_t i = 0; i < r->n_commands; i++)
		free(r->commands[i]);
	memset(r, 0, sizeof(*r));
}

static void result_paths(struct occ_service_result *r, const struct occ_service_ctx *c)
{
	r->path = occ_xstrdup(c->path);
	r->log_path = occ_xstrdup(c->log_path);
	snprintf(r->user, sizeof(r->user), "%s", c->user);
}

static bool lingering(const char *user)
{
	char *path = occ_xasprintf("/var/lib/systemd/linger/%s", user);
	bool on = access(path, F_OK) == 0;

	free(path);
	return on;
}

static void result_probe(struct occ_service_result *r, const struct occ_service_ctx *c,
			 const struct occ_service_probe *p, const struct occ_service_backend *be)
{
	r->manager_ok = p->usable;
	snprintf(r->reason, sizeof(r->reason), "%s", p->reason);
	r->linger_hint = be == &occ_systemd_backend && !c->system && !lingering(c->user);
}

/* Is the file at path exactly text? A missing file is not. */
static int same_on_disk(bool *same, bool *exists, const char *path, const char *text,
			size_t len, struct occ_error *err)
{
	char *old = NULL;
	size_t old_len = 0;
	int ret = occ_read_file(path, 1024 * 1024, &old, &old_len, err);

	*same = false;
	*exists = ret == 0;
	if (ret == OCC_ENOTFOUND || ret == OCC_EINVALID) {
		occ_error_clear(err);
		*exists = ret == OCC_EINVALID;
		return 0;
	}
	if (ret == 0)
		*same = old_len == len && memcmp(old, text, len) == 0;
	free(old);
	return ret;
}

static int run_cmd(const struct occ_service_ctx *c, const struct occ_service_cmd *cmd,
		   struct occ_error *err)
{
	for (int attempt = 0;; attempt++) {
		struct occ_service_output res;
		int ret = occ_service__run(c, (const char *const *)cmd->argv, &res, err);
		char *shown;

		if (ret || res.status == 0 || (cmd->flags & OCC_SERVICE_MAY_FAIL)) {
			occ_service_output_release(&res);
			return ret;
		}
		if (attempt < cmd->retries) {
			occ_service_output_release(&res);
			sleep(1);
			continue;
		}
		shown = occ_service__display((const char *const *)cmd->argv);
		if (res.status == 127)
			ret = occ_error_set(err, OCC_EGENERIC, "cannot run '%s': '%s' was not found",
					    shown, cmd->argv[0]);
		else
			ret = occ_error_set(err, OCC_EGENERIC, "'%s' failed (exit %d)%s%.*s", shown,
					    res.status, res.err.len ? ": " : "",
					    (int)strcspn(res.err.buf, "\n"), res.err.buf);
		free(shown);
		occ_service_output_release(&res);
		return ret;
	}
}

/* Record, and unless only showing, run the plan's commands of one phase. */
static int run_phase(struct occ_service_result *r, const struct occ_service_plan *plan,
		     const struct occ_service_ctx *c, unsigned phase, bool run,
		     struct occ_error *err)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct occ_service_cmd *cmd = &plan->cmds[i];
		int ret;

		if ((cmd->flags & OCC_SERVICE_AFTER_FILE) != phase)
			continue;
		r->commands[r->n_commands++] = occ_service__display((const char *const *)cmd->argv);
		ret = run ? run_cmd(c, cmd, err) : 0;
		if (ret)
			return ret;
	}
	return 0;
}

static int write_unit(const struct occ_service_ctx *c, const char *text, size_t len,
		      struct occ_error *err)
{
	int ret = occ_mkdir_p(c->dir, 0755, err);

	if (ret == 0 && c->log_path) {
		char *logdir = occ_path_dirname(c->log_path);

		ret = occ_mkdir_p(logdir, 0755, err);
		free(logdir);
	}
	if (ret == 0)
		ret = occ_write_file_atomic(c->path, text, len, 0644, err);
	return ret;
}

static const struct occ_service_opts no_opts;

static int render_text(char **out, size_t *len, const struct occ_service_backend *be,
		       const struct occ_service_ctx *c, struct occ_error *err)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int ret;

	occ_strbuf_init(&sb);
	ret = be->render(&sb, c, err);
	*len = sb.len;
	*out = occ_strbuf_detach(&sb);
	return ret;
}

int occ_service_render(char **out_text, char **out_path, const char *state_file,
		       const struct occ_state *st, const struct occ_service_opts *opts,
		       struct occ_error *err)
{
	const struct occ_service_opts *o = opts ? opts : &no_opts;
	const struct occ_service_backend *be = backend_for(o->manager);
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_service_ctx c;
	int ret;

	assert(state_file);
	occ_strbuf_init(&sb);
	ret = ctx_init(&c, be, state_file, st, o, err);
	if (ret)
		goto out;
	ret = be->render(&sb, &c, err);
	if (ret)
		goto out;
	*out_text = occ_strbuf_detach(&sb);
	if (out_path)
		*out_path = occ_xstrdup(c.path);
out:
	occ_strbuf_release(&sb);
	ctx_release(&c);
	return ret;
}

int occ_service_ensure(struct occ_service_result *out, const char *state_file,
		       const struct occ_state *st, const struct occ_service_opts *opts,
		       struct occ_error *err)
{
	const struct occ_service_opts *o = opts ? opts : &no_opts;
	const struct occ_service_backend *be = backend_for(o->manager);
	struct occ_service_plan plan = { .n = 0 };
	struct occ_service_probe probe;
	struct occ_service_ctx c;
	size_t len;
	bool same, run;
	int ret;

	assert(state_file);
	result_init(out, be);
	memset(&c, 0, sizeof(c));
	ret = occ_service_check_system(opts_uid(o), o->system, err);
	if (ret == 0)
		ret = ctx_init(&c, be, state_file, st, o, err);
	if (ret)
		goto out;
	result_paths(out, &c);
	ret = render_text(&out->content, &len, be, &c, err);
	if (ret == 0)
		ret = same_on_disk(&same, &out->existed, c.path, out->content, len, err);
	if (ret)
		goto out;
	out->changed = !same;
	be->probe(&probe, &c);
	result_probe(out, &c, &probe, be);
	be->plan_install(&plan, &c, &probe, out->changed);
	run = !o->dry_run && probe.usable;
	if (out->changed && !o->dry_run)
		ret = write_unit(&c, out->content, len, err);
	if (ret == 0)
		ret = run_phase(out, &plan, &c, OCC_SERVICE_AFTER_FILE, run, err);
	out->ran = ret == 0 && run && plan.n > 0;
out:
	occ_service__plan_release(&plan);
	ctx_release(&c);
	return ret;
}

static int remove_unit(const struct occ_service_ctx *c, const struct occ_service_backend *be,
		       struct occ_error *err)
{
	if (unlink(c->path) < 0 && errno != ENOENT)
		return occ_error_errno(err, errno == EACCES ? OCC_EPERM : OCC_EIO, errno,
				       "cannot remove '%s'", c->path);
	if (be->forget)
		be->forget(c);
	return 0;
}

int occ_service_remove(struct occ_service_result *out, const struct occ_service_opts *opts,
		       struct occ_error *err)
{
	const struct occ_service_opts *o = opts ? opts : &no_opts;
	const struct occ_service_backend *be = backend_for(o->manager);
	struct occ_service_plan plan = { .n = 0 };
	struct occ_service_probe probe;
	struct occ_service_ctx c;
	struct stat sbuf;
	bool run;
	int ret;

	result_init(out, be);
	memset(&c, 0, sizeof(c));
	ret = occ_service_check_system(opts_uid(o), o->system, err);
	if (ret == 0)
		ret = ctx_init(&c, be, NULL, NULL, o, err);
	if (ret)
		goto out;
	result_paths(out, &c);
	out->existed = lstat(c.path, &sbuf) == 0;
	out->changed = out->existed;
	be->probe(&probe, &c);
	result_probe(out, &c, &probe, be);
	out->linger_hint = false;
	be->plan_remove(&plan, &c, &probe, out->existed);
	run = !o->dry_run && probe.usable;
	ret = run_phase(out, &plan, &c, 0, run, err);
	if (ret == 0 && !o->dry_run)
		ret = remove_unit(&c, be, err);
	if (ret == 0)
		ret = run_phase(out, &plan, &c, OCC_SERVICE_AFTER_FILE, run, err);
	out->ran = ret == 0 && run && plan.n > 0;
out:
	occ_service__plan_release(&plan);
	ctx_release(&c);
	return ret;
}

int occ_service_status_opts(struct occ_service_status *out, const char *state_file,
			    const struct occ_state *st, const struct occ_service_opts *opts,
			    struct occ_error *err)
{
	const struct occ_service_opts *o = opts ? opts : &no_opts;
	const struct occ_service_backend *be = backend_for(o->manager);
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_service_probe probe;
	struct occ_service_ctx c;
	int ret;

	assert(state_file);
	memset(out, 0, sizeof(*out));
	out->manager = be->manager;
	occ_strbuf_init(&sb);
	ret = ctx_init(&c, be, state_file, st, o, err);
	if (ret == 0)
		ret = be->render(&sb, &c, err);
	if (ret == 0)
		ret = same_on_disk(&out->up_to_date, &out->installed, c.path, sb.buf, sb.len, err);
	if (ret)
		goto out;
	snprintf(out->path, sizeof(out->path), "%s", c.path);
	be->probe(&probe, &c);
	out->enabled = probe.usable && probe.enabled;
	out->running = !probe.usable ? OCC_SERVICE_RUNNING_UNKNOWN :
		       probe.active ? OCC_SERVICE_RUNNING_YES : OCC_SERVICE_RUNNING_NO;
	snprintf(out->state, sizeof(out->state), "%s", probe.usable ? probe.state : "unknown");
	snprintf(out->reason, sizeof(out->reason), "%s", probe.usable ? "" : probe.reason);
out:
	occ_strbuf_release(&sb);
	ctx_release(&c);
	return ret;
}

int occ_service_status(struct occ_service_status *out, const char *state_file,
		       const struct occ_state *st, bool system, struct occ_error *err)
{
	struct occ_service_opts o = { .system = system };

	return occ_service_status_opts(out, state_file, st, &o, err);
}
