//! A per-partition pipeline: records in, operator instance in the middle, prediction, model
//! and dead-letter records out. It owns the `__seq` numbering, the rows waiting for an answer,
//! the dead-letter policy and the prequential metrics, and snapshots all of it with the
//! operator's own state, so a restore continues bit for bit.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::{OperatorError, OperatorKind, SEQ_COLUMN};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::decode::{Decoded, build_batch, decode};
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
}

impl PipelineOutput {
    /// Appends another step's output.
    pub fn extend(&mut self, o: PipelineOutput) {
        self.predictions.extend(o.predictions);
        self.models.extend(o.models);
        self.dead_letters.extend(o.dead_letters);
    }
}

/// Everything needed to resume a pipeline: the operator's snapshot plus the host's own state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// Operator name, checked on restore.
    pub operator: String,
    /// Operator version.
    pub version: String,
    /// The operator's snapshot bytes.
    pub state: Vec<u8>,
    /// Next `__seq` to hand out.
    pub next_seq: u64,
    /// Rows sent to the operator but not answered yet: (seq, record, row in record).
    pub pending: Vec<(u64, Record, usize)>,
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
}

struct Entry {
    record: Record,
    decoded: Decoded,
    json_fields: Option<Map<String, Value>>,
    first_seq: u64,
}

#[derive(Clone)]
struct Pending {
    entry: Arc<Entry>,
    row: usize,
}

/// Which output columns the metrics read, from the operator's kind and config.
#[derive(Debug, Clone)]
struct MetricCols {
    kind: OperatorKind,
    label: String,
    prediction: String,
    raw: String,
}

/// One partition's pipeline.
pub struct Pipeline {
    instance: OperatorInstance,
    partition: i32,
    format: Format,
    dead_letters: bool,
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    metric_cols: MetricCols,
    metrics: Prequential,
    last_timestamp: i64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("partition", &self.partition).field("next_seq", &self.next_seq).finish()
    }
}

fn config_str(config: &Value, key: &str, default: &str) -> String {
    config.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
}

impl Pipeline {
    /// Opens the operator with `config` (a JSON object) for `partition`. With `dead_letters`
    /// false, a bad record stops the pipeline instead.
    pub fn new(component: &OperatorComponent, config: &Value, partition: i32, format: Format, dead_letters: bool) -> Result<Self> {
        let instance = component.instantiate(&config.to_string())?;
        let metric_cols = MetricCols {
            kind: instance.info().kind,
            label: config_str(config, "labelCol", "label"),
            prediction: config_str(config, "predictionCol", "prediction"),
            raw: config_str(config, "rawPredictionCol", "rawPrediction"),
        };
        Ok(Self {
            instance,
            partition,
            format,
            dead_letters,
            next_seq: 0,
            pending: BTreeMap::new(),
            metric_cols,
            metrics: Prequential::default(),
            last_timestamp: 0,
        })
    }

    /// The operator's name.
    pub fn operator(&self) -> &str {
        &self.instance.info().name
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
        let specs = self.instance.input_columns().to_vec();
        let mut entries = Vec::with_capacity(records.len());
        let mut stop = None;
        for r in records {
            self.last_timestamp = self.last_timestamp.max(r.timestamp);
            match decode(&r.value, r.timestamp, self.format, &specs) {
                Ok(decoded) => {
                    let rows = decoded.num_rows() as u64;
                    let json_fields = match &decoded {
                        Decoded::Json(m) => Some(m.clone()),
                        Decoded::Arrow(_) => None,
                    };
                    entries.push(Arc::new(Entry { record: r.clone(), decoded, json_fields, first_seq: self.next_seq }));
                    self.next_seq += rows;
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
        if let Err(e) = self.run_entries(entries, &mut out) {
            return (out, Err(e));
        }
        (out, stop.map_or(Ok(()), Err))
    }

    fn run_entries(&mut self, mut entries: Vec<Arc<Entry>>, out: &mut PipelineOutput) -> Result<()> {
        let specs = self.instance.input_columns().to_vec();
        while !entries.is_empty() {
            let mut seqs = Vec::new();
            let mut rows: Vec<Pending> = Vec::new();
            for e in &entries {
                for r in 0..e.decoded.num_rows() {
                    seqs.push(e.first_seq + r as u64);
                    rows.push(Pending { entry: e.clone(), row: r });
                }
            }
            let inputs: Vec<(&Decoded, i64)> = entries.iter().map(|e| (&e.decoded, e.record.timestamp)).collect();
            let batch = build_batch(&inputs, &specs, &seqs).map_err(|e| HostError::Runtime(format!("input batch: {}", e.message)))?;
            for (s, p) in seqs.iter().zip(&rows) {
                self.pending.insert(*s, p.clone());
            }
            let pending = &self.pending;
            let result = self.instance.process(&batch, |s| pending.contains_key(&s));
            match result {
                Ok(p) => return self.answer(p, out),
                Err(err) => {
                    for s in &seqs {
                        self.pending.remove(s);
                    }
                    let range = range_of(&entries);
                    match err {
                        CallError::Operator(OperatorError::InvalidInput(i)) => {
                            let Some(bad) = rows.get(i.row as usize) else {
                                return Err(HostError::OperatorFailed {
                                    operator: self.operator().into(),
                                    range,
                                    message: format!("refused row {} of a batch of {} rows", i.row, rows.len()),
                                });
                            };
                            let idx = entries.iter().position(|e| Arc::ptr_eq(e, &bad.entry)).expect("row's entry");
                            let reason = if bad.entry.decoded.num_rows() > 1 {
                                format!("row {}: {}", bad.row, i.message)
                            } else {
                                i.message.clone()
                            };
                            if self.dead_letters {
                                let name = self.operator().to_owned();
                                out.dead_letters.push(dead_letter(&bad.entry.record, &name, i.column.as_deref(), &reason));
                                entries.remove(idx);
                            } else {
                                let origin = bad.entry.record.origin();
                                entries.truncate(idx);
                                self.run_entries(entries, out)?;
                                return Err(HostError::BadRecord { origin, column: i.column, message: reason });
                            }
                        }
                        CallError::Operator(other) => {
                            return Err(HostError::OperatorInternal { operator: self.operator().into(), message: format!("{other} (records {range})") });
                        }
                        CallError::Failed(message) => {
                            return Err(HostError::OperatorFailed { operator: self.operator().into(), range, message });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends the end-of-input watermark and returns what it released.
    pub fn finish(&mut self) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        let pending = &self.pending;
        let r = match self.instance.watermark(i64::MAX, |s| pending.contains_key(&s)) {
            Ok(p) => self.answer(p, &mut out),
            Err(CallError::Failed(message)) => Err(HostError::OperatorFailed { operator: self.operator().into(), range: "end of input".into(), message }),
            Err(CallError::Operator(e)) => Err(HostError::OperatorInternal { operator: self.operator().into(), message: e.to_string() }),
        };
        (out, r)
    }

    fn answer(&mut self, p: Processed, out: &mut PipelineOutput) -> Result<()> {
        if let Some(models) = &p.models {
            let seqs = models.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned());
            for (i, m) in rows_to_json(models)?.into_iter().enumerate() {
                let timestamp = seqs
                    .as_ref()
                    .filter(|s| s.is_valid(i))
                    .and_then(|s| self.pending.get(&s.value(i)))
                    .map_or(self.last_timestamp, |p| p.entry.record.timestamp);
                out.models.push(Record {
                    topic: String::new(),
                    partition: self.partition,
                    offset: -1,
                    timestamp,
                    key: Some(self.partition.to_string().into_bytes()),
                    value: serde_json::to_vec(&Value::Object(m)).expect("JSON"),
                    headers: vec![("eddy.operator".into(), Some(self.operator().as_bytes().to_vec()))],
                });
            }
        }
        let Some(outputs) = p.outputs else { return Ok(()) };
        let seq = outputs.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>()).expect("checked by the instance").clone();
        let answered: Vec<Pending> = seq.values().iter().map(|s| self.pending.remove(s).expect("checked by the instance")).collect();
        self.observe(&outputs, &answered);
        match self.format {
            Format::Json => {
                let rows = rows_to_json(&outputs)?;
                for (a, row) in answered.iter().zip(rows) {
                    let input = a.entry.json_fields.as_ref().expect("json entries keep their fields");
                    out.predictions.push(prediction(&a.entry.record, merge(input, row)));
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

    fn label(&self, p: &Pending) -> Option<f64> {
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

    fn observe(&mut self, outputs: &RecordBatch, answered: &[Pending]) {
        let c = &self.metric_cols;
        let f64_col = |name: &str| outputs.column_by_name(name).and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned());
        match c.kind {
            OperatorKind::Classifier | OperatorKind::Regressor => {
                let Some(pred) = f64_col(&c.prediction) else { return };
                let raw = outputs.column_by_name(&c.raw).and_then(|a| a.as_any().downcast_ref::<ListArray>().cloned());
                for (i, a) in answered.iter().enumerate() {
                    match self.label(a) {
                        None => self.metrics.unlabelled(),
                        Some(label) if c.kind == OperatorKind::Regressor => self.metrics.regressed(pred.value(i), label),
                        Some(label) => {
                            let prob = raw.as_ref().and_then(|r| {
                                let v = r.value(i);
                                let v = v.as_any().downcast_ref::<Float64Array>()?;
                                (v.len() == 2).then(|| v.value(1))
                            });
                            self.metrics.classified(pred.value(i), prob, label);
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

    /// The pipeline's whole state.
    pub fn snapshot(&mut self) -> Result<PipelineSnapshot> {
        let state = self.instance.snapshot().map_err(|e| match e {
            CallError::Operator(e) => HostError::OperatorInternal { operator: self.operator().into(), message: e.to_string() },
            CallError::Failed(m) => HostError::OperatorFailed { operator: self.operator().into(), range: "snapshot".into(), message: m },
        })?;
        let info = self.instance.info();
        Ok(PipelineSnapshot {
            operator: info.name.clone(),
            version: info.version.clone(),
            state,
            next_seq: self.next_seq,
            pending: self.pending.iter().map(|(s, p)| (*s, p.entry.record.clone(), p.row)).collect(),
            last_timestamp: self.last_timestamp,
        })
    }

    /// Restores a snapshot taken by [`Pipeline::snapshot`] of the same operator.
    pub fn restore(&mut self, snap: &PipelineSnapshot) -> Result<()> {
        let info = self.instance.info().clone();
        if snap.operator != info.name || eddy_sdk::snapshot::major(&snap.version) != eddy_sdk::snapshot::major(&info.version) {
            return Err(HostError::Restore(format!(
                "the checkpoint holds a snapshot of {} {}, but the job runs {} {}",
                snap.operator, snap.version, info.name, info.version
            )));
        }
        self.instance.restore(&snap.state).map_err(|e| HostError::Restore(match e {
            CallError::Operator(e) => e.to_string(),
            CallError::Failed(m) => m,
        }))?;
        self.next_seq = snap.next_seq;
        self.last_timestamp = snap.last_timestamp;
        self.pending.clear();
        let specs = self.instance.input_columns().to_vec();
        let mut by_record: BTreeMap<(i32, i64), Arc<Entry>> = BTreeMap::new();
        for (seq, rec, row) in &snap.pending {
            let key = (rec.partition, rec.offset);
            let entry = match by_record.get(&key) {
                Some(e) => e.clone(),
                None => {
                    let decoded = decode(&rec.value, rec.timestamp, self.format, &specs)
                        .map_err(|e| HostError::Restore(format!("a waiting record no longer decodes: {}", e.message)))?;
                    let json_fields = match &decoded {
                        Decoded::Json(m) => Some(m.clone()),
                        Decoded::Arrow(_) => None,
                    };
                    let e = Arc::new(Entry { record: rec.clone(), decoded, json_fields, first_seq: seq - *row as u64 });
                    by_record.insert(key, e.clone());
                    e
                }
            };
            self.pending.insert(*seq, Pending { entry, row: *row });
        }
        Ok(())
    }

    /// The current model as JSON objects (one per row of the operator's model data).
    pub fn model_data(&mut self) -> Result<Vec<Map<String, Value>>> {
        let b = self.instance.model_data().map_err(|e| match e {
            CallError::Operator(e) => HostError::OperatorInternal { operator: self.operator().into(), message: e.to_string() },
            CallError::Failed(m) => HostError::OperatorFailed { operator: self.operator().into(), range: "model data".into(), message: m },
        })?;
        rows_to_json(&b)
    }
}

fn range_of(entries: &[Arc<Entry>]) -> String {
    match (entries.first(), entries.last()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.record.origin(), b.record.origin());
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
