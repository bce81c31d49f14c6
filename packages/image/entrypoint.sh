#!/bin/bash
# occ-entrypoint: start occ-authd (the password check), opencode (loopback
# only) and nginx in front of both, each as its own unprivileged user; forward
# TERM/INT to all three and exit within half a second, and as soon as any of
# them stops. Runs as PID 2 under Docker's init (occ creates containers with
# Init: true).
#
# Works with exactly the capabilities occ grants (see the Dockerfile): CHOWN,
# SETUID, SETGID, KILL. Without DAC_OVERRIDE root cannot enter or write
# directories it does not own: what opencode owns is created as opencode, and
# a directory's mode is changed by taking it over with chown first.
#
# Login is required unless OCC_LOGIN=open, which occ sets only when the
# container is published on a loopback address and no account is enabled.
# Anything else (unset, empty, a typo) means login required: fail closed.
#
# No environment text goes into nginx's configuration unchecked: the values
# are validated here, and only those are written (printf) into the snippets
# in /etc/nginx/occ/. Anything invalid stops the container with a message.
set -euo pipefail
umask 022

OPENCODE_PORT=4096
HOME_DIR=/home/opencode
SNIPPETS=/etc/nginx/occ
AUTH_DIR=/run/occ-auth
AUTH_SOCK=$AUTH_DIR/authd.sock

die() {
	echo "occ-entrypoint: $*" >&2
	exit 1
}
as() {   # as USER COMMAND...: run a command as USER (groups from /etc/group)
	local user=$1
	shift
	setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all --no-new-privs "$@"
}

# ---- the environment, validated -------------------------------------------------

# The opencode version fetch-opencode.sh installed: 2.x and 1.x differ in
# their health path.
oc_version=$(cat /usr/local/lib/occ/opencode-version 2>/dev/null || echo unknown)

port=${OCC_LISTEN_PORT:-3000}
if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
	die "OCC_LISTEN_PORT must be a port number from 1 to 65535, not '${port:0:80}'"
fi
((port != OPENCODE_PORT)) ||
	die "OCC_LISTEN_PORT cannot be $OPENCODE_PORT: opencode listens there inside the container"

# OCC_PUBLIC_NAMES: the names besides localhost, 127.0.0.1 and [::1] this
# front answers to (Host) and accepts requests from (Origin), comma-separated:
# host names, IPv4 addresses, IPv6 addresses with or without brackets.
names=()
[[ ${OCC_PUBLIC_NAMES:-} != *[[:cntrl:]]* ]] || die "OCC_PUBLIC_NAMES contains control characters"
IFS=, read -r -a entries <<<"${OCC_PUBLIC_NAMES:-}"
for entry in "${entries[@]}"; do
	entry=${entry#"${entry%%[![:space:]]*}"}
	entry=${entry%"${entry##*[![:space:]]}"}
	[ -n "$entry" ] || continue
	entry=${entry,,}
	if [[ $entry =~ ^\[?([0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}(:[0-9]{1,3}(\.[0-9]{1,3}){3})?)\]?$ ]] &&
		{ [[ $entry == \[*\] ]] || [[ $entry != *[\[\]]* ]]; }; then
		entry="[${BASH_REMATCH[1]}]"   # nginx's $host keeps the brackets
	elif ((${#entry} > 253)) ||
		! [[ $entry =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$ ]]; then
		die "OCC_PUBLIC_NAMES: '${entry:0:80}' is not a host name, an IPv4 or an IPv6 address"
	fi
	names+=("${entry%.}")
done
((${#names[@]} <= 64)) || die "OCC_PUBLIC_NAMES: more than 64 names"

# The Docker gateway: Docker's userland proxy connects from it for the
# published port. The default route's gateway, from /proc/net/route (hex,
# little-endian); none when the container has no network.
gateway=""
while read -r _ dest gw _; do
	if [ "$dest" = 00000000 ] && [[ $gw =~ ^[0-9A-Fa-f]{8}$ ]] && [ "$gw" != 00000000 ]; then
		gateway=$(printf '%d.%d.%d.%d' "0x${gw:6:2}" "0x${gw:4:2}" "0x${gw:2:2}" "0x${gw:0:2}")
		break
	fi
done </proc/net/route

# ---- nginx's snippets --------------------------------------------------------------

write_snippet() {   # write_snippet NAME < text: replaced as a whole
	cat >"$SNIPPETS/$1.tmp"
	mv -f "$SNIPPETS/$1.tmp" "$SNIPPETS/$1"
}

printf 'listen %d default_server;\n' "$port" | write_snippet listen.conf
{
	echo "# OCC_PUBLIC_NAMES (validated by occ-entrypoint)"
	for n in "${names[@]}"; do
		printf '"%s" 1;\n' "$n"
	done
} | write_snippet names.map
if [ "${OCC_LOGIN:-}" = open ]; then
	{
		echo "# OCC_LOGIN=open: only this container's loopback and the Docker gateway"
		echo "default 0;"
		echo "127.0.0.1 1;"
		[ -z "$gateway" ] || printf '%s 1;\n' "$gateway"
	} | write_snippet peers.geo
	echo "# OCC_LOGIN=open: no login" | write_snippet auth.conf
	login="OPEN (no accounts; only 127.0.0.1 and the Docker gateway ${gateway:-(none)})"
else
	printf '# login required: any peer\ndefault 1;\n' | write_snippet peers.geo
	printf '%s\n' "auth_request /.occ-auth;" \
		"auth_request_set \$occ_user \$upstream_http_x_occ_user;" | write_snippet auth.conf
	login="required (occ-authd)"
fi
echo "occ-entrypoint: opencode $oc_version, port $port, login $login, names: localhost 127.0.0.1 [::1]${names[*]:+ ${names[*]}}" >&2

# ---- opencode's own password -------------------------------------------------------

# opencode 2 always asks for a password (HTTP Basic, user opencode); 1.x asks
# when one is set. A new one at every start, 32 random bytes, never written
# anywhere but into nginx's snippet as the header value: root:root 0600, read
# by nginx's master alone (it runs as root; workers get the configuration
# from it). opencode gets it in its own environment (below), not in the
# container's (docker inspect) and not in any argv (ps). Nothing prints it.
# Rotation is a restart (`occ restart`): the browser never held it.
# Hex, so its length never depends on the bytes drawn (base64 with its
# '+' and '/' removed was short now and then, and stopped the start).
oc_password=$(od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n')
[[ $oc_password =~ ^[0-9a-f]{64}$ ]] || die "cannot draw opencode's password from /dev/urandom"
(
	umask 077
	printf 'proxy_set_header Authorization "Basic %s";\n' \
		"$(printf 'opencode:%s' "$oc_password" | base64 -w0)" >"$SNIPPETS/opencode-auth.conf.tmp"
)
mv -f "$SNIPPETS/opencode-auth.conf.tmp" "$SNIPPETS/opencode-auth.conf"
case "$oc_version" in
1.*) health=/global/health ;;
*) health=/api/info ;;
esac
health_port=$OPENCODE_PORT
# Test hook (Dockerfile ARG OCC_TEST_UNHEALTHY, tests/e2e-upgrade.sh only):
# /healthz asks a port nothing listens on, so it never passes.
if [ -e /usr/local/lib/occ/test-unhealthy ]; then
	echo "occ-entrypoint: test image: /healthz fails on purpose (OCC_TEST_UNHEALTHY)" >&2
	health_port=1
fi
printf 'proxy_pass http://127.0.0.1:%d%s;\n' "$health_port" "$health" | write_snippet opencode-health.conf

# ---- opencode's directories ----------------------------------------------------------

# The volumes occ mounts start empty or root-owned: opencode must own its
# home and XDG directories (not recursively: the data stays as it is). The
# directories on the way are kept traversable (o+x) so that root, without
# DAC_OVERRIDE, can reach the ones below; the leaves keep their mode.
own_dir() {   # own_dir DIR MODE_IF_CREATED TRAVERSABLE(0/1)
	local d=$1 mode=$2 trav=$3 cur
	if [ ! -d "$d" ]; then
		# The parent is opencode's (created as opencode) or a root-owned
		# mountpoint Docker made (created by root, then given away).
		as opencode mkdir -m "$mode" "$d" 2>/dev/null || mkdir -m "$mode" "$d"
	fi
	cur=$(stat -c '%U:%G %A' "$d")
	if [ "$trav" = 1 ] && [ "${cur: -1}" != x ] && [ "${cur: -1}" != t ]; then
		chown root:root "$d"
		chmod o+x "$d"
		cur=root
	fi
	[ "${cur%% *}" = opencode:opencode ] || chown opencode:opencode "$d"
}
own_dir "$HOME_DIR" 0751 1
for d in .local .local/share .local/state .config .cache; do
	own_dir "$HOME_DIR/$d" 0751 1
done
for d in workspace .local/share/opencode .local/state/opencode .config/opencode .cache/opencode; do
	own_dir "$HOME_DIR/$d" 0750 0
done

# ---- occ-authd ---------------------------------------------------------------------------

# Its socket directory: occ-auth's, and open to nginx's workers (group
# www-data) only, so opencode's user cannot talk to occ-authd directly. The
# setgid bit gives the socket (occ-authd makes it 0660) the group www-data.
# Changing a mode needs ownership: take the directory over first (CHOWN).
if [ ! -d "$AUTH_DIR" ]; then
	mkdir -m 2750 "$AUTH_DIR"
elif [ "$(stat -c '%U:%G %a' "$AUTH_DIR")" != "occ-auth:www-data 2750" ]; then
	chown root:root "$AUTH_DIR"
	chmod 2750 "$AUTH_DIR"
fi
chown occ-auth:www-data "$AUTH_DIR"
[ "$(stat -c '%U:%G %a' "$AUTH_DIR")" = "occ-auth:www-data 2750" ] ||
	die "$AUTH_DIR: $(stat -c '%U:%G %a' "$AUTH_DIR"), expected occ-auth:www-data 2750"
# (setpriv itself in the background, not a function: $! is then its pid.)
# occ-authd replaces a stale socket of an earlier start itself.
setpriv --reuid=occ-auth --regid=occ-auth --init-groups --inh-caps=-all --no-new-privs \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
	/usr/local/sbin/occ-authd --socket "$AUTH_SOCK" &
authd_pid=$!

# ---- opencode, nginx, and their lifetime ---------------------------------------------------

# On TERM/INT: pass it on, give the three half a second to finish (opencode's
# SQLite commits are durable either way; a busy opencode can otherwise take
# Docker's whole 10 s stop timeout), then exit: Docker's init ends the rest.
pids=("$authd_pid")
stop() {
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for _ in 1 2 3 4 5; do
		local alive=0 p
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" = 1 ] || break
		sleep 0.1
	done
	exit "${1:-143}"
}
trap stop TERM INT

# nginx starts once occ-authd listens (at most 5 s; it takes milliseconds).
# The check runs as www-data: root cannot look into the 0750 directory.
for i in $(seq 1 50); do
	as www-data test -S "$AUTH_SOCK" && break
	kill -0 "$authd_pid" 2>/dev/null || { wait "$authd_pid" || true; die "occ-authd exited at start"; }
	[ "$i" != 50 ] || { echo "occ-entrypoint: occ-authd did not listen within 5 s" >&2; stop 1; }
	sleep 0.1
done

# The container's environment (provider API keys, proxies, TZ) passes on to
# opencode, without occ's own variables. Its password is exported in a
# subshell that execs setpriv: an environment variable of that process alone,
# never an argument.
(
	export OPENCODE_SERVER_PASSWORD=$oc_password OPENCODE_SERVER_USERNAME=opencode
	exec setpriv --reuid=opencode --regid=opencode --init-groups --inh-caps=-all --no-new-privs \
		env -u OCC_LOGIN -u OCC_LISTEN_PORT -u OCC_PUBLIC_NAMES -C "$HOME_DIR/workspace" \
		HOME="$HOME_DIR" USER=opencode LOGNAME=opencode \
		opencode serve --hostname 127.0.0.1 --port "$OPENCODE_PORT"
) &
pids+=($!)
unset oc_password
nginx -e stderr &
pids+=($!)

# Whichever exits first ends the container (Docker's restart policy decides).
status=0
wait -n "${pids[@]}" || status=$?
stop "$status"
