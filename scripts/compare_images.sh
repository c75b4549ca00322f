#!/usr/bin/env bash
# The comparison pictures of MODEL_CARD.md: for the two held-out photos, the same crop of
# bicubic | SRResNet | SRGAN | ground truth (each enlarged 2x, nearest neighbour), from LR images
# made by MATLAB-style bicubic x4 downscaling (the protocol of srgan-eval), run with tract.
#   bash scripts/compare_images.sh [OUT_DIR]      (default: models/x4/figures)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-models/x4/figures}
[[ -f data/heldout/chelsea.png && -f data/heldout/coffee.png ]] || .venv/bin/python scripts/make_data.py
cargo build --release --quiet -p srgan --bin srgan-figure
mkdir -p "$OUT"
MODELS=(-m models/x4/srresnet_x4.onnx -m models/x4/srgan_x4.onnx)
target/release/srgan-figure --hr data/heldout/chelsea.png --crop 130,70,128,96 --zoom 2 \
  "${MODELS[@]}" -o "$OUT/chelsea_compare.png"
target/release/srgan-figure --hr data/heldout/coffee.png --crop 300,220,128,96 --zoom 2 \
  "${MODELS[@]}" -o "$OUT/coffee_compare.png"
# Degraded inputs (MODEL_CARD.md "Degraded inputs"), the LR degraded as srgan-eval --degrade
# does (same seed): x4 with noise sigma 25 and JPEG 30, bicubic | bicubic-trained SRResNet |
# real-world SRResNet | ground truth; x1 on the HR itself with the same degradations, input |
# restoration model | ground truth.
mkdir -p models/x1/figures
REAL=(-m models/x4/srresnet_x4.onnx -m models/x4/srresnet_x4_realworld.onnx)
for d in noise:25 jpeg:30; do
  tag=${d/:/}
  target/release/srgan-figure --hr data/heldout/chelsea.png --crop 130,70,128,96 --zoom 2 \
    --degrade "$d" "${REAL[@]}" -o "$OUT/chelsea_${tag}_compare.png"
  target/release/srgan-figure --hr data/heldout/chelsea.png --crop 130,70,128,96 --zoom 2 \
    --degrade "$d" -m models/x1/srvgg_x1_restore.onnx -m models/x1/srvgg_x1_restore_gan.onnx \
    -o "models/x1/figures/chelsea_${tag}_compare.png"
done
