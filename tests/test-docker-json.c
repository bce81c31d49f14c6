/*
 * test-docker-json.c - the Docker driver's pure parts, on canned answers:
 * JSON <-> occ structs, request bodies, error classification, version
 * negotiation and DOCKER_HOST parsing. No daemon, no network.
 *
 * Canned JSON is written with single quotes for readability; q() turns them
 * into double quotes (no value below contains a single quote).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/docker/docker-int.h"
#include "model/state.h"

static char *q(const char *s)
{
	char *out = occ_xstrdup(s);

	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

static void kv_string(struct occ_strbuf *sb, const struct occ_kvlist *kv)
{
	for (size_t i = 0; i < kv->n; i++)
		occ_strbuf_addf(sb, "%s%s=%s", i ? ";" : "", kv->items[i].key, kv->items[i].value);
}

static char *env_string(const struct occ_kvlist *kv)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	kv_string(&sb, kv);
	return occ_strbuf_detach(&sb);
}

static char *mounts_string(const struct occ_obs_container *c)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < c->n_mounts; i++)
		occ_strbuf_addf(&sb, "%s%s:%s%s", i ? ";" : "", c->mounts[i].source,
				c->mounts[i].target, c->mounts[i].readonly ? ":ro" : "");
	return occ_strbuf_detach(&sb);
}

static char *volumes_string(const struct occ_obs_container *c)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	for (size_t i = 0; i < c->n_volumes; i++)
		occ_strbuf_addf(&sb, "%s%s:%s", i ? ";" : "", c->volumes[i].name,
				c->volumes[i].target);
	return occ_strbuf_detach(&sb);
}

static void ck_str(const char *what, const char *got, const char *want)
{
	ck_assert_msg(occ_streq(got, want), "%s: got '%s', want '%s'", what,
		      got ? got : "(null)", want ? want : "(null)");
}

/* ---- container inspect -------------------------------------------------- */

#define LABELS_OCC(project) \
	"'Labels':{'dev.opencode-cloud.project':'" project "'," \
	"'dev.opencode-cloud.managed-by':'occ','dev.opencode-cloud.spec-hash':'abc123'," \
	"'dev.opencode-cloud.hash-version':'1'}"

static const char ctr_running[] =
	"{'Id':'c7bd01','Name':'/demo','Image':'sha256:7f21','RestartCount':0,"
	"'State':{'Status':'running','Running':true,'ExitCode':0,"
	"'StartedAt':'2026-11-24T00:32:46.773784333Z','FinishedAt':'0001-01-01T00:00:00Z',"
	"'Health':{'Status':'healthy','FailingStreak':0}},"
	"'Config':{'Image':'occ-test:1','Tty':false,"
	"'Env':['TZ=UTC','OCC_TEST_IMAGE=1','PATH=/usr/bin','MODE=dev','EMPTY=','UNSET','=x'],"
	LABELS_OCC("demo") "},"
	"'HostConfig':{'Binds':null,'PortBindings':{'3000/tcp':[{'HostIp':'127.0.0.1','HostPort':'39999'}]},"
	"'RestartPolicy':{'Name':'unless-stopped','MaximumRetryCount':0},"
	"'Mounts':[{'Type':'bind','Source':'/tmp','Target':'/host','ReadOnly':true},"
	"{'Type':'volume','Source':'demo-data','Target':'/data','VolumeOptions':{}},"
	"{'Type':'tmpfs','Target':'/run'}],'Init':true},"
	"'Mounts':[{'Type':'volume','Name':'0123anon','Destination':'/anon'}]}";

static const char ctr_foreign[] =
	"{'Id':'f00d','Name':'/demo','Image':'sha256:9999',"
	"'State':{'Status':'exited','ExitCode':137,'StartedAt':'2026-11-24T00:00:00Z'},"
	"'Config':{'Image':'nginx','Env':null,'Labels':null},"
	"'HostConfig':{'PortBindings':{},'RestartPolicy':{'Name':'','MaximumRetryCount':0},"
	"'Mounts':null,'Init':null}}";

static const char ctr_other_project[] =
	"{'Id':'0ther','Name':'/demo-occ-next','Image':'sha256:7f21',"
	"'State':{'Status':'created','ExitCode':0,'StartedAt':'0001-01-01T00:00:00Z'},"
	"'Config':{'Image':'occ-test:1','Env':[]," LABELS_OCC("elsewhere") "},"
	"'HostConfig':{'PortBindings':{'8080/tcp':[{'HostIp':'','HostPort':'8080'}],"
	"'9000/udp':[{'HostIp':'','HostPort':'9000'}]},"
	"'RestartPolicy':{'Name':'on-failure','MaximumRetryCount':3},"
	"'Binds':['/srv/code:/code:ro,z','/srv/rw:/rw','demo-cache:/cache','bad'],"
	"'Init':false}}";

/* Labelled with the project but not managed-by occ: not owned. */
static const char ctr_unmanaged[] =
	"{'Id':'abcd','Name':'/demo','State':{'Status':'paused'},"
	"'Config':{'Labels':{'dev.opencode-cloud.project':'demo',"
	"'dev.opencode-cloud.hash-version':'x'}},"
	"'HostConfig':{'RestartPolicy':{'Name':'always'},"
	"'PortBindings':{'3000/tcp':[{'HostIp':'::1','HostPort':'0'}]}}}";

struct ctr_case {
	const char *label;
	const char *json;
	uint16_t cport;
	int ret;
	const char *id, *name;
	enum occ_ctr_state state;
	bool owned;
	const char *project, *spec_hash;
	int hash_version;
	const char *image_ref, *image_id;
	uint16_t port;
	const char *bind;
	uint16_t container_port;
	const char *env, *mounts, *volumes;
	enum occ_restart_policy restart;
	bool init;
	const char *health, *started_at;
	int exit_code;
};

static const struct ctr_case ctr_cases[] = {
	{ "running", ctr_running, 3000, 0, "c7bd01", "demo", OCC_CTR_RUNNING, true, "demo",
	  "abc123", 1, "occ-test:1", "sha256:7f21", 39999, "127.0.0.1", 3000,
	  "TZ=UTC;MODE=dev;EMPTY=", "/tmp:/host:ro", "demo-data:/data",
	  OCC_RESTART_UNLESS_STOPPED, true, "healthy", "2026-11-24T00:32:46.773784333Z", 0 },
	{ "foreign", ctr_foreign, 3000, 0, "f00d", "demo", OCC_CTR_EXITED, false, NULL, NULL,
	  0, "nginx", "sha256:9999", 0, NULL, 0, "", "", "", OCC_RESTART_NO, false, NULL,
	  "2026-11-24T00:00:00Z", 137 },
	{ "other project, port fallback, binds", ctr_other_project, 3000, 0, "0ther",
	  "demo-occ-next", OCC_CTR_CREATED, false, "elsewhere", "abc123", 1, "occ-test:1",
	  "sha256:7f21", 8080, "0.0.0.0", 8080, "", "/srv/code:/code:ro;/srv/rw:/rw",
	  "demo-cache:/cache", OCC_RESTART_ON_FAILURE, false, NULL, NULL, 0 },
	{ "unmanaged, bad port, sparse", ctr_unmanaged, 3000, 0, "abcd", "demo", OCC_CTR_PAUSED,
	  false, "demo", NULL, 0, NULL, NULL, 0, NULL, 0, "", "", "", OCC_RESTART_ALWAYS, false,
	  NULL, NULL, 0 },
	{ .label = "not json", .json = "{'Id':", .ret = OCC_EAPI },
	{ .label = "not an object", .json = "['Id']", .ret = OCC_EAPI },
	{ .label = "no id", .json = "{'Name':'/x'}", .ret = OCC_EAPI },
};

static void check_container(const struct ctr_case *t, const struct occ_obs_container *c)
{
	char *env = env_string(&c->env), *mounts = mounts_string(c), *vols = volumes_string(c);

	ck_str("id", c->id, t->id);
	ck_str("name", c->name, t->name);
	ck_assert_int_eq(c->state, t->state);
	ck_assert_int_eq(c->owned, t->owned);
	ck_str("project", c->project, t->project);
	ck_str("spec_hash", c->spec_hash, t->spec_hash);
	ck_assert_int_eq(c->hash_version, t->hash_version);
	ck_str("image_ref", c->image_ref, t->image_ref);
	ck_str("image_id", c->image_id, t->image_id);
	ck_assert_uint_eq(c->port, t->port);
	ck_str("bind", c->bind, t->bind);
	ck_assert_uint_eq(c->container_port, t->container_port);
	ck_str("env", env, t->env);
	ck_str("mounts", mounts, t->mounts);
	ck_str("volumes", vols, t->volumes);
	ck_assert_int_eq(c->restart, t->restart);
	ck_assert_int_eq(c->init, t->init);
	ck_str("health", c->health, t->health);
	ck_str("started_at", c->started_at, t->started_at);
	ck_assert_int_eq(c->exit_code, t->exit_code);
	free(env);
	free(mounts);
	free(vols);
}

START_TEST(test_parse_container)
{
	const struct ctr_case *t = &ctr_cases[_i];
	struct occ_kvlist image_env = { 0 };
	struct occ_obs_container c;
	struct occ_error err;
	char *json = q(t->json);
	int ret;

	occ_error_clear(&err);
	occ_kvlist_set(&image_env, "PATH", "/usr/bin");
	occ_kvlist_set(&image_env, "OCC_TEST_IMAGE", "1");
	occ_kvlist_set(&image_env, "MODE", "prod");
	memset(&c, 0x5a, sizeof(c));
	ret = occ_docker__parse_container(&c, json, strlen(json), &image_env, "demo", t->cport,
					  &err);
	ck_assert_msg(ret == t->ret, "%s: ret %d (%s)", t->label, ret, err.msg);
	if (ret == 0) {
		check_container(t, &c);
		occ_obs_container_release(&c);
	} else {
		ck_assert_int_eq(err.code, t->ret);
		ck_assert_msg(strstr(err.msg, "Docker daemon"), "%s: message '%s'", t->label, err.msg);
	}
	occ_kvlist_release(&image_env);
	free(json);
}
END_TEST

START_TEST(test_parse_brief)
{
	struct occ_docker_brief b;
	struct occ_error err;
	char *json = q(ctr_running);

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__parse_brief(&b, json, strlen(json), &err), 0);
	ck_str("id", b.id, "c7bd01");
	ck_assert_int_eq(b.state, OCC_CTR_RUNNING);
	ck_assert(!b.tty);
	ck_str("project", b.project, "demo");
	ck_assert(b.managed);
	ck_str("image", b.image_id, "sha256:7f21");
	free(json);
	json = q(ctr_foreign);
	ck_assert_int_eq(occ_docker__parse_brief(&b, json, strlen(json), &err), 0);
	ck_assert_int_eq(b.exit_code, 137);
	ck_assert(!b.managed);
	ck_str("project", b.project, "");
	free(json);
}
END_TEST

/* ---- image inspect ------------------------------------------------------ */

START_TEST(test_parse_image)
{
	static const char img[] =
		"{'Id':'sha256:7f21','RepoTags':['occ-test:1'],"
		"'RepoDigests':['occ-test@sha256:aaaa',7,'occ-test@sha256:bbbb'],"
		"'Config':{'Env':['PATH=/bin','A=b=c'],'Labels':{'k':'v','n':1}}}";
	struct occ_obs_image out = { 0 };
	struct occ_kvlist env = { 0 };
	struct occ_error err;
	char *json = q(img), *s;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__parse_image(&out, &env, json, strlen(json), "occ-test:1",
						 &err), 0);
	ck_assert(out.present);
	ck_str("id", out.id, "sha256:7f21");
	ck_str("ref", out.ref, "occ-test:1");
	ck_assert_uint_eq(out.n_repo_digests, 2);
	ck_str("digest", out.repo_digests[1], "occ-test@sha256:bbbb");
	s = env_string(&out.labels);
	ck_str("labels", s, "k=v");
	free(s);
	s = env_string(&env);
	ck_str("env", s, "PATH=/bin;A=b=c");
	free(s);
	free(out.id);
	free(out.ref);
	for (size_t i = 0; i < out.n_repo_digests; i++)
		free(out.repo_digests[i]);
	free(out.repo_digests);
	occ_kvlist_release(&out.labels);
	occ_kvlist_release(&env);
	free(json);
	json = q("{'RepoTags':[]}");
	ck_assert_int_eq(occ_docker__parse_image(&out, NULL, json, strlen(json), "x", &err),
			 OCC_EAPI);
	free(json);
}
END_TEST

/* ---- lists -------------------------------------------------------------- */

/* HostConfig's hardening and limits, as the planner compares them. */
static const struct {
	const char *host_config;
	const char *security, *log;
	long pids;
	uint64_t memory, nano_cpus;
} hardening_cases[] = {
	{ "'CapDrop':['ALL'],'CapAdd':['SETUID','CHOWN','KILL','SETGID'],"
	  "'SecurityOpt':['no-new-privileges'],'PidsLimit':4096,"
	  "'LogConfig':{'Type':'json-file','Config':{'max-size':'10m','max-file':'3'}}",
	  "drop ALL; add CHOWN,KILL,SETGID,SETUID; no-new-privileges",
	  "json-file max-size=10m max-file=3", 4096, 0, 0 },
	/* Docker's other spellings: CAP_ prefix, lower case, no-new-privileges:true */
	{ "'CapDrop':['all'],'CapAdd':['cap_kill','CAP_CHOWN','setgid','SETUID'],"
	  "'SecurityOpt':['no-new-privileges:true'],'PidsLimit':64,'Memory':536870912,"
	  "'NanoCpus':1500000000,'LogConfig':{'Type':'json-file','Config':{}}",
	  "drop ALL; add CHOWN,KILL,SETGID,SETUID; no-new-privileges",
	  "json-file max-size=(none) max-file=(none)", 64, 536870912, 1500000000 },
	/* an older occ's container: nothing set; PidsLimit null, 0 or -1 is none */
	{ "'CapDrop':null,'CapAdd':null,'SecurityOpt':null,'PidsLimit':-1,"
	  "'LogConfig':{'Type':'json-file','Config':{}}",
	  "Docker's default capabilities", "json-file max-size=(none) max-file=(none)", 0, 0, 0 },
	{ "'PidsLimit':null", "Docker's default capabilities", "(daemon default)", 0, 0, 0 },
};

START_TEST(test_parse_hardening)
{
	struct occ_obs_container c;
	struct occ_error err;
	char *raw = occ_xasprintf("{'Id':'h1','Name':'/demo','State':{'Status':'running'},"
				  "'Config':{},'HostConfig':{%s}}",
				  hardening_cases[_i].host_config);
	char *json = q(raw);

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__parse_container(&c, json, strlen(json), NULL, "demo", 3000,
						     &err), 0);
	ck_str("security", c.security, hardening_cases[_i].security);
	ck_str("log", c.log, hardening_cases[_i].log);
	ck_assert_int_eq(c.pids_limit, hardening_cases[_i].pids);
	ck_assert_uint_eq(c.memory, hardening_cases[_i].memory);
	ck_assert_uint_eq(c.nano_cpus, hardening_cases[_i].nano_cpus);
	occ_obs_container_release(&c);
	free(json);
	free(raw);
}
END_TEST

START_TEST(test_parse_container_list)
{
	static const char list[] =
		"[{'Id':'a1','Names':['/demo'],'Labels':{}},"
		"{'Id':'b2','Names':['/demo-occ-next'],'Labels':null},"
		"{'Id':'c3','Names':['/demo2'],'Labels':{}},"
		"{'Id':'d4','Names':['/renamed'],'Labels':{'dev.opencode-cloud.project':'demo'}},"
		"{'Id':'e5','Names':['/x'],'Labels':{'dev.opencode-cloud.project':'demo2'}},"
		"{'Names':['/demo']},"
		"{'Id':'a1','Names':['/demo'],'Labels':{}}]";
	struct occ_docker_strv ids = { 0 }, names = { 0 };
	struct occ_error err;
	char *json = q(list);

	occ_error_clear(&err);
	occ_docker__strv_push(&names, "demo");
	occ_docker__strv_push(&names, "demo-occ-next");
	ck_assert_int_eq(occ_docker__parse_container_list(&ids, json, strlen(json), "demo",
							  &names, &err), 0);
	ck_assert_uint_eq(ids.n, 3);
	ck_str("0", ids.v[0], "a1");
	ck_str("1", ids.v[1], "b2");
	ck_str("2", ids.v[2], "d4");
	ck_assert_int_eq(occ_docker__parse_container_list(&ids, "{}", 2, "demo", &names, &err),
			 OCC_EAPI);
	occ_docker__strv_release(&ids);
	occ_docker__strv_release(&names);
	free(json);
}
END_TEST

START_TEST(test_parse_volume_list)
{
	static const char list[] =
		"{'Volumes':[{'Name':'demo-data','Labels':{'dev.opencode-cloud.project':'demo',"
		"'dev.opencode-cloud.spec-hash':'h1'}},"
		"{'Name':'demo-cache','Labels':null},"
		"{'Name':'demo-cache-old','Labels':null},"
		"{'Name':'other','Labels':{'dev.opencode-cloud.project':'other'}}],"
		"'Warnings':null}";
	struct occ_docker_strv names = { 0 };
	struct occ_obs_volume *vols = NULL;
	struct occ_error err;
	size_t n = 0;
	char *json = q(list);

	occ_error_clear(&err);
	occ_docker__strv_push(&names, "demo-cache");
	ck_assert_int_eq(occ_docker__parse_volume_list(&vols, &n, json, strlen(json), "demo",
						       &names, &err), 0);
	/* A second list (the name filter) adds nothing twice. */
	ck_assert_int_eq(occ_docker__parse_volume_list(&vols, &n, json, strlen(json), "demo",
						       &names, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_str("0", vols[0].name, "demo-data");
	ck_assert(vols[0].owned);
	ck_str("hash", vols[0].spec_hash, "h1");
	ck_str("1", vols[1].name, "demo-cache");
	ck_assert(!vols[1].owned);
	ck_assert_ptr_null(vols[1].spec_hash);
	for (size_t i = 0; i < n; i++) {
		free(vols[i].name);
		free(vols[i].spec_hash);
	}
	free(vols);
	free(json);
	json = q("{'Volumes':null}");
	vols = NULL;
	n = 0;
	ck_assert_int_eq(occ_docker__parse_volume_list(&vols, &n, json, strlen(json), "demo",
						       NULL, &err), 0);
	ck_assert_uint_eq(n, 0);
	occ_docker__strv_release(&names);
	free(json);
}
END_TEST

START_TEST(test_parse_small)
{
	struct occ_docker_version v;
	struct occ_kvlist labels = { 0 };
	struct occ_error err;
	char *id = NULL, *json;

	occ_error_clear(&err);
	json = q("{'Id':'4f3e','Warnings':[]}");
	ck_assert_int_eq(occ_docker__parse_id(&id, json, strlen(json), &err), 0);
	ck_str("id", id, "4f3e");
	free(id);
	free(json);
	json = q("{'Warnings':[]}");
	ck_assert_int_eq(occ_docker__parse_id(&id, json, strlen(json), &err), OCC_EAPI);
	free(json);
	json = q("{'Version':'20.10.24+dfsg1','ApiVersion':'1.41','Os':'linux','Arch':'amd64'}");
	ck_assert_int_eq(occ_docker__parse_version(&v, json, strlen(json), &err), 0);
	ck_str("version", v.version, "20.10.24+dfsg1");
	ck_str("api", v.daemon_api, "1.41");
	ck_str("arch", v.arch, "amd64");
	free(json);
	json = q("{'Name':'demo-data','Labels':{'dev.opencode-cloud.project':'demo'}}");
	ck_assert_int_eq(occ_docker__parse_volume_labels(&labels, json, strlen(json), &err), 0);
	ck_str("label", occ_kvlist_get(&labels, OCC_LABEL_PROJECT), "demo");
	occ_kvlist_release(&labels);
	free(json);
}
END_TEST

/* ---- stream messages ---------------------------------------------------- */

struct msg_case {
	const char *json;
	int ret;
	const char *stream, *status, *id, *error, *aux_id;
	uint64_t current, total;
};

static const struct msg_case msg_cases[] = {
	{ .json = "{'stream':'Step 1/3 : FROM scratch\\n'}", .stream = "Step 1/3 : FROM scratch\n" },
	{ .json = "{'status':'Downloading','progressDetail':{'current':1024,'total':4096},"
	  "'progress':'[=>  ]','id':'a3ed95caeb02'}", .status = "Downloading",
	  .id = "a3ed95caeb02", .current = 1024, .total = 4096 },
	{ .json = "{'status':'Pulling fs layer','progressDetail':{},'id':'x'}",
	  .status = "Pulling fs layer", .id = "x" },
	{ .json = "{'errorDetail':{'message':'manifest unknown'},'error':'manifest (short)'}",
	  .error = "manifest unknown" },
	{ .json = "{'error':'COPY failed'}", .error = "COPY failed" },
	{ .json = "{'aux':{'ID':'sha256:beef'}}", .aux_id = "sha256:beef" },
	{ .json = "{'status':'x','progressDetail':{'current':-5}}", .status = "x" },
	{ .json = "not json", .ret = OCC_EAPI },
};

START_TEST(test_parse_msg)
{
	const struct msg_case *t = &msg_cases[_i];
	struct occ_docker_msg m;
	struct occ_error err;
	char *json = q(t->json);

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__parse_msg(&m, json, strlen(json), &err), t->ret);
	if (t->ret == 0) {
		ck_str("stream", m.stream, t->stream);
		ck_str("status", m.status, t->status);
		ck_str("id", m.id, t->id);
		ck_str("error", m.error, t->error);
		ck_str("aux", m.aux_id, t->aux_id);
		ck_assert_uint_eq(m.current, t->current);
		ck_assert_uint_eq(m.total, t->total);
		occ_docker__msg_release(&m);
	}
	free(json);
}
END_TEST

/* ---- request bodies ----------------------------------------------------- */

static struct occ_state *body_state(void)
{
	struct occ_state *st = occ_state_new_default();

	free(st->name);
	st->name = occ_xstrdup("demo");
	free(st->image.ref);
	st->image.ref = occ_xstrdup("occ-test:1");
	st->container.port = 3001;
	free(st->container.bind);
	st->container.bind = occ_xstrdup("0.0.0.0");
	st->container.restart = OCC_RESTART_ON_FAILURE;
	occ_kvlist_set(&st->container.env, "TZ", "UTC");
	occ_kvlist_set(&st->container.env, "A_FIRST", "x=y \"q\"");
	st->mounts = occ_xcalloc(1, sizeof(*st->mounts));
	st->mounts[0] = (struct occ_mount){ occ_xstrdup("/srv/code"), occ_xstrdup("/code"), true,
					    { 0, 0 } };
	st->n_mounts = 1;
	for (size_t i = 1; i < st->n_volumes; i++) {
		free(st->volumes[i].name);
		free(st->volumes[i].target);
	}
	st->n_volumes = 1;
	free(st->volumes[0].name);
	st->volumes[0].name = occ_xstrdup("data");
	free(st->volumes[0].target);
	st->volumes[0].target = occ_xstrdup("/data");
	return st;
}

START_TEST(test_create_body)
{
	static const char want[] =
		"{'Env':['A_FIRST=x=y \\'q\\'','OCC_LISTEN_PORT=3000','TZ=UTC'],"
		"'ExposedPorts':{'3000/tcp':{}},"
		"'HostConfig':{'CapAdd':['CHOWN','KILL','SETGID','SETUID'],'CapDrop':['ALL'],"
		"'Init':true,'LogConfig':{'Config':{'max-file':'3','max-size':'10m'},"
		"'Type':'json-file'},'Mounts':["
		"{'ReadOnly':true,'Source':'/srv/code','Target':'/code','Type':'bind'},"
		"{'Source':'demo-data','Target':'/data','Type':'volume','VolumeOptions':"
		"{'Labels':{'dev.opencode-cloud.managed-by':'occ','dev.opencode-cloud.project':'demo'}}}],"
		"'PidsLimit':4096,"
		"'PortBindings':{'3000/tcp':[{'HostIp':'0.0.0.0','HostPort':'3001'}]},"
		"'RestartPolicy':{'Name':'on-failure'},'SecurityOpt':['no-new-privileges']},"
		"'Image':'occ-test:1',"
		"'Labels':{'dev.opencode-cloud.hash-version':'1','dev.opencode-cloud.image-id':"
		"'sha256:7f21','dev.opencode-cloud.managed-by':'occ','dev.opencode-cloud.project':"
		"'demo','dev.opencode-cloud.spec-hash':'abc123'}}";
	struct occ_state *st = body_state();
	char *body = occ_docker__create_body(st, "abc123", 1, "sha256:7f21");
	char *expect = q(want);

	ck_str("body", body, expect);
	free(body);
	free(expect);
	occ_state_free(st);
}
END_TEST

/* OCC_LOGIN=open only on a loopback bind with no enabled user (fail closed). */
static const struct {
	const char *bind;
	int users;          /* 0: none, 1: one enabled, 2: one disabled */
	bool open;
} login_cases[] = {
	{ "127.0.0.1", 0, true },
	{ "::1", 0, true },
	{ "127.0.0.1", 2, true },
	{ "127.0.0.1", 1, false },
	{ "0.0.0.0", 0, false },
	{ "0.0.0.0", 2, false },
	{ "192.168.1.5", 1, false },
	{ "::", 0, false },
};

START_TEST(test_create_body_login)
{
	struct occ_state *st = body_state();
	char *body;

	free(st->container.bind);
	st->container.bind = occ_xstrdup(login_cases[_i].bind);
	if (login_cases[_i].users) {
		st->users = occ_xcalloc(1, sizeof(*st->users));
		st->users[0].name = occ_xstrdup("alice");
		st->users[0].enabled = login_cases[_i].users == 1;
		st->n_users = 1;
	}
	ck_assert_int_eq(occ_state_login_open(st), login_cases[_i].open);
	body = occ_docker__create_body(st, "abc123", 2, NULL);
	ck_assert_msg((strstr(body, "\"OCC_LOGIN=open\"") != NULL) == login_cases[_i].open,
		      "case %d: %s", _i, body);
	ck_assert_ptr_null(strstr(body, "OCC_LOGIN=") && !login_cases[_i].open ? body : NULL);
	free(body);
	occ_state_free(st);
}
END_TEST

START_TEST(test_other_bodies)
{
	struct occ_docker_strv vals = { 0 };
	struct occ_kvlist kv = { 0 };
	char *s;

	s = occ_docker__volume_body("demo-data", "demo");
	ck_str("volume", s, "{\"Labels\":{\"dev.opencode-cloud.managed-by\":\"occ\","
	       "\"dev.opencode-cloud.project\":\"demo\"},\"Name\":\"demo-data\"}");
	free(s);
	occ_docker__strv_push(&vals, "dev.opencode-cloud.project=demo");
	s = occ_docker__filters("label", &vals);
	ck_str("filters", s, "{\"label\":[\"dev.opencode-cloud.project=demo\"]}");
	free(s);
	s = occ_docker__kv_json(&kv);
	ck_str("empty kv", s, "{}");
	free(s);
	occ_kvlist_set(&kv, "HTTP_PROXY", "http://p:3128");
	s = occ_docker__kv_json(&kv);
	ck_str("kv", s, "{\"HTTP_PROXY\":\"http://p:3128\"}");
	free(s);
	occ_kvlist_release(&kv);
	occ_docker__strv_release(&vals);
}
END_TEST

START_TEST(test_url_escape)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_init(&sb);
	occ_docker__url_escape(&sb, "{\"label\":[\"a=b c/d\"]}~-._");
	ck_str("escaped", sb.buf, "%7B%22label%22%3A%5B%22a%3Db%20c%2Fd%22%5D%7D~-._");
	occ_strbuf_release(&sb);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

struct port_case {
	const char *msg;
	bool in_use;
	const char *addr;
};

static const struct port_case port_cases[] = {
	{ "driver failed programming external connectivity on endpoint x (b4aa): Error "
	  "starting userland proxy: listen tcp4 127.0.0.1:34253: bind: address already in use",
	  true, "127.0.0.1:34253" },
	{ "driver failed programming external connectivity on endpoint x (7335): Bind for "
	  "127.0.0.1:34253 failed: port is already allocated", true, "127.0.0.1:34253" },
	{ "Error starting userland proxy: listen tcp6 [::1]:3000: bind: address already in use",
	  true, "[::1]:3000" },
	{ "something: address already in use", true, "" },
	{ "OCI runtime create failed: exec: \"x\": not found", false, "" },
	/* found by fuzz-docker-json: the end marker overlapping the prefix read
	 * past the end of the message */
	{ "address already in use: Bind for failed", true, "" },
	{ "port is already allocated: Bind for  failed", true, "" },
	{ "listen tcp : bind: address already in use", true, "" },
};

START_TEST(test_port_in_use)
{
	const struct port_case *t = &port_cases[_i];
	char addr[64];

	ck_assert_int_eq(occ_docker__port_in_use(t->msg, addr, sizeof(addr)), t->in_use);
	ck_str("addr", addr, t->addr);
}
END_TEST

START_TEST(test_error_message)
{
	static const struct { const char *body, *want; size_t len; } cases[] = {
		{ "{\"message\":\"no such image: x\"}\n", "no such image: x", 0 },
		{ "{\"message\":\"\"}", "{\"message\":\"\"}", 0 },
		{ "page not found\r\n", "page not found", 0 },
		{ "", "(no message)", 0 },
		/* control characters never reach the terminal (fuzz-docker-json) */
		{ "\0", "?", 1 },
		{ "a\0b", "a?b", 3 },
		{ "{\"message\":\"bad \\u001b[31mred\"}", "bad ?[31mred", 0 },
		{ "x\x1b]0;title\x07y", "x?]0;title?y", 0 },
	};

	for (size_t i = 0; i < OCC_ARRAY_SIZE(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
		char *m = occ_docker__error_message(cases[i].body, len);

		ck_str("message", m, cases[i].want);
		free(m);
	}
}
END_TEST

struct conn_case {
	enum occ_docker_fail fail;
	int os_errno;
	int code;
	const char *msg, *hint;
};

static const struct conn_case conn_cases[] = {
	{ OCC_DOCKER_FAIL_CONNECT, ENOENT, OCC_EDAEMON,
	  "cannot connect to the Docker daemon at unix:///var/run/docker.sock: no such socket",
	  "is dockerd running? start it with 'systemctl start docker' or 'dockerd &'" },
	{ OCC_DOCKER_FAIL_CONNECT, ECONNREFUSED, OCC_EDAEMON,
	  "cannot connect to the Docker daemon at unix:///var/run/docker.sock: connection refused",
	  "is dockerd running?" },
	{ OCC_DOCKER_FAIL_CONNECT, EACCES, OCC_EPERM,
	  "cannot connect to the Docker daemon at unix:///var/run/docker.sock: permission denied",
	  "add your user to the 'docker' group" },
	{ OCC_DOCKER_FAIL_CONNECT, ENOTSOCK, OCC_EDAEMON,
	  "cannot connect to the Docker daemon at unix:///var/run/docker.sock: Socket operation "
	  "on non-socket", "is dockerd running?" },
	{ OCC_DOCKER_FAIL_TIMEOUT, 0, OCC_EDAEMON,
	  "the Docker daemon at unix:///var/run/docker.sock did not answer in time", "hung" },
	{ OCC_DOCKER_FAIL_LOST, 0, OCC_EDAEMON,
	  "the Docker daemon at unix:///var/run/docker.sock closed the connection: detail",
	  "is dockerd running?" },
	{ OCC_DOCKER_FAIL_OTHER, 0, OCC_EDAEMON,
	  "cannot talk to the Docker daemon at unix:///var/run/docker.sock: detail", "" },
};

START_TEST(test_connect_error)
{
	const struct conn_case *t = &conn_cases[_i];
	struct occ_error err;

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__connect_error(&err, "unix:///var/run/docker.sock", t->fail,
						   t->os_errno, "detail"), t->code);
	ck_assert_int_eq(err.code, t->code);
	ck_str("msg", err.msg, t->msg);
	ck_assert_msg(strstr(err.hint, t->hint), "hint '%s' lacks '%s'", err.hint, t->hint);
}
END_TEST

struct version_case {
	const char *daemon;
	int ret;
	const char *use;
};

static const struct version_case version_cases[] = {
	{ "1.41", 0, "1.41" },
	{ "1.40", 0, "1.40" },
	{ "1.45", 0, "1.45" },
	{ "1.47", 0, "1.45" },
	{ "2.1", 0, "1.45" },
	{ "1.39", OCC_EVERSION, NULL },
	{ "1.24", OCC_EVERSION, NULL },
	{ "", OCC_EAPI, NULL },
	{ "1.x", OCC_EAPI, NULL },
	{ "141", OCC_EAPI, NULL },
	{ NULL, OCC_EAPI, NULL },
};

START_TEST(test_negotiate_version)
{
	const struct version_case *t = &version_cases[_i];
	struct occ_error err;
	char out[16] = "";

	occ_error_clear(&err);
	ck_assert_int_eq(occ_docker__negotiate_version(out, t->daemon, &err), t->ret);
	if (t->ret == 0)
		ck_str("version", out, t->use);
	if (t->ret == OCC_EVERSION)
		ck_assert_msg(strstr(err.msg, "1.40 or newer") && err.hint[0], "%s", err.msg);
}
END_TEST

struct host_case {
	const char *env, *arg;
	int ret;
	const char *path, *endpoint, *msg;
};

static const struct host_case host_cases[] = {
	{ NULL, NULL, 0, "/var/run/docker.sock", "unix:///var/run/docker.sock", NULL },
	{ "", "", 0, "/var/run/docker.sock", "unix:///var/run/docker.sock", NULL },
	{ "unix:///tmp/d.sock", NULL, 0, "/tmp/d.sock", "unix:///tmp/d.sock", NULL },
	{ "unix:///tmp/env.sock", "unix:///tmp/arg.sock", 0, "/tmp/arg.sock",
	  "unix:///tmp/arg.sock", NULL },
	{ "tcp://10.0.0.5:2375", NULL, OCC_EINVALID, NULL, NULL,
	  "only unix:// is supported; for remote hosts use hosts: in the state file" },
	{ NULL, "ssh://lab", OCC_EINVALID, NULL, NULL, "only unix:// is supported" },
	{ NULL, "unix://relative.sock", OCC_EINVALID, NULL, NULL, "absolute" },
	{ NULL, "unix:///a/very/long/path/that/does/not/fit/into/sun_path/because/it/is/"
	  "longer/than/one/hundred/and/eight/bytes.sock", OCC_EINVALID, NULL, NULL, "too long" },
};

START_TEST(test_transport_from_host)
{
	const struct host_case *t = &host_cases[_i];
	struct occ_docker_transport tr;
	struct occ_error err;

	occ_error_clear(&err);
	if (t->env)
		setenv("DOCKER_HOST", t->env, 1);
	else
		unsetenv("DOCKER_HOST");
	ck_assert_int_eq(occ_docker__transport_from_host(&tr, t->arg, &err), t->ret);
	if (t->ret == 0) {
		ck_str("path", tr.socket_path, t->path);
		ck_str("endpoint", tr.endpoint, t->endpoint);
		occ_docker__transport_release(&tr);
	} else {
		ck_assert_msg(strstr(err.msg, t->msg), "'%s' lacks '%s'", err.msg, t->msg);
	}
	unsetenv("DOCKER_HOST");
}
END_TEST

static Suite *docker_json_suite(void)
{
	Suite *s = suite_create("docker-json");
	TCase *tc = tcase_create("translate");

	tcase_add_loop_test(tc, test_parse_container, 0, OCC_ARRAY_SIZE(ctr_cases));
	tcase_add_loop_test(tc, test_parse_hardening, 0, (int)OCC_ARRAY_SIZE(hardening_cases));
	tcase_add_test(tc, test_parse_brief);
	tcase_add_test(tc, test_parse_image);
	tcase_add_test(tc, test_parse_container_list);
	tcase_add_test(tc, test_parse_volume_list);
	tcase_add_test(tc, test_parse_small);
	tcase_add_loop_test(tc, test_parse_msg, 0, OCC_ARRAY_SIZE(msg_cases));
	tcase_add_test(tc, test_create_body);
	tcase_add_loop_test(tc, test_create_body_login, 0, (int)OCC_ARRAY_SIZE(login_cases));
	tcase_add_test(tc, test_other_bodies);
	tcase_add_test(tc, test_url_escape);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_port_in_use, 0, OCC_ARRAY_SIZE(port_cases));
	tcase_add_test(tc, test_error_message);
	tcase_add_loop_test(tc, test_connect_error, 0, OCC_ARRAY_SIZE(conn_cases));
	tcase_add_loop_test(tc, test_negotiate_version, 0, OCC_ARRAY_SIZE(version_cases));
	tcase_add_loop_test(tc, test_transport_from_host, 0, OCC_ARRAY_SIZE(host_cases));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(docker_json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
