"""srgan: super-resolution with the Rust core of srgan-run, from Python.

    import srgan, numpy as np
    up = srgan.Upscaler("models/x4/srresnet_x4.onnx", runtime="ort", threads=2)
    out = up.upscale(np.asarray(pil_image))      # (H, W, 3) uint8 -> (4H, 4W, 3) uint8
    up.upscale_file("photo.jpg", "photo_x4.jpg")  # as srgan-run -i photo.jpg -o photo_x4.jpg

Outputs are bit-identical to srgan-run's for the same model, runtime and threads: the same
Rust code decodes, tiles, runs and encodes. ONNX Runtime (runtime="ort") is the library of
the installed `onnxruntime` wheel unless ORT_DYLIB_PATH or `ort_library=` names another.
"""

from __future__ import annotations

import glob
import importlib.util
import os


def _onnxruntime_library() -> str | None:
    """libonnxruntime.so of the installed onnxruntime wheel, found without importing it."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(root, "capi", "libonnxruntime.so*")))
        found = [f for f in found if not f.endswith(".py")]
        if found:
            # The versioned file (libonnxruntime.so.1.32.0) sorts last.
            return found[-1]
    return None


if not os.environ.get("ORT_DYLIB_PATH"):
    _lib = _onnxruntime_library()
    if _lib is not None:
        os.environ["ORT_DYLIB_PATH"] = _lib

from . import _srgan  # noqa: E402
from ._srgan import (  # noqa: E402
    SrganError,
    Upscaler,
    available_runtimes,
    image_extensions,
    output_path,
    write_atomic,
)


class OutputExistsError(SrganError, FileExistsError):
    """The output file exists and overwrite was not asked for."""


class InputError(SrganError, ValueError):
    """An image that cannot be used: it does not decode, or it or its output is over a
    limit (a server answers it with a 4xx)."""


class TooLargeError(InputError):
    """An image over a limit: the decoder's, max_output_pixels, or the memory budget."""


_srgan.OutputExistsError = OutputExistsError
_srgan.InputError = InputError
_srgan.TooLargeError = TooLargeError

__all__ = [
    "InputError",
    "OutputExistsError",
    "SrganError",
    "TooLargeError",
    "Upscaler",
    "available_runtimes",
    "image_extensions",
    "output_path",
    "write_atomic",
]
