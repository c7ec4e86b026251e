#!/usr/bin/env bash
# Regenerates the README's pictures (docs/img/*.png) from a real short run:
# `ijepa train --config quick` into a temporary run directory (960 steps
# with an evaluation every 160: a few minutes on two cores), then `ijepa masks`, `ijepa plot` and `ijepa
# features` on it. Pass RUN_DIR to draw an existing run instead of training.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/ijepa" ./cmd/ijepa

if [ $# -ge 1 ]; then
  run=$(cd "$1" && pwd)
else
  run="$bin/quickrun"
  "$bin/ijepa" train --config quick --run "$run" --probe-every 160 --quiet
fi
# Draw from the run's parent directory so the captions name it "quickrun"
# (or its own name), not a temporary path.
cd "$(dirname "$run")"
name=$(basename "$run")
last=$(tail -n 1 "$name/log.csv" | cut -d, -f1)
"$bin/ijepa" masks --config "$name/config.yaml" --step "$last" --images 8 --out "$root/docs/img/masks.png"
"$bin/ijepa" plot "$name" --width 1000 --height 750 --out "$root/docs/img/curves.png"
"$bin/ijepa" features --checkpoint "$name" --images 8 --out "$root/docs/img/pca.png"
