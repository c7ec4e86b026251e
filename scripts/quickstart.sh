#!/usr/bin/env bash
# The README's main job: a short I-JEPA pre-training on the built-in
# procedural dataset (the `quick` preset, CPU backend), then the evaluation
# of the trained target encoder — a linear probe and a k-NN on its frozen,
# mean-pooled features — beside a random-init encoder and raw pixels.
#
# The run goes to runs/quick-DATE-TIME (config.yaml, log.csv, eval.csv,
# checkpoints/; see docs/RUNS.md). Extra arguments go to `ijepa train`
# (e.g. --backend vulkan, --seed 3, --steps 50).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/ijepa" ./cmd/ijepa

run=runs/quick-$(date +%Y%m%d-%H%M%S)
echo "== pre-training (ijepa train --config quick --run $run)" >&2
"$bin/ijepa" train --config quick --run "$run" --eval=false "$@"
echo "== evaluation (ijepa eval --run $run)" >&2
"$bin/ijepa" eval --run "$run"
