/*
 * secrets.c - see secrets.h.
 *
 * The name rule used to match "KEY" anywhere in the name, which masked
 * KEYBOARD or MONKEY_MODE and said nothing about a secret in an innocent
 * name (DATABASE_URL=postgres://u:pw@db). KEY is now a word (or a word's
 * end), and the value is looked at too: false positives cost a masked
 * value, false negatives a leaked credential, so the value rules lean to
 * masking (any URL userinfo, any "token xyz").
 */
#include "model/secrets.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "model/util.h"

/* Anywhere in the name. */
static const char *const name_parts[] = {
	"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE",
};

static bool contains_ci(const char *s, const char *part)
{
	size_t len = strlen(s), pl = strlen(part);

	for (size_t i = 0; i + pl <= len; i++)
		if (strncasecmp(s + i, part, pl) == 0)
			return true;
	return false;
}

static bool word_is_secret(const char *w, size_t len)
{
	if ((len == 3 && strncasecmp(w, "PAT", 3) == 0))
		return true;
	return len >= 3 && strncasecmp(w + len - 3, "KEY", 3) == 0;
}

/* Words: runs of letters and digits, also split where a lower-case letter is
 * followed by an upper-case one (apiKey -> api, Key). */
static bool key_is_secret(const char *key)
{
	size_t start = 0, i;

	for (i = 0; i < OCC_ARRAY_SIZE(name_parts); i++)
		if (contains_ci(key, name_parts[i]))
			return true;
	for (i = 0;; i++) {
		unsigned char c = (unsigned char)key[i];
		bool boundary = !isalnum(c) ||
				(i > start && islower((unsigned char)key[i - 1]) && isupper(c));

		if (boundary && i > start && word_is_secret(key + start, i - start))
			return true;
		if (!c)
			return false;
		if (!isalnum(c))
			start = i + 1;
		else if (boundary)
			start = i;
	}
}

/* scheme://user:pass@host or scheme://token@host, anywhere in the value. */
static bool has_url_userinfo(const char *v)
{
	for (const char *p = strstr(v, "://"); p; p = strstr(p + 3, "://")) {
		size_t auth;

		if (p == v || !isalnum((unsigned char)p[-1]))
			continue;
		auth = strcspn(p + 3, "/?#, \t\r\n;");
		if (memchr(p + 3, '@', auth))
			return true;
	}
	return false;
}

/* "Bearer X", "Basic X", "token X" (the value of an Authorization header). */
static bool is_http_credential(const char *v)
{
	static const char *const schemes[] = { "Bearer", "Basic", "token" };

	v += strspn(v, " \t");
	for (size_t i = 0; i < OCC_ARRAY_SIZE(schemes); i++) {
		size_t sl = strlen(schemes[i]), sp;

		if (strncasecmp(v, schemes[i], sl) != 0)
			continue;
		sp = strspn(v + sl, " \t");
		if (sp && v[sl + sp] && !isspace((unsigned char)v[sl + sp]))
			return true;
	}
	return false;
}

static const struct {
	const char *prefix;
	size_t min;        /* token characters after the prefix */
	bool upper;        /* only A-Z and 0-9 follow (AWS key IDs) */
} prefixes[] = {
	{ "ghp_", 16, false }, { "gho_", 16, false }, { "ghu_", 16, false },
	{ "ghs_", 16, false }, { "ghr_", 16, false }, { "github_pat_", 16, false },
	{ "glpat-", 16, false }, { "sk_live_", 16, false }, { "sk-", 16, false },
	{ "xoxa-", 8, false }, { "xoxb-", 8, false }, { "xoxp-", 8, false },
	{ "xoxr-", 8, false }, { "xoxs-", 8, false }, { "AKIA", 16, true },
};

static size_t token_chars(const char *s, bool upper)
{
	size_t n = 0;

	while (upper ? (isupper((unsigned char)s[n]) || isdigit((unsigned char)s[n]))
		     : (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-'))
		n++;
	return n;
}

/* A known token prefix at the start of a word, followed by a token's worth of characters. */
static bool has_token_prefix(const char *v)
{
	for (size_t i = 0; v[i]; i++) {
		if (i && (isalnum((unsigned char)v[i - 1]) || v[i - 1] == '_'))
			continue;
		for (size_t k = 0; k < OCC_ARRAY_SIZE(prefixes); k++) {
			size_t pl = strlen(prefixes[k].prefix);

			if (strncmp(v + i, prefixes[k].prefix, pl) == 0 &&
			    token_chars(v + i + pl, prefixes[k].upper) >= prefixes[k].min)
				return true;
		}
	}
	return false;
}

static bool value_is_secret(const char *v)
{
	return has_url_userinfo(v) || is_http_credential(v) || strstr(v, "-----BEGIN") ||
	       has_token_prefix(v);
}

bool occ_env_is_sensitive(const char *key, const char *value)
{
	return (key && key_is_secret(key)) || (value && value_is_secret(value));
}
