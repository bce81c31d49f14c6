/*
 * cmd-open.c - `occ open`: the service's URL, and a way to reach it.
 *
 * On this machine, or on a remote host that publishes the service beyond
 * loopback, the URL works as it is: occ prints it (and opens a browser on a
 * terminal). A remote host that publishes it on loopback only (the safe
 * default) is reached through the host's SSH connection: a listener on
 * 127.0.0.1 here forwards every connection to the service there, until
 * Ctrl-C. Nothing is ever published on the remote host for this.
 */
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/targets.h"
#include "model/util.h"

extern char **environ;

struct open_opts {
	long port;              /* -1: the service's port if free, else any */
	const char *bind;
	bool print_only;
};

/* xdg-open (or macOS's open), never through a shell; failure is not an error. */
static void launch_browser(struct occ_cli *cli, const char *url)
{
#ifdef __APPLE__
	const char *prog = "open";
#else
	const char *prog = "xdg-open";
#endif
	char *argv[] = { (char *)(uintptr_t)prog, (char *)(uintptr_t)url, NULL };
	pid_t pid;

	if (posix_spawnp(&pid, prog, NULL, NULL, argv, environ) != 0)
		occ_cli_verbose(cli, 1, "no %s to open a browser with\n", prog);
}

static int forward(struct occ_cli *cli, struct occ_target *tg, const struct open_opts *o,
		   const sigset_t *wait_for)
{
	const struct occ_state *st = tg->eff;
	const char *remote_host = occ_bind_is_loopback(st->container.bind) ||
				  strcmp(st->container.bind, "0.0.0.0") == 0 ?
				  "127.0.0.1" : st->container.bind;
	uint16_t lport = o->port > 0 ? (uint16_t)o->port : st->container.port;
	struct occ_error err;
	char *url;
	int sig, rc;

	occ_error_clear(&err);
	rc = occ_conn_forward(tg->conn, o->bind, &lport, remote_host, st->container.port, &err);
	if (rc == OCC_EPORT && o->port < 0) {
		/* The service's own port is taken here: any free one will do. */
		occ_error_clear(&err);
		lport = 0;
		rc = occ_conn_forward(tg->conn, o->bind, &lport, remote_host, st->container.port,
				      &err);
	}
	if (rc) {
		occ_cli_print_error(cli, &err);
		return OCC_EXIT_ERROR;
	}
	url = occ_xasprintf("http://%s:%u/", o->bind ? o->bind : "127.0.0.1", lport);
	printf("%s\n", url);
	fflush(stdout);
	occ_cli_info(cli, "forwarding %s to %s:%u on %s over SSH; Ctrl-C stops it\n", url,
		     remote_host, st->container.port, tg->name);
	if (!o->print_only && cli->tty_out)
		launch_browser(cli, url);
	free(url);
	sigwait(wait_for, &sig);
	occ_cli_info(cli, "stopped forwarding\n");
	return 0;
}

int cmd_open(struct occ_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "print", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct open_opts o = { .port = -1 };
	struct occ_targets t;
	struct occ_target *tg;
	sigset_t sigs, old;
	bool remote_only;
	char *url;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (occ_parse_long(optarg, 1, 65535, &o.port) != 0)
				return occ_cli_usage_error(cli, "invalid --port '%s': expected 1-65535",
							   optarg);
			break;
		case 'b':
			if (!occ_bind_is_loopback(optarg))
				return occ_cli_usage_error(cli, "--bind '%s': the forward listens on "
							   "loopback only (127.0.0.1 or ::1)", optarg);
			o.bind = optarg;
			break;
		case 'P':
			o.print_only = true;
			break;
		default:
			return occ_cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	/* Every thread (the SSH bridge's too) inherits this mask: Ctrl-C and
	 * SIGTERM reach sigwait below, so the forward shuts down cleanly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	ret = occ_cli_targets_open_one(cli, &t);
	if (ret)
		goto out_mask;
	tg = &t.items[0];
	if (tg->rc) {
		occ_cli_print_error(cli, &tg->err);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	if (!tg->eff->container.running)
		occ_cli_info(cli, "note: the service is stopped ('occ start' starts it)\n");
	url = occ_cli_service_url(tg, &remote_only);
	if (remote_only || (occ_conn_is_remote(tg->conn) && o.port > 0)) {
		free(url);
		ret = forward(cli, tg, &o, &sigs);
		goto out;
	}
	printf("%s\n", url);
	if (!o.print_only && cli->tty_out)
		launch_browser(cli, url);
	free(url);
	ret = 0;
out:
	occ_cli_targets_release(&t);
out_mask:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
