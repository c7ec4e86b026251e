#!/usr/bin/env bash
# Data parallel on one machine against one process: for each config,
# `ijepa bench` as one process with 2 threads (GOMAXPROCS=2) and under
# `mpirun -np 2` with one thread per rank (GOMAXPROCS=1, the same batch per
# rank), alternating ROUNDS times so that both see the same machine; prints
# every result, then the best of each and their ratio (docs/BENCHMARKS.md).
#
#   scripts/bench-dist.sh [ROUNDS] [CONFIG...]     (default: 3 tiny32 small224)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(tiny32 small224)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/ijepa" ./cmd/ijepa
for cfg in "${configs[@]}"; do
  best1=0 best2=0
  for r in $(seq "$rounds"); do
    one=$(GOMAXPROCS=2 "$bin/ijepa" bench --config "$cfg" --op-steps 0 | awk -v c="$cfg" '$1 == "ijepa" && $2 == c { print $(NF-1) }')
    out=$(mpirun --oversubscribe -np 2 -x GOMAXPROCS=1 "$bin/ijepa" bench --config "$cfg" --op-steps 0)
    two=$(awk '/img\/s in all on/ { print $4 }' <<<"$out")
    echo "$cfg round $r: one process, 2 threads: $one img/s; 2 ranks, 1 thread each: $two img/s"
    grep '^all-reduce:' <<<"$out"
    best1=$(awk -v a="$best1" -v b="$one" 'BEGIN { print (b > a ? b : a) }')
    best2=$(awk -v a="$best2" -v b="$two" 'BEGIN { print (b > a ? b : a) }')
  done
  awk -v c="$cfg" -v a="$best1" -v b="$best2" 'BEGIN { printf "%s best: one process %.2f img/s, 2 ranks %.2f img/s: %.3fx\n", c, a, b, b / a }'
done
