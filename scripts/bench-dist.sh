#!/usr/bin/env bash
# Data parallel on one machine against one process: for each config,
# `ijepa bench` as one process with 2 threads (GOMAXPROCS=2) and under
# `mpirun -np 2` with one thread per rank (GOMAXPROCS=1, the same batch per
# rank), one after the other ROUNDS times so that both see the same machine;
# prints every result with the round's ratio, then the best of each side and
# the median of the rounds' ratios (docs/BENCHMARKS.md). BENCH_ARGS adds
# flags to every ijepa bench (e.g. "--steps 2 --warmup 1").
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
  ones=() twos=() ratios=()
  for r in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    one=$(GOMAXPROCS=2 "$bin/ijepa" bench --config "$cfg" --op-steps 0 ${BENCH_ARGS:-} | awk -v c="$cfg" '$1 == "ijepa" && $2 == c { for (i = 2; i <= NF; i++) if ($i ~ /^img\/s/) print $(i-1) }')
    # shellcheck disable=SC2086
    out=$(mpirun --oversubscribe -np 2 -x GOMAXPROCS=1 "$bin/ijepa" bench --config "$cfg" --op-steps 0 ${BENCH_ARGS:-})
    two=$(awk '/img\/s in all on/ { print $4 }' <<<"$out")
    ratio=$(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.3f", b / a }')
    ones+=("$one") twos+=("$two") ratios+=("$ratio")
    echo "$cfg round $r (load $(cut -d' ' -f1 /proc/loadavg)): one process, 2 threads: $one img/s; 2 ranks, 1 thread each: $two img/s; ratio $ratio"
    grep '^all-reduce:' <<<"$out"
  done
  best1=$(printf '%s\n' "${ones[@]}" | sort -g | tail -1)
  best2=$(printf '%s\n' "${twos[@]}" | sort -g | tail -1)
  median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
  awk -v c="$cfg" -v a="$best1" -v b="$best2" -v m="$median" \
    'BEGIN { printf "%s: best one process %.2f img/s, best 2 ranks %.2f img/s: %.3fx; median of the rounds'"'"' ratios %.3fx\n", c, a, b, b / a, m }'
done
