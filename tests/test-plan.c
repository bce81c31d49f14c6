/*
 * test-plan.c - the planner and the apply engine, through the fake driver.
 *
 * Golden files: tests/golden/plan-<case>.txt and .json hold the expected
 * `occ diff` text and JSON for each (desired, observed) pair below. After an
 * intended change of the output, regenerate them with
 *     OCC_UPDATE_GOLDEN=1 ctest --test-dir build -R test-plan
 * and review the diff of tests/golden/ before committing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/render.h"
#include "model/hash.h"
#include "reconciler/apply.h"
#include "tests/fake-driver.h"

static struct occ_state *load(const char *yaml)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	ret = occ_model_load_buffer(&st, yaml, strlen(yaml), "state.yaml", "/srv", &err);
	ck_assert_msg(ret == 0, "load failed: %s at %d:%d", err.msg, err.line, err.col);
	return st;
}

#define BASE "version: 1\nname: web\nimage: {ref: 'occ-test:1'}\nvolumes: []\n"
#define EMBEDDED "version: 1\nname: web\nimage: {ref: 'occ-test:1', build: {}}\nvolumes: []\n"

/* World setups: each gets the fake and the desired state. */
static void w_empty(struct fake_driver *f, const struct occ_state *st)
{
	(void)f;
	(void)st;
}

static void w_image(struct fake_driver *f, const struct occ_state *st)
{
	fake_set_image(f, st->image.ref, "sha256:1111");
}

static void w_running(struct fake_driver *f, const struct occ_state *st)
{
	w_image(f, st);
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
}

/* The container was created from a different state (given as YAML). */
static const char *prev_yaml;
static void w_running_prev(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_state *prev = load(prev_yaml);

	w_image(f, st);
	fake_add_container_from(f, prev, OCC_CTR_RUNNING);
	occ_state_free(prev);
}

static void w_exited(struct fake_driver *f, const struct occ_state *st)
{
	w_image(f, st);
	fake_add_container_from(f, st, OCC_CTR_EXITED)->exit_code = 137;
}

static void w_new_image(struct fake_driver *f, const struct occ_state *st)
{
	w_running(f, st);
	fake_set_image(f, st->image.ref, "sha256:2222");
}

static void w_leftover(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_obs_container *c;

	w_running(f, st);
	c = fake_add_container_from(f, st, OCC_CTR_CREATED);
	free(c->name);
	c->name = occ_xasprintf("%s-occ-next", st->name);
}

static void w_no_hash_label(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_obs_container *c;

	w_image(f, st);
	c = fake_add_container_from(f, st, OCC_CTR_RUNNING);
	free(c->spec_hash);
	c->spec_hash = NULL;
	c->hash_version = 0;
}

/* Created by an occ with hash version 1: no OCC_LOGIN (login required) and
 * none of the hardening of hash version 3 (capabilities, no-new-privileges,
 * log rotation, pids limit). Its version-1 hash still matches what it was
 * created with, but an older version no longer vouches for the container:
 * the fields are compared and the missing hardening recreates it once. */
static void w_hash_v1(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_obs_container *c;
	char hash[OCC_HASH_HEX_LEN + 1];

	w_image(f, st);
	c = fake_add_container_from(f, st, OCC_CTR_RUNNING);
	occ_kvlist_release(&c->env);
	for (size_t i = 0; i < st->container.env.n; i++)
		occ_kvlist_set(&c->env, st->container.env.items[i].key,
			       st->container.env.items[i].value);
	ck_assert_int_eq(occ_spec_hash(st, 1, hash), 0);
	free(c->spec_hash);
	c->spec_hash = occ_xstrdup(hash);
	c->hash_version = 1;
	free(c->security);
	c->security = occ_security_text(false, NULL, 0, false);
	free(c->log);
	c->log = occ_log_text("json-file", NULL, NULL);
	c->pids_limit = 0;
}

/* The image was built from another embedded context (an older occ). */
static void w_old_embedded(struct fake_driver *f, const struct occ_state *st)
{
	w_image(f, st);
	occ_kvlist_set(&f->world.image.labels, OCC_IMAGE_LABEL_CONTEXT, "0123abcd");
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
}

/* Built from this occ's embedded context: nothing to do. */
static void w_new_embedded(struct fake_driver *f, const struct occ_state *st)
{
	w_image(f, st);
	occ_kvlist_set(&f->world.image.labels, OCC_IMAGE_LABEL_CONTEXT, occ_embedded_image_hash);
	fake_add_container_from(f, st, OCC_CTR_RUNNING);
}

static void w_future_hash(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_obs_container *c;

	w_image(f, st);
	c = fake_add_container_from(f, st, OCC_CTR_RUNNING);
	c->hash_version = 99;
}

/* The driver leaves out env entries equal to the image's own (here PATH); no
 * spec-hash label, so the planner has to compare field by field. */
static void w_image_env(struct fake_driver *f, const struct occ_state *st)
{
	struct occ_obs_container *c;

	w_image(f, st);
	occ_kvlist_set(&f->world.image.env, "PATH", "/bin");
	c = fake_add_container_from(f, st, OCC_CTR_RUNNING);
	occ_kvlist_release(&c->env);
	occ_kvlist_set(&c->env, "TZ", "UTC");
	occ_kvlist_set(&c->env, OCC_LISTEN_PORT_ENV, "3000");
	if (occ_state_login_open(st))
		occ_kvlist_set(&c->env, OCC_LOGIN_ENV, "open");
	free(c->spec_hash);
	c->spec_hash = NULL;
}

/* Accounts in the container (the driver reads them when the container exists). */
#define HASH_A "$6$aaaaaaaa$nUye3.3spc0UtfN6X4DfV2da7j1rcOiEG6Qbn3CbYUEP2LlLnhnEjxI30XdhzoXudIFE" \
	"I27ugKrkrfXfbAgyI/"
#define HASH_B "$6$bbbbbbbb$Bvnn90MreJkmUXSxGO5Ix4XoRye0wPE5BCZ4unOyFDi25v2pZBaUdZcuNvFu0eL81j6U" \
	"JW38.gbDVjNjhUEtW1"
#define ALICE(extra) "users:\n  - {name: alice, password_hash: \"" HASH_A "\"" extra "}\n"

static void add_account(struct fake_driver *f, const char *name, unsigned uid, bool managed,
			const char *hash)
{
	struct occ_obs_user *u;

	f->world.users = occ_xrealloc(f->world.users, (f->world.n_users + 1) * sizeof(*u));
	u = &f->world.users[f->world.n_users++];
	memset(u, 0, sizeof(*u));
	u->name = occ_xstrdup(name);
	u->uid = u->gid = uid;
	u->home = occ_xasprintf("/home/%s", name);
	u->shell = occ_xstrdup("/bin/bash");
	u->hash = occ_xstrdup(hash);
	u->managed = managed;
	f->world.users_observed = true;
}

/* Running, accounts read: only the image's own. */
static void w_accounts(struct fake_driver *f, const struct occ_state *st)
{
	w_running(f, st);
	add_account(f, "root", 0, false, NULL);
	add_account(f, "opencode", 1000, false, NULL);
}

/* ...and alice, made by occ with HASH_A, enabled, /bin/bash. */
static void w_alice(struct fake_driver *f, const struct occ_state *st)
{
	w_accounts(f, st);
	add_account(f, "alice", 1001, true, HASH_A);
}

/* Created from prev_yaml, with alice as occ made her. */
static void w_alice_prev(struct fake_driver *f, const struct occ_state *st)
{
	w_running_prev(f, st);
	add_account(f, "root", 0, false, NULL);
	add_account(f, "alice", 1001, true, HASH_A);
}

/*
 * A recreate (from prev_yaml to the desired state) cut short after step n of
 * docker-apply.c's sequence, as it leaves the containers: 1 "-occ-next"
 * created, 2 the old one stopped, 3 the old one renamed to "-occ-old", 4 the
 * new one renamed to the name, 5 the new one started (the old one not yet
 * removed). The driver reads the accounts from the container under the name,
 * else from "-occ-old" (docker-users.c).
 */
static struct occ_obs_container *add_as(struct fake_driver *f, const struct occ_state *st,
					enum occ_ctr_state state, const char *suffix)
{
	struct occ_obs_container *c = fake_add_container_from(f, st, state);

	free(c->name);
	c->name = occ_xasprintf("%s%s", st->name, suffix);
	return c;
}

static void cut_recreate(struct fake_driver *f, const struct occ_state *st, int step)
{
	struct occ_state *prev = load(prev_yaml);

	w_image(f, st);
	add_as(f, prev, step >= 2 ? OCC_CTR_EXITED : OCC_CTR_RUNNING, step >= 3 ? "-occ-old" : "");
	add_as(f, st, step >= 5 ? OCC_CTR_RUNNING : OCC_CTR_CREATED, step >= 4 ? "" : "-occ-next");
	add_account(f, "root", 0, false, NULL);
	add_account(f, "alice", 1001, true, HASH_A);
	occ_state_free(prev);
}

static void w_cut_1(struct fake_driver *f, const struct occ_state *st) { cut_recreate(f, st, 1); }
static void w_cut_2(struct fake_driver *f, const struct occ_state *st) { cut_recreate(f, st, 2); }
static void w_cut_3(struct fake_driver *f, const struct occ_state *st) { cut_recreate(f, st, 3); }
static void w_cut_4(struct fake_driver *f, const struct occ_state *st) { cut_recreate(f, st, 4); }
static void w_cut_5(struct fake_driver *f, const struct occ_state *st) { cut_recreate(f, st, 5); }

#define CUT_PREV BASE "container: {env: {TZ: UTC}}\n" ALICE("")
#define CUT_WANT BASE "container: {env: {TZ: Europe/Paris}}\n" ALICE("")

struct golden_case {
	const char *name;
	const char *yaml;
	void (*world)(struct fake_driver *, const struct occ_state *);
	const char *prev;      /* for w_running_prev */
	int n_actions;
};

static const struct golden_case golden[] = {
	{ "fresh", BASE "container: {env: {TZ: UTC}}\nmounts: [{source: /srv/src, target: /work}]\n",
	  w_empty, NULL, 3 },
	{ "fresh-volumes", "version: 1\nname: web\nimage: {ref: 'occ-test:1'}\n"
	  "volumes: [{name: data, target: /data}]\n", w_image, NULL, 3 },
	{ "in-sync", BASE "container: {env: {TZ: UTC}}\n", w_running, NULL, 0 },
	{ "env-changed", BASE "container: {env: {TZ: Europe/Paris}}\n", w_running_prev,
	  BASE "container: {env: {TZ: UTC}}\n", 1 },
	{ "env-added-removed", BASE "container: {env: {A: '1', C: '3'}}\n", w_running_prev,
	  BASE "container: {env: {A: '1', B: '2'}}\n", 1 },
	{ "port-changed", BASE "container: {port: 3001}\n", w_running_prev, BASE, 1 },
	{ "mount-added", BASE "mounts: [{source: /srv/src, target: /work, readonly: true}]\n",
	  w_running_prev, BASE, 1 },
	{ "image-ref-changed", "version: 1\nname: web\nimage: {ref: 'occ-test:2'}\nvolumes: []\n",
	  w_running_prev, BASE, 1 },
	{ "image-id-changed", BASE, w_new_image, NULL, 1 },
	{ "sensitive-env", BASE "container: {env: {API_TOKEN: new-secret}}\n", w_running_prev,
	  BASE "container: {env: {API_TOKEN: old-secret}}\n", 1 },
	{ "exited", BASE, w_exited, NULL, 1 },
	{ "stop-desired", BASE "container: {running: false}\n", w_running, NULL, 1 },
	{ "leftover", BASE, w_leftover, NULL, 1 },
	{ "no-hash-label-same-fields", BASE, w_no_hash_label, NULL, 0 },
	{ "future-hash-version-same-fields", BASE, w_future_hash, NULL, 0 },
	{ "hash-version-1-hardened", BASE "container: {env: {TZ: UTC}}\n", w_hash_v1, NULL, 1 },
	{ "login-closes-on-first-user", BASE ALICE(""), w_running_prev, BASE, 1 },
	{ "embedded-image-outdated", EMBEDDED, w_old_embedded, NULL, 1 },
	{ "embedded-image-current", EMBEDDED, w_new_embedded, NULL, 0 },
	{ "image-label-unknown", BASE, w_old_embedded, NULL, 0 },
	{ "env-equal-to-image-default", BASE "container: {env: {PATH: /bin, TZ: UTC}}\n",
	  w_image_env, NULL, 0 },
	{ "env-differs-from-image-default", BASE "container: {env: {PATH: /usr/bin, TZ: UTC}}\n",
	  w_image_env, NULL, 1 },
	{ "volume-dropped", "version: 1\nname: web\nimage: {ref: 'occ-test:1'}\nvolumes: []\n",
	  w_running_prev, "version: 1\nname: web\nimage: {ref: 'occ-test:1'}\n"
	  "volumes: [{name: data, target: /data}]\n", 1 },
	{ "user-create", BASE ALICE(""), w_accounts, NULL, 1 },
	{ "user-in-sync", BASE ALICE(""), w_alice, NULL, 0 },
	{ "user-password-changed", BASE "users:\n  - {name: alice, password_hash: \"" HASH_B "\"}\n",
	  w_alice, NULL, 1 },
	{ "user-disabled", BASE ALICE(", enabled: false"), w_alice, NULL, 1 },
	{ "user-shell-changed", BASE ALICE(", shell: /bin/sh"), w_alice, NULL, 1 },
	{ "user-removed", BASE, w_alice, NULL, 1 },
	{ "users-on-create", BASE ALICE("") "  - {name: bob, password_env: BOB_HASH, shell: /bin/sh}\n"
	  "  - {name: carol, password_file: /srv/carol.hash, enabled: false}\n", w_image, NULL, 2 },
	{ "users-on-recreate", BASE "container: {env: {TZ: UTC}}\n"
	  ALICE(", enabled: false") "  - {name: bob, password_hash: \"" HASH_B "\"}\n",
	  w_alice_prev, BASE ALICE(""), 1 },
	/* an interrupted recreate: finished by the next plan, never duplicated */
	{ "recreate-cut-after-create", CUT_WANT, w_cut_1, CUT_PREV, 2 },
	{ "recreate-cut-after-stop", CUT_WANT, w_cut_2, CUT_PREV, 2 },
	{ "recreate-cut-between-renames", CUT_WANT, w_cut_3, CUT_PREV, 4 },
	{ "recreate-cut-before-start", CUT_WANT, w_cut_4, CUT_PREV, 2 },
	{ "recreate-cut-before-remove", CUT_WANT, w_cut_5, CUT_PREV, 1 },
};

static char *read_all(const char *path)
{
	struct occ_error err;
	char *buf = NULL;
	size_t len;

	occ_error_clear(&err);
	if (occ_read_file(path, 1 << 20, &buf, &len, &err) != 0)
		return NULL;
	return buf;
}

static void check_golden(const char *name, const char *ext, const char *got)
{
	char *path = occ_xasprintf("%s/tests/golden/plan-%s.%s", OCC_SOURCE_DIR, name, ext);
	char *want;

	if (getenv("OCC_UPDATE_GOLDEN")) {
		FILE *fp = fopen(path, "w");

		ck_assert_ptr_nonnull(fp);
		fputs(got, fp);
		fclose(fp);
	}
	want = read_all(path);
	ck_assert_msg(want != NULL, "missing golden file %s (regenerate with OCC_UPDATE_GOLDEN=1)", path);
	ck_assert_msg(strcmp(want, got) == 0, "%s differs from the plan:\n--- want\n%s--- got\n%s",
		      path, want, got);
	free(want);
	free(path);
}

static void plan_for(struct occ_plan *plan, struct fake_driver *f, const struct occ_state *st)
{
	struct occ_observed obs;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ret = occ_plan_compute(plan, st, &obs, &err);
	ck_assert_msg(ret == 0, "plan failed: %s", err.msg);
	occ_observed_release(&obs);
}

START_TEST(test_golden)
{
	const struct golden_case *gc = &golden[_i];
	struct occ_state *st = load(gc->yaml);
	struct fake_driver *f = fake_driver_new();
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_plan plan, again;
	struct occ_json j;

	prev_yaml = gc->prev;
	gc->world(f, st);
	plan_for(&plan, f, st);
	ck_assert_int_eq((int)plan.n, gc->n_actions);

	occ_strbuf_init(&sb);
	occ_render_plan_text(&sb, "local", &plan, false);
	occ_strbuf_addc(&sb, '\n');
	occ_render_summary_text(&sb, plan.n_create, plan.n_change, plan.n_recreate, plan.n_remove);
	check_golden(gc->name, "txt", sb.buf);
	/* Secrets never reach the output. */
	ck_assert_ptr_null(strstr(sb.buf, "secret"));

	occ_json_init(&j);
	occ_render_plan_json(&j, "local", st->name, &plan);
	occ_strbuf_addc(&j.sb, '\n');
	check_golden(gc->name, "json", j.sb.buf);
	ck_assert_ptr_null(strstr(j.sb.buf, "secret"));
	occ_json_release(&j);

	/* Deterministic: the same inputs give the same plan. */
	plan_for(&again, f, st);
	occ_strbuf_reset(&sb);
	occ_render_plan_text(&sb, "local", &again, false);
	occ_strbuf_addc(&sb, '\n');
	occ_render_summary_text(&sb, again.n_create, again.n_change, again.n_recreate, again.n_remove);
	check_golden(gc->name, "txt", sb.buf);

	occ_plan_release(&again);
	occ_plan_release(&plan);
	occ_strbuf_release(&sb);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* Plans that must fail: the error as the CLI shows it, golden too. */
struct golden_error {
	const char *name;
	const char *yaml;
	void (*world)(struct fake_driver *, const struct occ_state *);
	int ret;
};

static void w_carl_unmarked(struct fake_driver *f, const struct occ_state *st)
{
	w_accounts(f, st);
	add_account(f, "carl", 1001, false, NULL);
}

static const struct golden_error golden_errors[] = {
	{ "user-conflict-unmarked", BASE "users:\n  - {name: alice, password_hash: \"" HASH_A "\"}\n"
	  "  - {name: carl, password_hash: \"" HASH_B "\"}\n", w_carl_unmarked, OCC_ECONFLICT },
};

START_TEST(test_golden_error)
{
	const struct golden_error *ge = &golden_errors[_i];
	struct occ_state *st = load(ge->yaml);
	struct fake_driver *f = fake_driver_new();
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	ge->world(f, st);
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), ge->ret);
	ck_assert_int_eq((int)plan.n, 0);
	occ_strbuf_init(&sb);
	occ_strbuf_addf(&sb, "error: %s\n  at %s:%d:%d\nhint: %s\n", err.msg, err.file, err.line,
			err.col, err.hint);
	check_golden(ge->name, "txt", sb.buf);
	ck_assert_ptr_null(strstr(sb.buf, "$6$"));
	occ_strbuf_release(&sb);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* Apply against a converging fake, then plan again: nothing left to do. */
static void converge_state(const struct occ_state *st)
{
	struct fake_driver *f = fake_driver_new();
	struct occ_apply_report rep;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;
	int ret;

	f->converge = true;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), 0);
	ck_assert_msg(plan.n > 0, "a fresh host must need actions");
	ret = occ_apply_plan(&f->base, st, &obs, &plan, NULL, NULL, &rep, &err);
	ck_assert_msg(ret == 0, "apply failed: %s", err.msg);
	ck_assert_int_eq(rep.n_failed, 0);
	occ_plan_release(&plan);
	occ_observed_release(&obs);

	plan_for(&plan, f, st);
	ck_assert_msg(occ_plan_empty(&plan), "plan not empty after apply: %zu actions, first %s %s (%s)",
		      plan.n, occ_action_kind_name(plan.actions[0].kind), plan.actions[0].name,
		      plan.actions[0].cause);
	occ_plan_release(&plan);
	occ_driver_free(&f->base);
}

static void write_hash(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* An example loaded as if it sat in secrets_dir, where its password_file is. */
static struct occ_state *load_example(const char *path, const char *secrets_dir)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	char *text = read_all(path);
	int ret;

	ck_assert_ptr_nonnull(text);
	occ_error_clear(&err);
	ret = occ_model_load_buffer(&st, text, strlen(text), path, secrets_dir, &err);
	ck_assert_msg(ret == 0, "%s: %s", path, err.msg);
	free(text);
	return st;
}

START_TEST(test_converge_examples)
{
	char *dir = occ_xasprintf("%s/examples", OCC_SOURCE_DIR);
	char secrets[] = "/tmp/occ-examples.XXXXXX";
	DIR *d = opendir(dir);
	struct dirent *de;
	char *sub, *hash;
	int n = 0;

	ck_assert_ptr_nonnull(mkdtemp(secrets));
	sub = occ_xasprintf("%s/secrets", secrets);
	hash = occ_xasprintf("%s/bob.hash", sub);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	write_hash(hash, HASH_B "\n");
	setenv("CAROL_PASSWORD_HASH", HASH_A, 1);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		struct occ_state *st = NULL;
		struct occ_error err;
		char *path;
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		path = occ_xasprintf("%s/%s", dir, de->d_name);
		occ_error_clear(&err);
		ck_assert_msg(occ_model_load(&st, path, &err) == 0, "%s: %s", path, err.msg);
		/* The hashes the examples read from a file and from the environment
		 * (the apply reads every one before its first action). */
		occ_state_free(st);
		st = load_example(path, secrets);
		if (st->n_hosts == 0) {
			struct occ_state *eff = occ_state_for_host(st, NULL);

			converge_state(eff);
			occ_state_free(eff);
		}
		for (size_t i = 0; i < st->n_hosts; i++) {
			struct occ_state *eff = occ_state_for_host(st, &st->hosts[i]);

			converge_state(eff);
			occ_state_free(eff);
		}
		occ_state_free(st);
		free(path);
		n++;
	}
	closedir(d);
	free(dir);
	unlink(hash);
	rmdir(sub);
	rmdir(secrets);
	unsetenv("CAROL_PASSWORD_HASH");
	free(hash);
	free(sub);
	ck_assert_int_ge(n, 3);
}
END_TEST

/* A recreate cut short after each of its steps: the next apply leaves one
 * container, under the name, with the desired spec, and nothing to do. */
START_TEST(test_interrupted_recreate_converges)
{
	static void (*const worlds[])(struct fake_driver *, const struct occ_state *) = {
		w_cut_1, w_cut_2, w_cut_3, w_cut_4, w_cut_5,
	};
	struct occ_state *st = load(CUT_WANT);
	struct fake_driver *f = fake_driver_new();
	struct occ_apply_report rep;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	prev_yaml = CUT_PREV;
	worlds[_i](f, st);
	f->converge = true;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), 0);
	ck_assert_int_eq(occ_apply_plan(&f->base, st, &obs, &plan, NULL, NULL, &rep, &err), 0);
	occ_plan_release(&plan);
	occ_observed_release(&obs);

	ck_assert_int_eq((int)f->world.n_containers, 1);
	ck_assert_str_eq(f->world.containers[0].name, "web");
	ck_assert_ptr_nonnull(occ_kvlist_get(&f->world.containers[0].env, "TZ"));
	ck_assert_str_eq(occ_kvlist_get(&f->world.containers[0].env, "TZ"), "Europe/Paris");
	ck_assert_int_eq(f->world.containers[0].state, OCC_CTR_RUNNING);
	plan_for(&plan, f, st);
	ck_assert_msg(occ_plan_empty(&plan), "after step %d: %zu actions left", _i + 1, plan.n);
	occ_plan_release(&plan);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* A journal that cannot be written fails the apply before its first action. */
START_TEST(test_unwritable_journal)
{
	struct occ_state *st = load(BASE);
	struct fake_driver *f = fake_driver_new();
	struct occ_apply_opts opts = { .journal_path = "/dev/null/occ/journal/web.log" };
	struct occ_apply_report rep;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	f->converge = true;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), 0);
	ck_assert_int_gt((int)plan.n, 0);
	ck_assert_int_eq(occ_apply_plan(&f->base, st, &obs, &plan, &opts, NULL, &rep, &err),
			 OCC_EIO);
	ck_assert_int_eq(f->n_calls, 0);
	ck_assert_int_eq((int)rep.n_done, 0);
	ck_assert_msg(strstr(err.hint, "XDG_DATA_HOME"), "hint: %s", err.hint);
	occ_plan_release(&plan);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* Fail the Nth driver call: reported, and nothing after it is attempted. */
START_TEST(test_failure_injection)
{
	struct occ_state *st = load("version: 1\nname: web\nimage: {ref: 'occ-test:1'}\n"
				    "volumes: [{name: data, target: /data}]\n");
	struct fake_driver *f = fake_driver_new();
	int fail_at = _i + 1;
	struct occ_apply_report rep;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;
	int ret;

	f->converge = true;
	f->fail_at = fail_at;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), 0);
	/* pull, create volume, create container, start */
	ck_assert_int_eq((int)plan.n, 4);
	ret = occ_apply_plan(&f->base, st, &obs, &plan, NULL, NULL, &rep, &err);
	ck_assert_int_eq(ret, OCC_EAPI);
	ck_assert_ptr_nonnull(strstr(err.msg, "injected failure"));
	ck_assert_int_eq((int)rep.n_done, fail_at - 1);
	ck_assert_int_eq((int)rep.n_failed, 1);
	ck_assert_int_eq(f->n_calls, fail_at);
	ck_assert_int_eq(f->n_health, 0);
	occ_plan_release(&plan);
	occ_observed_release(&obs);

	/* The next apply finishes the job. */
	f->fail_at = 0;
	converge_state(st);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

START_TEST(test_health_failure)
{
	struct occ_state *st = load(BASE);
	struct fake_driver *f = fake_driver_new();
	struct occ_apply_report rep;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	f->converge = true;
	f->fail_health = OCC_EUNHEALTHY;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	w_image(f, st);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), 0);
	ck_assert_int_eq(occ_apply_plan(&f->base, st, &obs, &plan, NULL, NULL, &rep, &err),
			 OCC_EUNHEALTHY);
	ck_assert_int_eq(f->n_health, 1);
	ck_assert_int_eq((int)rep.n_done, 2);
	ck_assert(!rep.healthy);
	occ_plan_release(&plan);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

/* A container with the project's name that occ did not create: refused. */
START_TEST(test_foreign_container)
{
	struct occ_state *st = load(BASE);
	struct fake_driver *f = fake_driver_new();
	struct occ_obs_container *c;
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	w_image(f, st);
	c = fake_add_container_from(f, st, OCC_CTR_RUNNING);
	c->owned = false;
	free(c->project);
	c->project = NULL;
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), OCC_ECONFLICT);
	ck_assert_str_eq(err.msg, "container 'web' exists but was not created by occ");
	ck_assert_ptr_nonnull(strstr(err.hint, "docker rm -f web"));
	ck_assert_int_eq((int)plan.n, 0);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

START_TEST(test_foreign_volume)
{
	struct occ_state *st = load("version: 1\nname: web\nimage: {ref: 'occ-test:1'}\n"
				    "volumes: [{name: data, target: /data}]\n");
	struct fake_driver *f = fake_driver_new();
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	fake_add_volume(f, "web-data", false);
	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), OCC_ECONFLICT);
	ck_assert_str_eq(err.msg, "volume 'web-data' exists but was not created by occ for project 'web'");
	ck_assert_int_eq(err.line, 4);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

START_TEST(test_pull_never_missing)
{
	struct occ_state *st = load("version: 1\nname: web\nimage: {ref: 'occ-test:1', pull: never}\n");
	struct fake_driver *f = fake_driver_new();
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	occ_error_clear(&err);
	occ_observed_init(&obs);
	ck_assert_int_eq(occ_driver_observe(&f->base, st, &obs, &err), 0);
	ck_assert_int_eq(occ_plan_compute(&plan, st, &obs, &err), OCC_ENOTFOUND);
	ck_assert_str_eq(err.msg, "image 'occ-test:1' is not present and image.pull is never");
	ck_assert_int_eq(err.line, 3);
	occ_observed_release(&obs);
	occ_driver_free(&f->base);
	occ_state_free(st);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("golden");

	tcase_add_loop_test(tc, test_golden, 0, (int)OCC_ARRAY_SIZE(golden));
	tcase_add_loop_test(tc, test_golden_error, 0, (int)OCC_ARRAY_SIZE(golden_errors));
	suite_add_tcase(s, tc);
	tc = tcase_create("apply");
	tcase_add_test(tc, test_converge_examples);
	tcase_add_loop_test(tc, test_failure_injection, 0, 4);
	tcase_add_loop_test(tc, test_interrupted_recreate_converges, 0, 5);
	tcase_add_test(tc, test_unwritable_journal);
	tcase_add_test(tc, test_health_failure);
	tcase_add_test(tc, test_foreign_container);
	tcase_add_test(tc, test_foreign_volume);
	tcase_add_test(tc, test_pull_never_missing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
