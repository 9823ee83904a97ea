//! Drift detection on the prequential error, against the real ftrl component: a synthetic
//! logistic stream whose label rule flips at known rows is detected soon after each flip and
//! never before the first; detections (the summary and the drift sink) are the same at every
//! batch size, through a snapshot and restore, and on Kafka through SIGKILLs.

use std::path::Path;
use std::time::Duration;

use eddy_host::job::Job;
use eddy_host::run::{RunSummary, run_replay};
use eddy_host::{Format, Pipeline, PipelineOutput, PipelineSnapshot, Record};
use eddy_tests::{component, runtime, write_replay};
use serde_json::{Value, json};

use crate::kafka_support::{Eddy, FTRL, Lcg, Names, assert_same, kafka_job, produce, read_topic_at_least, shared, workdir};

/// Labelled rows `{f0..f4, label}`, `per_partition` per partition: the label is the sign of
/// a fixed linear score plus a little noise, and the rule flips (the label is negated) at
/// each row index in `flips`.
fn drifting(topic: &str, partitions: i32, per_partition: usize, flips: &[usize], seed: u64) -> Vec<Record> {
    let mut rng = Lcg(seed);
    let w = [1.5, -2.0, 0.7, 0.0, 1.1];
    let mut out = Vec::new();
    for p in 0..partitions {
        for i in 0..per_partition {
            let x: Vec<f64> = (0..5).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
            let s: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + (rng.next_f64() - 0.5) * 0.5;
            let flipped = flips.iter().filter(|f| i >= **f).count() % 2 == 1;
            let label = (s > 0.0) != flipped;
            let v = json!({"f0": x[0], "f1": x[1], "f2": x[2], "f3": x[3], "f4": x[4], "label": u8::from(label)});
            out.push(Record {
                topic: topic.into(),
                partition: p,
                offset: i as i64,
                timestamp: 1_700_000_000_000 + (i as i64) * 10,
                key: None,
                value: serde_json::to_vec(&v).expect("JSON"),
                headers: vec![],
            });
        }
    }
    out
}

/// FTRL updated at every row, with a step that learns the rule within its first hundred rows
/// or so. ADWIN is two-sided: a learner whose error still falls after its first thousand rows
/// (FTRL with `globalBatchSize = 10, alpha = 0.5` on some seeds) is detected too, as a drop of
/// the error, which would blur the test's "nothing before the flip".
const QUICK_FTRL: &str = r#"
[operator]
component = "ftrl"
[operator.config]
featuresCol = ["f0", "f1", "f2", "f3", "f4"]
labelCol = "label"
globalBatchSize = 1
alpha = 1.0
"#;

fn quick_ftrl_config() -> Value {
    json!({"featuresCol": ["f0", "f1", "f2", "f3", "f4"], "labelCol": "label", "globalBatchSize": 1, "alpha": 1.0})
}

/// Runs `operator` over `input` as a replay job with a drift sink; the summary and the drift
/// records.
fn run_job(dir: &Path, operator: &str, input: &[Record], sets: &[String]) -> (RunSummary, Vec<Record>) {
    let src = dir.join("in.replay");
    if !src.exists() {
        write_replay(&src, input.to_vec());
    }
    let text = format!("[source]\nreplay = \"in.replay\"\n{operator}\n[sinks]\npredictions = \"p.replay\"\ndrift = \"d.replay\"\n");
    let job = Job::parse(&text, dir, sets).expect("job");
    let s = run_replay(runtime(), &job, &|_, _| {}).expect("run");
    (s, eddy_host::replay::read(&dir.join("d.replay")).expect("drift sink"))
}

fn offsets(drift: &[Record]) -> Vec<(i32, i64)> {
    drift.iter().map(|r| (r.partition, json_of(r)["offset"].as_i64().expect("offset"))).collect()
}

fn json_of(r: &Record) -> Value {
    serde_json::from_slice(&r.value).expect("JSON value")
}

const FLIP: usize = 3000;

#[test]
fn a_planted_drift_is_detected_soon_after_and_not_before() {
    for seed in 1..=5 {
        let dir = tempfile::tempdir().unwrap();
        let input = drifting("drifting", 1, 6000, &[FLIP], seed);
        let (_, drift) = run_job(dir.path(), QUICK_FTRL, &input, &[]);
        let found = offsets(&drift);
        eprintln!("seed {seed}: the rule flips at row {FLIP}; detections at {found:?}");
        let first = found.first().unwrap_or_else(|| panic!("seed {seed}: the flip is not detected")).1;
        assert!(first >= FLIP as i64, "seed {seed}: a detection before the flip, at {first}: {found:?}");
        assert!(first < FLIP as i64 + 1000, "seed {seed}: detected {} rows after the flip", first - FLIP as i64);
    }
}

#[test]
fn a_detection_is_reported_and_written_as_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = drifting("drifting", 1, 6000, &[FLIP], 11);
    let (s, drift) = run_job(dir.path(), QUICK_FTRL, &input, &[]);
    let d = s.drift.as_ref().expect("drift detection is on by default");
    assert_eq!(d.rows, 6000, "every labelled row feeds the detector");
    let first = offsets(&drift)[0].1;
    assert!(first >= FLIP as i64, "{:?}", offsets(&drift));
    // The record: key the partition, origin headers, the row's timestamp, the error before
    // (FTRL had learned the rule) and after (it is wrong on most rows since the flip).
    let r = &drift[0];
    let v = json_of(r);
    assert_eq!(r.key.as_deref(), Some(&b"0"[..]));
    assert_eq!(r.header("eddy.origin.offset"), Some(first.to_string()));
    assert_eq!(r.header("eddy.origin.topic").as_deref(), Some("drifting"));
    assert_eq!(r.timestamp, input[first as usize].timestamp);
    assert_eq!((v["partition"].clone(), v["row"].clone(), v["topic"].clone()), (json!(0), json!(0), json!("drifting")));
    let (before, after) = (v["errorBefore"].as_f64().unwrap(), v["errorAfter"].as_f64().unwrap());
    assert!(before < 0.15 && after > 0.5, "error {before} -> {after}");
    assert!(v["width"].as_u64().unwrap() >= 5 && v["modelVersion"].as_i64().unwrap() > 0, "{v}");
    // The summary lists the same detections as the sink.
    assert_eq!(d.detections, drift.len() as u64);
    assert_eq!(d.kept.iter().map(|k| k.to_json()).collect::<Vec<_>>(), drift.iter().map(json_of).collect::<Vec<_>>());
    // Off: no detector, no summary.
    let dir = tempfile::tempdir().unwrap();
    let text = format!("[source]\nreplay = \"in.replay\"\n{QUICK_FTRL}\n[drift]\nenabled = false\n");
    write_replay(&dir.path().join("in.replay"), input);
    let job = Job::parse(&text, dir.path(), &[]).unwrap();
    assert_eq!(run_replay(runtime(), &job, &|_, _| {}).unwrap().drift, None);
}

#[test]
fn detections_do_not_depend_on_batch_sizes_or_partitions_threads() {
    let input = drifting("drifting", 3, 4000, &[1500, 3000], 5);
    let mut want: Option<(Vec<u8>, Value)> = None;
    for bs in [1usize, 7, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let (s, drift) = run_job(dir.path(), QUICK_FTRL, &input, &[format!("run.batch_size={bs}")]);
        let d = s.drift.expect("on");
        assert!(offsets(&drift).iter().filter(|(p, _)| *p == 2).count() >= 2, "both flips of partition 2 are found: {:?}", offsets(&drift));
        let got = (std::fs::read(dir.path().join("d.replay")).unwrap(), d.to_json());
        match &want {
            None => want = Some(got),
            Some(w) => {
                assert!(w.0 == got.0, "the drift sink differs at batch size {bs}");
                assert_eq!(w.1, got.1, "the drift summary differs at batch size {bs}");
            }
        }
    }
}

fn feed(p: &mut Pipeline, recs: &[Record], chunk: usize, out: &mut PipelineOutput) {
    for c in recs.chunks(chunk) {
        let (o, r) = p.process(c);
        r.unwrap();
        out.extend(o);
    }
}

#[test]
fn a_restored_pipeline_detects_where_an_uninterrupted_one_does() {
    let input = drifting("drifting", 1, 6000, &[FLIP], 11);
    let comp = component(runtime(), "ftrl");
    let open = || {
        let mut p = Pipeline::new(&comp, &quick_ftrl_config(), 0, Format::Json, false).unwrap();
        p.set_drift(&Default::default()).unwrap();
        p
    };
    let mut straight = open();
    let mut want = PipelineOutput::default();
    feed(&mut straight, &input, 100, &mut want);
    assert!(!want.drift.is_empty());
    let first = offsets(&want.drift.iter().collect::<Vec<_>>())[0].1 as usize;
    // Before the flip, between the flip and its detection, and after it (the window then
    // holds the new concept only).
    for (cut, chunk) in [(1000usize, 7usize), (first - 10, 1), (first + 500, 1000)] {
        let mut got = PipelineOutput::default();
        let mut a = open();
        feed(&mut a, &input[..cut], chunk, &mut got);
        let snap = PipelineSnapshot::from_bytes(&a.snapshot().unwrap().to_bytes()).unwrap();
        drop(a);
        let mut b = open();
        b.restore(&snap).unwrap();
        feed(&mut b, &input[cut..], chunk, &mut got);
        assert!(got.drift == want.drift, "drift records differ after a restore at {cut}");
        assert_eq!(b.drift(), straight.drift(), "the detector differs after a restore at {cut}");
    }
    // Restored with other parameters: the history stays, the window starts empty. Restored
    // with drift detection off: no detector.
    let mut a = open();
    feed(&mut a, &input[..first + 500], 100, &mut PipelineOutput::default());
    let snap = a.snapshot().unwrap();
    let mut other = Pipeline::new(&comp, &quick_ftrl_config(), 0, Format::Json, false).unwrap();
    let settings = eddy_host::drift::DriftSettings { delta: 0.01, ..Default::default() };
    other.set_drift(&settings).unwrap();
    other.restore(&snap).unwrap();
    let (was, now) = (a.drift().unwrap(), other.drift().unwrap());
    assert_eq!((now.rows(), now.detections(), now.kept()), (was.rows(), was.detections(), was.kept()));
    assert_eq!(now.config().delta, 0.01);
    let mut off = Pipeline::new(&comp, &quick_ftrl_config(), 0, Format::Json, false).unwrap();
    off.restore(&snap).unwrap();
    assert!(off.drift().is_none());
}

#[test]
fn the_drift_topic_holds_exactly_the_replay_s_detections_through_sigkills() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("drift");
    let topic = format!("{}-drift", n.input);
    let input = produce(b, &n.input, &drifting(&n.input, 2, 20_000, &[7_000, 14_000], 3));
    let ref_dir = tempfile::tempdir().unwrap();
    let (reference, want) = run_job(ref_dir.path(), FTRL, &input, &[]);
    assert!(offsets(&want).iter().filter(|(p, _)| *p == 1).count() >= 2, "{:?}", offsets(&want));
    eprintln!("drift on Kafka: the replay's detections {:?}", offsets(&want));
    let dir = workdir("drift");
    let job = kafka_job(&dir, b, &n, FTRL, true, &format!("drift = \"{topic}\""));
    let log = dir.join("eddy.log");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Lcg(seed);
    for kill in 0..3 {
        let mut e = Eddy::start(&job, &[], &log);
        let before = e.log_text().matches("committed in").count();
        e.wait_for_log("committed in", before + 2, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis((rng.next_f64() * 500.0) as u64));
        assert!(e.child.try_wait().unwrap().is_none(), "the job finished before kill {kill}; give it more input");
        e.kill();
        eprintln!("drift on Kafka (seed {seed}): kill {}", kill + 1);
    }
    let summary = dir.join("summary.json");
    let mut e = Eddy::start_with_summary(&job, &[], &log, &summary);
    assert!(e.wait(Duration::from_secs(180)), "the last run failed:\n{}", e.log_text());
    let text = e.log_text();
    assert!(text.contains("recovered drift-in["), "restarts restored from checkpoints:\n{text}");
    assert!(text.contains("drift detected on drift-in["), "detections are logged:\n{text}");
    let live = read_topic_at_least(b, &topic, want.len());
    assert_same(&format!("drift detections (seed {seed})"), &live, &want);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).expect("the summary is JSON");
    assert_eq!(summary["drift"], reference.drift.expect("on").to_json(), "the last run's summary lists the whole stream's detections");
}
