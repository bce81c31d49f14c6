/*
 * cmd-user.c - `occ user add|remove|list|passwd|enable|disable`.
 *
 * Each edits users: in the state file (surgically, under the project lock)
 * and then reconciles, so the account inside the container follows. Passwords
 * are asked twice without echo, read with --password-stdin, or generated
 * (--generate, shown once); only their crypt hash is written anywhere.
 * --no-apply stops after the edit. Removing the last user while the service
 * is published beyond loopback is refused unless --force, which also puts
 * the service back on 127.0.0.1 (a published service always needs a login).
 *
 * `user add` is how a file published beyond loopback without a user gets
 * fixed, so it loads the file without that one rule (OCC_LOAD_NO_LOGIN_OK);
 * the edited file is loaded with every rule before it is written. The new
 * entry is checked against the loader's rules (name, shell) before the
 * password is asked for.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"
#include "cli/prompt.h"
#include "cli/sub.h"
#include "cli/targets.h"
#include "cli/txn.h"
#include "drivers/docker/docker.h"
#include "model/password.h"
#include "model/util.h"
#include "reconciler/apply.h"

struct user_opts {
	enum occ_pw_mode pw;
	const char *shell;
	bool disabled, no_apply, force, remove_home;
};

static int on_user_opt(void *ctx, int opt, const char *arg)
{
	struct user_opts *o = ctx;

	switch (opt) {
	case 'S': o->pw = OCC_PW_STDIN; break;
	case 'G': o->pw = OCC_PW_GENERATE; break;
	case 's': o->shell = arg; break;
	case 'd': o->disabled = true; break;
	case 'N': o->no_apply = true; break;
	case 'F': o->force = true; break;
	case 'H': o->remove_home = true; break;
	}
	return 0;
}

static const struct option user_long[] = {
	{ "password-stdin", no_argument, NULL, 'S' },
	{ "generate", no_argument, NULL, 'G' },
	{ "shell", required_argument, NULL, 's' },
	{ "disabled", no_argument, NULL, 'd' },
	{ "no-apply", no_argument, NULL, 'N' },
	{ "force", no_argument, NULL, 'F' },
	{ "remove-home", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

/* Parse options and exactly one NAME operand (when want_name). */
static int parse(struct occ_cli *cli, int argc, char **argv, struct user_opts *o,
		 const char **name, bool want_name)
{
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "s:", user_long, on_user_opt, o, &ret);

	if (first < 0)
		return ret;
	if (want_name && argc - first != 1)
		return occ_cli_usage_error(cli, "expected one user name");
	if (!want_name && argc - first != 0)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[first]);
	if (want_name)
		*name = argv[first];
	return 0;
}

static const struct occ_user *find_user(const struct occ_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_users; i++)
		if (strcmp(st->users[i].name, name) == 0)
			return &st->users[i];
	return NULL;
}

static int no_such_user(struct occ_cli *cli, const char *name)
{
	struct occ_error err;

	occ_error_clear(&err);
	occ_error_set(&err, OCC_ENOTFOUND, "no user '%s' in %s", name, cli->file);
	occ_error_hint(&err, "'occ user list' shows the users; 'occ user add %s' adds one", name);
	occ_cli_print_error(cli, &err);
	return OCC_EXIT_ERROR;
}

/* Write the edit, then reconcile unless --no-apply; both under the lock. */
static int finish(struct occ_cli *cli, struct occ_cli_txn *t, const struct user_opts *o,
		  const char *operation, const char *done)
{
	struct occ_apply_opts ao = { 0 };
	int ret = occ_cli_txn_commit(t);

	if (ret)
		return ret;
	occ_cli_info(cli, "%s in %s\n", done, cli->file);
	if (o->no_apply)
		return 0;
	ret = occ_cli_apply(cli, &ao, operation, true);
	if (ret)
		fprintf(stderr, "the state file is updated; run 'occ apply' once the problem is fixed\n");
	return ret;
}

static char *selector(const char *name, const char *field)
{
	return field ? occ_xasprintf("users[name=%s].%s", name, field)
		     : occ_xasprintf("users[name=%s]", name);
}

/*
 * Load the file with the entry appended, a placeholder standing in for the
 * hash: the loader's own rules and message (a system group's name, a shell
 * with ':'), before a password is asked, printed or written.
 */
static int precheck_entry(struct occ_cli *cli, const struct occ_cli_txn *t,
			  const struct occ_edit_kv *f, size_t n)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	char *out = NULL;
	size_t len = 0;
	int ret;

	occ_error_clear(&err);
	ret = occ_edit_append(&out, &len, t->buf, t->len, "users", f, n, &err);
	if (ret == 0)
		ret = occ_model_load_buffer(&st, out, len, cli->file, cli->state->dir, &err);
	occ_state_free(st);
	free(out);
	if (ret == 0)
		return 0;
	occ_cli_print_error(cli, &err);
	return OCC_EXIT_ERROR;
}

#define PLACEHOLDER_HASH "$y$j9T$aaaaaaaaaaaaaaaaaaaaaa$" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int user_add(struct occ_cli *cli, int argc, char **argv)
{
	struct user_opts o = { 0 };
	struct occ_edit_kv f[4];
	const char *name = NULL;
	struct occ_cli_txn t;
	char *hash = NULL;
	size_t n = 0;
	int ret = parse(cli, argc, argv, &o, &name, true);

	if (ret)
		return ret;
	ret = occ_cli_txn_begin(&t, cli, "user add");
	if (ret)
		return ret;
	if (find_user(cli->state, name)) {
		occ_cli_errorf(cli, "user '%s' already exists in %s; use 'occ user passwd %s' to "
			       "change the password", name, cli->file, name);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	f[n++] = (struct occ_edit_kv){ "name", name, OCC_EDIT_STRING };
	f[n++] = (struct occ_edit_kv){ "password_hash", PLACEHOLDER_HASH, OCC_EDIT_STRING };
	if (o.disabled)
		f[n++] = (struct occ_edit_kv){ "enabled", "false", OCC_EDIT_PLAIN };
	if (o.shell)
		f[n++] = (struct occ_edit_kv){ "shell", o.shell, OCC_EDIT_STRING };
	ret = precheck_entry(cli, &t, f, n);
	if (ret == 0)
		ret = occ_cli_new_password_hash(cli, o.pw, name, &hash);
	if (ret)
		goto out;
	f[1].value = hash;
	ret = occ_cli_txn_append(&t, "users", f, n);
	if (ret == 0)
		ret = finish(cli, &t, &o, "user add", "added user");
out:
	free(hash);
	occ_cli_txn_end(&t);
	return ret;
}

/* --remove-home: after the account is gone, its home directory on every host. */
static int remove_home(struct occ_cli *cli, const char *name)
{
	struct occ_targets t;
	bool failed = false;
	int ret = occ_cli_targets_open(cli, &t);

	if (ret)
		return ret;
	for (size_t i = 0; i < t.n; i++) {
		struct occ_target *tg = &t.items[i];

		if (tg->rc == 0)
			tg->rc = occ_docker_remove_home(tg->driver, tg->eff->name, name, &tg->err);
		if (tg->rc) {
			occ_cli_print_error(cli, &tg->err);
			failed = true;
		} else {
			occ_cli_info(cli, "%s: removed /home/%s\n", tg->name, name);
		}
	}
	occ_cli_targets_release(&t);
	return failed ? OCC_EXIT_ERROR : 0;
}

static int user_remove(struct occ_cli *cli, int argc, char **argv)
{
	struct user_opts o = { 0 };
	const char *name = NULL;
	struct occ_cli_txn t;
	char *sel = NULL;
	int ret = parse(cli, argc, argv, &o, &name, true);

	if (ret)
		return ret;
	if (o.remove_home && o.no_apply)
		return occ_cli_usage_error(cli, "--remove-home needs the account removed first: "
					   "drop --no-apply");
	ret = occ_cli_txn_begin(&t, cli, "user remove");
	if (ret)
		return ret;
	if (!find_user(cli->state, name)) {
		ret = no_such_user(cli, name);
		goto out;
	}
	if (cli->state->n_users == 1 && !occ_bind_is_loopback(cli->state->container.bind)) {
		if (!o.force) {
			occ_cli_errorf(cli, "'%s' is the last user, and the service is published on %s "
				       "beyond this machine: nobody could log in", name,
				       cli->state->container.bind);
			fprintf(stderr, "hint: add another user first, or pass --force to remove it and "
				"publish the service on 127.0.0.1 only\n");
			ret = OCC_EXIT_ERROR;
			goto out;
		}
		ret = occ_cli_txn_set(&t, "container.bind", "127.0.0.1", OCC_EDIT_PLAIN);
		if (ret)
			goto out;
		occ_cli_info(cli, "container.bind is now 127.0.0.1 (LOCAL ONLY)\n");
	}
	sel = selector(name, NULL);
	ret = occ_cli_txn_delete(&t, sel);
	if (ret == 0)
		ret = finish(cli, &t, &o, "user remove", o.remove_home ? "removed user" :
			     "removed user (its home directory is kept; --remove-home deletes it)");
	if (ret == 0 && o.remove_home)
		ret = remove_home(cli, name);
out:
	free(sel);
	occ_cli_txn_end(&t);
	return ret;
}

static int set_user_field(struct occ_cli *cli, int argc, char **argv, const char *field,
			  const char *value, const char *operation, const char *done)
{
	struct user_opts o = { 0 };
	const char *name = NULL;
	struct occ_cli_txn t;
	char *sel = NULL;
	int ret = parse(cli, argc, argv, &o, &name, true);

	if (ret)
		return ret;
	ret = occ_cli_txn_begin(&t, cli, operation);
	if (ret)
		return ret;
	if (!find_user(cli->state, name)) {
		ret = no_such_user(cli, name);
		goto out;
	}
	sel = selector(name, field);
	ret = occ_cli_txn_set(&t, sel, value, OCC_EDIT_PLAIN);
	if (ret == 0)
		ret = finish(cli, &t, &o, operation, done);
out:
	free(sel);
	occ_cli_txn_end(&t);
	return ret;
}

static int user_enable(struct occ_cli *cli, int argc, char **argv)
{
	return set_user_field(cli, argc, argv, "enabled", "true", "user enable", "enabled user");
}

static int user_disable(struct occ_cli *cli, int argc, char **argv)
{
	return set_user_field(cli, argc, argv, "enabled", "false", "user disable",
			      "disabled user (its account is locked)");
}

/* A user whose hash lives in a file gets the new hash in that file. */
static int passwd_file(struct occ_cli *cli, const struct occ_user *u, const char *hash)
{
	char *text = occ_xasprintf("%s\n", hash);
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ret = occ_write_file_atomic(u->password_file, text, strlen(text), 0600, &err);
	free(text);
	if (ret) {
		occ_cli_print_error(cli, &err);
		return OCC_EXIT_ERROR;
	}
	occ_cli_info(cli, "wrote the new hash to %s\n", u->password_file);
	return 0;
}

static int user_passwd(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_apply_opts ao = { 0 };
	struct user_opts o = { 0 };
	const struct occ_user *u;
	const char *name = NULL;
	struct occ_cli_txn t;
	char *hash = NULL, *sel = NULL;
	int ret = parse(cli, argc, argv, &o, &name, true);

	if (ret)
		return ret;
	ret = occ_cli_txn_begin(&t, cli, "user passwd");
	if (ret)
		return ret;
	u = find_user(cli->state, name);
	if (!u) {
		ret = no_such_user(cli, name);
		goto out;
	}
	if (u->pw_source == OCC_PW_ENV) {
		occ_cli_errorf(cli, "the password of '%s' comes from the environment variable %s",
			       name, u->password_env);
		fprintf(stderr, "hint: set that variable to a new crypt hash (mkpasswd -m yescrypt), "
			"or replace password_env with password_hash in %s\n", cli->file);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	ret = occ_cli_new_password_hash(cli, o.pw, name, &hash);
	if (ret)
		goto out;
	if (u->pw_source == OCC_PW_FILE) {
		ret = passwd_file(cli, u, hash);
		if (ret == 0 && !o.no_apply)
			ret = occ_cli_apply(cli, &ao, "user passwd", true);
		goto out;
	}
	/* Replaces the hash, or adds the key to a user that had no password. */
	sel = selector(name, "password_hash");
	ret = occ_cli_txn_set(&t, sel, hash, OCC_EDIT_STRING);
	if (ret == 0)
		ret = finish(cli, &t, &o, "user passwd", "changed the password of the user");
out:
	free(hash);
	free(sel);
	occ_cli_txn_end(&t);
	return ret;
}

static const char *pw_source_name(const struct occ_user *u)
{
	switch (u->pw_source) {
	case OCC_PW_HASH: return "hash";
	case OCC_PW_FILE: return "file";
	case OCC_PW_ENV: return "env";
	case OCC_PW_NONE: break;
	}
	return "none";
}

static int user_list(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_state *st = cli->state;
	struct user_opts o = { 0 };
	struct occ_json j;
	int ret = parse(cli, argc, argv, &o, NULL, false);

	if (ret)
		return ret;
	if (cli->json) {
		occ_json_init(&j);
		occ_json_arr_begin(&j);
		for (size_t i = 0; i < st->n_users; i++) {
			occ_json_obj_begin(&j);
			occ_json_kstr(&j, "name", st->users[i].name);
			occ_json_kbool(&j, "enabled", st->users[i].enabled);
			occ_json_kstr(&j, "shell", st->users[i].shell);
			occ_json_kstr(&j, "password", pw_source_name(&st->users[i]));
			occ_json_obj_end(&j);
		}
		occ_json_arr_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return 0;
	}
	if (cli->quiet) {
		for (size_t i = 0; i < st->n_users; i++)
			printf("%s\n", st->users[i].name);
		return 0;
	}
	if (st->n_users == 0) {
		printf("no users in %s; add one with 'occ user add NAME'\n", cli->file);
		return 0;
	}
	printf("%-24s %-8s %-9s %s\n", "NAME", "ENABLED", "PASSWORD", "SHELL");
	for (size_t i = 0; i < st->n_users; i++)
		printf("%-24s %-8s %-9s %s\n", st->users[i].name, st->users[i].enabled ? "yes" : "no",
		       pw_source_name(&st->users[i]), st->users[i].shell);
	return 0;
}

static const struct occ_subcmd user_cmds[] = {
	{ "add", user_add, "NAME [--password-stdin|--generate] [--shell SH] [--disabled]",
	  "add a user and create the account" },
	{ "remove", user_remove, "NAME [--force] [--remove-home]",
	  "remove a user (home kept unless --remove-home)" },
	{ "list", user_list, "[--json] [-q]", "list the users" },
	{ "passwd", user_passwd, "NAME [--password-stdin|--generate]", "change a password" },
	{ "enable", user_enable, "NAME", "unlock a user's account" },
	{ "disable", user_disable, "NAME", "lock a user's account" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_user(struct occ_cli *cli, int argc, char **argv)
{
	int ret;

	if (argc > 1 && strcmp(argv[1], "add") == 0)
		cli->load_flags = OCC_LOAD_NO_LOGIN_OK;
	ret = occ_cli_load_state(cli, true);
	if (ret)
		return ret;
	return occ_cli_run_sub(cli, "user", user_cmds, argc, argv);
}
