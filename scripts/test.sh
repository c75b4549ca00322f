#!/usr/bin/env bash
# Everything CI checks: formatting, clippy with -D warnings, and every test of the workspace
# (the training crate included, which needs the libtorch that scripts/setup.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy -D warnings" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test" >&2
cargo test --workspace
