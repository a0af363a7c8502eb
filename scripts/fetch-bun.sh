#!/bin/sh
# fetch-bun.sh DIR [VERSION...|all]: Bun for linux-x64 from the npm registry
# (@oven/bun-linux-x64), for the tests that find BoringSSL's SSL_write/SSL_read
# (collector/ssl_signature.h) and Bun__getEnvValue (collector/bun_env_signature.h)
# in it by signature, and that compile samples with `bun build --compile`.
# Prints the path of each executable fetched, one a line:
#   AGENTTRACE_BUN=$(scripts/fetch-bun.sh /tmp/bun) build/tests/unit_tests
#   AGENTTRACE_BUNS=$(scripts/fetch-bun.sh /tmp/bun all | paste -sd:)
#
# With no VERSION it fetches the default, 1.4.5, to DIR/package/bin/bun (the
# path it always had); `all` fetches the newest patch of every release line
# from 1.1 on, oldest first; another version goes to DIR/VERSION/package/bin/bun.
# Only the versions below can be fetched: each is exact because the tests
# assert the addresses found in that very file, and each tarball is checked
# against its npm sha512 integrity, kept here rather than asked of the
# registry, so a changed tarball is refused.
# Idempotent: a verified tarball is not downloaded again, and the executable
# is extracted again only when it no longer matches what was extracted.
# Files are written under temporary names and renamed into place, so an
# interrupted run leaves nothing half-written behind.
set -eu

PACKAGE=@oven/bun-linux-x64
DEFAULT=1.4.5
ALL="1.1.45 1.2.23 1.3.14 1.4.5"

integrity_pinned() {
  case $1 in
    1.1.45) echo sha512-mbLIJHpKFz7PAj3aW/r+yRm+SMIUzrD+MqjxhMm7hA8pXqmrNA+SWTPEFY0viShqGxTn/PRhTiEcqecJ8e/l4Q== ;;
    1.2.23) echo sha512-Ts3KLSdhr/iTwiRBtkyOvn78eOStPaSvuMXjdiPNHbloGP4f5KE14ZtE1qYJWlAJkTAejxd9EcZibi/hSsWDcg== ;;
    1.3.14) echo sha512-7OVTAKvwfPmSbIV1HpdOoVVx5VRc427GuPPne93N6vk4eQBPId9nXmZDh9/zGaKPdbVjVtQSZafWQoUjx38Utw== ;;
    1.4.5) echo sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g== ;;
    *) return 1 ;;
  esac
}

if [ $# -lt 1 ]; then
  echo "usage: $0 DIR [VERSION...|all]   (versions: $ALL)" >&2
  exit 2
fi
mkdir -p "$1"
top=$(cd "$1" && pwd)
shift
if [ $# -eq 0 ]; then
  set -- "$DEFAULT"
elif [ "$*" = all ]; then
  # shellcheck disable=SC2086 # a list of words
  set -- $ALL
fi
for version in "$@"; do
  if ! integrity_pinned "$version" >/dev/null; then
    echo "fetch-bun: no pinned integrity for Bun $version; known: $ALL" >&2
    exit 2
  fi
done

integrity_of() {
  echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

tmp=
trap 'if [ -n "$tmp" ]; then rm -rf "$tmp"; fi' EXIT

# fetch_one VERSION: fetches and extracts it, prints its executable's path.
fetch_one() {
  version=$1
  want=$(integrity_pinned "$version")
  if [ "$version" = "$DEFAULT" ]; then dir=$top; else dir=$top/$version; fi
  mkdir -p "$dir"
  tarball=$dir/oven-bun-linux-x64-$version.tgz
  bin=$dir/package/bin/bun
  stamp=$dir/package/.agenttrace-extracted

  if [ ! -f "$tarball" ] || [ "$(integrity_of "$tarball")" != "$want" ]; then
    tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
    # npm pack prints the tarball's name on stdout; progress goes to stderr.
    (cd "$tmp" && npm pack --silent "$PACKAGE@$version" >/dev/null)
    got=$tmp/oven-bun-linux-x64-$version.tgz
    if [ ! -f "$got" ]; then
      echo "fetch-bun: npm pack did not produce $(basename "$got")" >&2
      exit 1
    fi
    if [ "$(integrity_of "$got")" != "$want" ]; then
      echo "fetch-bun: $PACKAGE@$version does not match its known sha512 integrity; refusing it" >&2
      exit 1
    fi
    mv -f "$got" "$tarball"
    rm -rf "$tmp"
    tmp=
  fi

  # The stamp records the executable's digest at extraction, so a binary that
  # was changed or truncated since is replaced from the verified tarball.
  if [ ! -x "$bin" ] || [ ! -f "$stamp" ] ||
     [ "$(sha256sum "$bin" | cut -d' ' -f1)" != "$(cat "$stamp")" ]; then
    tmp=$(mktemp -d "$dir/.extract.XXXXXX")
    tar -xzf "$tarball" -C "$tmp" package/bin/bun package/package.json
    chmod 755 "$tmp/package/bin/bun"
    sha256sum "$tmp/package/bin/bun" | cut -d' ' -f1 >"$tmp/package/.agenttrace-extracted"
    mkdir -p "$dir/package/bin"
    mv -f "$tmp/package/bin/bun" "$bin"
    mv -f "$tmp/package/package.json" "$dir/package/package.json"
    mv -f "$tmp/package/.agenttrace-extracted" "$stamp"
    rm -rf "$tmp"
    tmp=
  fi

  echo "$bin"
}

for version in "$@"; do
  fetch_one "$version"
done
