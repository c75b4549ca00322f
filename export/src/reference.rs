//! A plain-Rust reference forward pass of the generator, for tests only.
//!
//! It runs straight from the checkpoint, independently of the exporter: naive direct
//! convolution with zero padding, BatchNorm applied unfolded with its running statistics
//! (eval mode), PReLU, PixelShuffle by index arithmetic. It implements the exported graph's
//! contract, so its output is comparable with any runtime running the exported model: input in
//! [0, 1] mapped to the training `lr_range`, output mapped from the training `hr_range` to
//! [0, 1] and clamped. Two runtimes agreeing on a wrong graph do not agree with this.
//!
//! Speed: loops run with the image row innermost (contiguous), fine for tiny configurations
//! and small images; the paper model on a 64x64 input takes seconds.

use crate::checkpoint::{Checkpoint, GeneratorConfig, Tensor};
use srgan_contract::{Activation, Architecture, RrdbConfig, SrVggConfig};

/// One sample's feature map `[c, h, w]`, row-major.
#[derive(Debug, Clone)]
struct Map {
    c: usize,
    h: usize,
    w: usize,
    data: Vec<f32>,
}

impl Map {
    fn plane(&self, c: usize) -> &[f32] {
        &self.data[c * self.h * self.w..(c + 1) * self.h * self.w]
    }
}

/// Runs the generator on `input` (`[N, 3, H, W]`, NCHW, values in [0, 1]) and returns the
/// output `[N, 3, scale*H, scale*W]` in [0, 1].
///
/// Panics if `shape[1] != 3`, if `input.len()` disagrees with `shape`, or if the checkpoint
/// lacks a tensor or has a wrong shape (tests call this on checkpoints they made).
pub fn forward(ck: &Checkpoint, input: &[f32], shape: [usize; 4]) -> Vec<f32> {
    let [n, c, h, w] = shape;
    assert_eq!(c, 3, "reference::forward: input must have 3 channels");
    assert_eq!(
        input.len(),
        n * c * h * w,
        "reference::forward: input length does not match shape {shape:?}"
    );
    let mut out = Vec::with_capacity(n * 3 * h * w * ck.config.scale() * ck.config.scale());
    for s in 0..n {
        let x = Map {
            c,
            h,
            w,
            data: input[s * c * h * w..(s + 1) * c * h * w].to_vec(),
        };
        out.extend(generator(ck, x).data);
    }
    out
}

fn get<'a>(ck: &'a Checkpoint, name: &str) -> &'a Tensor {
    ck.tensors
        .get(name)
        .unwrap_or_else(|| panic!("reference::forward: checkpoint lacks `{name}`"))
}

fn generator(ck: &Checkpoint, x: Map) -> Map {
    let [lo, hi] = ck.config.lr_range();
    let x = affine(x, hi - lo, lo);
    let out = match &ck.config {
        Architecture::SrResNet(cfg) => srresnet(ck, cfg, x),
        Architecture::RrdbNet(cfg) => rrdbnet(ck, cfg, x),
        Architecture::SrVggCompact(cfg) => srvgg(ck, cfg, x),
    };
    let [lo, hi] = ck.config.hr_range();
    let mut out = out;
    for v in &mut out.data {
        *v = ((*v - lo) / (hi - lo)).clamp(0.0, 1.0);
    }
    out
}

/// A 3x3 (or any square) conv with its stored bias, `{name}.weight` and `{name}.bias`.
fn conv_named(ck: &Checkpoint, name: &str, x: &Map) -> Map {
    conv2d(
        x,
        get(ck, &format!("{name}.weight")),
        Some(&get(ck, &format!("{name}.bias")).data),
    )
}

/// RRDBNet as BasicSR's `rrdbnet_arch.py` computes it, literally: pixel_unshuffle in
/// PyTorch's channel order, the dense concatenations, residual scaling as multiplications,
/// nearest upsampling by index.
fn rrdbnet(ck: &Checkpoint, cfg: &RrdbConfig, x: Map) -> Map {
    const SLOPE: f32 = 0.2;
    let u = cfg.unshuffle();
    let x = if u > 1 { pixel_unshuffle(&x, u) } else { x };
    let feat = conv_named(ck, "conv_first", &x);
    let mut y = feat.clone();
    for i in 0..cfg.blocks {
        let block_in = y.clone();
        for r in 1..=3 {
            let p = format!("body.{i}.rdb{r}");
            let rdb_in = y.clone();
            let mut cat = rdb_in.clone();
            for k in 1..=4 {
                let o = leaky_relu(conv_named(ck, &format!("{p}.conv{k}"), &cat), SLOPE);
                cat = concat(&cat, &o);
            }
            let x5 = conv_named(ck, &format!("{p}.conv5"), &cat);
            y = add(affine(x5, 0.2, 0.0), &rdb_in);
        }
        y = add(affine(y, 0.2, 0.0), &block_in);
    }
    let body = conv_named(ck, "conv_body", &y);
    let mut y = add(body, &feat);
    for k in 1..=2 {
        y = leaky_relu(
            conv_named(ck, &format!("conv_up{k}"), &upsample_nearest(&y, 2)),
            SLOPE,
        );
    }
    let y = leaky_relu(conv_named(ck, "conv_hr", &y), SLOPE);
    conv_named(ck, "conv_last", &y)
}

/// SRVGGNetCompact as Real-ESRGAN's `srvgg_arch.py` computes it: convs and activations, the
/// pixel shuffle, plus the nearest-upsampled input (at scale 1, literally too: PixelShuffle(1)
/// and nearest upsampling by 1 copy their input).
fn srvgg(ck: &Checkpoint, cfg: &SrVggConfig, x: Map) -> Map {
    let act = |y: Map, k: usize| match cfg.activation {
        Activation::Prelu => prelu(y, get(ck, &format!("body.{k}.weight"))),
        Activation::Relu => leaky_relu(y, 0.0),
        Activation::Leakyrelu => leaky_relu(y, 0.1),
    };
    let mut y = act(conv_named(ck, "body.0", &x), 1);
    for i in 0..cfg.convs {
        y = act(
            conv_named(ck, &format!("body.{}", 2 + 2 * i), &y),
            3 + 2 * i,
        );
    }
    let y = conv_named(ck, &format!("body.{}", cfg.last_conv()), &y);
    let y = pixel_shuffle(y, cfg.scale);
    add(y, &upsample_nearest(&x, cfg.scale))
}

fn srresnet(ck: &Checkpoint, cfg: &GeneratorConfig, x: Map) -> Map {
    let head = conv2d(
        &x,
        get(ck, "head.conv.weight"),
        Some(&get(ck, "head.conv.bias").data),
    );
    let head = prelu(head, get(ck, "head.prelu.weight"));
    let mut y = head.clone();
    for i in 0..cfg.blocks {
        let p = format!("blocks.{i}");
        let r = conv2d(&y, get(ck, &format!("{p}.conv1.weight")), None);
        let r = batch_norm(r, ck, &format!("{p}.bn1"));
        let r = prelu(r, get(ck, &format!("{p}.prelu.weight")));
        let r = conv2d(&r, get(ck, &format!("{p}.conv2.weight")), None);
        let r = batch_norm(r, ck, &format!("{p}.bn2"));
        y = add(r, &y);
    }
    let t = conv2d(&y, get(ck, "trunk.conv.weight"), None);
    let t = batch_norm(t, ck, "trunk.bn");
    y = add(t, &head);
    for j in 0..cfg.upsample_stages() {
        let p = format!("upsample.{j}");
        let u = conv2d(
            &y,
            get(ck, &format!("{p}.conv.weight")),
            Some(&get(ck, &format!("{p}.conv.bias")).data),
        );
        let u = pixel_shuffle2(u);
        y = prelu(u, get(ck, &format!("{p}.prelu.weight")));
    }
    conv2d(
        &y,
        get(ck, "tail.conv.weight"),
        Some(&get(ck, "tail.conv.bias").data),
    )
}

/// `x * a + b`.
fn affine(mut x: Map, a: f32, b: f32) -> Map {
    for v in &mut x.data {
        *v = *v * a + b;
    }
    x
}

/// Direct 2-D convolution, stride 1, zero padding `k / 2` on every side; weight `[O, I, k, k]`.
fn conv2d(x: &Map, weight: &Tensor, bias: Option<&[f32]>) -> Map {
    let [o_ch, i_ch, kh, kw] = weight.shape[..] else {
        panic!("conv weight must be 4-D, got {:?}", weight.shape)
    };
    assert_eq!(i_ch, x.c, "conv input channels");
    let (h, w) = (x.h, x.w);
    let (ph, pw) = ((kh / 2) as isize, (kw / 2) as isize);
    let mut data = vec![0.0f32; o_ch * h * w];
    for (o, out) in data.chunks_exact_mut(h * w).enumerate() {
        if let Some(b) = bias {
            out.fill(b[o]);
        }
        for i in 0..i_ch {
            let inp = x.plane(i);
            for ky in 0..kh {
                let dy = ky as isize - ph;
                let y0 = (-dy).max(0) as usize;
                let y1 = (h as isize - dy).min(h as isize).max(0) as usize;
                for kx in 0..kw {
                    let dx = kx as isize - pw;
                    let x0 = (-dx).max(0) as usize;
                    let x1 = (w as isize - dx).min(w as isize).max(0) as usize;
                    if x0 >= x1 {
                        continue;
                    }
                    let wv = weight.data[((o * i_ch + i) * kh + ky) * kw + kx];
                    for y in y0..y1 {
                        let start = (y as isize + dy) as usize * w + (x0 as isize + dx) as usize;
                        let src = &inp[start..start + (x1 - x0)];
                        let dst = &mut out[y * w + x0..y * w + x1];
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d += wv * s;
                        }
                    }
                }
            }
        }
    }
    Map {
        c: o_ch,
        h,
        w,
        data,
    }
}

/// BatchNorm in eval mode, unfolded: `(x - mean) / sqrt(var + eps) * gamma + beta`.
fn batch_norm(mut x: Map, ck: &Checkpoint, prefix: &str) -> Map {
    let gamma = &get(ck, &format!("{prefix}.weight")).data;
    let beta = &get(ck, &format!("{prefix}.bias")).data;
    let mean = &get(ck, &format!("{prefix}.running_mean")).data;
    let var = &get(ck, &format!("{prefix}.running_var")).data;
    let eps = ck.config.as_srresnet().map_or(1e-5, |c| c.bn_eps);
    let hw = x.h * x.w;
    for (c, plane) in x.data.chunks_exact_mut(hw).enumerate() {
        let sd = (var[c] + eps).sqrt();
        for v in plane {
            *v = (*v - mean[c]) / sd * gamma[c] + beta[c];
        }
    }
    x
}

/// PReLU with one slope per channel: `x` if `x >= 0`, else `slope * x`.
fn prelu(mut x: Map, slope: &Tensor) -> Map {
    assert_eq!(slope.data.len(), x.c, "prelu slopes");
    let hw = x.h * x.w;
    for (c, plane) in x.data.chunks_exact_mut(hw).enumerate() {
        let a = slope.data[c];
        for v in plane {
            if *v < 0.0 {
                *v *= a;
            }
        }
    }
    x
}

/// PixelShuffle(2): `out[c, h*2+i, w*2+j] = in[c*4 + i*2 + j, h, w]`.
fn pixel_shuffle2(x: Map) -> Map {
    pixel_shuffle(x, 2)
}

/// PixelShuffle(r): `out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w]`.
fn pixel_shuffle(x: Map, r: usize) -> Map {
    assert_eq!(
        x.c % (r * r),
        0,
        "pixel shuffle needs a multiple of r*r channels"
    );
    let (c_out, hr, wr) = (x.c / (r * r), x.h * r, x.w * r);
    let mut data = vec![0.0f32; x.data.len()];
    for c in 0..c_out {
        for i in 0..r {
            for j in 0..r {
                let src = x.plane(c * r * r + i * r + j);
                for h in 0..x.h {
                    let dst_row = (c * hr + h * r + i) * wr;
                    for w in 0..x.w {
                        data[dst_row + w * r + j] = src[h * x.w + w];
                    }
                }
            }
        }
    }
    Map {
        c: c_out,
        h: hr,
        w: wr,
        data,
    }
}

/// PyTorch's `pixel_unshuffle(x, r)`: `out[c*r*r + i*r + j, h, w] = in[c, h*r+i, w*r+j]`.
/// Panics unless the size is a multiple of `r`.
fn pixel_unshuffle(x: &Map, r: usize) -> Map {
    assert!(
        x.h.is_multiple_of(r) && x.w.is_multiple_of(r),
        "pixel_unshuffle: {}x{} is not a multiple of {r}",
        x.h,
        x.w
    );
    let (h, w) = (x.h / r, x.w / r);
    let mut data = vec![0.0f32; x.data.len()];
    for c in 0..x.c {
        for i in 0..r {
            for j in 0..r {
                let dst = (c * r * r + i * r + j) * h * w;
                for y in 0..h {
                    for xx in 0..w {
                        data[dst + y * w + xx] = x.data[(c * x.h + y * r + i) * x.w + xx * r + j];
                    }
                }
            }
        }
    }
    Map {
        c: x.c * r * r,
        h,
        w,
        data,
    }
}

/// Nearest upsampling by `f`: `out[c, y, x] = in[c, y / f, x / f]`.
fn upsample_nearest(x: &Map, f: usize) -> Map {
    let (h, w) = (x.h * f, x.w * f);
    let mut data = vec![0.0f32; x.c * h * w];
    for c in 0..x.c {
        for y in 0..h {
            for xx in 0..w {
                data[(c * h + y) * w + xx] = x.data[(c * x.h + y / f) * x.w + xx / f];
            }
        }
    }
    Map { c: x.c, h, w, data }
}

/// LeakyReLU: `x` if `x >= 0`, else `slope * x` (slope 0 is ReLU).
fn leaky_relu(mut x: Map, slope: f32) -> Map {
    for v in &mut x.data {
        if *v < 0.0 {
            *v *= slope;
        }
    }
    x
}

/// Concatenation along channels.
fn concat(a: &Map, b: &Map) -> Map {
    assert_eq!((a.h, a.w), (b.h, b.w), "concat shapes");
    let mut data = a.data.clone();
    data.extend_from_slice(&b.data);
    Map {
        c: a.c + b.c,
        h: a.h,
        w: a.w,
        data,
    }
}

fn add(mut a: Map, b: &Map) -> Map {
    assert_eq!(a.data.len(), b.data.len(), "skip connection shapes");
    for (x, y) in a.data.iter_mut().zip(&b.data) {
        *x += y;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(c: usize, h: usize, w: usize, data: Vec<f32>) -> Map {
        Map { c, h, w, data }
    }

    #[test]
    fn conv_zero_padding_and_orientation() {
        // 3x3 kernel picking the right-hand neighbour (kx = 2, ky = 1).
        let mut k = vec![0.0; 9];
        k[5] = 1.0;
        let wt = Tensor::new(vec![1, 1, 3, 3], k);
        let x = map(1, 2, 3, vec![1., 2., 3., 4., 5., 6.]);
        let y = conv2d(&x, &wt, Some(&[0.5]));
        assert_eq!(y.data, vec![2.5, 3.5, 0.5, 5.5, 6.5, 0.5]);
        // Kernel picking the neighbour below (ky = 2, kx = 1), two input channels summed.
        let mut k = vec![0.0; 18];
        k[7] = 1.0;
        k[9 + 7] = 10.0;
        let wt = Tensor::new(vec![1, 2, 3, 3], k);
        let x = map(2, 2, 2, vec![1., 2., 3., 4., 1., 1., 1., 1.]);
        assert_eq!(conv2d(&x, &wt, None).data, vec![13., 14., 0., 0.]);
    }

    #[test]
    fn pixel_shuffle_matches_torch_ordering() {
        // 4 channels of 1x1 -> 1 channel of 2x2 in channel order.
        let y = pixel_shuffle2(map(4, 1, 1, vec![0., 1., 2., 3.]));
        assert_eq!((y.c, y.h, y.w), (1, 2, 2));
        assert_eq!(y.data, vec![0., 1., 2., 3.]);
        // 8 channels of 1x2 -> 2 channels of 2x4: out[1, 1, 2] = in[1*4 + 1*2 + 0, 0, 1].
        let x = map(8, 1, 2, (0..16).map(|v| v as f32).collect());
        let y = pixel_shuffle2(x.clone());
        assert_eq!(y.data[(2 + 1) * 4 + 2], x.data[6 * 2 + 1]);
    }

    #[test]
    fn prelu_per_channel() {
        let s = Tensor::new(vec![2], vec![0.5, 0.1]);
        let y = prelu(map(2, 1, 2, vec![-2., 3., -10., 0.]), &s);
        assert_eq!(y.data, vec![-1., 3., -1., 0.]);
    }

    /// A small deterministic pattern in [-1, 1).
    fn pattern(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The farthest LR distance (Chebyshev) from LR pixel `(py, px)` of an output pixel that
    /// changes when that input pixel changes: the receptive-field radius seen from the other
    /// side (the pre-clamp output, so that no clamp hides a change).
    fn farthest_change(ck: &Checkpoint, h: usize, w: usize, (py, px): (usize, usize)) -> usize {
        let s = ck.config.scale();
        let run = |x: Vec<f32>| match &ck.config {
            Architecture::SrVggCompact(cfg) => srvgg(ck, cfg, map(3, h, w, x)),
            Architecture::RrdbNet(cfg) => rrdbnet(ck, cfg, map(3, h, w, x)),
            Architecture::SrResNet(cfg) => srresnet(ck, cfg, map(3, h, w, x)),
        };
        let x: Vec<f32> = pattern(3 * h * w, 3)
            .iter()
            .map(|v| 0.5 + 0.4 * v)
            .collect();
        let base = run(x.clone());
        let mut poked = x;
        for c in 0..3 {
            poked[(c * h + py) * w + px] += 0.3;
        }
        let poked = run(poked);
        assert_eq!((poked.c, poked.h, poked.w), (3, h * s, w * s));
        let mut far = 0;
        for (i, (a, b)) in base.data.iter().zip(&poked.data).enumerate() {
            if a != b {
                let (y, x) = ((i / (w * s)) % (h * s) / s, i % (w * s) / s);
                far = far.max(y.abs_diff(py)).max(x.abs_diff(px));
            }
        }
        far
    }

    #[test]
    fn srvgg_receptive_field_radius_is_exact_at_every_scale() {
        // One input pixel changes the outputs exactly `radius` LR pixels away and no farther:
        // a tile pad of the radius is enough and one less is not (x1: the skip adds none).
        for (convs, scale) in [(3usize, 1usize), (0, 1), (2, 2), (1, 3), (2, 4)] {
            let cfg = SrVggConfig::new(convs, 4, scale);
            let r = cfg.receptive_field_radius();
            let ck = Checkpoint::random_init(cfg, 7).unwrap();
            let (h, w) = (2 * r + 5, 2 * r + 4);
            assert_eq!(
                farthest_change(&ck, h, w, (r + 2, r + 1)),
                r,
                "convs {convs}, x{scale}"
            );
        }
    }

    #[test]
    fn subpixel_conv_equals_conv_after_the_shuffle() {
        use crate::fold::{repeat_per_subpixel, subpixel_conv};
        // The paper's 9x9 tail and a 3x3 and a 5x5 one; a non-square image so that rows and
        // columns cannot be swapped unnoticed; borders included (zero padding must agree).
        for (k, c, o) in [(9usize, 2usize, 3usize), (3, 3, 2), (5, 1, 1)] {
            let y = map(4 * c, 5, 7, pattern(4 * c * 35, k as u32));
            let w = Tensor::new(vec![o, c, k, k], pattern(o * c * k * k, 7 + k as u32));
            let b = pattern(o, 99);
            let slope = Tensor::new(vec![c], pattern(c, 5).iter().map(|v| v.abs()).collect());

            let want = conv2d(&prelu(pixel_shuffle2(y.clone()), &slope), &w, Some(&b));
            let (w2, b2) = subpixel_conv(&w, &b, 2);
            assert_eq!(
                w2.shape,
                vec![4 * o, 4 * c, 2 * (k / 2).div_ceil(2) + 1, w2.shape[3]]
            );
            let s2 = repeat_per_subpixel(&slope, 2);
            let got = pixel_shuffle2(conv2d(&prelu(y, &s2), &w2, Some(&b2.data)));
            assert_eq!((got.c, got.h, got.w), (want.c, want.h, want.w));
            for (i, (a, g)) in want.data.iter().zip(&got.data).enumerate() {
                assert!((a - g).abs() < 1e-5, "k {k}: element {i}: {a} vs {g}");
            }
        }
    }
}
