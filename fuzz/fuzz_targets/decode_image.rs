//! Image decoding under limits: any bytes give an image within the limits or an `ImageError`;
//! never a panic, and never an allocation past the limits.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use srgan_imaging::image_io::{decode_bytes, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_width: 4096,
        max_height: 4096,
        max_alloc: 64 << 20,
    };
    if let Ok(d) = decode_bytes(data, Path::new("fuzz.png"), &limits) {
        assert!(d.image.width() <= limits.max_width && d.image.height() <= limits.max_height);
        assert!(d.image.width() > 0 && d.image.height() > 0);
    }
});
