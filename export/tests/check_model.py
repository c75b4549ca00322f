"""Runs the official ONNX checker on every model named on the command line.

Used by export/tests/export/checker.rs. Exits non-zero, naming the model and the checker's
complaint, if any model fails `onnx.checker.check_model(m, full_check=True)` (which includes
strict shape inference).
"""
import sys

import onnx


def main(paths):
    failed = 0
    for path in paths:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # noqa: BLE001 - report every failure, then exit non-zero
            print(f"FAIL {path}: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
        else:
            print(f"ok {path}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
