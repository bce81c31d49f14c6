/*
 * docker-update.c - what `occ update` needs from the Docker driver: the hash
 * of an image's build inputs, the registry's digest of a pulled image, and
 * image tags (the previous image is kept under a tag so that it survives
 * garbage collection and can be rolled back to).
 *
 * The build hash is SHA-256 over the build context exactly as it is sent
 * (tar.c's stream, so .dockerignore and the extra CA certificates count) with
 * every header's mtime and checksum zeroed: touching a file or a fresh git
 * checkout is not a change, editing one is. The Dockerfile's name and the
 * build args (sorted by key) are hashed too. occ_docker__build records it on
 * the image as the label OCC_DOCKER_LABEL_BUILD_HASH.
 */
#include "drivers/docker/docker-int.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "model/state.h"

#define BLOCK 512
#define HASH_FORMAT "occ-build-inputs-v1"

/* Feeds a tar stream to the digest block by block, headers normalised. */
struct tar_hasher {
	EVP_MD_CTX *md;
	unsigned char block[BLOCK];
	size_t fill;
	uint64_t data_blocks;   /* data blocks still to come for the current entry */
};

static uint64_t octal_field(const unsigned char *f, size_t width)
{
	uint64_t v = 0;

	for (size_t i = 0; i < width && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(f[i] - '0');
	return v;
}

static void hash_block(struct tar_hasher *h)
{
	static const unsigned char zero[BLOCK];

	if (h->data_blocks) {
		h->data_blocks--;
	} else if (memcmp(h->block, zero, BLOCK) != 0) {
		uint64_t size = octal_field(h->block + 124, 12);

		memset(h->block + 136, 0, 12);   /* mtime */
		memset(h->block + 148, 0, 8);    /* checksum (covers the mtime) */
		h->data_blocks = (size + BLOCK - 1) / BLOCK;
	}
	EVP_DigestUpdate(h->md, h->block, BLOCK);
	h->fill = 0;
}

static void hasher_feed(struct tar_hasher *h, const char *data, size_t n)
{
	while (n) {
		size_t k = BLOCK - h->fill < n ? BLOCK - h->fill : n;

		memcpy(h->block + h->fill, data, k);
		h->fill += k;
		data += k;
		n -= k;
		if (h->fill == BLOCK)
			hash_block(h);
	}
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct occ_kv *)a)->key, ((const struct occ_kv *)b)->key);
}

/* The Dockerfile's name and the args, sorted, each NUL-terminated. */
static void hash_settings(EVP_MD_CTX *md, const struct occ_image_build *b)
{
	struct occ_kv *args = occ_xcalloc(b->args.n ? b->args.n : 1, sizeof(*args));
	const char *df = b->dockerfile ? b->dockerfile : "Dockerfile";

	EVP_DigestUpdate(md, HASH_FORMAT, sizeof(HASH_FORMAT));
	EVP_DigestUpdate(md, df, strlen(df) + 1);
	if (b->args.n)
		memcpy(args, b->args.items, b->args.n * sizeof(*args));
	qsort(args, b->args.n, sizeof(*args), cmp_kv);
	for (size_t i = 0; i < b->args.n; i++) {
		EVP_DigestUpdate(md, args[i].key, strlen(args[i].key) + 1);
		EVP_DigestUpdate(md, args[i].value, strlen(args[i].value) + 1);
	}
	free(args);
}

static int hash_context(struct tar_hasher *h, const struct occ_image_build *b,
			struct occ_error *err)
{
	struct occ_docker_tar *tar = NULL;
	char *buf = occ_xmalloc(64 * 1024);
	size_t n = 0;
	int ret;

	/* Exactly the stream a build sends (docker-image.c). */
	ret = occ_docker__build_context(&tar, b, err);
	while (!ret) {
		ret = occ_docker__tar_read(tar, buf, 64 * 1024, &n, err);
		if (ret || n == 0)
			break;
		hasher_feed(h, buf, n);
	}
	occ_docker__tar_free(tar);
	free(buf);
	return ret;
}

int occ_docker_build_hash(char out[OCC_DOCKER_BUILD_HASH_LEN + 1], const struct occ_state *desired,
			  struct occ_error *err)
{
	const struct occ_image_build *b = &desired->image.build;
	struct tar_hasher h = { 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	int ret;

	if (!b->enabled)
		return occ_error_set(err, OCC_EINVALID, "image '%s' is not built (no image.build)",
				     desired->image.ref);
	h.md = EVP_MD_CTX_new();
	if (!h.md || !EVP_DigestInit_ex(h.md, EVP_sha256(), NULL))
		abort();   /* out of memory, as occ_xmalloc */
	hash_settings(h.md, b);
	ret = hash_context(&h, b, err);
	if (ret) {
		occ_error_prefix(err, "cannot hash the build context of image '%s'", desired->image.ref);
		goto out;
	}
	if (h.fill)   /* never for a well-formed tar stream */
		EVP_DigestUpdate(h.md, h.block, h.fill);
	if (!EVP_DigestFinal_ex(h.md, md, &md_len) || md_len != 32)
		abort();
	for (unsigned i = 0; i < md_len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(h.md);
	return ret;
}

/* ---- registry ----------------------------------------------------------- */

/* A reference as a path: every '/'-separated part escaped, '/' kept (the
 * route is /distribution/{name:.*}/json). */
static char *distribution_path(const char *ref)
{
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_adds(&sb, "/distribution/");
	while (*ref) {
		size_t n = strcspn(ref, "/");
		char *part = occ_xstrndup(ref, n);

		occ_docker__url_escape(&sb, part);
		free(part);
		ref += n;
		if (*ref == '/') {
			occ_strbuf_addc(&sb, '/');
			ref++;
		}
	}
	occ_strbuf_adds(&sb, "/json");
	return occ_strbuf_detach(&sb);
}

static int parse_descriptor(char **out, const char *body, size_t len, const char *ref,
			    struct occ_error *err)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *digest = json_string_value(json_object_get(json_object_get(root, "Descriptor"),
								"digest"));
	int ret = 0;

	if (!digest || !occ_starts_with(digest, "sha256:"))
		ret = occ_error_set(err, OCC_EAPI, "cannot read the registry's answer for image '%s': "
				    "no Descriptor.digest", ref);
	else
		*out = occ_xstrdup(digest);
	json_decref(root);
	return ret;
}

int occ_docker_registry_digest(struct occ_driver *d, const char *ref, char **out,
			       struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	char *path = distribution_path(ref);
	struct occ_docker_resp resp;
	int ret = occ_docker__call(dk, "GET", path, NULL, &resp, err);

	if (ret)
		goto out;
	if (resp.status != 200) {
		char *msg = occ_docker__error_message(resp.body.buf, resp.body.len);

		ret = occ_error_set(err, OCC_EAPI, "cannot reach the registry of image '%s': %s "
				    "(HTTP %ld)", ref, msg, resp.status);
		occ_error_hint(err, "check the network, the image name and the registry login "
			       "(docker login); a locally built image needs image.build instead");
		free(msg);
		goto out;
	}
	ret = parse_descriptor(out, resp.body.buf, resp.body.len, ref, err);
out:
	occ_docker__resp_release(&resp);
	free(path);
	return ret;
}

/* ---- tags --------------------------------------------------------------- */

int occ_docker_image_id(struct occ_driver *d, const char *ref, char **out,
			struct occ_error *err)
{
	return occ_docker__image_id(occ_docker__from(d), out, ref, err);
}

int occ_docker_image_tag(struct occ_driver *d, const char *image, const char *ref,
			 struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	struct occ_strbuf path = OCC_STRBUF_INIT;
	struct occ_docker_resp resp;
	char *repo;
	int ret;

	if (strchr(ref, '@'))
		return occ_error_set(err, OCC_EINVALID, "cannot tag an image as '%s': a digest "
				     "reference names one image for ever", ref);
	repo = colon ? occ_xstrndup(ref, (size_t)(colon - ref)) : occ_xstrdup(ref);
	occ_strbuf_adds(&path, "/images/");
	occ_docker__url_escape(&path, image);
	occ_strbuf_adds(&path, "/tag?repo=");
	occ_docker__url_escape(&path, repo);
	occ_strbuf_adds(&path, "&tag=");
	occ_docker__url_escape(&path, colon ? colon + 1 : "latest");
	ret = occ_docker__call(dk, "POST", path.buf, NULL, &resp, err);
	if (!ret && resp.status == 404)
		ret = occ_error_set(err, OCC_ENOTFOUND, "cannot tag image '%s' as '%s': it does not "
				    "exist", image, ref);
	else if (!ret && resp.status != 201 && resp.status != 200)
		ret = occ_docker__api_error(err, &resp, "cannot tag image '%s' as '%s'", image, ref);
	occ_docker__resp_release(&resp);
	occ_strbuf_release(&path);
	free(repo);
	return ret;
}
