#!/usr/bin/env bash
# Mixed precision against fp32 over seeds: for each seed, the quick preset
# (960 steps on the CPU) in fp32, bf16, fp16, and fp32 again under
# GOMAXPROCS=1, which differs from fp32 only in the order of float32 sums;
# then, per run, the mean loss of steps 1-100 and 861-960 and the final
# linear probe of the target encoder, against fp32's (docs/BENCHMARKS.md,
# "Mixed-precision training against fp32"). Runs go under OUT (kept: a run
# already finished there is not trained again). About 1.5-2.5 minutes a run
# on two cores.
#
#   scripts/precision-seeds.sh OUT [SEED...]     (default seeds: 0 1 2)
set -euo pipefail
out=${1:?usage: scripts/precision-seeds.sh OUT [SEED...]}
shift
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
cd "$(dirname "$0")/.."
mkdir -p "$out"
go build -o "$out/ijepa" ./cmd/ijepa
runs=(fp32 bf16 fp16 fp32-gomaxprocs1)
for s in "${seeds[@]}"; do
  for r in "${runs[@]}"; do
    d=$out/seed$s-$r
    [ -f "$d/eval.csv" ] && continue
    rm -rf "$d"
    echo "seed $s $r ..." >&2
    if [ "$r" = fp32-gomaxprocs1 ]; then
      GOMAXPROCS=1 "$out/ijepa" train --config quick --precision fp32 --seed "$s" --run "$d" --quiet
    else
      "$out/ijepa" train --config quick --precision "$r" --seed "$s" --run "$d" --quiet
    fi
  done
done
# mean loss over a step range of a run's log.csv, and its last target probe
mean() { awk -F, -v a="$2" -v b="$3" 'NR > 1 && $1 >= a && $1 <= b { s += $3; n++ } END { printf "%.4f", s / n }' "$1/log.csv"; }
probe() { awk -F, '$2 == "target" { p = $3 } END { print p }' "$1/eval.csv"; }
printf '%-5s %-17s %-12s %-12s %-10s %-8s %s\n' seed run loss_1-100 loss_861-960 vs_fp32 probe vs_fp32
for s in "${seeds[@]}"; do
  base=$out/seed$s-fp32
  bl=$(mean "$base" 861 960) bp=$(probe "$base")
  for r in "${runs[@]}"; do
    d=$out/seed$s-$r
    l=$(mean "$d" 861 960) p=$(probe "$d")
    printf '%-5s %-17s %-12s %-12s %-10s %-8.3f %s\n' "$s" "$r" "$(mean "$d" 1 100)" "$l" \
      "$(awk -v a="$l" -v b="$bl" 'BEGIN { printf "%+.1f%%", 100 * (a / b - 1) }')" "$p" \
      "$(awk -v a="$p" -v b="$bp" 'BEGIN { printf "%+.3f", a - b }')"
  done
done
