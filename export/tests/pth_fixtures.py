"""Writes `.pth` files with torch.save, and the values every tensor in them must read as.

Usage: pth_fixtures.py OUT_DIR

Writes into OUT_DIR:
  bare.pth     a state dict of a small net (Conv2d, PReLU, BatchNorm2d, a Sequential)
  nested.pth   {"params_ema": sd, "params": sd2, "again": sd, "iter": 5, ...} (non-tensors
               mixed in; `again` is the same dict object as `params_ema`)
  half.pth     the same net's state dict after .half()
  views.pth    tensors saved as views: transposed, sliced (storage offset), stepped,
               permuted, sharing one storage; a Parameter, a 0-d and an empty tensor, a list
  dtypes.pth   float64, bfloat16 and integer/bool tensors
  legacy.pth   a state dict in the pre-1.6 format (_use_new_zipfile_serialization=False)
  module.pth   a whole module pickled (its class is `__main__.Net`)
  expected.json  {file: [{"name", "dtype", "shape", "start", "count"}, ...]} for the first five,
                 in the order `srgan_export::pth::read_pth` must return them
  expected.f32   every expected value as little-endian float32 (numpy), at `start`
"""

import copy
import json
import os
import sys

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Sequential(
            nn.Conv2d(8, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.PReLU()
        )

    def forward(self, x):
        return self.body(self.bn(self.prelu(self.conv(x))))


def trained_net(seed):
    torch.manual_seed(seed)
    net = Net()
    # One training-mode pass: running statistics and num_batches_tracked are not the defaults.
    with torch.no_grad():
        net(torch.randn(2, 3, 8, 8))
    return net


def flat(obj, prefix=""):
    """(name, tensor) in the order and with the names read_pth gives."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from flat(v, f"{prefix}.{i}" if prefix else str(i))


def as_f32(t):
    t = t.detach()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16; the widening is exact
        return t.float().numpy()
    return t.numpy().astype("<f4")


def main():
    out = sys.argv[1]
    a, b = trained_net(1), trained_net(2)
    sd = a.state_dict()
    torch.manual_seed(3)
    base = torch.randn(3, 8)
    files = {
        "bare.pth": sd,
        "nested.pth": {
            "params_ema": sd,
            "params": b.state_dict(),
            # The same dict object again: the pickle refers back to it through its memo.
            "again": sd,
            "iter": 5,
            "name": "srgan",
            "none": None,
            "lr": 1e-4,
        },
        "half.pth": copy.deepcopy(a).half().state_dict(),
        "views.pth": {
            "w": torch.randn(4, 6).t(),
            "s": torch.randn(10)[3:7],
            "cl": torch.randn(2, 3, 4, 5).permute(0, 2, 3, 1),
            "base": base,
            "stepped": base[1:, ::2],
            "p": nn.Parameter(torch.randn(3)),
            "scalar": torch.tensor(3.5),
            "empty": torch.zeros(0, 3),
            "list": [torch.randn(2), torch.randn(2, 2)[:, 1]],
        },
        "dtypes.pth": {
            "f64": torch.randn(5, dtype=torch.float64),
            "bf16": torch.randn(5).bfloat16(),
            "i64": torch.arange(-3, 3),
            "i32": torch.arange(-3, 3, dtype=torch.int32),
            "i16": torch.arange(-3, 3, dtype=torch.int16),
            "i8": torch.arange(-3, 3, dtype=torch.int8),
            "u8": torch.arange(250, 256, dtype=torch.uint8),
            "bool": torch.tensor([True, False, True]),
        },
    }
    expected = {}
    values = []
    start = 0
    for name, obj in files.items():
        torch.save(obj, os.path.join(out, name))
        entries = []
        for key, t in flat(obj):
            v = np.ascontiguousarray(as_f32(t)).ravel()
            entries.append(
                {
                    "name": key,
                    "dtype": str(t.dtype),
                    "shape": list(t.shape),
                    "start": start,
                    "count": int(v.size),
                }
            )
            values.append(v)
            start += v.size
        expected[name] = entries
    torch.save(a.state_dict(), os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(a, os.path.join(out, "module.pth"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
    np.concatenate(values).astype("<f4").tofile(os.path.join(out, "expected.f32"))


if __name__ == "__main__":
    main()
