#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/TARGET) from the repository's own inputs, as the tests
# make them: images of every colour type the suite uses, the ONNX fixtures and a freshly
# exported tiny model, a tiny generator checkpoint, and `.pth` files written by torch. Run
# from anywhere after `scripts/setup.sh` and `cargo build -p srgan-export`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
mkdir -p "$corpus/decode_image" "$corpus/model_info" "$corpus/checkpoint" "$corpus/pth"

"$root/.venv/bin/python" - "$corpus/decode_image" <<'PY'
import sys
from PIL import Image
out = sys.argv[1]
base = Image.new("RGB", (13, 9), (200, 40, 10))
for x in range(13):
    base.putpixel((x, x % 9), (x * 19, 255 - x * 19, 128))
base.save(f"{out}/rgb.png")
base.convert("L").save(f"{out}/grey.png")
base.convert("RGBA").save(f"{out}/rgba.png")
base.convert("I;16").save(f"{out}/grey16.png")
base.save(f"{out}/rgb.jpg", quality=90)
base.convert("L").save(f"{out}/grey.jpg", quality=90)
base.save(f"{out}/anim.png", save_all=True, append_images=[base.convert("L").convert("RGB")])
PY
cp "$root/assets/chelsea_lr_x4.png" "$corpus/decode_image/"

cp "$root"/tests/fixtures/*.onnx "$corpus/model_info/"
"$root/target/debug/srgan-export" --random-init --blocks 1 --channels 4 --scale 2 \
  -o "$corpus/model_info/tiny.onnx" --save-checkpoint "$corpus/checkpoint/tiny.safetensors" \
  --overwrite >/dev/null
tmp="$(mktemp -d)"
"$root/.venv/bin/python" "$root/export/tests/pth_fixtures.py" "$tmp"
cp "$tmp"/*.pth "$corpus/pth/"
rm -rf "$tmp"
echo "seeded: $(find "$corpus" -type f | wc -l) files under $corpus"
