//! OnlineStandardScaler: standardises a vector column with a mean and standard deviation
//! learnt online over windows (global, count-tumbling, event-time tumbling or session), with
//! Flink ML's semantics, including `maxAllowedModelDelayMs` (rows wait, in the state, for a
//! fresh enough model). See `shared/design/flinkml-online-algorithms.md` for the arithmetic.
//! `variance = "river"` makes it river 0.26.1's `preprocessing.StandardScaler` instead (river's
//! running mean and population variance, updated after every row, and river's transform, as
//! src/model.rs describes). This crate compiles natively (for tests) and to a wasm32-wasip2
//! component.

mod model;
mod operator;
mod params;
mod windows;

pub use model::{RiverStats, ScalerModel, Stats};
pub use operator::OnlineStandardScaler;
pub use params::{Params, Variance, Windows};

eddy_sdk::export_operator!(OnlineStandardScaler);
