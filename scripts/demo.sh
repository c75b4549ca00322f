#!/usr/bin/env bash
# The project's main job on the bundled photo: export a model, upscale assets/chelsea_lr_x4.png x4
# with ONNX Runtime and with tract, and print the parity between them, their timing, and how
# close each comes to the original photo (PSNR against assets/chelsea.png, bicubic beside it).
#
# Uses the shipped x4 SRResNet (models/x4/srresnet_x4.onnx: the better of the two shipped
# models, see MODEL_CARD.md); MODEL=models/x4/srgan_x4.onnx picks the SRGAN, or any other .onnx.
# Without a shipped model it exports a random-weight generator, which shows the pipeline and
# the parity but not a good picture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet -p srgan -p srgan-export --bins
BIN=target/release
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
if [[ -z ${MODEL:-} ]]; then
  for m in models/x4/srresnet_x4.onnx models/x4/srgan_x4.onnx; do
    if [[ -f $m ]]; then MODEL=$m; break; fi
  done
fi
MODEL=${MODEL:-models/x4/srgan_x4.onnx}
if [[ ! -f $MODEL ]]; then
  echo "demo: no shipped model at $MODEL; exporting a random-weight x4 generator instead" >&2
  "$BIN/srgan-export" --random-init --scale 4 --seed 0 -o "$OUT/random_x4.onnx" --overwrite
  MODEL=$OUT/random_x4.onnx
fi
IN=assets/chelsea_lr_x4.png
for rt in ort tract; do
  start=$(date +%s%N)
  "$BIN/srgan-run" --runtime "$rt" -m "$MODEL" -i "$IN" -o "$OUT/chelsea_x4_$rt.png" --overwrite
  end=$(date +%s%N)
  printf 'demo: %-5s %s -> %s in %.2f s (whole process: start, load, infer, write)\n' \
    "$rt" "$IN" "$OUT/chelsea_x4_$rt.png" "$(awk -v a="$start" -v b="$end" 'BEGIN { print (b - a) / 1e9 }')"
done
echo "demo: parity between the runtimes (must be within 1 level):"
"$BIN/srgan-compare" "$OUT/chelsea_x4_ort.png" "$OUT/chelsea_x4_tract.png" --max-diff 1
echo "demo: against the original photo:"
"$BIN/srgan-compare" assets/chelsea.png "$OUT/chelsea_x4_ort.png"
echo "demo: PSNR/SSIM on Y (4-px border) against bicubic, LR made from the original by srgan-eval:"
EVAL=$OUT/eval-hr
mkdir -p "$EVAL"
cp assets/chelsea.png "$EVAL/"
"$BIN/srgan-eval" "$MODEL" --data "$EVAL" --runtime ort
