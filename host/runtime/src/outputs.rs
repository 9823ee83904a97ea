//! Output records, built only at the sink: predictions (the input record answered, with its
//! key, timestamp and origin headers), model versions, keyed embeddings and dead letters.

use std::sync::Arc;

use arrow::array::RecordBatch;
use serde_json::{Map, Value};

use crate::encode::{JsonSplicer, arrow_prediction_into, json_options};
use crate::frame::Rows;
use crate::record::headers as h;
use crate::{Format, Record, Records, Result};

/// The prediction records for `answered` rows: every output column in `fields` (one row per
/// answered row) added to the input record, JSON by splicing, Arrow as one IPC stream per run
/// of rows of one record.
pub(crate) fn predictions(format: Format, answered: &Rows, fields: &RecordBatch, out: &mut Records) -> Result<()> {
    match format {
        Format::Json => {
            let options = json_options();
            let schema = fields.schema();
            let mut splicer = JsonSplicer::new(fields, schema.fields(), &options)?;
            let per_row = answered.src.first().map_or(0, |(s, _)| s.record.value.len() + 32 * schema.fields().len());
            out.reserve(answered.len(), per_row);
            for (i, (src, _)) in answered.src.iter().enumerate() {
                out.push_answer(&src.record, |v| splicer.splice_into(&src.record.value, i, v))?;
            }
        }
        Format::Arrow => {
            let mut start = 0;
            while start < answered.len() {
                let s = &answered.src[start].0;
                let mut end = start + 1;
                while end < answered.len() && Arc::ptr_eq(&answered.src[end].0, s) {
                    end += 1;
                }
                let input = s.arrow.as_ref().expect("Arrow records keep their batch");
                let rows: Vec<u32> = answered.src[start..end].iter().map(|a| a.1).collect();
                out.push_answer(&s.record, |v| arrow_prediction_into(input, &rows, &fields.slice(start, end - start), v))?;
                start = end;
            }
        }
    }
    Ok(())
}

/// A model version: the operator's model-data row as a JSON object, keyed by partition.
pub(crate) fn model_record(m: Map<String, Value>, partition: i32, timestamp: i64, headers: Vec<(String, Option<Vec<u8>>)>) -> Record {
    Record {
        topic: String::new(),
        partition,
        offset: -1,
        timestamp,
        key: Some(partition.to_string().into_bytes()),
        value: serde_json::to_vec(&Value::Object(m)).expect("JSON"),
        headers,
    }
}

/// A published embedding as a keyed record; a null vector is a tombstone (empty value).
pub(crate) fn embedding_record(m: Map<String, Value>, partition: i32, timestamp: i64, headers: Vec<(String, Option<Vec<u8>>)>) -> Record {
    let text = |k: &str| match m.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let key = format!("{}:{}", text("kind"), text("id"));
    let timestamp = m.get("eventTime").and_then(Value::as_i64).unwrap_or(timestamp);
    let value = if m.get("vector").is_none_or(Value::is_null) { Vec::new() } else { serde_json::to_vec(&Value::Object(m)).expect("JSON") };
    Record { topic: String::new(), partition, offset: -1, timestamp, key: Some(key.into_bytes()), value, headers }
}

pub(crate) fn range_of(rows: &Rows) -> String {
    match (rows.src.first(), rows.src.last()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.0.record.origin(), b.0.record.origin());
            format!("topic {}, partition {}, offsets {}..={}", a.topic, a.partition, a.offset, b.offset)
        }
        _ => "no records".into(),
    }
}

/// A dead letter: the original key and value, the reason and origin in headers.
pub(crate) fn dead_letter(out: &mut Records, r: &Record, stage: &str, column: Option<&str>, reason: &str) {
    let mut headers = Vec::with_capacity(3);
    headers.push((h::ERROR_STAGE.into(), Some(stage.as_bytes().to_vec())));
    headers.push((h::ERROR_REASON.into(), Some(reason.as_bytes().to_vec())));
    if let Some(c) = column {
        headers.push((h::ERROR_COLUMN.into(), Some(c.as_bytes().to_vec())));
    }
    out.push_refused(r, headers);
}
