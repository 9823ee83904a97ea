//! The scaler's statistics (sum, sum of squares, count over every row learnt so far), the model
//! computed from them when a window closes, and the transform, as pure functions over plain
//! data in Flink ML's order of operations; and, for `variance = "river"`, river 0.26.1's
//! running statistics ([`RiverStats`]) and transform ([`ScalerModel::transform_river`]) in
//! river's order of operations.

use serde::{Deserialize, Serialize};

/// Running statistics over every row learnt so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Per-coordinate sum.
    pub sum: Vec<f64>,
    /// Per-coordinate sum of squares.
    pub sum_sq: Vec<f64>,
    /// Rows learnt.
    pub count: u64,
}

/// river 0.26.1's `preprocessing.StandardScaler` statistics (`variance = "river"`): per
/// feature, the running mean and population variance (`ddof = 0`), updated one row at a time
/// with river's own arithmetic (Welford's method, `StandardScaler.learn_one`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiverStats {
    /// Per-coordinate running mean (river's `means`; 0 before the first row).
    pub mean: Vec<f64>,
    /// Per-coordinate running population variance (river's `vars`; 0 before the first row).
    pub var: Vec<f64>,
    /// Rows learnt (river's `counts`, one per coordinate there; every row here has every
    /// coordinate).
    pub count: u64,
}

/// One published model: mean and standard deviation, never modified after it is built (Flink
/// ML inverted `std` in place on the object it also checkpointed; eddy computes `1 / std` at
/// each use instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalerModel {
    /// Per-coordinate mean.
    pub mean: Vec<f64>,
    /// Per-coordinate sample standard deviation (0 when fewer than two rows); with
    /// `variance = "river"`, the square root of river's population variance.
    pub std: Vec<f64>,
    /// 0 for the first model, +1 per model.
    pub version: i64,
    /// The window's max timestamp (end - 1) for event-time windows, `i64::MAX` otherwise.
    pub timestamp: i64,
}

impl Stats {
    /// Empty statistics of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Self { sum: vec![0.0; dim], sum_sq: vec![0.0; dim], count: 0 }
    }

    /// Learns one (dense) row.
    pub fn add(&mut self, x: &[f64]) {
        for ((s, q), v) in self.sum.iter_mut().zip(self.sum_sq.iter_mut()).zip(x) {
            *s += v;
            *q += v * v;
        }
        self.count += 1;
    }

    /// The model for the rows learnt so far (Flink ML's `buildModelData`):
    /// `mean = sum * (1 / n)`, `std = sqrt((sumSq - n * mean * mean) / (n - 1))` when n > 1,
    /// else 0. A variance that rounding makes slightly negative gives 0 (Flink would give NaN).
    pub fn model(&self, version: i64, timestamp: i64) -> ScalerModel {
        let n = self.count as f64;
        let inv = 1.0 / n;
        let mean: Vec<f64> = self.sum.iter().map(|s| s * inv).collect();
        let std = if self.count > 1 {
            mean.iter()
                .zip(&self.sum_sq)
                .map(|(m, q)| {
                    let var = (q - n * m * m) / (n - 1.0);
                    if var > 0.0 { var.sqrt() } else { 0.0 }
                })
                .collect()
        } else {
            vec![0.0; mean.len()]
        };
        ScalerModel { mean, std, version, timestamp }
    }
}

impl RiverStats {
    /// Learns one (dense) row as river's `StandardScaler.learn_one` does, coordinate by
    /// coordinate: `n += 1`, `mean += (x - mean_old) / n`,
    /// `var += ((x - mean_old) * (x - mean) - var) / n`. A coordinate seen for the first time
    /// starts from mean 0 and variance 0 (river's `defaultdict(float)`), so after it
    /// `mean = x` and `var = 0` exactly.
    pub fn add(&mut self, x: &[f64]) {
        if self.count == 0 {
            self.mean = vec![0.0; x.len()];
            self.var = vec![0.0; x.len()];
        }
        self.count += 1;
        let n = self.count as f64;
        for ((m, v), x) in self.mean.iter_mut().zip(self.var.iter_mut()).zip(x) {
            let old = *m;
            *m += (x - old) / n;
            *v += ((x - old) * (x - *m) - *v) / n;
        }
    }

    /// Whether every mean and variance is finite (large enough values overflow them).
    pub fn is_finite(&self) -> bool {
        self.mean.iter().chain(&self.var).all(|v| v.is_finite())
    }

    /// The model for the rows learnt so far: river's mean and `std = sqrt(var)`.
    pub fn model(&self, version: i64, timestamp: i64) -> ScalerModel {
        ScalerModel { mean: self.mean.clone(), std: self.var.iter().map(|v| v.sqrt()).collect(), version, timestamp }
    }
}

impl ScalerModel {
    /// river's statistics before any row (mean 0, variance 0, as its `defaultdict`s give them),
    /// which scale the first row in river mode; version -1: no model has been published.
    pub fn river_empty(dim: usize) -> Self {
        Self { mean: vec![0.0; dim], std: vec![0.0; dim], version: -1, timestamp: i64::MAX }
    }

    /// Scales `x` as river's `StandardScaler.transform_one` does: `(x - mean) / std` where the
    /// variance is not 0 and 0 where it is (`std` is `sqrt(var)`, 0 exactly when `var` is 0)
    /// with `with_std`, else `x - mean`. river takes `var ** 0.5` (the platform's `pow`),
    /// eddy `sqrt` (correctly rounded, the same bits on every target): glibc's `pow(v, 0.5)`
    /// is one ulp off `sqrt(v)` for about one value in 1,200, so the scaled value can be too.
    pub fn transform_river(&self, x: &[f64], with_std: bool) -> Vec<f64> {
        if with_std {
            x.iter().zip(&self.mean).zip(&self.std).map(|((x, m), s)| if *s != 0.0 { (x - m) / s } else { 0.0 }).collect()
        } else {
            x.iter().zip(&self.mean).map(|(x, m)| x - m).collect()
        }
    }

    /// Scales `x`: minus the mean when `with_mean`, times `1 / std` (0 where std is 0) when
    /// `with_std`.
    pub fn transform(&self, x: &[f64], with_mean: bool, with_std: bool) -> Vec<f64> {
        let mut out = x.to_vec();
        if with_mean {
            for (o, m) in out.iter_mut().zip(&self.mean) {
                *o += -m;
            }
        }
        if with_std {
            for (o, s) in out.iter_mut().zip(&self.std) {
                let scale = if *s == 0.0 { 0.0 } else { 1.0 / s };
                *o *= scale;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_has_zero_std_and_scales_to_zero() {
        let mut s = Stats::new(2);
        s.add(&[3.0, -1.0]);
        let m = s.model(0, i64::MAX);
        assert_eq!(m.mean, vec![3.0, -1.0]);
        assert_eq!(m.std, vec![0.0, 0.0]);
        assert_eq!(m.transform(&[5.0, 2.0], true, true), vec![0.0, 0.0]);
        assert_eq!(m.transform(&[5.0, 2.0], true, false), vec![2.0, 3.0]);
    }

    #[test]
    fn constant_rows_never_give_nan() {
        // sumSq - n * mean^2 rounds below zero for some of these; Flink would give NaN.
        for v in [0.1, 0.3, 1.1, 7.7, 1e-3, 123.456] {
            for n in 2..40 {
                let mut s = Stats::new(1);
                for _ in 0..n {
                    s.add(&[v]);
                }
                let m = s.model(0, 0);
                assert!(m.std[0] >= 0.0 && m.std[0] < 1e-6 * v.max(1.0), "{v} x{n}: {:?}", m.std);
            }
        }
    }
}
