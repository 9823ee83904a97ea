//! eddy's native library for the JVM (`libeddy_jni.so`): the JNI methods of
//! `dev.eddy.flink.NativeOperator` (host/flink), over eddy-host's per-partition
//! [`eddy_host::Pipeline`]s, so an operator runs inside Flink exactly as `eddy run` runs it.
//!
//! A Java handle names an [`Operator`]: one component opened with one config for one Flink
//! subtask, with a pipeline per input partition it has seen. Rows arrive a batch of one
//! partition at a time as JSON values; outputs go back as [`WireRecord`]s in their wire form (a
//! JSON header line, then the value bytes), whose value is byte for byte what `eddy run` writes
//! to its sinks. The snapshot of a handle
//! is its partitions' pipeline snapshots. One wasm runtime serves the process; components are
//! compiled once per name or path (`registry.rs`). Errors and panics become
//! `dev.eddy.flink.EddyException`s (`exports.rs`); nothing unwinds into the JVM.

mod error;
mod exports;
mod operator;
mod registry;
mod wire;

pub use error::{Error, Result};
pub use exports::{SELF_TEST_PANIC, ThrowEddyException, describe};
pub use operator::Operator;
pub use wire::{Sink, WireRecord};
