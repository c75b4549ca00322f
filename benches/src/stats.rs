//! Percentiles of timed calls (nearest rank, as peers.py computes them) and the timing loop.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Summary of the timed calls of one shape, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Timed calls.
    pub samples: usize,
    /// Median (nearest rank).
    pub p50_s: f64,
    /// 95th percentile (nearest rank; the slowest call when there are fewer than 20).
    pub p95_s: f64,
    /// Mean.
    pub mean_s: f64,
    /// Fastest.
    pub min_s: f64,
    /// Slowest.
    pub max_s: f64,
}

/// The `q`-quantile of sorted values by nearest rank: the `ceil(q n)`-th smallest.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[k - 1]
}

/// Summarises samples (seconds).
pub fn summarise(samples: &[f64]) -> Summary {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Summary {
        samples: n,
        p50_s: nearest_rank(&s, 0.5),
        p95_s: nearest_rank(&s, 0.95),
        mean_s: if n == 0 {
            f64::NAN
        } else {
            s.iter().sum::<f64>() / n as f64
        },
        min_s: s.first().copied().unwrap_or(f64::NAN),
        max_s: s.last().copied().unwrap_or(f64::NAN),
    }
}

/// How many calls to time.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// At most this many timed calls.
    pub iterations: usize,
    /// At least this many, whatever the time.
    pub min_iterations: usize,
    /// No call is started after this many seconds (once `min_iterations` are done).
    pub seconds: f64,
}

/// Times `f`: up to `budget.iterations` calls. Returns the seconds of each.
pub fn time_calls<E>(budget: Budget, mut f: impl FnMut() -> Result<(), E>) -> Result<Vec<f64>, E> {
    let start = Instant::now();
    let mut samples = Vec::with_capacity(budget.iterations);
    while samples.len() < budget.iterations
        && (samples.len() < budget.min_iterations || start.elapsed().as_secs_f64() < budget.seconds)
    {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed().as_secs_f64());
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&s, 0.5), 5.0);
        assert_eq!(nearest_rank(&s, 0.95), 10.0);
        assert_eq!(nearest_rank(&[3.0], 0.5), 3.0);
        let sum = summarise(&[3.0, 1.0, 2.0]);
        assert_eq!(
            (sum.p50_s, sum.p95_s, sum.min_s, sum.max_s),
            (2.0, 3.0, 1.0, 3.0)
        );
        assert_eq!(sum.mean_s, 2.0);
    }

    #[test]
    fn budget_bounds_the_calls() {
        let b = Budget {
            iterations: 5,
            min_iterations: 2,
            seconds: 0.0,
        };
        let n = time_calls::<()>(b, || Ok(())).unwrap().len();
        assert_eq!(n, 2);
        let b = Budget {
            seconds: 100.0,
            ..b
        };
        assert_eq!(time_calls::<()>(b, || Ok(())).unwrap().len(), 5);
    }
}
