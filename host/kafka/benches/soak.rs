//! Soak test (not part of `make test`): an exactly-once `eddy run` on a real broker at a steady
//! half of its measured maximum rate for a long time, sampling eddy's resident memory and the
//! record-to-commit latency, then checking that every record was answered exactly once.
//!
//!     benchmarks/soak/run.sh [--minutes 10]          # builds eddy (release) and runs this
//!     cargo build --release -p eddy && cargo bench -p eddy-kafka --bench soak -- --minutes 10
//!
//! Options (after `--`): `--minutes M` (default 10) of steady load after a warm-up of
//! `--warmup-secs S` (default 60), a sample every `--sample-secs` (default 30), checkpoints
//! every `--interval-ms` (default 1000), `--partitions P` (default 2), `--rate R` records/s
//! (default: half the maximum measured first on `--max-records N`, default 600,000).
//!
//! What runs: a one-node broker from `tests/kafka/broker`; the `eddy` binary (`EDDY_BIN`, else
//! `target/release/eddy`) as a child process running FTRL over JSON records (5 features and a
//! label) exactly once, with a predictions topic and a checkpoint topic. First a bounded run
//! over `--max-records` records measures the maximum (records/s, from eddy's own summary);
//! then a producer writes records at the steady rate with their produce time as timestamp, and
//! a `read_committed` reader follows the predictions: the latency of a record is the time from
//! its timestamp until its prediction is readable (committed), and each prediction's origin
//! headers (input partition and offset) are counted, so that at the end every input offset
//! must have been answered exactly once. The input and predictions topics keep only their last
//! 32 MiB per partition (`retention.bytes`), so that a long run fits on a small disk: the
//! reader checks as it goes. eddy's RSS is read from `/proc/<pid>/status`.

#[path = "../../../tests/harness/kafka.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Latency histogram: 1 ms buckets up to 2 minutes.
const BUCKETS: usize = 120_000;
/// Size-bounded retention of the soak's input and predictions topics, per partition (a
/// deleted segment's file goes 1 s later, not Kafka's default 60 s): at most some 200 MB of
/// disk however long the run, while the reader and eddy stay seconds behind the producer.
const RETENTION_BYTES: &str = "33554432";
const SEGMENT_BYTES: &str = "8388608";
const DELETE_DELAY_MS: &str = "1000";

struct Args {
    minutes: f64,
    warmup_secs: u64,
    sample_secs: u64,
    interval_ms: u64,
    partitions: i32,
    rate: Option<f64>,
    max_records: u64,
}

fn args() -> Args {
    let mut a =
        Args { minutes: 10.0, warmup_secs: 60, sample_secs: 30, interval_ms: 1000, partitions: 2, rate: None, max_records: 600_000 };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--bench" {
            continue; // cargo bench passes it
        }
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--minutes" => a.minutes = num(&k, &v),
            "--warmup-secs" => a.warmup_secs = num(&k, &v),
            "--sample-secs" => a.sample_secs = num(&k, &v),
            "--interval-ms" => a.interval_ms = num(&k, &v),
            "--partitions" => a.partitions = num(&k, &v),
            "--rate" => a.rate = Some(num(&k, &v)),
            "--max-records" => a.max_records = num(&k, &v),
            other => panic!("unknown option {other} (see the top of host/kafka/benches/soak.rs)"),
        }
    }
    a
}

fn num<T: std::str::FromStr>(k: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| panic!("{k}: cannot read {v:?}"))
}

/// The `eddy` binary: `EDDY_BIN`, else `release/eddy` beside this bench's `release/deps/`.
fn eddy_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("EDDY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("bench executable");
    let bin = exe.parent().and_then(Path::parent).expect("target/release/deps/..").join("eddy");
    assert!(bin.is_file(), "{} is missing: cargo build --release -p eddy (or set EDDY_BIN)", bin.display());
    bin
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Record `i`: five features and a label from a fixed linear rule (xorshift, seeded by `i`).
fn value(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut f = [0.0f64; 5];
    for v in &mut f {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *v = (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    }
    let label = u8::from(1.5 * f[0] - 2.0 * f[1] + 0.7 * f[2] + 1.1 * f[4] > 0.0);
    format!(r#"{{"id":{i},"f0":{},"f1":{},"f2":{},"f3":{},"f4":{},"label":{label}}}"#, f[0], f[1], f[2], f[3], f[4]).into_bytes()
}

fn job(dir: &Path, brokers: &str, name: &str, stop_at_end: bool, interval_ms: u64) -> PathBuf {
    let text = format!(
        r#"
[source]
format = "json"
[source.kafka]
brokers = "{brokers}"
topic = "{name}-in"
group = "{name}"
stop_at_end = {stop_at_end}
[operator]
component = "ftrl"
[operator.config]
featuresCol = ["f0", "f1", "f2", "f3", "f4"]
labelCol = "label"
globalBatchSize = 100
[sinks.kafka]
predictions = "{name}-predictions"
checkpoints = "{name}-checkpoints"
checkpoint_interval_ms = {interval_ms}
"#
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn topics(broker: &harness::KafkaBroker, name: &str, partitions: i32, bounded: bool) {
    let bytes: &[(&str, &str)] =
        &[("retention.bytes", RETENTION_BYTES), ("segment.bytes", SEGMENT_BYTES), ("file.delete.delay.ms", DELETE_DELAY_MS)];
    // The input of a bounded run is produced before eddy starts: keep it whole.
    broker.create_topic(&format!("{name}-in"), partitions as u32, if bounded { bytes } else { &[] }).unwrap();
    broker.create_topic(&format!("{name}-predictions"), partitions as u32, bytes).unwrap();
    broker.create_topic(&format!("{name}-checkpoints"), partitions as u32, &[("cleanup.policy", "compact")]).unwrap();
}

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new().set("bootstrap.servers", brokers).set("linger.ms", "5").create().unwrap()
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, partition: i32, v: &[u8]) {
    let mut rec = BaseRecord::<[u8], [u8]>::to(topic).payload(v).partition(partition);
    loop {
        match p.send(rec) {
            Ok(()) => return,
            Err((_, back)) => {
                rec = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Runs `eddy run JOB --json` to the end; its summary.
fn run_bounded(job: &Path, log: &Path) -> serde_json::Value {
    let out = Command::new(eddy_bin())
        .args(["run", job.to_str().unwrap(), "--quiet", "--json"])
        .stderr(std::fs::File::create(log).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "eddy failed; see {}", log.display());
    serde_json::from_slice(&out.stdout).expect("eddy's JSON summary")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(h: &[u64], p: f64) -> f64 {
    let n: u64 = h.iter().sum();
    if n == 0 {
        return f64::NAN;
    }
    let want = ((n as f64 - 1.0) * p).round() as u64;
    let mut seen = 0;
    for (ms, c) in h.iter().enumerate() {
        seen += c;
        if seen > want {
            return ms as f64;
        }
    }
    (h.len() - 1) as f64
}

/// What the reader of the predictions saw.
struct Seen {
    /// Per input partition, how many predictions answered each offset.
    answers: Vec<Vec<u8>>,
    /// Latencies of the current sample window and of the whole run after the warm-up.
    window: Vec<u64>,
    total: Vec<u64>,
    counting_total: bool,
    predictions: u64,
}

struct Eddy(Child);

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let broker = harness::KafkaBroker::start().expect("start a Kafka broker (tests/kafka/broker)");
    let b = broker.bootstrap().to_owned();
    let parts = a.partitions;
    eprintln!("soak: broker at {b}; eddy is {}", eddy_bin().display());

    // 1. The maximum: a bounded run over max_records records produced beforehand (after a
    // small warm-up run, which waits for the broker's transaction and offsets topics).
    let rate = match a.rate {
        Some(r) => r,
        None => {
            let p = producer(&b);
            for (name, n) in [("warm", 1000u64), ("max", a.max_records)] {
                topics(&broker, name, parts, false);
                for i in 0..n {
                    send(&p, &format!("{name}-in"), (i % parts as u64) as i32, &value(i));
                }
                p.flush(Duration::from_secs(120)).unwrap();
            }
            run_bounded(&job(dir.path(), &b, "warm", true, a.interval_ms), &dir.path().join("warm.log"));
            let s = run_bounded(&job(dir.path(), &b, "max", true, a.interval_ms), &dir.path().join("max.log"));
            let max = s["records_per_second"].as_f64().unwrap();
            for t in ["warm-in", "max-in", "warm-predictions", "max-predictions"] {
                broker.delete_topic(t).unwrap(); // disk
            }
            eprintln!(
                "soak: maximum {max:.0} records/s ({} records in {:.1} s, start-up included), exactly once, checkpoints every {} ms",
                s["records"],
                s["seconds"].as_f64().unwrap(),
                a.interval_ms
            );
            max / 2.0
        }
    };

    // 2. The soak.
    topics(&broker, "soak", parts, true);
    let log = dir.path().join("soak.log");
    let mut eddy = Eddy(
        Command::new(eddy_bin())
            .args(["run", job(dir.path(), &b, "soak", false, a.interval_ms).to_str().unwrap(), "--quiet"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let pid = eddy.0.id();
    let seen = Arc::new(Mutex::new(Seen {
        answers: vec![Vec::new(); parts as usize],
        window: vec![0; BUCKETS],
        total: vec![0; BUCKETS],
        counting_total: false,
        predictions: 0,
    }));
    let produced = Arc::new(AtomicU64::new(0));
    let stop_producing = Arc::new(AtomicBool::new(false));
    let stop_reading = Arc::new(AtomicBool::new(false));
    let steady = Duration::from_secs_f64(a.warmup_secs as f64 + a.minutes * 60.0);
    eprintln!(
        "soak: {rate:.0} records/s for {:.0} s ({} s warm-up, then {} min), checkpoints every {} ms, {parts} partitions; eddy pid {pid}, log {}",
        steady.as_secs_f64(),
        a.warmup_secs,
        a.minutes,
        a.interval_ms,
        log.display()
    );
    let reader = {
        let (b, seen, stop) = (b.clone(), seen.clone(), stop_reading.clone());
        std::thread::spawn(move || {
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &b)
                .set("group.id", "soak-reader")
                .set("isolation.level", "read_committed")
                .set("enable.auto.commit", "false")
                .set("fetch.wait.max.ms", "10")
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            for p in 0..parts {
                tpl.add_partition_offset("soak-predictions", p, Offset::Beginning).unwrap();
            }
            c.assign(&tpl).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else { continue };
                let now = now_ms();
                let header = |k: &str| {
                    m.headers()
                        .and_then(|h| h.iter().find(|h| h.key == k))
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                };
                let (Some(p), Some(o)) = (header("eddy.origin.partition"), header("eddy.origin.offset")) else {
                    panic!("a prediction without origin headers")
                };
                let latency = m.timestamp().to_millis().map_or(0, |ts| (now - ts).clamp(0, BUCKETS as i64 - 1)) as usize;
                let mut s = seen.lock().unwrap();
                let v = &mut s.answers[p as usize];
                if v.len() <= o as usize {
                    v.resize(o as usize + 1, 0);
                }
                v[o as usize] = v[o as usize].saturating_add(1);
                s.predictions += 1;
                s.window[latency] += 1;
                if s.counting_total {
                    s.total[latency] += 1;
                }
            }
        })
    };
    let producer_thread = {
        let (b, produced, stop) = (b.clone(), produced.clone(), stop_producing.clone());
        std::thread::spawn(move || {
            let p = producer(&b);
            let start = Instant::now();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                while sent < due {
                    send(&p, "soak-in", (sent % parts as u64) as i32, &value(sent));
                    sent += 1;
                }
                produced.store(sent, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
            p.flush(Duration::from_secs(60)).unwrap();
            produced.store(sent, Ordering::Relaxed);
        })
    };

    // Samples.
    let start = Instant::now();
    let mut rss_start = None;
    let mut rss_last = 0;
    let mut samples = Vec::new();
    println!("  time   RSS MiB   produced   answered   window p50   window p99");
    while start.elapsed() < steady {
        std::thread::sleep(Duration::from_secs(a.sample_secs).min(steady.saturating_sub(start.elapsed())).max(Duration::from_millis(10)));
        if let Ok(Some(status)) = eddy.0.try_wait() {
            panic!("eddy exited ({status}) during the soak; see {}", log.display());
        }
        let rss = rss_kib(pid).unwrap_or(0);
        let t = start.elapsed().as_secs();
        let (p50, p99, answered) = {
            let mut s = seen.lock().unwrap();
            let r = (percentile(&s.window, 0.5), percentile(&s.window, 0.99), s.predictions);
            s.window.iter_mut().for_each(|c| *c = 0);
            if t >= a.warmup_secs && !s.counting_total {
                s.counting_total = true;
                rss_start = Some(rss);
            }
            r
        };
        rss_last = rss;
        samples.push((t, rss));
        println!(
            "{t:>5} s  {:>8.1}  {:>9}  {:>9}  {p50:>8.0} ms  {p99:>8.0} ms{}",
            rss as f64 / 1024.0,
            produced.load(Ordering::Relaxed),
            answered,
            if t >= a.warmup_secs && rss_start == Some(rss) && samples.len() > 1 { "   <- after warm-up: start" } else { "" }
        );
    }
    let rss_end = rss_last;
    stop_producing.store(true, Ordering::Relaxed);
    producer_thread.join().unwrap();
    let total = produced.load(Ordering::Relaxed);

    // Every record answered exactly once: wait for the last ones (a checkpoint or two).
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.lock().unwrap().predictions < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2) + Duration::from_millis(2 * a.interval_ms)); // late duplicates would show here
    stop_reading.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    drop(eddy);
    let s = seen.lock().unwrap();
    let (mut missing, mut duplicated, mut extra) = (0u64, 0u64, 0u64);
    for p in 0..parts as u64 {
        let n = total / parts as u64 + u64::from(p < total % parts as u64);
        let v = &s.answers[p as usize];
        for o in 0..n.max(v.len() as u64) {
            match v.get(o as usize).copied().unwrap_or(0) {
                0 if o < n => missing += 1,
                0 => {}
                1 if o < n => {}
                c if o < n => duplicated += u64::from(c - 1),
                c => extra += u64::from(c),
            }
        }
    }
    let rss_start = rss_start.unwrap_or(samples.first().map_or(0, |s| s.1));
    let growth = (rss_end as f64 - rss_start as f64) / rss_start.max(1) as f64 * 100.0;
    let (p50, p99) = (percentile(&s.total, 0.5), percentile(&s.total, 0.99));
    println!();
    println!(
        "soak: {total} records at {rate:.0} records/s over {:.1} min ({} s warm-up), FTRL, JSON, {parts} partitions, exactly once",
        steady.as_secs_f64() / 60.0,
        a.warmup_secs
    );
    // One sample is noisy (eddy's memory follows the batches in flight): also the medians of
    // the first and of the last two minutes after the warm-up.
    let after: Vec<u64> = samples.iter().filter(|(t, _)| *t >= a.warmup_secs).map(|s| s.1).collect();
    let k = ((120 / a.sample_secs.max(1)) as usize).clamp(1, after.len().max(1) / 2 + 1);
    let median = |v: &[u64]| -> u64 {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let (first, last) = (median(&after[..k.min(after.len())]), median(&after[after.len().saturating_sub(k)..]));
    let median_growth = (last as f64 - first as f64) / first.max(1) as f64 * 100.0;
    let (lo, hi) = (after.iter().min().copied().unwrap_or(0), after.iter().max().copied().unwrap_or(0));
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "  eddy RSS: {:.1} MiB after warm-up, {:.1} MiB at the end: {growth:+.1}%; medians of the first and last {k} samples \
         {:.1} and {:.1} MiB: {median_growth:+.1}% ({}); samples after warm-up between {:.1} and {:.1} MiB",
        mib(rss_start),
        mib(rss_end),
        mib(first),
        mib(last),
        if median_growth < 10.0 { "under 10%" } else { "10% or more" },
        mib(lo),
        mib(hi)
    );
    println!(
        "  record-to-commit latency after warm-up: p50 {p50:.0} ms, p99 {p99:.0} ms, checkpoint interval {} ms ({:.2} and {:.2} intervals)",
        a.interval_ms,
        p50 / a.interval_ms as f64,
        p99 / a.interval_ms as f64
    );
    println!(
        "  answers: {} predictions for {total} records: {missing} missing, {duplicated} duplicated, {extra} for records never produced",
        s.predictions
    );
    if missing + duplicated + extra > 0 {
        eprintln!("soak: FAILED: not every record was answered exactly once (eddy's log: {})", log.display());
        std::process::exit(1);
    }
    println!("  every record answered exactly once");
}
