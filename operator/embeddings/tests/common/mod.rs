//! Helpers shared by the native tests: input batches from events, and column readers.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::Arc;

use eddy_embeddings::Embeddings;
use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{Operator, Output};

/// One input event: user and item as JSON text, time, optional weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    pub user: String,
    pub item: String,
    pub ts: i64,
    pub weight: Option<f64>,
}

pub fn ev(user: &str, item: &str, ts: i64) -> Ev {
    Ev { user: user.into(), item: item.into(), ts, weight: None }
}

/// A batch with columns user, item, __timestamp, weight and __seq (from `seq0`).
pub fn batch(events: &[Ev], seq0: u64) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("item", DataType::Utf8, true),
        Field::new("__timestamp", DataType::Int64, true),
        Field::new("weight", DataType::Float64, true),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.user.as_str()))),
        Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.item.as_str()))),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.ts))),
        Arc::new(Float64Array::from(events.iter().map(|e| e.weight).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from_iter_values(seq0..seq0 + events.len() as u64)),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

/// Feeds `events` in batches of `size`; returns every output and model batch in order.
pub fn run(op: &mut Embeddings, events: &[Ev], size: usize, seq0: u64) -> (Vec<RecordBatch>, Vec<RecordBatch>) {
    let (mut outs, mut models) = (Vec::new(), Vec::new());
    let mut seq = seq0;
    for chunk in events.chunks(size.max(1)) {
        let Output { outputs, models: m } = op.process(&batch(chunk, seq)).unwrap();
        seq += chunk.len() as u64;
        outs.push(outputs);
        models.extend(m);
    }
    (outs, models)
}

pub fn concat(batches: &[RecordBatch]) -> Option<RecordBatch> {
    let first = batches.first()?;
    Some(arrow_select::concat::concat_batches(&first.schema(), batches).unwrap())
}

pub fn f64s(b: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    (0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))).collect()
}

pub fn i64s(b: &RecordBatch, col: &str) -> Vec<Option<i64>> {
    let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    (0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))).collect()
}

pub fn strs(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b.column_by_name(col).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    (0..a.len()).map(|i| a.value(i).to_owned()).collect()
}

/// Published rows as (kind, id, vector or None, version, eventTime).
pub type Row = (String, String, Option<Vec<f32>>, i64, i64);

pub fn model_rows(b: &RecordBatch) -> Vec<Row> {
    use eddy_sdk::arrow::array::{Float32Array, ListArray};
    let kinds = strs(b, "kind");
    let ids = strs(b, "id");
    let vecs = b.column_by_name("vector").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    let ver = i64s(b, "modelVersion");
    let time = i64s(b, "eventTime");
    (0..b.num_rows())
        .map(|i| {
            let v = (!vecs.is_null(i)).then(|| {
                let a = vecs.value(i);
                a.as_any().downcast_ref::<Float32Array>().unwrap().values().to_vec()
            });
            (kinds[i].clone(), ids[i].clone(), v, ver[i].unwrap(), time[i].unwrap())
        })
        .collect()
}
