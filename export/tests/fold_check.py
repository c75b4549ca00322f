"""PyTorch's Conv2d + BatchNorm2d (eval mode) against the convolution srgan_export folded them
into: the expected values of export/tests/export/fold.rs.

    python fold_check.py CASES.json

Each case: {"cin", "cout", "k", "weight", "bias" (or null), "gamma", "beta", "mean", "var",
"eps", "folded_weight", "folded_bias", "x", "x_shape"}, values flat, NCHW / OIHW. For each case
prints {"torch": bn(conv(x)), "folded": conv'(x)}, both computed in float64 by PyTorch, flat.
The comparison is done by the Rust test, so that this script cannot pass by itself.
"""
import json
import sys

import torch
from torch import nn
from torch.nn import functional as F

torch.set_default_dtype(torch.float64)


def t(values, shape=None):
    x = torch.tensor(values, dtype=torch.float32).to(torch.float64)
    return x if shape is None else x.reshape(shape)


out = []
for c in json.load(open(sys.argv[1]))["cases"]:
    k, pad = c["k"], c["k"] // 2
    conv = nn.Conv2d(c["cin"], c["cout"], k, padding=pad, bias=c["bias"] is not None)
    bn = nn.BatchNorm2d(c["cout"], eps=c["eps"])
    with torch.no_grad():
        conv.weight.copy_(t(c["weight"], conv.weight.shape))
        if c["bias"] is not None:
            conv.bias.copy_(t(c["bias"]))
        bn.weight.copy_(t(c["gamma"]))
        bn.bias.copy_(t(c["beta"]))
        bn.running_mean.copy_(t(c["mean"]))
        bn.running_var.copy_(t(c["var"]))
    bn.eval()
    x = t(c["x"], c["x_shape"])
    with torch.no_grad():
        want = bn(conv(x))
        w = t(c["folded_weight"], conv.weight.shape)
        got = F.conv2d(x, w, t(c["folded_bias"]), padding=pad)
    out.append({"torch": want.flatten().tolist(), "folded": got.flatten().tolist()})
print(json.dumps(out))
