#!/usr/bin/env bash
# Configures and builds agenttrace in ./build (or $BUILD_DIR). Extra arguments
# go to cmake's configure step, e.g. -DAGENTTRACE_SANITIZE=ON. TARGETS="a b"
# builds only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# ccache (when installed) keyed on paths relative to the checkout, so another
# clone or build directory of the same sources reuses the objects.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
targets=()
for t in ${TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"
