#!/usr/bin/env python3
"""Reference outputs for imaging/tests/degrade_parity.rs, from BasicSR's and PyTorch's own code.

Kernels: BasicSR 1.4.2's `basicsr/data/degradations.py` (bivariate_Gaussian,
bivariate_generalized_Gaussian, bivariate_plateau, circular_lowpass_kernel); the blur: its
`basicsr/utils/img_process_util.py` filter2D; the resizes: torch.nn.functional.interpolate
(area, bilinear, bicubic; align_corners=False, no antialias), as Real-ESRGAN's model calls them.
The two BasicSR files come from its source archive (scripts/fetch_basicsr.py, run by
scripts/setup.sh into third_party/basicsr/). Nothing here re-implements their math.

    .venv/bin/python scripts/degrade_reference.py IMAGE.png  > reference.json

Prints JSON: {"kernels": {name: [k*k values]}, "filter2d": [c*h*w], "resize": {"mode WxH": [..]}}.
"""
import importlib.util
import json
import os
import sys
import types

import numpy as np
import torch
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "third_party", "basicsr")


def load(name, file):
    path = os.path.join(ROOT, file)
    if not os.path.isfile(path):
        sys.exit(f"degrade_reference: {path} not found: run scripts/setup.sh")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# degradations.py imports cv2 and torchvision at the top but the functions used here need
# neither: stand-ins keep the imports working without installing them.
sys.modules.setdefault("cv2", types.ModuleType("cv2"))
for name in ["torchvision", "torchvision.transforms", "torchvision.transforms.functional_tensor",
             "torchvision.transforms.functional"]:
    m = sys.modules.setdefault(name, types.ModuleType(name))
    m.rgb_to_grayscale = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("not used"))
deg = load("basicsr_degradations", "degradations.py")
ipu = load("basicsr_img_process_util", "img_process_util.py")

# Each kernel: (name, function, args) with the same parameters as the Rust test.
KERNELS = [
    ("gaussian_aniso", deg.bivariate_Gaussian, (21, 2.0, 0.7, 0.6), {"isotropic": False}),
    ("gaussian_iso", deg.bivariate_Gaussian, (7, 1.3, 1.3, 0.0), {"isotropic": True}),
    ("generalized", deg.bivariate_generalized_Gaussian, (15, 1.5, 0.8, -1.0, 0.7), {"isotropic": False}),
    ("plateau", deg.bivariate_plateau, (13, 1.2, 2.5, 0.3, 1.5), {"isotropic": False}),
    ("sinc", deg.circular_lowpass_kernel, (1.3, 17), {"pad_to": 0}),
]
SIZES = [(37, 23), (101, 77), (50, 50), (1, 3)]


def main():
    img = np.asarray(Image.open(sys.argv[1]).convert("RGB"), dtype=np.float32) / 255.0
    x = torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0)
    out = {"kernels": {}, "resize": {}}
    for name, f, args, kw in KERNELS:
        out["kernels"][name] = np.asarray(f(*args, **kw), dtype=np.float64).ravel().tolist()
    k = torch.from_numpy(np.asarray(deg.bivariate_Gaussian(21, 2.0, 0.7, 0.6, isotropic=False),
                                    dtype=np.float32)).unsqueeze(0)
    out["filter2d"] = ipu.filter2D(x, k)[0].numpy().ravel().tolist()
    for mode in ["area", "bilinear", "bicubic"]:
        for w, h in SIZES:
            kw = {} if mode == "area" else {"align_corners": False}
            y = torch.nn.functional.interpolate(x, size=(h, w), mode=mode, **kw)
            out["resize"][f"{mode} {w}x{h}"] = y[0].numpy().ravel().tolist()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
