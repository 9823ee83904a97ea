//! Helpers of the Kafka tests: the real broker (shared, or private for outage tests), the
//! `eddy` binary as a child process, synthetic input, Kafka job files, read_committed output,
//! and the uninterrupted replay run that every live run must equal.

#![allow(dead_code, reason = "each Kafka test module uses part of the helpers")]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eddy_host::Record;
use eddy_host::job::Job;
use eddy_host::run::run_replay;
use eddy_kafka::topic::{self, Bounds};
use eddy_tests::{repo_root, runtime, write_replay};
use serde_json::{Value, json};

#[path = "../harness/kafka.rs"]
pub mod harness;

pub use harness::KafkaBroker;

/// The broker every Kafka test shares (each test uses its own topic and group names).
pub fn shared() -> &'static KafkaBroker {
    KafkaBroker::shared().unwrap_or_else(|e| panic!("cannot start the test Kafka broker: {e}"))
}

/// The `eddy` binary built by `cargo test --workspace` (or `cargo build -p eddy`); `EDDY_BIN`
/// overrides.
pub fn eddy_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("EDDY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join("eddy");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p eddy` (cargo test --workspace builds it), or set EDDY_BIN",
        bin.display()
    );
    bin
}

/// A running `eddy` process with its stderr in a file.
pub struct Eddy {
    /// The child.
    pub child: Child,
    /// Its stderr (logs).
    pub log: PathBuf,
}

impl Eddy {
    /// Starts `eddy run JOB [--set ...]`, logging to `log`.
    pub fn start(job: &Path, sets: &[String], log: &Path) -> Self {
        Self::spawn(job, sets, log, None)
    }

    /// [`Eddy::start`] with `--json`: the summary goes to the file `summary`.
    pub fn start_with_summary(job: &Path, sets: &[String], log: &Path, summary: &Path) -> Self {
        Self::spawn(job, sets, log, Some(summary))
    }

    fn spawn(job: &Path, sets: &[String], log: &Path, summary: Option<&Path>) -> Self {
        let f = File::options().create(true).append(true).open(log).expect("log file");
        let mut cmd = Command::new(eddy_bin());
        cmd.arg("run").arg(job).arg("--quiet");
        for s in sets {
            cmd.arg("--set").arg(s);
        }
        let stdout = match summary {
            Some(p) => {
                cmd.arg("--json");
                Stdio::from(File::create(p).expect("summary file"))
            }
            None => Stdio::null(),
        };
        let child = cmd.stdout(stdout).stderr(Stdio::from(f)).env_remove("EDDY_LOG").spawn().expect("spawn eddy");
        Self { child, log: log.to_path_buf() }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit (at most `limit`); its success.
    pub fn wait(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s.success();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("eddy did not finish within {limit:?}; its log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the log contains `needle` `n` times (or the process exits); whether it did.
    pub fn wait_for_log(&mut self, needle: &str, n: usize, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log_text().matches(needle).count() >= n {
                return true;
            }
            if self.child.try_wait().expect("wait").is_some() {
                return self.log_text().matches(needle).count() >= n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator (so a failing run can be repeated from its seed).
pub struct Lcg(pub u64);

impl Lcg {
    /// Next value in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Synthetic classification records: `partitions` partitions of `per_partition` JSON records
/// with features `f0..f4` and a 0/1 `label` from a fixed linear rule plus noise.
pub fn synthetic(topic: &str, partitions: i32, per_partition: usize, seed: u64) -> Vec<Record> {
    let mut rng = Lcg(seed);
    let w = [1.5, -2.0, 0.7, 0.0, 1.1];
    let mut out = Vec::new();
    for p in 0..partitions {
        for i in 0..per_partition {
            let x: Vec<f64> = (0..5).map(|_| (rng.next_f64() * 2.0 - 1.0) * 10f64.powi(((i % 3) as i32) - 1)).collect();
            let s: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + rng.next_f64() - 0.5;
            let v = json!({"f0": x[0], "f1": x[1], "f2": x[2], "f3": x[3], "f4": x[4], "label": if s > 0.0 { 1 } else { 0 }});
            out.push(Record {
                topic: topic.into(),
                partition: p,
                offset: i as i64,
                timestamp: 1_700_000_000_000 + (i as i64) * 10,
                key: Some(format!("k{}", i % 17).into_bytes()),
                value: serde_json::to_vec(&v).expect("JSON"),
                headers: vec![("source".into(), Some(b"synthetic".to_vec()))],
            });
        }
    }
    out
}

/// The operator section every Kafka test job uses (FTRL on the synthetic features).
pub const FTRL: &str = r#"
[operator]
component = "ftrl"
[operator.config]
featuresCol = ["f0", "f1", "f2", "f3", "f4"]
labelCol = "label"
globalBatchSize = 10
alpha = 0.5
"#;

/// Names of one test's topics and group, all prefixed by `name`.
#[derive(Debug, Clone)]
pub struct Names {
    /// Input topic.
    pub input: String,
    /// Predictions topic.
    pub predictions: String,
    /// Models topic.
    pub models: String,
    /// Dead-letter topic.
    pub dead_letters: String,
    /// Checkpoint topic.
    pub checkpoints: String,
    /// Consumer group.
    pub group: String,
}

impl Names {
    /// Names for test `name`.
    pub fn new(name: &str) -> Self {
        Self {
            input: format!("{name}-in"),
            predictions: format!("{name}-predictions"),
            models: format!("{name}-models"),
            dead_letters: format!("{name}-dead-letters"),
            checkpoints: format!("{name}-checkpoints"),
            group: format!("{name}-group"),
        }
    }
}

/// Writes a Kafka job file into `dir` and returns its path. `operator` is the `[operator]`
/// section, `extra_sink` lines go into `[sinks.kafka]`.
pub fn kafka_job(dir: &Path, brokers: &str, n: &Names, operator: &str, stop_at_end: bool, extra_sink: &str) -> PathBuf {
    let text = format!(
        r#"
[source]
format = "json"
[source.kafka]
brokers = "{brokers}"
topic = "{input}"
group = "{group}"
stop_at_end = {stop_at_end}
{operator}
[run]
batch_size = 64
[sinks.kafka]
predictions = "{predictions}"
models = "{models}"
checkpoints = "{checkpoints}"
checkpoint_interval_ms = 100
chunk_bytes = 100
{extra_sink}
"#,
        input = n.input,
        group = n.group,
        predictions = n.predictions,
        models = n.models,
        checkpoints = n.checkpoints,
    );
    let p = dir.join("job.toml");
    std::fs::write(&p, text).expect("write job");
    p
}

/// Produces `records` into `topic` (created with enough partitions) and returns what the
/// topic then holds, with the broker's offsets and timestamps.
pub fn produce(brokers: &str, topic: &str, records: &[Record]) -> Vec<Record> {
    topic::produce(brokers, topic, &[], records).expect("produce input");
    let back = read_topic(brokers, topic);
    assert_eq!(back.len(), records.len(), "the topic holds what was produced");
    back
}

/// Everything `topic` holds for a read_committed reader, by partition then offset.
pub fn read_topic(brokers: &str, topic: &str) -> Vec<Record> {
    topic::record(brokers, topic, &[], &Bounds { until_end: true, timeout: Some(Duration::from_secs(60)), ..Bounds::default() })
        .expect("record topic")
}

/// Reads `topic` until it holds at least `n` records (or 60 s pass). A producer's
/// `commit_transaction` returns before the commit markers reach every partition, and a
/// read_committed reader's "end" is the last stable offset, so a read right after a run may
/// stop short of the last transaction; this waits for it.
pub fn read_topic_at_least(brokers: &str, topic: &str, n: usize) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = read_topic(brokers, topic);
        if r.len() >= n || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What a replay run wrote to each sink, read back from its files.
#[derive(Debug, Default)]
pub struct Reference {
    /// The replay run's prequential metrics, as `eddy run --json` prints them.
    pub metrics: serde_json::Value,
    pub predictions: Vec<Record>,
    pub models: Vec<Record>,
    pub dead_letters: Vec<Record>,
    pub embeddings: Vec<Record>,
}

/// The outputs of an uninterrupted replay run of `job_toml`'s operator over `input`.
pub fn replay_reference(input: &[Record], operator: &str, dead_letters: bool) -> Reference {
    replay_reference_with(input, operator, if dead_letters { "dead_letters = \"dl.replay\"" } else { "" })
}

/// [`replay_reference`] with more `[sinks]` lines (`dead_letters = "dl.replay"`,
/// `embeddings = "e.replay"` are read back).
pub fn replay_reference_with(input: &[Record], operator: &str, extra_sinks: &str) -> Reference {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("in.replay");
    write_replay(&src, input.to_vec());
    let dl = extra_sinks;
    let text = format!(
        "[source]\nreplay = \"in.replay\"\nformat = \"json\"\n{operator}\n[sinks]\npredictions = \"p.replay\"\nmodels = \"m.replay\"\n{dl}\n"
    );
    let job = Job::parse(&text, dir.path(), &[]).expect("reference job");
    let summary = run_replay(runtime(), &job, &|_, _| {}).expect("reference run");
    let read = |f: &str| {
        let p = dir.path().join(f);
        if p.exists() { eddy_host::replay::read(&p).expect("read") } else { Vec::new() }
    };
    Reference {
        metrics: serde_json::to_value(&summary.metrics).expect("metrics as JSON"),
        predictions: read("p.replay"),
        models: read("m.replay"),
        dead_letters: read("dl.replay"),
        embeddings: read("e.replay"),
    }
}

/// The key, value, headers and timestamp of a record: what must match between a live output
/// and its reference.
pub type Compared = (Option<Vec<u8>>, Vec<u8>, Vec<(String, Option<Vec<u8>>)>, i64);

/// What must match between a live output and its reference: per partition, in order, the
/// key, value, headers and timestamp of each record (offsets and topic names differ).
pub fn by_partition(records: &[Record]) -> BTreeMap<i32, Vec<Compared>> {
    let mut m: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for r in records {
        m.entry(r.partition).or_default().push((r.key.clone(), r.value.clone(), r.headers.clone(), r.timestamp));
    }
    m
}

/// Asserts that `live` equals `reference` record for record (see [`by_partition`]), with a
/// readable first difference.
pub fn assert_same(what: &str, live: &[Record], reference: &[Record]) {
    let (a, b) = (by_partition(live), by_partition(reference));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}: partitions differ");
    for (p, la) in &a {
        let lb = &b[p];
        if let Some(i) = (0..la.len().min(lb.len())).find(|i| la[*i] != lb[*i]) {
            panic!(
                "{what}: partition {p}, record {i} differs:\n live:      {}\n reference: {}",
                String::from_utf8_lossy(&la[i].1),
                String::from_utf8_lossy(&lb[i].1)
            );
        }
        assert_eq!(la.len(), lb.len(), "{what}: partition {p} has {} records live, {} in the reference", la.len(), lb.len());
    }
}

/// Asserts that every input record has exactly one prediction (by its origin headers).
pub fn assert_exactly_once(predictions: &[Record], input: &[Record]) {
    let mut seen: BTreeMap<(String, i32, i64), usize> = BTreeMap::new();
    for r in predictions {
        let key = (
            r.header("eddy.origin.topic").expect("origin topic header"),
            r.header("eddy.origin.partition").and_then(|p| p.parse().ok()).expect("origin partition header"),
            r.header("eddy.origin.offset").and_then(|p| p.parse().ok()).expect("origin offset header"),
        );
        *seen.entry(key).or_default() += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "duplicated predictions: {dup:?}");
    let missing: Vec<_> =
        input.iter().map(|r| (r.topic.clone(), r.partition, r.offset)).filter(|k| !seen.contains_key(k)).take(5).collect();
    assert!(missing.is_empty(), "inputs without a prediction: {missing:?}");
    assert_eq!(seen.len(), input.len(), "predictions for records that are not inputs");
}

/// The JSON value of a record.
pub fn json_of(r: &Record) -> Value {
    serde_json::from_slice(&r.value).expect("JSON value")
}

/// A fresh folder for one test's files (job, logs), kept on failure under the temp dir.
pub fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-kafka-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("workdir");
    d
}

/// The repository's phishing replay spread over three partitions (record i goes to
/// partition i % 3), timestamps 1000 ms apart.
pub fn phishing_3() -> Vec<Record> {
    let mut recs = eddy_host::replay::read(&repo_root().join("examples/phishing/phishing.replay")).expect("phishing replay");
    let mut next = [0i64; 3];
    for (i, r) in recs.iter_mut().enumerate() {
        let p = (i % 3) as i32;
        r.partition = p;
        r.offset = next[p as usize];
        next[p as usize] += 1;
        r.timestamp = 1_700_000_000_000 + 1000 * i as i64;
    }
    recs
}

/// The phishing job's operator section.
pub const PHISHING_FTRL: &str = r#"
[operator]
component = "ftrl"
[operator.config]
featuresCol = ["empty_server_form_handler", "popup_window", "https", "request_from_other_domain",
               "anchor_from_other_domain", "is_popular", "long_url", "age_of_domain", "ip_in_url"]
labelCol = "is_phishing"
globalBatchSize = 1
alpha = 1.0
"#;
