"""Independent numeric check of the Rust reference pass and the exported ONNX graph.

Builds SRResNet in PyTorch from standard modules (python/torch_reference.py: nn.Conv2d,
nn.BatchNorm2d in eval mode, nn.PReLU(C), nn.PixelShuffle) whose parameter names are the
checkpoint's tensor names, loads a checkpoint written by the Rust test, runs it in float64,
and runs the exported .onnx in onnxruntime. Used by export/tests/export/numeric.rs.

    python torch_check.py MANIFEST.json

The manifest lists cases: {"name", "checkpoint", "onnx", "input", "shape", "torch_out",
"ort_out"}. Inputs and outputs are raw little-endian f32, NCHW. The comparison is done by the
Rust test, so that this script cannot pass by itself.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

# The PyTorch reference lives in python/ at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from torch_reference import deployed  # noqa: E402


def main(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    for case in manifest["cases"]:
        shape = case["shape"]
        x = np.fromfile(case["input"], dtype="<f4").reshape(shape)
        g = deployed(case["checkpoint"]).double()
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
