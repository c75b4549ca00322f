"""Writes torchvision's VGG19 state dict (its structure and names, random weights) with
torch.save, and the output of `features[:36]` on a fixed input.

Usage: vgg19_pth.py WEIGHTS.pth INPUT.f32 OUTPUT.f32

torchvision is not needed: `features` is built from torchvision's cfg "E" (the real widths);
`classifier` keeps torchvision's names (classifier.0/3/6) but is shrunk to keep the file small.
The input is 1x3x32x32 in [0, 1] (raw little-endian float32); the output is the features of the
ImageNet-normalised input, as `srgan_models::Vgg19Features` (vgg54) computes them.
"""

import sys

import numpy as np
import torch
from torch import nn

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
       512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 8), nn.ReLU(True), nn.Dropout(),
            nn.Linear(8, 8), nn.ReLU(True), nn.Dropout(),
            nn.Linear(8, 10),
        )


def main():
    weights, inp, out = sys.argv[1:4]
    torch.manual_seed(19)
    model = VGG().eval()
    for m in model.features:
        if isinstance(m, nn.Conv2d):
            # torchvision's init (activations keep their scale through the 16 convs), with
            # non-zero biases so that loading them is checked too.
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.normal_(m.bias, 0.0, 0.1)
    torch.save(model.state_dict(), weights)
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        y = model.features[:36]((x - mean) / std)
    x.numpy().astype("<f4").tofile(inp)
    y.numpy().astype("<f4").tofile(out)
    print(list(y.shape), float(y.abs().max()))


if __name__ == "__main__":
    main()
