# The opencode image occ runs by default (image.build.context: embedded).
#
#   nginx :3000 (HTTP Basic auth through PAM against the accounts occ writes)
#     -> opencode serve on 127.0.0.1:4096, as the unprivileged user 'opencode'
#
# Build inputs: .occ-ca-certificates/ holds extra CA certificates (occ puts
# image.build.ca_certs there; it may be empty), installed before anything
# speaks HTTPS so builds work behind re-signing proxies. The opencode binary
# comes from the npm registry, pinned by version and by the registry's own
# dist.integrity (sha512): a mismatch fails the build. To update, take both
# from `npm view opencode-linux-x64@VERSION dist.integrity` (and -arm64).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ARG OPENCODE_VERSION=1.18.18
ARG OPENCODE_INTEGRITY_AMD64=sha512-WmeUnhljYJ252wywKTiW4bNDzsas2njpjPUEh0jM6HKNI4vFxJtREtzaWViY4AKEAcOkLWT8Ll17ixvcHz3AnA==
ARG OPENCODE_INTEGRITY_ARM64=sha512-e8D3g0qJEIzawEg2+ygW3vkZjAYL2ssyAx4GbihjwXwZFvlZZy5zRWWzdz5KLBoHSTl0FB73vNtnNeXONyHpVQ==
ARG NPM_REGISTRY=https://registry.npmjs.org
# occ passes its own version for embedded builds.
ARG OCC_IMAGE_VERSION=0.1.0

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

# Packages first (plain-HTTP Debian mirror; no HTTPS needed yet), then the CAs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl nginx-light libnginx-mod-http-auth-pam libpam-modules \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY .occ-ca-certificates/ /tmp/occ-ca/
RUN set -e; for f in /tmp/occ-ca/*; do \
      [ -f "$f" ] && [ "${f##*/}" != README ] || continue; \
      n=$(basename "$f"); cp "$f" "/usr/local/share/ca-certificates/occ-${n%.*}.crt"; \
    done; rm -rf /tmp/occ-ca; update-ca-certificates

# opencode, verified against the pinned npm integrity before it is unpacked.
COPY packages/image/fetch-opencode.sh /usr/local/lib/occ/fetch-opencode.sh
RUN sh /usr/local/lib/occ/fetch-opencode.sh "$OPENCODE_VERSION" "$OPENCODE_INTEGRITY_AMD64" \
      "$OPENCODE_INTEGRITY_ARM64" "$NPM_REGISTRY"

# The unprivileged user opencode runs as (below occ's account range 1000+),
# and the nginx workers may read /etc/shadow through PAM (group shadow).
RUN set -e; groupadd --system --gid 990 opencode; \
    useradd --system --uid 990 --gid 990 --home-dir /home/opencode --shell /usr/sbin/nologin opencode; \
    usermod -a -G shadow www-data; \
    install -d -o opencode -g opencode -m 0750 /home/opencode /home/opencode/workspace \
      /home/opencode/.local /home/opencode/.local/share /home/opencode/.local/share/opencode \
      /home/opencode/.local/state /home/opencode/.local/state/opencode \
      /home/opencode/.config /home/opencode/.config/opencode \
      /home/opencode/.cache /home/opencode/.cache/opencode; \
    rm -f /etc/nginx/sites-enabled/default

COPY packages/image/nginx.conf /etc/nginx/nginx.conf
COPY packages/image/occ-login.pam /etc/pam.d/occ-login
COPY packages/image/auth-required.conf /etc/nginx/occ-auth.conf
COPY packages/image/healthz /usr/share/occ/www/healthz
COPY packages/image/entrypoint.sh /usr/local/bin/occ-entrypoint
RUN chmod 0644 /etc/nginx/nginx.conf /etc/nginx/occ-auth.conf /etc/pam.d/occ-login /usr/share/occ/www/healthz \
 && chmod 0755 /usr/local/bin/occ-entrypoint && nginx -t -q

LABEL org.opencontainers.image.title="opencode-cloud" \
      org.opencontainers.image.version="${OCC_IMAGE_VERSION}" \
      dev.opencode-cloud.opencode-version="${OPENCODE_VERSION}"

WORKDIR /home/opencode/workspace
EXPOSE 3000
# Docker's first probe comes one interval after the start (opencode takes ~5 s
# to listen); occ waits for "healthy" when the state file sets no health path.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -m 2 -o /dev/null "http://127.0.0.1:${OCC_LISTEN_PORT:-3000}/healthz" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/occ-entrypoint"]
