//! HalfSpaceTrees: streaming anomaly scores with half-space trees (Tan, Ting and Liu 2011), as
//! river 0.26.1's `anomaly.HalfSpaceTrees`, as an eddy operator. `nTrees` random trees split
//! the feature limits; every node counts the rows of the latest window and keeps the counts of
//! the previous full window as the reference. Each row is scored against the reference
//! (sparsely visited nodes make high scores, in [0, 1]), then counted; every `windowSize` rows
//! the windows swap and a model version is published. Split features and points are drawn as
//! river draws them (CPython's Mersenne Twister, bit for bit), so for one seed eddy's scores are
//! river's. This crate compiles natively (for tests) and to a wasm32-wasip2 component.

mod forest;
mod operator;
mod params;
mod python_random;

pub use forest::Forest;
pub use operator::HalfSpaceTrees;
pub use params::{MAX_NODES, Params};
pub use python_random::PythonRandom;

eddy_sdk::export_operator!(HalfSpaceTrees);
