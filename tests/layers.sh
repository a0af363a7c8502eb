#!/usr/bin/env bash
# The layers point one way (docs/design.md, "Layers"): each folder includes
# only the folders below it, and at_collector links nothing above it. Fails
# naming every include and link that points the wrong way.
#   usage: layers.sh SOURCE_DIR
set -uo pipefail
src=${1:?usage: layers.sh SOURCE_DIR}
cd "$src" || exit 1

# folder -> the folders its files may include (besides its own)
declare -A allowed=(
  [common]=""
  [trace]="common"
  [collector]="common trace"
  [analyzer]="common trace"
  [fleet]="common trace analyzer"
  [sandbox]="common trace collector"
  [app]="common trace collector analyzer fleet sandbox"
)
folders="common trace collector analyzer fleet sandbox app cli bench samples tests"

bad=0
for layer in "${!allowed[@]}"; do
  ok=" $layer ${allowed[$layer]} "
  while IFS= read -r hit; do
    file=${hit%%:*}
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${hit#*:}")
    # Only the project's folders are layers ("agenttrace.pb.h", "version.h"
    # and the BPF header are generated or below everything).
    [[ " $folders " == *" $target "* ]] || continue
    if [[ "$ok" != *" $target "* ]]; then
      echo "layers: $file includes $target/ (${layer}/ may include only: ${allowed[$layer]:-nothing else})"
      bad=1
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include "[a-z_]+/' --include='*.h' --include='*.cpp' --include='*.c' "$layer" |
           sed -E 's/^([^:]+):[0-9]+:/\1:/')
done

# The collector's library links nothing above it.
links=$(sed -n '/^target_link_libraries(at_collector/,/)/p' CMakeLists.txt)
for above in at_analyzer at_fleet at_sandbox at_app; do
  if grep -qw "$above" <<<"$links"; then
    echo "layers: at_collector links $above (CMakeLists.txt)"
    bad=1
  fi
done
exit $bad
