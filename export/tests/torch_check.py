"""Independent numeric check of the Rust reference pass and the exported ONNX graph.

Builds SRResNet in PyTorch from standard modules (nn.Conv2d, nn.BatchNorm2d in eval mode,
nn.PReLU(C), nn.PixelShuffle) whose parameter names are the checkpoint's tensor names, loads a
checkpoint written by the Rust test (safetensors parsed by hand: 8-byte little-endian header
length, JSON header, raw little-endian data), runs it in float64, and runs the exported .onnx in
onnxruntime. Used by export/tests/export/numeric.rs.

    python torch_check.py MANIFEST.json

The manifest lists cases: {"name", "checkpoint", "onnx", "input", "shape", "torch_out",
"ort_out"}. Inputs and outputs are raw little-endian f32, NCHW. The comparison is done by the
Rust test, so that this script cannot pass by itself.
"""
import json
import struct
import sys

import numpy as np
import onnxruntime as ort
import torch
from torch import nn


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        data = np.frombuffer(raw[base + start : base + end], dtype="<f4")
        tensors[name] = data.reshape(info["shape"]).copy()
    return meta, tensors


class Block(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c, eps=eps)
        self.prelu = nn.PReLU(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c, eps=eps)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class Head(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 9, padding=4)
        self.prelu = nn.PReLU(c)

    def forward(self, x):
        return self.prelu(self.conv(x))


class Trunk(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c, eps=eps)

    def forward(self, x):
        return self.bn(self.conv(x))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 4 * c, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.prelu = nn.PReLU(c)

    def forward(self, x):
        return self.prelu(self.shuffle(self.conv(x)))


class Tail(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 3, 9, padding=4)

    def forward(self, x):
        return self.conv(x)


class Generator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, eps = cfg["channels"], cfg["bn_eps"]
        self.lr_range = cfg["lr_range"]
        self.hr_range = cfg["hr_range"]
        self.head = Head(c)
        self.blocks = nn.ModuleList([Block(c, eps) for _ in range(cfg["blocks"])])
        self.trunk = Trunk(c, eps)
        stages = {2: 1, 4: 2, 8: 3}[cfg["scale"]]
        self.upsample = nn.ModuleList([Upsample(c) for _ in range(stages)])
        self.tail = Tail(c)

    def forward(self, x):
        lo, hi = self.lr_range
        x = x * (hi - lo) + lo
        h = self.head(x)
        y = h
        for b in self.blocks:
            y = b(y)
        y = self.trunk(y) + h
        for u in self.upsample:
            y = u(y)
        y = self.tail(y)
        lo, hi = self.hr_range
        return ((y - lo) / (hi - lo)).clamp(0.0, 1.0)


def build(checkpoint):
    meta, tensors = load_safetensors(checkpoint)
    cfg = json.loads(meta["srgan.generator"])
    g = Generator(cfg)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    missing, unexpected = g.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{checkpoint}: names differ from PyTorch's: missing {missing}, "
                         f"unexpected {unexpected}")
    return g.double().eval()


def main(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    for case in manifest["cases"]:
        shape = case["shape"]
        x = np.fromfile(case["input"], dtype="<f4").reshape(shape)
        g = build(case["checkpoint"])
        with torch.no_grad():
            y = g(torch.from_numpy(x).double()).float().numpy()
        y.astype("<f4").tofile(case["torch_out"])

        sess = ort.InferenceSession(case["onnx"], providers=["CPUExecutionProvider"])
        names = ([i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()])
        if names != (["lr"], ["sr"]):
            raise ValueError(f"{case['onnx']}: inputs/outputs are {names}, expected lr/sr")
        (z,) = sess.run(None, {"lr": x})
        if z.shape != y.shape:
            raise ValueError(f"{case['name']}: onnxruntime shape {z.shape}, torch {y.shape}")
        z.astype("<f4").tofile(case["ort_out"])
        print(f"{case['name']}: {tuple(y.shape)}")


if __name__ == "__main__":
    main(sys.argv[1])
