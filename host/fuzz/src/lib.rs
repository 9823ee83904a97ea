//! Fuzz targets for eddy's decoders of untrusted bytes: record values (JSON and Arrow IPC),
//! replay files, checkpoint-topic records (manifests and chunks), pipeline snapshots, and the
//! host's strict reading of what an operator returns (outputs and model data).
//!
//! Each [`Target`] is a function of one byte string that must neither panic, abort nor
//! allocate without bound, whatever the bytes; [`targets::all`] lists them with valid seed
//! inputs. Two drivers run them: `cargo test -p eddy-fuzz` mutates the seeds structurally
//! ([`mutate`]: bit flips, truncation, splices of other seeds, length fields and numbers set
//! huge) with proptest's generators, under an allocation guard ([`guard`]), a bounded number of
//! cases per target (`EDDY_FUZZ_CASES` raises it); and `host/fuzz/fuzz` holds the same targets
//! for libFuzzer (`cargo +nightly fuzz run <target>`).

pub mod guard;
pub mod mutate;
pub mod targets;

pub use targets::{Target, all};
