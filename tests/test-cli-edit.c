/*
 * test-cli-edit.c - the imperative commands that edit the state file:
 * user, mount, config, stop/start's edit. Each case runs the occ binary on a
 * real-looking file (comments, flow and block styles) with --no-apply (or a
 * command that does not reconcile), then compares the whole file with the
 * expected bytes: only the edited node changes, comments and layout stay.
 * Docker is pointed at a socket that does not exist.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "model/password.h"
#include "tests/testutil.h"

static char *tmp;

#define HASH_A "$6$abcdefgh$" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

#define BASE \
	"# the team's opencode\n" \
	"version: 1\n" \
	"name: team   # container name\n" \
	"container:\n" \
	"  port: 3000\n" \
	"  env: {TZ: UTC}   # flow style\n" \
	"users:\n" \
	"  - name: alice\n" \
	"    password_hash: \"" HASH_A "\"\n" \
	"    shell: /bin/sh\n"

struct edit_case {
	const char *input;
	const char *args[8];
	int status;
	const char *output;      /* the whole file afterwards */
	const char *err_has;
};

static const struct edit_case cases[] = {
	{ BASE, { "config", "set", "container.port", "3001" }, 0,
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3001\n  env: {TZ: UTC}   # flow style\nusers:\n  - name: alice\n"
	  "    password_hash: \"" HASH_A "\"\n    shell: /bin/sh\n", "needs a new container" },
	{ BASE, { "config", "env", "set", "LANG=C.UTF-8" }, 0,
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3000\n  env: {TZ: UTC, LANG: C.UTF-8}   # flow style\nusers:\n  - name: alice\n"
	  "    password_hash: \"" HASH_A "\"\n    shell: /bin/sh\n", NULL },
	{ BASE, { "config", "env", "unset", "TZ" }, 0,
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3000\n  env: {}   # flow style\nusers:\n  - name: alice\n"
	  "    password_hash: \"" HASH_A "\"\n    shell: /bin/sh\n", NULL },
	{ BASE, { "user", "disable", "alice", "--no-apply" }, 0,
	  BASE "    enabled: false\n", "disabled user" },
	{ BASE, { "user", "remove", "alice", "--no-apply" }, 0,
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3000\n  env: {TZ: UTC}   # flow style\nusers: []\n", "home directory is kept" },
	{ BASE, { "config", "set", "service.install", "true" }, 0,
	  BASE "service:\n  install: true\n", NULL },
	{ BASE, { "stop" }, 1, /* the edit lands, then apply fails: no daemon */
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3000\n  env: {TZ: UTC}   # flow style\n  running: false\nusers:\n  - name: alice\n"
	  "    password_hash: \"" HASH_A "\"\n    shell: /bin/sh\n", "cannot connect to the Docker daemon" },
	/* Refused edits leave the file untouched. */
	{ BASE, { "config", "set", "container.port", "99999" }, 1, BASE, "container.port" },
	{ BASE, { "config", "set", "container.prot", "3001" }, 1, BASE, "did you mean 'port'?" },
	{ BASE, { "config", "set", "container.bind", "0.0.0.0" }, 0,
	  "# the team's opencode\nversion: 1\nname: team   # container name\ncontainer:\n"
	  "  port: 3000\n  env: {TZ: UTC}   # flow style\n  bind: 0.0.0.0\nusers:\n  - name: alice\n"
	  "    password_hash: \"" HASH_A "\"\n    shell: /bin/sh\n", "NETWORK EXPOSED" },
	{ "version: 1\ncontainer: {bind: 0.0.0.0}\nusers: [{name: alice, password_hash: '" HASH_A "'}]\n",
	  { "user", "remove", "alice", "--no-apply" }, 1,
	  "version: 1\ncontainer: {bind: 0.0.0.0}\nusers: [{name: alice, password_hash: '" HASH_A "'}]\n",
	  "is the last user" },
	{ "version: 1\ncontainer: {bind: 0.0.0.0}\nusers: [{name: alice, password_hash: '" HASH_A "'}]\n",
	  { "user", "remove", "alice", "--no-apply", "--force" }, 0,
	  "version: 1\ncontainer: {bind: 127.0.0.1}\nusers: []\n", "LOCAL ONLY" },
	{ BASE, { "user", "disable", "bob", "--no-apply" }, 1, BASE, "no user 'bob'" },
	{ BASE, { "user", "add", "alice", "--generate", "--no-apply" }, 1, BASE, "already exists" },
	{ BASE, { "config", "set", "users[name=alice].password_hash", "x" }, 64, BASE, "occ user passwd" },
	{ BASE, { "mount", "remove", "/nowhere" }, 1, BASE, "no mount of '/nowhere'" },
	{ BASE, { "mount", "add", "/nonexistent-occ-path:/work" }, 1, BASE, "does not exist" },
	{ BASE, { "mount", "add", "/:/work" }, 1, BASE, "refusing to mount '/'" },
	{ BASE, { "mount", "add", "/tmp:work" }, 64, BASE, "must be absolute" },
	{ BASE, { "mount", "add", "/tmp:/work:rx" }, 64, BASE, "unknown mount option 'rx'" },
	{ BASE, { "config", "reset" }, 1, BASE, "not confirmed" },
	/* The loader's safety rules, through the commands that write the file. */
	{ BASE, { "mount", "add", "/etc:/hostetc:ro" }, 1, BASE,
	  "refusing to mount '/etc' into the container: it is the host's /etc" },
	{ BASE, { "mount", "add", "/var/../etc/ssl:/ssl" }, 1, BASE,
	  "refusing to mount '/etc/ssl' into the container: a read-write mount below /etc" },
	{ BASE, { "mount", "add", "/proc/self:/p:ro" }, 1, BASE, "process and kernel interface" },
	{ BASE, { "mount", "add", "/:/host:ro" }, 1, BASE, "or pass --force" },
	{ BASE, { "mount", "add", "/etc/ssl:/ssl:ro" }, 0,
	  BASE "mounts:\n  - source: /etc/ssl\n    target: /ssl\n    readonly: true\n", "recreates" },
	{ BASE, { "mount", "add", "/:/host:ro", "--force" }, 0,
	  BASE "mounts:\n  - source: /\n    target: /host\n    readonly: true\n"
	  "    allow_dangerous: true\n", NULL },
	{ BASE, { "mount", "add", "/tmp:/etc/shadow" }, 1, BASE, "occ writes the container's accounts" },
	{ BASE, { "mount", "add", "/tmp:/etc" }, 1, BASE, "occ writes the container's accounts" },
	{ BASE, { "config", "env", "set", "OCC_LISTEN_PORT=3001" }, 1, BASE,
	  "OCC_LISTEN_PORT: is set by occ (from container.container_port)" },
	{ BASE, { "config", "set", "container.container_port", "4096" }, 1, BASE,
	  "4096 is opencode's own port inside occ's image" },
	{ BASE, { "config", "set", "users[name=alice].shell", "/bin/sh:x" }, 1, BASE,
	  "a shell path cannot contain ':'" },
	/* A build input changes no container: occ update rebuilds. */
	{ "version: 1\nimage:\n  build: {context: embedded}\n",
	  { "config", "set", "image.build.args.X", "1" }, 0,
	  "version: 1\nimage:\n  build: {context: embedded, args: {X: \"1\"}}\n",
	  "'occ update' builds the image again" },
	/* occ host: the first remote host also lists 'local', so this machine
	 * stays managed; removing the last remote host drops the list again. */
	{ BASE, { "host", "add", "lab", "root@10.0.0.5", "-p", "2222", "--no-test" }, 0,
	  BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n    user: root\n"
	  "    port: 2222\n", "added 'local'" },
	{ BASE "hosts:\n  - name: local   # this box\n",
	  { "host", "add", "gpu", "gpu.example.com", "-u", "ops", "--no-test" }, 0,
	  BASE "hosts:\n  - name: local   # this box\n  - name: gpu\n    address: gpu.example.com\n"
	  "    user: ops\n", "added to" },
	{ BASE, { "host", "add", "local", "10.0.0.5", "--no-test" }, 64, BASE, "'local' is this machine" },
	{ BASE, { "host", "add", "lab", "10.0.0.5:22", "--no-test" }, 1, BASE, "address" },
	{ BASE "hosts:\n  - {name: lab, address: 10.0.0.5}\n",
	  { "host", "add", "lab", "10.0.0.6", "--no-test" }, 1,
	  BASE "hosts:\n  - {name: lab, address: 10.0.0.5}\n", "already in" },
	{ BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\ndefault_host: lab\n",
	  { "host", "remove", "lab" }, 0, BASE, "left as it is" },
	{ BASE "hosts:\n  - name: local\n  - name: a\n    address: 10.0.0.5\n  - name: b\n"
	  "    address: 10.0.0.6\n", { "host", "remove", "a" }, 0,
	  BASE "hosts:\n  - name: local\n  - name: b\n    address: 10.0.0.6\n", NULL },
	{ BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n",
	  { "host", "edit", "lab", "--service-port", "3005", "-u", "root" }, 0,
	  BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n    user: root\n"
	  "    overrides:\n      container:\n        port: 3005\n", "recreates its service" },
	{ BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n",
	  { "host", "default", "lab" }, 0,
	  BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\ndefault_host: lab\n",
	  "default host: lab" },
	{ BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n",
	  { "host", "default", "lbb" }, 1,
	  BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n", "unknown host 'lbb'" },
	{ BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n",
	  { "host", "edit", "lab", "-p", "70000" }, 64,
	  BASE "hosts:\n  - name: local\n  - name: lab\n    address: 10.0.0.5\n", "invalid port" },
};

static char *state_path(void)
{
	return occ_xasprintf("%s/state.yaml", tmp);
}

START_TEST(test_edit_case)
{
	const struct edit_case *c = &cases[_i];
	char *path = state_path(), *after;
	const char *args[12];
	struct run_result r;
	int n = 0;

	write_text(path, c->input);
	for (int i = 0; c->args[i]; i++)
		args[n++] = c->args[i];
	args[n++] = "-f";
	args[n++] = path;
	args[n] = NULL;
	run_occ(&r, args);
	ck_assert_msg(r.status == c->status, "case %d: exit %d, want %d\n%s%s", _i, r.status,
		      c->status, r.out.buf, r.err.buf);
	after = read_text(path);
	ck_assert_msg(strcmp(after, c->output) == 0, "case %d: file is\n%s\nwant\n%s", _i, after,
		      c->output);
	if (c->err_has)
		ck_assert_msg(strstr(r.err.buf, c->err_has), "case %d: stderr lacks '%s':\n%s", _i,
			      c->err_has, r.err.buf);
	/* A password hash is never printed. */
	ck_assert_ptr_null(strstr(r.out.buf, HASH_A));
	ck_assert_ptr_null(strstr(r.err.buf, HASH_A));
	run_result_release(&r);
	free(after);
	free(path);
}
END_TEST

/* user add with a password on stdin: a crypt hash that verifies, never the password. */
START_TEST(test_user_add_password_stdin)
{
	char *path = state_path(), *after, *cmd, *hash, *end;
	struct run_result r;
	const char *args[] = { "sh", "-c", NULL, NULL };

	write_text(path, BASE);
	cmd = occ_xasprintf("printf 'correct horse battery' | %s user add bob --password-stdin "
			    "--shell /bin/zsh --no-apply -f %s", OCC_BIN, path);
	args[2] = cmd;
	run_prog(&r, args);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	ck_assert_ptr_null(strstr(r.out.buf, "correct horse"));
	ck_assert_ptr_null(strstr(r.err.buf, "correct horse"));
	after = read_text(path);
	ck_assert_msg(strncmp(after, BASE, strlen(BASE)) == 0, "existing text changed:\n%s", after);
	ck_assert_ptr_null(strstr(after, "correct horse"));
	hash = strstr(after, "password_hash: ");
	hash = strstr(hash + 1, "password_hash: ");   /* bob's, after alice's */
	ck_assert_ptr_nonnull(hash);
	hash += strlen("password_hash: ");
	if (*hash == '"' || *hash == '\'')
		hash++;
	end = hash + strcspn(hash, "\"'\n");
	*end = '\0';
	ck_assert_msg(strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$6$", 3) == 0, "hash: %s", hash);
	ck_assert(occ_password_verify("correct horse battery", hash));
	ck_assert(!occ_password_verify("wrong horse battery", hash));
	ck_assert_ptr_nonnull(strstr(end + 1, "shell: /bin/zsh"));
	run_result_release(&r);
	free(after);
	free(cmd);
	free(path);
}
END_TEST

/* --generate prints the password once, and the file gets its hash. */
START_TEST(test_user_add_generate)
{
	char *path = state_path(), *after, *pw;
	const char *args[] = { "user", "add", "carol", "--generate", "--no-apply", "-f", NULL, NULL };
	struct run_result r;

	args[6] = path;
	write_text(path, BASE);
	run_occ(&r, args);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	pw = strstr(r.out.buf, "generated password for carol: ");
	ck_assert_ptr_nonnull(pw);
	pw += strlen("generated password for carol: ");
	pw[strcspn(pw, "\n")] = '\0';
	ck_assert_int_eq((int)strlen(pw), 24);
	after = read_text(path);
	ck_assert_ptr_null(strstr(after, pw));
	ck_assert_ptr_nonnull(strstr(after, "name: carol"));
	run_result_release(&r);
	free(after);
	free(path);
}
END_TEST

/* Without a terminal and without --password-stdin/--generate: explain, don't hang. */
START_TEST(test_user_add_no_terminal)
{
	char *path = state_path(), *after;
	const char *args[] = { "user", "add", "dave", "--no-apply", "-f", NULL, NULL };
	struct run_result r;

	args[5] = path;
	write_text(path, BASE);
	run_occ(&r, args);
	ck_assert_int_eq(r.status, 64);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "--password-stdin"));
	after = read_text(path);
	ck_assert_str_eq(after, BASE);
	run_result_release(&r);
	free(after);
	free(path);
}
END_TEST

/* A name or shell the loader refuses: its message, before any password is
 * asked for or generated, and the file untouched. */
START_TEST(test_user_add_refused_first)
{
	static const struct { const char *args[4]; const char *err; } refused[] = {
		{ { "shadow" }, "users[1].name: 'shadow' is not valid: it is a system group in the "
				"container: choose another name" },
		{ { "sudo" }, "'sudo' is not valid: it is a system group in the container" },
		{ { "nogroup" }, "'nogroup' is not valid: it is a system group in the container" },
		{ { "daemon" }, "the name is reserved for a system account" },
		{ { "bob", "--shell", "/bin/bash:x" }, "users[1].shell: '/bin/bash:x' is not valid: a "
						       "shell path cannot contain ':'" },
		{ { "bob", "--shell", "bash" }, "the path must be absolute" },
	};
	char *path = state_path(), *after;

	for (size_t i = 0; i < OCC_ARRAY_SIZE(refused); i++) {
		const char *args[12] = { "user", "add" };
		struct run_result r;
		int n = 2;

		for (int j = 0; refused[i].args[j]; j++)
			args[n++] = refused[i].args[j];
		args[n++] = "--generate";
		args[n++] = "--no-apply";
		args[n++] = "-f";
		args[n++] = path;
		write_text(path, BASE);
		run_occ(&r, args);
		ck_assert_msg(r.status == 1, "%s: exit %d\n%s", refused[i].args[0], r.status, r.err.buf);
		ck_assert_msg(strstr(r.err.buf, refused[i].err), "%s: no '%s' in\n%s", refused[i].args[0],
			      refused[i].err, r.err.buf);
		ck_assert_msg(!strstr(r.out.buf, "generated password"), "%s: a password was generated",
			      refused[i].args[0]);
		after = read_text(path);
		ck_assert_str_eq(after, BASE);
		free(after);
		run_result_release(&r);
	}
	free(path);
}
END_TEST

/* The hint for a public bind without users names a command that works there. */
START_TEST(test_user_add_fixes_public_bind)
{
	static const char text[] = "version: 1\ncontainer: {bind: 0.0.0.0}\n";
	char *path = state_path(), *after;
	const char *validate[] = { "validate", "-f", NULL, NULL };
	const char *add[] = { "user", "add", "alice", "--generate", "--no-apply", "-f", NULL, NULL };
	const char *disabled[] = { "user", "add", "bob", "--generate", "--disabled", "--no-apply",
				   "-f", NULL, NULL };
	const char *list[] = { "user", "list", "-f", NULL, NULL };
	struct run_result r;

	validate[2] = add[6] = disabled[7] = list[3] = path;
	write_text(path, text);
	run_occ(&r, validate);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "no users are defined to log in") &&
		      strstr(r.err.buf, "'occ user add NAME'"), "%s", r.err.buf);
	run_result_release(&r);
	/* Other user commands still judge the file as it is. */
	run_occ(&r, list);
	ck_assert_int_eq(r.status, 1);
	run_result_release(&r);
	/* A disabled user does not make it valid: refused, nothing written. */
	run_occ(&r, disabled);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "no enabled user has a password"), "%s", r.err.buf);
	ck_assert(!strstr(r.out.buf, "generated password"));
	run_result_release(&r);
	after = read_text(path);
	ck_assert_str_eq(after, text);
	free(after);
	run_occ(&r, add);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	run_result_release(&r);
	after = read_text(path);
	ck_assert_msg(strncmp(after, text, strlen(text)) == 0 && strstr(after, "name: alice"), "%s",
		      after);
	free(after);
	run_occ(&r, validate);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	run_result_release(&r);
	free(path);
}
END_TEST

/* A state file with users that others can write is refused by every command
 * that reads it, with the fix as the hint, and left as it is. */
START_TEST(test_unsafe_state_file)
{
	static const char *const cmds[][4] = {
		{ "validate" }, { "diff" }, { "apply", "--yes" }, { "watch" }, { "status" },
		{ "config", "set", "container.port", "3001" },
		{ "user", "add", "bob", "--generate" }, { "mount", "list" },
	};
	char *path = state_path(), *hint = NULL, *after;

	write_text(path, BASE);
	ck_assert_int_eq(chmod(path, 0664), 0);
	hint = occ_xasprintf("hint: chmod go-w %s\n", path);
	for (size_t i = 0; i < OCC_ARRAY_SIZE(cmds); i++) {
		const char *args[12];
		struct run_result r;
		int n = 0;

		for (int j = 0; j < 4 && cmds[i][j]; j++)
			args[n++] = cmds[i][j];
		args[n++] = "-f";
		args[n++] = path;
		args[n] = NULL;
		run_occ(&r, args);
		ck_assert_msg(r.status == 1, "%s: exit %d\n%s", cmds[i][0], r.status, r.err.buf);
		ck_assert_msg(strstr(r.err.buf, "it defines users and is group-writable") &&
			      strstr(r.err.buf, hint), "%s:\n%s", cmds[i][0], r.err.buf);
		ck_assert(!strstr(r.out.buf, "generated password"));
		run_result_release(&r);
	}
	after = read_text(path);
	ck_assert_str_eq(after, BASE);
	free(after);
	free(hint);
	free(path);
}
END_TEST

static int bound_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* DOCKER_HOST's socket (and its directory) is refused; another socket is
 * not a mountable thing at all; --force mounts Docker's. */
START_TEST(test_mount_add_docker_socket)
{
	char *path = state_path(), *dock = occ_xasprintf("%s/d.sock", tmp);
	char *other = occ_xasprintf("%s/o.sock", tmp), *host = occ_xasprintf("unix://%s", dock);
	char *spec_sock = occ_xasprintf("%s:/var/run/docker.sock", dock);
	char *spec_dir = occ_xasprintf("%s:/hosttmp:ro", tmp);
	char *spec_other = occ_xasprintf("%s:/o.sock", other), *after, *want;
	const char *sock_args[] = { "mount", "add", spec_sock, "-f", path, NULL, NULL };
	const char *dir_args[] = { "mount", "add", spec_dir, "-f", path, NULL };
	const char *other_args[] = { "mount", "add", spec_other, "-f", path, "--force", NULL };
	struct run_result r;
	int fd1 = bound_socket(dock), fd2 = bound_socket(other);

	setenv("DOCKER_HOST", host, 1);
	write_text(path, BASE);
	run_occ(&r, sock_args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "it is the Docker socket: whoever can use it is root"), "%s",
		      r.err.buf);
	run_result_release(&r);
	run_occ(&r, dir_args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "it holds the Docker socket"), "%s", r.err.buf);
	run_result_release(&r);
	run_occ(&r, other_args);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "not a directory or a regular file"), "%s", r.err.buf);
	run_result_release(&r);
	after = read_text(path);
	ck_assert_str_eq(after, BASE);
	free(after);
	sock_args[5] = "--force";
	run_occ(&r, sock_args);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	run_result_release(&r);
	after = read_text(path);
	want = occ_xasprintf(BASE "mounts:\n  - source: %s\n    target: /var/run/docker.sock\n"
			     "    readonly: false\n    allow_dangerous: true\n", dock);
	ck_assert_str_eq(after, want);
	setenv("DOCKER_HOST", "unix:///nonexistent/occ-test.sock", 1);
	close(fd1);
	close(fd2);
	free(want);
	free(after);
	free(spec_other);
	free(spec_dir);
	free(spec_sock);
	free(host);
	free(other);
	free(dock);
	free(path);
}
END_TEST

/* A symlink to / is judged by its target; --force writes the override. */
START_TEST(test_mount_add_symlink_to_root)
{
	char *path = state_path(), *link = occ_xasprintf("%s/everything", tmp), *after, *want;
	char *spec = occ_xasprintf("%s:/host:ro", link);
	const char *add[] = { "mount", "add", spec, "-f", path, NULL, NULL };
	struct run_result r;

	ck_assert_int_eq(symlink("/", link), 0);
	write_text(path, BASE);
	run_occ(&r, add);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err.buf, "it resolves to '/', and it is the host's root directory"),
		      "%s", r.err.buf);
	run_result_release(&r);
	after = read_text(path);
	ck_assert_str_eq(after, BASE);
	free(after);
	add[5] = "--force";
	run_occ(&r, add);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	run_result_release(&r);
	after = read_text(path);
	want = occ_xasprintf(BASE "mounts:\n  - source: %s\n    target: /host\n    readonly: true\n"
			     "    allow_dangerous: true\n", link);
	ck_assert_str_eq(after, want);
	free(want);
	free(after);
	free(spec);
	free(link);
	free(path);
}
END_TEST

START_TEST(test_mount_add_list_remove)
{
	char *path = state_path(), *after, *src = occ_xasprintf("%s/src", tmp);
	char *spec = occ_xasprintf("%s:/home/opencode/src:ro", src);
	const char *add[] = { "mount", "add", spec, "-f", path, NULL };
	const char *list[] = { "mount", "list", "--json", "-f", path, NULL };
	const char *rm[] = { "mount", "remove", "/home/opencode/src", "-f", path, NULL };
	char *want;
	struct run_result r;

	ck_assert_int_eq(mkdir(src, 0755), 0);
	write_text(path, BASE);
	run_occ(&r, add);
	ck_assert_msg(r.status == 0, "%s", r.err.buf);
	ck_assert_ptr_nonnull(strstr(r.err.buf, "recreates the container"));
	run_result_release(&r);
	after = read_text(path);
	want = occ_xasprintf(BASE "mounts:\n  - source: %s\n    target: /home/opencode/src\n"
			     "    readonly: true\n", src);
	ck_assert_str_eq(after, want);
	free(after);
	run_occ(&r, list);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "\"target\":\"/home/opencode/src\",\"readonly\":true"));
	run_result_release(&r);
	run_occ(&r, rm);
	ck_assert_int_eq(r.status, 0);
	run_result_release(&r);
	after = read_text(path);
	ck_assert_str_eq(after, BASE "mounts: []\n");
	free(after);
	free(want);
	free(spec);
	free(src);
	free(path);
}
END_TEST

/* config show masks secrets; get reads one value; the .bak keeps the old file. */
START_TEST(test_config_show_get_bak)
{
	char *path = state_path(), *bak = occ_xasprintf("%s.bak", path), *text;
	const char *show[] = { "config", "show", "-f", path, NULL };
	const char *get[] = { "config", "get", "users[name=alice].shell", "-f", path, NULL };
	const char *set[] = { "config", "env", "set", "API_TOKEN=s3cr3t-value", "-f", path, NULL };
	struct run_result r;

	write_text(path, BASE);
	run_occ(&r, set);
	ck_assert_int_eq(r.status, 0);
	run_result_release(&r);
	text = read_text(bak);
	ck_assert_str_eq(text, BASE);
	free(text);
	run_occ(&r, show);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out.buf, "API_TOKEN: (sensitive)"));
	ck_assert_ptr_nonnull(strstr(r.out.buf, "password_hash: (sensitive)"));
	ck_assert_ptr_null(strstr(r.out.buf, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(r.out.buf, "port: 3000"));
	run_result_release(&r);
	run_occ(&r, get);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out.buf, "/bin/sh\n");
	run_result_release(&r);
	free(bak);
	free(path);
}
END_TEST

static void setup(void)
{
	tmp = make_tmpdir("cli-edit");
	set_test_env(tmp, false);
}

static void teardown(void)
{
	remove_tree(tmp);
	free(tmp);
}

int main(void)
{
	Suite *s = suite_create("cli-edit");
	TCase *tc = tcase_create("edits");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_edit_case, 0, (int)OCC_ARRAY_SIZE(cases));
	tcase_add_test(tc, test_user_add_password_stdin);
	tcase_add_test(tc, test_user_add_generate);
	tcase_add_test(tc, test_user_add_no_terminal);
	tcase_add_test(tc, test_user_add_refused_first);
	tcase_add_test(tc, test_user_add_fixes_public_bind);
	tcase_add_test(tc, test_mount_add_symlink_to_root);
	tcase_add_test(tc, test_unsafe_state_file);
	tcase_add_test(tc, test_mount_add_docker_socket);
	tcase_add_test(tc, test_mount_add_list_remove);
	tcase_add_test(tc, test_config_show_get_bak);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
