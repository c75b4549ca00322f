//! The srgan-models test suite: one binary, themed modules. No network; tiny configs; real
//! photos from scikit-image's wheel in the project's venv (`SRGAN_PYTHON`), which the set-up
//! always installs: without it the tests fail.

mod adam;
mod common;
mod degraded_data;
mod errors;
mod losses;
mod main_modules;
mod nets;
mod parity;
mod run_folder;
mod steps;
mod training;
mod vgg_pth;
