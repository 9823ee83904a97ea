//! The [`OnlineStandardScaler`] operator: scales each row with the latest model that is fresh
//! enough for it (holding the row back, in the state, until one is), then learns the row into
//! the running statistics of its window; a model is published whenever a window closes. With
//! `variance = "river"` the statistics are river's (see [`RiverStats`]) and no row waits.

use std::sync::Arc;

use eddy_sdk::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, VectorBuilder,
    VectorColumn, f64_column, learned_name, list_f64_array, seq_column, vector_field,
};
use serde::{Deserialize, Serialize};

use crate::model::{RiverStats, ScalerModel, Stats};
use crate::params::{Params, Variance, param_infos};
use crate::windows::{Assign, OpenWindow, assign, is_due};

/// A row held back until a model fresh enough for it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WaitingRow {
    /// The `__seq` of the input row, echoed when it is answered.
    seq: u64,
    /// Its event time (`i64::MIN` when windows are not event-time ones).
    t: i64,
    /// Its dense values.
    values: Vec<f64>,
}

/// OnlineStandardScaler, Flink ML compatible (or river compatible, with `variance = "river"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineStandardScaler {
    params: Params,
    /// The input dimension, fixed by the first row.
    dim: Option<usize>,
    /// Flink ML's statistics over every row learnt so far (closed windows and the open one);
    /// `None` with `variance = "river"`.
    stats: Option<Stats>,
    /// The window gathering rows.
    open: Option<OpenWindow>,
    /// No row with an event time at or before this is expected.
    watermark: i64,
    /// Version of the next model.
    next_version: i64,
    /// The latest model.
    model: Option<ScalerModel>,
    /// Rows waiting for a fresh enough model, in arrival order.
    waiting: Vec<WaitingRow>,
    /// With `variance = "river"`, river's statistics over every row learnt so far (`None`:
    /// Flink ML's, in `stats`). Last on purpose: a snapshot taken before this field existed is
    /// the same bytes without it, which [`Operator::restore`] reads as `variance = "flink-ml"`.
    river: Option<RiverStats>,
    /// The host's `set-learned-outputs` (not state): also give each answered row as scaled by
    /// the latest model after the row was learnt (`outputCol@learned`).
    #[serde(skip)]
    learned_outputs: bool,
}

/// The state as snapshotted before `variance` existed: every field but the last.
#[derive(Deserialize)]
struct StateBeforeVariance {
    params: Params,
    dim: Option<usize>,
    stats: Option<Stats>,
    open: Option<OpenWindow>,
    watermark: i64,
    next_version: i64,
    model: Option<ScalerModel>,
    waiting: Vec<WaitingRow>,
}

/// What one call produced, gathered row by row.
#[derive(Default)]
struct Emitted {
    seqs: Vec<u64>,
    vectors: Vec<Vec<f64>>,
    /// With learned outputs: each answered row as scaled after it was learnt.
    learned: Vec<Vec<f64>>,
    versions: Vec<i64>,
    models: Vec<ScalerModel>,
    /// For each model, the `__seq` of the row whose processing published it (`None` when a
    /// host watermark did).
    model_seqs: Vec<Option<u64>>,
}

impl Emitted {
    fn is_empty(&self) -> bool {
        self.seqs.is_empty() && self.models.is_empty()
    }
}

/// `x` scaled by `model` with `p`'s arithmetic.
fn scale(p: &Params, model: &ScalerModel, x: &[f64]) -> Vec<f64> {
    match p.variance {
        Variance::FlinkMl => model.transform(x, p.with_mean, p.with_std),
        Variance::River => model.transform_river(x, p.with_std),
    }
}

/// Whether `model` may scale a row with event time `t` (Flink: `t - maxAllowedModelDelayMs <=
/// modelTimestamp`), computed without overflow.
fn fresh_enough(model: &ScalerModel, t: i64, delay: i64) -> bool {
    i128::from(t) - i128::from(delay) <= i128::from(model.timestamp)
}

/// The schema of model data: `mean`, `std` (List<Float64>), `version`, `timestamp` (Int64), as
/// Flink ML's StandardScalerModelData; published models also carry `__seq` (UInt64, null when a
/// host watermark published the model), the input row whose processing published them.
fn model_schema(with_seq: bool) -> Schema {
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)));
    let mut fields = vec![
        Field::new("mean", list.clone(), false),
        Field::new("std", list, false),
        Field::new("version", DataType::Int64, false),
        Field::new("timestamp", DataType::Int64, false),
    ];
    if with_seq {
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, true));
    }
    Schema::new(fields)
}

/// Model rows; with `seqs`, each row names the input row that published it.
fn model_batch(models: &[ScalerModel], seqs: Option<&[Option<u64>]>) -> Result<RecordBatch, OperatorError> {
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(list_f64_array(models.iter().map(|m| m.mean.as_slice()))),
        Arc::new(list_f64_array(models.iter().map(|m| m.std.as_slice()))),
        Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.version))),
        Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.timestamp))),
    ];
    if let Some(s) = seqs {
        cols.push(Arc::new(UInt64Array::from(s.to_vec())));
    }
    RecordBatch::try_new(Arc::new(model_schema(seqs.is_some())), cols).map_err(|e| OperatorError::internal(e.to_string()))
}

impl OnlineStandardScaler {
    /// The latest model, if a window has closed.
    pub fn model(&self) -> Option<&ScalerModel> {
        self.model.as_ref()
    }

    /// With `variance = "river"`, river's running statistics.
    pub fn river_stats(&self) -> Option<&RiverStats> {
        self.river.as_ref()
    }

    /// How many rows wait for a fresh enough model.
    pub fn waiting_rows(&self) -> usize {
        self.waiting.len()
    }

    fn input_param(&self) -> &str {
        match &self.params.input {
            FeaturesCol::Vector(c) => c,
            FeaturesCol::Columns(_) => "inputCol",
        }
    }

    /// Extracts and checks every row (values present, finite, one dimension; event time
    /// present) before anything changes.
    fn read_rows(&self, batch: &RecordBatch) -> Result<Vec<(Vec<f64>, i64)>, OperatorError> {
        let n = batch.num_rows();
        let mut values = Vec::with_capacity(n);
        match &self.params.input {
            FeaturesCol::Columns(cols) => {
                let arrays = cols.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
                for r in 0..n {
                    let mut row = Vec::with_capacity(arrays.len());
                    for (a, name) in arrays.iter().zip(cols) {
                        if a.is_null(r) {
                            return Err(OperatorError::input(r, Some(name), "missing input value"));
                        }
                        let v = a.value(r);
                        if !v.is_finite() {
                            return Err(OperatorError::input(r, Some(name), format!("input is not finite ({v})")));
                        }
                        row.push(v);
                    }
                    values.push(row);
                }
            }
            FeaturesCol::Vector(col) => {
                let vc = VectorColumn::new(batch, col)?;
                for r in 0..n {
                    let v = vc.get(r)?.ok_or_else(|| OperatorError::input(r, Some(col), "missing input vector"))?;
                    v.validate().map_err(|m| OperatorError::input(r, Some(col), m))?;
                    values.push(v.to_dense());
                }
            }
        }
        let mut dim = self.dim;
        let col = self.input_param();
        for (r, row) in values.iter().enumerate() {
            let d = *dim.get_or_insert(row.len());
            if row.len() != d {
                return Err(OperatorError::input(r, Some(col), format!("vector has dimension {} but earlier rows have {d}", row.len())));
            }
        }
        if let Some(river) = &self.river {
            // Refused before anything is learnt: a row whose update would overflow river's
            // running statistics (they would stay infinite or NaN for every later row).
            let mut probe = river.clone();
            for (r, row) in values.iter().enumerate() {
                probe.add(row);
                if !probe.is_finite() {
                    return Err(OperatorError::input(r, Some(col), "the running mean or variance overflows (feature values too large)"));
                }
            }
        }
        let times: Vec<i64> = if self.params.windows.is_event_time() {
            let name = self.params.timestamp_col.as_str();
            let a = batch
                .column_by_name(name)
                .ok_or_else(|| OperatorError::input(0, Some(name), "column missing from the batch the host delivered"))?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| OperatorError::input(0, Some(name), "expected an Int64 column (event time in ms)"))?;
            (0..n)
                .map(|r| if a.is_null(r) { Err(OperatorError::input(r, Some(name), "missing event time")) } else { Ok(a.value(r)) })
                .collect::<Result<_, _>>()?
        } else {
            vec![i64::MIN; n]
        };
        Ok(values.into_iter().zip(times).collect())
    }

    /// Scores (or holds back) one row, then learns it.
    fn on_row(&mut self, seq: u64, t: i64, x: Vec<f64>, em: &mut Emitted) {
        let p = &self.params;
        // river's way, before any row: river's empty statistics (mean 0, variance 0) scale it.
        let empty = (self.model.is_none() && self.river.is_some()).then(|| ScalerModel::river_empty(x.len()));
        let answered_now = match self.model.as_ref().or(empty.as_ref()) {
            Some(m) if fresh_enough(m, t, p.max_allowed_model_delay_ms) => {
                em.seqs.push(seq);
                em.vectors.push(scale(p, m, &x));
                em.versions.push(m.version);
                // Filled in once the row is learnt (a window may close first and answer
                // waiting rows, whose learned forms come before this one's).
                if self.learned_outputs {
                    em.learned.push(Vec::new());
                }
                Some(em.learned.len())
            }
            _ => {
                self.waiting.push(WaitingRow { seq, t, values: x.clone() });
                None
            }
        };
        while assign(self.params.windows, &mut self.open, self.watermark, t) == Assign::CloseFirst {
            self.close_open(em, Some(seq));
        }
        match &mut self.river {
            Some(river) => river.add(&x),
            None => self.stats.get_or_insert_with(|| Stats::new(x.len())).add(&x),
        }
        if self.params.windows.is_event_time() {
            self.watermark = self.watermark.max(t.saturating_sub(1));
        }
        self.close_if_due(em, Some(seq));
        if self.learned_outputs
            && let Some(at) = answered_now
        {
            // river's way: the row as the latest model scales it now that it is learnt (the
            // model it was scored with, until a window closes).
            let p = &self.params;
            let m = self.model.as_ref().expect("the row was scored with a model");
            em.learned[at - 1] = scale(p, m, &x);
        }
    }

    /// Closes the open window if it is due; `by` is the row whose processing closed it.
    fn close_if_due(&mut self, em: &mut Emitted, by: Option<u64>) {
        if self.open.as_ref().is_some_and(|o| is_due(self.params.windows, o, self.watermark)) {
            self.close_open(em, by);
        }
    }

    /// Closes the open window: publishes a model from all rows learnt so far (if the window
    /// holds any) and answers the waiting rows it is fresh enough for.
    fn close_open(&mut self, em: &mut Emitted, by: Option<u64>) {
        let Some(open) = self.open.take() else { return };
        if open.rows == 0 {
            return;
        }
        let timestamp = if self.params.windows.is_event_time() { open.max_timestamp() } else { i64::MAX };
        let model = match (&self.river, &self.stats) {
            (Some(river), _) => river.model(self.next_version, timestamp),
            (None, Some(stats)) => stats.model(self.next_version, timestamp),
            (None, None) => return,
        };
        self.next_version += 1;
        em.models.push(model.clone());
        em.model_seqs.push(by);
        let p = &self.params;
        let mut still = Vec::with_capacity(self.waiting.len());
        for w in self.waiting.drain(..) {
            if fresh_enough(&model, w.t, p.max_allowed_model_delay_ms) {
                em.seqs.push(w.seq);
                let scaled = scale(p, &model, &w.values);
                if self.learned_outputs {
                    // Answered by a model that has learnt the row already: both forms agree.
                    em.learned.push(scaled.clone());
                }
                em.vectors.push(scaled);
                em.versions.push(model.version);
            } else {
                still.push(w);
            }
        }
        self.waiting = still;
        self.model = Some(model);
    }

    fn output(&self, em: Emitted) -> Result<Output, OperatorError> {
        let p = &self.params;
        let mut fields = vec![vector_field(&p.output_col, false)];
        let mut vb = VectorBuilder::new();
        for v in &em.vectors {
            vb.append_dense(v);
        }
        let mut cols: Vec<ArrayRef> = vec![Arc::new(vb.finish())];
        if self.learned_outputs {
            fields.push(vector_field(&learned_name(&p.output_col), false));
            let mut lb = VectorBuilder::new();
            for v in &em.learned {
                lb.append_dense(v);
            }
            cols.push(Arc::new(lb.finish()));
        }
        if let Some(vc) = &p.model_version_col {
            fields.push(Field::new(vc, DataType::Int64, false));
            cols.push(Arc::new(Int64Array::from(em.versions)));
        }
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
        cols.push(Arc::new(UInt64Array::from(em.seqs)));
        let outputs = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| OperatorError::internal(e.to_string()))?;
        let models = if em.models.is_empty() { None } else { Some(model_batch(&em.models, Some(&em.model_seqs))?) };
        Ok(Output { outputs, models })
    }
}

impl Operator for OnlineStandardScaler {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "OnlineStandardScaler".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Transformer,
            description: "Standardises a vector column with the mean and standard deviation of all rows seen so far, publishing one model per window (global, count-tumbling, event-time tumbling or session), with Flink ML's parameters, arithmetic and maxAllowedModelDelayMs; or, with variance = \"river\", river 0.26.1's StandardScaler step for step.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let dim = match &params.input {
            FeaturesCol::Columns(c) => Some(c.len()),
            FeaturesCol::Vector(_) => None,
        };
        let river = (params.variance == Variance::River).then(RiverStats::default);
        Ok(Self {
            params,
            dim,
            stats: None,
            open: None,
            watermark: i64::MIN,
            next_version: 0,
            model: None,
            waiting: Vec::new(),
            river,
            learned_outputs: false,
        })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        let p = &self.params;
        let mut cols = match &p.input {
            FeaturesCol::Vector(c) => vec![ColumnSpec::required(c, ColumnType::Vector)],
            FeaturesCol::Columns(cs) => cs.iter().map(|c| ColumnSpec::required(c, ColumnType::Float64)).collect(),
        };
        if p.windows.is_event_time() {
            cols.push(ColumnSpec::required(&p.timestamp_col, ColumnType::Int64));
        }
        cols
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let rows = self.read_rows(batch)?;
        let seq = seq_column(batch)?;
        let mut em = Emitted::default();
        for (i, (x, t)) in rows.into_iter().enumerate() {
            self.dim.get_or_insert(x.len());
            self.on_row(seq.value(i), t, x, &mut em);
        }
        self.output(em)
    }

    fn watermark(&mut self, timestamp: i64) -> Result<Option<Output>, OperatorError> {
        self.watermark = self.watermark.max(timestamp);
        let mut em = Emitted::default();
        self.close_if_due(&mut em, None);
        if em.is_empty() { Ok(None) } else { self.output(em).map(Some) }
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        model_batch(self.model.as_slice(), None)
    }

    /// Reads a snapshot of this version, or one taken before `variance` existed (the same bytes
    /// without the last field; postcard reads a struct field by field, so the longer layout
    /// fails at the end of such a snapshot and the shorter one reads it whole), which restores
    /// with Flink ML's statistics it was taken with.
    fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let info = Self::describe();
        let mut restored: Self = match eddy_sdk::snapshot::open(&info, state) {
            Ok(s) => s,
            Err(e) => match eddy_sdk::snapshot::open::<StateBeforeVariance>(&info, state) {
                Ok(s) => Self {
                    params: s.params,
                    dim: s.dim,
                    stats: s.stats,
                    open: s.open,
                    watermark: s.watermark,
                    next_version: s.next_version,
                    model: s.model,
                    waiting: s.waiting,
                    river: None,
                    learned_outputs: false,
                },
                Err(_) => return Err(e),
            },
        };
        restored.params.variance = if restored.river.is_some() { Variance::River } else { Variance::FlinkMl };
        restored.learned_outputs = self.learned_outputs;
        *self = restored;
        Ok(())
    }

    fn set_learned_outputs(&mut self, on: bool) {
        self.learned_outputs = on;
    }
}
