#!/usr/bin/env bash
# Issue 12's check of tiling with the default pad on Real-ESRGAN's official RealESRGAN_x4plus
# (RRDBNet, 23 blocks, exact receptive-field radius 349 LR pixels): srgan-export measures its
# effective radius and stores it; srgan-run then tiles with it by default. On a real photo
# (scikit-image's astronaut, 256x256 crop of the face, CC0), the tiled outputs at `--tile 24`
# and at `--tile auto` under a small `--max-memory` are compared with the untiled output.
# Prints each step's time and the largest differences (srgan-compare, 8-bit levels); exits 1
# when a tiled output is more than 1 level off.
#
#   bash scripts/check_x4plus_tiling.sh [OUT_DIR]   # after scripts/setup.sh and a release build
#
# Takes about 20 minutes on 2 cores (the --tile 24 run pads each 24x24 tile with the measured
# radius on every side: ~60x the pixels of the untiled run).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/check-x4plus-tiling}
BIN=target/release
PY=.venv/bin/python
W=tests/fixtures/community/RealESRGAN_x4plus.pth
MAX_MEMORY=${MAX_MEMORY:-800}
mkdir -p "$OUT"
[ -f "$W" ] || { echo "no $W: run scripts/setup.sh first" >&2; exit 2; }
"$PY" - "$OUT/photo.png" <<'PY'
import sys
from pathlib import Path
import skimage
from PIL import Image
src = Path(skimage.__file__).parent / "data" / "astronaut.png"
Image.open(src).convert("RGB").crop((128, 0, 384, 256)).save(sys.argv[1])
PY
t() { local s=$SECONDS; "$@"; echo "  ($((SECONDS - s)) s)"; }
echo "== export (measures the effective radius)"
t "$BIN/srgan-export" "$W" -o "$OUT/x4plus.onnx" --overwrite
echo "== untiled"
t "$BIN/srgan-run" -i "$OUT/photo.png" -o "$OUT/whole.png" -m "$OUT/x4plus.onnx" --tile 0 --overwrite
echo "== --tile 24"
t "$BIN/srgan-run" -i "$OUT/photo.png" -o "$OUT/tile24.png" -m "$OUT/x4plus.onnx" --tile 24 --overwrite
echo "== --tile auto --max-memory $MAX_MEMORY"
t "$BIN/srgan-run" -i "$OUT/photo.png" -o "$OUT/auto.png" -m "$OUT/x4plus.onnx" --tile auto \
    --max-memory "$MAX_MEMORY" --overwrite
status=0
for f in tile24 auto; do
    echo "== $f vs untiled"
    "$BIN/srgan-compare" "$OUT/whole.png" "$OUT/$f.png" --max-diff 1 || status=1
done
exit $status
