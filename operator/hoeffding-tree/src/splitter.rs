//! The numeric attribute observer of one feature at one leaf: river's `GaussianSplitter`. For
//! every class it keeps the smallest and largest value seen and a weighted Welford estimate of
//! the mean and variance (river's `proba.Gaussian` over `stats.Var(ddof=1)`); from them it
//! proposes `nSplits` equally spaced thresholds, estimates how each class's weight would divide
//! at each threshold through the class's Gaussian CDF, and densities for naive Bayes.
//!
//! The arithmetic is river's, operation for operation (same order, no fused multiply-add), with
//! `erf` and `ln` from pure-Rust libm so that every target gives the same bits.

use serde::{Deserialize, Serialize};

use crate::dist::{ClassId, Dist};

/// `0.5 * ln(2 pi)`, as river computes it (`0.5 * math.log(math.tau)`).
const HALF_LOG_TAU: f64 = 0.9189385332046727;

/// One class's statistics of one feature at one leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassGaussian {
    /// The class.
    pub class: ClassId,
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
    /// Weight seen (river's `n`).
    pub n: f64,
    /// Running mean.
    pub mean: f64,
    /// Running sum of squared deviations (river's `_S`).
    pub s: f64,
}

impl ClassGaussian {
    fn new(class: ClassId, x: f64) -> Self {
        Self { class, min: x, max: x, n: 0.0, mean: 0.0, s: 0.0 }
    }

    /// Welford's weighted update, as river's `Mean.update` then `Var.update`.
    fn update(&mut self, x: f64, w: f64) {
        let mean_old = self.mean;
        self.n += w;
        self.mean += (w / self.n) * (x - self.mean);
        self.s += w * (x - mean_old) * (x - self.mean);
    }

    /// The sample variance (ddof 1), or 0 with fewer than two rows (river's `Var.get`).
    fn variance(&self) -> f64 {
        if self.n > 1.0 { self.s / (self.n - 1.0) } else { 0.0 }
    }

    /// The log density at `x`, or `-inf` when the variance is not positive (river's
    /// `Gaussian.log_pdf`).
    pub fn log_pdf(&self, x: f64) -> f64 {
        if self.n > 1.0 {
            let variance = self.s / (self.n - 1.0);
            if variance > 0.0 {
                let d = x - self.mean;
                return d * d / (-2.0 * variance) - HALF_LOG_TAU - 0.5 * eddy_sdk::math::ln(variance);
            }
        }
        f64::NEG_INFINITY
    }

    /// The CDF at `x`; 0 when the standard deviation is 0 (river's `Gaussian.cdf`, whose
    /// division by zero is caught and answered with 0).
    fn cdf(&self, x: f64) -> f64 {
        let sigma = self.variance().sqrt();
        if sigma == 0.0 {
            return 0.0;
        }
        0.5 * (1.0 + libm::erf(((x - self.mean) / sigma) / std::f64::consts::SQRT_2))
    }
}

/// One feature's observer at one leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splitter {
    /// The feature (its index in the row).
    pub feature: u32,
    /// Per-class statistics, in the order the classes first reached this observer.
    pub classes: Vec<ClassGaussian>,
}

impl Splitter {
    /// An observer of `feature` that has seen nothing.
    pub fn new(feature: u32) -> Self {
        Self { feature, classes: Vec::new() }
    }

    /// Adds a value of class `class` with weight `w`.
    #[inline]
    pub fn update(&mut self, x: f64, class: ClassId, w: f64) {
        let g = match self.classes.iter().position(|g| g.class == class) {
            Some(i) => {
                let g = &mut self.classes[i];
                if x < g.min {
                    g.min = x;
                }
                if x > g.max {
                    g.max = x;
                }
                g
            }
            None => {
                self.classes.push(ClassGaussian::new(class, x));
                self.classes.last_mut().expect("just pushed")
            }
        };
        g.update(x, w);
    }

    /// The log density of `x` under `class` (`-inf` for a class this observer has not seen).
    #[inline]
    pub fn cond_log_proba(&self, x: f64, class: ClassId) -> f64 {
        self.classes.iter().find(|g| g.class == class).map_or(f64::NEG_INFINITY, |g| g.log_pdf(x))
    }

    /// The candidate thresholds: `n_splits` equally spaced points strictly between the smallest
    /// and the largest value seen (river's `_split_point_suggestions`).
    pub fn split_points(&self, n_splits: u32) -> Vec<f64> {
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for g in &self.classes {
            if g.min < min {
                min = g.min;
            }
            if g.max > max {
                max = g.max;
            }
        }
        let mut out = Vec::new();
        if min < f64::INFINITY {
            let mut bin = max - min;
            bin /= f64::from(n_splits) + 1.0;
            for i in 0..n_splits {
                let v = min + bin * f64::from(i + 1);
                if min < v && v < max {
                    out.push(v);
                }
            }
        }
        out
    }

    /// How each class's weight divides at `threshold` (left: `x <= threshold`), as river's
    /// `_class_dists_from_binary_split`: whole when the threshold is outside the class's range,
    /// else by its Gaussian CDF.
    pub fn binary_split(&self, threshold: f64) -> [Dist; 2] {
        let mut lhs = Dist::default();
        let mut rhs = Dist::default();
        for g in &self.classes {
            if threshold < g.min {
                rhs.push(g.class, g.n);
            } else if threshold >= g.max {
                lhs.push(g.class, g.n);
            } else {
                let l = g.cdf(threshold) * g.n;
                lhs.push(g.class, l);
                rhs.push(g.class, g.n - l);
            }
        }
        [lhs, rhs]
    }

    /// The number of per-class statistics held (for the size estimate).
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether no row has reached this observer.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_two_pass() {
        let xs = [1.0, 4.0, 2.5, 8.0, -3.0];
        let mut g = ClassGaussian::new(0, xs[0]);
        for x in xs {
            g.update(x, 1.0);
        }
        let mean = xs.iter().sum::<f64>() / 5.0;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 4.0;
        assert!((g.mean - mean).abs() < 1e-12 && (g.variance() - var).abs() < 1e-12);
        assert!((g.cdf(mean) - 0.5).abs() < 1e-15);
        let want = -(1.0 - mean).powi(2) / (2.0 * var) - 0.5 * (2.0 * std::f64::consts::PI * var).ln();
        assert!((g.log_pdf(1.0) - want).abs() < 1e-12);
    }

    #[test]
    fn one_value_has_no_density_and_a_step_cdf() {
        let mut g = ClassGaussian::new(0, 2.0);
        g.update(2.0, 1.0);
        assert_eq!(g.log_pdf(2.0), f64::NEG_INFINITY);
        assert_eq!(g.cdf(5.0), 0.0);
        g.update(2.0, 1.0);
        assert_eq!(g.log_pdf(2.0), f64::NEG_INFINITY, "zero variance");
    }

    #[test]
    fn split_points_and_dists() {
        let mut s = Splitter::new(0);
        for (x, c) in [(0.0, 0), (1.0, 0), (10.0, 1), (11.0, 1)] {
            s.update(x, c, 1.0);
        }
        let pts = s.split_points(10);
        assert_eq!(pts.len(), 10);
        assert_eq!(pts[0], 0.0 + (11.0 / 11.0) * 1.0);
        // Between the classes: each class whole on its side.
        let [l, r] = s.binary_split(5.0);
        assert_eq!((l.entries(), r.entries()), (&[(0, 2.0)][..], &[(1, 2.0)][..]));
        // Inside class 0's range: its weight divides by the CDF.
        let [l, r] = s.binary_split(0.5);
        assert_eq!(l.entries()[0].1 + r.entries()[0].1, 2.0);
        assert!((l.entries()[0].1 - 1.0).abs() < 1e-12);
    }
}
