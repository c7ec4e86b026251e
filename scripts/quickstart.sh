#!/usr/bin/env bash
# The README's main job. Installs what is missing, then checks the CPU
# reference backend op by op (the training run takes its place once the
# trainer lands).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
go run ./cmd/ijepa conformance --backend cpu "$@"
