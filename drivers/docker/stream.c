/*
 * stream.c - framing of Docker's streamed answers. Pure: bytes in, callbacks out.
 *
 * Pull and build answer with one JSON object per line; logs and attach answer
 * with 8-byte-header frames unless the container has a TTY. Data arrives in
 * arbitrary chunks, so both decoders keep state across calls.
 */
#include "drivers/docker/docker-int.h"

#include <string.h>

void occ_docker__lines_init(struct occ_docker_lines *l,
			    int (*fn)(void *, const char *, size_t, struct occ_error *),
			    void *ctx)
{
	occ_strbuf_init(&l->buf);
	l->fn = fn;
	l->ctx = ctx;
}

void occ_docker__lines_release(struct occ_docker_lines *l)
{
	occ_strbuf_release(&l->buf);
}

static int deliver(struct occ_docker_lines *l, const char *line, size_t n,
		   struct occ_error *err)
{
	if (n && line[n - 1] == '\r')
		n--;
	return n ? l->fn(l->ctx, line, n, err) : 0;
}

int occ_docker__lines_feed(struct occ_docker_lines *l, const char *data, size_t n,
			   struct occ_error *err)
{
	const char *end = data + n, *nl;
	int ret;

	while (data < end && (nl = memchr(data, '\n', (size_t)(end - data)))) {
		size_t part = (size_t)(nl - data);

		if (l->buf.len + part > OCC_DOCKER_MAX_LINE)
			goto too_long;
		if (l->buf.len) {
			occ_strbuf_add(&l->buf, data, part);
			ret = deliver(l, l->buf.buf, l->buf.len, err);
			occ_strbuf_reset(&l->buf);
		} else {
			ret = deliver(l, data, part, err);
		}
		if (ret)
			return ret;
		data = nl + 1;
	}
	if (l->buf.len + (size_t)(end - data) > OCC_DOCKER_MAX_LINE)
		goto too_long;
	occ_strbuf_add(&l->buf, data, (size_t)(end - data));
	return 0;
too_long:
	return occ_error_set(err, OCC_EAPI, "the Docker daemon sent a line longer than %u bytes",
			     OCC_DOCKER_MAX_LINE);
}

int occ_docker__lines_finish(struct occ_docker_lines *l, struct occ_error *err)
{
	int ret = deliver(l, l->buf.buf, l->buf.len, err);

	occ_strbuf_reset(&l->buf);
	return ret;
}

void occ_docker__demux_init(struct occ_docker_demux *d, bool raw,
			    void (*write)(void *, int, const char *, size_t), void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->raw = raw;
	d->write = write;
	d->ctx = ctx;
}

/* Complete the 8-byte header from data; returns the bytes used. A complete
 * header with a stream other than 0-2 or non-zero padding sets *bad. */
static size_t take_header(struct occ_docker_demux *d, const char *data, size_t n, bool *bad)
{
	size_t want = sizeof(d->hdr) - d->hdr_len;
	size_t take = n < want ? n : want;

	memcpy(d->hdr + d->hdr_len, data, take);
	d->hdr_len += take;
	if (d->hdr_len < sizeof(d->hdr))
		return take;
	*bad = d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3];
	d->stream = d->hdr[0];
	d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
		  (uint32_t)d->hdr[6] << 8 | d->hdr[7];
	d->hdr_len = 0;
	return take;
}

int occ_docker__demux_feed(struct occ_docker_demux *d, const char *data, size_t n,
			   struct occ_error *err)
{
	bool bad = false;

	if (d->raw) {
		if (n)
			d->write(d->ctx, 1, data, n);
		return 0;
	}
	while (n) {
		size_t take;

		if (!d->left) {
			take = take_header(d, data, n, &bad);
			if (bad)
				return occ_error_set(err, OCC_EAPI,
						     "the Docker daemon sent a malformed log stream");
			data += take;
			n -= take;
			continue;
		}
		take = n < d->left ? n : d->left;
		/* stdin (0) never carries output; treat it as stdout. */
		d->write(d->ctx, d->stream == 2 ? 2 : 1, data, take);
		d->left -= (uint32_t)take;
		data += take;
		n -= take;
	}
	return 0;
}
