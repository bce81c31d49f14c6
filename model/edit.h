/*
 * edit.h - surgical edits of the user's state file.
 *
 * The imperative commands (`occ stop`, `occ user add`, `occ config set ...`)
 * change the state file the way a careful person would: only the edited
 * node's text is rewritten; comments, key order, quoting, indentation, line
 * endings (LF or CRLF) and a missing final newline are kept byte for byte.
 *
 * These are pure functions on buffers: no file I/O (the caller reads the file
 * and writes the result atomically). buf need not be NUL-terminated. On
 * success *out is a new NUL-terminated buffer of *out_len bytes (the NUL not
 * counted) that the caller frees; on error *out and *out_len are untouched and
 * err is filled (line:col name the place in buf when there is one).
 *
 * Paths are dotted keys from the document's top-level mapping:
 * "container.port", "container.env.TZ", "image.build.args.HTTP_PROXY". A
 * segment may pick one item of a sequence of mappings by a key field:
 * "users[name=alice].enabled", "mounts[target=/x].readonly". Keys may hold any
 * byte but '.', '[', ']'; a selector value any byte but ']'. At most
 * OCC_EDIT_MAX_SEGMENTS keys.
 *
 * Errors, common to all three functions (messages: "cannot edit 'path': ..."
 * or "invalid path 'path': ..."):
 *   OCC_EUSAGE     the path is malformed; a value is not UTF-8 or longer
 *                  than OCC_MAX_STRING
 *   OCC_ESYNTAX    buf is not valid YAML, not UTF-8, or uses an undefined
 *                  alias
 *   OCC_EINVALID   buf is larger than OCC_MAX_FILE_SIZE or beyond the
 *                  loader's other limits (nodes, aliases); holds several
 *                  documents; the path goes through a scalar or the wrong
 *                  kind of collection; a key or a selector match is
 *                  duplicated; or the edit would change a node shared
 *                  through an anchor ("cannot edit 'x.y': it is shared
 *                  through the anchor '&a' at L:C")
 *   OCC_ENOTFOUND  a selector matches no item; delete of a missing path
 *   OCC_EGENERIC   the file's layout at that place is one the editor does
 *                  not rewrite (explicit "? key" entries, tabs in blank
 *                  lines, a block scalar ending the file without a line
 *                  break, ...): err->hint says to edit by hand. Never a
 *                  broken result: every output is parsed again and checked
 *                  node by node before it is returned.
 */
#ifndef OCC_EDIT_H
#define OCC_EDIT_H

#include <stddef.h>

#include "model/error.h"

#define OCC_EDIT_MAX_SEGMENTS 64

/* How a new scalar is written. */
enum occ_edit_style {
	/*
	 * Verbatim, for numbers, booleans and words the loader reads by type
	 * ("3001", "false", "unless-stopped"). A value that cannot be written
	 * plain (": ", leading "#", ...) is double-quoted instead: it could
	 * only ever have been a string.
	 */
	OCC_EDIT_PLAIN,
	/*
	 * So that it reads back as this exact string: plain when that is
	 * unambiguous, otherwise quoted ("true", "3000", "", "a: b" are
	 * quoted). Replacing a quoted scalar keeps its quote style when the
	 * value allows it.
	 */
	OCC_EDIT_STRING,
};

/* One field of a sequence item written by occ_edit_append. */
struct occ_edit_kv {
	const char *key;
	const char *value;
	enum occ_edit_style style;
};

/*
 * Set the scalar at path to value. Missing intermediate mappings (and the
 * last key) are created: appended after the mapping's last entry with its
 * indentation, or inside the braces of a flow mapping. An empty or null
 * value (`container:`, `container: ~`) becomes a mapping when the path goes
 * through it. Selectors never create items (OCC_ENOTFOUND; see
 * occ_edit_append). Setting a path that holds a mapping or a sequence is
 * OCC_EINVALID. An alias at path (`port: *p`) is replaced by the value; the
 * anchored node it names is not touched.
 */
int occ_edit_set(char **out, size_t *out_len, const char *buf, size_t len,
		 const char *path, const char *value, enum occ_edit_style style,
		 struct occ_error *err);

/*
 * Delete the key at path with its value, or the sequence item a final
 * selector picks ("users[name=alice]"), together with its line(s) and a
 * comment trailing on its last line. Comment lines around it stay. Removing
 * the only entry leaves an empty collection (`container: {}`, `users: []`).
 * A missing path is OCC_ENOTFOUND.
 */
int occ_edit_delete(char **out, size_t *out_len, const char *buf, size_t len,
		    const char *path, struct occ_error *err);

/*
 * Append a mapping of n_fields (>= 1) fields, in the given order, to the
 * sequence at seq_path ("users", "mounts", "hosts[name=lab].overrides.mounts"),
 * creating the key when it is absent or null. A block sequence gets a block
 * item indented like its other items; a flow sequence gets "{k: v, ...}".
 * Duplicates are not checked: that is validation's job.
 */
int occ_edit_append(char **out, size_t *out_len, const char *buf, size_t len,
		    const char *seq_path, const struct occ_edit_kv *fields,
		    size_t n_fields, struct occ_error *err);

#endif
