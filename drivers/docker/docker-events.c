/*
 * docker-events.c - the events slot: GET /events, one JSON object per line,
 * for as long as the daemon keeps the stream open.
 *
 * The stream is idle for hours and must end promptly when the watcher shuts
 * down, so it does not go through the request path in http.c (whose requests
 * carry a timeout and cannot be interrupted). It has a curl easy handle of
 * its own, made per subscription, with no timeout and an xferinfo callback
 * that aborts the transfer once *stop is set: libcurl calls it about once a
 * second while nothing arrives, which bounds how long a shutdown waits. The
 * driver's own handle is used first, to settle the API version (the _ping).
 * A driver following events is busy for the stream's whole life: the watcher
 * gives each stream a driver of its own.
 *
 * The stream connects to the transport's socket path: the daemon's own
 * socket, or the local end of a tunnel (SSH), whose explain hook then says
 * why a broken stream broke.
 */
#include "drivers/docker/docker-int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/state.h"

#define CONNECT_TIMEOUT_MS 5000L
#define MAX_ERROR_BODY     (64u << 10)

struct stream {
	struct occ_driver *d;
	CURL *curl;
	occ_event_fn fn;
	void *ctx;
	const volatile int *stop;
	struct occ_docker_lines lines;
	struct occ_docker_resp resp;  /* status, and the body of a refusal */
	bool subscribed;
	size_t n_events;
	int cb_code;                  /* a callback failed with this code */
	struct occ_error cb_err;
	char errbuf[CURL_ERROR_SIZE];
};

/* The caller sets *stop from another thread: read it atomically. */
static bool stop_set(const volatile int *stop)
{
	return __atomic_load_n(stop, __ATOMIC_RELAXED) != 0;
}

static int on_line(void *vs, const char *line, size_t n, struct occ_error *err)
{
	struct stream *s = vs;
	struct occ_event e;
	struct occ_error perr;

	(void)err;
	occ_error_clear(&perr);
	/* A line the parser does not understand is skipped: one odd event must
	 * not cost the subscription (a resync catches whatever it was). */
	if (occ_docker__parse_event(&e, line, n, &perr) != 0)
		return 0;
	s->n_events++;
	s->fn(s->ctx, &e);
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *vs)
{
	struct stream *s = vs;
	size_t n = size * nmemb;

	if (s->resp.status != 200) {
		if (s->resp.body.len + n <= MAX_ERROR_BODY)
			occ_strbuf_add(&s->resp.body, data, n);
		return n;
	}
	s->cb_code = occ_docker__lines_feed(&s->lines, data, n, &s->cb_err);
	return s->cb_code ? 0 : n;
}

/* The blank line ending the headers: the daemon has accepted (or refused). */
static size_t on_header(char *line, size_t size, size_t nmemb, void *vs)
{
	struct stream *s = vs;
	size_t n = size * nmemb;
	struct occ_event e = { .kind = OCC_EVENT_SUBSCRIBED, .exit_code = -1 };

	if (n > 2 || (n > 0 && line[0] != '\r' && line[0] != '\n'))
		return n;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->resp.status);
	if (s->resp.status == 200 && !s->subscribed) {
		s->subscribed = true;
		s->fn(s->ctx, &e);
	}
	return n;
}

static int on_xferinfo(void *vs, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct stream *s = vs;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return stop_set(s->stop) ? 1 : 0;
}

static curl_socket_t on_opensocket(void *vs, curlsocktype purpose, struct curl_sockaddr *addr)
{
	int fd;

	(void)vs;
	(void)purpose;
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static char *events_url(struct occ_docker *dk, const char *project)
{
	char *filters = occ_docker__events_filters(project);
	struct occ_strbuf sb = OCC_STRBUF_INIT;

	occ_strbuf_addf(&sb, "http://docker/v%s/events?filters=",
			occ_docker__http_api_version(dk->http));
	occ_docker__url_escape(&sb, filters);
	free(filters);
	return occ_strbuf_detach(&sb);
}

static void set_options(struct stream *s, const char *url, const char *socket_path)
{
	CURL *c = s->curl;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, s);
}

/* How the transfer ended, as the slot's contract has it. */
static int outcome(struct stream *s, CURLcode rc, const char *endpoint, struct occ_error *err)
{
	long os_errno = 0;

	if (stop_set(s->stop))
		return 0;
	if (s->cb_code) {
		*err = s->cb_err;
		return s->cb_code;
	}
	if (rc != CURLE_OK) {
		curl_easy_getinfo(s->curl, CURLINFO_OS_ERRNO, &os_errno);
		return occ_docker__connect_error(err, endpoint, occ_docker__fail_kind(rc),
						 (int)os_errno,
						 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	}
	if (s->resp.status != 200)
		return occ_docker__api_error(err, &s->resp, "cannot follow the events of %s",
					     endpoint);
	occ_error_set(err, OCC_EDAEMON, "the Docker daemon at %s closed the events stream",
		      endpoint);
	occ_error_hint(err, "the daemon may have restarted; events are followed again on reconnect");
	return err->code;
}

static void trace(struct stream *s, const char *url, uint64_t t0, int ret)
{
	char line[1024];

	if (!s->d->trace.fn)
		return;
	snprintf(line, sizeof(line), "docker: GET %s -> %ld (stream: %zu events in %llu ms)%s",
		 url + strlen("http://docker"), s->resp.status, s->n_events,
		 (unsigned long long)(occ_now_ms() - t0), ret ? ", failed" : "");
	s->d->trace.fn(s->d->trace.ctx, line);
}

int occ_docker__events(struct occ_driver *d, const struct occ_state *desired,
		       occ_event_fn fn, void *ctx, const volatile int *stop,
		       struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);
	const char *endpoint = occ_docker__http_endpoint(dk->http);
	const struct occ_docker_transport *t = occ_docker__http_transport(dk->http);
	struct stream s = { .d = d, .fn = fn, .ctx = ctx, .stop = stop };
	uint64_t t0 = occ_now_ms();
	char *url = NULL;
	int ret;

	occ_docker__resp_init(&s.resp);
	occ_docker__lines_init(&s.lines, on_line, &s);
	if (!t->socket_path || t->open_socket) {
		ret = occ_error_set(err, OCC_EINVALID,
				    "cannot follow the events of %s: only unix sockets are supported",
				    endpoint);
		goto out;
	}
	ret = occ_docker__http_negotiate(dk->http, err);
	if (ret || stop_set(stop))
		goto out;
	s.curl = curl_easy_init();
	if (!s.curl) {
		ret = occ_error_set(err, OCC_EGENERIC, "cannot initialise libcurl");
		goto out;
	}
	url = events_url(dk, desired->name);
	set_options(&s, url, t->socket_path);
	ret = outcome(&s, curl_easy_perform(s.curl), endpoint, err);
	if (ret && !s.cb_code && !stop_set(stop) && t->explain &&
	    (s.resp.status == 0 || s.resp.status == 200)) {
		t->explain(t->ctx, err);
		ret = err->code;
	}
	trace(&s, url, t0, ret);
out:
	if (s.curl)
		curl_easy_cleanup(s.curl);
	occ_docker__lines_release(&s.lines);
	occ_docker__resp_release(&s.resp);
	free(url);
	return ret;
}
