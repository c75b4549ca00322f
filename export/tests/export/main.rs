//! Integration tests of the exporter: the ONNX checker on every exported model, an
//! independent numeric check (PyTorch and onnxruntime against `reference::forward`), the
//! exported graph's pinned structure, and the `srgan-export` command line.
//!
//! The Python checks use the project's environment named by `SRGAN_PYTHON` (written into
//! `.cargo/config.toml` by `scripts/setup.sh`); without it they fail, they never skip.

mod checker;
mod cli;
mod common;
mod fold;
mod graph;
mod int8;
mod numeric;
mod precision;
mod pth;
mod triton;
