#!/usr/bin/env bash
# One command on a fresh Debian machine: installs what is missing, builds the
# agenttrace binary (and the bundled sample), and traces CMD; with no CMD,
# runs the bundled sample agent in `agenttrace sandbox` and ends on what it hid.
#   scripts/run.sh                      # the bundled sample (build/samples/demo_agent)
#   scripts/run.sh -- node -e '...'     # trace your own command
#   scripts/run.sh --json - -- CMD      # agenttrace options go before --
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BIN=$PWD/build/agenttrace
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ $# -gt 0 ]; then
  TARGETS=agenttrace ./scripts/build.sh
  exec $SUDO "$BIN" "$@"
fi
TARGETS="agenttrace demo_agent" ./scripts/build.sh
# The sample learns the time zone and the proxy setting and hides them in its
# request to the sandbox's stand-in for the LLM API (samples/demo_agent.c).
# A new trace name each time: agenttrace never writes over an existing file.
out=$(mktemp -u "$PWD/build/demo-XXXXXX.atrace")
echo "run: the bundled sample agent (samples/demo_agent.c) in agenttrace sandbox" >&2
$SUDO "$BIN" sandbox --workspace-mode ro --env TZ=Europe/Berlin --env HTTPS_PROXY=http://proxy.corp.example:3128 \
  --trace "$out" -- "$PWD/build/samples/demo_agent"
echo "run: to see it in HTML: $BIN analyze --format html -o ${out%.atrace}.html $out" >&2
