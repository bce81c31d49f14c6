/*
 * cmd-update.c - `occ update`: is there a newer image, and if so move the
 * service to it safely.
 *
 * What "newer" means depends on where the image comes from:
 *   image.build  the build inputs changed: every build labels its image with
 *                the hash of its inputs (OCC_DOCKER_LABEL_BUILD_HASH, see
 *                drivers/docker/docker-update.c), compared with the hash of
 *                the context, Dockerfile and args as they are now;
 *   pulled       the registry has another digest for image.ref than the
 *                local image's (GET /distribution/REF/json). No registry is a
 *                clear error, never a guess. A digest reference is pinned:
 *                never an update.
 *
 * Rollback design. Before the new image replaces image.ref, the image the
 * project's container runs is tagged PROJECT-previous:latest (lowercased) on
 * the same host. The tag is the whole record: it lives where the image lives
 * (every host has its own), needs no file of ours to stay in step, and keeps
 * the old image from being garbage-collected (`docker image prune` skips
 * tagged images) once image.ref moves on. Then the normal apply path
 * recreates the container with the health gate (accounts are written into
 * the new container before it starts; volumes and mounts are reattached).
 * When that apply fails, image.ref is tagged back to the previous image (and
 * the previous tag back to what it named before) and applied again: the
 * service runs the old image and `occ update` exits 1.
 * `occ update --rollback` swaps image.ref and the previous tag on request, so
 * a second --rollback goes forward again. Hosts are updated together: a
 * failure on any of them rolls all of them back.
 *
 * opencode's database. When the new image runs another opencode version
 * (its OCC_DOCKER_LABEL_OPENCODE_VERSION differs from the running image's),
 * the database is snapshot in the running container before anything is
 * touched (occ_docker_db_snapshot: SQLite's online backup); no snapshot, no
 * update. When the new version then fails its health gate, the snapshot is
 * put back in its stopped container (occ_docker_db_restore) before the
 * rollback's recreate starts the old version: opencode 2 migrates a 1.x
 * database one way, so the old version must not open what the new one left.
 * --rollback on request does not restore the database.
 *
 * With image.pull: always, the next apply pulls image.ref again and so
 * undoes a rollback; update --rollback says so.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "cli/sub.h"
#include "cli/targets.h"
#include "drivers/docker/docker.h"
#include "reconciler/apply.h"
#include "reconciler/lock.h"

struct update_opts {
	bool check, rollback;
};

/* One host's image: what it runs and what is available. */
struct upd {
	struct occ_target *tg;
	int rc;
	struct occ_error err;
	bool build;             /* image.build (else pulled) */
	bool pinned;            /* a digest reference, or image.pull: never */
	bool available;
	char *cur_id;           /* the image image.ref names now, or NULL */
	char *run_id;           /* the image the project's container runs, or NULL */
	char *cur_version;      /* build-inputs hash label / local registry digest */
	char *new_version;      /* build-inputs hash now / the registry's digest */
	char *prev_tag;         /* PROJECT-previous:latest */
	char *old_prev_id;      /* what prev_tag named before this update, or NULL */
	bool tagged_prev;       /* prev_tag was moved to the running image */
	bool replaced;          /* image.ref was moved to a new image */
	char *new_id;           /* the image image.ref names after fetch_new */
	bool snapshot;          /* opencode's database was snapshot by this update */
};

static int on_update_opt(void *ctx, int opt, const char *arg)
{
	struct update_opts *o = ctx;

	(void)arg;
	if (opt == 'c')
		o->check = true;
	else if (opt == 'r')
		o->rollback = true;
	return 0;
}

static char *previous_tag(const char *project)
{
	char *t = occ_xasprintf("%s-previous:latest", project);

	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

static const char *short_id(const char *id)
{
	if (!id)
		return "(none)";
	if (occ_starts_with(id, "sha256:"))
		id += 7;
	return id;
}

/* "1a2b3c4d5e6f" for messages: hashes and ids are long. */
static void shorten(char out[13], const char *s)
{
	snprintf(out, 13, "%s", short_id(s));
}

static const struct occ_obs_container *project_container(const struct occ_target *tg)
{
	for (size_t i = 0; i < tg->obs.n_containers; i++)
		if (tg->obs.containers[i].owned &&
		    occ_streq(tg->obs.containers[i].name, tg->eff->name))
			return &tg->obs.containers[i];
	return NULL;
}

static const char *digest_of(const char *repo_digest)
{
	const char *at = strchr(repo_digest, '@');

	return at ? at + 1 : repo_digest;
}

static int check_pull(struct upd *u)
{
	const struct occ_obs_image *img = &u->tg->obs.image;
	const char *ref = u->tg->eff->image.ref;

	if (strchr(ref, '@') || u->tg->eff->image.pull == OCC_PULL_NEVER) {
		u->pinned = true;
		return 0;
	}
	if (img->n_repo_digests)
		u->cur_version = occ_xstrdup(digest_of(img->repo_digests[0]));
	if (occ_docker_registry_digest(u->tg->driver, ref, &u->new_version, &u->err))
		return u->err.code;
	u->available = true;
	for (size_t i = 0; i < img->n_repo_digests; i++)
		if (strcmp(digest_of(img->repo_digests[i]), u->new_version) == 0)
			u->available = false;
	return 0;
}

static int check_build(struct upd *u)
{
	const struct occ_obs_image *img = &u->tg->obs.image;
	char hash[OCC_DOCKER_BUILD_HASH_LEN + 1];
	const char *label = occ_kvlist_get(&img->labels, OCC_DOCKER_LABEL_BUILD_HASH);

	if (occ_docker_build_hash(hash, u->tg->eff, &u->err))
		return u->err.code;
	u->new_version = occ_xstrdup(hash);
	u->cur_version = label ? occ_xstrdup(label) : NULL;
	u->available = !img->present || !occ_streq(label, hash);
	return 0;
}

static void check_target(struct upd *u, struct occ_target *tg, bool rollback)
{
	const struct occ_obs_container *c;

	u->tg = tg;
	occ_error_clear(&u->err);
	if (!tg->planned) {
		u->rc = tg->rc ? tg->rc : OCC_EGENERIC;
		u->err = tg->err;
		return;
	}
	c = project_container(tg);
	u->build = tg->eff->image.build.enabled;
	u->cur_id = tg->obs.image.present ? occ_xstrdup(tg->obs.image.id) : NULL;
	u->run_id = c && c->image_id ? occ_xstrdup(c->image_id) : NULL;
	u->prev_tag = previous_tag(tg->eff->name);
	if (rollback)   /* goes back to what is kept: no build, no registry */
		return;
	u->rc = u->build ? check_build(u) : check_pull(u);
	if (u->rc)
		occ_error_prefix(&u->err, "%s", tg->name);
}

static void upd_release(struct upd *u)
{
	free(u->cur_id);
	free(u->run_id);
	free(u->cur_version);
	free(u->new_version);
	free(u->prev_tag);
	free(u->old_prev_id);
	free(u->new_id);
}

static void print_status(struct occ_cli *cli, const struct upd *u)
{
	const char *ref = u->tg->eff->image.ref;
	char a[13], b[13], id[13];

	if (u->rc) {
		occ_cli_print_error(cli, &u->err);
		return;
	}
	shorten(a, u->cur_version);
	shorten(b, u->new_version);
	shorten(id, u->cur_id);
	if (u->pinned)
		printf("%s: image '%s' is %s: nothing to update\n", u->tg->name, ref,
		       strchr(ref, '@') ? "pinned by digest" : "never pulled (image.pull: never)");
	else if (!u->available)
		printf("%s: image '%s' is up to date (%s %s, image %s)\n", u->tg->name, ref,
		       u->build ? "build inputs" : "digest", b, id);
	else if (!u->cur_id)
		printf("%s: image '%s' is not present: %s\n", u->tg->name, ref,
		       u->build ? "it will be built" : "it will be pulled");
	else
		printf("%s: update available for image '%s': %s %s -> %s (image %s will be %s)\n",
		       u->tg->name, ref, u->build ? "build inputs" : "registry digest",
		       u->cur_version ? a : "(unknown)", b, id, u->build ? "rebuilt" : "pulled again");
}

static void json_status(struct occ_json *j, const struct upd *u)
{
	occ_json_obj_begin(j);
	occ_json_kstr(j, "host", u->tg->name);
	occ_json_kstr(j, "image", u->tg->eff->image.ref);
	occ_json_kstr(j, "source", u->build ? "build" : "pull");
	if (u->rc) {
		occ_json_kstr(j, "error", u->err.msg);
	} else {
		occ_json_kstr(j, "current_id", u->cur_id);
		occ_json_kstr(j, "running_id", u->run_id);
		occ_json_kstr(j, "current_version", u->cur_version);
		occ_json_kstr(j, "available_version", u->new_version);
		occ_json_kbool(j, "pinned", u->pinned);
		occ_json_kbool(j, "update_available", u->available);
	}
	occ_json_obj_end(j);
}

/* Keep the running image under the previous tag, then build or pull. */
static int fetch_new(struct occ_cli *cli, struct upd *u)
{
	struct occ_action act = { .kind = u->build ? OCC_ACT_IMAGE_BUILD : OCC_ACT_IMAGE_PULL };
	const char *keep = u->run_id ? u->run_id : u->cur_id;
	char *new_id = NULL;
	int ret;

	/* Remembered so that a failed update leaves the previous tag as it was. */
	if (occ_docker_image_id(u->tg->driver, u->prev_tag, &u->old_prev_id, &u->err) &&
	    u->err.code != OCC_ENOTFOUND)
		return u->err.code;
	occ_error_clear(&u->err);
	if (keep && occ_docker_image_tag(u->tg->driver, keep, u->prev_tag, &u->err))
		return u->err.code;
	u->tagged_prev = keep != NULL;
	if (keep)
		occ_cli_verbose(cli, 1, "%s: kept image %s as %s\n", u->tg->name, short_id(keep),
				u->prev_tag);
	occ_cli_target_progress(cli, u->tg);
	act.resource = occ_xstrdup("image");
	act.name = occ_xstrdup(u->tg->eff->image.ref);
	ret = occ_driver_apply(u->tg->driver, u->tg->eff, &u->tg->obs, &act, &u->err);
	free(act.resource);
	free(act.name);
	if (ret)
		return ret;
	if (occ_docker_image_id(u->tg->driver, u->tg->eff->image.ref, &new_id, &u->err) == 0) {
		u->replaced = !occ_streq(new_id, keep);
		if (!cli->quiet && !cli->json)
			fprintf(stderr, "%s: image '%s' is now %.12s (was %.12s)\n", u->tg->name,
				u->tg->eff->image.ref, short_id(new_id), short_id(keep));
	}
	u->new_id = new_id;
	return 0;
}

static char *opencode_version(struct occ_driver *d, const char *image, struct occ_error *err)
{
	char *v = NULL;

	if (image && occ_docker_image_label(d, image, OCC_DOCKER_LABEL_OPENCODE_VERSION, &v, err))
		occ_error_clear(err);   /* gone or unreadable: no version to compare */
	return v;
}

/*
 * The new image runs another opencode version than the container does:
 * snapshot opencode's database first (docker-db.c), since a new major
 * version migrates it one way. No container or no database yet: nothing to
 * keep. A container that is not running, or a failed snapshot, stops the
 * update before the service is touched.
 */
static int snapshot_db(struct occ_cli *cli, struct upd *u)
{
	struct occ_driver *d = u->tg->driver;
	char *from = NULL, *to = NULL;
	uint64_t t0 = occ_now_ms();
	int ret = 0;

	if (!u->replaced || !u->run_id)
		return 0;
	from = opencode_version(d, u->run_id, &u->err);
	to = opencode_version(d, u->new_id, &u->err);
	if (occ_streq(from, to))
		goto out;
	ret = occ_docker_db_snapshot(d, u->tg->eff->name, u->new_id, &u->snapshot, &u->err);
	if (ret) {
		occ_error_prefix(&u->err, "%s", u->tg->name);
		occ_error_hint(&u->err, "opencode %s -> %s migrates its database one way: occ "
			       "snapshots it first, in the running container ('occ start')",
			       from ? from : "(unknown)", to ? to : "(unknown)");
	} else if (!cli->quiet && !cli->json) {
		if (u->snapshot)
			fprintf(stderr, "%s: opencode %s -> %s: database snapshot taken "
				"(occ-pre-update.db on the data volume, %.1f s)\n", u->tg->name,
				from ? from : "(unknown)", to ? to : "(unknown)",
				(double)(occ_now_ms() - t0) / 1000.0);
		else
			fprintf(stderr, "%s: opencode %s -> %s: no database yet, no snapshot\n",
				u->tg->name, from ? from : "(unknown)", to ? to : "(unknown)");
	}
out:
	free(from);
	free(to);
	return ret;
}

/* The new version did not come up: put the snapshot back in its stopped
 * container before the rollback's recreate starts the old version. */
static int restore_db(struct occ_cli *cli, struct upd *u, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = occ_now_ms();
		bool restored = false;

		if (!u[i].snapshot)
			continue;
		if (occ_docker_db_restore(u[i].tg->driver, u[i].tg->eff->name, u[i].new_id,
					  &restored, &u[i].err)) {
			occ_error_prefix(&u[i].err, "%s", u[i].tg->name);
			occ_cli_print_error(cli, &u[i].err);
			ret = OCC_EXIT_ERROR;
		} else if (!cli->quiet && !cli->json) {
			if (restored)
				fprintf(stderr, "%s: opencode's database is back as it was before the "
					"update (snapshot, %.1f s)\n", u[i].tg->name,
					(double)(occ_now_ms() - t0) / 1000.0);
			else
				fprintf(stderr, "%s: the new version never ran: opencode's database "
					"was not touched\n", u[i].tg->name);
		}
	}
	return ret;
}

/* Apply like `occ apply` (health gate included), under the held lock; with
 * --json the apply's own output is silenced: update prints one document. */
static int apply_quietly(struct occ_cli *cli)
{
	struct occ_apply_opts ao = { 0 };
	bool json = cli->json, quiet = cli->quiet;
	int ret;

	cli->quiet = quiet || json;
	cli->json = false;
	ret = occ_cli_apply(cli, &ao, "update", true);
	cli->json = json;
	cli->quiet = quiet;
	return ret;
}

/* Point image.ref back at the previous image on every host that moved (and
 * the previous tag at what it named before), then recreate from it when the
 * service was already touched. *n_back counts the hosts moved back. */
static int roll_back(struct occ_cli *cli, struct upd *u, size_t n, bool reapply, size_t *n_back)
{
	int ret = 0;

	*n_back = 0;
	for (size_t i = 0; i < n; i++) {
		const char *keep = u[i].run_id ? u[i].run_id : u[i].cur_id;
		struct occ_driver *d = u[i].tg->driver;
		bool failed = false;

		if (u[i].replaced && keep) {
			failed = occ_docker_image_tag(d, keep, u[i].tg->eff->image.ref, &u[i].err) != 0;
			*n_back += !failed;
		}
		if (!failed && u[i].tagged_prev && u[i].old_prev_id)
			failed = occ_docker_image_tag(d, u[i].old_prev_id, u[i].prev_tag, &u[i].err) != 0;
		if (failed) {
			occ_cli_print_error(cli, &u[i].err);
			ret = OCC_EXIT_ERROR;
		}
	}
	return ret || !reapply || *n_back == 0 ? ret : apply_quietly(cli);
}

static int run_update(struct occ_cli *cli, struct upd *u, size_t n, bool *rolled_back)
{
	size_t todo = 0, n_back = 0;
	int ret;

	for (size_t i = 0; i < n; i++)
		todo += u[i].rc == 0 && u[i].available;
	if (todo == 0)
		return OCC_EXIT_OK;
	if (!occ_cli_confirm(cli, "Update and recreate the service?")) {
		occ_cli_errorf(cli, "the update was not confirmed; nothing was changed");
		fprintf(stderr, "hint: re-run with --yes (no terminal to ask on)\n");
		return OCC_EXIT_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		if (u[i].rc || !u[i].available)
			continue;
		if (fetch_new(cli, &u[i]) || snapshot_db(cli, &u[i])) {
			occ_cli_print_error(cli, &u[i].err);
			roll_back(cli, u, n, false, &n_back);
			occ_cli_errorf(cli, "the update stopped before the service was touched");
			return OCC_EXIT_ERROR;
		}
	}
	ret = apply_quietly(cli);
	if (ret == OCC_EXIT_OK)
		return ret;
	fprintf(stderr, "%s: the new image did not come up; rolling back to the previous one ...\n",
		cli->state->name);
	if (restore_db(cli, u, n) != OCC_EXIT_OK) {
		roll_back(cli, u, n, false, &n_back);
		occ_cli_errorf(cli, "the update failed and opencode's database could not be put "
			       "back: the service is stopped; image '%s' names the previous image "
			       "again", u[0].tg->eff->image.ref);
		fprintf(stderr, "hint: the snapshot is occ-pre-update.db next to opencode.db on the "
			"data volume; copy it back, then 'occ apply'\n");
		return OCC_EXIT_ERROR;
	}
	if (roll_back(cli, u, n, true, &n_back) != OCC_EXIT_OK) {
		occ_cli_errorf(cli, "the rollback failed too; the previous image is kept as '%s'",
			       u[0].prev_tag);
		fprintf(stderr, "hint: fix the problem above and run 'occ update --rollback'\n");
		return OCC_EXIT_ERROR;
	}
	if (n_back == 0) {
		occ_cli_errorf(cli, "the update failed, and there was no previous image to go back to");
		return OCC_EXIT_ERROR;
	}
	*rolled_back = true;
	occ_cli_errorf(cli, "the update failed and was rolled back: the service runs the previous "
		       "image again");
	fprintf(stderr, "hint: see the error above ('occ logs' shows the new container's output "
		"while it ran); 'occ update --check' still reports the update\n");
	return OCC_EXIT_ERROR;
}

/* --rollback on one host: image.ref <-> PROJECT-previous. */
static int rollback_target(struct occ_cli *cli, struct upd *u, bool *changed)
{
	struct occ_target *tg = u->tg;
	char *prev = NULL;
	int ret = occ_docker_image_id(tg->driver, u->prev_tag, &prev, &u->err);

	if (ret == OCC_ENOTFOUND) {
		occ_error_set(&u->err, OCC_ENOTFOUND, "%s: no previous image to roll back to (no tag "
			      "'%s')", tg->name, u->prev_tag);
		occ_error_hint(&u->err, "'occ update' keeps the image it replaces under that tag");
	}
	if (ret)
		goto out;
	if (occ_streq(prev, u->cur_id)) {
		occ_cli_info(cli, "%s: image '%s' already is the previous image (%.12s)\n", tg->name,
			     tg->eff->image.ref, short_id(prev));
		goto out;
	}
	occ_cli_info(cli, "%s: image '%s': %.12s -> %.12s (previous)\n", tg->name,
		     tg->eff->image.ref, short_id(u->cur_id), short_id(prev));
	ret = occ_docker_image_tag(tg->driver, prev, tg->eff->image.ref, &u->err);
	/* The image left behind becomes the previous one: --rollback again goes forward. */
	if (!ret && u->cur_id)
		ret = occ_docker_image_tag(tg->driver, u->cur_id, u->prev_tag, &u->err);
	*changed = ret == 0;
out:
	free(prev);
	return ret;
}

static int run_rollback(struct occ_cli *cli, struct upd *u, size_t n, bool *rolled_back)
{
	bool changed = false, failed = false;

	if (!occ_cli_confirm(cli, "Roll the service back to the previous image?")) {
		occ_cli_errorf(cli, "the rollback was not confirmed; nothing was changed");
		fprintf(stderr, "hint: re-run with --yes (no terminal to ask on)\n");
		return OCC_EXIT_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		if (!u[i].tg->planned) {
			occ_cli_print_error(cli, &u[i].tg->err);
			failed = true;
		} else if (rollback_target(cli, &u[i], &changed)) {
			occ_cli_print_error(cli, &u[i].err);
			failed = true;
		}
	}
	if (changed && cli->state->image.pull == OCC_PULL_ALWAYS)
		fprintf(stderr, "warning: image.pull is always: the next apply pulls '%s' again and "
			"undoes this rollback; set image.pull: missing to stay\n",
			cli->state->image.ref);
	*rolled_back = changed;
	if (changed && apply_quietly(cli) != OCC_EXIT_OK)
		return OCC_EXIT_ERROR;
	return failed ? OCC_EXIT_ERROR : OCC_EXIT_OK;
}

static const struct option update_long[] = {
	{ "check", no_argument, NULL, 'c' },
	{ "rollback", no_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 },
};

static void print_json(struct occ_cli *cli, struct upd *u, size_t n, bool any, int ret,
		       bool rolled_back, const struct update_opts *o)
{
	struct occ_json j;

	occ_json_init(&j);
	occ_json_obj_begin(&j);
	occ_json_kint(&j, "format_version", 1);
	occ_json_key(&j, "hosts");
	occ_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		json_status(&j, &u[i]);
	occ_json_arr_end(&j);
	occ_json_kbool(&j, "update_available", any);
	if (!o->check) {
		occ_json_kbool(&j, "rolled_back", rolled_back);
		occ_json_kbool(&j, "ok", ret == OCC_EXIT_OK);
	}
	occ_json_obj_end(&j);
	(void)cli;
	printf("%s\n", j.sb.buf);
	occ_json_release(&j);
}

int cmd_update(struct occ_cli *cli, int argc, char **argv)
{
	struct update_opts o = { 0 };
	struct occ_targets t = { 0 };
	struct occ_lock *lock = NULL;
	struct upd *u = NULL;
	bool any = false, failed = false, rolled_back = false;
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", update_long, on_update_opt, &o, &ret);

	if (first < 0)
		return ret;
	if (first < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[first]);
	if (o.check && o.rollback)
		return occ_cli_usage_error(cli, "--check and --rollback do not go together");
	if (!o.check) {
		ret = occ_cli_lock(cli, &lock, o.rollback ? "update --rollback" : "update");
		if (ret)
			return ret;
	}
	ret = occ_cli_targets_open(cli, &t);
	if (ret)
		goto out;
	occ_cli_targets_plan(cli, &t);
	u = occ_xcalloc(t.n ? t.n : 1, sizeof(*u));
	for (size_t i = 0; i < t.n; i++) {
		check_target(&u[i], &t.items[i], o.rollback);
		any |= u[i].rc == 0 && u[i].available;
		failed |= u[i].rc != 0;
		if (!cli->json && !o.rollback)
			print_status(cli, &u[i]);
	}
	if (o.rollback)
		ret = run_rollback(cli, u, t.n, &rolled_back);
	else if (o.check)
		ret = failed ? OCC_EXIT_ERROR : any ? OCC_EXIT_CHANGES : OCC_EXIT_OK;
	else if (failed)
		ret = OCC_EXIT_ERROR;
	else
		ret = run_update(cli, u, t.n, &rolled_back);
	if (cli->json)
		print_json(cli, u, t.n, any, ret, rolled_back, &o);
out:
	for (size_t i = 0; u && i < t.n; i++)
		upd_release(&u[i]);
	free(u);
	occ_cli_targets_release(&t);
	occ_lock_release(lock);
	return ret;
}
