//! The errors of this crate: each variant carries the facts (path, tensor, expected vs found).

use std::path::PathBuf;

use srgan_contract::report::BoxError;

/// Result alias of this crate.
pub type Result<T, E = ModelsError> = std::result::Result<T, E>;

/// Everything that can go wrong while building networks, loading data or training.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// A libtorch call failed.
    #[error("{context}")]
    Tch {
        /// What was being done.
        context: String,
        /// The libtorch error.
        #[source]
        source: tch::TchError,
    },
    /// The generator checkpoint contract was violated.
    #[error(transparent)]
    Checkpoint(#[from] srgan_export::CheckpointError),
    /// Weights to start from (an srgan checkpoint or community weights) cannot be loaded.
    #[error(transparent)]
    Import(#[from] Box<srgan_export::import::ImportError>),
    /// An architecture value is out of range.
    #[error(transparent)]
    Architecture(#[from] srgan_contract::ConfigError),
    /// A file or folder could not be read or written.
    #[error("{path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration value is out of range.
    #[error("invalid config: {field} = {value}: expected {expected}")]
    Config {
        /// The field, as a dotted YAML path.
        field: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A configuration file could not be parsed.
    #[error("{path}: invalid config")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The parser's error (names the unknown key or the bad value and its line).
        #[source]
        source: serde_yaml::Error,
    },
    /// The perceptual loss is on but no VGG19 weights file was named.
    #[error(
        "the perceptual loss is on (loss.vgg_weight = {weight}) but no VGG19 weights file was \
         given: set vgg.weights in the config or pass --vgg-weights (torchvision's vgg19 state \
         dict as .pth, or the same names in .safetensors); nothing is downloaded"
    )]
    VggWeightsRequired {
        /// The weight of the perceptual term.
        weight: f64,
    },
    /// The VGG19 weights file could not be read.
    #[error("{path}: cannot read VGG19 weights")]
    VggWeights {
        /// The file.
        path: PathBuf,
        /// What went wrong (libtorch's error, or what was expected).
        #[source]
        source: BoxError,
    },
    /// The VGG19 `.pth` file could not be read (the source names the file).
    #[error("cannot read VGG19 weights")]
    VggPth(#[source] srgan_export::PthError),
    /// A VGG19 tensor is absent from the weights file.
    #[error("{path}: VGG19 weights lack tensor `{name}` (expected shape {expected:?})")]
    VggTensorMissing {
        /// The file.
        path: PathBuf,
        /// Tensor name, torchvision style (`features.N.weight`).
        name: String,
        /// Expected shape.
        expected: Vec<i64>,
    },
    /// A VGG19 tensor has the wrong shape.
    #[error("{path}: VGG19 tensor `{name}` has shape {found:?}, expected {expected:?}")]
    VggTensorShape {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<i64>,
        /// Shape found.
        found: Vec<i64>,
    },
    /// The device that was asked for cannot be had.
    #[error("device `{device}` is not available: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// What is missing.
        reason: String,
    },
    /// A device name could not be parsed (`srgan_runtimes::Device`'s grammar).
    #[error(transparent)]
    DeviceName(#[from] srgan_runtimes::DeviceParseError),
    /// A validation image could not be evaluated.
    #[error("validating on {path}")]
    Validation {
        /// The image.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: srgan_imaging::eval::EvalError,
    },
    /// A data folder holds no image that can be used.
    #[error("{path}: no usable image (PNG or JPEG, at least {min_size}x{min_size} pixels); {skipped} file(s) skipped")]
    NoUsableImages {
        /// The folder.
        path: PathBuf,
        /// Smallest usable side.
        min_size: u32,
        /// How many files were skipped.
        skipped: usize,
    },
    /// Paired training data that does not pair up.
    #[error("paired data: {}: {why}", file.display())]
    Pairing {
        /// The HR or LR file at fault.
        file: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The run cannot fit the machine's memory.
    #[error(
        "training {generator} at batch {batch}, crop {crop} needs at least {need_mib} MiB, but \
         {available_mib} MiB are available: reduce the generator's depth or width, data.batch \
         or data.crop"
    )]
    TooLargeForMachine {
        /// The generator, described (e.g. `SRResNet 16x64, x4`).
        generator: String,
        /// Batch size.
        batch: usize,
        /// HR crop side.
        crop: usize,
        /// The least the run needs, MiB (see `memory::training_bytes`).
        need_mib: u128,
        /// What the system can give, MiB.
        available_mib: u128,
    },
    /// A fresh run would replace the run already in its output folder.
    #[error(
        "{path} already holds a run ({file}): pass --overwrite to replace it, --resume {path} \
         to continue it, or another --out"
    )]
    RunExists {
        /// The output folder.
        path: PathBuf,
        /// A run file found there.
        file: &'static str,
    },
    /// `--resume` with an option that contradicts the run's saved config.
    #[error(
        "{path}: cannot resume with {option} {given}: the run was started with {saved} (its \
         config.yaml)"
    )]
    ResumeConflict {
        /// The run's config file.
        path: PathBuf,
        /// The option.
        option: &'static str,
        /// The value given.
        given: String,
        /// The run's value.
        saved: String,
    },
    /// A training state does not belong to this configuration.
    #[error(
        "{path}: cannot resume: {what} is {found} in the checkpoint but {expected} in this config"
    )]
    ResumeMismatch {
        /// The state file.
        path: PathBuf,
        /// What differs.
        what: String,
        /// Value in this config.
        expected: String,
        /// Value in the checkpoint.
        found: String,
    },
    /// A training state file is unreadable or incomplete.
    #[error("{path}: not a usable training state")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong (the safetensors error, or what was expected).
        #[source]
        source: BoxError,
    },
    /// A loss became NaN or infinite; training stopped and the last good checkpoint was kept.
    #[error(
        "{loss} is {value} at iteration {iteration}: training stopped; the last good \
         checkpoint (iteration {last_checkpoint}) was kept"
    )]
    NonFiniteLoss {
        /// The loss.
        loss: &'static str,
        /// Its value.
        value: f64,
        /// The iteration (1-based) at which it happened.
        iteration: u64,
        /// Iteration of the last checkpoint written (0: none).
        last_checkpoint: u64,
    },
    /// A chart (`curves.png`) could not be drawn.
    #[error("{path}: cannot draw the chart")]
    Chart {
        /// The file it was for.
        path: PathBuf,
        /// Why.
        #[source]
        source: srgan_charts::ChartError,
    },
}

impl ModelsError {
    /// Wraps a libtorch error with what was being done.
    pub fn tch(context: impl Into<String>) -> impl FnOnce(tch::TchError) -> Self {
        let context = context.into();
        move |source| ModelsError::Tch { context, source }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ModelsError::Io { path, source }
    }

    /// A config range error.
    pub fn config(
        field: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        ModelsError::Config {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
