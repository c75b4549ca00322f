//! NIQE (Natural Image Quality Evaluator, Mittal et al. 2013), a no-reference quality score:
//! lower is more natural. This is BasicSR 1.4.2's `calculate_niqe(img, crop_border,
//! input_order='HWC', convert_to='y')` (`basicsr/metrics/niqe.py`) step by step, with the
//! pristine model of BasicSR's `niqe_pris_params.npz` ([`NiqeParams::from_npz`]):
//!
//! 1. the Y channel of BT.601 (`bgr2ycbcr(y_only=True)`: float32 in [0, 1], the dot product in
//!    float64, back to float32), times 255, rounded half to even, after the `crop_border`;
//! 2. the image cut to whole 96x96 blocks at the top-left;
//! 3. at two scales (the image, then MATLAB's bicubic `imresize` by 0.5 with antialiasing, in
//!    float32, [`crate::resample::downscale`]): local mean and deviation under the 7x7 Gaussian
//!    window (`scipy.ndimage.convolve`, edges replicated, float32 output), the normalised
//!    coefficients `(img - mu) / (sigma + 1)`, and per block the 18 AGGD features of the
//!    coefficients and of their products with the 4 neighbours;
//! 4. the mean of the features over blocks (NaN ignored), their covariance over the blocks with
//!    no NaN, and the Mahalanobis-like distance to the pristine model through the
//!    pseudo-inverse of the mean of both covariances.
//!
//! Where BasicSR computes in float32 (the image, the convolutions' outputs, the normalised
//! coefficients, `np.mean` with numpy's pairwise summation, the scalar powers of the AGGD fit),
//! so does this module; the rest is float64. `imaging/tests/niqe.rs` checks the scores against
//! BasicSR's own code (scripts/niqe_basicsr.py).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::RgbImage;
use ndarray::{s, Array2, ArrayView2, Axis};

/// The side of NIQE's square blocks, in pixels (at the first scale).
pub const BLOCK: usize = 96;
/// Number of features per block: 18 per scale, two scales.
pub const FEATURES: usize = 36;
/// The side of the Gaussian window of the local statistics.
pub const WINDOW: usize = 7;

/// Errors of NIQE: reading its parameters, and images it cannot score. Each message is one line
/// naming the file or the value and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum NiqeError {
    /// The parameter file could not be opened.
    #[error("{path}: cannot read the NIQE parameters")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The parameter file is not a zip archive (numpy's `.npz`) we can read.
    #[error("{path}: not a readable .npz (expected numpy's uncompressed zip of .npy files, as BasicSR's niqe_pris_params.npz)")]
    Npz {
        /// The file.
        path: PathBuf,
        /// The zip reader's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// An array the parameters need is not in the archive, or cannot be read from it.
    #[error("{path}: cannot read {entry} (expected mu_pris_param.npy, cov_pris_param.npy and gaussian_window.npy, stored uncompressed)")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The member of the archive.
        entry: &'static str,
        /// The zip reader's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A member of the archive could not be read.
    #[error("{path}: cannot read {entry} from the archive")]
    EntryIo {
        /// The file.
        path: PathBuf,
        /// The member of the archive.
        entry: &'static str,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// A member is not a `.npy` array we read.
    #[error("{path}: {entry} is not a float64/float32 .npy array")]
    Npy {
        /// The file (or `<memory>`).
        path: PathBuf,
        /// The member of the archive.
        entry: &'static str,
        /// What is wrong with it.
        #[source]
        source: NpyError,
    },
    /// An array has the wrong shape.
    #[error("{what} has shape {shape:?}, expected {expected}")]
    Shape {
        /// The array (file and member, or the argument).
        what: String,
        /// Its shape.
        shape: Vec<usize>,
        /// The shape NIQE needs.
        expected: &'static str,
    },
    /// An array holds NaN or an infinity.
    #[error("{what}[{index}] is {value}, expected a finite number")]
    NotFinite {
        /// The array (file and member, or the argument).
        what: String,
        /// The flat (C order) index of the first bad value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The image is smaller than one block.
    #[error("the image is {width}x{height} after cropping {crop_border} pixels from each edge; NIQE needs at least {BLOCK}x{BLOCK}")]
    TooSmall {
        /// Width after the crop.
        width: usize,
        /// Height after the crop.
        height: usize,
        /// The crop border.
        crop_border: usize,
    },
    /// Too few blocks have features without NaN (flat blocks have none) to estimate their
    /// covariance.
    #[error("only {usable} of the image's {blocks} {BLOCK}x{BLOCK} blocks have NaN-free features; NIQE's covariance needs at least 2 (the image is too small or too flat)")]
    TooFewBlocks {
        /// Blocks whose 36 features are all numbers.
        usable: usize,
        /// All blocks.
        blocks: usize,
    },
    /// The score came out NaN or infinite (degenerate features).
    #[error(
        "the NIQE score is {value}, expected a finite number (the blocks' features are degenerate)"
    )]
    NotFiniteScore {
        /// The value.
        value: f64,
    },
}

/// What is wrong with a `.npy` array (the source of [`NiqeError::Npy`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NpyError {
    /// The bytes do not start with `\x93NUMPY`.
    #[error("no .npy magic (expected the bytes \\x93NUMPY)")]
    Magic,
    /// A format version other than 1.0, 2.0 and 3.0.
    #[error("format version {major}.{minor}, expected 1.0, 2.0 or 3.0")]
    Version {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// The file ends inside the header.
    #[error("the header is truncated ({got} bytes, expected {expected})")]
    Truncated {
        /// Bytes present.
        got: usize,
        /// Bytes the header needs.
        expected: usize,
    },
    /// The header is not the dict numpy writes.
    #[error("bad header {header:?}: {reason} (expected {{'descr': ..., 'fortran_order': ..., 'shape': (...)}})")]
    Header {
        /// The header text.
        header: String,
        /// What is wrong.
        reason: String,
    },
    /// A dtype other than little-endian float64 or float32.
    #[error("dtype {0:?}, expected '<f8' or '<f4'")]
    Dtype(String),
    /// The data does not have the size the shape says.
    #[error("{got} bytes of data, expected {expected} for shape {shape:?}")]
    DataSize {
        /// Bytes present.
        got: usize,
        /// Bytes the shape needs.
        expected: usize,
        /// The shape.
        shape: Vec<usize>,
    },
}

/// A `.npy` array: its shape and its values in C order, as float64.
#[derive(Debug, Clone, PartialEq)]
struct Npy {
    shape: Vec<usize>,
    data: Vec<f64>,
}

/// The pristine model of NIQE: the mean (36) and covariance (36x36) of the features of pristine
/// photos, and the 7x7 Gaussian window of the local statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct NiqeParams {
    mu: Vec<f64>,
    cov: Array2<f64>,
    window: Array2<f64>,
}

impl NiqeParams {
    /// Checks shapes (36, 36x36, 7x7) and that every value is finite.
    pub fn new(mu: Vec<f64>, cov: Array2<f64>, window: Array2<f64>) -> Result<Self, NiqeError> {
        let check = |what: &str, shape: Vec<usize>, want: &[usize], expected, data: &[f64]| {
            if shape != want {
                return Err(NiqeError::Shape {
                    what: what.into(),
                    shape,
                    expected,
                });
            }
            finite(what, data)
        };
        check("mu", vec![mu.len()], &[FEATURES], "(36,)", &mu)?;
        let flat = |a: &Array2<f64>| a.iter().copied().collect::<Vec<_>>();
        check(
            "cov",
            cov.shape().to_vec(),
            &[FEATURES, FEATURES],
            "(36, 36)",
            &flat(&cov),
        )?;
        check(
            "window",
            window.shape().to_vec(),
            &[WINDOW, WINDOW],
            "(7, 7)",
            &flat(&window),
        )?;
        Ok(Self { mu, cov, window })
    }

    /// Reads BasicSR's `niqe_pris_params.npz`: `mu_pris_param.npy` (1x36 or 36),
    /// `cov_pris_param.npy` (36x36) and `gaussian_window.npy` (7x7), float64 or float32, stored
    /// uncompressed (as `np.savez` writes them).
    pub fn from_npz(path: impl AsRef<Path>) -> Result<Self, NiqeError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| NiqeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| {
            NiqeError::Npz {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let mut array = |entry: &'static str| -> Result<Npy, NiqeError> {
            let mut member = zip.by_name(entry).map_err(|source| NiqeError::Entry {
                path: path.to_path_buf(),
                entry,
                source,
            })?;
            let mut bytes = Vec::new();
            member
                .read_to_end(&mut bytes)
                .map_err(|source| NiqeError::EntryIo {
                    path: path.to_path_buf(),
                    entry,
                    source,
                })?;
            parse_npy(&bytes).map_err(|source| NiqeError::Npy {
                path: path.to_path_buf(),
                entry,
                source,
            })
        };
        let mu = array("mu_pris_param.npy")?;
        let cov = array("cov_pris_param.npy")?;
        let window = array("gaussian_window.npy")?;
        let name = |entry: &str| format!("{}: {entry}", path.display());
        if !(mu.shape == [FEATURES] || mu.shape == [1, FEATURES]) {
            return Err(NiqeError::Shape {
                what: name("mu_pris_param.npy"),
                shape: mu.shape,
                expected: "(1, 36) or (36,)",
            });
        }
        let square = |a: Npy, n: usize, entry: &str, expected| {
            Array2::from_shape_vec((n, n), a.data).map_err(|_| NiqeError::Shape {
                what: name(entry),
                shape: a.shape.clone(),
                expected,
            })
        };
        if cov.shape != [FEATURES, FEATURES] {
            return Err(NiqeError::Shape {
                what: name("cov_pris_param.npy"),
                shape: cov.shape,
                expected: "(36, 36)",
            });
        }
        if window.shape != [WINDOW, WINDOW] {
            return Err(NiqeError::Shape {
                what: name("gaussian_window.npy"),
                shape: window.shape,
                expected: "(7, 7)",
            });
        }
        finite(&name("mu_pris_param.npy"), &mu.data)?;
        finite(&name("cov_pris_param.npy"), &cov.data)?;
        finite(&name("gaussian_window.npy"), &window.data)?;
        let cov = square(cov, FEATURES, "cov_pris_param.npy", "(36, 36)")?;
        let window = square(window, WINDOW, "gaussian_window.npy", "(7, 7)")?;
        Self::new(mu.data, cov, window)
    }

    /// The pristine features' mean (36).
    pub fn mu(&self) -> &[f64] {
        &self.mu
    }

    /// The pristine features' covariance (36x36).
    pub fn cov(&self) -> ArrayView2<'_, f64> {
        self.cov.view()
    }

    /// The 7x7 Gaussian window of the local mean and deviation.
    pub fn window(&self) -> ArrayView2<'_, f64> {
        self.window.view()
    }
}

fn finite(what: &str, data: &[f64]) -> Result<(), NiqeError> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(NiqeError::NotFinite {
            what: what.into(),
            index,
            value: data[index],
        }),
        None => Ok(()),
    }
}

/// Parses a `.npy` file (format 1.0, 2.0 or 3.0) of little-endian float64 or float32, C or
/// Fortran order; the values come back in C order.
fn parse_npy(bytes: &[u8]) -> Result<Npy, NpyError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(NpyError::Magic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) | (3, 0) => (4, 12),
        _ => return Err(NpyError::Version { major, minor }),
    };
    if bytes.len() < start {
        return Err(NpyError::Truncated {
            got: bytes.len(),
            expected: start,
        });
    }
    let header_len = bytes[8..8 + len_bytes]
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let end = start + header_len;
    if bytes.len() < end {
        return Err(NpyError::Truncated {
            got: bytes.len(),
            expected: end,
        });
    }
    let header = String::from_utf8_lossy(&bytes[start..end]).into_owned();
    let (descr, fortran, shape) = parse_header(&header).map_err(|reason| NpyError::Header {
        header: header.trim_end().to_string(),
        reason,
    })?;
    let item = match descr.as_str() {
        "<f8" => 8,
        "<f4" => 4,
        _ => return Err(NpyError::Dtype(descr)),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|c| c.checked_mul(item));
    let raw = &bytes[end..];
    let Some(expected) = count.filter(|&c| c == raw.len()) else {
        return Err(NpyError::DataSize {
            got: raw.len(),
            expected: count.unwrap_or(usize::MAX),
            shape,
        });
    };
    let values: Vec<f64> = if item == 8 {
        raw.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    } else {
        raw.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
            .collect()
    };
    debug_assert_eq!(values.len() * item, expected);
    let data = if fortran && shape.len() > 1 {
        // Fortran order: the first index varies fastest. Walk the C-order indices.
        let n = values.len();
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            let mut off = 0;
            let mut stride = 1;
            for (i, d) in idx.iter().zip(&shape) {
                off += i * stride;
                stride *= d;
            }
            out.push(values[off]);
            for k in (0..shape.len()).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        out
    } else {
        values
    };
    Ok(Npy { shape, data })
}

/// Parses numpy's header dict: `{'descr': '<f8', 'fortran_order': False, 'shape': (36, 36), }`.
fn parse_header(header: &str) -> Result<(String, bool, Vec<usize>), String> {
    #[derive(Debug)]
    enum Value {
        Str(String),
        Bool(bool),
        Tuple(Vec<usize>),
    }
    let b = header.trim_end_matches(['\n', ' ', '\0']).as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let expect = |i: &mut usize, c: u8| -> Result<(), String> {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, *i))
        }
    };
    let string = |i: &mut usize| -> Result<String, String> {
        let q = *b.get(*i).ok_or("unexpected end")?;
        if q != b'\'' && q != b'"' {
            return Err(format!("expected a quoted string at byte {}", *i));
        }
        let start = *i + 1;
        let len = b[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or("unterminated string")?;
        *i = start + len + 1;
        Ok(String::from_utf8_lossy(&b[start..start + len]).into_owned())
    };
    ws(&mut i);
    expect(&mut i, b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        ws(&mut i);
        if i < b.len() && b[i] == b'}' {
            i += 1;
            break;
        }
        let key = string(&mut i)?;
        ws(&mut i);
        expect(&mut i, b':')?;
        ws(&mut i);
        let value = if b[i..].starts_with(b"True") {
            i += 4;
            Value::Bool(true)
        } else if b[i..].starts_with(b"False") {
            i += 5;
            Value::Bool(false)
        } else if i < b.len() && b[i] == b'(' {
            i += 1;
            let mut dims = Vec::new();
            loop {
                ws(&mut i);
                if i < b.len() && b[i] == b')' {
                    i += 1;
                    break;
                }
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let dim = std::str::from_utf8(&b[start..i])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| format!("expected a dimension at byte {start}"))?;
                dims.push(dim);
                ws(&mut i);
                if i < b.len() && b[i] == b',' {
                    i += 1;
                } else if !(i < b.len() && b[i] == b')') {
                    return Err(format!("expected ',' or ')' at byte {i}"));
                }
            }
            Value::Tuple(dims)
        } else {
            Value::Str(string(&mut i)?)
        };
        let slot_taken = match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr.replace(s).is_some(),
            ("fortran_order", Value::Bool(f)) => fortran.replace(f).is_some(),
            ("shape", Value::Tuple(t)) => shape.replace(t).is_some(),
            (k @ ("descr" | "fortran_order" | "shape"), v) => {
                return Err(format!("'{k}' has the wrong kind of value {v:?}"))
            }
            (k, _) => return Err(format!("unknown key '{k}'")),
        };
        if slot_taken {
            return Err(format!("'{key}' given twice"));
        }
        ws(&mut i);
        if i < b.len() && b[i] == b',' {
            i += 1;
        }
    }
    ws(&mut i);
    if i != b.len() {
        return Err(format!("trailing text at byte {i}"));
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        _ => Err("missing 'descr', 'fortran_order' or 'shape'".into()),
    }
}

/// NIQE of an RGB image, as BasicSR's `calculate_niqe(img, crop_border, input_order='HWC',
/// convert_to='y')` on the same image in BGR order: the Y channel (BT.601, rounded), cropped by
/// `crop_border` on each edge, then [`niqe_luma`]. Lower is better.
pub fn niqe(img: &RgbImage, crop_border: usize, params: &NiqeParams) -> Result<f64, NiqeError> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (cw, ch) = (
        w.saturating_sub(2 * crop_border),
        h.saturating_sub(2 * crop_border),
    );
    if cw < BLOCK || ch < BLOCK {
        return Err(NiqeError::TooSmall {
            width: cw,
            height: ch,
            crop_border,
        });
    }
    // to_y_channel: img.astype(float32) / 255 -> bgr2ycbcr (np.dot with a float64 list: float64;
    // + 16; / 255; astype(float32)) -> * 255 in float32; then img.round() (half to even).
    let unit = |v: u8| (v as f32 / 255.0f32) as f64;
    let y = Array2::from_shape_fn((ch, cw), |(r, c)| {
        let p = img
            .get_pixel((c + crop_border) as u32, (r + crop_border) as u32)
            .0;
        let y = unit(p[2]) * 24.966 + unit(p[1]) * 128.553 + unit(p[0]) * 65.481 + 16.0;
        (((y / 255.0) as f32) * 255.0f32).round_ties_even()
    });
    niqe_luma(y.view(), params)
}

/// NIQE of a grey (or Y) plane in [0, 255], as BasicSR's `niqe(img, mu_pris_param,
/// cov_pris_param, gaussian_window)`: the plane is used as it is (BasicSR's `calculate_niqe`
/// rounds it first) and cut to whole 96x96 blocks at the top-left.
pub fn niqe_luma(plane: ArrayView2<'_, f32>, params: &NiqeParams) -> Result<f64, NiqeError> {
    let (h, w) = plane.dim();
    let (nbh, nbw) = (h / BLOCK, w / BLOCK);
    if nbh == 0 || nbw == 0 {
        return Err(NiqeError::TooSmall {
            width: w,
            height: h,
            crop_border: 0,
        });
    }
    let img = plane.slice(s![..nbh * BLOCK, ..nbw * BLOCK]).to_owned();
    let blocks = nbh * nbw;
    let mut feats = vec![[f64::NAN; FEATURES]; blocks];
    // Scale 1.
    scale_features(&img, &params.window, (nbh, nbw), BLOCK, &mut feats, 0);
    // Scale 2: imresize(img / 255., scale=0.5, antialiasing=True) * 255., all float32.
    let unit = img.mapv(|v| v / 255.0f32);
    let (ih, iw) = unit.dim();
    let small = crate::resample::downscale(
        unit.into_shape_with_order((1, 1, ih, iw))
            .expect("1x1xHxW")
            .view(),
        2,
    );
    let small = small
        .index_axis_move(Axis(0), 0)
        .index_axis_move(Axis(0), 0)
        .mapv(|v| v * 255.0f32);
    scale_features(
        &small,
        &params.window,
        (nbh, nbw),
        BLOCK / 2,
        &mut feats,
        18,
    );

    // mu_distparam = np.nanmean(distparam, axis=0)
    let mut mu = [0f64; FEATURES];
    for (k, m) in mu.iter_mut().enumerate() {
        let (sum, n) = feats
            .iter()
            .map(|f| f[k])
            .filter(|v| !v.is_nan())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        *m = sum / n as f64; // NaN when every block is NaN, as numpy
    }
    // cov_distparam = np.cov(distparam[no NaN in the row], rowvar=False)
    let rows: Vec<&[f64; FEATURES]> = feats
        .iter()
        .filter(|f| !f.iter().any(|v| v.is_nan()))
        .collect();
    if rows.len() < 2 {
        return Err(NiqeError::TooFewBlocks {
            usable: rows.len(),
            blocks,
        });
    }
    let n = rows.len() as f64;
    let mut avg = [0f64; FEATURES];
    for r in &rows {
        for (a, v) in avg.iter_mut().zip(r.iter()) {
            *a += v;
        }
    }
    avg.iter_mut().for_each(|a| *a /= n);
    let mut a = Array2::<f64>::zeros((FEATURES, FEATURES));
    for r in &rows {
        let d: Vec<f64> = r.iter().zip(&avg).map(|(v, m)| v - m).collect();
        for i in 0..FEATURES {
            for j in 0..FEATURES {
                a[[i, j]] += d[i] * d[j];
            }
        }
    }
    // (cov_pris_param + cov_distparam) / 2
    for i in 0..FEATURES {
        for j in 0..FEATURES {
            a[[i, j]] = (params.cov[[i, j]] + a[[i, j]] / (n - 1.0)) / 2.0;
        }
    }
    if let Some(value) = a.iter().copied().find(|v| !v.is_finite()) {
        return Err(NiqeError::NotFiniteScore { value });
    }
    let inv = pinv_symmetric(&a);
    let d: Vec<f64> = params.mu.iter().zip(&mu).map(|(p, m)| p - m).collect();
    let mut q = 0.0;
    for j in 0..FEATURES {
        let col: f64 = (0..FEATURES).map(|i| d[i] * inv[[i, j]]).sum();
        q += col * d[j];
    }
    let quality = q.sqrt();
    if !quality.is_finite() {
        return Err(NiqeError::NotFiniteScore { value: quality });
    }
    Ok(quality)
}

/// The 18 features of every block of one scale into `feats[block][offset..offset + 18]`,
/// blocks in BasicSR's order (column of blocks outer, row inner).
fn scale_features(
    img: &Array2<f32>,
    window: &Array2<f64>,
    (nbh, nbw): (usize, usize),
    bs: usize,
    feats: &mut [[f64; FEATURES]],
    offset: usize,
) {
    let mu = convolve_nearest(img, window);
    let sq = convolve_nearest(&img.mapv(|v| v * v), window);
    // sigma = sqrt(abs(convolve(img^2) - mu^2)); (img - mu) / (sigma + 1), float32.
    let mut norm = Array2::<f32>::zeros(img.dim());
    ndarray::Zip::from(&mut norm)
        .and(img)
        .and(&mu)
        .and(&sq)
        .for_each(|o, &x, &m, &q| {
            let sigma = (q - m * m).abs().sqrt();
            *o = (x - m) / (sigma + 1.0f32);
        });
    let mut k = 0;
    for bw in 0..nbw {
        for bh in 0..nbh {
            let block = norm.slice(s![bh * bs..(bh + 1) * bs, bw * bs..(bw + 1) * bs]);
            let f = compute_feature(block);
            feats[k][offset..offset + 18].copy_from_slice(&f);
            k += 1;
        }
    }
}

/// `scipy.ndimage.convolve(img, window, mode='nearest')` for a float32 image: the sum in
/// float64 over the flipped window (edges replicated), stored as float32.
fn convolve_nearest(img: &Array2<f32>, window: &Array2<f64>) -> Array2<f32> {
    let (h, w) = img.dim();
    let (kh, kw) = window.dim();
    let (ch, cw) = (kh / 2, kw / 2);
    // correlate with the flipped window: out[i, j] = sum_ab wf[a, b] * img[i + a - ch, j + b - cw]
    let flipped: Vec<f64> = (0..kh)
        .flat_map(|a| (0..kw).map(move |b| (a, b)))
        .map(|(a, b)| window[[kh - 1 - a, kw - 1 - b]])
        .collect();
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let src = img.as_standard_layout();
    let src = src.as_slice().expect("standard layout");
    let mut out = Array2::<f32>::zeros((h, w));
    let mut cols = vec![0usize; kw];
    for i in 0..h {
        let rows: Vec<usize> = (0..kh)
            .map(|a| clamp(i as isize + a as isize - ch as isize, h))
            .collect();
        for j in 0..w {
            for (b, c) in cols.iter_mut().enumerate() {
                *c = clamp(j as isize + b as isize - cw as isize, w);
            }
            let mut acc = 0f64;
            for (a, &r) in rows.iter().enumerate() {
                let row = &src[r * w..(r + 1) * w];
                for (b, &c) in cols.iter().enumerate() {
                    acc += row[c] as f64 * flipped[a * kw + b];
                }
            }
            out[[i, j]] = acc as f32;
        }
    }
    out
}

/// BasicSR's `compute_feature`: the AGGD fit of the block, then of its products with the
/// neighbour at each of the shifts (0, 1), (1, 0), (1, 1), (1, -1) (`np.roll`, wrapping).
fn compute_feature(block: ArrayView2<'_, f32>) -> [f64; 18] {
    let (h, w) = block.dim();
    let flat: Vec<f32> = block.iter().copied().collect(); // C order
    let mut feat = [0f64; 18];
    let (alpha, bl, br) = estimate_aggd_param(&flat);
    feat[0] = alpha;
    feat[1] = (bl + br) / 2.0;
    let shifts: [(isize, isize); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];
    let mut prod = vec![0f32; h * w];
    for (k, (s0, s1)) in shifts.into_iter().enumerate() {
        // np.roll(block, (s0, s1), axis=(0, 1))[i, j] = block[(i - s0) mod h, (j - s1) mod w]
        for i in 0..h {
            let si = (i as isize - s0).rem_euclid(h as isize) as usize;
            for j in 0..w {
                let sj = (j as isize - s1).rem_euclid(w as isize) as usize;
                prod[i * w + j] = flat[i * w + j] * flat[si * w + sj];
            }
        }
        let (alpha, bl, br) = estimate_aggd_param(&prod);
        let mean = (br - bl) * (libm::tgamma(2.0 / alpha) / libm::tgamma(1.0 / alpha));
        feat[2 + 4 * k..6 + 4 * k].copy_from_slice(&[alpha, mean, bl, br]);
    }
    feat
}

/// `gam = np.arange(0.2, 10.001, 0.001)` and `r_gam = gamma(2/gam)^2 / (gamma(1/gam) *
/// gamma(3/gam))`, computed once.
fn gamma_table() -> &'static (Vec<f64>, Vec<f64>) {
    static TABLE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (start, stop, step) = (0.2f64, 10.001f64, 0.001f64);
        // numpy's arange: length ceil((stop - start) / step); values start + i * delta with
        // delta = (start + step) - start.
        let len = ((stop - start) / step).ceil() as usize;
        let delta = (start + step) - start;
        let gam: Vec<f64> = (0..len).map(|i| start + i as f64 * delta).collect();
        let r: Vec<f64> = gam
            .iter()
            .map(|g| {
                let rec = 1.0 / g;
                let g2 = libm::tgamma(rec * 2.0);
                g2 * g2 / (libm::tgamma(rec) * libm::tgamma(rec * 3.0))
            })
            .collect();
        (gam, r)
    })
}

/// `np.mean` of a float32 array: numpy's pairwise sum in float32, divided in float32; NaN
/// when empty.
fn mean_f32(v: &[f32]) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    pairwise_sum(v) / v.len() as f32
}

/// numpy's pairwise summation of float32 (`FLOAT_pairwise_sum`): blocks of up to 128 summed
/// with 8 accumulators.
fn pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0f32;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let m = n - n % 8;
        let mut i = 8;
        while i < m {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[m..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// BasicSR's `estimate_aggd_param`: (alpha, beta_l, beta_r) of an asymmetric generalised
/// Gaussian, by matching `rhatnorm` on the grid of shapes 0.2..10 by 0.001. The statistics are
/// float32 as numpy computes them on a float32 block; NaN statistics (no negative or no
/// positive value) give alpha 0.2 (numpy's argmin returns the first NaN) and NaN betas.
fn estimate_aggd_param(block: &[f32]) -> (f64, f64, f64) {
    let neg: Vec<f32> = block.iter().filter(|&&x| x < 0.0).map(|x| x * x).collect();
    let pos: Vec<f32> = block.iter().filter(|&&x| x > 0.0).map(|x| x * x).collect();
    let left_std = mean_f32(&neg).sqrt();
    let right_std = mean_f32(&pos).sqrt();
    let gammahat = left_std / right_std;
    let abs: Vec<f32> = block.iter().map(|x| x.abs()).collect();
    let sq: Vec<f32> = block.iter().map(|x| x * x).collect();
    // numpy float32 scalars: `**` is powf.
    let rhat = mean_f32(&abs).powf(2.0) / mean_f32(&sq);
    let rhatnorm = (rhat * (gammahat.powf(3.0) + 1.0) * (gammahat + 1.0))
        / (gammahat.powf(2.0) + 1.0).powf(2.0);
    let (gam, r_gam) = gamma_table();
    let target = rhatnorm as f64;
    // np.argmin((r_gam - rhatnorm)**2): the first minimum, or the first NaN.
    let mut best = 0;
    let mut best_v = f64::INFINITY;
    for (i, r) in r_gam.iter().enumerate() {
        let d = r - target;
        let v = d * d;
        if v.is_nan() {
            best = i;
            break;
        }
        if v < best_v || i == 0 {
            best = i;
            best_v = v;
        }
    }
    let alpha = gam[best];
    let ratio = (libm::tgamma(1.0 / alpha) / libm::tgamma(3.0 / alpha)).sqrt();
    (alpha, left_std as f64 * ratio, right_std as f64 * ratio)
}

/// `np.linalg.pinv` of a symmetric matrix (rcond 1e-15 of the largest singular value) through
/// its eigen-decomposition by cyclic Jacobi rotations: the singular values of a symmetric
/// matrix are the absolute values of its eigenvalues.
fn pinv_symmetric(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let mut m = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| m[[i, j]] * m[[i, j]])
            .sum();
        let diag: f64 = (0..n).map(|i| m[[i, i]] * m[[i, i]]).sum();
        if off == 0.0 || off <= 1e-36 * diag {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[[q, q]] - m[[p, p]]) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // m <- J^T m J with J the rotation in the (p, q) plane.
                for k in 0..n {
                    let (mkp, mkq) = (m[[k, p]], m[[k, q]]);
                    m[[k, p]] = c * mkp - s * mkq;
                    m[[k, q]] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[[p, k]], m[[q, k]]);
                    m[[p, k]] = c * mpk - s * mqk;
                    m[[q, k]] = s * mpk + c * mqk;
                }
                m[[p, q]] = 0.0;
                m[[q, p]] = 0.0;
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let eig: Vec<f64> = (0..n).map(|i| m[[i, i]]).collect();
    let cutoff = 1e-15 * eig.iter().fold(0f64, |acc, e| acc.max(e.abs()));
    let mut out = Array2::<f64>::zeros((n, n));
    for (k, &e) in eig.iter().enumerate() {
        if e.abs() <= cutoff {
            continue;
        }
        let inv = 1.0 / e;
        for i in 0..n {
            let vi = v[[i, k]] * inv;
            for j in 0..n {
                out[[i, j]] += vi * v[[j, k]];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded generator of uniforms in (0, 1) and standard normals.
    struct Rng(rand::rngs::StdRng);
    impl Rng {
        fn new(seed: u64) -> Self {
            Self(rand::SeedableRng::seed_from_u64(seed))
        }
        fn uniform(&mut self) -> f64 {
            rand::Rng::random_range(&mut self.0, f64::MIN_POSITIVE..1.0)
        }
        fn normal(&mut self) -> f64 {
            rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut self.0)
        }
    }

    #[test]
    fn arange_grid_is_numpys() {
        let (gam, r) = gamma_table();
        assert_eq!(gam.len(), 9801);
        assert_eq!(gam[0], 0.2);
        // numpy: np.arange(0.2, 10.001, 0.001)[5000] == 5.200000000000005
        assert_eq!(gam[5000], 5.200000000000005);
        // r_gam of a Gaussian (shape 2) is 2/pi.
        let two = gam.iter().position(|g| (g - 2.0).abs() < 1e-9).unwrap();
        assert!(
            (r[two] - 2.0 / std::f64::consts::PI).abs() < 1e-12,
            "{}",
            r[two]
        );
    }

    #[test]
    fn aggd_fit_recovers_an_asymmetric_gaussian() {
        // Left half-Gaussian of deviation 1, right of deviation 2 (an AGGD's density is
        // continuous at 0, so the sides are taken in proportion 1 : 2): shape 2 and
        // beta = sigma * sqrt(2) on each side.
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        let x: Vec<f32> = (0..40_000)
            .map(|_| {
                let z = rng.normal().abs();
                if rng.uniform() < 1.0 / 3.0 {
                    -z as f32
                } else {
                    (2.0 * z) as f32
                }
            })
            .collect();
        let (alpha, bl, br) = estimate_aggd_param(&x);
        assert!((alpha - 2.0).abs() < 0.1, "alpha {alpha}");
        assert!((bl - 2f64.sqrt()).abs() < 0.03, "beta_l {bl}");
        assert!((br - 2.0 * 2f64.sqrt()).abs() < 0.06, "beta_r {br}");
    }

    #[test]
    fn aggd_fit_recovers_a_laplacian() {
        // Laplace(0, b = 1): generalised Gaussian of shape 1 and scale 1.
        let mut rng = Rng::new(12345);
        let x: Vec<f32> = (0..40_000)
            .map(|_| {
                let e = -rng.uniform().ln();
                (if rng.uniform() < 0.5 { -e } else { e }) as f32
            })
            .collect();
        let (alpha, bl, br) = estimate_aggd_param(&x);
        assert!((alpha - 1.0).abs() < 0.05, "alpha {alpha}");
        assert!(
            (bl - 1.0).abs() < 0.05 && (br - 1.0).abs() < 0.05,
            "{bl} {br}"
        );
    }

    #[test]
    fn aggd_fit_of_a_flat_block_is_numpys_nan_case() {
        let (alpha, bl, br) = estimate_aggd_param(&[0.0; 64]);
        assert_eq!(alpha, 0.2);
        assert!(bl.is_nan() && br.is_nan());
    }

    #[test]
    fn pairwise_mean_matches_numpy() {
        // numpy: a = (np.arange(1000, dtype=np.float32) * np.float32(0.1)) ** 2; np.mean(a)
        let a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1f32).powi(2)).collect();
        let m = mean_f32(&a);
        assert_eq!(m as f64, 3328.335205078125);
        assert!(mean_f32(&[]).is_nan());
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
    }

    fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = b"\x93NUMPY".to_vec();
        v.extend([version, 0]);
        let mut h = header.to_string();
        let pre = if version == 1 { 10 } else { 12 };
        let pad = (64 - (pre + h.len() + 1) % 64) % 64;
        h.push_str(&" ".repeat(pad));
        h.push('\n');
        if version == 1 {
            v.extend((h.len() as u16).to_le_bytes());
        } else {
            v.extend((h.len() as u32).to_le_bytes());
        }
        v.extend(h.as_bytes());
        v.extend(data);
        v
    }

    fn f8(vals: &[f64]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn npy_reads_numpys_headers() {
        let a = parse_npy(&npy(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            &f8(&[1., 2., 3., 4., 5., 6.]),
        ))
        .unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, [1., 2., 3., 4., 5., 6.]);
        // Fortran order: the same matrix stored column by column.
        let f = parse_npy(&npy(
            2,
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &f8(&[1., 4., 2., 5., 3., 6.]),
        ))
        .unwrap();
        assert_eq!(f, a);
        let f4: Vec<u8> = [0.5f32, -1.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b = parse_npy(&npy(
            3,
            "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}",
            &f4,
        ))
        .unwrap();
        assert_eq!((b.shape, b.data), (vec![2], vec![0.5, -1.25]));
    }

    #[test]
    fn npy_rejects_what_it_does_not_read() {
        let good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        let data = f8(&[1., 2.]);
        assert_eq!(parse_npy(b"NUMPY\x01\x00"), Err(NpyError::Magic));
        let mut v4 = npy(1, good, &data);
        v4[6] = 4;
        assert_eq!(
            parse_npy(&v4),
            Err(NpyError::Version { major: 4, minor: 0 })
        );
        for descr in ["'>f8'", "'<i8'", "'<c16'", "'|u1'"] {
            let h = good.replace("'<f8'", descr);
            let e = parse_npy(&npy(1, &h, &data)).unwrap_err();
            assert!(matches!(e, NpyError::Dtype(_)), "{descr}: {e}");
        }
        assert_eq!(
            parse_npy(&npy(1, good, &data[..12])),
            Err(NpyError::DataSize {
                got: 12,
                expected: 16,
                shape: vec![2]
            })
        );
        for bad in [
            "{'descr': '<f8', 'shape': (2,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
            "{'descr': '<f8', 'fortran_order': 'no', 'shape': (2,), }",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,-1), }",
            "['descr', '<f8']",
        ] {
            let e = parse_npy(&npy(1, bad, &data)).unwrap_err();
            assert!(matches!(e, NpyError::Header { .. }), "{bad}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let cut = npy(1, good, &data);
        assert!(matches!(
            parse_npy(&cut[..20]),
            Err(NpyError::Truncated { .. })
        ));
    }

    fn params() -> NiqeParams {
        let mut cov = Array2::<f64>::eye(FEATURES);
        cov *= 0.5;
        NiqeParams::new(
            vec![1.0; FEATURES],
            cov,
            Array2::from_elem((WINDOW, WINDOW), 1.0 / 49.0),
        )
        .unwrap()
    }

    #[test]
    fn params_are_checked() {
        let e = NiqeParams::new(vec![0.0; 35], Array2::eye(FEATURES), Array2::zeros((7, 7)))
            .unwrap_err();
        assert!(matches!(e, NiqeError::Shape { .. }), "{e}");
        let mut cov = Array2::<f64>::eye(FEATURES);
        cov[[3, 4]] = f64::NAN;
        let e = NiqeParams::new(vec![0.0; 36], cov, Array2::zeros((7, 7))).unwrap_err();
        assert_eq!(e.to_string(), "cov[112] is NaN, expected a finite number");
    }

    #[test]
    fn too_small_images_are_errors() {
        let p = params();
        let e = niqe(&RgbImage::new(95, 200), 0, &p).unwrap_err();
        assert!(
            matches!(
                e,
                NiqeError::TooSmall {
                    width: 95,
                    height: 200,
                    ..
                }
            ),
            "{e}"
        );
        let e = niqe(&RgbImage::new(100, 100), 3, &p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the image is 94x94 after cropping 3 pixels from each edge; NIQE needs at least 96x96"
        );
        let e = niqe(&RgbImage::new(10, 10), 50, &p).unwrap_err();
        assert!(
            matches!(
                e,
                NiqeError::TooSmall {
                    width: 0,
                    height: 0,
                    ..
                }
            ),
            "{e}"
        );
        // One block: no covariance.
        let e = niqe(&RgbImage::new(100, 100), 0, &p).unwrap_err();
        assert!(
            matches!(
                e,
                NiqeError::TooFewBlocks {
                    usable: 0,
                    blocks: 1
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn noise_scores_and_is_deterministic() {
        let mut rng = Rng::new(7);
        let img = RgbImage::from_fn(200, 200, |_, _| {
            let v = (128.0 + 40.0 * rng.normal()).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        });
        let a = niqe(&img, 0, &params()).unwrap();
        let b = niqe(&img, 0, &params()).unwrap();
        assert!(a.is_finite() && a > 0.0, "{a}");
        assert_eq!(a, b);
    }

    #[test]
    fn symmetric_pinv_inverts_and_drops_null_space() {
        let a = ndarray::array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]];
        let inv = pinv_symmetric(&a);
        let id = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[[i, j]] - want).abs() < 1e-13, "{id}");
            }
        }
        let singular = ndarray::array![[1.0, 1.0], [1.0, 1.0]];
        let p = pinv_symmetric(&singular);
        for v in p.iter() {
            assert!((v - 0.25).abs() < 1e-15, "{p}");
        }
    }
}
