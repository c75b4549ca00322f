//! RRDBNet's graph (see [`srgan_contract::RrdbConfig`] for the network).
//!
//! Exported literally, with two exact rewrites: the dense blocks' residual scaling 0.2 is
//! folded into each block's `conv5`, and for x2 / x1 models PyTorch's `pixel_unshuffle(u)`
//! followed by the 3x3 `conv_first` is one `3u x 3u` convolution of stride `u` on the input
//! (`SpaceToDepth` would do too, but tract cannot size it for a symbolic height). Nearest x2
//! upsampling is `Resize` (mode nearest, asymmetric, floor: PyTorch's `F.interpolate`). The
//! training output range is folded into `conv_last`.

use crate::checkpoint::{Checkpoint, Tensor};
use crate::ops::{self, GraphBuilder};
use srgan_contract::RrdbConfig;

use super::{conv_plain, finite, output_conv, tensor, ExportError};

/// LeakyReLU slope of every RRDBNet activation.
pub const LRELU_SLOPE: f32 = 0.2;
/// Residual scaling of the dense blocks and of each RRDB.
pub const RESIDUAL_SCALE: f32 = 0.2;

/// The graph from `x` (the input in the training range) to the value before the output clip.
pub(crate) fn graph(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    cfg: &RrdbConfig,
    x: &str,
) -> Result<String, ExportError> {
    let u = cfg.unshuffle();
    let feat = if u > 1 {
        conv_first_unshuffled(g, ck, u, x)
    } else {
        conv_plain(g, ck, "conv_first", x, 3)
    };
    let scale = g.scalar("residual_scale", RESIDUAL_SCALE);
    let mut y = feat.clone();
    for i in 0..cfg.blocks {
        y = rrdb(g, ck, i, &y, &scale)?;
    }
    let body = conv_plain(g, ck, "conv_body", &y, 3);
    let mut y = ops::add(g, "conv_body.add", &feat, &body);
    let scales = g.initializer(
        "upsample.scales",
        &Tensor::new(vec![4], vec![1.0, 1.0, 2.0, 2.0]),
        "nearest x2",
    );
    for k in 1..=2 {
        let up = ops::resize_nearest(g, &format!("upsample{k}"), &y, &scales);
        let c = conv_plain(g, ck, &format!("conv_up{k}"), &up, 3);
        y = ops::leaky_relu(g, &format!("conv_up{k}.lrelu"), &c, LRELU_SLOPE);
    }
    let c = conv_plain(g, ck, "conv_hr", &y, 3);
    let y = ops::leaky_relu(g, "conv_hr.lrelu", &c, LRELU_SLOPE);
    output_conv(g, ck, "conv_last", &y, 3)
}

/// `conv_first` of the unshuffled input as one convolution of the input itself: PyTorch's
/// `pixel_unshuffle` puts `x[c, h*u + i, w*u + j]` in channel `c*u*u + i*u + j`, so tap
/// `(ky, kx)` of that channel is the input pixel at offset `((ky - 1)*u + i, (kx - 1)*u + j)`
/// from `(h*u, w*u)`: kernel `3u`, stride `u`, padding `u`, with
/// `W'[o, c, ky*u + i, kx*u + j] = W[o, c*u*u + i*u + j, ky, kx]`. Output `H / u` for a
/// multiple of `u`, as `pixel_unshuffle` requires.
fn conv_first_unshuffled(g: &mut GraphBuilder, ck: &Checkpoint, u: usize, x: &str) -> String {
    let w = tensor(ck, "conv_first.weight");
    let o = w.shape[0];
    let k = 3 * u;
    let mut data = vec![0.0f32; o * 3 * k * k];
    for oc in 0..o {
        for c in 0..3 {
            for i in 0..u {
                for j in 0..u {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let src = ((oc * 3 * u * u + c * u * u + i * u + j) * 3 + ky) * 3 + kx;
                            let dst = ((oc * 3 + c) * k + ky * u + i) * k + kx * u + j;
                            data[dst] = w.data[src];
                        }
                    }
                }
            }
        }
    }
    let wn = g.initializer(
        "conv_first.weight",
        &Tensor::new(vec![o, 3, k, k], data),
        &format!("pixel_unshuffle({u}) folded in: a {k}x{k} kernel of stride {u}"),
    );
    let bn = g.initializer("conv_first.bias", tensor(ck, "conv_first.bias"), "");
    ops::conv_strided(g, "conv_first", x, &wn, &bn, k, u, u)
}

/// One RRDB: three dense blocks, then `out * 0.2 + x`.
fn rrdb(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    i: usize,
    x: &str,
    scale: &str,
) -> Result<String, ExportError> {
    let mut y = x.to_string();
    for r in 1..=3 {
        y = dense_block(g, ck, &format!("body.{i}.rdb{r}"), &y)?;
    }
    let y = ops::mul(g, &format!("body.{i}.scale"), &y, scale);
    Ok(ops::add(g, &format!("body.{i}.add"), &y, x))
}

/// One residual dense block: conv1..conv4 each see the concatenation of the input and every
/// earlier output, with LeakyReLU; conv5 (scaled by 0.2, folded) plus the input.
fn dense_block(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    p: &str,
    x: &str,
) -> Result<String, ExportError> {
    let mut feats: Vec<String> = vec![x.to_string()];
    for k in 1..=4 {
        let inp = concat(g, &format!("{p}.cat{k}"), &feats);
        let c = conv_plain(g, ck, &format!("{p}.conv{k}"), &inp, 3);
        feats.push(ops::leaky_relu(
            g,
            &format!("{p}.conv{k}.lrelu"),
            &c,
            LRELU_SLOPE,
        ));
    }
    let inp = concat(g, &format!("{p}.cat5"), &feats);
    let name = format!("{p}.conv5");
    let w = tensor(ck, &format!("{name}.weight"));
    let b = tensor(ck, &format!("{name}.bias"));
    let scaled = |t: &Tensor| {
        Tensor::new(
            t.shape.clone(),
            t.data
                .iter()
                .map(|v| (f64::from(*v) * f64::from(RESIDUAL_SCALE)) as f32)
                .collect(),
        )
    };
    let (w, b) = (scaled(w), scaled(b));
    finite(&format!("{name}.weight"), &w)?;
    let wn = g.initializer(&format!("{name}.weight"), &w, "x 0.2 (residual scaling)");
    let bn = g.initializer(&format!("{name}.bias"), &b, "x 0.2 (residual scaling)");
    let c = ops::conv(g, &name, &inp, &wn, &bn, 3);
    Ok(ops::add(g, &format!("{p}.add"), &c, x))
}

fn concat(g: &mut GraphBuilder, name: &str, xs: &[String]) -> String {
    if xs.len() == 1 {
        return xs[0].clone();
    }
    let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
    ops::concat_channels(g, name, &refs)
}
