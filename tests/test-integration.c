/*
 * test-integration.c - occ against a real dockerd, end to end through the
 * binary: apply from nothing, no-op re-apply, changes that force a recreate,
 * drift repaired, stop/start as desired state, logs, status, foreign
 * containers, the project lock, an unhealthy service, and accounts inside
 * the container (created, locked, changed, removed, kept over a recreate,
 * passwords never shown).
 *
 * The tests build their own image (FROM scratch + Debian's busybox-static)
 * through occ's own `image.build`, use a project name unique to this run and
 * remove everything they created, by label, at the end. State is checked with
 * the docker CLI, a client independent of occ. The tests in the tcase run in
 * order and build on each other.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/lock.h"
#include "tests/testutil.h"

static char *tmp, *ctx_dir, *state_path, *mount_dir, *project;
static int port;

static char *docker_out(const char *const *argv)
{
	char *s = capture_out(argv);

	ck_assert_msg(s != NULL, "%s %s failed", argv[0], argv[1]);
	return s;
}

static char *inspect(const char *fmt)
{
	const char *argv[] = { "docker", "inspect", "-f", fmt, project, NULL };

	return docker_out(argv);
}

/* Number of containers carrying this project's label. */
static int count_containers(void)
{
	char *filter = occ_xasprintf("label=dev.opencode-cloud.project=%s", project);
	const char *argv[] = { "docker", "ps", "-aq", "--filter", filter, NULL };
	char *out = docker_out(argv);
	int n = 0;

	for (char *p = out; *p; p++)
		n += *p == '\n';
	n += *out ? 1 : 0;
	free(out);
	free(filter);
	return n;
}

static void write_state(const char *image_ref, const char *container_extra, const char *extra)
{
	char *text = occ_xasprintf(
		"# integration test state (comments must survive occ stop/start)\n"
		"version: 1\n"
		"name: %s\n"
		"image:\n"
		"  ref: %s\n"
		"  build:\n"
		"    context: %s   # the busybox test image\n"
		"container:\n"
		"  port: %d\n"
		"  health: {path: /healthz, timeout: 20s}\n"
		"%s"
		"volumes:\n"
		"  - {name: data, target: /data}\n"
		"%s",
		project, image_ref, ctx_dir, port, container_extra, extra);

	write_text(state_path, text);
	free(text);
}

static void occ_ok(struct run_result *r, const char *const *args)
{
	run_occ(r, args);
	ck_assert_msg(r->status == 0, "occ %s exited %d\nstdout:\n%s\nstderr:\n%s", args[0],
		      r->status, r->out.buf, r->err.buf);
}

static void apply_ok(void)
{
	const char *args[] = { "apply", "--yes", "-f", state_path, NULL };
	struct run_result r;

	occ_ok(&r, args);
	run_result_release(&r);
}

START_TEST(test_apply_from_nothing)
{
	const char *args[] = { "apply", "-f", state_path, NULL };
	struct run_result r;
	char *st, *env, *labels, *vol;

	write_state("occ-itest:1", "  env: {TZ: UTC}\n", "");
	occ_ok(&r, args);
	ck_assert_msg(strstr(r.out.buf, "+ container"), "plan not shown:\n%s", r.out.buf);
	ck_assert_msg(strstr(r.err.buf, "is healthy"), "no health report:\n%s", r.err.buf);
	run_result_release(&r);

	st = inspect("{{.State.Status}} {{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}}");
	ck_assert_str_eq(st, "running true unless-stopped");
	env = inspect("{{range .Config.Env}}{{println .}}{{end}}");
	ck_assert_ptr_nonnull(strstr(env, "TZ=UTC\n"));
	labels = inspect("{{index .Config.Labels \"dev.opencode-cloud.managed-by\"}} "
			 "{{index .Config.Labels \"dev.opencode-cloud.hash-version\"}}");
	ck_assert_str_eq(labels, "occ 3");
	free(st);
	/* The hardening every container gets (model/state.h), as Docker has it. */
	st = inspect("{{.HostConfig.CapDrop}} {{.HostConfig.CapAdd}} {{.HostConfig.SecurityOpt}} "
		     "{{.HostConfig.PidsLimit}} {{.HostConfig.LogConfig.Type}} "
		     "{{index .HostConfig.LogConfig.Config \"max-size\"}} "
		     "{{index .HostConfig.LogConfig.Config \"max-file\"}}");
	ck_assert_str_eq(st, "[ALL] [CHOWN KILL SETGID SETUID] [no-new-privileges] 4096 json-file 10m 3");
	free(env);
	env = inspect("{{range .Config.Env}}{{println .}}{{end}}");
	ck_assert_ptr_nonnull(strstr(env, "OCC_LISTEN_PORT=3000\n"));
	vol = inspect("{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}");
	ck_assert_ptr_nonnull(strstr(vol, ":/data"));
	ck_assert_int_eq(count_containers(), 1);
	free(st);
	free(env);
	free(labels);
	free(vol);
}
END_TEST

static int journal_lines(void)
{
	char *path = occ_xasprintf("%s/data/opencode-cloud/journal/%s.log", tmp, project);
	FILE *fp = fopen(path, "r");
	int n = 0, c;

	free(path);
	if (!fp)
		return 0;
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

START_TEST(test_apply_again_is_noop)
{
	const char *args[] = { "apply", "-vv", "-f", state_path, NULL };
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	char *before = inspect("{{.Id}} {{.State.StartedAt}}"), *after;
	int lines = journal_lines();
	struct run_result r;

	ck_assert_int_gt(lines, 0);
	occ_ok(&r, diff);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "No changes."));
	run_result_release(&r);
	occ_ok(&r, args);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "No changes."));
	/* -vv traces every API call: a no-op apply only reads. */
	ck_assert_msg(strstr(r.err.buf, "docker: GET "), "no trace:\n%s", r.err.buf);
	ck_assert_msg(!strstr(r.err.buf, "docker: POST") && !strstr(r.err.buf, "docker: DELETE") &&
		      !strstr(r.err.buf, "docker: PUT"), "mutating call in a no-op apply:\n%s",
		      r.err.buf);
	run_result_release(&r);
	after = inspect("{{.Id}} {{.State.StartedAt}}");
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(journal_lines(), lines);
	free(before);
	free(after);
}
END_TEST

#define RECREATE_ONE "Plan: 0 to create, 0 to change, 1 to recreate, 0 to remove."

/* Change a field; diff names it with --exit-code 2, apply recreates once. */
static void change_and_apply(const char *expect_in_diff, const char *expect_plan)
{
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	char *old_id = inspect("{{.Id}}"), *new_id;
	struct run_result r;

	run_occ(&r, diff);
	ck_assert_msg(r.status == 2, "diff --exit-code: %d\n%s%s", r.status, r.out.buf, r.err.buf);
	ck_assert_msg(strstr(r.out.buf, expect_in_diff), "diff lacks '%s':\n%s", expect_in_diff,
		      r.out.buf);
	ck_assert_msg(strstr(r.out.buf, expect_plan), "plan is not '%s':\n%s", expect_plan, r.out.buf);
	run_result_release(&r);
	apply_ok();
	new_id = inspect("{{.Id}}");
	ck_assert_str_ne(old_id, new_id);
	ck_assert_int_eq(count_containers(), 1);
	free(old_id);
	free(new_id);
}

START_TEST(test_env_change_recreates)
{
	char *env;

	write_state("occ-itest:1", "  env: {TZ: Europe/Paris}\n", "");
	change_and_apply("~ env.TZ: \"UTC\" -> \"Europe/Paris\" (forces recreate)", RECREATE_ONE);
	env = inspect("{{range .Config.Env}}{{println .}}{{end}}");
	ck_assert_ptr_nonnull(strstr(env, "TZ=Europe/Paris\n"));
	ck_assert_ptr_null(strstr(env, "TZ=UTC"));
	free(env);
}
END_TEST

/* resources: limits Docker enforces; a change recreates, dropping it returns
 * to the default pids limit. */
START_TEST(test_resources_change_recreates)
{
	char *limits;

	write_state("occ-itest:1", "  env: {TZ: Europe/Paris}\n",
		    "resources: {pids: 256, memory: 256m, cpus: 0.5}\n");
	change_and_apply("~ resources.pids: 4096 -> 256 (forces recreate)", RECREATE_ONE);
	limits = inspect("{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}");
	ck_assert_str_eq(limits, "256 268435456 500000000");
	free(limits);
	write_state("occ-itest:1", "  env: {TZ: Europe/Paris}\n", "");
	change_and_apply("~ resources.pids: 256 -> 4096 (forces recreate)", RECREATE_ONE);
	limits = inspect("{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}");
	ck_assert_str_eq(limits, "4096 0 0");
	free(limits);
}
END_TEST

START_TEST(test_port_change_recreates)
{
	char *want = occ_xasprintf("~ container.port: %d -> %d (forces recreate)", port, port + 1);
	char *ports;
	char *expect;

	port++;
	write_state("occ-itest:1", "  env: {TZ: Europe/Paris}\n", "");
	change_and_apply(want, RECREATE_ONE);
	ports = inspect("{{range $p, $b := .HostConfig.PortBindings}}{{$p}}={{(index $b 0).HostIp}}:{{(index $b 0).HostPort}}{{end}}");
	expect = occ_xasprintf("3000/tcp=127.0.0.1:%d", port);
	ck_assert_str_eq(ports, expect);
	free(expect);
	free(ports);
	free(want);
}
END_TEST

START_TEST(test_mount_change_recreates)
{
	char *file = occ_xasprintf("%s/hello.txt", mount_dir);
	char *extra = occ_xasprintf("mounts:\n  - {source: %s, target: /mnt/work, readonly: true}\n",
				    mount_dir);
	const char *cat[] = { "docker", "exec", project, "cat", "/mnt/work/hello.txt", NULL };
	const char *wr[] = { "docker", "exec", project, "touch", "/mnt/work/new", NULL };
	struct run_result r;
	char *out;

	write_text(file, "hello from the host\n");
	write_state("occ-itest:1", "  env: {TZ: Europe/Paris}\n", extra);
	change_and_apply("+ mounts[/mnt/work] = ", RECREATE_ONE);
	out = docker_out(cat);
	ck_assert_str_eq(out, "hello from the host");
	run_prog(&r, wr);
	ck_assert_int_ne(r.status, 0);  /* read-only */
	ck_assert_ptr_nonnull(strstr(r.err.buf, "Read-only"));
	run_result_release(&r);
	free(out);
	free(extra);
	free(file);
}
END_TEST

START_TEST(test_image_change_recreates)
{
	char *img;

	write_state("occ-itest:2", "  env: {TZ: Europe/Paris}\n", "");
	/* The new image is built first, then the container recreated. */
	change_and_apply("~ image: \"occ-itest:1\" -> \"occ-itest:2\"",
			 "Plan: 1 to create, 0 to change, 1 to recreate, 0 to remove.");
	img = inspect("{{.Config.Image}}");
	ck_assert_str_eq(img, "occ-itest:2");
	free(img);
}
END_TEST

START_TEST(test_stopped_out_of_band_is_repaired)
{
	const char *stop[] = { "docker", "stop", "-t", "1", project, NULL };
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	struct run_result r;
	char *out = docker_out(stop), *st;

	free(out);
	run_occ(&r, diff);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.out.buf, ": start"), "%s", r.out.buf);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "container is exited"));
	run_result_release(&r);
	apply_ok();
	st = inspect("{{.State.Status}}");
	ck_assert_str_eq(st, "running");
	free(st);
}
END_TEST

START_TEST(test_removed_out_of_band_is_recreated)
{
	const char *rm[] = { "docker", "rm", "-f", project, NULL };
	char *out = docker_out(rm), *st;

	free(out);
	ck_assert_int_eq(count_containers(), 0);
	apply_ok();
	st = inspect("{{.State.Status}}");
	ck_assert_str_eq(st, "running");
	ck_assert_int_eq(count_containers(), 1);
	free(st);
}
END_TEST

START_TEST(test_stop_start_are_desired_state)
{
	const char *stop[] = { "stop", "-f", state_path, NULL };
	const char *start[] = { "start", "-f", state_path, NULL };
	const char *apply[] = { "apply", "-f", state_path, NULL };
	const char *status[] = { "status", "-f", state_path, NULL };
	struct occ_error err;
	struct run_result r;
	size_t len;
	char *text, *st;

	occ_ok(&r, stop);
	run_result_release(&r);
	st = inspect("{{.State.Status}}");
	ck_assert_str_eq(st, "exited");
	free(st);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_read_file(state_path, 1 << 20, &text, &len, &err), 0);
	ck_assert_msg(strstr(text, "running: false"), "state file:\n%s", text);
	ck_assert_ptr_nonnull(strstr(text, "# integration test state (comments must survive"));
	ck_assert_ptr_nonnull(strstr(text, "# the busybox test image"));
	free(text);

	occ_ok(&r, apply);   /* a later apply does not undo the stop */
	ck_assert_ptr_nonnull(strstr(r.out.buf, "No changes."));
	run_result_release(&r);
	occ_ok(&r, status);
	ck_assert_msg(strstr(r.out.buf, "stopped by 'occ stop'"), "%s", r.out.buf);
	run_result_release(&r);

	occ_ok(&r, start);
	run_result_release(&r);
	st = inspect("{{.State.Status}}");
	ck_assert_str_eq(st, "running");
	free(st);
}
END_TEST

START_TEST(test_logs_and_status)
{
	const char *logs[] = { "logs", "-n", "20", "--file", state_path, NULL };
	const char *status[] = { "status", "--json", "-f", state_path, NULL };
	struct run_result r;

	occ_ok(&r, logs);
	ck_assert_msg(strstr(r.out.buf, "occ-test-stdout"), "stdout: %s", r.out.buf);
	ck_assert_msg(strstr(r.err.buf, "occ-test-stderr"), "stderr: %s", r.err.buf);
	run_result_release(&r);
	occ_ok(&r, status);
	ck_assert_msg(strstr(r.out.buf, "\"state\":\"running\""), "%s", r.out.buf);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "\"in_sync\":true"));
	ck_assert_ptr_nonnull(strstr(r.out.buf, "\"binding\":\"local\""));
	ck_assert_ptr_nonnull(strstr(r.out.buf, "\"health\":\"healthy\""));
	run_result_release(&r);
}
END_TEST

START_TEST(test_lock_timeout)
{
	const char *args[] = { "apply", "--lock-timeout", "1s", "-f", state_path, NULL };
	struct occ_lock *lock = NULL;
	struct occ_error err;
	struct run_result r;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_lock_acquire(&lock, NULL, project, "test", 0, NULL, NULL, &err), 0);
	run_occ(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "is locked by occ test (pid"), "%s", r.err.buf);
	run_result_release(&r);
	occ_lock_release(lock);
}
END_TEST

START_TEST(test_foreign_container_untouched)
{
	char *name = occ_xasprintf("%s-foreign", project);
	const char *create[] = { "docker", "create", "--name", name, "occ-itest:1", NULL };
	const char *rm[] = { "docker", "rm", "-f", name, NULL };
	const char *args[] = { "apply", "-f", NULL, NULL };
	char *path = occ_xasprintf("%s/foreign.yaml", tmp);
	char *text = occ_xasprintf("version: 1\nname: %s\nimage: {ref: 'occ-itest:1'}\n"
				   "container: {port: %d}\nvolumes: []\n", name, port + 100);
	char *id = docker_out(create), *id2;
	const char *insp[] = { "docker", "inspect", "-f", "{{.Id}} {{.State.Status}}", name, NULL };
	struct run_result r;

	write_text(path, text);
	args[2] = path;
	run_occ(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "exists but was not created by occ"), "%s", r.err.buf);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "hint:"));
	run_result_release(&r);
	id2 = docker_out(insp);
	ck_assert_msg(strncmp(id2, id, strlen(id)) == 0, "foreign container changed: %s", id2);
	ck_assert_ptr_nonnull(strstr(id2, " created"));
	free(docker_out(rm));
	free(id);
	free(id2);
	free(text);
	free(path);
	free(name);
}
END_TEST

START_TEST(test_unhealthy_service_is_reported)
{
	const char *args[] = { "apply", "-f", state_path, NULL };
	struct run_result r;

	write_state("occ-itest:2", "  env: {TZ: Europe/Paris, TEST_EXIT: '3'}\n", "");
	run_occ(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "exit code 3") || strstr(r.err.buf, "exited"),
		      "stderr:\n%s", r.err.buf);
	run_result_release(&r);
	write_state("occ-itest:2", "  env: {TZ: Europe/Paris}\n", "");
	apply_ok();
}
END_TEST

/* No health path: an image's own HEALTHCHECK decides when apply is done. */
static char *healthcheck_state(const char *name, const char *tag, const char *check)
{
	char *ctx = occ_xasprintf("%s/ctx-%s", tmp, tag);
	char *cmd = occ_xasprintf("rm -rf %s && cp -r %s %s && printf '%%s\\n' "
				  "'HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD %s' >> %s/Dockerfile",
				  ctx, ctx_dir, ctx, check, ctx);
	char *path = occ_xasprintf("%s/hc-%s.yaml", tmp, tag);
	char *text = occ_xasprintf("version: 1\nname: %s\nimage: {ref: 'occ-itest-hc:%s', build: {context: %s}}\n"
				   "container: {port: %d, health: {timeout: 30s}}\nvolumes: []\n",
				   name, tag, ctx, port + 200);

	ck_assert_int_eq(system(cmd), 0);
	write_text(path, text);
	free(text);
	free(cmd);
	free(ctx);
	return path;
}

START_TEST(test_docker_healthcheck_gates_apply)
{
	char *name = occ_xasprintf("%s-hc", project);
	char *good = healthcheck_state(name, "1", "wget -q -O /dev/null http://127.0.0.1:3000/healthz || exit 1");
	char *bad = healthcheck_state(name, "2", "exit 1");
	const char *apply_good[] = { "apply", "-f", good, NULL };
	const char *apply_bad[] = { "apply", "-f", bad, NULL };
	const char *insp[] = { "docker", "inspect", "-f", "{{.State.Health.Status}}", name, NULL };
	struct run_result r;
	char *status;

	occ_ok(&r, apply_good);
	ck_assert_msg(strstr(r.err.buf, "is healthy"), "%s", r.err.buf);
	run_result_release(&r);
	/* apply returned only once Docker itself said healthy */
	status = docker_out(insp);
	ck_assert_str_eq(status, "healthy");
	free(status);

	run_occ(&r, apply_bad);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "unhealthy by its image's HEALTHCHECK"), "%s", r.err.buf);
	run_result_release(&r);
	free(good);
	free(bad);
	free(name);
}
END_TEST

/* ---- users inside the container ----------------------------------------- */

/* Real crypt hashes (openssl passwd -6, fixed salts: the same in every test,
 * each of which runs in a process of its own). */
static char *hash_a1, *hash_a2, *hash_b, *hash_c;
#define CAROL_ENV "OCC_ITEST_CAROL_HASH"

static char *make_hash(const char *salt, const char *pw)
{
	const char *argv[] = { "openssl", "passwd", "-6", "-salt", salt, pw, NULL };

	return docker_out(argv);
}

static void make_hashes(void)
{
	if (hash_a1)
		return;
	hash_a1 = make_hash("itestA1salt", "alice-one");
	hash_a2 = make_hash("itestA2salt", "alice-two");
	hash_b = make_hash("itestBsalt", "bob");
	hash_c = make_hash("itestCsalt", "carol");
}

static char *in_container(const char *cmd)
{
	const char *argv[] = { "docker", "exec", project, "sh", "-c", cmd, NULL };

	return docker_out(argv);
}

/* alice from password_hash (a1 or a2, maybe disabled), bob from a file (unless
 * dropped), carol from an environment variable of occ. */
static void write_users_state(const char *env, const char *alice_hash, bool alice_enabled,
			      bool with_bob)
{
	char *bob_file, *bob, *users, *container, *hash_line;

	bob_file = occ_xasprintf("%s/bob.hash", tmp);
	bob = occ_xasprintf("  - name: bob\n    password_file: %s\n    shell: /bin/sh\n",
			    bob_file);
	users = occ_xasprintf("users:\n  - name: alice\n    password_hash: \"%s\"\n"
			      "    enabled: %s\n%s  - name: carol\n    password_env: %s\n",
			      alice_hash, alice_enabled ? "true" : "false", with_bob ? bob : "",
			      CAROL_ENV);
	container = occ_xasprintf("  env: {TZ: %s}\n", env);
	hash_line = occ_xasprintf("%s\n", hash_b);

	write_text(bob_file, hash_line);
	setenv(CAROL_ENV, hash_c, 1);
	write_state("occ-itest:2", container, users);
	free(hash_line);
	free(container);
	free(users);
	free(bob);
	free(bob_file);
}

/* None of the hashes anywhere in text. */
static void assert_no_hashes(const char *text, const char *what)
{
	const char *hashes[] = { hash_a1, hash_a2, hash_b, hash_c };

	for (size_t i = 0; i < OCC_ARRAY_SIZE(hashes); i++)
		ck_assert_msg(!strstr(text, hashes[i]), "a password hash in %s:\n%s", what, text);
	/* not even the salt+hash part of one */
	for (size_t i = 0; i < OCC_ARRAY_SIZE(hashes); i++)
		ck_assert_msg(!strstr(text, strrchr(hashes[i], '$') + 1), "a hash part in %s", what);
}

/* apply and diff with -vv (every API call traced): no hash in what occ prints. */
static void apply_users_ok(const char *expect_in_plan)
{
	const char *diff[] = { "diff", "-vv", "-f", state_path, NULL };
	const char *apply[] = { "apply", "-vv", "--yes", "-f", state_path, NULL };
	const char *again[] = { "diff", "--exit-code", "-f", state_path, NULL };
	struct run_result r;

	run_occ(&r, diff);
	ck_assert_msg(r.status == 0, "diff: %d\n%s%s", r.status, r.out.buf, r.err.buf);
	ck_assert_msg(strstr(r.out.buf, expect_in_plan), "plan lacks '%s':\n%s", expect_in_plan,
		      r.out.buf);
	assert_no_hashes(r.out.buf, "diff's stdout");
	assert_no_hashes(r.err.buf, "diff's stderr");
	run_result_release(&r);
	occ_ok(&r, apply);
	assert_no_hashes(r.out.buf, "apply's stdout");
	assert_no_hashes(r.err.buf, "apply's stderr");
	run_result_release(&r);
	occ_ok(&r, again);       /* converged: a second plan is empty */
	ck_assert_ptr_nonnull(strstr(r.out.buf, "No changes."));
	run_result_release(&r);
}

/* One whole line of /etc/shadow (as read with docker_out: last newline cut). */
static void assert_shadow_line(const char *shadow, const char *user, const char *field)
{
	char *line = occ_xasprintf("\n%s:%s::0:99999:7:::\n", user, field);
	char *text = occ_xasprintf("\n%s\n", shadow);

	ck_assert_msg(strstr(text, line), "no '%s' in /etc/shadow:\n%s", line + 1, shadow);
	free(text);
	free(line);
}

START_TEST(test_users_created)
{
	char *shadow, *passwd, *homes, *modes;

	make_hashes();
	write_users_state("Europe/Paris", hash_a1, true, true);
	/* The first enabled users end the open login mode: a recreate, which
	 * writes the accounts into the new container before it starts. */
	apply_users_ok("- env.OCC_LOGIN = \"open\" (forces recreate)");
	shadow = in_container("cat /etc/shadow");
	assert_shadow_line(shadow, "alice", hash_a1);
	assert_shadow_line(shadow, "bob", hash_b);     /* password_file */
	assert_shadow_line(shadow, "carol", hash_c);   /* password_env */
	passwd = in_container("cat /etc/passwd");
	ck_assert_msg(strstr(passwd, "alice:x:1000:1000:occ-managed:/home/alice:/bin/bash\n") &&
		      strstr(passwd, "bob:x:1001:1001:occ-managed:/home/bob:/bin/sh\n") &&
		      strstr(passwd, "carol:x:1002:1002:occ-managed:/home/carol:/bin/bash"),
		      "/etc/passwd:\n%s", passwd);
	homes = in_container("stat -c '%n %u %g %a' /home/alice /home/bob /home/carol");
	ck_assert_str_eq(homes, "/home/alice 1000 1000 750\n/home/bob 1001 1001 750\n"
			 "/home/carol 1002 1002 750");
	modes = in_container("stat -c '%n %u %a' /etc/passwd /etc/group /etc/shadow");
	ck_assert_str_eq(modes, "/etc/passwd 0 644\n/etc/group 0 644\n/etc/shadow 0 600");
	free(modes);
	free(homes);
	free(passwd);
	free(shadow);
}
END_TEST

START_TEST(test_user_disabled_then_enabled)
{
	char *locked, *shadow;

	make_hashes();
	locked = occ_xasprintf("!%s", hash_a1);
	write_users_state("Europe/Paris", hash_a1, false, true);
	apply_users_ok("~ users[alice].enabled: \"true\" -> \"false\"");
	shadow = in_container("cat /etc/shadow");
	assert_shadow_line(shadow, "alice", locked);
	free(shadow);
	write_users_state("Europe/Paris", hash_a1, true, true);
	apply_users_ok("~ users[alice].enabled: \"false\" -> \"true\"");
	shadow = in_container("cat /etc/shadow");
	assert_shadow_line(shadow, "alice", hash_a1);
	free(shadow);
	free(locked);
}
END_TEST

START_TEST(test_user_password_changed)
{
	char *shadow;

	make_hashes();
	write_users_state("Europe/Paris", hash_a2, true, true);
	apply_users_ok("~ users[alice].password: (sensitive, sha256:");
	shadow = in_container("cat /etc/shadow");
	assert_shadow_line(shadow, "alice", hash_a2);
	ck_assert_ptr_null(strstr(shadow, hash_a1));
	free(shadow);
}
END_TEST

START_TEST(test_user_removed_home_kept)
{
	char *passwd, *shadow, *home;

	make_hashes();
	write_users_state("Europe/Paris", hash_a2, true, false);
	apply_users_ok("- user bob");
	passwd = in_container("cat /etc/passwd /etc/group");
	shadow = in_container("cat /etc/shadow");
	ck_assert_msg(!strstr(passwd, "bob"), "%s", passwd);
	ck_assert_msg(!strstr(shadow, "bob"), "%s", shadow);
	ck_assert_ptr_nonnull(strstr(passwd, "alice:x:1000:"));
	home = in_container("ls -d /home/bob");
	ck_assert_str_eq(home, "/home/bob");
	free(home);
	free(shadow);
	free(passwd);
}
END_TEST

/* A recreate writes the accounts into the new container before it starts. */
START_TEST(test_users_survive_recreate)
{
	char *old_id = inspect("{{.Id}}"), *new_id, *before, *after, *all;

	make_hashes();
	before = in_container("cat /etc/passwd /etc/shadow /etc/group");
	write_users_state("UTC", hash_a2, true, false);
	apply_users_ok("-/+ container");
	new_id = inspect("{{.Id}}");
	ck_assert_str_ne(old_id, new_id);
	after = in_container("cat /etc/passwd /etc/shadow /etc/group");
	ck_assert_str_eq(before, after);
	/* nothing about the passwords in what Docker keeps about the container */
	all = inspect("{{json .}}");
	assert_no_hashes(all, "docker inspect");
	free(all);
	free(after);
	free(before);
	free(new_id);
	free(old_id);
}
END_TEST

static void append_state(const char *text)
{
	struct occ_error err;
	char *cur = NULL, *next;
	size_t len;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_read_file(state_path, 1 << 20, &cur, &len, &err), 0);
	next = occ_xasprintf("%s%s", cur, text);
	write_text(state_path, next);
	free(next);
	free(cur);
}

/* An account occ did not create is never taken over. */
START_TEST(test_user_unmarked_conflict)
{
	const char *apply[] = { "apply", "--yes", "-f", state_path, NULL };
	char *before, *after, *dave;
	struct run_result r;

	make_hashes();
	free(in_container("echo 'dave:x:2000:2000:Dave:/home/dave:/bin/sh' >> /etc/passwd"));
	before = in_container("cat /etc/passwd /etc/shadow");
	write_users_state("UTC", hash_a2, true, false);
	dave = occ_xasprintf("  - name: dave\n    password_hash: \"%s\"\n", hash_b);
	append_state(dave);
	run_occ(&r, apply);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "user 'dave' already exists in the container and was not "
			     "created by occ"), "%s", r.err.buf);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "state.yaml:"));
	assert_no_hashes(r.err.buf, "the error");
	run_result_release(&r);
	after = in_container("cat /etc/passwd /etc/shadow");
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	free(dave);
}
END_TEST

/*
 * Accounts changed inside the container, out of band, are seen by the next
 * diff (the accounts record is keyed by the files' stat, which the change
 * moves); users that leave the state file lose their accounts (occ's, found
 * through the marker) while accounts occ did not make are kept.
 */
START_TEST(test_users_drift_and_removal)
{
	const char *diff[] = { "diff", "--exit-code", "-f", state_path, NULL };
	char *passwd, *cache;
	struct run_result r;

	make_hashes();
	write_users_state("UTC", hash_a2, true, false);
	occ_ok(&r, diff);
	run_result_release(&r);
	/* Past the 2 s in which no record is kept, a diff records the accounts
	 * (drivers/docker/accounts-cache.c) and the next one reads the record. */
	sleep(3);
	occ_ok(&r, diff);
	run_result_release(&r);
	cache = occ_xasprintf("%s/data/opencode-cloud/accounts/%s", tmp, project);
	ck_assert_msg(access(cache, F_OK) == 0, "no accounts record at %s", cache);
	free(cache);
	occ_ok(&r, diff);
	run_result_release(&r);
	free(in_container("sed -i 's/^alice:\\$/alice:!$/' /etc/shadow"));
	apply_users_ok("~ users[alice].enabled: \"false\" -> \"true\"");
	/* alice and carol leave, erin arrives: a user stays, so the login mode
	 * (and the container) stays; removing the very last user would recreate
	 * the container with login open, from the image's own accounts. */
	{
		char *users = occ_xasprintf("users:\n  - name: erin\n    password_hash: \"%s\"\n",
					    hash_a1);

		write_state("occ-itest:2", "  env: {TZ: UTC}\n", users);
		free(users);
	}
	apply_users_ok("- user alice");
	passwd = in_container("cat /etc/passwd");
	ck_assert_msg(!strstr(passwd, "alice:") && !strstr(passwd, "carol:"), "%s", passwd);
	ck_assert_msg(strstr(passwd, "erin:"), "%s", passwd);
	ck_assert_msg(strstr(passwd, "dave:x:2000:"), "%s", passwd);
	free(passwd);
}
END_TEST

static void cleanup_docker(void)
{
	char *cmd = occ_xasprintf(
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=%s); "
		"[ -z \"$vols\" ] || docker volume rm $vols >/dev/null; "
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=%s-hc); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"docker rmi occ-itest:1 occ-itest:2 occ-itest-hc:1 occ-itest-hc:2 >/dev/null 2>&1; true",
		project, project, project);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
	free(cmd);
}

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("itest");
	project = occ_xasprintf("occ-it-%ld", (long)getpid());
	port = 20000 + (int)(getpid() % 20000);
	ctx_dir = occ_xasprintf("%s/ctx", tmp);
	mount_dir = occ_xasprintf("%s/work", tmp);
	state_path = occ_xasprintf("%s/state.yaml", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/ && mkdir -p %s",
			    OCC_SOURCE_DIR, ctx_dir, ctx_dir, mount_dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	set_test_env(tmp, true);
}

static void teardown(void)
{
	cleanup_docker();
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("integration");
	TCase *tc = tcase_create("docker");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_apply_from_nothing);
	tcase_add_test(tc, test_apply_again_is_noop);
	tcase_add_test(tc, test_env_change_recreates);
	tcase_add_test(tc, test_resources_change_recreates);
	tcase_add_test(tc, test_port_change_recreates);
	tcase_add_test(tc, test_mount_change_recreates);
	tcase_add_test(tc, test_image_change_recreates);
	tcase_add_test(tc, test_stopped_out_of_band_is_repaired);
	tcase_add_test(tc, test_removed_out_of_band_is_recreated);
	tcase_add_test(tc, test_stop_start_are_desired_state);
	tcase_add_test(tc, test_logs_and_status);
	tcase_add_test(tc, test_lock_timeout);
	tcase_add_test(tc, test_foreign_container_untouched);
	tcase_add_test(tc, test_unhealthy_service_is_reported);
	tcase_add_test(tc, test_docker_healthcheck_gates_apply);
	tcase_add_test(tc, test_users_created);
	tcase_add_test(tc, test_user_disabled_then_enabled);
	tcase_add_test(tc, test_user_password_changed);
	tcase_add_test(tc, test_user_removed_home_kept);
	tcase_add_test(tc, test_users_survive_recreate);
	tcase_add_test(tc, test_user_unmarked_conflict);
	tcase_add_test(tc, test_users_drift_and_removal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* The tests build on each other: stop at the first failure. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
