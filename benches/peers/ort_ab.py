"""Two or more ONNX models of the same function timed alternately in one onnxruntime-python
process (CPU, `--threads` intra-op threads, spinning off so that idle sessions do not take
the cores), for A/B checks of a graph rewrite: p50 of `--calls` calls each after 2 warm-up
calls, and the largest output difference from the first model.

    .venv/bin/python benches/peers/ort_ab.py a.onnx b.onnx [--lr 64 128] [--threads 2]
"""

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--lr", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=12)
    a = ap.parse_args()
    sessions = []
    for m in a.models:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions.append(ort.InferenceSession(m, so, providers=["CPUExecutionProvider"]))
    for lr in a.lr:
        x = np.random.default_rng(lr).random((1, 3, lr, lr), dtype=np.float32)
        feeds = [{s.get_inputs()[0].name: x} for s in sessions]
        outs = [s.run(None, f)[0] for s, f in zip(sessions, feeds)]
        for s, f in zip(sessions, feeds):
            s.run(None, f)
        times = [[] for _ in sessions]
        for _ in range(a.calls):
            for t, s, f in zip(times, sessions, feeds):
                t0 = time.perf_counter()
                s.run(None, f)
                t.append(time.perf_counter() - t0)
        print(f"LR {lr}:")
        for m, t, o in zip(a.models, times, outs):
            diff = float(np.abs(o - outs[0]).max())
            print(f"  {m}: p50 {statistics.median(t):.4f} s, max |diff| vs first {diff:.2e}")


if __name__ == "__main__":
    main()
