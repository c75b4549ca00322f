//! Link settings for this crate's binaries, tests and examples.
//!
//! * An rpath to libtorch's `lib` folder, so that `srgan-train` and the tests run with no
//!   `LD_LIBRARY_PATH`.
//! * When `libtorch_cuda.so` exists: `-Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed`. rustc
//!   links with `--as-needed`, and a binary that calls no symbol of `libtorch_cuda.so` would drop
//!   it, after which `tch::Cuda::is_available()` says false even on a GPU machine (tch-rs issues
//!   #907 and #980).
//!
//! `cargo:rustc-link-arg` only reaches the targets of this package. Another package whose
//! binaries use tch (the root `srgan` with its `tch` feature) needs the same two settings in its
//! own build script; the folder is in `DEP_TCH_LIBTORCH_LIB` for a package that depends on
//! `torch-sys` directly, else in `LIBTORCH` (+ `/lib`).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=build.rs");
    let lib = std::env::var_os("DEP_TCH_LIBTORCH_LIB")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LIBTORCH").map(|p| PathBuf::from(p).join("lib")));
    let Some(lib) = lib else {
        println!(
            "cargo:warning=srgan-models: neither DEP_TCH_LIBTORCH_LIB nor LIBTORCH is set; \
             binaries get no rpath to libtorch (set LD_LIBRARY_PATH to run them)"
        );
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
