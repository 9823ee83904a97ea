//! End-to-end throughput and latency of eddy through a real Kafka broker (not a test):
//!
//!     cargo bench -p eddy-kafka --bench kafka_e2e
//!
//! Input: records whose values are Arrow IPC streams of 4,096 rows × 32 Float64 features and
//! a label, on 2 partitions; operator: FTRL (Flink ML's OnlineLogisticRegression). Measured:
//!
//! 1. throughput of `stop_at_end` runs through the broker, exactly once and at least once,
//!    against the same job on a replay file of the same records, in rounds of the three in
//!    turn (ratios paired within a round, then the median over rounds), after an untimed
//!    exactly-once warm-up pass over the same input;
//! 2. at a steady load of half the measured exactly-once maximum, the latency from a record's
//!    timestamp (its produce time) to its prediction being readable by a `read_committed`
//!    consumer (that is, committed), p50 and p99, for two checkpoint intervals.
//!
//! The runs through the broker include their start-up (joining the group, initialising
//! transactions, restoring: about 0.3 s here) and their last commit; the default input,
//! 720 records of 4,096 rows (2.9M rows), is long enough for the rows/s to measure the
//! steady state rather than those (with 240 records, a 1.5 s run, they are a third of it).
//! `EDDY_BENCH_BATCHES` (default 720) sets the number of input records (each 4,096 rows),
//! `EDDY_BENCH_ROUNDS` (default 3) the rounds,
//! `EDDY_BENCH_LATENCY_SECS` (default 20) the length of each latency run, and
//! `EDDY_BENCH_LOG=info` prints the runner's log (checkpoints, restores) with timestamps.

#[path = "../../../tests/harness/kafka.rs"]
mod harness;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use eddy_host::job::Job;
use eddy_host::replay::ReplayWriter;
use eddy_host::run::run_replay;
use eddy_host::{Limits, Record, Runtime};
use eddy_kafka::topic::{self, Bounds};
use eddy_kafka::{RunOptions, run_kafka};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const ROWS: usize = 4096;
const FEATURES: usize = 32;
const MAX_BYTES: &str = "33554432";

fn batch(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut cols: Vec<Vec<f64>> = (0..FEATURES).map(|_| Vec::with_capacity(ROWS)).collect();
    let mut label = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let mut s = 0.0;
        for (j, c) in cols.iter_mut().enumerate() {
            let v = next();
            s += v * if j % 3 == 0 { 1.0 } else { -0.5 };
            c.push(v);
        }
        label.push(if s + 0.3 * next() > 0.0 { 1.0 } else { 0.0 });
    }
    let mut fields: Vec<Field> = (0..FEATURES).map(|j| Field::new(format!("f{j}"), DataType::Float64, false)).collect();
    fields.push(Field::new("label", DataType::Float64, false));
    let mut arrays: Vec<ArrayRef> = cols.into_iter().map(|c| Arc::new(Float64Array::from(c)) as ArrayRef).collect();
    arrays.push(Arc::new(Float64Array::from(label)));
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, &b.schema()).unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn operator() -> String {
    let f: Vec<String> = (0..FEATURES).map(|j| format!("\"f{j}\"")).collect();
    format!(
        "[operator]\ncomponent = \"ftrl\"\n[operator.config]\nfeaturesCol = [{}]\nlabelCol = \"label\"\nglobalBatchSize = 4096\n",
        f.join(", ")
    )
}

fn kafka_job(brokers: &str, input: &str, name: &str, exactly_once: bool, stop_at_end: bool, interval_ms: u64) -> Job {
    let text = format!(
        r#"
[source]
format = "arrow"
[source.kafka]
brokers = "{brokers}"
topic = "{input}"
group = "{name}"
stop_at_end = {stop_at_end}
[source.kafka.properties]
"fetch.max.bytes" = "{MAX_BYTES}"
"max.partition.fetch.bytes" = "{MAX_BYTES}"
{op}
[run]
batch_size = 8
[sinks.kafka]
predictions = "{name}-predictions"
models = "{name}-models"
checkpoints = "{name}-checkpoints"
exactly_once = {exactly_once}
checkpoint_interval_ms = {interval_ms}
[sinks.kafka.properties]
"message.max.bytes" = "{MAX_BYTES}"
"#,
        op = operator()
    );
    Job::parse(&text, Path::new("."), &[]).unwrap()
}

fn create(broker: &harness::KafkaBroker, name: &str, partitions: u32, compact: bool) {
    let mut cfg = vec![("max.message.bytes", MAX_BYTES)];
    if compact {
        cfg.push(("cleanup.policy", "compact"));
    }
    broker.create_topic(name, partitions, &cfg).unwrap();
}

fn outputs(broker: &harness::KafkaBroker, name: &str) {
    create(broker, &format!("{name}-predictions"), 2, false);
    create(broker, &format!("{name}-models"), 2, false);
    create(broker, &format!("{name}-checkpoints"), 2, true);
}

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new().set("bootstrap.servers", brokers).set("message.max.bytes", MAX_BYTES).set("linger.ms", "1").create().unwrap()
}

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat` (`self` for this
/// one); `None` where there is no such file.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // utime and stime count USER_HZ ticks, 100 a second on Linux.
    Some(ticks / 100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The `p` quantile of `sorted` (NaN when empty: a latency run too short to see a record).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if let Ok(filter) = std::env::var("EDDY_BENCH_LOG") {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_writer(std::io::stderr).init();
    }
    let batches: usize = std::env::var("EDDY_BENCH_BATCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(720);
    let rounds: usize = std::env::var("EDDY_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let latency_secs: u64 = std::env::var("EDDY_BENCH_LATENCY_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let broker = harness::KafkaBroker::start().expect("start a Kafka broker (tests/kafka/broker)");
    let b = broker.bootstrap().to_owned();
    let rt = Runtime::new(Limits::default()).unwrap();
    eprintln!("broker at {b}; producing {batches} records of {ROWS} rows x {FEATURES} features on 2 partitions");

    // Input.
    create(&broker, "bench-in", 2, false);
    let payloads: Vec<Vec<u8>> = (0..batches).map(|i| batch(i as u64 + 1)).collect();
    let p = producer(&b);
    for (i, v) in payloads.iter().enumerate() {
        let mut rec = BaseRecord::<[u8], [u8]>::to("bench-in").payload(v).partition((i % 2) as i32);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let rows = (batches * ROWS) as f64;
    eprintln!("input: {:.1} MB", payloads.iter().map(Vec::len).sum::<usize>() as f64 / 1e6);

    // Warm-up, untimed: an exactly-once pass over the same input. The first transactional
    // producer and group of a fresh broker wait for it to create its transaction and offset
    // topics, and a fresh broker's JVM compiles its fetch and transactional produce paths
    // during the first passes (its C2 compiler thread took a fifth of the machine through the
    // first timed run without this); a broker in service has done both long ago.
    outputs(&broker, "bench-warm");
    run_kafka(&rt, &kafka_job(&b, "bench-in", "bench-warm", true, true, 1000), &RunOptions::default()).unwrap();

    // The same job on a replay file of the same records.
    let dir = tempfile::tempdir().unwrap();
    let read = Instant::now();
    let recs: Vec<Record> = topic::record(
        &b,
        "bench-in",
        &[("fetch.max.bytes".into(), MAX_BYTES.into()), ("max.partition.fetch.bytes".into(), MAX_BYTES.into())],
        &Bounds { until_end: true, ..Bounds::default() },
    )
    .unwrap();
    let read = read.elapsed().as_secs_f64();
    eprintln!("reading the input alone (one consumer, into memory): {read:.2} s, {:.0} rows/s", (batches * ROWS) as f64 / read);
    let src = dir.path().join("in.replay");
    let mut w = ReplayWriter::create(&src, "bench-in").unwrap();
    w.append(recs).unwrap();
    w.finish().unwrap();
    let text = format!(
        "[source]\nreplay = \"in.replay\"\nformat = \"arrow\"\n{}\n[run]\nbatch_size = 8\n[sinks]\npredictions = \"p.replay\"\nmodels = \"m.replay\"\n",
        operator()
    );
    let replay_job = Job::parse(&text, dir.path(), &[]).unwrap();
    let broker_pid = std::fs::read_to_string(broker.dir().join("pid")).ok().and_then(|p| p.trim().parse::<u32>().ok());
    let cpu = || (cpu_secs("self"), broker_pid.and_then(|p| cpu_secs(&p.to_string())));
    let spent = |(e0, b0): (Option<f64>, Option<f64>), (e1, b1): (Option<f64>, Option<f64>)| {
        (e0.zip(e1).map(|(a, b)| b - a).unwrap_or(f64::NAN), b0.zip(b1).map(|(a, b)| b - a).unwrap_or(f64::NAN))
    };
    let replay_run = || {
        let (c, t) = (cpu(), Instant::now());
        run_replay(&rt, &replay_job, &|_, _| {}).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let (eddy_cpu, broker_cpu) = spent(c, cpu());
        eprintln!("replay: {secs:.2} s, {:.0} rows/s, CPU: eddy {eddy_cpu:.2} s, broker {broker_cpu:.2} s", rows / secs);
        (rows / secs, rows / eddy_cpu)
    };

    // Throughput through the broker (start-up included: joining the group, restoring), each
    // run with a group and output topics of its own (created before the clock starts).
    let through = |name: &str, eos: bool| {
        outputs(&broker, name);
        let job = kafka_job(&b, "bench-in", name, eos, true, 1000);
        let (c, t) = (cpu(), Instant::now());
        let s = run_kafka(&rt, &job, &RunOptions::default()).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let (eddy_cpu, broker_cpu) = spent(c, cpu());
        assert_eq!(s.records_in as usize, batches);
        eprintln!(
            "{name}: {secs:.2} s, {:.0} rows/s ({} checkpoints), CPU: eddy {eddy_cpu:.2} s, broker {broker_cpu:.2} s",
            rows / secs,
            s.checkpoints
        );
        (rows / secs, rows / eddy_cpu)
    };
    // Rounds of replay, exactly once, at least once in turn: this shared machine's speed drifts
    // from second to second, so each ratio is taken within a round and the median reported.
    let (mut replays, mut eoss, mut alos) = (Vec::new(), Vec::new(), Vec::new());
    let (mut replay_cpu, mut eos_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        eprintln!("round {round}");
        let (replay, rc) = replay_run();
        replays.push(replay);
        replay_cpu.push(rc);
        let (eos, ec) = through(&format!("bench-eos-{round}"), true);
        eoss.push(eos);
        eos_cpu.push(ec);
        alos.push(through(&format!("bench-alo-{round}"), false).0);
    }
    let paired = |v: &[f64]| median(v.iter().zip(&replays).map(|(k, r)| k / r).collect());
    let (eos_ratio, alo_ratio) = (paired(&eoss), paired(&alos));
    let cpu_ratio = median(eos_cpu.iter().zip(&replay_cpu).map(|(k, r)| k / r).collect());
    let eos_alo = median(eoss.iter().zip(&alos).map(|(e, a)| e / a).collect());
    let (replay, eos, alo) = (median(replays.clone()), median(eoss.clone()), median(alos.clone()));

    // Latency at half the exactly-once maximum.
    let rate = eos / 2.0 / ROWS as f64; // records per second
    let mut lat_rows = Vec::new();
    for interval in [1000u64, 100] {
        let name = format!("bench-lat-{interval}");
        let input = format!("{name}-in");
        create(&broker, &input, 2, false);
        outputs(&broker, &name);
        let job = kafka_job(&b, &input, &name, true, false, interval);
        let stop = Arc::new(AtomicBool::new(false));
        let opts = RunOptions { stop: Some(stop.clone()), ..RunOptions::default() };
        let done = Arc::new(AtomicBool::new(false));
        let latencies = std::thread::scope(|s| {
            let runner = s.spawn(|| run_kafka(&rt, &job, &opts).unwrap());
            // Reader of committed predictions.
            let reader = s.spawn(|| {
                let c: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", &b)
                    .set("group.id", format!("{name}-reader"))
                    .set("isolation.level", "read_committed")
                    .set("auto.offset.reset", "earliest")
                    .set("fetch.wait.max.ms", "5")
                    .set("fetch.max.bytes", MAX_BYTES)
                    .set("max.partition.fetch.bytes", MAX_BYTES)
                    .create()
                    .unwrap();
                c.subscribe(&[&format!("{name}-predictions")]).unwrap();
                let mut out = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                        if let Some(ts) = m.timestamp().to_millis() {
                            out.push((ts, (now - ts) as f64));
                        }
                    }
                }
                out
            });
            // Steady producer.
            std::thread::sleep(Duration::from_secs(4));
            let p = producer(&b);
            let start = Instant::now();
            let mut sent = 0u64;
            while start.elapsed() < Duration::from_secs(latency_secs) {
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                while sent < due {
                    let v = &payloads[sent as usize % payloads.len()];
                    let mut rec = BaseRecord::<[u8], [u8]>::to(&input).payload(v).partition((sent % 2) as i32);
                    while let Err((_, back)) = p.send(rec) {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    sent += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            p.flush(Duration::from_secs(30)).unwrap();
            std::thread::sleep(Duration::from_secs(3));
            stop.store(true, Ordering::Relaxed);
            runner.join().unwrap();
            std::thread::sleep(Duration::from_secs(1));
            done.store(true, Ordering::Relaxed);
            reader.join().unwrap()
        });
        // Leave out the first 3 s (start-up), as a steady state.
        let t0 = latencies.iter().map(|(ts, _)| *ts).min().unwrap_or(0) + 3000;
        let mut l: Vec<f64> = latencies.iter().filter(|(ts, _)| *ts >= t0).map(|(_, l)| *l).collect();
        l.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&l, 0.5), percentile(&l, 0.99));
        eprintln!(
            "latency, checkpoint every {interval} ms, {:.1} records/s ({:.0} rows/s): p50 {p50:.0} ms, p99 {p99:.0} ms over {} records",
            rate,
            rate * ROWS as f64,
            l.len()
        );
        lat_rows.push((interval, p50, p99, l.len()));
    }

    println!();
    println!(
        "eddy end to end, FTRL, Arrow records of {ROWS} rows x {FEATURES} features, {batches} records ({} rows), 2 partitions:",
        batches * ROWS
    );
    println!("medians of {rounds} rounds; the ratios are paired (within a round), then the median:");
    println!("  replay file                   {replay:>12.0} rows/s   1.00");
    println!("  Kafka, exactly once           {eos:>12.0} rows/s   {eos_ratio:.2} of replay");
    println!("  Kafka, at least once          {alo:>12.0} rows/s   {alo_ratio:.2} of replay");
    println!("  exactly once / at least once  {eos_alo:.2}");
    let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
    println!("  every round, rows/s: replay {}; exactly once {}; at least once {}", list(&replays), list(&eoss), list(&alos));
    println!(
        "  rows per CPU-second of the eddy process (the broker's own CPU not counted): replay {}; exactly once {}; paired median {cpu_ratio:.2}",
        list(&replay_cpu),
        list(&eos_cpu)
    );
    for (interval, p50, p99, n) in lat_rows {
        println!(
            "  latency at {:.0} rows/s (half the exactly-once maximum), checkpoint every {interval} ms: p50 {p50:.0} ms, p99 {p99:.0} ms ({n} records)",
            eos / 2.0
        );
    }
}
