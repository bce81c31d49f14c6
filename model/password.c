/*
 * password.c - see password.h.
 *
 * Salts and generated passwords come from getrandom(2)/getentropy(3); hashing
 * is libcrypt's (libxcrypt on Debian: yescrypt, "$y$"). crypt_gensalt_ra
 * picks the cost libcrypt recommends.
 */
#include "model/password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/util.h"

void occ_secure_zero(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

static int random_bytes(void *buf, size_t n, struct occ_error *err)
{
	unsigned char *p = buf;

	/* getentropy() returns at most 256 bytes a call. */
	while (n > 0) {
		size_t k = n > 256 ? 256 : n;

		if (getentropy(p, k) < 0)
			return occ_error_errno(err, OCC_EGENERIC, errno, "cannot get random bytes");
		p += k;
		n -= k;
	}
	return 0;
}

static char *gensalt(struct occ_error *err)
{
	static const char *const prefixes[] = { "$y$", "$6$" };
	unsigned char rnd[32];
	char *salt = NULL;

	if (random_bytes(rnd, sizeof(rnd), err))
		return NULL;
	for (size_t i = 0; i < OCC_ARRAY_SIZE(prefixes) && !salt; i++)
		salt = crypt_gensalt_ra(prefixes[i], 0, (const char *)rnd, (int)sizeof(rnd));
	occ_secure_zero(rnd, sizeof(rnd));
	if (!salt)
		occ_error_set(err, OCC_EGENERIC, "libcrypt supports neither yescrypt nor SHA-512 crypt");
	return salt;
}

int occ_password_hash(char **out, const char *password, struct occ_error *err)
{
	struct crypt_data *data = NULL;
	size_t len = strlen(password);
	char *salt, *hash;
	int ret = 0;

	if (len < OCC_PASSWORD_MIN)
		return occ_error_set(err, OCC_EINVALID, "the password is too short: use at least %d characters",
				     OCC_PASSWORD_MIN);
	if (len > OCC_PASSWORD_MAX)
		return occ_error_set(err, OCC_EINVALID, "the password is longer than %d bytes",
				     OCC_PASSWORD_MAX);
	salt = gensalt(err);
	if (!salt)
		return err->code;
	data = occ_xcalloc(1, sizeof(*data));
	hash = crypt_r(password, salt, data);
	if (!hash || hash[0] == '*') {
		ret = occ_error_set(err, OCC_EGENERIC, "libcrypt could not hash the password");
		goto out;
	}
	*out = occ_xstrdup(hash);
out:
	occ_secure_zero(data, sizeof(*data));
	free(data);
	free(salt);
	return ret;
}

int occ_password_verify(const char *password, const char *hash)
{
	struct crypt_data *data = occ_xcalloc(1, sizeof(*data));
	const char *h = crypt_r(password, hash, data);
	int ok = h && h[0] != '*' && strcmp(h, hash) == 0;

	occ_secure_zero(data, sizeof(*data));
	free(data);
	return ok;
}

int occ_password_generate(char *out, size_t len, struct occ_error *err)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t i = 0;

	while (i < len) {
		unsigned char rnd[64];
		int ret = random_bytes(rnd, sizeof(rnd), err);

		if (ret)
			return ret;
		/* Rejection sampling: 248 = 4 * 62, so every letter is equally likely. */
		for (size_t k = 0; k < sizeof(rnd) && i < len; k++)
			if (rnd[k] < 248)
				out[i++] = alphabet[rnd[k] % 62];
		occ_secure_zero(rnd, sizeof(rnd));
	}
	out[len] = '\0';
	return 0;
}
