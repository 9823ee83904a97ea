//! The [`Ftrl`] operator: scores each row with the model in force at its position, gathers
//! labelled rows into global batches, and updates the model when a batch is full.

use std::sync::Arc;

use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::java_random::JavaRandom;
use eddy_sdk::labels::Labels;
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, PublishModels, SEQ_COLUMN,
    VectorColumn, f64_column, fixed_width_list_f64_array, list_f64_array, optional_f64_column, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{Model, Partial, river};
use crate::params::{InitialModel, Params, Update, param_infos};

/// OnlineLogisticRegression (FTRL-Proximal), Flink ML compatible.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ftrl {
    params: Params,
    /// `None` until the dimension is known (zeros or random initial model over a vector column).
    model: Option<Model>,
    /// The partial global batch (empty until the dimension is known).
    partial: Option<Partial>,
    /// Whether the host wants model versions; not state (see [`Operator::set_publish_models`]).
    #[serde(skip)]
    publish: PublishModels,
    /// The `classes` parameter, when set: labels of any type, two classes. Read from the
    /// job's config at every start, not state (snapshots stay as they were; `restore` keeps it).
    #[serde(skip)]
    classes: Option<Classes>,
}

/// Two declared classes: the first is class 0 (`rawPrediction[0]`), the second class 1.
#[derive(Debug, Clone)]
struct Classes {
    labels: Labels,
    /// The declared classes' values (see [`Labels`]): numbers as they are, booleans 0 and 1,
    /// strings their index.
    values: [f64; 2],
}

impl Classes {
    /// Reads the `classes` parameter: `None` when unset; two classes of one type, or an error.
    fn from_config(config: &Config) -> Result<Option<Self>, OperatorError> {
        let (labels, declared) = Labels::declared(config, "classes")?;
        let Some(values) = declared else { return Ok(None) };
        let values: [f64; 2] = values.try_into().map_err(|v: Vec<f64>| {
            OperatorError::config("classes", format!("a binary classifier takes two classes (negative, positive), got {}", v.len()))
        })?;
        Ok(Some(Self { labels, values }))
    }

    /// Each row's label as 0 (the first class) or 1 (the second); `None` where unlabelled.
    fn read(&self, batch: &RecordBatch, col: &str) -> Result<Vec<Option<f64>>, OperatorError> {
        // `seen` numbers a string the classes do not list, so that it can be named.
        let (read, seen) = self.labels.read(batch, col)?;
        let mut out = Vec::with_capacity(read.len());
        for (r, v) in read.into_iter().enumerate() {
            out.push(match v {
                None => None,
                Some(v) if v == self.values[0] => Some(0.0),
                Some(v) if v == self.values[1] => Some(1.0),
                Some(v) => {
                    let (a, b) = (seen.to_json(self.values[0]), seen.to_json(self.values[1]));
                    return Err(OperatorError::input(r, Some(col), format!("label {} is not one of classes [{a}, {b}]", seen.to_json(v))));
                }
            });
        }
        Ok(out)
    }

    /// Predicted classes (0 or 1) as a column of the labels' type.
    fn predictions(&self, pred: &[f64]) -> ArrayRef {
        let values: Vec<Option<f64>> = pred.iter().map(|p| Some(self.values[usize::from(*p != 0.0)])).collect();
        self.labels.predictions(&values)
    }
}

/// One row's features, borrowed from the batch (or from the gathered numeric columns).
#[derive(Clone, Copy)]
struct Row<'a> {
    indices: Option<&'a [i32]>,
    values: &'a [f64],
    size: usize,
}

impl Row<'_> {
    #[inline(always)]
    fn dot(&self, w: &[f64]) -> f64 {
        let mut s = 0.0;
        match self.indices {
            None => s = eddy_sdk::math::dot(self.values, w),
            Some(ix) => {
                for (&i, x) in ix.iter().zip(self.values) {
                    s += x * w[i as usize];
                }
            }
        }
        s
    }
}

impl Ftrl {
    /// The current model, if the dimension is known.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    fn initial_model(&self, dim: usize) -> Model {
        match &self.params.initial_model {
            InitialModel::Zeros => Model::initial(vec![0.0; dim]),
            InitialModel::Coefficient(w) => Model::initial(w.clone()),
            InitialModel::Random { seed, .. } => {
                let mut r = JavaRandom::new(*seed);
                Model::initial((0..dim).map(|_| r.next_double()).collect())
            }
        }
    }

    /// Gathers numeric feature columns row-major into `flat` (validated: the error names the
    /// first bad value in row-major order, whichever column holds it).
    fn gather_columns(&self, batch: &RecordBatch, cols: &[String], flat: &mut Vec<f64>) -> Result<(), OperatorError> {
        let arrays = cols.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
        let n = batch.num_rows();
        // Column by column, the common case in one pass each; a column with a bad value names
        // its first bad row, and the earliest such row (then the leftmost column) is the error.
        let mut first_bad: Option<(usize, usize)> = None;
        for (c, a) in arrays.iter().enumerate() {
            if a.null_count() == 0 && eddy_sdk::math::all_finite(a.values()) {
                continue;
            }
            if let Some(r) = (0..n).find(|&r| a.is_null(r) || !a.value(r).is_finite())
                && first_bad.is_none_or(|(br, _)| r < br)
            {
                first_bad = Some((r, c));
            }
        }
        if let Some((r, c)) = first_bad {
            let (a, name) = (arrays[c], &cols[c]);
            return Err(if a.is_null(r) {
                OperatorError::input(r, Some(name), "missing feature value")
            } else {
                OperatorError::input(r, Some(name), format!("feature is not finite ({})", a.value(r)))
            });
        }
        let columns: Vec<&[f64]> = arrays.iter().map(|a| &a.values()[..]).collect();
        eddy_sdk::math::rows_from_columns(&columns, n, flat);
        Ok(())
    }

    /// Extracts and validates every row's features, label and weight before anything learns.
    #[expect(clippy::type_complexity, reason = "three parallel per-row vectors")]
    fn read_rows<'a>(&self, batch: &'a RecordBatch, flat: &'a [f64]) -> Result<(Vec<Row<'a>>, Vec<Option<f64>>, Vec<f64>), OperatorError> {
        let n = batch.num_rows();
        let p = &self.params;
        let mut rows = Vec::with_capacity(n);
        // The dimension every row has, when the layout says so (then there is no row to check).
        let mut uniform = None;
        match &p.features {
            FeaturesCol::Columns(cols) => {
                let d = cols.len();
                rows.extend(flat.chunks_exact(d).map(|values| Row { indices: None, values, size: d }));
                uniform = Some(d);
            }
            FeaturesCol::Vector(col) => {
                let vc = VectorColumn::new(batch, col)?;
                let finite = vc.all_values_finite();
                if let (true, Some((values, d))) = (finite, vc.dense_rows()) {
                    // Dense rows of one dimension, all finite: nothing to check row by row.
                    rows.extend(values.chunks_exact(d).map(|values| Row { indices: None, values, size: d }));
                    uniform = Some(d);
                } else {
                    for r in 0..n {
                        let v = vc.get(r)?.ok_or_else(|| OperatorError::input(r, Some(col), "missing feature vector"))?;
                        if finite { v.validate_shape() } else { v.validate() }.map_err(|m| OperatorError::input(r, Some(col), m))?;
                        rows.push(Row { indices: v.indices, values: v.values, size: v.size });
                    }
                }
            }
        }
        let mut dim = self.model.as_ref().map(|m| m.w.len());
        if dim.is_none()
            && let InitialModel::Random { dim: Some(d), .. } = &p.initial_model
        {
            dim = Some(*d);
        }
        let feature_col = match &p.features {
            FeaturesCol::Vector(c) => c.as_str(),
            FeaturesCol::Columns(_) => "featuresCol",
        };
        // With a uniform dimension only the first row can disagree.
        let checked = if uniform.is_some() { &rows[..rows.len().min(1)] } else { &rows[..] };
        for (r, row) in checked.iter().enumerate() {
            let d = *dim.get_or_insert(row.size);
            if row.size != d {
                return Err(OperatorError::input(r, Some(feature_col), format!("vector has dimension {} but the model has {d}", row.size)));
            }
        }
        let label = optional_f64_column(batch, Some(&p.label_col)).ok().flatten();
        let labels = match label {
            _ if self.classes.is_some() => self.classes.as_ref().expect("checked").read(batch, &p.label_col)?,
            None => vec![None; n],
            // Every row labelled 0 or 1, checked in one pass; otherwise row by row below, for
            // the error.
            Some(a) if a.null_count() == 0 && a.values().iter().fold(true, |ok, v| ok & ((*v == 0.0) | (*v == 1.0))) => {
                a.values().iter().map(|v| Some(*v)).collect()
            }
            Some(_) => self.read_labels(label, n)?,
        };
        let weights = match optional_f64_column(batch, p.weight_col.as_deref())? {
            None => vec![1.0; n],
            weight => self.read_weights(weight, n)?,
        };
        Ok((rows, labels, weights))
    }

    /// The labels row by row, refusing any but 0 and 1.
    fn read_labels(&self, label: Option<&Float64Array>, n: usize) -> Result<Vec<Option<f64>>, OperatorError> {
        let p = &self.params;
        let mut labels = Vec::with_capacity(n);
        for r in 0..n {
            let l = label.and_then(|a| (!a.is_null(r)).then(|| a.value(r)));
            if let Some(v) = l
                && v != 0.0
                && v != 1.0
            {
                return Err(OperatorError::input(r, Some(&p.label_col), format!("label must be 0 or 1, got {v}")));
            }
            labels.push(l);
        }
        Ok(labels)
    }

    /// The weights row by row (1 where a row has none), refusing negative or non-finite ones.
    fn read_weights(&self, weight: Option<&Float64Array>, n: usize) -> Result<Vec<f64>, OperatorError> {
        let p = &self.params;
        let mut weights = Vec::with_capacity(n);
        for r in 0..n {
            let w = match weight {
                Some(a) if !a.is_null(r) => a.value(r),
                _ => 1.0,
            };
            if !(w.is_finite() && w >= 0.0) {
                return Err(OperatorError::input(r, p.weight_col.as_deref(), format!("weight must be finite and >= 0, got {w}")));
            }
            weights.push(w);
        }
        Ok(weights)
    }

    /// Model rows; with `seqs`, each row names the input row that published it.
    fn model_batch(&self, models: &[(Vec<f64>, i64)], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
        let mut fields = vec![
            Field::new("coefficient", DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(list_f64_array(models.iter().map(|(w, _)| w.as_slice()))),
            Arc::new(Int64Array::from_iter_values(models.iter().map(|(_, v)| *v))),
        ];
        if let Some(s) = seqs {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            cols.push(Arc::new(UInt64Array::from(s.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| OperatorError::internal(e.to_string()))
    }
}

impl Operator for Ftrl {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "OnlineLogisticRegression".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Binary logistic regression trained online with FTRL-Proximal over count-based global batches, with Flink ML's parameters and arithmetic.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let classes = Classes::from_config(config)?;
        let mut op = Self { params, model: None, partial: None, publish: PublishModels::default(), classes };
        let dim = match (&op.params.initial_model, &op.params.features) {
            (InitialModel::Coefficient(w), _) => Some(w.len()),
            (InitialModel::Random { dim: Some(d), .. }, _) => Some(*d),
            (_, FeaturesCol::Columns(c)) => Some(c.len()),
            _ => None,
        };
        op.model = dim.map(|d| op.initial_model(d));
        Ok(op)
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        let p = &self.params;
        let mut cols = match &p.features {
            FeaturesCol::Vector(c) => vec![ColumnSpec::required(c, ColumnType::Vector)],
            FeaturesCol::Columns(cs) => cs.iter().map(|c| ColumnSpec::required(c, ColumnType::Float64)).collect(),
        };
        // Labels of any type when classes are declared; otherwise numbers (0 and 1), which the
        // host hands over as they are (no text to parse per row).
        let label_type = if self.classes.is_some() { ColumnType::Label } else { ColumnType::Float64 };
        cols.push(ColumnSpec::optional(&p.label_col, label_type));
        if let Some(w) = &p.weight_col {
            cols.push(ColumnSpec::optional(w, ColumnType::Float64));
        }
        cols
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let mut flat = Vec::new();
        if let FeaturesCol::Columns(cols) = &self.params.features {
            self.gather_columns(batch, cols, &mut flat)?;
        }
        let (rows, labels, weights) = self.read_rows(batch, &flat)?;
        let dim = self.model.as_ref().map(|m| m.w.len()).or(rows.first().map(|r| r.size));
        // river's way, when an earlier stage gave the rows' learned forms: learn from those.
        let mut learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?.map(Vec::into_iter);
        let seq = seq_column(batch)?.clone();
        let n = rows.len();
        // Outputs are written in place, row by row (no push, no capacity check per row).
        let mut pred = vec![0.0; n];
        let mut raw = vec![0.0; 2 * n];
        let mut versions = vec![0i64; n];
        let mut published = Vec::new();
        let mut published_seq = Vec::new();
        let publish = self.publish.on();
        let outputs = pred.iter_mut().zip(raw.chunks_exact_mut(2)).zip(versions.iter_mut());
        let inputs = rows.into_iter().zip(labels).zip(weights).zip(seq.values().iter());
        for ((((row, label), weight), row_seq), ((pred, raw), version)) in inputs.zip(outputs) {
            if self.model.is_none() {
                self.model = Some(self.initial_model(row.size));
            }
            let model = self.model.as_mut().expect("model set above");
            let learned_row = learned.as_mut().and_then(|l| l.next().flatten());
            // river's update learns row by row: no partial batch to keep.
            if self.params.update == Update::River {
                let dot = river::dot(row.indices, row.values, &model.w);
                let prob = river::probability(dot);
                *pred = if prob > 1.0 - prob { 1.0 } else { 0.0 };
                raw[0] = 1.0 - prob;
                raw[1] = prob;
                *version = model.version;
                if let Some(label) = label {
                    let p = &self.params;
                    let rates = [p.alpha, p.beta, p.l1, p.l2];
                    match &learned_row {
                        Some(l) => {
                            let dot = river::dot(l.indices.as_deref(), &l.values, &model.w);
                            model.learn_river(l.indices.as_deref(), &l.values, label, weight, dot, rates)
                        }
                        None => model.learn_river(row.indices, row.values, label, weight, dot, rates),
                    }
                    if publish {
                        published.push((model.w.clone(), model.version));
                        published_seq.push(*row_seq);
                    }
                }
                continue;
            }
            let partial = self.partial.get_or_insert_with(|| Partial::new(model.w.len()));
            let dot = row.dot(&model.w);
            let prob = 1.0 - 1.0 / (1.0 + eddy_sdk::math::exp(dot));
            *pred = if dot >= 0.0 { 1.0 } else { 0.0 };
            raw[0] = 1.0 - prob;
            raw[1] = prob;
            *version = model.version;
            if let Some(label) = label {
                match &learned_row {
                    Some(l) => partial.add(l.indices.as_deref(), &l.values, label, weight, l.dot(&model.w)),
                    None => partial.add(row.indices, row.values, label, weight, dot),
                }
                if partial.rows == self.params.global_batch_size {
                    let p = &self.params;
                    model.update(partial, p.alpha, p.beta, p.l1, p.l2);
                    partial.clear();
                    // The version counts whether or not it is published.
                    if publish {
                        published.push((model.w.clone(), model.version));
                        published_seq.push(*row_seq);
                    }
                }
            }
        }
        let p = &self.params;
        let (prediction_type, prediction): (DataType, ArrayRef) = match &self.classes {
            Some(c) => (c.labels.prediction_type(), c.predictions(&pred)),
            None => (DataType::Float64, Arc::new(Float64Array::from(pred))),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new(&p.prediction_col, prediction_type, false),
            Field::new(&p.raw_prediction_col, DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false),
            Field::new(&p.model_version_col, DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            prediction,
            Arc::new(fixed_width_list_f64_array(raw, 2)),
            Arc::new(Int64Array::from(versions)),
            Arc::new(UInt64Array::from(seq)),
        ];
        let outputs = RecordBatch::try_new(schema, columns).map_err(|e| OperatorError::internal(e.to_string()))?;
        let models = if published.is_empty() { None } else { Some(self.model_batch(&published, Some(&published_seq))?) };
        Ok(Output { outputs, models })
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        // The snapshot is the state; the classes and the update rule come from this
        // instance's config.
        let (classes, update) = (self.classes.take(), self.params.update);
        *self = eddy_sdk::snapshot::open(&Self::describe(), state)?;
        (self.classes, self.params.update) = (classes, update);
        Ok(())
    }

    fn set_publish_models(&mut self, on: bool) {
        self.publish = PublishModels(on);
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        let m = self.model.as_ref().map(|m| (m.w.clone(), m.version)).unwrap_or((Vec::new(), 0));
        self.model_batch(&[m], None)
    }
}
