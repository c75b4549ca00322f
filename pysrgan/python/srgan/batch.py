"""Batch upscaling on Ray Data: a folder (local, or any URI a pyarrow filesystem reads:
s3://, gs://, hdfs://, ...) through an actor pool of `srgan.Upscaler`s.

    python -m srgan.batch -i photos/ -o out/ -m model.onnx [--address auto]

- Each actor loads the model once (`map_batches` over a pool of `UpscaleActor`s), then takes
  batches of encoded images: decoding, tiling, the model and encoding are srgan-run's Rust
  code, so every output is byte-identical to `srgan-run -i photos/ -o out/`'s.
- Outputs have srgan-run's names (`srgan.output_path`) and are written as it writes them:
  to a temporary name, then moved into place, never replacing an existing file. Inputs
  whose output exists are skipped before anything is read, as `srgan-run --skip-existing`
  does, so a job that was stopped resumes where it stopped.
- A bad image is that image's failure, reported with its path; the others go on.
- The input is a folder or a list of files (`--list`), as paths or URIs.
- Nothing here is specific to one machine: with `--address auto` (or RAY_ADDRESS) the same
  job runs on every node of a cluster, reading and writing through the URI's filesystem.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import pyarrow.fs as pafs

import srgan


@dataclass
class BatchSummary:
    """What a job did: outputs written, skipped (their output existed) and failed."""

    ok: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"srgan.batch: {self.ok} ok, {self.skipped} skipped (output exists), "
            f"{len(self.failed)} failed ({self.seconds:.2f} s)"
        )


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a URI or local path, and the path within it."""
    if "://" in uri:
        return pafs.FileSystem.from_uri(uri)
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def _is_local(fs: pafs.FileSystem) -> bool:
    return isinstance(fs, pafs.LocalFileSystem)


def _uri(fs: pafs.FileSystem, path: str, like: str) -> str:
    """`path` of `fs` as a string `_filesystem` reads back: a local path, or `like`'s scheme
    with the path."""
    if _is_local(fs):
        return path
    return f"{like.split('://', 1)[0]}://{path}"


def _listing(input: Union[str, Sequence[str]]) -> list[str]:
    """The inputs: a folder's image files (by extension, not hidden, not recursive, as
    srgan-run), or the given list of files or URIs as they are."""
    if not isinstance(input, str):
        return [str(p) for p in input]
    in_fs, in_root = _filesystem(input)
    if in_fs.get_file_info(in_root).type != pafs.FileType.Directory:
        raise srgan.SrganError(f"{input}: not a folder")
    exts = set(srgan.image_extensions)
    return sorted(
        _uri(in_fs, f.path, input)
        for f in in_fs.get_file_info(pafs.FileSelector(in_root, recursive=False))
        if f.type == pafs.FileType.File
        and not f.base_name.startswith(".")
        and posixpath.splitext(f.base_name)[1][1:].lower() in exts
    )


def plan(
    input: Union[str, Sequence[str]], output: str, format: Optional[str] = None
) -> tuple[pafs.FileSystem, list[tuple[str, str]], int, list[tuple[str, str]]]:
    """The (input, output path) pairs of a job whose outputs do not exist yet, sorted, how
    many were skipped because they do, and the inputs that cannot run (their output is
    another input's, as srgan-run reports them). `input` is a folder (path or URI) or a list
    of image files (paths or URIs). The output folder is created."""
    out_fs, out_root = _filesystem(output)
    if isinstance(input, str):
        in_fs, in_root = _filesystem(input)
        if type(in_fs) is type(out_fs) and in_root.rstrip("/") == out_root.rstrip("/"):
            raise srgan.SrganError(
                f"{output}: the output folder is the input folder; the outputs would replace "
                "the inputs: choose another output folder"
            )
    names = _listing(input)
    if out_fs.get_file_info(out_root).type == pafs.FileType.File:
        raise srgan.SrganError(f"{output}: the output must be a folder, not a file")
    out_fs.create_dir(out_root, recursive=True)
    pairs = []
    for src in names:
        base = posixpath.basename(src)
        # srgan-run's rule: the stem and the extension of the input's format.
        named = os.path.basename(srgan.output_path(base, ".", format=format))
        pairs.append((src, posixpath.join(out_root, named)))
    claimed: dict[str, str] = {}
    unique, bad = [], []
    for src, dst in pairs:
        if dst in claimed:
            bad.append((src, f"{src}: its output {dst} is also the output of {claimed[dst]}"))
            continue
        claimed[dst] = src
        unique.append((src, dst))
    infos = out_fs.get_file_info([dst for _, dst in unique]) if unique else []
    todo = [(s, d) for (s, d), i in zip(unique, infos) if i.type == pafs.FileType.NotFound]
    return out_fs, todo, len(unique) - len(todo), bad


class UpscaleActor:
    """One model per actor (loaded once), upscaling batches of rows {src, dst}."""

    def __init__(
        self,
        model: Optional[str],
        runtime: str,
        threads: int,
        tile: Any,
        output: str,
        format: Optional[str],
        max_memory_mib: Optional[int] = None,
    ) -> None:
        self.upscaler = srgan.Upscaler(
            model, runtime=runtime, threads=threads, tile=tile, max_memory_mib=max_memory_mib
        )
        self.in_fs: Optional[pafs.FileSystem] = None
        self.out_fs, _ = _filesystem(output)
        self.format = format

    def _write(self, dst: str, data: bytes) -> None:
        if _is_local(self.out_fs):
            # srgan-run's own atomic write: never replaces a file another writer finished.
            srgan.write_atomic(dst, data)
            return
        # Object stores publish an object whole when its stream closes; the name is taken
        # only if still free.
        if self.out_fs.get_file_info(dst).type != pafs.FileType.NotFound:
            raise srgan.OutputExistsError(f"{dst}: output exists")
        tmp = posixpath.join(
            posixpath.dirname(dst), f".{posixpath.basename(dst)}.{uuid.uuid4().hex}.tmp"
        )
        with self.out_fs.open_output_stream(tmp) as f:
            f.write(data)
        self.out_fs.move(tmp, dst)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        status, errors = [], []
        for src, dst, data, read_error in zip(
            batch["src"], batch["dst"], batch["bytes"], batch["read_error"]
        ):
            if read_error:
                status.append("failed")
                errors.append(f"{src}: {read_error}")
                continue
            try:
                # The output's extension names its format, as for srgan-run (a JPEG named
                # .png still gives a PNG).
                fmt = self.format or posixpath.splitext(dst)[1][1:]
                out = self.upscaler.upscale_bytes(bytes(data), format=fmt, name=src)
                self._write(dst, out)
                status.append("ok")
                errors.append("")
            except FileExistsError:
                # Another run (or a retried task) wrote it meanwhile.
                status.append("skipped")
                errors.append("")
            except srgan.SrganError as e:
                status.append("failed")
                errors.append(str(e))
        return {"src": list(batch["src"]), "status": status, "error": errors}


def _read(row: dict[str, Any]) -> dict[str, Any]:
    try:
        fs, path = _filesystem(row["src"])
        with fs.open_input_file(path) as f:
            data = f.read()
        return {"src": row["src"], "dst": row["dst"], "bytes": data, "read_error": ""}
    except (OSError, ValueError) as e:
        return {"src": row["src"], "dst": row["dst"], "bytes": b"", "read_error": str(e)}


def upscale_folder(
    input: Union[str, Sequence[str]],
    output: str,
    model: Optional[str] = None,
    runtime: str = "ort",
    threads: int = 1,
    actors: int = 2,
    batch_size: int = 4,
    tile: Any = "auto",
    format: Optional[str] = None,
    max_memory_mib: Optional[int] = None,
    progress: bool = False,
    cpus_per_actor: float = 1,
) -> BatchSummary:
    """Upscales the images of `input` (a folder, or a list of image files; paths or URIs)
    into the folder `output` on the Ray cluster this process is connected to (`ray.init`
    first; a local one is started otherwise).

    `threads` is each actor's intra-op threads; `cpus_per_actor` the CPUs Ray reserves for
    it (set it to `threads` on a shared cluster, so that Ray packs actors by cores). A
    reservation above half the cluster's CPUs is refused: Ray Data 2.60 never starts such an
    actor pool (measured: one actor reserving 1.5 or 2 of 2 CPUs waits forever)."""
    import ray

    start = time.perf_counter()
    if not ray.is_initialized():
        ray.init()
    total = ray.cluster_resources().get("CPU", 0)
    if cpus_per_actor <= 0 or cpus_per_actor > max(1.0, total / 2):
        raise srgan.SrganError(
            f"cpus_per_actor {cpus_per_actor}: expected more than 0 and at most half of the "
            f"cluster's {total:g} CPUs (Ray Data does not start an actor pool that reserves more)"
        )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    if actors < 1 or batch_size < 1:
        raise srgan.SrganError(f"actors {actors}, batch_size {batch_size}: expected 1 or more")
    # The arguments and the model are checked here, once, before any actor starts: a bad one
    # is one error line, not an actor's traceback.
    srgan.Upscaler(model, runtime=runtime, threads=threads, tile=tile,
                   max_memory_mib=max_memory_mib)
    _, todo, skipped, bad = plan(input, output, format)
    summary = BatchSummary(skipped=skipped, failed=list(bad))
    if todo:
        ds = ray.data.from_items([{"src": s, "dst": d} for s, d in todo])
        # Reading is I/O: plain tasks, so the actors only upscale.
        ds = ds.map(_read)
        results = ds.map_batches(
            UpscaleActor,
            fn_constructor_kwargs={
                "model": None if model is None else str(model),
                "runtime": runtime,
                "threads": threads,
                "tile": tile,
                "output": output,
                "format": format,
                "max_memory_mib": max_memory_mib,
            },
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus_per_actor,
            batch_format="numpy",
        )
        for row in results.iter_rows():
            if row["status"] == "ok":
                summary.ok += 1
            elif row["status"] == "skipped":
                summary.skipped += 1
            else:
                summary.failed.append((row["src"], row["error"]))
    summary.seconds = time.perf_counter() - start
    return summary


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m srgan.batch",
        description="Upscale a folder (or a pyarrow filesystem URI) on a Ray cluster.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("-i", "--input", help="folder (path or URI) of the images")
    src.add_argument("--list", help="a file listing the images (paths or URIs), one a line; "
                     "blank lines and lines starting with # are skipped")
    p.add_argument("-o", "--output", required=True, help="folder or URI of the outputs")
    p.add_argument("-m", "--model", help="an .onnx file or a shipped model's name")
    p.add_argument("--runtime", default="ort", choices=["ort", "tract"])
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per actor")
    p.add_argument("--cpus-per-actor", type=float, default=1,
                   help="CPUs Ray reserves per actor (at most half the cluster's)")
    p.add_argument("--actors", type=int, default=2, help="actors (model copies) in the pool")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--tile", default="auto")
    p.add_argument("--format", choices=["png", "jpg", "webp", "tif"])
    p.add_argument("--max-memory", type=int, help="MiB per actor for tile=auto")
    p.add_argument("--address", help="the Ray cluster (default: RAY_ADDRESS, else a local one)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    a = p.parse_args(argv)
    import ray

    ray.init(address=a.address, log_to_driver=False)
    tile = int(a.tile) if a.tile.isdigit() else a.tile
    try:
        if a.list is not None:
            with open(a.list, encoding="utf-8") as f:
                inputs: Union[str, list[str]] = [
                    line.strip() for line in f if line.strip() and not line.startswith("#")
                ]
        else:
            inputs = a.input
        s = upscale_folder(
            inputs, a.output, a.model, a.runtime, a.threads, a.actors, a.batch_size, tile,
            a.format, a.max_memory, progress=not a.json, cpus_per_actor=a.cpus_per_actor,
        )
    except (srgan.SrganError, ValueError, TypeError, OSError) as e:
        print(f"srgan.batch: error: {e}", file=sys.stderr)
        return 2
    for src, err in s.failed:
        print(f"error: {err}", file=sys.stderr)
    print(s.line(), file=sys.stderr)
    if a.json:
        print(json.dumps({"ok": s.ok, "skipped": s.skipped, "failed": len(s.failed),
                          "seconds": round(s.seconds, 3)}))
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
