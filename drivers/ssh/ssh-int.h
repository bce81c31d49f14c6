/*
 * ssh-int.h - private to drivers/ssh/ (and its tests).
 *
 * The pure parts of the SSH transport, kept apart so they are tested without
 * a network: the ~/.ssh/config subset occ understands (ssh-config.c).
 */
#ifndef OCC_SSH_INT_H
#define OCC_SSH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "model/error.h"

#define OCC_SSH_CONFIG_MAX (1u << 20)   /* a larger ~/.ssh/config is refused */

/*
 * What ~/.ssh/config says about one host alias. Every field NULL / 0 when no
 * matching block sets it. Like ssh(1), the first value found wins, blocks are
 * read in file order, and `Host` patterns are fnmatch(3) globs where a `!`
 * pattern that matches excludes the block. `Match` blocks and `Include` are
 * not understood: their contents are skipped (documented in README).
 */
struct occ_ssh_config {
	char *hostname;       /* HostName, "%h" replaced by the alias */
	char *user;           /* User */
	uint16_t port;        /* Port; 0 when unset */
	char *identity;       /* the first IdentityFile, "~/" expanded with home */
	char *proxy_jump;     /* ProxyJump ("none" is reported as NULL) */
};

/*
 * Parse text (len bytes, need not be NUL-terminated) for alias. name is the
 * file, for messages; home expands "~/". OCC_EINVALID, with err->file and
 * line, for a bad Port or an unterminated quote. Pure. *out is written only
 * on success; release it with occ_ssh__config_release().
 */
int occ_ssh__config_parse(struct occ_ssh_config *out, const char *text, size_t len,
			  const char *alias, const char *name, const char *home,
			  struct occ_error *err);
void occ_ssh__config_release(struct occ_ssh_config *c);

/* Whether a `Host` line's patterns (space-separated, already split into
 * argv) select alias. Pure. */
int occ_ssh__host_matches(const char *const *patterns, size_t n, const char *alias);

#endif
