"""Type stubs of the `srgan` package (the Rust extension `srgan._srgan`)."""

import os
from typing import Any, Literal, Optional, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]
_Pixels = Union[npt.NDArray[np.uint8], npt.NDArray[np.uint16], npt.NDArray[np.float32]]

available_runtimes: list[str]
"""The runtimes this build can open: ["ort", "tract"]."""

image_extensions: list[str]
"""The extensions a folder run takes as images: png, jpg, jpeg, webp, tif, tiff, bmp, gif."""

class SrganError(Exception):
    """A model, image or file that srgan cannot use; the message (one line) names it."""

class OutputExistsError(SrganError, FileExistsError):
    """The output file exists and overwrite was not asked for."""

class InputError(SrganError, ValueError):
    """An image that does not decode, or that is (or whose output is) over a limit."""

class TooLargeError(InputError):
    """An image over a limit: the decoder's, max_output_pixels, or the memory budget."""

class Upscaler:
    """A super-resolution model opened once on a runtime.

    model: an .onnx file, or a shipped model's name ("srresnet_x4", "srgan_x4"); None: the
    default shipped model. runtime: "ort" (ONNX Runtime) or "tract" (pure Rust). device:
    "cpu", "cuda[:N]", "tensorrt[:N]" (ort only; never a silent CPU fallback). tile: "auto"
    (whole images when they fit max_memory_mib, else the largest tiles that do), 0 (whole
    images) or a tile side of at least 16 LR pixels. threads: intra-op threads (None: all
    cores). Calls release the GIL; one Upscaler serialises its own calls, so it may be
    shared by threads; create one per thread to run images in parallel.
    """

    def __init__(
        self,
        model: Optional[_Path] = None,
        runtime: Literal["ort", "tract"] = "ort",
        device: str = "cpu",
        tile: Union[Literal["auto"], int, None] = None,
        threads: Optional[int] = None,
        max_memory_mib: Optional[int] = None,
        tile_pad: Optional[int] = None,
        jpeg_quality: Optional[int] = None,
        max_output_pixels: Optional[int] = None,
        ort_library: Optional[_Path] = None,
    ) -> None: ...
    @property
    def scale(self) -> int:
        """The upscaling factor."""
    @property
    def info(self) -> dict[str, Any]:
        """model, runtime, scale, receptive_field_radius, effective_radius, architecture,
        precision, producer and the raw metadata."""
    def upscale(self, array: _Pixels) -> _Pixels:
        """(H, W, 3) or (H, W, 4) (also (H, W), (H, W, 1), (H, W, 2)) uint8, uint16 or
        float32 in [0, 1] -> the same dtype and layout, scale times larger; alpha is
        resampled (bicubic), float outputs are clamped to [0, 1]."""
    def upscale_file(self, src: _Path, dst: _Path, overwrite: bool = False) -> None:
        """As `srgan-run -i src -o dst`: the format from dst's extension (.png .jpg .webp
        .tif), written atomically, colour profile and EXIF kept. Raises OutputExistsError
        when dst exists and not overwrite."""
    def upscale_bytes(
        self, data: bytes, format: Optional[str] = None, name: str = "<bytes>"
    ) -> bytes:
        """Encoded image bytes in, encoded bytes out (format: png, jpg, webp or tif; None:
        the input's). name names the image in errors."""

def output_path(
    input: _Path,
    out_dir: _Path,
    format: Optional[str] = None,
    head: Optional[bytes] = None,
) -> str:
    """Where a folder run (`srgan-run -i DIR -o out_dir`) writes the output of input."""

def write_atomic(path: _Path, data: bytes, overwrite: bool = False) -> None:
    """Writes data as srgan-run writes outputs: a temporary file beside path, synced and
    renamed into place. Raises OutputExistsError when path exists and not overwrite."""
