//! The ONNX metadata reader: any bytes give a `ModelInfo` whose values are in range, or an
//! error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use srgan_contract::metadata::{parse_model_info, MAX_RECEPTIVE_FIELD_RADIUS, MAX_SCALE};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = parse_model_info(data) {
        assert!(info.scale.is_none_or(|s| (1..=MAX_SCALE).contains(&s)));
        assert!(info.radius().is_none_or(|r| r <= MAX_RECEPTIVE_FIELD_RADIUS));
    }
});
