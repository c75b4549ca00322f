//! Training and validation data.
//!
//! A folder of HR photos (PNG or JPEG) is decoded once and cached in memory; an image smaller
//! than the crop or one that cannot be decoded is skipped with a warning naming it. Each
//! training sample is a random `crop`x`crop` HR patch, optionally flipped and rotated by a
//! multiple of 90 degrees, and its LR partner is the patch downscaled by the scale with the
//! bicubic kernel (Keys, a = -0.5) widened by the scale for antialiasing, exactly as MATLAB's
//! `imresize(hr, 1/scale, 'bicubic')` (`srgan_imaging::resample::downscale`), then rounded to
//! 8 bits like a saved LR image. Validation follows the evaluation protocol of
//! `srgan_imaging::eval`, the same code as `srgan-eval`'s.
//!
//! With `data.degradation` the LR partner is instead Real-ESRGAN's second-order degradation of
//! the patch (`srgan_imaging::degrade`: blurs, resizes, noise, JPEG, twice, then a sinc), at
//! `1 / scale` of its size (scale 1: the same size, for restoration). With `data.train_lr`
//! the LR is the matching crop of the user's own LR image of the same name (paired data).
//!
//! Loading is deterministic: which images, crops and degradations iteration `t` gets depends
//! only on `(seed, t)`, so a run can be resumed at any iteration. Background threads prepare the batches;
//! thread `w` of `W` prepares iterations `t ≡ w (mod W)` into its own bounded channel and the
//! consumer reads the channels round-robin, so the order is fixed and memory is bounded.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use image::imageops;
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srgan_imaging::degrade::{self, DegradationConfig, Fixed, Planar};
use srgan_imaging::eval::EvalImage;
use srgan_imaging::pipeline::{rgb_to_tensor, tensor_to_rgb};

use crate::error::{ModelsError, Result};

/// Mixes a seed and a few counters into one RNG seed (SplitMix64 finaliser at each step).
pub fn derive_seed(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

/// An RNG for one purpose (`stream`) at one iteration.
pub fn rng_for(seed: u64, stream: u64, iteration: u64) -> StdRng {
    StdRng::seed_from_u64(derive_seed(&[seed, stream, iteration]))
}

/// RNG streams.
pub(crate) mod stream {
    pub const PERMUTATION: u64 = 1;
    pub const CROP: u64 = 2;
    pub const LABELS: u64 = 3;
    pub const DEGRADE: u64 = 4;
    pub const VALIDATION: u64 = 5;
}

/// Decoded images of a folder, sorted by file name.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The folder.
    pub path: PathBuf,
    /// Usable images.
    pub images: Vec<Arc<RgbImage>>,
    /// Their files, in the same order.
    pub files: Vec<PathBuf>,
    /// One line per skipped file, naming it and saying why.
    pub warnings: Vec<String>,
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

impl ImageFolder {
    /// Decodes every PNG/JPEG in `path` (not recursive) on `threads` threads. Files smaller
    /// than `min_side` on either side, or that cannot be decoded, are skipped with a warning on
    /// stderr; a folder with no usable image is an error.
    pub fn open(path: &Path, min_side: u32, threads: usize) -> Result<Self> {
        let rd = std::fs::read_dir(path).map_err(ModelsError::io(path))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        files.sort();
        let threads = threads.clamp(1, 16);
        let chunk = files.len().div_ceil(threads).max(1);
        let decoded: Vec<std::result::Result<RgbImage, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|f| {
                                image::open(f)
                                    .map(|i| i.to_rgb8())
                                    .map_err(|e| format!("cannot decode: {e}"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("decoder thread panicked"))
                .collect()
        });
        let mut out = Self {
            path: path.into(),
            images: Vec::new(),
            files: Vec::new(),
            warnings: Vec::new(),
        };
        for (f, d) in files.into_iter().zip(decoded) {
            let why = match d {
                Ok(img) if img.width() >= min_side && img.height() >= min_side => {
                    out.images.push(Arc::new(img));
                    out.files.push(f);
                    continue;
                }
                Ok(img) => format!(
                    "{}x{} is smaller than {min_side}x{min_side}",
                    img.width(),
                    img.height()
                ),
                Err(e) => e,
            };
            let line = format!("warning: skipping {}: {why}", f.display());
            eprintln!("{line}");
            out.warnings.push(line);
        }
        if out.images.is_empty() {
            return Err(ModelsError::NoUsableImages {
                path: path.into(),
                min_size: min_side,
                skipped: out.warnings.len(),
            });
        }
        Ok(out)
    }
}

/// Downscales by `scale` with MATLAB's bicubic (antialiased), rounding to 8 bits.
pub fn bicubic_down(img: &RgbImage, scale: u32) -> RgbImage {
    let x = rgb_to_tensor(img);
    tensor_to_rgb(srgan_imaging::resample::downscale(x.view(), scale as usize).view())
}

/// Applies one of the 8 symmetries of the square (`k` in 0..8: bit 0 horizontal flip, bits 1-2
/// quarter turns).
pub fn dihedral(img: &RgbImage, k: u8) -> RgbImage {
    let img = if k & 1 == 1 {
        imageops::flip_horizontal(img)
    } else {
        img.clone()
    };
    match (k >> 1) & 3 {
        1 => imageops::rotate90(&img),
        2 => imageops::rotate180(&img),
        3 => imageops::rotate270(&img),
        _ => img,
    }
}

/// Appends an RGB image as planar CHW f32 in [0, 1].
pub fn push_chw(img: &RgbImage, out: &mut Vec<f32>) {
    out.extend(rgb_to_tensor(img).iter());
}

/// The training images: HR photos, and for paired data the user's LR of each.
#[derive(Debug, Clone)]
pub struct TrainSet {
    /// HR images.
    pub hr: Vec<Arc<RgbImage>>,
    /// Paired data: the LR of each HR (same order), whose sides are the HR's divided by the
    /// scale (floored).
    pub lr: Option<Vec<Arc<RgbImage>>>,
}

impl TrainSet {
    /// HR images only: the LR is made from each crop.
    pub fn unpaired(hr: Vec<Arc<RgbImage>>) -> Self {
        Self { hr, lr: None }
    }

    /// Pairs the images of `hr` with those of `lr` by file stem: every HR must have an LR
    /// whose sides are the HR's divided by `scale` (floored), and at least `crop / scale`.
    /// An unpaired HR or LR file, or a size mismatch, is an error naming the file.
    pub fn paired(hr: ImageFolder, lr: ImageFolder, scale: u32, crop: u32) -> Result<Self> {
        let stem = |p: &Path| p.file_stem().map(|s| s.to_os_string());
        let mut by_stem: std::collections::HashMap<_, _> = lr
            .files
            .iter()
            .zip(&lr.images)
            .map(|(f, i)| (stem(f), (f, i)))
            .collect();
        let mut out = Vec::with_capacity(hr.images.len());
        for (f, h) in hr.files.iter().zip(&hr.images) {
            let Some((lf, l)) = by_stem.remove(&stem(f)) else {
                return Err(ModelsError::Pairing {
                    file: f.clone(),
                    why: format!("no LR image of the same name in {}", lr.path.display()),
                });
            };
            let (w, hh) = (h.width() / scale, h.height() / scale);
            if l.dimensions() != (w, hh) || w < crop / scale || hh < crop / scale {
                return Err(ModelsError::Pairing {
                    file: lf.clone(),
                    why: format!(
                        "is {}x{}; expected {w}x{hh} (its HR {} is {}x{}, scale {scale}), at least \
                         {c}x{c}",
                        l.width(),
                        l.height(),
                        f.display(),
                        h.width(),
                        h.height(),
                        c = crop / scale
                    ),
                });
            }
            out.push(l.clone());
        }
        if let Some((_, (lf, _))) = by_stem.into_iter().min_by(|a, b| a.1 .0.cmp(b.1 .0)) {
            return Err(ModelsError::Pairing {
                file: lf.clone(),
                why: format!("no HR image of the same name in {}", hr.path.display()),
            });
        }
        Ok(Self {
            hr: hr.images,
            lr: Some(out),
        })
    }

    /// Number of training images.
    pub fn len(&self) -> usize {
        self.hr.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hr.is_empty()
    }
}

/// One training batch, planar NCHW, RGB in [0, 1].
#[derive(Debug, Clone)]
pub struct Batch {
    /// 0-based iteration it belongs to.
    pub iteration: u64,
    /// Samples.
    pub n: usize,
    /// HR side.
    pub hr_side: usize,
    /// HR crops, `[n, 3, hr_side, hr_side]`.
    pub hr: Vec<f32>,
    /// LR crops, `[n, 3, hr_side / scale, hr_side / scale]`.
    pub lr: Vec<f32>,
}

/// What decides the batches.
#[derive(Debug, Clone)]
pub struct Sampling {
    /// Seed.
    pub seed: u64,
    /// HR crop side.
    pub crop: u32,
    /// Upscaling factor.
    pub scale: u32,
    /// Crops per batch.
    pub batch: usize,
    /// Flips and rotations.
    pub augment: bool,
    /// Iterations per epoch (each epoch is a fresh permutation of the images).
    pub epoch_iterations: u64,
    /// Real-ESRGAN's degradations instead of the bicubic downscale (unpaired data only).
    pub degradation: Option<Arc<DegradationConfig>>,
}

/// Builds the batch of iteration `t` (pure function of the images, `s` and `t`).
pub fn make_batch(set: &TrainSet, s: &Sampling, t: u64) -> Batch {
    let n = set.len();
    let epoch = t / s.epoch_iterations;
    let pos = t % s.epoch_iterations;
    let mut perm: Vec<usize> = (0..n).collect();
    let mut prng = rng_for(s.seed, stream::PERMUTATION, epoch);
    for i in (1..n).rev() {
        let j = prng.random_range(0..=i);
        perm.swap(i, j);
    }
    let mut rng = rng_for(s.seed, stream::CROP, t);
    let mut drng = rng_for(s.seed, stream::DEGRADE, t);
    let side = s.crop as usize;
    let lr_side = side / s.scale as usize;
    let mut hr = Vec::with_capacity(s.batch * 3 * side * side);
    let mut lr = Vec::with_capacity(s.batch * 3 * lr_side * lr_side);
    for j in 0..s.batch {
        let i = perm[((pos as usize) * s.batch + j) % n];
        let img = &set.hr[i];
        if let Some(lrs) = &set.lr {
            // Paired: a crop on the LR's grid and the HR crop at the same place.
            let (l, lc) = (&lrs[i], s.crop / s.scale);
            let x = rng.random_range(0..=l.width() - lc);
            let y = rng.random_range(0..=l.height() - lc);
            let k: u8 = rng.random_range(0..8);
            let hp = imageops::crop_imm(img.as_ref(), x * s.scale, y * s.scale, s.crop, s.crop);
            let lp = imageops::crop_imm(l.as_ref(), x, y, lc, lc);
            let aug = |p: RgbImage| if s.augment { dihedral(&p, k) } else { p };
            push_chw(&aug(hp.to_image()), &mut hr);
            push_chw(&aug(lp.to_image()), &mut lr);
            continue;
        }
        let x = rng.random_range(0..=img.width() - s.crop);
        let y = rng.random_range(0..=img.height() - s.crop);
        let k: u8 = rng.random_range(0..8);
        let patch = imageops::crop_imm(img.as_ref(), x, y, s.crop, s.crop).to_image();
        let patch = if s.augment {
            dihedral(&patch, k)
        } else {
            patch
        };
        push_chw(&patch, &mut hr);
        match &s.degradation {
            Some(cfg) => {
                let hp = Planar::from_rgb(&patch);
                let d = degrade::degrade(&hp, s.scale as usize, cfg, &mut drng);
                lr.extend_from_slice(&d.data);
            }
            None => push_chw(&bicubic_down(&patch, s.scale), &mut lr),
        }
    }
    Batch {
        iteration: t,
        n: s.batch,
        hr_side: side,
        hr,
        lr,
    }
}

/// Background batch loader for iterations `start..end`, in order.
pub struct Loader {
    receivers: Vec<Receiver<Batch>>,
    handles: Vec<JoinHandle<()>>,
    next: u64,
    start: u64,
    end: u64,
}

impl Loader {
    /// Starts `workers` threads, each holding at most `prefetch` finished batches.
    pub fn start(
        images: Arc<TrainSet>,
        sampling: Sampling,
        start: u64,
        end: u64,
        workers: usize,
        prefetch: usize,
    ) -> Self {
        let workers = workers.max(1);
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers as u64 {
            let (tx, rx) = sync_channel(prefetch.max(1));
            let images = images.clone();
            let s = sampling.clone();
            handles.push(std::thread::spawn(move || {
                lower_priority();
                let mut t = start + w;
                while t < end {
                    if tx.send(make_batch(&images, &s, t)).is_err() {
                        return; // the loader was dropped
                    }
                    t += workers as u64;
                }
            }));
            receivers.push(rx);
        }
        Self {
            receivers,
            handles,
            next: start,
            start,
            end,
        }
    }

    /// The batch of the next iteration, or `None` after `end`.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.next >= self.end {
            return None;
        }
        let w = ((self.next - self.start) % self.receivers.len() as u64) as usize;
        let b = self.receivers[w].recv().ok()?;
        debug_assert_eq!(b.iteration, self.next);
        self.next += 1;
        Some(b)
    }
}

/// Lowers the calling thread's scheduling priority (nice 10; Linux applies `setpriority` to
/// the calling thread). libtorch's intra-op threads run in lockstep: a loader that takes a core
/// from one of them stalls both, so the loader should run when they wait, not preempt them.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; on failure the priority is unchanged.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.receivers.clear(); // wakes every blocked sender
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A validation image, prepared for the evaluation protocol
/// ([`srgan_imaging::eval`]): the HR cropped to a multiple of the scale, and its LR.
#[derive(Debug, Clone)]
pub struct ValImage {
    /// The file.
    pub file: PathBuf,
    /// The degradation of its LR, if any.
    pub degradation: Option<Fixed>,
    /// The HR and its LR.
    pub image: EvalImage,
}

/// Prepares validation images from a folder: each once with its clean bicubic LR, or, with
/// `degradations`, once per degradation of that LR (seeded by `seed`, the image's index and
/// the degradation's).
pub fn validation_set(
    path: &Path,
    scale: u32,
    max_images: Option<usize>,
    threads: usize,
    degradations: &[Fixed],
    seed: u64,
) -> Result<Vec<ValImage>> {
    // Small images are useless for SSIM (11x11 window after the border crop).
    let folder = ImageFolder::open(path, (2 * scale + 11) * 2, threads)?;
    let n = max_images.unwrap_or(usize::MAX).min(folder.images.len());
    let mut out = Vec::new();
    for (i, (img, f)) in folder.images.iter().zip(&folder.files).take(n).enumerate() {
        if degradations.is_empty() {
            out.push(ValImage {
                file: f.clone(),
                degradation: None,
                image: EvalImage::new(img, scale as usize),
            });
        }
        for (j, &d) in degradations.iter().enumerate() {
            let mut rng = rng_for(seed, stream::VALIDATION, ((i as u64) << 16) | j as u64);
            out.push(ValImage {
                file: f.clone(),
                degradation: Some(d),
                image: EvalImage::degraded(img, scale as usize, d, &mut rng),
            });
        }
    }
    Ok(out)
}
