//! Element-wise comparison within a tolerance, with a report that says where and how much.

use std::fmt;

use srgan_runtimes::ndarray::{ArrayBase, Data, Dimension};

/// How far apart two values may be, absolute, on the values' own scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Largest allowed `|expected - got|`.
    pub abs: f64,
    /// Shown in failure messages.
    pub name: &'static str,
}

impl Tolerance {
    /// f32 outputs of two runtimes (or a runtime and a reference): 1e-4.
    pub const F32: Self = Self {
        abs: 1e-4,
        name: "f32 (1e-4)",
    };
    /// 8-bit images compared as levels 0..=255: 1 level.
    pub const U8_LEVEL: Self = Self {
        abs: 1.0,
        name: "8-bit (1 level)",
    };
    /// Bit-for-bit.
    pub const EXACT: Self = Self {
        abs: 0.0,
        name: "exact",
    };

    /// A tolerance of `abs`, for the cases the presets do not fit.
    pub const fn abs(abs: f64) -> Self {
        Self {
            abs,
            name: "custom",
        }
    }
}

/// How many worst elements a report lists.
const WORST: usize = 5;

/// The outcome of [`compare`].
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The tolerance compared against.
    pub tolerance: Tolerance,
    /// Elements compared.
    pub len: usize,
    /// Elements further apart than the tolerance (NaN on either side counts).
    pub out_of_tolerance: usize,
    /// Largest `|expected - got|` (infinite when a NaN was met).
    pub max_diff: f64,
    /// The worst elements, worst first: `(index, expected, got, difference)`.
    pub worst: Vec<(usize, f64, f64, f64)>,
    /// The shape, when the values came from an array (indices are then shown per axis).
    pub shape: Option<Vec<usize>>,
}

impl Comparison {
    /// No element is out of tolerance.
    pub fn is_close(&self) -> bool {
        self.out_of_tolerance == 0
    }

    fn index(&self, flat: usize) -> String {
        match &self.shape {
            Some(shape) => {
                let mut idx = vec![0; shape.len()];
                let mut rest = flat;
                for (i, &n) in shape.iter().enumerate().rev() {
                    idx[i] = rest % n.max(1);
                    rest /= n.max(1);
                }
                format!("{idx:?}")
            }
            None => format!("[{flat}]"),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} elements out of tolerance {}; max difference {:e}",
            self.out_of_tolerance, self.len, self.tolerance.name, self.max_diff
        )?;
        if !self.worst.is_empty() {
            write!(f, "\n  worst (index: expected, got, difference):")?;
            for &(i, e, g, d) in &self.worst {
                write!(f, "\n    {}: {e}, {g}, {d:e}", self.index(i))?;
            }
        }
        Ok(())
    }
}

/// Compares `expected` with `got` element by element. Panics if the lengths differ.
pub fn compare<T: Copy + Into<f64>>(expected: &[T], got: &[T], tol: Tolerance) -> Comparison {
    assert_eq!(
        expected.len(),
        got.len(),
        "lengths differ: expected {}, got {}",
        expected.len(),
        got.len()
    );
    compare_iter(
        expected.iter().map(|&v| v.into()),
        got.iter().map(|&v| v.into()),
        tol,
    )
}

fn compare_iter(
    expected: impl Iterator<Item = f64>,
    got: impl Iterator<Item = f64>,
    tol: Tolerance,
) -> Comparison {
    let mut c = Comparison {
        tolerance: tol,
        len: 0,
        out_of_tolerance: 0,
        max_diff: 0.0,
        worst: Vec::new(),
        shape: None,
    };
    for (i, (e, g)) in expected.zip(got).enumerate() {
        c.len += 1;
        let d = (e - g).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        c.max_diff = c.max_diff.max(d);
        if d > tol.abs {
            c.out_of_tolerance += 1;
            if c.worst.len() < WORST || d > c.worst[WORST - 1].3 {
                let at = c.worst.partition_point(|w| w.3 >= d);
                c.worst.insert(at, (i, e, g, d));
                c.worst.truncate(WORST);
            }
        }
    }
    c
}

/// Asserts that `got` equals `expected` within `tol`; on failure panics with how many elements
/// are out and the worst of them. `what` names the comparison.
#[track_caller]
pub fn assert_close<T: Copy + Into<f64>>(what: &str, expected: &[T], got: &[T], tol: Tolerance) {
    let c = compare(expected, got, tol);
    assert!(c.is_close(), "{what}: {c}");
}

/// [`assert_close`] for arrays of the same shape; indices are reported per axis.
#[track_caller]
pub fn assert_close_array<S, T, D>(
    what: &str,
    expected: &ArrayBase<S, D>,
    got: &ArrayBase<S, D>,
    tol: Tolerance,
) where
    S: Data<Elem = T>,
    T: Copy + Into<f64>,
    D: Dimension,
{
    assert_eq!(expected.shape(), got.shape(), "{what}: shapes differ");
    let mut c = compare_iter(
        expected.iter().map(|&v| v.into()),
        got.iter().map(|&v| v.into()),
        tol,
    );
    c.shape = Some(expected.shape().to_vec());
    assert!(c.is_close(), "{what}: {c}");
}

/// The largest `|a - b|` (infinite when a NaN is met); for asserting that two results differ.
pub fn max_abs_diff<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    compare(a, b, Tolerance::EXACT).max_diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_runtimes::ndarray::Array2;

    #[test]
    fn within_tolerance_passes() {
        assert_close("same", &[1.0f32, 2.0], &[1.00005, 1.99995], Tolerance::F32);
        assert_close("levels", &[10u8, 200], &[11, 199], Tolerance::U8_LEVEL);
    }

    #[test]
    fn the_report_lists_the_worst_first_and_counts() {
        let e = [0.0f32; 10];
        let mut g = [0.0f32; 10];
        g[2] = 0.5;
        g[7] = -2.0;
        g[9] = 5e-5;
        g[4] = f32::NAN;
        let c = compare(&e, &g, Tolerance::F32);
        assert_eq!(c.out_of_tolerance, 3);
        assert_eq!(
            c.worst.iter().map(|w| w.0).collect::<Vec<_>>(),
            [4, 7, 2],
            "NaN is the worst"
        );
        let text = c.to_string();
        assert!(
            text.starts_with("3 of 10 elements out of tolerance f32 (1e-4)"),
            "{text}"
        );
        assert!(text.contains("[7]: 0, -2, 2e0"), "{text}");
    }

    #[test]
    #[should_panic(expected = "seams: 1 of 6 elements out of tolerance 8-bit (1 level)")]
    fn out_of_tolerance_panics_with_the_report() {
        assert_close(
            "seams",
            &[1u8, 2, 3, 4, 5, 6],
            &[1, 2, 3, 4, 5, 8],
            Tolerance::U8_LEVEL,
        );
    }

    #[test]
    #[should_panic(expected = "[1, 2]: 0, 1, 1e0")]
    fn array_indices_are_per_axis() {
        let a = Array2::<f32>::zeros((2, 3));
        let mut b = a.clone();
        b[[1, 2]] = 1.0;
        assert_close_array("grid", &a, &b, Tolerance::F32);
    }
}
