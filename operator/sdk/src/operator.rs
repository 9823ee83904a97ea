//! The [`Operator`] trait: the one thing an operator author implements.

use arrow_array::RecordBatch;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::snapshot::{self, SnapshotKind};
use crate::{ColumnSpec, Config, OperatorError, OperatorInfo};

/// What one call to [`Operator::process`] produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// Output rows: the operator's output columns plus `__seq` (UInt64) naming the input row
    /// each answers.
    pub outputs: RecordBatch,
    /// One row per model version published during the call, in order; `None` when none was.
    /// Add a UInt64 `__seq` column naming the input row that published each model, so the
    /// host can stamp model records deterministically.
    pub models: Option<RecordBatch>,
}

/// Whether the host wants model versions ([`Operator::set_publish_models`]), as a field of an
/// operator: on by default, and meant to be `#[serde(skip)]`, so that snapshots never hold it
/// and a restored operator starts with it on (the SDK sets it again after a restore).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishModels(pub bool);

impl Default for PublishModels {
    fn default() -> Self {
        Self(true)
    }
}

impl PublishModels {
    /// Whether model versions are wanted.
    pub fn on(self) -> bool {
        self.0
    }
}

/// An online learner or transformer.
///
/// The struct's fields are its state: the default [`Operator::snapshot`] and
/// [`Operator::restore`] serialize the whole value (with serde, through postcard), so anything
/// that must survive a restart (model, accumulators, partial batch, counters, RNG) is a field,
/// and nothing else should be.
pub trait Operator: Serialize + DeserializeOwned + Sized + 'static {
    /// Describes the operator: name, version, kind, parameters.
    fn describe() -> OperatorInfo;

    /// Opens an instance from a config already checked for unknown parameters.
    fn open(config: &Config) -> Result<Self, OperatorError>;

    /// The columns this instance reads from each input row.
    fn input_columns(&self) -> Vec<ColumnSpec>;

    /// Scores every row of `batch` with the model in force at its position, then learns from
    /// it. On error the state must be unchanged (validate the whole batch before learning).
    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError>;

    /// No row with an event time at or before `timestamp` will follow: close event-time
    /// windows and answer waiting rows. The default does nothing.
    fn watermark(&mut self, timestamp: i64) -> Result<Option<Output>, OperatorError> {
        let _ = timestamp;
        Ok(None)
    }

    /// The current model as a one-row batch (same columns as [`Output::models`]).
    fn model_data(&self) -> Result<RecordBatch, OperatorError>;

    /// The host says whether it wants model versions (the WIT `set-publish-models`); an
    /// instance starts with them on. While they are off the SDK drops the [`Output::models`]
    /// that `process` and `watermark` return, without encoding them, so the default (which
    /// ignores the call) is always correct. An operator that spends time building model rows
    /// overrides it to skip building them, keeping the setting in a field that is not state
    /// (`#[serde(skip)] publish: `[`PublishModels`]). Nothing else may change: outputs, state
    /// and model version numbers stay the same either way. The SDK calls it again after a
    /// restore (which replaces the fields), so an operator need not keep it across one.
    fn set_publish_models(&mut self, on: bool) {
        let _ = on;
    }

    /// The host says whether to add learned forms to the outputs (the WIT
    /// `set-learned-outputs`; off at the start): when on, a transformer adds, for each output
    /// column `c`, the column `c@learned` ([`crate::learned_name`]) holding the row as
    /// transformed after learning from it, so that a chain learns river's way. Operators that
    /// are not transformers ignore it (the default). Like [`Operator::set_publish_models`] it
    /// is the host's setting, kept in a `#[serde(skip)]` field, and set again after a restore.
    fn set_learned_outputs(&mut self, on: bool) {
        let _ = on;
    }

    /// The whole state as bytes, in an envelope naming this operator and its major version.
    fn snapshot(&self) -> Result<Vec<u8>, OperatorError> {
        snapshot::seal(&Self::describe(), self)
    }

    /// Replaces the state with a snapshot taken by [`Operator::snapshot`].
    fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        *self = snapshot::open(&Self::describe(), state)?;
        Ok(())
    }

    /// The state for a host checkpoint: with `full` a whole snapshot, else either a whole one
    /// or a [`SnapshotKind::Delta`] of what changed since this instance's previous snapshot
    /// (the WIT `snapshot`). The default is always [`Operator::snapshot`], full; operators
    /// with large states override it (and [`Operator::restore_chain`]).
    fn snapshot_blob(&self, full: bool) -> Result<(SnapshotKind, Vec<u8>), OperatorError> {
        let _ = full;
        Ok((SnapshotKind::Full, self.snapshot()?))
    }

    /// Replaces the state with a chain of snapshots, oldest first: a full one and the deltas
    /// after it (the WIT `restore`). The default takes a chain of one snapshot.
    fn restore_chain(&mut self, chain: &[&[u8]]) -> Result<(), OperatorError> {
        match chain {
            [one] => self.restore(one),
            [] => Err(OperatorError::internal("restore: the snapshot chain is empty")),
            _ => Err(OperatorError::internal(format!(
                "restore: a chain of {} snapshots, but {} takes no incremental snapshots (one full snapshot only)",
                chain.len(),
                Self::describe().name
            ))),
        }
    }

    /// Convenience for tests and native hosts: parse `json` against [`Operator::describe`] and
    /// open.
    fn open_json(json: &str) -> Result<Self, OperatorError> {
        let info = Self::describe();
        Self::open(&Config::parse(json, &info.params)?)
    }
}
