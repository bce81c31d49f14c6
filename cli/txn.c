/*
 * txn.c - see txn.h.
 */
#include "cli/txn.h"

#include <stdlib.h>
#include <string.h>

#include "reconciler/lock.h"

static int fail(struct occ_cli_txn *t, struct occ_error *err)
{
	if (!err->file[0] || (err->line && strcmp(err->file, t->cli->file) != 0))
		occ_error_at(err, t->cli->file, err->line, err->col);
	occ_cli_print_error(t->cli, err);
	return OCC_EXIT_ERROR;
}

int occ_cli_txn_begin(struct occ_cli_txn *t, struct occ_cli *cli, const char *operation)
{
	struct occ_error err;
	struct occ_state *st = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	t->cli = cli;
	occ_error_clear(&err);
	ret = occ_cli_lock(cli, &t->lock, operation);
	if (ret)
		return ret;
	/* Read again under the lock: another command may have just written it. */
	if (occ_read_file(cli->file, OCC_MAX_FILE_SIZE, &t->orig, &t->orig_len, &err) ||
	    occ_model_load_buffer_flags(&st, t->orig, t->orig_len, cli->file, cli->state->dir,
					cli->load_flags, &err)) {
		ret = fail(t, &err);
		occ_cli_txn_end(t);
		return ret;
	}
	occ_state_free(cli->state);
	cli->state = st;
	t->buf = occ_xstrndup(t->orig, t->orig_len);
	t->len = t->orig_len;
	return 0;
}

static int take(struct occ_cli_txn *t, int ret, char *out, size_t out_len, struct occ_error *err)
{
	if (ret)
		return fail(t, err);
	free(t->buf);
	t->buf = out;
	t->len = out_len;
	return 0;
}

int occ_cli_txn_set(struct occ_cli_txn *t, const char *path, const char *value,
		    enum occ_edit_style style)
{
	struct occ_error err;
	char *out = NULL;
	size_t n = 0;

	int ret;

	occ_error_clear(&err);
	/* Call first: argument evaluation order is unspecified. */
	ret = occ_edit_set(&out, &n, t->buf, t->len, path, value, style, &err);
	return take(t, ret, out, n, &err);
}

int occ_cli_txn_delete(struct occ_cli_txn *t, const char *path)
{
	struct occ_error err;
	char *out = NULL;
	size_t n = 0;

	int ret;

	occ_error_clear(&err);
	ret = occ_edit_delete(&out, &n, t->buf, t->len, path, &err);
	return take(t, ret, out, n, &err);
}

int occ_cli_txn_append(struct occ_cli_txn *t, const char *seq_path,
		       const struct occ_edit_kv *fields, size_t n_fields)
{
	struct occ_error err;
	char *out = NULL;
	size_t n = 0;

	int ret;

	occ_error_clear(&err);
	ret = occ_edit_append(&out, &n, t->buf, t->len, seq_path, fields, n_fields, &err);
	return take(t, ret, out, n, &err);
}

void occ_cli_txn_replace(struct occ_cli_txn *t, const char *text)
{
	free(t->buf);
	t->buf = occ_xstrdup(text);
	t->len = strlen(text);
}

bool occ_cli_txn_changed(const struct occ_cli_txn *t)
{
	return t->len != t->orig_len || memcmp(t->buf, t->orig, t->len) != 0;
}

int occ_cli_txn_commit(struct occ_cli_txn *t)
{
	struct occ_cli *cli = t->cli;
	struct occ_state *st = NULL;
	struct occ_error err;
	char *bak = NULL;
	int ret = 0;

	if (!occ_cli_txn_changed(t))
		return 0;
	occ_error_clear(&err);
	/* Exactly the loader's validation, before anything is written. */
	if (occ_model_load_buffer(&st, t->buf, t->len, cli->file, cli->state->dir, &err)) {
		ret = fail(t, &err);
		goto out;
	}
	bak = occ_xasprintf("%s.bak", cli->file);
	/* Through a symlink to its target; owner, group and mode kept, the
	 * .bak's taken from the file it copies. */
	if (occ_write_file_keep(bak, t->orig, t->orig_len, cli->file, 0600, &err) ||
	    occ_write_file_keep(cli->file, t->buf, t->len, cli->file, 0600, &err)) {
		ret = fail(t, &err);
		goto out;
	}
	occ_cli_verbose(cli, 1, "wrote %s (previous version in %s)\n", cli->file, bak);
	occ_state_free(cli->state);
	cli->state = st;
	st = NULL;
	free(t->orig);
	t->orig = occ_xstrndup(t->buf, t->len);
	t->orig_len = t->len;
out:
	occ_state_free(st);
	free(bak);
	return ret;
}

void occ_cli_txn_end(struct occ_cli_txn *t)
{
	occ_lock_release(t->lock);
	free(t->orig);
	free(t->buf);
	memset(t, 0, sizeof(*t));
}
