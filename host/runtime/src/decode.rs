//! Record values (JSON objects or Arrow IPC streams) to the Arrow input batch an operator
//! asked for (its `input-columns`). Every record is checked on its own, so a bad record is
//! named (and dead-lettered) without touching its neighbours, whatever the batch boundaries.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, ListArray,
    RecordBatch, StringArray, StringBuilder, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use eddy_sdk::{ColumnSpec, ColumnType, SEQ_COLUMN, TIMESTAMP_COLUMN, VectorBuilder, VectorColumn, ipc, vector_field};
use serde_json::{Map, Value};

use crate::pipeline::Format;

/// Why a record cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Row inside the record (Arrow records hold several rows).
    pub row: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl DecodeError {
    fn col(column: &str, row: Option<usize>, message: impl Into<String>) -> Self {
        Self { column: Some(column.into()), row, message: message.into() }
    }
}

/// One decoded record: its rows' input values, and its original fields for output records.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A JSON object: one row.
    Json(Map<String, Value>),
    /// An Arrow IPC stream: `batch.num_rows()` rows.
    Arrow(RecordBatch),
}

impl Decoded {
    /// Rows in the record.
    pub fn num_rows(&self) -> usize {
        match self {
            Self::Json(_) => 1,
            Self::Arrow(b) => b.num_rows(),
        }
    }
}

/// Parses a record value in `format` and checks that every column the operator needs is
/// there with a usable type.
pub fn decode(value: &[u8], timestamp: i64, format: Format, specs: &[ColumnSpec]) -> Result<Decoded, DecodeError> {
    match format {
        Format::Json => {
            let v: Value = serde_json::from_slice(value)
                .map_err(|e| DecodeError { column: None, row: None, message: format!("value is not valid JSON: {e}") })?;
            let Value::Object(map) = v else {
                return Err(DecodeError { column: None, row: None, message: "value is JSON but not an object".into() });
            };
            for spec in specs {
                check_json(&map, spec, timestamp)?;
            }
            Ok(Decoded::Json(map))
        }
        Format::Arrow => {
            let batch = ipc::decode(value).map_err(|e| DecodeError {
                column: None,
                row: None,
                message: format!("value is not an Arrow IPC stream: {e}"),
            })?;
            for spec in specs {
                arrow_column(&batch, spec, timestamp)?;
            }
            Ok(Decoded::Arrow(batch))
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks one column of a JSON row against what the operator asked for.
pub(crate) fn check_json(map: &Map<String, Value>, spec: &ColumnSpec, timestamp: i64) -> Result<(), DecodeError> {
    let name = spec.name.as_str();
    let v = match map.get(name) {
        None | Some(Value::Null) if name == TIMESTAMP_COLUMN => return Ok(()),
        None | Some(Value::Null) => {
            return if spec.required { Err(DecodeError::col(name, None, "missing required column")) } else { Ok(()) };
        }
        Some(v) => v,
    };
    let _ = timestamp;
    match spec.column_type {
        ColumnType::Float64 => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(()),
            Some(x) => Err(DecodeError::col(name, None, format!("not a finite number ({x})"))),
            None => Err(DecodeError::col(name, None, format!("expected a number, got {}", json_type(v)))),
        },
        ColumnType::Int64 => v
            .as_i64()
            .map(|_| ())
            .ok_or_else(|| DecodeError::col(name, None, format!("expected an integer, got {}", json_type(v)))),
        ColumnType::Utf8 => v
            .as_str()
            .map(|_| ())
            .ok_or_else(|| DecodeError::col(name, None, format!("expected a string, got {}", json_type(v)))),
        ColumnType::Json => Ok(()),
        ColumnType::Vector => json_vector(v).map(|_| ()).map_err(|m| DecodeError::col(name, None, m)),
    }
}

/// A JSON vector: an array of numbers (dense) or `{size, indices, values}` (sparse).
enum JsonVector {
    Dense(Vec<f64>),
    Sparse(i64, Vec<i32>, Vec<f64>),
}

fn numbers(v: &Value, what: &str) -> Result<Vec<f64>, String> {
    let arr = v.as_array().ok_or_else(|| format!("{what} must be an array of numbers, got {}", json_type(v)))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| match x.as_f64() {
            Some(f) if f.is_finite() => Ok(f),
            _ => Err(format!("{what}[{i}] is not a finite number ({x})")),
        })
        .collect()
}

fn json_vector(v: &Value) -> Result<JsonVector, String> {
    match v {
        Value::Array(_) => numbers(v, "vector").map(JsonVector::Dense),
        Value::Object(o) if o.get("indices").is_none_or(Value::is_null) => {
            // The JSON form of eddy's own vector struct with no indices: dense.
            let values = numbers(o.get("values").ok_or("vector object needs `values`")?, "values")?;
            match o.get("size").and_then(Value::as_i64) {
                Some(size) if size as usize != values.len() => Err(format!("dense vector has {} values but size {size}", values.len())),
                _ => Ok(JsonVector::Dense(values)),
            }
        }
        Value::Object(o) => {
            let size = o.get("size").and_then(Value::as_i64).ok_or("sparse vector needs an integer `size`")?;
            let indices = o
                .get("indices")
                .and_then(Value::as_array)
                .ok_or("sparse vector needs `indices`")?
                .iter()
                .map(|i| i.as_i64().and_then(|i| i32::try_from(i).ok()).ok_or(format!("sparse index {i} is not a 32-bit integer")))
                .collect::<Result<Vec<i32>, String>>()?;
            let values = numbers(o.get("values").ok_or("sparse vector needs `values`")?, "values")?;
            if indices.len() != values.len() {
                return Err(format!("sparse vector has {} indices but {} values", indices.len(), values.len()));
            }
            let mut prev = -1i64;
            for &i in &indices {
                if i64::from(i) <= prev || i64::from(i) >= size {
                    return Err(format!("sparse index {i} is out of order or outside 0..{size}"));
                }
                prev = i64::from(i);
            }
            Ok(JsonVector::Sparse(size, indices, values))
        }
        other => Err(format!("expected a vector (array of numbers or {{size, indices, values}}), got {}", json_type(other))),
    }
}

/// The column `spec` of an Arrow record, converted to the type the operator asked for.
fn arrow_column(batch: &RecordBatch, spec: &ColumnSpec, timestamp: i64) -> Result<ArrayRef, DecodeError> {
    let name = spec.name.as_str();
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(name) else {
        if name == TIMESTAMP_COLUMN {
            return Ok(Arc::new(Int64Array::from(vec![timestamp; n])));
        }
        if spec.required {
            return Err(DecodeError::col(name, None, "missing required column"));
        }
        return Ok(arrow::array::new_null_array(&target_type(spec.column_type), n));
    };
    if spec.required && col.null_count() > 0 {
        let row = (0..n).find(|&r| col.is_null(r));
        return Err(DecodeError::col(name, row, "missing required value"));
    }
    let bad_type = || DecodeError::col(name, None, format!("has type {}, which cannot be read as {:?}", col.data_type(), spec.column_type));
    match spec.column_type {
        ColumnType::Float64 => {
            if !col.data_type().is_numeric() {
                return Err(bad_type());
            }
            let c = cast(col, &DataType::Float64).map_err(|_| bad_type())?;
            let f = c.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
            if let Some(r) = (0..n).find(|&r| f.is_valid(r) && !f.value(r).is_finite()) {
                return Err(DecodeError::col(name, Some(r), format!("not a finite number ({})", f.value(r))));
            }
            Ok(c)
        }
        ColumnType::Int64 => {
            if !col.data_type().is_integer() {
                return Err(bad_type());
            }
            cast(col, &DataType::Int64).map_err(|_| bad_type())
        }
        ColumnType::Utf8 => cast(col, &DataType::Utf8).map_err(|_| bad_type()),
        ColumnType::Json => {
            let mut b = StringBuilder::new();
            for r in 0..n {
                if col.is_null(r) {
                    b.append_null();
                } else if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
                    b.append_value(Value::String(s.value(r).to_owned()).to_string());
                } else if col.data_type().is_integer() {
                    let c = cast(&col.slice(r, 1), &DataType::Int64).map_err(|_| bad_type())?;
                    b.append_value(c.as_any().downcast_ref::<Int64Array>().expect("Int64").value(0).to_string());
                } else {
                    return Err(bad_type());
                }
            }
            Ok(Arc::new(b.finish()))
        }
        ColumnType::Vector => arrow_vector(col.as_ref(), name),
    }
}

fn arrow_vector(col: &dyn Array, name: &str) -> Result<ArrayRef, DecodeError> {
    if matches!(col.data_type(), DataType::Struct(_)) {
        let b = RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new(name, col.data_type().clone(), true)])), vec![arrow::array::make_array(col.to_data())])
            .map_err(|e| DecodeError::col(name, None, e.to_string()))?;
        let v = VectorColumn::new(&b, name).map_err(|e| DecodeError::col(name, None, e.to_string()))?;
        for r in 0..b.num_rows() {
            if let Some(x) = v.get(r).map_err(|e| DecodeError::col(name, Some(r), e.to_string()))? {
                x.validate().map_err(|m| DecodeError::col(name, Some(r), m))?;
            }
        }
        return Ok(b.column(0).clone());
    }
    let list = cast(col, &DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))))
        .map_err(|_| DecodeError::col(name, None, format!("has type {}, which is not a vector", col.data_type())))?;
    let list = list.as_any().downcast_ref::<ListArray>().expect("List");
    let mut b = VectorBuilder::new();
    for r in 0..list.len() {
        if list.is_null(r) {
            b.append_null();
            continue;
        }
        let v = list.value(r);
        let v = v.as_any().downcast_ref::<Float64Array>().expect("Float64 values");
        if v.null_count() > 0 || v.values().iter().any(|x| !x.is_finite()) {
            return Err(DecodeError::col(name, Some(r), "vector holds a null or non-finite value"));
        }
        b.append_dense(v.values());
    }
    Ok(Arc::new(b.finish()))
}

fn target_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Utf8 | ColumnType::Json => DataType::Utf8,
        ColumnType::Vector => eddy_sdk::vector_data_type(),
    }
}

/// Builds the operator's input batch from decoded records (each with its timestamp) and the
/// `__seq` of each row.
pub fn build_batch(records: &[(&Decoded, i64)], specs: &[ColumnSpec], seqs: &[u64]) -> Result<RecordBatch, DecodeError> {
    let mut fields = Vec::with_capacity(specs.len() + 1);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(specs.len() + 1);
    for spec in specs {
        let name = spec.name.as_str();
        let col: ArrayRef = match spec.column_type {
            ColumnType::Float64 => {
                let mut b = Float64Builder::new();
                for (d, ts) in records {
                    match d {
                        Decoded::Json(m) => match m.get(name).and_then(Value::as_f64) {
                            Some(x) => b.append_value(x),
                            None if name == TIMESTAMP_COLUMN => b.append_value(*ts as f64),
                            None => b.append_null(),
                        },
                        Decoded::Arrow(batch) => {
                            let c = arrow_column(batch, spec, *ts)?;
                            let f = c.as_any().downcast_ref::<Float64Array>().expect("Float64");
                            for r in 0..f.len() {
                                b.append_option(f.is_valid(r).then(|| f.value(r)));
                            }
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Int64 => {
                let mut b = Int64Builder::new();
                for (d, ts) in records {
                    match d {
                        Decoded::Json(m) => match m.get(name).and_then(Value::as_i64) {
                            Some(x) => b.append_value(x),
                            None if name == TIMESTAMP_COLUMN => b.append_value(*ts),
                            None => b.append_null(),
                        },
                        Decoded::Arrow(batch) => {
                            let c = arrow_column(batch, spec, *ts)?;
                            let f = c.as_any().downcast_ref::<Int64Array>().expect("Int64");
                            for r in 0..f.len() {
                                b.append_option(f.is_valid(r).then(|| f.value(r)));
                            }
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Utf8 | ColumnType::Json => {
                let mut b = StringBuilder::new();
                for (d, ts) in records {
                    match d {
                        Decoded::Json(m) => match m.get(name) {
                            None | Some(Value::Null) => b.append_null(),
                            Some(Value::String(s)) if spec.column_type == ColumnType::Utf8 => b.append_value(s),
                            Some(v) => b.append_value(v.to_string()),
                        },
                        Decoded::Arrow(batch) => {
                            let c = arrow_column(batch, spec, *ts)?;
                            let s = c.as_any().downcast_ref::<StringArray>().expect("Utf8");
                            for r in 0..s.len() {
                                b.append_option(s.is_valid(r).then(|| s.value(r)));
                            }
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Vector => {
                let mut b = VectorBuilder::new();
                for (d, ts) in records {
                    match d {
                        Decoded::Json(m) => match m.get(name) {
                            None | Some(Value::Null) => b.append_null(),
                            Some(v) => match json_vector(v).map_err(|m| DecodeError::col(name, None, m))? {
                                JsonVector::Dense(x) => b.append_dense(&x),
                                JsonVector::Sparse(size, ix, vals) => b.append_sparse(size, &ix, &vals),
                            },
                        },
                        Decoded::Arrow(batch) => {
                            let c = arrow_column(batch, spec, *ts)?;
                            let rb = RecordBatch::try_new(
                                Arc::new(Schema::new(vec![vector_field(name, true)])),
                                vec![c],
                            )
                            .map_err(|e| DecodeError::col(name, None, e.to_string()))?;
                            let v = VectorColumn::new(&rb, name).map_err(|e| DecodeError::col(name, None, e.to_string()))?;
                            for r in 0..rb.num_rows() {
                                match v.get(r).map_err(|e| DecodeError::col(name, Some(r), e.to_string()))? {
                                    None => b.append_null(),
                                    Some(x) => match x.indices {
                                        None => b.append_dense(x.values),
                                        Some(ix) => b.append_sparse(x.size as i64, ix, x.values),
                                    },
                                }
                            }
                        }
                    }
                }
                Arc::new(b.finish())
            }
        };
        fields.push(Field::new(name, col.data_type().clone(), true));
        columns.push(col);
    }
    fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from(seqs.to_vec())));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| DecodeError {
        column: None,
        row: None,
        message: format!("cannot assemble the input batch: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;

    fn specs() -> Vec<ColumnSpec> {
        vec![ColumnSpec::required("x", ColumnType::Vector), ColumnSpec::optional("label", ColumnType::Float64)]
    }

    #[test]
    fn json_errors_name_the_column() {
        let e = decode(b"{not json", 0, Format::Json, &specs()).unwrap_err();
        assert!(e.message.contains("not valid JSON"));
        let e = decode(br#"{"label": 1}"#, 0, Format::Json, &specs()).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("x"));
        let e = decode(br#"{"x": [1, "a"]}"#, 0, Format::Json, &specs()).unwrap_err();
        assert!(e.message.contains("vector[1]"), "{e:?}");
        let e = decode(br#"{"x": [1], "label": "yes"}"#, 0, Format::Json, &specs()).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("label"));
        let e = decode(br#"{"x": {"size": 3, "indices": [2, 1], "values": [1, 2]}}"#, 0, Format::Json, &specs()).unwrap_err();
        assert!(e.message.contains("out of order"), "{e:?}");
    }

    #[test]
    fn json_rows_build_a_batch() {
        let a = decode(br#"{"x": [1, 2], "label": 1}"#, 5, Format::Json, &specs()).unwrap();
        let b = decode(br#"{"x": {"size": 2, "indices": [1], "values": [3]}}"#, 6, Format::Json, &specs()).unwrap();
        let batch = build_batch(&[(&a, 5), (&b, 6)], &specs(), &[10, 11]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let v = VectorColumn::new(&batch, "x").unwrap();
        assert_eq!(v.get(0).unwrap().unwrap().to_dense(), vec![1.0, 2.0]);
        assert_eq!(v.get(1).unwrap().unwrap().to_dense(), vec![0.0, 3.0]);
        let l = batch.column_by_name("label").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
        assert!(l.is_null(1));
    }

    #[test]
    fn arrow_values_are_cast_and_checked() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false), Field::new("label", DataType::Float64, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN)]))]).unwrap();
        let bytes = ipc::encode(&batch).unwrap();
        let specs = vec![ColumnSpec::required("a", ColumnType::Float64), ColumnSpec::optional("label", ColumnType::Float64)];
        let e = decode(&bytes, 0, Format::Arrow, &specs).unwrap_err();
        assert_eq!((e.column.as_deref(), e.row), (Some("label"), Some(1)));
    }
}
