"""The srgan generators rebuilt in PyTorch from standard modules: the independent reference.

SRResNet (Ledig et al., arXiv 1609.04802) from nn.Conv2d, nn.BatchNorm2d, nn.PReLU(C) and
nn.PixelShuffle, with parameter names equal to the checkpoint's tensor names (structure and
names: export/src/checkpoint.rs's module doc). Nothing here comes from the Rust code but the
names, so agreement with it is evidence. Used by the exporter's numeric tests
(export/tests/torch_check.py) and by the bench's PyTorch peers (benches/peers/peers.py), which
put this folder on sys.path.
"""
import json
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

# The checkpoint metadata key that holds the architecture (JSON).
META_CONFIG = "srgan.generator"


def load_safetensors(path):
    """Parses a safetensors file by hand (no `safetensors` package needed): 8-byte
    little-endian header length, JSON header, raw little-endian data. Returns
    `(metadata, {name: float32 array})`; raises ValueError naming the file."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if 8 + header_len > len(raw):
        raise ValueError(f"{path}: not a safetensors file (header length {header_len} past the end)")
    header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        lo, hi = info["data_offsets"]
        tensors[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(info["shape"]).copy()
    return meta, tensors


def load_checkpoint(path):
    """`(architecture config, tensors)` of a generator checkpoint; raises ValueError."""
    meta, tensors = load_safetensors(path)
    if META_CONFIG not in meta:
        raise ValueError(f"{path}: metadata has no `{META_CONFIG}` (not an srgan generator checkpoint)")
    return json.loads(meta[META_CONFIG]), tensors


class Head(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 9, padding=4)
        self.prelu = nn.PReLU(c)

    def forward(self, x):
        return self.prelu(self.conv(x))


class ResidualBlock(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c, eps=eps)
        self.prelu = nn.PReLU(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c, eps=eps)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


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


class SRResNet(nn.Module):
    """Raw output in the training HR range (what the trainer's loss sees)."""

    def __init__(self, config):
        super().__init__()
        c, eps = config["channels"], config.get("bn_eps", 1e-5)
        stages = {2: 1, 4: 2, 8: 3}[config["scale"]]
        self.head = Head(c)
        self.blocks = nn.ModuleList([ResidualBlock(c, eps) for _ in range(config["blocks"])])
        self.trunk = Trunk(c, eps)
        self.upsample = nn.ModuleList([Upsample(c) for _ in range(stages)])
        self.tail = Tail(c)

    def forward(self, x):
        h = self.head(x)
        y = h
        for b in self.blocks:
            y = b(y)
        y = self.trunk(y) + h
        for u in self.upsample:
            y = u(y)
        return self.tail(y)


class Deployed(nn.Module):
    """The generator as the ONNX graph behaves: LR in [0, 1] in, SR in [0, 1] out."""

    def __init__(self, g, lr_range, hr_range):
        super().__init__()
        self.g = g
        self.lr_range = tuple(lr_range)
        self.hr_range = tuple(hr_range)

    def forward(self, x):
        lo, hi = self.lr_range
        if (lo, hi) != (0.0, 1.0):
            x = x * (hi - lo) + lo
        y = self.g(x)
        lo, hi = self.hr_range
        return torch.clamp((y - lo) / (hi - lo), 0.0, 1.0)


def build_generator(config, tensors):
    """The SRResNet of `config` with the checkpoint's `tensors` loaded, in eval mode, and its
    LR and HR ranges. Raises ValueError when the names differ from PyTorch's."""
    g = SRResNet(config)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    missing, unexpected = g.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not match the SRResNet: missing {missing}, unexpected {unexpected}"
        )
    lr_range = tuple(config.get("lr_range", [0.0, 1.0]))
    hr_range = tuple(config.get("hr_range", [-1.0, 1.0]))
    return g.eval(), lr_range, hr_range


def deployed(checkpoint):
    """The checkpoint's generator as the exported graph behaves ([0, 1] in and out)."""
    config, tensors = load_checkpoint(checkpoint)
    return Deployed(*build_generator(config, tensors)).eval()
