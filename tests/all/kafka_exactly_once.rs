//! Exactly once through crashes: `eddy run` on a real broker is killed with SIGKILL at random
//! points, at least five times, and restarted; afterwards the read_committed predictions topic
//! holds exactly one prediction per input record, and predictions and model versions are byte
//! for byte those of an uninterrupted run, and the last run's summary reports the metrics of
//! the whole stream (checkpoints carry them), equal to the uninterrupted run's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_host::Record;
use serde_json::json;

use crate::kafka_support::{
    Eddy, FTRL, Lcg, Names, assert_exactly_once, assert_same, kafka_job, produce, read_topic, read_topic_at_least, replay_reference,
    replay_reference_with, shared, synthetic, workdir,
};

#[test]
fn sigkill_at_random_points_changes_nothing() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("sigkill");
    let input = produce(b, &n.input, &synthetic(&n.input, 3, 40_000, 42));
    let reference = replay_reference(&input, FTRL, false);
    let dir = workdir("sigkill");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let log = dir.join("eddy.log");

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let mut kills = 0;
    let mut finished = false;
    // Kill at random moments after each run's first committed checkpoint (and, once, during
    // start-up), until five kills landed mid-run; then let it finish.
    while kills < 5 {
        let mut e = Eddy::start(&job, &[], &log);
        if kills == 2 {
            std::thread::sleep(Duration::from_millis(300 + (rng.next_f64() * 400.0) as u64));
        } else {
            let before = e.log_text().matches("committed in").count();
            e.wait_for_log("committed in", before + 1, Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis((rng.next_f64() * 600.0) as u64));
        }
        if e.child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        e.kill();
        kills += 1;
        eprintln!("sigkill test (seed {seed}): kill {kills} after {:.1} s", started.elapsed().as_secs_f64());
    }
    assert!(!finished, "the job finished before it was killed five times; give it more input");
    let summary = dir.join("summary.json");
    let mut e = Eddy::start_with_summary(&job, &[], &log, &summary);
    assert!(e.wait(Duration::from_secs(120)), "the last run failed:\n{}", e.log_text());
    let text = e.log_text();
    assert!(text.matches("recovered sigkill-in[").count() >= 3, "restarts restored from checkpoints:\n{text}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).expect("the summary is JSON");
    assert_eq!(summary["metrics"]["rows"], json!(input.len()), "the last run's metrics cover every row, not only its own");
    assert_eq!(summary["metrics"], reference.metrics, "metrics after five kills are the uninterrupted run's, bit for bit");

    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("model versions", &read_topic_at_least(b, &n.models, reference.models.len()), &reference.models);
    eprintln!("sigkill test (seed {seed}): {kills} kills, {:.1} s", started.elapsed().as_secs_f64());
}

/// Interaction events for the embeddings operator: `partitions` x `per_partition` JSON
/// records `{user, item}`, users and items drawn from small skewed ranges.
fn interactions(topic: &str, partitions: i32, per_partition: usize, seed: u64) -> Vec<Record> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for p in 0..partitions {
        for i in 0..per_partition {
            let user = (rng.next_f64() * rng.next_f64() * 300.0) as u64;
            let item = (user % 6) * 10 + (rng.next_f64() * 10.0) as u64;
            out.push(Record {
                topic: topic.into(),
                partition: p,
                offset: i as i64,
                timestamp: 1_700_000_000_000 + (i as i64) * 1000,
                key: None,
                value: serde_json::to_vec(&json!({"user": user, "item": format!("i{item}")})).expect("JSON"),
                headers: vec![],
            });
        }
    }
    out
}

const EMBEDDINGS: &str = r#"
[operator]
component = "embeddings"
[operator.config]
dim = 8
negatives = 2
publishEveryEvents = 300
fullSnapshotEvery = 5
"#;

#[test]
fn incremental_checkpoints_survive_sigkill_and_drop_what_they_replace() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("incremental");
    let embeddings = format!("{}-embeddings", n.input);
    let input = produce(b, &n.input, &interactions(&n.input, 2, 25000, 5));
    let reference = replay_reference_with(&input, EMBEDDINGS, "embeddings = \"e.replay\"");
    assert!(!reference.embeddings.is_empty());
    let dir = workdir("incremental");
    let job = kafka_job(&dir, b, &n, EMBEDDINGS, true, &format!("embeddings = \"{embeddings}\""));
    let log = dir.join("eddy.log");

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Lcg(seed);
    for kill in 0..4 {
        let mut e = Eddy::start(&job, &[], &log);
        let before = e.log_text().matches("committed in").count();
        e.wait_for_log("committed in", before + 3, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis((rng.next_f64() * 300.0) as u64));
        assert!(e.child.try_wait().unwrap().is_none(), "the job finished before kill {kill}; give it more input");
        e.kill();
    }
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(120)), "the last run failed:\n{}", e.log_text());
    let text = e.log_text();
    assert!(text.contains(" incremental); resume at"), "some checkpoints stored deltas only:\n{text}");
    assert!(text.contains("in a chain of"), "some restarts restored a chain of snapshots:\n{text}");

    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same(&format!("predictions (seed {seed})"), &predictions, &reference.predictions);
    // The embeddings topic is compacted (the broker may already have dropped superseded
    // vectors): per key, the latest record must be the reference's latest, and no key missing.
    let latest = |recs: &[Record]| -> BTreeMap<(i32, Vec<u8>), (Vec<u8>, i64)> {
        recs.iter().map(|r| ((r.partition, r.key.clone().unwrap_or_default()), (r.value.clone(), r.timestamp))).collect()
    };
    let want = latest(&reference.embeddings);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = latest(&read_topic(b, &embeddings));
    while got != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        got = latest(&read_topic(b, &embeddings));
    }
    assert_eq!(got.len(), want.len(), "one latest vector per id");
    if let Some((k, v)) = want.iter().find(|(k, v)| got.get(*k) != Some(*v)) {
        panic!(
            "embedding {}: live {:?}, reference {}",
            String::from_utf8_lossy(&k.1),
            got.get(k).map(|g| String::from_utf8_lossy(&g.0).into_owned()),
            String::from_utf8_lossy(&v.0)
        );
    }

    // Links that a full snapshot replaced were deleted (tombstones), and the last manifest of
    // each partition names only the links its chain needs.
    let ck = read_topic(b, &n.checkpoints);
    let tombstones = ck.iter().filter(|r| r.header("eddy.checkpoint").as_deref() == Some("tombstone")).count();
    assert!(tombstones > 0, "no link was ever deleted");
    for p in 0..2 {
        let key = format!("{}/{}/{p}", n.group, n.input);
        let last = ck.iter().rev().find(|r| r.key.as_deref() == Some(key.as_bytes())).expect("a manifest per partition");
        let m: serde_json::Value = serde_json::from_slice(&last.value).unwrap();
        let links = m["links"].as_array().unwrap();
        assert!(!links.is_empty() && links.len() <= 5, "{m}");
        assert_eq!(links[0]["full_stages"], json!([true]), "a chain starts with a full snapshot: {m}");
        assert!(links[1..].iter().all(|l| l["full_stages"] == json!([false])), "{m}");
    }
    eprintln!("incremental checkpoint test (seed {seed}): {tombstones} tombstones");
}

/// The synthetic features through a chain: a standard scaler, then FTRL on its output.
const SCALER_FTRL: &str = r#"
[[operators]]
component = "scaler"
[operators.config]
inputCol = ["f0", "f1", "f2", "f3", "f4"]
outputCol = "scaled"
withMean = true
withStd = true
windows = { countTumbling = 1 }
modelVersionCol = ""
[[operators]]
component = "ftrl"
[operators.config]
featuresCol = "scaled"
labelCol = "label"
globalBatchSize = 10
alpha = 0.5
"#;

/// The outputs of an uninterrupted replay run of `operator` over `input` with values in
/// `format` ("json" or "arrow").
fn replay_reference_in(input: &[Record], operator: &str, format: &str) -> crate::kafka_support::Reference {
    let dir = tempfile::tempdir().expect("tempdir");
    eddy_tests::write_replay(&dir.path().join("in.replay"), input.to_vec());
    let text = format!(
        "[source]\nreplay = \"in.replay\"\nformat = \"{format}\"\n{operator}\n[sinks]\npredictions = \"p.replay\"\nmodels = \"m.replay\"\n"
    );
    let job = eddy_host::job::Job::parse(&text, dir.path(), &[]).expect("reference job");
    let summary = eddy_host::run::run_replay(eddy_tests::runtime(), &job, &|_, _| {}).expect("reference run");
    let read = |f: &str| eddy_host::replay::read(&dir.path().join(f)).expect("read");
    crate::kafka_support::Reference {
        metrics: serde_json::to_value(&summary.metrics).expect("metrics as JSON"),
        predictions: read("p.replay"),
        models: read("m.replay"),
        ..Default::default()
    }
}

/// Runs `job` on the broker, killed once after its first committed checkpoint and restarted,
/// and checks its outputs against `reference`: every input record answered exactly once (an
/// Arrow record with several rows answers them in one prediction record), predictions and
/// model versions byte for byte the replay run's, and the metrics of the whole stream.
fn killed_once_equals_the_replay(
    name: &str,
    job: &std::path::Path,
    n: &Names,
    input: &[Record],
    reference: &crate::kafka_support::Reference,
) {
    let b = shared().bootstrap();
    let dir = job.parent().expect("workdir");
    let log = dir.join("eddy.log");
    let mut e = Eddy::start(job, &[], &log);
    // Past the first checkpoints (the very first may hold no record yet), so that the restart
    // restores state that matters.
    assert!(e.wait_for_log("committed in", 3, Duration::from_secs(60)), "{name}: no checkpoint was committed:\n{}", e.log_text());
    assert!(e.child.try_wait().unwrap().is_none(), "{name}: the job finished before the kill; give it more input");
    e.kill();
    let summary = dir.join("summary.json");
    let mut e = Eddy::start_with_summary(job, &[], &log, &summary);
    assert!(e.wait(Duration::from_secs(120)), "{name}: the run after the kill failed:\n{}", e.log_text());
    let text = e.log_text();
    let resumed: Vec<i64> = text
        .lines()
        .filter(|l| l.contains(&format!("recovered {}[", n.input)))
        .filter_map(|l| l.rsplit("resuming at offset ").next()?.trim().parse().ok())
        .collect();
    assert!(resumed.iter().any(|&o| o > 0), "{name}: the restart restored a checkpoint past the start ({resumed:?}):\n{text}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).expect("the summary is JSON");
    assert_eq!(summary["metrics"], reference.metrics, "{name}: metrics of the whole stream, the replay run's");
    let predictions = read_topic_at_least(b, &n.predictions, reference.predictions.len());
    assert_exactly_once(&predictions, input);
    assert_same(&format!("{name}: predictions"), &predictions, &reference.predictions);
    assert_same(&format!("{name}: model versions"), &read_topic_at_least(b, &n.models, reference.models.len()), &reference.models);
}

#[test]
fn a_chain_runs_exactly_once_and_equals_its_replay() {
    let b = shared().bootstrap();
    let n = Names::new("chain-eo");
    let input = produce(b, &n.input, &synthetic(&n.input, 2, 3000, 7));
    let reference = replay_reference_in(&input, SCALER_FTRL, "json");
    assert_eq!(reference.predictions.len(), input.len());
    // Both stages publish model versions.
    for op in ["OnlineStandardScaler", "OnlineLogisticRegression"] {
        assert!(reference.models.iter().any(|m| m.header("eddy.operator").as_deref() == Some(op)), "{op} publishes models");
    }
    let dir = workdir("chain-eo");
    let job = kafka_job(&dir, b, &n, SCALER_FTRL, true, "");
    killed_once_equals_the_replay("scaler | ftrl", &job, &n, &input, &reference);
}

/// The synthetic records as Arrow IPC values: each JSON record of `json` becomes a one-row
/// stream, except that every fifth record takes the next two along (three rows in one value).
fn as_arrow(json: &[Record]) -> Vec<Record> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    let mut out = Vec::new();
    let mut i = 0;
    while i < json.len() {
        let take = if i % 5 == 0 { 3 } else { 1 };
        let group: Vec<&Record> = json[i..(i + take).min(json.len())].iter().take_while(|r| r.partition == json[i].partition).collect();
        let values: Vec<serde_json::Value> = group.iter().map(|r| crate::kafka_support::json_of(r)).collect();
        let mut cols: Vec<(String, ArrayRef)> = (0..5)
            .map(|k| {
                let f = format!("f{k}");
                let col: ArrayRef = Arc::new(Float64Array::from_iter_values(values.iter().map(|v| v[&f].as_f64().unwrap())));
                (f, col)
            })
            .collect();
        cols.push(("label".into(), Arc::new(Int64Array::from_iter_values(values.iter().map(|v| v["label"].as_i64().unwrap())))));
        let batch = RecordBatch::try_from_iter(cols).expect("batch");
        out.push(Record { value: eddy_sdk::ipc::encode(&batch).expect("encode"), ..group[0].clone() });
        i += group.len();
    }
    out
}

#[test]
fn arrow_values_run_exactly_once_and_equal_their_replay() {
    let b = shared().bootstrap();
    let n = Names::new("arrow-eo");
    let records = as_arrow(&synthetic(&n.input, 2, 4000, 11));
    let input = produce(b, &n.input, &records);
    let reference = replay_reference_in(&input, FTRL, "arrow");
    assert_eq!(reference.predictions.len(), input.len(), "one prediction record per input record");
    let rows: usize = reference.predictions.iter().map(|p| eddy_sdk::ipc::decode(&p.value).expect("an Arrow prediction").num_rows()).sum();
    assert!(rows > input.len(), "some predictions answer several rows ({rows} rows in {} records)", input.len());
    let dir = workdir("arrow-eo");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let text = std::fs::read_to_string(&job).unwrap().replace("format = \"json\"", "format = \"arrow\"");
    std::fs::write(&job, text).unwrap();
    killed_once_equals_the_replay("arrow values", &job, &n, &input, &reference);
}
