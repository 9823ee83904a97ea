//! The Kafka side of the command line: `eddy run` on a job with `[source.kafka]`, and
//! `eddy topic record|produce` between live topics and replay files.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use eddy_host::Runtime;
use eddy_host::job::Job;
use eddy_host::replay::{self, ReplayWriter};
use eddy_host::run::RunSummary;
use eddy_kafka::topic::{self, Bounds};
use eddy_kafka::{RunOptions, run_kafka};

/// Runs a Kafka job (until stopped, or with `stop_at_end` until caught up).
pub fn run(rt: &Runtime, job: &Job) -> anyhow::Result<RunSummary> {
    let s = run_kafka(rt, job, &RunOptions::default())?;
    eprintln!(
        "checkpoints   {} committed; {} partitions restored from checkpoints; {} restarts after Kafka failures",
        s.checkpoints, s.restores, s.restarts
    );
    Ok(RunSummary {
        operator: s.operator,
        records_in: s.records_in,
        rows_in: s.rows_in,
        predictions: s.predictions,
        models: s.models,
        dead_letters: s.dead_letters,
        embeddings: s.embeddings,
        elapsed: s.elapsed,
        metrics: s.metrics,
        drift: s.drift,
    })
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?}: expected key=value"))
}

/// Arguments of `eddy topic record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Bootstrap servers.
    #[arg(long)]
    brokers: String,
    /// The topic to record.
    #[arg(long)]
    topic: String,
    /// The replay file to write.
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many records.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Stop once every partition reached the end offset (high watermark) it had when recording
    /// started; transactions open at that moment are waited for.
    #[arg(long)]
    until_end: bool,
    /// A librdkafka setting (TLS, SASL, ...), e.g. `--property security.protocol=ssl`. Repeatable.
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

/// Arguments of `eddy topic produce`.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// The replay file to produce.
    file: PathBuf,
    /// Bootstrap servers.
    #[arg(long)]
    brokers: String,
    /// The topic to write (created with enough partitions when missing).
    #[arg(long)]
    topic: String,
    /// A librdkafka setting (TLS, SASL, ...), e.g. `--property security.protocol=ssl`. Repeatable.
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

/// `eddy topic record`.
pub fn record(a: &RecordArgs) -> anyhow::Result<()> {
    if a.count.is_none() && a.timeout_ms.is_none() && !a.until_end {
        bail!("give a bound: --count N, --timeout-ms MS or --until-end");
    }
    let bounds = Bounds { count: a.count, timeout: a.timeout_ms.map(Duration::from_millis), until_end: a.until_end };
    let records = topic::record(&a.brokers, &a.topic, &a.properties, &bounds).with_context(|| format!("recording {}", a.topic))?;
    let mut w = ReplayWriter::create(&a.out, &a.topic)?;
    let n = records.len();
    w.append(records)?;
    w.finish()?;
    eprintln!("recorded {n} records of {} into {}", a.topic, a.out.display());
    Ok(())
}

/// `eddy topic produce`.
pub fn produce(a: &ProduceArgs) -> anyhow::Result<()> {
    let records = replay::read(&a.file)?;
    let p = topic::produce(&a.brokers, &a.topic, &a.properties, &records)
        .with_context(|| format!("producing {} into {}", a.file.display(), a.topic))?;
    eprintln!("produced {} records into {} ({} partitions)", p.records, a.topic, p.partitions);
    Ok(())
}
