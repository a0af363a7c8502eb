#!/usr/bin/env bash
# Fetches third-party test data that is not committed: the official SARIF
# 2.1.0 JSON schema (shipped inside Microsoft's @microsoft/jest-sarif npm
# package) to validate agenttrace's SARIF reports. Idempotent; pinned
# versions; only the npm registry is contacted.
#   scripts/fetch-test-data.sh DIR
set -euo pipefail
dir=${1:?usage: fetch-test-data.sh DIR}
mkdir -p "$dir"
cd "$dir"
if [ ! -s sarif-schema-2.1.0.json ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null 2>&1)
  tar -xzf "$tmp"/microsoft-jest-sarif-1.0.0-beta.0.tgz -C "$tmp" package/lib/schemas/sarif-2.1.0-rtm.5.json
  mv "$tmp"/package/lib/schemas/sarif-2.1.0-rtm.5.json sarif-schema-2.1.0.json
  rm -rf "$tmp"
  echo "fetch-test-data: SARIF 2.1.0 schema in $dir/sarif-schema-2.1.0.json"
fi
