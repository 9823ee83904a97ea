//! The [`OnlineKMeans`] operator: assigns each row to the nearest centroid of the model in
//! force at its position, gathers rows into count-based global batches, and updates the model
//! when a batch is full. The initial model is published as version 0 on the first call.

use std::sync::Arc;

use eddy_sdk::arrow::array::builder::{Float64Builder, ListBuilder};
use eddy_sdk::arrow::array::{Array, ArrayRef, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, VectorColumn,
    f64_column, list_f64_array, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{DistanceMeasure, Model, Pending, norm2};
use crate::params::{InitialModel, Params, param_infos};

/// OnlineKMeans, Flink ML compatible.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineKMeans {
    params: Params,
    /// `None` until the dimension is known (a random initial model over a vector column
    /// without `dim` takes it from the first row).
    model: Option<Model>,
    /// Whether the initial model (version 0) has been published.
    initial_published: bool,
    /// The partial global batch.
    pending: Option<Pending>,
}

fn list_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(DataType::Float64, false))
}

/// The schema of model data: `centroids` (List<List<Float64>>), `weights` (List<Float64>),
/// `modelVersion` (Int64); published models also carry `__seq` (UInt64), the input row whose
/// processing published them.
fn model_schema(with_seq: bool) -> Schema {
    let mut fields = vec![
        Field::new("centroids", DataType::List(Arc::new(Field::new_list_field(DataType::List(list_field()), false))), false),
        Field::new("weights", DataType::List(list_field()), false),
        Field::new("modelVersion", DataType::Int64, false),
    ];
    if with_seq {
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
    }
    Schema::new(fields)
}

/// Model rows; with `seqs`, each row names the input row that published it.
fn model_batch(models: &[&Model], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
    let mut centroids = ListBuilder::new(ListBuilder::new(Float64Builder::new()).with_field(list_field()))
        .with_field(Arc::new(Field::new_list_field(DataType::List(list_field()), false)));
    for m in models {
        for c in &m.centroids {
            centroids.values().values().append_slice(c);
            centroids.values().append(true);
        }
        centroids.append(true);
    }
    let weights: ListArray = list_f64_array(models.iter().map(|m| m.weights.as_slice()));
    let versions = Int64Array::from_iter_values(models.iter().map(|m| m.version));
    let mut cols: Vec<ArrayRef> = vec![Arc::new(centroids.finish()), Arc::new(weights), Arc::new(versions)];
    if let Some(s) = seqs {
        cols.push(Arc::new(UInt64Array::from(s.to_vec())));
    }
    RecordBatch::try_new(Arc::new(model_schema(seqs.is_some())), cols).map_err(|e| OperatorError::internal(e.to_string()))
}

impl OnlineKMeans {
    /// The current model, if the dimension is known.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// Rows waiting in the partial global batch.
    pub fn pending_rows(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.len)
    }

    fn initial_model(&self, dim: usize) -> Model {
        match &self.params.initial_model {
            InitialModel::Random { seed, weight, .. } => Model::random(self.params.k, dim, *weight, *seed),
            InitialModel::Explicit { centroids, weights } => Model::new(centroids.clone(), weights.clone()),
        }
    }

    fn features_param(&self) -> &str {
        match &self.params.features {
            FeaturesCol::Vector(c) => c,
            FeaturesCol::Columns(_) => "featuresCol",
        }
    }

    /// Extracts every row's dense features and checks them (present, finite, the model's
    /// dimension, not zero under cosine) before anything changes.
    fn read_rows(&self, batch: &RecordBatch) -> Result<Vec<Vec<f64>>, OperatorError> {
        let n = batch.num_rows();
        let mut rows = Vec::with_capacity(n);
        match &self.params.features {
            FeaturesCol::Columns(cols) => {
                let arrays = cols.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
                for r in 0..n {
                    let mut values = Vec::with_capacity(arrays.len());
                    for (a, name) in arrays.iter().zip(cols) {
                        if a.is_null(r) {
                            return Err(OperatorError::input(r, Some(name), "missing feature value"));
                        }
                        let v = a.value(r);
                        if !v.is_finite() {
                            return Err(OperatorError::input(r, Some(name), format!("feature is not finite ({v})")));
                        }
                        values.push(v);
                    }
                    rows.push(values);
                }
            }
            FeaturesCol::Vector(col) => {
                let vc = VectorColumn::new(batch, col)?;
                for r in 0..n {
                    let v = vc.get(r)?.ok_or_else(|| OperatorError::input(r, Some(col), "missing feature vector"))?;
                    v.validate().map_err(|m| OperatorError::input(r, Some(col), m))?;
                    rows.push(v.to_dense());
                }
            }
        }
        let mut dim = self.model.as_ref().map(Model::dim);
        if let (None, InitialModel::Random { dim: Some(d), .. }) = (dim, &self.params.initial_model) {
            dim = Some(*d);
        }
        let col = self.features_param();
        for (r, row) in rows.iter().enumerate() {
            let d = *dim.get_or_insert(row.len());
            if row.len() != d {
                return Err(OperatorError::input(r, Some(col), format!("vector has dimension {} but the model has {d}", row.len())));
            }
            if d == 0 {
                return Err(OperatorError::input(r, Some(col), "empty feature vector"));
            }
            if self.params.distance == DistanceMeasure::Cosine && row.iter().all(|v| *v == 0.0) {
                return Err(OperatorError::input(r, Some(col), "cosine distance is undefined for the zero vector"));
            }
        }
        Ok(rows)
    }

    fn ensure_model(&mut self, dim: usize) {
        if self.model.is_none() {
            self.model = Some(self.initial_model(dim));
        }
        if self.pending.is_none() {
            self.pending = Some(Pending::new(self.params.k, dim));
        }
    }
}

impl Operator for OnlineKMeans {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "OnlineKMeans".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Clusterer,
            description: "Mini-batch k-means with a decay factor over count-based global batches, with Flink ML's parameters, distance measures and arithmetic; the initial model is published as version 0.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let mut op = Self { params, model: None, initial_published: false, pending: None };
        let dim = match (&op.params.initial_model, &op.params.features) {
            (InitialModel::Explicit { centroids, .. }, _) => Some(centroids[0].len()),
            (InitialModel::Random { dim: Some(d), .. }, _) => Some(*d),
            (_, FeaturesCol::Columns(c)) => Some(c.len()),
            _ => None,
        };
        if let Some(d) = dim {
            op.ensure_model(d);
        }
        Ok(op)
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        match &self.params.features {
            FeaturesCol::Vector(c) => vec![ColumnSpec::required(c, ColumnType::Vector)],
            FeaturesCol::Columns(cs) => cs.iter().map(|c| ColumnSpec::required(c, ColumnType::Float64)).collect(),
        }
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let rows = self.read_rows(batch)?;
        let dim = self.model.as_ref().map(|m| m.dim()).or(rows.first().map(Vec::len));
        // river's way, when an earlier stage gave the rows' learned forms: learn from those.
        let learned: Option<Vec<Option<Vec<f64>>>> = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?
            .map(|l| l.into_iter().map(|r| r.map(|r| r.to_dense())).collect());
        let seq = seq_column(batch)?.clone();
        // Published models, each with the `__seq` of the row whose processing published it.
        let mut published: Vec<Model> = Vec::new();
        let mut published_seq: Vec<u64> = Vec::new();
        if let Some(first) = rows.first() {
            self.ensure_model(first.len());
            // The initial model goes out with the first row ever processed.
            if !self.initial_published
                && let Some(m) = &self.model
            {
                published.push(m.clone());
                published_seq.push(seq.value(0));
                self.initial_published = true;
            }
        }
        let mut clusters = Vec::with_capacity(rows.len());
        let mut versions = Vec::with_capacity(rows.len());
        let (Some(model), Some(pending)) = (self.model.as_mut(), self.pending.as_mut()) else {
            // No rows and no model yet: nothing to score or publish.
            return Ok(Output { outputs: output_batch(&self.params, clusters, versions, seq)?, models: None });
        };
        for (r, (row, &row_seq)) in rows.iter().zip(seq.values().iter()).enumerate() {
            let cluster = model.closest(row, norm2(row), self.params.distance);
            clusters.push(cluster as i64);
            versions.push(model.version);
            match learned.as_ref().and_then(|l| l[r].as_ref()) {
                Some(l) => pending.add(model.closest(l, norm2(l), self.params.distance), l),
                None => pending.add(cluster, row),
            }
            if pending.len == self.params.global_batch_size {
                model.update(pending, self.params.decay_factor);
                *pending = Pending::new(self.params.k, model.dim());
                published.push(model.clone());
                published_seq.push(row_seq);
            }
        }
        let models =
            if published.is_empty() { None } else { Some(model_batch(&published.iter().collect::<Vec<_>>(), Some(&published_seq))?) };
        Ok(Output { outputs: output_batch(&self.params, clusters, versions, seq)?, models })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        match &self.model {
            Some(m) => model_batch(&[m], None),
            None => model_batch(&[&Model::new(Vec::new(), Vec::new())], None),
        }
    }
}

fn output_batch(p: &Params, clusters: Vec<i64>, versions: Vec<i64>, seq: UInt64Array) -> Result<RecordBatch, OperatorError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(&p.prediction_col, DataType::Int64, false),
        Field::new(&p.model_version_col, DataType::Int64, false),
        Field::new(SEQ_COLUMN, DataType::UInt64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(clusters)), Arc::new(Int64Array::from(versions)), Arc::new(seq)];
    RecordBatch::try_new(schema, cols).map_err(|e| OperatorError::internal(e.to_string()))
}
