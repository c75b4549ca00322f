#!/usr/bin/env python3
"""Peers of srgan-bench: the same model, inputs and thread count in the Python stack.

Guards against the regression "our Rust pipeline quietly became slower than the Python stack it
replaces": srgan-bench runs this script (with the project's .venv python) and prints our figures
beside these, with the ratios. Run it by hand too:

    .venv/bin/python benches/peers/peers.py model --onnx M.onnx --checkpoint M.safetensors \
        --sizes 64,128 --batches 1 --threads 2 --json peers.json

Subcommands:

- ``model``: the same .onnx in onnxruntime-python and the same weights in PyTorch eager (the
  network of the checkpoint's architecture, SRResNet, RRDBNet or SRVGGNetCompact, rebuilt by
  python/torch_reference.py from the safetensors checkpoint), at the same LR sizes and batches
  as srgan-bench, on the same inputs (a deterministic pattern both sides compute identically);
  with ``--ncnn-param/--ncnn-bin``, the same network's ncnn files in ncnn's CPU engine (fp32:
  fp16/bf16 storage and arithmetic off, its other defaults kept; one sample per call);
  a 2048x2048 sgemm in PyTorch (the machine's ceiling as PyTorch sees it); one training step
  of the generator (MSE, Adam, batch 16 of 96x96 HR crops), as srgan-train's pretrain phase
  (SRResNet only: the network srgan-train trains).
- ``pipeline``: a Real-ESRGAN-style inference script over a folder: decode with PIL, infer
  (onnxruntime or PyTorch), clamp/round, encode PNG with PIL, one image after the other.
- ``photos``: writes the bench photos (square crops of scikit-image's bundled CC0 photos,
  resized) that srgan-bench feeds to srgan-run and to ``pipeline``.

Timing follows srgan-bench: one warm-up call, then up to ``--iterations`` timed calls (at least
``--min-iterations``, then stop once ``--budget-s`` is spent); p50 and p95 are nearest-rank.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# Golden ratio pattern: x[i] = frac(i * PHI) over the flat NCHW index, as srgan-bench makes it.
PHI = 0.6180339887498949


# scikit-image's bundled colour photos (public domain / CC0), in this order.
PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "ihc.png",
    "retina.jpg",
    "motorcycle_right.png",
    "color.png",
]


def fail(msg):
    print(f"peers.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def pattern(shape):
    import numpy as np

    n = 1
    for d in shape:
        n *= d
    x = np.modf(np.arange(n, dtype=np.float64) * PHI)[0].astype(np.float32)
    return x.reshape(shape)


def nearest_rank(sorted_values, q):
    import math

    n = len(sorted_values)
    k = min(max(math.ceil(q * n), 1), n)
    return sorted_values[k - 1]


def summarise(samples):
    s = sorted(samples)
    return {
        "samples": len(s),
        "p50_s": nearest_rank(s, 0.50),
        "p95_s": nearest_rank(s, 0.95),
        "mean_s": sum(s) / len(s),
        "min_s": s[0],
        "max_s": s[-1],
    }


def time_loop(fn, iterations, min_iterations, budget_s):
    """One warm-up call (timed apart), then the timed calls."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    samples = []
    start = time.perf_counter()
    while len(samples) < iterations and (
        len(samples) < min_iterations or time.perf_counter() - start < budget_s
    ):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    out = summarise(samples)
    out["first_call_s"] = first
    return out


# ---------------------------------------------------------------------------------------------
# The checkpoint and the network (names and structure: export/src/checkpoint.rs's module doc).


def torch_reference():
    """python/torch_reference.py (imported on first use: it imports torch)."""
    root = Path(__file__).resolve().parents[2] / "python"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import torch_reference

    return torch_reference


def load_safetensors(path):
    """`(architecture config, tensors)` of a generator checkpoint."""
    try:
        return torch_reference().load_checkpoint(path)
    except (OSError, ValueError) as e:
        fail(str(e))


def build_generator(config, tensors):
    """The checkpoint's network (SRResNet, RRDBNet or SRVGGNetCompact, dispatched on the
    config's `arch` key) with its tensor names, built by the shared PyTorch reference; returns
    the raw generator and its LR and HR ranges."""
    try:
        return torch_reference().build_generator(config, tensors)
    except ValueError as e:
        fail(str(e))


def Deployed(g, lr_range, hr_range):
    """The generator as the ONNX graph behaves: LR in [0, 1] in, SR in [0, 1] out."""
    return torch_reference().Deployed(g, lr_range, hr_range).eval()


def ort_session(onnx_path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return sess, sess.get_inputs()[0].name


def versions(loaded_only=False):
    """Library versions; with `loaded_only`, of the modules already imported (so that a
    pipeline's wall time does not pay for importing torch just to report its version)."""
    out = {"python": platform.python_version()}
    for mod in ("numpy", "onnxruntime", "torch", "PIL"):
        if loaded_only and mod not in sys.modules:
            continue
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            out[mod] = f"unavailable: {e}"
    return out


def parse_ints(s):
    return [int(v) for v in s.split(",") if v.strip()]


# ---------------------------------------------------------------------------------------------
# ncnn (the engine of Real-ESRGAN-ncnn-vulkan; its CPU path here).


def sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def param_blobs(param_path):
    """(input blob, output blob) of an ncnn .param: the `Input` layer's top, and the one blob
    no layer consumes."""
    lines = [ln.split() for ln in Path(param_path).read_text().splitlines()[2:] if ln.strip()]
    consumed, produced, inputs = set(), [], []
    for f in lines:
        nb, nt = int(f[2]), int(f[3])
        bottoms, tops = f[4 : 4 + nb], f[4 + nb : 4 + nb + nt]
        consumed.update(bottoms)
        produced.extend(tops)
        if f[0] == "Input":
            inputs.extend(tops)
    outputs = [b for b in produced if b not in consumed]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"{param_path}: inputs {inputs}, outputs {outputs}: expected one of each")
    return inputs[0], outputs[0]


def ncnn_files(a):
    """The ncnn files of the arguments, resolved (inside `--ncnn-package` when given) and
    checked against the given SHA-256s; returns a dict describing them. Raises ValueError."""
    param, binf = Path(a.ncnn_param), Path(a.ncnn_bin)
    if a.ncnn_package:
        import importlib.util

        spec = importlib.util.find_spec(a.ncnn_package)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"Python package {a.ncnn_package} is not installed")
        root = Path(list(spec.submodule_search_locations)[0]).parent
        param, binf = root / param, root / binf
    for p, want in ((param, a.ncnn_param_sha256), (binf, a.ncnn_bin_sha256)):
        if not p.is_file():
            raise ValueError(f"{p}: no such file")
        if want and sha256(p) != want.lower():
            raise ValueError(f"{p}: SHA-256 differs from the manifest's {want}")
    inp, out = param_blobs(param)
    return {
        "param": str(param),
        "bin": str(binf),
        "sha256_checked": bool(a.ncnn_param_sha256 or a.ncnn_bin_sha256),
        "input_blob": a.ncnn_input or inp,
        "output_blob": a.ncnn_output or out,
    }


def ncnn_net(files, threads):
    """ncnn's CPU engine in fp32 (python/ncnn_reference.py) with the model's files loaded."""
    root = Path(__file__).resolve().parents[2] / "python"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from ncnn_reference import fp32_net

    return fp32_net(files["param"], files["bin"], threads)


def ncnn_infer(net, files, x):
    """`[N, 3, H, W]` through the net, one sample per extractor (ncnn has no batch axis)."""
    import ncnn
    import numpy as np

    outs = []
    for i in range(x.shape[0]):
        ex = net.create_extractor()
        ex.input(files["input_blob"], ncnn.Mat(np.ascontiguousarray(x[i])))
        ret, m = ex.extract(files["output_blob"])
        if ret != 0:
            raise RuntimeError(f"ncnn: extract {files['output_blob']} failed ({ret})")
        outs.append(np.array(m))
        del m, ex  # ncnn's Mats hold the net's pool allocator: release them before the net
    return np.stack(outs)


# ---------------------------------------------------------------------------------------------
# Subcommands.


def cmd_model(a):
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    report = {
        "tool": "peers.py",
        "threads": a.threads,
        "versions": versions(),
        "model": [],
        "notes": [],
    }
    sizes, batches = parse_ints(a.sizes), parse_ints(a.batches)

    sess, input_name = ort_session(a.onnx, a.threads)
    deployed = None
    generator = None
    if a.checkpoint:
        config, tensors = load_safetensors(a.checkpoint)
        generator, lr_range, hr_range = build_generator(config, tensors)
        deployed = Deployed(generator, lr_range, hr_range)
        report["architecture"] = config
    else:
        report["notes"].append("no --checkpoint: PyTorch eager was not timed")

    ncnn = None
    if a.ncnn_param:
        try:
            files = ncnn_files(a)
            ncnn = (ncnn_net(files, a.threads), files)
            report["ncnn"] = files
            report["versions"]["ncnn"] = __import__("ncnn").__version__
        except (ImportError, ValueError) as e:
            report["notes"].append(f"ncnn was not timed: {e}")

    for lr in sizes:
        for n in batches:
            x = pattern((n, 3, lr, lr))
            r = time_loop(
                lambda: sess.run(None, {input_name: x}),
                a.iterations,
                a.min_iterations,
                a.budget_s,
            )
            r.update(peer="onnxruntime-python", lr=lr, batch=n)
            report["model"].append(r)
            print(f"  onnxruntime-python lr{lr}/b{n}: p50 {r['p50_s']:.4f} s", file=sys.stderr)
            if deployed is not None:
                xt = torch.from_numpy(x)
                with torch.inference_mode():
                    r = time_loop(
                        lambda: deployed(xt), a.iterations, a.min_iterations, a.budget_s
                    )
                    if lr == sizes[0] and n == batches[0]:
                        diff = float(
                            np.abs(deployed(xt).numpy() - sess.run(None, {input_name: x})[0]).max()
                        )
                        report["parity_max_abs_diff_torch_vs_ort"] = diff
                r.update(peer="pytorch-eager", lr=lr, batch=n)
                report["model"].append(r)
                print(f"  pytorch-eager      lr{lr}/b{n}: p50 {r['p50_s']:.4f} s", file=sys.stderr)
            if ncnn is not None:
                net, files = ncnn
                r = time_loop(
                    lambda: ncnn_infer(net, files, x), a.iterations, a.min_iterations, a.budget_s
                )
                if lr == sizes[0] and n == batches[0]:
                    y = np.clip(ncnn_infer(net, files, x), 0.0, 1.0)
                    ref = sess.run(None, {input_name: x})[0]
                    if y.shape != ref.shape:
                        fail(f"ncnn's output is {y.shape}, onnxruntime's {ref.shape}: not the same model")
                    report["parity_max_abs_diff_ncnn_vs_ort"] = float(np.abs(y - ref).max())
                r.update(peer="ncnn-cpu", lr=lr, batch=n)
                report["model"].append(r)
                print(f"  ncnn-cpu           lr{lr}/b{n}: p50 {r['p50_s']:.4f} s", file=sys.stderr)

    if a.sgemm > 0:
        m = a.sgemm
        ga = torch.from_numpy(pattern((m, m)) * 2 - 1)
        gb = torch.from_numpy(pattern((m, m)) * 2 - 1)
        r = time_loop(lambda: torch.mm(ga, gb), a.iterations, a.min_iterations, a.budget_s)
        r.update(peer="pytorch-sgemm", size=m, gflop=2 * m**3 / 1e9)
        r["gflops"] = r["gflop"] / r["p50_s"]
        report["sgemm"] = r
        print(f"  pytorch sgemm {m}: {r['gflops']:.1f} GFLOP/s", file=sys.stderr)

    ncnn = net = None  # the net released here, not while the interpreter tears ncnn down

    srresnet = generator is not None and config.get("arch", "srresnet") == "srresnet"
    if generator is not None and a.train_iterations > 0 and not srresnet:
        report["notes"].append(
            f"training step not timed: {config.get('arch')} (srgan-train trains SRResNet)"
        )
    if srresnet and a.train_iterations > 0:
        report["train_step"] = train_step(generator, lr_range, hr_range, config, a)
        t = report["train_step"]
        print(f"  pytorch-eager train step: p50 {t['p50_s']:.4f} s", file=sys.stderr)

    write_json(report, a.json)


def train_step(g, lr_range, hr_range, config, a):
    """One SRResNet-MSE iteration as srgan-train's pretrain phase does it: G forward in
    training mode (BatchNorm batch statistics), MSE against HR in the training range,
    backward, Adam (lr 1e-4, betas 0.9/0.999, eps 1e-8) step. Batch made beforehand."""
    import torch

    s = config["scale"]
    crop = a.train_crop
    n = a.train_batch
    lr = torch.from_numpy(pattern((n, 3, crop // s, crop // s)))
    hr = torch.from_numpy(pattern((n, 3, crop, crop)))
    lr = lr * (lr_range[1] - lr_range[0]) + lr_range[0]
    hr = hr * (hr_range[1] - hr_range[0]) + hr_range[0]
    g.train()
    opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(g(lr), hr)
        loss.backward()
        opt.step()
        return loss.item()

    r = time_loop(step, a.train_iterations, min(a.min_iterations, a.train_iterations), a.budget_s)
    r.update(peer="pytorch-eager-train", batch=n, crop=crop)
    g.eval()
    return r


def cmd_pipeline(a):
    """Real-ESRGAN-style: for each file, PIL decode -> float CHW -> infer -> clamp, round ->
    uint8 HWC -> PIL encode PNG. Sequential, as that script is."""
    import numpy as np
    from PIL import Image

    t_start = time.perf_counter()
    if a.engine == "ort":
        sess, input_name = ort_session(a.onnx, a.threads)

        def infer(x):
            return sess.run(None, {input_name: x})[0]

    else:
        import torch

        torch.set_num_threads(a.threads)
        if not a.checkpoint:
            fail("--engine torch needs --checkpoint")
        config, tensors = load_safetensors(a.checkpoint)
        g, lr_range, hr_range = build_generator(config, tensors)
        model = Deployed(g, lr_range, hr_range)

        def infer(x):
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()

    t_loaded = time.perf_counter()
    inputs = sorted(
        p for p in Path(a.input).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )
    if not inputs:
        fail(f"{a.input}: no .png/.jpg files")
    out_dir = Path(a.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image = []
    first_written = None
    for p in inputs:
        t = time.perf_counter()
        img = Image.open(p).convert("RGB")
        x = np.ascontiguousarray(
            (np.asarray(img, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]
        )
        y = infer(x)
        y = np.clip(y[0], 0.0, 1.0).transpose(1, 2, 0)
        y = (y * 255.0).round().astype(np.uint8)
        Image.fromarray(y).save(out_dir / (p.stem + ".png"))
        per_image.append(time.perf_counter() - t)
        if first_written is None:
            first_written = time.perf_counter() - t_start
    t_end = time.perf_counter()
    report = {
        "tool": "peers.py",
        "pipeline": f"python-{a.engine}",
        "threads": a.threads,
        "images": len(inputs),
        "load_s": t_loaded - t_start,
        "images_s": t_end - t_loaded,
        "in_script_s": t_end - t_start,
        "first_image_in_script_s": first_written,
        "per_image": summarise(per_image),
        "versions": versions(loaded_only=True),
    }
    write_json(report, a.json)


def cmd_photos(a):
    from PIL import Image

    try:
        import skimage
    except ImportError as e:
        fail(f"scikit-image is not installed ({e}); run scripts/setup.sh")
    data = Path(skimage.__file__).parent / "data"
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(a.count):
        name = PHOTOS[i % len(PHOTOS)]
        src = data / name
        if not src.is_file():
            fail(f"{src}: missing from scikit-image's data folder")
        img = Image.open(src).convert("RGB")
        w, h = img.size
        side = min(w, h)
        img = img.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        if i >= len(PHOTOS):
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = img.resize((a.size, a.size), Image.Resampling.BICUBIC)
        dst = out / f"photo_{i:02d}_{Path(name).stem}.png"
        img.save(dst)
        written.append(str(dst))
    print(json.dumps({"photos": written}))


def write_json(report, path):
    text = json.dumps(report, indent=2)
    if path:
        Path(path).write_text(text + "\n")
    else:
        print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("model", help="model time in onnxruntime-python and PyTorch eager")
    m.add_argument("--onnx", required=True)
    m.add_argument("--checkpoint")
    m.add_argument("--sizes", default="64,128,256")
    m.add_argument("--batches", default="1")
    m.add_argument("--threads", type=int, default=os.cpu_count())
    m.add_argument("--iterations", type=int, default=10)
    m.add_argument("--min-iterations", type=int, default=3)
    m.add_argument("--budget-s", type=float, default=30.0)
    m.add_argument("--sgemm", type=int, default=2048, help="sgemm size (0: skip)")
    m.add_argument("--train-batch", type=int, default=16)
    m.add_argument("--train-crop", type=int, default=96)
    m.add_argument("--train-iterations", type=int, default=5, help="0: skip")
    m.add_argument("--ncnn-param", help="ncnn .param of the same network: time ncnn's CPU engine")
    m.add_argument("--ncnn-bin", help="its .bin")
    m.add_argument("--ncnn-package", help="the Python package the two paths are relative to")
    m.add_argument("--ncnn-param-sha256")
    m.add_argument("--ncnn-bin-sha256")
    m.add_argument("--ncnn-input", help="input blob (default: the Input layer's)")
    m.add_argument("--ncnn-output", help="output blob (default: the one no layer consumes)")
    m.add_argument("--json")

    q = sub.add_parser("pipeline", help="Real-ESRGAN-style folder pipeline")
    q.add_argument("--engine", choices=["ort", "torch"], required=True)
    q.add_argument("--onnx")
    q.add_argument("--checkpoint")
    q.add_argument("--input", required=True)
    q.add_argument("--output", required=True)
    q.add_argument("--threads", type=int, default=os.cpu_count())
    q.add_argument("--json")

    f = sub.add_parser("photos", help="write the bench photos")
    f.add_argument("--out", required=True)
    f.add_argument("--count", type=int, default=10)
    f.add_argument("--size", type=int, default=128)

    a = p.parse_args()
    if a.cmd == "model":
        if bool(a.ncnn_param) != bool(a.ncnn_bin):
            fail("--ncnn-param and --ncnn-bin go together")
        cmd_model(a)
    elif a.cmd == "pipeline":
        if a.engine == "ort" and not a.onnx:
            fail("--engine ort needs --onnx")
        cmd_pipeline(a)
    else:
        cmd_photos(a)


if __name__ == "__main__":
    main()
