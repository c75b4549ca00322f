//! Placeholder: being written.
use crate::{ModelInfo, Result, RuntimeError, RuntimeOptions, Upscaler};
use ndarray::{Array4, ArrayView4};
use std::path::Path;

/// Placeholder.
pub struct TractUpscaler {
    info: ModelInfo,
}

impl TractUpscaler {
    /// Placeholder.
    pub fn open(model: &Path, _opts: &RuntimeOptions) -> Result<Self> {
        Err(RuntimeError::ModelLoad { path: model.into(), reason: "not implemented yet".into() })
    }
}

impl Upscaler for TractUpscaler {
    fn name(&self) -> &str { "tract" }
    fn scale(&self) -> usize { 4 }
    fn info(&self) -> &ModelInfo { &self.info }
    fn upscale(&mut self, _input: ArrayView4<'_, f32>) -> Result<Array4<f32>> { unimplemented!() }
}
