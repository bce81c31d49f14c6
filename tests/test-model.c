/*
 * test-model.c - the desired-state model: loading, defaults, validation,
 * limits, paths, copies and per-host views, and the key tables against
 * schemas/state.schema.json.
 *
 * Valid cases compare a flat dump of the loaded state ("container.port=8080")
 * with expected lines; invalid cases assert the error code, line, column, a
 * message substring and a hint substring. Buffers load with BASE_DIR as their
 * directory and HOME set to HOME_DIR (see main), so resolved paths are fixed.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safety.h"
#include "model/state.h"
#include "model/util.h"

#include "tests/invalid-cases.h"
#define SHA256HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int load(const char *yaml, struct occ_state **st, struct occ_error *err)
{
	return occ_model_load_buffer(st, yaml, strlen(yaml), "test.yaml", BASE_DIR, err);
}

/* ---- a flat dump of the state, one "path=value" per line ---- */

static const char *str(const char *s)
{
	return s ? s : "(null)";
}

static const char *tf(bool b)
{
	return b ? "true" : "false";
}

static void dump_kv(struct occ_strbuf *sb, const char *prefix, const struct occ_kvlist *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		occ_strbuf_addf(sb, "%s.%s=%s\n", prefix, kv->items[i].key, kv->items[i].value);
}

static void dump_mounts(struct occ_strbuf *sb, const char *prefix, const struct occ_mount *m,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		occ_strbuf_addf(sb, "%smounts[%zu].source=%s\n", prefix, i, m[i].source);
		occ_strbuf_addf(sb, "%smounts[%zu].target=%s\n", prefix, i, m[i].target);
		occ_strbuf_addf(sb, "%smounts[%zu].readonly=%s\n", prefix, i, tf(m[i].readonly));
		occ_strbuf_addf(sb, "%smounts[%zu].allow_dangerous=%s\n", prefix, i,
				tf(m[i].allow_dangerous));
	}
}

static void dump_image(struct occ_strbuf *sb, const struct occ_image *im)
{
	size_t i;

	occ_strbuf_addf(sb, "image.ref=%s\nimage.pull=%s\n", im->ref, occ_pull_policy_name(im->pull));
	occ_strbuf_addf(sb, "image.build.enabled=%s\nimage.build.embedded=%s\n",
			tf(im->build.enabled), tf(im->build.embedded));
	occ_strbuf_addf(sb, "image.build.context=%s\nimage.build.dockerfile=%s\n",
			str(im->build.context), str(im->build.dockerfile));
	dump_kv(sb, "image.build.args", &im->build.args);
	for (i = 0; i < im->build.n_ca_certs; i++)
		occ_strbuf_addf(sb, "image.build.ca_certs[%zu]=%s\n", i, im->build.ca_certs[i]);
}

static void dump_container(struct occ_strbuf *sb, const struct occ_container *c)
{
	occ_strbuf_addf(sb, "container.port=%u\ncontainer.bind=%s\ncontainer.container_port=%u\n",
			c->port, c->bind, c->container_port);
	dump_kv(sb, "container.env", &c->env);
	occ_strbuf_addf(sb, "container.restart=%s\n", occ_restart_policy_name(c->restart));
	occ_strbuf_addf(sb, "container.health.path=%s\ncontainer.health.timeout_ms=%llu\n",
			str(c->health.path), (unsigned long long)c->health.timeout_ms);
	occ_strbuf_addf(sb, "container.running=%s\n", tf(c->running));
}

static void dump_users(struct occ_strbuf *sb, const struct occ_state *st)
{
	static const char *const sources[] = { "none", "hash", "file", "env" };
	size_t i;

	for (i = 0; i < st->n_users; i++) {
		const struct occ_user *u = &st->users[i];

		occ_strbuf_addf(sb, "users[%zu].name=%s\nusers[%zu].pw_source=%s\n", i, u->name, i,
				sources[u->pw_source]);
		occ_strbuf_addf(sb, "users[%zu].password_hash=%s\n", i, str(u->password_hash));
		occ_strbuf_addf(sb, "users[%zu].password_file=%s\n", i, str(u->password_file));
		occ_strbuf_addf(sb, "users[%zu].password_env=%s\n", i, str(u->password_env));
		occ_strbuf_addf(sb, "users[%zu].enabled=%s\nusers[%zu].shell=%s\n", i, tf(u->enabled),
				i, u->shell);
	}
}

static void dump_hosts(struct occ_strbuf *sb, const struct occ_state *st)
{
	char prefix[64];
	size_t i;

	for (i = 0; i < st->n_hosts; i++) {
		const struct occ_host *h = &st->hosts[i];
		const struct occ_overrides *o = &h->overrides;

		snprintf(prefix, sizeof(prefix), "hosts[%zu].", i);
		occ_strbuf_addf(sb, "%sname=%s\n%saddress=%s\n%suser=%s\n", prefix, h->name, prefix,
				str(h->address), prefix, str(h->user));
		occ_strbuf_addf(sb, "%sport=%u\n%sidentity=%s\n%ssocket=%s\n", prefix, h->port, prefix,
				str(h->identity), prefix, h->socket);
		if (o->has_port)
			occ_strbuf_addf(sb, "%soverrides.port=%u\n", prefix, o->port);
		if (o->has_container_port)
			occ_strbuf_addf(sb, "%soverrides.container_port=%u\n", prefix, o->container_port);
		if (o->bind)
			occ_strbuf_addf(sb, "%soverrides.bind=%s\n", prefix, o->bind);
		snprintf(prefix, sizeof(prefix), "hosts[%zu].overrides.env", i);
		dump_kv(sb, prefix, &o->env);
		snprintf(prefix, sizeof(prefix), "hosts[%zu].overrides.", i);
		dump_mounts(sb, prefix, o->mounts, o->n_mounts);
	}
}

/* Everything but path and dir, which depend on how the state was made. */
static char *dump(const struct occ_state *st)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t i;

	occ_strbuf_addf(&sb, "version=%d\nname=%s\n", st->version, st->name);
	dump_image(&sb, &st->image);
	dump_container(&sb, &st->container);
	dump_users(&sb, st);
	dump_mounts(&sb, "", st->mounts, st->n_mounts);
	occ_strbuf_addf(&sb, "volumes_default=%s\nn_volumes=%zu\n", tf(st->volumes_default),
			st->n_volumes);
	for (i = 0; i < st->n_volumes; i++)
		occ_strbuf_addf(&sb, "volumes[%zu].name=%s\nvolumes[%zu].target=%s\n", i,
				st->volumes[i].name, i, st->volumes[i].target);
	occ_strbuf_addf(&sb, "n_hosts=%zu\n", st->n_hosts);
	dump_hosts(&sb, st);
	occ_strbuf_addf(&sb, "default_host=%s\nservice.install=%s\n", str(st->default_host),
			tf(st->service.install));
	occ_strbuf_addf(&sb, "watch.resync_ms=%llu\nwatch.self_heal=%s\n",
			(unsigned long long)st->watch.resync_ms, tf(st->watch.self_heal));
	return occ_strbuf_detach(&sb);
}

/* expect: "line" must be a whole line of the dump; "!prefix" must start none. */
static void assert_dump(int i, const char *yaml, const char *d, const char *const *expect)
{
	char *padded = occ_xasprintf("\n%s", d);
	size_t k;

	for (k = 0; expect[k]; k++) {
		char *needle;
		bool found;

		if (expect[k][0] == '!') {
			needle = occ_xasprintf("\n%s", expect[k] + 1);
			found = strstr(padded, needle) != NULL;
			ck_assert_msg(!found, "case %d: unexpected '%s' in\n%s\n--- yaml:\n%s", i,
				      expect[k] + 1, d, yaml);
		} else {
			needle = occ_xasprintf("\n%s\n", expect[k]);
			found = strstr(padded, needle) != NULL;
			ck_assert_msg(found, "case %d: missing '%s' in\n%s\n--- yaml:\n%s", i,
				      expect[k], d, yaml);
		}
		free(needle);
	}
	free(padded);
}

/* ---- valid files ---- */

struct valid_case {
	const char *yaml;
	const char *expect[24];
};

static const struct valid_case valid_cases[] = {
	/* 0: the defaults */
	{ V, { "name=opencode-cloud", "image.ref=opencode-cloud:local", "image.pull=missing",
	       "image.build.enabled=true", "image.build.embedded=true", "container.port=3000",
	       "container.bind=127.0.0.1",
	       "container.container_port=3000", "container.restart=unless-stopped",
	       "container.health.path=(null)", "container.health.timeout_ms=60000",
	       "container.running=true", "volumes_default=true", "n_volumes=5", "n_hosts=0",
	       "default_host=(null)", "service.install=false", "watch.resync_ms=300000",
	       "watch.self_heal=true", "!users[", NULL } },
	/* an image: section without build: pulls (no embedded build) */
	{ V "name: my-project\nimage:\n  ref: ghcr.io/owner/opencode:1.2.3\n  pull: always\n",
	  { "name=my-project", "image.ref=ghcr.io/owner/opencode:1.2.3", "image.pull=always",
	    "image.build.enabled=false", "image.build.embedded=false", NULL } },
	{ V "image: {pull: never, ref: \"localhost:5000/team/oc\"}\n",
	  { "image.pull=never", "image.ref=localhost:5000/team/oc", "image.build.enabled=false", NULL } },
	/* no ref: still occ's own image, built from the embedded Dockerfile */
	{ V "image: {pull: never}\n",
	  { "image.pull=never", "image.ref=opencode-cloud:local", "image.build.enabled=true",
	    "image.build.embedded=true", NULL } },
	{ V "image: {ref: \"busybox@sha256:" SHA256HEX "\"}\n",
	  { "image.ref=busybox@sha256:" SHA256HEX, NULL } },
	{ V "image: {ref: registry.example.com:443/a/b-c__d.e:v1_2}\n",
	  { "image.ref=registry.example.com:443/a/b-c__d.e:v1_2", NULL } },
	/* 5: build */
	{ V "image:\n  build: {}\n",
	  { "image.build.enabled=true", "image.build.embedded=true", "image.build.context=(null)",
	    "image.build.dockerfile=Dockerfile", NULL } },
	{ V "image:\n  build:\n    context: ./docker\n    dockerfile: Dockerfile.dev\n"
	  "    args: {VERSION: 1.2, DEBUG: true}\n    ca_certs: [~/ca.pem, certs/corp.pem, /etc/ssl/x.pem]\n",
	  { "image.build.embedded=false", "image.build.context=" BASE_DIR "/docker",
	    "image.build.dockerfile=Dockerfile.dev", "image.build.args.VERSION=1.2",
	    "image.build.args.DEBUG=true", "image.build.ca_certs[0]=" HOME_DIR "/ca.pem",
	    "image.build.ca_certs[1]=" BASE_DIR "/certs/corp.pem", "image.build.ca_certs[2]=/etc/ssl/x.pem",
	    NULL } },
	{ V "image:\n  build:\n    context: embedded\n    ca_certs: []\n",
	  { "image.build.embedded=true", "image.build.dockerfile=Dockerfile", "!image.build.ca_certs", NULL } },
	/* container */
	{ V "container:\n  port: 8080\n  container_port: 4097\n  restart: always\n  running: false\n",
	  { "container.port=8080", "container.container_port=4097", "container.restart=always",
	    "container.running=false", NULL } },
	{ V "container: {port: 1, container_port: 65535, restart: \"no\"}\n",
	  { "container.port=1", "container.container_port=65535", "container.restart=no", NULL } },
	/* 10 */
	{ V "container: {restart: on-failure, running: True}\n",
	  { "container.restart=on-failure", "container.running=true", NULL } },
	{ V "container:\n  restart: no\n  running: FALSE\n",
	  { "container.restart=no", "container.running=false", NULL } },
	{ V "container:\n  env:\n    TZ: Europe/Berlin\n    PORT: 8080\n    DEBUG: false\n    EMPTY: \"\"\n"
	  "    java.opts: -Xmx1g\n    QUOTED: 'a: b # c'\n",
	  { "container.env.TZ=Europe/Berlin", "container.env.PORT=8080", "container.env.DEBUG=false",
	    "container.env.EMPTY=", "container.env.java.opts=-Xmx1g", "container.env.QUOTED=a: b # c",
	    NULL } },
	{ V "container:\n  health:\n    path: /global/health\n    timeout: 30s\n",
	  { "container.health.path=/global/health", "container.health.timeout_ms=30000", NULL } },
	{ V "container:\n  health: {path: none, timeout: 90}\n",
	  { "container.health.path=(null)", "container.health.timeout_ms=90000", NULL } },
	/* 15 */
	{ V "container:\n  health: {timeout: 250ms}\n",
	  { "container.health.path=(null)", "container.health.timeout_ms=250", NULL } },
	{ V "container:\n  health: {path: \"/api/health?full=1\", timeout: 2m}\n",
	  { "container.health.path=/api/health?full=1", "container.health.timeout_ms=120000", NULL } },
	{ V "container: {bind: \"::1\"}\n", { "container.bind=::1", NULL } },
	{ V "container: {bind: 127.1.2.3}\n", { "container.bind=127.1.2.3", NULL } },
	{ V "container: {bind: 0.0.0.0}\nusers:\n  - {name: alice, password_hash: \"" YESCRYPT "\"}\n",
	  { "container.bind=0.0.0.0", "users[0].name=alice", "users[0].pw_source=hash",
	    "users[0].password_hash=" YESCRYPT, NULL } },
	/* 20: users */
	{ V "users:\n  - name: alice\n",
	  { "users[0].name=alice", "users[0].pw_source=none", "users[0].enabled=true",
	    "users[0].shell=/bin/bash", "users[0].password_hash=(null)", NULL } },
	{ V "users:\n  - name: bob\n    password_file: secrets/bob.hash\n    shell: /bin/zsh\n    enabled: false\n",
	  { "users[0].pw_source=file", "users[0].password_file=" BASE_DIR "/secrets/bob.hash",
	    "users[0].shell=/bin/zsh", "users[0].enabled=false", NULL } },
	{ V "users:\n  - name: _svc\n    password_env: SVC_HASH\n  - name: a-b_c9\n",
	  { "users[0].name=_svc", "users[0].pw_source=env", "users[0].password_env=SVC_HASH",
	    "users[1].name=a-b_c9", "users[1].pw_source=none", NULL } },
	{ V "users:\n  - {name: u1, password_hash: \"" GOSTY "\"}\n  - {name: u2, password_hash: \"" SCRYPT "\"}\n"
	  "  - {name: u3, password_hash: \"" SHA512 "\"}\n  - {name: u4, password_hash: \"" SHA256 "\"}\n"
	  "  - {name: u5, password_hash: \"" BCRYPT "\"}\n  - {name: u6, password_hash: \"" BCRYPTY "\"}\n"
	  "  - {name: u7, password_hash: \"" SHA512R "\"}\n",
	  { "users[0].password_hash=" GOSTY, "users[1].password_hash=" SCRYPT,
	    "users[2].password_hash=" SHA512, "users[3].password_hash=" SHA256,
	    "users[4].password_hash=" BCRYPT, "users[5].password_hash=" BCRYPTY,
	    "users[6].password_hash=" SHA512R, NULL } },
	{ V "users:\n  - name: abcdefghijklmnopqrstuvwxyz012345\n",
	  { "users[0].name=abcdefghijklmnopqrstuvwxyz012345", NULL } },
	/* 25: mounts and paths */
	{ V "mounts:\n  - source: ./workspace\n    target: /home/opencode/work/\n"
	  "  - source: ~/src\n    target: //src/./x\n    readonly: true\n"
	  "  - source: \"~\"\n    target: /h\n    allow_dangerous: true\n"
	  "  - source: /abs/../data\n    target: /data\n",
	  { "mounts[0].source=" BASE_DIR "/workspace", "mounts[0].target=/home/opencode/work",
	    "mounts[0].readonly=false", "mounts[1].source=" HOME_DIR "/src", "mounts[1].target=/src/x",
	    "mounts[1].readonly=true", "mounts[2].source=" HOME_DIR, "mounts[2].allow_dangerous=true",
	    "mounts[3].source=/data", "mounts[3].allow_dangerous=false", NULL } },
	{ V "mounts:\n  - {source: ../up, target: /up}\n  - {source: \"${OCC_TEST_DIR}/src\", target: /s}\n"
	  "  - {source: \"a$$b\", target: /d}\n  - {source: \"${OCC_TEST_DIR}$${X}\", target: /e}\n",
	  { "mounts[0].source=/srv/up", "mounts[1].source=/data/x/src", "mounts[2].source=" BASE_DIR "/a$b",
	    "mounts[3].source=/data/x${X}", NULL } },
	{ V "mounts:\n  - {source: \"~/${OCC_TEST_NAME}\", target: /n}\n",
	  { "mounts[0].source=" HOME_DIR "/proj", NULL } },
	{ V "mounts: []\nvolumes: []\n", { "volumes_default=false", "n_volumes=0", "!mounts[", NULL } },
	{ V "volumes:\n  - {name: data, target: /var/lib/opencode}\n  - {name: Cache.2, target: /cache}\n",
	  { "volumes_default=false", "n_volumes=2", "volumes[0].name=data",
	    "volumes[0].target=/var/lib/opencode", "volumes[1].name=Cache.2", NULL } },
	/* 30: a mount may sit inside a volume, and a default volume target is free once volumes: is set */
	{ V "volumes: [{name: data, target: /data}]\n"
	  "mounts: [{source: ., target: /data/sub}, {source: ., target: /home/opencode/.config/opencode}]\n",
	  { "mounts[0].target=/data/sub", "mounts[1].source=" BASE_DIR, NULL } },
	/* hosts */
	{ V "hosts:\n  - name: local\n  - name: lab\n    address: lab.example.com\n",
	  { "n_hosts=2", "hosts[0].name=local", "hosts[0].address=(null)", "hosts[0].port=22",
	    "hosts[0].socket=/var/run/docker.sock", "hosts[1].address=lab.example.com",
	    "hosts[1].user=(null)", "hosts[1].identity=(null)", "!hosts[1].overrides", NULL } },
	{ V "hosts:\n  - name: lab\n    address: 10.0.0.5\n    user: root\n    port: 2222\n"
	  "    identity: ~/.ssh/id_ed25519\n    socket: /run/user/1000/docker.sock\n"
	  "default_host: lab\n",
	  { "hosts[0].address=10.0.0.5", "hosts[0].user=root", "hosts[0].port=2222",
	    "hosts[0].identity=" HOME_DIR "/.ssh/id_ed25519",
	    "hosts[0].socket=/run/user/1000/docker.sock", "default_host=lab", NULL } },
	{ V "hosts:\n  - name: v6\n    address: \"fe80::1\"\n    identity: keys/id\n"
	  "    overrides:\n      container:\n        port: 3001\n        container_port: 4000\n"
	  "        bind: 127.0.0.2\n        env: {A: \"1\"}\n      mounts:\n        - {source: /x, target: /y, readonly: true}\n",
	  { "hosts[0].address=fe80::1", "hosts[0].identity=" BASE_DIR "/keys/id", "hosts[0].overrides.port=3001",
	    "hosts[0].overrides.container_port=4000", "hosts[0].overrides.bind=127.0.0.2",
	    "hosts[0].overrides.env.A=1", "hosts[0].overrides.mounts[0].source=/x",
	    "hosts[0].overrides.mounts[0].target=/y", "hosts[0].overrides.mounts[0].readonly=true", NULL } },
	{ V "default_host: local\n", { "default_host=local", NULL } },
	/* 35: a public bind on one host only, with someone to log in */
	{ V "users: [{name: dev, password_env: DEV_HASH}]\n"
	  "hosts:\n  - name: local\n  - name: lab\n    address: lab\n    overrides: {container: {bind: \"::\"}}\n",
	  { "hosts[1].overrides.bind=::", "container.bind=127.0.0.1", NULL } },
	{ V "service: {install: true}\nwatch: {resync: 30s, self_heal: false}\n",
	  { "service.install=true", "watch.resync_ms=30000", "watch.self_heal=false", NULL } },
	{ V "watch: {resync: 1h}\n", { "watch.resync_ms=3600000", NULL } },
	/* YAML forms: flow style, anchors and aliases, a BOM, comments, document markers */
	{ "{version: 1, name: flow, container: {port: 9000}}",
	  { "name=flow", "container.port=9000", NULL } },
	{ V "container:\n  env: &shared\n    TZ: UTC\n    LANG: C.UTF-8\n"
	  "hosts:\n  - name: a\n    address: a.example\n    overrides: {container: {env: *shared}}\n"
	  "  - name: b\n    address: b.example\n    overrides: {container: {env: *shared}}\n",
	  { "container.env.TZ=UTC", "hosts[0].overrides.env.LANG=C.UTF-8",
	    "hosts[1].overrides.env.TZ=UTC", NULL } },
	/* 40 */
	{ "\xef\xbb\xbfversion: 1\nname: bom\n", { "name=bom", NULL } },
	{ "# a comment\n---\nversion: 1   # trailing\nname: 'x-y'\n...\n", { "name=x-y", NULL } },
	{ V "users: []\nhosts: []\nmounts: []\n", { "n_hosts=0", "!users[", "volumes_default=true", NULL } },
	{ V "container:\n  env:\n    GREETING: \"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"\n",
	  { "container.env.GREETING=gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80", NULL } },
	{ V "container:\n  env:\n    LONG: |\n      line one\n      line two\n",
	  { "container.env.LONG=line one", NULL } },
	/* what the safety rules let through */
	{ V "mounts:\n  - {source: /, target: /host, readonly: true, allow_dangerous: true}\n"
	  "  - {source: /etc/ssl/certs, target: /certs, readonly: true}\n"
	  "  - {source: /etc/sudo.conf, target: /sudo.conf, readonly: true}\n"
	  "  - {source: /etcetera, target: /etc-copy}\n  - {source: ~/src, target: /etc/ssl/x}\n",
	  { "mounts[0].source=/", "mounts[0].allow_dangerous=true", "mounts[1].source=/etc/ssl/certs",
	    "mounts[1].allow_dangerous=false", "mounts[2].source=/etc/sudo.conf",
	    "mounts[3].target=/etc-copy", "mounts[4].source=" HOME_DIR "/src", NULL } },
	{ V "image: {ref: \"ghcr.io/x/y:1\"}\ncontainer: {container_port: 4096}\n",
	  { "container.container_port=4096", NULL } },
	{ V "container:\n  env: {MY_OCC_X: z, occ_lower: y}\n",
	  { "container.env.MY_OCC_X=z", "container.env.occ_lower=y", NULL } },
	{ V "users:\n  - {name: shadowfax, shell: /usr/bin/fish}\n  - {name: sudoer}\n",
	  { "users[0].name=shadowfax", "users[0].shell=/usr/bin/fish", "users[1].name=sudoer", NULL } },
	{ V "volumes:\n  - {name: etc, target: /etc/opencode}\n",
	  { "volumes[0].target=/etc/opencode", NULL } },
};

/* ---- invalid files: tests/invalid-cases.h ---- */

START_TEST(test_valid)
{
	const struct valid_case *tc = &valid_cases[_i];
	struct occ_state *st = NULL;
	struct occ_error err;
	char *d;
	int ret = load(tc->yaml, &st, &err);

	ck_assert_msg(ret == 0, "case %d: %s (%d:%d, hint: %s)\n--- yaml:\n%s", _i, err.msg,
		      err.line, err.col, err.hint, tc->yaml);
	ck_assert_int_eq(err.code, 0);
	ck_assert_str_eq(st->path, "test.yaml");
	ck_assert_str_eq(st->dir, BASE_DIR);
	d = dump(st);
	assert_dump(_i, tc->yaml, d, tc->expect);
	free(d);
	occ_state_free(st);
}
END_TEST

START_TEST(test_invalid)
{
	const struct invalid_case *tc = &invalid_cases[_i];
	struct occ_state *st = (struct occ_state *)&st;  /* must stay untouched */
	struct occ_error err;
	int ret = load(tc->yaml, &st, &err);

	ck_assert_msg(ret == tc->code, "case %d: returned %d, expected %d (%s at %d:%d)\n--- yaml:\n%s",
		      _i, ret, tc->code, err.msg, err.line, err.col, tc->yaml);
	ck_assert_int_eq(err.code, tc->code);
	ck_assert_msg(st == (struct occ_state *)&st, "case %d: *out written on error", _i);
	ck_assert_msg(strstr(err.msg, tc->msg), "case %d: message '%s' lacks '%s'", _i, err.msg, tc->msg);
	ck_assert_msg(err.line == tc->line && err.col == tc->col,
		      "case %d: '%s' at %d:%d, expected %d:%d", _i, err.msg, err.line, err.col,
		      tc->line, tc->col);
	ck_assert_str_eq(err.file, "test.yaml");
	if (tc->hint)
		ck_assert_msg(strstr(err.hint, tc->hint), "case %d: hint '%s' lacks '%s'", _i, err.hint,
			      tc->hint);
	if (tc->absent) {
		ck_assert_msg(!strstr(err.msg, tc->absent), "case %d: '%s' in message '%s'", _i,
			      tc->absent, err.msg);
		ck_assert_msg(!strstr(err.hint, tc->absent), "case %d: '%s' in hint '%s'", _i,
			      tc->absent, err.hint);
	}
}
END_TEST

/* ---- defaults ---- */

START_TEST(test_defaults_equal_minimal_file)
{
	struct occ_state *def = occ_state_new_default(), *st = NULL;
	struct occ_error err;
	char *a, *b;

	ck_assert_int_eq(load(V, &st, &err), 0);
	a = dump(def);
	b = dump(st);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	occ_state_free(st);
	occ_state_free(def);
}
END_TEST

START_TEST(test_defaults_values)
{
	static const struct { const char *name, *target; } vols[] = {
		{ "home", "/home" },
		{ "data", "/home/opencode/.local/share/opencode" },
		{ "config", "/home/opencode/.config/opencode" },
		{ "state", "/home/opencode/.local/state/opencode" },
		{ "cache", "/home/opencode/.cache/opencode" },
	};
	struct occ_state *st = occ_state_new_default();
	size_t i;

	ck_assert_int_eq(st->version, 1);
	ck_assert_str_eq(st->name, "opencode-cloud");
	ck_assert_str_eq(st->image.ref, "opencode-cloud:local");
	ck_assert_int_eq(st->image.pull, OCC_PULL_MISSING);
	ck_assert(st->image.build.enabled);
	ck_assert(st->image.build.embedded);
	ck_assert_uint_eq(st->container.port, 3000);
	ck_assert_str_eq(st->container.bind, "127.0.0.1");
	ck_assert_uint_eq(st->container.container_port, 3000);
	ck_assert_int_eq(st->container.restart, OCC_RESTART_UNLESS_STOPPED);
	ck_assert(st->container.running);
	ck_assert_ptr_null(st->container.health.path);
	ck_assert_uint_eq(st->container.health.timeout_ms, 60000);
	ck_assert_uint_eq(st->n_users, 0);
	ck_assert_uint_eq(st->n_mounts, 0);
	ck_assert(st->volumes_default);
	ck_assert_uint_eq(st->n_volumes, OCC_ARRAY_SIZE(vols));
	for (i = 0; i < OCC_ARRAY_SIZE(vols); i++) {
		ck_assert_str_eq(st->volumes[i].name, vols[i].name);
		ck_assert_str_eq(st->volumes[i].target, vols[i].target);
	}
	ck_assert_uint_eq(st->n_hosts, 0);
	ck_assert_ptr_null(st->default_host);
	ck_assert(!st->service.install);
	ck_assert_uint_eq(st->watch.resync_ms, 300000);
	ck_assert(st->watch.self_heal);
	ck_assert_ptr_null(st->path);
	ck_assert(st->dir && st->dir[0] == '/');
	occ_state_free(st);
}
END_TEST

START_TEST(test_item_defaults)
{
	struct occ_state *st = NULL;
	struct occ_error err;

	ck_assert_int_eq(load(V "users: [{name: a}]\nhosts: [{name: h, address: h}]\n"
			      "image: {build: {context: .}}\n", &st, &err), 0);
	ck_assert(st->users[0].enabled);
	ck_assert_str_eq(st->users[0].shell, "/bin/bash");
	ck_assert_int_eq(st->users[0].pw_source, OCC_PW_NONE);
	ck_assert_uint_eq(st->hosts[0].port, 22);
	ck_assert_str_eq(st->hosts[0].socket, "/var/run/docker.sock");
	ck_assert(!st->hosts[0].overrides.has_port && !st->hosts[0].overrides.has_container_port);
	ck_assert_ptr_null(st->hosts[0].overrides.bind);
	ck_assert_str_eq(st->image.build.dockerfile, "Dockerfile");
	ck_assert_str_eq(st->image.build.context, BASE_DIR);
	occ_state_free(st);
}
END_TEST

/* Positions recorded on the loaded structs, for later stages' messages. */
START_TEST(test_positions)
{
	struct occ_state *st = NULL;
	struct occ_error err;

	ck_assert_int_eq(load(V "container:\n  env:\n    A: b\nusers:\n  - name: x\n"
			      "mounts:\n  - {source: ., target: /m}\n", &st, &err), 0);
	ck_assert_int_eq(st->container.pos.line, 3);
	ck_assert_int_eq(st->container.pos.col, 3);
	ck_assert_int_eq(st->container.env.items[0].pos.line, 4);
	ck_assert_int_eq(st->container.env.items[0].pos.col, 5);
	ck_assert_int_eq(st->users[0].pos.line, 6);
	ck_assert_int_eq(st->users[0].pos.col, 5);
	ck_assert_int_eq(st->mounts[0].pos.line, 8);
	ck_assert_int_eq(st->mounts[0].pos.col, 5);
	occ_state_free(st);
}
END_TEST

/* ---- limits ---- */

static int load_sb(struct occ_strbuf *sb, struct occ_state **st, struct occ_error *err)
{
	return occ_model_load_buffer(st, sb->buf, sb->len, "test.yaml", BASE_DIR, err);
}

static void expect_error(int ret, const struct occ_error *err, int code, int line, int col,
			 const char *msg)
{
	ck_assert_msg(ret == code, "returned %d (%s at %d:%d), expected %d", ret, err->msg,
		      err->line, err->col, code);
	ck_assert_msg(strstr(err->msg, msg), "message '%s' lacks '%s'", err->msg, msg);
	if (line)
		ck_assert_msg(err->line == line && err->col == col, "'%s' at %d:%d, expected %d:%d",
			      err->msg, err->line, err->col, line, col);
}

START_TEST(test_limit_depth_flow)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	int i;

	occ_strbuf_adds(&sb, V "x: ");
	for (i = 0; i < 40; i++)
		occ_strbuf_addc(&sb, '[');
	for (i = 0; i < 40; i++)
		occ_strbuf_addc(&sb, ']');
	/* The root map is level 1, so the 32nd '[' (column 3 + 32) is level 33. */
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 2, 35,
		     "the document is nested deeper than 32 levels");
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_limit_depth_block)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	int i;

	occ_strbuf_adds(&sb, V);
	for (i = 0; i < 100; i++)
		occ_strbuf_addf(&sb, "%*sa:\n", i, "");
	occ_strbuf_addf(&sb, "%*sa: 1\n", 100, "");
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 34, 33,
		     "nested deeper than 32 levels");
	occ_strbuf_release(&sb);
}
END_TEST

/* Within the depth limit, the deepest structures the tables allow load. */
START_TEST(test_limit_depth_ok)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	int i;

	occ_strbuf_adds(&sb, V "container:\n  env:\n    A: ");
	for (i = 0; i < 29; i++)
		occ_strbuf_addc(&sb, '[');
	for (i = 0; i < 29; i++)
		occ_strbuf_addc(&sb, ']');
	/* 32 levels parse; the mapping then refuses a list as an env value. */
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 4, 8,
		     "container.env.A: expected a string, got a list");
	occ_strbuf_release(&sb);
}
END_TEST

/* "Billion laughs": each level repeats the previous ten times. */
START_TEST(test_limit_alias_bomb)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	uint64_t t0 = occ_now_ms();
	int level, i;

	occ_strbuf_adds(&sb, V "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (level = 1; level < 6; level++) {
		occ_strbuf_addf(&sb, "l%d: &l%d [", level, level);
		for (i = 0; i < 10; i++)
			occ_strbuf_addf(&sb, "%s*l%d", i ? ", " : "", level - 1);
		occ_strbuf_adds(&sb, "]\n");
	}
	/* l3 expands to 11111 nodes; the ninth *l3 of l4 crosses 100000 on line 6. */
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 0, 0,
		     "the document has more than 100000 nodes with aliases expanded");
	ck_assert_int_eq(err.line, 6);
	ck_assert_msg(strstr(err.hint, "alias"), "hint '%s'", err.hint);
	ck_assert_msg(occ_now_ms() - t0 < 5000, "the bomb took %llu ms",
		      (unsigned long long)(occ_now_ms() - t0));
	occ_strbuf_release(&sb);
}
END_TEST

static void hosts_with_aliases(struct occ_strbuf *sb, int n)
{
	int i;

	occ_strbuf_adds(sb, V "container:\n  env: &e {A: b}\nhosts:\n");
	for (i = 0; i < n; i++)
		occ_strbuf_addf(sb, "  - {name: h%d, address: h%d, overrides: {container: {env: *e}}}\n", i, i);
}

START_TEST(test_limit_alias_count)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;

	hosts_with_aliases(&sb, 64);
	ck_assert_msg(load_sb(&sb, &st, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(st->n_hosts, 64);
	ck_assert_str_eq(occ_kvlist_get(&st->hosts[63].overrides.env, "A"), "b");
	occ_state_free(st);
	occ_strbuf_reset(&sb);
	hosts_with_aliases(&sb, 65);
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 69, 60,
		     "more than 64 aliases in one file");
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_limit_scalar)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	size_t i;

	occ_strbuf_adds(&sb, V "container:\n  env:\n    BIG: ");
	for (i = 0; i < OCC_MAX_STRING; i++)
		occ_strbuf_addc(&sb, 'a');
	occ_strbuf_addc(&sb, '\n');
	ck_assert_msg(load_sb(&sb, &st, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(strlen(occ_kvlist_get(&st->container.env, "BIG")), OCC_MAX_STRING);
	occ_state_free(st);
	occ_strbuf_reset(&sb);
	occ_strbuf_adds(&sb, V "name: ");
	for (i = 0; i < 1000000; i++)
		occ_strbuf_addc(&sb, 'a');
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 2, 7,
		     "a value is longer than 4096 bytes");
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_limit_items)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	int i;

	occ_strbuf_adds(&sb, V "mounts:\n");
	for (i = 0; i < OCC_MAX_ITEMS; i++)
		occ_strbuf_addf(&sb, "- {source: /s, target: /t%d}\n", i);
	ck_assert_msg(load_sb(&sb, &st, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(st->n_mounts, OCC_MAX_ITEMS);
	occ_state_free(st);
	occ_strbuf_addf(&sb, "- {source: /s, target: /t%d}\n", i);
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 3 + OCC_MAX_ITEMS, 3,
		     "mounts has more than 1024 items");
	occ_strbuf_reset(&sb);
	occ_strbuf_adds(&sb, V "container:\n  env:\n");
	for (i = 0; i <= OCC_MAX_ITEMS; i++)
		occ_strbuf_addf(&sb, "    K%d: v\n", i);
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 4 + OCC_MAX_ITEMS, 5,
		     "container.env has more than 1024 entries");
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_limit_file_size)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_state *st = NULL;
	struct occ_error err;
	char dir[] = "/tmp/occ-test-model-XXXXXX";
	char *path;

	/* Exactly the limit loads; one byte more does not. */
	occ_strbuf_adds(&sb, V);
	while (sb.len < OCC_MAX_FILE_SIZE - 1)
		occ_strbuf_adds(&sb, sb.len + 80 < OCC_MAX_FILE_SIZE ? "# padding padding\n" : "#");
	occ_strbuf_addc(&sb, '\n');
	ck_assert_uint_eq(sb.len, OCC_MAX_FILE_SIZE);
	ck_assert_msg(load_sb(&sb, &st, &err) == 0, "%s", err.msg);
	occ_state_free(st);
	occ_strbuf_addc(&sb, '\n');
	expect_error(load_sb(&sb, &st, &err), &err, OCC_EINVALID, 0, 0,
		     "the state file is larger than the limit of 1048576 bytes");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = occ_xasprintf("%s/big.yaml", dir);
	ck_assert_int_eq(occ_write_file_atomic(path, sb.buf, sb.len, 0600, &err), 0);
	expect_error(occ_model_load(&st, path, &err), &err, OCC_EINVALID, 0, 0,
		     "larger than the limit");
	ck_assert_str_eq(err.file, path);
	unlink(path);
	rmdir(dir);
	free(path);
	occ_strbuf_release(&sb);
}
END_TEST

START_TEST(test_limit_binary)
{
	static const char elf[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0";
	static const char utf16[] = "\xff\xfev\0e\0r\0s\0i\0o\0n\0:\0 \0" "1\0\n\0";
	static const char nul[] = "version: 1\nname: a\0b\n";
	struct occ_state *st = NULL;
	struct occ_error err;
	int ret;

	ret = occ_model_load_buffer(&st, elf, sizeof(elf) - 1, "bin", NULL, &err);
	expect_error(ret, &err, OCC_ESYNTAX, 1, 1, "invalid YAML: control characters are not allowed");
	ret = occ_model_load_buffer(&st, utf16, sizeof(utf16) - 1, "u16", NULL, &err);
	expect_error(ret, &err, OCC_ESYNTAX, 1, 1, "the state file is not valid UTF-8");
	ret = occ_model_load_buffer(&st, nul, sizeof(nul) - 1, "nul", NULL, &err);
	expect_error(ret, &err, OCC_ESYNTAX, 2, 8, "control characters are not allowed");
}
END_TEST

static char *read_source(const char *rel, size_t *len)
{
	char *path = occ_xasprintf("%s/%s", OCC_SOURCE_DIR, rel);
	struct occ_error err;
	char *buf = NULL;

	ck_assert_msg(occ_read_file(path, OCC_MAX_FILE_SIZE, &buf, len, &err) == 0, "%s", err.msg);
	free(path);
	return buf;
}

/* Every prefix of a real file: loads, or fails cleanly with a place. */
START_TEST(test_limit_truncated)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	size_t len, cut;
	char *buf = read_source("examples/local.yaml", &len);
	int ret, failed = 0;

	for (cut = 0; cut <= len; cut++) {
		ret = occ_model_load_buffer(&st, buf, cut, "local.yaml", "/x", &err);
		if (ret == 0) {
			occ_state_free(st);
			continue;
		}
		failed++;
		ck_assert_msg(ret == OCC_ESYNTAX || ret == OCC_EINVALID, "cut %zu: %d %s", cut, ret, err.msg);
		ck_assert_msg(err.line >= 1 && err.col >= 1 && err.msg[0], "cut %zu: '%s' at %d:%d", cut,
			      err.msg, err.line, err.col);
	}
	ck_assert_int_gt(failed, 0);
	free(buf);
	ret = load(V "users:\n  - name: alice\n    password_hash: \"$y$j9T$abc", &st, &err);
	expect_error(ret, &err, OCC_ESYNTAX, 4, 31, "found unexpected end of stream");
}
END_TEST

/* Deterministic junk: never crashes, always answers 0 or a located error. */
START_TEST(test_limit_junk)
{
	static const char alphabet[] = "version: 1\n-[]{}&*!|>'\"%@`#,?:~ abc\t\\$";
	struct occ_state *st = NULL;
	struct occ_error err;
	uint32_t seed = 12345;
	char buf[256];
	int round, ret;
	size_t i, n;

	for (round = 0; round < 2000; round++) {
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(buf);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		ret = occ_model_load_buffer(&st, buf, n, "junk", NULL, &err);
		if (ret == 0) {
			occ_state_free(st);
			continue;
		}
		ck_assert_msg(ret == OCC_ESYNTAX || ret == OCC_EINVALID, "round %d: %d", round, ret);
		ck_assert_msg(err.msg[0] && err.line >= 1, "round %d: '%s' at %d", round, err.msg, err.line);
	}
}
END_TEST

/* ---- paths and files ---- */

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/occ-test-model-XXXXXX";
	char *real;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	real = realpath(tmpl, NULL);
	ck_assert_ptr_nonnull(real);
	return real;
}

static void write_file(const char *path, const char *text)
{
	struct occ_error err;

	ck_assert_int_eq(occ_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
}

START_TEST(test_paths_from_file)
{
	char *dir = make_tmpdir(), *sub = occ_xasprintf("%s/sub", dir);
	char *path = occ_xasprintf("%s/state.yaml", sub), *want;
	const char *rel = V "mounts: [{source: x, target: /x}]\n";
	struct occ_state *st = NULL;
	struct occ_error err;

	ck_assert_int_eq(mkdir(sub, 0700), 0);
	write_file(path, V "mounts: [{source: ./ws, target: /w}]\n"
		   "users: [{name: a, password_file: ../secret}]\n"
		   "hosts: [{name: lab, address: lab, identity: id_key}]\n");
	ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(st->path, path);
	ck_assert_str_eq(st->dir, sub);
	want = occ_xasprintf("%s/ws", sub);
	ck_assert_str_eq(st->mounts[0].source, want);
	free(want);
	want = occ_xasprintf("%s/secret", dir);
	ck_assert_str_eq(st->users[0].password_file, want);
	free(want);
	want = occ_xasprintf("%s/id_key", sub);
	ck_assert_str_eq(st->hosts[0].identity, want);
	free(want);
	occ_state_free(st);

	/* A relative file name: dir is still absolute. */
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(occ_model_load(&st, "sub/state.yaml", &err) == 0, "%s", err.msg);
	ck_assert_str_eq(st->path, "sub/state.yaml");
	ck_assert_str_eq(st->dir, sub);
	occ_state_free(st);
	/* A buffer without a directory resolves against the current one. */
	ck_assert_int_eq(occ_model_load_buffer(&st, rel, strlen(rel), NULL, NULL, &err), 0);
	want = occ_xasprintf("%s/x", dir);
	ck_assert_str_eq(st->mounts[0].source, want);
	ck_assert_ptr_null(st->path);
	free(want);
	occ_state_free(st);

	unlink(path);
	rmdir(sub);
	rmdir(dir);
	free(path);
	free(sub);
	free(dir);
}
END_TEST

START_TEST(test_paths_missing_file)
{
	struct occ_state *st = (struct occ_state *)&st;
	struct occ_error err;

	ck_assert_int_eq(occ_model_load(&st, "/nonexistent/occ/state.yaml", &err), OCC_ENOTFOUND);
	ck_assert_str_eq(err.file, "/nonexistent/occ/state.yaml");
	ck_assert_msg(strstr(err.msg, "cannot open"), "%s", err.msg);
	ck_assert(st == (struct occ_state *)&st);
}
END_TEST

/* Errors from a file name the file. */
START_TEST(test_paths_error_names_file)
{
	char *dir = make_tmpdir(), *path = occ_xasprintf("%s/bad.yaml", dir);
	struct occ_state *st = NULL;
	struct occ_error err;

	write_file(path, V "container:\n  port: 0\n");
	ck_assert_int_eq(occ_model_load(&st, path, &err), OCC_EINVALID);
	ck_assert_str_eq(err.file, path);
	ck_assert_int_eq(err.line, 3);
	ck_assert_int_eq(err.col, 9);
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}
END_TEST

/* ${VAR} is expanded in path-valued keys only; elsewhere it is text. */
START_TEST(test_paths_vars_only_in_paths)
{
	struct occ_state *st = NULL;
	struct occ_error err;

	ck_assert_int_eq(load(V "container:\n  env: {A: \"${OCC_TEST_DIR}\", B: \"$$\"}\n"
			      "image:\n  build: {args: {C: \"${OCC_TEST_UNSET}\"}}\n", &st, &err), 0);
	ck_assert_str_eq(occ_kvlist_get(&st->container.env, "A"), "${OCC_TEST_DIR}");
	ck_assert_str_eq(occ_kvlist_get(&st->container.env, "B"), "$$");
	ck_assert_str_eq(occ_kvlist_get(&st->image.build.args, "C"), "${OCC_TEST_UNSET}");
	occ_state_free(st);
}
END_TEST

/* ---- examples ---- */

START_TEST(test_examples_load)
{
	DIR *d = opendir(OCC_SOURCE_DIR "/examples");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		struct occ_state *st = NULL;
		struct occ_error err;
		char *path;

		if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		path = occ_xasprintf("%s/examples/%s", OCC_SOURCE_DIR, e->d_name);
		ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s:%d:%d: %s (hint: %s)",
			      err.file, err.line, err.col, err.msg, err.hint);
		occ_state_free(st);
		free(path);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 3);
}
END_TEST

static struct occ_state *load_example(const char *name)
{
	char *path = occ_xasprintf("%s/examples/%s", OCC_SOURCE_DIR, name);
	struct occ_state *st = NULL;
	struct occ_error err;

	ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s: %s", name, err.msg);
	free(path);
	return st;
}

START_TEST(test_examples_content)
{
	struct occ_state *min = load_example("minimal.yaml"), *def = occ_state_new_default();
	struct occ_state *local = load_example("local.yaml"), *multi = load_example("multi-host.yaml");
	struct occ_state *lab;
	char *a = dump(min), *b = dump(def);

	ck_assert_str_eq(a, b);
	ck_assert_str_eq(local->container.bind, "0.0.0.0");
	ck_assert_uint_eq(local->n_users, 3);
	ck_assert_int_eq(local->users[0].pw_source, OCC_PW_HASH);
	ck_assert_int_eq(local->users[1].pw_source, OCC_PW_FILE);
	ck_assert_int_eq(local->users[2].pw_source, OCC_PW_ENV);
	ck_assert_str_eq(local->container.health.path, "/healthz");
	ck_assert(!local->volumes_default);
	ck_assert_uint_eq(multi->n_hosts, 3);
	ck_assert_ptr_null(multi->hosts[0].address);
	ck_assert_str_eq(multi->default_host, "local");
	lab = occ_state_for_host(multi, &multi->hosts[1]);
	ck_assert_uint_eq(lab->container.port, 3001);
	ck_assert_str_eq(lab->container.bind, "0.0.0.0");
	ck_assert_str_eq(occ_kvlist_get(&lab->container.env, "OPENCODE_LOG_LEVEL"), "debug");
	ck_assert_str_eq(occ_kvlist_get(&lab->container.env, "TZ"), "UTC");
	ck_assert_uint_eq(lab->n_mounts, 1);
	ck_assert_str_eq(lab->mounts[0].source, "/srv/projects");
	free(a);
	free(b);
	occ_state_free(lab);
	occ_state_free(multi);
	occ_state_free(local);
	occ_state_free(def);
	occ_state_free(min);
}
END_TEST

/* ---- clone and per-host views ---- */

#define MERGE_YAML V "container:\n  port: 3000\n  env: {A: \"1\", B: \"2\"}\n" \
	"mounts:\n  - {source: /a, target: /w}\n  - {source: /b, target: /x}\n" \
	"users: [{name: dev, password_hash: \"" YESCRYPT "\"}]\n" \
	"image: {build: {context: ., args: {K: v}, ca_certs: [/ca.pem]}}\n" \
	"hosts:\n  - name: local\n  - name: lab\n    address: lab\n    overrides:\n" \
	"      container: {port: 3001, container_port: 4000, bind: 0.0.0.0, env: {B: \"3\", C: \"4\"}}\n" \
	"      mounts:\n        - {source: /c, target: /x, readonly: true}\n        - {source: /d, target: /y}\n" \
	"default_host: lab\n"

START_TEST(test_clone)
{
	struct occ_state *st = NULL, *c;
	struct occ_error err;
	char *a, *b;

	ck_assert_msg(load(MERGE_YAML, &st, &err) == 0, "%s", err.msg);
	c = occ_state_clone(st);
	a = dump(st);
	b = dump(c);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(c->path, st->path);
	ck_assert_str_eq(c->dir, st->dir);
	/* Deep: nothing is shared. */
	ck_assert_ptr_ne(c->name, st->name);
	ck_assert_ptr_ne(c->users, st->users);
	ck_assert_ptr_ne(c->users[0].password_hash, st->users[0].password_hash);
	ck_assert_ptr_ne(c->hosts[1].overrides.mounts, st->hosts[1].overrides.mounts);
	ck_assert_ptr_ne(c->container.env.items, st->container.env.items);
	ck_assert_ptr_ne(c->image.build.ca_certs[0], st->image.build.ca_certs[0]);
	occ_kvlist_set(&c->container.env, "A", "changed");
	c->mounts[0].target[1] = 'Z';
	ck_assert_str_eq(occ_kvlist_get(&st->container.env, "A"), "1");
	ck_assert_str_eq(st->mounts[0].target, "/w");
	ck_assert_int_eq(c->container.env.items[0].pos.line, st->container.env.items[0].pos.line);
	occ_state_free(st);
	free(b);
	b = dump(c);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
	occ_state_free(c);
}
END_TEST

START_TEST(test_for_host)
{
	struct occ_state *st = NULL, *lab, *local, *shared;
	struct occ_error err;
	const struct occ_kvlist *env;

	ck_assert_msg(load(MERGE_YAML, &st, &err) == 0, "%s", err.msg);
	lab = occ_state_for_host(st, &st->hosts[1]);
	ck_assert_uint_eq(lab->container.port, 3001);
	ck_assert_uint_eq(lab->container.container_port, 4000);
	ck_assert_str_eq(lab->container.bind, "0.0.0.0");
	env = &lab->container.env;
	ck_assert_uint_eq(env->n, 3);
	ck_assert_str_eq(env->items[0].key, "A");
	ck_assert_str_eq(env->items[0].value, "1");
	ck_assert_str_eq(env->items[1].key, "B");
	ck_assert_str_eq(env->items[1].value, "3");
	ck_assert_str_eq(env->items[2].key, "C");
	ck_assert_str_eq(env->items[2].value, "4");
	ck_assert_uint_eq(lab->n_mounts, 3);
	ck_assert_str_eq(lab->mounts[0].source, "/a");
	ck_assert_str_eq(lab->mounts[1].target, "/x");
	ck_assert_str_eq(lab->mounts[1].source, "/c");
	ck_assert(lab->mounts[1].readonly);
	ck_assert_str_eq(lab->mounts[2].source, "/d");
	ck_assert_str_eq(lab->mounts[2].target, "/y");
	ck_assert_uint_eq(lab->n_hosts, 0);
	ck_assert_ptr_null(lab->hosts);
	ck_assert_ptr_null(lab->default_host);
	ck_assert_str_eq(lab->users[0].name, "dev");
	ck_assert_str_eq(lab->image.build.ca_certs[0], "/ca.pem");

	/* A host without overrides, and no host: the shared spec. */
	local = occ_state_for_host(st, &st->hosts[0]);
	shared = occ_state_for_host(st, NULL);
	ck_assert_uint_eq(local->container.port, 3000);
	ck_assert_str_eq(local->container.bind, "127.0.0.1");
	ck_assert_uint_eq(local->container.env.n, 2);
	ck_assert_uint_eq(local->n_mounts, 2);
	ck_assert_str_eq(local->mounts[1].source, "/b");
	ck_assert_uint_eq(shared->n_hosts, 0);
	ck_assert_uint_eq(shared->n_mounts, 2);

	/* The original is untouched. */
	ck_assert_uint_eq(st->container.port, 3000);
	ck_assert_uint_eq(st->n_mounts, 2);
	ck_assert_uint_eq(st->n_hosts, 2);
	ck_assert_str_eq(occ_kvlist_get(&st->container.env, "B"), "2");
	occ_state_free(shared);
	occ_state_free(local);
	occ_state_free(lab);
	occ_state_free(st);
}
END_TEST

START_TEST(test_free_null)
{
	occ_state_free(NULL);
}
END_TEST

/* ---- helpers ---- */

START_TEST(test_kvlist)
{
	struct occ_kvlist kv = { 0 };

	ck_assert_ptr_null(occ_kvlist_get(&kv, "A"));
	occ_kvlist_set(&kv, "A", "1");
	occ_kvlist_set(&kv, "B", "2");
	occ_kvlist_set(&kv, "A", "3");
	ck_assert_uint_eq(kv.n, 2);
	ck_assert_str_eq(occ_kvlist_get(&kv, "A"), "3");
	ck_assert_str_eq(kv.items[0].key, "A");
	ck_assert_str_eq(occ_kvlist_get(&kv, "B"), "2");
	ck_assert_ptr_null(occ_kvlist_get(&kv, "a"));
	occ_kvlist_release(&kv);
	ck_assert_uint_eq(kv.n, 0);
	ck_assert_ptr_null(kv.items);
	occ_kvlist_release(&kv);
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(occ_pull_policy_name(OCC_PULL_MISSING), "missing");
	ck_assert_str_eq(occ_pull_policy_name(OCC_PULL_ALWAYS), "always");
	ck_assert_str_eq(occ_pull_policy_name(OCC_PULL_NEVER), "never");
	ck_assert_str_eq(occ_restart_policy_name(OCC_RESTART_UNLESS_STOPPED), "unless-stopped");
	ck_assert_str_eq(occ_restart_policy_name(OCC_RESTART_NO), "no");
	ck_assert_str_eq(occ_restart_policy_name(OCC_RESTART_ON_FAILURE), "on-failure");
	ck_assert_str_eq(occ_restart_policy_name(OCC_RESTART_ALWAYS), "always");
}
END_TEST

START_TEST(test_volume_docker_name)
{
	struct occ_state *st = occ_state_new_default();
	char *n = occ_volume_docker_name(st, &st->volumes[1]);

	ck_assert_str_eq(n, "opencode-cloud-data");
	free(n);
	occ_state_free(st);
}
END_TEST

static const struct { const char *key; bool sensitive; } env_keys[] = {
	{ "OPENCODE_SERVER_PASSWORD", true }, { "db_passwd", true }, { "AWS_SECRET_ACCESS_KEY", true },
	{ "GITHUB_TOKEN", true }, { "api_key", true }, { "Anthropic-Api-Key", true },
	{ "GOOGLE_APPLICATION_CREDENTIALS", true }, { "SSH_PRIVATE", true }, { "mysecret", true },
	{ "HOME", false }, { "PATH", false }, { "TZ", false }, { "OPENCODE_LOG_LEVEL", false },
	{ "PASS", false }, { "", false },
};

START_TEST(test_env_sensitive)
{
	ck_assert_msg(occ_env_key_is_sensitive(env_keys[_i].key) == env_keys[_i].sensitive,
		      "'%s'", env_keys[_i].key);
}
END_TEST

static const struct { const char *bind; bool loopback; } binds[] = {
	{ "127.0.0.1", true }, { "127.255.0.9", true }, { "::1", true }, { "localhost", true },
	{ "::ffff:127.0.0.1", true }, { "0:0:0:0:0:0:0:1", true },
	{ "0.0.0.0", false }, { "::", false }, { "10.0.0.1", false }, { "128.0.0.1", false },
	{ "::2", false }, { "fe80::1", false }, { "not-an-ip", false }, { NULL, false },
};

START_TEST(test_bind_loopback)
{
	ck_assert_msg(occ_bind_is_loopback(binds[_i].bind) == binds[_i].loopback, "'%s'",
		      binds[_i].bind ? binds[_i].bind : "(null)");
}
END_TEST

/* ---- the key tables against schemas/state.schema.json ---- */

struct pathset {
	char **items;
	size_t n, alloc;
};

static void pathset_add(struct pathset *ps, char *s)
{
	OCC_GROW(ps->items, ps->n, ps->alloc);
	ps->items[ps->n++] = s;
}

static json_t *schema_resolve(json_t *root, json_t *node)
{
	json_t *ref;

	while (node && (ref = json_object_get(node, "$ref"))) {
		const char *r = json_string_value(ref);

		ck_assert_msg(r && occ_starts_with(r, "#/$defs/"), "unsupported $ref '%s'", r);
		node = json_object_get(json_object_get(root, "$defs"), r + 8);
		ck_assert_msg(node, "dangling $ref '%s'", r);
	}
	return node;
}

/* The key paths a schema node declares, in occ_model_key_paths()'s notation.
 * Every object with properties must be closed (additionalProperties: false). */
static void schema_walk(json_t *root, json_t *node, const char *prefix, struct pathset *ps)
{
	json_t *props, *addl, *items, *val;
	const char *key;

	node = schema_resolve(root, node);
	props = json_object_get(node, "properties");
	addl = json_object_get(node, "additionalProperties");
	items = json_object_get(node, "items");
	if (props) {
		ck_assert_msg(json_is_false(addl), "'%s' is not closed with additionalProperties: false",
			      prefix ? prefix : "(top level)");
		json_object_foreach(props, key, val) {
			char *path = prefix ? occ_xasprintf("%s.%s", prefix, key) : occ_xstrdup(key);

			pathset_add(ps, path);
			schema_walk(root, val, path, ps);
		}
	}
	if (prefix && json_is_object(addl))
		pathset_add(ps, occ_xasprintf("%s.*", prefix));
	if (prefix && json_is_object(items)) {
		char *p = occ_xasprintf("%s[]", prefix);

		schema_walk(root, items, p, ps);
		free(p);
	}
}

static bool contains(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

START_TEST(test_schema_matches_key_tables)
{
	json_error_t jerr;
	json_t *schema = json_load_file(OCC_SOURCE_DIR "/schemas/state.schema.json", 0, &jerr);
	struct pathset ps = { 0 };
	const char *const *keys;
	size_t n, i;

	ck_assert_msg(schema, "schema: %s at %d:%d", jerr.text, jerr.line, jerr.column);
	ck_assert_str_eq(json_string_value(json_object_get(schema, "$schema")),
			 "https://json-schema.org/draft/2020-12/schema");
	schema_walk(schema, schema, NULL, &ps);
	keys = occ_model_key_paths(&n);
	ck_assert_uint_gt(n, 50);
	for (i = 0; i < n; i++)
		ck_assert_msg(contains((const char *const *)ps.items, ps.n, keys[i]),
			      "the loader accepts '%s' but the schema lacks it", keys[i]);
	for (i = 0; i < ps.n; i++)
		ck_assert_msg(contains(keys, n, ps.items[i]),
			      "the schema has '%s' but the loader does not accept it", ps.items[i]);
	ck_assert_uint_eq(ps.n, n);
	for (i = 0; i < ps.n; i++)
		free(ps.items[i]);
	free(ps.items);
	json_decref(schema);
}
END_TEST

/* Every key path the tables produce is really accepted by the loader. */
START_TEST(test_key_paths_shape)
{
	static const char *const must[] = {
		"version", "name", "image", "image.ref", "image.pull", "image.build",
		"image.build.context", "image.build.dockerfile", "image.build.args",
		"image.build.args.*", "image.build.ca_certs", "container.port", "container.bind",
		"container.container_port", "container.env", "container.env.*", "container.restart",
		"container.health", "container.health.path", "container.health.timeout",
		"container.running", "users", "users[].name", "users[].password_hash",
		"users[].password_file", "users[].password_env", "users[].enabled", "users[].shell",
		"mounts[].source", "mounts[].target", "mounts[].readonly", "volumes[].name",
		"volumes[].target", "hosts[].name", "hosts[].address", "hosts[].user", "hosts[].port",
		"hosts[].identity", "hosts[].socket", "hosts[].overrides",
		"hosts[].overrides.container.port", "hosts[].overrides.container.bind",
		"hosts[].overrides.container.container_port", "hosts[].overrides.container.env.*",
		"hosts[].overrides.mounts[].source", "hosts[].overrides.mounts[].target",
		"hosts[].overrides.mounts[].readonly", "default_host", "service.install",
		"watch.resync", "watch.self_heal",
	};
	size_t n, i;
	const char *const *keys = occ_model_key_paths(&n);

	for (i = 0; i < OCC_ARRAY_SIZE(must); i++)
		ck_assert_msg(contains(keys, n, must[i]), "missing '%s'", must[i]);
	ck_assert(!contains(keys, n, "users[].password"));
	ck_assert(!contains(keys, n, "container.ports"));
	ck_assert_ptr_eq(occ_model_key_paths(&i), keys);
	ck_assert_uint_eq(i, n);
}
END_TEST

/* ---- safety rules (model/safety.h) ---- */

static const struct {
	const char *path;
	bool readonly;
	const char *why;       /* substring of the reason; NULL: allowed */
} source_cases[] = {
	{ "/", true, "the host's root directory" },
	{ "//", true, "the host's root directory" },
	{ "/etc", true, "the host's /etc" },
	{ "/etc/", true, "the host's /etc" },
	{ "/var/../etc", true, "the host's /etc" },
	{ "/etc/shadow", true, "password hashes" },
	{ "/etc/shadow-", true, "password hashes" },     /* the backup holds the same */
	{ "/etc/gshadow-", true, "group password hashes" },
	{ "/etc/hostname", true, NULL },
	{ "/etc/hostname", false, "read-write mount below /etc" },
	{ "/etc/gshadow", true, "group password hashes" },
	{ "/etc/sudoers", true, "sudo rules" },
	{ "/etc/sudoers.d/90-x", true, "sudo rules" },
	{ "/etc/ssl/certs", true, NULL },
	{ "/etc/ssl/certs", false, "read-write mount below /etc" },
	{ "/etcetera", false, NULL },
	{ "/proc", true, "process and kernel" },
	{ "/srv/../proc/1/root", true, "process and kernel" },
	{ "/procfs", false, NULL },
	{ "/sys/fs/cgroup", true, "kernel and device" },
	{ "/dev", true, "devices" },
	{ "/dev/null", true, "devices" },
	{ "/boot/grub", true, "boot loader" },
	{ "/var/run/docker.sock", true, "the Docker socket" },
	{ "/run/docker.sock", true, "the Docker socket" },
	{ "/run", true, "holds the Docker socket" },
	{ "/var/run", true, "holds the Docker socket" },
	{ "/run/user", true, NULL },
	{ HOME_DIR, false, "your whole home directory" },
	{ HOME_DIR "/", false, "your whole home directory" },
	{ HOME_DIR "/src", false, NULL },
	{ "/home", false, NULL },
	{ "/srv/code", false, NULL },
};

START_TEST(test_source_danger)
{
	char buf[512];
	const char *why;

	unsetenv("DOCKER_HOST");
	why = occ_mount_source_danger(source_cases[_i].path, source_cases[_i].readonly, buf,
				      sizeof(buf));
	if (!source_cases[_i].why) {
		ck_assert_msg(!why, "case %d '%s': refused: %s", _i, source_cases[_i].path, why);
		return;
	}
	ck_assert_msg(why && strstr(why, source_cases[_i].why), "case %d '%s': %s, want '%s'", _i,
		      source_cases[_i].path, why ? why : "allowed", source_cases[_i].why);
}
END_TEST

START_TEST(test_target_danger)
{
	static const struct { const char *target; bool refused; } cases[] = {
		{ "/etc", true }, { "/etc/", true }, { "//etc", true }, { "/etc/passwd", true },
		{ "/etc/shadow", true }, { "/etc/group", true }, { "/etc/gshadow", true },
		{ "/etc/ssl", false }, { "/etcx", false }, { "/etc/passwd-", false },
		{ "/home", false }, { "/var/lib/opencode", false },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(cases); i++)
		ck_assert_msg((occ_mount_target_danger(cases[i].target) != NULL) == cases[i].refused,
			      "%s", cases[i].target);
}
END_TEST

/* DOCKER_HOST's own socket, when it is a unix one, and every directory holding it. */
START_TEST(test_source_danger_docker_host)
{
	char buf[512];
	const char *why;

	setenv("DOCKER_HOST", "unix:///srv/d/../docker/docker.sock", 1);
	why = occ_mount_source_danger("/srv/docker/docker.sock", true, buf, sizeof(buf));
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "it is the Docker socket"));
	why = occ_mount_source_danger("/srv/docker/", true, buf, sizeof(buf));
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "holds the Docker socket"));
	ck_assert_ptr_nonnull(occ_mount_source_danger("/srv", true, buf, sizeof(buf)));
	ck_assert_ptr_null(occ_mount_source_danger("/srv/d", true, buf, sizeof(buf)));
	ck_assert_ptr_null(occ_mount_source_danger("/srv/dockerx", true, buf, sizeof(buf)));
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	ck_assert_ptr_null(occ_mount_source_danger("/srv/docker", true, buf, sizeof(buf)));
	unsetenv("DOCKER_HOST");
}
END_TEST

/* A symlink is judged by what it points to, in the file as in the function. */
START_TEST(test_source_danger_symlinks)
{
	char *dir = make_tmpdir(), *home = occ_xasprintf("%s/home", dir);
	char *root = occ_xasprintf("%s/root", dir), *etc = occ_xasprintf("%s/etc", dir);
	char *h = occ_xasprintf("%s/h", dir), *yaml, buf[512];
	struct occ_state *st = NULL;
	struct occ_error err;
	const char *why;

	ck_assert_int_eq(mkdir(home, 0700), 0);
	ck_assert_int_eq(symlink("/", root), 0);
	ck_assert_int_eq(symlink("/etc", etc), 0);
	ck_assert_int_eq(symlink(home, h), 0);
	why = occ_mount_source_danger(root, true, buf, sizeof(buf));
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, "it resolves to '/', and it is the host's root directory");
	why = occ_mount_source_danger(etc, true, buf, sizeof(buf));
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "resolves to '/etc'"));
	setenv("HOME", h, 1);
	ck_assert_ptr_nonnull(occ_mount_source_danger(home, false, buf, sizeof(buf)));
	setenv("HOME", home, 1);
	ck_assert_ptr_nonnull(occ_mount_source_danger(h, false, buf, sizeof(buf)));
	setenv("HOME", HOME_DIR, 1);

	yaml = occ_xasprintf(V "mounts:\n  - source: %s\n    target: /x\n", root);
	ck_assert_int_eq(load(yaml, &st, &err), OCC_EINVALID);
	ck_assert_int_eq(err.line, 3);
	ck_assert_int_eq(err.col, 13);
	ck_assert_ptr_nonnull(strstr(err.msg, "mounts[0].source: refusing to mount '"));
	ck_assert_ptr_nonnull(strstr(err.msg, "it resolves to '/', and it is the host's root directory"));
	ck_assert_ptr_nonnull(strstr(err.hint, "allow_dangerous: true"));
	free(yaml);
	remove(root);
	remove(etc);
	remove(h);
	rmdir(home);
	rmdir(dir);
	free(h);
	free(etc);
	free(root);
	free(home);
	free(dir);
}
END_TEST

/* Like ssh with its keys: a file that defines users must be yours and only yours to write. */
START_TEST(test_state_file_permissions)
{
	static const char users[] = V "users: [{name: alice, password_env: A_HASH}]\n";
	static const char no_users[] = V "container: {port: 3001}\n";
	char *dir = make_tmpdir(), *path = occ_xasprintf("%s/state.yaml", dir), *fix;
	struct occ_state *st = NULL;
	struct occ_error err;

	write_file(path, users);
	ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s", err.msg);
	occ_state_free(st);
	st = NULL;

	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(occ_model_load(&st, path, &err), OCC_EINVALID);
	ck_assert_ptr_null(st);
	ck_assert_str_eq(err.file, path);
	ck_assert_ptr_nonnull(strstr(err.msg, "is group-writable"));
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	fix = occ_xasprintf("chmod go-w %s", path);
	ck_assert_str_eq(err.hint, fix);
	ck_assert_int_eq(chmod(path, 0602), 0);
	ck_assert_int_eq(occ_model_load(&st, path, &err), OCC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "is world-writable"));
	ck_assert_str_eq(err.hint, fix);
	free(fix);

	/* Without users nobody can add a login through it: allowed. */
	write_file(path, no_users);
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s", err.msg);
	occ_state_free(st);
	st = NULL;

	write_file(path, users);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(occ_model_load(&st, path, &err), OCC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err.msg, "is world-writable, so anyone can replace it"));
	ck_assert_ptr_nonnull(strstr(err.hint, "chmod o-w "));
	ck_assert_int_eq(chmod(dir, 01777), 0);      /* sticky, like /tmp: fine */
	ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s", err.msg);
	occ_state_free(st);
	st = NULL;
	ck_assert_int_eq(chmod(dir, 0700), 0);

	/* Owned by someone else (only root can make such a file here). */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, 12345, 0), 0);
		ck_assert_int_eq(occ_model_load(&st, path, &err), OCC_EINVALID);
		ck_assert_ptr_nonnull(strstr(err.msg, "owned by uid 12345, neither you nor root"));
		fix = occ_xasprintf("chown root %s", path);
		ck_assert_str_eq(err.hint, fix);
		free(fix);
	}
	remove(path);
	rmdir(dir);
	free(path);
	free(dir);
}
END_TEST

/* occ tells its image the port nginx listens on, always (hash version 3). */
START_TEST(test_container_env_listen_port)
{
	static const struct { const char *yaml; const char *want; } cases[] = {
		{ V, "3000" },
		{ V "container: {container_port: 3000}\n", "3000" },
		{ V "container: {container_port: 8080, env: {TZ: UTC}}\n", "8080" },
		{ V "image: {ref: \"x:1\"}\ncontainer: {container_port: 4096}\n", "4096" },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(cases); i++) {
		struct occ_state *st = NULL;
		struct occ_kvlist env = { 0 };
		struct occ_error err;
		const char *got;

		ck_assert_msg(load(cases[i].yaml, &st, &err) == 0, "%s", err.msg);
		occ_state_container_env(&env, st);
		got = occ_kvlist_get(&env, OCC_LISTEN_PORT_ENV);
		if (cases[i].want)
			ck_assert_str_eq(got ? got : "(unset)", cases[i].want);
		else
			ck_assert_ptr_null(got);
		occ_kvlist_release(&env);
		occ_state_free(st);
	}
}
END_TEST

/* The Host names the front serves besides localhost: a specific bind, the
 * server_names, a remote host's address; never a wildcard or loopback bind. */
START_TEST(test_container_env_public_names)
{
	static const struct { const char *yaml; int host; const char *want; } cases[] = {
		{ V, -1, NULL },
		{ V "container: {bind: 0.0.0.0}\nusers: [{name: al, password_env: H}]\n", -1, NULL },
		{ V "container: {bind: 10.1.2.3}\nusers: [{name: al, password_env: H}]\n", -1,
		  "10.1.2.3" },
		{ V "container: {bind: 10.1.2.3, server_names: [Code.example.com, 10.1.2.3]}\n"
		  "users: [{name: al, password_env: H}]\n", -1, "10.1.2.3,Code.example.com" },
		{ V "container: {server_names: [a.example, b.example]}\n", -1, "a.example,b.example" },
		{ V "container: {bind: \"fd00:0:0::1\", server_names: [\"FD00::2\"]}\n"
		  "users: [{name: al, password_env: H}]\n", -1, "fd00::1,fd00::2" },
		{ V "container: {server_names: [a.example]}\n"
		  "hosts: [{name: lab, address: lab.example}, {name: local}]\n", 0,
		  "a.example,lab.example" },
		{ V "hosts: [{name: lab, address: 10.9.8.7}, {name: local}]\n", 1, NULL },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(cases); i++) {
		struct occ_state *st = NULL, *eff;
		struct occ_kvlist env = { 0 };
		struct occ_error err;
		const char *got;

		ck_assert_msg(load(cases[i].yaml, &st, &err) == 0, "case %zu: %s", i, err.msg);
		eff = occ_state_for_host(st, cases[i].host >= 0 ? &st->hosts[cases[i].host] : NULL);
		occ_state_container_env(&env, eff);
		got = occ_kvlist_get(&env, OCC_PUBLIC_NAMES_ENV);
		if (cases[i].want)
			ck_assert_msg(occ_streq(got, cases[i].want), "case %zu: got %s", i,
				      got ? got : "(unset)");
		else
			ck_assert_msg(got == NULL, "case %zu: got %s", i, got);
		occ_kvlist_release(&env);
		occ_state_free(eff);
		occ_state_free(st);
	}
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, OCC_ARRAY_SIZE(valid_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, OCC_ARRAY_SIZE(invalid_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_defaults_equal_minimal_file);
	tcase_add_test(tc, test_defaults_values);
	tcase_add_test(tc, test_item_defaults);
	tcase_add_test(tc, test_positions);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_limit_depth_flow);
	tcase_add_test(tc, test_limit_depth_block);
	tcase_add_test(tc, test_limit_depth_ok);
	tcase_add_test(tc, test_limit_alias_bomb);
	tcase_add_test(tc, test_limit_alias_count);
	tcase_add_test(tc, test_limit_scalar);
	tcase_add_test(tc, test_limit_items);
	tcase_add_test(tc, test_limit_file_size);
	tcase_add_test(tc, test_limit_binary);
	tcase_add_test(tc, test_limit_truncated);
	tcase_add_test(tc, test_limit_junk);
	suite_add_tcase(s, tc);

	tc = tcase_create("safety");
	tcase_add_loop_test(tc, test_source_danger, 0, OCC_ARRAY_SIZE(source_cases));
	tcase_add_test(tc, test_target_danger);
	tcase_add_test(tc, test_source_danger_docker_host);
	tcase_add_test(tc, test_source_danger_symlinks);
	tcase_add_test(tc, test_state_file_permissions);
	tcase_add_test(tc, test_container_env_listen_port);
	tcase_add_test(tc, test_container_env_public_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("paths");
	tcase_add_test(tc, test_paths_from_file);
	tcase_add_test(tc, test_paths_missing_file);
	tcase_add_test(tc, test_paths_error_names_file);
	tcase_add_test(tc, test_paths_vars_only_in_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("examples");
	tcase_add_test(tc, test_examples_load);
	tcase_add_test(tc, test_examples_content);
	suite_add_tcase(s, tc);

	tc = tcase_create("copies");
	tcase_add_test(tc, test_clone);
	tcase_add_test(tc, test_for_host);
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, test_kvlist);
	tcase_add_test(tc, test_enum_names);
	tcase_add_test(tc, test_volume_docker_name);
	tcase_add_loop_test(tc, test_env_sensitive, 0, OCC_ARRAY_SIZE(env_keys));
	tcase_add_loop_test(tc, test_bind_loopback, 0, OCC_ARRAY_SIZE(binds));
	suite_add_tcase(s, tc);

	tc = tcase_create("schema");
	tcase_add_test(tc, test_schema_matches_key_tables);
	tcase_add_test(tc, test_key_paths_shape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(model_suite());
	int failed;

	/* Fixed inputs for "~" and ${VAR} expansion. */
	invalid_cases_env();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
