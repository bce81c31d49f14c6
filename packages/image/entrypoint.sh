#!/bin/bash
# occ-entrypoint: start opencode (unprivileged, loopback only) and nginx in
# front of it; forward TERM/INT to both and exit within half a second, and as
# soon as either stops, so `docker stop` takes well under a second. Runs as PID 2 under Docker's init
# (occ creates containers with Init: true).
#
# Login is required unless OCC_LOGIN=open, which occ sets only when the
# container is published on a loopback address and no account is enabled.
# Anything else (unset, empty, a typo) means login required: fail closed.
set -euo pipefail

OPENCODE_PORT=4096
LISTEN_PORT=${OCC_LISTEN_PORT:-3000}
HOME_DIR=/home/opencode

# The volumes occ mounts start empty or root-owned: make sure opencode owns
# its home and XDG directories (not recursively: the data stays as it is).
for d in "$HOME_DIR" "$HOME_DIR/workspace" "$HOME_DIR/.local" "$HOME_DIR/.local/share" \
	 "$HOME_DIR/.local/share/opencode" "$HOME_DIR/.local/state" \
	 "$HOME_DIR/.local/state/opencode" "$HOME_DIR/.config" "$HOME_DIR/.config/opencode" \
	 "$HOME_DIR/.cache" "$HOME_DIR/.cache/opencode"; do
	[ -d "$d" ] || install -d -m 0750 "$d"
	[ "$(stat -c %U "$d")" = opencode ] || chown opencode:opencode "$d"
done

if [ "${OCC_LOGIN:-}" = open ]; then
	printf '# OCC_LOGIN=open: no login (loopback only, no accounts)\nauth_pam off;\n' \
		>/etc/nginx/occ-auth.conf
	echo "occ-entrypoint: login OPEN (no accounts, published on loopback only)" >&2
else
	printf 'auth_pam "opencode";\nauth_pam_service_name "occ-login";\n' \
		>/etc/nginx/occ-auth.conf
	echo "occ-entrypoint: login required (PAM service occ-login)" >&2
fi
if [ "$LISTEN_PORT" != 3000 ]; then
	sed -i "s/listen [0-9]* default_server;/listen $LISTEN_PORT default_server;/" \
		/etc/nginx/nginx.conf
fi

cd "$HOME_DIR/workspace"
# The container's environment (provider API keys, proxies, TZ) passes on.
setpriv --reuid=opencode --regid=opencode --init-groups --inh-caps=-all \
	env -u OCC_LOGIN HOME="$HOME_DIR" USER=opencode LOGNAME=opencode \
	opencode serve --hostname 127.0.0.1 --port "$OPENCODE_PORT" &
opencode_pid=$!
nginx &
nginx_pid=$!

# On TERM/INT: pass it on, give both half a second to finish (opencode's
# SQLite commits are durable either way; a busy opencode can otherwise take
# Docker's whole 10 s stop timeout), then exit: Docker's init ends the rest.
stop() {
	kill -TERM "$opencode_pid" "$nginx_pid" 2>/dev/null || true
	for _ in 1 2 3 4 5; do
		kill -0 "$opencode_pid" 2>/dev/null || kill -0 "$nginx_pid" 2>/dev/null || break
		sleep 0.1
	done
	exit "${1:-143}"
}
trap stop TERM INT

# Whichever exits first ends the container (Docker's restart policy decides).
status=0
wait -n "$opencode_pid" "$nginx_pid" || status=$?
stop "$status"
