/*
 * render.c - see render.h.
 */
#include "cli/render.h"

#include <stdlib.h>
#include <string.h>

#include "model/hash.h"

#define C_RESET "\033[0m"

static const char *col(bool color, const char *code)
{
	return color ? code : "";
}

char *occ_render_value(const char *value, bool sensitive)
{
	char hex[OCC_HASH_HEX_LEN + 1];
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	if (!value)
		return occ_xstrdup("(none)");
	if (sensitive) {
		occ_sha256_hex(value, strlen(value), hex);
		return occ_xasprintf("(sensitive, sha256:%.8s)", hex);
	}
	occ_strbuf_init(&sb);
	occ_json_quote(&sb, value);
	return occ_strbuf_detach(&sb);
}

static const char *op_symbol(enum occ_op op)
{
	switch (op) {
	case OCC_OP_CREATE: return "+";
	case OCC_OP_UPDATE: return "~";
	case OCC_OP_RECREATE: return "-/+";
	case OCC_OP_START: return "~";
	case OCC_OP_STOP: return "~";
	case OCC_OP_REMOVE: return "-";
	}
	return "?";
}

static const char *op_color(enum occ_op op)
{
	switch (op) {
	case OCC_OP_CREATE: return "\033[32m";
	case OCC_OP_REMOVE: return "\033[31m";
	case OCC_OP_RECREATE: return "\033[35m";
	default: return "\033[33m";
	}
}

static void render_change(struct occ_strbuf *out, const struct occ_action *a,
			  const struct occ_change *c, bool color)
{
	char *o = c->number && c->old_value ? occ_xstrdup(c->old_value)
					     : occ_render_value(c->old_value, c->sensitive);
	char *n = c->number && c->new_value ? occ_xstrdup(c->new_value)
					     : occ_render_value(c->new_value, c->sensitive);

	if (a->op == OCC_OP_CREATE || !c->old_value)
		occ_strbuf_addf(out, "      %s+%s %s = %s", col(color, "\033[32m"),
				col(color, C_RESET), c->field, n);
	else if (!c->new_value)
		occ_strbuf_addf(out, "      %s-%s %s = %s", col(color, "\033[31m"),
				col(color, C_RESET), c->field, o);
	else
		occ_strbuf_addf(out, "      %s~%s %s: %s -> %s", col(color, "\033[33m"),
				col(color, C_RESET), c->field, o, n);
	if (a->op == OCC_OP_RECREATE && c->forces_recreate)
		occ_strbuf_addf(out, " %s(forces recreate)%s", col(color, "\033[35m"),
				col(color, C_RESET));
	occ_strbuf_addc(out, '\n');
	free(o);
	free(n);
}

/* A start right after the create of the same container is part of the create. */
static bool is_start_of_new(const struct occ_plan *plan, size_t i)
{
	const struct occ_action *a = &plan->actions[i];

	return a->kind == OCC_ACT_CONTAINER_START && i > 0 &&
	       plan->actions[i - 1].kind == OCC_ACT_CONTAINER_CREATE &&
	       occ_streq(plan->actions[i - 1].name, a->name);
}

static void render_action(struct occ_strbuf *out, const struct occ_plan *plan, size_t i,
			  bool color)
{
	const struct occ_action *a = &plan->actions[i];
	const char *dim = col(color, "\033[2m"), *reset = col(color, C_RESET);

	occ_strbuf_addf(out, "  %s%s%s %s %s", col(color, op_color(a->op)), op_symbol(a->op),
			reset, a->resource, a->name);
	switch (a->kind) {
	case OCC_ACT_IMAGE_PULL: occ_strbuf_adds(out, ": pull"); break;
	case OCC_ACT_IMAGE_BUILD: occ_strbuf_adds(out, ": build"); break;
	case OCC_ACT_CONTAINER_START: occ_strbuf_adds(out, ": start"); break;
	case OCC_ACT_CONTAINER_STOP: occ_strbuf_adds(out, ": stop"); break;
	case OCC_ACT_CONTAINER_RECREATE: occ_strbuf_adds(out, " (must be replaced)"); break;
	default: break;
	}
	if (a->destructive)
		occ_strbuf_addf(out, " %s[destructive]%s", col(color, "\033[1;31m"), reset);
	occ_strbuf_addc(out, '\n');
	if (a->cause && a->kind != OCC_ACT_CONTAINER_CREATE && a->kind != OCC_ACT_CONTAINER_RECREATE)
		occ_strbuf_addf(out, "      %s# %s%s\n", dim, a->cause, reset);
	for (size_t k = 0; k < a->n_changes; k++)
		render_change(out, a, &a->changes[k], color);
	if (a->kind == OCC_ACT_CONTAINER_CREATE && i + 1 < plan->n && is_start_of_new(plan, i + 1))
		occ_strbuf_addf(out, "      %s# then start it and wait for health%s\n", dim, reset);
}

void occ_render_plan_text(struct occ_strbuf *out, const char *host, const struct occ_plan *plan,
			  bool color)
{
	occ_strbuf_addf(out, "%shost %s%s\n", col(color, "\033[1m"), host, col(color, C_RESET));
	if (plan->n == 0) {
		occ_strbuf_adds(out, "  in sync\n");
		return;
	}
	for (size_t i = 0; i < plan->n; i++) {
		if (is_start_of_new(plan, i))
			continue;
		render_action(out, plan, i, color);
	}
}

void occ_render_summary_text(struct occ_strbuf *out, int n_create, int n_change, int n_recreate,
			     int n_remove)
{
	if (n_create + n_change + n_recreate + n_remove == 0) {
		occ_strbuf_adds(out, "No changes.\n");
		return;
	}
	occ_strbuf_addf(out, "Plan: %d to create, %d to change, %d to recreate, %d to remove.\n",
			n_create, n_change, n_recreate, n_remove);
}

static void json_value(struct occ_json *j, const char *key, const char *value, bool sensitive)
{
	char hex[OCC_HASH_HEX_LEN + 1];
	char *masked;

	occ_json_key(j, key);
	if (!value || !sensitive) {
		occ_json_str(j, value);
		return;
	}
	occ_sha256_hex(value, strlen(value), hex);
	masked = occ_xasprintf("(sensitive, sha256:%.8s)", hex);
	occ_json_str(j, masked);
	free(masked);
}

static void json_action(struct occ_json *j, const struct occ_action *a)
{
	occ_json_obj_begin(j);
	occ_json_kstr(j, "action", occ_action_kind_name(a->kind));
	occ_json_kstr(j, "op", occ_op_name(a->op));
	occ_json_kstr(j, "resource", a->resource);
	occ_json_kstr(j, "name", a->name);
	occ_json_kstr(j, "id", a->target_id);
	occ_json_kstr(j, "cause", a->cause);
	occ_json_kbool(j, "destructive", a->destructive);
	occ_json_kbool(j, "wait_healthy", a->wait_healthy);
	occ_json_key(j, "changes");
	occ_json_arr_begin(j);
	for (size_t k = 0; k < a->n_changes; k++) {
		const struct occ_change *c = &a->changes[k];

		occ_json_obj_begin(j);
		occ_json_kstr(j, "field", c->field);
		json_value(j, "old", c->old_value, c->sensitive);
		json_value(j, "new", c->new_value, c->sensitive);
		occ_json_kbool(j, "sensitive", c->sensitive);
		occ_json_kbool(j, "forces_recreate", a->op == OCC_OP_RECREATE && c->forces_recreate);
		occ_json_obj_end(j);
	}
	occ_json_arr_end(j);
	occ_json_obj_end(j);
}

void occ_render_plan_json(struct occ_json *j, const char *host, const char *project,
			  const struct occ_plan *plan)
{
	occ_json_obj_begin(j);
	occ_json_kstr(j, "host", host);
	occ_json_kstr(j, "project", project);
	occ_json_key(j, "actions");
	occ_json_arr_begin(j);
	for (size_t i = 0; i < plan->n; i++)
		json_action(j, &plan->actions[i]);
	occ_json_arr_end(j);
	occ_json_key(j, "summary");
	occ_json_obj_begin(j);
	occ_json_kint(j, "create", plan->n_create);
	occ_json_kint(j, "change", plan->n_change);
	occ_json_kint(j, "recreate", plan->n_recreate);
	occ_json_kint(j, "remove", plan->n_remove);
	occ_json_obj_end(j);
	occ_json_obj_end(j);
}
