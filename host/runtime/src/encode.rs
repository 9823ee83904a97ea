//! Operator outputs back to record values: a prediction is the input's fields plus the
//! operator's output columns; a model version is its model-data row. JSON values go through
//! arrow-json, so every Arrow type an operator emits has a JSON form.

use arrow::array::RecordBatch;
use arrow::json::writer::{JsonArray, WriterBuilder};
use eddy_sdk::SEQ_COLUMN;
use serde_json::{Map, Value};

use crate::HostError;

/// Each row of `batch` as a JSON object, without the `__seq` column. Nulls are written as
/// `null` so every row has every column.
pub fn rows_to_json(batch: &RecordBatch) -> Result<Vec<Map<String, Value>>, HostError> {
    let batch = match batch.schema().index_of(SEQ_COLUMN) {
        Ok(i) => {
            let mut b = batch.clone();
            b.remove_column(i);
            b
        }
        Err(_) => batch.clone(),
    };
    if batch.num_columns() == 0 {
        return Ok(vec![Map::new(); batch.num_rows()]);
    }
    let mut buf = Vec::with_capacity(batch.num_rows() * 64);
    {
        let mut w = WriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut buf);
        w.write(&batch)?;
        w.finish()?;
    }
    let mut rows: Vec<Map<String, Value>> = serde_json::from_slice(&buf)
        .map_err(|e| HostError::Runtime(format!("arrow-json produced unreadable JSON: {e}")))?;
    // eddy's vector struct reads better as a plain array when it is dense.
    let vectors: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .filter(|f| f.data_type() == &eddy_sdk::vector_data_type())
        .map(|f| f.name().clone())
        .collect();
    for row in &mut rows {
        for name in &vectors {
            if let Some(Value::Object(v)) = row.get(name) {
                if v.get("indices").is_none_or(Value::is_null) {
                    let values = v.get("values").cloned().unwrap_or(Value::Null);
                    row.insert(name.clone(), values);
                }
            }
        }
    }
    Ok(rows)
}

/// The prediction value: `input` fields, then `output` fields (an output column replaces an
/// input field of the same name).
pub fn merge(input: &Map<String, Value>, output: Map<String, Value>) -> Vec<u8> {
    let mut m = input.clone();
    for (k, v) in output {
        m.insert(k, v);
    }
    serde_json::to_vec(&Value::Object(m)).expect("a JSON map serializes")
}
