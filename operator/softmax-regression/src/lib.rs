//! OnlineSoftmaxRegression: multi-class logistic (softmax) regression learned online, as an
//! eddy operator. Each row is scored with the model in force at its position; labelled rows are
//! gathered into count-based global batches (`globalBatchSize`, 1 by default) and each full batch
//! takes one SGD step on the mean cross-entropy gradient, with L2 on the weights. Classes are
//! numeric label values discovered from the data (or declared with `classes`), kept in ascending
//! order; a class enters with zero weights at the update of the batch where it is first seen.
//! With `fitIntercept = false` it follows river's `SoftmaxRegression(optimizer=SGD(0.01))` step
//! for step. This crate compiles natively (for tests) and to a wasm32-wasip2 component.

mod model;
mod operator;
mod params;
use eddy_sdk::rows;

pub use model::Model;
pub use operator::SoftmaxRegression;
pub use params::Params;

eddy_sdk::export_operator!(SoftmaxRegression);
