#!/usr/bin/env python3
"""BasicSR 1.4.2's own NIQE on image files: prints JSON {path: niqe}.

Runs `calculate_niqe` from third_party/basicsr/niqe.py (fetched by scripts/fetch_basicsr.py,
which scripts/setup.sh runs) exactly as BasicSR's metric code calls it: a BGR HWC uint8 image,
`crop_border` (default 0), `input_order='HWC'`, `convert_to='y'`. Nothing of BasicSR's math is
re-implemented here: the real niqe.py, metric_util.py, color_util.py and matlab_functions.py are
loaded from third_party/basicsr/. The only stand-ins are the modules those files import but do
not need for this: `cv2` (used by niqe.py only for convert_to='gray'), and the `basicsr`
packages, built here from the extracted files instead of BasicSR's __init__ (which imports
its whole training stack).

    .venv/bin/python scripts/niqe_basicsr.py [--crop-border N] IMAGE...

Reference for imaging/tests/niqe.rs (srgan_imaging::niqe must agree within 0.05).
"""
import argparse
import importlib.util
import json
import os
import sys
import types
import warnings

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASICSR = os.path.join(ROOT, "third_party", "basicsr")
NEEDED = ["niqe.py", "metric_util.py", "color_util.py", "matlab_functions.py", "registry.py",
          "niqe_pris_params.npz"]


def package(name):
    mod = types.ModuleType(name)
    mod.__path__ = []
    sys.modules[name] = mod
    return mod


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(BASICSR, file))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def basicsr_niqe():
    missing = [f for f in NEEDED if not os.path.isfile(os.path.join(BASICSR, f))]
    if missing:
        sys.exit(f"niqe_basicsr: {BASICSR} lacks {', '.join(missing)}: run scripts/setup.sh "
                 "(or .venv/bin/python scripts/fetch_basicsr.py)")
    # cv2 is only used for convert_to='gray', which we do not call.
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))
    package("basicsr")
    utils = package("basicsr.utils")
    metrics = package("basicsr.metrics")
    color_util = load("basicsr.utils.color_util", "color_util.py")
    utils.bgr2ycbcr = color_util.bgr2ycbcr
    utils.color_util = color_util
    utils.matlab_functions = load("basicsr.utils.matlab_functions", "matlab_functions.py")
    utils.registry = load("basicsr.utils.registry", "registry.py")
    metrics.metric_util = load("basicsr.metrics.metric_util", "metric_util.py")
    with warnings.catch_warnings():
        # scipy.ndimage.filters (deprecated alias of scipy.ndimage) as BasicSR 1.4.2 imports it.
        warnings.simplefilter("ignore", DeprecationWarning)
        metrics.niqe = load("basicsr.metrics.niqe", "niqe.py")
    return metrics.niqe.calculate_niqe


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crop-border", type=int, default=0)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    calculate_niqe = basicsr_niqe()
    out = {}
    for path in args.images:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # what cv2.imread gives BasicSR
        with warnings.catch_warnings():
            # np.mean of an empty selection in flat blocks: NaN, as BasicSR expects.
            warnings.simplefilter("ignore", RuntimeWarning)
            out[path] = calculate_niqe(bgr, args.crop_border, input_order="HWC", convert_to="y")
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
