//! Arrow record values (IPC streams) to the columns an operator reads: cast to the type it
//! asked for and checked (required values present, numbers finite, vectors well formed).

use std::sync::Arc;

use super::DecodeError;
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use eddy_sdk::{ColumnSpec, ColumnType, TIMESTAMP_COLUMN, VectorBuilder, VectorColumn};

/// The column `spec` of an Arrow record, converted to the type the operator asked for.
pub(super) fn arrow_column(batch: &RecordBatch, spec: &ColumnSpec, timestamp: i64) -> Result<ArrayRef, DecodeError> {
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
                    b.append_value(serde_json::Value::String(s.value(r).to_owned()).to_string());
                } else if col.data_type().is_integer() {
                    let c = cast(&col.slice(r, 1), &DataType::Int64).map_err(|_| bad_type())?;
                    b.append_value(c.as_any().downcast_ref::<Int64Array>().expect("Int64").value(0).to_string());
                } else {
                    return Err(bad_type());
                }
            }
            Ok(Arc::new(b.finish()))
        }
        ColumnType::Label => {
            let mut b = StringBuilder::new();
            if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
                for r in 0..n {
                    b.append_option(s.is_valid(r).then(|| serde_json::Value::String(s.value(r).to_owned()).to_string()));
                }
            } else if let Some(t) = col.as_any().downcast_ref::<arrow::array::BooleanArray>() {
                for r in 0..n {
                    b.append_option(t.is_valid(r).then(|| t.value(r).to_string()));
                }
            } else if col.data_type().is_numeric() {
                let c = cast(col, &DataType::Float64).map_err(|_| bad_type())?;
                let f = c.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
                for r in 0..n {
                    if f.is_valid(r) && !f.value(r).is_finite() {
                        return Err(DecodeError::col(name, Some(r), format!("not a finite number ({})", f.value(r))));
                    }
                    b.append_option(f.is_valid(r).then(|| eddy_sdk::labels::number_text(f.value(r))));
                }
            } else {
                return Err(bad_type());
            }
            Ok(Arc::new(b.finish()))
        }
        ColumnType::Vector => arrow_vector(col.as_ref(), name),
    }
}

fn arrow_vector(col: &dyn Array, name: &str) -> Result<ArrayRef, DecodeError> {
    if matches!(col.data_type(), DataType::Struct(_)) {
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(name, col.data_type().clone(), true)])),
            vec![arrow::array::make_array(col.to_data())],
        )
        .map_err(|e| DecodeError::col(name, None, e.to_string()))?;
        let v = VectorColumn::new(&b, name).map_err(|e| DecodeError::col(name, None, e.to_string()))?;
        for r in 0..b.num_rows() {
            if let Some(x) = v.get(r).map_err(|e| DecodeError::col(name, Some(r), e.to_string()))? {
                x.validate().map_err(|m| DecodeError::col(name, Some(r), m))?;
            }
        }
        if col.data_type() == &eddy_sdk::vector_data_type() {
            return Ok(b.column(0).clone());
        }
        // The same struct with other child nullability (pyarrow's defaults): rebuild it in
        // eddy's exact type so that batches of several records concatenate.
        let mut out = VectorBuilder::new();
        for r in 0..b.num_rows() {
            match v.get(r).map_err(|e| DecodeError::col(name, Some(r), e.to_string()))? {
                None => out.append_null(),
                Some(x) => match x.indices {
                    None => out.append_dense(x.values),
                    Some(ix) => out.append_sparse(x.size as i64, ix, x.values),
                },
            }
        }
        return Ok(Arc::new(out.finish()));
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

pub(crate) fn target_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Utf8 | ColumnType::Json | ColumnType::Label => DataType::Utf8,
        ColumnType::Vector => eddy_sdk::vector_data_type(),
    }
}
