/*
 * docker-base.h - private to drivers/docker/ (and its tests): the Debian base
 * image of the embedded build, made here when no registry can be reached.
 *
 * The embedded Dockerfile starts FROM ${BASE_IMAGE} (debian:bookworm-slim).
 * Before building it, occ checks that image on the daemon; when it is missing
 * and the pull fails for lack of a registry, occ makes a minbase Debian root
 * filesystem from this machine's apt mirror (mmdebstrap, else debootstrap),
 * as a tarball, and imports it through the Engine API under the base's name,
 * labelled OCC_BASE_LABEL=<tool>. The import is one API call, so a remote
 * daemon (over SSH) receives a tarball made here, when its architecture is
 * this machine's.
 *
 * Three parts: pure functions (debian-mirror.c: apt sources, the suite a base
 * names, the import query), the tool run (rootfs.c: a child process with argv,
 * its output bounded and streamed line by line, its temporary directory
 * removed on every path), and the driver part (docker-base.c).
 */
#ifndef OCC_DOCKER_BASE_H
#define OCC_DOCKER_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"
#include "model/util.h"

#define OCC_BASE_DEFAULT_IMAGE  "debian:bookworm-slim"
#define OCC_BASE_DEFAULT_MIRROR "http://deb.debian.org/debian"
#define OCC_BASE_LABEL          "dev.opencode-cloud.base"
#define OCC_BASE_APT_DIR        "/etc/apt"
#define OCC_BASE_MAX_SOURCES    (1u << 20)   /* bytes read of one apt sources file */
#define OCC_BASE_MAX_URI        1024

/* ---- pure (debian-mirror.c) ------------------------------------------------ */

/* How well an apt source matches the suite asked for. */
enum occ_mirror_rank {
	OCC_MIRROR_NONE = 0,    /* no usable entry */
	OCC_MIRROR_RELATED,     /* an entry of the same archive: "bookworm-updates" */
	OCC_MIRROR_EXACT,       /* an entry of the suite itself */
};

/*
 * The mirror of the best entry for suite in the text of one apt sources file:
 * deb822 (a .sources file: stanzas of Types/URIs/Suites, "Enabled: no"
 * skipped) or one-line ("deb [opts] URI SUITE COMPONENTS..."). Only "deb"
 * entries with an http:// or https:// URI count; security suites and
 * archives (SUITE-security, SUITE/updates, .../debian-security) and
 * cdrom:, file:, tor+ and the like are skipped. The first entry of the best
 * rank wins. *out (malloc'd, no trailing '/') is written only when the rank
 * is not NONE.
 */
enum occ_mirror_rank occ_docker__mirror_in_text(char **out, const char *text, size_t len,
						bool deb822, const char *suite);

/*
 * The mirror apt uses for suite: apt_dir/sources.list, then
 * sources.list.d/ *.list and *.sources in name order, as apt reads them
 * (unreadable or over-large files are skipped). *out is always written:
 * OCC_BASE_DEFAULT_MIRROR when no file names one (the return value is then
 * false). Reads files; no error.
 */
bool occ_docker__mirror_find(char **out, const char *apt_dir, const char *suite);

/* The Debian suite a base reference names, when occ can make it:
 * "debian:bookworm-slim", "debian:bookworm", "docker.io/library/debian:trixie"
 * -> "bookworm", "trixie"; false for other repositories, digests, "latest"
 * and tags that are not a codename. */
bool occ_docker__base_suite(char *out, size_t cap, const char *ref);

/* The default value of `ARG name=VALUE` in a Dockerfile, or NULL (malloc'd). */
char *occ_docker__dockerfile_arg(const char *text, size_t len, const char *name);

/*
 * The POST path that imports a tarball (the request body) as ref, labelled
 * OCC_BASE_LABEL=tool, with the Config Debian's own image has (PATH, CMD
 * bash): "/images/create?fromSrc=-&repo=debian&tag=bookworm-slim&changes=...".
 * OCC_EINVALID for a digest reference.
 */
int occ_docker__import_path(struct occ_strbuf *out, const char *ref, const char *tool,
			    struct occ_error *err);

/* Whether a failed pull's message says no registry could be reached (DNS,
 * connection refused or timed out, network unreachable, TLS or proxy
 * failure), as opposed to an answer from a registry (not found, denied). */
bool occ_docker__pull_unreachable(const char *msg);

/* ---- the tool (rootfs.c) --------------------------------------------------- */

#define OCC_ROOTFS_MAX_LINE   512            /* longer output lines are cut */
#define OCC_ROOTFS_TAIL_LINES 12             /* kept for the error message */
#define OCC_ROOTFS_TIMEOUT_MS (30u * 60 * 1000)

struct occ_rootfs_opts {
	const char *suite;           /* "bookworm" */
	const char *mirror;          /* "http://deb.debian.org/debian" */
	bool gzip;                   /* a .tar.gz (to send over a slow link) */
	/* Each line the tool prints (stdout and stderr), cut at
	 * OCC_ROOTFS_MAX_LINE bytes. May be NULL. */
	void (*line)(void *ctx, const char *line);
	void *ctx;
	const char *tool_path;       /* NULL: find it (tests set it) */
};

struct occ_rootfs {
	char *dir;                   /* private temporary directory, or NULL */
	char *tarball;               /* dir/rootfs.tar[.gz], complete */
	const char *tool;            /* "mmdebstrap" or "debootstrap" */
};

/* Which tool would run: its name, and its path in *path (malloc'd), or NULL
 * when neither is installed. Looks in $PATH, then /usr/sbin, /usr/bin, /sbin. */
const char *occ_docker__rootfs_tool(char **path);

/*
 * Make a minbase root filesystem tarball of o->suite from o->mirror in a new
 * private directory under $TMPDIR (else /var/tmp). mmdebstrap writes the
 * tarball itself (and picks root, unshare or fakeroot mode as it can);
 * debootstrap needs root and its tree is packed with tar --numeric-owner.
 * Tools run from argv (no shell), stdin /dev/null, for at most
 * OCC_ROOTFS_TIMEOUT_MS. *out is filled only on success (release it with
 * occ_docker__rootfs_release); on failure nothing is left behind. Errors:
 * OCC_ENOTFOUND (no tool), OCC_EPERM (debootstrap without root),
 * OCC_EGENERIC (the tool failed: its last lines in the message, the mirror
 * named), OCC_ETIMEOUT, OCC_EIO.
 */
int occ_docker__rootfs_make(struct occ_rootfs *out, const struct occ_rootfs_opts *o,
			    struct occ_error *err);

/* Remove r's directory and everything in it (never crossing into another
 * file system). r may be zeroed. */
void occ_docker__rootfs_release(struct occ_rootfs *r);

#endif
