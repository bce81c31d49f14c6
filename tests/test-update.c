/*
 * test-update.c - `occ update` end to end against a real dockerd.
 *
 * A build context (the busybox-httpd test image) is applied; `update
 * --check` says 0 until a file of the context changes, then 2; `update
 * --yes` rebuilds and recreates, and a user added before and a file in a
 * volume survive; `--rollback` goes back and forth; a context whose image
 * exits at start is rolled back automatically (exit 1, the old image runs);
 * a pulled image without a registry fails with a clear message.
 *
 * Every image it builds carries a label unique to the run, so the cleanup
 * removes exactly those (and the project's containers and volumes).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *tmp, *state, *project, *ctx, *ref, *prev_tag;
static int port;

/* docker inspect -f FORMAT OBJECT */
static char *inspect(const char *what, const char *format, const char *object)
{
	char *cmd = occ_xasprintf("docker %s inspect -f '%s' %s", what, format, object);
	char *out = sh_out(cmd);

	free(cmd);
	return out;
}

/* Run occ; assert the exit status and that stderr (or stdout) holds want. */
static void occ_expect(int status, const char *want, const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == status, "occ %s %s: exit %d, want %d\n%s%s", args[0],
		      args[1] ? args[1] : "", r.status, status, r.out.buf, r.err.buf);
	if (want)
		ck_assert_msg(strstr(r.err.buf, want) || strstr(r.out.buf, want),
			      "output lacks '%s':\n%s%s", want, r.out.buf, r.err.buf);
	run_result_release(&r);
}

static char *image_of_ref(void)
{
	return inspect("image", "{{.Id}}", ref);
}

static char *image_of_container(void)
{
	return inspect("container", "{{.Image}}", project);
}

static void assert_runs(const char *image_id)
{
	char *running = inspect("container", "{{.State.Running}}", project);
	char *img = image_of_container();

	ck_assert_str_eq(running, "true");
	ck_assert_str_eq(img, image_id);
	free(running);
	free(img);
}

/* The account and the volume's file made before the first update. */
static void assert_data_kept(void)
{
	char *cmd = occ_xasprintf("docker exec %s sh -c 'cat /data/keep; grep -c ^bob: /etc/passwd'",
				  project);
	char *out = sh_out(cmd);

	ck_assert_str_eq(out, "kept\n1");
	free(out);
	free(cmd);
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_update_rebuild_rollback)
{
	const char *apply[] = { "apply", "-q", "-f", state, NULL };
	const char *check[] = { "update", "--check", "-f", state, NULL };
	const char *check_json[] = { "update", "--check", "--json", "-f", state, NULL };
	const char *update[] = { "update", "--yes", "-f", state, NULL };
	const char *rollback[] = { "update", "--rollback", "--yes", "-f", state, NULL };
	const char *add_user[] = { "user", "add", "bob", "--generate", "-f", state, NULL };
	char *text = occ_xasprintf("version: 1\nname: %s\n"
				   "image: {ref: '%s', build: {context: %s}}\n"
				   "container: {port: %d, health: {path: /healthz, timeout: 30s}}\n"
				   "volumes:\n  - {name: data, target: /data}\n",
				   project, ref, ctx, port);
	char *path = occ_xasprintf("%s/www/healthz", ctx), *df = occ_xasprintf("%s/Dockerfile", ctx);
	char *id1, *id2, *cmd, *out;

	write_text(state, text);
	occ_expect(0, NULL, apply);
	occ_expect(0, NULL, add_user);
	cmd = occ_xasprintf("docker exec %s sh -c 'echo kept > /data/keep'", project);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	occ_expect(0, "is up to date", check);

	/* A changed file of the context is an update; touching one is not. */
	cmd = occ_xasprintf("touch %s", df);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	occ_expect(0, NULL, check);
	append(path, "v2\n");
	occ_expect(2, "update available", check);
	occ_expect(2, "\"update_available\":true", check_json);

	id1 = image_of_ref();
	occ_expect(0, NULL, update);
	id2 = image_of_ref();
	ck_assert_str_ne(id1, id2);
	assert_runs(id2);
	assert_data_kept();
	cmd = occ_xasprintf("docker exec %s cat /www/healthz", project);
	out = sh_out(cmd);
	free(cmd);
	ck_assert_msg(strstr(out, "v2"), "the new image's file is not served: %s", out);
	free(out);
	occ_expect(0, "is up to date", check);

	/* --rollback goes back, and again forward. */
	occ_expect(0, NULL, rollback);
	assert_runs(id1);
	assert_data_kept();
	occ_expect(0, NULL, rollback);
	assert_runs(id2);

	/* An image that exits at start: rolled back automatically. */
	append(df, "ENV TEST_EXIT=3\n");
	occ_expect(1, "rolled back", update);
	assert_runs(id2);
	out = image_of_ref();
	ck_assert_str_eq(out, id2);
	free(out);
	assert_data_kept();
	occ_expect(2, "update available", check);

	/* The failed update left the previous tag alone: --rollback reaches id1. */
	out = inspect("image", "{{.Id}}", prev_tag);
	ck_assert_str_eq(out, id1);
	free(out);
	occ_expect(0, NULL, rollback);
	assert_runs(id1);
	assert_data_kept();

	free(id1);
	free(id2);
	free(path);
	free(df);
	free(text);
}
END_TEST

/* A pulled image with no registry to ask: a clear error, not a crash. */
START_TEST(test_update_no_registry)
{
	char *st = occ_xasprintf("%s/pulled.yaml", tmp);
	char *text = occ_xasprintf("version: 1\nname: %s-pull\nimage: {ref: '%s', pull: missing}\n"
				   "container: {port: %d}\n", project, ref, port + 1);
	const char *check[] = { "update", "--check", "-f", st, NULL };
	const char *update[] = { "update", "--yes", "-f", st, NULL };
	const char *rollback[] = { "update", "--rollback", "--yes", "-f", st, NULL };

	write_text(st, text);
	occ_expect(1, "cannot reach the registry of image", check);
	occ_expect(1, "cannot reach the registry of image", update);
	occ_expect(1, "no previous image to roll back to", rollback);
	free(st);
	free(text);
}
END_TEST

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("itest-update");
	project = occ_xasprintf("occ-setup-upd-%ld", (long)getpid());
	ref = occ_xasprintf("%s:1", project);
	prev_tag = occ_xasprintf("%s-previous:latest", project);
	port = 23280 + (int)(getpid() % 18);
	state = occ_xasprintf("%s/state.yaml", tmp);
	ctx = occ_xasprintf("%s/ctx", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/ && "
			    "echo 'LABEL occ-test-run=%s' >> %s/Dockerfile",
			    OCC_SOURCE_DIR, ctx, ctx, project, ctx);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	set_test_env(tmp, true);
}

static void teardown(void)
{
	char *cmd = occ_xasprintf(
		"for p in %s %s-pull; do "
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$vols\" ] || docker volume rm $vols >/dev/null; done; "
		"imgs=$(docker images -q --filter label=occ-test-run=%s | sort -u); "
		"[ -z \"$imgs\" ] || docker rmi -f $imgs >/dev/null 2>&1; true",
		project, project, project);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	remove_tree(tmp);
	free(tmp);
	free(project);
	free(ref);
	free(prev_tag);
	free(state);
	free(ctx);
}

int main(void)
{
	Suite *s = suite_create("update");
	TCase *tc = tcase_create("update");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_update_rebuild_rollback);
	tcase_add_test(tc, test_update_no_registry);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
