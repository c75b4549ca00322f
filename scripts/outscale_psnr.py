"""--outscale 2 on the x4 model against a direct bicubic x2, on the held-out photos.

For each photo: crop to a multiple of 2; LR = PIL's bicubic /2 (antialiased), rounded to
8 bits; then (a) `srgan-run --outscale 2` (the x4 model, then srgan's bicubic halving) and
(b) PIL's bicubic x2 of the same LR. PSNR on Y (BT.601) with a 2-pixel border against the HR.

    .venv/bin/python scripts/make_data.py --out /tmp/srdata
    .venv/bin/python scripts/outscale_psnr.py /tmp/srdata/heldout target/debug/srgan-run [MODEL]
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def y_channel(img):
    a = np.asarray(img.convert("RGB"), dtype=np.float64)
    return 16.0 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0


def psnr_y(a, b, border):
    ya, yb = y_channel(a), y_channel(b)
    ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    mse = np.mean((ya - yb) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def main(folder, srgan_run, model="srresnet_x4"):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hr_path in sorted(Path(folder).glob("*.png")):
            hr = Image.open(hr_path).convert("RGB")
            w, h = hr.size
            hr = hr.crop((0, 0, w - w % 2, h - h % 2))
            lr = hr.resize((hr.width // 2, hr.height // 2), Image.BICUBIC)
            lr_path = Path(tmp) / f"{hr_path.stem}_lr.png"
            lr.save(lr_path)
            out = Path(tmp) / f"{hr_path.stem}_x2.png"
            subprocess.run([srgan_run, "-m", model, "-i", str(lr_path), "-o", str(out),
                            "--outscale", "2", "--quiet"], check=True)
            sr = Image.open(out)
            bic = lr.resize(hr.size, Image.BICUBIC)
            rows.append((hr_path.name, psnr_y(sr, hr, 2), psnr_y(bic, hr, 2)))
    print(f"{'photo':<16} {'outscale 2 dB':>14} {'bicubic x2 dB':>14}")
    for name, a, b in rows:
        print(f"{name:<16} {a:>14.2f} {b:>14.2f}")
    ma = sum(r[1] for r in rows) / len(rows)
    mb = sum(r[2] for r in rows) / len(rows)
    print(f"{'mean':<16} {ma:>14.2f} {mb:>14.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
