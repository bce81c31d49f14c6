#!/usr/bin/env bash
# tests/install-deps.sh - install the Debian packages that occ's build and
# whole test suite need, when any is missing (apt-get; needs root then).
# Called by tests/run-all.sh; .ci/run runs `apt-get update` first.
set -euo pipefail

pkgs=(
	build-essential cmake pkg-config git curl ca-certificates
	libyaml-dev libcurl4-openssl-dev libjansson-dev libev-dev libssh2-1-dev
	libssl-dev libcrypt-dev check
	clang libclang-rt-14-dev
	python3 python3-jsonschema python3-yaml
	docker.io busybox-static iproute2 openssh-server openssh-client procps util-linux
	systemd libxml2-utils
	debootstrap mmdebstrap
	chromium
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# Node and npm for packages/test: the machine usually has them; Debian's otherwise.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything is installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}: run as root (sudo) to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
	apt-get update -q
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
