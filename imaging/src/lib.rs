//! Image I/O, conversion between images and tensors, tiling, resampling and metrics.
