/*
 * safety.h - what occ refuses because it would hand the container (or
 * whoever can edit the state file) power over this machine: dangerous bind
 * mount sources, mount targets over the container's account files, and a
 * state file others can write. The loader applies these rules; `occ mount
 * add` asks the same function before it writes anything, so the file and the
 * CLI agree.
 */
#ifndef OCC_SAFETY_H
#define OCC_SAFETY_H

#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"

/*
 * Why bind-mounting the host path source into the container is dangerous,
 * or NULL when it is not. source is absolute; it is normalised ("..", "//",
 * a trailing "/") and, when it exists here, resolved with realpath(3), and
 * both forms are judged. Refused: "/", /etc itself, /etc/shadow*,
 * /etc/gshadow* and /etc/sudoers* (even read-only), anything else below /etc read-write,
 * /proc, /sys, /dev, /boot and below, the Docker socket (DOCKER_HOST's
 * unix:// path, /var/run/docker.sock, /run/docker.sock) and any directory
 * holding it, and the home directory itself. The reason is written into buf
 * (len bytes) and returned. Reads the file system (realpath), nothing else.
 */
const char *occ_mount_source_danger(const char *source, bool readonly, char *buf, size_t len);

/* Why a container path must not be a mount target, or NULL: "/", /etc,
 * /etc/passwd, /etc/shadow, /etc/group, /etc/gshadow, or an ancestor of
 * those (occ writes the accounts there). target is normalised first. */
const char *occ_mount_target_danger(const char *target);

/*
 * Refuse a state file that defines users when someone else could have
 * written it (as ssh refuses such keys): group- or world-writable, owned by
 * neither the user running occ nor root, or in a world-writable directory
 * without the sticky bit. OCC_EINVALID with the file in err and the exact fix
 * (chmod/chown) as the hint; 0 when it is safe. A missing file is not this
 * function's business (0).
 */
int occ_model_check_file_safety(const char *path, struct occ_error *err);

#endif
