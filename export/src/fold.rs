//! Constant folding done at export time: BatchNorm (eval mode) into the preceding convolution,
//! and the linear map from the training output range to [0, 1] into the tail convolution;
//! and the exact rewrite that moves a convolution in front of a pixel shuffle
//! ([`subpixel_conv`]). Arithmetic is in f64 and rounded to f32 once; the rewrite only moves
//! values.

use crate::checkpoint::Tensor;

/// BatchNorm statistics and affine parameters of one layer, each `[C]`.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm<'a> {
    /// gamma.
    pub weight: &'a [f32],
    /// beta.
    pub bias: &'a [f32],
    /// Running mean.
    pub mean: &'a [f32],
    /// Running variance.
    pub var: &'a [f32],
    /// Epsilon added to the variance.
    pub eps: f32,
}

/// Folds `bn(conv(x))` into one convolution: with `s = gamma / sqrt(var + eps)` per output
/// channel, `W' = W * s` and `b' = (b - mean) * s + beta` (`b = 0` when the conv has no bias).
/// Returns `(weight, bias)`. Checked against PyTorch's `Conv2d` + `BatchNorm2d` in
/// `tests/export/fold.rs`.
pub fn fold_batch_norm(
    weight: &Tensor,
    bias: Option<&[f32]>,
    bn: BatchNorm<'_>,
) -> (Tensor, Tensor) {
    let out_ch = weight.shape[0];
    let per_out = weight.data.len() / out_ch;
    let mut w = Vec::with_capacity(weight.data.len());
    let mut b = Vec::with_capacity(out_ch);
    for o in 0..out_ch {
        let s = bn.weight[o] as f64 / (bn.var[o] as f64 + bn.eps as f64).sqrt();
        w.extend(
            weight.data[o * per_out..(o + 1) * per_out]
                .iter()
                .map(|&v| (v as f64 * s) as f32),
        );
        let b0 = bias.map_or(0.0, |b| b[o] as f64);
        b.push(((b0 - bn.mean[o] as f64) * s + bn.bias[o] as f64) as f32);
    }
    (
        Tensor::new(weight.shape.clone(), w),
        Tensor::new(vec![out_ch], b),
    )
}

/// Folds `(conv(x) - lo) / (hi - lo)` into the convolution: `W / (hi - lo)`,
/// `(b - lo) / (hi - lo)`. Returns `(weight, bias)`.
pub fn fold_output_range(weight: &Tensor, bias: &[f32], range: [f32; 2]) -> (Tensor, Tensor) {
    let (lo, span) = (range[0] as f64, range[1] as f64 - range[0] as f64);
    let w = weight
        .data
        .iter()
        .map(|&v| (v as f64 / span) as f32)
        .collect();
    let b = bias
        .iter()
        .map(|&v| ((v as f64 - lo) / span) as f32)
        .collect();
    (
        Tensor::new(weight.shape.clone(), w),
        Tensor::new(vec![bias.len()], b),
    )
}

/// Rewrites `conv_k(pixel_shuffle_r(y))` as `pixel_shuffle_r(conv_k'(y))`, exactly.
///
/// `weight` is a `[O, C, k, k]` "same" convolution (odd `k`, zero padding `p = k / 2`) on the
/// fine grid, after a CRD pixel shuffle by `r` (`fine[c, r*h+i, r*w+j] = y[c*r*r + i*r + j,
/// h, w]`). The returned convolution runs on the coarse grid `y`: `[O*r*r, C*r*r, k', k']`
/// with `k' = 2 * ceil(p / r) + 1` ("same" padding again), and its output, pixel-shuffled by
/// `r`, is the original output: output channel `o*r*r + a*r + b` holds the fine pixels
/// `(r*h + a, r*w + b)` of channel `o`, and each fine tap `(dy, dx)` of sub-pixel `(a, b)`
/// lands on the coarse tap `(a + dy - p).div_euclid(r)` of input sub-pixel
/// `(a + dy - p).rem_euclid(r)`. Zero padding agrees because a fine pixel is outside the
/// image exactly when its coarse pixel is. The other taps are zero (for the paper's 9x9 tail
/// at r = 2: 81% of the 5x5 taps are used).
///
/// Why: ONNX Runtime pads a convolution's output channels to its 16-wide blocked layout, so
/// the 3-channel tail at the full output resolution cost as much as a 16-channel one (a third
/// of the paper model's time); on the coarse grid it has 12 channels and a quarter of the
/// pixels, and the 64-channel full-resolution pixel shuffle before it disappears.
pub fn subpixel_conv(weight: &Tensor, bias: &[f32], r: usize) -> (Tensor, Tensor) {
    let [o_n, c_n, k, kw] = [
        weight.shape[0],
        weight.shape[1],
        weight.shape[2],
        weight.shape[3],
    ];
    assert!(k == kw && k % 2 == 1, "subpixel_conv: square odd kernel");
    assert!(
        r >= 1 && bias.len() == o_n,
        "subpixel_conv: bias per output channel"
    );
    let p = k / 2;
    let pc = p.div_ceil(r);
    let k2 = 2 * pc + 1;
    let rr = r * r;
    let (oc, ic) = (o_n * rr, c_n * rr);
    let mut w = vec![0.0f32; oc * ic * k2 * k2];
    for o in 0..o_n {
        for a in 0..r {
            for b in 0..r {
                let out = o * rr + a * r + b;
                for dy in 0..k {
                    let t = (a + dy) as isize - p as isize;
                    let (u, a2) = (t.div_euclid(r as isize), t.rem_euclid(r as isize) as usize);
                    let u = (u + pc as isize) as usize;
                    for dx in 0..k {
                        let s = (b + dx) as isize - p as isize;
                        let (v, b2) = (s.div_euclid(r as isize), s.rem_euclid(r as isize) as usize);
                        let v = (v + pc as isize) as usize;
                        for c in 0..c_n {
                            let inp = c * rr + a2 * r + b2;
                            w[((out * ic + inp) * k2 + u) * k2 + v] =
                                weight.data[((o * c_n + c) * k + dy) * k + dx];
                        }
                    }
                }
            }
        }
    }
    let b = bias
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, rr))
        .collect();
    (
        Tensor::new(vec![oc, ic, k2, k2], w),
        Tensor::new(vec![oc], b),
    )
}

/// A per-channel `[C]` (or `[C, 1, 1]`) slope repeated for the `r*r` sub-pixels of each
/// channel, `[C*r*r, 1, 1]`: PReLU before a CRD pixel shuffle by `r` that equals PReLU after it.
pub fn repeat_per_subpixel(slope: &Tensor, r: usize) -> Tensor {
    let data: Vec<f32> = slope
        .data
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, r * r))
        .collect();
    Tensor::new(vec![data.len(), 1, 1], data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_range_fold() {
        let w = Tensor::new(vec![1, 1, 1, 1], vec![2.0]);
        let (fw, fb) = fold_output_range(&w, &[0.5], [-1.0, 1.0]);
        // conv(x) = 2x + 0.5 -> (2x + 0.5 + 1) / 2
        let x = 0.2f32;
        assert!((fw.data[0] * x + fb.data[0] - (2.0 * x + 1.5) / 2.0).abs() < 1e-7);
    }
}
