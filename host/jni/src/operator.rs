//! What one handle holds: one opened operator for one Flink subtask, which may serve several
//! input partitions. Each partition gets its own [`Pipeline`], exactly as `eddy run` gives each
//! partition its own, so a partition's outputs and state are bit for bit those of `eddy run` on
//! the same records in the same order, whatever else the subtask serves and however its rows
//! are batched.
//!
//! The snapshot of a handle is the list of its partitions' [`PipelineSnapshot`] bytes (plus the
//! count of model records each partition has published), so it stays restorable partition by
//! partition.

use std::collections::BTreeMap;

use eddy_host::{Format, OperatorComponent, Pipeline, PipelineOutput, PipelineSnapshot, Record};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, usage};
use crate::wire::{Sink, WireRecord};

/// First bytes of a handle snapshot.
const SNAPSHOT_MAGIC: &[u8; 8] = b"eddyjni\x01";

/// One opened operator: a component, its config, and a pipeline per partition seen so far.
pub struct Operator {
    component: OperatorComponent,
    config: Value,
    partitions: BTreeMap<i32, Partition>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("operator", &self.component.info().name)
            .field("partitions", &self.partitions.keys().collect::<Vec<_>>())
            .finish()
    }
}

struct Partition {
    pipeline: Pipeline,
    /// Model records published so far: the offset the next one has in `eddy run`'s models sink.
    models: i64,
}

#[derive(Serialize, Deserialize)]
struct HandleSnapshot {
    operator: String,
    partitions: Vec<PartitionSnapshot>,
}

#[derive(Serialize, Deserialize)]
struct PartitionSnapshot {
    partition: i32,
    models: i64,
    /// [`PipelineSnapshot::to_bytes`].
    pipeline: Vec<u8>,
}

impl Operator {
    /// Opens `component` with `config_json` (a JSON object). The config is checked now, by
    /// opening one instance, so a bad parameter fails the job at start rather than at the
    /// first record.
    pub fn open(component: OperatorComponent, config_json: &str) -> Result<Self> {
        let config: Value = serde_json::from_str(config_json).map_err(|e| usage(format!("the operator config is not JSON: {e}")))?;
        if !config.is_object() {
            return Err(usage("the operator config must be a JSON object"));
        }
        drop(component.instantiate(&config.to_string())?);
        Ok(Self { component, config, partitions: BTreeMap::new() })
    }

    /// The operator's name.
    pub fn name(&self) -> &str {
        &self.component.info().name
    }

    fn partition(&mut self, partition: i32) -> Result<&mut Partition> {
        if !self.partitions.contains_key(&partition) {
            // Dead letters on: the Flink operator always has a dead-letter side output, like a
            // job with a dead_letters sink.
            let pipeline = Pipeline::new(&self.component, &self.config, partition, Format::Json, true)?;
            self.partitions.insert(partition, Partition { pipeline, models: 0 });
        }
        Ok(self.partitions.get_mut(&partition).expect("inserted above"))
    }

    /// Runs one batch of rows of `partition` (values, timestamps and offsets have one element
    /// per row) and returns its outputs in order: dead letters, predictions, then models, as
    /// the pipeline produced them.
    pub fn process(&mut self, partition: i32, records: &[Record]) -> Result<Vec<WireRecord>> {
        let p = self.partition(partition)?;
        let (out, r) = p.pipeline.process(records);
        r?;
        Ok(p.wire(out))
    }

    /// Tells every partition that its input has ended (the watermark `eddy run` sends at the
    /// end of a replay) and returns what that released.
    pub fn finish(&mut self) -> Result<Vec<WireRecord>> {
        let mut all = Vec::new();
        for p in self.partitions.values_mut() {
            let (out, r) = p.pipeline.finish();
            r?;
            all.extend(p.wire(out));
        }
        Ok(all)
    }

    /// The whole state: every partition's pipeline snapshot.
    pub fn snapshot(&mut self) -> Result<Vec<u8>> {
        let mut partitions = Vec::with_capacity(self.partitions.len());
        for (&partition, p) in &mut self.partitions {
            partitions.push(PartitionSnapshot { partition, models: p.models, pipeline: p.pipeline.snapshot()?.to_bytes() });
        }
        let snap = HandleSnapshot { operator: self.name().to_owned(), partitions };
        let mut bytes = SNAPSHOT_MAGIC.to_vec();
        bytes.extend(postcard::to_stdvec(&snap).map_err(|e| usage(format!("snapshot does not serialize: {e}")))?);
        Ok(bytes)
    }

    /// Replaces the state with a snapshot taken by [`Operator::snapshot`] (of an operator with
    /// the same name and major version, opened with the same config).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let body = bytes
            .strip_prefix(SNAPSHOT_MAGIC.as_slice())
            .ok_or_else(|| usage("cannot restore: not a snapshot taken by eddy's native library (or of another format version)"))?;
        let snap: HandleSnapshot = postcard::from_bytes(body).map_err(|e| usage(format!("cannot restore: corrupt snapshot: {e}")))?;
        if snap.operator != self.name() {
            return Err(usage(format!("cannot restore: the snapshot is of operator {}, but this is {}", snap.operator, self.name())));
        }
        let mut partitions = BTreeMap::new();
        for ps in snap.partitions {
            let mut pipeline = Pipeline::new(&self.component, &self.config, ps.partition, Format::Json, true)?;
            pipeline.restore(&PipelineSnapshot::from_bytes(&ps.pipeline)?)?;
            partitions.insert(ps.partition, Partition { pipeline, models: ps.models });
        }
        self.partitions = partitions;
        Ok(())
    }
}

impl Partition {
    fn wire(&mut self, out: PipelineOutput) -> Vec<WireRecord> {
        let mut v = Vec::with_capacity(out.dead_letters.len() + out.predictions.len() + out.models.len());
        v.extend(out.dead_letters.into_iter().map(|r| WireRecord::answering(Sink::DeadLetters, r)));
        v.extend(out.predictions.into_iter().map(|r| WireRecord::answering(Sink::Predictions, r)));
        for r in out.models {
            v.push(WireRecord::new(Sink::Models, r, self.models));
            self.models += 1;
        }
        v
    }
}
