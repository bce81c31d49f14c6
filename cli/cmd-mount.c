/*
 * cmd-mount.c - `occ mount add|remove|list`: bind mounts of host paths into
 * the container, edited in the state file.
 *
 * SRC:DST[:ro] as with docker -v. A relative SRC is taken from the current
 * directory (it was typed in a shell) and written as an absolute path. The
 * source must exist. A source that would hand the container this machine
 * (`/`, /etc, the Docker socket, the home directory itself, ...: the
 * loader's own rule, occ_mount_source_danger()) is refused unless --force,
 * which writes `allow_dangerous: true` on the mount so the file says so too.
 * A changed mount needs a new container: the next `occ apply` recreates it
 * (and `occ diff` says so); --apply does it at once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/json.h"
#include "cli/sub.h"
#include "cli/txn.h"
#include "model/safety.h"
#include "reconciler/apply.h"

struct mount_opts {
	bool force, apply;
};

static int on_mount_opt(void *ctx, int opt, const char *arg)
{
	struct mount_opts *o = ctx;

	(void)arg;
	if (opt == 'F')
		o->force = true;
	else if (opt == 'A')
		o->apply = true;
	return 0;
}

static const struct option mount_long[] = {
	{ "force", no_argument, NULL, 'F' },
	{ "apply", no_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

struct mount_spec {
	char *source;   /* absolute */
	char *target;
	bool readonly;
	bool dangerous; /* allowed with --force: written as allow_dangerous: true */
};

/* SRC:DST[:ro|:rw] */
static int parse_spec(struct occ_cli *cli, const char *spec, struct mount_spec *out)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	char *src;

	if (!c1 || c1 == spec || c1[1] == '\0')
		return occ_cli_usage_error(cli, "expected SRC:DST[:ro], got '%s'", spec);
	if (c2 && strcmp(c2 + 1, "ro") != 0 && strcmp(c2 + 1, "rw") != 0)
		return occ_cli_usage_error(cli, "unknown mount option '%s' in '%s': use ro or rw",
					   c2 + 1, spec);
	if (c1[1] != '/')
		return occ_cli_usage_error(cli, "the container path in '%s' must be absolute", spec);
	src = occ_xstrndup(spec, (size_t)(c1 - spec));
	out->source = occ_path_resolve(src, NULL);
	out->target = c2 ? occ_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : occ_xstrdup(c1 + 1);
	out->readonly = c2 && strcmp(c2 + 1, "ro") == 0;
	free(src);
	return 0;
}

static int check_source(struct occ_cli *cli, struct mount_spec *m, bool force)
{
	struct stat sb;
	const char *why;
	char buf[512];

	if (stat(m->source, &sb) < 0) {
		occ_cli_errorf(cli, "cannot mount '%s': it does not exist", m->source);
		return OCC_EXIT_ERROR;
	}
	if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode) && !S_ISSOCK(sb.st_mode)) {
		occ_cli_errorf(cli, "cannot mount '%s': not a directory or a regular file", m->source);
		return OCC_EXIT_ERROR;
	}
	why = occ_mount_source_danger(m->source, m->readonly, buf, sizeof(buf));
	m->dangerous = why != NULL;
	if (why && !force) {
		occ_cli_errorf(cli, "refusing to mount '%s' into the container: %s", m->source, why);
		fprintf(stderr, "hint: mount a project directory instead, or pass --force "
			"(it writes allow_dangerous: true on the mount)\n");
		return OCC_EXIT_ERROR;
	}
	/* The one socket worth mounting is Docker's, and only with --force. */
	if (S_ISSOCK(sb.st_mode) && !m->dangerous) {
		occ_cli_errorf(cli, "cannot mount '%s': not a directory or a regular file", m->source);
		return OCC_EXIT_ERROR;
	}
	return 0;
}

static int finish(struct occ_cli *cli, struct occ_cli_txn *t, bool apply, const char *op)
{
	struct occ_apply_opts ao = { 0 };
	int ret = occ_cli_txn_commit(t);

	if (ret)
		return ret;
	if (!apply) {
		occ_cli_info(cli, "%s updated; the next 'occ apply' recreates the container "
			     "('occ diff' shows it)\n", cli->file);
		return 0;
	}
	return occ_cli_apply(cli, &ao, op, true);
}

static int mount_add(struct occ_cli *cli, int argc, char **argv)
{
	struct mount_opts o = { 0 };
	struct mount_spec m = { 0 };
	struct occ_edit_kv f[4];
	struct occ_cli_txn t = { 0 };
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", mount_long, on_mount_opt, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 1)
		return occ_cli_usage_error(cli, "expected one SRC:DST[:ro]");
	ret = parse_spec(cli, argv[first], &m);
	if (ret == 0)
		ret = check_source(cli, &m, o.force);
	if (ret)
		goto out;
	ret = occ_cli_txn_begin(&t, cli, "mount add");
	if (ret)
		goto out;
	for (size_t i = 0; i < cli->state->n_mounts; i++) {
		if (strcmp(cli->state->mounts[i].target, m.target) == 0) {
			occ_cli_errorf(cli, "'%s' is already mounted from '%s'; remove it first with "
				       "'occ mount remove %s'", m.target, cli->state->mounts[i].source,
				       m.target);
			ret = OCC_EXIT_ERROR;
			goto out;
		}
	}
	f[0] = (struct occ_edit_kv){ "source", m.source, OCC_EDIT_STRING };
	f[1] = (struct occ_edit_kv){ "target", m.target, OCC_EDIT_STRING };
	f[2] = (struct occ_edit_kv){ "readonly", m.readonly ? "true" : "false", OCC_EDIT_PLAIN };
	f[3] = (struct occ_edit_kv){ "allow_dangerous", "true", OCC_EDIT_PLAIN };
	ret = occ_cli_txn_append(&t, "mounts", f, m.dangerous ? 4 : 3);
	if (ret == 0)
		ret = finish(cli, &t, o.apply, "mount add");
out:
	if (t.cli)
		occ_cli_txn_end(&t);
	free(m.source);
	free(m.target);
	return ret;
}

static int mount_remove(struct occ_cli *cli, int argc, char **argv)
{
	struct mount_opts o = { 0 };
	struct occ_cli_txn t;
	const char *target = NULL;
	char *sel = NULL, *abs = NULL;
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", mount_long, on_mount_opt, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 1)
		return occ_cli_usage_error(cli, "expected the container path (or the host path) of a mount");
	ret = occ_cli_txn_begin(&t, cli, "mount remove");
	if (ret)
		return ret;
	abs = occ_path_resolve(argv[first], NULL);
	for (size_t i = 0; i < cli->state->n_mounts && !target; i++)
		if (strcmp(cli->state->mounts[i].target, argv[first]) == 0 ||
		    strcmp(cli->state->mounts[i].source, abs) == 0)
			target = cli->state->mounts[i].target;
	if (!target) {
		occ_cli_errorf(cli, "no mount of '%s' in %s; see 'occ mount list'", argv[first], cli->file);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	sel = occ_xasprintf("mounts[target=%s]", target);
	ret = occ_cli_txn_delete(&t, sel);
	if (ret == 0)
		ret = finish(cli, &t, o.apply, "mount remove");
out:
	free(sel);
	free(abs);
	occ_cli_txn_end(&t);
	return ret;
}

static int mount_list(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_state *st = cli->state;
	struct occ_json j;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (cli->json) {
		occ_json_init(&j);
		occ_json_arr_begin(&j);
		for (size_t i = 0; i < st->n_mounts; i++) {
			occ_json_obj_begin(&j);
			occ_json_kstr(&j, "source", st->mounts[i].source);
			occ_json_kstr(&j, "target", st->mounts[i].target);
			occ_json_kbool(&j, "readonly", st->mounts[i].readonly);
			occ_json_obj_end(&j);
		}
		occ_json_arr_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return 0;
	}
	if (st->n_mounts == 0 && !cli->quiet)
		printf("no mounts in %s; add one with 'occ mount add SRC:DST[:ro]'\n", cli->file);
	for (size_t i = 0; i < st->n_mounts; i++)
		printf("%s:%s%s\n", st->mounts[i].source, st->mounts[i].target,
		       st->mounts[i].readonly ? ":ro" : "");
	return 0;
}

static const struct occ_subcmd mount_cmds[] = {
	{ "add", mount_add, "SRC:DST[:ro] [--force] [--apply]", "mount a host path into the container" },
	{ "remove", mount_remove, "DST|SRC [--apply]", "remove a mount" },
	{ "list", mount_list, "[--json]", "list the mounts" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_mount(struct occ_cli *cli, int argc, char **argv)
{
	return occ_cli_run_sub(cli, "mount", mount_cmds, argc, argv);
}
