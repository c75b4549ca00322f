//! Constant folding done at export time: BatchNorm (eval mode) into the preceding convolution,
//! and the linear map from the training output range to [0, 1] into the tail convolution.
//! Arithmetic is in f64 and rounded to f32 once.

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
/// Returns `(weight, bias)`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_fold_matches_unfolded_formula() {
        // One output channel, 1x1 kernel over two input channels: y = w . x + b.
        let w = Tensor::new(vec![2, 2, 1, 1], vec![1.0, 2.0, -1.0, 0.5]);
        let bn = BatchNorm {
            weight: &[2.0, 0.5],
            bias: &[0.1, -0.3],
            mean: &[0.25, -1.0],
            var: &[4.0, 0.25],
            eps: 0.0,
        };
        let (fw, fb) = fold_batch_norm(&w, Some(&[1.0, 0.0]), bn);
        let x = [0.3f32, -0.7];
        for o in 0..2 {
            let conv = w.data[o * 2] * x[0] + w.data[o * 2 + 1] * x[1] + [1.0, 0.0][o];
            let want = (conv - bn.mean[o]) / bn.var[o].sqrt() * bn.weight[o] + bn.bias[o];
            let got = fw.data[o * 2] * x[0] + fw.data[o * 2 + 1] * x[1] + fb.data[o];
            assert!((want - got).abs() < 1e-6, "channel {o}: {want} vs {got}");
        }
        // Without a bias the mean is still subtracted.
        let (_, fb) = fold_batch_norm(&w, None, bn);
        assert!((fb.data[0] - (-0.25 * 2.0 / 2.0 + 0.1)).abs() < 1e-7);
    }

    #[test]
    fn output_range_fold() {
        let w = Tensor::new(vec![1, 1, 1, 1], vec![2.0]);
        let (fw, fb) = fold_output_range(&w, &[0.5], [-1.0, 1.0]);
        // conv(x) = 2x + 0.5 -> (2x + 0.5 + 1) / 2
        let x = 0.2f32;
        assert!((fw.data[0] * x + fb.data[0] - (2.0 * x + 1.5) / 2.0).abs() < 1e-7);
    }
}
