//! Link settings for the `tch` feature (the harness's training step through srgan-models): an
//! rpath to libtorch's `lib` folder so that the bench runs with no `LD_LIBRARY_PATH`, and
//! `--no-as-needed -ltorch_cuda` when `libtorch_cuda.so` exists (tch-rs issues #907, #980; see
//! models/build.rs, whose `cargo:rustc-link-arg` reaches only its own package's targets).
//! Without `tch` nothing here applies.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(lib) = std::env::var_os("LIBTORCH").map(|p| PathBuf::from(p).join("lib")) else {
        println!(
            "cargo:warning=srgan-bench: LIBTORCH is not set (run scripts/setup.sh); the tch \
             bench gets no rpath to libtorch"
        );
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
