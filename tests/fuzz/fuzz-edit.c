/*
 * fuzz-edit.c - libFuzzer target for the state file editor (model/edit.c).
 *
 * Feeds arbitrary bytes, as the state file, to occ_edit_set, occ_edit_delete
 * and occ_edit_append with fixed paths that cover keys, selectors, creation
 * and flow values. Findings (abort):
 *  - a successful result that libyaml's loader rejects when it accepted the
 *    input, or whose length is not its strlen;
 *  - setting the same value again on a result that changes it (set must be
 *    idempotent), or deleting the same path twice successfully;
 *  - an incomplete error record, or the editor's own "would not read back"
 *    check firing: it means a splice went wrong, even though the caller was
 *    protected from it.
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz-edit -max_total_time=60 tests/fuzz/corpus-edit
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct set_op {
	const char *path, *value;
	enum occ_edit_style style;
};

static const struct set_op sets[] = {
	{ "container.port", "3001", OCC_EDIT_PLAIN },
	{ "container.env.TZ", "Europe/Paris", OCC_EDIT_STRING },
	{ "users[name=alice].enabled", "false", OCC_EDIT_PLAIN },
	{ "hosts[name=lab].overrides.container.port", "3002", OCC_EDIT_PLAIN },
	{ "image.build.args.HTTP_PROXY", "http://proxy:3128", OCC_EDIT_STRING },
	{ "name", "it's: \"x\"\n#", OCC_EDIT_STRING },
	{ "version", "", OCC_EDIT_STRING },
	{ "a", "true", OCC_EDIT_STRING },
};

static const char *const deletes[] = {
	"container.port", "users[name=alice]", "container", "hosts[name=lab].port", "a",
	"users[name=bob].name",
};

static const struct occ_edit_kv user[] = {
	{ "name", "carol", OCC_EDIT_STRING },
	{ "enabled", "true", OCC_EDIT_PLAIN },
};

static const char *const appends[] = {
	"users", "mounts", "hosts[name=lab].overrides.mounts", "a",
};

/* Whether libyaml's document loader (not the event parser edit.c uses)
 * accepts buf. */
static bool loads(const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool ok;

	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	ok = yaml_parser_load(&parser, &doc);
	if (ok)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return ok;
}

/* The loader is stricter than the event parser (it refuses a redefined
 * anchor, for one), so only an input it accepts must give a result it
 * accepts. */
static bool input_loads;

static void check_yaml(const char *out, size_t len)
{
	if (strlen(out) != len)
		abort();
	if (input_loads && !loads(out, len))
		abort();
}

static void check_error(int ret, const struct occ_error *err)
{
	if (ret >= 0 || err->code != ret || !err->msg[0])
		abort();
	if (ret == OCC_EGENERIC && strstr(err->msg, "would not read back"))
		abort();
}

static void fuzz_set(const char *buf, size_t len, const struct set_op *op)
{
	struct occ_error err;
	char *out = NULL, *again = NULL;
	size_t out_len, again_len;
	int ret;

	ret = occ_edit_set(&out, &out_len, buf, len, op->path, op->value, op->style, &err);
	if (ret) {
		check_error(ret, &err);
		return;
	}
	check_yaml(out, out_len);
	ret = occ_edit_set(&again, &again_len, out, out_len, op->path, op->value, op->style,
			   &err);
	if (ret || again_len != out_len || memcmp(again, out, out_len))
		abort();
	free(again);
	free(out);
}

static void fuzz_delete(const char *buf, size_t len, const char *path)
{
	struct occ_error err;
	char *out = NULL, *again = NULL;
	size_t out_len, again_len;
	int ret;

	ret = occ_edit_delete(&out, &out_len, buf, len, path, &err);
	if (ret) {
		check_error(ret, &err);
		return;
	}
	check_yaml(out, out_len);
	ret = occ_edit_delete(&again, &again_len, out, out_len, path, &err);
	if (ret != OCC_ENOTFOUND)
		abort();
	free(out);
}

static void fuzz_append(const char *buf, size_t len, const char *path)
{
	struct occ_error err;
	char *out = NULL;
	size_t out_len;
	int ret;

	ret = occ_edit_append(&out, &out_len, buf, len, path, user, 2, &err);
	if (ret) {
		check_error(ret, &err);
		return;
	}
	check_yaml(out, out_len);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t i;

	input_loads = loads(buf, size);
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		fuzz_set(buf, size, &sets[i]);
	for (i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++)
		fuzz_delete(buf, size, deletes[i]);
	for (i = 0; i < sizeof(appends) / sizeof(appends[0]); i++)
		fuzz_append(buf, size, appends[i]);
	return 0;
}
