//! The [`SoftmaxRegression`] operator: scores each row with the model in force at its
//! position, gathers labelled rows into count-based global batches, and takes one SGD step per
//! full batch, adding the classes it discovers.

use std::sync::Arc;

use eddy_sdk::arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, list_f64_array,
    list_f64_field, nested_list_f64_array, nested_list_f64_field, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{Model, PendingRow};
use crate::params::{Params, param_infos};
use crate::rows::{features_name, read_features};

/// Online multi-class logistic (softmax) regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoftmaxRegression {
    params: Params,
    /// `None` until the dimension is known (from `featuresCol` when it is a list, else the
    /// first row).
    model: Option<Model>,
    /// Labelled rows of the global batch being filled.
    pending: Vec<PendingRow>,
    /// The labels' type and the numbering of string labels.
    labels: eddy_sdk::labels::Labels,
}

fn internal(e: impl ToString) -> OperatorError {
    OperatorError::internal(e.to_string())
}

impl SoftmaxRegression {
    /// The current model, if the dimension is known.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    fn model_batch(models: &[Model], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
        let mut fields = vec![
            list_f64_field("classes"),
            nested_list_f64_field("weights"),
            list_f64_field("intercepts"),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(list_f64_array(models.iter().map(|m| m.classes.as_slice()))),
            Arc::new(nested_list_f64_array(models.iter().map(|m| m.weights.as_slice()))),
            Arc::new(list_f64_array(models.iter().map(|m| m.intercepts.as_slice()))),
            Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.version))),
        ];
        if let Some(seqs) = seqs {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            columns.push(Arc::new(UInt64Array::from(seqs.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
    }
}

impl Operator for SoftmaxRegression {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "OnlineSoftmaxRegression".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Multi-class logistic (softmax) regression learned online with SGD on cross-entropy over count-based global batches; numeric class labels discovered from the data (new classes start with zero weights), probabilities ordered by class value.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let model = match &params.features {
            FeaturesCol::Columns(c) => Some(Model::initial(c.len(), params.classes.as_deref())),
            FeaturesCol::Vector(_) => None,
        };
        let labels = params.labels.clone();
        Ok(Self { params, model, pending: Vec::new(), labels })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        eddy_sdk::rows::feature_and_class_label_columns(&self.params.features, &self.params.label_col)
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let dim = self.model.as_ref().map(|m| m.dim);
        let (rows, dim) = read_features(batch, &self.params.features, dim)?;
        let mut learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?;
        let (labels, read_labels) = self.labels.read(batch, &self.params.label_col)?;
        eddy_sdk::rows::check_declared_classes(&labels, self.params.classes.as_deref(), &self.params.label_col)?;
        let seq = seq_column(batch)?.clone();

        // Learn on a copy, committed only when the whole batch went through.
        let mut next = self.clone();
        next.labels = read_labels;
        if next.model.is_none() {
            next.model = dim.map(|d| Model::initial(d, next.params.classes.as_deref()));
        }
        let n = rows.len();
        let mut pred: Vec<Option<f64>> = Vec::with_capacity(n);
        let mut raw: Vec<Vec<f64>> = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut published = Vec::new();
        let mut published_seq = Vec::new();
        for (r, (row, label)) in rows.into_iter().zip(labels).enumerate() {
            let model = next.model.as_mut().ok_or_else(|| internal("no model for a non-empty batch"))?;
            let (p, probs) = model.predict(&row);
            pred.push(p);
            versions.push(model.version);
            if let Some(label) = label {
                // river's way, when an earlier stage gave the row's learned form: learn from
                // that, with the probabilities the model gives it.
                let pending = match learned.as_mut().and_then(|l| l[r].take()) {
                    Some(row) => PendingRow { probs: model.predict(&row).1, row, label },
                    None => PendingRow { row, label, probs: probs.clone() },
                };
                next.pending.push(pending);
                if next.pending.len() == next.params.global_batch_size {
                    model.update(&next.pending, &next.params).map_err(|m| {
                        OperatorError::input(
                            r,
                            Some(features_name(&self.params.features)),
                            format!("cannot learn from the batch ending here: {m}"),
                        )
                    })?;
                    next.pending.clear();
                    published.push(model.clone());
                    published_seq.push(seq.value(r));
                }
            }
            raw.push(probs);
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
        let empty = Model::initial(0, self.params.classes.as_deref());
        Self::model_batch(std::slice::from_ref(self.model.as_ref().unwrap_or(&empty)), None)
    }
}
