//! The bridge to linfa-bayes: one global batch of labelled rows is folded into the per-class
//! sufficient statistics by linfa's own incremental fit (`GaussianNbValidParams::fit_with`,
//! after `ParamGuard::check`), which combines the batch's per-class count, mean and variance
//! with the previous ones (Chan, Golub and LeVeque's pairwise update, as scikit-learn's
//! `partial_fit` does).
//!
//! linfa's fitted `GaussianNb` keeps its statistics in private fields of a `HashMap`, so it can
//! be neither read field by field nor snapshotted deterministically (its serde form iterates in
//! hash order). The operator therefore keeps the statistics in its own ordered state
//! ([`crate::model::ClassStats`]) and crosses into and out of linfa's type through linfa-bayes'
//! `serde` representation: the same fields, with a `BTreeMap` in place of the `HashMap`, are
//! written with postcard and read back as the other type (postcard writes both maps alike).
//!
//! linfa is asked for `var_smoothing = 0`: its smoothing is a fraction of the variance of the
//! current batch only, which is zero for a batch of one row, and it subtracts the new batch's
//! epsilon from variances smoothed with the previous batch's. The operator applies smoothing
//! itself at scoring time, over every row learned so far (see [`crate::model`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use linfa::traits::FitWith;
use linfa::{DatasetBase, ParamGuard};
use linfa_bayes::{GaussianNb, GaussianNbParams};
use ndarray::{Array1, Array2};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::ClassStats;

/// A class value as linfa's label type: a finite `f64` (never `-0.0`), ordered numerically.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ClassKey(pub f64);

impl PartialEq for ClassKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for ClassKey {}

impl Hash for ClassKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl PartialOrd for ClassKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ClassKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl linfa::Label for ClassKey {}

/// linfa-bayes' `GaussianNb` serde shape, with an ordered map.
#[derive(Serialize, Deserialize)]
struct GaussianNbState {
    class_info: BTreeMap<ClassKey, ClassInfoState>,
}

/// linfa-bayes' `GaussianClassInfo` serde shape (same fields, same order).
#[derive(Serialize, Deserialize)]
struct ClassInfoState {
    class_count: usize,
    prior: f64,
    theta: Array1<f64>,
    sigma: Array1<f64>,
}

fn transcode<A: Serialize, B: DeserializeOwned>(value: &A) -> Result<B, String> {
    let bytes = postcard::to_stdvec(value).map_err(|e| format!("cannot encode linfa state: {e}"))?;
    postcard::from_bytes(&bytes).map_err(|e| format!("cannot decode linfa state: {e}"))
}

/// Folds one batch (`x`: one row per labelled row, `y`: their classes) into `stats` (classes
/// with a count, in ascending order) with linfa's `fit_with`, and returns the new statistics of
/// every class with a count, in ascending order.
pub fn fit_batch(stats: &[ClassStats], x: Array2<f64>, y: Array1<ClassKey>) -> Result<Vec<ClassStats>, String> {
    let params = GaussianNbParams::<f64, ClassKey>::new().var_smoothing(0.0).check().map_err(|e| e.to_string())?;
    let total: u64 = stats.iter().map(|s| s.count).sum();
    let mut class_info = BTreeMap::new();
    for s in stats.iter().filter(|s| s.count > 0) {
        let class_count = usize::try_from(s.count).map_err(|_| "class count too large for linfa on this target".to_owned())?;
        class_info.insert(
            ClassKey(s.class),
            ClassInfoState {
                class_count,
                prior: s.count as f64 / total as f64,
                theta: Array1::from(s.mean.clone()),
                sigma: Array1::from(s.var.clone()),
            },
        );
    }
    let model_in: Option<GaussianNb<f64, ClassKey>> =
        if class_info.is_empty() { None } else { Some(transcode(&GaussianNbState { class_info })?) };
    let dataset = DatasetBase::new(x, y);
    let model = params.fit_with(model_in, &dataset).map_err(|e| format!("linfa-bayes refused the batch: {e}"))?;
    let out: GaussianNbState = transcode(&model)?;
    Ok(out
        .class_info
        .into_iter()
        .map(|(k, info)| ClassStats { class: k.0, count: info.class_count as u64, mean: info.theta.to_vec(), var: info.sigma.to_vec() })
        .collect())
}
