/*
 * lock.h - one lock per project, so two occ processes never interleave.
 *
 * The lock is an flock(2) on <data dir>/locks/<project>.lock. The kernel drops
 * it when the holder exits, however it exits, so a crashed occ never leaves a
 * stale lock; the file's contents (pid, host, operation, start time) only
 * serve to tell a waiting user who holds it.
 */
#ifndef OCC_LOCK_H
#define OCC_LOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "model/error.h"

struct occ_lock;

struct occ_lock_holder {
	pid_t pid;
	char host[256];
	char operation[64];
	int64_t started;      /* unix seconds, 0 when unknown */
};

/* Called once when the lock is busy and the caller is about to wait. */
typedef void (*occ_lock_wait_fn)(void *ctx, const struct occ_lock_holder *holder);

/*
 * Take the lock of project. dir is the directory for lock files (NULL: the
 * default under occ_data_dir()). timeout_ms < 0 waits forever; 0 fails at
 * once when busy. Returns OCC_ELOCKED (message names the holder) on timeout.
 */
int occ_lock_acquire(struct occ_lock **out, const char *dir, const char *project,
		     const char *operation, int64_t timeout_ms, occ_lock_wait_fn wait_fn,
		     void *ctx, struct occ_error *err);

/* Release and free; NULL is a no-op. */
void occ_lock_release(struct occ_lock *lock);

/* Read the holder recorded in the lock file of project (best effort). */
int occ_lock_read_holder(struct occ_lock_holder *out, const char *dir, const char *project,
			 struct occ_error *err);

#endif
