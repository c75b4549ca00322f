#!/usr/bin/env bash
# Training step time on Real-ESRGAN's degradations against the bicubic pipeline (issue 16's
# "a step must not get slower than the bicubic pipeline by more than 10%"): srgan-train runs
# the shipped x4 recipe (configs/x4_realworld.yaml: SRResNet 8x48, batch 16 of 64x64 crops,
# 2 threads, one loader worker) for N iterations with and without `data.degradation`, in
# alternation (ABAB...), and prints the wall seconds per iteration of each and their ratio.
# The loader prepares batches in the background, so the ratio is what the degradations cost
# the training loop (their CPU time competes with libtorch's on the same cores).
#   benches/peers/degradation_step.sh [ITERATIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100}
ROUNDS=${2:-2}
TRAIN=${SRGAN_TRAIN:-target/release/srgan-train}
[[ -x $TRAIN ]] || { echo "error: $TRAIN not found (cargo build --release -p srgan-models)" >&2; exit 2; }
[[ -d data/train ]] || { echo "error: data/train not found (.venv/bin/python scripts/make_data.py)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
grep -v -e 'degradation: {}' -e 'val_degradations' configs/x4_realworld.yaml >"$TMP/bicubic.yaml"
cp configs/x4_realworld.yaml "$TMP/degraded.yaml"
declare -A total=([bicubic]=0 [degraded]=0)
for r in $(seq "$ROUNDS"); do
  for kind in bicubic degraded; do
    start=$(date +%s.%N)
    "$TRAIN" --config "$TMP/$kind.yaml" --data data/train --out "$TMP/run-$kind-$r" \
      --iterations "$N" --val-every 0 --checkpoint-every 0 --quiet >/dev/null
    end=$(date +%s.%N)
    s=$(awk -v a="$start" -v b="$end" -v n="$N" 'BEGIN { print (b - a) / n }')
    printf '%s round %d: %.3f s/iteration\n' "$kind" "$r" "$s"
    total[$kind]=$(awk -v a="${total[$kind]}" -v b="$s" 'BEGIN { print a + b }')
  done
done
awk -v b="${total[bicubic]}" -v d="${total[degraded]}" -v r="$ROUNDS" 'BEGIN {
  printf "mean: bicubic %.3f s/iteration, degraded %.3f s/iteration, ratio %.3f\n", b / r, d / r, d / b }'
