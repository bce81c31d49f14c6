/*
 * render.h - plans as text (terraform-style) and as JSON.
 *
 * Pure string building: the caller decides where it goes. Secret values are
 * never rendered: a sensitive change shows "(sensitive, sha256:XXXXXXXX)".
 */
#ifndef OCC_CLI_RENDER_H
#define OCC_CLI_RENDER_H

#include <stdbool.h>

#include "cli/json.h"
#include "model/util.h"
#include "reconciler/plan.h"

/* One host's plan as text; color adds ANSI colours. */
void occ_render_plan_text(struct occ_strbuf *out, const char *host, const struct occ_plan *plan,
			  bool color);

/* "Plan: 1 to create, 0 to change, 0 to recreate, 0 to remove." or "No changes." */
void occ_render_summary_text(struct occ_strbuf *out, int n_create, int n_change, int n_recreate,
			     int n_remove);

/* One host's plan as a JSON object (see schemas/plan.schema.json). */
void occ_render_plan_json(struct occ_json *j, const char *host, const char *project,
			  const struct occ_plan *plan);

/* A value as shown to users: quoted, "(none)" for NULL, masked when sensitive. */
char *occ_render_value(const char *value, bool sensitive);

#endif
