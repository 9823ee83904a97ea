//! OnlineStandardScaler natively: the Flink ML window conformance case (event-time tumbling and
//! count windows), global and session windows, late rows, `maxAllowedModelDelayMs` and waiting
//! rows across snapshot/restore, batch-size independence, bad input and bad config; the same for
//! `variance = "river"` against river's formula (tests/reference.rs has river itself), and
//! snapshots taken before `variance` existed.

use std::sync::Arc;

use eddy_scaler::OnlineStandardScaler;
use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::java_random::JavaRandom;
use eddy_sdk::{Operator, OperatorError, Output, VectorBuilder, VectorColumn, vector_field};
use serde_json::{Value, json};

/// A batch of `(event time, vector)` rows: vector column `input`, Int64 `__timestamp`, `__seq`.
fn batch(rows: &[RawRow], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for (_, x) in rows {
        match x {
            Some(x) => v.append_dense(x),
            None => v.append_null(),
        }
    }
    let ts = Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let seq = UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64);
    let schema = Schema::new(vec![
        vector_field("input", true),
        Field::new("__timestamp", DataType::Int64, true),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![Arc::new(v.finish()), Arc::new(ts), Arc::new(seq)];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn timed(rows: &[(i64, Vec<f64>)], seq0: u64) -> RecordBatch {
    batch(&rows.iter().map(|(t, x)| (Some(*t), Some(x.clone()))).collect::<Vec<_>>(), seq0)
}

fn conformance() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/scaler_windows.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("shared/conformance beside the repo")).unwrap()
}

fn conformance_rows(c: &Value) -> Vec<(i64, Vec<f64>)> {
    c["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()))
        .collect()
}

fn list_of(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn f64s(a: &dyn Array) -> Vec<f64> {
    a.as_any().downcast_ref::<Float64Array>().unwrap().values().to_vec()
}

/// One published model: mean, std, version, timestamp.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    mean: Vec<f64>,
    std: Vec<f64>,
    version: i64,
    timestamp: i64,
    /// The `__seq` of the row that published it (None: a host watermark, or model data).
    by: Option<u64>,
}

fn models(b: Option<&RecordBatch>) -> Vec<Model> {
    let Some(b) = b else { return Vec::new() };
    let mean = b.column_by_name("mean").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    let std = b.column_by_name("std").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    let ver = b.column_by_name("version").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let ts = b.column_by_name("timestamp").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let by = b.column_by_name("__seq").map(|c| c.as_any().downcast_ref::<UInt64Array>().unwrap().clone());
    (0..b.num_rows())
        .map(|r| Model {
            mean: f64s(mean.value(r).as_ref()),
            std: f64s(std.value(r).as_ref()),
            version: ver.value(r),
            timestamp: ts.value(r),
            by: by.as_ref().and_then(|a| a.is_valid(r).then(|| a.value(r))),
        })
        .collect()
}

/// One answered row: its `__seq`, the scaled vector, the model version (if the column exists).
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    seq: u64,
    output: Vec<f64>,
    version: Option<i64>,
}

fn answers(b: &RecordBatch) -> Vec<Answer> {
    let out = VectorColumn::new(b, "output").unwrap();
    let seq = b.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap();
    let ver = b.column_by_name("version").map(|c| c.as_any().downcast_ref::<Int64Array>().unwrap().clone());
    (0..b.num_rows())
        .map(|r| {
            let v = out.get(r).unwrap().unwrap();
            assert!(v.indices.is_none(), "output vectors are dense");
            Answer { seq: seq.value(r), output: v.to_dense(), version: ver.as_ref().map(|a| a.value(r)) }
        })
        .collect()
}

/// Everything a run produced, in order, and the final snapshot.
#[derive(Debug, Clone, PartialEq, Default)]
struct Run {
    answers: Vec<Answer>,
    models: Vec<Model>,
    snapshot: Vec<u8>,
}

impl Run {
    fn take(&mut self, out: Output) {
        self.answers.extend(answers(&out.outputs));
        self.models.extend(models(out.models.as_ref()));
    }

    fn take_opt(&mut self, out: Option<Output>) {
        if let Some(o) = out {
            self.take(o);
        }
    }
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{what}: {got:?} vs {want:?}");
    }
}

fn check_conformance_models(got: &[Model], c: &Value, event_time: bool) {
    let exp = c["expectedModels"].as_array().unwrap();
    assert_eq!(got.len(), exp.len());
    for (g, e) in got.iter().zip(exp) {
        assert_eq!(g.version, e["version"].as_i64().unwrap());
        let ts = if event_time { e["timestamp"].as_i64().unwrap() } else { i64::MAX };
        assert_eq!(g.timestamp, ts);
        assert_close(&g.mean, &list_of(&e["mean"]), "mean");
        assert_close(&g.std, &list_of(&e["std"]), "std");
    }
}

#[test]
fn flink_ml_event_time_tumbling_conformance() {
    let c = conformance();
    let mut op = OnlineStandardScaler::open_json(&c["params"].to_string()).unwrap();
    let rows = conformance_rows(&c);
    let mut run = Run::default();
    run.take(op.process(&timed(&rows, 0)).unwrap());
    // Before the end of input: the windows [0, 3000) and [6000, 9000) have closed.
    assert_eq!(run.models.len(), 2);
    assert_eq!(op.waiting_rows(), 3, "the rows of the last window wait for its model");
    run.take_opt(op.watermark(i64::MAX).unwrap());
    check_conformance_models(&run.models, &c, true);
    assert_eq!(op.waiting_rows(), 0);
    // Rows 3 (at 6000) and 6 (at 9000) closed the first two windows; the end-of-input
    // watermark closed the last one.
    assert_eq!(run.models.iter().map(|m| m.by).collect::<Vec<_>>(), vec![Some(3), Some(6), None]);

    // Every row answered once, with its own window's model (maxAllowedModelDelayMs = 0): x / std.
    let mut seen: Vec<u64> = run.answers.iter().map(|a| a.seq).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..9).collect::<Vec<_>>());
    for a in &run.answers {
        let v = (a.seq / 3) as usize;
        assert_eq!(a.version, Some(v as i64));
        let x = &rows[a.seq as usize].1;
        let want: Vec<f64> = x.iter().zip(&run.models[v].std).map(|(x, s)| x * (1.0 / s)).collect();
        assert_eq!(a.output, want);
    }
}

#[test]
fn count_window_gives_the_same_models() {
    let c = conformance();
    let mut op = OnlineStandardScaler::open_json(&json!({"windows": {"countTumbling": 3}}).to_string()).unwrap();
    let rows = conformance_rows(&c);
    let mut run = Run::default();
    for (i, r) in rows.iter().enumerate() {
        run.take(op.process(&timed(std::slice::from_ref(r), i as u64)).unwrap());
        if i == 1 {
            assert_eq!(run.answers.len(), 0, "no model before the first window closes");
        }
    }
    run.take_opt(op.watermark(i64::MAX).unwrap());
    check_conformance_models(&run.models, &c, false);
    assert_eq!(run.models.iter().map(|m| m.by).collect::<Vec<_>>(), vec![Some(2), Some(5), Some(8)]);
    // The first three rows waited for version 0; later rows are scaled at once by the model in
    // force (count-window models have timestamp i64::MAX, so they are always fresh enough).
    let versions: Vec<(u64, Option<i64>)> = run.answers.iter().map(|a| (a.seq, a.version)).collect();
    let want = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 1), (7, 1), (8, 1)];
    assert_eq!(versions, want.iter().map(|(s, v)| (*s, Some(*v))).collect::<Vec<_>>());
}

#[test]
fn trailing_partial_count_window_never_closes() {
    let mut op = OnlineStandardScaler::open_json(&json!({"windows": {"countTumbling": 4}}).to_string()).unwrap();
    let rows: Vec<(i64, Vec<f64>)> = (0..3).map(|i| (i, vec![i as f64])).collect();
    let out = op.process(&timed(&rows, 0)).unwrap();
    assert_eq!(out.outputs.num_rows(), 0);
    assert!(op.watermark(i64::MAX).unwrap().is_none(), "as in Flink, a partial count window does not fire at the end");
    assert_eq!(op.waiting_rows(), 3);
    assert_eq!(op.model_data().unwrap().num_rows(), 0, "no model yet");
}

#[test]
fn global_window_publishes_one_model_at_end_of_input() {
    let c = conformance();
    let rows = conformance_rows(&c);
    let mut op = OnlineStandardScaler::open_json(r#"{"withMean": true, "windows": "global"}"#).unwrap();
    assert!(op.input_columns().iter().all(|c| c.name != "__timestamp"), "global windows read no event time");
    let mut run = Run::default();
    run.take(op.process(&timed(&rows, 0)).unwrap());
    run.take_opt(op.watermark(5_000_000).unwrap());
    assert!(run.models.is_empty() && run.answers.is_empty(), "only the end-of-input watermark closes it");
    run.take_opt(op.watermark(i64::MAX).unwrap());
    assert_eq!(run.models.len(), 1);
    let m = &run.models[0];
    assert_eq!((m.version, m.timestamp), (0, i64::MAX));
    assert_close(&m.mean, &list_of(&c["expectedModels"][2]["mean"]), "mean of all rows");
    assert_close(&m.std, &list_of(&c["expectedModels"][2]["std"]), "std of all rows");
    assert_eq!(run.answers.len(), 9);
    for a in &run.answers {
        let x = &rows[a.seq as usize].1;
        let want: Vec<f64> = (0..3).map(|j| (x[j] + -m.mean[j]) * (1.0 / m.std[j])).collect();
        assert_eq!(a.output, want);
    }
    let md = models(Some(&op.model_data().unwrap()));
    assert_eq!(md, run.models);
}

#[test]
fn session_windows_merge_touching_rows_and_close_on_the_gap() {
    let mut op = OnlineStandardScaler::open_json(&json!({"windows": {"eventTimeSessionGapMs": 1000}}).to_string()).unwrap();
    // Session 1: 0, 500, 1500 (1500 touches the session [0, 1500) and merges: Flink's
    // TimeWindow.intersects is inclusive). Session 2: 3000, 3100. Session 3: 5000.
    let rows: Vec<(i64, Vec<f64>)> = [0, 500, 1500, 3000, 3100, 5000].iter().enumerate().map(|(i, t)| (*t, vec![i as f64, 1.0])).collect();
    let mut run = Run::default();
    run.take(op.process(&timed(&rows, 0)).unwrap());
    run.take_opt(op.watermark(i64::MAX).unwrap());
    let got: Vec<(i64, i64)> = run.models.iter().map(|m| (m.version, m.timestamp)).collect();
    assert_eq!(got, vec![(0, 2499), (1, 4099), (2, 5999)]);
    assert_close(&run.models[0].mean, &[1.0, 1.0], "session 1 mean");
    assert_close(&run.models[1].mean, &[2.0, 1.0], "sessions 1-2 mean");
    assert_eq!(run.models[0].std[1], 0.0);
}

#[test]
fn host_watermark_closes_windows_and_late_rows_join_the_open_window() {
    let mut op = OnlineStandardScaler::open_json(&json!({"windows": {"eventTimeTumblingMs": 3000}}).to_string()).unwrap();
    let mut run = Run::default();
    run.take(op.process(&timed(&[(100, vec![1.0]), (200, vec![3.0])], 0)).unwrap());
    assert!(op.watermark(2998).unwrap().is_none());
    let out = op.watermark(2999).unwrap().expect("watermark 2999 closes [0, 3000)");
    run.take(out);
    assert_eq!(run.models.len(), 1);
    assert_eq!(run.models[0].timestamp, 2999);
    // A late row (event time 50 <= watermark 2999) counts toward the window open at the
    // watermark, [3000, 6000), and is answered at once by version 0 (50 <= 2999).
    run.take(op.process(&timed(&[(50, vec![5.0]), (4000, vec![7.0])], 2)).unwrap());
    assert_eq!(run.answers.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
    run.take_opt(op.watermark(i64::MAX).unwrap());
    assert_eq!(run.models.len(), 2);
    assert_eq!(run.models[1].timestamp, 5999);
    assert_close(&run.models[1].mean, &[4.0], "all four rows");
    assert_eq!(run.answers.last().unwrap().seq, 3);
}

/// Rows one second apart; models from 3-second tumbling windows.
fn ticking(n: usize) -> Vec<(i64, Vec<f64>)> {
    (0..n).map(|i| (i as i64 * 1000, vec![i as f64, (i * i) as f64 / 10.0])).collect()
}

#[test]
fn max_allowed_model_delay_lets_rows_use_older_models() {
    let rows = ticking(12);
    let run_with = |delay: i64| {
        let cfg = json!({"windows": {"eventTimeTumblingMs": 3000}, "maxAllowedModelDelayMs": delay}).to_string();
        let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
        let mut run = Run::default();
        let mut answered_in_call = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let out = op.process(&timed(std::slice::from_ref(r), i as u64)).unwrap();
            for a in answers(&out.outputs) {
                answered_in_call.push((a.seq, i as u64, a.version.unwrap()));
            }
            run.take(out);
        }
        for a in answers(&op.watermark(i64::MAX).unwrap().unwrap().outputs) {
            answered_in_call.push((a.seq, u64::MAX, a.version.unwrap()));
        }
        answered_in_call
    };
    // Delay 0: a row needs the model of its own window; it is answered when that window
    // closes, i.e. when the first row of the next window arrives.
    let d0 = run_with(0);
    assert!(d0.contains(&(0, 3, 0)) && d0.contains(&(2, 3, 0)) && d0.contains(&(3, 6, 1)), "{d0:?}");
    assert!(d0.contains(&(8, 9, 2)) && d0.contains(&(11, u64::MAX, 3)), "{d0:?}");
    // Delay 1000: the row at 3000 may use the model of [0, 3000) (timestamp 2999), so it is
    // answered with version 0 as soon as that model exists (in the same call); the row at
    // 4000 still needs a model with timestamp >= 3000.
    let d1 = run_with(1000);
    assert!(d1.contains(&(3, 3, 0)), "{d1:?}");
    assert!(d1.contains(&(4, 6, 1)), "{d1:?}");
    // Delay 4000: no row waits once version 0 exists. The row at 6000 is scaled by version 0
    // (timestamp 2999 >= 6000 - 4000) before its arrival closes [3000, 6000); later rows use
    // the latest model, version 1, not an older one.
    let d4 = run_with(4000);
    assert!(d4.contains(&(4, 4, 0)) && d4.contains(&(6, 6, 0)), "{d4:?}");
    assert!(d4.contains(&(7, 7, 1)) && d4.contains(&(8, 8, 1)) && d4.contains(&(10, 10, 2)), "{d4:?}");
    for d in [&d0, &d1, &d4] {
        assert_eq!(d.len(), 12, "every row answered exactly once");
    }
}

#[test]
fn waiting_rows_survive_snapshot_and_restore() {
    let rows = ticking(12);
    let cfg = json!({"windows": {"eventTimeTumblingMs": 3000}, "maxAllowedModelDelayMs": 1000, "withMean": true}).to_string();
    let whole = run_rows(&cfg, &rows, 1, None);
    for at in [1, 2, 3, 5, 6, 8, 11] {
        // Check there really are waiting rows at the snapshot point.
        let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
        op.process(&timed(&rows[..at], 0)).unwrap();
        assert!(op.waiting_rows() > 0, "rows wait at {at}");
        let restored = run_rows(&cfg, &rows, 1, Some(at));
        assert_eq!(restored, whole, "restore at {at}");
    }
}

#[test]
fn restored_model_scales_by_inverse_std_not_std() {
    // Flink ML inverted std in place on the checkpointed model: after a restore it scaled by
    // std. Here a restore in between gives exactly the same outputs.
    let cfg = json!({"windows": {"countTumbling": 2}}).to_string();
    let rows = [(0, vec![1.0, 10.0]), (1, vec![3.0, 30.0]), (2, vec![4.0, 40.0]), (3, vec![5.0, 50.0])];
    let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
    op.process(&timed(&rows[..2], 0)).unwrap();
    for _ in 0..3 {
        let snap = op.snapshot().unwrap();
        op = OnlineStandardScaler::open_json(&cfg).unwrap();
        op.restore(&snap).unwrap();
    }
    let std = models(Some(&op.model_data().unwrap()))[0].std.clone();
    assert_close(&std, &[2.0f64.sqrt(), 200.0f64.sqrt()], "std");
    let out = answers(&op.process(&timed(&rows[2..3], 2)).unwrap().outputs);
    assert_eq!(out[0].output, vec![4.0 * (1.0 / std[0]), 40.0 * (1.0 / std[1])]);
    assert_eq!(models(Some(&op.model_data().unwrap()))[0].std, std, "model data unchanged by scaling");
}

/// A bumpy event-time stream: mostly increasing with random gaps, some equal times, a few late
/// rows, and a sparse pattern of values.
fn bumpy(n: usize, seed: i64) -> Vec<(i64, Vec<f64>)> {
    let mut r = JavaRandom::new(seed);
    let mut t = 0i64;
    (0..n)
        .map(|_| {
            let u = r.next_double();
            t += if u < 0.1 {
                0
            } else if u < 0.9 {
                (r.next_double() * 800.0) as i64
            } else {
                2500
            };
            let ts = if r.next_double() < 0.05 { t - 4000 } else { t };
            (ts, (0..4).map(|j| if j == 3 { 0.0 } else { (r.next_double() - 0.3) * 10.0 }).collect())
        })
        .collect()
}

/// Feeds `rows` in chunks of `chunk`, with a host watermark after some chunks, then the
/// end-of-input watermark; optionally restores into a fresh instance after row `restore_at`.
fn run_rows(cfg: &str, rows: &[(i64, Vec<f64>)], chunk: usize, restore_at: Option<usize>) -> Run {
    let mut op = OnlineStandardScaler::open_json(cfg).unwrap();
    let mut run = Run::default();
    let mut start = 0;
    while start < rows.len() {
        let mut end = (start + chunk).min(rows.len());
        if let Some(s) = restore_at
            && start < s
            && end > s
        {
            end = s;
        }
        run.take(op.process(&timed(&rows[start..end], start as u64)).unwrap());
        start = end;
        if restore_at == Some(end) {
            let snap = op.snapshot().unwrap();
            op = OnlineStandardScaler::open_json(cfg).unwrap();
            op.restore(&snap).unwrap();
        }
    }
    run.take_opt(op.watermark(i64::MAX).unwrap());
    run.snapshot = op.snapshot().unwrap();
    run
}

fn window_configs() -> Vec<String> {
    [
        json!({"windows": {"global": true}, "withMean": true}),
        json!({"windows": {"countTumbling": 10}}),
        json!({"windows": {"eventTimeTumblingMs": 3000}, "withMean": true, "maxAllowedModelDelayMs": 1500}),
        json!({"windows": {"eventTimeSessionGapMs": 1200}, "modelVersionCol": ""}),
        json!({"windows": {"countTumbling": 1}, "withMean": true, "variance": "river"}),
        json!({"windows": {"countTumbling": 1}, "withMean": true, "withStd": false, "variance": "river"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

#[test]
fn batch_size_independence() {
    let rows = bumpy(400, 5);
    for cfg in window_configs() {
        let whole = run_rows(&cfg, &rows, rows.len(), None);
        assert!(!whole.models.is_empty(), "{cfg}");
        let mut seen: Vec<u64> = whole.answers.iter().map(|a| a.seq).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), whole.answers.len(), "{cfg}: a row answered twice");
        for chunk in [1, 7, 1000] {
            assert!(run_rows(&cfg, &rows, chunk, None) == whole, "{cfg}: chunk {chunk} differs");
        }
    }
}

#[test]
fn restore_at_any_row_continues_identically() {
    let rows = bumpy(200, 6);
    for cfg in window_configs() {
        let whole = run_rows(&cfg, &rows, 7, None);
        for at in [0, 1, 9, 10, 11, 100, 199, 200] {
            assert!(run_rows(&cfg, &rows, 7, Some(at)) == whole, "{cfg}: restore at {at} differs");
        }
    }
}

#[test]
fn no_version_column_when_disabled() {
    let mut op = OnlineStandardScaler::open_json(r#"{"modelVersionCol": "", "windows": {"countTumbling": 1}}"#).unwrap();
    let out = op.process(&timed(&[(0, vec![1.0])], 0)).unwrap().outputs;
    let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, vec!["output", "__seq"]);
}

#[test]
fn sparse_input_and_numeric_columns() {
    let rows = bumpy(50, 7);
    let cfg = json!({"windows": {"countTumbling": 5}, "withMean": true});
    let dense_run = run_rows(&cfg.to_string(), &rows, 50, None);
    // The same rows as sparse vectors.
    let mut op = OnlineStandardScaler::open_json(&cfg.to_string()).unwrap();
    let mut v = VectorBuilder::new();
    for (_, x) in &rows {
        let (ix, vals): (Vec<i32>, Vec<f64>) = x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as i32, *v)).unzip();
        v.append_sparse(4, &ix, &vals);
    }
    let schema = Schema::new(vec![vector_field("input", false), Field::new("__seq", DataType::UInt64, false)]);
    let b = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(v.finish()) as ArrayRef, Arc::new(UInt64Array::from_iter_values(0..50))])
        .unwrap();
    let mut run = Run::default();
    run.take(op.process(&b).unwrap());
    run.take_opt(op.watermark(i64::MAX).unwrap());
    assert_eq!((run.answers.clone(), run.models.clone()), (dense_run.answers.clone(), dense_run.models.clone()));
    // The same rows as four numeric columns.
    let mut cfg_cols = cfg.clone();
    cfg_cols["inputCol"] = json!(["a", "b", "c", "d"]);
    let mut op = OnlineStandardScaler::open_json(&cfg_cols.to_string()).unwrap();
    let mut fields: Vec<Field> = ["a", "b", "c", "d"].iter().map(|n| Field::new(*n, DataType::Float64, false)).collect();
    let mut cols: Vec<ArrayRef> =
        (0..4).map(|j| Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1[j]))) as ArrayRef).collect();
    fields.push(Field::new("__seq", DataType::UInt64, false));
    cols.push(Arc::new(UInt64Array::from_iter_values(0..50)));
    let mut run = Run::default();
    run.take(op.process(&RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()).unwrap());
    run.take_opt(op.watermark(i64::MAX).unwrap());
    assert_eq!((run.answers, run.models), (dense_run.answers, dense_run.models));
}

fn input_err(e: OperatorError) -> (u32, Option<String>, String) {
    match e {
        OperatorError::InvalidInput(i) => (i.row, i.column, i.message),
        other => panic!("expected an input error, got {other}"),
    }
}

/// A hand-made row: event time and vector, either possibly null.
type RawRow = (Option<i64>, Option<Vec<f64>>);

#[test]
fn bad_rows_leave_state_unchanged() {
    let cfg = json!({"windows": {"eventTimeTumblingMs": 3000}}).to_string();
    let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
    op.process(&timed(&[(0, vec![1.0, 2.0])], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let ok = (Some(1), Some(vec![1.0, 2.0]));
    let cases: Vec<(Vec<RawRow>, u32, &str, &str)> = vec![
        (vec![ok.clone(), (Some(2), Some(vec![f64::NAN, 0.0]))], 1, "input", "non-finite"),
        (vec![ok.clone(), ok.clone(), (Some(2), Some(vec![1.0]))], 2, "input", "dimension 1"),
        (vec![(Some(2), None)], 0, "input", "missing"),
        (vec![ok.clone(), (None, Some(vec![1.0, 2.0]))], 1, "__timestamp", "missing event time"),
    ];
    for (rows, row, col, msg) in cases {
        let (r, c, m) = input_err(op.process(&batch(&rows, 1)).unwrap_err());
        assert_eq!((r, c.as_deref()), (row, Some(col)), "{m}");
        assert!(m.contains(msg), "{m}");
        assert_eq!(op.snapshot().unwrap(), before, "state changed by a refused batch ({msg})");
    }
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (json!({"inputcol": "x"}), "inputcol"),
        (json!({"windows": {"processingTimeTumblingMs": 1000}}), "windows.processingTimeTumblingMs"),
        (json!({"windows": {"processingTimeSessionGapMs": 1000}}), "windows.processingTimeSessionGapMs"),
        (json!({"windows": {"countTumbling": 0}}), "windows.countTumbling"),
        (json!({"windows": {"eventTimeTumblingMs": -5}}), "windows.eventTimeTumblingMs"),
        (json!({"windows": {"eventTimeSessionGapMs": 0}}), "windows.eventTimeSessionGapMs"),
        (json!({"windows": {"countTumbling": 3, "eventTimeTumblingMs": 5}}), "windows"),
        (json!({"windows": {"tumbling": 3}}), "windows.tumbling"),
        (json!({"windows": "session"}), "windows"),
        (json!({"windows": {"global": false}}), "windows.global"),
        (json!({"maxAllowedModelDelayMs": -1}), "maxAllowedModelDelayMs"),
        (json!({"withMean": "yes"}), "withMean"),
        (json!({"modelVersionCol": "output"}), "modelVersionCol"),
        (json!({"modelVersionCol": true}), "modelVersionCol"),
        (json!({"outputCol": "__seq"}), "outputCol"),
        (json!({"inputCol": []}), "inputCol"),
        (json!({"variance": "sample"}), "variance"),
        (json!({"variance": 1}), "variance"),
        (json!({"variance": "river", "withMean": true}), "windows"),
        (json!({"variance": "river", "withMean": true, "windows": {"countTumbling": 2}}), "windows"),
        (json!({"variance": "river", "withMean": true, "windows": {"eventTimeTumblingMs": 1}}), "windows"),
        (json!({"variance": "river", "windows": {"countTumbling": 1}}), "withMean"),
        (json!({"variance": "river", "withMean": false, "windows": {"countTumbling": 1}}), "withMean"),
    ] {
        match OnlineStandardScaler::open_json(&cfg.to_string()) {
            Err(OperatorError::InvalidConfig(c)) => assert_eq!(c.parameter, param, "{cfg}: {}", c.message),
            Err(e) => panic!("{cfg}: expected a config error, got {e}"),
            Ok(_) => panic!("{cfg}: accepted"),
        }
    }
    let Err(OperatorError::InvalidConfig(c)) = OnlineStandardScaler::open_json(r#"{"windows": {"processingTimeTumblingMs": 1000}}"#) else {
        panic!("accepted")
    };
    assert!(c.message.contains("deterministic"), "{}", c.message);
}

#[test]
fn readme_example_config_opens() {
    let readme = include_str!("../README.md");
    let start = readme.find("```toml").expect("a TOML example") + "```toml".len();
    let end = start + readme[start..].find("```").unwrap();
    let job: toml::Table = toml::from_str(&readme[start..end]).unwrap();
    assert_eq!(job["operator"]["component"].as_str(), Some("scaler"));
    let config = serde_json::to_string(&job["operator"]["config"]).unwrap();
    OnlineStandardScaler::open_json(&config).unwrap();
}

const RIVER: &str = r#"{"variance": "river", "withMean": true, "windows": {"countTumbling": 1}}"#;

/// river's `StandardScaler` by its formula, from two-pass statistics: `x` scaled by the
/// population mean and variance of `seen` (`(x - mean) / sqrt(var)`, 0 where the variance is
/// 0; `x` itself before any row, as river's empty statistics give it without std). Computed
/// on the values minus the first row's, so that large offsets lose nothing.
fn river_formula(seen: &[Vec<f64>], x: &[f64], with_std: bool) -> Vec<f64> {
    let n = seen.len() as f64;
    (0..x.len())
        .map(|j| {
            if seen.is_empty() {
                return if with_std { 0.0 } else { x[j] };
            }
            let c = seen[0][j];
            let shifted_mean = seen.iter().map(|r| r[j] - c).sum::<f64>() / n;
            let var = seen.iter().map(|r| (r[j] - c - shifted_mean).powi(2)).sum::<f64>() / n;
            let centred = x[j] - c - shifted_mean;
            if !with_std {
                centred
            } else if var == 0.0 {
                0.0
            } else {
                centred / var.sqrt()
            }
        })
        .collect()
}

fn learned_vectors(out: &RecordBatch) -> Vec<Vec<f64>> {
    let vc = VectorColumn::new(out, "output@learned").unwrap();
    (0..out.num_rows()).map(|r| vc.get(r).unwrap().unwrap().to_dense()).collect()
}

#[test]
fn river_variance_matches_its_formula() {
    // Large offsets (Flink ML's sumSq - n mean^2 cancels there), a constant coordinate and one
    // constant for the first rows.
    let mut r = JavaRandom::new(11);
    let rows: Vec<(i64, Vec<f64>)> = (0..120)
        .map(|i| {
            let late = if i < 5 { 2.0 } else { r.next_double() };
            (i, vec![7.36e5 + i as f64 + r.next_double(), 1e9 + r.next_double() * 10.0, 3.0, late])
        })
        .collect();
    let xs: Vec<Vec<f64>> = rows.iter().map(|r| r.1.clone()).collect();
    for with_std in [true, false] {
        let cfg = json!({"variance": "river", "withMean": true, "withStd": with_std, "windows": {"countTumbling": 1}}).to_string();
        let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
        op.set_learned_outputs(true);
        let out = op.process(&timed(&rows, 0)).unwrap();
        let got = answers(&out.outputs);
        let learned = learned_vectors(&out.outputs);
        let ms = models(out.models.as_ref());
        assert_eq!(ms.len(), rows.len(), "a model per row");
        for (i, a) in got.iter().enumerate() {
            assert_eq!(a.seq, i as u64, "no row waits");
            assert_eq!(a.version, Some(i as i64 - 1), "row {i} is scaled by the model of the rows before it");
            let want = river_formula(&xs[..i], &xs[i], with_std);
            let want_learned = river_formula(&xs[..=i], &xs[i], with_std);
            for (g, w) in a.output.iter().zip(&want).chain(learned[i].iter().zip(&want_learned)) {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "row {i} (std {with_std}): {:?} / {:?} vs {want:?} / {want_learned:?}",
                    a.output,
                    learned[i]
                );
            }
            if with_std {
                assert_eq!(a.output[2], 0.0, "a constant coordinate scales to 0");
            }
        }
        let stats = op.river_stats().unwrap();
        assert_eq!(stats.mean[2], 3.0);
        assert_eq!(stats.var[2], 0.0, "a constant coordinate's variance is exactly 0");
        assert!((stats.var[1] / (100.0 / 12.0) - 1.0).abs() < 0.3, "no cancellation at 1e9: {}", stats.var[1]);
        // Model data: river's mean and sqrt(var).
        let last = ms.last().unwrap();
        assert_eq!(last.mean, stats.mean);
        assert_eq!(last.std, stats.var.iter().map(|v| v.sqrt()).collect::<Vec<_>>());
        assert_eq!(last.version, rows.len() as i64 - 1);
    }
}

#[test]
fn river_first_row_is_scaled_by_empty_statistics() {
    // river's statistics before any row are mean 0 and variance 0: the first row scales to 0
    // with std, and to itself without (Flink ML's way holds it back for the first model).
    let cfg = json!({"variance": "river", "withMean": true, "withStd": false, "windows": {"countTumbling": 1}}).to_string();
    let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
    let a = answers(&op.process(&timed(&[(0, vec![5.0, -2.0])], 0)).unwrap().outputs);
    assert_eq!(a, vec![Answer { seq: 0, output: vec![5.0, -2.0], version: Some(-1) }]);
    let mut op = OnlineStandardScaler::open_json(RIVER).unwrap();
    let a = answers(&op.process(&timed(&[(0, vec![5.0, -2.0]), (1, vec![7.0, -2.0])], 0)).unwrap().outputs);
    assert_eq!(a[0], Answer { seq: 0, output: vec![0.0, 0.0], version: Some(-1) });
    // Second row: mean 5, variance 0 (a single row): 0 again. Its learned form: mean 6,
    // variance 1, so (7 - 6) / 1 and a constant 0.
    assert_eq!(a[1], Answer { seq: 1, output: vec![0.0, 0.0], version: Some(0) });
    let mut op = OnlineStandardScaler::open_json(RIVER).unwrap();
    op.set_learned_outputs(true);
    let out = op.process(&timed(&[(0, vec![5.0, -2.0]), (1, vec![7.0, -2.0])], 0)).unwrap().outputs;
    assert_eq!(learned_vectors(&out), vec![vec![0.0, 0.0], vec![1.0, 0.0]]);
}

#[test]
fn river_refuses_what_would_overflow() {
    let mut op = OnlineStandardScaler::open_json(RIVER).unwrap();
    op.process(&timed(&[(0, vec![1.0])], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let (r, c, m) = input_err(op.process(&timed(&[(1, vec![2.0]), (2, vec![1e300]), (3, vec![-1e300])], 1)).unwrap_err());
    assert_eq!((r, c.as_deref()), (1, Some("input")), "{m}");
    assert!(m.contains("overflow"), "{m}");
    assert_eq!(op.snapshot().unwrap(), before, "nothing learnt from the refused batch");
}

#[test]
fn river_learned_forms_survive_batches_and_restores() {
    let rows = bumpy(150, 9);
    let whole = {
        let mut op = OnlineStandardScaler::open_json(RIVER).unwrap();
        op.set_learned_outputs(true);
        let out = op.process(&timed(&rows, 0)).unwrap().outputs;
        (answers(&out), learned_vectors(&out))
    };
    for chunk in [1, 7, 64] {
        let mut op = OnlineStandardScaler::open_json(RIVER).unwrap();
        op.set_learned_outputs(true);
        let (mut a, mut l) = (Vec::new(), Vec::new());
        for (i, part) in rows.chunks(chunk).enumerate() {
            let out = op.process(&timed(part, (i * chunk) as u64)).unwrap().outputs;
            a.extend(answers(&out));
            l.extend(learned_vectors(&out));
            let snap = op.snapshot().unwrap();
            // Restored into an instance opened with Flink ML's statistics: the snapshot says river.
            op = OnlineStandardScaler::open_json(r#"{"windows": {"countTumbling": 1}}"#).unwrap();
            op.restore(&snap).unwrap();
            op.set_learned_outputs(true);
        }
        assert!((a.clone(), l.clone()) == whole, "chunk {chunk}");
    }
}

/// A snapshot taken by the operator before `variance` existed (commit 526b045):
/// `{"windows": {"eventTimeTumblingMs": 3000}, "maxAllowedModelDelayMs": 1000, "withMean": true}`
/// after the first 8 rows of `ticking(12)` (two models, rows waiting).
const SNAPSHOT_BEFORE_VARIANCE: &str = concat!(
    "0f656464792d736e617073686f742f31144f6e6c696e655374616e646172645363616c657205302e312e30000569",
    "6e707574066f75747075740101010776657273696f6ed00f02f02e0b5f5f74696d657374616d7001020102000000",
    "0000003c400000000000002c40020000000000806140e27a14ae47614740080102e05dd08c01ae6d040102000000",
    "0000000440555555555555ed3f02493f6811eaeefd3fafaada492c2fef3f02de5d0107b06d020000000000001c40",
    "9a99999999991340",
);

#[test]
fn the_default_is_unchanged_and_older_snapshots_restore() {
    let old: Vec<u8> = (0..SNAPSHOT_BEFORE_VARIANCE.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SNAPSHOT_BEFORE_VARIANCE[i..i + 2], 16).unwrap())
        .collect();
    let rows = ticking(12);
    let base = json!({"windows": {"eventTimeTumblingMs": 3000}, "maxAllowedModelDelayMs": 1000, "withMean": true});
    let mut explicit = base.clone();
    explicit["variance"] = json!("flink-ml");
    for cfg in [base.to_string(), explicit.to_string()] {
        let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
        op.process(&timed(&rows[..8], 0)).unwrap();
        // The same state, bit for bit, as before `variance`, plus its last field (None).
        let mut want = old.clone();
        want.push(0);
        assert_eq!(op.snapshot().unwrap(), want, "{cfg}");
        let mut restored = OnlineStandardScaler::open_json(RIVER).unwrap();
        restored.restore(&old).unwrap();
        assert_eq!(restored.snapshot().unwrap(), want, "the older snapshot restores with Flink ML's statistics");
        let mut a = Run::default();
        let mut b = Run::default();
        a.take(op.process(&timed(&rows[8..], 8)).unwrap());
        b.take(restored.process(&timed(&rows[8..], 8)).unwrap());
        a.take_opt(op.watermark(i64::MAX).unwrap());
        b.take_opt(restored.watermark(i64::MAX).unwrap());
        assert!(!a.answers.is_empty() && a == b);
    }
    let mut op = OnlineStandardScaler::open_json("{}").unwrap();
    assert!(op.restore(&old[..old.len() - 1]).is_err(), "a truncated snapshot is refused");
}
