//! The [`HalfSpaceTrees`] operator: reads and checks a batch, then for every row in order
//! scores it against the reference window, counts it in the latest window, and swaps the
//! windows (a new model version, published) every `windowSize` rows.

use std::borrow::Cow;
use std::sync::Arc;

use eddy_sdk::arrow::array::builder::{Float64Builder, Int64Builder, ListBuilder};
use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, PublishModels, SEQ_COLUMN,
    VectorColumn, f64_column, rows, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::forest::Forest;
use crate::params::{Params, param_infos};

/// Half-space trees (Tan, Ting and Liu 2011) as river's `anomaly.HalfSpaceTrees`: streaming,
/// unsupervised anomaly scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    params: Params,
    /// The feature dimension, once known (from `featuresCol` or `limits` when they fix it, else
    /// the first row).
    dim: Option<usize>,
    /// The trees, grown when the dimension is known (at open, or at the first row).
    forest: Option<Forest>,
    /// Rows counted in the latest window so far.
    counter: u32,
    /// Windows completed: 0 while the first window fills (rows then score 0).
    version: i64,
    #[serde(skip)]
    publish: PublishModels,
}

fn internal(e: impl ToString) -> OperatorError {
    OperatorError::internal(e.to_string())
}

fn list_i64_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int64, false)))
}

fn list_f64_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)))
}

fn nested_field(name: &str, inner: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new_list_field(inner, false))), false)
}

/// Model records being built: one per window swap (or one for `model_data`).
struct ModelRows {
    feature: ListBuilder<ListBuilder<Int64Builder>>,
    threshold: ListBuilder<ListBuilder<Float64Builder>>,
    mass: ListBuilder<ListBuilder<Int64Builder>>,
    version: Vec<i64>,
    seq: Vec<u64>,
}

impl ModelRows {
    fn new() -> Self {
        let ints = || {
            ListBuilder::new(ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Int64, false))))
                .with_field(Arc::new(Field::new_list_field(list_i64_type(), false)))
        };
        let floats =
            ListBuilder::new(ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Float64, false))))
                .with_field(Arc::new(Field::new_list_field(list_f64_type(), false)));
        Self { feature: ints(), threshold: floats, mass: ints(), version: Vec::new(), seq: Vec::new() }
    }

    /// Adds the model `forest` (none yet: empty lists) at `version`.
    fn push(&mut self, forest: Option<&Forest>, version: i64, seq: Option<u64>) {
        if let Some(f) = forest {
            let (splits, nodes) = (f.splits_per_tree(), f.nodes_per_tree());
            for t in 0..f.n_trees {
                self.feature.values().values().extend(f.feature[t * splits..][..splits].iter().map(|&v| Some(i64::from(v))));
                self.feature.values().append(true);
                self.threshold.values().values().append_slice(&f.threshold[t * splits..][..splits]);
                self.threshold.values().append(true);
                self.mass.values().values().extend(f.r_mass[t * nodes..][..nodes].iter().map(|&v| Some(i64::from(v))));
                self.mass.values().append(true);
            }
        }
        self.feature.append(true);
        self.threshold.append(true);
        self.mass.append(true);
        self.version.push(version);
        self.seq.extend(seq);
    }

    fn finish(mut self) -> Result<RecordBatch, OperatorError> {
        let mut fields = vec![
            nested_field("feature", list_i64_type()),
            nested_field("threshold", list_f64_type()),
            nested_field("mass", list_i64_type()),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.feature.finish()),
            Arc::new(self.threshold.finish()),
            Arc::new(self.mass.finish()),
            Arc::new(Int64Array::from(self.version)),
        ];
        if !self.seq.is_empty() {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            columns.push(Arc::new(UInt64Array::from(self.seq)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
    }
}

/// The batch's features as one row-major matrix of `dim` columns, every value checked
/// (present and finite, one dimension), and the dimension. A bad row is an input error naming
/// it and its column (the first bad row of the batch).
fn read_matrix<'a>(
    batch: &'a RecordBatch,
    features: &FeaturesCol,
    dim: Option<usize>,
) -> Result<(Cow<'a, [f64]>, Option<usize>), OperatorError> {
    let n = batch.num_rows();
    match features {
        FeaturesCol::Columns(cols) => {
            let arrays = cols.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
            let clean = |a: &Float64Array| a.null_count() == 0 && eddy_sdk::math::all_finite(a.values());
            if !arrays.iter().all(|a| clean(a)) {
                // The rows module finds the first bad row and names its column.
                rows::read_features(batch, features, dim)?;
            }
            let d = cols.len();
            let mut m = vec![0.0; n * d];
            for (j, a) in arrays.iter().enumerate() {
                for (r, v) in a.values().iter().enumerate() {
                    m[r * d + j] = *v;
                }
            }
            Ok((Cow::Owned(m), Some(d)))
        }
        FeaturesCol::Vector(col) => {
            let vc = VectorColumn::new(batch, col)?;
            if let Some((values, d)) = vc.dense_rows()
                && vc.all_values_finite()
            {
                if let Some(want) = dim
                    && d != want
                {
                    return Err(OperatorError::input(0, Some(col), format!("vector has dimension {d} but the model has {want}")));
                }
                return Ok((Cow::Borrowed(values), Some(d)));
            }
            let (rows, dim) = rows::read_features(batch, features, dim)?;
            Ok((Cow::Owned(rows.iter().flat_map(rows::Row::to_dense).collect()), dim))
        }
    }
}

impl HalfSpaceTrees {
    /// The trees and their masses, once grown.
    pub fn forest(&self) -> Option<&Forest> {
        self.forest.as_ref()
    }

    /// Windows completed so far (the model version).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Rows counted in the window being filled.
    pub fn rows_in_window(&self) -> u32 {
        self.counter
    }

    fn grow(&self, dim: usize) -> Forest {
        let limits = self.params.limits.clone().unwrap_or_else(|| vec![(0.0, 1.0); dim]);
        Forest::grow(self.params.n_trees, self.params.height, &limits, self.params.seed)
    }

    /// river's `_max_score`: `nTrees * windowSize * (2^(height + 1) - 1)`, the score of a row
    /// whose every node held the whole reference window.
    fn max_score(&self) -> f64 {
        let p = &self.params;
        (p.n_trees as u128 * u128::from(p.window_size) * ((2u128 << p.height) - 1)) as f64
    }

    /// Refuses labels other than 0 and 1 (they are read for the host's metrics only).
    fn check_labels(&self, batch: &RecordBatch) -> Result<(), OperatorError> {
        let Some(col) = &self.params.label_col else { return Ok(()) };
        for (r, l) in rows::read_labels(batch, col)?.into_iter().enumerate() {
            if let Some(l) = l
                && l != 0.0
                && l != 1.0
            {
                return Err(OperatorError::input(r, Some(col), format!("label {l} is not 0 or 1 (1: anomaly)")));
            }
        }
        Ok(())
    }
}

impl Operator for HalfSpaceTrees {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "HalfSpaceTrees".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::AnomalyDetector,
            description: "Half-space trees (Tan, Ting and Liu 2011) as river's anomaly.HalfSpaceTrees: random trees over the feature limits whose nodes count the rows of a reference window and of the latest one; each row is scored (higher: more anomalous) against the reference window, then counted; the windows swap every windowSize rows. Unsupervised; an optional 0/1 label is read for evaluation only.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let dim = match (&params.features, &params.limits) {
            (FeaturesCol::Columns(c), _) => Some(c.len()),
            (FeaturesCol::Vector(_), Some(l)) => Some(l.len()),
            (FeaturesCol::Vector(_), None) => None,
        };
        let mut op = Self { params, dim, forest: None, counter: 0, version: 0, publish: PublishModels::default() };
        if let Some(d) = dim {
            op.forest = Some(op.grow(d));
        }
        Ok(op)
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        let mut cols = match &self.params.features {
            FeaturesCol::Vector(c) => vec![ColumnSpec::required(c, ColumnType::Vector)],
            FeaturesCol::Columns(cs) => cs.iter().map(|c| ColumnSpec::required(c, ColumnType::Float64)).collect(),
        };
        if let Some(l) = &self.params.label_col {
            cols.push(ColumnSpec::optional(l, ColumnType::Float64));
        }
        cols
    }

    fn set_publish_models(&mut self, on: bool) {
        self.publish = PublishModels(on);
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        // Everything is checked before anything is learned: an error leaves the state as it was.
        let (x, dim) = read_matrix(batch, &self.params.features, self.dim)?;
        // river's way, when an earlier stage gave the rows' learned forms: count those.
        let learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?;
        self.check_labels(batch)?;
        let seq = seq_column(batch)?;
        let n = batch.num_rows();
        if let Some(d) = dim
            && self.forest.is_none()
        {
            self.forest = Some(self.grow(d));
            self.dim = Some(d);
        }
        let mut scores = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut models = self.publish.on().then(ModelRows::new);
        let mut published = false;
        // river's `size_limit` (0.1 * window_size, the paper's constant) and `_max_score`.
        let size_limit = 0.1 * f64::from(self.params.window_size);
        let max_score = self.max_score();
        if let (Some(forest), Some(d)) = (self.forest.as_mut(), dim) {
            let p = &self.params;
            for (r, row) in x.chunks_exact(d).enumerate() {
                let mass = match learned.as_ref().and_then(|l| l[r].as_ref()) {
                    Some(l) => forest.score_then_learn(row, &l.to_dense(), size_limit),
                    None => forest.score_and_learn(row, size_limit),
                };
                scores.push(if self.version == 0 { 0.0 } else { 1.0 - mass / max_score });
                versions.push(self.version);
                self.counter += 1;
                if self.counter == p.window_size {
                    forest.swap_windows();
                    self.counter = 0;
                    self.version += 1;
                    if let Some(m) = models.as_mut() {
                        m.push(Some(forest), self.version, Some(seq.value(r)));
                        published = true;
                    }
                }
            }
        }
        let p = &self.params;
        let schema = Arc::new(Schema::new(vec![
            Field::new(&p.score_col, DataType::Float64, false),
            Field::new(&p.model_version_col, DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Float64Array::from(scores)), Arc::new(Int64Array::from(versions)), Arc::new(seq.clone())];
        let outputs = RecordBatch::try_new(schema, columns).map_err(internal)?;
        let models = match models {
            Some(m) if published => Some(m.finish()?),
            _ => None,
        };
        Ok(Output { outputs, models })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        let mut m = ModelRows::new();
        m.push(self.forest.as_ref(), self.version, None);
        m.finish()
    }
}
