#!/usr/bin/env bash
# Runs every Go fuzz target of the readers of untrusted input, one after
# the other, each for DURATION (default 5m; CI runs them for 3s each):
#   the YAML config loader         ijepa/config   FuzzParse
#   the IDX (MNIST) reader         ijepa/data     FuzzIDX
#   the CIFAR-10 reader            ijepa/data     FuzzCIFAR
#   the safetensors reader         nn/safetensors FuzzReader
#   the .pth.tar / checkpoint opener ijepa/interop FuzzOpen
# A crasher is written to PKG/testdata/fuzz/TARGET/ by go test: commit it
# with the fix, and it runs with every `go test` from then on.
#
# usage: scripts/fuzz.sh [DURATION] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5m}
shift || true
targets=(
  "ijepa/config FuzzParse"
  "ijepa/data FuzzIDX"
  "ijepa/data FuzzCIFAR"
  "nn/safetensors FuzzReader"
  "ijepa/interop FuzzOpen"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  echo "== fuzz $name ($pkg) for $duration" >&2
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$duration" "./$pkg"
done
