//! The SRResNet generator (Ledig et al., arXiv 1609.04802, Fig. 4) in tch, with exactly the
//! variable names of the checkpoint contract in [`srgan_export::checkpoint`], and the
//! conversions between a `VarStore` and a [`Checkpoint`].

use std::collections::BTreeMap;

use srgan_export::{Architecture, Checkpoint, GeneratorConfig};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use crate::error::{ModelsError, Result};
use crate::layers::{batch_norm, Conv2d, PRelu};

/// What the trainer needs from its main module: a network mapping LR batches in
/// `config().lr_range` to HR batches in `config().hr_range`, whose variables are named as
/// `config().param_specs()` lists them.
pub trait MainModule: Sized {
    /// Builds the network under `p` (the root of its own `VarStore`).
    fn build(p: &nn::Path, config: &GeneratorConfig) -> Result<Self>;
    /// The architecture.
    fn config(&self) -> &GeneratorConfig;
    /// Runs the network; `train` selects batch statistics (and updates the running ones).
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor;
}

/// One residual block: conv, BN, PReLU, conv, BN, plus the input.
#[derive(Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    bn1: nn::BatchNorm,
    prelu: PRelu,
    conv2: Conv2d,
    bn2: nn::BatchNorm,
}

impl ResidualBlock {
    fn new(p: nn::Path, c: i64, eps: f64) -> Self {
        Self {
            conv1: Conv2d::new(&p / "conv1", c, c, 3, 1, false),
            bn1: batch_norm(&p / "bn1", c, eps),
            prelu: PRelu::new(&p / "prelu", c),
            conv2: Conv2d::new(&p / "conv2", c, c, 3, 1, false),
            bn2: batch_norm(&p / "bn2", c, eps),
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let h = self.bn1.forward_t(&self.conv1.forward(xs), train);
        let h = self.prelu.forward(&h);
        let h = self.bn2.forward_t(&self.conv2.forward(&h), train);
        h + xs
    }
}

/// One x2 upsampling stage: conv C->4C, PixelShuffle(2), PReLU.
#[derive(Debug)]
pub struct UpsampleStage {
    conv: Conv2d,
    prelu: PRelu,
}

/// The SRResNet generator. Input in `lr_range`, output in `hr_range`, no final activation.
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    head_conv: Conv2d,
    head_prelu: PRelu,
    blocks: Vec<ResidualBlock>,
    trunk_conv: Conv2d,
    trunk_bn: nn::BatchNorm,
    upsample: Vec<UpsampleStage>,
    tail_conv: Conv2d,
}

impl MainModule for Generator {
    fn build(p: &nn::Path, config: &GeneratorConfig) -> Result<Self> {
        config.validate()?;
        let c = config.channels as i64;
        let eps = config.bn_eps as f64;
        let head = p / "head";
        let trunk = p / "trunk";
        let ups = p / "upsample";
        let blocks_p = p / "blocks";
        Ok(Self {
            config: config.clone(),
            head_conv: Conv2d::new(&head / "conv", 3, c, 9, 1, true),
            head_prelu: PRelu::new(&head / "prelu", c),
            blocks: (0..config.blocks)
                .map(|i| ResidualBlock::new(&blocks_p / i, c, eps))
                .collect(),
            trunk_conv: Conv2d::new(&trunk / "conv", c, c, 3, 1, false),
            trunk_bn: batch_norm(&trunk / "bn", c, eps),
            upsample: (0..config.upsample_stages())
                .map(|j| UpsampleStage {
                    conv: Conv2d::new(&ups / j / "conv", c, 4 * c, 3, 1, true),
                    prelu: PRelu::new(&ups / j / "prelu", c),
                })
                .collect(),
            tail_conv: Conv2d::new(p / "tail" / "conv", c, 3, 9, 1, true),
        })
    }

    fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let x = self.head_prelu.forward(&self.head_conv.forward(xs));
        let mut h = x.shallow_clone();
        for b in &self.blocks {
            h = b.forward_t(&h, train);
        }
        let mut h = self.trunk_bn.forward_t(&self.trunk_conv.forward(&h), train) + x;
        for u in &self.upsample {
            h = u.prelu.forward(&u.conv.forward(&h).pixel_shuffle(2));
        }
        self.tail_conv.forward(&h)
    }
}

/// Checks that the variables of `vs` are exactly the contract's names and shapes (no `__N`
/// renames, nothing missing or extra). Returns the first difference as an error.
pub fn check_var_names(vs: &nn::VarStore, config: &Architecture) -> Result<()> {
    let vars = vs.variables();
    let specs = config.param_specs();
    for s in &specs {
        match vars.get(&s.name) {
            None => {
                return Err(ModelsError::config(
                    "generator variables",
                    format!("missing `{}`", s.name),
                    "every name of param_specs()",
                ))
            }
            Some(t) => {
                let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
                if shape != s.shape {
                    return Err(ModelsError::config(
                        format!("generator variable `{}`", s.name),
                        format!("{shape:?}"),
                        format!("{:?}", s.shape),
                    ));
                }
            }
        }
    }
    if vars.len() != specs.len() {
        let mut extra: Vec<_> = vars
            .keys()
            .filter(|k| !specs.iter().any(|s| &s.name == *k))
            .cloned()
            .collect();
        extra.sort();
        return Err(ModelsError::config(
            "generator variables",
            format!("unexpected {extra:?}"),
            "only the names of param_specs()",
        ));
    }
    Ok(())
}

/// Copies a tensor to the CPU as contiguous f32 values.
pub fn tensor_to_vec(t: &Tensor) -> Result<Vec<f32>> {
    let t = t
        .detach()
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view([-1]);
    Vec::<f32>::try_from(&t).map_err(ModelsError::tch("copying a tensor to the host"))
}

/// The generator's variables as a contract [`Checkpoint`].
pub fn to_checkpoint(
    vs: &nn::VarStore,
    config: &GeneratorConfig,
    extra_metadata: BTreeMap<String, String>,
) -> Result<Checkpoint> {
    let config = Architecture::from(config);
    check_var_names(vs, &config)?;
    let vars = vs.variables();
    let mut tensors = BTreeMap::new();
    for s in config.param_specs() {
        let t = &vars[&s.name];
        tensors.insert(
            s.name.clone(),
            srgan_export::Tensor::new(s.shape.clone(), tensor_to_vec(t)?),
        );
    }
    Ok(Checkpoint {
        config,
        tensors,
        extra_metadata,
    })
}

/// Copies a checkpoint's tensors into `vs`, which must hold the same architecture.
pub fn load_checkpoint(vs: &nn::VarStore, ck: &Checkpoint) -> Result<()> {
    check_var_names(vs, &ck.config)?;
    let vars = vs.variables();
    tch::no_grad(|| -> Result<()> {
        for s in ck.config.param_specs() {
            let src = &ck.tensors[&s.name];
            let shape: Vec<i64> = src.shape.iter().map(|&d| d as i64).collect();
            let t = Tensor::from_slice(&src.data).view(shape.as_slice());
            let mut dst = vars[&s.name].shallow_clone();
            dst.f_copy_(&t)
                .map_err(ModelsError::tch(format!("loading `{}`", s.name)))?;
        }
        Ok(())
    })
}
