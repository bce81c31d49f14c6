/*
 * test-integration-secrets.c - secret env values never printed, against a
 * real dockerd: a state whose secrets hide in innocent names
 * (DATABASE_URL=postgres://u:PW@..., AUTH=Bearer ...) and secret-looking
 * names (GITHUB_PAT), and build args, go through diff, diff --json, apply -vv
 * (its API trace included), apply -v --json, status, watch --once (text and
 * JSON), config show and env list; no secret
 * reaches stdout, stderr, the journal or the watcher's state file, while a
 * changed secret still shows as a change (two different hashes).
 *
 * Builds its own busybox image through image.build, uses a project name unique
 * to the run and removes everything it created (by label) at the end.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testutil.h"

static char *tmp, *state, *project, *ctx;
static int port;

/* Every secret value the test writes carries one of these words. */
static const char *const secret_words[] = {
	"PWsecret", "patsecret", "bearersecret", "ghsecret", "npmsecret", "argsecret",
};

/* A failure shows the line around the secret (whole outputs can be too
 * long for Check's message). */
static void assert_clean(const char *what, const char *text)
{
	for (size_t i = 0; i < OCC_ARRAY_SIZE(secret_words); i++) {
		const char *at = strstr(text, secret_words[i]), *from = at;

		while (from && from > text && from[-1] != '\n' && at - from < 300)
			from--;
		ck_assert_msg(!at, "%s shows '%s...': %.600s", what, secret_words[i], from);
	}
}

/* Run occ with args + "-f state"; check the exit status and that neither
 * stream shows a secret. r is left for the caller to inspect and release. */
static void occ_run(struct run_result *r, int status, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;

	for (; args[n]; n++)
		argv[n] = args[n];
	argv[n++] = "-f";
	argv[n++] = state;
	argv[n] = NULL;
	run_occ(r, argv);
	ck_assert_msg(r->status == status, "occ %s %s: exit %d, want %d\n%s%s", args[0],
		      args[1] ? args[1] : "", r->status, status, r->out.buf, r->err.buf);
	assert_clean(args[0], r->out.buf);
	assert_clean(args[0], r->err.buf);
}

static void write_state(int n)
{
	char *text = occ_xasprintf(
		"version: 1\nname: %s\nimage: {ref: 'occ-sectest:1', build: {context: %s, args: "
		"{NPM_TOKEN: npmsecret, REGISTRY: 'https://u:argsecret@npm.example.com/'}}}\n"
		"container:\n  port: %d\n  env:\n"
		"    DATABASE_URL: postgres://app:PWsecret%d@db.example.com:5432/app\n"
		"    GITHUB_PAT: patsecret%d\n"
		"    AUTH: Bearer bearersecret%d\n"
		"    GH: ghp_ghsecret%dabcdefghijklmnop\n"
		"    KEYBOARD: fr\n",
		project, ctx, port, n, n, n, n);

	write_text(state, text);
	free(text);
}

START_TEST(test_secrets_never_printed)
{
	const char *diff[] = { "diff", NULL };
	const char *diff_json[] = { "diff", "--json", NULL };
	const char *apply_v[] = { "-vv", "apply", NULL };
	const char *apply_json[] = { "-v", "apply", "--json", NULL };
	const char *status[] = { "status", NULL };
	const char *status_json[] = { "status", "--json", NULL };
	const char *watch[] = { "watch", "--once", NULL };
	const char *watch_json[] = { "watch", "--once", "--json", NULL };
	const char *show[] = { "config", "show", NULL };
	const char *show_json[] = { "config", "show", "--json", NULL };
	const char *env[] = { "config", "env", "list", NULL };
	const char *get[] = { "config", "get", "container.env.DATABASE_URL", NULL };
	char *journal, *watch_state, *text;
	struct run_result r;

	write_state(1);
	occ_run(&r, 0, diff);
	ck_assert_msg(strstr(r.out.buf, "+ env.DATABASE_URL = (sensitive, sha256:") &&
		      strstr(r.out.buf, "+ env.AUTH = (sensitive, sha256:") &&
		      strstr(r.out.buf, "+ env.KEYBOARD = \"fr\""), "%s", r.out.buf);
	run_result_release(&r);
	occ_run(&r, 0, diff_json);
	ck_assert_msg(strstr(r.out.buf, "\"field\":\"env.GH\",\"old\":null,\"new\":\"(sensitive, sha256:"),
		      "%s", r.out.buf);
	run_result_release(&r);
	occ_run(&r, 0, apply_v);
	ck_assert_msg(strstr(r.err.buf, "buildargs=(not shown)"), "%s", r.err.buf);
	run_result_release(&r);
	occ_run(&r, 0, status);
	run_result_release(&r);
	occ_run(&r, 0, status_json);
	run_result_release(&r);

	/* A changed secret: still a change, shown as two hashes. */
	write_state(2);
	occ_run(&r, 0, diff);
	ck_assert_msg(strstr(r.out.buf, "~ env.DATABASE_URL: (sensitive, sha256:") &&
		      strstr(r.out.buf, ") -> (sensitive, sha256:"), "%s", r.out.buf);
	run_result_release(&r);
	occ_run(&r, 0, status);
	ck_assert_msg(strstr(r.out.buf, "changed (forces recreate)"), "%s", r.out.buf);
	run_result_release(&r);
	occ_run(&r, 0, apply_json);
	ck_assert_msg(strstr(r.out.buf, "\"ok\":true"), "%s", r.out.buf);
	run_result_release(&r);

	write_state(3);
	occ_run(&r, 0, watch);
	ck_assert_msg(strstr(r.err.buf, "changed (forces recreate)"), "%s", r.err.buf);
	run_result_release(&r);
	write_state(4);
	occ_run(&r, 0, watch_json);
	run_result_release(&r);

	occ_run(&r, 0, show);
	run_result_release(&r);
	occ_run(&r, 0, show_json);
	run_result_release(&r);
	occ_run(&r, 0, env);
	ck_assert_msg(strstr(r.out.buf, "KEYBOARD=fr\n"), "%s", r.out.buf);
	run_result_release(&r);
	occ_run(&r, 0, get);
	ck_assert_str_eq(r.out.buf, "(sensitive)\n");
	run_result_release(&r);

	journal = occ_xasprintf("%s/data/opencode-cloud/journal/%s.log", tmp, project);
	text = read_text(journal);
	ck_assert_msg(strstr(text, "create container"), "%s", text);
	assert_clean("the journal", text);
	free(text);
	watch_state = occ_xasprintf("%s/data/opencode-cloud/watch/%s.json", tmp, project);
	text = read_text_or_empty(watch_state);
	assert_clean("the watcher's state file", text);
	free(text);
	free(journal);
	free(watch_state);
}
END_TEST

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("itest-secrets");
	project = occ_xasprintf("occ-its-%ld", (long)getpid());
	port = 21000 + (int)((getpid() + 7919) % 20000);
	state = occ_xasprintf("%s/state.yaml", tmp);
	ctx = occ_xasprintf("%s/ctx", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    OCC_SOURCE_DIR, ctx, ctx);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	set_test_env(tmp, true);
}

static void teardown(void)
{
	char *cmd = occ_xasprintf(
		"p=%s; ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$vols\" ] || docker volume rm $vols >/dev/null; "
		"docker rmi occ-sectest:1 >/dev/null 2>&1; true", project);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("integration-secrets");
	TCase *tc = tcase_create("secrets");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_secrets_never_printed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
