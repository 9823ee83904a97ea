//! OnlineStandardScaler: standardises a vector column with a mean and standard deviation
//! learnt online over windows (global, count-tumbling, event-time tumbling or session), with
//! Flink ML's semantics, including `maxAllowedModelDelayMs` (rows wait, in the state, for a
//! fresh enough model). See `shared/design/flinkml-online-algorithms.md` for the arithmetic;
//! this crate compiles natively (for tests) and to a wasm32-wasip2 component.

mod model;
mod operator;
mod params;
mod windows;

pub use model::{ScalerModel, Stats};
pub use operator::OnlineStandardScaler;
pub use params::{Params, Windows};

eddy_sdk::export_operator!(OnlineStandardScaler);
