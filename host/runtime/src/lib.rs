//! eddy's host library: everything between Kafka-shaped records and an operator component.
//!
//! A [`Runtime`] compiles (and caches) operator components and enforces the sandbox
//! ([`Limits`]); an [`OperatorComponent`] is instantiated once per partition as an
//! [`OperatorInstance`]. A [`Pipeline`] decodes a call's records into one Arrow batch
//! ([`decode`]), drives a chain of instances, joins their answers to the waiting rows by
//! `__seq` (take, never a per-row map), routes bad records to dead letters, and encodes
//! predictions and model versions only at the sink ([`encode`]). [`replay`] reads and writes
//! recorded topics as streams; [`untrusted`] checks Arrow IPC bytes from outside before arrow reads
//! them; [`job`] parses job files; [`run`] runs a job over a replay in
//! bounded memory; [`metrics`] computes prequential metrics and [`drift`] detects where their
//! error changes. The `eddy` CLI and the Flink adapter are thin layers over this crate.

mod bindings;
mod component;
mod convert;
pub mod decode;
pub mod drift;
pub mod encode;
mod error;
mod frame;
mod host_state;
mod instance;
pub mod job;
mod limits;
pub mod metrics;
mod outputs;
mod pipeline;
mod record;
mod records;
mod recovery;
pub mod replay;
pub mod run;
mod runtime;
mod snapshot;
pub mod untrusted;

pub use component::OperatorComponent;
pub use eddy_sdk::SnapshotKind;
pub use error::{Fault, HostError, Result};
pub use instance::{CallError, OperatorInstance, Processed};
pub use limits::Limits;
pub use pipeline::{ChainLearning, DEFAULT_BATCH_ROWS, Format, Pipeline, PipelineOutput, Predecoder};
pub use record::{Origin, Record, headers};
pub use records::Records;
pub use runtime::{Runtime, default_cache_dir};
pub use snapshot::{PipelineSnapshot, StageSnapshot, chain_start};
