//! The [`LinearRegression`] operator: predicts each row with the model in force at its
//! position, gathers labelled rows into count-based global batches, and takes one optimizer
//! step per full batch.

use std::sync::Arc;

use eddy_sdk::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, Config, FeaturesCol, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, list_f64_array, seq_column,
};
use serde::{Deserialize, Serialize};

use crate::model::{Model, PendingRow};
use crate::params::{Params, param_infos};
use crate::rows::{features_name, read_features, read_labels};

/// Online linear regression (squared loss).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearRegression {
    params: Params,
    /// `None` until the dimension is known (from `featuresCol` when it is a list, else the
    /// first row).
    model: Option<Model>,
    /// Labelled rows of the global batch being filled.
    pending: Vec<PendingRow>,
}

fn internal(e: impl ToString) -> OperatorError {
    OperatorError::internal(e.to_string())
}

impl LinearRegression {
    /// The current model, if the dimension is known.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    fn model_batch(models: &[(Vec<f64>, f64, i64)], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
        let mut fields = vec![
            Field::new("coefficient", DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false),
            Field::new("intercept", DataType::Float64, false),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(list_f64_array(models.iter().map(|m| m.0.as_slice()))),
            Arc::new(Float64Array::from_iter_values(models.iter().map(|m| m.1))),
            Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.2))),
        ];
        if let Some(seqs) = seqs {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            columns.push(Arc::new(UInt64Array::from(seqs.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(internal)
    }
}

impl Operator for LinearRegression {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "OnlineLinearRegression".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Regressor,
            description: "Linear regression with an intercept, learned online on squared loss with SGD or AdaGrad over count-based global batches (river's LinearRegression step for step with globalBatchSize 1).".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let params = Params::from_config(config)?;
        let model = match &params.features {
            FeaturesCol::Columns(c) => Some(Model::zeros(c.len(), params.optimizer)),
            FeaturesCol::Vector(_) => None,
        };
        Ok(Self { params, model, pending: Vec::new() })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        eddy_sdk::rows::feature_and_label_columns(&self.params.features, &self.params.label_col)
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let dim = self.model.as_ref().map(|m| m.coefficient.len());
        let (rows, dim) = read_features(batch, &self.params.features, dim)?;
        let mut learned = eddy_sdk::rows::read_learned_features(batch, &self.params.features, dim)?;
        let labels = read_labels(batch, &self.params.label_col)?;
        let seq = seq_column(batch)?.clone();

        // Learn on a copy, committed only when the whole batch went through.
        let mut next = self.clone();
        if next.model.is_none() {
            next.model = dim.map(|d| Model::zeros(d, next.params.optimizer));
        }
        let n = rows.len();
        let mut pred = Vec::with_capacity(n);
        let mut versions = Vec::with_capacity(n);
        let mut published = Vec::new();
        let mut published_seq = Vec::new();
        for (r, (row, label)) in rows.into_iter().zip(labels).enumerate() {
            let model = next.model.as_mut().ok_or_else(|| internal("no model for a non-empty batch"))?;
            let prediction = model.predict(&row);
            pred.push(prediction);
            versions.push(model.version);
            if let Some(label) = label {
                // river's way, when an earlier stage gave the row's learned form: learn from it.
                let pending = match learned.as_mut().and_then(|l| l[r].take()) {
                    Some(row) => PendingRow { prediction: model.predict(&row), row, label },
                    None => PendingRow { row, label, prediction },
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
                    published.push((model.coefficient.clone(), model.intercept, model.version));
                    published_seq.push(seq.value(r));
                }
            }
        }
        let p = &next.params;
        let schema = Arc::new(Schema::new(vec![
            Field::new(&p.prediction_col, DataType::Float64, false),
            Field::new(&p.model_version_col, DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Float64Array::from(pred)), Arc::new(Int64Array::from(versions)), Arc::new(UInt64Array::from(seq))];
        let outputs = RecordBatch::try_new(schema, columns).map_err(internal)?;
        let models = if published.is_empty() { None } else { Some(Self::model_batch(&published, Some(&published_seq))?) };
        *self = next;
        Ok(Output { outputs, models })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        let m = self.model.as_ref().map_or((Vec::new(), 0.0, 0), |m| (m.coefficient.clone(), m.intercept, m.version));
        Self::model_batch(&[m], None)
    }
}
