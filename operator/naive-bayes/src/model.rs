//! The Gaussian naive Bayes model as plain data: per-class count, mean and (population)
//! variance of every feature, the same sufficient statistics linfa-bayes and scikit-learn keep,
//! plus the smoothing and scoring that eddy applies on top of them.
//!
//! Smoothing: `epsilon = varSmoothing * max_j Var_j`, where `Var_j` is the variance of feature
//! `j` over every labelled row learned so far (all classes pooled), computed from the per-class
//! statistics; when that maximum is 0 (one row, or constant features), `epsilon = varSmoothing`.
//! So after any number of updates the model is the one scikit-learn's `GaussianNB.fit` (or
//! linfa's `fit`) would build from all those rows at once, whatever the batch sizes, up to
//! rounding.
//!
//! Scoring (linfa's and scikit-learn's joint log-likelihood, normalized stably):
//! `jll_c = ln(n_c / N) - 1/2 sum_j ln(2 pi s_cj) - 1/2 sum_j (x_j - m_cj)^2 / s_cj` with
//! `s_cj = var_cj + epsilon`; probabilities are `exp(jll_c - max jll) / sum`. Declared classes
//! not yet seen get probability 0; before any class is seen, declared classes are equally
//! likely. The predicted class is the one with the largest `jll` (ties: smallest class value).
//!
//! With `likelihood = "river"` the model is river 0.26.1's `naive_bayes.GaussianNB` instead:
//! each labelled row updates its class's count, means and sums of squared deviations one row at
//! a time with river's own arithmetic (Welford, `stats.Var`), the variance is the population
//! one (river's `GaussianNB` sets `ddof = 0`), and rows are scored with river's
//! `jll_c = ln(n_c / N) + sum_j ln(1e-9 + pdf_cj(x_j))`, where a zero variance gives density 0;
//! probabilities are `exp(jll_c - logsumexp(jll))` and ties go to the class learned first, as
//! river's `predict_one` breaks them. See [`RiverStats`] and [`Model::update_river`].

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::linfa_fit::{ClassKey, fit_batch};

/// One class's sufficient statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// The class value.
    pub class: f64,
    /// Labelled rows of this class learned so far (0 for a declared class not yet seen).
    pub count: u64,
    /// Per-feature mean (empty while `count` is 0).
    pub mean: Vec<f64>,
    /// Per-feature population variance, unsmoothed (empty while `count` is 0).
    pub var: Vec<f64>,
}

/// The model: every known class in ascending order of value, and the smoothing in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Known classes, ascending.
    pub classes: Vec<ClassStats>,
    /// The variance added at scoring time (see the module doc).
    pub epsilon: f64,
    /// Version: 0 before any update, +1 per update.
    pub version: i64,
}

/// What the river likelihood keeps beyond [`ClassStats`] (whose `mean` and `var` then hold
/// river's running mean and `S / n`, bit for bit): the classes in the order they were first
/// learned, which is the order of river's class counter and so its tie-break, and each class's
/// sum of squared deviations (river's `Var._S`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiverStats {
    /// Every class learned so far, in the order first learned.
    pub classes: Vec<RiverClass>,
}

/// One class's sums of squared deviations from its running mean, per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiverClass {
    /// The class value.
    pub class: f64,
    /// river's `Var._S` of every feature.
    pub m2: Vec<f64>,
}

/// river's `_PDF_EPS` (`10e-10` in river/naive_bayes/gaussian.py), added to every density
/// before its logarithm.
const RIVER_PDF_EPS: f64 = 1e-9;

/// One labelled row waiting for its global batch to fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRow {
    /// Dense features.
    pub x: Vec<f64>,
    /// The class value.
    pub label: f64,
}

impl Model {
    /// The model before any update: the declared classes (if any) with no rows.
    pub fn initial(declared: Option<&[f64]>, var_smoothing: f64) -> Self {
        let classes =
            declared.unwrap_or_default().iter().map(|&class| ClassStats { class, count: 0, mean: Vec::new(), var: Vec::new() }).collect();
        Self { classes, epsilon: var_smoothing, version: 0 }
    }

    /// The class values, ascending.
    pub fn class_values(&self) -> Vec<f64> {
        self.classes.iter().map(|c| c.class).collect()
    }

    /// Learns one global batch with linfa's incremental fit, then refreshes the smoothing and
    /// the version. On error the model is left as it was.
    pub fn update(&mut self, rows: &[PendingRow], var_smoothing: f64) -> Result<(), String> {
        let dim = rows.first().map_or(0, |r| r.x.len());
        let mut flat = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            flat.extend_from_slice(&r.x);
        }
        let x = Array2::from_shape_vec((rows.len(), dim), flat).map_err(|e| e.to_string())?;
        let y = Array1::from_iter(rows.iter().map(|r| ClassKey(r.label)));
        let seen: Vec<ClassStats> = self.classes.iter().filter(|c| c.count > 0).cloned().collect();
        let fitted = fit_batch(&seen, x, y)?;
        if fitted.iter().any(|c| c.mean.iter().chain(&c.var).any(|v| !v.is_finite())) {
            return Err("the class statistics overflow (feature values too large)".into());
        }
        let mut classes = fitted;
        for c in &self.classes {
            if c.count == 0 && !classes.iter().any(|f| f.class == c.class) {
                classes.push(c.clone());
            }
        }
        classes.sort_by(|a, b| a.class.total_cmp(&b.class));
        let epsilon = smoothing(&classes, var_smoothing);
        if !epsilon.is_finite() {
            return Err("the pooled feature variance overflows (feature values too large)".into());
        }
        self.classes = classes;
        self.epsilon = epsilon;
        self.version += 1;
        Ok(())
    }

    /// Learns one global batch river's way, a row at a time in stream order (river's
    /// `GaussianNB.learn_one`: `n += 1`, `mean += (1 / n) (x - mean)`,
    /// `S += (x - mean_old) (x - mean_new)`, variance `S / n`), then bumps the version. The
    /// smoothing is not used (`epsilon` stays 0). On error the model and `river` are left as
    /// they were.
    pub fn update_river(&mut self, river: &mut RiverStats, rows: &[PendingRow]) -> Result<(), String> {
        let mut classes = self.classes.clone();
        let mut order = river.classes.clone();
        for row in rows {
            let dim = row.x.len();
            let at = match classes.iter().position(|c| c.class == row.label) {
                Some(i) => i,
                None => {
                    let i = classes.partition_point(|c| c.class < row.label);
                    classes.insert(i, ClassStats { class: row.label, count: 0, mean: Vec::new(), var: Vec::new() });
                    i
                }
            };
            let stats = &mut classes[at];
            if stats.count == 0 {
                stats.mean = vec![0.0; dim];
                stats.var = vec![0.0; dim];
            }
            let r = match order.iter().position(|c| c.class == row.label) {
                Some(i) => i,
                None => {
                    order.push(RiverClass { class: row.label, m2: vec![0.0; dim] });
                    order.len() - 1
                }
            };
            let m2 = &mut order[r].m2;
            stats.count += 1;
            let n = stats.count as f64;
            for (((x, mean), var), m2) in row.x.iter().zip(&mut stats.mean).zip(&mut stats.var).zip(m2.iter_mut()) {
                let mean_old = *mean;
                *mean += (1.0 / n) * (x - mean_old);
                *m2 += (x - mean_old) * (x - *mean);
                *var = *m2 / n;
            }
        }
        if classes.iter().any(|c| c.mean.iter().chain(&c.var).any(|v| !v.is_finite()))
            || order.iter().any(|c| c.m2.iter().any(|v| !v.is_finite()))
        {
            return Err("the class statistics overflow (feature values too large)".into());
        }
        self.classes = classes;
        river.classes = order;
        self.version += 1;
        Ok(())
    }

    /// What scores rows with this model (precomputed per-class constants): with `river`, river's
    /// likelihood (see the module doc), else scikit-learn's.
    pub fn scorer(&self, river: Option<&RiverStats>) -> Scorer {
        let Some(river) = river else { return self.sklearn_scorer() };
        let total: u64 = self.classes.iter().map(|c| c.count).sum();
        let terms = self
            .classes
            .iter()
            .map(|c| {
                (c.count > 0).then(|| RiverTerm {
                    log_prior: eddy_sdk::math::ln(c.count as f64 / total as f64),
                    mean: c.mean.clone(),
                    sigma: c.var.iter().map(|v| v.sqrt()).collect(),
                })
            })
            .collect();
        let order = river.classes.iter().filter_map(|r| self.classes.iter().position(|c| c.class == r.class)).collect();
        Scorer { classes: self.class_values(), terms: Terms::River { terms, order } }
    }

    fn sklearn_scorer(&self) -> Scorer {
        let total: u64 = self.classes.iter().map(|c| c.count).sum();
        let terms = self
            .classes
            .iter()
            .map(|c| {
                (c.count > 0).then(|| {
                    let sigma: Vec<f64> = c.var.iter().map(|v| v + self.epsilon).collect();
                    let log_norm: f64 = sigma.iter().map(|s| eddy_sdk::math::ln(2.0 * std::f64::consts::PI * s)).sum();
                    let log_prior = eddy_sdk::math::ln(c.count as f64 / total as f64);
                    ClassTerm { base: log_prior - 0.5 * log_norm, log_prior, theta: c.mean.clone(), sigma }
                })
            })
            .collect();
        Scorer { classes: self.class_values(), terms: Terms::Sklearn(terms) }
    }
}

/// `varSmoothing` times the largest pooled feature variance (or times 1 when that is 0).
fn smoothing(classes: &[ClassStats], var_smoothing: f64) -> f64 {
    let seen: Vec<&ClassStats> = classes.iter().filter(|c| c.count > 0).collect();
    let Some(first) = seen.first() else { return var_smoothing };
    let dim = first.mean.len();
    let n: f64 = seen.iter().map(|c| c.count as f64).sum();
    let mut max_var = 0.0f64;
    for j in 0..dim {
        let mean = seen.iter().map(|c| c.count as f64 * c.mean[j]).sum::<f64>() / n;
        let ssd: f64 = seen
            .iter()
            .map(|c| {
                let d = c.mean[j] - mean;
                c.count as f64 * (c.var[j] + d * d)
            })
            .sum();
        max_var = max_var.max(ssd / n);
    }
    if max_var > 0.0 { var_smoothing * max_var } else { var_smoothing }
}

struct ClassTerm {
    base: f64,
    log_prior: f64,
    theta: Vec<f64>,
    sigma: Vec<f64>,
}

/// One learned class under river's likelihood.
struct RiverTerm {
    log_prior: f64,
    mean: Vec<f64>,
    /// `sqrt(S / n)` per feature; 0 where the variance is 0 (density 0 there).
    sigma: Vec<f64>,
}

impl RiverTerm {
    /// river's `math.log(p_class(c)) + sum(math.log(_PDF_EPS + gaussian(x_j)))`, with
    /// `proba.Gaussian.__call__` as `norm_pdf((x - mu) / sigma) / sigma` and the terms summed
    /// from 0 in feature order, as Python's `sum` does.
    fn jll(&self, x: &[f64]) -> f64 {
        let sqrt_tau = (2.0 * std::f64::consts::PI).sqrt();
        let mut sum = 0.0;
        for ((xi, mu), sigma) in x.iter().zip(&self.mean).zip(&self.sigma) {
            let pdf = if *sigma > 0.0 {
                let z = (xi - mu) / sigma;
                eddy_sdk::math::exp(-0.5 * z * z) / sqrt_tau / sigma
            } else {
                0.0
            };
            sum += eddy_sdk::math::ln(RIVER_PDF_EPS + pdf);
        }
        self.log_prior + sum
    }
}

/// The per-class constants of one model version, by likelihood.
enum Terms {
    /// scikit-learn's and linfa's, one entry per class (`None`: declared, not seen).
    Sklearn(Vec<Option<ClassTerm>>),
    /// river's, one entry per class, and the classes learned so far (indices) in the order
    /// first learned.
    River { terms: Vec<Option<RiverTerm>>, order: Vec<usize> },
}

/// Scores rows with one model version.
pub struct Scorer {
    classes: Vec<f64>,
    terms: Terms,
}

impl Scorer {
    /// The predicted class (`None` while no class is known) and the probability of every known
    /// class, in ascending class order.
    pub fn score(&self, x: &[f64]) -> (Option<f64>, Vec<f64>) {
        let k = self.classes.len();
        if k == 0 {
            return (None, Vec::new());
        }
        let terms = match &self.terms {
            Terms::Sklearn(terms) => terms,
            Terms::River { terms, order } => return self.score_river(terms, order, x),
        };
        if terms.iter().all(Option::is_none) {
            return (Some(self.classes[0]), vec![1.0 / k as f64; k]);
        }
        let mut jll: Vec<Option<f64>> = terms
            .iter()
            .map(|t| {
                t.as_ref().map(|t| {
                    let mut q = 0.0;
                    for ((xi, m), s) in x.iter().zip(&t.theta).zip(&t.sigma) {
                        let d = xi - m;
                        q += d * d / s;
                    }
                    t.base - 0.5 * q
                })
            })
            .collect();
        let max = jll.iter().flatten().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        if max == f64::NEG_INFINITY || max.is_nan() {
            // Every likelihood underflowed (a row absurdly far from every class): fall back on
            // the class priors.
            jll = terms.iter().map(|t| t.as_ref().map(|t| t.log_prior)).collect();
        }
        let max = jll.iter().flatten().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let mut best = None;
        for (i, l) in jll.iter().enumerate() {
            if let Some(l) = l
                && best.is_none_or(|(_, b)| *l > b)
            {
                best = Some((i, *l));
            }
        }
        let exps: Vec<f64> = jll.iter().map(|l| l.map_or(0.0, |l| eddy_sdk::math::exp(l - max))).collect();
        let sum: f64 = exps.iter().sum();
        let probs = exps.iter().map(|e| e / sum).collect();
        (best.map(|(i, _)| self.classes[i]), probs)
    }

    /// river's `predict_proba_one` and `predict_one`: `p_c = exp(jll_c - logsumexp(jll))` over
    /// the learned classes (every `jll` is finite: each density term is at least `ln(1e-9)`),
    /// 0 for a declared class not learned yet; the prediction is the first class, in the order
    /// first learned, with the largest probability.
    fn score_river(&self, terms: &[Option<RiverTerm>], order: &[usize], x: &[f64]) -> (Option<f64>, Vec<f64>) {
        let k = self.classes.len();
        if order.is_empty() {
            return (Some(self.classes[0]), vec![1.0 / k as f64; k]);
        }
        let jll: Vec<f64> = terms.iter().map(|t| t.as_ref().map_or(f64::NEG_INFINITY, |t| t.jll(x))).collect();
        let max = order.iter().map(|&i| jll[i]).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = order.iter().map(|&i| eddy_sdk::math::exp(jll[i] - max)).sum();
        let lse = max + eddy_sdk::math::ln(sum);
        let mut probs = vec![0.0; k];
        for &i in order {
            probs[i] = eddy_sdk::math::exp(jll[i] - lse);
        }
        let mut best = order[0];
        for &i in &order[1..] {
            if probs[i] > probs[best] {
                best = i;
            }
        }
        (Some(self.classes[best]), probs)
    }
}
