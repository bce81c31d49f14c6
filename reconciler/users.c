/*
 * users.c - see users.h.
 *
 * Each file is split into lines (without their '\n'); a line occ does not
 * change is written back exactly as read, and so is a missing final newline.
 * Fields are ':'-separated:
 *
 *   passwd  name:password:uid:gid:gecos:home:shell
 *   shadow  name:password:lastchg:min:max:warn:inactive:expire:reserved
 *   group   name:password:gid:members
 *
 * New shadow entries leave lastchg empty (password aging off), which keeps
 * this file free of the clock. Password field values: a hash, "!" + hash
 * (locked), "*" (no password) and "!" (no password, locked).
 */
#include "reconciler/users.h"

#include <stdlib.h>
#include <string.h>

#include "model/util.h"

#define MAX_FIELDS 16
#define MAX_PASSWORD_FILE 4096
#define NO_LINE ((size_t)-1)

static const char PASSWD[] = "/etc/passwd", SHADOW[] = "/etc/shadow", GROUP[] = "/etc/group";

/* One file as lines. NULL entries are lines being dropped. */
struct lines {
	char **v;
	size_t n, alloc;
	size_t no_nl;        /* the input's last line when it had no '\n', else NO_LINE */
	bool present;
};

struct db {
	struct lines pw, sh, gr;
};

/* A line's fields, pointing into it; n counts them all, at most MAX_FIELDS stored. */
struct fields {
	const char *p[MAX_FIELDS];
	size_t len[MAX_FIELDS];
	size_t n;
};

/* A parsed /etc/passwd line. */
struct pwent {
	struct fields f;
	unsigned uid, gid;
	bool valid;          /* seven fields, numeric ids */
	bool marked;         /* valid, in occ's id range and marked: created by occ */
};

/* ---- lines and fields --------------------------------------------------- */

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void lines_push(struct lines *l, char *line)
{
	OCC_GROW(l->v, l->n, l->alloc);
	l->v[l->n++] = line;
}

static int lines_split(struct lines *out, const struct occ_users_file *f, const char *what,
		       struct occ_error *err)
{
	const char *p = f->data, *end = f->data + f->len;

	memset(out, 0, sizeof(*out));
	out->no_nl = NO_LINE;
	out->present = f->present;
	if (!f->present || f->len == 0)
		return 0;
	if (f->len > OCC_USERS_MAX_FILE)
		return occ_error_set(err, OCC_EINVALID, "%s in the container is larger than %d bytes",
				     what, OCC_USERS_MAX_FILE);
	if (memchr(f->data, '\0', f->len))
		return occ_error_set(err, OCC_EINVALID, "%s in the container holds a NUL byte", what);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > OCC_USERS_MAX_LINE)
			return occ_error_set(err, OCC_EINVALID,
					     "line %zu of %s in the container is longer than %d bytes",
					     out->n + 1, what, OCC_USERS_MAX_LINE);
		if (out->n == OCC_USERS_MAX_LINES)
			return occ_error_set(err, OCC_EINVALID, "%s in the container has more than %d lines",
					     what, OCC_USERS_MAX_LINES);
		if (!nl)
			out->no_nl = out->n;
		lines_push(out, occ_xstrndup(p, n));
		p += n + (nl != NULL);
	}
	return 0;
}

/* The new text of a file; its metadata as found, or mode (root's) when new. */
static void lines_render(struct occ_users_file *dst, const struct lines *l,
			 const struct occ_users_file *src, unsigned mode)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t last = NO_LINE;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i])
			last = i;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i])
			continue;
		occ_strbuf_adds(&sb, l->v[i]);
		if (i != l->no_nl || i != last)
			occ_strbuf_addc(&sb, '\n');
	}
	dst->present = src->present || last != NO_LINE;
	dst->mode = src->present ? src->mode : mode;
	dst->uid = src->present ? src->uid : 0;
	dst->gid = src->present ? src->gid : 0;
	dst->len = sb.len;
	dst->data = occ_strbuf_detach(&sb);
}

static void split_fields(const char *s, struct fields *f)
{
	f->n = 0;
	for (;;) {
		const char *c = strchr(s, ':');
		size_t len = c ? (size_t)(c - s) : strlen(s);

		if (f->n < MAX_FIELDS) {
			f->p[f->n] = s;
			f->len[f->n] = len;
		}
		f->n++;
		if (!c)
			return;
		s = c + 1;
	}
}

static bool field_is(const struct fields *f, size_t i, const char *s)
{
	return i < f->n && i < MAX_FIELDS && f->len[i] == strlen(s) &&
	       memcmp(f->p[i], s, f->len[i]) == 0;
}

/* line with field idx (which exists) replaced by value. */
static char *replace_field(const char *line, size_t idx, const char *value)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct fields f;

	split_fields(line, &f);
	occ_strbuf_init(&sb);
	occ_strbuf_add(&sb, line, (size_t)(f.p[idx] - line));
	occ_strbuf_adds(&sb, value);
	occ_strbuf_adds(&sb, f.p[idx] + f.len[idx]);
	return occ_strbuf_detach(&sb);
}

/* Whether line is an entry named name ("name:..."). */
static bool names(const char *line, const char *name)
{
	size_t n = strlen(name);

	return line && strncmp(line, name, n) == 0 && line[n] == ':';
}

/* Number of entries named name in l; *first receives the first one's index. */
static size_t find(const struct lines *l, const char *name, size_t *first)
{
	size_t count = 0;

	*first = NO_LINE;
	for (size_t i = 0; i < l->n; i++) {
		if (!names(l->v[i], name))
			continue;
		if (!count++)
			*first = i;
	}
	return count;
}

static bool parse_id(const char *s, size_t n, unsigned *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 4294967294ULL)   /* (uid_t)-1 means "no id" */
		return false;
	*out = (unsigned)v;
	return true;
}

static bool id_in_range(unsigned id)
{
	return id >= OCC_USERS_ID_MIN && id <= OCC_USERS_ID_MAX;
}

/* The GECOS field's first comma-separated part is the marker. */
static bool gecos_marked(const char *p, size_t n)
{
	size_t m = strlen(OCC_USERS_MARKER);

	return n >= m && memcmp(p, OCC_USERS_MARKER, m) == 0 && (n == m || p[m] == ',');
}

/* Parse a passwd line; false when it names no account (no name, no ':'). */
static bool pw_parse(const char *line, struct pwent *e)
{
	memset(e, 0, sizeof(*e));
	if (!line)
		return false;
	split_fields(line, &e->f);
	if (e->f.n < 2 || e->f.len[0] == 0)
		return false;
	e->valid = e->f.n == 7 && parse_id(e->f.p[2], e->f.len[2], &e->uid) &&
		   parse_id(e->f.p[3], e->f.len[3], &e->gid);
	/* occ only ever makes accounts in its id range: a marked root is not ours */
	e->marked = e->valid && gecos_marked(e->f.p[4], e->f.len[4]) && id_in_range(e->uid) &&
		    id_in_range(e->gid);
	return true;
}

static void db_release(struct db *db)
{
	lines_release(&db->pw);
	lines_release(&db->sh);
	lines_release(&db->gr);
}

static int db_split(struct db *db, const struct occ_users_files *in, struct occ_error *err)
{
	int ret;

	memset(db, 0, sizeof(*db));
	ret = lines_split(&db->pw, &in->passwd, PASSWD, err);
	if (!ret)
		ret = lines_split(&db->sh, &in->shadow, SHADOW, err);
	if (!ret)
		ret = lines_split(&db->gr, &in->group, GROUP, err);
	return ret;
}

/* ---- reading accounts --------------------------------------------------- */

char *occ_users_shadow_field(const char *hash, bool enabled)
{
	if (!hash)
		return occ_xstrdup(enabled ? "*" : "!");
	return occ_xasprintf("%s%s", enabled ? "" : "!", hash);
}

/* The inverse of occ_users_shadow_field. An empty unlocked field (a login
 * without password) gives "", which never equals a desired state. */
static void read_password(const char *p, size_t n, char **hash, bool *locked)
{
	size_t i;

	*locked = n > 0 && p[0] == '!';
	if (*locked) {
		p++;
		n--;
	}
	for (i = 0; i < n && (p[i] == '!' || p[i] == '*'); i++)
		;
	if (n == 0 && !*locked)
		*hash = occ_xstrdup("");
	else if (i == n)
		*hash = NULL;
	else
		*hash = occ_xstrndup(p, n);
}

/* A marked account's hash: /etc/shadow's entry, else the passwd field. */
static void read_hash(struct occ_obs_user *u, const struct db *db, const struct pwent *e)
{
	size_t i;
	struct fields f;

	if (find(&db->sh, u->name, &i)) {
		split_fields(db->sh.v[i], &f);
		read_password(f.p[1], f.len[1], &u->hash, &u->locked);
		return;
	}
	if (field_is(&e->f, 1, "x"))
		return;
	read_password(e->f.p[1], e->f.len[1], &u->hash, &u->locked);
}

static void obs_user_fill(struct occ_obs_user *u, const struct db *db, const char *line)
{
	struct pwent e;

	pw_parse(line, &e);
	u->name = occ_xstrndup(e.f.p[0], e.f.len[0]);
	if (!e.valid)
		return;
	u->uid = e.uid;
	u->gid = e.gid;
	u->home = occ_xstrndup(e.f.p[5], e.f.len[5]);
	u->shell = occ_xstrndup(e.f.p[6], e.f.len[6]);
	u->managed = e.marked;
	if (u->managed)
		read_hash(u, db, &e);
}

/* passwd lines naming an account, sorted by (name, line) so the first wins. */
struct named {
	const char *line;
	size_t name_len;
	size_t idx;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->line, y->line, n);

	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool same_name(const struct named *a, const struct named *b)
{
	return a->name_len == b->name_len && memcmp(a->line, b->line, a->name_len) == 0;
}

int occ_users_parse(struct occ_obs_user **out, size_t *n_out, const struct occ_users_files *in,
		    struct occ_error *err)
{
	struct db db;
	struct named *nm = NULL;
	struct occ_obs_user *users = NULL;
	size_t n = 0, k = 0;
	int ret = db_split(&db, in, err);

	if (ret)
		goto out;
	nm = occ_xcalloc(db.pw.n ? db.pw.n : 1, sizeof(*nm));
	for (size_t i = 0; i < db.pw.n; i++) {
		struct pwent e;

		if (pw_parse(db.pw.v[i], &e))
			nm[n++] = (struct named){ db.pw.v[i], e.f.len[0], i };
	}
	qsort(nm, n, sizeof(*nm), cmp_named);
	users = occ_xcalloc(n ? n : 1, sizeof(*users));
	for (size_t i = 0; i < n; i++)
		if (i == 0 || !same_name(&nm[i - 1], &nm[i]))
			obs_user_fill(&users[k++], &db, nm[i].line);
	*out = users;
	*n_out = k;
	users = NULL;
out:
	free(users);
	free(nm);
	db_release(&db);
	return ret;
}

void occ_users_free(struct occ_obs_user *users, size_t n)
{
	for (size_t i = 0; users && i < n; i++) {
		free(users[i].name);
		free(users[i].home);
		free(users[i].shell);
		free(users[i].hash);
	}
	free(users);
}

/* ---- ids ---------------------------------------------------------------- */

#define N_IDS (OCC_USERS_ID_MAX - OCC_USERS_ID_MIN + 1)
enum { ID_FREE = 0, ID_USED, ID_RESERVED };

static void id_mark(unsigned char *used, unsigned id)
{
	if (id_in_range(id))
		used[id - OCC_USERS_ID_MIN] = ID_USED;
}

static bool id_reserved(const unsigned char *used, unsigned id)
{
	return id_in_range(id) && used[id - OCC_USERS_ID_MIN] == ID_RESERVED;
}

/* Set aside the preferred ids of accounts to create, before any is allocated. */
static void ids_reserve(unsigned char *used, const struct db *db,
			const struct occ_users_request *req)
{
	size_t first;

	for (size_t i = 0; i < req->n_want; i++) {
		unsigned id = req->want[i].prefer_id;

		if (!id_in_range(id) || used[id - OCC_USERS_ID_MIN] != ID_FREE ||
		    !req->want[i].name || find(&db->pw, req->want[i].name, &first))
			continue;
		used[id - OCC_USERS_ID_MIN] = ID_RESERVED;
	}
}

static void id_mark_field(unsigned char *used, const struct fields *f, size_t i)
{
	unsigned id;

	if (i < f->n && parse_id(f->p[i], f->len[i], &id))
		id_mark(used, id);
}

/* Every uid and gid in use in the range occ allocates from, counting lines
 * that are otherwise malformed: an id that looks taken is never handed out. */
static unsigned char *ids_in_use(const struct db *db)
{
	unsigned char *used = occ_xcalloc(N_IDS, 1);
	struct fields f;

	for (size_t i = 0; i < db->pw.n; i++) {
		split_fields(db->pw.v[i], &f);
		id_mark_field(used, &f, 2);
		id_mark_field(used, &f, 3);
	}
	for (size_t i = 0; i < db->gr.n; i++) {
		split_fields(db->gr.v[i], &f);
		id_mark_field(used, &f, 2);
	}
	return used;
}

static int id_alloc(unsigned *out, unsigned char *used, const char *name, struct occ_error *err)
{
	for (unsigned i = 0; i < N_IDS; i++) {
		if (used[i] != ID_FREE)
			continue;
		used[i] = ID_USED;
		*out = OCC_USERS_ID_MIN + i;
		return 0;
	}
	return occ_error_set(err, OCC_EINVALID,
			     "cannot create user '%s': no free uid between %d and %d in the container",
			     name, OCC_USERS_ID_MIN, OCC_USERS_ID_MAX);
}

/* ---- changing accounts -------------------------------------------------- */

int occ_users_conflict(struct occ_error *err, const char *name, const char *state_path,
		       struct occ_pos pos)
{
	occ_error_set(err, OCC_ECONFLICT,
		      "user '%s' already exists in the container and was not created by occ", name);
	occ_error_at(err, state_path, pos.line, pos.col);
	occ_error_hint(err, "occ only changes accounts it created (marked '" OCC_USERS_MARKER
		       "' in /etc/passwd): choose another user name, or remove the account "
		       "from the image");
	return OCC_ECONFLICT;
}

static bool has_any(const char *s, const char *bad)
{
	return s && strpbrk(s, bad) != NULL;
}

/* Values that would break the files' syntax are refused (the loader's rules
 * are stricter; this keeps the files intact whatever the caller passes). */
static int check_want(const struct occ_users_want *w, const char *state_path,
		      struct occ_error *err)
{
	const char *why = NULL;

	if (!w->name || !*w->name || has_any(w->name, ":,\n\r/ ") || w->name[0] == '+' ||
	    w->name[0] == '-' || strlen(w->name) > 32)
		why = "the user name cannot be used in /etc/passwd";
	else if (has_any(w->shell, ":\n\r"))
		why = "the shell cannot be used in /etc/passwd";
	else if (w->hash && (!*w->hash || w->hash[0] == '!' || has_any(w->hash, ":\n\r") ||
			     strlen(w->hash) > OCC_USERS_MAX_HASH))
		why = "the password hash cannot be used in /etc/shadow";
	if (!why)
		return 0;
	occ_error_set(err, OCC_EINVALID, "user '%s': %s",
		      w->name && !has_any(w->name, "\n\r") ? w->name : "?", why);
	occ_error_at(err, state_path, w->pos.line, w->pos.col);
	return OCC_EINVALID;
}

/* Set the shadow password of name, appending an entry when there is none. */
static void set_shadow(struct db *db, const char *name, const char *field)
{
	bool found = false;
	struct fields f;

	for (size_t i = 0; i < db->sh.n; i++) {
		if (!names(db->sh.v[i], name))
			continue;
		found = true;
		split_fields(db->sh.v[i], &f);
		if (!field_is(&f, 1, field)) {
			char *line = replace_field(db->sh.v[i], 1, field);

			free(db->sh.v[i]);
			db->sh.v[i] = line;
		}
	}
	if (!found)
		lines_push(&db->sh, occ_xasprintf("%s:%s::0:99999:7:::", name, field));
}

static void set_pw_field(struct lines *l, size_t i, size_t idx, const char *value)
{
	struct fields f;
	char *line;

	split_fields(l->v[i], &f);
	if (field_is(&f, idx, value))
		return;
	line = replace_field(l->v[i], idx, value);
	free(l->v[i]);
	l->v[i] = line;
}

static void update_account(struct db *db, size_t i, const struct occ_users_want *w)
{
	char *pw = occ_users_shadow_field(w->hash, w->enabled);

	set_pw_field(&db->pw, i, 1, "x");
	set_pw_field(&db->pw, i, 6, w->shell ? w->shell : "");
	set_shadow(db, w->name, pw);
	free(pw);
}

static void push_home(struct occ_users_result *res, const char *name, unsigned id)
{
	struct occ_users_home *h;

	res->homes = occ_xrealloc(res->homes, (res->n_homes + 1) * sizeof(*res->homes));
	h = &res->homes[res->n_homes++];
	h->path = occ_xasprintf("/home/%s", name);
	h->uid = h->gid = id;
}

static int create_account(struct db *db, unsigned char *used, const struct occ_users_want *w,
			  const char *state_path, struct occ_users_result *res,
			  struct occ_error *err)
{
	unsigned id = 0;
	size_t i;
	char *pw;

	if (find(&db->gr, w->name, &i)) {
		occ_error_set(err, OCC_ECONFLICT, "cannot create user '%s': a group of that name "
			      "already exists in the container", w->name);
		occ_error_at(err, state_path, w->pos.line, w->pos.col);
		occ_error_hint(err, "choose another user name, or remove the group from the image");
		return OCC_ECONFLICT;
	}
	if (id_reserved(used, w->prefer_id)) {
		id = w->prefer_id;
		used[id - OCC_USERS_ID_MIN] = ID_USED;
	} else if (id_alloc(&id, used, w->name, err)) {
		return err->code;
	}
	lines_push(&db->pw, occ_xasprintf("%s:x:%u:%u:" OCC_USERS_MARKER ":/home/%s:%s", w->name,
					  id, id, w->name, w->shell ? w->shell : ""));
	lines_push(&db->gr, occ_xasprintf("%s:x:%u:", w->name, id));
	pw = occ_users_shadow_field(w->hash, w->enabled);
	set_shadow(db, w->name, pw);
	free(pw);
	push_home(res, w->name, id);
	return 0;
}

static int apply_want(struct db *db, unsigned char *used, const struct occ_users_want *w,
		      const char *state_path, struct occ_users_result *res, struct occ_error *err)
{
	struct pwent e;
	size_t i, count;
	int ret = check_want(w, state_path, err);

	if (ret)
		return ret;
	count = find(&db->pw, w->name, &i);
	if (count == 0)
		return create_account(db, used, w, state_path, res, err);
	pw_parse(db->pw.v[i], &e);
	if (!e.marked)
		return occ_users_conflict(err, w->name, state_path, w->pos);
	if (count > 1) {
		occ_error_set(err, OCC_ECONFLICT, "user '%s' appears more than once in /etc/passwd "
			      "of the container", w->name);
		occ_error_at(err, state_path, w->pos.line, w->pos.col);
		occ_error_hint(err, "remove the extra lines from the image's /etc/passwd");
		return OCC_ECONFLICT;
	}
	update_account(db, i, w);
	return 0;
}

/* members with name taken out of the comma-separated list; NULL when absent. */
static char *without_member(const char *members, size_t len, const char *name)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	size_t start = 0, name_len = strlen(name), kept = 0;
	bool found = false;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && members[i] != ',')
			continue;
		if (i - start == name_len && memcmp(members + start, name, name_len) == 0) {
			found = true;
		} else {
			if (kept++)
				occ_strbuf_addc(&sb, ',');
			occ_strbuf_add(&sb, members + start, i - start);
		}
		start = i + 1;
	}
	if (!found) {
		occ_strbuf_release(&sb);
		return NULL;
	}
	return occ_strbuf_detach(&sb);
}

static void drop_group_refs(struct db *db, const char *name, unsigned gid, bool own_group)
{
	struct fields f;
	unsigned g;

	for (size_t i = 0; i < db->gr.n; i++) {
		char *m, *line;

		if (!db->gr.v[i])
			continue;
		split_fields(db->gr.v[i], &f);
		if (own_group && names(db->gr.v[i], name) && f.n >= 3 &&
		    parse_id(f.p[2], f.len[2], &g) && g == gid) {
			free(db->gr.v[i]);
			db->gr.v[i] = NULL;
			continue;
		}
		if (f.n != 4 || !(m = without_member(f.p[3], f.len[3], name)))
			continue;
		line = replace_field(db->gr.v[i], 3, m);
		free(m);
		free(db->gr.v[i]);
		db->gr.v[i] = line;
	}
}

static void drop_named(struct lines *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		if (names(l->v[i], name)) {
			free(l->v[i]);
			l->v[i] = NULL;
		}
	}
}

static int remove_account(struct db *db, const char *name, struct occ_error *err)
{
	struct pwent e;
	bool have_gid = false;
	unsigned gid = 0;

	for (size_t i = 0; i < db->pw.n; i++) {
		if (!names(db->pw.v[i], name))
			continue;
		pw_parse(db->pw.v[i], &e);
		if (!e.marked)
			return occ_error_set(err, OCC_ECONFLICT, "refusing to remove user '%s': the "
					     "account was not created by occ", name);
		if (!have_gid) {
			gid = e.gid;
			have_gid = true;
		}
	}
	if (!have_gid)
		return 0;     /* gone already */
	drop_named(&db->pw, name);
	drop_named(&db->sh, name);
	drop_group_refs(db, name, gid, true);
	return 0;
}

static bool wanted(const struct occ_users_request *req, const char *name, size_t len)
{
	for (size_t i = 0; i < req->n_want; i++)
		if (strlen(req->want[i].name) == len && memcmp(req->want[i].name, name, len) == 0)
			return true;
	return false;
}

/* The removals asked for, plus every marked account not wanted when pruning. */
static char **names_to_remove(const struct db *db, const struct occ_users_request *req,
			      size_t *n_out)
{
	char **v = occ_xcalloc(req->n_remove + db->pw.n + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < req->n_remove; i++)
		v[n++] = occ_xstrdup(req->remove[i]);
	for (size_t i = 0; req->prune && i < db->pw.n; i++) {
		struct pwent e;

		if (pw_parse(db->pw.v[i], &e) && e.marked && !wanted(req, e.f.p[0], e.f.len[0]))
			v[n++] = occ_xstrndup(e.f.p[0], e.f.len[0]);
	}
	*n_out = n;
	return v;
}

static int cmp_want_ptr(const void *a, const void *b)
{
	const struct occ_users_want *x = *(const struct occ_users_want *const *)a;
	const struct occ_users_want *y = *(const struct occ_users_want *const *)b;

	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int apply_wants(struct db *db, unsigned char *used, const struct occ_users_request *req,
		       struct occ_users_result *res, struct occ_error *err)
{
	const struct occ_users_want **order = occ_xcalloc(req->n_want + 1, sizeof(*order));
	int ret = 0;

	for (size_t i = 0; i < req->n_want; i++)
		order[i] = &req->want[i];
	qsort(order, req->n_want, sizeof(*order), cmp_want_ptr);
	for (size_t i = 0; !ret && i < req->n_want; i++) {
		if (i && cmp_want_ptr(&order[i - 1], &order[i]) == 0)
			ret = occ_error_set(err, OCC_EINVALID, "user '%s' is listed twice",
					    order[i]->name);
		else
			ret = apply_want(db, used, order[i], req->state_path, res, err);
	}
	free(order);
	return ret;
}

static bool file_changed(const struct occ_users_file *a, const struct occ_users_file *b)
{
	return a->present != b->present || a->len != b->len ||
	       (a->len && memcmp(a->data, b->data, a->len) != 0);
}

static size_t count_marked(const struct lines *pw)
{
	size_t n = 0;
	struct pwent e;

	for (size_t i = 0; i < pw->n; i++)
		n += pw_parse(pw->v[i], &e) && e.marked;
	return n;
}

int occ_users_compute(struct occ_users_result *out, const struct occ_users_files *in,
		      const struct occ_users_request *req, struct occ_error *err)
{
	struct occ_users_result res = { 0 };
	unsigned char *used = NULL;
	char **gone = NULL;
	size_t n_gone = 0;
	struct db db;
	int ret = db_split(&db, in, err);

	if (ret)
		goto out;
	used = ids_in_use(&db);  /* before removals: a freed id is not handed out again at once */
	gone = names_to_remove(&db, req, &n_gone);
	for (size_t i = 0; !ret && i < n_gone; i++)
		ret = remove_account(&db, gone[i], err);
	if (!ret) {
		ids_reserve(used, &db, req);
		ret = apply_wants(&db, used, req, &res, err);
	}
	if (ret)
		goto out;
	lines_render(&res.files.passwd, &db.pw, &in->passwd, 0644);
	lines_render(&res.files.shadow, &db.sh, &in->shadow, 0600);
	lines_render(&res.files.group, &db.gr, &in->group, 0644);
	res.n_managed = count_marked(&db.pw);
	res.changed = file_changed(&res.files.passwd, &in->passwd) ||
		      file_changed(&res.files.shadow, &in->shadow) ||
		      file_changed(&res.files.group, &in->group);
	*out = res;
	memset(&res, 0, sizeof(res));
out:
	occ_users_result_release(&res);
	for (size_t i = 0; i < n_gone; i++)
		free(gone[i]);
	free(gone);
	free(used);
	db_release(&db);
	return ret;
}

static void file_release(struct occ_users_file *f)
{
	free(f->data);
	memset(f, 0, sizeof(*f));
}

void occ_users_files_release(struct occ_users_files *f)
{
	file_release(&f->passwd);
	file_release(&f->shadow);
	file_release(&f->group);
}

void occ_users_result_release(struct occ_users_result *r)
{
	occ_users_files_release(&r->files);
	for (size_t i = 0; i < r->n_homes; i++)
		free(r->homes[i].path);
	free(r->homes);
	memset(r, 0, sizeof(*r));
}

/* ---- passwords (I/O) ---------------------------------------------------- */

static bool crypt_chars(const char *s)
{
	for (; *s; s++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			  (*s >= '0' && *s <= '9') || strchr("./$,=", *s);

		if (!ok)
			return false;
	}
	return true;
}

/* Trim white space around s in place; whether what is left looks like a
 * crypt hash ("$id$..." in crypt's alphabet). */
static bool trim_hash(char *s)
{
	size_t n = strlen(s), start = 0;

	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	while (start < n && strchr(" \t\r\n", s[start]))
		start++;
	memmove(s, s + start, n - start + 1);
	n -= start;
	return n > 1 && n <= OCC_USERS_MAX_HASH && s[0] == '$' && crypt_chars(s);
}

static int resolve_fail(struct occ_error *err, const struct occ_user *u, const char *state_path)
{
	occ_error_at(err, state_path, u->pos.line, u->pos.col);
	return err->code;
}

static int from_file(char **out, const struct occ_user *u, const char *state_path,
		     struct occ_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int ret = occ_read_file(u->password_file, MAX_PASSWORD_FILE, &text, &len, err);

	if (ret) {
		occ_error_prefix(err, "user '%s': password_file", u->name);
		occ_error_hint(err, "write the user's crypt(3) hash into the file "
			       "(mkpasswd -m yescrypt > FILE), or use password_hash");
		return resolve_fail(err, u, state_path);
	}
	if (strlen(text) != len || !trim_hash(text)) {
		free(text);
		occ_error_set(err, OCC_EINVALID, "user '%s': password_file '%s' does not hold a "
			      "crypt(3) password hash", u->name, u->password_file);
		occ_error_hint(err, "the file holds one line: a hash such as mkpasswd -m yescrypt "
			       "prints, never the password itself");
		return resolve_fail(err, u, state_path);
	}
	*out = text;
	return 0;
}

static int from_env(char **out, const struct occ_user *u, const char *state_path,
		    struct occ_error *err)
{
	const char *v = getenv(u->password_env);
	char *s;

	if (!v) {
		occ_error_set(err, OCC_ENOTFOUND, "user '%s': password_env: environment variable "
			      "'%s' is not set", u->name, u->password_env);
		occ_error_hint(err, "export %s with the user's crypt(3) hash in the environment "
			       "occ runs in", u->password_env);
		return resolve_fail(err, u, state_path);
	}
	s = occ_xstrdup(v);
	if (strlen(s) > MAX_PASSWORD_FILE || !trim_hash(s)) {
		free(s);
		occ_error_set(err, OCC_EINVALID, "user '%s': environment variable '%s' "
			      "(password_env) does not hold a crypt(3) password hash", u->name,
			      u->password_env);
		occ_error_hint(err, "set it to a hash such as mkpasswd -m yescrypt prints, never "
			       "the password itself");
		return resolve_fail(err, u, state_path);
	}
	*out = s;
	return 0;
}

int occ_users_resolve_password(char **out, const struct occ_user *u, const char *state_path,
			       struct occ_error *err)
{
	char *s;

	switch (u->pw_source) {
	case OCC_PW_NONE:
		*out = NULL;
		return 0;
	case OCC_PW_FILE:
		return from_file(out, u, state_path, err);
	case OCC_PW_ENV:
		return from_env(out, u, state_path, err);
	case OCC_PW_HASH:
		break;
	}
	s = occ_xstrdup(u->password_hash ? u->password_hash : "");
	if (!trim_hash(s) || !occ_streq(s, u->password_hash)) {
		free(s);
		occ_error_set(err, OCC_EINVALID, "user '%s': password_hash is not a crypt(3) "
			      "password hash", u->name);
		return resolve_fail(err, u, state_path);
	}
	*out = s;
	return 0;
}

int occ_users_want_init(struct occ_users_want *out, const struct occ_user *u,
			const char *state_path, struct occ_error *err)
{
	char *hash = NULL;
	int ret = occ_users_resolve_password(&hash, u, state_path, err);

	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->name = occ_xstrdup(u->name);
	out->hash = hash;
	out->enabled = u->enabled;
	out->shell = occ_xstrdup(u->shell);
	out->pos = u->pos;
	return 0;
}

void occ_users_want_release(struct occ_users_want *w)
{
	free(w->name);
	free(w->hash);
	free(w->shell);
	memset(w, 0, sizeof(*w));
}
