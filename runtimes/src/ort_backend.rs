//! Placeholder: being written.
use crate::{ModelInfo, Result, RuntimeError, RuntimeOptions, Upscaler};
use ndarray::{Array4, ArrayView4};
use std::path::Path;

/// Placeholder.
pub struct OrtUpscaler {
    info: ModelInfo,
}

impl OrtUpscaler {
    /// Placeholder.
    pub fn open(model: &Path, _opts: &RuntimeOptions) -> Result<Self> {
        Err(RuntimeError::ModelLoad { path: model.into(), reason: "not implemented yet".into() })
    }
}

impl Upscaler for OrtUpscaler {
    fn name(&self) -> &str { "ort" }
    fn scale(&self) -> usize { 4 }
    fn info(&self) -> &ModelInfo { &self.info }
    fn upscale(&mut self, _input: ArrayView4<'_, f32>) -> Result<Array4<f32>> { unimplemented!() }
}
