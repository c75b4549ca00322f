//! Frozen VGG19 features for the perceptual loss (Ledig et al., arXiv 1609.04802, section
//! 2.2.2): `VGG22` is the output of the 2nd convolution (after its ReLU) before the 2nd max-pool,
//! `VGG54` that of the 4th convolution before the 5th max-pool. Input is RGB in [0, 1]; the
//! ImageNet normalisation happens inside.
//!
//! Weights come from a file the user names, with torchvision's `vgg19` names
//! (`features.N.weight`, `features.N.bias`): a `.pth`/`.pt` state dict as written by
//! `torch.save(model.state_dict(), path)`, or `.safetensors`. Only the layers up to the cut are
//! read; other tensors (the classifier) are ignored. Nothing is ever downloaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::error::{ModelsError, Result};
use crate::layers::Conv2d;

/// torchvision's VGG19 `features`: channels per conv, `0` for a max-pool.
const VGG19_CFG: [i64; 21] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0,
];

/// Where the feature extractor is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VggLayer {
    /// 2nd conv (after ReLU) before the 2nd max-pool: `features[:9]`.
    Vgg22,
    /// 4th conv (after ReLU) before the 5th max-pool: `features[:36]` (the paper's SRGAN).
    #[default]
    Vgg54,
}

impl VggLayer {
    /// (pool index i, conv index j) of the paper's phi_{i,j}.
    fn cut(self) -> (usize, usize) {
        match self {
            VggLayer::Vgg22 => (2, 2),
            VggLayer::Vgg54 => (5, 4),
        }
    }
}

/// One conv of the cut network: its torchvision index and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct VggConvSpec {
    /// Index in torchvision's `features` Sequential.
    pub index: usize,
    /// Input channels.
    pub cin: i64,
    /// Output channels.
    pub cout: i64,
}

/// The convolutions up to the cut and whether each is followed by a max-pool, given a width
/// divisor (1 for the real VGG19; tests use a larger one for tiny networks).
pub fn vgg_layers(layer: VggLayer, width_divisor: i64) -> Vec<(VggConvSpec, bool)> {
    let (pool_i, conv_j) = layer.cut();
    let mut out: Vec<(VggConvSpec, bool)> = Vec::new();
    let (mut index, mut cin, mut pools, mut convs_in_stage) = (0usize, 3i64, 0usize, 0usize);
    for &c in VGG19_CFG.iter() {
        if c == 0 {
            if let Some(last) = out.last_mut() {
                last.1 = true;
            }
            pools += 1;
            convs_in_stage = 0;
            index += 1;
        } else {
            let cout = (c / width_divisor).max(1);
            out.push((VggConvSpec { index, cin, cout }, false));
            cin = cout;
            convs_in_stage += 1;
            index += 2; // conv + ReLU
            if pools + 1 == pool_i && convs_in_stage == conv_j {
                break;
            }
        }
    }
    out
}

/// Config of the perceptual module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct VggConfig {
    /// The weights file (`.pth`, `.pt` or `.safetensors`). Default: none (perceptual loss off
    /// or an error if `loss.vgg_weight > 0`).
    pub weights: Option<PathBuf>,
    /// Where to cut. Default `vgg54`.
    pub layer: VggLayer,
    /// Divides every width; 1 (the default) is the real VGG19. Only for tests.
    #[serde(skip_serializing_if = "is_one")]
    pub width_divisor: Option<i64>,
}

fn is_one(v: &Option<i64>) -> bool {
    v.is_none_or(|d| d == 1)
}

/// The frozen feature extractor. Its variables live in their own `VarStore`, frozen, outside
/// every optimiser.
#[derive(Debug)]
pub struct Vgg19Features {
    vs: nn::VarStore,
    convs: Vec<(Conv2d, bool)>,
    mean: Tensor,
    std: Tensor,
}

impl Vgg19Features {
    /// Loads the layers up to `config.layer` from `config.weights` onto `device`.
    pub fn load(config: &VggConfig, device: Device) -> Result<Self> {
        let path = config
            .weights
            .as_ref()
            .ok_or(ModelsError::VggWeightsRequired { weight: f64::NAN })?;
        let divisor = config.width_divisor.unwrap_or(1).max(1);
        let specs = vgg_layers(config.layer, divisor);
        let named = read_named_tensors(path)?;
        let mut vs = nn::VarStore::new(device);
        let root = vs.root();
        let f = &root / "features";
        let mut convs = Vec::new();
        for (s, pool) in &specs {
            convs.push((Conv2d::new(&f / s.index, s.cin, s.cout, 3, 1, true), *pool));
        }
        let vars = vs.variables();
        tch::no_grad(|| -> Result<()> {
            for (s, _) in &specs {
                for (suffix, shape) in [
                    ("weight", vec![s.cout, s.cin, 3, 3]),
                    ("bias", vec![s.cout]),
                ] {
                    let name = format!("features.{}.{suffix}", s.index);
                    let src = named
                        .get(&name)
                        .ok_or_else(|| ModelsError::VggTensorMissing {
                            path: path.clone(),
                            name: name.clone(),
                            expected: shape.clone(),
                        })?;
                    if src.size() != shape {
                        return Err(ModelsError::VggTensorShape {
                            path: path.clone(),
                            name,
                            expected: shape,
                            found: src.size(),
                        });
                    }
                    let mut dst = vars[&name].shallow_clone();
                    dst.f_copy_(&src.to_kind(Kind::Float))
                        .map_err(ModelsError::tch(format!("loading `{name}`")))?;
                }
            }
            Ok(())
        })?;
        vs.freeze();
        let mean = Tensor::from_slice(&[0.485f32, 0.456, 0.406])
            .view([1, 3, 1, 1])
            .to_device(device);
        let std = Tensor::from_slice(&[0.229f32, 0.224, 0.225])
            .view([1, 3, 1, 1])
            .to_device(device);
        Ok(Self {
            vs,
            convs,
            mean,
            std,
        })
    }

    /// Features of RGB `[N, 3, H, W]` in [0, 1]. Gradients flow to the input, never to the
    /// weights.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let mut h = (xs - &self.mean) / &self.std;
        let last = self.convs.len().saturating_sub(1);
        for (k, (conv, pool)) in self.convs.iter().enumerate() {
            h = conv.forward(&h).relu();
            if *pool && k != last {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        h
    }

    /// The frozen variables (for tests that check they never change).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }
}

/// Reads every tensor of a `.pth`/`.pt`/`.bin` (PyTorch zip) or `.safetensors` file.
pub fn read_named_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(ModelsError::VggWeights {
            path: path.into(),
            source: "no such file".into(),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let res = match ext.as_str() {
        "safetensors" => Tensor::read_safetensors(path),
        // Read in plain Rust: libtorch's own loader (`Tensor::loadz_multi`) turns the
        // `OrderedDict` of a real `state_dict()` into None and fails.
        "pth" | "pt" | "bin" => {
            let tensors = srgan_export::pth::read_pth(path).map_err(ModelsError::VggPth)?;
            return tensors
                .into_iter()
                .map(|(name, t)| {
                    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                    let tensor = Tensor::f_from_slice(&t.data)
                        .and_then(|x| x.f_view(shape.as_slice()))
                        .map_err(|e| ModelsError::VggWeights {
                            path: path.into(),
                            source: e.into(),
                        })?;
                    Ok((name, tensor))
                })
                .collect();
        }
        other => {
            return Err(ModelsError::VggWeights {
                path: path.into(),
                source: format!(
                    "unknown extension `{other}`: expected .pth, .pt, .bin or .safetensors"
                )
                .into(),
            })
        }
    };
    let v = res.map_err(|e| ModelsError::VggWeights {
        path: path.into(),
        source: e.into(),
    })?;
    Ok(v.into_iter().collect())
}
