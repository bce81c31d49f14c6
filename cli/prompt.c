/*
 * prompt.c - see prompt.h.
 */
#include "cli/prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "model/password.h"

/* Read one line (without its newline) from fd; false on EOF before any byte. */
static bool read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while (n + 1 < size) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return n > 0;
}

static bool ask_tty(int tty, const char *question, char *buf, size_t size)
{
	struct termios old, quiet;
	bool ok;

	if (tcgetattr(tty, &old) < 0)
		return false;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off before the question is shown: TCSAFLUSH drops typeahead, and
	 * an answer typed (or pasted) right after the question must not be. */
	tcsetattr(tty, TCSAFLUSH, &quiet);
	(void)!write(tty, question, strlen(question));
	ok = read_line(tty, buf, size);
	tcsetattr(tty, TCSAFLUSH, &old);
	(void)!write(tty, "\n", 1);
	return ok;
}

static int ask(struct occ_cli *cli, const char *user, char *buf, size_t size)
{
	char again[OCC_PASSWORD_MAX + 2], q[160];
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC), ret = 0;

	if (tty < 0 || !cli->tty_in) {
		occ_cli_errorf(cli, "no terminal to ask for the password of '%s'", user);
		fprintf(stderr, "hint: pass --password-stdin (e.g. 'printf %%s \"$PW\" | occ user ... "
			"--password-stdin') or --generate\n");
		if (tty >= 0)
			close(tty);
		return OCC_EXIT_USAGE;
	}
	snprintf(q, sizeof(q), "New password for %s: ", user);
	if (!ask_tty(tty, q, buf, size)) {
		occ_cli_errorf(cli, "no password entered");
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	snprintf(q, sizeof(q), "Repeat the password for %s: ", user);
	if (!ask_tty(tty, q, again, sizeof(again)) || strcmp(buf, again) != 0) {
		occ_cli_errorf(cli, "the passwords do not match; nothing was changed");
		ret = OCC_EXIT_ERROR;
	}
out:
	occ_secure_zero(again, sizeof(again));
	close(tty);
	return ret;
}

int occ_cli_read_new_password(struct occ_cli *cli, enum occ_pw_mode mode, const char *user,
			      char *buf, size_t size)
{
	struct occ_error err;

	occ_error_clear(&err);
	switch (mode) {
	case OCC_PW_STDIN:
		if (!read_line(STDIN_FILENO, buf, size)) {
			occ_cli_errorf(cli, "no password on standard input");
			return OCC_EXIT_ERROR;
		}
		return 0;
	case OCC_PW_GENERATE:
		if (occ_password_generate(buf, OCC_GENERATED_PASSWORD_LEN, &err)) {
			occ_cli_print_error(cli, &err);
			return OCC_EXIT_ERROR;
		}
		return 0;
	case OCC_PW_ASK:
		break;
	}
	return ask(cli, user, buf, size);
}

int occ_cli_new_password_hash(struct occ_cli *cli, enum occ_pw_mode mode, const char *user,
			      char **out)
{
	char pw[OCC_PASSWORD_MAX + 2];
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ret = occ_cli_read_new_password(cli, mode, user, pw, sizeof(pw));
	if (ret)
		goto out;
	if (occ_password_hash(out, pw, &err)) {
		occ_cli_print_error(cli, &err);
		ret = OCC_EXIT_ERROR;
		goto out;
	}
	if (mode == OCC_PW_GENERATE)
		/* The one and only time this password is shown. */
		printf("generated password for %s: %s\n(shown once: store it now)\n", user, pw);
out:
	occ_secure_zero(pw, sizeof(pw));
	return ret;
}
