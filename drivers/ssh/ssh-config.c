/*
 * ssh-config.c - the part of ssh_config(5) occ needs to find a host.
 *
 * Lines are "Keyword value" or "Keyword=value", keywords case-insensitive,
 * '#' starts a comment line, values may be double-quoted. Only the keywords
 * that decide where and as whom to connect are kept; the rest are ignored, as
 * are `Match` blocks (their conditions need a running ssh to evaluate).
 */
#include "drivers/ssh/ssh-int.h"

#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/util.h"

#define MAX_ARGS 64

/* One line split into words; quotes removed. */
struct words {
	const char *v[MAX_ARGS];
	size_t n;
	char buf[4096];
};

/* Split line (NUL-terminated) into w. The first word may end with '='.
 * Returns -1 for an unterminated quote. Words past MAX_ARGS are dropped. */
static int split(struct words *w, const char *line)
{
	const char *p = line;
	size_t o = 0;

	w->n = 0;
	for (;;) {
		bool quoted = false;

		while (*p == ' ' || *p == '\t' || (w->n == 1 && *p == '=' && !quoted))
			p++;
		if (!*p)
			return 0;
		if (w->n < MAX_ARGS)
			w->v[w->n] = w->buf + o;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && !(w->n == 0 && *p == '=')))) {
			if (*p == '"')
				quoted = !quoted;
			else if (o + 1 < sizeof(w->buf))
				w->buf[o++] = *p;
			p++;
		}
		if (quoted)
			return -1;
		w->buf[o < sizeof(w->buf) ? o++ : o - 1] = '\0';
		if (w->n < MAX_ARGS)
			w->n++;
		if (w->n == 1 && *p == '=')
			p++;
	}
}

int occ_ssh__host_matches(const char *const *patterns, size_t n, const char *alias)
{
	bool any = false;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *pat = patterns[i];
		bool negate = pat[0] == '!';

		if (fnmatch(negate ? pat + 1 : pat, alias, 0) != 0)
			continue;
		if (negate)
			return 0;
		any = true;
	}
	return any;
}

/* "%h" -> alias, "%%" -> "%"; other tokens are kept as written. */
static char *expand_tokens(const char *s, const char *alias)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (; *s; s++) {
		if (s[0] == '%' && s[1] == 'h') {
			occ_strbuf_adds(&sb, alias);
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			occ_strbuf_addc(&sb, '%');
			s++;
		} else {
			occ_strbuf_addc(&sb, *s);
		}
	}
	return occ_strbuf_detach(&sb);
}

static char *expand_home(const char *s, const char *home)
{
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0'))
		return occ_xasprintf("%s%s", home, s + 1);
	return occ_xstrdup(s);
}

/* Apply one keyword of a matching block; first value wins. */
static int apply(struct occ_ssh_config *c, const struct words *w, const char *alias,
		 const char *home, struct occ_error *err)
{
	const char *k = w->v[0], *v = w->n > 1 ? w->v[1] : NULL;
	long port;

	if (!v)
		return 0;
	if (strcasecmp(k, "HostName") == 0 && !c->hostname) {
		c->hostname = expand_tokens(v, alias);
	} else if (strcasecmp(k, "User") == 0 && !c->user) {
		c->user = occ_xstrdup(v);
	} else if (strcasecmp(k, "Port") == 0 && !c->port) {
		if (occ_parse_long(v, 1, 65535, &port) != 0)
			return occ_error_set(err, OCC_EINVALID, "bad Port '%s' (1-65535)", v);
		c->port = (uint16_t)port;
	} else if (strcasecmp(k, "IdentityFile") == 0 && !c->identity) {
		char *t = expand_tokens(v, alias);

		c->identity = expand_home(t, home);
		free(t);
	} else if (strcasecmp(k, "ProxyJump") == 0 && !c->proxy_jump) {
		/* "none" still counts as the first value: later ones are ignored. */
		c->proxy_jump = occ_xstrdup(v);
	}
	return 0;
}

int occ_ssh__config_parse(struct occ_ssh_config *out, const char *text, size_t len,
			  const char *alias, const char *name, const char *home,
			  struct occ_error *err)
{
	struct occ_ssh_config c = { 0 };
	struct words *w = occ_xmalloc(sizeof(*w));
	bool active = true;     /* before any Host line, everything applies */
	size_t pos = 0;
	int line_no = 0, ret = 0;

	while (pos < len) {
		size_t end = pos;
		char *line;

		while (end < len && text[end] != '\n')
			end++;
		line = occ_xstrndup(text + pos, end - pos);
		pos = end + 1;
		line_no++;
		if (strchr(line, '\r'))
			*strchr(line, '\r') = '\0';
		if (split(w, line) < 0) {
			ret = occ_error_set(err, OCC_EINVALID, "unterminated quote");
		} else if (w->n == 0 || w->v[0][0] == '#') {
			/* blank or comment */
		} else if (strcasecmp(w->v[0], "Host") == 0) {
			active = occ_ssh__host_matches(w->v + 1, w->n - 1, alias);
		} else if (strcasecmp(w->v[0], "Match") == 0) {
			active = false;
		} else if (active) {
			ret = apply(&c, w, alias, home, err);
		}
		free(line);
		if (ret) {
			occ_error_at(err, name, line_no, 1);
			goto out;
		}
	}
	if (c.proxy_jump && strcasecmp(c.proxy_jump, "none") == 0) {
		free(c.proxy_jump);
		c.proxy_jump = NULL;
	}
out:
	free(w);
	if (ret) {
		occ_ssh__config_release(&c);
		return ret;
	}
	*out = c;
	return 0;
}

void occ_ssh__config_release(struct occ_ssh_config *c)
{
	free(c->hostname);
	free(c->user);
	free(c->identity);
	free(c->proxy_jump);
	memset(c, 0, sizeof(*c));
}

int occ_ssh__parse_jump(struct occ_ssh_jump_spec *out, const char *spec, struct occ_error *err)
{
	struct occ_ssh_jump_spec j = { 0 };
	const char *p = spec, *at, *colon = NULL, *end;
	long port;

	if (strchr(spec, ','))
		return occ_error_set(err, OCC_EPERM,
				     "ProxyJump '%s': several jump hosts are not supported", spec);
	if (occ_starts_with(p, "ssh://"))
		p += strlen("ssh://");
	at = strrchr(p, '@');
	if (at) {
		j.user = occ_xstrndup(p, (size_t)(at - p));
		p = at + 1;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			goto bad;
		j.host = occ_xstrndup(p + 1, (size_t)(end - p - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			goto bad;
	} else {
		colon = strchr(p, ':');
		j.host = colon ? occ_xstrndup(p, (size_t)(colon - p)) : occ_xstrdup(p);
	}
	if (!j.host[0])
		goto bad;
	if (colon) {
		if (occ_parse_long(colon + 1, 1, 65535, &port) != 0)
			goto bad;
		j.port = (uint16_t)port;
	}
	*out = j;
	return 0;
bad:
	occ_ssh__jump_spec_release(&j);
	return occ_error_set(err, OCC_EINVALID,
			     "ProxyJump '%s' is not [user@]host[:port]", spec);
}

void occ_ssh__jump_spec_release(struct occ_ssh_jump_spec *j)
{
	free(j->user);
	free(j->host);
	memset(j, 0, sizeof(*j));
}
