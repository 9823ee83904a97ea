//! eddy on Kafka: `[source.kafka]` and `[sinks.kafka]` of a job file, run exactly once.
//!
//! [`run_kafka`] joins the job's consumer group, runs one `eddy_host::Pipeline` per assigned
//! partition, and commits one Kafka transaction per checkpoint interval holding the
//! predictions, model versions and dead letters produced since the last one, every changed
//! pipeline's snapshot (on a compacted checkpoint topic, chunked when large; see
//! [`checkpoint`]) and the consumer offsets. A restart (after a crash, a rebalance, an aborted
//! transaction, a broker outage) restores every partition from its last committed checkpoint
//! and resumes from the checkpoint's offset; operators are deterministic, so the committed
//! output is the output of an uninterrupted run. [`topic`] records live topics into replay
//! files and produces replay files into topics. [`metrics`] serves Prometheus metrics.

pub mod checkpoint;
mod client;
pub mod config;
mod error;
pub mod metrics;
mod partition;
mod runner;
mod sink;
mod store;
pub mod topic;
mod worker;

pub use config::KafkaJob;
pub use error::{Error, Result};
pub use runner::{KafkaSummary, RunOptions, human_bytes, run_kafka};
