/*
 * accounts-cache.c - what observe last read of a container's accounts, keyed
 * by the stat of /etc/passwd, /etc/shadow and /etc/group (see docker-int.h).
 *
 * An archive GET of /etc costs ~45 ms (dockerd re-executes itself into a
 * chroot), a HEAD of each file ~1 ms: its X-Docker-Container-Path-Stat header
 * holds name, size, mode and mtime. Any write changes one of them: tools in
 * the container stamp nanosecond mtimes, occ's own writes replace the files.
 * Like git's "racy clean" index entries, a record is not written while a
 * file's mtime is within two seconds of now, so a same-size write within the
 * same second as the read cannot hide behind an equal stat.
 *
 * Password hashes are never written here: a record keeps each as its SHA-256,
 * and loading puts back the state file's hash of the same user when the
 * digests agree; when a desired user's digest does not agree, the record is
 * not used. Accounts occ does not want load without a hash (the planner
 * compares hashes of desired users only).
 *
 * One file per project under $XDG_DATA_HOME/opencode-cloud/accounts/ (so
 * recreates leave nothing behind), naming the container it describes; 0600,
 * written atomically. A missing, foreign or unreadable record only means a
 * full read.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "drivers/docker/docker-int.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/hash.h"
#include "reconciler/users.h"

#define CACHE_MAGIC "occ-accounts-cache 1\n"  /* then "container\t<id>\n" */
#define CACHE_MAX   (256 * 1024)
#define RACY_S      2

/* NULL for a project name that cannot be a file name. */
static char *cache_path(const char *project)
{
	char *dir, *path;

	if (!project || !*project || strchr(project, '/') || project[0] == '.')
		return NULL;
	dir = occ_data_dir();
	path = occ_xasprintf("%s/accounts/%s", dir, project);
	free(dir);
	return path;
}

/* Seconds since the epoch of "2026-11-24T03:15:45.123Z" or "...+01:00"
 * (Go's RFC 3339 in the daemon's time zone). */
static bool parse_mtime(const char *s, int64_t *out)
{
	struct tm tm;
	int n = 0, oh = 0, om = 0;
	int64_t off = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n <= 0)
		return false;
	s += n;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) == 2 &&
	    s[1 + n] == '\0')
		off = (*s == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
	else if (strcmp(s, "Z") != 0)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) - off;
	return true;
}

bool occ_docker__path_stat_settled(const char *b64, int64_t now)
{
	unsigned char buf[512];
	size_t len = strlen(b64);
	json_t *j = NULL, *m;
	int64_t mtime;
	int n;
	bool ok = false;

	if (!len || len > (sizeof(buf) - 1) / 3 * 4)
		return false;
	n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
	if (n <= 0)
		return false;
	while (n > 0 && buf[n - 1] == '\0')   /* padding decodes as zero bytes */
		n--;
	j = json_loadb((const char *)buf, (size_t)n, 0, NULL);
	m = j ? json_object_get(j, "mtime") : NULL;
	if (json_is_string(m) && parse_mtime(json_string_value(m), &mtime))
		ok = now - mtime >= RACY_S || mtime - now >= RACY_S;
	json_decref(j);
	return ok;
}

/* A field that can go on a tab-separated line. */
static bool plain(const char *s)
{
	return !s || !strpbrk(s, "\t\n\r");
}

void occ_docker__accounts_cache_store(const char *project, const char *container,
				      const char stat[OCC_DOCKER_ACCOUNT_FILES][512],
				      const struct occ_obs_user *users, size_t n)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_error err;
	char *path = cache_path(project), *dir = path ? occ_path_dirname(path) : NULL;

	occ_strbuf_init(&sb);
	occ_error_clear(&err);
	if (!path || !plain(container))
		goto out;
	occ_strbuf_adds(&sb, CACHE_MAGIC);
	occ_strbuf_addf(&sb, "container\t%s\n", container);
	for (size_t i = 0; i < OCC_DOCKER_ACCOUNT_FILES; i++)
		occ_strbuf_addf(&sb, "stat\t%s\n", stat[i]);
	for (size_t i = 0; i < n; i++) {
		const struct occ_obs_user *u = &users[i];
		char digest[OCC_HASH_HEX_LEN + 1] = "-";

		if (!plain(u->name) || !plain(u->home) || !plain(u->shell))
			goto out;
		if (u->hash)
			occ_sha256_hex(u->hash, strlen(u->hash), digest);
		occ_strbuf_addf(&sb, "user\t%s\t%u\t%u\t%d\t%d\t%s\t%s\t%s\n", u->name, u->uid,
				u->gid, u->locked, u->managed, digest, u->home ? u->home : "",
				u->shell ? u->shell : "");
	}
	if (occ_mkdir_p(dir, 0700, &err) == 0)
		(void)occ_write_file_atomic(path, sb.buf, sb.len, 0600, &err);
out:
	occ_strbuf_release(&sb);
	free(dir);
	free(path);
}

static const struct occ_user *desired_user(const struct occ_state *desired, const char *name)
{
	for (size_t i = 0; i < desired->n_users; i++)
		if (occ_streq(desired->users[i].name, name))
			return &desired->users[i];
	return NULL;
}

/* The hash to put back for a cached user with digest, or false: unusable. */
static bool restore_hash(char **out, const struct occ_state *desired, const char *name,
			 const char *digest)
{
	const struct occ_user *u = desired_user(desired, name);
	char have[OCC_HASH_HEX_LEN + 1] = "-";
	struct occ_error err;
	char *hash = NULL;

	*out = NULL;
	if (!u)
		return true;   /* not desired: its hash is never compared */
	occ_error_clear(&err);
	if (occ_users_resolve_password(&hash, u, desired->path, &err) != 0)
		return false;
	if (hash)
		occ_sha256_hex(hash, strlen(hash), have);
	if (!occ_streq(have, digest)) {
		free(hash);
		return false;
	}
	*out = hash;
	return true;
}

/* One "user" line (tabs already split into f[0..8]) into u. */
static bool load_user(struct occ_obs_user *u, char **f, const struct occ_state *desired)
{
	long uid, gid;

	if (occ_parse_long(f[2], 0, 0xfffffffeL, &uid) || occ_parse_long(f[3], 0, 0xfffffffeL, &gid))
		return false;
	u->name = occ_xstrdup(f[1]);
	u->uid = (unsigned)uid;
	u->gid = (unsigned)gid;
	u->locked = f[4][0] == '1';
	u->managed = f[5][0] == '1';
	u->home = f[7][0] ? occ_xstrdup(f[7]) : NULL;
	u->shell = f[8][0] ? occ_xstrdup(f[8]) : NULL;
	return restore_hash(&u->hash, desired, u->name, f[6]);
}

static void users_free(struct occ_obs_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
		free(users[i].home);
		free(users[i].shell);
		free(users[i].hash);
	}
	free(users);
}

bool occ_docker__accounts_cache_load(struct occ_obs_user **out, size_t *n_out,
				     const char *container,
				     const char stat[OCC_DOCKER_ACCOUNT_FILES][512],
				     const struct occ_state *desired)
{
	struct occ_obs_user *users = NULL;
	size_t n = 0, alloc = 0, k = 0;
	struct occ_error err;
	char *path = cache_path(desired->name), *text = NULL, *line, *next, *head;
	size_t len;
	bool ok = false;

	occ_error_clear(&err);
	if (!path || occ_read_file(path, CACHE_MAX, &text, &len, &err) != 0 ||
	    !occ_starts_with(text, CACHE_MAGIC))
		goto out;
	line = text + strlen(CACHE_MAGIC);
	head = occ_xasprintf("container\t%s\n", container);
	ok = occ_starts_with(line, head);
	line += ok ? strlen(head) : 0;
	free(head);
	if (!ok)
		goto out;   /* another container's record */
	for (ok = false; *line; line = next) {
		char *f[9];
		size_t nf = 0;

		next = strchr(line, '\n');
		if (!next)
			goto out;
		*next++ = '\0';
		for (char *p = line; nf < 9; nf++) {
			f[nf] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf == 1 && !strcmp(f[0], "stat") && k < OCC_DOCKER_ACCOUNT_FILES) {
			if (strcmp(f[1], stat[k++]) != 0)
				goto out;   /* a file changed since */
			continue;
		}
		if (nf != 8 || strcmp(f[0], "user") != 0 || k != OCC_DOCKER_ACCOUNT_FILES)
			goto out;
		OCC_GROW(users, n, alloc);
		memset(&users[n], 0, sizeof(users[n]));
		if (!load_user(&users[n++], f, desired))
			goto out;
	}
	ok = k == OCC_DOCKER_ACCOUNT_FILES;
out:
	if (ok) {
		*out = users;
		*n_out = n;
	} else {
		users_free(users, n);
	}
	free(text);
	free(path);
	return ok;
}
