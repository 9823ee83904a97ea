//! Running a job over a replay file: one pipeline per partition (on its own thread), records
//! fed in `run.batch_size` chunks, outputs written to replay sinks partition by partition, so
//! the sinks are byte-identical whatever the batch size or thread timing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::job::Job;
use crate::metrics::{Prequential, Summary};
use crate::replay::{self, ReplayWriter};
use crate::{HostError, OperatorComponent, Pipeline, PipelineOutput, Record, Result, Runtime};

/// Loads every operator of the job's chain, in order.
pub fn load_operators(rt: &Runtime, job: &Job) -> Result<Vec<OperatorComponent>> {
    job.stages().iter().map(|s| load_component(rt, job, &s.component)).collect()
}

/// Loads the job's only operator; a chain is an error here (use [`load_operators`] and
/// [`open_pipeline`], which handle both).
pub fn load_operator(rt: &Runtime, job: &Job) -> Result<OperatorComponent> {
    match job.stages().as_slice() {
        [one] => load_component(rt, job, &one.component),
        _ => Err(HostError::Job("this runner takes one [operator]; chains need load_operators + open_pipeline".into())),
    }
}

/// Opens a pipeline for `partition` over the job's chain of operators.
pub fn open_pipeline(job: &Job, components: &[OperatorComponent], partition: i32) -> Result<Pipeline> {
    let configs: Vec<serde_json::Value> = job.stages().iter().map(|s| s.config_json()).collect();
    let stages: Vec<(&OperatorComponent, &serde_json::Value)> = components.iter().zip(&configs).collect();
    let mut p = Pipeline::chain(&stages, partition, job.source.format, job.sinks.dead_letters.is_some())?;
    p.route_embeddings(job.sinks.embeddings.is_some());
    Ok(p)
}

/// Loads an operator: a shipped one by name, or a component file (relative to the job file).
pub fn load_component(rt: &Runtime, job: &Job, c: &str) -> Result<OperatorComponent> {
    let as_path = job.resolve(Path::new(c));
    if c.ends_with(".wasm") || as_path.exists() {
        return rt.load_file(&as_path);
    }
    match eddy_bundle::find(c) {
        Some(op) => rt.load(op.bytes, Path::new(op.name)),
        None => {
            let names: Vec<&str> = eddy_bundle::OPERATORS.iter().map(|o| o.name).collect();
            Err(HostError::Job(format!(
                "operator.component = {c:?} is neither a shipped operator ({}) nor a .wasm file",
                names.join(", ")
            )))
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Operator name.
    pub operator: String,
    /// Input records read.
    pub records_in: u64,
    /// Prediction records written.
    pub predictions: u64,
    /// Model versions written.
    pub models: u64,
    /// Dead letters written.
    pub dead_letters: u64,
    /// Embedding records written (including tombstones).
    pub embeddings: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Prequential metrics over every partition.
    pub metrics: Summary,
}

impl RunSummary {
    /// Input records per second.
    pub fn throughput(&self) -> f64 {
        self.records_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct PartitionRun {
    output: PipelineOutput,
    metrics: Prequential,
    error: Option<HostError>,
}

fn run_partition(components: &[OperatorComponent], job: &Job, partition: i32, records: &[Record], progress: &AtomicU64) -> PartitionRun {
    let mut output = PipelineOutput::default();
    let mut pipeline = match open_pipeline(job, components, partition) {
        Ok(p) => p,
        Err(e) => return PartitionRun { output, metrics: Prequential::default(), error: Some(e) },
    };
    for chunk in records.chunks(job.run.batch_size) {
        let (o, r) = pipeline.process(chunk);
        output.extend(o);
        progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if let Err(e) = r {
            return PartitionRun { output, metrics: pipeline.metrics().clone(), error: Some(e) };
        }
    }
    let (o, r) = pipeline.finish();
    output.extend(o);
    PartitionRun { output, metrics: pipeline.metrics().clone(), error: r.err() }
}

fn topic_of(p: &Path) -> String {
    p.file_stem().and_then(|s| s.to_str()).unwrap_or("out").trim_end_matches(".replay").to_owned()
}

/// Runs `job` over its replay source. `on_progress(records_done, records_total)` is called
/// from time to time (for a progress bar). Sinks are written even when the run fails, with
/// everything up to the failing record, and then the error is returned.
pub fn run_replay(rt: &Runtime, job: &Job, on_progress: &(dyn Fn(u64, u64) + Sync)) -> Result<RunSummary> {
    let src = job.source.replay.as_ref().ok_or_else(|| HostError::Job("source.replay is not set (and this runner reads replays only)".into()))?;
    let components = load_operators(rt, job)?;
    let records = replay::read(&job.resolve(src))?;
    let total = records.len() as u64;
    let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let start = Instant::now();
    let progress = AtomicU64::new(0);
    let results: Vec<PartitionRun> = std::thread::scope(|s| {
        let handles: Vec<_> = by_partition
            .iter()
            .map(|(p, recs)| {
                let (components, progress) = (&components, &progress);
                s.spawn(move || run_partition(components, job, *p, recs, progress))
            })
            .collect();
        while !handles.iter().all(|h| h.is_finished()) {
            on_progress(progress.load(Ordering::Relaxed), total);
            std::thread::sleep(Duration::from_millis(50));
        }
        handles.into_iter().map(|h| h.join().expect("partition thread panicked")).collect()
    });
    on_progress(progress.load(Ordering::Relaxed), total);
    let elapsed = start.elapsed();

    let mut metrics = Prequential::default();
    let mut first_error = None;
    let mut sinks: [(Option<PathBuf>, Vec<Record>); 4] = [
        (job.sinks.predictions.clone(), Vec::new()),
        (job.sinks.models.clone(), Vec::new()),
        (job.sinks.dead_letters.clone(), Vec::new()),
        (job.sinks.embeddings.clone(), Vec::new()),
    ];
    for r in results {
        metrics.merge(&r.metrics);
        sinks[0].1.extend(r.output.predictions);
        sinks[1].1.extend(r.output.models);
        sinks[2].1.extend(r.output.dead_letters);
        sinks[3].1.extend(r.output.embeddings);
        if first_error.is_none() {
            first_error = r.error;
        }
    }
    let counts = [sinks[0].1.len() as u64, sinks[1].1.len() as u64, sinks[2].1.len() as u64, sinks[3].1.len() as u64];
    for (path, recs) in sinks {
        if let Some(path) = path {
            let path = job.resolve(&path);
            let mut w = ReplayWriter::create(&path, &topic_of(&path))?;
            w.append(recs)?;
            w.finish()?;
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(RunSummary {
        operator: components.iter().map(|c| c.info().name.clone()).collect::<Vec<_>>().join(" | "),
        records_in: total,
        predictions: counts[0],
        models: counts[1],
        dead_letters: counts[2],
        embeddings: counts[3],
        elapsed,
        metrics: metrics.summary(),
    })
}
