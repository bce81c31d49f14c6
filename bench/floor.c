/*
 * floor.c - the least work a no-op reconcile of one container can do: one
 * filtered container list and one inspect over the Docker socket through
 * libcurl, nothing else. bench/noop.sh measures occ against it: the gap is
 * occ's own overhead (loading, parsing the state file, planning).
 *
 * usage: floor PROJECT [SOCKET]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

static size_t sink(char *p, size_t s, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return s * n;
}

static int get(CURL *c, const char *url)
{
	long code = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	if (curl_easy_perform(c) != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code == 200 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char url[512];
	CURL *c;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: floor PROJECT [SOCKET]\n");
		return 64;
	}
	c = curl_easy_init();
	if (!c)
		return 1;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, argc > 2 ? argv[2] : "/var/run/docker.sock");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	snprintf(url, sizeof(url), "http://docker/v1.41/containers/json?all=1&filters="
		 "%%7B%%22label%%22%%3A%%5B%%22dev.opencode-cloud.project%%3D%s%%22%%5D%%7D", argv[1]);
	ret |= get(c, url);
	snprintf(url, sizeof(url), "http://docker/v1.41/containers/%s/json", argv[1]);
	ret |= get(c, url);
	curl_easy_cleanup(c);
	return ret ? 1 : 0;
}
