//! Training the SRGAN generator with tch (libtorch): the networks ([`Generator`],
//! [`Discriminator`], [`Vgg19Features`]), the loss recipe ([`losses`]), our own [`Adam`] (so its
//! state can be saved), data loading ([`data`]), the [`Trainer`] and [`TchUpscaler`], the
//! training-side reference behind `srgan_runtimes::Upscaler`.
//!
//! The recipe follows Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
//! Generative Adversarial Network" (arXiv 1609.04802).
#![deny(missing_docs)]

pub mod adam;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod discriminator;
pub mod error;
pub mod generator;
pub mod layers;
pub mod logging;
pub mod losses;
pub mod memory;
pub mod plot;
pub mod state;
pub mod trainer;
pub mod upscaler;
pub mod vgg;

pub use adam::{Adam, AdamConfig};
pub use config::{DataConfig, LrDecay, Phase, TrainConfig};
pub use device::{resolve_device, tch_device};
pub use discriminator::{BnMode, Discriminator, DiscriminatorConfig};
pub use error::{ModelsError, Result};
pub use generator::{AnyGenerator, Generator, MainModule, RrdbNet, SrVggNet};
pub use losses::LossConfig;
pub use trainer::{RunOutcome, Trainer, TrainerOptions, Validation};
pub use upscaler::TchUpscaler;
pub use vgg::{Vgg19Features, VggConfig, VggLayer};
