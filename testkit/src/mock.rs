//! Upscalers with known behaviour, for testing what runs them (tiling, the image pipeline)
//! without a model file. Each records the input shape of every call in `calls`.

use srgan_runtimes::ndarray::{Array4, ArrayView4};
use srgan_runtimes::{check_input, ModelInfo, Result, Upscaler};

/// `blurs` 3x3 box blurs in a row (zero padding, as a convolution's), then nearest-neighbour
/// x`scale`. Its receptive-field radius is `blurs`, and its metadata says so.
#[derive(Debug)]
pub struct BlurNearest {
    /// The upscaling factor.
    pub scale: usize,
    /// How many blurs (the receptive-field radius).
    pub blurs: usize,
    /// `scale` and `receptive_field_radius` set.
    pub info: ModelInfo,
    /// The input shape of every call, in order.
    pub calls: Vec<Vec<usize>>,
}

impl BlurNearest {
    /// x`scale` after `blurs` blurs.
    pub fn new(scale: usize, blurs: usize) -> Self {
        Self {
            scale,
            blurs,
            info: ModelInfo {
                scale: Some(scale),
                receptive_field_radius: Some(blurs),
                ..ModelInfo::default()
            },
            calls: Vec::new(),
        }
    }
}

impl Upscaler for BlurNearest {
    fn name(&self) -> &str {
        "mock-blur-nearest"
    }
    fn scale(&self) -> usize {
        self.scale
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        self.calls.push(input.shape().to_vec());
        let (n, c, h, w) = input.dim();
        let mut x = input.to_owned();
        for _ in 0..self.blurs {
            x = Array4::from_shape_fn((n, c, h, w), |(b, ch, i, j)| {
                let mut acc = 0.0;
                for ii in i.saturating_sub(1)..(i + 2).min(h) {
                    for jj in j.saturating_sub(1)..(j + 2).min(w) {
                        acc += x[[b, ch, ii, jj]];
                    }
                }
                acc / 9.0
            });
        }
        let s = self.scale;
        Ok(Array4::from_shape_fn(
            (n, c, h * s, w * s),
            |(b, ch, i, j)| x[[b, ch, i / s, j / s]],
        ))
    }
}

/// x1, output = input: a round trip through it must give the input back exactly.
#[derive(Debug, Default)]
pub struct Identity {
    /// No metadata.
    pub info: ModelInfo,
    /// The input shape of every call, in order.
    pub calls: Vec<Vec<usize>>,
}

impl Upscaler for Identity {
    fn name(&self) -> &str {
        "mock-identity"
    }
    fn scale(&self) -> usize {
        1
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        self.calls.push(input.shape().to_vec());
        Ok(input.to_owned())
    }
}

/// x1, every pixel painted one fixed RGB colour (values in [0, 1]) whatever the input.
#[derive(Debug, Default)]
pub struct Paint {
    /// The colour written.
    pub rgb: [f32; 3],
    /// No metadata.
    pub info: ModelInfo,
    /// The input shape of every call, in order.
    pub calls: Vec<Vec<usize>>,
}

impl Paint {
    /// Paints `rgb`.
    pub fn new(rgb: [f32; 3]) -> Self {
        Self {
            rgb,
            ..Self::default()
        }
    }
}

impl Upscaler for Paint {
    fn name(&self) -> &str {
        "mock-paint"
    }
    fn scale(&self) -> usize {
        1
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        check_input(&input)?;
        self.calls.push(input.shape().to_vec());
        let (n, _, h, w) = input.dim();
        Ok(Array4::from_shape_fn((n, 3, h, w), |(_, c, _, _)| {
            self.rgb[c]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::pattern;

    #[test]
    fn blur_nearest_reaches_exactly_blurs_pixels() {
        // An impulse spreads `blurs` pixels on each side, no further.
        for blurs in [1, 2] {
            let mut x = Array4::<f32>::zeros((1, 3, 9, 9));
            x[[0, 1, 4, 4]] = 1.0;
            let y = BlurNearest::new(1, blurs).upscale(x.view()).unwrap();
            for i in 0..9usize {
                let reached = y[[0, 1, i, 4]] != 0.0;
                assert_eq!(reached, i.abs_diff(4) <= blurs, "blurs {blurs} row {i}");
            }
        }
        let mut m = BlurNearest::new(3, 0);
        let x = pattern(2, 4, 5);
        let y = m.upscale(x.view()).unwrap();
        assert_eq!(y.dim(), (2, 3, 12, 15));
        assert_eq!(y[[1, 2, 11, 14]], x[[1, 2, 3, 4]]);
        assert_eq!(m.calls, vec![vec![2, 3, 4, 5]]);
    }

    #[test]
    fn identity_and_paint() {
        let x = pattern(1, 3, 2);
        assert_eq!(Identity::default().upscale(x.view()).unwrap(), x);
        let y = Paint::new([0.1, 0.2, 0.3]).upscale(x.view()).unwrap();
        assert!(y
            .indexed_iter()
            .all(|((_, c, _, _), v)| *v == [0.1, 0.2, 0.3][c]));
        let bad = Array4::<f32>::zeros((1, 4, 2, 2));
        assert!(Identity::default().upscale(bad.view()).is_err());
    }
}
