#!/bin/sh
# fetch-opencode.sh VERSION INTEGRITY_AMD64 INTEGRITY_AMD64_BASELINE INTEGRITY_ARM64 REGISTRY
# Download the opencode binary for this machine from the npm registry and
# install it as /usr/local/bin/opencode, but only when the tarball matches a
# pinned npm dist.integrity (sha512, base64): anything else fails the image
# build, loudly. Records the version in /usr/local/lib/occ/opencode-version
# (the entrypoint reads its major version from there).
#
# The package, per major version and machine:
#
#   2.x  @opencode/cli-linux-x64, or @opencode/cli-linux-x64-baseline when
#        the building CPU has no AVX2; @opencode/cli-linux-arm64
#   1.x  opencode-linux-x64 (-baseline likewise), opencode-linux-arm64
#
# The AVX2 test looks at the CPU that builds the image: an image built on an
# AVX2 machine and copied to one without it fails there (build it there).
#
# An empty INTEGRITY_* argument takes the pin of the table below, so that
# `image.build.args.OPENCODE_VERSION: 1.18.18` alone builds 1.18.18; a
# version not in the table needs its integrity passed as a build argument,
# from `npm view PACKAGE@VERSION dist.integrity`.
set -eu
version=$1 want_amd64=$2 want_baseline=$3 want_arm64=$4 registry=$5

case "$version" in
'' | *[!0-9A-Za-z.+-]*)
	echo "opencode image: OPENCODE_VERSION '$version' is not a version" >&2
	exit 1
	;;
esac

pin() {   # pin PACKAGE VERSION: the known integrity, or nothing
	case "$1@$2" in
	@opencode/cli-linux-x64@2.2.5) echo 'sha512-BkHAfTqNsg/qphyHNrnH+DGkOxZsGjamNpM5DvwoEvz7ZAPNw8mEbMXGTCDOAH+/+40Eqeie6KNZBZZQwPCjaA==' ;;
	@opencode/cli-linux-x64-baseline@2.2.5) echo 'sha512-oPOT+EMmdz56HnSFPRVwZ0QTVL5defhOacnwzazu0XOuCWUtEKh8icIn323SdCLtqZtzjuU1mt6p2/13V93WWg==' ;;
	opencode-linux-x64@1.18.18) echo 'sha512-WmeUnhljYJ252wywKTiW4bNDzsas2njpjPUEh0jM6HKNI4vFxJtREtzaWViY4AKEAcOkLWT8Ll17ixvcHz3AnA==' ;;
	opencode-linux-x64-baseline@1.18.18) echo 'sha512-6GvFarhP0pDiXcE9Au8PWoqb9+ZLBIGKrhZxeVAmOJp/gJ8lLL1Eno8O1qpqRb1KjOfOaOD71jHu9xNaqmjEtw==' ;;
	opencode-linux-arm64@1.18.18) echo 'sha512-e8D3g0qJEIzawEg2+ygW3vkZjAYL2ssyAx4GbihjwXwZFvlZZy5zRWWzdz5KLBoHSTl0FB73vNtnNeXONyHpVQ==' ;;
	esac
}

major=${version%%.*}
case "$major" in
1) prefix=opencode-linux- ;;
*) prefix=@opencode/cli-linux- ;;
esac
arch=$(dpkg --print-architecture)
case "$arch" in
amd64)
	if grep -qw avx2 /proc/cpuinfo; then
		pkg=${prefix}x64 want=$want_amd64
	else
		pkg=${prefix}x64-baseline want=$want_baseline
		echo "opencode image: this CPU has no AVX2: taking $pkg" >&2
	fi
	;;
arm64) pkg=${prefix}arm64 want=$want_arm64 ;;
*) echo "opencode image: unsupported architecture '$arch' (amd64 and arm64 only)" >&2; exit 1 ;;
esac
[ -n "$want" ] || want=$(pin "$pkg" "$version")
if [ -z "$want" ]; then
	echo "opencode image: no pinned integrity for $pkg@$version" >&2
	echo "  pass it as a build argument (OPENCODE_INTEGRITY_AMD64, _AMD64_BASELINE or _ARM64)," >&2
	echo "  from: npm view $pkg@$version dist.integrity" >&2
	exit 1
fi

# A scoped package's tarball: REGISTRY/@scope/name/-/name-VERSION.tgz
url="$registry/$pkg/-/${pkg#@*/}-$version.tgz"
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
	echo "  expected $want" >&2
	echo "  got      $got" >&2
	exit 1
fi
tar -xzf "$tmp/opencode.tgz" -C "$tmp" package/bin/opencode
install -m 0755 "$tmp/package/bin/opencode" /usr/local/bin/opencode
rm -rf "$tmp"
install -d -m 0755 /usr/local/lib/occ
printf '%s\n' "$version" >/usr/local/lib/occ/opencode-version
chmod 0644 /usr/local/lib/occ/opencode-version
/usr/local/bin/opencode --version
