/*
 * docker-exec.c - removing a user's home directory, on explicit request.
 *
 * Accounts are written through the archive API, which cannot delete files, so
 * `occ user remove NAME --remove-home` runs `rm -rf -- /home/NAME` in the
 * container with the exec API as uid 0 (no passwd lookup; busybox and Debian
 * images both have rm). The name was validated by the loader
 * (^[a-z_][a-z0-9_-]*$), so the path cannot leave /home; nothing secret is
 * ever on an exec's command line.
 */
#include "drivers/docker/docker-int.h"

#include <errno.h>
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

/* Run "rm -rf -- path" in container as root and wait for it to finish. */
static int exec_rm(struct occ_docker *dk, const char *container, const char *path,
		   struct occ_error *err)
{
	char *body = NULL, *create = NULL, *id = NULL, *start = NULL, *inspect = NULL;
	struct occ_strbuf q = OCC_STRBUF_INIT;
	uint64_t deadline = occ_now_ms() + EXEC_TIMEOUT_MS;
	struct occ_docker_resp resp = { 0 };  /* each call initialises it */
	bool running = true;
	int code = -1, ret;

	occ_strbuf_init(&q);
	occ_docker__url_escape(&q, container);
	create = occ_xasprintf("/containers/%s/exec", q.buf);
	/* path has only [a-z0-9_/-]: no JSON escaping needed. */
	body = occ_xasprintf("{\"Cmd\":[\"rm\",\"-rf\",\"--\",\"%s\"],\"User\":\"0:0\","
			     "\"AttachStdout\":false,\"AttachStderr\":false}", path);
	ret = occ_docker__call(dk, "POST", create, body, &resp, err);
	if (!ret && resp.status != 201)
		ret = occ_docker__api_error(err, &resp, "cannot run rm in container '%s'", container);
	if (!ret)
		ret = occ_docker__parse_id(&id, resp.body.buf, resp.body.len, err);
	if (ret)
		goto out;
	start = occ_xasprintf("/exec/%s/start", id);
	occ_docker__resp_release(&resp);
	ret = occ_docker__call(dk, "POST", start, "{\"Detach\":true}", &resp, err);
	if (!ret && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot run rm in container '%s'", container);
	if (ret)
		goto out;
	inspect = occ_xasprintf("/exec/%s/json", id);
	while (running && occ_now_ms() < deadline) {
		occ_docker__resp_release(&resp);
		ret = occ_docker__call(dk, "GET", inspect, NULL, &resp, err);
		if (!ret && resp.status != 200)
			ret = occ_docker__api_error(err, &resp, "cannot inspect the rm in '%s'", container);
		if (!ret)
			ret = occ_docker__parse_exec(&running, &code, resp.body.buf, resp.body.len, err);
		if (ret)
			goto out;
		if (running)
			sleep_ms(50);
	}
	if (running)
		ret = occ_error_set(err, OCC_ETIMEOUT, "removing %s in '%s' took longer than %d s",
				    path, container, EXEC_TIMEOUT_MS / 1000);
	else if (code != 0)
		ret = occ_error_set(err, OCC_EGENERIC, "'rm -rf %s' in '%s' exited with %d", path,
				    container, code);
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
