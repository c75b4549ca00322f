"""The Ray Data batch job and the Ray Serve deployment on a local cluster (127.0.0.1 only):
outputs byte-identical to srgan-run's, restarts that skip finished work, bad inputs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import srgan

# No usage reports: nothing leaves the machine.
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(
        num_cpus=2,
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    try:
        from ray import serve

        serve.shutdown()
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def references(tmp_path_factory, model, srgan_run, photos):
    """srgan-run's outputs of the photos: as a folder run (same formats) and as PNG."""
    root = tmp_path_factory.mktemp("ref")
    srgan_run("-m", model, "-i", photos, "-o", root / "folder", "--threads", 1, "-q")
    png = root / "png"
    png.mkdir()
    for p in photos.iterdir():
        srgan_run("-m", model, "-i", p, "-o", png / f"{p.stem}.png", "--threads", 1, "-q")
    return root


def test_batch_job_matches_srgan_run_and_resumes(cluster, tmp_path, model, photos, references):
    from srgan.batch import upscale_folder

    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in photos.iterdir():
        (inputs / p.name).write_bytes(p.read_bytes())
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (inputs / "notes.txt").write_text("not an image")
    # JPEG bytes under a .png name: the output is a PNG, as srgan-run writes it.
    (inputs / "liar.png").write_bytes((photos / "p1.jpg").read_bytes())
    # Two inputs for one output name (z.bmp's output is z.png): the second in name order
    # fails alone, as in srgan-run.
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(inputs / "z.bmp")
    (inputs / "z.png").write_bytes((photos / "p0.png").read_bytes())
    out = tmp_path / "out"
    s = upscale_folder(str(inputs), str(out), model=str(model), actors=2, batch_size=2)
    assert (s.ok, s.skipped) == (8, 0), s
    failed = sorted(msg for _, msg in s.failed)
    assert len(failed) == 2 and "broken.png" in failed[0], failed
    assert "z.png: its output" in failed[1] and "also the output of" in failed[1], failed
    ref = references / "folder"
    expected = sorted([p.name for p in ref.iterdir()] + ["liar.png", "z.png"])
    assert sorted(p.name for p in out.iterdir()) == expected
    for p in ref.iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name
    liar = tmp_path / "liar_ref.png"
    import subprocess as sp

    from conftest import srgan_run_binary

    sp.run([str(srgan_run_binary()), "-m", str(model), "-i", str(inputs / "liar.png"), "-o",
            str(liar), "--threads", "1", "-q"], check=True)
    assert (out / "liar.png").read_bytes() == liar.read_bytes()
    with pytest.raises(srgan.SrganError, match="the output folder is the input folder"):
        upscale_folder(str(inputs), str(inputs), model=str(model))
    # A restart skips what is done (before reading it); a lost output is made again.
    victim = out / "p0.png"
    victim.unlink()
    s = upscale_folder(str(inputs), str(out), model=str(model), actors=1)
    assert (s.ok, s.skipped, len(s.failed)) == (1, 7, 2), s
    assert victim.read_bytes() == (ref / victim.name).read_bytes()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"


def test_batch_command_line_joins_a_running_cluster(cluster, tmp_path, model, photos, references):
    address = cluster.get_runtime_context().gcs_address
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "srgan.batch", "-i", str(photos), "-o", str(out),
         "-m", str(model), "--address", address, "--actors", "1", "--json",
         "--format", "png"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert done.returncode == 0, done.stderr
    assert '"ok": 6' in done.stdout, done.stdout
    for p in (references / "png").iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name
    bad = subprocess.run(
        [sys.executable, "-m", "srgan.batch", "-i", str(tmp_path / "missing"), "-o", str(out),
         "--address", address],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    assert bad.returncode == 2 and "missing" in bad.stderr.splitlines()[-1], bad.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_burst_bad_requests_and_recovery(cluster, model, photos, references):
    import requests
    from ray import serve

    from srgan.serve import deployment

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = deployment(max_ongoing_requests=2, max_queued_requests=32).bind(
        model=str(model), threads=1, max_request_bytes=1 << 20, max_output_pixels=1 << 20,
        body_timeout_s=2.0,
    )
    serve.run(app, name="srgan", route_prefix="/upscale")
    url = f"http://127.0.0.1:{port}/upscale"
    inputs = sorted(photos.iterdir())
    burst = inputs + inputs[:2]

    def post(p: Path) -> tuple[Path, int, bytes, float]:
        t = time.perf_counter()
        r = requests.post(url, data=p.read_bytes(), timeout=120)
        return p, r.status_code, r.content, time.perf_counter() - t

    start = time.perf_counter()
    with ThreadPoolExecutor(len(burst)) as pool:
        answers = list(pool.map(post, burst))
    wall = time.perf_counter() - start
    for p, status, body, _ in answers:
        assert status == 200, (p.name, status, body[:200])
        assert body == (references / "png" / f"{p.stem}.png").read_bytes(), p.name
    lat = np.array([a[3] for a in answers])
    print(
        f"serve burst of {len(burst)}: p50 {np.percentile(lat, 50):.3f} s, "
        f"p95 {np.percentile(lat, 95):.3f} s, {len(burst) / wall:.2f} images/s"
    )
    bad = requests.post(url, data=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, timeout=60)
    assert bad.status_code == 400 and "request" in bad.text, bad.text
    assert requests.post(url, data=b"", timeout=60).status_code == 400
    big = requests.post(url, data=b"\0" * (2 << 20), timeout=60)
    assert big.status_code == 413, big.text
    # An image whose output is over max_output_pixels (1 Mpx): refused before any work.
    from PIL import Image
    import io

    buf = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buf, "PNG")
    over = requests.post(url, data=buf.getvalue(), timeout=60)
    assert over.status_code == 413 and "max" in over.text.lower(), over.text
    assert requests.get(url, timeout=60).status_code == 405
    # Two clients that send headers and then stall hold both request slots only until the
    # body timeout: a good request behind them is still answered.
    stalled = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"POST /upscale HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\nab")
        stalled.append(sock)
    time.sleep(0.5)
    p, status, body, took = post(inputs[1])
    assert status == 200 and body == (references / "png" / f"{p.stem}.png").read_bytes()
    assert took < 30, took
    answer = stalled[0].recv(200)
    assert b" 408 " in answer.split(b"\r\n")[0], answer
    for sock in stalled:
        sock.close()
    # The replica still serves.
    p, status, body, _ = post(inputs[0])
    assert status == 200 and body == (references / "png" / f"{p.stem}.png").read_bytes()
    serve.delete("srgan")


def test_batch_refuses_a_reservation_ray_data_would_never_start(cluster, tmp_path, model, photos):
    from srgan.batch import upscale_folder

    # One actor reserving both CPUs of the cluster: Ray Data 2.60 waits forever for it.
    with pytest.raises(srgan.SrganError, match="cpus_per_actor 2"):
        upscale_folder(str(photos), str(tmp_path / "out"), model=str(model), actors=1,
                       threads=2, cpus_per_actor=2)
    # Two threads on a one-CPU reservation run.
    s = upscale_folder(str(photos), str(tmp_path / "out"), model=str(model), actors=1, threads=2)
    assert s.ok == 6 and not s.failed


def test_batch_reads_uris_and_lists(cluster, tmp_path, model, photos, references):
    from srgan.batch import upscale_folder

    # A folder given as a URI (pyarrow's file:// filesystem; s3://, gs:// go the same way).
    out = tmp_path / "uri"
    s = upscale_folder(photos.as_uri(), out.as_uri(), model=str(model), actors=1)
    assert (s.ok, len(s.failed)) == (6, 0), s
    for p in (references / "folder").iterdir():
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name
    # A list of files, as URIs and plain paths, one missing.
    files = sorted(photos.iterdir())
    listed = [files[0].as_uri(), str(files[1]), str(photos / "missing.png")]
    out = tmp_path / "list"
    s = upscale_folder(listed, str(out), model=str(model), actors=1)
    assert s.ok == 2 and len(s.failed) == 1 and "missing.png" in s.failed[0][1], s
    for p in files[:2]:
        name = Path(srgan.output_path(p, out)).name
        assert (out / name).read_bytes() == (references / "folder" / name).read_bytes()
