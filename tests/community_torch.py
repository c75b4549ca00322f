"""PyTorch's output of Real-ESRGAN's official weights, for tests/integration/community.rs.

    python community_torch.py MANIFEST.json

The manifest lists cases {"weights", "arch", "config", "input", "shape", "out"}: the weights
file (.pth read by torch.load, .safetensors F16/F32 read by hand), the architecture as
scripts/community_weights.py recorded it from the ncnn graph (not as our importer detects it),
a raw little-endian f32 NCHW input in [0, 1]. The network is python/torch_reference.py's
RRDBNet or SRVGGNetCompact (BasicSR's and Real-ESRGAN's code), run in float64; the output is
clamped to [0, 1] and written as raw f32. The comparison is the Rust test's.

A case with "ncnn": {"param", "bin", "out"} also runs the package's ORIGINAL ncnn files through
ncnn's own Python binding (CPU, fp32 arithmetic: scripts/check_community_weights.py), a second
reference that shares no code with ours or with PyTorch; its output is clamped and written too.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "scripts"))
from torch_reference import RRDBNet, SRVGGNetCompact, load_community, load_safetensors  # noqa: E402
from check_community_weights import param_io, run_ncnn  # noqa: E402


def network(arch, cfg):
    if arch == "RRDBNet":
        return RRDBNet(cfg["num_in_ch"], cfg["num_out_ch"], scale=cfg["scale"],
                       num_feat=cfg["num_feat"], num_block=cfg["num_block"],
                       num_grow_ch=cfg["num_grow_ch"])
    if arch == "SRVGGNetCompact":
        return SRVGGNetCompact(cfg["num_in_ch"], cfg["num_out_ch"], num_feat=cfg["num_feat"],
                               num_conv=cfg["num_conv"], upscale=cfg["upscale"],
                               act_type=cfg["act_type"])
    raise ValueError(f"unknown architecture {arch!r}")


def main(manifest_path):
    with open(manifest_path) as f:
        cases = json.load(f)["cases"]
    torch.set_num_threads(2)
    for case in cases:
        weights = case["weights"]
        if weights.endswith(".safetensors"):
            _, tensors = load_safetensors(weights, dtypes=("F16", "F32"))
            state = {k: torch.from_numpy(v.astype(np.float32)) for k, v in tensors.items()}
        else:
            state = load_community(weights)
        net = network(case["arch"], case["config"])
        net.load_state_dict(state, strict=True)
        net = net.double().eval()
        x = np.fromfile(case["input"], dtype="<f4").reshape(case["shape"])
        with torch.no_grad():
            y = net(torch.from_numpy(x).double()).clamp(0.0, 1.0).float().numpy()
        y.astype("<f4").tofile(case["out"])
        if "ncnn" in case:
            n = case["ncnn"]
            inp, out, _ = param_io(n["param"])
            (z,) = run_ncnn(n["param"], n["bin"], np.ascontiguousarray(x[0]), [inp, out], 2)
            np.clip(z, 0.0, 1.0)[None].astype("<f4").tofile(n["out"])
        print(f"{Path(weights).name}: {tuple(y.shape)}")


if __name__ == "__main__":
    main(sys.argv[1])
