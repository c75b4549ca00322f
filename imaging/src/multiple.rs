//! Inputs of any size for models that need a multiple (RRDBNet x2 / x1 fold 2x2 / 4x4 pixels
//! into channels first): an [`Upscaler`] that pads the bottom and right edges up to the
//! multiple by reflection, as Real-ESRGAN's inference script does (`F.pad(..., 'reflect')`),
//! runs the model and crops the output back to `scale x` the input.

use ndarray::{s, Array4, ArrayView4};
use srgan_runtimes::{ModelInfo, Result, Upscaler};

/// Index `i` of a padded axis of original length `n`, reflected back inside (no edge
/// repeat, like PyTorch's `reflect`; a length-1 axis repeats its pixel).
fn reflect(i: usize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let k = i % period;
    if k < n {
        k
    } else {
        period - k
    }
}

/// An upscaler whose inputs are padded to a multiple of `multiple`.
pub struct PadToMultiple {
    inner: Box<dyn Upscaler>,
    multiple: usize,
}

impl PadToMultiple {
    /// Wraps `inner` when its architecture needs a multiple above 1; returns it as is
    /// otherwise.
    pub fn wrap(inner: Box<dyn Upscaler>) -> Box<dyn Upscaler> {
        let multiple = inner
            .info()
            .architecture
            .as_ref()
            .map_or(1, |a| a.input_multiple());
        if multiple > 1 {
            Box::new(Self { inner, multiple })
        } else {
            inner
        }
    }
}

impl std::fmt::Debug for PadToMultiple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PadToMultiple")
            .field("inner", &self.inner.name())
            .field("multiple", &self.multiple)
            .finish()
    }
}

impl Upscaler for PadToMultiple {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn scale(&self) -> usize {
        self.inner.scale()
    }

    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn upscale(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let [n, c, h, w] = [
            input.shape()[0],
            input.shape()[1],
            input.shape()[2],
            input.shape()[3],
        ];
        let m = self.multiple;
        let (ph, pw) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
        if (ph, pw) == (h, w) || h == 0 || w == 0 {
            return self.inner.upscale(input);
        }
        let padded = Array4::from_shape_fn([n, c, ph, pw], |(b, ch, y, x)| {
            input[[b, ch, reflect(y, h), reflect(x, w)]]
        });
        let out = self.inner.upscale(padded.view())?;
        let s = self.scale();
        Ok(out.slice(s![.., .., ..h * s, ..w * s]).to_owned())
    }

    fn warm_up(&mut self, shape: [usize; 4]) -> Result<()> {
        let m = self.multiple;
        self.inner.warm_up([
            shape[0],
            shape[1],
            shape[2].div_ceil(m) * m,
            shape[3].div_ceil(m) * m,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_matches_pytorch_reflect_padding() {
        // torch.nn.functional.pad(torch.arange(4.)[None, None], (0, 5), 'reflect') needs pad
        // < n; for 3 it gives 0 1 2 3 2 1 0.
        let got: Vec<usize> = (0..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(reflect(3, 1), 0);
    }
}
