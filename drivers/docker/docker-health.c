/*
 * docker-health.c - wait_healthy: is the service up after an apply?
 *
 * With container.health.path the service is probed over HTTP through the
 * published port, with its own curl handle (not the daemon connection): every
 * probe is capped at 2 s because opencode accepts and never answers requests
 * in its first second, and any answer below 500 counts (401 included: with a
 * password set, opencode protects its health path too). Without a path, an
 * image with a Docker HEALTHCHECK must report "healthy"; otherwise the
 * container must be running, and still running (not restarted) after a short
 * settle. Either way a container that exits ends the wait at once, with its
 * exit code and last output in the message.
 */
#include "drivers/docker/docker-int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "model/state.h"

#define PROBE_TIMEOUT_MS  2000L
#define PROBE_INTERVAL_MS 250
#define SETTLE_MS         500
#define OUTPUT_LINES      10
#define OUTPUT_BYTES      600

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int exited_error(struct occ_docker *dk, const char *name,
			const struct occ_docker_brief *b, struct occ_error *err)
{
	struct occ_strbuf out = OCC_STRBUF_INIT;

	occ_strbuf_init(&out);
	occ_docker__tail_output(dk, name, OUTPUT_LINES, OUTPUT_BYTES, &out);
	occ_error_set(err, OCC_EUNHEALTHY, "container '%s' %s with code %d%s%s", name,
		      b->state == OCC_CTR_RESTARTING ? "keeps restarting; it exited" : "exited",
		      b->exit_code, out.len ? "; last output:\n" : "", out.buf);
	occ_error_hint(err, "see all of its output with 'occ logs'");
	occ_strbuf_release(&out);
	return err->code;
}

/* 0 while the container runs; OCC_EUNHEALTHY (with its output) otherwise. */
static int check_running(struct occ_docker *dk, const char *name,
			 struct occ_docker_brief *b, struct occ_error *err)
{
	int ret = occ_docker__inspect_brief(dk, b, name, err);

	if (ret == OCC_ENOTFOUND)
		return occ_error_set(err, OCC_EUNHEALTHY, "container '%s' does not exist", name);
	if (ret || b->state == OCC_CTR_RUNNING)
		return ret;
	if (b->state == OCC_CTR_EXITED || b->state == OCC_CTR_DEAD ||
	    b->state == OCC_CTR_RESTARTING)
		return exited_error(dk, name, b, err);
	return occ_error_set(err, OCC_EUNHEALTHY, "container '%s' is not running", name);
}

/* The image's own HEALTHCHECK decides: poll until healthy, unhealthy or timeout. */
static int wait_docker_health(struct occ_docker *dk, const char *name, uint64_t timeout_ms,
			      struct occ_error *err)
{
	uint64_t deadline = occ_now_ms() + timeout_ms;
	struct occ_docker_brief b;
	int ret;

	for (;;) {
		ret = check_running(dk, name, &b, err);
		if (ret)
			return ret;
		if (strcmp(b.health, "healthy") == 0)
			return 0;
		if (strcmp(b.health, "unhealthy") == 0) {
			occ_error_set(err, OCC_EUNHEALTHY,
				      "container '%s' is unhealthy by its image's HEALTHCHECK", name);
			occ_error_hint(err, "see 'docker inspect %s' (State.Health) and 'occ logs'", name);
			return OCC_EUNHEALTHY;
		}
		if (occ_now_ms() >= deadline)
			break;
		sleep_ms(PROBE_INTERVAL_MS);
	}
	occ_error_set(err, OCC_EUNHEALTHY, "container '%s' was still '%s' by its HEALTHCHECK after %.1f s",
		      name, b.health, (double)timeout_ms / 1000.0);
	occ_error_hint(err, "a slow start may need a longer container.health.timeout");
	return OCC_EUNHEALTHY;
}

static int wait_running(struct occ_docker *dk, const char *name, uint64_t timeout_ms,
			struct occ_error *err)
{
	struct occ_docker_brief before, after;
	int ret = check_running(dk, name, &before, err);

	if (ret)
		return ret;
	if (before.health[0])
		return wait_docker_health(dk, name, timeout_ms, err);
	sleep_ms(timeout_ms < SETTLE_MS ? timeout_ms : SETTLE_MS);
	ret = check_running(dk, name, &after, err);
	if (ret)
		return ret;
	if (strcmp(before.started_at, after.started_at) == 0 &&
	    before.restart_count == after.restart_count)
		return 0;
	after.state = OCC_CTR_RESTARTING;
	return exited_error(dk, name, &after, err);
}

/* http://<host>:<port><path>; a wildcard bind is probed on loopback. */
static char *probe_url(const struct occ_state *desired)
{
	const char *bind = desired->container.bind;
	const char *path = desired->container.health.path;
	bool any = !bind || !*bind || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0;

	if (any)
		bind = "127.0.0.1";
	return occ_xasprintf(strchr(bind, ':') ? "http://[%s]:%u%s%s" : "http://%s:%u%s%s", bind,
			     (unsigned)desired->container.port, path[0] == '/' ? "" : "/", path);
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userp)
{
	(void)data;
	(void)userp;
	return size * nmemb;
}

static curl_socket_t open_cloexec(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)userp;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* One probe: true when the service answered below 500; why receives the failure. */
static bool probe(CURL *c, long timeout_ms, char *why, size_t why_len)
{
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(why, why_len, "%s", curl_easy_strerror(rc));
		return false;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 500)
		return true;
	snprintf(why, why_len, "it answered HTTP %ld", status);
	return false;
}

static CURL *probe_handle(const char *url, const char *unix_path)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (unix_path)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	return c;
}

/* Each probe gets at most 2 s, and no more than the wait has left. */
static long probe_timeout(uint64_t deadline)
{
	uint64_t now = occ_now_ms(), left = deadline > now ? deadline - now : 0;

	if (left > PROBE_TIMEOUT_MS)
		return PROBE_TIMEOUT_MS;
	return left < 100 ? 100 : (long)left;
}

/*
 * A tunnelled transport (SSH) reaches the published port from the daemon's
 * machine: the probe then goes through the unix socket it hands out, and the
 * URL only names the address for curl's Host header and for messages.
 */
static int tunnel_path(struct occ_docker *dk, const struct occ_state *desired, char *path,
		       size_t cap, struct occ_error *err)
{
	const struct occ_docker_transport *t = occ_docker__http_transport(dk->http);
	const char *bind = desired->container.bind;

	path[0] = '\0';
	if (!t->tcp_socket)
		return 0;
	if (!bind || !*bind || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0)
		bind = "127.0.0.1";
	return t->tcp_socket(t->ctx, bind, desired->container.port, path, cap, err);
}

static int wait_http(struct occ_docker *dk, const struct occ_state *desired,
		     uint64_t timeout_ms, struct occ_error *err)
{
	char *url = probe_url(desired);
	uint64_t deadline = occ_now_ms() + timeout_ms, now;
	char why[256] = "no answer yet", path[256];
	struct occ_docker_brief b;
	CURL *c = NULL;
	int ret = tunnel_path(dk, desired, path, sizeof(path), err);

	if (ret)
		goto out;
	c = probe_handle(url, path[0] ? path : NULL);
	if (!c) {
		ret = occ_error_set(err, OCC_EGENERIC, "cannot initialise libcurl");
		goto out;
	}
	for (;;) {
		ret = check_running(dk, desired->name, &b, err);
		if (ret || probe(c, probe_timeout(deadline), why, sizeof(why)))
			goto out;
		now = occ_now_ms();
		if (now >= deadline)
			break;
		sleep_ms(deadline - now < PROBE_INTERVAL_MS ? deadline - now : PROBE_INTERVAL_MS);
	}
	ret = occ_error_set(err, OCC_EUNHEALTHY, "container '%s' did not answer %s within %.1f s: %s",
			    desired->name, url, (double)timeout_ms / 1000.0, why);
	occ_error_hint(err, "see its output with 'occ logs'; a slow start may need a longer "
		       "container.health.timeout");
out:
	if (c)
		curl_easy_cleanup(c);
	free(url);
	return ret;
}

static bool has_http_check(const struct occ_state *desired)
{
	const char *path = desired->container.health.path;

	return path && *path && strcmp(path, "none") != 0;
}

int occ_docker__wait_healthy(struct occ_driver *d, const struct occ_state *desired,
			     uint64_t timeout_ms, struct occ_error *err)
{
	struct occ_docker *dk = occ_docker__from(d);

	if (has_http_check(desired))
		return wait_http(dk, desired, timeout_ms, err);
	return wait_running(dk, desired->name, timeout_ms, err);
}
