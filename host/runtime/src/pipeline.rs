//! A per-partition pipeline: records in, operator instance in the middle, prediction, model
//! and dead-letter records out. It owns the `__seq` numbering, the rows waiting for an answer,
//! the dead-letter policy and the prequential metrics, and snapshots all of it with the
//! operator's own state, so a restore continues bit for bit.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::{OperatorError, OperatorKind, SEQ_COLUMN, SnapshotKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::decode::{Decoded, build_batch, check_json, decode};
use crate::encode::{merge, rows_to_json};
use crate::instance::{CallError, Processed};
use crate::metrics::Prequential;
use crate::record::headers as h;
use crate::{HostError, OperatorComponent, OperatorInstance, Origin, Record, Result};

/// How record values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Each value is one JSON object.
    #[default]
    Json,
    /// Each value is an Arrow IPC stream of one or more rows.
    Arrow,
}

/// Records a pipeline step produced, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PipelineOutput {
    /// One per answered input record (Arrow records: per group of answered rows).
    pub predictions: Vec<Record>,
    /// One per model version published.
    pub models: Vec<Record>,
    /// One per refused record, with the reason in headers.
    pub dead_letters: Vec<Record>,
    /// Changed embeddings (when routed, see [`Pipeline::route_embeddings`]): one record per id,
    /// key `kind:id`, value `{kind, id, vector, modelVersion, eventTime}`; an evicted id is a
    /// tombstone, a record with an empty value (a Kafka sink writes a null value).
    pub embeddings: Vec<Record>,
}

impl PipelineOutput {
    /// Appends another step's output.
    pub fn extend(&mut self, o: PipelineOutput) {
        self.predictions.extend(o.predictions);
        self.models.extend(o.models);
        self.dead_letters.extend(o.dead_letters);
        self.embeddings.extend(o.embeddings);
    }
}

/// One stage's part of a [`PipelineSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSnapshot {
    /// Operator name, checked on restore.
    pub operator: String,
    /// Operator version.
    pub version: String,
    /// Whether `state` is whole or a delta on this stage's state in the previous snapshot
    /// of a chain (see [`Pipeline::restore_chain`]).
    pub kind: SnapshotKind,
    /// The operator's snapshot bytes.
    pub state: Vec<u8>,
    /// Rows sent to this stage but not answered yet: (seq, record, row in record, the JSON
    /// text of the earlier stages' outputs for that row, if any).
    pub pending: Vec<(u64, Record, usize, Option<String>)>,
}

/// Everything needed to resume a pipeline: every stage's operator snapshot plus the host's own
/// state (numbering, rows waiting for an answer, latest timestamp).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// One per stage, in chain order.
    pub stages: Vec<StageSnapshot>,
    /// Next `__seq` to hand out.
    pub next_seq: u64,
    /// Latest record timestamp seen (stamps model records that name no input row).
    pub last_timestamp: i64,
}

impl PipelineSnapshot {
    /// Serialized form.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("snapshot serializes")
    }

    /// Parses bytes written by [`PipelineSnapshot::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        postcard::from_bytes(b).map_err(|e| HostError::Restore(format!("not a pipeline snapshot: {e}")))
    }

    /// Whether every stage's state is whole, so that this snapshot restores alone.
    pub fn is_full(&self) -> bool {
        self.stages.iter().all(|s| s.kind == SnapshotKind::Full)
    }

    /// Of a chain of snapshots (oldest first), the index of the first one still needed to
    /// restore the last (see [`chain_start`]). A chain in which a stage has no full state is
    /// refused.
    pub fn needed_from(chain: &[PipelineSnapshot]) -> Result<usize> {
        let Some(last) = chain.last() else { return Err(HostError::Restore("an empty snapshot chain".into())) };
        let flags: Vec<Vec<bool>> = chain.iter().map(|s| s.stages.iter().map(|st| st.kind == SnapshotKind::Full).collect()).collect();
        let flags: Vec<&[bool]> = flags.iter().map(Vec::as_slice).collect();
        chain_start(&flags).ok_or_else(|| {
            let i = (0..last.stages.len()).find(|&i| !flags.iter().any(|f| f.get(i).copied().unwrap_or(false))).unwrap_or(0);
            HostError::Restore(format!(
                "the snapshot chain has no full snapshot of stage {} ({}): its {} snapshots are all deltas",
                i + 1,
                last.stages.get(i).map_or("?", |s| s.operator.as_str()),
                chain.len()
            ))
        })
    }

    /// The operator names, in chain order (for error messages and logs).
    pub fn operators(&self) -> String {
        self.stages.iter().map(|s| format!("{} {}", s.operator, s.version)).collect::<Vec<_>>().join(" | ")
    }
}

/// Of a chain of snapshots (oldest first), each given by whether it holds each stage's state
/// whole, the index of the first one still needed to restore the last: every stage needs its
/// last whole state and the deltas after it. `None` if a stage has no whole state in the chain
/// (or the chain is empty). Hosts that store chains use it to drop what a newer full state
/// replaced.
pub fn chain_start(full_stages: &[&[bool]]) -> Option<usize> {
    let last = full_stages.last()?;
    let mut from = full_stages.len() - 1;
    for i in 0..last.len() {
        from = from.min(full_stages.iter().rposition(|f| f.get(i).copied().unwrap_or(false))?);
    }
    Some(from)
}

struct Entry {
    record: Record,
    decoded: Decoded,
}

/// A row in flight at one stage: its record, its row in the record, and (after the first
/// stage) the outputs of the stages before, which the next stage may read.
#[derive(Clone)]
struct Item {
    entry: Arc<Entry>,
    row: usize,
    seq: u64,
    extra: Option<Arc<Map<String, Value>>>,
}

impl Item {
    /// The row's fields as JSON: the record's fields, then earlier stages' outputs.
    fn fields(&self) -> Map<String, Value> {
        let mut m = match &self.entry.decoded {
            Decoded::Json(m) => m.clone(),
            Decoded::Arrow(b) => rows_to_json(&b.slice(self.row, 1)).ok().and_then(|v| v.into_iter().next()).unwrap_or_default(),
        };
        if let Some(x) = &self.extra {
            for (k, v) in x.iter() {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

/// Which output columns the metrics read, from the last operator's kind and config.
#[derive(Debug, Clone)]
struct MetricCols {
    kind: OperatorKind,
    label: String,
    prediction: String,
    raw: String,
}

struct Stage {
    instance: OperatorInstance,
    pending: BTreeMap<u64, Item>,
}

/// One partition's pipeline: a chain of one or more operators.
pub struct Pipeline {
    stages: Vec<Stage>,
    name: String,
    partition: i32,
    format: Format,
    dead_letters: bool,
    next_seq: u64,
    metric_cols: MetricCols,
    metrics: Prequential,
    last_timestamp: i64,
    route_embeddings: bool,
    /// For each model (or embedding) record of the call in progress: (the `__seq` of the row
    /// that published it, stage). Sorting by it makes the order independent of batching.
    model_keys: Vec<(u64, usize)>,
    embedding_keys: Vec<(u64, usize)>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("operators", &self.name).field("partition", &self.partition).field("next_seq", &self.next_seq).finish()
    }
}

fn config_str(config: &Value, key: &str, default: &str) -> String {
    config.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
}

fn call_err(operator: &str, range: String, e: CallError) -> HostError {
    match e {
        CallError::Operator(e) => HostError::OperatorInternal { operator: operator.into(), message: format!("{e} ({range})") },
        CallError::Failed(message) => HostError::OperatorFailed { operator: operator.into(), range, message },
    }
}

impl Pipeline {
    /// Opens one operator with `config` (a JSON object) for `partition`. With `dead_letters`
    /// false, a bad record stops the pipeline instead.
    pub fn new(component: &OperatorComponent, config: &Value, partition: i32, format: Format, dead_letters: bool) -> Result<Self> {
        Self::chain(&[(component, config)], partition, format, dead_letters)
    }

    /// Opens a chain of operators: each one's output columns are added to the row the next
    /// one reads. Every row is scored down the whole chain before it is answered; the last
    /// operator's kind and config choose the metrics.
    pub fn chain(stages: &[(&OperatorComponent, &Value)], partition: i32, format: Format, dead_letters: bool) -> Result<Self> {
        let (_, last_config) = stages.last().ok_or_else(|| HostError::Job("a pipeline needs at least one operator".into()))?;
        let mut opened = Vec::with_capacity(stages.len());
        for (c, cfg) in stages {
            opened.push(Stage { instance: c.instantiate(&cfg.to_string())?, pending: BTreeMap::new() });
        }
        let last = &opened.last().expect("non-empty").instance;
        let metric_cols = MetricCols {
            kind: last.info().kind,
            label: config_str(last_config, "labelCol", "label"),
            prediction: config_str(last_config, "predictionCol", "prediction"),
            raw: config_str(last_config, "rawPredictionCol", "rawPrediction"),
        };
        let name = opened.iter().map(|s| s.instance.info().name.clone()).collect::<Vec<_>>().join(" | ");
        Ok(Self {
            stages: opened,
            name,
            partition,
            format,
            dead_letters,
            next_seq: 0,
            metric_cols,
            metrics: Prequential::default(),
            last_timestamp: 0,
            route_embeddings: false,
            model_keys: Vec::new(),
            embedding_keys: Vec::new(),
        })
    }

    /// Sends an embedder's published vectors to [`PipelineOutput::embeddings`] as keyed
    /// records (one per id, tombstones for evicted ids) instead of to the models.
    pub fn route_embeddings(&mut self, on: bool) {
        self.route_embeddings = on;
    }

    /// The operator names, `A | B` for a chain.
    pub fn operator(&self) -> &str {
        &self.name
    }

    /// Prequential metrics of the rows answered so far.
    pub fn metrics(&self) -> &Prequential {
        &self.metrics
    }

    /// The partition this pipeline serves.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Processes `records` (in order). Returns what was produced; on a bad record without a
    /// dead-letter sink, or an operator failure, the error comes with everything produced
    /// before the failing record, so the caller can write it and stop.
    pub fn process(&mut self, records: &[Record]) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        let specs = self.stages[0].instance.input_columns().to_vec();
        let mut items = Vec::with_capacity(records.len());
        let mut stop = None;
        for r in records {
            self.last_timestamp = self.last_timestamp.max(r.timestamp);
            match decode(&r.value, r.timestamp, self.format, &specs) {
                Ok(decoded) => {
                    let rows = decoded.num_rows();
                    let entry = Arc::new(Entry { record: r.clone(), decoded });
                    for row in 0..rows {
                        items.push(Item { entry: entry.clone(), row, seq: self.next_seq + row as u64, extra: None });
                    }
                    self.next_seq += rows as u64;
                }
                Err(e) => {
                    let reason = match e.row {
                        Some(row) => format!("row {row}: {}", e.message),
                        None => e.message.clone(),
                    };
                    if self.dead_letters {
                        out.dead_letters.push(dead_letter(r, "decode", e.column.as_deref(), &reason));
                    } else {
                        stop = Some(HostError::BadRecord { origin: r.origin(), column: e.column, message: reason });
                        break;
                    }
                }
            }
        }
        let r = self.run_stage(0, items, &mut out);
        self.order(&mut out);
        if let Err(e) = r {
            return (out, Err(e));
        }
        (out, stop.map_or(Ok(()), Err))
    }

    /// Puts one call's outputs in an order that does not depend on how records were batched:
    /// dead letters by input position; models by the row that published them, then by stage
    /// (within one batch, every stage runs before the next one starts).
    fn order(&mut self, out: &mut PipelineOutput) {
        out.dead_letters.sort_by_key(|r| {
            let offset = r.header(h::ORIGIN_OFFSET).and_then(|o| o.parse::<i64>().ok()).unwrap_or(i64::MAX);
            (r.partition, offset)
        });
        for (records, keys) in [(&mut out.models, &mut self.model_keys), (&mut out.embeddings, &mut self.embedding_keys)] {
            debug_assert_eq!(records.len(), keys.len());
            let mut keyed: Vec<((u64, usize), Record)> = keys.drain(..).zip(records.drain(..)).collect();
            keyed.sort_by_key(|(k, _)| *k);
            records.extend(keyed.into_iter().map(|(_, r)| r));
        }
    }

    /// The first stage's input batch: whole records, in order (a record's rows are
    /// consecutive items).
    fn stage_batch(&self, items: &[Item]) -> Result<RecordBatch> {
        let specs = self.stages[0].instance.input_columns();
        let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
        let mut inputs: Vec<(&Decoded, i64)> = Vec::new();
        let mut last: Option<&Arc<Entry>> = None;
        for it in items {
            if !last.is_some_and(|l| Arc::ptr_eq(l, &it.entry)) {
                inputs.push((&it.entry.decoded, it.entry.record.timestamp));
                last = Some(&it.entry);
            }
        }
        build_batch(&inputs, specs, &seqs).map_err(|e| HostError::Runtime(format!("input batch: {}", e.message)))
    }

    fn run_stage(&mut self, stage: usize, mut items: Vec<Item>, out: &mut PipelineOutput) -> Result<()> {
        while !items.is_empty() {
            let batch = if stage == 0 {
                self.stage_batch(&items)?
            } else {
                // Rows that earlier stages answered: the record's fields plus their outputs,
                // checked against what this stage reads.
                let specs = self.stages[stage].instance.input_columns().to_vec();
                let rows: Vec<Decoded> = items.iter().map(|i| Decoded::Json(i.fields())).collect();
                let bad = rows.iter().zip(&items).enumerate().find_map(|(k, (row, it))| {
                    let Decoded::Json(m) = row else { unreachable!("JSON rows") };
                    specs.iter().find_map(|spec| check_json(m, spec, it.entry.record.timestamp).err()).map(|e| (k, e))
                });
                if let Some((k, e)) = bad {
                    let name = self.stages[stage].instance.info().name.clone();
                    self.refuse(stage, &mut items, k, &name, e.column, e.message, out)?;
                    continue;
                }
                let inputs: Vec<(&Decoded, i64)> = rows.iter().zip(&items).map(|(d, i)| (d, i.entry.record.timestamp)).collect();
                let seqs: Vec<u64> = items.iter().map(|i| i.seq).collect();
                build_batch(&inputs, &specs, &seqs).map_err(|e| HostError::Runtime(format!("input batch: {}", e.message)))?
            };
            let st = &mut self.stages[stage];
            for it in &items {
                st.pending.insert(it.seq, it.clone());
            }
            let pending = &st.pending;
            let result = st.instance.process(&batch, |s| pending.contains_key(&s));
            match result {
                Ok(p) => return self.answer(stage, p, out),
                Err(err) => {
                    let st = &mut self.stages[stage];
                    for it in &items {
                        st.pending.remove(&it.seq);
                    }
                    let name = st.instance.info().name.clone();
                    let range = range_of(&items);
                    match err {
                        CallError::Operator(OperatorError::InvalidInput(i)) if (i.row as usize) < items.len() => {
                            self.refuse(stage, &mut items, i.row as usize, &name, i.column, i.message, out)?;
                        }
                        other => return Err(call_err(&name, range, other)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Handles a refused row: dead-letter its record and drop its rows from `items`, or (with
    /// no dead-letter sink) run the rows before it and stop.
    #[expect(clippy::too_many_arguments, reason = "one private helper with the failure's parts")]
    fn refuse(&mut self, stage: usize, items: &mut Vec<Item>, k: usize, operator: &str, column: Option<String>, message: String, out: &mut PipelineOutput) -> Result<()> {
        let bad = items[k].clone();
        let reason = if bad.entry.decoded.num_rows() > 1 { format!("row {}: {message}", bad.row) } else { message };
        if self.dead_letters {
            out.dead_letters.push(dead_letter(&bad.entry.record, operator, column.as_deref(), &reason));
            items.retain(|it| !Arc::ptr_eq(&it.entry, &bad.entry));
            Ok(())
        } else {
            let first = items.iter().position(|it| Arc::ptr_eq(&it.entry, &bad.entry)).unwrap_or(k);
            items.truncate(first);
            let before = std::mem::take(items);
            self.run_stage(stage, before, out)?;
            Err(HostError::BadRecord { origin: bad.entry.record.origin(), column, message: reason })
        }
    }

    /// Sends the end-of-input watermark down the chain and returns what it released.
    pub fn finish(&mut self) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        for stage in 0..self.stages.len() {
            let st = &mut self.stages[stage];
            let pending = &st.pending;
            let r = match st.instance.watermark(i64::MAX, |s| pending.contains_key(&s)) {
                Ok(p) => self.answer(stage, p, &mut out),
                Err(e) => {
                    let name = st.instance.info().name.clone();
                    Err(call_err(&name, "end of input".into(), e))
                }
            };
            if let Err(e) = r {
                self.order(&mut out);
                return (out, Err(e));
            }
        }
        self.order(&mut out);
        (out, Ok(()))
    }

    fn answer(&mut self, stage: usize, p: Processed, out: &mut PipelineOutput) -> Result<()> {
        let operator = self.stages[stage].instance.info().name.clone();
        if let Some(models) = &p.models {
            let seqs = models.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned());
            for (i, m) in rows_to_json(models)?.into_iter().enumerate() {
                let trigger = seqs.as_ref().filter(|s| s.is_valid(i)).map(|s| s.value(i));
                let timestamp = trigger
                    .and_then(|s| self.stages[stage].pending.get(&s))
                    .map_or(self.last_timestamp, |p| p.entry.record.timestamp);
                let key = (trigger.unwrap_or(u64::MAX), stage);
                let headers = vec![("eddy.operator".into(), Some(operator.as_bytes().to_vec()))];
                if self.route_embeddings && self.stages[stage].instance.info().kind == OperatorKind::Embedder {
                    out.embeddings.push(embedding_record(m, self.partition, timestamp, headers));
                    self.embedding_keys.push(key);
                    continue;
                }
                self.model_keys.push(key);
                out.models.push(Record {
                    topic: String::new(),
                    partition: self.partition,
                    offset: -1,
                    timestamp,
                    key: Some(self.partition.to_string().into_bytes()),
                    value: serde_json::to_vec(&Value::Object(m)).expect("JSON"),
                    headers,
                });
            }
        }
        let Some(outputs) = p.outputs else { return Ok(()) };
        let seq = outputs.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>()).expect("checked by the instance").clone();
        let st = &mut self.stages[stage];
        let answered: Vec<Item> = seq.values().iter().map(|s| st.pending.remove(s).expect("checked by the instance")).collect();
        let rows = rows_to_json(&outputs)?;
        if stage + 1 < self.stages.len() {
            let next: Vec<Item> = answered
                .into_iter()
                .zip(rows)
                .map(|(mut it, row)| {
                    let mut extra = it.extra.as_deref().cloned().unwrap_or_default();
                    extra.extend(row);
                    it.extra = Some(Arc::new(extra));
                    it
                })
                .collect();
            return self.run_stage(stage + 1, next, out);
        }
        self.observe(&outputs, &answered);
        match self.format {
            Format::Json => {
                for (a, row) in answered.iter().zip(rows) {
                    let Decoded::Json(input) = &a.entry.decoded else { unreachable!("JSON format gives JSON entries") };
                    let mut all = a.extra.as_deref().cloned().unwrap_or_default();
                    all.extend(row);
                    out.predictions.push(prediction(&a.entry.record, merge(input, all)));
                }
            }
            Format::Arrow => {
                let mut start = 0;
                while start < answered.len() {
                    let e = &answered[start].entry;
                    let mut end = start + 1;
                    while end < answered.len() && Arc::ptr_eq(&answered[end].entry, e) {
                        end += 1;
                    }
                    let Decoded::Arrow(input) = &e.decoded else { unreachable!("arrow entries") };
                    let rows: Vec<u32> = answered[start..end].iter().map(|a| a.row as u32).collect();
                    let value = arrow_prediction(input, &rows, &outputs.slice(start, end - start))?;
                    out.predictions.push(prediction(&e.record, value));
                    start = end;
                }
            }
        }
        Ok(())
    }

    fn label(&self, p: &Item) -> Option<f64> {
        match &p.entry.decoded {
            Decoded::Json(m) => m.get(&self.metric_cols.label).and_then(Value::as_f64),
            Decoded::Arrow(b) => {
                let c = b.column_by_name(&self.metric_cols.label)?;
                let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Float64).ok()?;
                let f = c.as_any().downcast_ref::<Float64Array>()?;
                f.is_valid(p.row).then(|| f.value(p.row))
            }
        }
    }

    fn observe(&mut self, outputs: &RecordBatch, answered: &[Item]) {
        let c = self.metric_cols.clone();
        let f64_col = |name: &str| outputs.column_by_name(name).and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned());
        match c.kind {
            OperatorKind::Classifier | OperatorKind::Regressor => {
                let Some(pred) = f64_col(&c.prediction) else { return };
                let raw = outputs.column_by_name(&c.raw).and_then(|a| a.as_any().downcast_ref::<ListArray>().cloned());
                for (i, a) in answered.iter().enumerate() {
                    match self.label(a) {
                        None => self.metrics.unlabelled(),
                        Some(label) if c.kind == OperatorKind::Regressor => match pred.is_valid(i) {
                            true => self.metrics.regressed(pred.value(i), label),
                            false => self.metrics.unlabelled(),
                        },
                        Some(label) => {
                            let prob = raw.as_ref().and_then(|r| {
                                let v = r.value(i);
                                let v = v.as_any().downcast_ref::<Float64Array>()?;
                                (v.len() == 2).then(|| v.value(1))
                            });
                            self.metrics.classified(pred.is_valid(i).then(|| pred.value(i)), prob, label);
                        }
                    }
                }
            }
            OperatorKind::Embedder => {
                let rank = outputs.column_by_name("rank").and_then(|a| a.as_any().downcast_ref::<Int64Array>().cloned());
                for i in 0..answered.len() {
                    self.metrics.ranked(rank.as_ref().and_then(|r| r.is_valid(i).then(|| r.value(i))));
                }
            }
            OperatorKind::Clusterer | OperatorKind::Transformer => {
                for _ in answered {
                    self.metrics.unlabelled();
                }
            }
        }
    }

    /// The pipeline's whole state: every stage's snapshot is full, so it restores alone.
    pub fn snapshot(&mut self) -> Result<PipelineSnapshot> {
        self.take_snapshot(true)
    }

    /// The pipeline's state for a host that keeps chains: each operator may return a delta
    /// of what changed since its previous snapshot (see [`PipelineSnapshot::is_full`] and
    /// [`Pipeline::restore_chain`]). A host that could not store the result (an aborted
    /// checkpoint) must take a full [`Pipeline::snapshot`] or restore before the next one.
    pub fn snapshot_incremental(&mut self) -> Result<PipelineSnapshot> {
        self.take_snapshot(false)
    }

    fn take_snapshot(&mut self, full: bool) -> Result<PipelineSnapshot> {
        let mut stages = Vec::with_capacity(self.stages.len());
        for st in &mut self.stages {
            let name = st.instance.info().name.clone();
            let (kind, state) = st.instance.snapshot(full).map_err(|e| call_err(&name, "snapshot".into(), e))?;
            let info = st.instance.info();
            stages.push(StageSnapshot {
                operator: info.name.clone(),
                version: info.version.clone(),
                kind,
                state,
                pending: st
                    .pending
                    .iter()
                    .map(|(s, p)| (*s, p.entry.record.clone(), p.row, p.extra.as_ref().map(|x| Value::Object((**x).clone()).to_string())))
                    .collect(),
            });
        }
        Ok(PipelineSnapshot { stages, next_seq: self.next_seq, last_timestamp: self.last_timestamp })
    }

    /// Restores a snapshot taken by [`Pipeline::snapshot`] of the same chain of operators.
    pub fn restore(&mut self, snap: &PipelineSnapshot) -> Result<()> {
        self.restore_chain(std::slice::from_ref(snap))
    }

    /// Restores a chain of snapshots of this pipeline, oldest first, taken by
    /// [`Pipeline::snapshot_incremental`] (or [`Pipeline::snapshot`]): each stage restores
    /// from its last full state and the deltas after it; the waiting rows, numbering and
    /// timestamp come from the last snapshot. Snapshots before [`PipelineSnapshot::needed_from`]
    /// may be left out.
    pub fn restore_chain(&mut self, chain: &[PipelineSnapshot]) -> Result<()> {
        let from = PipelineSnapshot::needed_from(chain)?;
        let chain = &chain[from..];
        let snap = chain.last().expect("needed_from refuses an empty chain");
        for s in chain {
            self.check_same_operators(s)?;
        }
        let specs = self.stages[0].instance.input_columns().to_vec();
        let mut by_record: BTreeMap<(String, i32, i64), Arc<Entry>> = BTreeMap::new();
        for (i, (st, s)) in self.stages.iter_mut().zip(&snap.stages).enumerate() {
            let first = chain.iter().rposition(|c| c.stages[i].kind == SnapshotKind::Full).expect("needed_from found a full state");
            let states: Vec<Vec<u8>> = chain[first..].iter().map(|c| c.stages[i].state.clone()).collect();
            st.instance.restore(&states).map_err(|e| HostError::Restore(match e {
                CallError::Operator(e) => e.to_string(),
                CallError::Failed(m) => m,
            }))?;
            st.pending.clear();
            for (seq, rec, row, extra) in &s.pending {
                let key = (rec.topic.clone(), rec.partition, rec.offset);
                let entry = match by_record.get(&key) {
                    Some(e) => e.clone(),
                    None => {
                        let decoded = decode(&rec.value, rec.timestamp, self.format, &specs)
                            .map_err(|e| HostError::Restore(format!("a waiting record no longer decodes: {}", e.message)))?;
                        let e = Arc::new(Entry { record: rec.clone(), decoded });
                        by_record.insert(key, e.clone());
                        e
                    }
                };
                let extra = match extra {
                    Some(t) => match serde_json::from_str(t) {
                        Ok(Value::Object(m)) => Some(Arc::new(m)),
                        _ => return Err(HostError::Restore("corrupt waiting row in the snapshot".into())),
                    },
                    None => None,
                };
                st.pending.insert(*seq, Item { entry, row: *row, seq: *seq, extra });
            }
        }
        self.next_seq = snap.next_seq;
        self.last_timestamp = snap.last_timestamp;
        Ok(())
    }

    fn check_same_operators(&self, snap: &PipelineSnapshot) -> Result<()> {
        let mismatch = snap.stages.len() != self.stages.len()
            || snap.stages.iter().zip(&self.stages).any(|(s, st)| {
                let info = st.instance.info();
                s.operator != info.name || eddy_sdk::snapshot::major(&s.version) != eddy_sdk::snapshot::major(&info.version)
            });
        if mismatch {
            let running = self.stages.iter().map(|s| format!("{} {}", s.instance.info().name, s.instance.info().version)).collect::<Vec<_>>().join(" | ");
            return Err(HostError::Restore(format!(
                "the checkpoint holds a snapshot of {}, but the job runs {running}",
                snap.operators()
            )));
        }
        Ok(())
    }

    /// The current model of each stage as JSON objects (one per row of its model data).
    pub fn model_data(&mut self) -> Result<Vec<Map<String, Value>>> {
        let mut all = Vec::new();
        for st in &mut self.stages {
            let name = st.instance.info().name.clone();
            let b = st.instance.model_data().map_err(|e| call_err(&name, "model data".into(), e))?;
            all.extend(rows_to_json(&b)?);
        }
        Ok(all)
    }
}

/// A published embedding as a keyed record; a null vector is a tombstone (empty value).
fn embedding_record(m: Map<String, Value>, partition: i32, timestamp: i64, headers: Vec<(String, Option<Vec<u8>>)>) -> Record {
    let text = |k: &str| match m.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let key = format!("{}:{}", text("kind"), text("id"));
    let timestamp = m.get("eventTime").and_then(Value::as_i64).unwrap_or(timestamp);
    let value = if m.get("vector").is_none_or(Value::is_null) { Vec::new() } else { serde_json::to_vec(&Value::Object(m)).expect("JSON") };
    Record { topic: String::new(), partition, offset: -1, timestamp, key: Some(key.into_bytes()), value, headers }
}

fn range_of(items: &[Item]) -> String {
    match (items.first(), items.last()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.entry.record.origin(), b.entry.record.origin());
            format!("topic {}, partition {}, offsets {}..={}", a.topic, a.partition, a.offset, b.offset)
        }
        _ => "no records".into(),
    }
}

fn origin_headers(o: &Origin) -> Vec<(String, Option<Vec<u8>>)> {
    vec![
        (h::ORIGIN_TOPIC.into(), Some(o.topic.as_bytes().to_vec())),
        (h::ORIGIN_PARTITION.into(), Some(o.partition.to_string().into_bytes())),
        (h::ORIGIN_OFFSET.into(), Some(o.offset.to_string().into_bytes())),
    ]
}

fn prediction(input: &Record, value: Vec<u8>) -> Record {
    Record {
        topic: String::new(),
        partition: input.partition,
        offset: -1,
        timestamp: input.timestamp,
        key: input.key.clone(),
        value,
        headers: origin_headers(&input.origin()),
    }
}

/// A dead letter: the original key and value, the reason and origin in headers.
pub(crate) fn dead_letter(r: &Record, stage: &str, column: Option<&str>, reason: &str) -> Record {
    let mut headers = origin_headers(&r.origin());
    headers.push((h::ERROR_STAGE.into(), Some(stage.as_bytes().to_vec())));
    headers.push((h::ERROR_REASON.into(), Some(reason.as_bytes().to_vec())));
    if let Some(c) = column {
        headers.push((h::ERROR_COLUMN.into(), Some(c.as_bytes().to_vec())));
    }
    Record { topic: String::new(), partition: r.partition, offset: -1, timestamp: r.timestamp, key: r.key.clone(), value: r.value.clone(), headers }
}

fn arrow_prediction(input: &RecordBatch, rows: &[u32], outputs: &RecordBatch) -> Result<Vec<u8>> {
    let idx = arrow::array::UInt32Array::from(rows.to_vec());
    let mut fields: Vec<arrow::datatypes::FieldRef> = Vec::new();
    let mut cols = Vec::new();
    let out_schema = outputs.schema();
    for (f, c) in input.schema().fields().iter().zip(input.columns()) {
        if out_schema.index_of(f.name()).is_ok() {
            continue;
        }
        fields.push(f.clone());
        cols.push(arrow::compute::take(c, &idx, None)?);
    }
    for (f, c) in out_schema.fields().iter().zip(outputs.columns()) {
        if f.name() == SEQ_COLUMN {
            continue;
        }
        fields.push(f.clone());
        cols.push(c.clone());
    }
    let batch = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols)?;
    Ok(eddy_sdk::ipc::encode(&batch)?)
}

#[cfg(test)]
mod tests {
    use super::chain_start;

    #[test]
    fn chain_start_keeps_every_stage_s_last_full_state() {
        let (t, f) = (true, false);
        assert_eq!(chain_start(&[&[t], &[f], &[f]]), Some(0));
        assert_eq!(chain_start(&[&[t], &[f], &[t]]), Some(2));
        assert_eq!(chain_start(&[&[t, t], &[t, f], &[f, t]]), Some(1), "stage 0 needs links 1 and 2");
        assert_eq!(chain_start(&[&[f], &[f]]), None);
        assert_eq!(chain_start(&[]), None);
    }
}
