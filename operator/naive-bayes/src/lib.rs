//! GaussianNaiveBayes: multi-class Gaussian naive Bayes learned online, as an eddy operator.
//! Each row is scored with the model in force at its position, then labelled rows are gathered
//! into count-based global batches (`globalBatchSize`, 1 by default) and each full batch is
//! folded into the per-class means and variances by linfa-bayes' incremental fit
//! (`GaussianNbValidParams::fit_with`). Classes are numeric label values, kept in ascending
//! order; probabilities (`rawPrediction`) follow that order. `likelihood = "river"` makes it
//! river 0.26.1's `naive_bayes.GaussianNB` instead (river's running statistics and scoring, as
//! src/model.rs describes). This crate compiles natively (for tests) and to a wasm32-wasip2
//! component.

mod linfa_fit;
mod model;
mod operator;
mod params;
use eddy_sdk::rows;

pub use model::{ClassStats, Model, RiverClass, RiverStats};
pub use operator::GaussianNaiveBayes;
pub use params::{Likelihood, Params};

eddy_sdk::export_operator!(GaussianNaiveBayes);
