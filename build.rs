//! Link settings for the command lines when the `tch` feature is on (`srgan-run --runtime tch`,
//! checkpoints in `srgan-eval`): an rpath to libtorch's `lib` folder so the binaries run with no
//! `LD_LIBRARY_PATH`, and `--no-as-needed -ltorch_cuda` when `libtorch_cuda.so` exists, so that
//! CUDA stays linked (tch-rs issues #907, #980; see models/build.rs). Without `tch` nothing here
//! applies: deployment binaries never link libtorch.
//!
//! The bench crate (`benches/`, whose tch step goes through srgan-models) builds with this same
//! script (`build = "../build.rs"`): models/build.rs's `cargo:rustc-link-arg` reaches only its
//! own package's targets.
use std::path::{Path, PathBuf};

fn main() {
    // Build scripts run in their package's folder; for `benches/` this file is one level up.
    let me = if Path::new("build.rs").is_file() {
        "build.rs"
    } else {
        "../build.rs"
    };
    println!("cargo:rerun-if-changed={me}");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(lib) = std::env::var_os("LIBTORCH").map(|p| PathBuf::from(p).join("lib")) else {
        println!(
            "cargo:warning={}: LIBTORCH is not set (run scripts/setup.sh); its tch targets get \
             no rpath to libtorch",
            std::env::var("CARGO_PKG_NAME").unwrap_or_default()
        );
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
