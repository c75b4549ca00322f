//! Test helpers shared by the srgan crates. A dev-dependency only (`publish = false`).
//!
//! - [`TempDir`]: a temporary folder (the `tempfile` crate), removed when dropped.
//! - [`mock`]: upscalers with known behaviour ([`mock::BlurNearest`], [`mock::Identity`],
//!   [`mock::Paint`]) implementing [`srgan_runtimes::Upscaler`].
//! - [`assert_close`] / [`assert_close_array`] with named [`Tolerance`] presets; a failure lists
//!   the worst elements and how many are out of tolerance.
//! - [`fixtures`]: generated images and tensors, and hand-made malformed files.
//! - [`python`]: the project's Python (`SRGAN_PYTHON`) and the photos of its scikit-image; both
//!   panic when missing, so a test that needs them fails rather than skips.
//!
//! The kit depends on `srgan-runtimes` (for the trait) and on nothing else of the workspace, so
//! that every other crate's unit tests can use it. `srgan-runtimes`'s own unit tests cannot (its
//! types would come in twice); its integration tests under `runtimes/tests/` can.
#![deny(missing_docs)]

mod close;
pub mod fixtures;
pub mod mock;
pub mod python;
mod temp;

pub use close::{assert_close, assert_close_array, compare, max_abs_diff, Comparison, Tolerance};
pub use temp::TempDir;
