//! Test-time augmentation: an [`Upscaler`] that runs its inner model on the 8 flips and
//! rotations of the input (the dihedral group, as ncnn's `-x` does), undoes each on the
//! output and averages them. Eight model runs for one output.

use ndarray::{Array4, ArrayView4, Axis};
use srgan_runtimes::{ModelInfo, Result, Upscaler};

/// Transform `k` (0..8) of an `[N, C, H, W]` tensor: a horizontal flip if `k & 1`, then
/// `k >> 1` quarter turns.
fn forward(x: ArrayView4<'_, f32>, k: usize) -> Array4<f32> {
    let mut v = x;
    if k & 1 == 1 {
        v.invert_axis(Axis(3));
    }
    quarter_turns(v, (k >> 1) & 3)
}

/// The inverse of [`forward`] with the same `k`.
fn inverse(y: ArrayView4<'_, f32>, k: usize) -> Array4<f32> {
    let mut v = quarter_turns(y, (4 - ((k >> 1) & 3)) % 4);
    if k & 1 == 1 {
        v.invert_axis(Axis(3));
    }
    v.as_standard_layout().into_owned()
}

/// `turns` quarter turns (each: transpose H and W, then flip W).
fn quarter_turns(x: ArrayView4<'_, f32>, turns: usize) -> Array4<f32> {
    let mut v = x.to_owned();
    for _ in 0..turns {
        let mut t = v.view();
        t.swap_axes(2, 3);
        t.invert_axis(Axis(3));
        v = t.as_standard_layout().into_owned();
    }
    v.as_standard_layout().into_owned()
}

/// An upscaler averaged over the 8 flips and rotations of its input.
pub struct Tta {
    inner: Box<dyn Upscaler>,
    name: String,
}

impl Tta {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Upscaler>) -> Self {
        let name = format!("{} x8 tta", inner.name());
        Self { inner, name }
    }
}

impl std::fmt::Debug for Tta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tta").field("inner", &self.name).finish()
    }
}

impl Upscaler for Tta {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> usize {
        self.inner.scale()
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let mut sum: Option<Array4<f32>> = None;
        for k in 0..8 {
            let x = forward(input, k);
            let y = self.inner.upscale(x.view())?;
            let back = inverse(y.view(), k);
            match sum.as_mut() {
                None => sum = Some(back),
                Some(s) if s.shape() == back.shape() => *s += &back,
                Some(s) => {
                    return Err(srgan_runtimes::RuntimeError::Inference {
                        runtime: "tta",
                        shape: input.shape().to_vec(),
                        source: format!(
                            "transform {k} came back as {:?}, the first as {:?}",
                            back.shape(),
                            s.shape()
                        )
                        .into(),
                    })
                }
            }
        }
        Ok(sum.expect("eight runs") / 8.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_testkit::mock::BlurNearest;

    fn ramp(h: usize, w: usize) -> Array4<f32> {
        Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
            (c * 100 + y * 10 + x) as f32 / 1000.0
        })
    }

    #[test]
    fn the_eight_transforms_are_distinct_and_undone() {
        let x = ramp(3, 5);
        let mut seen = Vec::new();
        for k in 0..8 {
            let t = forward(x.view(), k);
            let want = if k >> 1 & 1 == 1 {
                [1, 3, 5, 3]
            } else {
                [1, 3, 3, 5]
            };
            assert_eq!(t.shape(), want, "{k}");
            assert!(!seen.contains(&t), "transform {k} repeats another");
            assert_eq!(inverse(t.view(), k), x, "{k}");
            seen.push(t);
        }
    }

    /// A model that commutes with flips and rotations (nearest-neighbour upscaling) gives the
    /// same output with TTA.
    #[test]
    fn an_equivariant_model_is_unchanged() {
        let x = ramp(4, 6);
        let mut plain = BlurNearest::new(2, 1);
        let want = plain.upscale(x.view()).unwrap();
        let mut tta = Tta::new(Box::new(BlurNearest::new(2, 1)));
        let got = tta.upscale(x.view()).unwrap();
        srgan_testkit::assert_close_array("tta", &want, &got, srgan_testkit::Tolerance::F32);
        assert_eq!(tta.scale(), 2);
    }

    /// A model that is not symmetric (it adds the column index) is averaged into one that
    /// is: TTA's output differs from the plain one, and is symmetric under a left-right flip
    /// of a symmetric input.
    #[test]
    fn an_asymmetric_model_is_symmetrised() {
        #[derive(Debug, Default)]
        struct Ramp(ModelInfo);
        impl Upscaler for Ramp {
            fn name(&self) -> &str {
                "ramp"
            }
            fn scale(&self) -> usize {
                1
            }
            fn info(&self) -> &ModelInfo {
                &self.0
            }
            fn upscale(&mut self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
                Ok(Array4::from_shape_fn(x.dim(), |(n, c, y, w)| {
                    x[(n, c, y, w)] + w as f32
                }))
            }
        }
        let x = Array4::<f32>::zeros((1, 3, 4, 6));
        let plain = Ramp::default().upscale(x.view()).unwrap();
        let got = Tta::new(Box::new(Ramp::default()))
            .upscale(x.view())
            .unwrap();
        assert_ne!(plain, got);
        let mut flipped = got.view();
        flipped.invert_axis(Axis(3));
        srgan_testkit::assert_close_array(
            "symmetric",
            &got,
            &flipped.to_owned(),
            srgan_testkit::Tolerance::F32,
        );
    }
}
