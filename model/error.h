/*
 * error.h - occ's error codes and the caller-owned error record.
 *
 * Every fallible library function returns 0 on success or a negative OCC_E*
 * code, and fills the struct occ_error the caller passed (which may not be
 * NULL). The record is fixed-size: filling it never allocates. Messages follow
 * git's style: lowercase, what failed first, subject quoted. A hint, when set,
 * says how to fix it.
 */
#ifndef OCC_ERROR_H
#define OCC_ERROR_H

#include <stdarg.h>

enum occ_errcode {
	OCC_OK = 0,
	OCC_EGENERIC = -1,  /* anything without a better category */
	OCC_EUSAGE = -2,    /* bad command line */
	OCC_ESYNTAX = -3,   /* the state file is not valid YAML */
	OCC_EINVALID = -4,  /* the state file is YAML but not a valid state */
	OCC_EIO = -5,       /* a local file or system call failed (errno set) */
	OCC_ENOTFOUND = -6, /* a named thing does not exist */
	OCC_EDAEMON = -7,   /* the Docker daemon is unreachable */
	OCC_EPERM = -8,     /* permission denied (socket, file) */
	OCC_EAPI = -9,      /* the Docker API answered with an error */
	OCC_ECONFLICT = -10,/* a name clash with an object occ does not own */
	OCC_EPORT = -11,    /* the published port is already in use */
	OCC_ELOCKED = -12,  /* another occ holds the project lock */
	OCC_ETIMEOUT = -13, /* a wait ran out of time */
	OCC_EUNHEALTHY = -14,/* the service did not become healthy */
	OCC_EVERSION = -15, /* the daemon's API version is too old */
	OCC_ECANCELED = -16,/* the user declined a confirmation */
};

struct occ_error {
	int code;           /* enum occ_errcode, 0 when unset */
	int sys_errno;      /* errno when code is OCC_EIO/OCC_EPERM, else 0 */
	char file[512];     /* the file the error is about, or "" */
	int line, col;      /* 1-based position in file, 0 when unknown */
	char msg[1024];
	char hint[512];     /* how to fix it, or "" */
};

/* Reset an error record to "no error". */
void occ_error_clear(struct occ_error *err);

/* Fill err with code and a printf-style message; returns code so callers can
 * write `return occ_error_set(err, OCC_EIO, "...")`. */
int occ_error_set(struct occ_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int occ_error_setv(struct occ_error *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Like occ_error_set, but also records errno and appends ": strerror(errno)". */
int occ_error_errno(struct occ_error *err, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record where the error is (file may be NULL to keep the current one). */
void occ_error_at(struct occ_error *err, const char *file, int line, int col);

/* Set the hint ("run 'occ ...'"). */
void occ_error_hint(struct occ_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the message with more context: "host 'lab': <old message>". */
void occ_error_prefix(struct occ_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short stable name for a code ("daemon", "invalid"), for --json output. */
const char *occ_error_kind(int code);

#endif
