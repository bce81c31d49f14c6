/*
 * json.h - a small streaming JSON writer for --json output.
 *
 * The CLI writes JSON without a DOM: values are appended to a strbuf in
 * order, commas and escaping are handled here. Nesting is bounded.
 */
#ifndef OCC_CLI_JSON_H
#define OCC_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "model/util.h"

#define OCC_JSON_MAX_DEPTH 32

struct occ_json {
	struct occ_strbuf sb;
	int depth;
	bool first[OCC_JSON_MAX_DEPTH];
	bool after_key;
};

void occ_json_init(struct occ_json *j);
void occ_json_release(struct occ_json *j);
void occ_json_obj_begin(struct occ_json *j);
void occ_json_obj_end(struct occ_json *j);
void occ_json_arr_begin(struct occ_json *j);
void occ_json_arr_end(struct occ_json *j);
void occ_json_key(struct occ_json *j, const char *key);
void occ_json_str(struct occ_json *j, const char *s); /* NULL -> null */
void occ_json_int(struct occ_json *j, int64_t v);
void occ_json_double(struct occ_json *j, double v); /* 3 decimals; NaN -> null */
void occ_json_bool(struct occ_json *j, bool v);
void occ_json_null(struct occ_json *j);
/* A value that is already JSON text (trusted: written by occ itself). */
void occ_json_raw(struct occ_json *j, const char *json);

/* key + value shorthands */
void occ_json_kstr(struct occ_json *j, const char *key, const char *s);
void occ_json_kint(struct occ_json *j, const char *key, int64_t v);
void occ_json_kdouble(struct occ_json *j, const char *key, double v);
void occ_json_kbool(struct occ_json *j, const char *key, bool v);

/* Append s as a JSON string literal (quotes included) to sb. */
void occ_json_quote(struct occ_strbuf *sb, const char *s);

#endif
