#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what is missing, builds, and
# traces CMD; with no CMD, traces the bundled sample agent.
#   scripts/run.sh                      # trace samples/fingerprint
#   scripts/run.sh -- node -e '...'     # trace your own command
#   scripts/run.sh --json - -- CMD      # agenttrace options go before --
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
BIN=$PWD/build/agenttrace
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ $# -eq 0 ]; then
  echo "run: tracing the bundled sample agent (build/samples/fingerprint)" >&2
  # A new name each time: agenttrace never writes over an existing file.
  out=$(mktemp -u "${TMPDIR:-/tmp}/agenttrace-sample-XXXXXX.atrace")
  exec $SUDO "$BIN" -o "$out" -- "$PWD/build/samples/fingerprint"
fi
exec $SUDO "$BIN" "$@"
