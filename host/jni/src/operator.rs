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
use crate::registry;
use crate::wire::{Sink, WireRecord};

/// First bytes of a handle snapshot.
const SNAPSHOT_MAGIC: &[u8; 8] = b"eddyjni\x01";

/// One opened operator (or chain): its components and configs, and a pipeline per partition
/// seen so far.
pub struct Operator {
    stages: Vec<(OperatorComponent, Value)>,
    name: String,
    format: Format,
    batch_rows: Option<usize>,
    partitions: BTreeMap<i32, Partition>,
}

/// What `NativeOperator.openSpec` takes, as JSON: the operators of a chain (a job file's
/// `[[operators]]`), the record values' format (`source.format`: `json`, the default, or
/// `arrow`), the sandbox limits (a job file's `[limits]`; omitted keys keep their defaults) and
/// the rows per call into the operators (`run.batch_size`; results do not depend on it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSpec {
    /// The chain, first operator first.
    pub operators: Vec<StageSpec>,
    /// How record values are encoded (and so predictions: JSON objects or Arrow IPC streams).
    #[serde(default)]
    pub format: Format,
    /// Memory and time limits of every instance.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Rows per call into the operators.
    #[serde(default)]
    pub batch_rows: Option<usize>,
}

/// One operator of an [`OpenSpec`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// A component file, or the name of an operator eddy ships.
    pub component: String,
    /// The operator's config (a JSON object).
    #[serde(default)]
    pub config: Option<Value>,
}

/// The `limits` of an [`OpenSpec`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most linear memory one instance may hold, in MiB.
    pub memory_mib: Option<u64>,
    /// Longest one call may run, in milliseconds.
    pub call_timeout_ms: Option<u64>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").field("operator", &self.name).field("partitions", &self.partitions.keys().collect::<Vec<_>>()).finish()
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
        Self::chain(vec![(component, config)], Format::Json, None)
    }

    /// Opens what an [`OpenSpec`] (JSON) names: a chain of operators, with its limits.
    pub fn open_spec(spec_json: &str) -> Result<Self> {
        let spec: OpenSpec = serde_json::from_str(spec_json).map_err(|e| usage(format!("the operator spec is not valid: {e}")))?;
        let mut limits = eddy_host::Limits::default();
        if let Some(m) = spec.limits.memory_mib {
            limits.memory_mib = m;
        }
        if let Some(t) = spec.limits.call_timeout_ms {
            limits.call_timeout_ms = t;
        }
        let mut stages = Vec::with_capacity(spec.operators.len());
        for s in spec.operators {
            let config = s.config.unwrap_or_else(|| Value::Object(Default::default()));
            stages.push((registry::component_with(&s.component, limits)?, config));
        }
        Self::chain(stages, spec.format, spec.batch_rows)
    }

    /// Opens a chain (one operator or more). The configs are checked now, by opening one
    /// instance of each, so a bad parameter fails the job at start rather than at the first
    /// record.
    fn chain(stages: Vec<(OperatorComponent, Value)>, format: Format, batch_rows: Option<usize>) -> Result<Self> {
        if stages.is_empty() {
            return Err(usage("a chain needs at least one operator"));
        }
        if batch_rows == Some(0) {
            return Err(usage("batch_rows must be at least 1"));
        }
        for (i, (component, config)) in stages.iter().enumerate() {
            if !config.is_object() {
                return Err(usage(format!("the config of operator {} must be a JSON object", i + 1)));
            }
            drop(component.instantiate(&config.to_string())?);
        }
        let name = stages.iter().map(|(c, _)| c.info().name.clone()).collect::<Vec<_>>().join(" | ");
        Ok(Self { stages, name, format, batch_rows, partitions: BTreeMap::new() })
    }

    /// The operator's name (`A | B` for a chain).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn new_pipeline(&self, partition: i32) -> Result<Pipeline> {
        // Dead letters on: the adapters always have a dead-letter output, like a job with a
        // dead_letters sink.
        let stages: Vec<(&OperatorComponent, &Value)> = self.stages.iter().map(|(c, v)| (c, v)).collect();
        let mut pipeline = Pipeline::chain(&stages, partition, self.format, true)?;
        if let Some(rows) = self.batch_rows {
            pipeline.set_batch_rows(rows);
        }
        Ok(pipeline)
    }

    fn partition(&mut self, partition: i32) -> Result<&mut Partition> {
        if !self.partitions.contains_key(&partition) {
            let pipeline = self.new_pipeline(partition)?;
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
            let mut pipeline = self.new_pipeline(ps.partition)?;
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
