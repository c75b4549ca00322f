//! `srgan._srgan`: the Python face of `srgan::session::Session`. The package `srgan`
//! (python/srgan/__init__.py) re-exports it after pointing the ort runtime at the
//! libonnxruntime.so of the installed `onnxruntime` wheel.
//!
//! - Every call that runs a model releases the GIL; one `Upscaler` serialises its own calls
//!   (a mutex), so it can be shared by Python threads, and several `Upscaler`s run in
//!   parallel.
//! - Arrays are copied once into the image the pipeline reads (the caller may change theirs
//!   meanwhile); the result is handed to numpy without a copy.
//! - Errors from the core are `srgan.SrganError` (an existing output:
//!   `srgan.OutputExistsError`, also a `FileExistsError`) with `srgan-run`'s one-line
//!   message; a bad array or argument is a `ValueError` or `TypeError`.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use srgan::run::{FileError, TileArg};
use srgan::session::{MemoryImageError, Session, SessionOptions};
use srgan_contract::report::one_line;
use srgan_imaging::image_io::ImageError;
use srgan_imaging::OutputFormat;
use srgan_runtimes::{Device, RuntimeKind, RuntimeOptions};

pyo3::create_exception!(
    srgan,
    SrganError,
    PyException,
    "A model, image or file that srgan cannot use; the message names it and says why."
);
/// The Python exception for an error of the core, with its one-line message.
fn core_err(e: &(dyn std::error::Error + 'static)) -> PyErr {
    SrganError::new_err(pythonic(&one_line(e)))
}

/// srgan-run's messages name its flags; here they name the arguments that do the same.
fn pythonic(msg: &str) -> String {
    [
        ("--max-memory", "max_memory_mib"),
        ("--max-output-pixels", "max_output_pixels"),
        ("--max-input-mib", "the decoder's limit"),
        ("--overwrite", "overwrite=True"),
        ("--tile-pad", "tile_pad"),
        ("--tile", "tile"),
    ]
    .iter()
    .fold(msg.to_string(), |m, (flag, arg)| m.replace(flag, arg))
}

/// An existing output is `srgan.OutputExistsError` (defined in python/srgan/__init__.py as a
/// subclass of both `SrganError` and `FileExistsError`, and registered here at import); any
/// other failure `SrganError`.
fn file_err(e: Box<FileError>) -> PyErr {
    let class = match e.as_ref() {
        FileError::Image(ImageError::OutputExists { path }) => return exists_err(path),
        FileError::Image(i) => image_class(i),
        FileError::Budget { .. } | FileError::OutSize { .. } => Some("TooLargeError"),
        FileError::Upscale { source, .. } => pipeline_class(source),
        FileError::OutputIsInput { .. } | FileError::DuplicateOutput { .. } => None,
    };
    match class {
        Some(c) => registered_err(c, one_line(e.as_ref())),
        None => core_err(e.as_ref()),
    }
}

/// The class of an image error: the input's fault (`InputError`, over a limit
/// `TooLargeError`), or not (`None`: reading or writing files, encoding).
fn image_class(e: &ImageError) -> Option<&'static str> {
    match e {
        ImageError::TooLarge { .. } => Some("TooLargeError"),
        ImageError::NotAnImage { .. }
        | ImageError::UnsupportedFormat { .. }
        | ImageError::Truncated { .. }
        | ImageError::Corrupt { .. }
        | ImageError::ZeroSize { .. }
        | ImageError::UnsupportedColour { .. } => Some("InputError"),
        _ => None,
    }
}

/// The class of a pipeline error (see [`image_class`]).
fn pipeline_class(e: &srgan_imaging::pipeline::PipelineError) -> Option<&'static str> {
    use srgan_imaging::pipeline::PipelineError as P;
    match e {
        P::OutputTooManyPixels { .. } | P::OutputTooLarge { .. } | P::Budget(_) => {
            Some("TooLargeError")
        }
        P::UnsupportedColour { .. } => Some("InputError"),
        _ => None,
    }
}

/// `srgan.OutputExistsError` for `path`.
fn exists_err(path: &std::path::Path) -> PyErr {
    registered_err(
        "OutputExistsError",
        format!(
            "{}: output exists (pass overwrite=True to replace it)",
            path.display()
        ),
    )
}

/// An exception of a class that python/srgan/__init__.py defines (with two bases, which
/// `create_exception!` cannot) and registers on this module at import; `SrganError` if it
/// is not there.
fn registered_err(class: &str, msg: String) -> PyErr {
    Python::attach(|py| {
        let cls = py
            .import("srgan._srgan")
            .and_then(|m| m.getattr(class))
            .and_then(|c| Ok(c.cast_into::<pyo3::types::PyType>()?));
        let msg = pythonic(&msg);
        match cls {
            Ok(cls) => PyErr::from_type(cls, msg),
            Err(_) => SrganError::new_err(msg),
        }
    })
}

/// An image that cannot be used is `srgan.InputError` (also a `ValueError`): the caller's
/// input is at fault, as a server's 4xx; one over a limit (the decoder's, the output's,
/// the memory budget's) is its subclass `srgan.TooLargeError`. A failure of the model or
/// the runtime stays `SrganError`.
fn memory_err(e: MemoryImageError) -> PyErr {
    let class = match &e {
        MemoryImageError::Image(i) => image_class(i),
        MemoryImageError::Budget { .. } => Some("TooLargeError"),
        MemoryImageError::Upscale { source, .. } => pipeline_class(source),
    };
    match class {
        Some(c) => registered_err(c, one_line(&e)),
        None => core_err(&e),
    }
}

/// An int argument in `lo..=hi`, or a `ValueError` naming it (Python's bool is refused: it
/// is an int to Python, never meant as one here).
fn int_arg(name: &str, v: &Bound<'_, PyAny>, lo: i128, hi: i128, what: &str) -> PyResult<i128> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected {what}, got a bool"
        )));
    }
    let n: i128 = v
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name}: expected {what}")))?;
    if n < lo || n > hi {
        return Err(PyValueError::new_err(format!(
            "{name} {n}: expected {what}"
        )));
    }
    Ok(n)
}

/// `png`, `jpg`/`jpeg`, `webp`, `tif`/`tiff` (any case, with or without the dot).
fn parse_format(s: &str, jpeg_quality: u8) -> PyResult<OutputFormat> {
    let f = OutputFormat::from_extension(s.trim_start_matches('.')).ok_or_else(|| {
        PyValueError::new_err(format!("format `{s}`: expected png, jpg, webp or tif"))
    })?;
    Ok(match f {
        OutputFormat::Jpeg { .. } => OutputFormat::Jpeg {
            quality: jpeg_quality,
        },
        other => other,
    })
}

/// `tile`: "auto", 0 (whole images) or a side of at least 16 LR pixels.
fn parse_tile(tile: &Bound<'_, PyAny>) -> PyResult<TileArg> {
    let text = if let Ok(s) = tile.extract::<String>() {
        s
    } else if tile.is_instance_of::<pyo3::types::PyInt>() {
        let what = format!(
            "\"auto\", 0 (whole images) or a side of at least {} LR pixels",
            srgan_imaging::tiling::MIN_CORE
        );
        int_arg("tile", tile, 0, 1 << 32, &what)?.to_string()
    } else {
        return Err(PyTypeError::new_err(
            "tile: expected \"auto\" or an int (0: whole images)",
        ));
    };
    text.parse::<TileArg>()
        .map_err(|e| PyValueError::new_err(format!("tile: {e}")))
}

/// An image from an `[H, W]` or `[H, W, C]` array of `T`, C in 1..=4.
fn image_from<T, F>(arr: &Bound<'_, PyArrayDyn<T>>, make: F) -> PyResult<(DynamicImage, usize)>
where
    T: numpy::Element + Copy,
    F: FnOnce(u32, u32, usize, Vec<T>) -> Option<DynamicImage>,
{
    let ro = arr.readonly();
    let view = ro.as_array();
    let (h, w, c) = match view.shape() {
        [h, w] => (*h, *w, 1),
        [h, w, c] if (1..=4).contains(c) => (*h, *w, *c),
        other => {
            return Err(PyValueError::new_err(format!(
                "array of shape {other:?}: expected (H, W, 3) RGB or (H, W, 4) RGBA (also (H, W), \
                 (H, W, 1) grey and (H, W, 2) grey + alpha)"
            )))
        }
    };
    if h == 0 || w == 0 || h > u32::MAX as usize || w > u32::MAX as usize {
        return Err(PyValueError::new_err(format!(
            "array of {w}x{h} pixels: expected at least 1x1"
        )));
    }
    // One copy, in C order whatever the array's strides.
    let data: Vec<T> = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    let image = make(w as u32, h as u32, c, data).expect("the buffer has w*h*c samples");
    Ok((image, c))
}

fn u8_image(w: u32, h: u32, c: usize, d: Vec<u8>) -> Option<DynamicImage> {
    Some(match c {
        1 => DynamicImage::ImageLuma8(ImageBuffer::<Luma<u8>, _>::from_raw(w, h, d)?),
        2 => DynamicImage::ImageLumaA8(ImageBuffer::<LumaA<u8>, _>::from_raw(w, h, d)?),
        3 => DynamicImage::ImageRgb8(ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, d)?),
        _ => DynamicImage::ImageRgba8(ImageBuffer::<Rgba<u8>, _>::from_raw(w, h, d)?),
    })
}

fn u16_image(w: u32, h: u32, c: usize, d: Vec<u16>) -> Option<DynamicImage> {
    Some(match c {
        1 => DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, d)?),
        2 => DynamicImage::ImageLumaA16(ImageBuffer::<LumaA<u16>, _>::from_raw(w, h, d)?),
        3 => DynamicImage::ImageRgb16(ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, d)?),
        _ => DynamicImage::ImageRgba16(ImageBuffer::<Rgba<u16>, _>::from_raw(w, h, d)?),
    })
}

/// The upscaled image as an array of the input's kind: `[H, W]` when the input was 2-D.
fn to_array<'py>(
    py: Python<'py>,
    image: DynamicImage,
    channels: usize,
    two_d: bool,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let shape: Vec<usize> = if two_d {
        vec![h, w]
    } else {
        vec![h, w, channels]
    };
    let arr = match image {
        DynamicImage::ImageLuma8(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageLumaA8(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageRgb8(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageRgba8(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageLuma16(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageLumaA16(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageRgb16(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        DynamicImage::ImageRgba16(b) => PyArray1::from_vec(py, b.into_raw())
            .reshape(shape)?
            .into_any(),
        other => {
            return Err(SrganError::new_err(format!(
                "the pipeline returned an unexpected colour type {:?}",
                other.color()
            )))
        }
    };
    Ok(arr.cast_into::<PyUntypedArray>()?)
}

/// A super-resolution model opened once on a runtime; see `srgan/__init__.pyi`.
#[pyclass(name = "Upscaler", module = "srgan", frozen)]
struct Upscaler {
    session: Mutex<Session>,
    scale: usize,
    runtime: String,
    model: PathBuf,
    info_json: String,
    jpeg_quality: u8,
    max_output_pixels: u64,
}

impl Upscaler {
    fn lock(&self) -> MutexGuard<'_, Session> {
        // A panic in another call leaves the session usable: its state is per call.
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Upscaler {
    #[new]
    #[pyo3(signature = (model=None, runtime="ort", device="cpu", tile=None, threads=None,
                        max_memory_mib=None, tile_pad=None, jpeg_quality=None,
                        max_output_pixels=None, ort_library=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: Option<PathBuf>,
        runtime: &str,
        device: &str,
        tile: Option<&Bound<'_, PyAny>>,
        threads: Option<&Bound<'_, PyAny>>,
        max_memory_mib: Option<&Bound<'_, PyAny>>,
        tile_pad: Option<&Bound<'_, PyAny>>,
        jpeg_quality: Option<&Bound<'_, PyAny>>,
        max_output_pixels: Option<&Bound<'_, PyAny>>,
        ort_library: Option<PathBuf>,
    ) -> PyResult<Self> {
        let threads = threads
            .map(|v| int_arg("threads", v, 1, 1024, "1..=1024 (None: all cores)"))
            .transpose()?
            .map(|v| v as usize);
        let max_memory_mib = max_memory_mib
            .map(|v| int_arg("max_memory_mib", v, 1, 1 << 40, "MiB, 1 or more"))
            .transpose()?
            .map(|v| v as u64);
        let max_pad = srgan_contract::metadata::MAX_RECEPTIVE_FIELD_RADIUS as i128;
        let tile_pad = tile_pad
            .map(|v| {
                int_arg(
                    "tile_pad",
                    v,
                    0,
                    max_pad,
                    &format!("0..={max_pad} LR pixels"),
                )
            })
            .transpose()?
            .map(|v| v as usize);
        let jpeg_quality = jpeg_quality
            .map(|v| int_arg("jpeg_quality", v, 1, 100, "1..=100"))
            .transpose()?
            .map(|v| v as u8);
        let max_output_pixels = max_output_pixels
            .map(|v| int_arg("max_output_pixels", v, 1, 1 << 48, "pixels, 1 or more"))
            .transpose()?
            .map(|v| v as u64);
        let runtime: RuntimeKind = runtime
            .parse()
            .map_err(|e: srgan_runtimes::RuntimeError| PyValueError::new_err(one_line(&e)))?;
        let device: Device = device
            .parse()
            .map_err(|e: srgan_runtimes::DeviceParseError| PyValueError::new_err(one_line(&e)))?;
        let mut options = SessionOptions {
            runtime,
            runtime_options: RuntimeOptions {
                device,
                threads,
                ort_library,
                ..RuntimeOptions::default()
            },
            tile_pad,
            ..SessionOptions::default()
        };
        if let Some(t) = tile {
            options.tile = parse_tile(t)?;
        }
        if let Some(m) = max_memory_mib {
            options.max_memory_mib = m;
        }
        if let Some(n) = max_output_pixels {
            options.max_output_pixels = n;
        }
        if let Some(q) = jpeg_quality {
            options.jpeg_quality = q;
        }
        let (jpeg_quality, max_output_pixels) = (options.jpeg_quality, options.max_output_pixels);
        let session = py
            .detach(|| Session::open(model.as_deref(), options))
            .map_err(|e| core_err(&e))?;
        let info = session.info();
        let architecture = info
            .architecture
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok());
        let info_json = serde_json::json!({
            "model": session.model().display().to_string(),
            "runtime": session.runtime_name(),
            "scale": session.scale(),
            "receptive_field_radius": info.receptive_field_radius,
            "effective_radius": info.effective_radius,
            "architecture": architecture,
            "precision": info.props.get(srgan_contract::metadata::keys::PRECISION)
                .cloned().unwrap_or_else(|| "fp32".into()),
            "producer": info.producer,
            "metadata": info.props,
        })
        .to_string();
        Ok(Self {
            scale: session.scale(),
            runtime: session.runtime_name().to_string(),
            model: session.model().to_path_buf(),
            info_json,
            jpeg_quality,
            max_output_pixels,
            session: Mutex::new(session),
        })
    }

    /// The upscaling factor.
    #[getter]
    fn scale(&self) -> usize {
        self.scale
    }

    /// What the model's metadata says, as a dict.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let json = py.import("json")?;
        Ok(json
            .call_method1("loads", (self.info_json.as_str(),))?
            .cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "srgan.Upscaler(model={:?}, runtime={:?}, scale={})",
            self.model.display().to_string(),
            self.runtime,
            self.scale
        )
    }

    /// Upscales an `(H, W, 3)` or `(H, W, 4)` array (also `(H, W)`, `(H, W, 1)`,
    /// `(H, W, 2)`) of uint8, uint16 or float32; returns the same dtype and layout.
    fn upscale<'py>(
        &self,
        py: Python<'py>,
        array: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyUntypedArray>> {
        let Ok(untyped) = array.cast::<PyUntypedArray>() else {
            return Err(PyTypeError::new_err(format!(
                "expected a numpy array, got {}",
                array.get_type().name()?
            )));
        };
        let two_d = untyped.ndim() == 2;
        // The output's size is checked on the shape, before any copy.
        let shape = untyped.shape();
        if shape.len() >= 2 {
            let s = self.scale as u128;
            let out = (shape[0] as u128) * (shape[1] as u128) * s * s;
            if out > u128::from(self.max_output_pixels) {
                return Err(registered_err(
                    "TooLargeError",
                    format!(
                        "array of {}x{} pixels: its x{} output, {} pixels, is over \
                         max_output_pixels {}",
                        shape[1], shape[0], self.scale, out, self.max_output_pixels
                    ),
                ));
            }
        }
        if let Ok(a) = array.cast::<PyArrayDyn<u8>>() {
            let (image, c) = image_from(a, u8_image)?;
            let out = py
                .detach(|| self.lock().upscale_image(image, "array"))
                .map_err(memory_err)?;
            return to_array(py, out, c, two_d);
        }
        if let Ok(a) = array.cast::<PyArrayDyn<u16>>() {
            let (image, c) = image_from(a, u16_image)?;
            let out = py
                .detach(|| self.lock().upscale_image(image, "array"))
                .map_err(memory_err)?;
            return to_array(py, out, c, two_d);
        }
        if let Ok(a) = array.cast::<PyArrayDyn<f32>>() {
            let ro = a.readonly();
            let view = ro.as_array();
            let pixels = match view.shape() {
                [h, w] => view
                    .to_shape((*h, *w, 1))
                    .map_err(|e| PyValueError::new_err(e.to_string()))?
                    .to_owned(),
                [_, _, c] if (1..=4).contains(c) => view
                    .into_dimensionality::<ndarray::Ix3>()
                    .map_err(|e| PyValueError::new_err(e.to_string()))?
                    .to_owned(),
                other => {
                    return Err(PyValueError::new_err(format!(
                        "array of shape {other:?}: expected (H, W, 3) RGB or (H, W, 4) RGBA \
                         (also (H, W), (H, W, 1) grey and (H, W, 2) grey + alpha)"
                    )))
                }
            };
            let (h, w, _) = pixels.dim();
            if h == 0 || w == 0 {
                return Err(PyValueError::new_err(format!(
                    "array of {w}x{h} pixels: expected at least 1x1"
                )));
            }
            if pixels.iter().any(|v| !v.is_finite()) {
                return Err(PyValueError::new_err(
                    "float32 array with NaN or infinite values: expected values in [0, 1]",
                ));
            }
            let out = py
                .detach(|| self.lock().upscale_f32(pixels.view(), "array"))
                .map_err(memory_err)?;
            let out = if two_d {
                let (h, w, _) = out.dim();
                out.into_shape_with_order((h, w))
                    .map_err(|e| PyValueError::new_err(e.to_string()))?
                    .into_dyn()
            } else {
                out.into_dyn()
            };
            return Ok(numpy::PyArray::from_owned_array(py, out)
                .into_any()
                .cast_into::<PyUntypedArray>()?);
        }
        Err(PyTypeError::new_err(format!(
            "array of dtype {}: expected uint8, uint16 or float32",
            untyped.dtype()
        )))
    }

    /// Upscales the image file `src` into `dst` as `srgan-run -i src -o dst` does (format from
    /// `dst`'s extension, written atomically, colour profile and EXIF kept).
    #[pyo3(signature = (src, dst, overwrite=false))]
    fn upscale_file(
        &self,
        py: Python<'_>,
        src: PathBuf,
        dst: PathBuf,
        overwrite: bool,
    ) -> PyResult<()> {
        py.detach(|| self.lock().upscale_file(&src, &dst, overwrite))
            .map_err(file_err)
    }

    /// Decodes encoded image bytes, upscales, and encodes the result as `format` (default:
    /// the input's format). `name` names the image in error messages.
    #[pyo3(signature = (data, format=None, name="<bytes>"))]
    fn upscale_bytes<'py>(
        &self,
        py: Python<'py>,
        data: &[u8],
        format: Option<&str>,
        name: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let format = format
            .map(|f| parse_format(f, self.jpeg_quality))
            .transpose()?;
        let data = data.to_vec();
        let (bytes, _) = py
            .detach(|| self.lock().upscale_encoded(&data, name, format))
            .map_err(memory_err)?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// The path a folder run (`srgan-run -i DIR -o out_dir`) writes the output of `input` to: the
/// input's stem, with the extension of `format`, else of the input's format (its
/// extension; else `head`, the file's first bytes, if given; else the file's content if it
/// can be read; else PNG).
#[pyfunction]
#[pyo3(signature = (input, out_dir, format=None, head=None))]
fn output_path(
    input: PathBuf,
    out_dir: PathBuf,
    format: Option<&str>,
    head: Option<&[u8]>,
) -> PyResult<PathBuf> {
    let format = format.map(|f| parse_format(f, 0)).transpose()?;
    Ok(srgan::session::output_path(&input, &out_dir, format, head))
}

/// Writes `data` to `path` as srgan-run writes its outputs: a temporary file beside it
/// (`.NAME.PID.XXXXXX.tmp`), synced and renamed into place; an existing `path` is
/// `OutputExistsError` unless `overwrite` (checked again at the rename, so two writers never
/// replace each other's file).
#[pyfunction]
#[pyo3(signature = (path, data, overwrite=false))]
fn write_atomic(py: Python<'_>, path: PathBuf, data: &[u8], overwrite: bool) -> PyResult<()> {
    use srgan_contract::files::{atomic_write_with, AtomicWriteError};
    let data = data.to_vec();
    let written =
        py.detach(|| atomic_write_with(&path, overwrite, |w| std::io::Write::write_all(w, &data)));
    match written {
        Ok(()) => Ok(()),
        Err(AtomicWriteError::Exists(p)) => Err(exists_err(&p)),
        Err(e) => Err(core_err(&e)),
    }
}

#[pymodule]
fn _srgan(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Upscaler>()?;
    m.add_function(wrap_pyfunction!(output_path, m)?)?;
    m.add_function(wrap_pyfunction!(write_atomic, m)?)?;
    m.add("image_extensions", srgan::run::IMAGE_EXTENSIONS.to_vec())?;
    m.add("SrganError", m.py().get_type::<SrganError>())?;
    m.add(
        "available_runtimes",
        srgan_runtimes::available_runtimes().to_vec(),
    )?;
    Ok(())
}
