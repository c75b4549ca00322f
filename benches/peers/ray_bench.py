"""Throughput of the Python package, the Ray Data batch job and the Ray Serve deployment
against srgan-run on the same folder, in one run (BENCHMARKS.md, "Python, Ray and Serve").

    .venv/bin/python benches/peers/ray_bench.py [--images 24] [--size 128] [--model M]
        [--srgan-run target/release/srgan-run] [--out benches/results/ray.json]

The photos are crops of skimage's public-domain images (offline). Each figure is the best
of --repeats runs; a local Ray cluster on 127.0.0.1 with as many CPUs as the machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pysrgan" / "tests"))
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import srgan  # noqa: E402
from conftest import photo  # noqa: E402


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--model", default=str(ROOT / "models/x4/srresnet_x4.onnx"))
    p.add_argument("--srgan-run", default=str(ROOT / "target/release/srgan-run"))
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--out")
    a = p.parse_args()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="srgan-ray-bench-"))
    src = work / "in"
    src.mkdir()
    for i in range(a.images):
        Image.fromarray(photo(i, (a.size, a.size))).save(src / f"img{i:03d}.png")
    n = a.images
    results: dict[str, float] = {}

    def fresh(name: str) -> Path:
        d = work / name
        shutil.rmtree(d, ignore_errors=True)
        return d

    # srgan-run over the folder, all cores (its own decode/infer/encode threads).
    def cli() -> None:
        subprocess.run(
            [a.srgan_run, "-m", a.model, "-i", src, "-o", fresh("cli"), "-q",
             "--threads", str(cores)], check=True)

    results["srgan-run (folder, one process)"] = n / best(cli, a.repeats)

    # The Python package in one process, one image after another.
    up = srgan.Upscaler(a.model, threads=cores)

    def python_loop() -> None:
        out = fresh("py")
        out.mkdir()
        for f in sorted(src.iterdir()):
            up.upscale_file(f, out / f.name)

    results["srgan.Upscaler.upscale_file loop (one process)"] = n / best(python_loop, a.repeats)

    import ray

    t = time.perf_counter()
    ray.init(num_cpus=cores, _node_ip_address="127.0.0.1", include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    ray_start = time.perf_counter() - t
    from srgan.batch import upscale_folder

    for actors, threads in [(cores, 1), (1, cores)]:
        def job() -> None:
            s = upscale_folder(str(src), str(fresh("ray")), model=a.model, actors=actors,
                               threads=threads, batch_size=4, cpus_per_actor=1)
            assert s.ok == n and not s.failed, s

        results[f"Ray Data job, {actors} actor(s) x {threads} thread(s)"] = n / best(job, a.repeats)

    from ray import serve

    from srgan.serve import deployment

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(deployment(max_ongoing_requests=2, num_cpus=1).bind(model=a.model, threads=cores),
              name="srgan", route_prefix="/upscale")
    import requests

    url = f"http://127.0.0.1:{port}/upscale"
    bodies = [f.read_bytes() for f in sorted(src.iterdir())]
    requests.post(url, data=bodies[0], timeout=120).raise_for_status()  # warm

    def one(i: int) -> float:
        t = time.perf_counter()
        r = requests.post(url, data=bodies[i % n], timeout=300)
        r.raise_for_status()
        return time.perf_counter() - t

    serve_rows = {}
    for conc in (1, 8):
        t = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            lat = np.array(list(pool.map(one, range(a.requests))))
        wall = time.perf_counter() - t
        serve_rows[conc] = {
            "p50_s": float(np.percentile(lat, 50)),
            "p95_s": float(np.percentile(lat, 95)),
            "images_per_s": a.requests / wall,
        }
    serve.shutdown()
    ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    print(f"{n} PNGs of {a.size}x{a.size}, x4 to {4 * a.size}x{4 * a.size}, {a.model}, "
          f"{cores} cores; Ray start {ray_start:.1f} s (not counted)")
    print("| path | images/s | vs srgan-run |\n| --- | --- | --- |")
    base = results["srgan-run (folder, one process)"]
    for k, v in results.items():
        print(f"| {k} | {v:.2f} | {v / base:.2f}x |")
    print("\n| Serve, concurrent clients | p50 | p95 | images/s |\n| --- | --- | --- | --- |")
    for conc, r in serve_rows.items():
        print(f"| {conc} | {r['p50_s']:.3f} s | {r['p95_s']:.3f} s | {r['images_per_s']:.2f} |")
    if a.out:
        Path(a.out).write_text(json.dumps({
            "images": n, "size": a.size, "model": a.model, "cores": cores,
            "machine": platform.platform(), "ray_start_s": ray_start,
            "throughput_images_per_s": results, "serve": serve_rows,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
