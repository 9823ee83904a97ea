//! JSON values eddy reads as more than scalars: the type names its error messages use, and
//! the two JSON forms of a vector (an array of numbers; `{size, indices, values}`).

use serde_json::Value;

/// The name of a JSON value's type, for error messages.
pub(super) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON vector: an array of numbers (dense) or `{size, indices, values}` (sparse).
pub(super) enum JsonVector {
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

pub(super) fn json_vector(v: &Value) -> Result<JsonVector, String> {
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
