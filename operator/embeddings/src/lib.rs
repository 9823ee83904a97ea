//! EmbeddingUpdater: user and item embeddings learned online from interaction events, as an
//! eddy operator. Implicit-feedback matrix factorisation (BPR or logistic loss with negatives
//! sampled uniformly from the known items and, optionally, from a window of recent positives;
//! plain SGD for users and row-wise AdaGrad for items by default), in collisionless tables keyed by the raw id with admission, event-time expiry and a
//! memory bound. Each event is ranked against the known items (one matrix-vector product)
//! before it is learned from; the
//! vectors changed since the last publication (and tombstones for evicted ids) are published
//! as model rows; snapshots can be deltas of the changed entries. See README.md.

mod math;
mod model;
mod operator;
mod params;
mod recency;
mod rng;
pub mod snapshot;
mod table;

pub use model::{Event, Model, PublishedRow, Score};
pub use operator::{Embeddings, MAX_ID_BYTES, display_id};
pub use params::{IdFormat, Loss, Optimizer, Params};
pub use table::Kind;

eddy_sdk::export_operator!(Embeddings);
