//! The linear model and its update for one global batch, as pure functions over plain data.
//!
//! With squared loss `(p - y)^2` (river's convention: gradient `2 (p - y)`), a batch of `n`
//! labelled rows, each with the prediction `p_r` it got from the model in force (the model does
//! not change until the batch closes):
//!
//! ```text
//! l_r = clamp(2 (p_r - y_r), -clipGradient, clipGradient)
//! g   = (sum_r l_r x_r) / n + reg * w
//! b  -= interceptLearningRate * (sum_r l_r) / n
//! sgd:     w -= learningRate * g
//! adagrad: G += g^2;  w -= learningRate / sqrt(G + adagradEpsilon) * g
//! ```
//!
//! With `n = 1` this is river's `LinearRegression.learn_one` step for step; with `n > 1` it is
//! river's `learn_many` (one step on the batch's mean gradient).

use serde::{Deserialize, Serialize};

use crate::params::{Optimizer, Params};
use crate::rows::Row;

/// One labelled row waiting in the partial global batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRow {
    /// Features.
    pub row: Row,
    /// Target.
    pub label: f64,
    /// The prediction the model in force gave it.
    pub prediction: f64,
}

/// Coefficients, intercept and optimizer state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Coefficients.
    pub coefficient: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// AdaGrad's per-coordinate sum of squared gradients (empty with SGD).
    pub g2: Vec<f64>,
    /// Version: 0 for the initial model, +1 per update.
    pub version: i64,
}

impl Model {
    /// The all-zero model of dimension `dim` (version 0).
    pub fn zeros(dim: usize, optimizer: Optimizer) -> Self {
        let g2 = match optimizer {
            Optimizer::Sgd => Vec::new(),
            Optimizer::Adagrad => vec![0.0; dim],
        };
        Self { coefficient: vec![0.0; dim], intercept: 0.0, g2, version: 0 }
    }

    /// The prediction for `row`.
    pub fn predict(&self, row: &Row) -> f64 {
        row.dot(&self.coefficient) + self.intercept
    }

    /// Applies one global batch. Fails, leaving the model as it was, when the step would make
    /// a coefficient or the intercept non-finite (a diverging learning rate or unscaled
    /// features).
    pub fn update(&mut self, rows: &[PendingRow], p: &Params) -> Result<(), String> {
        let d = self.coefficient.len();
        let n = rows.len() as f64;
        let mut g = vec![0.0; d];
        let mut lsum = 0.0;
        for r in rows {
            let l = (2.0 * (r.prediction - r.label)).clamp(-p.clip_gradient, p.clip_gradient);
            r.row.add_scaled_to(l, &mut g);
            lsum += l;
        }
        let mut w = self.coefficient.clone();
        let mut g2 = self.g2.clone();
        for (i, gi) in g.iter_mut().enumerate() {
            *gi /= n;
            if p.reg != 0.0 {
                *gi += p.reg * w[i];
            }
        }
        match p.optimizer {
            Optimizer::Sgd => {
                for (wi, gi) in w.iter_mut().zip(&g) {
                    *wi -= p.learning_rate * gi;
                }
            }
            Optimizer::Adagrad => {
                for ((wi, gi), si) in w.iter_mut().zip(&g).zip(g2.iter_mut()) {
                    *si += gi * gi;
                    *wi -= p.learning_rate / (*si + p.adagrad_epsilon).sqrt() * gi;
                }
            }
        }
        let intercept = self.intercept - p.intercept_learning_rate * (lsum / n);
        if !intercept.is_finite() || w.iter().chain(&g2).any(|v| !v.is_finite()) {
            return Err("the update makes the model non-finite (diverging: lower learningRate or scale the features)".into());
        }
        self.coefficient = w;
        self.g2 = g2;
        self.intercept = intercept;
        self.version += 1;
        Ok(())
    }
}
