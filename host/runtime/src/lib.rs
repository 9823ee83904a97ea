//! eddy's host library: everything between Kafka-shaped records and an operator component.
//!
//! A [`Runtime`] compiles (and caches) operator components and enforces the sandbox
//! ([`Limits`]); an [`OperatorComponent`] is instantiated once per partition as an
//! [`OperatorInstance`]. A [`Pipeline`] turns records into Arrow input batches
//! ([`decode`]), drives an instance, routes bad records to dead letters, and turns outputs
//! back into prediction and model records ([`encode`]). [`replay`] reads and writes recorded
//! topics; [`job`] parses job files; [`run`] runs a job over replays; [`metrics`] computes
//! prequential metrics. The `eddy` CLI and the Flink adapter are thin layers over this crate.

mod bindings;
mod component;
pub mod decode;
pub mod encode;
mod error;
mod instance;
pub mod job;
mod limits;
pub mod metrics;
mod pipeline;
mod record;
pub mod replay;
pub mod run;
mod runtime;

pub use component::OperatorComponent;
pub use error::{Fault, HostError, Result};
pub use instance::{CallError, OperatorInstance, Processed};
pub use limits::Limits;
pub use eddy_sdk::SnapshotKind;
pub use pipeline::{Format, Pipeline, PipelineOutput, PipelineSnapshot, StageSnapshot, chain_start};
pub use record::{Origin, Record, headers};
pub use runtime::{Runtime, default_cache_dir};
