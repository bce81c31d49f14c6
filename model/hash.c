/*
 * hash.c - the canonical spec encoding (see hash.h).
 *
 * Version 1 covers exactly what occ passes to Docker when it creates the
 * container: image reference, published port and address, container port,
 * environment, restart policy, bind mounts, named volumes and init. It does not
 * cover the run state (start/stop is not a recreate), users (reconciled in
 * place) or the health probe (occ's own business).
 *
 * Version 2 encodes the environment the container is really created with
 * (occ_state_container_env): container.env plus OCC_LOGIN=open when login is
 * open, so the users and the bind deciding the login mode recreate the
 * container when the mode flips. A container labelled version 1 never got
 * OCC_LOGIN (login required) and keeps matching its version-1 hash.
 *
 * Version 3 adds the hardening (capabilities, no-new-privileges, log
 * rotation), the resource limits, and the variables occ derives for its
 * image (OCC_LISTEN_PORT, OCC_PUBLIC_NAMES). Unlike the step from 1 to 2,
 * containers labelled with an older version are not left alone: the planner
 * compares their fields, finds the hardening missing and recreates them once
 * (a security fix is worth one restart).
 */
#include "model/hash.h"

/*
 * OpenSSL 3's EVP_Digest fetches SHA-256 from the default provider, and the
 * first fetch in a process builds the provider's whole method store: ~0.6 ms,
 * a twentieth of a no-op `occ apply` (issue #3). The one-shot SHA256_*
 * functions hash directly. They are deprecated in 3.0 but present in every
 * 3.x build that keeps the 3.0 API; a build without it gets EVP.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool occ_spec_hash_supported(int version)
{
	return version >= 1 && version <= 3;
}

static void put(struct occ_strbuf *out, const char *field, const char *value)
{
	value = value ? value : "";
	occ_strbuf_addf(out, "%s=%zu:", field, strlen(value));
	occ_strbuf_adds(out, value);
	occ_strbuf_addc(out, '\n');
}

static void put_uint(struct occ_strbuf *out, const char *field, unsigned v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	put(out, field, buf);
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp((*(const struct occ_kv *const *)a)->key,
		      (*(const struct occ_kv *const *)b)->key);
}

static int cmp_mount(const void *a, const void *b)
{
	return strcmp((*(const struct occ_mount *const *)a)->target,
		      (*(const struct occ_mount *const *)b)->target);
}

static int cmp_volume(const void *a, const void *b)
{
	return strcmp((*(const struct occ_volume *const *)a)->target,
		      (*(const struct occ_volume *const *)b)->target);
}

static void encode_env(struct occ_strbuf *out, const struct occ_kvlist *env)
{
	const struct occ_kv **sorted = occ_xcalloc(env->n, sizeof(*sorted));

	for (size_t i = 0; i < env->n; i++)
		sorted[i] = &env->items[i];
	qsort(sorted, env->n, sizeof(*sorted), cmp_kv);
	put_uint(out, "env.count", (unsigned)env->n);
	for (size_t i = 0; i < env->n; i++) {
		put(out, "env.key", sorted[i]->key);
		put(out, "env.value", sorted[i]->value);
	}
	free(sorted);
}

static void encode_mounts(struct occ_strbuf *out, const struct occ_state *st)
{
	const struct occ_mount **sorted = occ_xcalloc(st->n_mounts, sizeof(*sorted));

	for (size_t i = 0; i < st->n_mounts; i++)
		sorted[i] = &st->mounts[i];
	qsort(sorted, st->n_mounts, sizeof(*sorted), cmp_mount);
	put_uint(out, "mounts.count", (unsigned)st->n_mounts);
	for (size_t i = 0; i < st->n_mounts; i++) {
		put(out, "mount.target", sorted[i]->target);
		put(out, "mount.source", sorted[i]->source);
		put(out, "mount.readonly", sorted[i]->readonly ? "true" : "false");
	}
	free(sorted);
}

static void encode_volumes(struct occ_strbuf *out, const struct occ_state *st)
{
	const struct occ_volume **sorted = occ_xcalloc(st->n_volumes, sizeof(*sorted));

	for (size_t i = 0; i < st->n_volumes; i++)
		sorted[i] = &st->volumes[i];
	qsort(sorted, st->n_volumes, sizeof(*sorted), cmp_volume);
	put_uint(out, "volumes.count", (unsigned)st->n_volumes);
	for (size_t i = 0; i < st->n_volumes; i++) {
		char *name = occ_volume_docker_name(st, sorted[i]);

		put(out, "volume.target", sorted[i]->target);
		put(out, "volume.name", name);
		free(name);
	}
	free(sorted);
}

/* Version 2's environment: container.env and OCC_LOGIN, none of the
 * variables version 3 derives. */
static void v2_env(struct occ_kvlist *env)
{
	static const char *const derived[] = { OCC_LISTEN_PORT_ENV, OCC_PUBLIC_NAMES_ENV };

	for (size_t d = 0; d < OCC_ARRAY_SIZE(derived); d++) {
		for (size_t i = 0; i < env->n; i++) {
			if (strcmp(env->items[i].key, derived[d]) != 0)
				continue;
			free(env->items[i].key);
			free(env->items[i].value);
			memmove(&env->items[i], &env->items[i + 1],
				(env->n - i - 1) * sizeof(env->items[i]));
			env->n--;
			break;
		}
	}
}

int occ_spec_encode(struct occ_strbuf *out, const struct occ_state *eff, int version)
{
	const struct occ_container *c = &eff->container;

	if (!occ_spec_hash_supported(version))
		return OCC_EINVALID;
	occ_strbuf_addf(out, "occ-spec/%d\n", version);
	put(out, "name", eff->name);
	put(out, "image.ref", eff->image.ref);
	put(out, "container.bind", c->bind);
	put_uint(out, "container.port", c->port);
	put_uint(out, "container.container_port", c->container_port);
	put(out, "container.restart", occ_restart_policy_name(c->restart));
	put(out, "container.init", "true");
	if (version == 1) {
		encode_env(out, &c->env);
	} else {
		struct occ_kvlist env;

		occ_state_container_env(&env, eff);
		if (version == 2)
			v2_env(&env);
		encode_env(out, &env);
		occ_kvlist_release(&env);
	}
	encode_mounts(out, eff);
	encode_volumes(out, eff);
	if (version >= 3) {
		char *sec = occ_security_text_desired();
		char *log = occ_log_text(OCC_LOG_DRIVER, OCC_LOG_MAX_SIZE, OCC_LOG_MAX_FILE);
		char buf[32];

		put(out, "container.security", sec);
		put(out, "container.log", log);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)eff->resources.memory);
		put(out, "resources.memory", buf);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)eff->resources.nano_cpus);
		put(out, "resources.nano_cpus", buf);
		snprintf(buf, sizeof(buf), "%ld", eff->resources.pids);
		put(out, "resources.pids", buf);
		free(sec);
		free(log);
	}
	return 0;
}

void occ_sha256_hex(const void *data, size_t len, char out[OCC_HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 32;

#ifndef OPENSSL_NO_DEPRECATED_3_0
	SHA256_CTX c;

	if (!SHA256_Init(&c) || !SHA256_Update(&c, data, len) || !SHA256_Final(md, &c))
		abort(); /* cannot fail */
#else
	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		abort(); /* SHA-256 from libcrypto cannot fail short of OOM */
#endif
	for (unsigned i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[OCC_HASH_HEX_LEN] = '\0';
}

int occ_spec_hash(const struct occ_state *eff, int version, char out[OCC_HASH_HEX_LEN + 1])
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;
	int ret;

	occ_strbuf_init(&sb);
	ret = occ_spec_encode(&sb, eff, version);
	if (ret == 0)
		occ_sha256_hex(sb.buf, sb.len, out);
	occ_strbuf_release(&sb);
	return ret;
}
