//! HoeffdingTreeClassifier: a Hoeffding tree (Very Fast Decision Tree) learned online, as an
//! eddy operator, following river 0.26.1's `tree.HoeffdingTreeClassifier` step for step. Each
//! row is scored with the tree as it stands, then, if it has a label, learned: it reaches a
//! leaf, which counts its class and updates one Gaussian observer per feature; every
//! `gracePeriod` of weight the leaf weighs candidate thresholds (information gain, Gini or
//! Hellinger) and splits when the Hoeffding bound says the best one beats the runner-up (or
//! when the bound falls under `tau`). Leaves predict with naive Bayes, class frequencies, or
//! whichever has been right more often there. Every split is a new model version. Classes are
//! numeric label values, kept in ascending order; probabilities (`rawPrediction`) follow that
//! order. This crate compiles natively (for tests) and to a wasm32-wasip2 component.

mod criterion;
mod dist;
mod model;
mod operator;
mod params;
mod splitter;
mod tree;

pub use dist::{ClassId, Dist};
pub use model::ModelRow;
pub use operator::{HoeffdingTree, MAX_FEATURE_MAGNITUDE};
pub use params::{LeafPrediction, Params, SplitCriterion};
pub use splitter::{ClassGaussian, Splitter};
pub use tree::{Branch, Growth, Leaf, Node, Tree};

eddy_sdk::export_operator!(HoeffdingTree);
