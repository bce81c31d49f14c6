/*
 * txn.h - an edit of the user's state file, as one transaction.
 *
 * Imperative commands (stop, user add, mount add, config set ...) begin a
 * transaction (takes the project lock and reads the file), make surgical
 * edits (model/edit.h: comments and layout kept), and commit: the result is
 * validated exactly like the loader validates a file, and only then written,
 * atomically, with the previous version kept as FILE.bak. A failed edit or
 * validation writes nothing. The lock stays held until occ_cli_txn_end(), so
 * the command can reconcile under the same lock.
 */
#ifndef OCC_CLI_TXN_H
#define OCC_CLI_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "model/edit.h"

struct occ_lock;

struct occ_cli_txn {
	struct occ_cli *cli;
	struct occ_lock *lock;
	char *orig;           /* the file as read */
	size_t orig_len;
	char *buf;            /* the file with the edits so far */
	size_t len;
};

/* Lock the project and read the state file (cli->state must be loaded).
 * Reloads cli->state from what was read under the lock. Returns an exit code. */
int occ_cli_txn_begin(struct occ_cli_txn *t, struct occ_cli *cli, const char *operation);

/* Edits; each prints its error (with the file's position) and returns an
 * exit code. */
int occ_cli_txn_set(struct occ_cli_txn *t, const char *path, const char *value,
		    enum occ_edit_style style);
int occ_cli_txn_delete(struct occ_cli_txn *t, const char *path);
int occ_cli_txn_append(struct occ_cli_txn *t, const char *seq_path,
		       const struct occ_edit_kv *fields, size_t n);

/* Replace the whole file (config reset). */
void occ_cli_txn_replace(struct occ_cli_txn *t, const char *text);

/* Whether the edits changed anything. */
bool occ_cli_txn_changed(const struct occ_cli_txn *t);

/* Validate and write (nothing when unchanged); cli->state becomes the new
 * state. Returns an exit code. */
int occ_cli_txn_commit(struct occ_cli_txn *t);

/* Release the lock and the buffers. */
void occ_cli_txn_end(struct occ_cli_txn *t);

#endif
