//! The srgan-models test suite: one binary, themed modules. No network; tiny configs; real
//! photos from scikit-image's wheel when `SRGAN_PYTHON` points at the project's venv, generated
//! images otherwise.

mod common;
mod errors;
mod losses;
mod nets;
mod parity;
mod steps;
mod training;
