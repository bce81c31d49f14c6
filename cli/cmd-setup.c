/*
 * cmd-setup.c - `occ setup`: the first-run wizard.
 *
 * On a terminal it asks for the port, loopback or network, the first user
 * and password (no echo, twice: cli/prompt.c, as `occ user add`), a
 * workspace directory to mount, and whether to build the image here or pull
 * one; shows a summary, writes the state file and applies it. Flags answer
 * questions in advance; --yes takes the defaults for the rest and asks
 * nothing (then a password comes only from --password-stdin or --generate).
 * Without a terminal and without --yes it explains what to run and writes
 * nothing: a script must never hang on a hidden prompt.
 *
 * A new state file is written from a commented template that explains each
 * key. When the file exists, its values are the defaults offered, and the
 * answers are applied as surgical edits in one transaction (cli/txn.h): the
 * user's comments and layout stay, FILE.bak keeps the previous version. Every
 * answer is checked by the state loader itself (a one-key document), so the
 * wizard and the file format cannot disagree about what is valid.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/prompt.h"
#include "cli/sub.h"
#include "cli/txn.h"
#include "reconciler/apply.h"

#define MAX_TRIES 3
#define DEFAULT_REF "opencode-cloud:local"

enum image_source {
	IMG_EMBEDDED = 0,   /* image.build.context: embedded */
	IMG_CONTEXT,        /* an existing image.build with a directory: kept */
	IMG_PULL,           /* image.ref pulled, no image.build */
};

struct setup {
	char *name;
	long port;
	char *bind;
	char *user;             /* NULL: no user */
	char *hash;             /* a new password hash, or NULL: keep the current */
	bool user_exists;
	char *workspace;        /* absolute host directory, or NULL */
	enum image_source image;
	char *ref;
	/* flags */
	enum occ_pw_mode pw;
	bool pw_given, no_apply;
	const char *opt_port, *opt_bind, *opt_user, *opt_workspace, *opt_image, *opt_name;
	bool opt_build, opt_no_workspace;
};

static int on_setup_opt(void *ctx, int opt, const char *arg)
{
	struct setup *s = ctx;

	switch (opt) {
	case 'p': s->opt_port = arg; break;
	case 'b': s->opt_bind = arg; break;
	case 'n': s->opt_bind = "0.0.0.0"; break;
	case 'u': s->opt_user = arg; break;
	case 'S': s->pw = OCC_PW_STDIN; s->pw_given = true; break;
	case 'G': s->pw = OCC_PW_GENERATE; s->pw_given = true; break;
	case 'w': s->opt_workspace = arg; break;
	case 'W': s->opt_no_workspace = true; break;
	case 'i': s->opt_image = arg; break;
	case 'B': s->opt_build = true; break;
	case 'N': s->opt_name = arg; break;
	case 'A': s->no_apply = true; break;
	}
	return 0;
}

static const struct option setup_long[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "bind", required_argument, NULL, 'b' },
	{ "network", no_argument, NULL, 'n' },
	{ "user", required_argument, NULL, 'u' },
	{ "password-stdin", no_argument, NULL, 'S' },
	{ "generate", no_argument, NULL, 'G' },
	{ "workspace", required_argument, NULL, 'w' },
	{ "no-workspace", no_argument, NULL, 'W' },
	{ "image", required_argument, NULL, 'i' },
	{ "build", no_argument, NULL, 'B' },
	{ "name", required_argument, NULL, 'N' },
	{ "no-apply", no_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

static void setup_release(struct setup *s)
{
	free(s->name);
	free(s->bind);
	free(s->user);
	free(s->hash);
	free(s->workspace);
	free(s->ref);
}

/* ---- values ------------------------------------------------------------- */

/* A YAML double-quoted scalar. */
static void add_quoted(struct occ_strbuf *sb, const char *s)
{
	occ_strbuf_addc(sb, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			occ_strbuf_addf(sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			occ_strbuf_addf(sb, "\\x%02x", c);
		else
			occ_strbuf_addc(sb, (char)c);
	}
	occ_strbuf_addc(sb, '"');
}

/* Check one answer with the state loader: yaml is a whole small document. */
static int check_doc(const char *yaml, struct occ_error *err)
{
	struct occ_state *st = NULL;
	int ret = occ_model_load_buffer(&st, yaml, strlen(yaml), "(answer)", NULL, err);

	occ_state_free(st);
	return ret;
}

static int check_answer(const char *fmt_key, const char *value, struct occ_error *err)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int ret;

	occ_strbuf_addf(&sb, "version: 1\n%s", fmt_key);
	add_quoted(&sb, value);
	occ_strbuf_addc(&sb, '\n');
	ret = check_doc(sb.buf, err);
	occ_strbuf_release(&sb);
	return ret;
}

static int check_port(const char *v, long *out, struct occ_error *err)
{
	if (occ_parse_long(v, 1, 65535, out) != 0)
		return occ_error_set(err, OCC_EINVALID, "'%s' is not a port: expected 1-65535", v);
	return 0;
}

/* With a user: whether a network bind has one is checked on the whole file. */
static int check_bind(const char *v, struct occ_error *err)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int ret;

	occ_strbuf_adds(&sb, "version: 1\nusers: [{name: someone, password_env: OCC_UNUSED}]\ncontainer:\n  bind: ");
	add_quoted(&sb, v);
	occ_strbuf_addc(&sb, '\n');
	ret = check_doc(sb.buf, err);
	occ_strbuf_release(&sb);
	return ret;
}

static int check_user(const char *v, struct occ_error *err)
{
	return check_answer("users:\n  - name: ", v, err);
}

static int check_ref(const char *v, struct occ_error *err)
{
	return check_answer("image:\n  ref: ", v, err);
}

static int check_name(const char *v, struct occ_error *err)
{
	return check_answer("name: ", v, err);
}

/* A workspace must be an existing directory; stored absolute. */
static int check_workspace(const char *v, char **out, struct occ_error *err)
{
	char *abs = occ_path_resolve(v, NULL);
	struct stat sb;

	if (stat(abs, &sb) < 0) {
		occ_error_errno(err, OCC_ENOTFOUND, errno, "cannot use '%s' as the workspace", abs);
		occ_error_hint(err, "create it first (mkdir -p %s) or give another directory", abs);
		free(abs);
		return err->code;
	}
	if (!S_ISDIR(sb.st_mode)) {
		occ_error_set(err, OCC_EINVALID, "cannot use '%s' as the workspace: not a directory",
			      abs);
		free(abs);
		return err->code;
	}
	free(*out);
	*out = abs;
	return 0;
}

static bool is_network(const char *bind)
{
	return !occ_bind_is_loopback(bind);
}

static char *workspace_target(const struct setup *s)
{
	return s->user ? occ_xasprintf("/home/%s/workspace", s->user)
		       : occ_xstrdup("/home/opencode/workspace");
}

/* ---- defaults ----------------------------------------------------------- */

/* The login name when it makes a valid occ user, else "dev". */
static char *default_user(void)
{
	const char *u = getenv("USER");
	struct occ_error err;

	occ_error_clear(&err);
	return occ_xstrdup(u && *u && check_user(u, &err) == 0 ? u : "dev");
}

static void defaults_from(struct setup *s, const struct occ_state *st)
{
	s->name = occ_xstrdup(st->name);
	s->port = st->container.port;
	s->bind = occ_xstrdup(st->container.bind);
	s->ref = occ_xstrdup(st->image.ref);
	s->image = !st->image.build.enabled ? IMG_PULL :
		   st->image.build.embedded ? IMG_EMBEDDED : IMG_CONTEXT;
	if (st->n_users) {
		s->user = occ_xstrdup(st->users[0].name);
		s->user_exists = true;
	}
	for (size_t i = 0; i < st->n_mounts && !s->workspace; i++)
		if (occ_starts_with(st->mounts[i].target, "/home/") &&
		    strstr(st->mounts[i].target, "/workspace"))
			s->workspace = occ_xstrdup(st->mounts[i].source);
}

static void defaults_new(struct setup *s)
{
	s->name = occ_xstrdup("opencode-cloud");
	s->port = 3000;
	s->bind = occ_xstrdup("127.0.0.1");
	s->ref = occ_xstrdup(DEFAULT_REF);
	s->image = IMG_EMBEDDED;
	s->user = default_user();
}

/* Flags given on the command line override the defaults. */
static int apply_flags(struct occ_cli *cli, struct setup *s)
{
	struct occ_error err;

	occ_error_clear(&err);
	if ((s->opt_port && check_port(s->opt_port, &s->port, &err)) ||
	    (s->opt_bind && check_bind(s->opt_bind, &err)) ||
	    (s->opt_user && check_user(s->opt_user, &err)) ||
	    (s->opt_image && check_ref(s->opt_image, &err)) ||
	    (s->opt_name && check_name(s->opt_name, &err)) ||
	    (s->opt_workspace && check_workspace(s->opt_workspace, &s->workspace, &err))) {
		occ_cli_print_error(cli, &err);
		return OCC_EXIT_USAGE;
	}
	if (s->opt_image && s->opt_build)
		return occ_cli_usage_error(cli, "--image (pull) and --build do not go together");
	if (s->opt_bind) {
		free(s->bind);
		s->bind = occ_xstrdup(s->opt_bind);
	}
	if (s->opt_user && !occ_streq(s->opt_user, s->user)) {
		free(s->user);
		s->user = occ_xstrdup(s->opt_user);
		s->user_exists = false;
	}
	if (s->opt_image) {
		free(s->ref);
		s->ref = occ_xstrdup(s->opt_image);
		s->image = IMG_PULL;
	}
	if (s->opt_build)
		s->image = IMG_EMBEDDED;
	if (s->opt_name) {
		free(s->name);
		s->name = occ_xstrdup(s->opt_name);
	}
	if (s->opt_no_workspace) {
		free(s->workspace);
		s->workspace = NULL;
	}
	return 0;
}

/* ---- questions ---------------------------------------------------------- */

/* Ask on the terminal; an empty answer takes def. false on EOF. */
static bool ask(FILE *tty, const char *question, const char *def, char *buf, size_t size)
{
	size_t n;

	if (def && *def)
		fprintf(tty, "%s [%s]: ", question, def);
	else
		fprintf(tty, "%s: ", question);
	fflush(tty);
	if (!fgets(buf, (int)size, tty))
		return false;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0 && def)
		snprintf(buf, size, "%s", def);
	return true;
}

/* Ask until check accepts the answer (at most MAX_TRIES times). */
static int ask_checked(FILE *tty, const char *question, const char *def, char *buf, size_t size,
		       int (*check)(void *ctx, const char *v, struct occ_error *err), void *ctx)
{
	for (int i = 0; i < MAX_TRIES; i++) {
		struct occ_error err;

		occ_error_clear(&err);
		if (!ask(tty, question, def, buf, size))
			return OCC_ECANCELED;
		if (check(ctx, buf, &err) == 0)
			return 0;
		fprintf(tty, "  %s%s%s\n", err.msg, err.hint[0] ? "; " : "", err.hint);
	}
	return OCC_EUSAGE;
}

static int chk_port(void *ctx, const char *v, struct occ_error *err)
{
	return check_port(v, &((struct setup *)ctx)->port, err);
}

static int chk_user(void *ctx, const char *v, struct occ_error *err)
{
	(void)ctx;
	return *v ? check_user(v, err) : 0;
}

static int chk_workspace(void *ctx, const char *v, struct occ_error *err)
{
	return *v ? check_workspace(v, &((struct setup *)ctx)->workspace, err) : 0;
}

static int chk_ref(void *ctx, const char *v, struct occ_error *err)
{
	(void)ctx;
	return check_ref(v, err);
}

/* The answers a one-letter question takes (ask_checked's ctx is not const). */
static char choice_ln[] = "ln", choice_yn[] = "yn", choice_kbp[] = "kbp", choice_bp[] = "bp";

static int chk_choice(void *ctx, const char *v, struct occ_error *err)
{
	const char *choices = ctx;

	if (strlen(v) == 1 && strchr(choices, v[0]))
		return 0;
	return occ_error_set(err, OCC_EINVALID, "answer one of: %s", choices);
}

static int ask_network(FILE *tty, struct setup *s, char *buf, size_t size)
{
	int ret = ask_checked(tty, "Reach it from this machine only (l) or from the network (n)?",
			      is_network(s->bind) ? "n" : "l", buf, size, chk_choice, choice_ln);

	if (ret)
		return ret;
	if (buf[0] == 'l') {
		if (is_network(s->bind)) {
			free(s->bind);
			s->bind = occ_xstrdup("127.0.0.1");
		}
		return 0;
	}
	if (!is_network(s->bind)) {
		free(s->bind);
		s->bind = occ_xstrdup("0.0.0.0");
	}
	fprintf(tty, "  note: anyone who can reach this machine on port %ld reaches opencode;\n"
		"  a user with a password is required and asked next.\n", s->port);
	return 0;
}

static int chk_user_required(void *ctx, const char *v, struct occ_error *err)
{
	(void)ctx;
	if (!*v)
		return occ_error_set(err, OCC_EINVALID, "a service on the network needs a user");
	return check_user(v, err);
}

/* A new password, asked again after a mismatch or a refusal (too short). */
static int ask_password(FILE *tty, struct occ_cli *cli, struct setup *s, char *buf, size_t size)
{
	if (s->user_exists && !s->hash) {
		int ret = ask_checked(tty, "Change the password of this existing user? (y/n)", "n",
				      buf, size, chk_choice, choice_yn);

		if (ret || buf[0] == 'n')
			return ret;
	}
	for (int i = 0; i < MAX_TRIES; i++) {
		free(s->hash);
		s->hash = NULL;
		if (occ_cli_new_password_hash(cli, OCC_PW_ASK, s->user, &s->hash) == 0)
			return 0;
	}
	return OCC_ECANCELED;
}

static int ask_user(FILE *tty, struct occ_cli *cli, struct setup *s, char *buf, size_t size)
{
	int ret;

	if (is_network(s->bind))
		ret = ask_checked(tty, "First user name", s->user ? s->user : "", buf, size,
				  chk_user_required, s);
	else
		ret = ask_checked(tty, "First user name (empty: none, this machine only)",
				  s->user ? s->user : "", buf, size, chk_user, s);
	if (ret)
		return ret;
	if (!occ_streq(buf, s->user)) {
		free(s->user);
		s->user = *buf ? occ_xstrdup(buf) : NULL;
		s->user_exists = false;
	}
	if (!s->user || s->pw_given)
		return 0;
	return ask_password(tty, cli, s, buf, size);
}

static int ask_image(FILE *tty, struct setup *s, char *buf, size_t size)
{
	const char *def = s->image == IMG_PULL ? "p" : s->image == IMG_CONTEXT ? "k" : "b";
	int ret;

	if (s->image == IMG_CONTEXT)
		ret = ask_checked(tty, "Image: keep building from your context (k), build the "
				  "embedded one (b) or pull (p)?", def, buf, size, chk_choice, choice_kbp);
	else
		ret = ask_checked(tty, "Image: build it here (b, the embedded Dockerfile) or pull "
				  "one (p)?", def, buf, size, chk_choice, choice_bp);
	if (ret)
		return ret;
	if (buf[0] == 'b')
		s->image = IMG_EMBEDDED;
	if (buf[0] != 'p')
		return 0;
	s->image = IMG_PULL;
	ret = ask_checked(tty, "Image reference to pull", s->ref, buf, size, chk_ref, s);
	if (ret == 0) {
		free(s->ref);
		s->ref = occ_xstrdup(buf);
	}
	return ret;
}

static int interview(struct occ_cli *cli, FILE *tty, struct setup *s)
{
	char buf[1024], def[32];
	int ret = 0;

	fprintf(tty, "occ setup: a few questions, then %s is written and applied.\n"
		"Press Enter to take the value in [brackets].\n\n", cli->file);
	snprintf(def, sizeof(def), "%ld", s->port);
	if (!s->opt_port && (ret = ask_checked(tty, "Port to publish opencode on", def, buf,
					       sizeof(buf), chk_port, s)))
		return ret;
	if (!s->opt_bind && (ret = ask_network(tty, s, buf, sizeof(buf))))
		return ret;
	if (!s->opt_user)
		ret = ask_user(tty, cli, s, buf, sizeof(buf));
	else if (!s->pw_given)   /* --user NAME given: only its password is asked */
		ret = ask_password(tty, cli, s, buf, sizeof(buf));
	if (ret)
		return ret;
	if (!s->opt_workspace && !s->opt_no_workspace) {
		char *target = workspace_target(s);
		char *q = occ_xasprintf("Host directory to mount as %s (empty: none)", target);

		ret = ask_checked(tty, q, s->workspace ? s->workspace : "", buf, sizeof(buf),
				  chk_workspace, s);
		if (ret == 0 && !*buf) {
			free(s->workspace);
			s->workspace = NULL;
		}
		free(q);
		free(target);
		if (ret)
			return ret;
	}
	if (!s->opt_image && !s->opt_build)
		return ask_image(tty, s, buf, sizeof(buf));
	return 0;
}

/* ---- the state file ----------------------------------------------------- */

static void summary(FILE *out, const char *file, const struct setup *s)
{
	char *target = workspace_target(s);

	fprintf(out, "\nSummary (%s):\n", file);
	fprintf(out, "  project    %s\n", s->name);
	fprintf(out, "  address    %s:%ld%s\n", s->bind, s->port,
		is_network(s->bind) ? " (the network: login required)" : " (this machine only)");
	fprintf(out, "  user       %s%s\n", s->user ? s->user : "(none)",
		!s->user ? "" : s->hash ? " (new password)" :
		s->user_exists ? " (password kept)" : " (no password yet)");
	if (s->workspace)
		fprintf(out, "  workspace  %s -> %s\n", s->workspace, target);
	else
		fprintf(out, "  workspace  (none)\n");
	fprintf(out, "  image      %s, %s\n", s->ref,
		s->image == IMG_PULL ? "pulled when missing" : s->image == IMG_EMBEDDED ?
		"built from the embedded Dockerfile" : "built from your build context");
	free(target);
}

static char *render_new(const struct setup *s)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char *target = workspace_target(s);

	occ_strbuf_adds(&sb,
		"# occ state file: the desired state of the opencode service, written by\n"
		"# `occ setup`. Edit it and run `occ apply` (`occ diff` previews), or run\n"
		"# `occ setup` again: it offers these values and keeps your comments.\n"
		"version: 1                  # format version of this file\n\n"
		"# The project: the container's name and the prefix of its volumes.\n"
		"name: ");
	add_quoted(&sb, s->name);
	occ_strbuf_adds(&sb, "\n\nimage:\n"
		"  # The image the service runs (a tag, or a digest to pin it).\n"
		"  ref: ");
	add_quoted(&sb, s->ref);
	occ_strbuf_adds(&sb, "\n  # When to pull ref from its registry: always | missing | never.\n"
		"  pull: missing\n");
	if (s->image == IMG_EMBEDDED)
		occ_strbuf_adds(&sb,
			"  # Build the image on this machine instead of pulling it: \"embedded\" is\n"
			"  # the Dockerfile built into occ; a directory with a Dockerfile works too.\n"
			"  # `occ update` rebuilds when the build inputs change.\n"
			"  build:\n"
			"    context: embedded\n");
	occ_strbuf_addf(&sb, "\ncontainer:\n"
		"  # The host port opencode is published on.\n"
		"  port: %ld\n"
		"  # The host address: 127.0.0.1 is this machine only; 0.0.0.0 is every\n"
		"  # network interface, and then users below are required.\n"
		"  bind: ", s->port);
	add_quoted(&sb, s->bind);
	occ_strbuf_adds(&sb, "\n"
		"  # Docker restarts the service: no | on-failure | always | unless-stopped.\n"
		"  restart: unless-stopped\n"
		"  # apply and update wait until this answers through the port (any status\n"
		"  # below 500 counts), and roll an update back when it never does.\n"
		"  health:\n"
		"    path: /healthz\n"
		"    timeout: 60s\n\n"
		"# Who can log in. Only a crypt hash of each password is stored here:\n"
		"# `occ user add NAME` adds one, `occ user passwd NAME` changes a password.\n");
	if (s->user) {
		occ_strbuf_adds(&sb, "users:\n  - name: ");
		add_quoted(&sb, s->user);
		if (s->hash) {
			occ_strbuf_adds(&sb, "\n    password_hash: ");
			add_quoted(&sb, s->hash);
		}
		occ_strbuf_adds(&sb, "\n");
	} else {
		occ_strbuf_adds(&sb, "users: []\n");
	}
	occ_strbuf_adds(&sb, "\n# Host directories mounted into the container (`occ mount add SRC:DST`).\n");
	if (s->workspace) {
		occ_strbuf_adds(&sb, "mounts:\n  - source: ");
		add_quoted(&sb, s->workspace);
		occ_strbuf_adds(&sb, "\n    target: ");
		add_quoted(&sb, target);
		occ_strbuf_adds(&sb, "\n");
	} else {
		occ_strbuf_adds(&sb, "mounts: []\n");
	}
	free(target);
	return occ_strbuf_detach(&sb);
}

/* Validate the new file exactly like the loader, then write it. */
static int write_new(struct occ_cli *cli, const struct setup *s)
{
	char *text = render_new(s), *dir = occ_xstrdup(cli->file), *slash = strrchr(dir, '/');
	struct occ_state *st = NULL;
	struct occ_error err;
	int ret;

	occ_error_clear(&err);
	if (slash && slash != dir) {
		*slash = '\0';
		if (occ_mkdir_p(dir, 0700, &err))
			goto fail;
	}
	if (occ_model_load_buffer(&st, text, strlen(text), cli->file, slash && slash != dir ? dir : NULL,
				  &err) ||
	    occ_write_file_keep(cli->file, text, strlen(text), cli->file, 0600, &err))
		goto fail;
	occ_state_free(cli->state);
	cli->state = NULL;
	ret = occ_model_load(&cli->state, cli->file, &err);
	if (ret)
		goto fail;
	occ_cli_info(cli, "wrote %s\n", cli->file);
	ret = 0;
	goto out;
fail:
	occ_cli_print_error(cli, &err);
	ret = OCC_EXIT_ERROR;
out:
	occ_state_free(st);
	free(text);
	free(dir);
	return ret;
}

static const struct occ_mount *find_mount(const struct occ_state *st, const char *target)
{
	for (size_t i = 0; i < st->n_mounts; i++)
		if (strcmp(st->mounts[i].target, target) == 0)
			return &st->mounts[i];
	return NULL;
}

static int edit_image(struct occ_cli_txn *t, const struct occ_state *st, const struct setup *s)
{
	int ret = 0;

	if (!occ_streq(st->image.ref, s->ref))
		ret = occ_cli_txn_set(t, "image.ref", s->ref, OCC_EDIT_STRING);
	if (!ret && s->image == IMG_PULL && st->image.build.enabled)
		ret = occ_cli_txn_delete(t, "image.build");
	if (!ret && s->image == IMG_EMBEDDED && !st->image.build.embedded)
		ret = occ_cli_txn_set(t, "image.build.context", "embedded", OCC_EDIT_PLAIN);
	return ret;
}

static int edit_user(struct occ_cli_txn *t, const struct setup *s)
{
	struct occ_edit_kv f[2];
	size_t n = 0;
	char *sel;
	int ret;

	if (!s->user)
		return 0;
	if (s->user_exists) {
		if (!s->hash)
			return 0;
		sel = occ_xasprintf("users[name=%s].password_hash", s->user);
		ret = occ_cli_txn_set(t, sel, s->hash, OCC_EDIT_STRING);
		free(sel);
		return ret;
	}
	f[n++] = (struct occ_edit_kv){ "name", s->user, OCC_EDIT_STRING };
	if (s->hash)
		f[n++] = (struct occ_edit_kv){ "password_hash", s->hash, OCC_EDIT_STRING };
	return occ_cli_txn_append(t, "users", f, n);
}

static int edit_workspace(struct occ_cli_txn *t, const struct occ_state *st,
			  const struct setup *s)
{
	char *target = workspace_target(s), *sel;
	const struct occ_mount *m = find_mount(st, target);
	int ret = 0;

	if (!s->workspace) {
		free(target);
		return 0;
	}
	if (!m) {
		struct occ_edit_kv f[2] = {
			{ "source", s->workspace, OCC_EDIT_STRING },
			{ "target", target, OCC_EDIT_STRING },
		};

		ret = occ_cli_txn_append(t, "mounts", f, 2);
	} else if (!occ_streq(m->source, s->workspace)) {
		sel = occ_xasprintf("mounts[target=%s].source", target);
		ret = occ_cli_txn_set(t, sel, s->workspace, OCC_EDIT_STRING);
		free(sel);
	}
	free(target);
	return ret;
}

/* The answers as surgical edits of the existing file. */
static int edit_existing(struct occ_cli_txn *t, const struct setup *s)
{
	const struct occ_state *st = t->cli->state;
	char port[16];
	int ret = 0;

	snprintf(port, sizeof(port), "%ld", s->port);
	if (!occ_streq(st->name, s->name))
		ret = occ_cli_txn_set(t, "name", s->name, OCC_EDIT_STRING);
	if (!ret && st->container.port != s->port)
		ret = occ_cli_txn_set(t, "container.port", port, OCC_EDIT_PLAIN);
	if (!ret && !occ_streq(st->container.bind, s->bind))
		ret = occ_cli_txn_set(t, "container.bind", s->bind, OCC_EDIT_STRING);
	if (!ret)
		ret = edit_image(t, st, s);
	if (!ret)
		ret = edit_user(t, s);
	if (!ret)
		ret = edit_workspace(t, st, s);
	return ret;
}

/* ---- the command -------------------------------------------------------- */

static char *url_of(const struct setup *s)
{
	const char *host = is_network(s->bind) && strcmp(s->bind, "0.0.0.0") != 0 &&
			   strcmp(s->bind, "::") != 0 ? s->bind : "127.0.0.1";

	if (strchr(host, ':'))
		return occ_xasprintf("http://[%s]:%ld/", host, s->port);
	return occ_xasprintf("http://%s:%ld/", host, s->port);
}

static void print_next(struct occ_cli *cli, const struct setup *s, bool applied)
{
	char *url = url_of(s);

	if (cli->quiet) {
		free(url);
		return;
	}
	if (applied)
		printf("\nopencode is running at %s\n", url);
	else
		printf("\n%s is ready; 'occ apply' starts opencode at %s\n", cli->file, url);
	if (s->user && (s->hash || s->user_exists))
		printf("Log in as '%s' with the password you chose "
		       "('occ user passwd %s' changes it).\n", s->user, s->user);
	else if (s->user)
		printf("'%s' has no password yet: set one with 'occ user passwd %s'.\n", s->user,
		       s->user);
	if (is_network(s->bind))
		printf("From other machines use this machine's address instead of %s.\n",
		       strcmp(s->bind, "0.0.0.0") == 0 ? "127.0.0.1" : s->bind);
	printf("State file: %s ('occ status' shows the service, 'occ update' checks for a newer "
	       "image).\n", cli->file);
	free(url);
}

static int no_terminal(struct occ_cli *cli)
{
	occ_cli_errorf(cli, "occ setup asks its questions on a terminal, and there is none; "
		       "nothing was written");
	fprintf(stderr, "hint: run it in a terminal, or answer in advance and take the defaults "
		"for the rest:\n"
		"  printf '%%s\\n' \"$PASSWORD\" | occ setup --yes --user NAME --password-stdin "
		"[--port N] [--network] [--workspace DIR] [--image REF | --build]\n"
		"'occ setup --help' lists the options.\n");
	return OCC_EXIT_USAGE;
}

/* Collect the answers: flags, then questions or --yes. */
static int gather(struct occ_cli *cli, struct setup *s)
{
	FILE *tty;
	int ret = apply_flags(cli, s);

	if (ret)
		return ret;
	if (cli->yes) {
		if (is_network(s->bind) && !s->user_exists && !(s->user && s->pw_given)) {
			occ_cli_errorf(cli, "a service published on %s needs a user with a password",
				       s->bind);
			fprintf(stderr, "hint: add --user NAME --password-stdin (or --generate)\n");
			return OCC_EXIT_USAGE;
		}
		if (s->user && !s->user_exists && !s->pw_given && !s->opt_user) {
			/* --yes without --user: no account to create. */
			free(s->user);
			s->user = NULL;
		}
		if (s->user && s->pw_given)
			return occ_cli_new_password_hash(cli, s->pw, s->user, &s->hash);
		return 0;
	}
	tty = fopen("/dev/tty", "r+e");
	if (!tty)
		return no_terminal(cli);
	if (s->pw_given && s->user)
		ret = occ_cli_new_password_hash(cli, s->pw, s->user, &s->hash);
	if (!ret)
		ret = interview(cli, tty, s);
	if (ret == OCC_ECANCELED || ret == OCC_EUSAGE) {
		fprintf(tty, "\n");
		occ_cli_errorf(cli, "setup stopped: nothing was written");
		ret = ret == OCC_EUSAGE ? OCC_EXIT_USAGE : OCC_EXIT_ERROR;
	}
	if (!ret) {
		summary(tty, cli->file, s);
		fflush(tty);
		if (!occ_cli_confirm(cli, "Write the state file and start the service?")) {
			occ_cli_errorf(cli, "not confirmed: nothing was written");
			ret = OCC_EXIT_ERROR;
		}
	}
	fclose(tty);
	return ret;
}

static int setup_existing(struct occ_cli *cli, struct setup *s, bool *written)
{
	struct occ_apply_opts ao = { 0 };
	struct occ_cli_txn t;
	bool changed;
	int ret = occ_cli_txn_begin(&t, cli, "setup");

	if (ret)
		return ret;
	ret = edit_existing(&t, s);
	changed = occ_cli_txn_changed(&t);
	if (!ret)
		ret = occ_cli_txn_commit(&t);
	*written = ret == 0;
	if (!ret)
		occ_cli_info(cli, changed ? "updated %s (the previous version is %s.bak)\n" :
			     "%s unchanged%s\n", cli->file, changed ? cli->file : "");
	if (!ret && !s->no_apply)
		ret = occ_cli_apply(cli, &ao, "setup", true);
	occ_cli_txn_end(&t);
	return ret;
}

int cmd_setup(struct occ_cli *cli, int argc, char **argv)
{
	struct setup s = { 0 };
	struct occ_apply_opts ao = { 0 };
	bool exists = access(cli->file, F_OK) == 0, written = false;
	int ret = 0, first = occ_cli_getopt(cli, argc, argv, "", setup_long, on_setup_opt, &s, &ret);

	if (first < 0)
		return ret;
	if (first < argc)
		return occ_cli_usage_error(cli, "unexpected argument '%s'", argv[first]);
	if (exists) {
		ret = occ_cli_load_state(cli, false);
		if (ret)
			return ret;
		defaults_from(&s, cli->state);
	} else {
		defaults_new(&s);
	}
	if (!cli->yes && !cli->tty_in) {
		ret = no_terminal(cli);
		goto out;
	}
	ret = gather(cli, &s);
	if (ret)
		goto out;
	if (cli->yes && !cli->quiet)
		summary(stderr, cli->file, &s);
	if (exists) {
		ret = setup_existing(cli, &s, &written);
	} else {
		ret = write_new(cli, &s);
		written = ret == 0;
		if (!ret && !s.no_apply)
			ret = occ_cli_apply(cli, &ao, "setup", false);
	}
	if (ret == 0)
		print_next(cli, &s, !s.no_apply);
	else if (written)
		fprintf(stderr, "the state file is written; fix the problem above and run "
			"'occ apply' (or 'occ setup' again)\n");
out:
	setup_release(&s);
	return ret;
}
