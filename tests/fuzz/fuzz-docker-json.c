/*
 * fuzz-docker-json.c - libFuzzer target for the translation of the Docker
 * Engine's JSON answers into occ structs (drivers/docker/translate.c).
 *
 * The first byte picks the parser (container inspect, image inspect, the
 * brief inspect, container and volume lists, a create answer, an exec
 * inspect, volume labels, /version, an error body); the rest is the answer.
 * Every parser must either succeed with a well-formed result (strings
 * NUL-terminated, counts matching arrays, ownership following the project
 * label) or fail with OCC_EAPI and a message; leaks and memory errors are
 * findings too (ASan). Seeds in tests/fuzz/corpus-docker-json/ are trimmed
 * real answers of dockerd 20.10 (API 1.41), each prefixed with its selector
 * byte ('0' container, '1' image, '2' brief, '3' container list, '4' volume
 * list, '5' id, '6' exec, '7' volume labels, '8' version, '9' error body).
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz-docker-json -max_total_time=60 /tmp/corpus \
 *            tests/fuzz/corpus-docker-json
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/docker/docker-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROJECT "opencode-cloud"
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* A failure must be OCC_EAPI (or OCC_EINVALID) with a message. */
static void check_failure(int ret, const struct occ_error *err)
{
	if ((ret != OCC_EAPI && ret != OCC_EINVALID) || err->code != ret || !err->msg[0])
		abort();
}

static void fuzz_container(const char *json, size_t len, struct occ_error *err)
{
	struct occ_kvlist image_env = { 0 };
	struct occ_obs_container c;
	int ret;

	occ_kvlist_set(&image_env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	memset(&c, 0, sizeof(c));
	ret = occ_docker__parse_container(&c, json, len, &image_env, PROJECT, 3000, err);
	if (ret == 0) {
		if (!c.id || !c.name || (c.owned && !occ_streq(c.project, PROJECT)))
			abort();
		for (size_t i = 0; i < c.env.n; i++)
			if (!c.env.items[i].key)
				abort();
		occ_obs_container_release(&c);
	} else {
		check_failure(ret, err);
	}
	occ_kvlist_release(&image_env);
}

static void fuzz_image(const char *json, size_t len, struct occ_error *err)
{
	struct occ_kvlist env = { 0 };
	struct occ_observed obs;
	int ret;

	/* env apart from obs.image: parse_image writes all of *out at the end */
	occ_observed_init(&obs);
	ret = occ_docker__parse_image(&obs.image, &env, json, len, "occ-test:1", err);
	if (ret == 0 && (!obs.image.present || !obs.image.id))
		abort();
	if (ret)
		check_failure(ret, err);
	obs.image.env = env;
	occ_observed_release(&obs);
}

static void fuzz_brief(const char *json, size_t len, struct occ_error *err)
{
	struct occ_docker_brief b;
	int ret = occ_docker__parse_brief(&b, json, len, err);

	if (ret) {
		check_failure(ret, err);
		return;
	}
	if (!TERMINATED(b.id) || !TERMINATED(b.started_at) || !TERMINATED(b.health) ||
	    !TERMINATED(b.image_id) || !TERMINATED(b.project))
		abort();
}

static void fuzz_lists(const char *json, size_t len, bool volumes, struct occ_error *err)
{
	struct occ_docker_strv ids = { 0 }, names = { 0 };
	struct occ_obs_volume *vols = NULL;
	size_t n = 0;
	int ret;

	occ_docker__strv_push(&names, PROJECT);
	occ_docker__strv_push(&names, PROJECT "-occ-next");
	if (volumes)
		ret = occ_docker__parse_volume_list(&vols, &n, json, len, PROJECT, &names, err);
	else
		ret = occ_docker__parse_container_list(&ids, json, len, PROJECT, &names, err);
	if (ret)
		check_failure(ret, err);
	for (size_t i = 0; i < ids.n; i++)
		if (!ids.v[i])
			abort();
	for (size_t i = 0; i < n; i++) {
		if (!vols[i].name)
			abort();
		free(vols[i].name);
		free(vols[i].spec_hash);
	}
	free(vols);
	occ_docker__strv_release(&ids);
	occ_docker__strv_release(&names);
}

static void fuzz_small(int which, const char *json, size_t len, struct occ_error *err)
{
	struct occ_docker_version v;
	struct occ_kvlist labels = { 0 };
	char *id = NULL, *msg, addr[64];
	bool running;
	int exit_code, ret = 0;

	switch (which) {
	case 5:
		ret = occ_docker__parse_id(&id, json, len, err);
		if (ret == 0 && !id)
			abort();
		free(id);
		break;
	case 6:
		ret = occ_docker__parse_exec(&running, &exit_code, json, len, err);
		break;
	case 7:
		ret = occ_docker__parse_volume_labels(&labels, json, len, err);
		occ_kvlist_release(&labels);
		break;
	case 8:
		memset(&v, 0, sizeof(v));
		ret = occ_docker__parse_version(&v, json, len, err);
		if (ret == 0 && (!TERMINATED(v.version) || !TERMINATED(v.api_version)))
			abort();
		break;
	default:
		msg = occ_docker__error_message(json, len);
		if (!msg || !*msg)
			abort();
		if (occ_docker__port_in_use(msg, addr, sizeof(addr)) && !TERMINATED(addr))
			abort();
		free(msg);
		break;
	}
	if (ret)
		check_failure(ret, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct occ_error err;
	const char *json;
	size_t len;
	int which;

	if (size == 0)
		return 0;
	which = data[0] % 10;
	json = (const char *)data + 1;
	len = size - 1;
	occ_error_clear(&err);
	switch (which) {
	case 0: fuzz_container(json, len, &err); break;
	case 1: fuzz_image(json, len, &err); break;
	case 2: fuzz_brief(json, len, &err); break;
	case 3: fuzz_lists(json, len, false, &err); break;
	case 4: fuzz_lists(json, len, true, &err); break;
	default: fuzz_small(which, json, len, &err); break;
	}
	return 0;
}
