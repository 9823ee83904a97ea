//! The [`HoeffdingTree`] operator: checks a whole batch, then for each row scores it with the
//! tree as it stands and learns from it if it has a label, publishing the tree each time a leaf
//! splits.

use std::sync::Arc;

use eddy_sdk::arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::rows::{Row, check_declared_classes, feature_and_class_label_columns, read_features};
use eddy_sdk::{
    ColumnSpec, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, PublishModels, SEQ_COLUMN,
    list_f64_array, list_f64_field, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{ModelRow, model_batch};
use crate::params::{Params, param_infos};
use crate::tree::{Growth, Tree};

/// The largest feature magnitude accepted: beyond it the per-class sums of squares could
/// overflow.
pub const MAX_FEATURE_MAGNITUDE: f64 = 1e100;

/// A Hoeffding tree classifier, learned online.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoeffdingTree {
    params: Params,
    /// The feature dimension, once known (from `featuresCol` when it is a list, else the first
    /// row).
    dim: Option<usize>,
    tree: Tree,
    /// The labels' type and the numbering of string labels.
    labels: eddy_sdk::labels::Labels,
    /// Whether the host wants model versions; not state (see [`Operator::set_publish_models`]).
    #[serde(skip)]
    publish: PublishModels,
}

impl HoeffdingTree {
    /// The tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

/// Refuses a feature beyond [`MAX_FEATURE_MAGNITUDE`], naming the row and the column.
fn check_magnitudes(rows: &[Row], features: &FeaturesCol) -> Result<(), OperatorError> {
    for (r, row) in rows.iter().enumerate() {
        if let Some(k) = row.values.iter().position(|v| v.abs() > MAX_FEATURE_MAGNITUDE) {
            let column = match features {
                FeaturesCol::Columns(c) => &c[k],
                FeaturesCol::Vector(c) => c,
            };
            return Err(OperatorError::input(
                r,
                Some(column),
                format!("feature {} is beyond +-1e100 (the per-class statistics would overflow)", row.values[k]),
            ));
        }
    }
    Ok(())
}

impl Operator for HoeffdingTree {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "HoeffdingTreeClassifier".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Hoeffding tree (VFDT) classifier learned row by row as river's HoeffdingTreeClassifier: Gaussian observers per feature and class at each leaf, a split when the Hoeffding bound separates the best candidate from the runner-up (or falls under tau), naive Bayes adaptive leaves; numeric class labels, probabilities ordered by class value; a model version per split.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let dim = match &params.features {
            FeaturesCol::Columns(c) => Some(c.len()),
            FeaturesCol::Vector(_) => None,
        };
        let tree = Tree::new(params.classes.as_deref());
        let labels = params.labels.clone();
        Ok(Self { params, dim, tree, labels, publish: PublishModels::default() })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        feature_and_class_label_columns(&self.params.features, &self.params.label_col)
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        // Every check before anything is learned, so a refused batch leaves the state as it was.
        let (rows, dim) = read_features(batch, &self.params.features, self.dim)?;
        let (labels, read_labels) = self.labels.read(batch, &self.params.label_col)?;
        check_declared_classes(&labels, self.params.classes.as_deref(), &self.params.label_col)?;
        check_magnitudes(&rows, &self.params.features)?;
        let learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?;
        if let Some(l) = &learned {
            // Row numbers stay those of the batch: a row without a learned form checks nothing.
            let l: Vec<Row> = l.iter().map(|r| r.clone().unwrap_or(Row { indices: None, values: Vec::new(), size: 0 })).collect();
            check_magnitudes(&l, &self.params.features)?;
        }
        let seq = seq_column(batch)?.clone();
        self.dim = dim;
        self.labels = read_labels;

        let n = rows.len();
        let mut pred = Vec::with_capacity(n);
        let mut raw: Vec<f64> = Vec::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0usize);
        let mut versions = Vec::with_capacity(n);
        let mut published = Vec::new();
        let mut published_seq = Vec::new();
        let mut probs = Vec::new();
        let mut dense: Vec<f64>;
        for (r, (row, label)) in rows.iter().zip(labels).enumerate() {
            let x: &[f64] = match &row.indices {
                None => &row.values,
                Some(_) => {
                    dense = row.to_dense();
                    &dense
                }
            };
            pred.push(self.tree.predict(x, &self.params, &mut probs));
            raw.extend_from_slice(&probs);
            offsets.push(raw.len());
            versions.push(self.tree.version);
            // river's way, when an earlier stage gave the row's learned form: learn from it.
            let learned_x: Option<Vec<f64>> = learned.as_ref().and_then(|l| l[r].as_ref()).map(Row::to_dense);
            let x = learned_x.as_deref().unwrap_or(x);
            if let Some(label) = label
                && self.tree.learn(x, label, &self.params) == Growth::Split
                && self.publish.on()
            {
                published.push(ModelRow::of(&self.tree));
                published_seq.push(seq.value(r));
            }
        }
        let p = &self.params;
        let schema = Arc::new(Schema::new(vec![
            Field::new(&p.prediction_col, self.labels.prediction_type(), true),
            list_f64_field(&p.raw_prediction_col),
            Field::new(&p.model_version_col, DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            self.labels.predictions(&pred),
            Arc::new(list_f64_array(offsets.windows(2).map(|w| &raw[w[0]..w[1]]))),
            Arc::new(Int64Array::from(versions)),
            Arc::new(UInt64Array::from(seq)),
        ];
        let outputs = RecordBatch::try_new(schema, columns).map_err(|e| OperatorError::internal(e.to_string()))?;
        let models = if published.is_empty() { None } else { Some(model_batch(&published, Some(&published_seq))?) };
        Ok(Output { outputs, models })
    }

    fn set_publish_models(&mut self, on: bool) {
        self.publish = PublishModels(on);
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        model_batch(&[ModelRow::of(&self.tree)], None)
    }
}
