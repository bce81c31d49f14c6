/*
 * test-users.c - accounts in the container: the pure account-file logic
 * (reconciler/users.c), password resolution, the planner's user actions and
 * errors, and the Docker driver's tar reader and writer for /etc. No Docker,
 * no network: the integration tests cover the real daemon.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers/docker/docker-int.h"
#include "reconciler/plan.h"
#include "reconciler/users.h"
#include "tests/fake-driver.h"

#define H1 "$6$saltsalt$AAAAhash1"
#define H2 "$y$j9T$saltsalt$BBBBhash2"
/* A real one, for states the loader validates (openssl passwd -6 -salt saltsalt x). */
#define REAL_HASH "$6$saltsalt$8RWsOfwR6M6PpnoeQiEiWzNTPo1f0HjVYjDnLZhGx16aBFRkeqiHAzfX" \
	"P/LgrOWMBMXqiU2pLrXsSOHNUyUm91"

#define DEB_PASSWD \
	"root:x:0:0:root:/root:/bin/bash\n" \
	"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" \
	"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" \
	"opencode:x:1000:1000::/home/opencode:/bin/bash\n"
#define DEB_SHADOW \
	"root:*:19700:0:99999:7:::\n" \
	"daemon:*:19700:0:99999:7:::\n" \
	"nobody:*:19700:0:99999:7:::\n" \
	"opencode:!:19700:0:99999:7:::\n"
#define DEB_GROUP \
	"root:x:0:\n" \
	"daemon:x:1:\n" \
	"sudo:x:27:opencode\n" \
	"nogroup:x:65534:\n" \
	"opencode:x:1000:\n"

/* Debian with alice, made by occ earlier (and added to sudo by hand). */
#define ALICE_PW "alice:x:1001:1001:occ-managed:/home/alice:/bin/bash\n"
#define ALICE_SH(pw) "alice:" pw ":19800:0:99999:7:::\n"
#define M_PASSWD DEB_PASSWD ALICE_PW
#define M_SHADOW(pw) DEB_SHADOW ALICE_SH(pw)
#define M_GROUP \
	"root:x:0:\n" \
	"daemon:x:1:\n" \
	"sudo:x:27:opencode,alice\n" \
	"nogroup:x:65534:\n" \
	"opencode:x:1000:\n" \
	"alice:x:1001:\n"
#define M_GROUP_AFTER_REMOVE \
	"root:x:0:\n" \
	"daemon:x:1:\n" \
	"sudo:x:27:opencode\n" \
	"nogroup:x:65534:\n" \
	"opencode:x:1000:\n"

#define BB_PASSWD "root:x:0:0:root:/root:/bin/sh\n"

static void file_set(struct occ_users_file *f, const char *text, unsigned mode, unsigned gid)
{
	memset(f, 0, sizeof(*f));
	if (!text)
		return;
	f->present = true;
	f->data = occ_xstrdup(text);
	f->len = strlen(text);
	f->mode = mode;
	f->gid = gid;
}

static void files_set(struct occ_users_files *f, const char *passwd, const char *shadow,
		      const char *group)
{
	file_set(&f->passwd, passwd, 0644, 0);
	file_set(&f->shadow, shadow, 0640, 42);
	file_set(&f->group, group, 0644, 0);
}

static void ck_file(const struct occ_users_file *f, const char *want, const char *what)
{
	if (!want) {
		ck_assert_msg(!f->present, "%s: expected absent, got:\n%s", what, f->data);
		return;
	}
	ck_assert_msg(f->present, "%s: expected present", what);
	ck_assert_msg(f->len == strlen(want) && memcmp(f->data, want, f->len) == 0,
		      "%s differs:\n--- want\n%s--- got\n%s", what, want, f->data);
}

/* ---- compute ------------------------------------------------------------ */

static void want_set(struct occ_users_want *w, const char *name, const char *hash,
		     bool enabled, const char *shell)
{
	memset(w, 0, sizeof(*w));
	w->name = occ_xstrdup(name);
	w->hash = occ_xstrdup(hash);
	w->enabled = enabled;
	w->shell = occ_xstrdup(shell);
	w->pos = (struct occ_pos){ 7, 5 };
}

static void wants_release(struct occ_users_want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		occ_users_want_release(&w[i]);
}

/* memmem is a GNU extension. */
static const char *find_bytes(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

struct want_spec {
	const char *name, *hash;
	bool disabled;
	const char *shell;
};

struct compute_case {
	const char *name;
	const char *passwd, *shadow, *group;         /* input; NULL = absent */
	struct want_spec want[3];
	const char *remove[3];
	bool prune;
	int ret;
	const char *passwd_out, *shadow_out, *group_out;
	const char *homes;                           /* "/home/a:1000 ..." */
	bool changed;
};

#define FAILS(code) code, NULL, NULL, NULL, "", false   /* no output to compare */

static const struct compute_case compute_cases[] = {
	{ "debian: create next to the image's accounts", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, false, 0,
	  DEB_PASSWD ALICE_PW, DEB_SHADOW "alice:" H1 "::0:99999:7:::\n",
	  DEB_GROUP "alice:x:1001:\n", "/home/alice:1001", true },
	{ "debian: ids in name order, skipping ids groups hold", DEB_PASSWD, DEB_SHADOW,
	  DEB_GROUP "staff2:x:1001:\n",
	  { { "bob", NULL, false, "/bin/sh" }, { "alice", H1, true, "/bin/bash" } }, { NULL },
	  false, 0,
	  DEB_PASSWD "alice:x:1002:1002:occ-managed:/home/alice:/bin/bash\n"
	  "bob:x:1003:1003:occ-managed:/home/bob:/bin/sh\n",
	  DEB_SHADOW "alice:!" H1 "::0:99999:7:::\nbob:*::0:99999:7:::\n",
	  DEB_GROUP "staff2:x:1001:\nalice:x:1002:\nbob:x:1003:\n",
	  "/home/alice:1002 /home/bob:1003", true },
	{ "busybox: no shadow, no group", BB_PASSWD, NULL, NULL,
	  { { "alice", H1, false, "/bin/sh" } }, { NULL }, false, 0,
	  BB_PASSWD "alice:x:1000:1000:occ-managed:/home/alice:/bin/sh\n",
	  "alice:" H1 "::0:99999:7:::\n", "alice:x:1000:\n", "/home/alice:1000", true },
	{ "scratch: no /etc at all", NULL, NULL, NULL,
	  { { "alice", H1, false, "/bin/sh" } }, { NULL }, false, 0,
	  "alice:x:1000:1000:occ-managed:/home/alice:/bin/sh\n",
	  "alice:" H1 "::0:99999:7:::\n", "alice:x:1000:\n", "/home/alice:1000", true },
	{ "no final newline is kept for kept lines", "root:x:0:0:root:/root:/bin/sh", "", NULL,
	  { { "alice", H1, false, "/bin/sh" } }, { NULL }, false, 0,
	  "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:occ-managed:/home/alice:/bin/sh\n",
	  "alice:" H1 "::0:99999:7:::\n", "alice:x:1000:\n", "/home/alice:1000", true },
	{ "malformed lines and comments are kept byte for byte",
	  "# local accounts\n\nroot:x:0:0:root:/root:/bin/sh\ngarbage line\n+@nis::::::\n"
	  "bad:x:abc:1::/:/bin/sh\nwide:x:1000:1000:Wide,,,:/home/wide:/bin/sh:extra\n",
	  "root:*:1::::::\n\n", NULL,
	  { { "alice", H1, false, "/bin/sh" } }, { NULL }, false, 0,
	  "# local accounts\n\nroot:x:0:0:root:/root:/bin/sh\ngarbage line\n+@nis::::::\n"
	  "bad:x:abc:1::/:/bin/sh\nwide:x:1000:1000:Wide,,,:/home/wide:/bin/sh:extra\n"
	  "alice:x:1001:1001:occ-managed:/home/alice:/bin/sh\n",
	  "root:*:1::::::\n\nalice:" H1 "::0:99999:7:::\n", "alice:x:1001:\n",
	  "/home/alice:1001", true },
	{ "lock: '!' before the hash, other fields kept", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", H1, true, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, M_SHADOW("!" H1), M_GROUP, "", true },
	{ "unlock", M_PASSWD, M_SHADOW("!" H1), M_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, M_SHADOW(H1), M_GROUP, "", true },
	{ "password change", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", H2, false, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, M_SHADOW(H2), M_GROUP, "", true },
	{ "shell change", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", H1, false, "/bin/sh" } }, { NULL }, false, 0,
	  DEB_PASSWD "alice:x:1001:1001:occ-managed:/home/alice:/bin/sh\n", M_SHADOW(H1),
	  M_GROUP, "", true },
	{ "in sync: nothing changes", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, M_SHADOW(H1), M_GROUP, "", false },
	{ "no password: '*', locked without password: '!'", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", NULL, true, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, M_SHADOW("!"), M_GROUP, "", true },
	{ "a marked account without shadow entry gets one", M_PASSWD, DEB_SHADOW, M_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, false, 0,
	  M_PASSWD, DEB_SHADOW "alice:" H1 "::0:99999:7:::\n", M_GROUP, "", true },
	{ "remove: lines, own group and memberships go, the rest stays", M_PASSWD,
	  M_SHADOW(H1), M_GROUP, { { NULL } }, { "alice" }, false, 0,
	  DEB_PASSWD, DEB_SHADOW, M_GROUP_AFTER_REMOVE, "", true },
	{ "prune removes marked accounts not wanted, never others", M_PASSWD, M_SHADOW(H1),
	  M_GROUP, { { NULL } }, { NULL }, true, 0,
	  DEB_PASSWD, DEB_SHADOW, M_GROUP_AFTER_REMOVE, "", true },
	{ "prune never removes a marked account outside occ's ids (root)",
	  "root:x:0:0:occ-managed:/root:/bin/sh\n" ALICE_PW, NULL, NULL, { { NULL } }, { NULL }, true,
	  0, "root:x:0:0:occ-managed:/root:/bin/sh\n", NULL, NULL, "", true },
	{ "prune keeps wanted accounts", M_PASSWD, M_SHADOW(H1), M_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, true, 0,
	  M_PASSWD, M_SHADOW(H1), M_GROUP, "", false },
	{ "removing an absent account changes nothing", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { NULL } }, { "zed" }, false, 0, DEB_PASSWD, DEB_SHADOW, DEB_GROUP, "", false },
	{ "member lists: first, middle, last, only",
	  "root:x:0:0::/:/bin/sh\n" ALICE_PW, "", "g1:x:50:alice,bob\ng2:x:51:bob,alice,carl\n"
	  "g3:x:52:alice\ng4:x:53:alicea,xalice\nalice:x:1001:\n",
	  { { NULL } }, { "alice" }, false, 0,
	  "root:x:0:0::/:/bin/sh\n", "", "g1:x:50:bob\ng2:x:51:bob,carl\ng3:x:52:\n"
	  "g4:x:53:alicea,xalice\n", "", true },
	{ "the last line removed: the kept line keeps its newline",
	  "root:x:0:0::/:/bin/sh\nalice:x:1001:1001:occ-managed:/home/alice:/bin/bash", NULL, NULL,
	  { { NULL } }, { "alice" }, false, 0, "root:x:0:0::/:/bin/sh\n", NULL, NULL, "", true },
	{ "a group of another id with the user's name is not removed",
	  ALICE_PW, NULL, "alice:x:2000:\n", { { NULL } }, { "alice" }, false, 0,
	  "", NULL, "alice:x:2000:\n", "", true },
	{ "conflict: an account occ did not create", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "opencode", H1, false, "/bin/bash" } }, { NULL }, false, FAILS(OCC_ECONFLICT) },
	{ "conflict: a malformed line holds the name", "bad:x:abc:1::/:/bin/sh\n", NULL, NULL,
	  { { "bad", H1, false, "/bin/sh" } }, { NULL }, false, FAILS(OCC_ECONFLICT) },
	{ "conflict: a group holds the name", DEB_PASSWD, DEB_SHADOW, DEB_GROUP "dev:x:500:\n",
	  { { "dev", H1, false, "/bin/sh" } }, { NULL }, false, FAILS(OCC_ECONFLICT) },
	{ "conflict: the account appears twice", M_PASSWD ALICE_PW, M_SHADOW(H1), M_GROUP,
	  { { "alice", H1, false, "/bin/bash" } }, { NULL }, false, FAILS(OCC_ECONFLICT) },
	{ "refused: removing an account occ did not create", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { NULL } }, { "opencode" }, false, FAILS(OCC_ECONFLICT) },
	{ "refused: a shell that breaks /etc/passwd", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "alice", H1, false, "/bin/sh:x" } }, { NULL }, false, FAILS(OCC_EINVALID) },
	{ "refused: a hash that breaks /etc/shadow", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "alice", "$6$a:b", false, "/bin/sh" } }, { NULL }, false, FAILS(OCC_EINVALID) },
	{ "refused: a hash that looks locked", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "alice", "!" H1, false, "/bin/sh" } }, { NULL }, false, FAILS(OCC_EINVALID) },
	{ "refused: a name that breaks /etc/group", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "al,ice", H1, false, "/bin/sh" } }, { NULL }, false, FAILS(OCC_EINVALID) },
	{ "refused: a user asked for twice", DEB_PASSWD, DEB_SHADOW, DEB_GROUP,
	  { { "alice", H1, false, "/bin/sh" }, { "alice", H2, false, "/bin/sh" } }, { NULL },
	  false, FAILS(OCC_EINVALID) },
};

static void homes_text(struct occ_strbuf *sb, const struct occ_users_result *r)
{
	for (size_t i = 0; i < r->n_homes; i++)
		occ_strbuf_addf(sb, "%s%s:%u", i ? " " : "", r->homes[i].path, r->homes[i].uid);
}

START_TEST(test_compute)
{
	const struct compute_case *tc = &compute_cases[_i];
	struct occ_users_want want[3];
	struct occ_users_request req = { .want = want, .remove = tc->remove,
					 .prune = tc->prune, .state_path = "state.yaml" };
	struct occ_users_result res;
	struct occ_users_files in;
	struct occ_strbuf homes = OCC_STRBUF_INIT;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	files_set(&in, tc->passwd, tc->shadow, tc->group);
	for (size_t i = 0; i < 3 && tc->want[i].name; i++, req.n_want++)
		want_set(&want[i], tc->want[i].name, tc->want[i].hash, !tc->want[i].disabled,
			 tc->want[i].shell);
	while (req.n_remove < 3 && tc->remove[req.n_remove])
		req.n_remove++;
	ret = occ_users_compute(&res, &in, &req, &err);
	ck_assert_msg(ret == tc->ret, "%s: returned %d (%s), want %d", tc->name, ret, err.msg,
		      tc->ret);
	if (ret) {
		/* Never a hash in a message. */
		ck_assert_ptr_null(strstr(err.msg, "$6$"));
		ck_assert_ptr_null(strstr(err.msg, "$y$"));
		if (ret == OCC_ECONFLICT && req.n_want)
			ck_assert_int_eq(err.line, 7);
		wants_release(want, req.n_want);
		occ_users_files_release(&in);
		return;
	}
	ck_file(&res.files.passwd, tc->passwd_out, "passwd");
	ck_file(&res.files.shadow, tc->shadow_out, "shadow");
	ck_file(&res.files.group, tc->group_out, "group");
	occ_strbuf_init(&homes);
	homes_text(&homes, &res);
	ck_assert_str_eq(homes.buf, tc->homes);
	ck_assert_msg(res.changed == tc->changed, "%s: changed is %d", tc->name, res.changed);
	/* Found files keep their owner and mode; new ones are root's. */
	if (tc->shadow)
		ck_assert(res.files.shadow.mode == 0640 && res.files.shadow.gid == 42);
	else if (res.files.shadow.present)
		ck_assert(res.files.shadow.mode == 0600 && res.files.shadow.gid == 0);
	occ_strbuf_release(&homes);
	occ_users_result_release(&res);
	occ_users_files_release(&in);
	wants_release(want, req.n_want);
}
END_TEST

/* Every id in [1000, 59999] taken: a clear error, not an id outside the range. */
START_TEST(test_compute_ids_exhausted)
{
	struct occ_strbuf pw = OCC_STRBUF_INIT;
	struct occ_users_want w;
	struct occ_users_request req = { .want = &w, .n_want = 1 };
	struct occ_users_result res;
	struct occ_users_files in;
	struct occ_error err;

	want_set(&w, "alice", H1, true, "/bin/sh");
	occ_strbuf_init(&pw);
	for (unsigned id = OCC_USERS_ID_MIN; id <= OCC_USERS_ID_MAX; id++)
		occ_strbuf_addf(&pw, "g%u:x:%u:\n", id, id);   /* groups hold ids too */
	occ_error_clear(&err);
	files_set(&in, NULL, NULL, pw.buf);
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), OCC_EINVALID);
	ck_assert_str_eq(err.msg, "cannot create user 'alice': no free uid between 1000 and "
			 "59999 in the container");
	occ_users_files_release(&in);
	occ_strbuf_release(&pw);
	occ_users_want_release(&w);
}
END_TEST

/* A recreate keeps uids: preferred ids are set aside before others are
 * handed out, and ignored when taken or out of range. */
START_TEST(test_compute_prefer_id)
{
	struct occ_users_want w[4];
	struct occ_users_request req = { .want = w, .n_want = 4 };
	struct occ_users_result res;
	struct occ_users_files in;
	struct occ_strbuf homes = OCC_STRBUF_INIT;
	struct occ_error err;

	want_set(&w[0], "alice", H1, true, "/bin/sh");
	want_set(&w[1], "bob", H1, true, "/bin/sh");
	want_set(&w[2], "carol", H1, true, "/bin/sh");
	want_set(&w[3], "dave", H1, true, "/bin/sh");
	w[1].prefer_id = 1001;     /* free: kept, though alice comes first */
	w[2].prefer_id = 1000;     /* opencode's: not taken over */
	w[3].prefer_id = 70000;    /* out of range */
	occ_error_clear(&err);
	files_set(&in, DEB_PASSWD, DEB_SHADOW, DEB_GROUP);
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), 0);
	occ_strbuf_init(&homes);
	homes_text(&homes, &res);
	ck_assert_str_eq(homes.buf, "/home/alice:1002 /home/bob:1001 /home/carol:1003 "
			 "/home/dave:1004");
	ck_assert_ptr_nonnull(strstr(res.files.group.data, "\nbob:x:1001:\n"));
	occ_strbuf_release(&homes);
	occ_users_result_release(&res);
	occ_users_files_release(&in);
	wants_release(w, 4);
}
END_TEST

/* Files over the bounds are refused, never half-read. */
START_TEST(test_compute_bounds)
{
	struct occ_users_request req = { 0 };
	struct occ_users_result res;
	struct occ_users_files in;
	struct occ_error err;
	char *big = occ_xmalloc(OCC_USERS_MAX_FILE + 2);
	char line[OCC_USERS_MAX_LINE + 3];

	memset(big, 'a', OCC_USERS_MAX_FILE + 1);
	big[OCC_USERS_MAX_FILE + 1] = '\0';
	occ_error_clear(&err);
	files_set(&in, big, NULL, NULL);
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), OCC_EINVALID);
	ck_assert_str_eq(err.msg, "/etc/passwd in the container is larger than 1048576 bytes");
	occ_users_files_release(&in);

	memset(line, 'b', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	files_set(&in, "root:x:0:0::/:/bin/sh\n", line, NULL);
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), OCC_EINVALID);
	ck_assert_str_eq(err.msg, "line 1 of /etc/shadow in the container is longer than 4096 bytes");
	occ_users_files_release(&in);

	files_set(&in, "root:x:0:0::/:/bin/sh\n", NULL, "root:x:0:\n");
	in.group.data[4] = '\0';
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), OCC_EINVALID);
	ck_assert_str_eq(err.msg, "/etc/group in the container holds a NUL byte");
	occ_users_files_release(&in);
	free(big);
}
END_TEST

/* ---- parse -------------------------------------------------------------- */

struct user_expect {
	const char *name;
	unsigned uid;
	bool managed;
	const char *hash;     /* "-" = NULL */
	bool locked;
	const char *shell;    /* "-" = NULL */
};

struct parse_case {
	const char *name;
	const char *passwd, *shadow, *group;
	size_t n;
	struct user_expect users[6];
};

static const struct parse_case parse_cases[] = {
	{ "debian with one account of occ's", M_PASSWD, M_SHADOW(H1), M_GROUP, 5, {
	  { "alice", 1001, true, H1, false, "/bin/bash" },
	  { "daemon", 1, false, "-", false, "/usr/sbin/nologin" },
	  { "nobody", 65534, false, "-", false, "/usr/sbin/nologin" },
	  { "opencode", 1000, false, "-", false, "/bin/bash" },   /* unmarked: hash not read */
	  { "root", 0, false, "-", false, "/bin/bash" } } },
	{ "locked", M_PASSWD, M_SHADOW("!" H1), NULL, 5, {
	  { "alice", 1001, true, H1, true, "/bin/bash" } } },
	{ "no password", M_PASSWD, M_SHADOW("*"), NULL, 5, {
	  { "alice", 1001, true, "-", false, "/bin/bash" } } },
	{ "locked, no password", M_PASSWD, M_SHADOW("!"), NULL, 5, {
	  { "alice", 1001, true, "-", true, "/bin/bash" } } },
	{ "empty password field: never what occ wants", M_PASSWD, M_SHADOW(""), NULL, 5, {
	  { "alice", 1001, true, "", false, "/bin/bash" } } },
	{ "busybox: hash in /etc/passwd, no shadow",
	  "alice:" H1 ":1000:1000:occ-managed,x:/home/alice:/bin/sh\n", NULL, NULL, 1, {
	  { "alice", 1000, true, H1, false, "/bin/sh" } } },
	{ "marker must be the first GECOS part", "bob:x:1000:1000:Bob occ-managed:/:/bin/sh\n"
	  "carl:x:1001:1001:occ-managedx:/:/bin/sh\n", NULL, NULL, 2, {
	  { "bob", 1000, false, "-", false, "/bin/sh" },
	  { "carl", 1001, false, "-", false, "/bin/sh" } } },
	{ "malformed lines are unmarked accounts; the first of two wins",
	  "#c\nbad:x:abc:1::/:/bin/sh\nalice:x:1001:1001:occ-managed:/:/bin/sh\n"
	  "alice:x:1002:1002::/:/bin/zsh\nnocolon\n", NULL, NULL, 2, {
	  { "alice", 1001, true, "-", false, "/bin/sh" },
	  { "bad", 0, false, "-", false, "-" } } },
	{ "a marked account outside occ's ids is not occ's",
	  "root:x:0:0:occ-managed:/root:/bin/sh\nbin:x:70000:1000:occ-managed:/:/bin/sh\n",
	  "root:" H1 ":1::::::\n", NULL, 2, {
	  { "bin", 70000, false, "-", false, "/bin/sh" },
	  { "root", 0, false, "-", false, "/bin/sh" } } },
	{ "nothing at all", NULL, NULL, NULL, 0, { { NULL } } },
};

START_TEST(test_parse)
{
	const struct parse_case *tc = &parse_cases[_i];
	struct occ_users_files in;
	struct occ_obs_user *u = NULL;
	struct occ_error err;
	size_t n = 0;

	occ_error_clear(&err);
	files_set(&in, tc->passwd, tc->shadow, tc->group);
	ck_assert_int_eq(occ_users_parse(&u, &n, &in, &err), 0);
	ck_assert_msg(n == tc->n, "%s: %zu accounts", tc->name, n);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(tc->users) && tc->users[i].name; i++) {
		const struct user_expect *e = &tc->users[i];
		const char *hash = strcmp(e->hash, "-") ? e->hash : NULL;
		const char *shell = strcmp(e->shell, "-") ? e->shell : NULL;

		ck_assert_str_eq(u[i].name, e->name);
		ck_assert_uint_eq(u[i].uid, e->uid);
		ck_assert_msg(u[i].managed == e->managed, "%s: %s managed", tc->name, e->name);
		ck_assert_msg(occ_streq(u[i].hash, hash), "%s: %s hash", tc->name, e->name);
		ck_assert_msg(u[i].locked == e->locked, "%s: %s locked", tc->name, e->name);
		ck_assert_msg(occ_streq(u[i].shell, shell), "%s: %s shell", tc->name, e->name);
	}
	occ_users_free(u, n);
	occ_users_files_release(&in);
}
END_TEST

/* What compute writes, parse reads back as the wanted state. */
START_TEST(test_round_trip)
{
	struct occ_users_want w[2];
	struct occ_users_request req = { .want = w, .n_want = 2, .prune = true };
	struct occ_users_result res;
	struct occ_users_files in;
	struct occ_obs_user *u;
	struct occ_error err;
	size_t n;

	want_set(&w[0], "alice", H1, true, "/bin/bash");
	want_set(&w[1], "bob", NULL, true, "/bin/sh");
	for (int disabled = 0; disabled < 2; disabled++) {
		w[0].enabled = w[1].enabled = !disabled;
		occ_error_clear(&err);
		files_set(&in, M_PASSWD, M_SHADOW(H2), M_GROUP);
		ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), 0);
		ck_assert_int_eq((int)res.n_managed, 2);
		ck_assert_int_eq(occ_users_parse(&u, &n, &res.files, &err), 0);
		ck_assert_int_eq((int)n, 6);
		ck_assert(u[0].managed && occ_streq(u[0].hash, H1) && u[0].locked == !!disabled);
		ck_assert(u[1].managed && u[1].hash == NULL && u[1].locked == !!disabled);
		ck_assert_str_eq(u[1].home, "/home/bob");
		occ_users_free(u, n);
		occ_users_result_release(&res);
		occ_users_files_release(&in);
	}
	wants_release(w, 2);
}
END_TEST

/* ---- password sources --------------------------------------------------- */

static struct occ_user user_of(enum occ_password_source src, const char *value)
{
	struct occ_user u = { .name = occ_xstrdup("bob"), .pw_source = src, .enabled = true,
			      .shell = occ_xstrdup("/bin/sh"), .pos = { 12, 5 } };

	if (src == OCC_PW_HASH)
		u.password_hash = occ_xstrdup(value);
	else if (src == OCC_PW_FILE)
		u.password_file = occ_xstrdup(value);
	else if (src == OCC_PW_ENV)
		u.password_env = occ_xstrdup(value);
	return u;
}

static void user_release(struct occ_user *u)
{
	free(u->name);
	free(u->shell);
	free(u->password_hash);
	free(u->password_file);
	free(u->password_env);
}

START_TEST(test_resolve_sources)
{
	char dir[] = "/tmp/occ-test-users-XXXXXX";
	char *path, *bad, *hash = NULL, unset[] = "unset";
	struct occ_user u;
	struct occ_error err;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = occ_xasprintf("%s/bob.hash", dir);
	bad = occ_xasprintf("%s/bad.hash", dir);
	fp = fopen(path, "w");
	fputs("  " H2 "\n\n", fp);
	fclose(fp);
	fp = fopen(bad, "w");
	fputs("hunter2 is my password\n", fp);
	fclose(fp);
	occ_error_clear(&err);

	u = user_of(OCC_PW_HASH, H1);
	ck_assert_int_eq(occ_users_resolve_password(&hash, &u, "s.yaml", &err), 0);
	ck_assert_str_eq(hash, H1);
	free(hash);
	user_release(&u);
	u = user_of(OCC_PW_NONE, NULL);
	hash = unset;
	ck_assert_int_eq(occ_users_resolve_password(&hash, &u, "s.yaml", &err), 0);
	ck_assert_ptr_null(hash);
	user_release(&u);

	u = user_of(OCC_PW_FILE, path);   /* trimmed */
	ck_assert_int_eq(occ_users_resolve_password(&hash, &u, "s.yaml", &err), 0);
	ck_assert_str_eq(hash, H2);
	free(hash);
	user_release(&u);

	u = user_of(OCC_PW_ENV, "OCC_TEST_BOB_HASH");
	setenv("OCC_TEST_BOB_HASH", H1 "\n", 1);
	ck_assert_int_eq(occ_users_resolve_password(&hash, &u, "s.yaml", &err), 0);
	ck_assert_str_eq(hash, H1);
	free(hash);
	user_release(&u);
	unsetenv("OCC_TEST_BOB_HASH");
	free(path);
	path = occ_xasprintf("rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
	free(path);
	free(bad);
}
END_TEST

struct resolve_error_case {
	enum occ_password_source src;
	const char *value;       /* file path (under the temp dir when relative) or variable */
	const char *env;         /* value to set, NULL = unset */
	int ret;
	const char *msg;         /* prefix of the message */
};

static const struct resolve_error_case resolve_errors[] = {
	{ OCC_PW_FILE, "missing.hash", NULL, OCC_ENOTFOUND,
	  "user 'bob': password_file: cannot open '" },
	{ OCC_PW_FILE, "plain.hash", NULL, OCC_EINVALID, "user 'bob': password_file '" },
	{ OCC_PW_FILE, "colon.hash", NULL, OCC_EINVALID, "user 'bob': password_file '" },
	{ OCC_PW_FILE, "two-lines.hash", NULL, OCC_EINVALID, "user 'bob': password_file '" },
	{ OCC_PW_ENV, "OCC_TEST_UNSET_HASH", NULL, OCC_ENOTFOUND,
	  "user 'bob': password_env: environment variable 'OCC_TEST_UNSET_HASH' is not set" },
	{ OCC_PW_ENV, "OCC_TEST_PLAIN_HASH", "secretpassword", OCC_EINVALID,
	  "user 'bob': environment variable 'OCC_TEST_PLAIN_HASH' (password_env) does not hold" },
	{ OCC_PW_ENV, "OCC_TEST_EMPTY_HASH", "", OCC_EINVALID,
	  "user 'bob': environment variable 'OCC_TEST_EMPTY_HASH' (password_env) does not hold" },
	{ OCC_PW_HASH, "$6$a:b$secretpassword", NULL, OCC_EINVALID,
	  "user 'bob': password_hash is not a crypt(3) password hash" },
};

START_TEST(test_resolve_errors)
{
	const struct resolve_error_case *tc = &resolve_errors[_i];
	char dir[] = "/tmp/occ-test-users-XXXXXX";
	char *path = NULL, *hash = NULL, *cmd;
	struct occ_user u;
	struct occ_error err;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	cmd = occ_xasprintf("cd %s && printf 'secretpassword\\n' > plain.hash && "
			    "printf '$6$a:secretpassword\\n' > colon.hash && "
			    "printf '$6$abc$def\\n$6$abc$secretpassword\\n' > two-lines.hash", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	if (tc->src == OCC_PW_FILE)
		path = occ_xasprintf("%s/%s", dir, tc->value);
	if (tc->src == OCC_PW_ENV && tc->env)
		setenv(tc->value, tc->env, 1);
	else if (tc->src == OCC_PW_ENV)
		unsetenv(tc->value);
	u = user_of(tc->src, path ? path : tc->value);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_users_resolve_password(&hash, &u, "state.yaml", &err), tc->ret);
	ck_assert_msg(occ_starts_with(err.msg, tc->msg), "message: %s", err.msg);
	ck_assert_str_eq(err.file, "state.yaml");
	ck_assert_int_eq(err.line, 12);
	ck_assert_int_eq(err.col, 5);
	ck_assert_msg(!strstr(err.msg, "secretpassword") && !strstr(err.hint, "secretpassword"),
		      "a secret in the message: %s / %s", err.msg, err.hint);
	ck_assert_ptr_null(hash);
	if (tc->src == OCC_PW_ENV)
		unsetenv(tc->value);
	user_release(&u);
	free(path);
	cmd = occ_xasprintf("rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}
END_TEST

/* ---- planner ------------------------------------------------------------ */

static struct occ_state *load(const char *yaml)
{
	struct occ_state *st = NULL;
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_msg(occ_model_load_buffer(&st, yaml, strlen(yaml), "state.yaml", "/srv", &err) == 0,
		      "load: %s", err.msg);
	return st;
}

static struct occ_obs_user *add_account(struct fake_driver *f, const char *name, unsigned uid,
					bool managed, const char *hash, bool locked,
					const char *shell)
{
	struct occ_obs_user *u;

	f->world.users = occ_xrealloc(f->world.users, (f->world.n_users + 1) * sizeof(*u));
	u = &f->world.users[f->world.n_users++];
	memset(u, 0, sizeof(*u));
	u->name = occ_xstrdup(name);
	u->uid = u->gid = uid;
	u->home = occ_xasprintf("/home/%s", name);
	u->shell = occ_xstrdup(shell);
	u->hash = occ_xstrdup(hash);
	u->locked = locked;
	u->managed = managed;
	f->world.users_observed = true;
	return u;
}

static int plan_of(struct occ_plan *plan, struct fake_driver *f, const struct occ_state *st,
		   struct occ_error *err)
{
	struct occ_observed obs;
	int ret;

	occ_error_clear(err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, err), 0);
	ret = occ_plan_compute(plan, st, &obs, err);
	occ_observed_release(&obs);
	return ret;
}

#define PBASE "version: 1\nname: web\nimage: {ref: 'occ-test:1'}\nvolumes: []\n"

START_TEST(test_plan_conflict_unmarked)
{
	struct occ_state *st = load(PBASE "users:\n  - name: carl\n    password_hash: \""
				    REAL_HASH "\"\n");
	struct fake_driver *f = fake_driver_new();
	struct occ_plan plan;
	struct occ_error err;

	fake_set_image(f, st->image.ref, "sha256:1111");
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
	add_account(f, "carl", 1000, false, NULL, false, "/bin/sh");
	ck_assert_int_eq(plan_of(&plan, f, st, &err), OCC_ECONFLICT);
	ck_assert_str_eq(err.msg, "user 'carl' already exists in the container and was not "
			 "created by occ");
	ck_assert_str_eq(err.file, "state.yaml");
	ck_assert_int_eq(err.line, 6);
	ck_assert_int_eq(err.col, 5);
	ck_assert_ptr_nonnull(strstr(err.hint, "occ-managed"));
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* The loader refuses a public bind without users; a state made another way
 * must not lock everyone out silently either. */
START_TEST(test_plan_last_user_on_public_bind)
{
	struct occ_state *st = load(PBASE);
	struct fake_driver *f = fake_driver_new();
	struct occ_plan plan;
	struct occ_error err;

	fake_set_image(f, st->image.ref, "sha256:1111");
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
	add_account(f, "alice", 1000, true, H1, false, "/bin/bash");
	add_account(f, "root", 0, false, NULL, false, "/bin/sh");
	free(st->container.bind);
	st->container.bind = occ_xstrdup("0.0.0.0");
	ck_assert_int_eq(plan_of(&plan, f, st, &err), OCC_EINVALID);
	ck_assert_str_eq(err.msg, "refusing to remove user 'alice': the service is published on "
			 "0.0.0.0 and no other user could log in");
	/* On loopback the same removal is planned. */
	free(st->container.bind);
	st->container.bind = occ_xstrdup("127.0.0.1");
	ck_assert_int_eq(plan_of(&plan, f, st, &err), 0);
	ck_assert_int_eq((int)plan.n, 1);
	ck_assert_int_eq(plan.actions[0].kind, OCC_ACT_USER_REMOVE);
	ck_assert_int_eq(plan.n_remove, 1);
	occ_plan_release(&plan);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* An existing account compared with a password file that is gone: the plan
 * fails naming the user, the source and the place. */
START_TEST(test_plan_password_file_missing)
{
	struct occ_state *st = load(PBASE "users:\n  - name: bob\n"
				    "    password_file: /nonexistent/bob.hash\n");
	struct fake_driver *f = fake_driver_new();
	struct occ_plan plan;
	struct occ_error err;

	fake_set_image(f, st->image.ref, "sha256:1111");
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
	add_account(f, "bob", 1000, true, H1, false, "/bin/bash");
	ck_assert_int_eq(plan_of(&plan, f, st, &err), OCC_ENOTFOUND);
	ck_assert_str_eq(err.msg, "user 'bob': password_file: cannot open '/nonexistent/bob.hash': "
			 "No such file or directory");
	ck_assert_int_eq(err.line, 6);
	/* A new account needs no comparison: its file is read when applying. */
	occ_users_free(f->world.users, f->world.n_users);
	f->world.users = NULL;
	f->world.n_users = 0;
	ck_assert_int_eq(plan_of(&plan, f, st, &err), 0);
	ck_assert_int_eq((int)plan.n, 1);
	ck_assert_int_eq(plan.actions[0].kind, OCC_ACT_USER_CREATE);
	ck_assert_str_eq(plan.actions[0].changes[0].field, "users[bob].password_file");
	occ_plan_release(&plan);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* Accounts are converged before the container is started again. */
START_TEST(test_plan_users_before_start)
{
	struct occ_state *st = load(PBASE "users:\n  - {name: alice, password_hash: \""
				    REAL_HASH "\", shell: /bin/sh}\n");
	struct fake_driver *f = fake_driver_new();
	struct occ_plan plan;
	struct occ_error err;

	fake_set_image(f, st->image.ref, "sha256:1111");
	fake_add_container_from(f, st, OCC_CTR_EXITED);
	add_account(f, "alice", 1000, true, H1, true, "/bin/bash");
	add_account(f, "zed", 1001, true, NULL, false, "/bin/bash");
	ck_assert_int_eq(plan_of(&plan, f, st, &err), 0);
	ck_assert_int_eq((int)plan.n, 3);
	ck_assert_int_eq(plan.actions[0].kind, OCC_ACT_USER_UPDATE);
	ck_assert_str_eq(plan.actions[0].resource, "user");
	ck_assert_str_eq(plan.actions[0].target_id, "fake0001");
	ck_assert_str_eq(plan.actions[0].cause, "password, enabled and shell changed");
	ck_assert(plan.actions[0].changes[0].sensitive);
	ck_assert_str_eq(plan.actions[0].changes[0].field, "users[alice].password");
	ck_assert(!plan.actions[0].changes[1].sensitive);
	ck_assert_int_eq(plan.actions[1].kind, OCC_ACT_USER_REMOVE);
	ck_assert_str_eq(plan.actions[1].name, "zed");
	ck_assert_int_eq(plan.actions[2].kind, OCC_ACT_CONTAINER_START);
	occ_plan_release(&plan);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* ---- the Docker driver's tar reader and writer -------------------------- */

static void octal_field(char *dst, size_t width, unsigned long long v)
{
	snprintf(dst, width, "%0*llo", (int)width - 1, v);
}

/* One ustar entry (POSIX or GNU magic) into sb. */
static void put_entry(struct occ_strbuf *sb, const char *name, char type, const char *data,
		      size_t size, unsigned mode, unsigned uid, unsigned gid, bool gnu)
{
	static const char zero[512];
	unsigned char h[512];
	char *f = (char *)h;
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	memcpy(f, name, strlen(name) < 100 ? strlen(name) : 100);
	octal_field(f + 100, 8, mode);
	octal_field(f + 108, 8, uid);
	octal_field(f + 116, 8, gid);
	octal_field(f + 124, 12, size);
	octal_field(f + 136, 12, 1700000000);
	memset(f + 148, ' ', 8);
	f[156] = type;
	memcpy(f + 257, gnu ? "ustar  " : "ustar\0" "00", 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf(f + 148, 8, "%06o", sum);
	occ_strbuf_add(sb, h, sizeof(h));
	occ_strbuf_add(sb, data, size);
	if (size % 512)
		occ_strbuf_add(sb, zero, 512 - size % 512);
}

static void put_end(struct occ_strbuf *sb)
{
	static const char zero[1024];

	occ_strbuf_add(sb, zero, sizeof(zero));
}

/* Feed the whole stream in chunks of chunk bytes (0: at once). */
static int read_etc(struct occ_users_files *out, const struct occ_strbuf *tar, size_t chunk,
		    struct occ_error *err)
{
	struct occ_docker_etc r;
	size_t off = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	occ_docker__etc_init(&r, out);
	while (!ret && off < tar->len) {
		size_t k = chunk && chunk < tar->len - off ? chunk : tar->len - off;

		ret = occ_docker__etc_feed(&r, tar->buf + off, k, err);
		off += k;
	}
	if (!ret)
		ret = occ_docker__etc_finish(&r, err);
	occ_docker__etc_release(&r);
	return ret;
}

/* A tar of /etc as dockerd sends it: directories, other files, a PAX
 * header before passwd, shadow with its group, group under a GNU long name. */
static void etc_archive(struct occ_strbuf *sb)
{
	static const char pax[] = "30 mtime=1700000000.123456789\n19 path=etc/passwd\n";
	struct occ_strbuf big = OCC_STRBUF_INIT;

	occ_strbuf_init(&big);
	for (int i = 0; i < 3000; i++)
		occ_strbuf_adds(&big, "0123456789abcdef");
	put_entry(sb, "etc/", '5', "", 0, 0755, 0, 0, false);
	put_entry(sb, "etc/ca-bundle.crt", '0', big.buf, big.len, 0644, 0, 0, false);
	put_entry(sb, "etc/mtab", '2', "", 0, 0777, 0, 0, false);
	put_entry(sb, "etc/PaxHeaders/passwd", 'x', pax, strlen(pax), 0644, 0, 0, false);
	put_entry(sb, "etc/passwd-truncated-name", '0', M_PASSWD, strlen(M_PASSWD), 0644, 0, 0,
		  false);
	put_entry(sb, "etc/shadow", '0', M_SHADOW(H1), strlen(M_SHADOW(H1)), 0640, 0, 42, false);
	put_entry(sb, "././@LongLink", 'L', "etc/group", 10, 0644, 0, 0, true);
	put_entry(sb, "etc/grou", '0', M_GROUP, strlen(M_GROUP), 0644, 0, 0, true);
	put_entry(sb, "etc/passwd-", '0', "old", 3, 0600, 0, 0, false);
	put_end(sb);
	occ_strbuf_release(&big);
}

START_TEST(test_etc_reader)
{
	static const size_t chunks[] = { 0, 1, 7, 511, 512, 513, 4096 };
	struct occ_strbuf tar = OCC_STRBUF_INIT;
	struct occ_users_files files;
	struct occ_error err;

	occ_strbuf_init(&tar);
	etc_archive(&tar);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(chunks); i++) {
		occ_error_clear(&err);
		ck_assert_msg(read_etc(&files, &tar, chunks[i], &err) == 0, "chunk %zu: %s",
			      chunks[i], err.msg);
		ck_file(&files.passwd, M_PASSWD, "passwd");
		ck_file(&files.shadow, M_SHADOW(H1), "shadow");
		ck_file(&files.group, M_GROUP, "group");
		ck_assert_uint_eq(files.shadow.mode, 0640);
		ck_assert_uint_eq(files.shadow.gid, 42);
		occ_users_files_release(&files);
	}
	occ_strbuf_release(&tar);
}
END_TEST

struct etc_error_case {
	const char *name;
	char type;
	size_t size;           /* of the etc/passwd entry */
	bool truncate;         /* cut the stream inside the entry */
	int ret;
	const char *msg;
};

static const struct etc_error_case etc_errors[] = {
	{ "symlink", '2', 0, false, OCC_EINVALID,
	  "/etc/passwd in the container is not a regular file; occ edits only regular files" },
	{ "too large", '0', OCC_USERS_MAX_FILE + 1, false, OCC_EINVALID,
	  "/etc/passwd in the container is larger than 1048576 bytes" },
	{ "truncated", '0', 2000, true, OCC_EAPI,
	  "the archive of /etc sent by Docker is damaged" },
};

START_TEST(test_etc_reader_errors)
{
	const struct etc_error_case *tc = &etc_errors[_i];
	struct occ_strbuf tar = OCC_STRBUF_INIT;
	struct occ_users_files files;
	struct occ_error err;
	char *data = occ_xcalloc(tc->size + 1, 1);

	occ_strbuf_init(&tar);
	memset(data, 'a', tc->size);
	put_entry(&tar, "etc/passwd", tc->type, data, tc->size, 0644, 0, 0, false);
	put_end(&tar);
	if (tc->truncate)
		tar.len = 1024;
	occ_error_clear(&err);
	ck_assert_int_eq(read_etc(&files, &tar, 100, &err), tc->ret);
	ck_assert_str_eq(err.msg, tc->msg);
	occ_users_files_release(&files);
	occ_strbuf_release(&tar);
	free(data);
}
END_TEST

/* An empty archive (/etc without the files) reads as absent files. */
START_TEST(test_etc_reader_absent)
{
	struct occ_strbuf tar = OCC_STRBUF_INIT;
	struct occ_users_files files;
	struct occ_error err;

	occ_strbuf_init(&tar);
	put_entry(&tar, "etc/", '5', "", 0, 0755, 0, 0, false);
	put_entry(&tar, "etc/hosts", '0', "127.0.0.1 localhost\n", 20, 0644, 0, 0, false);
	put_end(&tar);
	occ_error_clear(&err);
	ck_assert_int_eq(read_etc(&files, &tar, 0, &err), 0);
	ck_assert(!files.passwd.present && !files.shadow.present && !files.group.present);
	occ_strbuf_release(&tar);
}
END_TEST

/* What the driver PUTs: the files with their modes and owners, homes of new
 * accounts (not a bind-mount target), the marker; the reader reads it back. */
START_TEST(test_users_tar)
{
	struct occ_state *st = load(PBASE "mounts: [{source: /srv/bob, target: /home/bob}]\n");
	struct occ_users_want w[2];
	struct occ_users_request req = { .want = w, .n_want = 2 };
	struct occ_users_result res;
	struct occ_users_files in, back;
	struct occ_strbuf tar = OCC_STRBUF_INIT;
	struct occ_error err;
	const char *p;

	want_set(&w[0], "alice", H1, true, "/bin/bash");
	want_set(&w[1], "bob", H2, true, "/bin/sh");
	occ_error_clear(&err);
	files_set(&in, DEB_PASSWD, DEB_SHADOW, DEB_GROUP);
	ck_assert_int_eq(occ_users_compute(&res, &in, &req, &err), 0);
	occ_strbuf_init(&tar);
	occ_docker__users_tar(&tar, &res, st, 1700000000);
	ck_assert_int_eq((int)(tar.len % 512), 0);
	ck_assert_int_eq(read_etc(&back, &tar, 300, &err), 0);
	ck_file(&back.passwd, res.files.passwd.data, "passwd");
	ck_file(&back.shadow, res.files.shadow.data, "shadow");
	ck_file(&back.group, res.files.group.data, "group");
	ck_assert_uint_eq(back.passwd.mode, 0644);
	ck_assert_uint_eq(back.shadow.mode, 0640);
	ck_assert_uint_eq(back.shadow.gid, 42);
	/* alice's home: a directory entry owned by her, 0750; none for bob (bind mount) */
	p = find_bytes(tar.buf, tar.len, "home/alice/");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[156], '5');
	ck_assert_str_eq(p + 100, "0000750");
	ck_assert_str_eq(p + 108, "0001751");    /* 1001 */
	ck_assert_str_eq(p + 116, "0001751");
	ck_assert_ptr_null(find_bytes(tar.buf, tar.len, "home/bob/"));
	ck_assert_ptr_nonnull(find_bytes(tar.buf, tar.len, "etc/occ-managed-accounts"));
	occ_users_files_release(&back);
	occ_strbuf_release(&tar);
	occ_users_result_release(&res);
	occ_users_files_release(&in);
	wants_release(w, 2);
	occ_state_free(st);
}
END_TEST

/*
 * The accounts cache: a record comes back only for the same container and
 * the same stat of the three files; hashes are not in the file, and come
 * back only while the state file's hash is the one that was read.
 */
#define OTHER_HASH "$6$saltsalt$dXw54c7FbjOTNROS8PXMARWjH6A.CoTmR9oM2pU2CDlRs9VvHh9JZlDM" \
	"hy8pVHspfw6lRpWxXOBa0bz9xL/Jo1"

START_TEST(test_accounts_cache)
{
	const char stat[OCC_DOCKER_ACCOUNT_FILES][512] = { "cA==", "cw==", "Zw==" };
	const char changed[OCC_DOCKER_ACCOUNT_FILES][512] = { "cA==", "cw==", "Zx==" };
	struct occ_obs_user users[2] = {
		{ .uid = 0, .gid = 0 },
		{ .uid = 1000, .gid = 1000, .managed = true },
	};
	struct occ_state *st = load(PBASE "users:\n  - {name: alice, password_hash: \""
				    REAL_HASH "\"}\n");
	struct occ_state *st2 = load(PBASE "users:\n  - {name: alice, password_hash: \""
				     OTHER_HASH "\"}\n");
	char tmpl[] = "/tmp/occ-test-accounts-XXXXXX";
	char *dir = mkdtemp(tmpl), *text = NULL, *path, *sub;
	struct occ_obs_user *got = NULL;
	struct occ_error err;
	size_t n = 0, len;

	users[0].name = occ_xstrdup("root");
	users[0].home = occ_xstrdup("/root");
	users[0].shell = occ_xstrdup("/bin/sh");
	users[0].hash = occ_xstrdup("$6$x$rootsecret");
	users[1].name = occ_xstrdup("alice");
	users[1].home = occ_xstrdup("/home/alice");
	users[1].shell = occ_xstrdup("/bin/bash");
	users[1].hash = occ_xstrdup(REAL_HASH);
	ck_assert_ptr_nonnull(dir);
	setenv("XDG_DATA_HOME", dir, 1);
	occ_docker__accounts_cache_store("web", "cid1", stat, users, 2);
	path = occ_xasprintf("%s/opencode-cloud/accounts/web", dir);
	occ_error_clear(&err);
	ck_assert_int_eq(occ_read_file(path, 1 << 20, &text, &len, &err), 0);
	ck_assert_ptr_null(strstr(text, "rootsecret"));
	ck_assert_ptr_null(strstr(text, strrchr(REAL_HASH, '$') + 1));
	ck_assert(occ_docker__accounts_cache_load(&got, &n, "cid1", stat, st));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(got[1].name, "alice");
	ck_assert_str_eq(got[1].hash, REAL_HASH);
	ck_assert(got[1].managed && !got[0].managed);
	ck_assert_uint_eq(got[1].uid, 1000);
	ck_assert_str_eq(got[1].shell, "/bin/bash");
	ck_assert_ptr_null(got[0].hash);   /* not desired: never compared */
	for (size_t i = 0; i < n; i++) {
		free(got[i].name);
		free(got[i].home);
		free(got[i].shell);
		free(got[i].hash);
		free(users[i].name);
		free(users[i].home);
		free(users[i].shell);
		free(users[i].hash);
	}
	free(got);
	ck_assert(!occ_docker__accounts_cache_load(&got, &n, "cid2", stat, st));
	ck_assert(!occ_docker__accounts_cache_load(&got, &n, "cid1", changed, st));
	ck_assert(!occ_docker__accounts_cache_load(&got, &n, "cid1", stat, st2));
	free(text);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	sub = occ_xasprintf("%s/opencode-cloud/accounts", dir);
	ck_assert_int_eq(rmdir(sub), 0);
	sub[strlen(sub) - strlen("/accounts")] = '\0';
	ck_assert_int_eq(rmdir(sub), 0);
	free(sub);
	ck_assert_int_eq(rmdir(dir), 0);
	occ_state_free(st2);
	occ_state_free(st);
}
END_TEST

/* A record is kept only for files at least 2 s old (either way, for clocks). */
START_TEST(test_path_stat_settled)
{
	/* {"name":"passwd",...,"mtime":"2026-11-24T03:30:34Z",...} and the same
	 * instant as "2026-11-24T04:30:34.123456789+01:00" */
	static const char *const stats[] = {
		"eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6NTIsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI0VDAzOjMw"
		"OjM0WiIsImxpbmtUYXJnZXQiOiIifQ==",
		"eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6NTIsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI0VDA0OjMw"
		"OjM0LjEyMzQ1Njc4OSswMTowMCIsImxpbmtUYXJnZXQiOiIifQ==",
	};
	const int64_t t = 1795491034;

	for (size_t i = 0; i < OCC_ARRAY_SIZE(stats); i++) {
		ck_assert(!occ_docker__path_stat_settled(stats[i], t));
		ck_assert(!occ_docker__path_stat_settled(stats[i], t + 1));
		ck_assert(occ_docker__path_stat_settled(stats[i], t + 2));
		ck_assert(occ_docker__path_stat_settled(stats[i], t - 2));
	}
	ck_assert(!occ_docker__path_stat_settled("", t));
	ck_assert(!occ_docker__path_stat_settled("bm90IGpzb24=", t));   /* "not json" */
}
END_TEST

static Suite *users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("files");

	tcase_add_loop_test(tc, test_compute, 0, (int)OCC_ARRAY_SIZE(compute_cases));
	tcase_add_test(tc, test_compute_ids_exhausted);
	tcase_add_test(tc, test_compute_prefer_id);
	tcase_add_test(tc, test_compute_bounds);
	tcase_add_loop_test(tc, test_parse, 0, (int)OCC_ARRAY_SIZE(parse_cases));
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("passwords");
	tcase_add_test(tc, test_resolve_sources);
	tcase_add_loop_test(tc, test_resolve_errors, 0, (int)OCC_ARRAY_SIZE(resolve_errors));
	suite_add_tcase(s, tc);
	tc = tcase_create("plan");
	tcase_add_test(tc, test_plan_conflict_unmarked);
	tcase_add_test(tc, test_plan_last_user_on_public_bind);
	tcase_add_test(tc, test_plan_password_file_missing);
	tcase_add_test(tc, test_plan_users_before_start);
	suite_add_tcase(s, tc);
	tc = tcase_create("docker-tar");
	tcase_add_test(tc, test_etc_reader);
	tcase_add_loop_test(tc, test_etc_reader_errors, 0, (int)OCC_ARRAY_SIZE(etc_errors));
	tcase_add_test(tc, test_etc_reader_absent);
	tcase_add_test(tc, test_users_tar);
	tcase_add_test(tc, test_accounts_cache);
	tcase_add_test(tc, test_path_stat_settled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(users_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
