/*
 * docker-exec.c - removing a user's home directory, on explicit request.
 *
 * Accounts are written through the archive API, which cannot delete files, so
 * `occ user remove NAME --remove-home` runs `rm -rf -- /home/NAME` in the
 * container with the exec API as uid 0 (no passwd lookup; busybox and Debian
 * images both have rm). The name was validated by the loader
 * (^[a-z_][a-z0-9_-]*$), so the path cannot leave /home; nothing secret is
 * ever on an exec's command line.
 *
 * occ_docker__exec is the general form (docker-db.c runs sqlite3 with it):
 * an argv, never a shell string, run detached; the exit code comes from the
 * exec's inspect.
 */
#include "drivers/docker/docker-int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXEC_TIMEOUT_MS 60000

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool valid_user(const char *name)
{
	if (!name[0] || strlen(name) > 32 || strchr("-0123456789", name[0]))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(name);
}

static int exec_call(struct occ_docker *dk, const char *method, const char *path,
		     const char *body, long want, struct occ_docker_resp *resp,
		     const char *container, const char *what, struct occ_error *err)
{
	int ret;

	occ_docker__resp_release(resp);
	ret = occ_docker__call(dk, method, path, body, resp, err);
	if (!ret && resp->status != want)
		ret = occ_docker__api_error(err, resp, "cannot run %s in container '%s'", what,
					    container);
	return ret;
}

int occ_docker__exec(struct occ_docker *dk, const char *container, const char *user,
		     const char *const *argv, long timeout_ms, int *exit_code,
		     struct occ_error *err)
{
	json_t *cmd = json_array(), *req;
	char *body = NULL, *create = NULL, *id = NULL, *start = NULL, *inspect = NULL;
	struct occ_strbuf q = OCC_STRBUF_INIT;
	uint64_t deadline = occ_now_ms() + (uint64_t)timeout_ms;
	struct occ_docker_resp resp;
	bool running = true;
	int code = -1, ret;

	occ_docker__resp_init(&resp);
	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	req = json_pack("{s:o,s:s,s:b,s:b}", "Cmd", cmd, "User", user, "AttachStdout", 0,
			"AttachStderr", 0);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		abort();   /* out of memory, as occ_xmalloc */
	occ_docker__url_escape(&q, container);
	create = occ_xasprintf("/containers/%s/exec", q.buf);
	ret = exec_call(dk, "POST", create, body, 201, &resp, container, argv[0], err);
	if (!ret)
		ret = occ_docker__parse_id(&id, resp.body.buf, resp.body.len, err);
	if (ret)
		goto out;
	start = occ_xasprintf("/exec/%s/start", id);
	ret = exec_call(dk, "POST", start, "{\"Detach\":true}", 200, &resp, container, argv[0],
			err);
	inspect = occ_xasprintf("/exec/%s/json", id);
	while (!ret && running && occ_now_ms() < deadline) {
		ret = exec_call(dk, "GET", inspect, NULL, 200, &resp, container, argv[0], err);
		if (!ret)
			ret = occ_docker__parse_exec(&running, &code, resp.body.buf, resp.body.len, err);
		if (!ret && running)
			sleep_ms(50);
	}
	if (!ret && running)
		ret = occ_error_set(err, OCC_ETIMEOUT, "'%s' in '%s' took longer than %ld s", argv[0],
				    container, timeout_ms / 1000);
	if (!ret)
		*exit_code = code;
out:
	occ_docker__resp_release(&resp);
	occ_strbuf_release(&q);
	free(body);
	free(create);
	free(id);
	free(start);
	free(inspect);
	return ret;
}

/* Run "rm -rf -- path" in container as root and wait for it to finish. */
static int exec_rm(struct occ_docker *dk, const char *container, const char *path,
		   struct occ_error *err)
{
	const char *argv[] = { "rm", "-rf", "--", path, NULL };
	int code = -1;
	int ret = occ_docker__exec(dk, container, "0:0", argv, EXEC_TIMEOUT_MS, &code, err);

	if (ret == OCC_ETIMEOUT)
		occ_error_set(err, OCC_ETIMEOUT, "removing %s in '%s' took longer than %d s", path,
			      container, EXEC_TIMEOUT_MS / 1000);
	else if (!ret && code != 0)
		ret = occ_error_set(err, OCC_EGENERIC, "'rm -rf %s' in '%s' exited with %d", path,
				    container, code);
	return ret;
}

int occ_docker_remove_home(struct occ_driver *d, const char *project, const char *user,
			   struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	struct occ_docker_brief b;
	char *path;
	int ret;

	if (!valid_user(user))
		return occ_error_set(err, OCC_EINVALID, "'%s' is not a user name", user);
	ret = occ_docker__inspect_brief(dk, &b, project, err);
	if (ret == OCC_ENOTFOUND)
		return occ_error_set(err, OCC_ENOTFOUND, "container '%s' does not exist", project);
	if (ret)
		return ret;
	if (!b.managed || strcmp(b.project, project) != 0)
		return occ_error_set(err, OCC_ECONFLICT, "container '%s' was not created by occ", project);
	if (b.state != OCC_CTR_RUNNING) {
		occ_error_set(err, OCC_EGENERIC, "container '%s' is not running: its home "
			      "directories cannot be removed now", project);
		occ_error_hint(err, "'occ start', then 'occ user remove' again with --remove-home");
		return OCC_EGENERIC;
	}
	path = occ_xasprintf("/home/%s", user);
	ret = exec_rm(dk, b.id, path, err);
	free(path);
	return ret;
}
