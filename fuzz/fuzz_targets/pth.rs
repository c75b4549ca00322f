//! The PyTorch `.pth` reader (zip archive, restricted unpickler, storages and strides): any
//! bytes give tensors that fit their storages, or a `PthError`; never a panic, never an
//! allocation larger than the input allows.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use srgan_export::pth::read_pth_bytes;

fuzz_target!(|data: &[u8]| {
    if let Ok(tensors) = read_pth_bytes(data, Path::new("fuzz.pth")) {
        for (_, t) in tensors {
            assert_eq!(t.data.len(), t.numel());
        }
    }
});
