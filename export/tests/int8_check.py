"""An int8 export against its fp32 twin on a real photo: the int8 model passes
`onnx.checker.check_model(full_check=True)`, keeps the f32 input and output, stores its
convolution weights as int8 behind DequantizeLinear, and onnxruntime (CPU) runs both on the
photo; prints `psnr_db D`, `max_levels L` (8-bit levels) and `int8_weights N`.

    python int8_check.py fp32.onnx int8.onnx photo.png

Used by export/tests/export/int8.rs.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image


def run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def main(fp32, int8, photo):
    m = onnx.load(int8)
    onnx.checker.check_model(m, full_check=True)
    f32 = onnx.TensorProto.FLOAT
    assert m.graph.input[0].type.tensor_type.elem_type == f32, "input stays f32"
    assert m.graph.output[0].type.tensor_type.elem_type == f32, "output stays f32"
    ops = {n.op_type for n in m.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops, ops
    weights = [t for t in m.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta.get("srgan.precision") == "int8", meta
    x = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32) / 255.0
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    a = np.clip(run(fp32, x), 0, 1) * 255
    b = np.clip(run(int8, x), 0, 1) * 255
    assert a.shape == b.shape, (a.shape, b.shape)
    mse = float(np.mean((a - b) ** 2))
    print(f"psnr_db {10 * np.log10(255 ** 2 / max(mse, 1e-12)):.3f}")
    print(f"max_levels {float(np.abs(a - b).max()):.3f}")
    print(f"int8_weights {len(weights)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
