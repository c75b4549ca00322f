"""fp16 exports against their fp32 twins: for each pair of models named on the command line
(fp32 path, fp16 path), the fp16 one passes `onnx.checker.check_model(full_check=True)`, its
f32 input and output are unchanged, and onnxruntime (CPU) runs both on the same random input;
prints `pair NAME max_abs_diff` per pair. Used by export/tests/export/precision.rs.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def main(args):
    rng = np.random.default_rng(0)
    for fp32, fp16 in zip(args[0::2], args[1::2]):
        m = onnx.load(fp16)
        onnx.checker.check_model(m, full_check=True)
        f32 = onnx.TensorProto.FLOAT
        assert m.graph.input[0].type.tensor_type.elem_type == f32, "input stays f32"
        assert m.graph.output[0].type.tensor_type.elem_type == f32, "output stays f32"
        x = rng.random((1, 3, 20, 24), dtype=np.float32)
        a, b = run(fp32, x), run(fp16, x)
        assert a.shape == b.shape and b.dtype == np.float32, (a.shape, b.shape, b.dtype)
        print(f"pair {fp16} {float(np.abs(a - b).max()):.6g}")


if __name__ == "__main__":
    main(sys.argv[1:])
