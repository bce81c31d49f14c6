# The opencode image occ runs by default (image.build.context: embedded).
#
#   nginx :3000 (Host, Origin and peer checks; HTTP Basic auth through
#   occ-authd against the accounts occ writes into /etc/passwd and /etc/shadow)
#     -> opencode serve on 127.0.0.1:4096, as the unprivileged user 'opencode'
#
# Build inputs: .occ-ca-certificates/ holds extra CA certificates (occ puts
# image.build.ca_certs there; it may be empty), installed before anything
# speaks HTTPS so builds work behind re-signing proxies. The opencode binary
# comes from the npm registry, pinned by version and by the registry's own
# dist.integrity (sha512): a mismatch fails the build. OPENCODE_VERSION picks
# it: 2.x (the default) from @opencode/cli-linux-*, 1.x from opencode-linux-*
# (see fetch-opencode.sh, which holds the pins of the versions occ knows; for
# another version pass OPENCODE_INTEGRITY_AMD64 (and _AMD64_BASELINE, _ARM64)
# from `npm view PACKAGE@VERSION dist.integrity`).
#
# opencode 2 always asks for its own password (HTTP Basic, user opencode).
# occ's front owns it: the entrypoint draws a new one at every start, hands
# it to opencode alone and to nginx's master (a root-only snippet), and nginx
# sends it on every proxied request after the user's own login. Users never
# see it; it is in no label, argv, container environment or log, and `occ
# restart` rotates it.
#
# Capabilities: occ creates the container with CapDrop ALL plus only
#   CHOWN   the entrypoint gives opencode its (volume) directories and occ-auth
#           its socket directory; nginx gives www-data its temp directories
#   SETUID, SETGID
#           setpriv (entrypoint) and nginx's master drop to opencode,
#           occ-auth and www-data, with their groups (occ-auth: shadow)
#   KILL    the entrypoint (root) signals opencode and occ-authd, which run
#           as other users, on TERM and when one of the three exits
# and no-new-privileges, a pids limit and Init: true. No DAC_OVERRIDE: the
# entrypoint never needs to enter or write a directory root does not own
# (see own_dir there). No NET_BIND_SERVICE: Docker sets
# net.ipv4.ip_unprivileged_port_start=0 in the container's network namespace,
# so nginx's master binds any OCC_LISTEN_PORT, 80 included, without it.
#
# Read-only root filesystem: not yet. occ writes the accounts into the
# container's /etc (passwd, shadow, group) through Docker's archive API before
# the container starts, and Docker refuses that on a read-only rootfs outside
# volumes. Everything the image itself writes at run time is already under
# /run, /tmp, /var/lib/nginx and /etc/nginx/occ (plus opencode's volumes), so
# the switch will need only tmpfs mounts there.
ARG BASE_IMAGE=debian:bookworm-slim

# ---- occ-authd, compiled in its own stage (no compiler in the image) --------
FROM ${BASE_IMAGE} AS authd
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev libcrypt-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY packages/image/occ-authd.c /src/occ-authd.c
WORKDIR /src
RUN gcc -std=c11 -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -pie -Wl,-z,relro,-z,now -o /occ-authd occ-authd.c -lcrypt -lcrypto -lpthread

# ---- the image ------------------------------------------------------------------
FROM ${BASE_IMAGE}

ARG OPENCODE_VERSION=2.2.5
# Empty: the pin fetch-opencode.sh holds for OPENCODE_VERSION.
ARG OPENCODE_INTEGRITY_AMD64=
ARG OPENCODE_INTEGRITY_AMD64_BASELINE=
ARG OPENCODE_INTEGRITY_ARM64=
ARG NPM_REGISTRY=https://registry.npmjs.org
# occ passes its own version for embedded builds.
ARG OCC_IMAGE_VERSION=0.1.0

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8

# Packages first (plain-HTTP Debian mirror; no HTTPS needed yet), then the CAs.
# curl brings libssl3, which occ-authd needs; sqlite3 is how `occ update`
# snapshots opencode's database before a version change (SQLite's online
# backup, run in the container).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl nginx-light sqlite3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY .occ-ca-certificates/ /tmp/occ-ca/
RUN set -e; for f in /tmp/occ-ca/*; do \
      [ -f "$f" ] && [ "${f##*/}" != README ] || continue; \
      n=$(basename "$f"); cp "$f" "/usr/local/share/ca-certificates/occ-${n%.*}.crt"; \
    done; rm -rf /tmp/occ-ca; update-ca-certificates

# opencode, verified against the pinned npm integrity before it is unpacked.
COPY packages/image/fetch-opencode.sh /usr/local/lib/occ/fetch-opencode.sh
RUN sh /usr/local/lib/occ/fetch-opencode.sh "$OPENCODE_VERSION" "$OPENCODE_INTEGRITY_AMD64" \
      "$OPENCODE_INTEGRITY_AMD64_BASELINE" "$OPENCODE_INTEGRITY_ARM64" "$NPM_REGISTRY"

# Users (below occ's account range 1000+): opencode runs opencode; occ-auth
# runs occ-authd and alone reads /etc/shadow (group shadow; occ keeps the file
# root:shadow 0640); www-data runs nginx's workers and is not in group shadow.
# /home/opencode and the directories on the way to the volumes are 0751:
# root, without DAC_OVERRIDE, must reach the volumes' mountpoints to chown
# them on the first start. The setuid/setgid bits go, all of them (nothing
# here switches users but the entrypoint, as root): on bookworm that is
# chfn, chsh, gpasswd, mount, newgrp, passwd, su and umount (setuid root),
# and chage, expiry and unix_chkpwd (setgid shadow).
RUN set -e; groupadd --system --gid 990 opencode; \
    useradd --system --uid 990 --gid 990 --home-dir /home/opencode --shell /usr/sbin/nologin opencode; \
    groupadd --system --gid 989 occ-auth; \
    useradd --system --uid 989 --gid 989 --groups shadow --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin occ-auth; \
    if id -nG www-data | grep -qw shadow; then gpasswd -d www-data shadow; fi; \
    install -d -o opencode -g opencode -m 0751 /home/opencode \
      /home/opencode/.local /home/opencode/.local/share /home/opencode/.local/state \
      /home/opencode/.config /home/opencode/.cache; \
    install -d -o opencode -g opencode -m 0750 /home/opencode/workspace \
      /home/opencode/.local/share/opencode /home/opencode/.local/state/opencode \
      /home/opencode/.config/opencode /home/opencode/.cache/opencode; \
    rm -f /etc/nginx/sites-enabled/default /etc/pam.d/occ-login; \
    find / -xdev -perm /6000 -type f -exec chmod a-s {} +

COPY --from=authd /occ-authd /usr/local/sbin/occ-authd
COPY packages/image/nginx.conf /etc/nginx/nginx.conf
COPY packages/image/healthz /usr/share/occ/www/healthz
COPY packages/image/entrypoint.sh /usr/local/bin/occ-entrypoint
# /etc/nginx/occ/: the snippets the entrypoint writes at every start; the
# image's own are the fail-closed defaults (login required, port 3000, no
# other names), which `nginx -t` checks here.
RUN set -e; chmod 0755 /usr/local/sbin/occ-authd /usr/local/bin/occ-entrypoint; \
    chmod 0644 /etc/nginx/nginx.conf /usr/share/occ/www/healthz; \
    install -d -m 0755 /etc/nginx/occ; cd /etc/nginx/occ; \
    echo 'listen 3000 default_server;' >listen.conf; \
    echo '# OCC_PUBLIC_NAMES' >names.map; \
    echo 'default 1;' >peers.geo; \
    printf '%s\n' 'auth_request /.occ-auth;' 'auth_request_set $occ_user $upstream_http_x_occ_user;' >auth.conf; \
    echo 'proxy_set_header Authorization "";' >opencode-auth.conf; chmod 0600 opencode-auth.conf; \
    echo 'proxy_pass http://127.0.0.1:4096/global/health;' >opencode-health.conf; \
    nginx -t -q -e stderr

# Test hook, for tests/e2e-upgrade.sh only: OCC_TEST_UNHEALTHY=1 builds an
# image whose /healthz never passes while opencode itself runs (so occ
# update's health gate fails after the new opencode has opened its data).
# Empty by default: nothing is written.
ARG OCC_TEST_UNHEALTHY=
RUN if [ -n "$OCC_TEST_UNHEALTHY" ]; then touch /usr/local/lib/occ/test-unhealthy; fi

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
