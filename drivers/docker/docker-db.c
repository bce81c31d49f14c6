/*
 * docker-db.c - opencode's database across a change of opencode version.
 *
 * opencode 2 migrates a 1.x database on its first start, one way. So before
 * `occ update` switches versions it snapshots the database, and when the new
 * version does not come up it puts the snapshot back before the old version
 * starts again.
 *
 * The snapshot is SQLite's online backup (sqlite3's .backup), run in the
 * service's own container as user opencode through the exec API while
 * opencode may write: a consistent copy, WAL included, without stopping the
 * service. It goes to a temporary name first and is renamed over the one
 * snapshot, so a failed backup never leaves half a file under the name a
 * rollback trusts. It lives next to the database on the data volume, so it
 * survives the recreate.
 *
 * The restore must not race opencode, so it runs with the service container
 * stopped, in a throwaway container of the same image that shares its
 * volumes (VolumesFrom): no network, no capabilities, no new privileges, user
 * opencode. The exec API needs a running container and the archive API can
 * write files but not remove them (the failed version's -wal and -shm must
 * go: its WAL holds pages of the migrated database). The throwaway's command
 * is a constant script; the only argument is the constant data directory.
 * Images built by an older occ have no sqlite3: the backup then runs in such
 * a throwaway of the new image, beside the running opencode (SQLite's locks
 * and its -shm work across containers on one volume: same kernel, same
 * files).
 */
#include "drivers/docker/docker-int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/state.h"

#define DB_DIR "/home/opencode/.local/share/opencode"
#define SNAPSHOT_TMP DB_DIR "/occ-pre-update.db.tmp"
#define DB_EXEC_TIMEOUT_MS (10L * 60 * 1000)
#define THROWAWAY_LABEL "dev.opencode-cloud.throwaway"

static const char restore_script[] =
	"set -e; cd -- \"$1\"; test -f occ-pre-update.db; "
	"cp -- occ-pre-update.db opencode.db.occ-restore; "
	"mv -f -- opencode.db.occ-restore opencode.db; "
	"rm -f -- opencode.db-wal opencode.db-shm";

static int project_container(struct occ_docker *dk, struct occ_docker_brief *out,
			     const char *project, struct occ_error *err)
{
	int ret = occ_docker__inspect_brief(dk, out, project, err);

	if (ret == OCC_ENOTFOUND)
		return occ_error_set(err, OCC_ENOTFOUND, "container '%s' does not exist", project);
	if (ret)
		return ret;
	if (!out->managed || strcmp(out->project, project) != 0)
		return occ_error_set(err, OCC_ECONFLICT, "container '%s' was not created by occ",
				     project);
	return 0;
}

static char *throwaway_body(const char *image, const char *volumes_from,
			    const char *const *argv)
{
	json_t *entry = json_array();
	char *body;

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(entry, json_string(argv[i]));
	json_t *req = json_pack("{s:s,s:o,s:[],s:s,s:b,s:{s:s},s:{s:[s],s:s,s:[s],s:[s]}}",
				"Image", image, "Entrypoint", entry, "Cmd", "User", "opencode",
				"NetworkDisabled", 1, "Labels", THROWAWAY_LABEL, "db",
				"HostConfig", "VolumesFrom", volumes_from, "NetworkMode", "none",
				"CapDrop", "ALL", "SecurityOpt", "no-new-privileges");

	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		abort();   /* out of memory, as occ_xmalloc */
	return body;
}

static int wait_exit(struct occ_docker *dk, const char *id, int *code, struct occ_error *err)
{
	char *path = occ_xasprintf("/containers/%s/wait", id);
	struct occ_docker_req req = { .method = "POST", .path = path,
				      .timeout_ms = DB_EXEC_TIMEOUT_MS };
	struct occ_docker_resp resp;
	json_t *root = NULL;
	int ret;

	/* Longer than a call's default minute: a large database takes its time. */
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(dk->http, &req, &resp, err);

	if (!ret && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot wait for container %.12s", id);
	if (!ret) {
		root = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
		if (!json_is_integer(json_object_get(root, "StatusCode")))
			ret = occ_error_set(err, OCC_EAPI, "container %.12s: no StatusCode in the "
					    "wait answer", id);
		else
			*code = (int)json_integer_value(json_object_get(root, "StatusCode"));
	}
	json_decref(root);
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

/* Run argv in a throwaway container of image with volumes_from's volumes,
 * wait for it, remove it: *code is its exit status. */
static int run_throwaway(struct occ_docker *dk, const char *image, const char *volumes_from,
			 const char *const *argv, int *code, struct occ_error *err)
{
	char *body = throwaway_body(image, volumes_from, argv), *id = NULL, *start = NULL;
	struct occ_docker_resp resp;
	struct occ_error e2;
	int ret = occ_docker__call(dk, "POST", "/containers/create", body, &resp, err);

	if (!ret && resp.status != 201)
		ret = occ_docker__api_error(err, &resp, "cannot create a container of image %.19s",
					    image);
	if (!ret)
		ret = occ_docker__parse_id(&id, resp.body.buf, resp.body.len, err);
	occ_docker__resp_release(&resp);
	if (ret)
		goto out;
	start = occ_xasprintf("/containers/%s/start", id);
	ret = occ_docker__call(dk, "POST", start, NULL, &resp, err);
	if (!ret && resp.status != 204)
		ret = occ_docker__api_error(err, &resp, "cannot start container %.12s", id);
	occ_docker__resp_release(&resp);
	if (!ret)
		ret = wait_exit(dk, id, code, err);
	occ_error_clear(&e2);
	occ_docker__remove(dk, id, &e2);   /* a leftover is harmless; the label names it */
out:
	free(body);
	free(id);
	free(start);
	return ret;
}

static int exec_ok(struct occ_docker *dk, const char *id, const char *project,
		   const char *const *argv, struct occ_error *err)
{
	int code = -1;
	int ret = occ_docker__exec(dk, id, "opencode", argv, DB_EXEC_TIMEOUT_MS, &code, err);

	if (!ret && code != 0)
		ret = occ_error_set(err, OCC_EGENERIC, "'%s' in container '%s' exited with %d",
				    argv[0], project, code);
	return ret;
}

static int backup(struct occ_docker *dk, const struct occ_docker_brief *b, const char *project,
		  const char *fallback_image, struct occ_error *err)
{
	const char *argv[] = { "sqlite3", OCC_DOCKER_OPENCODE_DB,
			       ".backup '" SNAPSHOT_TMP "'", NULL };
	int code = -1;
	int ret = occ_docker__exec(dk, b->id, "opencode", argv, DB_EXEC_TIMEOUT_MS, &code, err);

	if (!ret && code == 127 && fallback_image)
		ret = run_throwaway(dk, fallback_image, b->id, argv, &code, err);
	if (!ret && code == 127)
		ret = occ_error_set(err, OCC_EGENERIC, "cannot snapshot opencode's database in '%s': "
				    "its image has no sqlite3", project);
	else if (!ret && code != 0)
		ret = occ_error_set(err, OCC_EGENERIC, "cannot snapshot opencode's database in '%s': "
				    "sqlite3 .backup exited with %d", project, code);
	return ret;
}

int occ_docker_db_snapshot(struct occ_driver *d, const char *project, const char *fallback_image,
			   bool *taken, struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	const char *test[] = { "test", "-f", OCC_DOCKER_OPENCODE_DB, NULL };
	const char *rm[] = { "rm", "-f", "--", SNAPSHOT_TMP, NULL };
	const char *mv[] = { "mv", "-f", "--", SNAPSHOT_TMP, OCC_DOCKER_DB_SNAPSHOT, NULL };
	struct occ_docker_brief b;
	int code = -1;
	int ret = project_container(dk, &b, project, err);

	if (ret)
		return ret;
	if (b.state != OCC_CTR_RUNNING)
		return occ_error_set(err, OCC_EGENERIC, "container '%s' is not running: opencode's "
				     "database cannot be snapshot now", project);
	ret = occ_docker__exec(dk, b.id, "opencode", test, DB_EXEC_TIMEOUT_MS, &code, err);
	if (ret)
		return ret;
	*taken = false;
	if (code == 1)
		return 0;
	ret = exec_ok(dk, b.id, project, rm, err);
	if (!ret)
		ret = backup(dk, &b, project, fallback_image, err);
	if (!ret)
		ret = exec_ok(dk, b.id, project, mv, err);
	*taken = ret == 0;
	return ret;
}

int occ_docker_db_restore(struct occ_driver *d, const char *project, const char *if_image,
			  bool *restored, struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	const char *argv[] = { "/bin/sh", "-c", restore_script, "occ-restore", DB_DIR, NULL };
	struct occ_docker_brief b;
	int code = -1;
	int ret = project_container(dk, &b, project, err);

	*restored = false;
	if (ret || strcmp(b.image_id, if_image) != 0)
		return ret;
	ret = occ_docker__stop(dk, b.id, 10, err);
	if (!ret)
		ret = run_throwaway(dk, b.image_id, b.id, argv, &code, err);
	if (!ret && code != 0)
		ret = occ_error_set(err, OCC_EGENERIC, "cannot put the snapshot of opencode's "
				    "database back in '%s': the copy exited with %d", project, code);
	*restored = ret == 0;
	return ret;
}
