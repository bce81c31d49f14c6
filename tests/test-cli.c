/*
 * test-cli.c - the CLI frame: dispatch, global options, help, exit codes and
 * error output, by running the built occ binary. Docker is pointed at a
 * socket that does not exist, so these tests never touch a daemon (and check
 * the "daemon unreachable" path on the way).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/util.h"
#include "tests/testutil.h"

static char tmpdir[256];

#define EX(p) OCC_SOURCE_DIR "/examples/" p

struct cli_case {
	const char *args[8];
	int status;
	const char *out_has;   /* substring of stdout, or NULL */
	const char *err_has;   /* substring of stderr, or NULL */
	bool out_empty;
};

static const struct cli_case cases[] = {
	{ { "--version" }, 0, "occ " OCC_VERSION "\n", NULL, false },
	{ { "version", "--json" }, 0, "{\"version\":\"" OCC_VERSION "\"}", NULL, false },
	{ { "--help" }, 0, "usage: occ [global options] <command>", NULL, false },
	{ { "help" }, 0, "validate", NULL, false },
	{ { "help", "diff" }, 0, "--exit-code", NULL, false },
	{ { "diff", "--help" }, 0, "usage: occ diff", NULL, false },
	{ { "help", "nope" }, 64, NULL, "unknown command 'nope'", true },
	{ { NULL }, 64, NULL, "usage: occ", true },
	{ { "bogus" }, 64, NULL, "unknown command 'bogus'", true },
	{ { "validate", "-f", EX("minimal.yaml") }, 0, "ok\n", NULL, false },
	{ { "validate", "--file=" EX("local.yaml") }, 0, "ok\n", NULL, false },
	{ { "-f", EX("multi-host.yaml"), "validate" }, 0, "ok\n", NULL, false },
	{ { "validate", "--json", "-f", EX("minimal.yaml") }, 0, "{\"ok\":true,\"file\":", NULL, false },
	{ { "validate", "-f", "/nonexistent/state.yaml" }, 1, NULL, "check the path given with --file", true },
	{ { "validate", "extra", "-f", EX("minimal.yaml") }, 64, NULL, "takes no arguments", true },
	{ { "validate", "-f" }, 64, NULL, "option '-f' needs a value", true },
	{ { "--lock-timeout", "soon", "apply" }, 64, NULL, "invalid --lock-timeout 'soon'", true },
	{ { "diff", "--bogus", "-f", EX("minimal.yaml") }, 64, NULL, "unknown option '--bogus'", true },
	{ { "diff", "-f", EX("minimal.yaml") }, 1, NULL, "cannot connect to the Docker daemon", false },
	{ { "diff", "--exit-code", "-f", EX("minimal.yaml") }, 1, NULL, "is dockerd running?", false },
	{ { "diff", "--json", "-f", EX("minimal.yaml") }, 1, "\"kind\":\"daemon\"", NULL, false },
	{ { "status", "-f", EX("minimal.yaml") }, 1, NULL, "cannot connect to the Docker daemon", false },
	{ { "diff", "--host", "nope", "-f", EX("minimal.yaml") }, 1, NULL, "unknown host 'nope'", false },
	{ { "diff", "--host", "nope", "-f", EX("multi-host.yaml") }, 1, NULL, "hosts in ", false },
	{ { "logs", "--tail", "abc", "--file", EX("minimal.yaml") }, 64, NULL, "invalid --tail 'abc'", true },
	{ { "completion", "bash" }, 0, "complete -F _occ occ opencode-cloud", NULL, false },
	{ { "completion", "zsh" }, 0, "#compdef occ", NULL, false },
	{ { "completion", "fish" }, 0, "complete -c occ", NULL, false },
	{ { "completion", "tcsh" }, 64, NULL, "unknown shell 'tcsh'", true },
	{ { "man" }, 0, ".TH OCC 1", NULL, false },
};

START_TEST(test_cli_case)
{
	const struct cli_case *c = &cases[_i];
	struct run_result r;

	run_occ(&r, c->args);
	ck_assert_msg(r.status == c->status, "case %d (%s): exit %d, want %d\nstdout: %s\nstderr: %s",
		      _i, c->args[0] ? c->args[0] : "(none)", r.status, c->status, r.out.buf, r.err.buf);
	if (c->out_has)
		ck_assert_msg(strstr(r.out.buf, c->out_has), "case %d: stdout lacks '%s':\n%s", _i,
			      c->out_has, r.out.buf);
	if (c->err_has)
		ck_assert_msg(strstr(r.err.buf, c->err_has), "case %d: stderr lacks '%s':\n%s", _i,
			      c->err_has, r.err.buf);
	if (c->out_empty)
		ck_assert_msg(r.out.len == 0, "case %d: stdout should be empty:\n%s", _i, r.out.buf);
	/* Not a terminal and NO_COLOR set: never an escape sequence. */
	ck_assert_ptr_null(strchr(r.out.buf, '\033'));
	ck_assert_ptr_null(strchr(r.err.buf, '\033'));
	run_result_release(&r);
}
END_TEST

/* A bad file: exit 1, the error names file:line:col; --json puts it on stdout. */
START_TEST(test_validate_error_position)
{
	char *path = occ_xasprintf("%s/bad.yaml", tmpdir);
	const char *args[] = { "validate", "-f", path, NULL };
	const char *jargs[] = { "validate", "--json", "-f", path, NULL };
	FILE *fp = fopen(path, "w");
	struct run_result r;
	char *where;

	ck_assert_ptr_nonnull(fp);
	fputs("version: 1\ncontainer:\n  prot: 3000\n", fp);
	fclose(fp);
	run_occ(&r, args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_uint_eq(r.out.len, 0);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "error: unknown key 'prot' in container, did you mean 'port'?"));
	where = occ_xasprintf("  at %s:3:3\n", path);
	ck_assert_msg(strstr(r.err.buf, where), "no position in:\n%s", r.err.buf);
	free(where);
	run_result_release(&r);

	run_occ(&r, jargs);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "{\"ok\":false,\"error\":{\"kind\":\"invalid\""));
	ck_assert_ptr_nonnull(strstr(r.out.buf, "\"line\":3,\"col\":3"));
	run_result_release(&r);
	free(path);
}
END_TEST

/* apply with no state file at the default path creates one with the defaults. */
START_TEST(test_apply_creates_default_state)
{
	const char *args[] = { "apply", NULL };
	char *path = occ_xasprintf("%s/config/opencode-cloud/state.yaml", tmpdir);
	const char *vargs[] = { "validate", "-f", path, NULL };
	struct run_result r;
	struct stat sb;

	unlink(path);
	run_occ(&r, args);
	/* Docker is unreachable here, so apply fails after creating the file. */
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "created "), "stderr:\n%s", r.err.buf);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	run_result_release(&r);
	run_occ(&r, vargs);
	ck_assert_int_eq(r.status, 0);
	run_result_release(&r);
	free(path);
}
END_TEST

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/occ-test-cli-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	set_test_env(tmpdir, false);
}

static void teardown(void)
{
	char *cmd = occ_xasprintf("rm -rf '%s'", tmpdir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	free(cmd);
}

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("frame");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_cli_case, 0, (int)OCC_ARRAY_SIZE(cases));
	tcase_add_test(tc, test_validate_error_position);
	tcase_add_test(tc, test_apply_creates_default_state);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
