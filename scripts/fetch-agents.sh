#!/bin/sh
# fetch-agents.sh DIR: published agent CLIs from the npm registry, at the
# exact versions that tests/agents/package.json pins, for
# the test that runs a real agent inside `agenttrace sandbox`. Prints the
# path of Qwen Code's entry point (DIR/node_modules/@qwen-code/qwen-code/cli.js):
#   AGENTTRACE_QWEN=$(scripts/fetch-agents.sh build/testdata/agents)
# Idempotent: npm runs again only when package.json changed. npm checks each
# tarball against the integrity the registry lists for that version.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
entry=$dir/node_modules/@qwen-code/qwen-code/cli.js
if [ ! -f "$entry" ] || ! cmp -s "$here/tests/agents/package.json" "$dir/package.json"; then
  cp "$here/tests/agents/package.json" "$dir/"
  # Progress goes to stderr; stdout carries only the path.
  (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2)
fi
if [ ! -f "$entry" ]; then
  echo "fetch-agents: npm did not install $entry" >&2
  exit 1
fi
echo "$entry"
