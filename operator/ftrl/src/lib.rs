//! OnlineLogisticRegression: FTRL-Proximal logistic regression with exactly Flink ML's
//! semantics (count-based global batches, dense and sparse features, model versions from 1),
//! as an eddy operator. See `shared/design/flinkml-online-algorithms.md` for the arithmetic;
//! this crate compiles natively (for tests and benchmarks) and to a wasm32-wasip2 component.
//! `update = "river"` makes it river 0.26.1's `LogisticRegression` with the `FTRLProximal`
//! optimizer instead (row by row, river's order of operations; see [`Update`]).

mod model;
mod operator;
mod params;

pub use operator::Ftrl;
pub use params::{InitialModel, Params, Update};

eddy_sdk::export_operator!(Ftrl);
