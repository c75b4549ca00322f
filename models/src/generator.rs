//! The main modules in tch, with exactly the variable names of the checkpoint contract
//! ([`srgan_contract::Architecture::param_specs`]): SRResNet (Ledig et al., arXiv 1609.04802,
//! Fig. 4, [`Generator`]), RRDBNet ([`RrdbNet`]) and SRVGGNetCompact ([`SrVggNet`]), the
//! [`AnyGenerator`] that builds whichever a config names, and the conversions between a
//! `VarStore` and a [`Checkpoint`].
//!
//! A fourth main module is one struct implementing [`MainModule`] here (its `build` creates
//! the variables under the names of its contract entry) and one arm in [`AnyGenerator`].

use std::collections::BTreeMap;

use srgan_export::{Activation, Architecture, Checkpoint, GeneratorConfig};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use crate::error::{ModelsError, Result};
use crate::layers::{batch_norm, leaky_relu, Conv2d, PRelu};

/// What the trainer needs from its main module: a network mapping LR batches in
/// `arch().lr_range()` to HR batches in `arch().hr_range()`, whose variables are named as
/// `arch().param_specs()` lists them. The discriminator, the losses and the checkpoints are
/// the trainer's; the main module is all that ships.
pub trait MainModule: Sized {
    /// Builds the network under `p` (the root of its own `VarStore`); an architecture that is
    /// not this module's is an error.
    fn build(p: &nn::Path, arch: &Architecture) -> Result<Self>;
    /// The architecture.
    fn arch(&self) -> &Architecture;
    /// Runs the network; `train` selects batch statistics (and updates the running ones).
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor;
}

/// The error of a module asked to build another module's architecture.
fn not_mine(module: &str, arch: &Architecture) -> ModelsError {
    ModelsError::config("generator.arch", arch.name(), format!("{module}'s"))
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
    arch: Architecture,
    head_conv: Conv2d,
    head_prelu: PRelu,
    blocks: Vec<ResidualBlock>,
    trunk_conv: Conv2d,
    trunk_bn: nn::BatchNorm,
    upsample: Vec<UpsampleStage>,
    tail_conv: Conv2d,
}

impl MainModule for Generator {
    fn build(p: &nn::Path, arch: &Architecture) -> Result<Self> {
        let config: &GeneratorConfig = arch
            .as_srresnet()
            .ok_or_else(|| not_mine("srresnet", arch))?;
        config.validate()?;
        let c = config.channels as i64;
        let eps = config.bn_eps as f64;
        let head = p / "head";
        let trunk = p / "trunk";
        let ups = p / "upsample";
        let blocks_p = p / "blocks";
        Ok(Self {
            arch: arch.clone(),
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

    fn arch(&self) -> &Architecture {
        &self.arch
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

/// ESRGAN's residual dense block: five 3x3 convs on the concatenation of the input and every
/// earlier output, LeakyReLU(0.2) after the first four, `conv5 * 0.2 + x`.
#[derive(Debug)]
struct DenseBlock {
    convs: Vec<Conv2d>,
}

impl DenseBlock {
    fn new(p: nn::Path, f: i64, g: i64) -> Self {
        let convs = (0..5)
            .map(|k| {
                let cout = if k == 4 { f } else { g };
                Conv2d::new(&p / format!("conv{}", k + 1), f + k * g, cout, 3, 1, true)
            })
            .collect();
        Self { convs }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut feats = vec![x.shallow_clone()];
        for conv in &self.convs[..4] {
            let y = leaky_relu(&conv.forward(&Tensor::cat(&feats, 1)), RRDB_SLOPE);
            feats.push(y);
        }
        self.convs[4].forward(&Tensor::cat(&feats, 1)) * RRDB_RESIDUAL + x
    }
}

/// LeakyReLU slope of RRDBNet.
const RRDB_SLOPE: f64 = 0.2;
/// Residual scaling of RRDBNet's dense blocks and RRDBs.
const RRDB_RESIDUAL: f64 = 0.2;

/// RRDBNet (ESRGAN / Real-ESRGAN), BasicSR's layout (see [`srgan_contract::RrdbConfig`]).
/// Initialised like BasicSR: PyTorch's default, with the body's convolutions scaled by 0.1.
#[derive(Debug)]
pub struct RrdbNet {
    arch: Architecture,
    unshuffle: i64,
    conv_first: Conv2d,
    body: Vec<[DenseBlock; 3]>,
    conv_body: Conv2d,
    conv_up1: Conv2d,
    conv_up2: Conv2d,
    conv_hr: Conv2d,
    conv_last: Conv2d,
}

impl MainModule for RrdbNet {
    fn build(p: &nn::Path, arch: &Architecture) -> Result<Self> {
        let Architecture::RrdbNet(c) = arch else {
            return Err(not_mine("rrdbnet", arch));
        };
        c.validate()?;
        let (f, g, u) = (c.features as i64, c.growth as i64, c.unshuffle() as i64);
        let conv = |name: &str, cin: i64, cout: i64| Conv2d::new(p / name, cin, cout, 3, 1, true);
        let body: Vec<[DenseBlock; 3]> = (0..c.blocks)
            .map(|i| {
                let b = p / "body" / i;
                [
                    DenseBlock::new(&b / "rdb1", f, g),
                    DenseBlock::new(&b / "rdb2", f, g),
                    DenseBlock::new(&b / "rdb3", f, g),
                ]
            })
            .collect();
        tch::no_grad(|| {
            for rdb in body.iter().flatten() {
                for conv in &rdb.convs {
                    let mut w = conv.weight.shallow_clone();
                    let _ = w.g_mul_scalar_(0.1);
                }
            }
        });
        Ok(Self {
            arch: arch.clone(),
            unshuffle: u,
            conv_first: conv("conv_first", 3 * u * u, f),
            body,
            conv_body: conv("conv_body", f, f),
            conv_up1: conv("conv_up1", f, f),
            conv_up2: conv("conv_up2", f, f),
            conv_hr: conv("conv_hr", f, f),
            conv_last: conv("conv_last", f, 3),
        })
    }

    fn arch(&self) -> &Architecture {
        &self.arch
    }

    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let x = if self.unshuffle > 1 {
            xs.pixel_unshuffle(self.unshuffle)
        } else {
            xs.shallow_clone()
        };
        let feat = self.conv_first.forward(&x);
        let mut h = feat.shallow_clone();
        for rdbs in &self.body {
            let out = rdbs[2].forward(&rdbs[1].forward(&rdbs[0].forward(&h)));
            h = out * RRDB_RESIDUAL + h;
        }
        let mut h = self.conv_body.forward(&h) + feat;
        for conv in [&self.conv_up1, &self.conv_up2] {
            h = leaky_relu(&conv.forward(&nearest(&h, 2)), RRDB_SLOPE);
        }
        self.conv_last
            .forward(&leaky_relu(&self.conv_hr.forward(&h), RRDB_SLOPE))
    }
}

/// Nearest-neighbour upsampling by an integer factor (`F.interpolate(mode="nearest")`).
fn nearest(x: &Tensor, f: i64) -> Tensor {
    let s = x.size();
    x.upsample_nearest2d([s[2] * f, s[3] * f], Some(f as f64), Some(f as f64))
}

/// SRVGGNetCompact (Real-ESRGAN's `srvgg_arch.py`, see [`srgan_contract::SrVggConfig`]).
#[derive(Debug)]
pub struct SrVggNet {
    arch: Architecture,
    scale: i64,
    activation: Activation,
    convs: Vec<Conv2d>,
    prelus: Vec<PRelu>,
}

impl MainModule for SrVggNet {
    fn build(p: &nn::Path, arch: &Architecture) -> Result<Self> {
        let Architecture::SrVggCompact(c) = arch else {
            return Err(not_mine("srvgg_compact", arch));
        };
        c.validate()?;
        let (f, s) = (c.features as i64, c.scale as i64);
        let body = p / "body";
        let mut convs = vec![Conv2d::new(&body / 0, 3, f, 3, 1, true)];
        let mut prelus = Vec::new();
        let act_at = |k: usize, prelus: &mut Vec<PRelu>| {
            if c.activation == Activation::Prelu {
                prelus.push(PRelu::new(&body / k, f));
            }
        };
        act_at(1, &mut prelus);
        for i in 0..c.convs {
            convs.push(Conv2d::new(&body / (2 + 2 * i), f, f, 3, 1, true));
            act_at(3 + 2 * i, &mut prelus);
        }
        convs.push(Conv2d::new(&body / c.last_conv(), f, 3 * s * s, 3, 1, true));
        Ok(Self {
            arch: arch.clone(),
            scale: s,
            activation: c.activation,
            convs,
            prelus,
        })
    }

    fn arch(&self) -> &Architecture {
        &self.arch
    }

    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let n = self.convs.len();
        let mut h = xs.shallow_clone();
        for (k, conv) in self.convs[..n - 1].iter().enumerate() {
            h = conv.forward(&h);
            h = match self.activation {
                Activation::Prelu => self.prelus[k].forward(&h),
                Activation::Relu => h.relu(),
                Activation::Leakyrelu => leaky_relu(&h, f64::from(Activation::LEAKY_SLOPE)),
            };
        }
        let y = self.convs[n - 1].forward(&h);
        if self.scale == 1 {
            // PixelShuffle(1) and nearest upsampling by 1 are identities.
            return y + xs;
        }
        y.pixel_shuffle(self.scale) + nearest(xs, self.scale)
    }
}

/// Whichever main module the architecture names: what `srgan-train` and the tch runtime
/// build from a config or a checkpoint.
#[derive(Debug)]
pub enum AnyGenerator {
    /// SRResNet.
    SrResNet(Generator),
    /// RRDBNet.
    RrdbNet(RrdbNet),
    /// SRVGGNetCompact.
    SrVgg(SrVggNet),
}

impl MainModule for AnyGenerator {
    fn build(p: &nn::Path, arch: &Architecture) -> Result<Self> {
        Ok(match arch {
            Architecture::SrResNet(_) => Self::SrResNet(Generator::build(p, arch)?),
            Architecture::RrdbNet(_) => Self::RrdbNet(RrdbNet::build(p, arch)?),
            Architecture::SrVggCompact(_) => Self::SrVgg(SrVggNet::build(p, arch)?),
        })
    }

    fn arch(&self) -> &Architecture {
        match self {
            Self::SrResNet(g) => g.arch(),
            Self::RrdbNet(g) => g.arch(),
            Self::SrVgg(g) => g.arch(),
        }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Self::SrResNet(g) => g.forward_t(xs, train),
            Self::RrdbNet(g) => g.forward_t(xs, train),
            Self::SrVgg(g) => g.forward_t(xs, train),
        }
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
    config: &Architecture,
    extra_metadata: BTreeMap<String, String>,
) -> Result<Checkpoint> {
    let config = config.clone();
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
