/*
 * test-hash.c - the canonical spec encoding and its SHA-256.
 *
 * Formatting never changes the hash (key order, flow vs block style, quoting,
 * comments, list order); every field the container is created from does; and
 * fields reconciled in place (users, health, run state) do not, except where
 * they flip the login mode (version 2: env.OCC_LOGIN). The reference hashes
 * pin versions 1 and 2: if one changes, the encoding changed and
 * OCC_HASH_VERSION must be bumped (with the old encoder kept), or every
 * existing container would be recreated by an upgrade.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"

/* occ_spec_hash of REF, hash versions 1, 2 and 3. Never edit to make the test pass. */
#define REF_HASH "f5e660a51311b9b05f6c720babd2a654d540dcf15624fe9329f631659dd7a446"
#define REF_HASH_V2 "b650d34269c3dbba205f391f595176da102407db8a3e862c630f4b15f94245c1"
#define REF_HASH_V3 "dbb7b9827fb0f45f2ea9d00e357e69cd10ce3ae9b378b6c464d0391888db942b"

static void hash_of_version(const char *yaml, int version, char out[OCC_HASH_HEX_LEN + 1])
{
	struct occ_state *st = NULL, *eff;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_msg(occ_model_load_buffer(&st, yaml, strlen(yaml), "t.yaml", "/srv", &err) == 0,
		      "load: %s (%d:%d)\n%s", err.msg, err.line, err.col, yaml);
	eff = occ_state_for_host(st, NULL);
	ck_assert_int_eq(occ_spec_hash(eff, version, out), 0);
	occ_state_free(eff);
	occ_state_free(st);
}

static void hash_of(const char *yaml, char out[OCC_HASH_HEX_LEN + 1])
{
	hash_of_version(yaml, OCC_HASH_VERSION, out);
}

#define REF \
	"version: 1\n" \
	"name: web\n" \
	"image: {ref: 'img:1'}\n" \
	"container:\n" \
	"  port: 3000\n" \
	"  bind: 127.0.0.1\n" \
	"  env: {A: '1', B: two}\n" \
	"mounts:\n" \
	"  - {source: /srv/a, target: /a}\n" \
	"  - {source: /srv/b, target: /b, readonly: true}\n" \
	"volumes:\n" \
	"  - {name: data, target: /data}\n"

/* Same spec, written differently. */
static const char *const same[] = {
	"# a comment\nversion: 1\nname: web\nimage:\n  ref: \"img:1\"\ncontainer:\n"
	"  env:\n    B: \"two\"\n    A: \"1\"   # order differs\n  bind: '127.0.0.1'\n  port: 3000\n"
	"volumes: [{target: /data, name: data}]\n"
	"mounts:\n- target: /b\n  source: /srv/b\n  readonly: true\n- source: /srv/a\n  target: /a\n",
	/* a disabled account leaves login open (loopback, no enabled users) */
	REF "users: [{name: alice, enabled: false, password_hash: '$6$abcdefgh$" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}]\n",
	REF "watch: {resync: 1m, self_heal: false}\nservice: {install: true}\n",
	"version: 1\nname: web\nimage: {ref: 'img:1', pull: always}\n"
	"container: {port: 3000, bind: 127.0.0.1, env: {A: '1', B: two}, running: false,\n"
	"  health: {path: /healthz, timeout: 5s}}\n"
	"mounts: [{source: ./b, target: /b, readonly: true}, {source: a, target: /a}]\n"
	"volumes: [{name: data, target: /data}]\n",
};

/* One field each, different from REF. */
static const char *const differ[] = {
	/* limits and the names the front serves are part of what Docker is given */
	REF "resources: {pids: 512}\n",
	REF "resources: {memory: 1g}\n",
	REF "resources: {cpus: 1.5}\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\n"
	"container: {port: 3000, env: {A: '1', B: two}, server_names: [code.example.com]}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	/* an enabled account turns the login mode from open to required */
	REF "users: [{name: alice, password_hash: '$6$abcdefgh$" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}]\n",
	"version: 1\nname: web2\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:2'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3001, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, bind: '::1', env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, container_port: 8080, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '2', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two, C: ''}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1'}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, restart: always, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/x, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a2}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data2, target: /data}]\n",
	"version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	"mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"
	"volumes: [{name: data, target: /var/data}]\n",
	/* no volumes at all (parenthesised: one string on purpose) */
	("version: 1\nname: web\nimage: {ref: 'img:1'}\ncontainer: {port: 3000, env: {A: '1', B: two}}\n"
	 "mounts: [{source: /srv/a, target: /a}, {source: /srv/b, target: /b, readonly: true}]\n"),
};

START_TEST(test_same_hash)
{
	char a[OCC_HASH_HEX_LEN + 1], b[OCC_HASH_HEX_LEN + 1];

	hash_of(REF, a);
	hash_of(same[_i], b);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_different_hash)
{
	char a[OCC_HASH_HEX_LEN + 1], b[OCC_HASH_HEX_LEN + 1];

	hash_of(REF, a);
	hash_of(differ[_i], b);
	ck_assert_msg(strcmp(a, b) != 0, "variant %d hashes like the reference", _i);
}
END_TEST

START_TEST(test_reference_hash_is_stable)
{
	char a[OCC_HASH_HEX_LEN + 1];
	struct occ_state *st = occ_state_new_default();

	hash_of_version(REF, 1, a);
	ck_assert_str_eq(a, REF_HASH);
	hash_of_version(REF, 2, a);
	ck_assert_str_eq(a, REF_HASH_V2);
	hash_of_version(REF, 3, a);
	ck_assert_str_eq(a, REF_HASH_V3);
	ck_assert(occ_spec_hash_supported(1));
	ck_assert(occ_spec_hash_supported(2));
	ck_assert(occ_spec_hash_supported(3));
	ck_assert(!occ_spec_hash_supported(4));
	ck_assert_int_eq(occ_spec_hash(st, 4, a), OCC_EINVALID);
	occ_state_free(st);
}
END_TEST

START_TEST(test_sha256_known_vector)
{
	char out[OCC_HASH_HEX_LEN + 1];

	occ_sha256_hex("abc", 3, out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("spec");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_same_hash, 0, (int)OCC_ARRAY_SIZE(same));
	tcase_add_loop_test(tc, test_different_hash, 0, (int)OCC_ARRAY_SIZE(differ));
	tcase_add_test(tc, test_reference_hash_is_stable);
	tcase_add_test(tc, test_sha256_known_vector);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
