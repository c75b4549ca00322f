#!/usr/bin/env python3
"""Fetch the few files of BasicSR 1.4.2 that NIQE needs into third_party/basicsr/ (gitignored).

BasicSR's NIQE (`basicsr/metrics/niqe.py`) is the reference that `srgan_imaging::niqe` is tested
against (imaging/tests/niqe.rs through scripts/niqe_basicsr.py), and its pristine-model
parameters (`niqe_pris_params.npz`) are what both read. Only the source archive (sdist) on the
Python package registry is used: its sha256 is pinned below, the archive is downloaded to a
temporary file and checked before anything is extracted, and each extracted file is written to a
temporary name and renamed, so an interrupted run leaves either the old file or the new one.

    .venv/bin/python scripts/fetch_basicsr.py [--out third_party/basicsr]

Idempotent: does nothing when every file is there and the npz has its pinned sha256.
"""
import argparse
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import urllib.request

NAME = "basicsr-1.4.2.tar.gz"
SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
SIMPLE = "https://pypi.org/simple/basicsr/"
PREFIX = "basicsr-1.4.2/"
# member of the archive (under PREFIX) -> file name in --out
FILES = {
    "basicsr/metrics/niqe_pris_params.npz": "niqe_pris_params.npz",
    "basicsr/metrics/niqe.py": "niqe.py",
    "basicsr/metrics/metric_util.py": "metric_util.py",
    "basicsr/utils/color_util.py": "color_util.py",
    "basicsr/utils/matlab_functions.py": "matlab_functions.py",
    "basicsr/utils/registry.py": "registry.py",
    # The degradation model's reference (imaging/tests/degrade_parity.rs through
    # scripts/degrade_reference.py): kernels and filter2D.
    "basicsr/data/degradations.py": "degradations.py",
    "basicsr/utils/img_process_util.py": "img_process_util.py",
    "LICENSE.txt": "LICENSE.txt",
}
NPZ = "niqe_pris_params.npz"
# sha256 of basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz inside the archive above.
NPZ_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def up_to_date(out):
    if not all(os.path.isfile(os.path.join(out, f)) for f in FILES.values()):
        return False
    return sha256_file(os.path.join(out, NPZ)) == NPZ_SHA256


def archive_url():
    req = urllib.request.Request(SIMPLE, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        index = json.load(r)
    for f in index.get("files", []):
        if f.get("filename") == NAME:
            return f["url"]
    sys.exit(f"fetch_basicsr: {SIMPLE} lists no {NAME}")


def download(url, dst_dir):
    fd, tmp = tempfile.mkstemp(prefix=".basicsr-", suffix=".tar.gz.tmp", dir=dst_dir)
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=300) as r:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
        got = sha256_file(tmp)
        if got != SHA256:
            sys.exit(f"fetch_basicsr: {url} has sha256 {got}, expected {SHA256}: not extracting it")
        return tmp
    except BaseException:
        os.unlink(tmp)
        raise


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(root, "third_party", "basicsr"))
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    if up_to_date(out):
        print(f"fetch_basicsr: {out} is up to date", file=sys.stderr)
        return
    url = archive_url()
    print(f"fetch_basicsr: downloading {url}", file=sys.stderr)
    tmp = download(url, out)
    try:
        with tarfile.open(tmp, "r:gz") as tar:
            for member, name in FILES.items():
                try:
                    m = tar.getmember(PREFIX + member)
                except KeyError:
                    sys.exit(f"fetch_basicsr: {NAME} has no {PREFIX + member}")
                if not m.isfile():
                    sys.exit(f"fetch_basicsr: {PREFIX + member} in {NAME} is not a regular file")
                data = tar.extractfile(m).read()
                if name == NPZ and hashlib.sha256(data).hexdigest() != NPZ_SHA256:
                    sys.exit(f"fetch_basicsr: {PREFIX + member} has sha256 "
                             f"{hashlib.sha256(data).hexdigest()}, expected {NPZ_SHA256}")
                write_atomic(os.path.join(out, name), data)
    finally:
        os.unlink(tmp)
    print(f"fetch_basicsr: wrote {len(FILES)} files into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
