/*
 * prompt.h - reading a new password: from the terminal without echo (asked
 * twice), from standard input (--password-stdin), or generated (--generate,
 * shown once). The plain password never leaves this process: the caller
 * hashes it and wipes the buffer with occ_secure_zero().
 */
#ifndef OCC_CLI_PROMPT_H
#define OCC_CLI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

enum occ_pw_mode {
	OCC_PW_ASK = 0,     /* prompt on the terminal */
	OCC_PW_STDIN,       /* one line from standard input */
	OCC_PW_GENERATE,    /* generate and print once */
};

#define OCC_GENERATED_PASSWORD_LEN 24

/* Get a new password for user into buf (size > OCC_PASSWORD_MAX). Prints its
 * own errors; returns an exit code. */
int occ_cli_read_new_password(struct occ_cli *cli, enum occ_pw_mode mode, const char *user,
			      char *buf, size_t size);

/* Hash a new password for user read per mode; *out is the crypt hash. */
int occ_cli_new_password_hash(struct occ_cli *cli, enum occ_pw_mode mode, const char *user,
			      char **out);

#endif
