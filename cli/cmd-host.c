/*
 * cmd-host.c - `occ host add|remove|list|show|edit|test|default`: the
 * machines a state file converges, edited in its `hosts:` list.
 *
 * Without `hosts:` a state file means this machine only. Adding the first
 * remote host therefore also writes an entry named `local` (no address), so
 * this machine stays managed; remove it with `occ host remove local` when it
 * should not be. `host add` connects before it writes anything (host key,
 * login, Docker), so a typo never lands in the file; --no-test skips that.
 * Every edit is surgical (comments kept, FILE.bak) and validated like the
 * loader does, under the project lock. Nothing here touches containers: the
 * next `occ apply` (or the watcher) converges the new list.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/json.h"
#include "cli/sub.h"
#include "cli/targets.h"
#include "cli/txn.h"
#include "drivers/docker/docker.h"
#include "model/util.h"
#include "reconciler/apply.h"

struct host_opts {
	const char *user, *identity, *socket, *address, *bind;
	long port, service_port;      /* -1: not given */
	bool accept_new, no_test, apply;
};

static int on_host_opt(void *ctx, int opt, const char *arg)
{
	struct host_opts *o = ctx;

	switch (opt) {
	case 'u': o->user = arg; break;
	case 'i': o->identity = arg; break;
	case 'S': o->socket = arg; break;
	case 'a': o->address = arg; break;
	case 'b': o->bind = arg; break;
	case 'A': o->accept_new = true; break;
	case 'T': o->no_test = true; break;
	case 'Y': o->apply = true; break;
	case 'p':
	case 'P':
		if (occ_parse_long(arg, 1, 65535, opt == 'p' ? &o->port : &o->service_port) != 0) {
			fprintf(stderr, "occ: invalid port '%s': expected 1-65535\n", arg);
			return OCC_EXIT_USAGE;
		}
		break;
	}
	return 0;
}

static const struct option host_long[] = {
	{ "user", required_argument, NULL, 'u' },
	{ "port", required_argument, NULL, 'p' },
	{ "identity", required_argument, NULL, 'i' },
	{ "socket", required_argument, NULL, 'S' },
	{ "address", required_argument, NULL, 'a' },
	{ "service-port", required_argument, NULL, 'P' },
	{ "bind", required_argument, NULL, 'b' },
	{ "accept-new", no_argument, NULL, 'A' },
	{ "no-test", no_argument, NULL, 'T' },
	{ "apply", no_argument, NULL, 'Y' },
	{ NULL, 0, NULL, 0 },
};

static int host_getopt(struct occ_cli *cli, int argc, char **argv, struct host_opts *o, int *ret)
{
	memset(o, 0, sizeof(*o));
	o->port = o->service_port = -1;
	return occ_cli_getopt(cli, argc, argv, "u:p:i:", host_long, on_host_opt, o, ret);
}

/* The implicit host of a file without hosts: (this machine). */
static char local_name[] = "local";
static const struct occ_host local_host = { .name = local_name };

static const struct occ_host *find_host(const struct occ_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_hosts; i++)
		if (strcmp(st->hosts[i].name, name) == 0)
			return &st->hosts[i];
	return NULL;
}

/* An identity file must exist and must not be readable by others (ssh's rule). */
static int check_identity(struct occ_cli *cli, const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		occ_cli_errorf(cli, "identity file '%s' does not exist", path);
		return OCC_EXIT_ERROR;
	}
	if (!S_ISREG(sb.st_mode)) {
		occ_cli_errorf(cli, "identity file '%s' is not a regular file", path);
		return OCC_EXIT_ERROR;
	}
	if (sb.st_mode & 077) {
		occ_cli_errorf(cli, "identity file '%s' is readable by others (mode %03o): "
			       "ssh refuses such keys; run 'chmod 600 %s'", path,
			       (unsigned)(sb.st_mode & 0777), path);
		return OCC_EXIT_ERROR;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define TEST_PINGS 5

/*
 * Connect to h (ssh: host key, login; then Docker) and report. With --json
 * the result is one object in j. Returns 0 when the host answered.
 */
static int test_host(struct occ_cli *cli, const struct occ_host *h, bool accept_new,
		     struct occ_json *j)
{
	struct occ_target tg;
	struct occ_docker_version v;
	struct occ_conn_info ci;
	double connect_ms = 0;
	double rtt[TEST_PINGS], t0;
	int rc;

	memset(&v, 0, sizeof(v));
	memset(&ci, 0, sizeof(ci));
	t0 = occ_now_ms_precise();
	rc = occ_cli_target_open_host(cli, &tg, h, accept_new);
	if (rc == 0) {
		occ_conn_get_info(tg.conn, &ci);
		connect_ms = occ_now_ms_precise() - t0;
		rc = occ_docker_versions(&v, tg.driver, &tg.err);
	}
	for (int i = 0; rc == 0 && i < TEST_PINGS; i++) {
		t0 = occ_now_ms_precise();
		rc = tg.driver->ops->ping(tg.driver, &tg.err);
		rtt[i] = occ_now_ms_precise() - t0;
	}
	if (rc == 0)
		qsort(rtt, TEST_PINGS, sizeof(rtt[0]), cmp_double);
	if (j) {
		occ_json_obj_begin(j);
		occ_json_kstr(j, "host", tg.name);
		occ_json_kstr(j, "endpoint", ci.endpoint);
		occ_json_kbool(j, "ok", rc == 0);
		if (rc) {
			occ_json_kstr(j, "error", tg.err.msg);
			if (tg.err.hint[0])
				occ_json_kstr(j, "hint", tg.err.hint);
		} else {
			if (ci.ssh) {
				occ_json_key(j, "ssh");
				occ_json_obj_begin(j);
				occ_json_kstr(j, "server", ci.banner);
				occ_json_kstr(j, "host_key", ci.hostkey_type);
				occ_json_kstr(j, "fingerprint", ci.fingerprint);
				occ_json_kstr(j, "kex", ci.kex);
				occ_json_kdouble(j, "handshake_ms", ci.handshake_ms);
				occ_json_obj_end(j);
			}
			occ_json_kstr(j, "docker_version", v.version);
			occ_json_kstr(j, "api_version", v.api_version);
			occ_json_kstr(j, "os", v.os);
			occ_json_kstr(j, "arch", v.arch);
			occ_json_kdouble(j, "connect_ms", connect_ms);
			occ_json_kdouble(j, "round_trip_ms", rtt[TEST_PINGS / 2]);
		}
		occ_json_obj_end(j);
	} else if (rc) {
		occ_cli_print_error(cli, &tg.err);
	} else {
		printf("%s%s%s: %s %sOK%s\n", occ_c(cli, "bold"), tg.name, occ_c(cli, "reset"),
		       ci.endpoint, occ_c(cli, "green"), occ_c(cli, "reset"));
		if (ci.ssh)
			printf("  ssh         %s, %s key %s, %s, handshake %.1f ms\n", ci.banner,
			       ci.hostkey_type, ci.fingerprint, ci.kex, ci.handshake_ms);
		printf("  docker      %s (API %s), %s/%s\n", v.version, v.api_version, v.os, v.arch);
		printf("  connect     %.1f ms\n", connect_ms);
		printf("  round trip  %.2f ms (median of %d pings; min %.2f, max %.2f)\n",
		       rtt[TEST_PINGS / 2], TEST_PINGS, rtt[0], rtt[TEST_PINGS - 1]);
	}
	occ_cli_target_close(&tg);
	return rc;
}

static int host_test(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_state *st = cli->state;
	struct host_opts o;
	struct occ_json j;
	int ret = 0, failed = 0, first = host_getopt(cli, argc, argv, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first > 1)
		return occ_cli_usage_error(cli, "expected at most one host name");
	if (cli->json) {
		occ_json_init(&j);
		occ_json_arr_begin(&j);
	}
	if (argc - first == 1) {
		const struct occ_host *h = find_host(st, argv[first]);

		if (!h && strcmp(argv[first], "local") == 0 && st->n_hosts == 0)
			h = &local_host;
		if (!h) {
			if (cli->json)
				occ_json_release(&j);
			return occ_cli_unknown_host(cli, argv[first]);
		}
		failed = test_host(cli, h, o.accept_new, cli->json ? &j : NULL) != 0;
	} else if (st->n_hosts == 0) {
		failed = test_host(cli, &local_host, o.accept_new, cli->json ? &j : NULL) != 0;
	} else {
		for (size_t i = 0; i < st->n_hosts; i++)
			failed |= test_host(cli, &st->hosts[i], o.accept_new, cli->json ? &j : NULL) != 0;
	}
	if (cli->json) {
		occ_json_arr_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
	}
	return failed ? OCC_EXIT_ERROR : 0;
}

/* ADDRESS may be written user@address (as with ssh); -u wins. */
static void split_address(const char *arg, char **user, char **address)
{
	const char *at = strrchr(arg, '@');

	*user = at ? occ_xstrndup(arg, (size_t)(at - arg)) : NULL;
	*address = occ_xstrdup(at ? at + 1 : arg);
}

static char *port_str(long port)
{
	return occ_xasprintf("%ld", port);
}

static int host_add(struct occ_cli *cli, int argc, char **argv)
{
	struct host_opts o;
	struct occ_cli_txn t = { 0 };
	struct occ_edit_kv f[6];
	struct occ_host h = { 0 };
	char *user = NULL, *address = NULL, *identity = NULL, *port = NULL, *sock = NULL;
	size_t n = 0;
	int ret = 0, first = host_getopt(cli, argc, argv, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 2)
		return occ_cli_usage_error(cli, "expected NAME ADDRESS");
	if (strcmp(argv[first], "local") == 0)
		return occ_cli_usage_error(cli, "'local' is this machine and has no address; "
					   "choose another name");
	if (find_host(cli->state, argv[first])) {
		occ_cli_errorf(cli, "host '%s' is already in %s; change it with 'occ host edit %s'",
			       argv[first], cli->file, argv[first]);
		return OCC_EXIT_ERROR;
	}
	split_address(argv[first + 1], &user, &address);
	if (o.user) {
		free(user);
		user = occ_xstrdup(o.user);
	}
	if (o.identity) {
		identity = occ_path_resolve(o.identity, NULL);
		ret = check_identity(cli, identity);
		if (ret)
			goto out;
	}
	h = (struct occ_host){ .name = argv[first], .address = address, .user = user,
			       .port = o.port > 0 ? (uint16_t)o.port : 0, .identity = identity,
			       .socket = sock = o.socket ? occ_xstrdup(o.socket) : NULL };
	if (!o.no_test && test_host(cli, &h, o.accept_new, NULL) != 0) {
		fprintf(stderr, "hint: nothing was written; fix the problem above, or add the host "
			"anyway with --no-test\n");
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	ret = occ_cli_txn_begin(&t, cli, "host add");
	if (ret)
		goto out;
	if (cli->state->n_hosts == 0) {
		/* Until now the file meant "this machine": keep managing it. */
		f[0] = (struct occ_edit_kv){ "name", "local", OCC_EDIT_STRING };
		ret = occ_cli_txn_append(&t, "hosts", f, 1);
		if (ret)
			goto out;
		occ_cli_info(cli, "added 'local' (this machine) to hosts, so it stays managed\n");
	}
	f[n++] = (struct occ_edit_kv){ "name", argv[first], OCC_EDIT_STRING };
	f[n++] = (struct occ_edit_kv){ "address", address, OCC_EDIT_STRING };
	if (user)
		f[n++] = (struct occ_edit_kv){ "user", user, OCC_EDIT_STRING };
	if (o.port > 0) {
		port = port_str(o.port);
		f[n++] = (struct occ_edit_kv){ "port", port, OCC_EDIT_PLAIN };
	}
	if (identity)
		f[n++] = (struct occ_edit_kv){ "identity", identity, OCC_EDIT_STRING };
	if (o.socket)
		f[n++] = (struct occ_edit_kv){ "socket", o.socket, OCC_EDIT_STRING };
	ret = occ_cli_txn_append(&t, "hosts", f, n);
	if (ret == 0)
		ret = occ_cli_txn_commit(&t);
	if (ret)
		goto out;
	if (o.apply) {
		struct occ_apply_opts ao = { 0 };

		ret = occ_cli_apply(cli, &ao, "host add", true);
	} else {
		occ_cli_info(cli, "host '%s' added to %s; the next 'occ apply' converges it too\n",
			     argv[first], cli->file);
	}
out:
	if (t.cli)
		occ_cli_txn_end(&t);
	free(user);
	free(address);
	free(identity);
	free(port);
	free(sock);
	return ret;
}

static int host_remove(struct occ_cli *cli, int argc, char **argv)
{
	struct host_opts o;
	struct occ_cli_txn t = { 0 };
	char *sel = NULL;
	const char *name;
	bool only_local;
	int ret = 0, first = host_getopt(cli, argc, argv, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 1)
		return occ_cli_usage_error(cli, "expected one host name");
	name = argv[first];
	if (!find_host(cli->state, name))
		return occ_cli_unknown_host(cli, name);
	ret = occ_cli_txn_begin(&t, cli, "host remove");
	if (ret)
		return ret;
	if (!find_host(cli->state, name)) {
		ret = occ_cli_unknown_host(cli, name);
		goto out;
	}
	/* Removing the last remote host leaves a bare `local`: drop the whole
	 * list, which means the same (this machine only). */
	only_local = cli->state->n_hosts == 2 && strcmp(name, "local") != 0;
	for (size_t i = 0; only_local && i < cli->state->n_hosts; i++) {
		const struct occ_host *h = &cli->state->hosts[i];
		const struct occ_overrides *ov = &h->overrides;

		if (strcmp(h->name, name) != 0 &&
		    (strcmp(h->name, "local") != 0 || h->address || ov->has_port || ov->bind ||
		     ov->has_container_port || ov->env.n || ov->n_mounts))
			only_local = false;
	}
	if (only_local || cli->state->n_hosts == 1) {
		ret = occ_cli_txn_delete(&t, "hosts");
	} else {
		sel = occ_xasprintf("hosts[name=%s]", name);
		ret = occ_cli_txn_delete(&t, sel);
	}
	if (ret == 0 && cli->state->default_host && strcmp(cli->state->default_host, name) == 0)
		ret = occ_cli_txn_delete(&t, "default_host");
	if (ret == 0)
		ret = occ_cli_txn_commit(&t);
	if (ret == 0)
		occ_cli_info(cli, "host '%s' removed from %s; what runs there is left as it is "
			     "(occ no longer manages it)\n", name, cli->file);
out:
	free(sel);
	occ_cli_txn_end(&t);
	return ret;
}

static const char *default_name(const struct occ_state *st)
{
	if (st->default_host)
		return st->default_host;
	return st->n_hosts == 1 ? st->hosts[0].name : "local";
}

static void host_json(struct occ_json *j, const struct occ_state *st, const struct occ_host *h,
		      bool detail)
{
	occ_json_obj_begin(j);
	occ_json_kstr(j, "name", h->name);
	occ_json_kstr(j, "address", h->address);
	occ_json_kstr(j, "user", h->user);
	if (h->address)
		occ_json_kint(j, "port", h->port ? h->port : 22);
	occ_json_kstr(j, "identity", h->identity);
	if (h->address)
		occ_json_kstr(j, "socket", h->socket ? h->socket : "/var/run/docker.sock");
	occ_json_kbool(j, "default", strcmp(default_name(st), h->name) == 0);
	if (detail) {
		struct occ_state *eff = occ_state_for_host(st, h);

		occ_json_key(j, "service");
		occ_json_obj_begin(j);
		occ_json_kint(j, "port", eff->container.port);
		occ_json_kstr(j, "bind", eff->container.bind);
		occ_json_kint(j, "container_port", eff->container.container_port);
		occ_json_kint(j, "mounts", (int64_t)eff->n_mounts);
		occ_json_obj_end(j);
		occ_state_free(eff);
	}
	occ_json_obj_end(j);
}

static int host_list(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_state *st = cli->state;
	const struct occ_host *hs = st->n_hosts ? st->hosts : &local_host;
	size_t n = st->n_hosts ? st->n_hosts : 1, w = 4;
	struct occ_json j;

	if (argc > 1)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[1]);
	if (cli->json) {
		occ_json_init(&j);
		occ_json_arr_begin(&j);
		for (size_t i = 0; i < n; i++)
			host_json(&j, st, &hs[i], false);
		occ_json_arr_end(&j);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strlen(hs[i].name) > w)
			w = strlen(hs[i].name);
	if (!cli->quiet)
		printf("%s  %-*s  %s%s\n", " ", (int)w, "NAME", "ADDRESS", "");
	for (size_t i = 0; i < n; i++) {
		const struct occ_host *h = &hs[i];
		bool def = strcmp(default_name(st), h->name) == 0;

		if (cli->quiet) {
			printf("%s\n", h->name);
			continue;
		}
		if (h->address)
			printf("%s  %-*s  ssh://%s%s%s:%u%s\n", def ? "*" : " ", (int)w, h->name,
			       h->user ? h->user : "", h->user ? "@" : "", h->address,
			       h->port ? h->port : 22, "");
		else
			printf("%s  %-*s  (this machine)\n", def ? "*" : " ", (int)w, h->name);
	}
	if (!cli->quiet && st->n_hosts == 0)
		printf("\nno hosts: in %s, so only this machine; add one with "
		       "'occ host add NAME ADDRESS'\n", cli->file);
	return 0;
}

static int host_show(struct occ_cli *cli, int argc, char **argv)
{
	const struct occ_state *st = cli->state;
	const struct occ_host *h;
	struct occ_state *eff;
	struct occ_json j;

	if (argc != 2)
		return occ_cli_usage_error(cli, "expected one host name");
	h = find_host(st, argv[1]);
	if (!h && strcmp(argv[1], "local") == 0 && st->n_hosts == 0)
		h = &local_host;
	if (!h)
		return occ_cli_unknown_host(cli, argv[1]);
	if (cli->json) {
		occ_json_init(&j);
		host_json(&j, st, h, true);
		printf("%s\n", j.sb.buf);
		occ_json_release(&j);
		return 0;
	}
	eff = occ_state_for_host(st, h);
	printf("name          %s%s\n", h->name,
	       strcmp(default_name(st), h->name) == 0 ? " (default)" : "");
	if (h->address) {
		printf("address       %s\n", h->address);
		printf("user          %s\n", h->user ? h->user : "(ssh default)");
		printf("port          %u\n", h->port ? h->port : 22);
		printf("identity      %s\n", h->identity ? h->identity : "(ssh-agent, ~/.ssh/config, ~/.ssh/id_ed25519)");
		printf("docker socket %s\n", h->socket ? h->socket : "/var/run/docker.sock");
	} else {
		printf("address       (this machine)\n");
	}
	printf("service       %s:%u -> %u%s\n", eff->container.bind, eff->container.port,
	       eff->container.container_port,
	       h->overrides.has_port || h->overrides.bind ? " (overridden for this host)" : "");
	printf("mounts        %zu\n", eff->n_mounts);
	occ_state_free(eff);
	return 0;
}

static int host_edit(struct occ_cli *cli, int argc, char **argv)
{
	struct host_opts o;
	struct occ_cli_txn t = { 0 };
	char *p = NULL, *v = NULL, *identity = NULL;
	const char *name;
	bool changed;
	int ret = 0, first = host_getopt(cli, argc, argv, &o, &ret);

	if (first < 0)
		return ret;
	if (argc - first != 1)
		return occ_cli_usage_error(cli, "expected one host name, then what to change");
	name = argv[first];
	if (!o.address && !o.user && o.port < 0 && !o.identity && !o.socket && o.service_port < 0 &&
	    !o.bind)
		return occ_cli_usage_error(cli, "nothing to change: give --address, -u, -p, -i, "
					   "--socket, --service-port or --bind");
	if (!find_host(cli->state, name))
		return occ_cli_unknown_host(cli, name);
	if (o.identity) {
		identity = occ_path_resolve(o.identity, NULL);
		ret = check_identity(cli, identity);
		if (ret)
			goto out;
	}
	ret = occ_cli_txn_begin(&t, cli, "host edit");
	if (ret)
		goto out;
#define SET(key, val, style)                                                   \
	do {                                                                   \
		free(p);                                                       \
		p = occ_xasprintf("hosts[name=%s].%s", name, key);             \
		if (ret == 0)                                                  \
			ret = occ_cli_txn_set(&t, p, val, style);              \
	} while (0)
	if (o.address)
		SET("address", o.address, OCC_EDIT_STRING);
	if (o.user)
		SET("user", o.user, OCC_EDIT_STRING);
	if (o.port > 0) {
		v = port_str(o.port);
		SET("port", v, OCC_EDIT_PLAIN);
		free(v);
		v = NULL;
	}
	if (identity)
		SET("identity", identity, OCC_EDIT_STRING);
	if (o.socket)
		SET("socket", o.socket, OCC_EDIT_STRING);
	if (o.service_port > 0) {
		v = port_str(o.service_port);
		SET("overrides.container.port", v, OCC_EDIT_PLAIN);
	}
	if (o.bind)
		SET("overrides.container.bind", o.bind, OCC_EDIT_STRING);
#undef SET
	changed = ret == 0 && occ_cli_txn_changed(&t);
	if (ret == 0)
		ret = occ_cli_txn_commit(&t);
	if (ret == 0 && !changed)
		occ_cli_info(cli, "host '%s' already has these values\n", name);
	else if (ret == 0)
		occ_cli_info(cli, "host '%s' updated in %s%s\n", name, cli->file,
			     o.service_port > 0 || o.bind ? "; the next 'occ apply' recreates its service" : "");
out:
	if (t.cli)
		occ_cli_txn_end(&t);
	free(p);
	free(v);
	free(identity);
	return ret;
}

static int host_default(struct occ_cli *cli, int argc, char **argv)
{
	struct occ_cli_txn t;
	int ret;

	if (argc > 2)
		return occ_cli_usage_error(cli, "expected at most one host name");
	if (argc == 1) {
		printf("%s\n", default_name(cli->state));
		return 0;
	}
	if (!find_host(cli->state, argv[1]) &&
	    !(strcmp(argv[1], "local") == 0 && cli->state->n_hosts == 0))
		return occ_cli_unknown_host(cli, argv[1]);
	ret = occ_cli_txn_begin(&t, cli, "host default");
	if (ret)
		return ret;
	ret = occ_cli_txn_set(&t, "default_host", argv[1], OCC_EDIT_STRING);
	if (ret == 0)
		ret = occ_cli_txn_commit(&t);
	if (ret == 0)
		occ_cli_info(cli, "default host: %s (used by logs, open and other one-host "
			     "commands without --host)\n", argv[1]);
	occ_cli_txn_end(&t);
	return ret;
}

static const struct occ_subcmd host_cmds[] = {
	{ "add", host_add, "NAME [USER@]ADDRESS [-u USER] [-p PORT] [-i KEY] [--socket PATH] "
	  "[--accept-new] [--no-test] [--apply]", "add a machine reached over SSH" },
	{ "remove", host_remove, "NAME", "stop managing a machine" },
	{ "list", host_list, "[--json] [-q]", "list the machines" },
	{ "show", host_show, "NAME [--json]", "show one machine's settings" },
	{ "edit", host_edit, "NAME [--address A] [-u USER] [-p PORT] [-i KEY] [--socket PATH] "
	  "[--service-port N] [--bind ADDR]", "change a machine's settings" },
	{ "test", host_test, "[NAME] [--accept-new] [--json]",
	  "connect, check Docker, print versions and the round trip" },
	{ "default", host_default, "[NAME|local]", "show or set the default host" },
	{ NULL, NULL, NULL, NULL },
};

int cmd_host(struct occ_cli *cli, int argc, char **argv)
{
	return occ_cli_run_sub(cli, "host", host_cmds, argc, argv);
}
