#!/usr/bin/env python3
"""The degraded-input table of MODEL_CARD.md: every model on the held-out photos, clean and
with each fixed, seeded degradation (noise sigma 10 and 25, JPEG quality 30 and 60), through
`srgan-eval --degrade SPEC --niqe PARAMS --json` (one report per model and degradation, kept
in models/eval_degraded/), then one markdown table of the means.

    .venv/bin/python scripts/degraded_table.py [--bin target/release] [--data data/heldout]

x4 rows: bicubic (printed by srgan-eval beside every model), the bicubic-trained SRResNet
(models/x4/srresnet_x4.onnx) and the real-world one (models/x4/srresnet_x4_realworld.onnx);
x1 rows: the degraded input itself (the baseline at scale 1) and the restoration model
(models/x1/srvgg_x1_restore.onnx) and its adversarial phase (models/x1/srvgg_x1_restore_gan.onnx).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEGRADATIONS = [None, "noise:10", "noise:25", "jpeg:30", "jpeg:60"]
MODELS = [
    ("x4", "SRResNet x4, bicubic-trained (shipped)", "models/x4/srresnet_x4.onnx"),
    ("x4", "SRResNet x4, real-world (degradations)", "models/x4/srresnet_x4_realworld.onnx"),
    ("x1", "SRVGGNetCompact x1 restoration (pixel MSE)", "models/x1/srvgg_x1_restore.onnx"),
    ("x1", "SRVGGNetCompact x1 restoration, + adversarial phase", "models/x1/srvgg_x1_restore_gan.onnx"),
]


def evaluate(binary, model, data, params, degrade, out):
    cmd = [binary, model, "--data", data, "--runtime", "ort", "--niqe", params,
           "--json", out, "--overwrite"]
    if degrade:
        cmd += ["--degrade", degrade]
    print("+", " ".join(os.path.relpath(c, ROOT) if os.path.isabs(c) else c for c in cmd),
          file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.loads(f.read().splitlines()[-1])


def cell(psnr, ssim, niqe):
    # JSON has no infinity: srgan-eval writes null for the PSNR of an output equal to the HR
    # (the x1 baseline on a clean input is the HR itself).
    p = "inf" if psnr is None else f"{psnr:.2f}"
    return f"{p} / {ssim:.4f} / {niqe:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data/heldout"))
    ap.add_argument("--niqe", default=os.path.join(ROOT, "third_party/basicsr/niqe_pris_params.npz"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models/eval_degraded"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    binary = os.path.join(a.bin, "srgan-eval")
    rows = {}  # (scale, name) -> {degrade: cell}
    for scale, name, model in MODELS:
        stem = os.path.splitext(os.path.basename(model))[0]
        for d in DEGRADATIONS:
            tag = (d or "clean").replace(":", "")
            m = evaluate(binary, os.path.join(ROOT, model), a.data, a.niqe, d,
                         os.path.join(a.out, f"{stem}.{tag}.jsonl"))
            base = "bicubic" if scale == "x4" else "input (no model)"
            rows.setdefault((scale, base), {})[d] = cell(m["bicubic_psnr"], m["bicubic_ssim"],
                                                       m["bicubic_niqe"])
            rows.setdefault((scale, name), {})[d] = cell(m["psnr"], m["ssim"], m["niqe"])
    head = ["clean"] + [d for d in DEGRADATIONS if d]
    print("| scale | model | " + " | ".join(head) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in head) + " |")
    for (scale, name), cells in rows.items():
        print(f"| {scale} | {name} | " + " | ".join(cells[d] for d in DEGRADATIONS) + " |")


if __name__ == "__main__":
    main()
