/*
 * docker-users.c - accounts inside the container, through the archive API.
 *
 * GET /containers/{id}/archive?path=/etc answers with a tar of /etc, read as
 * it streams in for passwd, shadow and group: no tool is needed in the image
 * and it works on a container that was never started. Changes go back as one
 * PUT of a tar extracted at "/": etc/passwd, etc/shadow, etc/group and the
 * home directories of new accounts. Extracting at "/" rather than "/etc"
 * creates /etc and /home when an image (FROM scratch) has neither. Owners
 * travel in the tar headers (copyUIDGID would give everything the container
 * user's ids): files root, shadow keeping the owner and mode it had (never
 * world-readable), homes their account's uid/gid with mode 0750. Docker
 * replaces each file (remove + create), so the PUT is not atomic per file,
 * but all three files land in one request.
 *
 * A home is made only for an account created by this write, and never when
 * a bind mount of the state file targets exactly that path (occ would chown
 * a directory of the host). Removing an account keeps its home.
 */
#include "drivers/docker/docker-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/password.h"
#include "reconciler/users.h"

#define BLOCK 512

/*
 * Written next to the accounts whenever occ's accounts exist. Without desired
 * users, observing only has to find accounts occ made (to remove them), and
 * the marker answers that in ~1 ms: dockerd re-executes itself into a chroot
 * for every archive GET that finds its path (~45 ms here), but a HEAD is a
 * stat (marker_present). The archive API cannot delete, so the marker stays
 * after the last account is gone; observing then reads the accounts.
 */
#define ACCOUNTS_MARKER "/etc/occ-managed-accounts"
static const char marker_text[] =
	"# occ (opencode-cloud) manages the accounts marked '" OCC_USERS_MARKER "' in\n"
	"# /etc/passwd; it never touches other accounts.\n";

/* ---- tar (pure) --------------------------------------------------------- */

/* A numeric header field: octal, or base-256 when the high bit is set. */
static bool tar_num(const unsigned char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {
		v = p[0] & 0x7f;
		for (i = 1; i < n; i++) {
			if (v >> 55)
				return false;
			v = v << 8 | p[i];
		}
		*out = v;
		return true;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v << 3 | (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return false;
	*out = v;
	return true;
}

static bool zero_block(const unsigned char *h)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (h[i])
			return false;
	return true;
}

static int damaged(struct occ_error *err)
{
	return occ_error_set(err, OCC_EAPI, "the archive of /etc sent by Docker is damaged");
}

void occ_docker__etc_init(struct occ_docker_etc *r, struct occ_users_files *out)
{
	memset(r, 0, sizeof(*r));
	occ_strbuf_init(&r->meta);
	r->out = out;
}

void occ_docker__etc_release(struct occ_docker_etc *r)
{
	occ_strbuf_release(&r->meta);
	free(r->next_name);
	r->next_name = NULL;
}

/* prefix/name of a header; POSIX ustar only (GNU keeps times in the prefix). */
static void header_name(char *out, size_t cap, const unsigned char *h)
{
	const char *name = (const char *)h, *prefix = (const char *)h + 345;
	bool posix = memcmp(h + 257, "ustar\0", 6) == 0;

	if (posix && prefix[0])
		snprintf(out, cap, "%.155s/%.100s", prefix, name);
	else
		snprintf(out, cap, "%.100s", name);
}

/* Where the content of the entry called name goes, or NULL: not wanted. */
static struct occ_users_file *slot(struct occ_docker_etc *r, const char *name)
{
	while (*name == '/' || (name[0] == '.' && name[1] == '/'))
		name += *name == '/' ? 1 : 2;
	if (!strcmp(name, "etc/passwd"))
		return &r->out->passwd;
	if (!strcmp(name, "etc/shadow"))
		return &r->out->shadow;
	if (!strcmp(name, "etc/group"))
		return &r->out->group;
	return NULL;
}

static const char *slot_name(const struct occ_docker_etc *r, const struct occ_users_file *f)
{
	if (f == &r->out->passwd)
		return "/etc/passwd";
	return f == &r->out->shadow ? "/etc/shadow" : "/etc/group";
}

static int start_file(struct occ_docker_etc *r, struct occ_users_file *f, const unsigned char *h,
		      uint64_t size, const char *name, struct occ_error *err)
{
	uint64_t mode, uid, gid;
	char type = (char)h[156];

	if (type != '0' && type != '\0' && type != '7')
		return occ_error_set(err, OCC_EINVALID, "%s in the container is not a regular "
				     "file; occ edits only regular files", name);
	if (size > OCC_USERS_MAX_FILE)
		return occ_error_set(err, OCC_EINVALID, "%s in the container is larger than %d bytes",
				     name, OCC_USERS_MAX_FILE);
	if (f->present || !tar_num(h + 100, 8, &mode) || !tar_num(h + 108, 8, &uid) ||
	    !tar_num(h + 116, 8, &gid) || uid > 0xfffffffeu || gid > 0xfffffffeu)
		return damaged(err);
	f->present = true;
	f->data = occ_xmalloc((size_t)size + 1);
	f->data[0] = '\0';
	f->len = 0;
	f->mode = (unsigned)(mode & 07777);
	f->uid = (unsigned)uid;
	f->gid = (unsigned)gid;
	r->cur = f;
	return 0;
}

#define MAX_META (64 * 1024)

static int take_header(struct occ_docker_etc *r, struct occ_error *err)
{
	const unsigned char *h = r->hdr;
	char name[300];
	const char *use;
	struct occ_users_file *f;
	uint64_t size;
	char type = (char)h[156];
	int ret = 0;

	if (zero_block(h)) {
		r->end = true;
		return 0;
	}
	if (memcmp(h + 257, "ustar", 5) != 0 || !tar_num(h + 124, 12, &size) ||
	    size > UINT64_MAX - BLOCK)
		return damaged(err);
	r->left = size;
	r->pad = (BLOCK - size % BLOCK) % BLOCK;
	if (type == 'x' || type == 'L') {
		r->meta_kind = type;
		occ_strbuf_reset(&r->meta);
		return size > MAX_META ? damaged(err) : 0;
	}
	if (type == 'g' || type == 'K')
		return 0;
	header_name(name, sizeof(name), h);
	use = r->next_name ? r->next_name : name;
	f = slot(r, use);
	if (f)
		ret = start_file(r, f, h, size, slot_name(r, f), err);
	free(r->next_name);
	r->next_name = NULL;
	return ret;
}

/* The decimal length in [p, end), at most MAX_META. */
static bool record_len(const char *p, const char *end, long *out)
{
	long v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > MAX_META)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

/* A PAX record set or GNU long name is complete: the next entry's name. */
static void end_meta(struct occ_docker_etc *r)
{
	const char *p = r->meta.buf, *end = r->meta.buf + r->meta.len;

	free(r->next_name);
	r->next_name = NULL;
	if (r->meta_kind == 'L') {
		r->next_name = occ_xstrndup(p, strnlen(p, r->meta.len));
		return;
	}
	while (p < end) {   /* "<len> key=value\n", len counting the whole record */
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		long len;

		if (!sp || !record_len(p, sp, &len) || len > end - p || len <= sp - p + 1)
			return;
		if (p[len - 1] == '\n' && occ_starts_with(sp + 1, "path=") &&
		    sp + 1 + 5 <= p + len - 1)
			r->next_name = occ_xstrndup(sp + 6, (size_t)(p + len - 1 - (sp + 6)));
		p += len;
	}
}

static void take_data(struct occ_docker_etc *r, const char *data, size_t k)
{
	if (r->cur) {
		memcpy(r->cur->data + r->cur->len, data, k);
		r->cur->len += k;
		r->cur->data[r->cur->len] = '\0';
	} else if (r->meta_kind) {
		occ_strbuf_add(&r->meta, data, k);
	}
	r->left -= k;
	if (r->left)
		return;
	if (r->meta_kind)
		end_meta(r);
	r->cur = NULL;
	r->meta_kind = 0;
}

/* Fill the header block from data; returns the bytes used. */
static size_t fill_header(struct occ_docker_etc *r, const char *data, size_t n, int *ret,
			  struct occ_error *err)
{
	size_t k = BLOCK - r->hdr_len < n ? BLOCK - r->hdr_len : n;

	memcpy(r->hdr + r->hdr_len, data, k);
	r->hdr_len += k;
	if (r->hdr_len < BLOCK)
		return k;
	r->hdr_len = 0;
	*ret = take_header(r, err);
	if (!*ret && !r->left && (r->cur || r->meta_kind))
		take_data(r, data, 0);   /* an empty entry is complete at once */
	return k;
}

int occ_docker__etc_feed(struct occ_docker_etc *r, const char *data, size_t n,
			 struct occ_error *err)
{
	int ret = 0;

	while (n && !r->end && !ret) {
		size_t k;

		if (r->left) {
			k = n < r->left ? n : (size_t)r->left;
			take_data(r, data, k);
		} else if (r->pad) {
			k = n < r->pad ? n : (size_t)r->pad;
			r->pad -= k;
		} else {
			k = fill_header(r, data, n, &ret, err);
		}
		data += k;
		n -= k;
	}
	return ret;
}

int occ_docker__etc_finish(struct occ_docker_etc *r, struct occ_error *err)
{
	if (r->hdr_len || r->left || r->pad)
		return damaged(err);
	return 0;
}

static void octal(char *dst, size_t width, uint64_t v)
{
	dst[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0; v >>= 3)
		dst[i] = (char)('0' + (v & 7));
}

static void tar_entry(struct occ_strbuf *out, const char *name, char type, unsigned mode,
		      unsigned uid, unsigned gid, const char *data, size_t size, int64_t mtime)
{
	static const char zero[BLOCK];
	unsigned char h[BLOCK];
	char *f = (char *)h;
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	memcpy(f, name, strlen(name));   /* callers keep names under 100 bytes */
	octal(f + 100, 8, mode);
	octal(f + 108, 8, uid);
	octal(f + 116, 8, gid);
	octal(f + 124, 12, size);
	octal(f + 136, 12, mtime > 0 ? (uint64_t)mtime : 0);
	memset(f + 148, ' ', 8);
	f[156] = type;
	memcpy(f + 257, "ustar", 6);
	memcpy(f + 263, "00", 2);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf(f + 148, 8, "%06o", sum);
	occ_strbuf_add(out, h, sizeof(h));
	if (!size)
		return;
	occ_strbuf_add(out, data, size);
	if (size % BLOCK)
		occ_strbuf_add(out, zero, BLOCK - size % BLOCK);
}

static void tar_file(struct occ_strbuf *out, const char *name, const struct occ_users_file *f,
		     unsigned mode, unsigned uid, unsigned gid, int64_t mtime)
{
	if (f->present)
		tar_entry(out, name, '0', mode, uid, gid, f->data, f->len, mtime);
}

static bool home_is_bind_target(const struct occ_state *desired, const char *path)
{
	for (size_t i = 0; desired && i < desired->n_mounts; i++)
		if (occ_streq(desired->mounts[i].target, path))
			return true;
	return false;
}

void occ_docker__users_tar(struct occ_strbuf *out, const struct occ_users_result *res,
			   const struct occ_state *desired, int64_t mtime)
{
	static const char trailer[2 * BLOCK];
	const struct occ_users_file *sh = &res->files.shadow;

	tar_file(out, "etc/passwd", &res->files.passwd, 0644, 0, 0, mtime);
	tar_file(out, "etc/group", &res->files.group, 0644, 0, 0, mtime);
	/* shadow keeps its owner (root:shadow on Debian) and mode, never world-readable */
	tar_file(out, "etc/shadow", sh, sh->mode & 0640, sh->uid, sh->gid, mtime);
	if (res->n_managed)
		tar_entry(out, &ACCOUNTS_MARKER[1], '0', 0644, 0, 0, marker_text,
			  sizeof(marker_text) - 1, mtime);
	for (size_t i = 0; i < res->n_homes; i++) {
		const struct occ_users_home *h = &res->homes[i];
		char *name;

		if (home_is_bind_target(desired, h->path) || strlen(h->path) > 90)
			continue;
		name = occ_xasprintf("%s/", h->path + 1);
		tar_entry(out, name, '5', OCC_USERS_HOME_MODE, h->uid, h->gid, NULL, 0, mtime);
		free(name);
	}
	occ_strbuf_add(out, trailer, sizeof(trailer));
}

/* ---- reading and writing ------------------------------------------------ */

static char *archive_path(const char *container, const char *query_path, const char *extra)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_adds(&sb, "/containers/");
	occ_docker__url_escape(&sb, container);
	occ_strbuf_adds(&sb, "/archive?path=");
	occ_docker__url_escape(&sb, query_path);
	occ_strbuf_adds(&sb, extra);
	return occ_strbuf_detach(&sb);
}

static int etc_data(void *ctx, const char *data, size_t n, struct occ_error *err)
{
	return occ_docker__etc_feed(ctx, data, n, err);
}

/*
 * The three files, from one GET of /etc: dockerd re-executes itself into a
 * chroot for every archive request (~45 ms here, against ~1 ms for other
 * calls), so one request for the directory beats one per file. Files (or
 * /etc itself) missing read as absent.
 */
static int read_files(struct occ_docker *dk, struct occ_users_files *out, const char *container,
		      struct occ_error *err)
{
	char *url = archive_path(container, "/etc", "");
	struct occ_docker_etc etc;
	struct occ_docker_req req = { .method = "GET", .on_data = etc_data, .data_ctx = &etc };
	struct occ_docker_resp resp;
	char *msg = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	occ_docker__etc_init(&etc, out);
	occ_docker__resp_init(&resp);
	req.path = url;
	ret = occ_docker__http_do(dk->http, &req, &resp, err);
	if (ret || resp.status == 200) {
		ret = ret ? ret : occ_docker__etc_finish(&etc, err);
		goto out;
	}
	msg = occ_docker__error_message(resp.body.buf, resp.body.len);
	if (resp.status == 404 && occ_starts_with(msg, "No such container"))
		ret = occ_error_set(err, OCC_ENOTFOUND, "no such container '%s'", container);
	else if (resp.status != 404)
		ret = occ_docker__api_error(err, &resp, "cannot read /etc of container '%s'",
					    container);
out:
	if (ret)
		occ_users_files_release(out);
	free(msg);
	occ_docker__etc_release(&etc);
	occ_docker__resp_release(&resp);
	free(url);
	return ret;
}

/*
 * Whether the marker exists, from a HEAD: Docker answers it from a stat of
 * the path (the X-Docker-Container-Path-Stat header) without the chroot a
 * GET costs, ~1 ms whether the marker is there or not. A HEAD's 404 has no
 * body to tell a missing marker from a container removed since it was
 * listed; both read as "no marker", and the next observe sees the removal.
 */
char *occ_docker__marker_path(const char *container)
{
	return archive_path(container, ACCOUNTS_MARKER, "");
}

int occ_docker__marker_answer(bool *out, const struct occ_docker_resp *resp,
			      const char *container, struct occ_error *err)
{
	if (resp->status != 200 && resp->status != 404)
		return occ_docker__api_error(err, resp, "cannot read /etc of container '%s'",
					     container);
	*out = resp->status == 200;
	return 0;
}

static int marker_present(struct occ_docker *dk, bool *out, const char *container,
			  struct occ_error *err)
{
	char *url = occ_docker__marker_path(container);
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "HEAD", url, NULL, &resp, err);

	if (!ret)
		ret = occ_docker__marker_answer(out, &resp, container, err);
	occ_docker__resp_release(&resp);
	free(url);
	return ret;
}

/*
 * The stat of the three files from one batch of HEADs (~1 ms, against ~45 ms
 * for reading them): *usable when all three answered with one, *settled when
 * none was written in the last two seconds (see accounts-cache.c).
 */
static int stat_files(struct occ_docker *dk, char stat[OCC_DOCKER_ACCOUNT_FILES][512],
		      bool *usable, bool *settled, const char *container, struct occ_error *err)
{
	static const char *const files[OCC_DOCKER_ACCOUNT_FILES] = {
		"/etc/passwd", "/etc/shadow", "/etc/group",
	};
	struct occ_docker_req req[OCC_DOCKER_ACCOUNT_FILES] = { 0 };
	struct occ_docker_resp resp[OCC_DOCKER_ACCOUNT_FILES];
	char *path[OCC_DOCKER_ACCOUNT_FILES];
	int64_t now = (int64_t)time(NULL);
	int ret;

	for (size_t i = 0; i < OCC_DOCKER_ACCOUNT_FILES; i++) {
		path[i] = archive_path(container, files[i], "");
		req[i].method = "HEAD";
		req[i].path = path[i];
		occ_docker__resp_init(&resp[i]);
	}
	ret = occ_docker__http_do_many(dk->http, req, resp, OCC_DOCKER_ACCOUNT_FILES, err);
	*usable = ret == 0;
	*settled = true;
	for (size_t i = 0; i < OCC_DOCKER_ACCOUNT_FILES; i++) {
		*usable = *usable && resp[i].status == 200 && resp[i].path_stat[0];
		if (*usable) {
			snprintf(stat[i], sizeof(stat[i]), "%s", resp[i].path_stat);
			*settled = *settled && occ_docker__path_stat_settled(stat[i], now);
		}
		occ_docker__resp_release(&resp[i]);
		free(path[i]);
	}
	return ret;
}

/* obs's accounts: from the cache when the files' stat matches its record,
 * else read (and recorded when the files have settled). */
static int read_accounts(struct occ_docker *dk, const struct occ_state *desired,
			 struct occ_observed *obs, const char *container, struct occ_error *err)
{
	char stat[OCC_DOCKER_ACCOUNT_FILES][512];
	struct occ_users_files in;
	bool usable, settled;
	int ret = stat_files(dk, stat, &usable, &settled, container, err);

	if (ret)
		return ret;
	if (usable && occ_docker__accounts_cache_load(&obs->users, &obs->n_users, container, stat,
						      desired))
		return 0;
	ret = read_files(dk, &in, container, err);
	if (!ret)
		ret = occ_users_parse(&obs->users, &obs->n_users, &in, err);
	occ_users_files_release(&in);
	if (!ret && usable && settled)
		occ_docker__accounts_cache_store(desired->name, container, stat, obs->users,
						 obs->n_users);
	return ret;
}

static int write_files(struct occ_docker *dk, const char *container,
		       const struct occ_users_result *res, const struct occ_state *desired,
		       struct occ_error *err)
{
	char *url = archive_path(container, "/", "&noOverwriteDirNonDir=1");
	struct occ_strbuf tar = OCC_STRBUF_INIT;
	struct occ_docker_req req = { .method = "PUT", .content_type = "application/x-tar" };
	struct occ_docker_resp resp;
	int ret;

	occ_strbuf_init(&tar);
	occ_docker__users_tar(&tar, res, desired, (int64_t)time(NULL));
	req.path = url;
	req.body = tar.buf;
	req.body_len = tar.len;
	occ_docker__resp_init(&resp);
	ret = occ_docker__http_do(dk->http, &req, &resp, err);
	if (!ret && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot write the accounts of container '%s'",
					    container);
	occ_docker__resp_release(&resp);
	/* The tar holds the shadow file: do not leave it in freed memory. */
	occ_secure_zero(tar.buf, tar.len);
	occ_strbuf_release(&tar);
	free(url);
	return ret;
}

/* Read, change as req says, write back when something changed. */
static int converge(struct occ_docker *dk, const char *container, const struct occ_state *desired,
		    const struct occ_users_request *req, struct occ_error *err)
{
	struct occ_users_files in;
	struct occ_users_result res = { 0 };
	int ret = read_files(dk, &in, container, err);

	if (ret)
		return ret;
	ret = occ_users_compute(&res, &in, req, err);
	if (!ret && res.changed)
		ret = write_files(dk, container, &res, desired, err);
	occ_users_result_release(&res);
	occ_users_files_release(&in);
	return ret;
}

/* ---- the driver's entry points ------------------------------------------ */

/*
 * The container whose accounts are observed: the project's. When a recreate
 * was cut short between its renames there is none under the name; then the
 * container it was replacing ("<name>-occ-old", else the new one, "-occ-next",
 * which got copies of them) still holds the accounts, and reading them there
 * lets the container the next apply creates give them the uids they had
 * (files in volumes are owned by those uids).
 */
static const struct occ_obs_container *accounts_holder(const struct occ_observed *obs,
						       const char *project)
{
	static const char *const suffixes[] = { "", OCC_DOCKER_OLD_SUFFIX, OCC_DOCKER_NEXT_SUFFIX };
	const struct occ_obs_container *c = NULL;

	for (size_t i = 0; !c && i < OCC_ARRAY_SIZE(suffixes); i++) {
		char *name = occ_xasprintf("%s%s", project, suffixes[i]);

		c = occ_observed_container(obs, name);
		free(name);
		if (c && i > 0 && !c->owned)
			c = NULL;
	}
	return c;
}

int occ_docker__users_observe(struct occ_docker *dk, const struct occ_state *desired,
			      struct occ_observed *obs, const struct occ_docker_marker *asked,
			      struct occ_error *err)
{
	const struct occ_obs_container *c = accounts_holder(obs, desired->name);
	bool present = false;
	int ret = 0;

	if (!c || !c->owned || c->state == OCC_CTR_DEAD || c->state == OCC_CTR_REMOVING)
		return 0;
	if (!desired->n_users && asked && asked->container[0] &&
	    occ_streq(asked->container, c->id))
		present = asked->present;
	else if (!desired->n_users)
		ret = marker_present(dk, &present, c->id, err);
	if (!ret && !desired->n_users && !present) {
		obs->users_observed = true;   /* no account of occ's: nothing to plan */
		return 0;
	}
	if (!ret)
		ret = read_accounts(dk, desired, obs, c->id, err);
	if (ret == OCC_ENOTFOUND)
		return 0;      /* removed since it was listed: nothing to observe */
	if (ret)
		occ_error_prefix(err, "cannot read the accounts of container '%s'", c->name);
	else
		obs->users_observed = true;
	return ret;
}

static void wants_release(struct occ_users_want *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++)
		occ_users_want_release(&w[i]);
	free(w);
}

/* The uid occ gave name in the observed container, or 0. */
static unsigned previous_id(const struct occ_observed *obs, const char *name)
{
	for (size_t i = 0; obs && obs->users_observed && i < obs->n_users; i++)
		if (obs->users[i].managed && occ_streq(obs->users[i].name, name))
			return obs->users[i].uid == obs->users[i].gid ? obs->users[i].uid : 0;
	return 0;
}

int occ_docker__users_provision(struct occ_docker *dk, const struct occ_state *desired,
				const struct occ_observed *obs, const char *container,
				struct occ_error *err)
{
	struct occ_users_want *w;
	struct occ_users_request req = { .prune = true, .state_path = desired->path };
	int ret = 0;

	if (!desired->n_users)
		return 0;
	w = occ_xcalloc(desired->n_users, sizeof(*w));
	for (size_t i = 0; i < desired->n_users; i++) {
		ret = occ_users_want_init(&w[i], &desired->users[i], desired->path, err);
		if (ret)
			goto out;
		w[i].prefer_id = previous_id(obs, w[i].name);
	}
	req.want = w;
	req.n_want = desired->n_users;
	ret = converge(dk, container, desired, &req, err);
out:
	wants_release(w, desired->n_users);
	return ret;
}

static const struct occ_user *desired_user(const struct occ_state *desired, const char *name)
{
	for (size_t i = 0; i < desired->n_users; i++)
		if (occ_streq(desired->users[i].name, name))
			return &desired->users[i];
	return NULL;
}

static int refuse_foreign(const struct occ_observed *obs, const char *container,
			  struct occ_error *err)
{
	for (size_t i = 0; obs && i < obs->n_containers; i++) {
		const struct occ_obs_container *c = &obs->containers[i];

		if ((occ_streq(c->id, container) || occ_streq(c->name, container)) && !c->owned)
			return occ_error_set(err, OCC_ECONFLICT, "refusing to change the accounts "
					     "of container '%s': occ does not manage it", c->name);
	}
	return 0;
}

int occ_docker__act_user(struct occ_docker *dk, const struct occ_state *desired,
			 const struct occ_observed *obs, const struct occ_action *act,
			 struct occ_error *err)
{
	const char *container = act->target_id ? act->target_id : desired->name;
	struct occ_users_request req = { .state_path = desired->path };
	struct occ_users_want w = { 0 };
	const struct occ_user *u;
	const char *const remove[] = { act->name };
	int ret = refuse_foreign(obs, container, err);

	if (ret)
		return ret;
	if (act->kind == OCC_ACT_USER_REMOVE) {
		req.remove = remove;
		req.n_remove = 1;
		return converge(dk, container, desired, &req, err);
	}
	u = desired_user(desired, act->name);
	if (!u)
		return occ_error_set(err, OCC_EGENERIC, "user '%s' is not in the state file",
				     act->name);
	ret = occ_users_want_init(&w, u, desired->path, err);
	if (ret)
		return ret;
	req.want = &w;
	req.n_want = 1;
	ret = converge(dk, container, desired, &req, err);
	occ_users_want_release(&w);
	return ret;
}
