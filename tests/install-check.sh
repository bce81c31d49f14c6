#!/usr/bin/env bash
# tests/install-check.sh BUILD_DIR - `cmake --install` puts occ, the
# opencode-cloud name, the man page and the completions where they belong,
# and the installed binaries run.
set -euo pipefail
build=$1
dest=$(mktemp -d /tmp/occ-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
DESTDIR="$dest" cmake --install "$build" --prefix /usr >/dev/null
failed=0
for f in usr/bin/occ usr/bin/opencode-cloud usr/share/man/man1/occ.1 \
	usr/share/bash-completion/completions/occ usr/share/zsh/vendor-completions/_occ \
	usr/share/fish/vendor_completions.d/occ.fish; do
	if [ -e "$dest/$f" ]; then echo "ok   $f"; else echo "MISSING $f"; failed=$((failed + 1)); fi
done
for name in occ opencode-cloud; do
	out=$("$dest/usr/bin/$name" --version)
	case "$out" in occ\ *) echo "ok   $name --version: $out" ;;
	*) echo "BAD  $name --version: $out"; failed=$((failed + 1)) ;; esac
done
echo "$((8 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
