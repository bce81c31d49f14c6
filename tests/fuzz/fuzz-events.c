/*
 * fuzz-events.c - libFuzzer target for the Docker events stream: framing
 * (drivers/docker/stream.c) and the event line parser (translate.c).
 *
 * The first byte picks a chunk size; the rest is fed to the line splitter in
 * chunks of that size, as libcurl hands over a stream, and every line goes
 * through occ_docker__parse_event(). A parsed event must be a complete
 * record (every string NUL-terminated inside its buffer, a non-empty action,
 * kind CONTAINER exactly for type "container"); a failure must be OCC_EAPI
 * with a message. Anything else aborts as a finding.
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DOCC_FUZZ=ON
 * Run:   build-fuzz/tests/fuzz-events -max_total_time=60 /tmp/corpus tests/fuzz/corpus-events
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/docker/docker-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check_event(const struct occ_event *e)
{
	if (!TERMINATED(e->type) || !TERMINATED(e->action) || !TERMINATED(e->id) ||
	    !TERMINATED(e->name))
		abort();
	if (!e->action[0])
		abort();
	if ((e->kind == OCC_EVENT_CONTAINER) != (strcmp(e->type, "container") == 0))
		abort();
	if (e->kind == OCC_EVENT_SUBSCRIBED || e->time_ns < 0 || e->exit_code < -1000000)
		abort();
}

static int on_line(void *ctx, const char *line, size_t n, struct occ_error *err)
{
	struct occ_event e;
	struct occ_error perr;
	int ret;

	(void)ctx;
	(void)err;
	occ_error_clear(&perr);
	ret = occ_docker__parse_event(&e, line, n, &perr);
	if (ret == 0)
		check_event(&e);
	else if (ret != OCC_EAPI || perr.code != OCC_EAPI || !perr.msg[0])
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct occ_docker_lines lines;
	struct occ_error err;
	size_t chunk, off = 1;
	int ret = 0;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	occ_error_clear(&err);
	occ_docker__lines_init(&lines, on_line, NULL);
	while (ret == 0 && off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		ret = occ_docker__lines_feed(&lines, (const char *)data + off, n, &err);
		off += n;
	}
	if (ret == 0)
		ret = occ_docker__lines_finish(&lines, &err);
	if (ret != 0 && !err.msg[0])
		abort();
	occ_docker__lines_release(&lines);
	return 0;
}
