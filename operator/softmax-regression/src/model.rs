//! The softmax model and its update for one global batch, as pure functions over plain data.
//!
//! Scores `z_k = w_k . x + b_k` for every known class `k` (ascending class values),
//! probabilities `p_k = exp(z_k - max z) / sum`. The predicted class has the largest score
//! (ties: the smallest class value); with no class known yet there is no prediction.
//!
//! Learning, with cross-entropy loss (river's `CrossEntropy`, probabilities clamped to
//! `[1e-15, 1 - 1e-15]`), for a batch of `n` labelled rows, each with the probabilities it got
//! from the model in force (the model does not change until the batch closes):
//!
//! ```text
//! classes += the batch's labels not yet known, each with zero weights and intercept, in order
//! l_rk = clamp(p_rk) - [y_r == k]        (p_rk = 0 for a class the row's model did not know)
//! w_k -= learningRate * ((sum_r l_rk x_r) / n + reg * w_k)
//! b_k -= learningRate * (sum_r l_rk) / n                    (when fitIntercept)
//! ```
//!
//! With `n = 1` and `fitIntercept = false` this is river's `SoftmaxRegression.learn_one` step
//! for step, including its rule for a class seen for the first time (scored out of the softmax,
//! so its gradient is `1e-15 - 1`).

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::rows::Row;

/// One labelled row waiting in the partial global batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRow {
    /// Features.
    pub row: Row,
    /// The class value.
    pub label: f64,
    /// Its probabilities under the model in force, one per class of that model.
    pub probs: Vec<f64>,
}

/// Classes, their weights and intercepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The feature dimension.
    pub dim: usize,
    /// Known classes, ascending.
    pub classes: Vec<f64>,
    /// One weight row per class.
    pub weights: Vec<Vec<f64>>,
    /// One intercept per class (all 0 without `fitIntercept`).
    pub intercepts: Vec<f64>,
    /// Version: 0 for the initial model, +1 per update.
    pub version: i64,
}

const PROBA_CLAMP: f64 = 1e-15;

impl Model {
    /// The initial model (version 0) of dimension `dim`: the declared classes, if any, with zero
    /// weights.
    pub fn initial(dim: usize, declared: Option<&[f64]>) -> Self {
        let classes: Vec<f64> = declared.unwrap_or_default().to_vec();
        let k = classes.len();
        Self { dim, classes, weights: vec![vec![0.0; dim]; k], intercepts: vec![0.0; k], version: 0 }
    }

    /// The predicted class (`None` while no class is known) and the probability of every known
    /// class, in ascending class order.
    pub fn predict(&self, row: &Row) -> (Option<f64>, Vec<f64>) {
        if self.classes.is_empty() {
            return (None, Vec::new());
        }
        let z: Vec<f64> = self.weights.iter().zip(&self.intercepts).map(|(w, b)| row.dot(w) + b).collect();
        let mut best = 0;
        for (k, zk) in z.iter().enumerate() {
            if *zk > z[best] {
                best = k;
            }
        }
        let max = z[best];
        let exps: Vec<f64> = z.iter().map(|zk| eddy_sdk::math::exp(zk - max)).collect();
        let sum: f64 = exps.iter().sum();
        (Some(self.classes[best]), exps.iter().map(|e| e / sum).collect())
    }

    /// Applies one global batch (see the module doc). Fails, leaving the model as it was, when
    /// the step would make a weight or an intercept non-finite.
    pub fn update(&mut self, rows: &[PendingRow], p: &Params) -> Result<(), String> {
        let dim = self.dim;
        let mut classes = self.classes.clone();
        for r in rows {
            if let Err(at) = classes.binary_search_by(|c| c.total_cmp(&r.label)) {
                classes.insert(at, r.label);
            }
        }
        // Where each class of the new list was in the model the rows were scored with.
        let old: Vec<Option<usize>> = classes.iter().map(|c| self.classes.binary_search_by(|o| o.total_cmp(c)).ok()).collect();
        let n = rows.len() as f64;
        let k = classes.len();
        let mut gw = vec![vec![0.0; dim]; k];
        let mut gb = vec![0.0; k];
        for r in rows {
            for (j, class) in classes.iter().enumerate() {
                let prob = old[j].map_or(0.0, |o| r.probs[o]).clamp(PROBA_CLAMP, 1.0 - PROBA_CLAMP);
                let l = prob - if *class == r.label { 1.0 } else { 0.0 };
                r.row.add_scaled_to(l, &mut gw[j]);
                gb[j] += l;
            }
        }
        let mut weights = Vec::with_capacity(k);
        let mut intercepts = Vec::with_capacity(k);
        for j in 0..k {
            let (mut w, mut b) = match old[j] {
                Some(o) => (self.weights[o].clone(), self.intercepts[o]),
                None => (vec![0.0; dim], 0.0),
            };
            for (wi, gi) in w.iter_mut().zip(&gw[j]) {
                let mut g = gi / n;
                if p.reg != 0.0 {
                    g += p.reg * *wi;
                }
                *wi -= p.learning_rate * g;
            }
            if p.fit_intercept {
                b -= p.learning_rate * (gb[j] / n);
            }
            weights.push(w);
            intercepts.push(b);
        }
        if weights.iter().flatten().chain(&intercepts).any(|v| !v.is_finite()) {
            return Err("the update makes the model non-finite (diverging: lower learningRate or scale the features)".into());
        }
        self.classes = classes;
        self.weights = weights;
        self.intercepts = intercepts;
        self.version += 1;
        Ok(())
    }
}
