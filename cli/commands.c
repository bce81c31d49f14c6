/*
 * commands.c - the command table, the argument pre-pass and dispatch.
 *
 * Global options (--file, --host, --json, --no-color, -q, -v, --yes,
 * --lock-timeout) may stand anywhere on the command line: a pre-pass takes
 * them out so each command parses only its own. `-f` is --file except for
 * commands that own it (`occ logs -f` follows, as in docker).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

const struct occ_cmd occ_commands[] = {
	{ "setup", cmd_setup, 0,
	  "[--yes] [--port N] [--network] [--user NAME --password-stdin] [--workspace DIR] "
	  "[--image REF|--build]",
	  "first run: a few questions, a commented state file, a running service",
	  "On a terminal, asks for the port, this machine only or the network (which\n"
	  "needs a user), the first user and password (asked twice, not echoed; only\n"
	  "its crypt hash is stored), a host directory to mount as\n"
	  "/home/USER/workspace, and whether to build the image here (the embedded\n"
	  "Dockerfile) or pull one. Shows a summary, writes a commented state file\n"
	  "(--file, or the default path the other commands use) and applies it.\n"
	  "Run again, it offers the file's values as defaults and edits the file in\n"
	  "place, keeping your comments (FILE.bak keeps the previous version).\n\n"
	  "Options answer questions in advance; --yes takes the defaults for the rest\n"
	  "and asks nothing. Without a terminal, --yes is required.\n\n"
	  "      --port N           publish on host port N (default 3000)\n"
	  "      --network          publish on every interface (0.0.0.0); needs a user\n"
	  "      --bind ADDR        publish on ADDR\n"
	  "      --user NAME        the first user\n"
	  "      --password-stdin   read that user's password from standard input\n"
	  "      --generate         generate the password (shown once)\n"
	  "      --workspace DIR    mount DIR (must exist) at /home/NAME/workspace\n"
	  "      --no-workspace     no workspace mount\n"
	  "      --image REF        pull REF instead of building\n"
	  "      --build            build the embedded image (image.build.context: embedded)\n"
	  "      --name NAME        the project name (container, volume prefix)\n"
	  "      --no-apply         write the state file only\n"
	  "  -y, --yes              no questions: defaults and the options above\n\n"
	  "Example (a script):\n"
	  "  printf '%s\\n' \"$PW\" | occ setup --yes --user alice --password-stdin --port 3000\n" },
	{ "apply", cmd_apply, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--yes] [--json] [--lock-timeout D]",
	  "converge every host to the state file",
	  "Observes Docker, prints the plan, applies it in order (image, volumes,\n"
	  "container, start) and waits for the service to be healthy.\n"
	  "With no state file at the default path, one with the defaults is created.\n\n"
	  "  -y, --yes             apply destructive changes without asking\n"
	  "      --json            print the plan and the result as JSON\n"
	  "      --no-health       do not wait for health after starting\n"
	  "      --lock-timeout D  give up when another occ holds the project lock for D\n"
	  "                        (e.g. 30s; default: wait)\n" },
	{ "diff", cmd_diff, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--exit-code] [--json]",
	  "show what apply would change",
	  "Prints the plan terraform-style: + create, ~ change in place, -/+ recreate,\n"
	  "- remove, with old -> new per field and the cause of each action.\n"
	  "Secrets are shown as (sensitive) and a short hash.\n\n"
	  "      --exit-code  exit 2 when there are changes, 0 when none (1 on error)\n"
	  "      --json       print the plan as JSON (schemas/plan.schema.json)\n" },
	{ "status", cmd_status, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--json]",
	  "show the service: state, URL, health, image, drift",
	  "      --json  print the status as JSON\n" },
	{ "start", cmd_start, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--yes]",
	  "start the service (records container.running: true and applies)", "" },
	{ "stop", cmd_stop, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "",
	  "stop the service (records container.running: false and applies)",
	  "The stopped state is written to the state file, so neither a watcher nor\n"
	  "the next apply starts the service again until `occ start`.\n" },
	{ "restart", cmd_restart, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "",
	  "restart the service's container", "" },
	{ "logs", cmd_logs, CMD_LOAD_STATE | CMD_DEFAULT_STATE | CMD_OWN_F,
	  "[-f] [-n N] [--since T] [-t]", "show the service's logs",
	  "  -f, --follow      keep streaming new output\n"
	  "  -n, --tail N      only the last N lines\n"
	  "      --since T     only since T (unix seconds, or a duration such as 10m)\n"
	  "  -t, --timestamps  prefix each line with its timestamp\n"
	  "The state file is given with --file here, since -f means --follow.\n" },
	{ "user", cmd_user, CMD_DEFAULT_STATE, /* cmd_user loads the state itself */
	  "add|remove|list|passwd|enable|disable ...", "manage the users who can log in",
	  "  occ user add NAME [--password-stdin|--generate] [--shell SH] [--disabled]\n"
	  "  occ user remove NAME [--force] [--remove-home]\n"
	  "  occ user list [--json] [-q]\n"
	  "  occ user passwd NAME [--password-stdin|--generate]\n"
	  "  occ user enable NAME | occ user disable NAME\n\n"
	  "Each edits users: in the state file (comments kept; FILE.bak keeps the previous\n"
	  "version) and reconciles, so the account in the container follows; --no-apply\n"
	  "only edits. The password is asked twice without echo, read from standard input\n"
	  "with --password-stdin, or generated with --generate (shown once). Only its\n"
	  "crypt hash is stored. Removing the last user of a service published beyond\n"
	  "loopback needs --force, which also publishes it on 127.0.0.1 only.\n" },
	{ "mount", cmd_mount, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "add|remove|list ...",
	  "bind-mount host paths into the container",
	  "  occ mount add SRC:DST[:ro] [--force] [--apply]\n"
	  "  occ mount remove DST|SRC [--apply]\n"
	  "  occ mount list [--json]\n\n"
	  "SRC must exist. A source that would hand the container this machine (/, /etc,\n"
	  "the Docker socket, /proc, your home directory itself, ...) needs --force, which\n"
	  "writes allow_dangerous: true on the mount. A relative SRC\n"
	  "is taken from the current directory. Mounts change the container: the next\n"
	  "'occ apply' recreates it ('occ diff' shows why); --apply does it now.\n" },
	{ "open", cmd_open, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--host NAME] [--port N] [--print]",
	  "print the service's URL, forwarding it here from a remote host",
	  "On this machine (or a host that publishes the service on its network) the\n"
	  "URL works as it is: occ prints it and, on a terminal, opens a browser.\n"
	  "A remote host that publishes the service on loopback only is reached over\n"
	  "its SSH connection: a listener on 127.0.0.1 here forwards to the service\n"
	  "there until Ctrl-C. Nothing is published on the remote host for this.\n\n"
	  "      --host NAME  the host (default: default_host, or the only host)\n"
	  "  -p, --port N     the local port of the forward (default: the service's\n"
	  "                   port when free, else any free port)\n"
	  "      --bind ADDR  listen on this loopback address (default 127.0.0.1)\n"
	  "      --print      print the URL only; never open a browser\n" },
	{ "host", cmd_host, CMD_LOAD_STATE | CMD_DEFAULT_STATE,
	  "add|remove|list|show|edit|test|default ...", "manage the machines to converge",
	  "  occ host add NAME [USER@]ADDRESS [-u USER] [-p PORT] [-i KEY] [--socket PATH]\n"
	  "                    [--accept-new] [--no-test] [--apply]\n"
	  "  occ host remove NAME\n"
	  "  occ host list [--json] [-q]\n"
	  "  occ host show NAME [--json]\n"
	  "  occ host edit NAME [--address A] [-u USER] [-p PORT] [-i KEY] [--socket PATH]\n"
	  "                     [--service-port N] [--bind ADDR]\n"
	  "  occ host test [NAME] [--accept-new] [--json]\n"
	  "  occ host default [NAME|local]\n\n"
	  "Hosts are reached over SSH (ssh-agent, then the identity file; ~/.ssh/config\n"
	  "is read) and their Docker socket through that connection: no Docker port is\n"
	  "ever exposed. Host keys are checked against ~/.ssh/known_hosts; an unknown key\n"
	  "is refused until you accept it with --accept-new, a changed key always is.\n"
	  "'host add' connects first and writes nothing when that fails (--no-test skips\n"
	  "the check). Adding the first host also lists 'local' (this machine), so it\n"
	  "stays managed. --service-port and --bind override the service's published\n"
	  "port and address on that host. apply, diff and watch converge every host;\n"
	  "logs and open use --host NAME or the default host.\n" },
	{ "config", cmd_config, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "show|get|set|reset|env ...",
	  "read and change the state file",
	  "  occ config show [--json]         effective state, defaults filled, secrets masked\n"
	  "  occ config get KEY               e.g. container.port, users[name=alice].shell\n"
	  "  occ config set KEY VALUE [--apply]\n"
	  "  occ config reset [--yes]         back to the defaults (FILE.bak kept)\n"
	  "  occ config env set KEY=VALUE... | unset KEY... | list\n\n"
	  "set validates exactly like loading the file and says whether the change needs a\n"
	  "new container; --apply applies it at once.\n" },
	{ "install", cmd_install, 0, "[--system] [--dry-run]",
	  "keep `occ watch` running as a service (systemd unit, launchd agent)",
	  "Writes a systemd user unit (~/.config/systemd/user/opencode-cloud.service) or,\n"
	  "on macOS, a launchd agent (~/Library/LaunchAgents/dev.opencode-cloud.occ.plist)\n"
	  "that runs this occ binary as `occ watch -f FILE` with the state file's absolute\n"
	  "path, restarts it on failure and waits for the Docker socket; then enables and\n"
	  "starts it. Rewrites the file and restarts only when something changed. Without\n"
	  "a reachable service manager the file is still written and occ says what to run.\n\n"
	  "      --system   a system-wide unit (/etc/systemd/system; needs root)\n"
	  "      --dry-run  print the unit and the commands, change nothing\n" },
	{ "uninstall", cmd_uninstall, 0, "[--system] [--dry-run] [--purge]",
	  "stop and remove the service `occ install` set up",
	  "Stops, disables and removes the unit. Keeps the state file and all data.\n\n"
	  "      --system   the system-wide unit (needs root)\n"
	  "      --dry-run  print what would be stopped and removed, change nothing\n"
	  "      --purge    also remove occ's own journal, lock, watch status, accounts\n"
	  "                 record and log files for the project (never the state\n"
	  "                 file, never Docker volumes)\n" },
	{ "watch", cmd_watch, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "[--once] [--json] [--yes]",
	  "stay converged: follow the state file, Docker events and drift",
	  "Reconciles every host now, then whenever the state file or a file it\n"
	  "references changes (mount sources, password files, Dockerfile, CA\n"
	  "certificates; decided by content hash), when Docker reports a project\n"
	  "container stopped, killed or removed (watch.self_heal), and every\n"
	  "watch.resync (+-10%). An edit that does not load is logged with\n"
	  "file:line:col and the last good state stays in force. Hosts run\n"
	  "independently; failures back off from 5 s to 5 min, and a host failing the\n"
	  "same way for the same state is reported stalled. One log line per event\n"
	  "(stderr; JSON lines on stdout with --json). State for `occ status` is kept\n"
	  "in $XDG_DATA_HOME/opencode-cloud/watch/PROJECT.json.\n\n"
	  "      --once   reconcile every host once and exit (1 if any failed)\n"
	  "      --json   log JSON lines\n"
	  "  -y, --yes    also apply plans with destructive changes\n\n"
	  "Signals: HUP reloads and reconciles now, USR1 prints each host's state,\n"
	  "TERM/INT let running reconciles finish and exit 0.\n" },
	{ "update", cmd_update, CMD_LOAD_STATE | CMD_DEFAULT_STATE,
	  "[--check] [--rollback] [--yes] [--json]",
	  "move the service to a newer image, rolling back if it is unhealthy",
	  "Checks whether a newer image is available: for image.build, whether the\n"
	  "build inputs (context files, Dockerfile, args) changed since the image was\n"
	  "built (its dev.opencode-cloud.build-hash label); for a pulled image, whether\n"
	  "the registry has another digest for image.ref. Shows old -> new, asks (or\n"
	  "--yes), keeps the running image as PROJECT-previous:latest, builds or pulls,\n"
	  "and recreates the container with the health gate. When the new container\n"
	  "does not become healthy, image.ref goes back to the previous image and the\n"
	  "service is recreated from it (exit 1). Users, volumes and mounts are kept.\n\n"
	  "      --check     only report; exit 2 when an update is available, 0 when\n"
	  "                  current, 1 on error (like diff --exit-code)\n"
	  "      --rollback  go back to the previous image (again: forward)\n"
	  "  -y, --yes       do not ask\n"
	  "      --json      print the result as JSON\n" },
	{ "volume", cmd_volume, CMD_LOAD_STATE | CMD_DEFAULT_STATE, "list|remove ...",
	  "list the project's volumes, or delete one (asks first)",
	  "  occ volume list [--json] [-q]\n"
	  "  occ volume remove NAME [--yes]\n\n"
	  "occ never removes a volume by itself, even one the state file no longer\n"
	  "names: they hold opencode's data and the users' homes. NAME is the short\n"
	  "name from the state file (data) or Docker's full name (PROJECT-data).\n" },
	{ "validate", cmd_validate, 0, "",
	  "check the state file and print ok or the errors",
	  "Loads the state file and validates it without touching Docker.\n"
	  "Prints `ok` (or {\"ok\":true} with --json); errors name file:line:col.\n" },
	{ "completion", cmd_completion, 0, "bash|zsh|fish",
	  "print a shell completion script",
	  "  bash:  occ completion bash > /etc/bash_completion.d/occ\n"
	  "  zsh:   occ completion zsh > \"${fpath[1]}/_occ\"\n"
	  "  fish:  occ completion fish > ~/.config/fish/completions/occ.fish\n" },
	{ "help", cmd_help, 0, "[COMMAND]", "show help for occ or a command", "" },
	{ "version", cmd_version, 0, "", "print occ's version", "" },
	{ "man", cmd_man, CMD_HIDDEN, "", "print the man page (roff)", "" },
	{ NULL, NULL, 0, NULL, NULL, NULL },
};

const struct occ_cmd *occ_cli_find_command(const char *name)
{
	for (const struct occ_cmd *c = occ_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct prepass {
	char *cmd_name;
	bool help, version, no_color;
	int argc;
	char **argv;          /* argv[0] = command name, then its own arguments */
};

/* Match --name, --name=VALUE or (short) -s; *value gets the value if wanted. */
static int match_opt(char **argv, int *i, int argc, const char *lng, char shrt,
		     bool takes_value, const char **value, bool *bad)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, lng, n) == 0 &&
	    (a[2 + n] == '\0' || (takes_value && a[2 + n] == '='))) {
		if (!takes_value)
			return 1;
		if (a[2 + n] == '=') {
			*value = a + 3 + n;
			return 1;
		}
	} else if (!(shrt && a[0] == '-' && a[1] == shrt && a[2] == '\0')) {
		return 0;
	} else if (!takes_value) {
		return 1;
	}
	if (*i + 1 >= argc) {
		*bad = true;
		return 1;
	}
	*value = argv[++*i];
	return 1;
}

static int prepass(struct occ_cli *cli, struct prepass *pp, int argc, char **argv)
{
	const struct occ_cmd *cmd = NULL;
	const char *v = NULL;
	bool bad = false;

	pp->argv = occ_xcalloc((size_t)argc + 1, sizeof(char *));
	pp->argc = 1;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		bool own_f = cmd && (cmd->flags & CMD_OWN_F);

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				pp->argv[pp->argc++] = argv[i++];
			break;
		}
		if (match_opt(argv, &i, argc, "file", own_f ? 0 : 'f', true, &v, &bad)) {
			cli->file = v;
			cli->file_given = true;
		} else if (match_opt(argv, &i, argc, "host", 0, true, &v, &bad)) {
			cli->host = v;
		} else if (match_opt(argv, &i, argc, "lock-timeout", 0, true, &v, &bad)) {
			uint64_t ms;

			if (!bad && occ_parse_duration_ms(v, &ms) != 0)
				return occ_cli_usage_error(cli, "invalid --lock-timeout '%s': expected a duration such as 30s", v);
			cli->lock_timeout_ms = bad ? -1 : (int64_t)ms;
		} else if (match_opt(argv, &i, argc, "json", 0, false, &v, &bad)) {
			cli->json = true;
		} else if (match_opt(argv, &i, argc, "no-color", 0, false, &v, &bad)) {
			pp->no_color = true;
		} else if (match_opt(argv, &i, argc, "quiet", 'q', false, &v, &bad)) {
			cli->quiet = true;
		} else if (match_opt(argv, &i, argc, "verbose", 'v', false, &v, &bad)) {
			cli->verbose++;
		} else if (strcmp(a, "-vv") == 0) {
			cli->verbose += 2;
		} else if (match_opt(argv, &i, argc, "yes", 'y', false, &v, &bad)) {
			cli->yes = true;
		} else if (match_opt(argv, &i, argc, "help", 'h', false, &v, &bad)) {
			pp->help = true;
		} else if (match_opt(argv, &i, argc, "version", 'V', false, &v, &bad)) {
			pp->version = true;
		} else if (!pp->cmd_name && a[0] != '-') {
			pp->cmd_name = a;
			cmd = occ_cli_find_command(a);
		} else {
			pp->argv[pp->argc++] = a;
		}
		if (bad)
			return occ_cli_usage_error(cli, "option '%s' needs a value", a);
	}
	pp->argv[0] = pp->cmd_name ? pp->cmd_name : argv[0];
	return 0;
}

static int run_command(struct occ_cli *cli, const struct occ_cmd *cmd, int argc, char **argv)
{
	cli->cmd = cmd;
	if (cmd->flags & CMD_LOAD_STATE) {
		int ret = occ_cli_load_state(cli, cmd->flags & CMD_DEFAULT_STATE);

		if (ret)
			return ret;
	}
	return cmd->fn(cli, argc, argv);
}

int occ_cli_main(int argc, char **argv)
{
	struct occ_cli cli = { .lock_timeout_ms = -1 };
	struct prepass pp = { 0 };
	const struct occ_cmd *cmd;
	char *default_file = NULL;
	const char *nc = getenv("NO_COLOR");
	int ret;

	cli.tty_in = isatty(STDIN_FILENO);
	cli.tty_out = isatty(STDOUT_FILENO);
	ret = prepass(&cli, &pp, argc, argv);
	if (ret)
		goto out;
	cli.color = cli.tty_out && !pp.no_color && !(nc && *nc) && !cli.json;
	cli.color_err = isatty(STDERR_FILENO) && !pp.no_color && !(nc && *nc);
	if (!cli.file) {
		default_file = occ_cli_default_state_path();
		cli.file = default_file;
	}
	if (pp.version && !pp.cmd_name) {
		ret = cmd_version(&cli, 1, argv);
		goto out;
	}
	if (!pp.cmd_name) {
		occ_cli_print_overview(pp.help ? stdout : stderr);
		ret = pp.help ? OCC_EXIT_OK : OCC_EXIT_USAGE;
		goto out;
	}
	cmd = occ_cli_find_command(pp.cmd_name);
	if (!cmd) {
		ret = occ_cli_usage_error(&cli, "unknown command '%s'; see 'occ help'", pp.cmd_name);
		goto out;
	}
	if (pp.help) {
		occ_cli_print_help(stdout, cmd);
		ret = OCC_EXIT_OK;
		goto out;
	}
	ret = run_command(&cli, cmd, pp.argc, pp.argv);
out:
	occ_state_free(cli.state);
	free(pp.argv);
	free(default_file);
	fflush(stdout);
	if (ferror(stdout) && ret == 0)
		ret = OCC_EXIT_ERROR;
	return ret;
}
