/*
 * cmd-service.c - `occ install` and `occ uninstall`: keep `occ watch -f FILE`
 * running across logouts and reboots as a systemd unit (Linux) or a launchd
 * job (macOS), and take it away again.
 *
 * install validates the state file first (a watcher on a broken file would
 * only crash-loop; a missing default file is created with the defaults, as
 * by `occ apply`), then drivers/service.h renders the unit from the templates
 * compiled into occ, writes it only when it differs from the file on disk,
 * and asks the manager to reload and (re)start only when that is needed: a
 * second install changes nothing. The unit runs this very binary (its
 * absolute path) on the state file's absolute path. --system installs a
 * system-wide unit and needs root. --dry-run prints the unit and the
 * commands instead of writing or running anything (it still asks the manager
 * read-only questions). When the manager cannot be reached (no user session:
 * cron, `sudo -u`, containers) the file is still written and the output says
 * exactly what to run later, and how lingering keeps a user unit running
 * without a login session.
 *
 * uninstall stops, disables and removes the unit and keeps every piece of
 * data. --purge also removes occ's own local files for the project: its
 * journal, lock file, watch status file, accounts record (and the launchd
 * log) - never the state file, never Docker volumes.
 *
 * occ_cli_service_apply() is install as `occ apply` runs it when the state
 * file says service.install: true.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json.h"
#include "drivers/service.h"
#include "reconciler/apply.h"
#include "reconciler/lock.h"

static int parse_opts(struct occ_cli *cli, int argc, char **argv,
		      struct occ_service_opts *o, bool *purge)
{
	static const struct option opts[] = {
		{ "system", no_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "purge", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			o->system = true;
		else if (opt == 'n')
			o->dry_run = true;
		else if (opt == 'P' && purge)
			*purge = true;
		else
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static const char *unit_name(const struct occ_service_result *r)
{
	return strcmp(r->manager, "launchd") == 0 ? OCC_SERVICE_LABEL : OCC_SERVICE_UNIT_NAME;
}

static void print_commands(FILE *out, const struct occ_service_result *r)
{
	for (size_t i = 0; i < r->n_commands; i++)
		fprintf(out, "  %s\n", r->commands[i]);
}

/* The manager could not be asked: say why and what to run, and where. */
static void print_later(struct occ_cli *cli, const struct occ_service_result *r, bool system)
{
	if (r->manager_ok || r->n_commands == 0 || cli->quiet)
		return;
	fprintf(stderr, "%swarning:%s %s, so nothing was started or stopped.\n"
		"Run this later, %s:\n", cli->color_err ? "\033[33m" : "",
		cli->color_err ? "\033[0m" : "", r->reason,
		strcmp(r->manager, "launchd") == 0 ? "while this user is logged in at the console" :
		system ? "as root on a machine booted with systemd" :
		"in a login session of this user (e.g. over ssh)");
	print_commands(stderr, r);
}

static void print_linger(struct occ_cli *cli, const struct occ_service_result *r)
{
	if (!r->linger_hint || cli->quiet)
		return;
	fprintf(stderr, "%shint:%s a user unit runs only while %s has a session; to start it at "
		"boot and keep it running after logout, run once:\n  loginctl enable-linger %s\n",
		cli->color_err ? "\033[33m" : "", cli->color_err ? "\033[0m" : "", r->user, r->user);
}

static const char *file_change(const struct occ_service_result *r)
{
	if (!r->changed)
		return "unchanged";
	return r->existed ? "changed" : "new";
}

static void json_result(const struct occ_service_result *r, const struct occ_service_opts *o,
			bool with_content)
{
	struct occ_json j;

	occ_json_init(&j);
	occ_json_obj_begin(&j);
	occ_json_kbool(&j, "ok", true);
	occ_json_kstr(&j, "manager", r->manager);
	occ_json_kstr(&j, "path", r->path);
	occ_json_kbool(&j, "system", o->system);
	occ_json_kbool(&j, "dry_run", o->dry_run);
	occ_json_kbool(&j, "existed", r->existed);
	occ_json_kbool(&j, "changed", r->changed);
	occ_json_kbool(&j, "manager_ok", r->manager_ok);
	if (!r->manager_ok)
		occ_json_kstr(&j, "reason", r->reason);
	occ_json_kbool(&j, "ran", r->ran);
	occ_json_key(&j, "commands");
	occ_json_arr_begin(&j);
	for (size_t i = 0; i < r->n_commands; i++)
		occ_json_str(&j, r->commands[i]);
	occ_json_arr_end(&j);
	occ_json_kbool(&j, "linger_hint", r->linger_hint);
	if (r->log_path)
		occ_json_kstr(&j, "log", r->log_path);
	if (with_content)
		occ_json_kstr(&j, "unit", r->content);
	occ_json_obj_end(&j);
	printf("%s\n", j.sb.buf);
	occ_json_release(&j);
}

static void report_install_dry(const struct occ_service_result *r)
{
	printf("would %s %s (%s):\n%s", r->changed ? "write" : "keep", r->path, file_change(r),
	       r->content);
	if (r->n_commands == 0)
		printf("would run nothing: %s is enabled and running\n", unit_name(r));
	else if (r->manager_ok)
		printf("would run:\n");
	else
		printf("would run nothing now: %s. To run later:\n", r->reason);
	print_commands(stdout, r);
}

static void report_install_done(struct occ_cli *cli, const struct occ_service_result *r,
				const struct occ_service_opts *o, const char *state)
{
	if (r->changed)
		occ_cli_info(cli, "wrote %s\n", r->path);
	else
		occ_cli_info(cli, "%s is up to date\n", r->path);
	for (size_t i = 0; r->ran && i < r->n_commands; i++)
		occ_cli_info(cli, "ran: %s\n", r->commands[i]);
	print_later(cli, r, o->system);
	if (r->manager_ok)
		occ_cli_info(cli, "%s is enabled and runs `occ watch -f %s`\n", unit_name(r),
			     state);
	if (r->log_path)
		occ_cli_info(cli, "its output goes to %s\n", r->log_path);
	else if (r->manager_ok)
		occ_cli_info(cli, "its output: journalctl%s -u %s\n", o->system ? "" : " --user",
			     OCC_SERVICE_UNIT_NAME);
	print_linger(cli, r);
}

static void report_install(struct occ_cli *cli, const struct occ_service_result *r,
			   const struct occ_service_opts *o)
{
	char *state = occ_path_resolve(cli->file, NULL);

	if (cli->json)
		json_result(r, o, o->dry_run);
	else if (o->dry_run)
		report_install_dry(r);
	else
		report_install_done(cli, r, o, state);
	free(state);
}

/*
 * Load the state file for install. --dry-run writes nothing, so a default
 * file that does not exist yet is not created: the unit is rendered for its
 * path, as install would create it.
 */
static int load_for_install(struct occ_cli *cli, bool dry_run)
{
	if (dry_run && !cli->file_given && access(cli->file, F_OK) != 0 && errno == ENOENT) {
		occ_cli_info(cli, "%s does not exist; install would create it with the defaults\n",
			     cli->file);
		return 0;
	}
	return occ_cli_load_state(cli, !dry_run);
}

int cmd_install(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_service_opts o = { 0 };
	struct occ_service_result r;
	struct occ_error err;
	int ret;

	ret = parse_opts(cli, argc, argv, &o, NULL);
	if (ret)
		return ret;
	occ_error_clear(&err);
	/* Refuse --system before anything is created. */
	if (occ_service_check_system(getuid(), o.system, &err)) {
		occ_cli_print_error(cli, &err);
		return OCC_EXIT_ERROR;
	}
	ret = load_for_install(cli, o.dry_run);
	if (ret)
		return ret;
	if (!occ_cli_find_command("watch"))
		occ_cli_info(cli, "warning: this occ has no `watch` command, so the service it "
			     "installs will fail until occ is upgraded\n");
	if (occ_service_ensure(&r, cli->file, cli->state, &o, &err)) {
		occ_cli_print_error(cli, &err);
		ret = OCC_EXIT_ERROR;
	} else {
		report_install(cli, &r, &o);
	}
	occ_service_result_release(&r);
	return ret;
}

/* --purge: occ's own files for the project (paths as documented in
 * reconciler/apply.h, reconciler/lock.h and `occ help watch`), never data. */
static void purge_file(struct occ_cli *cli, const char *path, bool dry_run)
{
	if (access(path, F_OK) != 0)
		return;
	if (dry_run && !cli->json) {
		printf("would remove %s\n", path);
	} else if (dry_run) {
		occ_cli_info(cli, "would remove %s\n", path);
	} else if (unlink(path) == 0) {
		occ_cli_info(cli, "removed %s\n", path);
	} else {
		occ_cli_errorf(cli, "cannot remove '%s': %s", path, strerror(errno));
	}
}

/* The lock file goes only while nobody holds it (we take it, unlink, drop). */
static void purge_lock(struct occ_cli *cli, const char *project, bool dry_run)
{
	char *data = occ_data_dir();
	char *path = occ_xasprintf("%s/locks/%s.lock", data, project);
	struct occ_lock *lock = NULL;
	struct occ_error err;

	occ_error_clear(&err);
	if (access(path, F_OK) != 0 || dry_run) {
		purge_file(cli, path, dry_run);
	} else if (occ_lock_acquire(&lock, NULL, project, "uninstall", 0, NULL, NULL, &err) == 0) {
		purge_file(cli, path, false);
		occ_lock_release(lock);
	} else {
		occ_cli_info(cli, "kept %s: %s\n", path, err.msg);
	}
	free(path);
	free(data);
}

static int purge(struct occ_cli *cli, const struct occ_service_result *r, bool dry_run)
{
	const char *project = "opencode-cloud";
	char *journal, *data, *watch, *accounts;

	if (access(cli->file, F_OK) == 0 || cli->file_given) {
		int ret = occ_cli_load_state(cli, false);

		if (ret)
			return ret;
		project = cli->state->name;
	}
	journal = occ_journal_default_path(project);
	data = occ_data_dir();
	watch = occ_xasprintf("%s/watch/%s.json", data, project);
	accounts = occ_xasprintf("%s/accounts/%s", data, project);
	purge_file(cli, journal, dry_run);
	purge_file(cli, watch, dry_run);
	purge_file(cli, accounts, dry_run);
	purge_lock(cli, project, dry_run);
	if (r->log_path)
		purge_file(cli, r->log_path, dry_run);
	free(journal);
	free(watch);
	free(accounts);
	free(data);
	return 0;
}

static void report_remove(struct occ_cli *cli, const struct occ_service_result *r,
			  const struct occ_service_opts *o)
{
	if (cli->json) {
		json_result(r, o, false);
		return;
	}
	if (o->dry_run) {
		printf(r->existed ? "would remove %s\n" : "nothing installed at %s\n", r->path);
		if (r->n_commands)
			printf("would run%s:\n", r->manager_ok ? "" : " (later)");
		print_commands(stdout, r);
		return;
	}
	occ_cli_info(cli, r->existed ? "removed %s\n" : "no service was installed at %s\n",
		     r->path);
	for (size_t i = 0; r->ran && i < r->n_commands; i++)
		occ_cli_info(cli, "ran: %s\n", r->commands[i]);
	print_later(cli, r, o->system);
}

int cmd_uninstall(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_service_opts o = { 0 };
	struct occ_service_result r;
	struct occ_error err;
	bool purge_files = false;
	int ret;

	ret = parse_opts(cli, argc, argv, &o, &purge_files);
	if (ret)
		return ret;
	occ_error_clear(&err);
	if (occ_service_remove(&r, &o, &err)) {
		occ_cli_print_error(cli, &err);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	report_remove(cli, &r, &o);
	if (purge_files)
		ret = purge(cli, &r, o.dry_run);
	if (ret == 0 && !cli->json)
		occ_cli_info(cli, "kept the state file and all Docker volumes%s\n",
			     purge_files ? " (--purge removes only occ's journal, lock and log "
			     "files; it never removes volumes)" : "");
out:
	occ_service_result_release(&r);
	return ret;
}

int occ_cli_service_apply(struct occ_cli *cli)
{
	struct occ_service_result r;
	struct occ_error err;
	int ret = OCC_EXIT_OK;

	if (!cli->state || !cli->state->service.install)
		return OCC_EXIT_OK;
	occ_error_clear(&err);
	if (occ_service_ensure(&r, cli->file, cli->state, NULL, &err)) {
		/* Text on stderr even with --json: apply owns stdout. */
		bool json = cli->json;

		cli->json = false;
		occ_error_prefix(&err, "service.install");
		occ_cli_print_error(cli, &err);
		cli->json = json;
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	if (r.changed)
		occ_cli_info(cli, "service: wrote %s\n", r.path);
	for (size_t i = 0; r.ran && i < r.n_commands; i++)
		occ_cli_info(cli, "service: ran: %s\n", r.commands[i]);
	print_later(cli, &r, false);
	if (r.changed)
		print_linger(cli, &r);
out:
	occ_service_result_release(&r);
	return ret;
}
