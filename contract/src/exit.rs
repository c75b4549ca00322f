//! The exit-code convention shared by every `srgan-*` command line.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | [`SUCCESS`]: everything asked for was done |
//! | 1 | [`NEGATIVE`]: the command ran to the end, but its answer is negative: some inputs failed and were reported one by one (`srgan-run`, `srgan-eval`), or a check did not pass (`srgan-compare --max-diff`) |
//! | 2 | [`FAILURE`]: nothing usable was done: bad arguments (clap's own usage errors exit 2 too), an unreadable model, checkpoint or config, an unavailable runtime or device, an I/O error |
//! | 130 | [`INTERRUPTED`]: stopped by SIGINT or SIGTERM after cleaning up (`128 + SIGINT`, as shells report it) |
//!
//! A binary's `main` maps its outcome to one of these and nothing else; a panic (101) is a bug.

/// Everything asked for was done.
pub const SUCCESS: u8 = 0;
/// The command finished, but some inputs failed (each reported) or a check did not pass.
pub const NEGATIVE: u8 = 1;
/// Nothing usable was done: usage, input, model, runtime or I/O error.
pub const FAILURE: u8 = 2;
/// Stopped by SIGINT or SIGTERM after cleaning up.
pub const INTERRUPTED: u8 = 130;
