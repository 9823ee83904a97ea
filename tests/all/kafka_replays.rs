//! Recorded topics: `eddy topic record` captures a live run's input and outputs, and running
//! the job on the recorded input gives the live run's results record for record. The files in
//! `tests/replays/` were recorded that way from the real broker (`EDDY_UPDATE_REPLAYS=1`
//! re-records them), so the broker-free test below checks the replay path against a live run
//! on every `cargo test`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use eddy_host::replay;
use eddy_tests::repo_root;

use crate::kafka_support::{
    Eddy, Names, PHISHING_FTRL, assert_exactly_once, assert_same, eddy_bin, kafka_job, phishing_3, replay_reference, shared, workdir,
};

fn record(brokers: &str, topic: &str, out: &Path) {
    let st = Command::new(eddy_bin())
        .args(["topic", "record", "--brokers", brokers, "--topic", topic, "--until-end", "--out"])
        .arg(out)
        .status()
        .expect("run eddy topic record");
    assert!(st.success(), "eddy topic record {topic} failed");
}

#[test]
fn a_recorded_topic_replays_to_the_live_results() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("phishing-live");
    let dir = workdir("replays");
    // Produce with the CLI too, from a replay file.
    let src = dir.join("phishing-3p.replay");
    eddy_tests::write_replay(&src, phishing_3());
    let st = Command::new(eddy_bin())
        .args(["topic", "produce"])
        .arg(&src)
        .args(["--brokers", b, "--topic", &n.input])
        .status()
        .expect("run eddy topic produce");
    assert!(st.success());
    let job = kafka_job(&dir, b, &n, PHISHING_FTRL, true, "");
    let mut e = Eddy::start(&job, &[], &dir.join("eddy.log"));
    assert!(e.wait(Duration::from_secs(120)), "{}", e.log_text());

    let (input, predictions, models) = (dir.join("input.replay"), dir.join("predictions.replay"), dir.join("models.replay"));
    record(b, &n.input, &input);
    record(b, &n.predictions, &predictions);
    record(b, &n.models, &models);
    let input = replay::read(&input).unwrap();
    let (predictions_r, models_r) = (replay::read(&predictions).unwrap(), replay::read(&models).unwrap());
    // The recorded input is what was produced: partitions, keys, values, headers.
    let mut produced = phishing_3();
    produced.sort_by_key(|r| (r.partition, r.offset));
    assert_eq!(input.len(), produced.len());
    for (a, b) in input.iter().zip(&produced) {
        assert_eq!(
            (a.partition, a.offset, &a.key, &a.value, &a.headers, a.timestamp),
            (b.partition, b.offset, &b.key, &b.value, &b.headers, b.timestamp)
        );
    }
    assert_exactly_once(&predictions_r, &input);
    let reference = replay_reference(&input, PHISHING_FTRL, false);
    assert_same("predictions", &predictions_r, &reference.predictions);
    assert_same("model versions", &models_r, &reference.models);

    if std::env::var("EDDY_UPDATE_REPLAYS").is_ok_and(|v| v == "1") {
        let to = repo_root().join("tests/replays");
        for f in ["input", "predictions", "models"] {
            std::fs::copy(dir.join(format!("{f}.replay")), to.join(format!("phishing-live-{f}.replay"))).unwrap();
        }
    }
}

#[test]
fn the_recorded_live_run_replays_to_the_same_results() {
    let dir = repo_root().join("tests/replays");
    let input = replay::read(&dir.join("phishing-live-input.replay")).unwrap();
    let reference = replay_reference(&input, PHISHING_FTRL, false);
    assert_eq!(input.len(), 1250);
    assert_same("predictions", &replay::read(&dir.join("phishing-live-predictions.replay")).unwrap(), &reference.predictions);
    assert_same("model versions", &replay::read(&dir.join("phishing-live-models.replay")).unwrap(), &reference.models);
}

#[test]
fn the_kafka_example_runs() {
    let broker = shared();
    let out = Command::new("bash")
        .arg(repo_root().join("examples/kafka/run.sh"))
        .env("BOOTSTRAP", broker.bootstrap())
        .env("PREFIX", "example-")
        .env("EDDY", eddy_bin())
        .output()
        .expect("run examples/kafka/run.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "examples/kafka/run.sh failed:\n{text}");
    assert!(text.contains("predictions on example-phishing-predictions: 1250"), "{text}");
    assert!(String::from_utf8_lossy(&out.stdout).trim_end().ends_with("ok"), "{text}");
}
