"""Makes the bundled demo photos in assets/ from scikit-image's CC0 sample data (offline).

    .venv/bin/python scripts/make_assets.py

chelsea.png is scikit-image's `chelsea` (CC0, photographer Stefan van der Walt), cropped to
448x300 so that it divides by 4. chelsea_lr_x4.png is its bicubic x4 downscale (PIL's BICUBIC
with antialiasing, the usual way LR images are made for SR benchmarks): the demo upscales it
back and compares with chelsea.png.
"""
import os

from PIL import Image
import skimage

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets")
src = os.path.join(os.path.dirname(skimage.__file__), "data", "chelsea.png")
hr = Image.open(src).convert("RGB")
w, h = hr.size
hr = hr.crop((0, 0, w - w % 4, h - h % 4))
hr.save(os.path.join(root, "chelsea.png"), optimize=True)
lr = hr.resize((hr.width // 4, hr.height // 4), Image.BICUBIC)
lr.save(os.path.join(root, "chelsea_lr_x4.png"), optimize=True)
print(f"assets: chelsea.png {hr.size}, chelsea_lr_x4.png {lr.size}")
