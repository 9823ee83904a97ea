//! Output records, built only at the sink: predictions (the input record answered, with its
//! key, timestamp and origin headers), model versions, keyed embeddings and dead letters.

use std::sync::Arc;

use arrow::array::RecordBatch;
use serde_json::{Map, Value};

use crate::encode::{JsonSplicer, arrow_prediction, json_options};
use crate::frame::Rows;
use crate::record::headers as h;
use crate::{Format, Origin, Record, Result};

/// The prediction records for `answered` rows: every output column in `fields` (one row per
/// answered row) added to the input record, JSON by splicing, Arrow as one IPC stream per run
/// of rows of one record.
pub(crate) fn predictions(format: Format, answered: &Rows, fields: &RecordBatch, out: &mut Vec<Record>) -> Result<()> {
    out.reserve(answered.len());
    match format {
        Format::Json => {
            let options = json_options();
            let schema = fields.schema();
            let mut splicer = JsonSplicer::new(fields, schema.fields(), &options)?;
            for (i, (src, _)) in answered.src.iter().enumerate() {
                let value = splicer.splice(&src.record.value, i)?;
                out.push(prediction(&src.record, value));
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
                let value = arrow_prediction(input, &rows, &fields.slice(start, end - start))?;
                out.push(prediction(&s.record, value));
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

fn origin_headers(o: &Origin) -> Vec<(String, Option<Vec<u8>>)> {
    vec![
        (h::ORIGIN_TOPIC.into(), Some(o.topic.as_bytes().to_vec())),
        (h::ORIGIN_PARTITION.into(), Some(o.partition.to_string().into_bytes())),
        (h::ORIGIN_OFFSET.into(), Some(o.offset.to_string().into_bytes())),
    ]
}

pub(crate) fn prediction(input: &Record, value: Vec<u8>) -> Record {
    Record {
        topic: String::new(),
        partition: input.partition,
        offset: -1,
        timestamp: input.timestamp,
        key: input.key.clone(),
        value,
        headers: origin_headers(&input.origin()),
    }
}

/// A dead letter: the original key and value, the reason and origin in headers.
pub(crate) fn dead_letter(r: &Record, stage: &str, column: Option<&str>, reason: &str) -> Record {
    let mut headers = origin_headers(&r.origin());
    headers.push((h::ERROR_STAGE.into(), Some(stage.as_bytes().to_vec())));
    headers.push((h::ERROR_REASON.into(), Some(reason.as_bytes().to_vec())));
    if let Some(c) = column {
        headers.push((h::ERROR_COLUMN.into(), Some(c.as_bytes().to_vec())));
    }
    Record { topic: String::new(), partition: r.partition, offset: -1, timestamp: r.timestamp, key: r.key.clone(), value: r.value.clone(), headers }
}
