/*
 * test-setup.c - `occ setup` without a terminal and without Docker: --yes
 * with flags writes a commented, valid state file holding only a password
 * hash; bad answers are usage errors that write nothing; a re-run edits the
 * file in place (comments kept, FILE.bak written). Always --no-apply; Docker
 * is pointed at a socket that does not exist. The wizard itself is driven
 * through a pseudo-terminal by tests/setup-pty.py.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/password.h"
#include "tests/testutil.h"

#define PASSWORD "correct horse battery"

static char *tmp;

static void expect(int status, const char *err_has, const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == status, "occ %s: exit %d, want %d\n%s%s", args[0], r.status,
		      status, r.out.buf, r.err.buf);
	if (err_has)
		ck_assert_msg(strstr(r.err.buf, err_has), "stderr lacks '%s':\n%s", err_has, r.err.buf);
	run_result_release(&r);
}

/* occ setup --yes with the password on standard input (a pipe, as a script would). */
static int setup_with_password(const char *state, const char *extra)
{
	char *cmd = occ_xasprintf("printf '%%s\\n' '" PASSWORD "' | %s setup --yes --no-apply "
				  "--user alice --password-stdin -f %s %s >/dev/null 2>&1",
				  OCC_BIN, state, extra);
	int rc = system(cmd);

	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static void validate(const char *state)
{
	const char *args[] = { "validate", "-f", state, NULL };

	expect(0, NULL, args);
}

START_TEST(test_no_terminal)
{
	char *state = occ_xasprintf("%s/none.yaml", tmp);
	const char *args[] = { "setup", "-f", state, NULL };

	expect(64, "--yes", args);
	ck_assert_int_ne(access(state, F_OK), 0);
	free(state);
}
END_TEST

/* Answers that the loader would refuse are refused before anything is written. */
static const char *const bad_answers[][4] = {
	{ "--port", "0", "not a port", NULL },
	{ "--port", "http", "not a port", NULL },
	{ "--user", "root", "root", NULL },
	{ "--workspace", "/nonexistent/occ-test", "workspace", NULL },
	{ "--name", "-bad", "names start", NULL },
	{ "--network", "", "needs a user with a password", NULL },
	{ "--image", "x:1", "do not go together", "--build" },
};

START_TEST(test_bad_answers)
{
	const char *const *b = bad_answers[_i];
	char *state = occ_xasprintf("%s/bad-%d.yaml", tmp, _i);
	const char *args[] = { "setup", "--yes", "--no-apply", "-f", state, b[0],
			       b[1][0] ? b[1] : NULL, b[3], NULL };

	expect(64, b[2], args);
	ck_assert_int_ne(access(state, F_OK), 0);
	free(state);
}
END_TEST

START_TEST(test_yes_writes_hash_and_comments)
{
	char *state = occ_xasprintf("%s/new.yaml", tmp), *ws = occ_xasprintf("%s/ws", tmp);
	char *extra = occ_xasprintf("--port 23250 --workspace %s --image occ-setup-unit:1", ws);
	char *text, *hash, *end;

	ck_assert_int_eq(mkdir(ws, 0700), 0);
	ck_assert_int_eq(setup_with_password(state, extra), 0);
	validate(state);
	text = read_text(state);
	ck_assert_ptr_null(strstr(text, PASSWORD));
	ck_assert_ptr_nonnull(strstr(text, "port: 23250"));
	ck_assert_ptr_nonnull(strstr(text, "ref: \"occ-setup-unit:1\""));
	ck_assert_ptr_null(strstr(text, "build:"));
	ck_assert_ptr_nonnull(strstr(text, "target: \"/home/alice/workspace\""));
	ck_assert_ptr_nonnull(strstr(text, "# Who can log in"));
	hash = strstr(text, "password_hash: \"");
	ck_assert_ptr_nonnull(hash);
	hash += strlen("password_hash: \"");
	end = strchr(hash, '"');
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	ck_assert(occ_password_verify(PASSWORD, hash));
	free(text);
	free(extra);
	free(ws);
	free(state);
}
END_TEST

/* A re-run edits in place: comments stay, one user, FILE.bak written. */
START_TEST(test_rerun_edits_in_place)
{
	char *state = occ_xasprintf("%s/rerun.yaml", tmp), *bak = occ_xasprintf("%s.bak", state);
	const char *again[] = { "setup", "--yes", "--no-apply", "--port", "23251", "--build",
				"--network", "-f", state, NULL };
	char *text;

	ck_assert_int_eq(setup_with_password(state, "--image occ-setup-unit:1"), 0);
	{
		FILE *f = fopen(state, "a");

		ck_assert_ptr_nonnull(f);
		fputs("# my own note\n", f);
		fclose(f);
	}
	expect(0, "updated", again);
	validate(state);
	text = read_text(state);
	ck_assert_ptr_nonnull(strstr(text, "# my own note\n"));
	ck_assert_ptr_nonnull(strstr(text, "port: 23251"));
	ck_assert_ptr_nonnull(strstr(text, "bind: \"0.0.0.0\""));
	ck_assert_ptr_nonnull(strstr(text, "context: embedded"));
	ck_assert_int_eq(count(text, "- name:"), 1);
	ck_assert_int_eq(access(bak, F_OK), 0);
	free(text);
	free(bak);
	free(state);
}
END_TEST

static void setup(void)
{
	tmp = make_tmpdir("test-setup");
	set_test_env(tmp, false);
}

static void teardown(void)
{
	remove_tree(tmp);
	free(tmp);
}

int main(void)
{
	Suite *s = suite_create("setup");
	TCase *tc = tcase_create("setup");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_terminal);
	tcase_add_loop_test(tc, test_bad_answers, 0, (int)(sizeof(bad_answers) / sizeof(bad_answers[0])));
	tcase_add_test(tc, test_yes_writes_hash_and_comments);
	tcase_add_test(tc, test_rerun_edits_in_place);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
