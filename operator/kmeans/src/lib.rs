//! OnlineKMeans: mini-batch k-means with a decay factor, with exactly Flink ML's semantics
//! (count-based global batches, Flink's distance measures and tie-breaking, the initial model
//! published as version 0), as an eddy operator. See
//! `shared/design/flinkml-online-algorithms.md` for the arithmetic; this crate compiles
//! natively (for tests) and to a wasm32-wasip2 component.

mod model;
mod operator;
mod params;

pub use model::{DistanceMeasure, Model};
pub use operator::OnlineKMeans;
pub use params::{InitialModel, Params};

eddy_sdk::export_operator!(OnlineKMeans);
