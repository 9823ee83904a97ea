//! OnlineLinearRegression: linear regression with an intercept learned online on squared loss,
//! as an eddy operator. Each row is predicted with the model in force at its position; labelled
//! rows are gathered into count-based global batches (`globalBatchSize`, 1 by default) and each
//! full batch takes one SGD or AdaGrad step on its mean gradient, with L2 on the coefficients and
//! a separate learning rate for the intercept. With the defaults it follows river's
//! `LinearRegression(optimizer=SGD(0.01), intercept_lr=0.01)` step for step. This crate compiles
//! natively (for tests) and to a wasm32-wasip2 component.

mod model;
mod operator;
mod params;
use eddy_sdk::rows;

pub use model::Model;
pub use operator::LinearRegression;
pub use params::{Optimizer, Params};

eddy_sdk::export_operator!(LinearRegression);
