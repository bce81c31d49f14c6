/*
 * test-secrets.c - occ_env_is_sensitive: which KEY=VALUE pairs are masked,
 * by name and by value, with the near misses that must stay in clear.
 */
#include <check.h>
#include <stdlib.h>

#include "model/secrets.h"
#include "model/util.h"

static const struct {
	const char *key, *value;
	bool sensitive;
} cases[] = {
	/* By name. */
	{ "OPENCODE_SERVER_PASSWORD", "x", true },
	{ "db_passwd", "x", true },
	{ "AWS_SECRET_ACCESS_KEY", "x", true },
	{ "GITHUB_TOKEN", "x", true },
	{ "GITHUB_PAT", "x", true },
	{ "pat", "x", true },
	{ "API_KEY", "x", true },
	{ "api_key", "x", true },
	{ "APIKEY", "x", true },
	{ "apiKey", "x", true },
	{ "Anthropic-Api-Key", "x", true },
	{ "AWS_ACCESS_KEY_ID", "x", true },
	{ "MY_SECRET", "x", true },
	{ "mysecret", "x", true },
	{ "GOOGLE_APPLICATION_CREDENTIALS", "x", true },
	{ "SSH_PRIVATE", "x", true },
	{ "SLACK_TOKEN", NULL, true },
	/* By value. */
	{ "DATABASE_URL", "postgres://u:PW@db.example.com:5432/app", true },
	{ "REPO", "https://x-access-token:abc123@github.com/o/r.git", true },
	{ "REPO", "https://ghtoken@github.com/o/r.git", true },
	{ "PROXIES", "http://a:3128, http://user:pw@b:3128", true },
	{ "AUTH", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", true },
	{ "AUTH", "bearer abc", true },
	{ "AUTH", "Basic dXNlcjpwYXNz", true },
	{ "GH_AUTH", "token 0123456789abcdef", true },
	{ "X", "ghp_0123456789abcdefghijABCDEFGHIJ012345", true },
	{ "X", "gho_0123456789abcdefghij", true },
	{ "X", "ghu_0123456789abcdefghij", true },
	{ "X", "ghs_0123456789abcdefghij", true },
	{ "X", "ghr_0123456789abcdefghij", true },
	{ "X", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", true },
	{ "X", "glpat-0123456789abcdefghij", true },
	{ "X", "sk-proj-0123456789abcdefghijklmnop", true },
	{ "X", "sk_live_0123456789abcdefghij", true },
	{ "X", "xoxb-1234567890-abcdefghij", true },
	{ "X", "xoxp-1234567890-abcdefghij", true },
	{ "X", "AKIAIOSFODNN7EXAMPLE", true },
	{ "OPENCODE_ARGS", "--verbose --token=ghp_0123456789abcdefghij", true },
	{ "CERT", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", true },
	{ NULL, "postgres://u:PW@db/app", true },
	/* Near misses: in clear. */
	{ "TZ", "Europe/Paris", false },
	{ "HTTP_PROXY", "http://proxy:3128", false },
	{ "HTTPS_PROXY", "http://proxy.corp.example:3128/", false },
	{ "HOMEPAGE", "https://example.com/a?b=c@d", false },
	{ "EMAIL", "alice@example.com", false },
	{ "KEYBOARD", "fr", false },
	{ "KEYMAP", "us", false },
	{ "HOME", "/home/opencode", false },
	{ "PATH", "/usr/local/bin:/usr/bin", false },
	{ "OPENCODE_LOG_LEVEL", "debug", false },
	{ "PASS", "through", false },
	{ "PATH_PREFIX", "/srv", false },
	{ "MODE", "Basic", false },
	{ "GREETING", "token", false },
	{ "TASK", "task-runner", false },
	{ "PKG", "sk-learn", false },
	{ "ID", "AKIA", false },
	{ "DESC", "mask-0123456789abcdefghij", false },
	{ "LANG", "C.UTF-8", false },
	{ "", "", false },
	{ NULL, NULL, false },
};

START_TEST(test_env_is_sensitive)
{
	ck_assert_msg(occ_env_is_sensitive(cases[_i].key, cases[_i].value) == cases[_i].sensitive,
		      "%s=%s: want %s", cases[_i].key ? cases[_i].key : "(null)",
		      cases[_i].value ? cases[_i].value : "(null)",
		      cases[_i].sensitive ? "masked" : "in clear");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secrets");
	TCase *tc = tcase_create("env");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_env_is_sensitive, 0, OCC_ARRAY_SIZE(cases));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
