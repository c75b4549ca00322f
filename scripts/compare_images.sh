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
