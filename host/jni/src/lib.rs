//! eddy's native library for the JVM (`libeddy_jni.so`): the JNI methods of
//! `dev.eddy.core.NativeOperator` (host/java-core, used by the Flink and Kafka Streams adapters),
//! over eddy-host's per-partition [`eddy_host::Pipeline`]s, so an operator runs inside Flink or
//! Kafka Streams exactly as `eddy run` runs it.
//!
//! A Java handle names an [`Operator`]: one component (or a chain of them) opened with its config
//! for one Flink subtask or Kafka Streams task, with a pipeline per input partition it has seen. Rows arrive a batch of one
//! partition at a time as JSON values; outputs go back as [`WireRecord`]s in their wire form (a
//! JSON header line, then the value bytes), whose value is byte for byte what `eddy run` writes
//! to its sinks. The snapshot of a handle
//! is its partitions' pipeline snapshots. One wasm runtime serves the process; components are
//! compiled once per name or path (`registry.rs`). Errors and panics become
//! `dev.eddy.core.EddyException`s (`exports.rs`); nothing unwinds into the JVM.

mod error;
mod exports;
mod operator;
mod registry;
mod wire;

pub use error::{Error, Result};
pub use exports::{SELF_TEST_PANIC, ThrowEddyException, describe};
pub use operator::{OpenSpec, Operator};
pub use wire::{Sink, WireRecord};
