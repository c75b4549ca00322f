"""Per-node time of an ONNX model in ONNX Runtime (CPU, Python), as BENCHMARKS.md's profiles
are made: the session's own profiler, `--threads` intra-op threads (spinning off, so that
another process's threads are not starved), `--warmup` untimed calls, then `--calls` profiled
ones; each node's median over those calls, summed per group.

Groups: the exported PReLU in its ReLU form (nodes named `*.neg`, `*.relu`, `*.scale` and
the `Add` that ends it, which ORT fuses into NCHWc depthwise convs), `PRelu`, the layout
reorders, and every other op type by name (`Conv` = the model's own convolutions).

    .venv/bin/python benches/peers/ort_profile.py model.onnx --lr 64 [--threads 2]
"""

import argparse
import collections
import json
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort


def group(name, op):
    base = name.replace("_nchwc", "")
    if any(t in base for t in (".neg", ".relu", ".scale")):
        return "PReLU, ReLU form (depthwise convs)"
    return op


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--lr", type=int, default=64, help="LR side (square input)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--calls", type=int, default=20)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort_profile")
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    x = np.random.default_rng(0).random((1, 3, a.lr, a.lr), dtype=np.float32)
    for _ in range(a.warmup):
        s.run(None, {name: x})
    wall = []
    for _ in range(a.calls):
        t = time.perf_counter()
        s.run(None, {name: x})
        wall.append(time.perf_counter() - t)
    events = json.load(open(s.end_profiling()))
    per_node = collections.defaultdict(list)
    ops = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            n = e["name"][: -len("_kernel_time")]
            per_node[n].append(e["dur"])
            ops[n] = e["args"].get("op_name", "?")
    groups = collections.defaultdict(lambda: [0.0, 0])
    for n, durs in per_node.items():
        # The last `calls` runs are the timed ones.
        g = groups[group(n, ops[n])]
        g[0] += statistics.median(durs[-a.calls :]) / 1000.0
        g[1] += 1
    total = sum(v[0] for v in groups.values())
    print(f"{a.model}, LR {a.lr}x{a.lr}, {a.threads} threads: p50 of the wall time "
          f"{statistics.median(wall) * 1000:.2f} ms; sum of node medians {total:.2f} ms")
    for k, (ms, n) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        print(f"  {k:40s} {ms:8.2f} ms  {100 * ms / total:5.1f}%  {n:3d} nodes")


if __name__ == "__main__":
    main()
