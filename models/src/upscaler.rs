//! [`TchUpscaler`]: a generator checkpoint run directly with libtorch, behind the same
//! [`Upscaler`] trait as the ONNX runtimes, as the training-side reference for parity checks.
//! Eval mode; the output is mapped like the exported graph does: `(y - lo) / (hi - lo)` with
//! `[lo, hi] = hr_range`, clamped to [0, 1].

use std::path::Path;

use srgan_export::Checkpoint;
use srgan_runtimes::ndarray::{Array4, ArrayView4};
use srgan_runtimes::{ModelInfo, RuntimeError, RuntimeOptions, Upscaler};
use tch::{nn, Tensor};

use crate::device::tch_device;
use crate::generator::{self, AnyGenerator, MainModule};

/// A generator checkpoint on libtorch.
pub struct TchUpscaler {
    name: String,
    _vs: nn::VarStore,
    net: AnyGenerator,
    device: tch::Device,
    info: ModelInfo,
}

impl std::fmt::Debug for TchUpscaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TchUpscaler")
            .field("name", &self.name)
            .field("arch", self.net.arch())
            .finish()
    }
}

impl TchUpscaler {
    /// Loads a generator checkpoint (`srgan-export`'s contract) onto `opts.device` (cpu or
    /// cuda[:N]; a CUDA device that cannot be had is an error).
    pub fn open(checkpoint: &Path, opts: &RuntimeOptions) -> crate::Result<TchUpscaler> {
        let device = tch_device(&opts.device)?;
        if let Some(t) = opts.threads {
            if device == tch::Device::Cpu && t > 0 {
                tch::set_num_threads(t as i32);
            }
        }
        let ck = Checkpoint::load(checkpoint)?;
        Self::from_checkpoint(&ck, device)
    }

    /// Builds the upscaler from a checkpoint in memory.
    pub fn from_checkpoint(ck: &Checkpoint, device: tch::Device) -> crate::Result<Self> {
        let vs = nn::VarStore::new(device);
        let net = AnyGenerator::build(&vs.root(), &ck.config)?;
        generator::load_checkpoint(&vs, ck)?;
        let info = ModelInfo::for_architecture(
            &ck.config,
            ck.extra_metadata.clone(),
            Some(format!("tch {}", env!("CARGO_PKG_VERSION"))),
        );
        let name = match device {
            tch::Device::Cuda(i) => format!("tch-cuda:{i}"),
            _ => "tch-cpu".into(),
        };
        Ok(Self {
            name,
            _vs: vs,
            net,
            device,
            info,
        })
    }

    fn run(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>, srgan_runtimes::BoxError> {
        let s = input.shape().to_vec();
        let data: Vec<f32> = input.iter().copied().collect();
        let dims: Vec<i64> = s.iter().map(|&d| d as i64).collect();
        let cfg = self.net.arch();
        let [llo, lhi] = cfg.lr_range();
        let [lo, hi] = cfg.hr_range();
        let x = Tensor::from_slice(&data)
            .view(dims.as_slice())
            .to_device(self.device);
        let x = x * (lhi - llo) as f64 + llo as f64;
        let y = tch::no_grad(|| self.net.forward_t(&x, false));
        let y = ((y - lo as f64) / (hi - lo) as f64).clamp(0.0, 1.0);
        let out_shape: Vec<usize> = y.size().iter().map(|&d| d as usize).collect();
        let v = generator::tensor_to_vec(&y)?;
        Ok(Array4::from_shape_vec(
            (out_shape[0], out_shape[1], out_shape[2], out_shape[3]),
            v,
        )?)
    }
}

impl Upscaler for TchUpscaler {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> usize {
        self.net.arch().scale()
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> srgan_runtimes::Result<Array4<f32>> {
        srgan_runtimes::check_input(&input)?;
        self.run(input).map_err(|source| RuntimeError::Inference {
            runtime: "tch",
            shape: input.shape().to_vec(),
            source,
        })
    }
}
