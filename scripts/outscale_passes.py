"""An output scale above the model's: one model pass then a bicubic resample, against two model
passes (the second on the first's output) then a resample, on the held-out photos.

For each photo and factor F (8 and 16 for the x4 models): crop to a multiple of F; LR = PIL's
bicubic /F (antialiased), rounded to 8 bits; then
  (a) one pass: `srgan-run --outscale F --passes 1` (the model's x4, then srgan's bicubic);
  (b) two passes: `srgan-run --outscale F --passes 2` (x4, x4 again = x16, then srgan's
      antialiased bicubic down to xF);
  (c) PIL's bicubic xF of the LR, for scale.
PSNR on Y (BT.601) with an F-pixel border against the HR; seconds per photo for (a) and (b).

    .venv/bin/python scripts/make_data.py --out /tmp/srdata
    .venv/bin/python scripts/outscale_passes.py /tmp/srdata/heldout target/release/srgan-run [MODEL]
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from outscale_psnr import psnr_y  # noqa: E402


def run(srgan_run, model, src, dst, factor, passes):
    t = time.perf_counter()
    subprocess.run([srgan_run, "-m", model, "-i", str(src), "-o", str(dst), "--outscale",
                    str(factor), "--passes", str(passes), "--quiet", "--overwrite"], check=True)
    return Image.open(dst), time.perf_counter() - t


def main(folder, srgan_run, model="srresnet_x4"):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for factor in (8, 16):
            for hr_path in sorted(Path(folder).glob("*.png")):
                hr = Image.open(hr_path).convert("RGB")
                w, h = hr.size
                hr = hr.crop((0, 0, w - w % factor, h - h % factor))
                lr = hr.resize((hr.width // factor, hr.height // factor), Image.BICUBIC)
                lr_path = Path(tmp) / f"{hr_path.stem}_lr{factor}.png"
                lr.save(lr_path)
                one, t1 = run(srgan_run, model, lr_path, Path(tmp) / "one.png", factor, 1)
                two, t2 = run(srgan_run, model, lr_path, Path(tmp) / "two.png", factor, 2)
                assert one.size == two.size == hr.size, (one.size, two.size, hr.size)
                bic = lr.resize(hr.size, Image.BICUBIC)
                rows.append((factor, hr_path.name, psnr_y(one, hr, factor),
                             psnr_y(two, hr, factor), psnr_y(bic, hr, factor), t1, t2))
    print(f"model {model}")
    print(f"{'x':>3} {'photo':<12} {'1 pass dB':>10} {'2 passes dB':>12} {'bicubic dB':>11}"
          f" {'1 pass s':>9} {'2 passes s':>11}")
    for f, name, a, b, c, t1, t2 in rows:
        print(f"{f:>3} {name:<12} {a:>10.2f} {b:>12.2f} {c:>11.2f} {t1:>9.2f} {t2:>11.2f}")
    for factor in (8, 16):
        r = [x for x in rows if x[0] == factor]
        m = [sum(x[i] for x in r) / len(r) for i in (2, 3, 4)]
        print(f"{factor:>3} {'mean':<12} {m[0]:>10.2f} {m[1]:>12.2f} {m[2]:>11.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
