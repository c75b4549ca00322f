//! Real-world degradations: Real-ESRGAN's second-order degradation model (Wang et al. 2021,
//! arXiv 2107.10833; `basicsr/data/degradations.py`, `realesrgan/data/realesrgan_dataset.py`
//! and `realesrgan/models/realesrgan_model.py`), on the CPU, for training pairs; and the fixed,
//! seeded degradations of the evaluation ([`Fixed`]: noise of one sigma, JPEG of one quality).
//!
//! [`degrade`] maps an HR patch to its LR partner at `1 / scale` of its size:
//!
//! 1. blur (isotropic / anisotropic Gaussian, generalised Gaussian, plateau, or a sinc), a
//!    random resize (up, down or kept; area, bilinear or bicubic), Gaussian or Poisson noise
//!    (colour or grey), JPEG at a random quality;
//! 2. the same again with the second stage's ranges (its blur only with `blur_prob`);
//! 3. in random order, [resize to the final size + a sinc filter] and a last JPEG;
//! 4. rounding to 8 bits, as a saved LR image would be.
//!
//! Every random choice is drawn from the `rng` passed in, so a training batch is a pure
//! function of `(seed, iteration)` and a resumed run sees the same data. The resizes follow
//! PyTorch's `F.interpolate` (half-pixel centres, no antialiasing, bicubic `a = -0.75`), the
//! blurs its `filter2D` (reflect padding), and JPEG is the `image` crate's real baseline
//! encoder (4:2:0), then decoded: not a differentiable approximation.

use std::f64::consts::PI;
use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{DynamicImage, ExtendedColorType, RgbImage};
use rand::Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

/// Errors of the degradation settings.
#[derive(Debug, thiserror::Error)]
pub enum DegradeError {
    /// A setting out of its range.
    #[error("degradation setting {field} = {value}: expected {expected}")]
    Config {
        /// The setting, e.g. `second.noise_range`.
        field: String,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A fixed degradation that does not parse.
    #[error("degradation {value:?}: expected noise:SIGMA (0 to 255) or jpeg:QUALITY (1 to 100)")]
    Fixed {
        /// What was given.
        value: String,
    },
}

/// A planar RGB image, `3 x height x width` samples in [0, 1] (values may leave [0, 1]
/// between steps, as in Real-ESRGAN; they are clamped before JPEG and at the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Planar {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// `3 * height * width` samples, channel-major.
    pub data: Vec<f32>,
}

impl Planar {
    /// An 8-bit RGB image in [0, 1].
    pub fn from_rgb(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut data = vec![0f32; 3 * w * h];
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                data[c * w * h + i] = p[c] as f32 / 255.0;
            }
        }
        Self {
            width: w,
            height: h,
            data,
        }
    }

    /// Rounded to 8 bits (clamped).
    pub fn to_rgb(&self) -> RgbImage {
        let n = self.width * self.height;
        RgbImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            let i = y as usize * self.width + x as usize;
            image::Rgb([0, 1, 2].map(|c| to_u8(self.data[c * n + i])))
        })
    }

    fn plane(&self, c: usize) -> &[f32] {
        let n = self.width * self.height;
        &self.data[c * n..(c + 1) * n]
    }

    fn clamp(&mut self) {
        self.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    }

    /// Clamped and rounded to multiples of 1/255, as Real-ESRGAN's last step.
    pub fn quantise(&mut self) {
        self.data
            .iter_mut()
            .for_each(|v| *v = to_u8(*v) as f32 / 255.0);
    }
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A blur kernel family (Real-ESRGAN's `kernel_list` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelKind {
    /// Isotropic Gaussian.
    Iso,
    /// Anisotropic, rotated Gaussian.
    Aniso,
    /// Isotropic generalised Gaussian, `exp(-0.5 q^beta)`.
    GeneralizedIso,
    /// Anisotropic generalised Gaussian.
    GeneralizedAniso,
    /// Isotropic plateau, `1 / (q^beta + 1)`.
    PlateauIso,
    /// Anisotropic plateau.
    PlateauAniso,
}

/// The blur of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlurConfig {
    /// Smallest and largest kernel side (odd; each odd side between is equally likely).
    pub kernel_range: [usize; 2],
    /// Kernel families...
    pub kernel_list: Vec<KernelKind>,
    /// ...and their probabilities (same length; normalised).
    pub kernel_prob: Vec<f64>,
    /// Probability of a sinc (ringing) kernel instead.
    pub sinc_prob: f64,
    /// Range of the Gaussian sigmas, in pixels.
    pub sigma: [f64; 2],
    /// Range of the generalised Gaussian's shape beta.
    pub betag_range: [f64; 2],
    /// Range of the plateau's shape beta.
    pub betap_range: [f64; 2],
}

/// One stage of the second-order model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Probability that the stage blurs at all (Real-ESRGAN: 1 first, 0.8 second).
    pub blur_prob: f64,
    /// The blur.
    pub blur: BlurConfig,
    /// Probabilities of resizing up, down, or keeping the size.
    pub resize_prob: [f64; 3],
    /// Range of the resize factor (below 1 down, above 1 up).
    pub resize_range: [f64; 2],
    /// Probability that the stage adds noise at all (Real-ESRGAN: always, 1).
    #[serde(default = "one")]
    pub noise_prob: f64,
    /// Probability of Gaussian noise (Poisson otherwise).
    pub gaussian_noise_prob: f64,
    /// Range of the Gaussian noise's sigma, on the 0-255 scale.
    pub noise_range: [f64; 2],
    /// Range of the Poisson noise's scale.
    pub poisson_scale_range: [f64; 2],
    /// Probability that the noise is grey (the same in every channel).
    pub gray_noise_prob: f64,
    /// Probability that the stage's JPEG (the first stage's, or the final one) is applied
    /// (Real-ESRGAN: always, 1).
    #[serde(default = "one")]
    pub jpeg_prob: f64,
    /// Range of the JPEG quality.
    pub jpeg_range: [f64; 2],
}

fn one() -> f64 {
    1.0
}

impl StageConfig {
    /// Real-ESRGAN x4plus's first stage (`train_realesrgan_x4plus.yml`).
    pub fn first() -> Self {
        Self {
            blur_prob: 1.0,
            blur: BlurConfig {
                kernel_range: [7, 21],
                kernel_list: KINDS.to_vec(),
                kernel_prob: vec![0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
                sinc_prob: 0.1,
                sigma: [0.2, 3.0],
                betag_range: [0.5, 4.0],
                betap_range: [1.0, 2.0],
            },
            resize_prob: [0.2, 0.7, 0.1],
            resize_range: [0.15, 1.5],
            noise_prob: 1.0,
            gaussian_noise_prob: 0.5,
            noise_range: [1.0, 30.0],
            poisson_scale_range: [0.05, 3.0],
            gray_noise_prob: 0.4,
            jpeg_prob: 1.0,
            jpeg_range: [30.0, 95.0],
        }
    }

    /// Real-ESRGAN x4plus's second stage.
    pub fn second() -> Self {
        let mut s = Self::first();
        s.blur_prob = 0.8;
        s.blur.sigma = [0.2, 1.5];
        s.resize_prob = [0.3, 0.4, 0.3];
        s.resize_range = [0.3, 1.2];
        s.noise_range = [1.0, 25.0];
        s.poisson_scale_range = [0.05, 2.5];
        s
    }

    fn validate(&self, stage: &str) -> Result<(), DegradeError> {
        let f = |name: &str| format!("{stage}.{name}");
        prob(&f("blur_prob"), self.blur_prob)?;
        let b = &self.blur;
        let [k0, k1] = b.kernel_range;
        if k0 % 2 == 0 || k1 % 2 == 0 || k0 < 3 || k1 < k0 || k1 > 41 {
            return Err(config(
                &f("blur.kernel_range"),
                format!("{:?}", b.kernel_range),
                "two odd sides, 3 <= min <= max <= 41",
            ));
        }
        weights(&f("blur.kernel_prob"), &b.kernel_prob)?;
        if b.kernel_list.len() != b.kernel_prob.len() {
            return Err(config(
                &f("blur.kernel_list"),
                format!(
                    "{} kinds for {} probabilities",
                    b.kernel_list.len(),
                    b.kernel_prob.len()
                ),
                "one probability per kernel kind",
            ));
        }
        prob(&f("blur.sinc_prob"), b.sinc_prob)?;
        range(&f("blur.sigma"), b.sigma, 0.01, 20.0)?;
        range(&f("blur.betag_range"), b.betag_range, 0.05, 10.0)?;
        range(&f("blur.betap_range"), b.betap_range, 0.05, 10.0)?;
        weights(&f("resize_prob"), &self.resize_prob)?;
        range(&f("resize_range"), self.resize_range, 0.05, 4.0)?;
        if self.resize_range[0] > 1.0 || self.resize_range[1] < 1.0 {
            return Err(config(
                &f("resize_range"),
                format!("{:?}", self.resize_range),
                "a range around 1 (down to the first value, up to the second)",
            ));
        }
        prob(&f("noise_prob"), self.noise_prob)?;
        prob(&f("jpeg_prob"), self.jpeg_prob)?;
        prob(&f("gaussian_noise_prob"), self.gaussian_noise_prob)?;
        range(&f("noise_range"), self.noise_range, 0.0, 255.0)?;
        range(
            &f("poisson_scale_range"),
            self.poisson_scale_range,
            0.0,
            100.0,
        )?;
        prob(&f("gray_noise_prob"), self.gray_noise_prob)?;
        range(&f("jpeg_range"), self.jpeg_range, 1.0, 100.0)?;
        Ok(())
    }
}

const KINDS: [KernelKind; 6] = [
    KernelKind::Iso,
    KernelKind::Aniso,
    KernelKind::GeneralizedIso,
    KernelKind::GeneralizedAniso,
    KernelKind::PlateauIso,
    KernelKind::PlateauAniso,
];

fn config(field: &str, value: String, expected: &'static str) -> DegradeError {
    DegradeError::Config {
        field: field.into(),
        value,
        expected,
    }
}

fn prob(field: &str, p: f64) -> Result<(), DegradeError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(config(field, p.to_string(), "a probability in [0, 1]"))
    }
}

fn weights(field: &str, w: &[f64]) -> Result<(), DegradeError> {
    if w.iter().all(|v| v.is_finite() && *v >= 0.0) && w.iter().sum::<f64>() > 0.0 {
        Ok(())
    } else {
        Err(config(
            field,
            format!("{w:?}"),
            "non-negative weights with a positive sum",
        ))
    }
}

fn range(field: &str, r: [f64; 2], lo: f64, hi: f64) -> Result<(), DegradeError> {
    if r[0].is_finite() && r[1].is_finite() && lo <= r[0] && r[0] <= r[1] && r[1] <= hi {
        Ok(())
    } else {
        Err(DegradeError::Config {
            field: field.into(),
            value: format!("{r:?}"),
            expected: match (lo, hi) {
                (0.01, 20.0) => "[min, max] with 0.01 <= min <= max <= 20",
                (0.05, 10.0) => "[min, max] with 0.05 <= min <= max <= 10",
                (0.05, 4.0) => "[min, max] with 0.05 <= min <= max <= 4",
                (0.0, 255.0) => "[min, max] with 0 <= min <= max <= 255",
                (0.0, 100.0) => "[min, max] with 0 <= min <= max <= 100",
                _ => "[min, max] with 1 <= min <= max <= 100",
            },
        })
    }
}

/// The whole second-order model; the defaults are Real-ESRGAN x4plus's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradationConfig {
    /// The first stage; keys left out keep the default first stage's values.
    #[serde(default = "StageConfig::first", deserialize_with = "first_stage")]
    pub first: StageConfig,
    /// The second stage; keys left out keep the default second stage's values.
    #[serde(default = "StageConfig::second", deserialize_with = "second_stage")]
    pub second: StageConfig,
    /// Probability that the final step filters with a sinc kernel.
    #[serde(default = "final_sinc_prob")]
    pub final_sinc_prob: f64,
}

fn final_sinc_prob() -> f64 {
    0.8
}

impl Default for DegradationConfig {
    fn default() -> Self {
        Self {
            first: StageConfig::first(),
            second: StageConfig::second(),
            final_sinc_prob: final_sinc_prob(),
        }
    }
}

/// Reads a stage over its defaults: the given keys (at any depth) replace the default's.
fn merged<'de, D: serde::Deserializer<'de>>(
    d: D,
    defaults: StageConfig,
) -> Result<StageConfig, D::Error> {
    fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
        match (base, over) {
            (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
                for (k, v) in o {
                    match b.get_mut(&k) {
                        Some(slot) => merge(slot, v),
                        None => {
                            b.insert(k, v);
                        }
                    }
                }
            }
            (slot, v) => *slot = v,
        }
    }
    let over = serde_json::Value::deserialize(d)?;
    let mut base = serde_json::to_value(defaults).map_err(serde::de::Error::custom)?;
    merge(&mut base, over);
    serde_json::from_value(base).map_err(serde::de::Error::custom)
}

fn first_stage<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StageConfig, D::Error> {
    merged(d, StageConfig::first())
}

fn second_stage<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StageConfig, D::Error> {
    merged(d, StageConfig::second())
}

impl DegradationConfig {
    /// Checks every range and probability.
    pub fn validate(&self) -> Result<(), DegradeError> {
        self.first.validate("first")?;
        self.second.validate("second")?;
        prob("final_sinc_prob", self.final_sinc_prob)
    }
}

/// A square kernel, row-major, summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// Side (odd).
    pub size: usize,
    /// `size * size` weights.
    pub weights: Vec<f64>,
}

impl Kernel {
    fn from_fn(size: usize, f: impl Fn(f64, f64) -> f64) -> Self {
        let c = (size as f64 - 1.0) / 2.0;
        let mut weights: Vec<f64> = (0..size * size)
            .map(|i| f((i % size) as f64 - c, (i / size) as f64 - c))
            .collect();
        let sum: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= sum);
        Self { size, weights }
    }

    /// `exp(-0.5 q^beta)` (`shape = Gaussian`) or `1 / (q^beta + 1)` (plateau) of the quadratic
    /// form `q = [x y] S^-1 [x y]^T`, S the covariance with sigmas `sx`, `sy` rotated by
    /// `theta` (Real-ESRGAN's `bivariate_*`).
    pub fn bivariate(size: usize, sx: f64, sy: f64, theta: f64, beta: f64, plateau: bool) -> Self {
        let (c, s) = (theta.cos(), theta.sin());
        // S = U diag(sx², sy²) U^T, U the rotation; S^-1 = U diag(1/sx², 1/sy²) U^T.
        let (a, b) = (1.0 / (sx * sx), 1.0 / (sy * sy));
        let (i00, i01, i11) = (
            a * c * c + b * s * s,
            (a - b) * c * s,
            a * s * s + b * c * c,
        );
        Self::from_fn(size, |x, y| {
            let q = i00 * x * x + 2.0 * i01 * x * y + i11 * y * y;
            if plateau {
                1.0 / (q.powf(beta) + 1.0)
            } else {
                (-0.5 * q.powf(beta)).exp()
            }
        })
    }

    /// Real-ESRGAN's `circular_lowpass_kernel`: the 2-D sinc of cutoff `omega` (radians).
    pub fn sinc(size: usize, omega: f64) -> Self {
        Self::from_fn(size, |x, y| {
            let r = (x * x + y * y).sqrt();
            if r == 0.0 {
                omega * omega / (4.0 * PI)
            } else {
                omega * libm::j1(omega * r) / (2.0 * PI * r)
            }
        })
    }

    /// The identity (a pulse).
    pub fn pulse() -> Self {
        Self {
            size: 1,
            weights: vec![1.0],
        }
    }
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, r: [f64; 2]) -> f64 {
    if r[1] > r[0] {
        rng.random_range(r[0]..r[1])
    } else {
        r[0]
    }
}

fn choose<R: Rng + ?Sized>(rng: &mut R, w: &[f64]) -> usize {
    let total: f64 = w.iter().sum();
    let mut u = rng.random_range(0.0..total);
    for (i, &p) in w.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    w.len() - 1
}

fn kernel_side<R: Rng + ?Sized>(rng: &mut R, r: [usize; 2]) -> usize {
    r[0] + 2 * rng.random_range(0..=(r[1] - r[0]) / 2)
}

/// The shape parameter of a generalised kernel: half the time below 1, half above
/// (Real-ESRGAN's `random_bivariate_generalized_Gaussian`).
fn beta<R: Rng + ?Sized>(rng: &mut R, r: [f64; 2]) -> f64 {
    if rng.random_bool(0.5) {
        uniform(rng, [r[0].min(1.0), 1.0])
    } else {
        uniform(rng, [1.0, r[1].max(1.0)])
    }
}

/// A stage's kernel: a sinc with `sinc_prob`, else one of the mixed families.
pub fn sample_kernel<R: Rng + ?Sized>(rng: &mut R, b: &BlurConfig) -> Kernel {
    let size = kernel_side(rng, b.kernel_range);
    if rng.random_bool(b.sinc_prob) {
        let lo = if size < 13 { PI / 3.0 } else { PI / 5.0 };
        return Kernel::sinc(size, uniform(rng, [lo, PI]));
    }
    let kind = b.kernel_list[choose(rng, &b.kernel_prob)];
    let iso = matches!(
        kind,
        KernelKind::Iso | KernelKind::GeneralizedIso | KernelKind::PlateauIso
    );
    let sx = uniform(rng, b.sigma);
    let (sy, theta) = if iso {
        (sx, 0.0)
    } else {
        (uniform(rng, b.sigma), uniform(rng, [-PI, PI]))
    };
    match kind {
        KernelKind::Iso | KernelKind::Aniso => Kernel::bivariate(size, sx, sy, theta, 1.0, false),
        KernelKind::GeneralizedIso | KernelKind::GeneralizedAniso => {
            let bt = beta(rng, b.betag_range);
            Kernel::bivariate(size, sx, sy, theta, bt, false)
        }
        KernelKind::PlateauIso | KernelKind::PlateauAniso => {
            let bt = beta(rng, b.betap_range);
            Kernel::bivariate(size, sx, sy, theta, bt, true)
        }
    }
}

/// Index `i` (which may lie outside `0..n`) reflected into `0..n`, without repeating the edge
/// (PyTorch's and numpy's `reflect`), bouncing as often as needed.
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m >= n as isize { period - m } else { m }) as usize
}

/// Correlates every channel with `k` after reflect-padding by `k.size / 2` (Real-ESRGAN's
/// `filter2D`; its kernels are point-symmetric, so correlation and convolution agree).
///
/// Two shortcuts that change nothing beyond f32 rounding (measured: a third of the pipeline's
/// time): border rings of the kernel whose taps are all below 1e-12 are dropped, and a
/// separable kernel (rank 1, e.g. an isotropic Gaussian) runs as a row pass and a column pass.
pub fn filter(img: &Planar, k: &Kernel) -> Planar {
    let k = trimmed(k);
    if k.size == 1 {
        let w = k.weights[0] as f32;
        let mut out = img.clone();
        out.data.iter_mut().for_each(|v| *v *= w);
        return out;
    }
    match separable(&k) {
        Some((col, row)) => filter_separable(img, &col, &row),
        None => filter_2d(img, &k),
    }
}

/// `k` without its outer rings of taps below 1e-12.
fn trimmed(k: &Kernel) -> std::borrow::Cow<'_, Kernel> {
    let n = k.size;
    let mut r = n / 2;
    let negligible = |ring: usize| {
        let (lo, hi) = (n / 2 - ring, n / 2 + ring);
        (0..n * n).all(|i| {
            let (y, x) = (i / n, i % n);
            let on_ring = (y == lo || y == hi || x == lo || x == hi)
                && (lo..=hi).contains(&y)
                && (lo..=hi).contains(&x);
            !on_ring || k.weights[i].abs() < 1e-12
        })
    };
    while r > 0 && negligible(r) {
        r -= 1;
    }
    if 2 * r + 1 == n {
        return std::borrow::Cow::Borrowed(k);
    }
    let (m, off) = (2 * r + 1, n / 2 - r);
    let weights = (0..m * m)
        .map(|i| k.weights[(i / m + off) * n + i % m + off])
        .collect();
    std::borrow::Cow::Owned(Kernel { size: m, weights })
}

/// `Some((column, row))` with `k[y][x] = column[y] * row[x]` when `k` is rank 1.
fn separable(k: &Kernel) -> Option<(Vec<f32>, Vec<f32>)> {
    let (n, c) = (k.size, k.size / 2);
    let w = |y: usize, x: usize| k.weights[y * n + x];
    let centre = w(c, c);
    if centre <= 0.0 {
        return None;
    }
    let rank1 = (0..n * n).all(|i| {
        let (y, x) = (i / n, i % n);
        (w(y, x) * centre - w(y, c) * w(c, x)).abs() <= 1e-12 * centre * centre
    });
    if !rank1 {
        return None;
    }
    let s = centre.sqrt();
    let col = (0..n).map(|y| (w(y, c) / s) as f32).collect();
    let row = (0..n).map(|x| (w(c, x) / s) as f32).collect();
    Some((col, row))
}

fn filter_separable(img: &Planar, col: &[f32], row: &[f32]) -> Planar {
    let (w, h, p) = (img.width, img.height, row.len() / 2);
    let xs: Vec<usize> = (0..w + 2 * p)
        .map(|x| reflect(x as isize - p as isize, w))
        .collect();
    let mut data = vec![0f32; img.data.len()];
    let mut padded = vec![0f32; w + 2 * p];
    let mut mid = vec![0f32; w * h];
    for c in 0..3 {
        let src = img.plane(c);
        for y in 0..h {
            let s = &src[y * w..(y + 1) * w];
            padded.iter_mut().zip(&xs).for_each(|(d, &x)| *d = s[x]);
            let out = &mut mid[y * w..(y + 1) * w];
            out.fill(0.0);
            for (kx, &wt) in row.iter().enumerate() {
                for (o, v) in out.iter_mut().zip(&padded[kx..kx + w]) {
                    *o += wt * v;
                }
            }
        }
        let dst = &mut data[c * w * h..(c + 1) * w * h];
        for y in 0..h {
            let out = &mut dst[y * w..(y + 1) * w];
            for (ky, &wt) in col.iter().enumerate() {
                let sy = reflect(y as isize + ky as isize - p as isize, h);
                for (o, v) in out.iter_mut().zip(&mid[sy * w..(sy + 1) * w]) {
                    *o += wt * v;
                }
            }
        }
    }
    Planar {
        width: w,
        height: h,
        data,
    }
}

fn filter_2d(img: &Planar, k: &Kernel) -> Planar {
    let (w, h, p) = (img.width, img.height, k.size / 2);
    let (pw, ph) = (w + 2 * p, h + 2 * p);
    let kw: Vec<f32> = k.weights.iter().map(|&v| v as f32).collect();
    let xs: Vec<usize> = (0..pw)
        .map(|x| reflect(x as isize - p as isize, w))
        .collect();
    let mut padded = vec![0f32; pw * ph];
    let mut data = Vec::with_capacity(img.data.len());
    let mut row = vec![0f32; w];
    for c in 0..3 {
        let src = img.plane(c);
        for y in 0..ph {
            let sy = reflect(y as isize - p as isize, h);
            let (dst, s) = (
                &mut padded[y * pw..(y + 1) * pw],
                &src[sy * w..(sy + 1) * w],
            );
            dst.iter_mut().zip(&xs).for_each(|(d, &x)| *d = s[x]);
        }
        for y in 0..h {
            row.fill(0.0);
            for ky in 0..k.size {
                let prow = &padded[(y + ky) * pw..(y + ky + 1) * pw];
                for (kx, &wt) in kw[ky * k.size..(ky + 1) * k.size].iter().enumerate() {
                    for (o, v) in row.iter_mut().zip(&prow[kx..kx + w]) {
                        *o += wt * v;
                    }
                }
            }
            data.extend_from_slice(&row);
        }
    }
    Planar {
        width: w,
        height: h,
        data,
    }
}

/// Resampling modes of the random resizes (PyTorch's `F.interpolate` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// `area`: the mean of the covered input pixels (adaptive average pooling).
    Area,
    /// `bilinear`, half-pixel centres.
    Bilinear,
    /// `bicubic`, half-pixel centres, `a = -0.75`, edge pixels repeated.
    Bicubic,
}

/// The taps `(input index, weight)` of each of `out` outputs from `n` inputs.
fn taps(n: usize, out: usize, mode: ResizeMode) -> Vec<Vec<(usize, f32)>> {
    let scale = n as f64 / out as f64;
    (0..out)
        .map(|o| match mode {
            ResizeMode::Area => {
                let start = (o * n) / out;
                let end = ((o + 1) * n).div_ceil(out);
                let w = 1.0 / (end - start) as f32;
                (start..end).map(|i| (i, w)).collect()
            }
            ResizeMode::Bilinear => {
                let src = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(n - 1);
                let i1 = (i0 + 1).min(n - 1);
                let l = (src - i0 as f64) as f32;
                vec![(i0, 1.0 - l), (i1, l)]
            }
            ResizeMode::Bicubic => {
                let src = (o as f64 + 0.5) * scale - 0.5;
                let i = src.floor();
                let t = src - i;
                let a = -0.75;
                let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
                let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
                let w = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
                (0..4)
                    .map(|k| {
                        let idx = (i as isize + k as isize - 1).clamp(0, n as isize - 1);
                        (idx as usize, w[k] as f32)
                    })
                    .collect()
            }
        })
        .collect()
}

/// Resizes to `out_w` x `out_h` (each at least 1).
pub fn resize(img: &Planar, out_w: usize, out_h: usize, mode: ResizeMode) -> Planar {
    let (out_w, out_h) = (out_w.max(1), out_h.max(1));
    let (w, h) = (img.width, img.height);
    if (w, h) == (out_w, out_h) {
        return img.clone();
    }
    let tx = taps(w, out_w, mode);
    let ty = taps(h, out_h, mode);
    let mut data = vec![0f32; 3 * out_w * out_h];
    let mut mid = vec![0f32; h * out_w];
    for c in 0..3 {
        let src = img.plane(c);
        for y in 0..h {
            let s = &src[y * w..(y + 1) * w];
            for (x, t) in tx.iter().enumerate() {
                mid[y * out_w + x] = t.iter().map(|&(i, wt)| wt * s[i]).sum();
            }
        }
        let dst = &mut data[c * out_w * out_h..(c + 1) * out_w * out_h];
        for (y, t) in ty.iter().enumerate() {
            let d = &mut dst[y * out_w..(y + 1) * out_w];
            for &(i, wt) in t {
                for (o, v) in d.iter_mut().zip(&mid[i * out_w..(i + 1) * out_w]) {
                    *o += wt * v;
                }
            }
        }
    }
    Planar {
        width: out_w,
        height: out_h,
        data,
    }
}

fn random_mode<R: Rng + ?Sized>(rng: &mut R) -> ResizeMode {
    [ResizeMode::Area, ResizeMode::Bilinear, ResizeMode::Bicubic][rng.random_range(0..3)]
}

/// Adds Gaussian noise of `sigma` (0-255 scale), the same in every channel when `gray`, and
/// clamps to [0, 1].
pub fn gaussian_noise<R: Rng + ?Sized>(img: &mut Planar, sigma: f64, gray: bool, rng: &mut R) {
    let n = img.width * img.height;
    let s = (sigma / 255.0) as f32;
    if gray {
        let noise: Vec<f32> = (0..n)
            .map(|_| {
                let e: f32 = StandardNormal.sample(rng);
                s * e
            })
            .collect();
        for c in 0..3 {
            add_clamped(&mut img.data[c * n..(c + 1) * n], &noise);
        }
    } else {
        for v in img.data.iter_mut() {
            let e: f32 = StandardNormal.sample(rng);
            *v = (*v + s * e).clamp(0.0, 1.0);
        }
    }
}

/// `plane += noise`, clamped to [0, 1].
fn add_clamped(plane: &mut [f32], noise: &[f32]) {
    plane
        .iter_mut()
        .zip(noise)
        .for_each(|(v, e)| *v = (*v + e).clamp(0.0, 1.0));
}

fn poisson_sample<R: Rng + ?Sized>(lambda: f64, rng: &mut R) -> f64 {
    match Poisson::new(lambda) {
        Ok(p) => p.sample(rng),
        Err(_) => 0.0, // lambda 0: always 0
    }
}

/// Real-ESRGAN's `generate_poisson_noise`: the image on 8 bits, its number of distinct
/// levels rounded up to a power of two as the photon count per unit, the shot noise of that
/// count times `scale`; grey noise is that of the BT.601 luma, in every channel. Clamps.
pub fn poisson_noise<R: Rng + ?Sized>(img: &mut Planar, scale: f64, gray: bool, rng: &mut R) {
    let n = img.width * img.height;
    let levels = |v: &[f32]| {
        let mut seen = [false; 256];
        v.iter().for_each(|&x| seen[to_u8(x) as usize] = true);
        let distinct = seen.iter().filter(|s| **s).count().max(1);
        (distinct as f64).log2().ceil().exp2()
    };
    let noise_of = |plane: &[f32], rng: &mut R| -> Vec<f32> {
        let vals = levels(plane);
        plane
            .iter()
            .map(|&x| {
                let q = to_u8(x) as f64 / 255.0;
                ((poisson_sample(q * vals, rng) / vals - q) * scale) as f32
            })
            .collect()
    };
    if gray {
        let luma: Vec<f32> = (0..n)
            .map(|i| 0.299 * img.data[i] + 0.587 * img.data[n + i] + 0.114 * img.data[2 * n + i])
            .collect();
        let noise = noise_of(&luma, rng);
        for c in 0..3 {
            add_clamped(&mut img.data[c * n..(c + 1) * n], &noise);
        }
    } else {
        for c in 0..3 {
            let noise = noise_of(img.plane(c), rng);
            add_clamped(&mut img.data[c * n..(c + 1) * n], &noise);
        }
    }
}

/// Encodes as a baseline JPEG of `quality` (1-100) with the `image` crate's encoder and
/// decodes it again.
pub fn jpeg(img: &Planar, quality: u8) -> Planar {
    let rgb = img.to_rgb();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100))
        .encode(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encoding an RGB8 image to memory cannot fail");
    let decoded = JpegDecoder::new(Cursor::new(&bytes))
        .and_then(DynamicImage::from_decoder)
        .expect("a JPEG this encoder just wrote decodes");
    Planar::from_rgb(&decoded.to_rgb8())
}

fn noise<R: Rng + ?Sized>(img: &mut Planar, s: &StageConfig, rng: &mut R) {
    if !rng.random_bool(s.noise_prob) {
        return;
    }
    let gaussian = rng.random_bool(s.gaussian_noise_prob);
    let gray = rng.random_bool(s.gray_noise_prob);
    if gaussian {
        let sigma = uniform(rng, s.noise_range);
        gaussian_noise(img, sigma, gray, rng);
    } else {
        let scale = uniform(rng, s.poisson_scale_range);
        poisson_noise(img, scale, gray, rng);
    }
}

fn random_jpeg<R: Rng + ?Sized>(img: &Planar, s: &StageConfig, rng: &mut R) -> Planar {
    if !rng.random_bool(s.jpeg_prob) {
        return img.clone();
    }
    jpeg(img, uniform(rng, s.jpeg_range).round() as u8)
}

fn resize_factor<R: Rng + ?Sized>(rng: &mut R, s: &StageConfig) -> f64 {
    match choose(rng, &s.resize_prob) {
        0 => uniform(rng, [1.0, s.resize_range[1]]),
        1 => uniform(rng, [s.resize_range[0], 1.0]),
        _ => 1.0,
    }
}

/// Real-ESRGAN's second-order degradation of `hr` to an LR of `hr / scale` (floored, at least
/// 1), rounded to 8 bits. `scale` 1 degrades without shrinking (restoration).
pub fn degrade<R: Rng + ?Sized>(
    hr: &Planar,
    scale: usize,
    cfg: &DegradationConfig,
    rng: &mut R,
) -> Planar {
    let scale = scale.max(1);
    let (lw, lh) = ((hr.width / scale).max(1), (hr.height / scale).max(1));
    let k1 = sample_kernel(rng, &cfg.first.blur);
    let k2 = sample_kernel(rng, &cfg.second.blur);
    let k3 = if rng.random_bool(cfg.final_sinc_prob) {
        let size = kernel_side(rng, cfg.first.blur.kernel_range);
        Kernel::sinc(size, uniform(rng, [PI / 3.0, PI]))
    } else {
        Kernel::pulse()
    };

    // First stage.
    let mut x = if rng.random_bool(cfg.first.blur_prob) {
        filter(hr, &k1)
    } else {
        hr.clone()
    };
    let f = resize_factor(rng, &cfg.first);
    let mode = random_mode(rng);
    let size = |v: usize, f: f64| ((v as f64 * f) as usize).max(1);
    x = resize(&x, size(x.width, f), size(x.height, f), mode);
    noise(&mut x, &cfg.first, rng);
    x.clamp();
    x = random_jpeg(&x, &cfg.first, rng);

    // Second stage.
    if rng.random_bool(cfg.second.blur_prob) {
        x = filter(&x, &k2);
    }
    let f = resize_factor(rng, &cfg.second);
    let mode = random_mode(rng);
    x = resize(&x, size(lw, f), size(lh, f), mode);
    noise(&mut x, &cfg.second, rng);

    // Final: [resize back + sinc] and JPEG, in random order.
    let mode = random_mode(rng);
    if rng.random_bool(0.5) {
        x = filter(&resize(&x, lw, lh, mode), &k3);
        x.clamp();
        x = random_jpeg(&x, &cfg.second, rng);
    } else {
        x.clamp();
        x = random_jpeg(&x, &cfg.second, rng);
        x = filter(&resize(&x, lw, lh, mode), &k3);
    }
    x.quantise();
    x
}

/// One fixed degradation of the evaluation, applied to a model's 8-bit input; written
/// `noise:SIGMA` or `jpeg:QUALITY` (also in YAML).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fixed {
    /// Colour Gaussian noise of this sigma on the 0-255 scale, clamped and rounded.
    Noise(f64),
    /// A JPEG of this quality.
    Jpeg(u8),
}

impl std::str::FromStr for Fixed {
    type Err = DegradeError;
    fn from_str(s: &str) -> Result<Self, DegradeError> {
        let bad = || DegradeError::Fixed { value: s.into() };
        let (kind, value) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "noise" => {
                let v: f64 = value.parse().map_err(|_| bad())?;
                (v.is_finite() && (0.0..=255.0).contains(&v))
                    .then_some(Fixed::Noise(v))
                    .ok_or_else(bad)
            }
            "jpeg" => {
                let v: u8 = value.parse().map_err(|_| bad())?;
                (1..=100)
                    .contains(&v)
                    .then_some(Fixed::Jpeg(v))
                    .ok_or_else(bad)
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for Fixed {
    type Error = DegradeError;
    fn try_from(s: String) -> Result<Self, DegradeError> {
        s.parse()
    }
}

impl From<Fixed> for String {
    fn from(f: Fixed) -> String {
        f.to_string()
    }
}

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fixed::Noise(s) => write!(f, "noise:{s}"),
            Fixed::Jpeg(q) => write!(f, "jpeg:{q}"),
        }
    }
}

impl Fixed {
    /// Applies it to `img`; the noise is drawn from `rng`.
    pub fn apply<R: Rng + ?Sized>(&self, img: &RgbImage, rng: &mut R) -> RgbImage {
        let mut p = Planar::from_rgb(img);
        match *self {
            Fixed::Noise(sigma) => gaussian_noise(&mut p, sigma, false, rng),
            Fixed::Jpeg(q) => p = jpeg(&p, q),
        }
        p.to_rgb()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 5 + y * 2) as u8,
                ((x * y) % 251) as u8,
                (128.0 + 100.0 * ((x as f32) * 0.3).sin()) as u8,
            ])
        })
    }

    #[test]
    fn kernels_are_normalised_and_point_symmetric() {
        let mut rng = StdRng::seed_from_u64(1);
        let b = StageConfig::first().blur;
        for _ in 0..200 {
            let k = sample_kernel(&mut rng, &b);
            assert_eq!(k.size % 2, 1);
            assert!((7..=21).contains(&k.size));
            let sum: f64 = k.weights.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "sum {sum}");
            let n = k.weights.len();
            for i in 0..n {
                assert!((k.weights[i] - k.weights[n - 1 - i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn an_isotropic_gaussian_matches_its_closed_form() {
        let k = Kernel::bivariate(7, 1.5, 1.5, 0.3, 1.0, false);
        let g = |x: f64, y: f64| (-(x * x + y * y) / (2.0 * 1.5 * 1.5)).exp();
        let total: f64 = (-3..=3)
            .flat_map(|y| (-3..=3).map(move |x| g(x as f64, y as f64)))
            .sum();
        assert!((k.weights[24] - 1.0 / total).abs() < 1e-12);
        assert!((k.weights[0] - g(-3.0, -3.0) / total).abs() < 1e-12);
    }

    #[test]
    fn the_sinc_centre_is_the_limit_of_its_neighbours() {
        // omega J1(omega r) / (2 pi r) -> omega^2 / (4 pi) as r -> 0.
        let omega = 2.0;
        let r = 1e-6;
        let near = omega * libm::j1(omega * r) / (2.0 * PI * r);
        assert!((near - omega * omega / (4.0 * PI)).abs() < 1e-9);
    }

    #[test]
    fn filtering_with_a_pulse_or_a_flat_image_changes_nothing() {
        let p = Planar::from_rgb(&photo(20, 15));
        assert_eq!(filter(&p, &Kernel::pulse()), p);
        let flat = Planar::from_rgb(&RgbImage::from_pixel(9, 5, image::Rgb([40, 90, 200])));
        let k = Kernel::bivariate(21, 3.0, 1.0, 0.5, 1.0, false);
        let out = filter(&flat, &k); // pad 10 > both sides: reflection bounces
        for (a, b) in out.data.iter().zip(&flat.data) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn the_shortcuts_match_the_plain_2d_filter() {
        let p = Planar::from_rgb(&photo(33, 20));
        for k in [
            Kernel::bivariate(21, 1.4, 1.4, 0.0, 1.0, false), // separable
            Kernel::bivariate(21, 0.4, 0.3, 0.7, 1.0, false), // trimmed
            Kernel::bivariate(9, 2.0, 0.8, 0.4, 1.0, false),  // neither
        ] {
            let (fast, plain) = (filter(&p, &k), filter_2d(&p, &k));
            for (a, b) in fast.data.iter().zip(&plain.data) {
                assert!((a - b).abs() < 2e-6, "{a} vs {b}");
            }
        }
        assert!(separable(&Kernel::bivariate(21, 1.4, 1.4, 0.0, 1.0, false)).is_some());
        assert!(trimmed(&Kernel::bivariate(21, 0.4, 0.3, 0.7, 1.0, false)).size < 21);
        assert!(separable(&Kernel::bivariate(9, 2.0, 0.8, 0.4, 1.0, false)).is_none());
    }

    #[test]
    fn reflect_matches_numpy() {
        // np.pad(np.arange(4), 5, mode="reflect")
        let want = [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2];
        let got: Vec<usize> = (-5..9).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn resizes_keep_a_flat_image_flat_and_have_the_asked_size() {
        let flat = Planar::from_rgb(&RgbImage::from_pixel(17, 11, image::Rgb([10, 20, 30])));
        for mode in [ResizeMode::Area, ResizeMode::Bilinear, ResizeMode::Bicubic] {
            for (w, h) in [(5, 3), (40, 23), (17, 11), (1, 1)] {
                let r = resize(&flat, w, h, mode);
                assert_eq!((r.width, r.height), (w, h));
                for (i, v) in r.data.iter().enumerate() {
                    let want = [10.0, 20.0, 30.0][i / (w * h)] / 255.0;
                    assert!((v - want).abs() < 1e-5, "{mode:?} {w}x{h}: {v}");
                }
            }
        }
    }

    #[test]
    fn area_halving_averages_pairs() {
        let mut p = Planar::from_rgb(&RgbImage::new(4, 2));
        p.data[..8].copy_from_slice(&[0.0, 0.2, 0.4, 0.6, 0.1, 0.3, 0.5, 0.7]);
        let r = resize(&p, 2, 1, ResizeMode::Area);
        assert!((r.data[0] - 0.15).abs() < 1e-6 && (r.data[1] - 0.55).abs() < 1e-6);
    }

    #[test]
    fn degrade_is_a_pure_function_of_the_rng_and_has_the_lr_size() {
        let hr = Planar::from_rgb(&photo(96, 96));
        let cfg = DegradationConfig::default();
        for scale in [1, 2, 4] {
            let a = degrade(&hr, scale, &cfg, &mut StdRng::seed_from_u64(7));
            let b = degrade(&hr, scale, &cfg, &mut StdRng::seed_from_u64(7));
            assert_eq!(a, b);
            assert_eq!((a.width, a.height), (96 / scale, 96 / scale));
            assert!(a.data.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(a
                .data
                .iter()
                .all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-3));
            let c = degrade(&hr, scale, &cfg, &mut StdRng::seed_from_u64(8));
            assert_ne!(a, c);
        }
    }

    #[test]
    fn with_every_step_off_scale_1_is_the_identity() {
        let mut cfg = DegradationConfig::default();
        for st in [&mut cfg.first, &mut cfg.second] {
            st.blur_prob = 0.0;
            st.resize_prob = [0.0, 0.0, 1.0];
            st.noise_prob = 0.0;
            st.jpeg_prob = 0.0;
        }
        cfg.final_sinc_prob = 0.0;
        cfg.validate().unwrap();
        let hr = Planar::from_rgb(&photo(40, 30));
        for seed in 0..5 {
            let lr = degrade(&hr, 1, &cfg, &mut StdRng::seed_from_u64(seed));
            assert_eq!(lr, hr, "seed {seed}");
        }
        // Only JPEG on: the output differs, and only by JPEG's kind of error (no noise floor).
        cfg.second.jpeg_prob = 1.0;
        let lr = degrade(&hr, 1, &cfg, &mut StdRng::seed_from_u64(0));
        assert_ne!(lr, hr);
    }

    #[test]
    fn noise_has_the_asked_sigma() {
        let mut p = Planar::from_rgb(&RgbImage::from_pixel(200, 200, image::Rgb([128; 3])));
        gaussian_noise(&mut p, 10.0, false, &mut StdRng::seed_from_u64(3));
        let n = p.data.len() as f64;
        let var = p
            .data
            .iter()
            .map(|&v| (v as f64 * 255.0 - 128.0).powi(2))
            .sum::<f64>()
            / n;
        assert!((var.sqrt() - 10.0).abs() < 0.2, "sigma {}", var.sqrt());
        let mut g = Planar::from_rgb(&RgbImage::from_pixel(8, 8, image::Rgb([128; 3])));
        gaussian_noise(&mut g, 20.0, true, &mut StdRng::seed_from_u64(3));
        assert_eq!(g.data[..64], g.data[64..128]);
    }

    #[test]
    fn poisson_noise_grows_with_its_scale() {
        let base = Planar::from_rgb(&photo(64, 64));
        let dev = |scale: f64| {
            let mut p = base.clone();
            poisson_noise(&mut p, scale, false, &mut StdRng::seed_from_u64(5));
            p.data
                .iter()
                .zip(&base.data)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
        };
        let (small, large) = (dev(0.1), dev(2.0));
        assert!(small > 0.0 && large > 10.0 * small, "{small} {large}");
    }

    #[test]
    fn jpeg_is_lossy_and_lower_quality_loses_more() {
        let p = Planar::from_rgb(&photo(64, 48));
        let err = |q| {
            jpeg(&p, q)
                .data
                .iter()
                .zip(&p.data)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
        };
        assert!(err(95) > 0.0 && err(10) > 2.0 * err(95));
    }

    #[test]
    fn config_reads_partial_stages_over_their_own_defaults() {
        let cfg: DegradationConfig = serde_json::from_str(
            r#"{"second": {"noise_range": [1, 10], "blur": {"sinc_prob": 0}}}"#,
        )
        .unwrap();
        assert_eq!(cfg.second.noise_range, [1.0, 10.0]);
        assert_eq!(cfg.second.blur.sinc_prob, 0.0);
        assert_eq!(cfg.second.blur.sigma, [0.2, 1.5]); // the second stage's default
        assert_eq!(cfg.second.blur_prob, 0.8);
        assert_eq!(cfg.first, StageConfig::first());
        cfg.validate().unwrap();
        let e = serde_json::from_str::<DegradationConfig>(r#"{"first": {"nois_range": [1, 2]}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("nois_range"), "{e}");
    }

    #[test]
    fn config_rejects_bad_ranges_with_the_field_named() {
        let mut cfg = DegradationConfig::default();
        cfg.first.blur.kernel_range = [8, 21];
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("first.blur.kernel_range"), "{e}");
        let mut cfg = DegradationConfig::default();
        cfg.second.jpeg_range = [95.0, 30.0];
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("second.jpeg_range"));
        let mut cfg = DegradationConfig::default();
        cfg.first.gaussian_noise_prob = 1.5;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn fixed_degradations_parse_and_apply() {
        assert_eq!("noise:25".parse::<Fixed>().unwrap(), Fixed::Noise(25.0));
        assert_eq!("jpeg:30".parse::<Fixed>().unwrap(), Fixed::Jpeg(30));
        for bad in [
            "noise",
            "jpeg:0",
            "jpeg:101",
            "noise:-1",
            "blur:3",
            "noise:nan",
        ] {
            let e = bad.parse::<Fixed>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let img = photo(32, 32);
        let mut rng = StdRng::seed_from_u64(0);
        assert_ne!(Fixed::Noise(10.0).apply(&img, &mut rng), img);
        assert_ne!(Fixed::Jpeg(30).apply(&img, &mut rng), img);
    }
}
