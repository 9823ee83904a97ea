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

use crate::model::{Model, PendingRow, RiverStats};
use crate::params::{Likelihood, Params, param_infos};
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
    /// With `likelihood = "river"`, river's extra statistics (`None`: scikit-learn's
    /// likelihood). Last on purpose: a snapshot taken before this field existed is the same
    /// bytes without it, which [`Operator::restore`] reads as the scikit-learn likelihood.
    river: Option<RiverStats>,
}

/// The state as snapshotted before `likelihood` existed: every field but the last.
#[derive(Deserialize)]
struct StateWithoutLikelihood {
    params: Params,
    dim: Option<usize>,
    model: Model,
    pending: Vec<PendingRow>,
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

    /// With `likelihood = "river"`, river's extra statistics.
    pub fn river_stats(&self) -> Option<&RiverStats> {
        self.river.as_ref()
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
        let river = (params.likelihood == Likelihood::River).then(RiverStats::default);
        let epsilon = if river.is_some() { 0.0 } else { params.var_smoothing };
        let model = Model::initial(params.classes.as_deref(), epsilon);
        let labels = params.labels.clone();
        Ok(Self { params, dim, model, pending: Vec::new(), labels, river })
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
        let mut scorer = next.model.scorer(next.river.as_ref());
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
                    let learned = match next.river.as_mut() {
                        Some(river) => next.model.update_river(river, &next.pending),
                        None => next.model.update(&next.pending, next.params.var_smoothing),
                    };
                    learned.map_err(|m| {
                        OperatorError::input(
                            r,
                            Some(features_name(&self.params.features)),
                            format!("cannot learn from the batch ending here: {m}"),
                        )
                    })?;
                    next.pending.clear();
                    published.push(next.model.clone());
                    published_seq.push(seq.value(r));
                    scorer = next.model.scorer(next.river.as_ref());
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

    /// Reads a snapshot of this version, or one taken before `likelihood` existed (the same
    /// bytes without the last field; postcard reads a struct field by field, so the longer
    /// layout fails at the end of such a snapshot and the shorter one reads it whole), which
    /// restores with the scikit-learn likelihood it was taken with.
    fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let info = Self::describe();
        let mut restored: Self = match eddy_sdk::snapshot::open(&info, state) {
            Ok(s) => s,
            Err(e) => match eddy_sdk::snapshot::open::<StateWithoutLikelihood>(&info, state) {
                Ok(s) => Self { params: s.params, dim: s.dim, model: s.model, pending: s.pending, labels: s.labels, river: None },
                Err(_) => return Err(e),
            },
        };
        restored.params.likelihood = if restored.river.is_some() { Likelihood::River } else { Likelihood::Sklearn };
        *self = restored;
        Ok(())
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        Self::model_batch(std::slice::from_ref(&self.model), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an eddy from before `likelihood` does with a newer snapshot (the README says so):
    /// postcard reads the fields it knows and ignores the rest.
    #[test]
    fn the_older_layout_reads_a_newer_snapshot_without_its_last_field() {
        let mut op = GaussianNaiveBayes::open_json(r#"{"likelihood": "river"}"#).unwrap();
        let batch = eddy_testkit::dense_batch(&[(vec![1.0], Some(1.0)), (vec![2.0], Some(0.0))], 0);
        op.process(&batch).unwrap();
        let old: StateWithoutLikelihood = eddy_sdk::snapshot::open(&GaussianNaiveBayes::describe(), &op.snapshot().unwrap()).unwrap();
        assert_eq!(old.model, op.model);
    }
}
