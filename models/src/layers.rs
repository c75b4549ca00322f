//! Small building blocks with PyTorch's default initialisation, so that every variable is named
//! by the `nn::Path` it is created under (`conv.weight`, `bn.running_var`, `prelu.weight`).

use tch::nn::{self, Init};
use tch::Tensor;

/// A 2-D convolution, `[O, I, k, k]` weight and an optional `[O]` bias, initialised like
/// PyTorch's `nn.Conv2d` (uniform in ±1/sqrt(fan_in)).
#[derive(Debug)]
pub struct Conv2d {
    /// `[O, I, k, k]`.
    pub weight: Tensor,
    /// `[O]`, if the layer has one.
    pub bias: Option<Tensor>,
    stride: i64,
    padding: i64,
}

impl Conv2d {
    /// A `k`x`k` convolution with "same" padding for stride 1.
    pub fn new(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, bias: bool) -> Self {
        let fan_in = (cin * k * k) as f64;
        let b = 1.0 / fan_in.sqrt();
        let init = Init::Uniform { lo: -b, up: b };
        let weight = p.var("weight", &[cout, cin, k, k], init);
        let bias = bias.then(|| p.var("bias", &[cout], init));
        Self {
            weight,
            bias,
            stride,
            padding: k / 2,
        }
    }

    /// Applies the convolution.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        xs.conv2d(
            &self.weight,
            self.bias.as_ref(),
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }
}

/// Parametric ReLU with one slope per channel (`weight`, shape `[C]`, initialised to 0.25).
#[derive(Debug)]
pub struct PRelu {
    /// `[C]`.
    pub weight: Tensor,
}

impl PRelu {
    /// Creates `weight` under `p`.
    pub fn new(p: nn::Path, channels: i64) -> Self {
        Self {
            weight: p.var("weight", &[channels], Init::Const(0.25)),
        }
    }

    /// Applies the activation along dimension 1.
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        xs.prelu(&self.weight)
    }
}

/// BatchNorm over channels with PyTorch's defaults (gamma 1, beta 0, momentum 0.1).
pub fn batch_norm(p: nn::Path, channels: i64, eps: f64) -> nn::BatchNorm {
    nn::batch_norm2d(
        p,
        channels,
        nn::BatchNormConfig {
            eps,
            momentum: 0.1,
            ws_init: Init::Const(1.0),
            bs_init: Init::Const(0.0),
            ..Default::default()
        },
    )
}

/// LeakyReLU with the given negative slope (< 1).
pub fn leaky_relu(xs: &Tensor, slope: f64) -> Tensor {
    xs.maximum(&(xs * slope))
}
