#!/usr/bin/env bash
# Everything CI checks: formatting, clippy with -D warnings, that the deployment crates need no
# libtorch, and every test of the workspace with every feature (the training crate and
# `srgan-run --runtime tch` included; they use the libtorch that scripts/setup.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== deployment builds without libtorch or plotters; the exporter library without any runtime" >&2
if cargo tree -p srgan -e normal --prefix none | grep -qE '^(tch|torch-sys|srgan-export) '; then
  echo "error: srgan (srgan-run) depends on libtorch or the exporter without the tch feature" >&2; exit 1
fi
if cargo tree -p srgan-contract -e normal --prefix none | grep -qE '^(tch|torch-sys|ort|tract-onnx|srgan-export|srgan-runtimes) '; then
  echo "error: srgan-contract depends on a runtime, libtorch or the exporter" >&2; exit 1
fi
if cargo tree -p srgan-export --no-default-features -e normal --prefix none | grep -qE '^(tch|torch-sys|ort|tract-onnx|srgan-runtimes) '; then
  echo "error: the srgan-export library (without its measure feature) depends on a runtime or libtorch" >&2; exit 1
fi
if cargo tree -p srgan-export -e normal --prefix none | grep -qE '^(tch|torch-sys) '; then
  echo "error: srgan-export depends on libtorch" >&2; exit 1
fi
if cargo tree -p srgan -e normal --prefix none | grep -qE '^plotters '; then
  echo "error: srgan (srgan-run) depends on plotters (charts belong to srgan-bench and srgan-train)" >&2; exit 1
fi
echo "== cargo clippy -D warnings" >&2
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo test" >&2
cargo test --workspace --all-features
echo "== pytest: the Python package (pysrgan/tests), against the srgan-run that cargo test built" >&2
SRGAN_RUN=$PWD/target/debug/srgan-run .venv/bin/python -m pytest -q -p no:cacheprovider pysrgan/tests
