//! The model under test, its FLOP count and the inputs.
//!
//! Inputs are a deterministic pattern, `x[i] = frac(i * 0.618...)` over the flat NCHW index,
//! that `benches/peers/peers.py` computes identically, so that both sides time the same
//! numbers.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use srgan_export::{Checkpoint, ExportOptions, GeneratorConfig};
use srgan_runtimes::ndarray::Array4;

use super::BenchConfig;

/// The golden-ratio step of the input pattern (same constant in peers.py).
pub const PHI: f64 = 0.618_033_988_749_894_9;

/// A model ready to be timed.
#[derive(Debug)]
pub struct Prepared {
    /// The .onnx file.
    pub onnx: PathBuf,
    /// Its checkpoint, when known (the PyTorch peer needs it).
    pub checkpoint: Option<PathBuf>,
    /// Its architecture, when known (FLOP counts need it).
    pub config: Option<GeneratorConfig>,
    /// Where it came from.
    pub origin: String,
    /// A temporary folder removed on drop.
    pub tmp: tempfile::TempDir,
}

/// What the report says about the model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelReport {
    /// The .onnx file (a temporary file for the default model).
    pub path: String,
    /// Where it came from.
    pub description: String,
    /// The architecture, if known.
    pub architecture: Option<GeneratorConfig>,
    /// Scale.
    pub scale: Option<usize>,
    /// GFLOP for one 64x64 LR input (batch 1), if the architecture is known.
    pub gflop_lr64: Option<f64>,
}

impl Prepared {
    /// The model of `--model`, or the default one exported to a temporary folder.
    pub fn new(cfg: &BenchConfig) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("srgan-bench-")
            .tempdir()
            .context("cannot create a temporary folder")?;
        if let Some(onnx) = &cfg.args.model {
            let info = srgan_runtimes::read_model_info(onnx)?;
            let config = info
                .architecture
                .as_ref()
                .and_then(|a| a.as_srresnet().cloned());
            return Ok(Self {
                onnx: onnx.clone(),
                checkpoint: cfg.args.checkpoint.clone(),
                config,
                origin: format!("{} (given)", onnx.display()),
                tmp,
            });
        }
        let arch = cfg.arch.clone();
        let ck = Checkpoint::random_init(&arch, 0).context("random init")?;
        let checkpoint = tmp.path().join("generator.safetensors");
        ck.save(&checkpoint)?;
        let onnx = tmp.path().join("generator.onnx");
        srgan_export::write_onnx(&ck, &onnx, &ExportOptions::default())?;
        Ok(Self {
            onnx,
            checkpoint: Some(checkpoint),
            origin: format!(
                "SRResNet {} blocks x {} channels, x{}, random weights (seed 0)",
                arch.blocks, arch.channels, arch.scale
            ),
            config: Some(arch),
            tmp,
        })
    }

    /// FLOPs of one call on `[n, 3, h, w]`, if the architecture is known.
    pub fn flops(&self, n: usize, h: usize, w: usize) -> Option<f64> {
        self.config.as_ref().map(|c| flops(c, n, h, w))
    }

    /// The report's view.
    pub fn describe(&self) -> ModelReport {
        ModelReport {
            path: self.onnx.display().to_string(),
            description: self.origin.clone(),
            scale: self.config.as_ref().map(|c| c.scale),
            gflop_lr64: self.flops(1, 64, 64).map(|f| f / 1e9),
            architecture: self.config.clone(),
        }
    }
}

/// FLOPs (2 x multiply-accumulates) of the generator on `[n, 3, h, w]`.
pub fn flops(cfg: &GeneratorConfig, n: usize, h: usize, w: usize) -> f64 {
    2.0 * cfg.macs_per_lr_pixel() * (n * h * w) as f64
}

/// The input pattern of shape `[n, c, h, w]`.
pub fn pattern(shape: [usize; 4]) -> Array4<f32> {
    let mut i = 0u64;
    Array4::from_shape_simple_fn(shape, || {
        let v = (i as f64 * PHI).fract() as f32;
        i += 1;
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_model_costs_18_gflop_at_64() {
        let g = flops(&GeneratorConfig::paper(), 1, 64, 64) / 1e9;
        assert!((g - 18.2).abs() < 0.1, "{g}");
    }

    #[test]
    fn pattern_matches_the_python_formula() {
        let x = pattern([1, 3, 2, 2]);
        let flat: Vec<f32> = x.iter().copied().collect();
        assert_eq!(flat[0], 0.0);
        assert!((flat[1] - 0.618_034).abs() < 1e-6);
        assert!((flat[2] - 0.236_068).abs() < 1e-6);
        assert_eq!(flat.len(), 12);
    }
}
