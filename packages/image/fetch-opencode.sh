#!/bin/sh
# fetch-opencode.sh VERSION INTEGRITY_AMD64 INTEGRITY_ARM64 REGISTRY
# Download the opencode binary for this architecture from the npm registry
# and install it as /usr/local/bin/opencode, but only when the tarball matches
# the pinned npm dist.integrity (sha512, base64): anything else fails the
# image build, loudly.
set -eu
version=$1 want_amd64=$2 want_arm64=$3 registry=$4

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) pkg=opencode-linux-x64 want=$want_amd64 ;;
arm64) pkg=opencode-linux-arm64 want=$want_arm64 ;;
*) echo "opencode image: unsupported architecture '$arch' (amd64 and arm64 only)" >&2; exit 1 ;;
esac
url="$registry/$pkg/-/$pkg-$version.tgz"
tmp=$(mktemp -d)
if ! curl -fsSL --retry 3 -o "$tmp/opencode.tgz" "$url"; then
	echo "opencode image: cannot download $url" >&2
	echo "  behind a TLS-intercepting proxy? list its CA certificate (PEM) in" >&2
	echo "  image.build.ca_certs of the state file (e.g. /usr/local/share/ca-certificates/*.crt)" >&2
	exit 1
fi
got="sha512-$(openssl dgst -sha512 -binary "$tmp/opencode.tgz" | base64 -w0)"
if [ "$got" != "$want" ]; then
	echo "opencode image: INTEGRITY MISMATCH for $url" >&2
	echo "  expected $want (pinned in the Dockerfile)" >&2
	echo "  got      $got" >&2
	exit 1
fi
tar -xzf "$tmp/opencode.tgz" -C "$tmp"
install -m 0755 "$tmp/package/bin/opencode" /usr/local/bin/opencode
rm -rf "$tmp"
/usr/local/bin/opencode --version
