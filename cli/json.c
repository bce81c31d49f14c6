/*
 * json.c - see json.h.
 */
#include "cli/json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void occ_json_init(struct occ_json *j)
{
	memset(j, 0, sizeof(*j));
	occ_strbuf_init(&j->sb);
}

void occ_json_release(struct occ_json *j)
{
	occ_strbuf_release(&j->sb);
}

void occ_json_quote(struct occ_strbuf *sb, const char *s)
{
	occ_strbuf_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': occ_strbuf_adds(sb, "\\\""); break;
		case '\\': occ_strbuf_adds(sb, "\\\\"); break;
		case '\n': occ_strbuf_adds(sb, "\\n"); break;
		case '\r': occ_strbuf_adds(sb, "\\r"); break;
		case '\t': occ_strbuf_adds(sb, "\\t"); break;
		default:
			if (*p < 0x20)
				occ_strbuf_addf(sb, "\\u%04x", *p);
			else
				occ_strbuf_addc(sb, (char)*p);
		}
	}
	occ_strbuf_addc(sb, '"');
}

/* Separator before a value (or key) at the current level. */
static void sep(struct occ_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (!j->first[j->depth])
			occ_strbuf_addc(&j->sb, ',');
		j->first[j->depth] = false;
	}
}

static void begin(struct occ_json *j, char c)
{
	sep(j);
	occ_strbuf_addc(&j->sb, c);
	assert(j->depth + 1 < OCC_JSON_MAX_DEPTH);
	j->depth++;
	j->first[j->depth] = true;
}

static void end(struct occ_json *j, char c)
{
	assert(j->depth > 0);
	j->depth--;
	occ_strbuf_addc(&j->sb, c);
}

void occ_json_obj_begin(struct occ_json *j) { begin(j, '{'); }
void occ_json_obj_end(struct occ_json *j) { end(j, '}'); }
void occ_json_arr_begin(struct occ_json *j) { begin(j, '['); }
void occ_json_arr_end(struct occ_json *j) { end(j, ']'); }

void occ_json_key(struct occ_json *j, const char *key)
{
	sep(j);
	occ_json_quote(&j->sb, key);
	occ_strbuf_addc(&j->sb, ':');
	j->after_key = true;
}

void occ_json_str(struct occ_json *j, const char *s)
{
	sep(j);
	if (s)
		occ_json_quote(&j->sb, s);
	else
		occ_strbuf_adds(&j->sb, "null");
}

void occ_json_int(struct occ_json *j, int64_t v)
{
	sep(j);
	occ_strbuf_addf(&j->sb, "%" PRId64, v);
}

void occ_json_double(struct occ_json *j, double v)
{
	sep(j);
	/* JSON has no NaN or infinity. */
	if (v != v || v > 1e300 || v < -1e300)
		occ_strbuf_adds(&j->sb, "null");
	else
		occ_strbuf_addf(&j->sb, "%.3f", v);
}

void occ_json_bool(struct occ_json *j, bool v)
{
	sep(j);
	occ_strbuf_adds(&j->sb, v ? "true" : "false");
}

void occ_json_null(struct occ_json *j)
{
	sep(j);
	occ_strbuf_adds(&j->sb, "null");
}

void occ_json_raw(struct occ_json *j, const char *json)
{
	sep(j);
	occ_strbuf_adds(&j->sb, json);
}

void occ_json_kstr(struct occ_json *j, const char *key, const char *s)
{
	occ_json_key(j, key);
	occ_json_str(j, s);
}

void occ_json_kint(struct occ_json *j, const char *key, int64_t v)
{
	occ_json_key(j, key);
	occ_json_int(j, v);
}

void occ_json_kdouble(struct occ_json *j, const char *key, double v)
{
	occ_json_key(j, key);
	occ_json_double(j, v);
}

void occ_json_kbool(struct occ_json *j, const char *key, bool v)
{
	occ_json_key(j, key);
	occ_json_bool(j, v);
}
