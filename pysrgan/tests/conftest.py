"""Fixtures of the Python package's tests: the srgan-run binary they compare against, the
shipped model, and small photos (skimage's public-domain images, offline)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "x4" / "srresnet_x4.onnx"


def srgan_run_binary() -> Path:
    """srgan-run as built by `cargo test` (scripts/test.sh) or SRGAN_RUN."""
    env = os.environ.get("SRGAN_RUN")
    for candidate in ([Path(env)] if env else []) + [
        ROOT / "target" / "debug" / "srgan-run",
        ROOT / "target" / "release" / "srgan-run",
    ]:
        if candidate.is_file():
            return candidate
    pytest.fail("srgan-run is not built: run `cargo build -p srgan` (or set SRGAN_RUN)")


@pytest.fixture(scope="session")
def srgan_run():
    binary = srgan_run_binary()

    def run(*args: str | os.PathLike) -> subprocess.CompletedProcess:
        cmd = [str(binary), *map(str, args)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{cmd} failed: {done.stderr}"
        return done

    return run


@pytest.fixture(scope="session")
def model() -> Path:
    assert MODEL.is_file(), f"{MODEL} is missing (it is committed with the repository)"
    return MODEL


def photo(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A crop of one of skimage's photos, (h, w, 3) uint8, picked by seed."""
    from skimage import data

    sources = [data.astronaut, data.chelsea, data.coffee, data.rocket]
    img = sources[seed % len(sources)]()
    h, w = size
    rng = np.random.default_rng(seed)
    y = int(rng.integers(0, img.shape[0] - h))
    x = int(rng.integers(0, img.shape[1] - w))
    return np.ascontiguousarray(img[y : y + h, x : x + w, :3])


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """A folder of six small photos: PNGs and JPEGs of a few sizes, one RGBA."""
    d = tmp_path_factory.mktemp("photos")
    for i in range(6):
        px = photo(i, (40 + 8 * i, 56 - 4 * i))
        if i == 5:
            alpha = np.linspace(0, 255, px.shape[1], dtype=np.uint8)[None, :].repeat(px.shape[0], 0)
            Image.fromarray(np.dstack([px, alpha]), "RGBA").save(d / f"p{i}.png")
        elif i % 2:
            Image.fromarray(px).save(d / f"p{i}.jpg", quality=90)
        else:
            Image.fromarray(px).save(d / f"p{i}.png")
    return d
