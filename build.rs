//! Link settings for the command lines when the `tch` feature is on (`srgan-run --runtime tch`,
//! checkpoints in `srgan-eval`): an rpath to libtorch's `lib` folder so the binaries run with no
//! `LD_LIBRARY_PATH`, and `--no-as-needed -ltorch_cuda` when `libtorch_cuda.so` exists, so that
//! CUDA stays linked (tch-rs issues #907, #980; see models/build.rs). Without `tch` nothing here
//! applies: deployment binaries never link libtorch.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(lib) = std::env::var_os("LIBTORCH").map(|p| PathBuf::from(p).join("lib")) else {
        println!(
            "cargo:warning=srgan: LIBTORCH is not set (run scripts/setup.sh); the tch binaries \
             get no rpath to libtorch"
        );
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
