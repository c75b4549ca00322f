"""The Python package against srgan-run: bit-identical outputs, bad inputs, threads."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srgan
from conftest import photo


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("runtime", ["ort", "tract"])
def test_file_and_array_match_srgan_run(tmp_path, model, srgan_run, photos, runtime):
    up = srgan.Upscaler(model, runtime=runtime, threads=2)
    for src in sorted(photos.iterdir()):
        ref = tmp_path / f"ref_{src.name}"
        srgan_run("-m", model, "-i", src, "-o", ref, "--runtime", runtime, "--threads", 2, "-q")
        mine = tmp_path / f"py_{src.name}"
        up.upscale_file(src, mine)
        # The same bytes: pixels, encoder settings and metadata.
        assert mine.read_bytes() == ref.read_bytes(), src.name
        if src.suffix == ".png":
            out = up.upscale(read(src))
            np.testing.assert_array_equal(out, read(ref))
        encoded = up.upscale_bytes(src.read_bytes(), name=src.name)
        assert encoded == ref.read_bytes(), src.name


def test_tiled_matches_srgan_run_tiled_and_whole(tmp_path, model, srgan_run):
    src = tmp_path / "big.png"
    Image.fromarray(photo(1, (90, 70))).save(src)
    ref = tmp_path / "ref.png"
    srgan_run("-m", model, "-i", src, "-o", ref, "--tile", 24, "--threads", 2, "-q")
    tiled = srgan.Upscaler(model, tile=24, threads=2).upscale(read(src))
    np.testing.assert_array_equal(tiled, read(ref))
    # The model's exact radius makes tiles seamless: the whole image gives the same pixels.
    whole = srgan.Upscaler(model, tile=0, threads=2).upscale(read(src))
    np.testing.assert_array_equal(whole, tiled)


def test_output_path_names_as_a_folder_run(tmp_path, model, srgan_run, photos):
    out = tmp_path / "out"
    srgan_run("-m", model, "-i", photos, "-o", out, "--threads", 2, "-q")
    written = sorted(p.name for p in out.iterdir())
    named = sorted(Path(srgan.output_path(p, out)).name for p in photos.iterdir())
    assert written == named
    assert Path(srgan.output_path("a/x.JPEG", "o")) == Path("o/x.jpg")
    assert Path(srgan.output_path("a/x.JPEG", "o", format="png")) == Path("o/x.png")
    assert Path(srgan.output_path("a/noext", "o", head=b"\xff\xd8\xff\xe0")) == Path("o/noext.jpg")


def test_dtypes_layouts_and_alpha(model):
    up = srgan.Upscaler(model, threads=2)
    px = photo(2, (24, 20))
    out8 = up.upscale(px)
    assert out8.shape == (96, 80, 3) and out8.dtype == np.uint8
    out16 = up.upscale(px.astype(np.uint16) * 257)
    assert out16.shape == (96, 80, 3) and out16.dtype == np.uint16
    # The same model output, quantised to 16 bits instead of 8.
    assert np.abs(out16.astype(np.int32) / 257 - out8).max() <= 1
    outf = up.upscale(px.astype(np.float32) / 255)
    assert outf.dtype == np.float32 and 0 <= outf.min() and outf.max() <= 1
    assert np.abs(outf * 255 - out8).max() <= 1
    # Strided (not contiguous) input is read as the array it is.
    np.testing.assert_array_equal(up.upscale(np.asfortranarray(px)), out8)
    rgba = np.dstack([px, np.full(px.shape[:2], 200, np.uint8)])
    out = up.upscale(rgba)
    assert out.shape == (96, 80, 4)
    np.testing.assert_array_equal(out[..., :3], out8)
    assert (out[..., 3] == 200).all()
    grey = up.upscale(px[..., 0].copy())
    assert grey.shape == (96, 80) and grey.dtype == np.uint8
    assert up.upscale(px[..., :1].copy()).shape == (96, 80, 1)
    assert up.upscale(np.dstack([px[..., :1], px[..., :1]])).shape == (96, 80, 2)
    assert up.scale == 4
    info = up.info
    assert info["scale"] == 4 and info["precision"] == "fp32"
    assert info["architecture"]["arch"] == "srresnet" and info["architecture"]["blocks"] == 8
    assert info["runtime"] == "ort-cpu"


def test_bad_arrays_are_value_or_type_errors(model):
    up = srgan.Upscaler(model, threads=1)
    cases = [
        (np.zeros((4, 4, 5), np.uint8), ValueError, "shape"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "at least 1x1"),
        (np.zeros((4, 4, 3, 1), np.uint8), ValueError, "shape"),
        (np.zeros((4, 4, 3), np.int32), TypeError, "int32"),
        (np.zeros((4, 4, 3), np.float64), TypeError, "float64"),
        ([[1, 2, 3]], TypeError, "numpy array"),
        (np.full((4, 4, 3), np.nan, np.float32), ValueError, "NaN"),
    ]
    for arr, exc, words in cases:
        with pytest.raises(exc, match=words):
            up.upscale(arr)


def test_errors_are_one_line_and_name_the_file(tmp_path, model):
    with pytest.raises(srgan.SrganError, match="nope.onnx: no such model file"):
        srgan.Upscaler(tmp_path / "nope.onnx")
    not_a_model = tmp_path / "m.onnx"
    not_a_model.write_bytes(b"not onnx")
    with pytest.raises(srgan.SrganError, match="m.onnx"):
        srgan.Upscaler(not_a_model)
    with pytest.raises(ValueError, match="runtime"):
        srgan.Upscaler(model, runtime="nope")
    with pytest.raises(ValueError, match="device"):
        srgan.Upscaler(model, device="gpu7")
    with pytest.raises(ValueError, match="tile"):
        srgan.Upscaler(model, tile=3)
    with pytest.raises(ValueError, match="threads"):
        srgan.Upscaler(model, threads=0)
    up = srgan.Upscaler(model, threads=1)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(srgan.SrganError) as e:
        up.upscale_file(bad, tmp_path / "out.png")
    assert "bad.png" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(srgan.SrganError, match="<upload>"):
        up.upscale_bytes(b"garbage", name="<upload>")
    with pytest.raises(ValueError, match="format"):
        up.upscale_bytes(b"garbage", format="gif")
    good = tmp_path / "good.png"
    Image.fromarray(photo(0, (16, 16))).save(good)
    with pytest.raises(srgan.SrganError, match="not an output format"):
        up.upscale_file(good, tmp_path / "out.xyz")
    with pytest.raises(srgan.SrganError, match="replace the input"):
        up.upscale_file(good, good, overwrite=True)
    # An existing output is kept, and the error is also a FileExistsError.
    dst = tmp_path / "exists.png"
    dst.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        up.upscale_file(good, dst)
    with pytest.raises(srgan.OutputExistsError):
        up.upscale_file(good, dst)
    assert dst.read_bytes() == b"keep me"
    up.upscale_file(good, dst, overwrite=True)
    assert read(dst).shape == (64, 64, 3)
    # No temporary file is left beside the outputs.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.onnx", "bad.png", "good.png", "exists.png"]
    )


def test_shared_and_parallel_use_from_threads(model):
    images = [photo(i, (32 + 4 * i, 28)) for i in range(6)]
    shared = srgan.Upscaler(model, threads=1)
    expected = [shared.upscale(im) for im in images]
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def work(worker: int, up: srgan.Upscaler) -> None:
        try:
            for i, im in enumerate(images):
                results[(worker, i)] = up.upscale(im)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    # One Upscaler shared by four threads, and one Upscaler per thread.
    for make in (lambda: shared, lambda: srgan.Upscaler(model, threads=1)):
        results.clear()
        threads = [threading.Thread(target=work, args=(w, make())) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for (w, i), out in results.items():
            np.testing.assert_array_equal(out, expected[i])
        assert len(results) == 4 * len(images)


def test_the_gil_is_released_during_inference(model):
    up = srgan.Upscaler(model, threads=1)
    big = photo(3, (160, 160))
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    up.upscale(big)
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    # With the GIL held for the whole call the counter could not tick at all during it.
    assert elapsed > 0.05, "the image is too small to tell"
    assert ticks >= 10, f"only {ticks} ticks in {elapsed:.2f} s: the GIL was held"


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (valid signature and IHDR), then junk."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\0" * 64
    )


def test_error_classes_of_files_bytes_and_arrays(tmp_path, model):
    up = srgan.Upscaler(model, threads=1, max_output_pixels=1 << 20)
    truncated = tmp_path / "t.png"
    good = np.asarray(photo(0, (16, 16)))
    buf = tmp_path / "good.png"
    Image.fromarray(good).save(buf)
    truncated.write_bytes(buf.read_bytes()[:60])
    with pytest.raises(srgan.InputError, match="t.png"):
        up.upscale_file(truncated, tmp_path / "o.png")
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_declaring(30000, 30000))
    # Refused on its header: nothing is decoded.
    for call in (lambda: up.upscale_file(huge, tmp_path / "o.png"),
                 lambda: up.upscale_bytes(huge.read_bytes(), name="huge.png")):
        start = time.perf_counter()
        with pytest.raises(srgan.TooLargeError, match="huge.png"):
            call()
        assert time.perf_counter() - start < 1.0
    # A float TIFF decodes to a colour type the pipeline does not take: the input's fault.
    import tifffile

    ftiff = tmp_path / "f.tif"
    tifffile.imwrite(ftiff, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(srgan.InputError, match="colour type"):
        up.upscale_bytes(ftiff.read_bytes(), name="f.tif")
    # An array whose output is over the limit is refused on its shape, before any copy.
    view = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3))
    start = time.perf_counter()
    with pytest.raises(srgan.TooLargeError, match="max_output_pixels"):
        up.upscale(view)
    assert time.perf_counter() - start < 1.0
    assert not (tmp_path / "o.png").exists()


def test_bad_arguments_name_themselves(model):
    cases = [
        (dict(threads=-1), ValueError, "threads -1"),
        (dict(threads=10**20), ValueError, "threads"),
        (dict(threads=True), TypeError, "threads: expected .* got a bool"),
        (dict(max_memory_mib=-1), ValueError, "max_memory_mib"),
        (dict(max_output_pixels=0), ValueError, "max_output_pixels"),
        (dict(tile_pad=-1), ValueError, "tile_pad"),
        (dict(jpeg_quality=300), ValueError, "jpeg_quality 300"),
        (dict(tile=True), TypeError, "tile: expected"),
        (dict(tile=2**70), ValueError, "tile"),
    ]
    for kwargs, exc, words in cases:
        with pytest.raises(exc, match=words):
            srgan.Upscaler(model, **kwargs)


def test_write_atomic_never_replaces_what_is_not_a_file(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(srgan.SrganError, match="not a regular file"):
        srgan.write_atomic(fifo, b"x", overwrite=True)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(srgan.OutputExistsError):
        srgan.write_atomic(fifo, b"x")
    srgan.write_atomic(tmp_path / "f.bin", b"abc")
    assert (tmp_path / "f.bin").read_bytes() == b"abc"
