//! The FTRL-Proximal model and its update for one global batch, as pure functions over plain
//! data (Flink ML's arithmetic, in Flink ML's order of operations).

use serde::{Deserialize, Serialize};

/// One labelled row waiting in the partial global batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRow {
    /// Sparse positions, or `None` for a dense row.
    pub indices: Option<Vec<i32>>,
    /// Feature values.
    pub values: Vec<f64>,
    /// 0.0 or 1.0.
    pub label: f64,
    /// Row weight (only sparse rows use it).
    pub weight: f64,
    /// `w . x` under the model in force when the row arrived (the model cannot change before
    /// the batch closes, so this is the dot the update needs).
    pub dot: f64,
}

/// Coefficients and FTRL accumulators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Coefficients.
    pub w: Vec<f64>,
    /// Sum of squared gradients per coordinate.
    pub n: Vec<f64>,
    /// FTRL z per coordinate.
    pub z: Vec<f64>,
    /// Version: 0 for the initial model, +1 per update.
    pub version: i64,
}

impl Model {
    /// The initial model (version 0) with coefficients `w`.
    pub fn initial(w: Vec<f64>) -> Self {
        let d = w.len();
        Self { w, n: vec![0.0; d], z: vec![0.0; d], version: 0 }
    }

    /// Applies one global batch (Flink ML's single-instance form).
    pub fn update(&mut self, rows: &[PendingRow], alpha: f64, beta: f64, l1: f64, l2: f64) {
        let d = self.w.len();
        let mut g = vec![0.0; d];
        let mut s = vec![0.0; d];
        for r in rows {
            let p = 1.0 / (1.0 + eddy_sdk::math::exp(-r.dot));
            let m = p - r.label;
            match &r.indices {
                None => {
                    for ((gi, si), x) in g.iter_mut().zip(s.iter_mut()).zip(&r.values) {
                        *gi += m * x;
                        *si += 1.0;
                    }
                }
                Some(ix) => {
                    for (&i, x) in ix.iter().zip(&r.values) {
                        g[i as usize] += m * x;
                        s[i as usize] += r.weight;
                    }
                }
            }
        }
        for i in 0..d {
            if s[i] != 0.0 {
                g[i] /= s[i];
            }
            let sigma = ((self.n[i] + g[i] * g[i]).sqrt() - self.n[i].sqrt()) / alpha;
            self.z[i] += g[i] - sigma * self.w[i];
            self.n[i] += g[i] * g[i];
            self.w[i] = if self.z[i].abs() <= l1 {
                0.0
            } else {
                let sign = if self.z[i] >= 0.0 { 1.0 } else { -1.0 };
                (sign * l1 - self.z[i]) / ((beta + self.n[i].sqrt()) / alpha + l2)
            };
        }
        self.version += 1;
    }
}
