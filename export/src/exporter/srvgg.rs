//! SRVGGNetCompact's graph (see [`srgan_contract::SrVggConfig`] for the network).
//!
//! Every conv runs on the LR grid. The nearest-upsampled input that Real-ESRGAN adds after the
//! pixel shuffle is added *before* it instead, on the coarse grid: nearest upsampling by `s`
//! followed by nothing equals `DepthToSpace(s)` of each input channel repeated `s^2` times
//! (CRD order sends channels `c*s^2 .. c*s^2 + s^2` to channel `c`), and that repetition is a
//! 1x1 `Conv` with weights 0 and 1, so `shuffle(conv) + up(x) = shuffle(conv + repeat(x))`
//! exactly, with one shuffle and no `Resize`. The training output range is folded into the
//! last conv and the repetition's weights.
//!
//! At scale 1 both the shuffle and the upsampling are identities: the graph is the last conv
//! plus the input (times `1 / (hi - lo)` of the output range, a `Mul`, only when that is not
//! 1), with no `DepthToSpace`, no `Resize` and no repetition conv.

use crate::checkpoint::{Checkpoint, Tensor};
use crate::ops::{self, GraphBuilder};
use srgan_contract::{Activation, SrVggConfig};

use super::{conv_plain, output_conv, prelu, ExportError};

/// The graph from `x` (the input in the training range) to the value before the output clip.
pub(crate) fn graph(
    g: &mut GraphBuilder,
    ck: &Checkpoint,
    cfg: &SrVggConfig,
    x: &str,
) -> Result<String, ExportError> {
    let act = |g: &mut GraphBuilder, k: usize, y: &str| -> String {
        let name = format!("body.{k}");
        match cfg.activation {
            Activation::Prelu => prelu(g, ck, &name, y),
            Activation::Relu => ops::relu(g, &name, y),
            Activation::Leakyrelu => ops::leaky_relu(g, &name, y, Activation::LEAKY_SLOPE),
        }
    };
    let mut y = conv_plain(g, ck, "body.0", x, 3);
    y = act(g, 1, &y);
    for i in 0..cfg.convs {
        y = conv_plain(g, ck, &format!("body.{}", 2 + 2 * i), &y, 3);
        y = act(g, 3 + 2 * i, &y);
    }
    let last = format!("body.{}", cfg.last_conv());
    let y = output_conv(g, ck, &last, &y, 3)?;
    let range = cfg.hr_range;
    let gain = 1.0 / (range[1] - range[0]);

    if cfg.scale == 1 {
        // The skip is the input itself, scaled like the output.
        let skip = if gain == 1.0 {
            x.to_string()
        } else {
            let gain = g.scalar("skip.gain", gain);
            ops::mul(g, "skip.scale", x, &gain)
        };
        return Ok(ops::add(g, "skip.add", &y, &skip));
    }

    // The skip: each input channel repeated s^2 times by a 1x1 conv, scaled like the output.
    let s2 = cfg.scale * cfg.scale;
    let mut rw = vec![0.0f32; 3 * s2 * 3];
    for c in 0..3 {
        for k in 0..s2 {
            rw[(c * s2 + k) * 3 + c] = gain;
        }
    }
    let rw = g.initializer(
        "skip.repeat.weight",
        &Tensor::new(vec![3 * s2, 3, 1, 1], rw),
        "nearest upsampling of the input as a channel repetition before the pixel shuffle",
    );
    let rb = g.initializer(
        "skip.repeat.bias",
        &Tensor::new(vec![3 * s2], vec![0.0; 3 * s2]),
        "",
    );
    let skip = ops::conv(g, "skip.repeat", x, &rw, &rb, 1);
    let y = ops::add(g, "skip.add", &y, &skip);
    Ok(ops::depth_to_space(
        g,
        "pixel_shuffle",
        &y,
        cfg.scale as i64,
    ))
}
