#!/usr/bin/env bash
# Re-vendors @rocket.chat/rest-typings at the version and integrity in VENDORED.md: packs the
# tarball from the npm registry, checks its sha512 integrity, copies the kept files and
# rewrites SHA256SUMS. Run by hand only (tests never download).
set -euo pipefail
cd "$(dirname "$0")"
version=8.8.1
integrity='sha512-xroFtQckTsOE1Mb9pk3rHsJkdwqqxhMZfi7kNjKdlVVTpMOuVVRIjicZOV7sAacedIHyxfuI4Cxv1nIA2eEI8A=='
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "@rocket.chat/rest-typings@$version" --silent >/dev/null)
tgz="$tmp/rocket.chat-rest-typings-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$integrity" ] || { echo "integrity mismatch: $got" >&2; exit 1; }
tar xzf "$tgz" -C "$tmp"
while read -r _ f; do
    case "$f" in ./dist/package.json) continue ;; esac
    cp "$tmp/package/${f#./}" "$f"
done < SHA256SUMS
find . -type f ! -name SHA256SUMS ! -name VENDORED.md ! -name refresh.sh ! -path ./dist/package.json | sort | xargs sha256sum > SHA256SUMS
echo "vendored @rocket.chat/rest-typings@$version"
