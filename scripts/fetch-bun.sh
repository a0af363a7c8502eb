#!/bin/sh
# fetch-bun.sh DIR: Bun 1.4.5 for linux-x64 from the npm registry, for the
# tests that find BoringSSL's SSL_write/SSL_read in it by signature
# (collector/ssl_signature.h); prints the executable's path, DIR/package/bin/bun:
#   AGENTTRACE_BUN=$(scripts/fetch-bun.sh /tmp/bun) build/tests/unit_tests
#
# The version is exact because the tests assert the addresses found in that
# very file. The tarball is checked against its npm sha512 integrity, kept
# here rather than asked of the registry, so a changed tarball is refused.
# Idempotent: a verified tarball is not downloaded again, and the executable
# is extracted again only when it no longer matches what was extracted.
# Files are written under temporary names and renamed into place, so an
# interrupted run leaves nothing half-written behind.
set -eu

VERSION=1.4.5
PACKAGE=@oven/bun-linux-x64
INTEGRITY=sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
tarball=$dir/oven-bun-linux-x64-$VERSION.tgz
bin=$dir/package/bin/bun
stamp=$dir/package/.agenttrace-extracted

integrity_of() {
  echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

if [ ! -f "$tarball" ] || [ "$(integrity_of "$tarball")" != "$INTEGRITY" ]; then
  tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack prints the tarball's name on stdout; progress goes to stderr.
  (cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
  got=$tmp/oven-bun-linux-x64-$VERSION.tgz
  if [ ! -f "$got" ]; then
    echo "fetch-bun: npm pack did not produce $(basename "$got")" >&2
    exit 1
  fi
  if [ "$(integrity_of "$got")" != "$INTEGRITY" ]; then
    echo "fetch-bun: $PACKAGE@$VERSION does not match its known sha512 integrity; refusing it" >&2
    exit 1
  fi
  mv -f "$got" "$tarball"
  rm -rf "$tmp"
  trap - EXIT
fi

# The stamp records the executable's digest at extraction, so a binary that
# was changed or truncated since is replaced from the verified tarball.
if [ ! -x "$bin" ] || [ ! -f "$stamp" ] ||
   [ "$(sha256sum "$bin" | cut -d' ' -f1)" != "$(cat "$stamp")" ]; then
  tmp=$(mktemp -d "$dir/.extract.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$tarball" -C "$tmp" package/bin/bun package/package.json
  chmod 755 "$tmp/package/bin/bun"
  sha256sum "$tmp/package/bin/bun" | cut -d' ' -f1 >"$tmp/package/.agenttrace-extracted"
  mkdir -p "$dir/package/bin"
  mv -f "$tmp/package/bin/bun" "$bin"
  mv -f "$tmp/package/package.json" "$dir/package/package.json"
  mv -f "$tmp/package/.agenttrace-extracted" "$stamp"
  rm -rf "$tmp"
  trap - EXIT
fi

echo "$bin"
