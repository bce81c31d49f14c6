/*
 * hash.h - canonical encoding of a container's desired spec, and its SHA-256.
 *
 * The spec-hash label on a container is occ_spec_hash() of the effective state
 * it was created from. The encoding is independent of key order, quoting and
 * formatting in the YAML file: lists are sorted by their identity (env by key,
 * mounts and volumes by target) and every value is length-prefixed. Changing
 * what the encoding covers means a new OCC_HASH_VERSION; older versions stay
 * computable so an upgrade of occ never mass-recreates containers.
 */
#ifndef OCC_HASH_H
#define OCC_HASH_H

#include <stdbool.h>

#include "model/state.h"
#include "model/util.h"

#define OCC_HASH_VERSION 3
#define OCC_HASH_HEX_LEN 64

/* Whether this occ can compute hashes of the given version. */
bool occ_spec_hash_supported(int version);

/* Append the canonical encoding of eff's container spec to out.
 * Returns OCC_EINVALID for an unsupported version. */
int occ_spec_encode(struct occ_strbuf *out, const struct occ_state *eff, int version);

/* out receives 64 lowercase hex digits and a NUL. Returns OCC_EINVALID for an
 * unsupported version. */
int occ_spec_hash(const struct occ_state *eff, int version, char out[OCC_HASH_HEX_LEN + 1]);

/* SHA-256 of arbitrary bytes, as hex. */
void occ_sha256_hex(const void *data, size_t len, char out[OCC_HASH_HEX_LEN + 1]);

#endif
