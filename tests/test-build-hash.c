/*
 * test-build-hash.c - occ_docker_build_hash, the build-inputs hash `occ
 * update` compares with an image's label: it follows file contents, names,
 * the Dockerfile name and the build args, and ignores mtimes, the order of
 * the args and files .dockerignore leaves out. Reads files only: no Docker.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "drivers/docker/docker.h"
#include "model/state.h"
#include "tests/testutil.h"

static char *tmp;

static void put(const char *name, const char *text)
{
	char *path = occ_xasprintf("%s/%s", tmp, name);

	write_text(path, text);
	free(path);
}

/* The hash of tmp as a context with the given build: settings. */
static int hash_of(char out[OCC_DOCKER_BUILD_HASH_LEN + 1], const char *build_extra)
{
	char *yaml = occ_xasprintf("version: 1\nimage:\n  build:\n    context: %s\n%s", tmp,
				   build_extra ? build_extra : "");
	struct occ_state *st = NULL;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ck_assert_msg(occ_model_load_buffer(&st, yaml, strlen(yaml), "t.yaml", tmp, &err) == 0,
		      "%s", err.msg);
	ret = occ_docker_build_hash(out, st, &err);
	occ_state_free(st);
	free(yaml);
	return ret;
}

static void set_mtime(const char *name, time_t t)
{
	char *path = occ_xasprintf("%s/%s", tmp, name);
	struct timeval tv[2] = { { t, 0 }, { t, 0 } };

	ck_assert_int_eq(utimes(path, tv), 0);
	free(path);
}

START_TEST(test_follows_contents_not_mtimes)
{
	char h1[OCC_DOCKER_BUILD_HASH_LEN + 1], h2[sizeof(h1)];

	ck_assert_int_eq(hash_of(h1, NULL), 0);
	ck_assert_uint_eq(strlen(h1), OCC_DOCKER_BUILD_HASH_LEN);
	set_mtime("app.txt", 1000000000);
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	ck_assert_str_eq(h1, h2);
	put("app.txt", "v2\n");
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	ck_assert_str_ne(h1, h2);
	put("app.txt", "v1\n");
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	ck_assert_str_eq(h1, h2);
	put("new.txt", "");
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	ck_assert_str_ne(h1, h2);
}
END_TEST

START_TEST(test_ignored_files_do_not_count)
{
	char h1[OCC_DOCKER_BUILD_HASH_LEN + 1], h2[sizeof(h1)];

	ck_assert_int_eq(hash_of(h1, NULL), 0);
	put("scratch.log", "noise\n");
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	ck_assert_str_eq(h1, h2);
}
END_TEST

START_TEST(test_args_and_dockerfile)
{
	char h1[OCC_DOCKER_BUILD_HASH_LEN + 1], h2[sizeof(h1)], h3[sizeof(h1)];

	ck_assert_int_eq(hash_of(h1, "    args: {A: '1', B: '2'}\n"), 0);
	ck_assert_int_eq(hash_of(h2, "    args: {B: '2', A: '1'}\n"), 0);
	ck_assert_str_eq(h1, h2);
	ck_assert_int_eq(hash_of(h2, "    args: {A: '1', B: '3'}\n"), 0);
	ck_assert_str_ne(h1, h2);
	ck_assert_int_eq(hash_of(h2, NULL), 0);
	put("Other.Dockerfile", "FROM scratch\n");
	ck_assert_int_eq(hash_of(h3, "    dockerfile: Other.Dockerfile\n"), 0);
	ck_assert_str_ne(h2, h3);
}
END_TEST

/* The embedded context (compiled into occ) hashes like a directory does:
 * the same every time, and its build args count. */
START_TEST(test_embedded)
{
	const char *embedded = "version: 1\nimage: {build: {context: embedded}}\n";
	const char *with_arg = "version: 1\nimage: {build: {context: embedded, args: {A: '1'}}}\n";
	char h1[OCC_DOCKER_BUILD_HASH_LEN + 1], h2[OCC_DOCKER_BUILD_HASH_LEN + 1];
	char h3[OCC_DOCKER_BUILD_HASH_LEN + 1];
	struct occ_state *st = NULL;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_model_load_buffer(&st, embedded, strlen(embedded), "e", NULL, &err), 0);
	ck_assert_int_eq(occ_docker_build_hash(h1, st, &err), 0);
	ck_assert_int_eq(occ_docker_build_hash(h2, st, &err), 0);
	ck_assert_str_eq(h1, h2);
	occ_state_free(st);
	st = NULL;
	ck_assert_int_eq(occ_model_load_buffer(&st, with_arg, strlen(with_arg), "e", NULL, &err), 0);
	ck_assert_int_eq(occ_docker_build_hash(h3, st, &err), 0);
	ck_assert_str_ne(h1, h3);
	occ_state_free(st);
}
END_TEST

START_TEST(test_refusals)
{
	const char *pulled = "version: 1\nimage: {ref: 'x:1'}\n";
	char h[OCC_DOCKER_BUILD_HASH_LEN + 1];
	struct occ_state *st = NULL;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_model_load_buffer(&st, pulled, strlen(pulled), "p", NULL, &err), 0);
	ck_assert_int_eq(occ_docker_build_hash(h, st, &err), OCC_EINVALID);
	occ_state_free(st);
}
END_TEST

static void setup(void)
{
	tmp = make_tmpdir("test-build-hash");
	put("Dockerfile", "FROM scratch\nCOPY app.txt /\n");
	put(".dockerignore", "*.log\n");
	put("app.txt", "v1\n");
}

static void teardown(void)
{
	remove_tree(tmp);
	free(tmp);
}

int main(void)
{
	Suite *s = suite_create("build-hash");
	TCase *tc = tcase_create("build-hash");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_follows_contents_not_mtimes);
	tcase_add_test(tc, test_ignored_files_do_not_count);
	tcase_add_test(tc, test_args_and_dockerfile);
	tcase_add_test(tc, test_embedded);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
