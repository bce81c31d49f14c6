/*
 * test-bad-input.c - broken state files through the CLI, against a real
 * dockerd: every invalid case of the loader's table (tests/invalid-cases.h)
 * and files the table cannot hold (truncated, binary, UTF-16, larger than
 * the size limit, nested too deep, an alias bomb). `occ apply` and `occ
 * diff` must exit 1 with the message and file:line:col, make no
 * state-changing Docker call (-vv traces every call) and leave the file
 * byte for byte as it was.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/invalid-cases.h"
#include "tests/testutil.h"

static char *tmp;

static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static char *read_bytes(const char *path, size_t *len)
{
	struct occ_error err;
	char *buf = NULL;

	occ_error_clear(&err);
	ck_assert_msg(occ_read_file(path, 64 << 20, &buf, len, &err) == 0, "%s", err.msg);
	return buf;
}

/*
 * Run apply and diff on data (len bytes) saved as state.yaml; both must fail
 * with msg and, when line > 0, "state.yaml:line:col" (col 0: any column).
 */
static void check_rejected(const char *what, const char *data, size_t len, const char *msg,
			   int line, int col)
{
	static const char *const cmds[][2] = { { "apply", "--yes" }, { "diff", "--exit-code" } };
	char *path = occ_xasprintf("%s/state.yaml", tmp);
	char *where = line > 0 && col > 0 ? occ_xasprintf("state.yaml:%d:%d\n", line, col) :
		      line > 0 ? occ_xasprintf("state.yaml:%d:", line) : occ_xstrdup("state.yaml");

	write_bytes(path, data, len);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(cmds); i++) {
		const char *args[] = { cmds[i][0], cmds[i][1], "-vv", "-f", path, NULL };
		struct run_result r;
		size_t after_len;
		char *after;

		run_occ(&r, args);
		ck_assert_msg(r.status == 1, "%s: occ %s exited %d\n%s", what, args[0], r.status,
			      r.err.buf);
		ck_assert_msg(strstr(r.err.buf, msg), "%s: occ %s: no '%s' in\n%s", what, args[0],
			      msg, r.err.buf);
		ck_assert_msg(strstr(r.err.buf, where), "%s: occ %s: no '%s' in\n%s", what, args[0],
			      where, r.err.buf);
		ck_assert_msg(!strstr(r.err.buf, "docker: POST") && !strstr(r.err.buf, "docker: PUT") &&
			      !strstr(r.err.buf, "docker: DELETE"),
			      "%s: occ %s changed something in Docker:\n%s", what, args[0], r.err.buf);
		run_result_release(&r);
		after = read_bytes(path, &after_len);
		ck_assert_msg(after_len == len && memcmp(after, data, len) == 0,
			      "%s: occ %s changed the file", what, args[0]);
		free(after);
	}
	free(where);
	free(path);
}

START_TEST(test_invalid_table)
{
	const struct invalid_case *tc = &invalid_cases[_i];
	char what[32];

	snprintf(what, sizeof(what), "invalid case %d", _i);
	check_rejected(what, tc->yaml, strlen(tc->yaml), tc->msg, tc->line, tc->col);
}
END_TEST

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	occ_strbuf_adds(&sb, head);
	for (size_t i = 0; i < n; i++)
		occ_strbuf_adds(&sb, unit);
	occ_strbuf_adds(&sb, tail);
	return occ_strbuf_detach(&sb);
}

START_TEST(test_truncated)
{
	static const struct { const char *yaml, *msg; int line; } cases[] = {
		{ "version: 1\nname: \"unterminated", "invalid YAML", 2 },
		{ "version: 1\ncontainer: {port: 3000, env: {TZ: UTC", "invalid YAML", 3 },
		{ "version: 1\nusers:\n  - name: alice\n    password_hash: '$6$abc", "invalid YAML", 4 },
		{ "version: 1\nmounts:\n  - [", "invalid YAML", 4 },
		{ "versio", "got 'versio'", 1 },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(cases); i++)
		check_rejected(cases[i].yaml, cases[i].yaml, strlen(cases[i].yaml), cases[i].msg,
			       cases[i].line, 0);
}
END_TEST

START_TEST(test_binary_and_encodings)
{
	static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";
	static const char utf16[] = "\xff\xfev\0e\0r\0s\0i\0o\0n\0:\0 \0001\0\n\0";
	char bytes[1024];

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (char)(i * 7 + 3);
	check_rejected("binary", bytes, sizeof(bytes), "not valid UTF-8 (byte 0x81", 2, 17);
	check_rejected("png", png, sizeof(png) - 1, "not valid UTF-8 (byte 0x89 at offset 0)", 1, 1);
	check_rejected("utf-16", utf16, sizeof(utf16) - 1, "not valid UTF-8 (byte 0xff", 1, 1);
	check_rejected("nul", "version: 1\n\0name: x\n", 20, "control characters", 2, 0);
}
END_TEST

START_TEST(test_limits)
{
	char *huge = repeat("version: 1\n", "# padding padding padding\n", 50000, "");
	char *deep = repeat("version: 1\nx: ", "[", 100000, "");
	char *bomb = occ_xstrdup("version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x]\n");
	char *long_value = repeat("version: 1\nname: ", "a", 10000, "\n");
	char *many = occ_xstrdup("version: 1\ncontainer:\n  env:\n");

	for (int i = 1; i < 10; i++) {
		char *next = occ_xasprintf("%sa%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
					   "*a%d, *a%d]\n", bomb, i, i, i - 1, i - 1, i - 1, i - 1,
					   i - 1, i - 1, i - 1, i - 1, i - 1);

		free(bomb);
		bomb = next;
	}
	for (int i = 0; i < 1100; i++) {
		char *next = occ_xasprintf("%s    K%d: v\n", many, i);

		free(many);
		many = next;
	}
	check_rejected("huge", huge, strlen(huge), "larger than the limit of 1048576 bytes", 0, 0);
	check_rejected("deep", deep, strlen(deep), "nested deeper than 32 levels", 2, 0);
	check_rejected("alias bomb", bomb, strlen(bomb), "nodes with aliases expanded", 0, 0);
	check_rejected("long value", long_value, strlen(long_value), "longer than 4096 bytes", 2, 0);
	check_rejected("many keys", many, strlen(many), "more than 1024", 0, 0);
	free(many);
	free(long_value);
	free(bomb);
	free(deep);
	free(huge);
}
END_TEST

static void setup(void)
{
	tmp = make_tmpdir("badinput");
	set_test_env(tmp, true);
	invalid_cases_env();
}

static void teardown(void)
{
	remove_tree(tmp);
}

/*
 * A hash the file points at but that cannot be read (a password_file not
 * written yet, an unset password_env) is only found when the apply reads it:
 * before its first action, so nothing is created (no volume, no image).
 */
START_TEST(test_password_unreadable)
{
	static const char *const users[] = {
		"users:\n  - {name: bob, password_file: ./secrets/none.hash}\n",
		"users:\n  - {name: carol, password_env: OCC_TEST_UNSET}\n",
	};
	char *path = occ_xasprintf("%s/state.yaml", tmp);
	char *text = occ_xasprintf("version: 1\nname: occ-badpw-%d\n"
				   "image: {ref: 'occ-badpw:none'}\n%s", (int)getpid(), users[_i]);
	const char *args[] = { "apply", "--yes", "-vv", "-f", path, NULL };
	struct run_result r;

	unsetenv("OCC_TEST_UNSET");
	write_bytes(path, text, strlen(text));
	run_occ(&r, args);
	ck_assert_msg(r.status == 1, "occ apply exited %d\n%s", r.status, r.err.buf);
	ck_assert_msg(strstr(r.err.buf, _i == 0 ? "password_file" : "password_env"),
		      "no reason in\n%s", r.err.buf);
	ck_assert_msg(!strstr(r.err.buf, "docker: POST") && !strstr(r.err.buf, "docker: PUT") &&
		      !strstr(r.err.buf, "docker: DELETE"),
		      "occ apply changed something in Docker:\n%s", r.err.buf);
	run_result_release(&r);
	free(text);
	free(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bad-input");
	TCase *tc = tcase_create("cli");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_invalid_table, 0, (int)OCC_ARRAY_SIZE(invalid_cases));
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_binary_and_encodings);
	tcase_add_test(tc, test_limits);
	tcase_add_loop_test(tc, test_password_unreadable, 0, 2);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
