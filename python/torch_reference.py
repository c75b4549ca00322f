"""The srgan generators rebuilt in PyTorch from standard modules: the independent reference.

SRResNet (Ledig et al., arXiv 1609.04802) from nn.Conv2d, nn.BatchNorm2d, nn.PReLU(C) and
nn.PixelShuffle, with parameter names equal to the checkpoint's tensor names (structure and
names: export/src/checkpoint.rs's module doc). Nothing here comes from the Rust code but the
names, so agreement with it is evidence. Used by the exporter's numeric tests
(export/tests/torch_check.py) and by the bench's PyTorch peers (benches/peers/peers.py), which
put this folder on sys.path.

The community architectures, written here from standard torch modules with parameter names
identical to the official checkpoints so that those load with `load_state_dict(strict=True)`:

* `RRDBNet` (ESRGAN, Wang et al. 2018; Real-ESRGAN's RealESRGAN_x4plus*.pth): after BasicSR's
  basicsr/archs/rrdbnet_arch.py (github.com/XPixelGroup/BasicSR, Apache-2.0).
* `SRVGGNetCompact` (Real-ESRGAN's realesr-animevideov3 / realesr-general-x4v3): after
  realesrgan/archs/srvgg_arch.py (github.com/xinntao/Real-ESRGAN, BSD-3-Clause).

Both take RGB in [0, 1] (NCHW) and return RGB in [0, 1] unclamped, as upstream.
`load_community` reads such a .pth (scripts/community_weights.py writes them).
"""
import json
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# The checkpoint metadata key that holds the architecture (JSON).
META_CONFIG = "srgan.generator"


_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2"}


def load_safetensors(path, dtypes=("F32",)):
    """Parses a safetensors file by hand (no `safetensors` package needed): 8-byte
    little-endian header length, JSON header, raw little-endian data. Returns
    `(metadata, {name: float32 array})`; raises ValueError naming the file. `dtypes` are the
    accepted tensor types (F32, F16; F16 is widened to float32 exactly)."""
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
        if info["dtype"] not in dtypes or info["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected {' or '.join(dtypes)}")
        lo, hi = info["data_offsets"]
        raw_dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        a = np.frombuffer(data[lo:hi], dtype=raw_dtype).reshape(info["shape"])
        tensors[name] = a.astype(np.float32)
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


def network(config):
    """The untrained network of an architecture config (the contract's tagged JSON; no `arch`
    key is SRResNet), and its default (LR, HR) ranges."""
    arch = config.get("arch", "srresnet")
    if arch == "srresnet":
        return SRResNet(config), ([0.0, 1.0], [-1.0, 1.0])
    if arch == "rrdbnet":
        net = RRDBNet(3, 3, scale=config["scale"], num_feat=config["features"],
                      num_block=config["blocks"], num_grow_ch=config["growth"])
        return net, ([0.0, 1.0], [0.0, 1.0])
    if arch == "srvgg_compact":
        net = SRVGGNetCompact(3, 3, num_feat=config["features"], num_conv=config["convs"],
                              upscale=config["scale"], act_type=config.get("activation", "prelu"))
        return net, ([0.0, 1.0], [0.0, 1.0])
    raise ValueError(f"unknown architecture {arch!r}")


def build_generator(config, tensors):
    """The network of `config` with the checkpoint's `tensors` loaded, in eval mode, and its
    LR and HR ranges. Raises ValueError when the names differ from PyTorch's."""
    g, (lr_default, hr_default) = network(config)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    missing, unexpected = g.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not match the {type(g).__name__}: missing {missing}, unexpected {unexpected}"
        )
    lr_range = tuple(config.get("lr_range", lr_default))
    hr_range = tuple(config.get("hr_range", hr_default))
    return g.eval(), lr_range, hr_range


def deployed(checkpoint):
    """The checkpoint's generator as the exported graph behaves ([0, 1] in and out)."""
    config, tensors = load_checkpoint(checkpoint)
    return Deployed(*build_generator(config, tensors)).eval()


# --- Community architectures (official parameter names) ----------------------------------


class ResidualDenseBlock(nn.Module):
    """ESRGAN's dense block: five 3x3 convs on the concatenation of all earlier outputs,
    LeakyReLU(0.2) after the first four, the result scaled by 0.2 and added to the input."""

    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks, scaled by 0.2, plus the input."""

    def __init__(self, num_feat, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator as BasicSR builds it (RealESRGAN_x4plus: num_block=23,
    RealESRGAN_x4plus_anime_6B: num_block=6; both scale 4, num_feat 64, num_grow_ch 32).
    Scale 2 and 1 first pixel-unshuffle the input by 2 and 4 (num_in_ch * 4 and * 16 input
    channels to conv_first); the trunk always upsamples by 4 (two nearest x2 + conv)."""

    def __init__(self, num_in_ch, num_out_ch, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet: scale {scale} is not 1, 2 or 4")
        self.scale = scale
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)

    def forward(self, x):
        if self.scale == 2:
            feat = F.pixel_unshuffle(x, 2)
        elif self.scale == 1:
            feat = F.pixel_unshuffle(x, 4)
        else:
            feat = x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact VGG-style net: `body` is [conv in->F, act, (conv F->F, act) x
    num_conv, conv F->out*upscale^2] (activations without parameters still take an index, so
    the last conv is body.{2*num_conv+2}), then PixelShuffle(upscale), plus the nearest
    upsampled input. realesr-animevideov3: num_feat 64, num_conv 16, upscale 4, prelu."""

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"):
        super().__init__()
        if act_type not in ("relu", "prelu", "leakyrelu"):
            raise ValueError(f"SRVGGNetCompact: act_type {act_type!r} is not relu, prelu or leakyrelu")
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.num_feat = num_feat
        self.num_conv = num_conv
        self.upscale = upscale
        self.act_type = act_type

        def act():
            if act_type == "relu":
                return nn.ReLU()
            if act_type == "prelu":
                return nn.PReLU(num_parameters=num_feat)
            return nn.LeakyReLU(negative_slope=0.1)

        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), act()])
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(act())
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def load_community(path):
    """The state dict of a community .pth (BasicSR's layout): `params_ema` if present, else
    `params`, else the file's dict itself. Loaded with weights_only=True (no pickled code).
    Raises ValueError naming the file when it holds no tensor dict."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict (a {type(obj).__name__})")
    for key in ("params_ema", "params"):
        if key in obj:
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(f"{path}: holds no dict of tensors (keys: {list(obj)[:5]})")
    return dict(obj)
