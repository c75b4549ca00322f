#!/usr/bin/env python3
"""Extract the training and held-out photos of the x4 model from the scikit-image wheel.

Reproducible and offline: reads only the files that the scikit-image wheel ships in
`skimage/data/` (installed in the project's venv by scripts/setup.sh), writes PNGs into
`data/train/` and `data/heldout/` (gitignored) and `data/MANIFEST.json` listing every file with
its source, size, SHA-256 and the license quoted from scikit-image's `skimage/data/_fetchers.py`.

    .venv/bin/python scripts/make_data.py [--out data]

Held out (never trained on): chelsea (the bundled demo photo) and coffee.
Greyscale photos are replicated to three channels. Images without a clearly stated free license
in scikit-image (moon, page, the Middlebury motorcycle pair, color, logo, phantom) are not used.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import skimage
from PIL import Image

DATA = os.path.join(os.path.dirname(skimage.__file__), "data")

# name -> (file in skimage/data, split, license as stated in skimage/data/_fetchers.py)
PHOTOS = [
    ("chelsea", "chelsea.png", "heldout", "CC0 by the photographer (Stefan van der Walt): 'No copyright restrictions.'"),
    ("coffee", "coffee.png", "heldout", "CC0 by the photographer (Rachel Michetti): 'No copyright restrictions.'"),
    ("astronaut", "astronaut.png", "train", "NASA Great Images database: 'No known copyright restrictions, released into the public domain.'"),
    ("rocket", "rocket.jpg", "train", "SpaceX (Flickr spacexphotos/16511594820): 'released in the public domain'"),
    ("hubble_deep_field", "hubble_deep_field.jpg", "train", "NASA: 'may be freely used in the public domain'"),
    ("retina", "retina.jpg", "train", "Creative Commons CC0 1.0 Universal Public Domain Dedication (Häggström)"),
    ("immunohistochemistry", "ihc.png", "train", "CMMI: 'No known copyright restrictions.'"),
    ("camera", "camera.png", "train", "CC0 by the photographer (Lav Varshney): 'No copyright restrictions.'"),
    ("brick", "brick.png", "train", "CC0Textures (Bricks25), Creative Commons CC0 License"),
    ("grass", "grass.png", "train", "CC0Textures, Creative Commons CC0 License"),
    ("gravel", "gravel.png", "train", "CC0Textures (Gravel04), Creative Commons CC0 License"),
    ("coins", "coins.png", "train", "Brooklyn Museum Collection: 'No known copyright restrictions.'"),
    ("cell", "cell.png", "train", "CC0, dedicated to the public domain"),
    ("text", "text.png", "train", "Wikipedia File:Corner.png: 'No known copyright restrictions, released into the public domain.'"),
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data")
    args = ap.parse_args()
    manifest = {
        "source": f"scikit-image {skimage.__version__} wheel, skimage/data/",
        "licenses_from": "skimage/data/_fetchers.py docstrings",
        "files": [],
    }
    for split in ("train", "heldout"):
        os.makedirs(os.path.join(args.out, split), exist_ok=True)
    for name, fname, split, lic in PHOTOS:
        src = os.path.join(DATA, fname)
        if not os.path.exists(src):
            sys.exit(f"missing {src}: install the scikit-image wheel (scripts/setup.sh)")
        arr = np.asarray(Image.open(src))
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
            note = "greyscale, replicated to RGB"
        else:
            arr = arr[..., :3]
            note = "RGB"
        dst = os.path.join(args.out, split, name + ".png")
        Image.fromarray(np.ascontiguousarray(arr)).save(dst, optimize=False)
        manifest["files"].append({
            "name": name,
            "split": split,
            "path": os.path.relpath(dst, args.out),
            "source_file": fname,
            "source_sha256": sha256(src),
            "width": int(arr.shape[1]),
            "height": int(arr.shape[0]),
            "mode": note,
            "license": lic,
        })
        print(f"{split:8s} {name:22s} {arr.shape[1]}x{arr.shape[0]} {note}")
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}/MANIFEST.json")


if __name__ == "__main__":
    main()
