//! Bad input: every kind of bad record goes to the dead-letter sink with its reason and origin
//! (and the run goes on), or, without one, stops the run with an error naming the record and
//! column while the sinks hold everything up to the last good record. Bad configs fail at open
//! naming the parameter.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use eddy_host::job::Job;
use eddy_host::run::run_replay;
use eddy_host::{HostError, Record, headers};
use eddy_tests::{json_records, replay_values, runtime, write_replay};
use serde_json::{Value, json};

fn job_text(dir: &Path, format: &str, dead_letters: bool, extra_config: &str) -> String {
    let d = |f: &str| dir.join(f).display().to_string();
    format!(
        r#"
[source]
replay = {input:?}
format = "{format}"
[operator]
component = "ftrl"
[operator.config]
featuresCol = {features}
globalBatchSize = 2
{extra_config}
[sinks]
predictions = {p:?}
models = {m:?}
{dl}
"#,
        input = d("in.replay"),
        features = if format == "json" { "\"features\"" } else { "[\"a\", \"b\"]" },
        p = d("p.replay"),
        m = d("m.replay"),
        dl = if dead_letters { format!("dead_letters = {:?}", d("d.replay")) } else { String::new() },
    )
}

fn good(i: usize) -> Value {
    json!({"features": [i as f64 * 0.1, 1.0], "label": (i % 2) as f64, "id": i})
}

/// Runs a JSON job over `values`, where `values[bad]` is bad; checks both policies.
fn check_bad_json(bad_value: &[u8], expect_column: Option<&str>, expect_reason: &str) {
    let bad = 3;
    let mut recs = json_records("events", &(0..6).map(good).collect::<Vec<_>>());
    recs[bad].value = bad_value.to_vec();
    check_policies(recs, "json", bad, expect_column, expect_reason);
}

fn check_policies(mut recs: Vec<Record>, format: &str, bad: usize, expect_column: Option<&str>, expect_reason: &str) {
    let n = recs.len();
    // Keys, timestamps and headers of their own (bytes that are not UTF-8 too), which a dead
    // letter must keep byte for byte.
    for r in recs.iter_mut() {
        r.key = Some(format!("key-{}", r.offset).into_bytes());
        r.timestamp = 1_700_000_000_000 + 7 * r.offset;
        r.headers.push(("trace".into(), Some(vec![0xff, 0, r.offset as u8])));
        r.headers.push(("empty".into(), None));
    }
    // With a dead-letter sink: the record goes there, the run goes on.
    let dir = tempfile::tempdir().unwrap();
    write_replay(&dir.path().join("in.replay"), recs.clone());
    let job = Job::parse(&job_text(dir.path(), format, true, ""), Path::new("."), &[]).unwrap();
    let s = run_replay(runtime(), &job, &|_, _| {}).unwrap();
    assert_eq!((s.predictions, s.dead_letters), (n as u64 - 1, 1));
    let dl = eddy_host::replay::read(&dir.path().join("d.replay")).unwrap();
    let d = &dl[0];
    assert_eq!(d.value, recs[bad].value, "the dead letter keeps the original value");
    assert_eq!(d.key, recs[bad].key, "the dead letter keeps the original key");
    assert_eq!(d.timestamp, recs[bad].timestamp, "the dead letter keeps the original timestamp");
    for h in &recs[bad].headers {
        assert!(d.headers.contains(h), "the dead letter keeps the original header {h:?}: {:?}", d.headers);
    }
    assert_eq!(d.header(headers::ORIGIN_TOPIC).as_deref(), Some("events"));
    assert_eq!(d.header(headers::ORIGIN_PARTITION).as_deref(), Some("0"));
    assert_eq!(d.header(headers::ORIGIN_OFFSET).as_deref(), Some(bad.to_string().as_str()));
    let reason = d.header(headers::ERROR_REASON).unwrap();
    assert!(reason.contains(expect_reason), "reason {reason:?} should mention {expect_reason:?}");
    assert_eq!(d.header(headers::ERROR_COLUMN).as_deref(), expect_column);

    // Without one: the run stops, naming the record and column; sinks end at the last good one.
    let dir = tempfile::tempdir().unwrap();
    write_replay(&dir.path().join("in.replay"), recs);
    let job = Job::parse(&job_text(dir.path(), format, false, ""), Path::new("."), &[]).unwrap();
    let err = run_replay(runtime(), &job, &|_, _| {}).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, HostError::BadRecord { .. }), "{msg}");
    assert!(msg.contains(&format!("topic events, partition 0, offset {bad}")), "{msg}");
    if let Some(c) = expect_column {
        assert!(msg.contains(&format!("column `{c}`")), "{msg}");
    }
    let preds = eddy_host::replay::read(&dir.path().join("p.replay")).unwrap();
    let answered: Vec<String> = preds.iter().map(|r| r.header(headers::ORIGIN_OFFSET).unwrap()).collect();
    let want: Vec<String> = (0..bad).map(|i| i.to_string()).collect();
    assert_eq!(answered, want, "predictions stop at the last good record");
}

#[test]
fn value_that_is_not_json() {
    check_bad_json(b"{\"features\": [1, 2", None, "not valid JSON");
}

#[test]
fn json_that_is_not_an_object() {
    check_bad_json(b"[1, 2]", None, "not an object");
}

#[test]
fn missing_column() {
    check_bad_json(br#"{"label": 1.0}"#, Some("features"), "missing required column");
}

#[test]
fn mistyped_column() {
    check_bad_json(br#"{"features": [1.0, 2.0], "label": "yes"}"#, Some("label"), "expected a number");
    check_bad_json(br#"{"features": "1,2", "label": 1.0}"#, Some("features"), "expected a vector");
}

#[test]
fn out_of_range_number() {
    // JSON has no NaN; a number beyond f64 is the closest a JSON value gets to infinity.
    check_bad_json(br#"{"features": [1e999, 2.0], "label": 1.0}"#, None, "not valid JSON");
}

#[test]
fn vector_of_the_wrong_length() {
    // Refused by the operator (the model has dimension 2), not by the decoder.
    check_bad_json(br#"{"features": [1.0, 2.0, 3.0], "label": 1.0}"#, Some("features"), "dimension 3");
}

#[test]
fn label_outside_zero_one() {
    check_bad_json(br#"{"features": [1.0, 2.0], "label": 3.0}"#, Some("label"), "label must be 0 or 1");
}

fn arrow_value(a: f64, b: f64) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Float64, false),
        Field::new("b", DataType::Float64, false),
        Field::new("label", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Float64Array::from(vec![a])), Arc::new(Float64Array::from(vec![b])), Arc::new(Float64Array::from(vec![1.0]))],
    )
    .unwrap();
    eddy_sdk::ipc::encode(&batch).unwrap()
}

#[test]
fn nan_and_infinite_features_in_arrow_values() {
    for (bad, col) in [(arrow_value(f64::NAN, 1.0), "a"), (arrow_value(1.0, f64::INFINITY), "b")] {
        let mut recs = json_records("events", &(0..6).map(good).collect::<Vec<_>>());
        for (i, r) in recs.iter_mut().enumerate() {
            r.value = arrow_value(i as f64, 1.0);
        }
        recs[2].value = bad;
        check_policies(recs, "arrow", 2, Some(col), "not a finite number");
    }
}

#[test]
fn value_that_is_not_arrow() {
    let mut recs = json_records("events", &(0..6).map(good).collect::<Vec<_>>());
    for (i, r) in recs.iter_mut().enumerate() {
        r.value = arrow_value(i as f64, 1.0);
    }
    recs[4].value = b"{\"a\": 1}".to_vec();
    check_policies(recs, "arrow", 4, None, "not an Arrow IPC stream");
}

#[test]
fn arrow_values_predict_like_json_values() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<Record> = json_records("events", &(0..6).map(good).collect::<Vec<_>>())
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.value = arrow_value(i as f64 * 0.1, 1.0);
            r
        })
        .collect();
    write_replay(&dir.path().join("in.replay"), recs);
    let job = Job::parse(&job_text(dir.path(), "arrow", false, ""), Path::new("."), &[]).unwrap();
    let s = run_replay(runtime(), &job, &|_, _| {}).unwrap();
    assert_eq!(s.predictions, 6);
    let preds = eddy_host::replay::read(&dir.path().join("p.replay")).unwrap();
    let b = eddy_sdk::ipc::decode(&preds[5].value).unwrap();
    assert!(b.column_by_name("a").is_some() && b.column_by_name("rawPrediction").is_some(), "input columns plus outputs");

    // The same rows as JSON give the same model versions.
    let dir2 = tempfile::tempdir().unwrap();
    let vals: Vec<Value> = (0..6).map(|i| json!({"a": i as f64 * 0.1, "b": 1.0, "label": 1.0})).collect();
    write_replay(&dir2.path().join("in.replay"), json_records("events", &vals));
    let job = Job::parse(
        &job_text(dir2.path(), "json", false, "").replace("featuresCol = \"features\"", "featuresCol = [\"a\", \"b\"]"),
        Path::new("."),
        &[],
    )
    .unwrap();
    run_replay(runtime(), &job, &|_, _| {}).unwrap();
    assert_eq!(replay_values(&dir.path().join("m.replay")), replay_values(&dir2.path().join("m.replay")));
}

#[test]
fn bad_config_fails_at_open_naming_the_parameter() {
    for (set, param) in
        [("alhpa=0.1", "alhpa"), ("alpha=-1.0", "alpha"), ("elasticNet=1.5", "elasticNet"), ("globalBatchSize=0", "globalBatchSize")]
    {
        let dir = tempfile::tempdir().unwrap();
        write_replay(&dir.path().join("in.replay"), json_records("events", &[good(0)]));
        let job = Job::parse(&job_text(dir.path(), "json", true, ""), Path::new("."), &[format!("operator.config.{set}")]).unwrap();
        let err = run_replay(runtime(), &job, &|_, _| {}).unwrap_err();
        assert!(matches!(&err, HostError::OperatorConfig { parameter, .. } if parameter == param), "{err}");
        assert!(err.to_string().contains(&format!("`{param}`")), "{err}");
    }
}

/// A classifier whose labels it cannot read (strings, for FTRL's 0/1 labels): with a dead-letter
/// sink every labelled record is refused, and the run must not end as a success with nothing
/// learned; with one bad label among good ones it goes on.
#[test]
fn a_run_that_refuses_every_label_fails_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let labelled = |i: usize, label: Value| json!({"features": [i as f64 % 3.0, 1.0], "label": label});
    let all_strings: Vec<Value> = (0..20).map(|i| labelled(i, json!(if i % 2 == 0 { "spam" } else { "ham" }))).collect();
    write_replay(&dir.path().join("in.replay"), json_records("in", &all_strings));
    let job = Job::parse(&job_text(dir.path(), "json", true, ""), dir.path(), &[]).unwrap();
    let e = run_replay(runtime(), &job, &|_, _| {}).unwrap_err().to_string();
    assert!(
        e.contains("every labelled row was refused") && e.contains("20 record(s)") && e.contains("topic in, partition 0, offset 0"),
        "{e}"
    );
    assert_eq!(replay_values(&dir.path().join("d.replay")).len(), 20, "the refused records are still in the dead letters");

    let mut one_bad: Vec<Value> = (0..20).map(|i| labelled(i, json!((i % 2) as f64))).collect();
    one_bad[5] = labelled(5, json!("spam"));
    write_replay(&dir.path().join("in.replay"), json_records("in", &one_bad));
    let s = run_replay(runtime(), &job, &|_, _| {}).unwrap();
    assert_eq!((s.dead_letters, s.metrics.labelled), (1, 19));
}
