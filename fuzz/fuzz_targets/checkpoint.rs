//! The safetensors checkpoint reader (header, metadata, architecture, tensors, checksum): any
//! bytes give a checkpoint that validates, or a `CheckpointError`; never a panic.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use srgan_export::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let _ = Checkpoint::from_bytes(data, Path::new("fuzz.safetensors"));
});
