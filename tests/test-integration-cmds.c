/*
 * test-integration-cmds.c - the commands that edit the state file, end to end
 * against a real dockerd: `occ mount add --apply` puts a host directory into
 * the container read-only, `occ config set --apply` recreates with the new
 * value, a dropped volume needs --yes, and `occ volume remove` deletes a
 * volume only when asked and confirmed, never one in use.
 *
 * Builds its own busybox image through image.build, uses a project name unique
 * to the run and removes everything it created (by label) at the end.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/password.h"
#include "tests/testutil.h"

static char *tmp, *state, *project, *ctx;
static int port;

static void occ_expect(int status, const char *err_has, const char *const *args)
{
	struct run_result r;

	run_occ(&r, args);
	ck_assert_msg(r.status == status, "occ %s %s: exit %d, want %d\n%s%s", args[0],
		      args[1] ? args[1] : "", r.status, status, r.out.buf, r.err.buf);
	if (err_has)
		ck_assert_msg(strstr(r.err.buf, err_has), "stderr lacks '%s':\n%s", err_has, r.err.buf);
	run_result_release(&r);
}

START_TEST(test_commands_end_to_end)
{
	char *dir = occ_xasprintf("%s/share", tmp), *spec, *out, *cmd, *p2;
	const char *apply[] = { "apply", "-f", state, NULL };
	const char *apply_yes[] = { "apply", "--yes", "-f", state, NULL };
	const char *vol_rm[] = { "volume", "remove", "data", "-f", state, NULL };
	const char *vol_rm_yes[] = { "volume", "remove", "data", "--yes", "-f", state, NULL };
	const char *vol_ls[] = { "volume", "list", "-q", "-f", state, NULL };
	char *text = occ_xasprintf("version: 1\nname: %s\nimage: {ref: 'occ-cmdtest:1', build: {context: %s}}\n"
				   "container: {port: %d}\nvolumes:\n  - {name: data, target: /data}\n",
				   project, ctx, port);
	char *vname = occ_xasprintf("%s-data", project);
	struct run_result r;

	write_text(state, text);
	occ_expect(0, NULL, apply);

	/* mount add --apply: visible and read-only in the container */
	ck_assert_int_eq(system((cmd = occ_xasprintf("mkdir -p %s && echo shared > %s/f.txt", dir, dir))), 0);
	free(cmd);
	spec = occ_xasprintf("%s:/mnt/share:ro", dir);
	{
		const char *args[] = { "mount", "add", spec, "--apply", "-f", state, NULL };

		occ_expect(0, NULL, args);
	}
	out = sh_out((cmd = occ_xasprintf("docker exec %s cat /mnt/share/f.txt", project)));
	ck_assert_str_eq(out, "shared");
	free(out);
	free(cmd);
	out = sh_out((cmd = occ_xasprintf("docker exec %s touch /mnt/share/x 2>&1; echo rc=$?", project)));
	ck_assert_msg(strstr(out, "Read-only") && !strstr(out, "rc=0"), "%s", out);
	free(out);
	free(cmd);

	/* config set --apply: the container is recreated on the new port */
	p2 = occ_xasprintf("%d", port + 1);
	{
		const char *args[] = { "config", "set", "container.port", p2, "--apply", "-f", state, NULL };

		occ_expect(0, NULL, args);
	}
	out = sh_out((cmd = occ_xasprintf("docker port %s 3000/tcp", project)));
	ck_assert_msg(strstr(out, p2), "ports: %s", out);
	free(out);
	free(cmd);

	/* volume remove: refused without confirmation, refused while in use */
	occ_expect(1, "not confirmed", vol_rm);
	occ_expect(1, "in use", vol_rm_yes);
	out = sh_out((cmd = occ_xasprintf("docker volume ls -q --filter name=%s", vname)));
	ck_assert_str_eq(out, vname);
	free(out);
	free(cmd);

	/* dropping the volume from the state file is destructive: --yes needed */
	free(text);
	text = occ_xasprintf("version: 1\nname: %s\nimage: {ref: 'occ-cmdtest:1', build: {context: %s}}\n"
			     "container: {port: %s}\nvolumes: []\nmounts: [{source: %s, target: /mnt/share, readonly: true}]\n",
			     project, ctx, p2, dir);
	write_text(state, text);
	occ_expect(1, "destructive", apply);
	occ_expect(0, NULL, apply_yes);
	/* the volume survived the recreate: only an explicit command removes it */
	out = sh_out((cmd = occ_xasprintf("docker volume ls -q --filter name=%s", vname)));
	ck_assert_str_eq(out, vname);
	free(out);
	free(cmd);
	run_occ(&r, vol_ls);
	ck_assert_ptr_nonnull(strstr(r.out.buf, vname));
	run_result_release(&r);
	occ_expect(0, "removed volume", vol_rm_yes);
	out = sh_out((cmd = occ_xasprintf("docker volume ls -q --filter name=%s", vname)));
	ck_assert_str_eq(out, "");
	free(out);
	free(cmd);

	free(vname);
	free(p2);
	free(spec);
	free(text);
	free(dir);
}
END_TEST

/* Whether any process's command line contains needle right now. */
static bool cmdline_has(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool found = false;

	ck_assert_ptr_nonnull(d);
	while (!found && (de = readdir(d))) {
		char path[300], buf[8192];
		ssize_t n;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n > 0 ? n : 0] = '\0';
		found = strstr(buf, needle) != NULL;
	}
	closedir(d);
	return found;
}

/*
 * `occ user add --password-stdin` and the apply it runs: while they run, no
 * process on the host has the password or its hash on its command line; the
 * account in the container gets a hash that verifies.
 */
START_TEST(test_password_never_in_argv)
{
	static const char password[] = "S3cret-pw-never-in-argv";
	char *pwfile = occ_xasprintf("%s/pw", tmp), *cmd, *shadow, *hash, *end;
	char *text = occ_xasprintf("version: 1\nname: %s-pw\nimage: {ref: 'occ-cmdtest:1', "
				   "build: {context: %s}}\ncontainer: {port: %d}\nvolumes: []\n",
				   project, ctx, port + 50);
	char *st = occ_xasprintf("%s/pw.yaml", tmp);
	int samples = 0, status;
	pid_t pid;

	write_text(st, text);
	write_text(pwfile, password);
	cmd = occ_xasprintf("exec %s user add erin --password-stdin -f %s < %s >/dev/null 2>&1",
			    OCC_BIN, st, pwfile);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ck_assert_msg(!cmdline_has(password), "the password is on a command line");
		ck_assert_msg(!cmdline_has("$y$") && !cmdline_has("$6$"), "a hash is on a command line");
		samples++;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "user add failed");
	ck_assert_int_gt(samples, 0);
	free(cmd);
	shadow = sh_out((cmd = occ_xasprintf("docker exec %s-pw cat /etc/shadow", project)));
	hash = strstr(shadow, "erin:");
	ck_assert_msg(hash != NULL, "no erin in /etc/shadow:\n%s", shadow);
	hash += 5;
	end = strchr(hash, ':');
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	ck_assert(occ_password_verify(password, hash));
	free(shadow);
	free(cmd);
	free(st);
	free(text);
	free(pwfile);
}
END_TEST

/* Homes are kept on `user remove`, deleted only with --remove-home. erin goes
 * first: removing the last user opens the login, which recreates the
 * container (and this state keeps /home in the container, not on a volume). */
START_TEST(test_user_remove_home)
{
	char *st = occ_xasprintf("%s/pw.yaml", tmp), *name = occ_xasprintf("%s-pw", project);
	const char *add[] = { "user", "add", "frank", "--generate", "-f", st, NULL };
	const char *rm_home[] = { "user", "remove", "frank", "--remove-home", "-f", st, NULL };
	const char *rm_keep[] = { "user", "remove", "erin", "-f", st, NULL };
	char *cmd, *out;

	occ_expect(0, NULL, add);
	out = sh_out((cmd = occ_xasprintf("docker exec %s sh -c 'test -d /home/frank && echo yes'", name)));
	ck_assert_str_eq(out, "yes");
	free(out);
	free(cmd);
	occ_expect(0, "home directory is kept", rm_keep);
	out = sh_out((cmd = occ_xasprintf("docker exec %s sh -c 'test -d /home/erin && echo kept; "
					  "grep -c ^erin: /etc/passwd'", name)));
	ck_assert_str_eq(out, "kept\n0");
	free(out);
	free(cmd);
	occ_expect(0, "removed /home/frank", rm_home);
	/* a new container of the test image has no /etc/passwd without users */
	out = sh_out((cmd = occ_xasprintf("docker exec %s sh -c 'test -e /home/frank || echo gone; "
					  "cat /etc/passwd 2>/dev/null | grep -c ^frank:'", name)));
	ck_assert_str_eq(out, "gone\n0");
	free(out);
	free(cmd);
	free(name);
	free(st);
}
END_TEST

static void setup(void)
{
	char *cmd;

	tmp = make_tmpdir("itest-cmds");
	project = occ_xasprintf("occ-itc-%ld", (long)getpid());
	port = 21000 + (int)(getpid() % 20000);
	state = occ_xasprintf("%s/state.yaml", tmp);
	ctx = occ_xasprintf("%s/ctx", tmp);
	cmd = occ_xasprintf("cp -r %s/tests/images/busybox-httpd %s && cp /bin/busybox %s/",
			    OCC_SOURCE_DIR, ctx, ctx);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	set_test_env(tmp, true);
}

static void teardown(void)
{
	char *cmd = occ_xasprintf(
		"for p in %s %s-pw; do "
		"ids=$(docker ps -aq --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$ids\" ] || docker rm -f $ids >/dev/null; "
		"vols=$(docker volume ls -q --filter label=dev.opencode-cloud.project=$p); "
		"[ -z \"$vols\" ] || docker volume rm $vols >/dev/null; done; "
		"docker rmi occ-cmdtest:1 >/dev/null 2>&1; true", project, project);

	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(cmd);
	remove_tree(tmp);
}

int main(void)
{
	Suite *s = suite_create("integration-cmds");
	TCase *tc = tcase_create("commands");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_commands_end_to_end);
	tcase_add_test(tc, test_password_never_in_argv);
	tcase_add_test(tc, test_user_remove_home);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
