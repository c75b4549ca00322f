//! Separable resampling of f32 planes and NCHW tensors: bicubic (Keys, a = -0.5) and
//! Lanczos3, with antialiasing when shrinking.
//!
//! The weights follow MATLAB's `imresize` (and BasicSR's `imresize` port): output pixel `x`
//! (1-based) samples the input at `u = x / scale + 0.5 * (1 - 1 / scale)`; when shrinking,
//! the kernel is stretched by `1 / scale`; weights are normalised to sum to one and indices
//! beyond the edges are mirrored (symmetric padding). So [`downscale`] by 4 is the SRGAN
//! paper's "bicubic x4 downsampling" used to make LR images, and [`upscale`] is the bicubic
//! baseline. The same code upscales the alpha channel of RGBA images.
//!
//! Everything is computed in f32 without intermediate rounding. The horizontal pass runs
//! first; the vertical pass then produces one output row at a time
//! ([`resize_plane_rows`]), so a caller can quantise rows straight into its own buffer.

use ndarray::{s, Array2, Array4, ArrayView2, ArrayView4};

/// A resampling kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// Keys' cubic convolution with a = -0.5 (MATLAB `bicubic`, Catmull-Rom). The default.
    #[default]
    Bicubic,
    /// Lanczos with three lobes.
    Lanczos3,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bicubic => 4.0,
            Filter::Lanczos3 => 6.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        let a = x.abs();
        match self {
            Filter::Bicubic => {
                let (a2, a3) = (a * a, a * a * a);
                if a <= 1.0 {
                    1.5 * a3 - 2.5 * a2 + 1.0
                } else if a <= 2.0 {
                    -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0
                } else {
                    0.0
                }
            }
            Filter::Lanczos3 => {
                if a < 1e-12 {
                    1.0
                } else if a < 3.0 {
                    let px = std::f64::consts::PI * a;
                    3.0 * px.sin() * (px / 3.0).sin() / (px * px)
                } else {
                    0.0
                }
            }
        }
    }
}

/// For each output index, the input indices it reads and their weights.
#[derive(Debug, Clone)]
struct Contributions {
    taps: usize,
    /// `out_len * taps` input indices (already mirrored into range).
    index: Vec<usize>,
    /// `out_len * taps` weights, each row summing to one.
    weight: Vec<f32>,
}

impl Contributions {
    /// Weights for resizing `in_len` samples to `out_len` with the given scale factor
    /// (`out / in` nominally; passed separately as MATLAB does when sizes are rounded).
    fn new(in_len: usize, out_len: usize, scale: f64, filter: Filter) -> Self {
        let antialias = scale < 1.0;
        let (kscale, width) = if antialias {
            (scale, filter.support() / scale)
        } else {
            (1.0, filter.support())
        };
        let taps = width.ceil() as usize + 2;
        let mut index = Vec::with_capacity(out_len * taps);
        let mut weight = Vec::with_capacity(out_len * taps);
        let period = 2 * in_len as i64;
        let mut w = vec![0f64; taps];
        for x in 1..=out_len {
            let u = x as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
            let left = (u - width / 2.0).floor() as i64;
            let mut sum = 0.0;
            for (k, wk) in w.iter_mut().enumerate() {
                let j = left + k as i64; // 1-based input position
                *wk = kscale * filter.eval(kscale * (u - j as f64));
                sum += *wk;
            }
            for (k, wk) in w.iter().enumerate() {
                // Symmetric padding: 1..n, n..1, repeated.
                let j = (left + k as i64 - 1).rem_euclid(period);
                let j = if j < in_len as i64 { j } else { period - 1 - j };
                index.push(j as usize);
                weight.push(if sum != 0.0 { (wk / sum) as f32 } else { 0.0 });
            }
        }
        Self {
            taps,
            index,
            weight,
        }
    }

    fn taps_of(&self, o: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = o * self.taps..(o + 1) * self.taps;
        self.index[r.clone()]
            .iter()
            .copied()
            .zip(self.weight[r].iter().copied())
    }
}

/// Resizes a plane to `out_h` x `out_w`, handing each output row to `row` in order
/// (row index, samples). Only an `in_h` x `out_w` intermediate is held.
pub fn resize_plane_rows(
    src: ArrayView2<'_, f32>,
    out_h: usize,
    out_w: usize,
    filter: Filter,
    row: impl FnMut(usize, &[f32]),
) {
    let (in_h, in_w) = src.dim();
    let sy = out_h as f64 / in_h.max(1) as f64;
    let sx = out_w as f64 / in_w.max(1) as f64;
    resize_plane_rows_scaled(src, (out_h, sy), (out_w, sx), filter, row)
}

fn resize_plane_rows_scaled(
    src: ArrayView2<'_, f32>,
    (out_h, sy): (usize, f64),
    (out_w, sx): (usize, f64),
    filter: Filter,
    mut row: impl FnMut(usize, &[f32]),
) {
    let (in_h, in_w) = src.dim();
    if in_h == 0 || in_w == 0 || out_h == 0 || out_w == 0 {
        return;
    }
    let cx = Contributions::new(in_w, out_w, sx, filter);
    let cy = Contributions::new(in_h, out_h, sy, filter);
    // Horizontal pass: in_h x out_w.
    let mut mid = vec![0f32; in_h * out_w];
    for (y, src_row) in src.outer_iter().enumerate() {
        let dst = &mut mid[y * out_w..(y + 1) * out_w];
        for (o, d) in dst.iter_mut().enumerate() {
            *d = cx.taps_of(o).map(|(i, w)| w * src_row[i]).sum();
        }
    }
    // Vertical pass, one output row at a time.
    let mut out_row = vec![0f32; out_w];
    for o in 0..out_h {
        out_row.fill(0.0);
        for (i, w) in cy.taps_of(o) {
            if w == 0.0 {
                continue;
            }
            let m = &mid[i * out_w..(i + 1) * out_w];
            for (d, v) in out_row.iter_mut().zip(m) {
                *d += w * v;
            }
        }
        row(o, &out_row);
    }
}

/// Resizes a plane to `out_h` x `out_w`.
pub fn resize_plane(
    src: ArrayView2<'_, f32>,
    out_h: usize,
    out_w: usize,
    filter: Filter,
) -> Array2<f32> {
    let mut out = Array2::<f32>::zeros((out_h, out_w));
    resize_plane_rows(src, out_h, out_w, filter, |y, r| {
        out.row_mut(y).iter_mut().zip(r).for_each(|(d, v)| *d = *v);
    });
    out
}

fn resize_tensor_scaled(
    x: ArrayView4<'_, f32>,
    (out_h, sy): (usize, f64),
    (out_w, sx): (usize, f64),
    filter: Filter,
) -> Array4<f32> {
    let (n, c, _, _) = x.dim();
    let mut out = Array4::<f32>::zeros((n, c, out_h, out_w));
    for b in 0..n {
        for ch in 0..c {
            let mut dst = out.slice_mut(s![b, ch, .., ..]);
            resize_plane_rows_scaled(
                x.slice(s![b, ch, .., ..]),
                (out_h, sy),
                (out_w, sx),
                filter,
                |y, r| {
                    dst.row_mut(y).iter_mut().zip(r).for_each(|(d, v)| *d = *v);
                },
            );
        }
    }
    out
}

/// Resizes every plane of an `[N, C, H, W]` tensor to `out_h` x `out_w`.
pub fn resize_tensor(
    x: ArrayView4<'_, f32>,
    out_h: usize,
    out_w: usize,
    filter: Filter,
) -> Array4<f32> {
    let (_, _, h, w) = x.dim();
    resize_tensor_scaled(
        x,
        (out_h, out_h as f64 / h.max(1) as f64),
        (out_w, out_w as f64 / w.max(1) as f64),
        filter,
    )
}

/// Bicubic downscaling by an integer factor with antialiasing, as MATLAB's
/// `imresize(img, 1/factor, 'bicubic')`: the output is `ceil(H / factor)` x `ceil(W / factor)`.
/// Crop the input to a multiple of `factor` first for exact LR/HR pairs.
pub fn downscale(x: ArrayView4<'_, f32>, factor: usize) -> Array4<f32> {
    let f = factor.max(1);
    let (_, _, h, w) = x.dim();
    let s = 1.0 / f as f64;
    resize_tensor_scaled(x, (h.div_ceil(f), s), (w.div_ceil(f), s), Filter::Bicubic)
}

/// Bicubic upscaling by an integer factor (the classical baseline): `H * factor` x
/// `W * factor`. Values are not clamped (bicubic overshoots slightly at edges).
pub fn upscale(x: ArrayView4<'_, f32>, factor: usize) -> Array4<f32> {
    let f = factor.max(1);
    let (_, _, h, w) = x.dim();
    resize_tensor_scaled(x, (h * f, f as f64), (w * f, f as f64), Filter::Bicubic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array};

    #[test]
    fn weights_sum_to_one_and_indices_stay_in_range() {
        for filter in [Filter::Bicubic, Filter::Lanczos3] {
            for (i, o) in [(1usize, 4usize), (5, 20), (20, 5), (7, 3), (3, 3)] {
                let c = Contributions::new(i, o, o as f64 / i as f64, filter);
                for k in 0..o {
                    let sum: f32 = c.taps_of(k).map(|(_, w)| w).sum();
                    assert!((sum - 1.0).abs() < 1e-5, "{filter:?} {i}->{o}: {sum}");
                    assert!(c.taps_of(k).all(|(j, _)| j < i));
                }
            }
        }
    }

    #[test]
    fn constants_are_preserved() {
        let x = Array::from_elem((1, 2, 7, 9), 0.37f32);
        for y in [upscale(x.view(), 4), downscale(x.view(), 3)] {
            assert!(y.iter().all(|v| (v - 0.37).abs() < 1e-6));
        }
        assert_eq!(upscale(x.view(), 4).dim(), (1, 2, 28, 36));
        assert_eq!(downscale(x.view(), 3).dim(), (1, 2, 3, 3));
    }

    #[test]
    fn identity_size_is_identity() {
        let p = array![[0.1f32, 0.5, 0.9], [0.3, 0.2, 0.7]];
        let q = resize_plane(p.view(), 2, 3, Filter::Bicubic);
        for (a, b) in p.iter().zip(q.iter()) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn downscale_by_two_matches_hand_computed_weights() {
        // Shrinking by 2: u = 2x - 0.5, kernel h(t) = 0.5 * cubic(0.5 t), support 8.
        // For a ramp f(j) = j the taps are symmetric about u, so interior outputs equal u
        // (in 1-based input coordinates), i.e. 0-based value 2x - 1.5 for 1-based x.
        let ramp = Array2::from_shape_fn((1, 16), |(_, j)| j as f32);
        let y = resize_plane(ramp.view(), 1, 8, Filter::Bicubic);
        for x in 3..=6 {
            let want = 2.0 * x as f32 - 1.5;
            assert!(
                (y[[0, x - 1]] - want).abs() < 1e-4,
                "{x}: {}",
                y[[0, x - 1]]
            );
        }
    }

    #[test]
    fn upscale_interpolates_known_points() {
        // Upscaling by 2: output x (1-based) samples u = x/2 + 0.25. For x = 2, u = 1.25:
        // weights at j = 0..3 (1-based) of the cubic at distances 1.25, 0.25, 0.75, 1.75;
        // j = 0 mirrors to 1. Hand-computed: c(1.25) = -0.0703125, c(0.25) = 0.8671875,
        // c(0.75) = 0.2265625, c(1.75) = -0.0234375 (sum 1).
        let p = array![[1.0f32, 2.0, 4.0, 8.0]];
        let y = resize_plane(p.view(), 1, 8, Filter::Bicubic);
        let want = -0.0703125 * 1.0 + 0.8671875 * 1.0 + 0.2265625 * 2.0 - 0.0234375 * 4.0;
        assert!((y[[0, 1]] - want).abs() < 1e-6, "{} vs {want}", y[[0, 1]]);
    }
}
