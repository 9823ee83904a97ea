//! The `eddy` binary's Kafka arguments, without a broker. (This test target also makes
//! `cargo test --workspace` build the `eddy` binary that the integration tests in `tests/`
//! run as a child process.)

use std::process::Command;

fn eddy(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy")).args(args).output().expect("run eddy");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn topic_record_needs_a_bound() {
    let (ok, err) = eddy(&["topic", "record", "--brokers", "127.0.0.1:1", "--topic", "t", "--out", "/tmp/x.replay"]);
    assert!(!ok);
    assert!(err.contains("--count N, --timeout-ms MS or --until-end"), "{err}");
}

#[test]
fn a_kafka_job_without_kafka_sinks_is_refused() {
    let dir = std::env::temp_dir().join(format!("eddy-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        "[source.kafka]\nbrokers = \"127.0.0.1:1\"\ntopic = \"t\"\ngroup = \"g\"\n[operator]\ncomponent = \"ftrl\"\n[sinks]\n",
    )
    .unwrap();
    let (ok, err) = eddy(&["run", job.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("needs [sinks.kafka]"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
