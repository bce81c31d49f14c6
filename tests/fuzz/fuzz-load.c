/*
 * fuzz-load.c - libFuzzer target for the state file loader.
 *
 * Feeds arbitrary bytes to occ_model_load_buffer(). A loaded state is also
 * cloned and viewed per host (the paths later stages take), then everything
 * is freed, so leaks show up under LeakSanitizer. An error must be a complete
 * record: a syntax or validation code, a message and, for errors inside the
 * document, a 1-based position; anything else aborts as a finding.
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz-load -max_total_time=60 /tmp/corpus tests/fuzz/corpus-load
 *        (libFuzzer adds new inputs to the first directory: keep the seeds small
 *        by putting a scratch directory first)
 */
#include <stdint.h>
#include <stdlib.h>

#include "model/state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Fixed inputs for "~" and ${VAR}, as in tests/test-model.c. */
	setenv("HOME", "/home/fuzz", 1);
	setenv("OCC_TEST_DIR", "/data/x", 1);
	return 0;
}

static void check_error(int ret, const struct occ_error *err)
{
	if (ret != OCC_ESYNTAX && ret != OCC_EINVALID)
		abort();
	if (err->code != ret || !err->msg[0] || err->line < 0 || err->col < 0)
		abort();
	if ((err->line == 0) != (err->col == 0))
		abort();
}

static void exercise(const struct occ_state *st)
{
	struct occ_state *c = occ_state_clone(st);
	size_t i;

	for (i = 0; i < st->n_hosts; i++)
		occ_state_free(occ_state_for_host(st, &st->hosts[i]));
	occ_state_free(occ_state_for_host(c, NULL));
	occ_state_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct occ_state *st = NULL;
	struct occ_error err;
	int ret;

	ret = occ_model_load_buffer(&st, (const char *)data, size, "fuzz.yaml", "/fuzz", &err);
	if (ret) {
		check_error(ret, &err);
		return 0;
	}
	exercise(st);
	occ_state_free(st);
	return 0;
}
