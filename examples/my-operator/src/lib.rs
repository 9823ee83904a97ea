//! An online perceptron, written against the eddy SDK: the example of the README's guide to
//! writing your own operator. It scores each row with the weights in force, then learns from
//! the row if it has a label (`w += rate * (label - prediction) * x`).

use std::sync::Arc;

use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, Operator, OperatorError, OperatorInfo, OperatorKind, Output, ParamInfo, SEQ_COLUMN, f64_column,
    list_f64_array, seq_column,
};
use serde::{Deserialize, Serialize};

/// The operator's whole state: config, weights, and a version counter. Snapshots are derived
/// from it by the SDK.
#[derive(Debug, Serialize, Deserialize)]
pub struct Perceptron {
    features: Vec<String>,
    label: String,
    rate: f64,
    weights: Vec<f64>,
    bias: f64,
    version: i64,
}

impl Operator for Perceptron {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "Perceptron".into(),
            version: "0.1.0".into(),
            kind: OperatorKind::Classifier,
            description: "Rosenblatt's perceptron, learning online.".into(),
            params: vec![
                ParamInfo::new("featuresCol", "list<string>", None, "Numeric feature columns."),
                ParamInfo::new("labelCol", "string", Some("\"label\""), "Label column (0 or 1)."),
                ParamInfo::new("learningRate", "double", Some("0.1"), "Step size (> 0)."),
            ],
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let features: Vec<String> =
            config.get_opt("featuresCol")?.ok_or_else(|| OperatorError::config("featuresCol", "required: the list of feature columns"))?;
        Ok(Self {
            weights: vec![0.0; features.len()],
            features,
            label: config.get("labelCol", "label".to_owned())?,
            rate: config.f64_in("learningRate", 0.1, |r| r > 0.0, "> 0")?,
            bias: 0.0,
            version: 0,
        })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        let mut cols: Vec<ColumnSpec> = self.features.iter().map(|f| ColumnSpec::required(f, ColumnType::Float64)).collect();
        cols.push(ColumnSpec::optional(&self.label, ColumnType::Float64));
        cols
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        // Read (and so validate) everything before learning anything.
        let xs = self.features.iter().map(|f| f64_column(batch, f)).collect::<Result<Vec<_>, _>>()?;
        let labels = f64_column(batch, &self.label)?;
        let seq = seq_column(batch)?;
        let mut predictions = Vec::with_capacity(batch.num_rows());
        let mut versions = Vec::with_capacity(batch.num_rows());
        let mut published = Vec::new();
        for row in 0..batch.num_rows() {
            let x: Vec<f64> = xs.iter().map(|c| c.value(row)).collect();
            let score = self.bias + x.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>();
            let prediction = if score >= 0.0 { 1.0 } else { 0.0 };
            predictions.push(prediction);
            versions.push(self.version);
            if labels.is_valid(row) && labels.value(row) != prediction {
                let step = self.rate * (labels.value(row) - prediction);
                self.weights.iter_mut().zip(&x).for_each(|(w, xi)| *w += step * xi);
                self.bias += step;
                self.version += 1;
                published.push((self.weights.clone(), self.version, seq.value(row)));
            }
        }
        let outputs = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("prediction", DataType::Float64, false),
                Field::new("modelVersion", DataType::Int64, false),
                Field::new(SEQ_COLUMN, DataType::UInt64, false),
            ])),
            vec![Arc::new(Float64Array::from(predictions)) as ArrayRef, Arc::new(Int64Array::from(versions)), Arc::new(seq.clone())],
        )
        .map_err(|e| OperatorError::internal(e.to_string()))?;
        Ok(Output { outputs, models: Some(model_rows(&published)?) })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        model_rows(&[(self.weights.clone(), self.version, 0)])
    }
}

fn model_rows(models: &[(Vec<f64>, i64, u64)]) -> Result<RecordBatch, OperatorError> {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("weights", DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false),
            Field::new("modelVersion", DataType::Int64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ])),
        vec![
            Arc::new(list_f64_array(models.iter().map(|m| m.0.as_slice()))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(models.iter().map(|m| m.1))),
            Arc::new(UInt64Array::from_iter_values(models.iter().map(|m| m.2))),
        ],
    )
    .map_err(|e| OperatorError::internal(e.to_string()))
}

eddy_sdk::export_operator!(Perceptron);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_rule_natively() {
        let mut p = Perceptron::open_json(r#"{"featuresCol": ["a"], "labelCol": "y"}"#).unwrap();
        let a = Float64Array::from(vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
        let y = Float64Array::from(vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        let schema = Schema::new(vec![
            Field::new("a", DataType::Float64, false),
            Field::new("y", DataType::Float64, true),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]);
        let seq = UInt64Array::from_iter_values(0..6);
        let b = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(a), Arc::new(y), Arc::new(seq)]).unwrap();
        p.process(&b).unwrap();
        let out = p.process(&b).unwrap().outputs;
        let pred = out.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(pred.values().to_vec(), vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    }
}
