#!/usr/bin/env bash
# Runs every Go fuzz target of the readers of untrusted input, one after
# the other, each for DURATION (default 5m), or with `quick` (CI) for the
# number of executions beside it below, about 3 s of each on two cores: a
# count, not a duration, because a duration's deadline races the workers'
# shutdown in Go 1.26's fuzzing engine and fails a target with a bare
# "context deadline exceeded" and no failing input (golang/go#75804, fixed
# in Go 1.27):
#   the YAML config loader         ijepa/config   FuzzParse
#   the IDX (MNIST) reader         ijepa/data     FuzzIDX
#   the CIFAR-10 reader            ijepa/data     FuzzCIFAR
#   the safetensors reader         nn/safetensors FuzzReader
#   the .pth.tar / checkpoint opener ijepa/interop FuzzOpen
# A crasher is written to PKG/testdata/fuzz/TARGET/ by go test: commit it
# with the fix, and it runs with every `go test` from then on.
#
# usage: scripts/fuzz.sh [DURATION|quick] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5m}
shift || true
# package, target, executions under `quick` (measured rates: 6, 12-17k,
# 2-4k, 41k and 2 executions/s)
targets=(
  "ijepa/config FuzzParse 20"
  "ijepa/data FuzzIDX 30000"
  "ijepa/data FuzzCIFAR 8000"
  "nn/safetensors FuzzReader 100000"
  "ijepa/interop FuzzOpen 8"
)
for t in "${targets[@]}"; do
  read -r pkg name quick <<<"$t"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  budget=$duration
  [ "$duration" = quick ] && budget=${quick}x
  echo "== fuzz $name ($pkg) for $budget" >&2
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$budget" "./$pkg"
done
