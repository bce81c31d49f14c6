/*
 * secrets.h - which environment values are secrets.
 *
 * One decision, by the variable's name and by its value, for every output
 * that shows container.env (or image.build.args): diff text and JSON, apply,
 * config show/get, config env list, watch logs. A secret is shown as
 * "(sensitive)" (with a short hash where a change must stay visible), never in
 * clear. Pure: no I/O.
 */
#ifndef OCC_MODEL_SECRETS_H
#define OCC_MODEL_SECRETS_H

#include <stdbool.h>

/*
 * Whether KEY=VALUE holds a secret. key or value may be NULL (unknown or
 * absent): the other one decides alone.
 *
 * By name (case-insensitive): PASSWORD, PASSWD, SECRET, TOKEN, CREDENTIAL or
 * PRIVATE anywhere; a word KEY or PAT, or a word ending in KEY (API_KEY,
 * APIKEY, GITHUB_PAT; not KEYBOARD). Words are split at non-alphanumerics
 * and at a lower-to-upper case change.
 *
 * By value: a URL with userinfo (scheme://user:pass@host, scheme://token@host),
 * an HTTP credential ("Bearer ...", "Basic ...", "token ..."), a PEM block
 * ("-----BEGIN"), or a word starting with a known token prefix (ghp_, gho_,
 * ghu_, ghs_, ghr_, github_pat_, glpat-, sk-, sk_live_, xox[abprs]-, AKIA)
 * followed by enough token characters.
 */
bool occ_env_is_sensitive(const char *key, const char *value);

#endif
