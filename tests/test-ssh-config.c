/*
 * test-ssh-config.c - the ~/.ssh/config subset of drivers/ssh (label `unit`):
 * Host patterns (globs, negation, several per line), first value wins,
 * "Keyword=value", quotes, "~" and "%h", Match blocks skipped, bad input.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/ssh/ssh-int.h"

static const char config[] =
	"# a comment\n"
	"User early\n"
	"\n"
	"Host lab lab2\n"
	"  HostName 10.0.0.5\n"
	"  Port 2222\n"
	"  IdentityFile ~/.ssh/lab_ed25519\n"
	"  IdentityFile ~/.ssh/second\n"
	"\n"
	"Host *.example.com !bad.example.com\n"
	"  HostName=%h.internal\n"
	"  User = deploy\n"
	"  ProxyJump jump.example.com\n"
	"\n"
	"Match host lab\n"
	"  User never\n"
	"\n"
	"Host \"quoted host\" q\n"
	"  HostName \"10.9.9.9\"\n"
	"  Port 22\n"
	"  ProxyJump none\n"
	"\n"
	"Host *\n"
	"  User fallback\n"
	"  Port 2200\n"
	"  HostName %%literal\n";

struct expect {
	const char *alias;
	const char *hostname, *user, *identity, *proxy_jump;
	unsigned port;
};

static const struct expect cases[] = {
	{ "lab", "10.0.0.5", "early", "/home/t/.ssh/lab_ed25519", NULL, 2222 },
	{ "lab2", "10.0.0.5", "early", "/home/t/.ssh/lab_ed25519", NULL, 2222 },
	{ "web.example.com", "web.example.com.internal", "early", NULL, "jump.example.com", 2200 },
	{ "bad.example.com", "%literal", "early", NULL, NULL, 2200 },
	{ "q", "10.9.9.9", "early", NULL, NULL, 22 },
	{ "other", "%literal", "early", NULL, NULL, 2200 },
};

static void ck_str(const char *got, const char *want, const char *what, const char *alias)
{
	if (!want)
		ck_assert_msg(got == NULL, "%s: %s is '%s', expected unset", alias, what, got);
	else
		ck_assert_msg(got && strcmp(got, want) == 0, "%s: %s is '%s', expected '%s'",
			      alias, what, got ? got : "(unset)", want);
}

START_TEST(test_lookup)
{
	const struct expect *e = &cases[_i];
	struct occ_ssh_config c;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ret = occ_ssh__config_parse(&c, config, strlen(config), e->alias, "config", "/home/t", &err);
	ck_assert_msg(ret == 0, "%s", err.msg);
	ck_str(c.hostname, e->hostname, "HostName", e->alias);
	ck_str(c.user, e->user, "User", e->alias);
	ck_str(c.identity, e->identity, "IdentityFile", e->alias);
	ck_str(c.proxy_jump, e->proxy_jump, "ProxyJump", e->alias);
	ck_assert_uint_eq(c.port, e->port);
	occ_ssh__config_release(&c);
}
END_TEST

START_TEST(test_patterns)
{
	const char *a[] = { "*.example.com", "!bad.example.com" };
	const char *b[] = { "!x*" };
	const char *c[] = { "h?st" };

	ck_assert(occ_ssh__host_matches(a, 2, "ok.example.com"));
	ck_assert(!occ_ssh__host_matches(a, 2, "bad.example.com"));
	ck_assert(!occ_ssh__host_matches(a, 2, "example.org"));
	/* A block of only negations matches nothing, as in ssh(1). */
	ck_assert(!occ_ssh__host_matches(b, 1, "y"));
	ck_assert(occ_ssh__host_matches(c, 1, "host"));
	ck_assert(!occ_ssh__host_matches(c, 1, "hoost"));
}
END_TEST

struct bad {
	const char *text;
	int line;
};

static const struct bad bads[] = {
	{ "Host lab\n  Port 0\n", 2 },
	{ "Host lab\n  Port 70000\n", 2 },
	{ "Host lab\n  Port twenty\n", 2 },
	{ "Host lab\nHostName \"open\n", 2 },
};

START_TEST(test_bad)
{
	struct occ_ssh_config c;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_ssh__config_parse(&c, bads[_i].text, strlen(bads[_i].text), "lab",
					       "cfg", "/h", &err), OCC_EINVALID);
	ck_assert_int_eq(err.line, bads[_i].line);
	ck_assert_str_eq(err.file, "cfg");
}
END_TEST

START_TEST(test_empty_and_crlf)
{
	static const char crlf[] = "Host lab\r\n  User crlf\r\n";
	struct occ_ssh_config c;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_ssh__config_parse(&c, "", 0, "lab", "cfg", "/h", &err), 0);
	ck_assert_ptr_null(c.hostname);
	ck_assert_uint_eq(c.port, 0);
	occ_ssh__config_release(&c);
	ck_assert_int_eq(occ_ssh__config_parse(&c, crlf, strlen(crlf), "lab", "cfg", "/h", &err), 0);
	ck_assert_str_eq(c.user, "crlf");
	occ_ssh__config_release(&c);
}
END_TEST

struct jump_case {
	const char *spec;
	int ret;
	const char *user, *host;
	unsigned port;
};

static const struct jump_case jumps[] = {
	{ "bastion", 0, NULL, "bastion", 0 },
	{ "admin@bastion:2222", 0, "admin", "bastion", 2222 },
	{ "ssh://me@10.0.0.1:22", 0, "me", "10.0.0.1", 22 },
	{ "[fe80::1]:2200", 0, NULL, "fe80::1", 2200 },
	{ "u@[::1]", 0, "u", "::1", 0 },
	{ "a,b", OCC_EPERM, NULL, NULL, 0 },
	{ "host:0", OCC_EINVALID, NULL, NULL, 0 },
	{ "host:x", OCC_EINVALID, NULL, NULL, 0 },
	{ "[::1", OCC_EINVALID, NULL, NULL, 0 },
	{ "user@", OCC_EINVALID, NULL, NULL, 0 },
};

START_TEST(test_jump_spec)
{
	const struct jump_case *c = &jumps[_i];
	struct occ_ssh_jump_spec j;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_ssh__parse_jump(&j, c->spec, &err), c->ret);
	if (c->ret) {
		ck_assert_msg(strstr(err.msg, c->spec), "%s", err.msg);
		return;
	}
	ck_str(j.user, c->user, "user", c->spec);
	ck_str(j.host, c->host, "host", c->spec);
	ck_assert_uint_eq(j.port, c->port);
	occ_ssh__jump_spec_release(&j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ssh-config");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_lookup, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_patterns);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, test_empty_and_crlf);
	tcase_add_loop_test(tc, test_jump_spec, 0, (int)(sizeof(jumps) / sizeof(jumps[0])));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
