/*
 * fuzz-authd.c - libFuzzer target for occ-authd's parsers
 * (packages/image/occ-authd.c): request heads, Basic credentials, base64 and
 * the passwd/shadow readers. The daemon is one file with static functions
 * (the image compiles it alone), so it is included here, its main renamed.
 *
 * The input is used three ways: as a request head, as a passwd file and as a
 * shadow file. Findings (abort):
 *  - a head accepted without a request line, or credentials decoded into a
 *    user name that could not be an account's (then X-Occ-User could carry
 *    anything) or a password crypt cannot take;
 *  - base64 that does not decode back to what EVP_EncodeBlock encoded;
 *  - accounts not sorted, a name twice, or a name that is not name_ok.
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz-authd -max_total_time=60 tests/fuzz/corpus-authd
 */
#define main occ_authd_main
int occ_authd_main(int argc, char **argv);
#include "packages/image/occ-authd.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_head(const char *buf, size_t size)
{
	struct request r = { 0 };
	size_t head = head_length(buf, 0, size), tok_len = 0;
	char user_log[OCC_NAME_MAX + 1];
	struct job j = { 0 };
	const char *tok;

	if (!head || parse_head(&r, buf, head) < 0)
		return;
	if (memchr(buf, ' ', head) == NULL)
		abort();
	tok = r.auth ? basic_token(r.auth, r.auth_len, &tok_len) : NULL;
	if (!tok || !decode_basic(&j, user_log, tok, tok_len))
		return;
	if (!name_ok(j.user, strlen(j.user)) || strlen(j.password) >= sizeof(j.password) ||
	    strlen(user_log) > OCC_NAME_MAX)
		abort();
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
	unsigned char enc[4 * (OCC_HEAD_MAX / 3) + 8], dec[OCC_HEAD_MAX];
	ssize_t n;

	if (size > OCC_HEAD_MAX / 2)
		size = OCC_HEAD_MAX / 2;
	if (size == 0)
		return;
	EVP_EncodeBlock(enc, data, (int)size);
	n = b64_decode(dec, sizeof(dec), (const char *)enc, strlen((const char *)enc));
	if (n != (ssize_t)size || memcmp(dec, data, size) != 0)
		abort();
}

static void check_sorted(const struct account *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(v[i].name, strlen(v[i].name)))
			abort();
		if (i && strcmp(v[i - 1].name, v[i].name) >= 0)
			abort();
		if (v[i].hash && !hash_usable(v[i].hash))
			abort();
	}
}

static void fuzz_accounts(const char *buf, size_t size)
{
	struct options o = { .uid_min = 1000, .uid_max = 59999 };
	struct accounts a = { 0 };
	struct account *sh = NULL;
	size_t nsh = 0;

	a.passwd_text = malloc(size + 1);
	a.shadow_text = malloc(size + 1);
	if (!a.passwd_text || !a.shadow_text)
		goto out;
	memcpy(a.passwd_text, buf, size);
	a.passwd_text[size] = '\0';
	memcpy(a.shadow_text, buf, size);
	a.shadow_text[size] = '\0';
	if (parse_shadow(a.shadow_text, &sh, &nsh) < 0 || parse_passwd(&a, &o, sh, nsh) < 0)
		goto out;
	check_sorted(a.v, a.n);
out:
	free(sh);
	accounts_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	if (size > OCC_HEAD_MAX)
		size = OCC_HEAD_MAX;
	fuzz_head(buf, size);
	fuzz_base64(data, size);
	fuzz_accounts(buf, size);
	return 0;
}
