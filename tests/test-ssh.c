/*
 * test-ssh.c - the SSH transport against the lab's remote host 1 (label
 * `integration`): a real sshd in a network namespace with its own dockerd
 * (tests/lab/remote.sh). Exits 77 (skipped) when the lab's environment file
 * (/run/occ-lab/remote.env, or $OCC_LAB_ENV) is absent.
 *
 * Host keys (unknown, accepted, hashed, changed), authentication (key file,
 * ssh-agent started here, RSA refused with the SHA-1 explanation, encrypted
 * key without a terminal), the Docker driver over the bridge (one handshake,
 * a bounded number of channels), TCP bridges to a container's published
 * port, and the host going away and coming back. In order, in one process
 * (CK_NOFORK). Everything runs with a temporary $HOME and no SSH_AUTH_SOCK,
 * so nothing on the machine is used or changed. The one container it starts
 * on the remote daemon is named occ-ssh-<pid> and removed at the end.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/docker/docker-int.h"
#include "drivers/ssh/ssh.h"
#include "model/state.h"
#include "reconciler/apply.h"
#include "reconciler/plan.h"


static char env_addr[64], env_sock[256], env_known[512], env_key[256], env_key_pass[256],
	env_key_rsa[256], env_script[512];
static char tmp[256], kh[300], ctr[64], app[64], built[64];
static uint16_t http_port;   /* the container's, published on the remote 127.0.0.1 */

/* ---- helpers ------------------------------------------------------------ */

static void ck_ok(int ret, const struct occ_error *err, const char *what)
{
	ck_assert_msg(ret == 0, "%s: %d %s (hint: %s)", what, ret, err->msg, err->hint);
}

static void env_value(char *dst, size_t cap, const char *line, const char *key)
{
	size_t n = strlen(key), len;
	const char *v;

	if (strncmp(line, key, n) != 0 || line[n] != '=')
		return;
	v = line + n + 1;
	len = strcspn(v, "\n");
	if (len >= 2 && v[0] == '\'' && v[len - 1] == '\'') {
		v++;
		len -= 2;
	}
	snprintf(dst, cap, "%.*s", (int)len, v);
}

static bool load_env(void)
{
	const char *path = getenv("OCC_LAB_ENV") ? getenv("OCC_LAB_ENV") : "/run/occ-lab/remote.env";
	char line[1024];
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		env_value(env_addr, sizeof(env_addr), line, "OCC_LAB_R1_ADDR");
		env_value(env_sock, sizeof(env_sock), line, "OCC_LAB_R1_SOCKET");
		env_value(env_known, sizeof(env_known), line, "OCC_LAB_R1_KNOWN_HOSTS");
		env_value(env_key, sizeof(env_key), line, "OCC_LAB_KEY");
		env_value(env_key_pass, sizeof(env_key_pass), line, "OCC_LAB_KEY_PASS");
		env_value(env_key_rsa, sizeof(env_key_rsa), line, "OCC_LAB_KEY_RSA");
		env_value(env_script, sizeof(env_script), line, "OCC_LAB_SCRIPT");
	}
	fclose(f);
	return env_addr[0] && env_known[0] && env_key[0];
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void run(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "'%s' failed (%d)", cmd, rc);
}

/* The fingerprint OpenSSH's ssh-keygen prints for the lab host's key. */
static void openssh_fingerprint(char *out, size_t cap)
{
	char cmd[512], line[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f %s/lab.pub", tmp);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	/* "256 SHA256:xxx comment (ED25519)" */
	ck_assert_int_eq(sscanf(line, "%*u %511s", line), 1);
	snprintf(out, cap, "%s", line);
}

static struct occ_ssh_opts opts(void)
{
	struct occ_ssh_opts o = {
		.name = "lab", .address = env_addr, .user = "root", .identity = env_key,
		.remote_socket = env_sock, .known_hosts = kh, .ssh_config = "none",
		.timeout_ms = 10000,
	};

	return o;
}

static int open_ssh(struct occ_ssh **s, const struct occ_ssh_opts *o, struct occ_error *err)
{
	occ_error_clear(err);
	return occ_ssh_open(s, o, err);
}

static char *http_get(int fd)
{
	static const char req[] = "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n";
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	char buf[4096];
	ssize_t n;

	occ_strbuf_init(&sb);
	ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		occ_strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	return occ_strbuf_detach(&sb);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%.*s", (int)sizeof(sun.sun_path) - 1, path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect %s: %s",
		      path, strerror(errno));
	return fd;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect %u: %s",
		      (unsigned)port, strerror(errno));
	return fd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int ping(struct occ_driver *d, struct occ_error *err)
{
	struct occ_docker_req req = { .method = "GET", .path = "/_ping", .unversioned = true };
	struct occ_docker_resp resp;
	int ret;

	occ_docker__resp_init(&resp);
	occ_error_clear(err);
	ret = occ_docker__http_do(occ_docker__http_of(d), &req, &resp, err);
	if (!ret && resp.status != 200)
		ret = occ_error_set(err, OCC_EAPI, "ping: HTTP %ld", resp.status);
	occ_docker__resp_release(&resp);
	return ret;
}

/* Mean round trip of n pings, in ms (reported, never asserted). */
static double ping_ms(struct occ_driver *d, int n)
{
	struct occ_error err;
	double t0 = now_ms();
	int i;

	for (i = 0; i < n; i++)
		ck_ok(ping(d, &err), &err, "ping");
	return (now_ms() - t0) / n;
}

/* ---- host keys ---------------------------------------------------------- */

START_TEST(test_unknown_host_key)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char fp[600];

	openssh_fingerprint(fp, sizeof(fp));
	snprintf(kh, sizeof(kh), "%s/new/.ssh/known_hosts", tmp);
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "host 'lab'") && strstr(err.msg, "ssh-ed25519") &&
		      strstr(err.msg, fp), "%s (want %s)", err.msg, fp);
	ck_assert_msg(strstr(err.hint, "occ host test lab --accept-new"), "%s", err.hint);
	ck_assert_int_ne(access(kh, F_OK), 0);
}
END_TEST

START_TEST(test_accept_new)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh_info info;
	struct occ_ssh *s = NULL;
	struct occ_error err;
	struct stat st;
	char fp[600];

	openssh_fingerprint(fp, sizeof(fp));
	o.accept_new = true;
	ck_ok(open_ssh(&s, &o, &err), &err, "accept_new");
	occ_ssh_get_info(s, &info);
	ck_assert_str_eq(info.fingerprint, fp);
	ck_assert_str_eq(info.hostkey_type, "ssh-ed25519");
	ck_assert_uint_eq(info.handshakes, 1);
	ck_assert_msg(strncmp(info.banner, "SSH-2.0-OpenSSH", 15) == 0, "%s", info.banner);
	ck_assert(info.kex[0]);
	printf("ssh: first handshake %.1f ms (%s, %s)\n", info.handshake_ms, info.kex, info.banner);
	occ_ssh_close(s);
	ck_assert_int_eq(stat(kh, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* OpenSSH itself accepts the line written. */
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "ssh-keygen -F %s -f %s >/dev/null", env_addr, kh);
		run(cmd);
	}
	o.accept_new = false;
	ck_ok(open_ssh(&s, &o, &err), &err, "known now");
	occ_ssh_close(s);
}
END_TEST

START_TEST(test_hashed_known_hosts)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char cmd[4096];

	snprintf(kh, sizeof(kh), "%s/hashed", tmp);
	/* A certificate authority and a line libssh2 cannot parse hide nothing. */
	snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' > %s.h && "
		 "ssh-keygen -q -H -f %s.h >/dev/null 2>&1 && rm -f %s.h.old && "
		 "{ printf '%%s\\n' '@cert-authority *.example ssh-ed25519 "
		 "AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake' "
		 "'broken line'; cat %s.h; } > %s && grep -q '^|1|' %s",
		 env_known, kh, kh, kh, kh, kh, kh);
	run(cmd);
	ck_ok(open_ssh(&s, &o, &err), &err, "hashed entry");
	occ_ssh_close(s);
}
END_TEST

START_TEST(test_revoked_host_key)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char text[1200];

	snprintf(kh, sizeof(kh), "%s/revoked", tmp);
	snprintf(text, sizeof(text), "%s\n@revoked %s\n", env_known, env_known);
	write_text(kh, text);
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "@revoked") && err.line == 2, "%s", err.msg);
}
END_TEST

START_TEST(test_changed_host_key)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char text[2048], wrong[1024], line[512];
	FILE *p;

	/* A different ed25519 key on line 2 for the lab's address. */
	snprintf(text, sizeof(text), "ssh-keygen -q -t ed25519 -N '' -f %s/wrong && cat %s/wrong.pub",
		 tmp, tmp);
	p = popen(text, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	*strrchr(line, ' ') = '\0';
	snprintf(wrong, sizeof(wrong), "%s %s", env_addr, line);
	snprintf(kh, sizeof(kh), "%s/changed", tmp);
	snprintf(text, sizeof(text), "# the old key\n%s\n", wrong);
	write_text(kh, text);
	o.accept_new = true;
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "CHANGED") && strstr(err.msg, "host 'lab'"), "%s", err.msg);
	snprintf(text, sizeof(text), "%s:2", kh);
	ck_assert_msg(strstr(err.msg, text), "%s (want %s)", err.msg, text);
	ck_assert_int_eq(err.line, 2);
}
END_TEST

/* ---- authentication ----------------------------------------------------- */

static void use_lab_known_hosts(void)
{
	char text[600];

	snprintf(kh, sizeof(kh), "%s/known_hosts", tmp);
	snprintf(text, sizeof(text), "%s\n", env_known);
	write_text(kh, text);
}

START_TEST(test_rsa_refused)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;

	use_lab_known_hosts();
	o.identity = env_key_rsa;
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "SHA-1") && strstr(err.msg, "OpenSSH 8.8") &&
		      strstr(err.msg, "host 'lab'"), "%s", err.msg);
	ck_assert_msg(strstr(err.hint, "ed25519"), "%s", err.hint);
}
END_TEST

START_TEST(test_encrypted_key_without_tty)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;

	o.identity = env_key_pass;
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "passphrase"), "%s", err.msg);
	ck_assert_msg(strstr(err.hint, "ssh-add"), "%s", err.hint);
}
END_TEST

static int ask_calls;
static char wrong_passphrase[] = "not-the-passphrase";

/* The lab key's passphrase, as a CLI prompt would return it (ctx: a wrong one). */
static int ask(void *ctx, const char *key_path, char *buf, size_t cap)
{
	char path[300];
	FILE *f;

	ask_calls++;
	ck_assert_str_eq(key_path, env_key_pass);
	if (ctx) {
		snprintf(buf, cap, "%s", (const char *)ctx);
		return 0;
	}
	snprintf(path, sizeof(path), "%s", env_key_pass);
	snprintf(path + strlen(path) - strlen("id_ed25519_pass"), sizeof(path), "pass.txt");
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, (int)cap, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

START_TEST(test_encrypted_key_asked)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;

	o.identity = env_key_pass;
	o.interactive = true;
	o.ask_passphrase = ask;
	ck_ok(open_ssh(&s, &o, &err), &err, "asked passphrase");
	ck_assert_int_eq(ask_calls, 1);
	occ_ssh_close(s);
	o.ask_ctx = wrong_passphrase;
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "wrong passphrase"), "%s", err.msg);
	ck_assert_int_eq(ask_calls, 2);
}
END_TEST

START_TEST(test_no_key)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh *s = NULL;
	struct occ_error err;

	o.identity = NULL;   /* $HOME is empty: no default keys, no agent */
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "refused every key"), "%s", err.msg);
}
END_TEST

START_TEST(test_agent)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh_info info;
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char sock[300], cmd[700];
	pid_t agent;
	int ret, i;

	snprintf(sock, sizeof(sock), "%s/agent.sock", tmp);
	agent = fork();
	ck_assert_int_ge(agent, 0);
	if (agent == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp("ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		usleep(50000);
	snprintf(cmd, sizeof(cmd), "SSH_AUTH_SOCK=%s ssh-add -q %s 2>/dev/null", sock, env_key);
	ret = system(cmd);
	setenv("SSH_AUTH_SOCK", sock, 1);
	o.identity = NULL;
	if (ret == 0)
		ret = open_ssh(&s, &o, &err);
	unsetenv("SSH_AUTH_SOCK");
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
	ck_ok(ret, &err, "agent");
	occ_ssh_get_info(s, &info);
	ck_assert_uint_eq(info.handshakes, 1);
	occ_ssh_close(s);
}
END_TEST

/* ProxyJump: the lab host is its own jump host (the hop's direct-tcpip
 * channel goes to 10.231.1.2:22 from inside the namespace). */
START_TEST(test_proxyjump)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh_info info;
	struct occ_driver *d = NULL;
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char cfg[300], text[800];

	snprintf(cfg, sizeof(cfg), "%s/ssh_config_jump", tmp);
	snprintf(text, sizeof(text), "Host lab-via-jump\n  HostName %s\n  ProxyJump root@jumpbox\n"
		 "Host jumpbox\n  HostName %s\n  IdentityFile %s\n", env_addr, env_addr, env_key);
	write_text(cfg, text);
	o.ssh_config = cfg;
	o.address = "lab-via-jump";
	ck_ok(open_ssh(&s, &o, &err), &err, "ProxyJump");
	occ_ssh_get_info(s, &info);
	ck_assert_uint_eq(info.handshakes, 1);
	ck_ok(occ_ssh_docker_open(&d, s, &err), &err, "driver");
	ck_ok(ping(d, &err), &err, "ping through the jump");
	ck_ok(ping(d, &err), &err, "ping through the jump");
	occ_driver_free(d);
	occ_ssh_close(s);

	snprintf(text, sizeof(text), "Host lab-via-two\n  HostName %s\n  ProxyJump a,b\n", env_addr);
	write_text(cfg, text);
	o.address = "lab-via-two";
	ck_assert_int_eq(open_ssh(&s, &o, &err), OCC_EPERM);
	ck_assert_msg(strstr(err.msg, "several jump hosts") && strstr(err.msg, "host 'lab'"), "%s",
		      err.msg);
}
END_TEST

START_TEST(test_config_alias)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh_info info;
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char cfg[300], text[600];

	snprintf(cfg, sizeof(cfg), "%s/ssh_config2", tmp);
	snprintf(text, sizeof(text), "Host lab-alias\n  HostName %s\n  User root\n  Port 22\n"
		 "  IdentityFile %s\n", env_addr, env_key);
	write_text(cfg, text);
	o.ssh_config = cfg;
	o.address = "lab-alias";
	o.user = NULL;
	o.identity = NULL;
	ck_ok(open_ssh(&s, &o, &err), &err, "config alias");
	occ_ssh_get_info(s, &info);
	snprintf(text, sizeof(text), "ssh://root@%s:22", env_addr);
	ck_assert_str_eq(info.endpoint, text);
	occ_ssh_close(s);
}
END_TEST

/* ---- Docker over the bridge --------------------------------------------- */

static volatile int events_stop;
static int events_subscribed;

static void on_event(void *ctx, const struct occ_event *e)
{
	(void)ctx;
	if (e->kind == OCC_EVENT_SUBSCRIBED) {
		events_subscribed++;
		events_stop = 1;
	}
}

static struct occ_ssh *ssh;
static struct occ_driver *drv;

/* What the bridge traced (from its own thread). */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned traced_handshakes, traced_failures;

static void on_trace(void *ctx, const char *line)
{
	(void)ctx;
	pthread_mutex_lock(&trace_mu);
	if (strncmp(line, "ssh lab: handshake ", 19) == 0)
		traced_handshakes++;
	if (strstr(line, "was lost") || strstr(line, "reconnect failed"))
		traced_failures++;
	pthread_mutex_unlock(&trace_mu);
}

static const struct occ_trace_sink trace_sink = { on_trace, NULL };

START_TEST(test_docker_over_ssh)
{
	struct occ_ssh_opts o = opts();
	struct occ_docker_version v;
	struct occ_ssh_info info;
	struct occ_state *st = occ_state_new_default();
	struct occ_driver *local = NULL;
	struct occ_error err;
	double remote_ms, local_ms;
	int i;

	o.trace = &trace_sink;
	ck_ok(open_ssh(&ssh, &o, &err), &err, "open");
	ck_assert(occ_starts_with(occ_ssh_docker_host(ssh), "unix:///"));
	occ_error_clear(&err);
	ck_ok(occ_ssh_docker_open(&drv, ssh, &err), &err, "driver");
	ck_assert_msg(strstr(occ_docker_endpoint(drv), "host 'lab' (ssh://root@"), "%s",
		      occ_docker_endpoint(drv));
	ck_ok(occ_docker_versions(&v, drv, &err), &err, "versions");
	ck_assert(v.api_version[0]);
	free(st->name);
	st->name = occ_xasprintf("occ-ssh-%d", (int)getpid());
	for (i = 0; i < 10; i++) {
		struct occ_observed obs;

		occ_observed_init(&obs);
		occ_error_clear(&err);
		ck_ok(occ_driver_observe(drv, st, &obs, &err), &err, "observe");
		ck_assert_uint_eq(obs.n_containers, 0);
		occ_observed_release(&obs);
	}
	remote_ms = ping_ms(drv, 200);
	occ_ssh_get_info(ssh, &info);
	ck_assert_uint_eq(info.handshakes, 1);
	/* One connection for single requests plus the parallel ones observe
	 * keeps (drivers/docker/http.c), each a channel: bounded, and reused by
	 * every later request. */
	ck_assert_msg(info.channels_opened >= 1 && info.channels_opened <= 1 + OCC_DOCKER_PARALLEL,
		      "%u channels for one driver", info.channels_opened);
	occ_error_clear(&err);
	if (occ_docker_open(&local, NULL, &err) == 0 && ping(local, &err) == 0) {
		local_ms = ping_ms(local, 200);
		printf("ssh: GET /_ping %.3f ms over the bridge, %.3f ms local (mean of 200)\n",
		       remote_ms, local_ms);
	}
	occ_driver_free(local);

	/* The events stream goes through the bridge too, on a driver of its own. */
	occ_error_clear(&err);
	ck_ok(occ_ssh_docker_open(&local, ssh, &err), &err, "events driver");
	ck_ok(occ_driver_events(local, st, on_event, NULL, &events_stop, &err), &err, "events");
	ck_assert_int_eq(events_subscribed, 1);
	occ_driver_free(local);
	occ_state_free(st);
}
END_TEST

/* observe -> plan -> apply once; *n_actions receives the plan's size. */
static void reconcile(struct occ_driver *d, const struct occ_state *st, size_t *n_actions)
{
	struct occ_apply_opts ao = { .host = "lab" };
	struct occ_apply_report rep = { 0 };
	struct occ_observed obs;
	struct occ_plan plan;
	struct occ_error err;

	occ_observed_init(&obs);
	occ_error_clear(&err);
	ck_ok(occ_driver_observe(d, st, &obs, &err), &err, "observe");
	ck_ok(occ_plan_compute(&plan, st, &obs, &err), &err, "plan");
	*n_actions = plan.n;
	if (plan.n)
		ck_ok(occ_apply_plan(d, st, &obs, &plan, &ao, NULL, &rep, &err), &err, "apply");
	occ_plan_release(&plan);
	occ_observed_release(&obs);
}

/* A whole converge over SSH (the health wait probes through a TCP bridge),
 * then a no-op reconcile: one channel, no new handshake. */
START_TEST(test_converge_over_ssh)
{
	struct occ_ssh_info before, after;
	struct occ_state *st = NULL;
	struct occ_driver *d = NULL;
	struct occ_error err;
	char yaml[512];
	size_t n = 0;

	ck_assert_ptr_nonnull(ssh);
	snprintf(app, sizeof(app), "occ-ssh-%d-app", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "version: 1\nname: %s\nimage: {ref: 'occ-test-busybox:1', pull: never}\n"
		 "container: {port: 23002, health: {path: /healthz, timeout: 30s}}\nvolumes: []\n",
		 app);
	occ_error_clear(&err);
	ck_ok(occ_model_load_buffer(&st, yaml, strlen(yaml), "ssh-test.yaml", NULL, &err), &err,
	      "state");
	ck_ok(occ_ssh_docker_open(&d, ssh, &err), &err, "driver");
	reconcile(d, st, &n);
	ck_assert_uint_gt(n, 0);
	reconcile(d, st, &n);
	ck_assert_uint_eq(n, 0);
	occ_driver_free(d);

	occ_ssh_get_info(ssh, &before);
	ck_ok(occ_ssh_docker_open(&d, ssh, &err), &err, "driver");
	reconcile(d, st, &n);
	ck_assert_uint_eq(n, 0);
	occ_driver_free(d);
	occ_ssh_get_info(ssh, &after);
	ck_assert_uint_eq(after.handshakes, before.handshakes);
	ck_assert_uint_le(after.channels_opened - before.channels_opened, 1 + OCC_DOCKER_PARALLEL);
	occ_state_free(st);
}
END_TEST

struct worker {
	struct occ_driver *d;
	int failures;
	struct occ_error err;
};

static void *ping_worker(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 100; i++)
		if (ping(w->d, &w->err) != 0)
			w->failures++;
	return NULL;
}

static int count_bytes(void *ctx, const char *data, size_t n, struct occ_error *err)
{
	(void)data;
	(void)err;
	*(size_t *)ctx += n;
	return 0;
}

/* GET /images/<ref>/get: the image as a tar stream, counted. */
static size_t image_tar_size(struct occ_driver *d)
{
	size_t n = 0;
	struct occ_docker_req req = { .method = "GET", .path = "/images/occ-test-busybox:1/get",
				      .on_data = count_bytes, .data_ctx = &n };
	struct occ_docker_resp resp;
	struct occ_error err;

	occ_docker__resp_init(&resp);
	occ_error_clear(&err);
	ck_ok(occ_docker__http_do(occ_docker__http_of(d), &req, &resp, &err), &err, "image get");
	ck_assert_int_eq(resp.status, 200);
	occ_docker__resp_release(&resp);
	return n;
}

/* Several drivers at once share the session, a channel each; a large body
 * (the test image as a tar, megabytes) arrives whole through the channel's
 * flow control. */
START_TEST(test_concurrent_and_bulk)
{
	struct worker w[4];
	pthread_t th[4];
	struct occ_ssh_info before, after;
	struct occ_driver *direct = NULL;
	struct occ_error err;
	char host[300];
	size_t remote, local;
	int i;

	ck_assert_ptr_nonnull(ssh);
	occ_ssh_get_info(ssh, &before);
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		occ_error_clear(&err);
		ck_ok(occ_ssh_docker_open(&w[i].d, ssh, &err), &err, "driver");
	}
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, ping_worker, &w[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(w[i].failures == 0, "worker %d: %d failures: %s", i, w[i].failures,
			      w[i].err.msg);
	}
	remote = image_tar_size(w[0].d);
	for (i = 0; i < 4; i++)
		occ_driver_free(w[i].d);
	occ_ssh_get_info(ssh, &after);
	ck_assert_uint_eq(after.handshakes, before.handshakes);
	ck_assert_uint_eq(after.channels_opened - before.channels_opened, 4);

	snprintf(host, sizeof(host), "unix://%s", env_sock);
	ck_ok(occ_docker_open(&direct, host, &err), &err, "direct driver");
	local = image_tar_size(direct);
	occ_driver_free(direct);
	ck_assert_uint_gt(local, 1u << 20);
	ck_assert_uint_eq(remote, local);
}
END_TEST

/* An image built on the remote daemon: the build context (megabytes, the
 * busybox binary) goes up as a chunked upload, the build's JSON stream comes
 * back, and the container starts from it. */
START_TEST(test_build_over_ssh)
{
	struct occ_state *st = NULL;
	struct occ_driver *d = NULL;
	struct occ_error err;
	char cmd[1200], yaml[1200];
	size_t n = 0;

	ck_assert_ptr_nonnull(ssh);
	snprintf(built, sizeof(built), "occ-ssh-%d-b", (int)getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/ctx && cp -r %s/tests/images/busybox-httpd/. "
		 "%s/ctx/ && cp /bin/busybox %s/ctx/busybox", tmp, OCC_SOURCE_DIR, tmp, tmp);
	run(cmd);
	snprintf(yaml, sizeof(yaml),
		 "version: 1\nname: %s\nimage: {ref: '%s:1', build: {context: %s/ctx}}\n"
		 "container: {port: 23003, health: {path: /healthz, timeout: 30s}}\nvolumes: []\n",
		 built, built, tmp);
	occ_error_clear(&err);
	ck_ok(occ_model_load_buffer(&st, yaml, strlen(yaml), "ssh-build.yaml", NULL, &err), &err,
	      "state");
	ck_ok(occ_ssh_docker_open(&d, ssh, &err), &err, "driver");
	reconcile(d, st, &n);
	ck_assert_uint_gt(n, 1);
	reconcile(d, st, &n);
	ck_assert_uint_eq(n, 0);
	occ_driver_free(d);
	occ_state_free(st);
}
END_TEST

/* The host port Docker picked for the container's port 3000. */
static uint16_t published_port(void)
{
	char cmd[600], line[128];
	unsigned p = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "docker -H unix://%s port %s 3000/tcp", env_sock, ctr);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	if (fgets(line, sizeof(line), f) && strrchr(line, ':'))
		p = (unsigned)strtoul(strrchr(line, ':') + 1, NULL, 10);
	pclose(f);
	ck_assert_uint_gt(p, 0);
	return (uint16_t)p;
}

START_TEST(test_tcp_bridges)
{
	struct occ_state *st = occ_state_new_default();
	struct occ_error err;
	char cmd[700], path[256], *body;
	uint16_t lport = 0;
	int i;

	snprintf(ctr, sizeof(ctr), "occ-ssh-%d", (int)getpid());
	ck_assert_ptr_nonnull(drv);
	snprintf(cmd, sizeof(cmd), "docker -H unix://%s run -d --name %s -p 127.0.0.1::3000 "
		 "occ-test-busybox:1 >/dev/null", env_sock, ctr);
	run(cmd);
	http_port = published_port();
	/* The driver's health probe reaches the port through the bridge. */
	free(st->name);
	st->name = occ_xstrdup(ctr);
	st->container.port = http_port;
	free(st->container.health.path);
	st->container.health.path = occ_xstrdup("/healthz");
	occ_error_clear(&err);
	ck_ok(occ_driver_wait_healthy(drv, st, 30000, &err), &err, "wait_healthy over ssh");
	occ_state_free(st);

	occ_error_clear(&err);
	ck_ok(occ_ssh_tcp_socket(ssh, "127.0.0.1", http_port, path, sizeof(path), &err), &err,
	      "tcp socket");
	for (i = 0; i < 3; i++) {
		body = http_get(unix_connect(path));
		ck_assert_msg(strstr(body, " 200 "), "%s", body);
		free(body);
	}
	ck_ok(occ_ssh_listen(ssh, "127.0.0.1", &lport, "127.0.0.1", http_port, &err), &err,
	      "listen");
	ck_assert_uint_ne(lport, 0);
	body = http_get(tcp_connect(lport));
	ck_assert_msg(strstr(body, " 200 "), "%s", body);
	free(body);
}
END_TEST

START_TEST(test_host_goes_away)
{
	struct occ_ssh_info info;
	struct occ_error err;
	char cmd[600];
	int ret = -1, i;

	ck_assert_ptr_nonnull(drv);
	ck_ok(ping(drv, &err), &err, "ping before");
	snprintf(cmd, sizeof(cmd), "bash %s sshd-stop 1", env_script);
	run(cmd);
	ret = ping(drv, &err);
	ck_assert_int_ne(ret, 0);
	ck_assert_msg(strstr(err.msg, "host 'lab'"), "%d %s", ret, err.msg);
	printf("ssh: with sshd gone: %s (hint: %s)\n", err.msg, err.hint);
	snprintf(cmd, sizeof(cmd), "bash %s sshd-start 1", env_script);
	run(cmd);
	/* Reconnects are paced by the backoff: retry until one goes through. */
	for (i = 0; i < 120; i++) {
		ret = ping(drv, &err);
		if (ret == 0)
			break;
		usleep(500000);
	}
	ck_ok(ret, &err, "ping after sshd came back");
	occ_ssh_get_info(ssh, &info);
	ck_assert_uint_eq(info.handshakes, 2);
	ck_assert(info.connected);
	pthread_mutex_lock(&trace_mu);
	ck_assert_uint_eq(traced_handshakes, 2);
	ck_assert_uint_ge(traced_failures, 1);
	pthread_mutex_unlock(&trace_mu);
}
END_TEST

/* The host drops while nobody uses the connection: the bridge notices, and
 * the next request simply connects again (no failed attempt, no backoff). */
START_TEST(test_idle_drop)
{
	struct occ_ssh_opts o = opts();
	struct occ_ssh_info info;
	struct occ_driver *d = NULL;
	struct occ_ssh *s = NULL;
	struct occ_error err;
	char cmd[1200];

	ck_ok(open_ssh(&s, &o, &err), &err, "open");
	snprintf(cmd, sizeof(cmd), "bash %s sshd-stop 1 && bash %s sshd-start 1 >/dev/null",
		 env_script, env_script);
	run(cmd);
	ck_ok(occ_ssh_docker_open(&d, s, &err), &err, "driver");
	ck_ok(ping(d, &err), &err, "first request after the drop");
	occ_driver_free(d);
	occ_ssh_get_info(s, &info);
	ck_assert_uint_eq(info.handshakes, 2);
	occ_ssh_close(s);
}
END_TEST

START_TEST(test_close)
{
	char dir[300], *slash;

	ck_assert_ptr_nonnull(ssh);
	snprintf(dir, sizeof(dir), "%s", occ_ssh_docker_host(ssh) + strlen("unix://"));
	slash = strrchr(dir, '/');
	*slash = '\0';
	occ_driver_free(drv);
	drv = NULL;
	occ_ssh_close(ssh);
	ssh = NULL;
	ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

/* Host 1's sshd runs (an earlier run may have stopped it and died). */
static void sshd_start(void)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "bash %s sshd-start 1 >/dev/null", env_script);
	if (system(cmd) != 0)
		fprintf(stderr, "test-ssh: could not start the lab's sshd\n");
}

static void cleanup(void)
{
	char cmd[1600];

	sshd_start();
	if (built[0]) {
		snprintf(cmd, sizeof(cmd), "docker -H unix://%s rm -f %s >/dev/null 2>&1; "
			 "docker -H unix://%s rmi %s:1 >/dev/null 2>&1", env_sock, built, env_sock,
			 built);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", built);
	}
	if (app[0]) {
		snprintf(cmd, sizeof(cmd), "docker -H unix://%s rm -f %s >/dev/null 2>&1", env_sock,
			 app);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove container %s\n", app);
	}
	if (ctr[0]) {
		snprintf(cmd, sizeof(cmd), "docker -H unix://%s rm -f %s >/dev/null 2>&1", env_sock,
			 ctr);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove container %s\n", ctr);
	}
	occ_driver_free(drv);
	occ_ssh_close(ssh);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
	Suite *su = suite_create("ssh");
	TCase *tc = tcase_create("lab");
	SRunner *sr;
	char home[300], pub[600];
	int failed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!load_env()) {
		printf("test-ssh: skipped: no lab environment (start it with "
		       "'bash tests/lab/remote.sh start')\n");
		return 77;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/occ-ssh-test-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	snprintf(home, sizeof(home), "%s/home", tmp);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	unsetenv("SSH_AUTH_SOCK");
	unsetenv("XDG_RUNTIME_DIR");
	snprintf(pub, sizeof(pub), "%s/lab.pub", tmp);
	{
		FILE *f = fopen(pub, "we");

		if (!f)
			return 1;
		fprintf(f, "%s\n", strchr(env_known, ' ') + 1);
		fclose(f);
	}
	sshd_start();
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_unknown_host_key);
	tcase_add_test(tc, test_accept_new);
	tcase_add_test(tc, test_hashed_known_hosts);
	tcase_add_test(tc, test_revoked_host_key);
	tcase_add_test(tc, test_changed_host_key);
	tcase_add_test(tc, test_rsa_refused);
	tcase_add_test(tc, test_encrypted_key_without_tty);
	tcase_add_test(tc, test_encrypted_key_asked);
	tcase_add_test(tc, test_no_key);
	tcase_add_test(tc, test_agent);
	tcase_add_test(tc, test_proxyjump);
	tcase_add_test(tc, test_config_alias);
	tcase_add_test(tc, test_docker_over_ssh);
	tcase_add_test(tc, test_converge_over_ssh);
	tcase_add_test(tc, test_concurrent_and_bulk);
	tcase_add_test(tc, test_build_over_ssh);
	tcase_add_test(tc, test_tcp_bridges);
	tcase_add_test(tc, test_host_goes_away);
	tcase_add_test(tc, test_idle_drop);
	tcase_add_test(tc, test_close);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
