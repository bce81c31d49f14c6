/*
 * apply.c - see apply.h.
 */
#include "reconciler/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "model/util.h"
#include "reconciler/users.h"

char *occ_journal_default_path(const char *project)
{
	char *data = occ_data_dir();
	char *path = occ_xasprintf("%s/journal/%s.log", data, project);

	free(data);
	return path;
}

/* Open the journal for appending (created 0600, its directory 0700). */
static int journal_open(const char *path, const char *dir, int *fd, struct occ_error *err)
{
	int ret = occ_mkdir_p(dir, 0700, err);

	if (ret)
		return ret;
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return occ_error_errno(err, OCC_EIO, errno, "cannot open journal '%s'", path);
	return 0;
}

int occ_journal_append(const char *path, const char *host, const char *what,
		       const char *result, struct occ_error *err)
{
	char *dir = occ_path_dirname(path);
	char stamp[32], *line = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1, ret;

	ret = journal_open(path, dir, &fd, err);
	if (ret)
		goto out;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	line = occ_xasprintf("%s\t%s\t%s\t%s\n", stamp, host ? host : "local", what, result);
	/* One write(2) with O_APPEND: lines from concurrent writers never mix. */
	if (write(fd, line, strlen(line)) < 0 || fsync(fd) < 0)
		ret = occ_error_errno(err, OCC_EIO, errno, "cannot write journal '%s'", path);
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(dir);
	return ret;
}

/* Room a journal needs for one apply's lines, with a wide margin. */
#define JOURNAL_ROOM (64 * 1024)

int occ_journal_check(const char *path, struct occ_error *err)
{
	char *dir = occ_path_dirname(path);
	struct statvfs vfs;
	int fd = -1, ret;

	ret = journal_open(path, dir, &fd, err);
	if (ret)
		goto out;
	if (fstatvfs(fd, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < JOURNAL_ROOM) {
		ret = occ_error_errno(err, OCC_EIO, ENOSPC, "cannot write journal '%s'", path);
		goto out;
	}
out:
	if (ret)
		occ_error_hint(err, "occ records every change it makes there: free space in (or "
			       "make writable) %s, or point XDG_DATA_HOME elsewhere", dir);
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

static bool is_image_action(const struct occ_action *a)
{
	return a->kind == OCC_ACT_IMAGE_PULL || a->kind == OCC_ACT_IMAGE_BUILD;
}

static void journal(const struct occ_apply_opts *opts, const struct occ_action *a, int rc)
{
	struct occ_error jerr;
	char *what;

	if (!opts || !opts->journal_path)
		return;
	occ_error_clear(&jerr);
	what = occ_xasprintf("%s %s %s", occ_action_kind_name(a->kind), a->resource, a->name);
	/* A journal that cannot be written must not fail the apply it records. */
	occ_journal_append(opts->journal_path, opts->host, what, rc ? "failed" : "done", &jerr);
	free(what);
}

static int run_action(struct occ_driver *d, const struct occ_state *desired,
		      const struct occ_observed *obs, const struct occ_action *a,
		      const struct occ_apply_opts *opts, const struct occ_apply_hooks *hooks,
		      struct occ_apply_report *rep, struct occ_error *err)
{
	uint64_t t0 = occ_now_ms();
	int ret;

	if (hooks && hooks->action_start)
		hooks->action_start(hooks->ctx, a);
	ret = occ_driver_apply(d, desired, obs, a, err);
	if (hooks && hooks->action_done)
		hooks->action_done(hooks->ctx, a, ret, occ_now_ms() - t0, ret ? err : NULL);
	journal(opts, a, ret);
	if (ret) {
		rep->n_failed = 1;
		return ret;
	}
	rep->n_done++;
	if (!a->wait_healthy || (opts && opts->skip_health))
		return 0;
	t0 = occ_now_ms();
	if (hooks && hooks->health_start)
		hooks->health_start(hooks->ctx, a->name, desired->container.health.timeout_ms);
	ret = occ_driver_wait_healthy(d, desired, desired->container.health.timeout_ms, err);
	if (hooks && hooks->health_done)
		hooks->health_done(hooks->ctx, a->name, ret, occ_now_ms() - t0);
	if (ret)
		rep->n_failed = 1;
	else
		rep->healthy = true;
	return ret;
}

static int run_actions(struct occ_driver *d, const struct occ_state *desired,
		       const struct occ_observed *obs, const struct occ_plan *plan,
		       bool images, const struct occ_apply_opts *opts,
		       const struct occ_apply_hooks *hooks, struct occ_apply_report *rep,
		       struct occ_error *err)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct occ_action *a = &plan->actions[i];
		int ret;

		if (is_image_action(a) != images)
			continue;
		ret = run_action(d, desired, obs, a, opts, hooks, rep, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* After image actions: observe again and plan the rest with the real image ID. */
static int replan_and_run(struct occ_driver *d, const struct occ_state *desired,
			  const struct occ_apply_opts *opts, const struct occ_apply_hooks *hooks,
			  struct occ_apply_report *rep, struct occ_error *err)
{
	struct occ_observed obs;
	struct occ_plan plan;
	int ret;

	occ_observed_init(&obs);
	occ_plan_init(&plan);
	ret = occ_driver_observe(d, desired, &obs, err);
	if (ret)
		goto out;
	ret = occ_plan_compute(&plan, desired, &obs, err);
	if (ret)
		goto out;
	if (hooks && hooks->replanned)
		hooks->replanned(hooks->ctx, &plan);
	ret = run_actions(d, desired, &obs, &plan, false, opts, hooks, rep, err);
out:
	occ_plan_release(&plan);
	occ_observed_release(&obs);
	return ret;
}

/*
 * Every enabled account's hash can be read (password_file, password_env)
 * before the first action: a missing file must not fail the apply after it
 * created volumes or a container (the planner reads them only to compare
 * with an existing account).
 */
static int check_passwords(const struct occ_state *desired, const struct occ_plan *plan,
			   struct occ_error *err)
{
	if (!plan->n)
		return 0;
	for (size_t i = 0; i < desired->n_users; i++) {
		char *hash = NULL;
		int ret = occ_users_resolve_password(&hash, &desired->users[i], desired->path, err);

		free(hash);
		if (ret)
			return ret;
	}
	return 0;
}

int occ_apply_plan(struct occ_driver *d, const struct occ_state *desired,
		   const struct occ_observed *obs, const struct occ_plan *plan,
		   const struct occ_apply_opts *opts, const struct occ_apply_hooks *hooks,
		   struct occ_apply_report *rep, struct occ_error *err)
{
	uint64_t t0 = occ_now_ms();
	size_t done_before;
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = check_passwords(desired, plan, err);
	if (ret)
		goto out;
	/* A change occ could not record is refused before it is made. */
	if (plan->n && opts && opts->journal_path) {
		ret = occ_journal_check(opts->journal_path, err);
		if (ret)
			goto out;
	}
	ret = run_actions(d, desired, obs, plan, true, opts, hooks, rep, err);
	if (ret)
		goto out;
	done_before = rep->n_done;
	if (done_before > 0)
		ret = replan_and_run(d, desired, opts, hooks, rep, err);
	else
		ret = run_actions(d, desired, obs, plan, false, opts, hooks, rep, err);
out:
	rep->elapsed_ms = occ_now_ms() - t0;
	return ret;
}
