/*
 * util.h - allocation, strings and small file helpers shared by libocc.
 *
 * Out-of-memory is not an error occ can recover from: the x* allocators abort
 * with a message instead of returning NULL.
 */
#ifndef OCC_UTIL_H
#define OCC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/error.h"

#define OCC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *occ_xmalloc(size_t n);
void *occ_xcalloc(size_t nmemb, size_t size);
void *occ_xrealloc(void *p, size_t n);
char *occ_xstrdup(const char *s);          /* NULL -> NULL */
char *occ_xstrndup(const char *s, size_t n);
char *occ_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *items (of *alloc elements of size elem) to hold at least need. */
void occ_grow(void **items, size_t *alloc, size_t need, size_t elem);
#define OCC_GROW(arr, nr, alloc) \
	occ_grow((void **)&(arr), &(alloc), (nr) + 1, sizeof(*(arr)))

/* A growable, always NUL-terminated byte buffer. */
struct occ_strbuf {
	char *buf;  /* never NULL after init */
	size_t len;
	size_t alloc;
};
#define OCC_STRBUF_INIT { 0 }
void occ_strbuf_init(struct occ_strbuf *sb);
void occ_strbuf_release(struct occ_strbuf *sb);
void occ_strbuf_add(struct occ_strbuf *sb, const void *data, size_t n);
void occ_strbuf_adds(struct occ_strbuf *sb, const char *s);
void occ_strbuf_addc(struct occ_strbuf *sb, char c);
void occ_strbuf_addf(struct occ_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void occ_strbuf_reset(struct occ_strbuf *sb);
char *occ_strbuf_detach(struct occ_strbuf *sb); /* caller frees */
const char *occ_strbuf_str(struct occ_strbuf *sb); /* "" when empty */

bool occ_streq(const char *a, const char *b); /* NULL-safe */
bool occ_starts_with(const char *s, const char *prefix);

/* Parse a base-10 integer in [min, max]; the whole string must be a number. */
int occ_parse_long(const char *s, long min, long max, long *out);

/* Parse a duration: "250ms", "5s", "5m", "1h", or a bare number of seconds. */
int occ_parse_duration_ms(const char *s, uint64_t *out);

/* Read a whole file, at most max bytes (OCC_EINVALID when larger). The buffer
 * is NUL-terminated; *out_len excludes the NUL. */
int occ_read_file(const char *path, size_t max, char **out, size_t *out_len,
		  struct occ_error *err);

/* Write data atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory. mode applies to the new file. On failure the previous file
 * is untouched and the temp file removed. */
int occ_write_file_atomic(const char *path, const void *data, size_t len,
			  unsigned mode, struct occ_error *err);

/* Where an edit of path lands: path itself, or for a symbolic link (a chain
 * of them, relative ones against their directory) the file it points to.
 * *out is malloc'ed. A dangling link is OCC_EINVALID naming the link and its
 * target; a loop is OCC_EIO. Reads the file system, writes nothing. */
int occ_path_resolve_link(char **out, const char *path, struct occ_error *err);

/* Replace a file the way an editor saves it (the state file's edits): a
 * symbolic link at path is followed and its target replaced, the link kept
 * (occ_path_resolve_link); the content is written as occ_write_file_atomic
 * does, with the owner, group and permission bits of the file at like (it may
 * be path itself; followed through links) or, when like does not exist, mode
 * and the caller's ids. Giving the new file another owner needs the right to
 * (root): without it, an error and the old file untouched. */
int occ_write_file_keep(const char *path, const void *data, size_t len, const char *like,
			unsigned mode, struct occ_error *err);

/* mkdir -p with mode for the created components. */
int occ_mkdir_p(const char *path, unsigned mode, struct occ_error *err);

/* $HOME (or the passwd entry); never NULL. */
const char *occ_home_dir(void);

/* XDG directories for occ: $XDG_CONFIG_HOME/opencode-cloud and
 * $XDG_DATA_HOME/opencode-cloud. Caller frees. */
char *occ_config_dir(void);
char *occ_data_dir(void);

/* Resolve a user-supplied path: "~" and "~/x" expand to $HOME, relative paths
 * resolve against base_dir (which may be NULL for the cwd). No I/O; "." and
 * ".." components are normalised lexically. Caller frees. */
char *occ_path_resolve(const char *path, const char *base_dir);

/* Lexically normalise path as if rooted: collapse "//", drop ".", resolve ".."
 * (never above the root). The result starts with '/'. No I/O. Caller frees. */
char *occ_path_normalise(const char *path);

/* The directory part of path ("." for a bare name). Caller frees. */
char *occ_path_dirname(const char *path);

/* Monotonic milliseconds. */
uint64_t occ_now_ms(void);
/* The same clock with sub-millisecond precision, for measured durations. */
double occ_now_ms_precise(void);

#endif
