//! The [`GaussianNaiveBayes`] operator: scores each row with the model in force at its
//! position, gathers labelled rows into count-based global batches, and folds each full batch
//! into the model with linfa-bayes.

use std::sync::Arc;

use eddy_sdk::arrow::array::builder::{Int64Builder, ListBuilder};
use eddy_sdk::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, list_f64_array,
    list_f64_field, nested_list_f64_array, nested_list_f64_field, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{Model, PendingRow};
use crate::params::{Params, param_infos};
use crate::rows::{features_name, read_features};

/// Multi-class Gaussian naive Bayes, learned online.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GaussianNaiveBayes {
    params: Params,
    /// The feature dimension, once known (from `featuresCol` when it is a list, else the first
    /// row).
    dim: Option<usize>,
    model: Model,
    /// Labelled rows of the global batch being filled.
    pending: Vec<PendingRow>,
    /// The labels' type and the numbering of string labels.
    labels: eddy_sdk::labels::Labels,
}

fn internal(e: impl ToString) -> OperatorError {
    OperatorError::internal(e.to_string())
}

impl GaussianNaiveBayes {
    /// The current model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model data columns for `models`, one row each.
    fn model_batch(models: &[Model], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
        let mut fields = vec![
            list_f64_field("classes"),
            Field::new("classCount", DataType::List(Arc::new(Field::new_list_field(DataType::Int64, false))), false),
            nested_list_f64_field("theta"),
            nested_list_f64_field("var"),
            Field::new("epsilon", DataType::Float64, false),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        let classes: Vec<Vec<f64>> = models.iter().map(Model::class_values).collect();
        let mut counts = ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Int64, false)));
        for m in models {
            for c in &m.classes {
                counts.values().append_value(i64::try_from(c.count).unwrap_or(i64::MAX));
            }
            counts.append(true);
        }
        let theta: Vec<Vec<Vec<f64>>> = models.iter().map(|m| m.classes.iter().map(|c| c.mean.clone()).collect()).collect();
        let var: Vec<Vec<Vec<f64>>> =
            models.iter().map(|m| m.classes.iter().map(|c| c.var.iter().map(|v| v + m.epsilon).collect()).collect()).collect();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(list_f64_array(classes.iter().map(Vec::as_slice))),
            Arc::new(counts.finish()),
            Arc::new(nested_list_f64_array(theta.iter().map(Vec::as_slice))),
            Arc::new(nested_list_f64_array(var.iter().map(Vec::as_slice))),
            Arc::new(Float64Array::from_iter_values(models.iter().map(|m| m.epsilon))),
            Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.version))),
        ];
        if let Some(seqs) = seqs {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            columns.push(Arc::new(UInt64Array::from(seqs.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
    }
}

impl Operator for GaussianNaiveBayes {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "GaussianNaiveBayes".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Multi-class Gaussian naive Bayes learned online: per-class feature means and variances folded in by linfa-bayes' incremental fit over count-based global batches; numeric class labels, probabilities ordered by class value.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let dim = match &params.features {
            FeaturesCol::Columns(c) => Some(c.len()),
            FeaturesCol::Vector(_) => None,
        };
        let model = Model::initial(params.classes.as_deref(), params.var_smoothing);
        let labels = params.labels.clone();
        Ok(Self { params, dim, model, pending: Vec::new(), labels })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        eddy_sdk::rows::feature_and_class_label_columns(&self.params.features, &self.params.label_col)
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let (rows, dim) = read_features(batch, &self.params.features, self.dim)?;
        let mut learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?;
        let (labels, read_labels) = self.labels.read(batch, &self.params.label_col)?;
        eddy_sdk::rows::check_declared_classes(&labels, self.params.classes.as_deref(), &self.params.label_col)?;
        let seq = seq_column(batch)?.clone();

        // Learn on a copy, committed only when the whole batch went through.
        let mut next = self.clone();
        next.labels = read_labels;
        next.dim = dim;
        let n = rows.len();
        let mut pred: Vec<Option<f64>> = Vec::with_capacity(n);
        let mut raw: Vec<Vec<f64>> = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut published = Vec::new();
        let mut published_seq = Vec::new();
        let mut scorer = next.model.scorer();
        for (r, (row, label)) in rows.into_iter().zip(labels).enumerate() {
            let x = row.to_dense();
            let (p, probs) = scorer.score(&x);
            pred.push(p);
            raw.push(probs);
            versions.push(next.model.version);
            if let Some(label) = label {
                // river's way, when an earlier stage gave the row's learned form: learn from it.
                let x = learned.as_mut().and_then(|l| l[r].take()).map_or(x, |row| row.to_dense());
                next.pending.push(PendingRow { x, label });
                if next.pending.len() == next.params.global_batch_size {
                    next.model.update(&next.pending, next.params.var_smoothing).map_err(|m| {
                        OperatorError::input(
                            r,
                            Some(features_name(&self.params.features)),
                            format!("cannot learn from the batch ending here: {m}"),
                        )
                    })?;
                    next.pending.clear();
                    published.push(next.model.clone());
                    published_seq.push(seq.value(r));
                    scorer = next.model.scorer();
                }
            }
        }
        let p = &next.params;
        let schema = Arc::new(Schema::new(vec![
            Field::new(&p.prediction_col, next.labels.prediction_type(), true),
            list_f64_field(&p.raw_prediction_col),
            Field::new(&p.model_version_col, DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            next.labels.predictions(&pred),
            Arc::new(list_f64_array(raw.iter().map(Vec::as_slice))),
            Arc::new(Int64Array::from(versions)),
            Arc::new(UInt64Array::from(seq)),
        ];
        let outputs = RecordBatch::try_new(schema, columns).map_err(internal)?;
        let models = if published.is_empty() { None } else { Some(Self::model_batch(&published, Some(&published_seq))?) };
        *self = next;
        Ok(Output { outputs, models })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        Self::model_batch(std::slice::from_ref(&self.model), None)
    }
}
