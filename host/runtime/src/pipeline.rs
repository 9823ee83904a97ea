//! A per-partition pipeline: records in, a chain of operator instances in the middle,
//! prediction, model and dead-letter records out. Records decode into one Arrow batch per
//! call; each stage gets its columns by projection, answers come back by `__seq` and are
//! joined to their rows by take; the last stage's answers become records at the sink
//! encoders. It owns the `__seq` numbering, the rows waiting for an answer, the dead-letter
//! policy, the prequential metrics and the drift detector on their error, and snapshots all of
//! it with the operators' own state, so a restore continues bit for bit.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use eddy_sdk::{ColumnSpec, LEARNED_SUFFIX, OperatorError, OperatorKind, SEQ_COLUMN, SnapshotKind, TIMESTAMP_COLUMN, learned_name};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::decode::{DecodeCol, Decoded, RecordDecoder};
use crate::drift::{DriftSettings, DriftState, RowAt};
use crate::encode::{rows_to_json, without_seq};
use crate::frame::{Pending, Rows, Source};
use crate::instance::{CallError, Processed};
use crate::metrics::Prequential;
use crate::outputs::{dead_letter, embedding_record, model_record, predictions, range_of};
use crate::record::headers as h;
use crate::recovery::Recovery;

use crate::snapshot::{PipelineSnapshot, StageSnapshot};
use crate::{HostError, OperatorComponent, OperatorInstance, Record, Records, Result};

/// Rows per call into an operator when the host does not say (`run.batch_size`).
pub const DEFAULT_BATCH_ROWS: usize = 4096;

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

/// How the stages of a chain learn (a job's `run.chain_learning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainLearning {
    /// river's pipeline semantics, the default: each stage learns from the row as the stages
    /// before it transform it *after* they learned from it (a scaler updates its statistics
    /// with the row, then the learner trains on the row scaled with the updated ones), while
    /// every stage still scores the row as transformed before. The freshest statistics reach
    /// the learner, which is what river users expect and what scores best on the streams we
    /// measured (image segments, scaler | softmax: 88.1% against 85.0% Flink ML's way).
    #[default]
    River,
    /// Flink ML's: each stage learns from the row exactly as it scored it (a learner after a
    /// scaler trains on rows scaled with the statistics before the row).
    FlinkMl,
}

/// Records a pipeline step produced, in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PipelineOutput {
    /// One per answered input record (Arrow records: per group of answered rows).
    pub predictions: Records,
    /// One per model version published (none when models are off, see
    /// [`Pipeline::set_models`]).
    pub models: Records,
    /// One per refused record, with the reason in headers.
    pub dead_letters: Records,
    /// Changed embeddings (when routed, see [`Pipeline::route_embeddings`]): one record per id,
    /// key `kind:id`, value `{kind, id, vector, modelVersion, eventTime}`; an evicted id is a
    /// tombstone, a record with an empty value (a Kafka sink writes a null value).
    pub embeddings: Records,
    /// One per drift detection (when drift detection is on, see [`Pipeline::set_drift`]):
    /// key the partition, value the detection as JSON ([`crate::drift::Detection::to_json`]),
    /// the detected row's record timestamp and origin headers.
    pub drift: Records,
    /// Model versions and embeddings not yet in `models` and `embeddings` (see
    /// [`Pipeline::defer_models`] and [`PipelineOutput::encode_models`]).
    pub(crate) deferred: DeferredModels,
}

/// Model versions and embeddings a step published, kept as the operators' batches until
/// [`PipelineOutput::encode_models`] makes them records: the JSON is then written by whoever
/// encodes (a sink's thread), not by the thread that runs the operators.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct DeferredModels {
    /// Each batch with the operator that published it and the pipeline's partition.
    batches: Vec<(RecordBatch, String, i32)>,
    /// Model versions in output order: batch, row, record timestamp.
    models: Vec<(u32, u32, i64)>,
    /// Embeddings in output order: batch, row, record timestamp.
    embeddings: Vec<(u32, u32, i64)>,
}

impl DeferredModels {
    fn is_empty(&self) -> bool {
        self.models.is_empty() && self.embeddings.is_empty()
    }

    fn extend(&mut self, o: DeferredModels) {
        let base = self.batches.len() as u32;
        self.batches.extend(o.batches);
        self.models.extend(o.models.into_iter().map(|(b, r, t)| (b + base, r, t)));
        self.embeddings.extend(o.embeddings.into_iter().map(|(b, r, t)| (b + base, r, t)));
    }
}

impl PipelineOutput {
    /// Appends another step's output.
    pub fn extend(&mut self, o: PipelineOutput) {
        self.predictions.extend(o.predictions);
        self.models.extend(o.models);
        self.dead_letters.extend(o.dead_letters);
        self.embeddings.extend(o.embeddings);
        self.drift.extend(o.drift);
        self.deferred.extend(o.deferred);
    }

    /// Turns the deferred model versions and embeddings (see [`Pipeline::defer_models`]) into
    /// records appended to `models` and `embeddings`, in their order. Does nothing when there
    /// are none (a pipeline that does not defer has encoded them already).
    pub fn encode_models(&mut self) -> Result<()> {
        if self.deferred.batches.is_empty() {
            return Ok(());
        }
        let d = std::mem::take(&mut self.deferred);
        let mut rows: Vec<Vec<Option<Map<String, Value>>>> =
            d.batches.iter().map(|(b, _, _)| rows_to_json(b).map(|v| v.into_iter().map(Some).collect())).collect::<Result<_>>()?;
        for (list, records, embedder) in [(d.models, &mut self.models, false), (d.embeddings, &mut self.embeddings, true)] {
            for (b, r, timestamp) in list {
                let (_, operator, partition) = &d.batches[b as usize];
                let m = rows[b as usize][r as usize].take().expect("each published row is one record");
                let headers = vec![("eddy.operator".into(), Some(operator.as_bytes().to_vec()))];
                records.push(if embedder {
                    embedding_record(m, *partition, timestamp, headers)
                } else {
                    model_record(m, *partition, timestamp, headers)
                });
            }
        }
        Ok(())
    }

    /// Whether nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.predictions.is_empty()
            && self.models.is_empty()
            && self.dead_letters.is_empty()
            && self.embeddings.is_empty()
            && self.drift.is_empty()
            && self.deferred.is_empty()
    }
}

/// Decodes a pipeline's records into its calls, away from the pipeline (see
/// [`Pipeline::predecoder`]).
#[derive(Debug)]
pub struct Predecoder {
    decoder: RecordDecoder,
    stop_at_bad: bool,
    batch_rows: usize,
}

impl Predecoder {
    /// The calls `records` make, in order (up to the first bad record when the pipeline
    /// stops at one).
    pub fn decode(&mut self, records: &[Record]) -> Vec<Decoded> {
        let mut calls = Vec::new();
        let mut at = 0;
        while at < records.len() {
            let d = self.decoder.decode(&records[at..], self.stop_at_bad, self.batch_rows);
            at += d.consumed;
            let stop = self.stop_at_bad && !d.bad.is_empty();
            calls.push(d);
            if stop {
                break;
            }
        }
        calls
    }
}

/// The records of a `process` call: borrowed (a record kept for its rows is copied) or
/// given up (it is moved).
trait InputRecords {
    fn all(&self) -> &[Record];
    fn keep(&mut self, k: usize) -> Record;
}

struct Borrowed<'a>(&'a [Record]);

impl InputRecords for Borrowed<'_> {
    fn all(&self) -> &[Record] {
        self.0
    }
    fn keep(&mut self, k: usize) -> Record {
        self.0[k].clone()
    }
}

struct Owned<'a>(&'a mut Vec<Record>);

impl InputRecords for Owned<'_> {
    fn all(&self) -> &[Record] {
        self.0
    }
    fn keep(&mut self, k: usize) -> Record {
        // Only good records are kept, after every read of them: what stays is never read.
        std::mem::take(&mut self.0[k])
    }
}

/// Which output columns the metrics read, from the last operator's kind and config.
#[derive(Debug, Clone)]
struct MetricCols {
    kind: OperatorKind,
    label: String,
    prediction: String,
    raw: String,
    model_version: String,
}

struct Stage {
    instance: OperatorInstance,
    pending: Pending,
    /// The way back to the state before the current call, should it break the instance.
    recovery: Recovery,
}

/// Records in a row that fail alone on fresh instances before the operator, not the records,
/// is taken to be at fault (see [`Pipeline::isolate`]): the first ones went to the dead
/// letters, the job then stops.
const POISON_IN_A_ROW: usize = 3;

/// One partition's pipeline: a chain of one or more operators.
pub struct Pipeline {
    stages: Vec<Stage>,
    name: String,
    partition: i32,
    format: Format,
    decoder: RecordDecoder,
    /// The decoded input columns' types, by name (the first columns of every stage's rows).
    decoded_types: Vec<(String, eddy_sdk::ColumnType)>,
    /// For each column the first stage reads, in its order, the decoded column it is.
    first_stage_cols: Vec<usize>,
    dead_letters: bool,
    batch_rows: usize,
    models: bool,
    next_seq: u64,
    rows_in: u64,
    metric_cols: MetricCols,
    metrics: Prequential,
    /// The drift detector on the prequential error (none when off, the default).
    drift: Option<DriftState>,
    last_timestamp: i64,
    /// How the chain learns (see [`Pipeline::set_chain_learning`]).
    chain_learning: ChainLearning,
    /// Records refused for the last stage's label column, and the first one's reason.
    refused_labels: (u64, Option<String>),
    route_embeddings: bool,
    /// For each model (or embedding) record of the call in progress: (the `__seq` of the row
    /// that published it, stage). Sorting by it makes the order independent of batching.
    model_keys: Vec<(u64, usize)>,
    embedding_keys: Vec<(u64, usize)>,
    /// See [`Pipeline::defer_models`].
    defer_models: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("operators", &self.name)
            .field("partition", &self.partition)
            .field("next_seq", &self.next_seq)
            .finish()
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

/// A label or prediction column as class keys for the metrics: numbers as they are, booleans
/// 0 and 1, strings a negative whole number from a hash of the string, the same for the label
/// and the prediction. A Utf8 label column holds the host's canonical JSON text (`1.0`,
/// `"spam"`, `true`: `json_text`); a Utf8 prediction holds the plain string (`spam`, or `1`
/// for the string label "1"). `None` for a column of another type.
fn class_keys(a: &ArrayRef, json_text: bool) -> Option<Float64Array> {
    fn string_key(s: &str) -> f64 {
        // FNV-1a, stable across runs and platforms; 52 bits, so the key is exact in an f64.
        let h = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        -1.0 - (h >> 12) as f64
    }
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_any().downcast_ref::<arrow::array::StringArray>()?;
            Some(Float64Array::from_iter((0..s.len()).map(|i| {
                let t = s.value(i);
                s.is_valid(i).then(|| {
                    if !json_text {
                        return string_key(t);
                    }
                    // A number's canonical text parses at once; strings and booleans are JSON.
                    match t.parse::<f64>() {
                        Ok(x) if x.is_finite() => x,
                        _ => match serde_json::from_str::<Value>(t) {
                            Ok(Value::Bool(b)) => f64::from(u8::from(b)),
                            Ok(Value::String(t)) => string_key(&t),
                            _ => string_key(t),
                        },
                    }
                })
            })))
        }
        DataType::Boolean => {
            let b = a.as_any().downcast_ref::<arrow::array::BooleanArray>()?;
            Some(Float64Array::from_iter(b.iter().map(|v| v.map(|v| f64::from(u8::from(v))))))
        }
        t if t.is_numeric() => arrow::compute::cast(a, &DataType::Float64).ok()?.as_any().downcast_ref::<Float64Array>().cloned(),
        _ => None,
    }
}

/// The columns to decode from records for a chain, each name once: the first stage's, as it
/// asked for them, then any other column a later stage reads (optional here: an earlier
/// stage's output may supply it; the later stage's own check applies when it gets the row).
/// Also, for each of the first stage's columns in its order, which decoded column it is.
fn decode_cols(stages: &[Stage]) -> (Vec<DecodeCol>, Vec<usize>) {
    let mut cols: Vec<DecodeCol> = Vec::new();
    let mut first = Vec::new();
    for (i, st) in stages.iter().enumerate() {
        for s in st.instance.input_columns() {
            match cols.iter().position(|c| c.spec.name == s.name) {
                Some(k) => {
                    if i == 0 {
                        cols[k].spec.required |= s.required;
                        first.push(k);
                    }
                }
                None => {
                    if i == 0 {
                        first.push(cols.len());
                    }
                    cols.push(DecodeCol { spec: ColumnSpec { required: s.required && i == 0, ..s.clone() } });
                }
            }
        }
    }
    (cols, first)
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
            let config = cfg.to_string();
            opened.push(Stage { instance: c.instantiate(&config)?, pending: Pending::default(), recovery: Recovery::new(c, config) });
        }
        let last = &opened.last().expect("non-empty").instance;
        let metric_cols = MetricCols {
            kind: last.info().kind,
            label: config_str(last_config, "labelCol", "label"),
            prediction: match last.info().kind {
                OperatorKind::AnomalyDetector => config_str(last_config, "scoreCol", "anomalyScore"),
                _ => config_str(last_config, "predictionCol", "prediction"),
            },
            raw: config_str(last_config, "rawPredictionCol", "rawPrediction"),
            model_version: config_str(last_config, "modelVersionCol", "modelVersion"),
        };
        let name = opened.iter().map(|s| s.instance.info().name.clone()).collect::<Vec<_>>().join(" | ");
        let (cols, first_stage_cols) = decode_cols(&opened);
        let mut pipeline = Self {
            stages: opened,
            name,
            partition,
            format,
            decoded_types: cols.iter().map(|c| (c.spec.name.clone(), c.spec.column_type)).collect(),
            decoder: RecordDecoder::new(cols, format),
            first_stage_cols,
            dead_letters,
            batch_rows: DEFAULT_BATCH_ROWS,
            models: true,
            next_seq: 0,
            rows_in: 0,
            metric_cols,
            metrics: Prequential::default(),
            drift: None,
            last_timestamp: 0,
            chain_learning: ChainLearning::FlinkMl,
            refused_labels: (0, None),
            route_embeddings: false,
            model_keys: Vec::new(),
            embedding_keys: Vec::new(),
            defer_models: false,
        };
        pipeline.set_chain_learning(ChainLearning::default())?;
        Ok(pipeline)
    }

    /// How the chain learns (default [`ChainLearning::River`]): tells every stage but the last
    /// whether to add learned forms to its outputs (the WIT `set-learned-outputs`). A single
    /// operator learns the same either way.
    pub fn set_chain_learning(&mut self, mode: ChainLearning) -> Result<()> {
        self.chain_learning = mode;
        let last = self.stages.len() - 1;
        for (i, st) in self.stages.iter_mut().enumerate() {
            let on = mode == ChainLearning::River && i < last;
            if st.instance.learned_outputs() != on {
                let name = st.instance.info().name.clone();
                st.instance.set_learned_outputs(on).map_err(|e| call_err(&name, "set-learned-outputs".into(), e))?;
            }
        }
        Ok(())
    }

    /// How the chain learns (see [`Pipeline::set_chain_learning`]).
    pub fn chain_learning(&self) -> ChainLearning {
        self.chain_learning
    }

    /// How many records were refused (dead-lettered) for the last stage's label column, and
    /// the first one's reason and origin: a run that refused labels and learned from none
    /// (a classifier given string labels it cannot read, say) has learned nothing, and says so.
    pub fn refused_labels(&self) -> (u64, Option<&str>) {
        (self.refused_labels.0, self.refused_labels.1.as_deref())
    }

    fn count_refusal(&mut self, r: &Record, column: Option<&str>, reason: &str) {
        if column == Some(self.metric_cols.label.as_str()) {
            self.refused_labels.0 += 1;
            if self.refused_labels.1.is_none() {
                self.refused_labels.1 = Some(format!("{reason} ({})", r.origin()));
            }
        }
    }

    /// Sends an embedder's published vectors to [`PipelineOutput::embeddings`] as keyed
    /// records (one per id, tombstones for evicted ids) instead of to the models.
    pub fn route_embeddings(&mut self, on: bool) {
        self.route_embeddings = on;
    }

    /// How many rows one call into an operator carries (at least 1). Records are never split:
    /// a call takes whole records and ends with the first one that brings it to this many
    /// rows or more (so an Arrow record larger than this goes whole). Results do not depend
    /// on it.
    pub fn set_batch_rows(&mut self, rows: usize) {
        self.batch_rows = rows.max(1);
    }

    /// How many bytes of input each stage keeps, after its last snapshot, to rebuild its
    /// instance should a call break it (default 32 MiB); past it, the stage's state is taken
    /// whole instead (and the next incremental snapshot of it is full). Results do not depend
    /// on it.
    pub fn set_retry_log_bytes(&mut self, bytes: usize) {
        for st in &mut self.stages {
            st.recovery.set_log_limit(bytes);
        }
    }

    /// Whether model versions become records in [`PipelineOutput::models`] (default on). A host
    /// without a models sink turns them off: the operators are told not to publish them (an
    /// embedder whose vectors are routed to an embeddings sink still does), and nothing is
    /// built for them.
    pub fn set_models(&mut self, on: bool) -> Result<()> {
        self.models = on;
        for i in 0..self.stages.len() {
            let publish = self.wants_models(i);
            let st = &mut self.stages[i];
            let name = st.instance.info().name.clone();
            st.instance.set_publish_models(publish).map_err(|e| call_err(&name, "set-publish-models".into(), e))?;
        }
        Ok(())
    }

    /// Leaves model versions and embeddings in each output as the operators' batches, for
    /// the consumer to encode with [`PipelineOutput::encode_models`] (on its own thread);
    /// off by default, when every output comes with them encoded.
    pub fn defer_models(&mut self, on: bool) {
        self.defer_models = on;
    }

    /// The operator names, `A | B` for a chain.
    pub fn operator(&self) -> &str {
        &self.name
    }

    /// Prequential metrics of the rows answered so far.
    pub fn metrics(&self) -> &Prequential {
        &self.metrics
    }

    /// Turns drift detection on the prequential error on (with the settings' ADWIN
    /// parameters, an empty window) or off (the default). See [`crate::drift`] for what each
    /// row feeds; detections become [`PipelineOutput::drift`] records and are logged.
    pub fn set_drift(&mut self, settings: &DriftSettings) -> Result<()> {
        self.drift = match settings.enabled {
            true => Some(DriftState::new(settings.adwin()).map_err(|e| HostError::Job(format!("[drift]: {e}")))?),
            false => None,
        };
        Ok(())
    }

    /// The drift detector and its detections so far (none when drift detection is off).
    pub fn drift(&self) -> Option<&DriftState> {
        self.drift.as_ref()
    }

    /// Rows of the records this pipeline decoded (an Arrow record holds several), since it
    /// was opened.
    pub fn rows_in(&self) -> u64 {
        self.rows_in
    }

    /// The partition this pipeline serves.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Processes `records` (in order). Returns what was produced; on a bad record without a
    /// dead-letter sink, or an operator failure, the error comes with everything produced
    /// before the failing record, so the caller can write it and stop.
    pub fn process(&mut self, records: &[Record]) -> (PipelineOutput, Result<()>) {
        self.process_in(&mut Borrowed(records))
    }

    /// [`Pipeline::process`] for records the caller gives up: they are kept without a copy
    /// while their rows wait for answers.
    pub fn process_owned(&mut self, mut records: Vec<Record>) -> (PipelineOutput, Result<()>) {
        self.process_in(&mut Owned(&mut records))
    }

    fn process_in(&mut self, records: &mut impl InputRecords) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        let mut at = 0;
        let mut r = Ok(());
        while at < records.all().len() && r.is_ok() {
            let decoded = self.decoder.decode(&records.all()[at..], !self.dead_letters, self.batch_rows);
            r = self.call(records, &mut at, decoded, &mut out);
        }
        let e = self.settle(&mut out);
        (out, r.and(e))
    }

    /// A decoder of this pipeline's input, to run on another thread: its calls, handed to
    /// [`Pipeline::process_decoded`] with the same records, give what
    /// [`Pipeline::process_owned`] would.
    pub fn predecoder(&self) -> Predecoder {
        Predecoder { decoder: self.decoder.fresh(), stop_at_bad: !self.dead_letters, batch_rows: self.batch_rows }
    }

    /// Processes records already decoded by this pipeline's [`Predecoder`].
    pub fn process_decoded(&mut self, mut records: Vec<Record>, calls: Vec<Decoded>) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        let mut at = 0;
        let mut r = Ok(());
        let mut owned = Owned(&mut records);
        for decoded in calls {
            if r.is_err() {
                break;
            }
            r = self.call(&mut owned, &mut at, decoded, &mut out);
        }
        let e = self.settle(&mut out);
        (out, r.and(e))
    }

    /// Runs the records decoded from `at` on down the chain, and moves `at` past them.
    fn call(&mut self, records: &mut impl InputRecords, at: &mut usize, decoded: Decoded, out: &mut PipelineOutput) -> Result<()> {
        let base = *at;
        *at += decoded.consumed;
        let mut stop = None;
        for (k, e) in &decoded.bad {
            let r = &records.all()[base + k];
            if self.dead_letters {
                self.count_refusal(r, e.column.as_deref(), &e.reason());
                dead_letter(&mut out.dead_letters, r, "decode", e.column.as_deref(), &e.reason());
            } else {
                stop = Some(HostError::BadRecord { origin: r.origin(), column: e.column.clone(), message: e.reason() });
            }
        }
        let considered = match decoded.bad.first() {
            Some((k, _)) if !self.dead_letters => *k,
            _ => decoded.consumed,
        };
        for r in &records.all()[base..base + considered] {
            self.last_timestamp = self.last_timestamp.max(r.timestamp);
        }
        let total: usize = decoded.good.iter().map(|g| g.1).sum();
        self.rows_in += total as u64;
        let mut seqs = Vec::with_capacity(total);
        let mut src = Vec::with_capacity(total);
        for (k, rows, arrow) in decoded.good {
            let s = Arc::new(Source { record: records.keep(base + k), rows, arrow });
            for row in 0..rows {
                seqs.push(self.next_seq);
                self.next_seq += 1;
                src.push((s.clone(), row as u32));
            }
        }
        let rows = Rows { cols: decoded.batch, n_inputs: self.decoder.schema().fields().len(), seqs, src };
        self.run_stage(0, rows, out)?;
        stop.map_or(Ok(()), Err)
    }

    /// Puts one call's outputs in an order that does not depend on how records were batched:
    /// dead letters by input position; models by the row that published them, then by stage
    /// (within one batch, every stage runs before the next one starts).
    fn order(&mut self, out: &mut PipelineOutput) {
        let d = &mut out.dead_letters;
        let mut order: Vec<usize> = (0..d.len()).collect();
        order.sort_by_key(|&i| (d.partition(i), d.origin_offset(i).unwrap_or(i64::MAX)));
        if order.iter().enumerate().any(|(k, &i)| k != i) {
            d.permute(&order);
        }
        let d = &mut out.deferred;
        for (rows, keys) in [(&mut d.models, &mut self.model_keys), (&mut d.embeddings, &mut self.embedding_keys)] {
            debug_assert_eq!(rows.len(), keys.len());
            let mut order: Vec<usize> = (0..keys.len()).collect();
            order.sort_by_key(|&i| keys[i]);
            keys.clear();
            if order.iter().enumerate().any(|(k, &i)| k != i) {
                *rows = order.iter().map(|&i| rows[i]).collect();
            }
        }
    }

    /// Orders one call's outputs ([`Pipeline::order`]) and, unless the pipeline defers them,
    /// encodes its model versions and embeddings.
    fn settle(&mut self, out: &mut PipelineOutput) -> Result<()> {
        self.order(out);
        if self.defer_models { Ok(()) } else { out.encode_models() }
    }

    /// The batch stage `stage` reads from `rows`: its columns in its order, then `__seq`. A
    /// row it cannot read is `Err((row, column, message))`.
    fn stage_input(&self, stage: usize, rows: &Rows) -> std::result::Result<RecordBatch, (usize, Option<String>, String)> {
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        if stage == 0 {
            // Decoded and checked for this stage: its columns come first.
            for &i in &self.first_stage_cols {
                fields.push(rows.cols.schema().field(i).clone());
                cols.push(rows.cols.column(i).clone());
            }
        } else {
            for spec in self.stages[stage].instance.input_columns() {
                let col = self.later_stage_column(rows, spec)?;
                fields.push(Field::new(&spec.name, col.data_type().clone(), true));
                cols.push(col);
                // river's way: the row as an earlier stage transformed it after learning.
                let learned = ColumnSpec { name: learned_name(&spec.name), required: false, ..spec.clone() };
                if rows.cols.column_by_name(&learned.name).is_some() {
                    let col = self.later_stage_column(rows, &learned)?;
                    fields.push(Field::new(&learned.name, col.data_type().clone(), true));
                    cols.push(col);
                }
            }
        }
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
        cols.push(Arc::new(UInt64Array::from(rows.seqs.clone())));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| (0, None, format!("cannot assemble the input batch: {e}")))
    }

    /// A later stage's column: an earlier stage's output or a decoded input column, converted
    /// to the type the stage asked for.
    fn later_stage_column(&self, rows: &Rows, spec: &ColumnSpec) -> std::result::Result<ArrayRef, (usize, Option<String>, String)> {
        let name = spec.name.as_str();
        let n = rows.len();
        // A decoded input column already in the type asked for goes as it is (converting the
        // JSON text of a `label` or `json` column again would quote it twice).
        if let Ok(i) = rows.cols.schema().index_of(name)
            && i < rows.n_inputs
            && self.decoded_types.iter().any(|(n, t)| n == name && *t == spec.column_type)
        {
            return Ok(rows.cols.column(i).clone());
        }
        let Some(col) = rows.cols.column_by_name(name) else {
            if name == TIMESTAMP_COLUMN {
                return Ok(Arc::new(Int64Array::from_iter_values(rows.src.iter().map(|(s, _)| s.record.timestamp))));
            }
            if spec.required {
                return Err((0, Some(name.into()), "missing required column".into()));
            }
            return Ok(arrow::array::new_null_array(&crate::decode::target_type(spec.column_type), n));
        };
        let one = RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new(name, col.data_type().clone(), true)])), vec![col.clone()])
            .map_err(|e| (0, Some(name.to_owned()), e.to_string()))?;
        crate::decode::convert_column(&one, spec).map_err(|e| (e.row.unwrap_or(0), e.column, e.message))
    }

    /// Runs `rows` through stage `stage` (and, as they are answered, the stages after it).
    /// A call that breaks the instance (a trap, the time or memory limit) is retried on a
    /// fresh instance at the state before it, one record at a time: a record that fails again
    /// is a poison record, set aside like a bad one (see [`Pipeline::isolate`]).
    fn run_stage(&mut self, stage: usize, rows: Rows, out: &mut PipelineOutput) -> Result<()> {
        match self.try_stage(stage, rows, out)? {
            Some((rows, failure)) if self.stages[stage].recovery.gave_up() => {
                let name = self.stages[stage].instance.info().name.clone();
                Err(HostError::OperatorFailed { operator: name, range: range_of(&rows), message: failure })
            }
            Some((rows, failure)) => self.isolate(stage, rows, failure, out),
            None => Ok(()),
        }
    }

    /// [`Pipeline::run_stage`] without the retry: a call that broke the instance gives back
    /// the rows it held and what happened.
    fn try_stage(&mut self, stage: usize, mut rows: Rows, out: &mut PipelineOutput) -> Result<Option<(Rows, String)>> {
        while !rows.is_empty() {
            let batch = match self.stage_input(stage, &rows) {
                Ok(b) => b,
                Err((k, column, message)) => {
                    let name = self.stages[stage].instance.info().name.clone();
                    self.refuse(stage, &mut rows, k, &name, column, message, out)?;
                    continue;
                }
            };
            let st = &mut self.stages[stage];
            st.pending.push(rows);
            let pending = &st.pending;
            let result = st.instance.process(&batch, |s| pending.contains(s));
            match result {
                Ok(p) => {
                    if let Err(e) = st.recovery.processed(&mut st.instance, batch) {
                        return Err(call_err(&st.instance.info().name.clone(), "snapshot".into(), e));
                    }
                    return self.answer(stage, p, out).map(|()| None);
                }
                Err(err) => {
                    let st = &mut self.stages[stage];
                    rows = st.pending.pop().expect("pushed above");
                    let name = st.instance.info().name.clone();
                    let range = range_of(&rows);
                    match err {
                        CallError::Operator(OperatorError::InvalidInput(i)) if (i.row as usize) < rows.len() => {
                            self.refuse(stage, &mut rows, i.row as usize, &name, i.column, i.message, out)?;
                        }
                        CallError::Failed(message) => return Ok(Some((rows, format!("{message} ({range})")))),
                        other => return Err(call_err(&name, range, other)),
                    }
                }
            }
        }
        Ok(None)
    }

    /// After a call of stage `stage` on `rows` broke its instance (`failure`): a fresh
    /// instance, rebuilt at the state before the call, processes the rows again, one record
    /// at a time. A record whose call fails again is a poison record: it goes to the dead
    /// letters with the failure as its reason (and a fresh instance takes over for the
    /// records after it); without a dead-letter sink the pipeline stops there, naming its
    /// origin, as for a bad record. Outputs are those of an uninterrupted run without the
    /// poison record, because results do not depend on how rows are batched. When
    /// [`POISON_IN_A_ROW`] records in a row fail, the operator is at fault, not them: the
    /// pipeline stops with the failure.
    fn isolate(&mut self, stage: usize, rows: Rows, failure: String, out: &mut PipelineOutput) -> Result<()> {
        let name = self.stages[stage].instance.info().name.clone();
        tracing::warn!(
            target: "eddy",
            "{name} failed on partition {}: {failure}; retrying record by record on a fresh instance from the last good state",
            self.partition
        );
        self.rebuild(stage, &failure, &rows)?;
        let mut in_a_row = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let source = rows.src[start].0.clone();
            let end = rows.src[start..].iter().position(|(s, _)| !Arc::ptr_eq(s, &source)).map_or(rows.len(), |k| start + k);
            let record = rows.slice(start, end - start);
            start = end;
            let Some((record, again)) = self.try_stage(stage, record, out)? else {
                in_a_row.clear();
                continue;
            };
            in_a_row.push(source.record.origin().to_string());
            if in_a_row.len() >= POISON_IN_A_ROW {
                // Not a record: the operator fails on everything. The instance stays broken.
                self.stages[stage].recovery.give_up();
                return Err(HostError::OperatorFailed {
                    operator: name,
                    range: range_of(&rows),
                    message: format!(
                        "{failure}; then, on fresh instances at the state before it, on each of {} records in a row ({}): {again}. \
                         The operator, not a record, is at fault",
                        in_a_row.len(),
                        in_a_row.join("; ")
                    ),
                });
            }
            self.rebuild(stage, &again, &record)?;
            let reason = format!("the operator failed on this record, and again on a fresh instance at the state before it: {again}");
            tracing::warn!(target: "eddy", "poison record at {}: {reason}", source.record.origin());
            if !self.dead_letters {
                return Err(HostError::BadRecord { origin: source.record.origin(), column: None, message: reason });
            }
            dead_letter(&mut out.dead_letters, &source.record, &name, None, &reason);
        }
        Ok(())
    }

    /// Replaces stage `stage`'s broken instance with a fresh one at the state before the call
    /// that broke it (see [`Recovery::rebuild`]).
    fn rebuild(&mut self, stage: usize, failure: &str, rows: &Rows) -> Result<()> {
        let st = &mut self.stages[stage];
        let name = st.instance.info().name.clone();
        match st.recovery.rebuild(st.instance.publishes_models(), st.instance.learned_outputs())? {
            Ok(fresh) => {
                st.instance = fresh;
                Ok(())
            }
            Err(e) => Err(HostError::OperatorFailed {
                operator: name,
                range: range_of(rows),
                message: format!(
                    "{failure}; a fresh instance could not be brought back to the state before it: {}",
                    match e {
                        CallError::Operator(e) => e.to_string(),
                        CallError::Failed(m) => m,
                    }
                ),
            }),
        }
    }

    /// Handles a refused row: dead-letter its record and drop its rows, or (with no
    /// dead-letter sink) run the rows before it and stop.
    #[expect(clippy::too_many_arguments, reason = "one private helper with the failure's parts")]
    fn refuse(
        &mut self,
        stage: usize,
        rows: &mut Rows,
        k: usize,
        operator: &str,
        column: Option<String>,
        message: String,
        out: &mut PipelineOutput,
    ) -> Result<()> {
        let (bad, row) = rows.src[k].clone();
        let reason = if bad.rows > 1 { format!("row {row}: {message}") } else { message };
        if self.dead_letters {
            self.count_refusal(&bad.record, column.as_deref(), &reason);
            dead_letter(&mut out.dead_letters, &bad.record, operator, column.as_deref(), &reason);
            let keep: Vec<bool> = rows.src.iter().map(|(s, _)| !Arc::ptr_eq(s, &bad)).collect();
            *rows = rows.filter(&keep);
            Ok(())
        } else {
            let first = rows.src.iter().position(|(s, _)| Arc::ptr_eq(s, &bad)).unwrap_or(k);
            let before = rows.slice(0, first);
            *rows = rows.slice(0, 0);
            self.run_stage(stage, before, out)?;
            Err(HostError::BadRecord { origin: bad.record.origin(), column, message: reason })
        }
    }

    /// Sends the end-of-input watermark down the chain and returns what it released.
    pub fn finish(&mut self) -> (PipelineOutput, Result<()>) {
        let mut out = PipelineOutput::default();
        for stage in 0..self.stages.len() {
            let st = &mut self.stages[stage];
            let pending = &st.pending;
            let r = match st.instance.watermark(i64::MAX, |s| pending.contains(s)) {
                Ok(p) => self.answer(stage, p, &mut out),
                Err(e) => {
                    let name = st.instance.info().name.clone();
                    Err(call_err(&name, "end of input".into(), e))
                }
            };
            if let Err(e) = r {
                let _ = self.settle(&mut out);
                return (out, Err(e));
            }
        }
        let e = self.settle(&mut out);
        (out, e)
    }

    fn wants_models(&self, stage: usize) -> bool {
        self.models || self.route_embeddings && self.stages[stage].instance.info().kind == OperatorKind::Embedder
    }

    fn answer(&mut self, stage: usize, p: Processed, out: &mut PipelineOutput) -> Result<()> {
        if let Some(models) = p.models.as_ref().filter(|_| self.wants_models(stage)) {
            self.model_records(stage, models, out)?;
        }
        let Some(outputs) = p.outputs else { return Ok(()) };
        let seq = outputs
            .column_by_name(SEQ_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .expect("checked by the instance")
            .clone();
        let operator = self.stages[stage].instance.info().name.clone();
        let st = &mut self.stages[stage];
        let answered = st.pending.take(seq.values()).map_err(|m| HostError::OperatorFailed {
            operator: operator.clone(),
            range: "answers".into(),
            message: format!("malformed output: {m}"),
        })?;
        st.pending.gc();
        let outputs = without_seq(&outputs);
        if stage + 1 < self.stages.len() {
            return self.run_stage(stage + 1, answered.with_outputs(&outputs), out);
        }
        self.observe(&outputs, &answered, out);
        self.predictions(&answered, &outputs, out)
    }

    fn model_records(&mut self, stage: usize, models: &RecordBatch, out: &mut PipelineOutput) -> Result<()> {
        let operator = self.stages[stage].instance.info().name.clone();
        let seqs = models.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned());
        let embedder = self.route_embeddings && self.stages[stage].instance.info().kind == OperatorKind::Embedder;
        let d = &mut out.deferred;
        let b = u32::try_from(d.batches.len()).expect("fewer than 2^32 model batches in one step");
        for i in 0..models.num_rows() {
            let trigger = seqs.as_ref().filter(|s| s.is_valid(i)).map(|s| s.value(i));
            let timestamp = trigger.and_then(|s| self.stages[stage].pending.source(s)).map_or(self.last_timestamp, |p| p.record.timestamp);
            let key = (trigger.unwrap_or(u64::MAX), stage);
            let row = (b, i as u32, timestamp);
            if embedder {
                d.embeddings.push(row);
                self.embedding_keys.push(key);
            } else {
                d.models.push(row);
                self.model_keys.push(key);
            }
        }
        d.batches.push((models.clone(), operator, self.partition));
        Ok(())
    }

    /// The last stage's answers as prediction records: every stage's outputs added to the
    /// input record.
    fn predictions(&self, answered: &Rows, outputs: &RecordBatch, out: &mut PipelineOutput) -> Result<()> {
        let fields = if answered.n_inputs < answered.cols.num_columns() {
            // Earlier stages' outputs first, unless the last stage replaced them.
            let earlier = answered.earlier_outputs();
            let last = outputs.schema();
            // Learned forms are for the stages after, not for the prediction.
            let keep: Vec<usize> = (0..earlier.num_columns())
                .filter(|&i| {
                    let name = earlier.schema().field(i).name().clone();
                    last.index_of(&name).is_err() && !name.ends_with(LEARNED_SUFFIX)
                })
                .collect();
            let earlier = earlier.project(&keep)?;
            let mut f: Vec<Field> = earlier.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            f.extend(last.fields().iter().map(|f| f.as_ref().clone()));
            let mut c = earlier.columns().to_vec();
            c.extend(outputs.columns().iter().cloned());
            RecordBatch::try_new(Arc::new(Schema::new(f)), c)?
        } else {
            outputs.clone()
        };
        predictions(self.format, answered, &fields, &mut out.predictions)
    }

    /// Counts the last stage's answers in the prequential metrics and feeds their errors to
    /// the drift detector.
    fn observe(&mut self, outputs: &RecordBatch, answered: &Rows, out: &mut PipelineOutput) {
        // (row in `answered`, error) of the rows the drift detector takes, in order.
        let mut errors: Vec<(usize, f64)> = Vec::new();
        let track = self.drift.is_some();
        let c = &self.metric_cols;
        let f64_col = |name: &str| outputs.column_by_name(name).and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned());
        // Labels and a classifier's predictions as class keys (numbers as they are, booleans 0
        // and 1, strings a key of their own; see `class_keys`).
        let labels: Option<Float64Array> = answered.cols.column_by_name(&c.label).and_then(|a| class_keys(a, true));
        let label = |i: usize| labels.as_ref().filter(|l| l.is_valid(i)).map(|l| l.value(i));
        match c.kind {
            OperatorKind::Classifier | OperatorKind::Regressor => {
                let pred = match c.kind {
                    OperatorKind::Classifier => outputs.column_by_name(&c.prediction).and_then(|a| class_keys(a, false)),
                    _ => f64_col(&c.prediction),
                };
                let Some(pred) = pred else { return };
                let raw = outputs.column_by_name(&c.raw).and_then(|a| a.as_any().downcast_ref::<ListArray>().cloned());
                let mut classified = Vec::new();
                for i in 0..answered.len() {
                    match label(i) {
                        None => self.metrics.unlabelled(),
                        Some(label) if c.kind == OperatorKind::Regressor => match pred.is_valid(i) {
                            true => {
                                self.metrics.regressed(pred.value(i), label);
                                if track {
                                    errors.push((i, (pred.value(i) - label).abs()));
                                }
                            }
                            false => self.metrics.unlabelled(),
                        },
                        Some(label) => {
                            let prob = raw.as_ref().filter(|r| r.is_valid(i)).and_then(|r| {
                                let (s, e) = (r.value_offsets()[i] as usize, r.value_offsets()[i + 1] as usize);
                                let v = r.values().as_any().downcast_ref::<Float64Array>()?;
                                (e - s == 2).then(|| v.value(s + 1))
                            });
                            let predicted = pred.is_valid(i).then(|| pred.value(i));
                            if track {
                                // A missing prediction is a wrong one.
                                errors.push((i, if predicted == Some(label) { 0.0 } else { 1.0 }));
                            }
                            classified.push((predicted, prob, label));
                        }
                    }
                }
                self.metrics.classified_batch(&classified);
            }
            OperatorKind::Embedder => {
                let rank = outputs.column_by_name("rank").and_then(|a| a.as_any().downcast_ref::<Int64Array>().cloned());
                for i in 0..answered.len() {
                    let r = rank.as_ref().and_then(|r| r.is_valid(i).then(|| r.value(i)));
                    if track {
                        errors.push((i, if r.is_some_and(|r| (1..=10).contains(&r)) { 0.0 } else { 1.0 }));
                    }
                    self.metrics.ranked(r);
                }
            }
            OperatorKind::AnomalyDetector => {
                let Some(score) = f64_col(&c.prediction) else { return };
                let mut scored = Vec::new();
                for i in 0..answered.len() {
                    match label(i).filter(|_| score.is_valid(i)) {
                        Some(label) => scored.push((score.value(i), label)),
                        None => self.metrics.unlabelled(),
                    }
                }
                self.metrics.anomaly_scored_batch(&scored);
            }
            OperatorKind::Clusterer | OperatorKind::Transformer => {
                for _ in 0..answered.len() {
                    self.metrics.unlabelled();
                }
            }
        }
        if !errors.is_empty() {
            self.detect(outputs, answered, &errors, out);
        }
    }

    /// Feeds the drift detector the errors of answered rows (`(row in answered, error)`, in
    /// order); each detection is logged and becomes a drift record.
    fn detect(&mut self, outputs: &RecordBatch, answered: &Rows, errors: &[(usize, f64)], out: &mut PipelineOutput) {
        let Some(drift) = &mut self.drift else { return };
        let versions =
            outputs.column_by_name(&self.metric_cols.model_version).and_then(|a| a.as_any().downcast_ref::<Int64Array>().cloned());
        for &(i, error) in errors {
            let (src, row) = &answered.src[i];
            let r = &src.record;
            let at = RowAt {
                topic: &r.topic,
                partition: r.partition,
                offset: r.offset,
                row: *row,
                timestamp: r.timestamp,
                model_version: versions.as_ref().filter(|v| v.is_valid(i)).map(|v| v.value(i)),
            };
            let Some(d) = drift.update(error, &at) else { continue };
            tracing::info!(
                target: "eddy_drift",
                "drift detected on {}[{}] at offset {}{}: prequential error {:.4} before, {:.4} over the last {} rows{}; detection {} of the partition",
                d.topic,
                d.partition,
                d.offset,
                if src.rows > 1 { format!(" (row {})", d.row) } else { String::new() },
                d.error_before,
                d.error_after,
                d.width,
                d.model_version.map_or(String::new(), |v| format!(" (model version {v})")),
                drift.detections(),
            );
            let origin = vec![
                (h::ORIGIN_TOPIC.to_owned(), Some(r.topic.as_bytes().to_vec())),
                (h::ORIGIN_PARTITION.to_owned(), Some(r.partition.to_string().into_bytes())),
                (h::ORIGIN_OFFSET.to_owned(), Some(r.offset.to_string().into_bytes())),
            ];
            out.drift.push(Record {
                topic: String::new(),
                partition: self.partition,
                offset: -1,
                timestamp: r.timestamp,
                key: Some(self.partition.to_string().into_bytes()),
                value: serde_json::to_vec(&d.to_json()).expect("JSON"),
                headers: origin,
            });
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
            let whole = full || st.recovery.needs_full_snapshot();
            let (kind, state) = st.instance.snapshot(whole).map_err(|e| call_err(&name, "snapshot".into(), e))?;
            st.recovery.snapshot_taken(kind == SnapshotKind::Full, &state);
            let info = st.instance.info();
            let mut pending = Vec::new();
            for (seq, src, row, extra) in st.pending.waiting() {
                let extra = match extra {
                    Some(b) => Some(eddy_sdk::ipc::encode(&b)?),
                    None => None,
                };
                pending.push((seq, src.record.clone(), row as usize, extra));
            }
            stages.push(StageSnapshot { operator: info.name.clone(), version: info.version.clone(), kind, state, pending });
        }
        Ok(PipelineSnapshot {
            stages,
            next_seq: self.next_seq,
            last_timestamp: self.last_timestamp,
            metrics: self.metrics.clone(),
            drift: self.drift.clone(),
        })
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
        let mut waiting = Vec::with_capacity(self.stages.len());
        for (i, s) in snap.stages.iter().enumerate() {
            waiting.push(
                Rows::rebuild(&mut self.decoder, &s.pending)
                    .map_err(|e| HostError::Restore(format!("stage {} ({}): {e}", i + 1, s.operator)))?,
            );
        }
        for (i, (st, rows)) in self.stages.iter_mut().zip(waiting).enumerate() {
            let first = chain.iter().rposition(|c| c.stages[i].kind == SnapshotKind::Full).expect("needed_from found a full state");
            let states: Vec<Vec<u8>> = chain[first..].iter().map(|c| c.stages[i].state.clone()).collect();
            st.instance.restore(&states).map_err(|e| {
                let why = match e {
                    CallError::Operator(e) => e.to_string(),
                    CallError::Failed(m) => m,
                };
                HostError::Restore(format!("operator {} (stage {}) failed to restore its state: {why}", st.instance.info().name, i + 1))
            })?;
            st.recovery.restored(states);
            st.pending.clear();
            if let Some(rows) = rows {
                st.pending.push(rows);
            }
        }
        self.next_seq = snap.next_seq;
        self.last_timestamp = snap.last_timestamp;
        self.metrics = snap.metrics.clone();
        self.restore_drift(snap.drift.as_ref())?;
        Ok(())
    }

    /// Takes the snapshot's drift detector when this pipeline detects with the same
    /// parameters; with other parameters, its history (counts, kept detections) with a new
    /// window; without one in the snapshot (drift was off, or an older eddy wrote it), a new
    /// detector. A pipeline that does not detect drops it.
    fn restore_drift(&mut self, snap: Option<&DriftState>) -> Result<()> {
        let Some(mine) = &self.drift else { return Ok(()) };
        let config = *mine.config();
        let bad = |e: eddy_drift::ConfigError| HostError::Job(format!("[drift]: {e}"));
        self.drift = Some(match snap {
            Some(theirs) if *theirs.config() == config => theirs.clone(),
            Some(theirs) => {
                tracing::warn!(
                    target: "eddy_drift",
                    "partition {}: the checkpoint's drift detector has other parameters ({:?}) than the job's [drift] ({config:?}): \
                     detection goes on with an empty window",
                    self.partition,
                    theirs.config(),
                );
                theirs.with_config(config).map_err(bad)?
            }
            None => DriftState::new(config).map_err(bad)?,
        });
        Ok(())
    }

    fn check_same_operators(&self, snap: &PipelineSnapshot) -> Result<()> {
        let mismatch = snap.stages.len() != self.stages.len()
            || snap.stages.iter().zip(&self.stages).any(|(s, st)| {
                let info = st.instance.info();
                s.operator != info.name || eddy_sdk::snapshot::major(&s.version) != eddy_sdk::snapshot::major(&info.version)
            });
        if mismatch {
            let running = self
                .stages
                .iter()
                .map(|s| format!("{} {}", s.instance.info().name, s.instance.info().version))
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(HostError::Restore(format!("the checkpoint holds a snapshot of {}, but the job runs {running}", snap.operators())));
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
