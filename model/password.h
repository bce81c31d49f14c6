/*
 * password.h - crypt(3) hashes for users' passwords.
 *
 * Plain passwords exist only in memory, only in the CLI process that asked
 * for them, and are wiped after hashing. What reaches the state file, the
 * container and every output is a crypt hash (yescrypt where the system's
 * libcrypt has it, else SHA-512).
 */
#ifndef OCC_PASSWORD_H
#define OCC_PASSWORD_H

#include <stddef.h>

#include "model/error.h"

#define OCC_PASSWORD_MIN 8
#define OCC_PASSWORD_MAX 512

/* Hash password with a fresh random salt. *out is a crypt string the caller
 * frees. OCC_EINVALID for a password shorter than OCC_PASSWORD_MIN or longer
 * than OCC_PASSWORD_MAX; OCC_EGENERIC when libcrypt fails. */
int occ_password_hash(char **out, const char *password, struct occ_error *err);

/* Whether password matches hash (constant time in libcrypt's terms). */
int occ_password_verify(const char *password, const char *hash);

/* A random password of len characters from a 62-letter alphabet (about
 * 5.95 bits each; 24 characters give 142 bits). out has room for len + 1. */
int occ_password_generate(char *out, size_t len, struct occ_error *err);

/* Overwrite a secret in memory so it does not linger. */
void occ_secure_zero(void *p, size_t n);

#endif
