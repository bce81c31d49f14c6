/*
 * error.c - filling struct occ_error. Messages are truncated, never overflow.
 */
#include "model/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void occ_error_clear(struct occ_error *err)
{
	memset(err, 0, sizeof(*err));
}

int occ_error_setv(struct occ_error *err, int code, const char *fmt, va_list ap)
{
	err->code = code;
	err->sys_errno = 0;
	err->hint[0] = '\0';
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int occ_error_set(struct occ_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	occ_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int occ_error_errno(struct occ_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	occ_error_setv(err, code, fmt, ap);
	va_end(ap);
	err->sys_errno = errnum;
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	if (errnum == EACCES || errnum == EPERM)
		err->code = code == OCC_EIO ? OCC_EPERM : code;
	return err->code;
}

void occ_error_at(struct occ_error *err, const char *file, int line, int col)
{
	if (file)
		snprintf(err->file, sizeof(err->file), "%s", file);
	err->line = line;
	err->col = col;
}

void occ_error_hint(struct occ_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void occ_error_prefix(struct occ_error *err, const char *fmt, ...)
{
	char prefix[256];
	size_t plen, mlen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	plen = strlen(prefix);
	if (plen + 2 >= sizeof(err->msg))
		return;
	/* Shift the message right (truncating its tail) and put "prefix: " before it. */
	mlen = strlen(err->msg);
	if (plen + 2 + mlen >= sizeof(err->msg))
		mlen = sizeof(err->msg) - plen - 3;
	memmove(err->msg + plen + 2, err->msg, mlen);
	err->msg[plen + 2 + mlen] = '\0';
	memcpy(err->msg, prefix, plen);
	err->msg[plen] = ':';
	err->msg[plen + 1] = ' ';
}

const char *occ_error_kind(int code)
{
	static const char *const kinds[] = {
		[0] = "ok", [1] = "error", [2] = "usage", [3] = "syntax",
		[4] = "invalid", [5] = "io", [6] = "not-found", [7] = "daemon",
		[8] = "permission", [9] = "api", [10] = "conflict", [11] = "port",
		[12] = "locked", [13] = "timeout", [14] = "unhealthy",
		[15] = "version", [16] = "canceled",
	};
	int i = -code;

	if (i < 0 || i >= (int)(sizeof(kinds) / sizeof(kinds[0])))
		return "error";
	return kinds[i];
}
