//! Running a job over a replay file as a stream: the file is read a batch at a time, each
//! partition's records go through a bounded channel to that partition's pipeline (on its own
//! thread), and each partition writes its outputs as it goes. The sinks list partitions one
//! after the other (the first partition seen, then the others in order), so they are
//! byte-identical whatever the batch size or thread timing, and memory is bounded by the
//! batches in flight, not by the size of the replay.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use crate::decode::Decoded;
use crate::drift::DriftSummary;
use crate::job::Job;
use crate::metrics::{Prequential, Summary};
use crate::replay::{ReplayReader, ReplayWriter};
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
    p.set_batch_rows(job.run.batch_size);
    p.set_chain_learning(job.run.chain_learning)?;
    p.set_models(job.sinks.models.is_some())?;
    p.set_drift(&job.drift)?;
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
            let names: Vec<&str> = eddy_bundle::shipped().map(|o| o.name).collect();
            Err(HostError::Job(format!("operator.component = {c:?} is neither a shipped operator ({}) nor a .wasm file", names.join(", "))))
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
    /// Input rows decoded (an Arrow record holds several rows; a JSON record one).
    pub rows_in: u64,
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
    /// Drift detections over every partition (none when `[drift] enabled = false`).
    pub drift: Option<DriftSummary>,
}

impl RunSummary {
    /// Input records per second.
    pub fn throughput(&self) -> f64 {
        self.records_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Input rows per second.
    pub fn rows_per_second(&self) -> f64 {
        self.rows_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Record chunks in flight per partition: the bound on what a run holds in memory besides
/// the operators themselves.
const CHUNKS_IN_FLIGHT: usize = 2;

/// The five sinks of a job, in one order everywhere.
const SINKS: usize = 5;

fn sink_paths(job: &Job) -> [Option<PathBuf>; SINKS] {
    let s = &job.sinks;
    [s.predictions.clone(), s.models.clone(), s.dead_letters.clone(), s.embeddings.clone(), s.drift.clone()]
        .map(|p| p.map(|p| job.resolve(&p)))
}

/// One partition's sink writers: the final files for the first partition seen, files beside
/// them for the others (appended at the end).
struct PartitionSinks {
    writers: [Option<ReplayWriter>; SINKS],
    counts: [u64; SINKS],
}

impl PartitionSinks {
    fn create(paths: &[Option<PathBuf>; SINKS], partition: Option<i32>) -> Result<Self> {
        let mut writers: [Option<ReplayWriter>; SINKS] = Default::default();
        for (w, p) in writers.iter_mut().zip(paths) {
            if let Some(p) = p {
                let file = match partition {
                    None => p.clone(),
                    Some(n) => p.with_file_name(format!("{}.part-{n}.replay", p.file_stem().and_then(|s| s.to_str()).unwrap_or("sink"))),
                };
                *w = Some(ReplayWriter::create(&file, &topic_of(p))?);
            }
        }
        Ok(Self { writers, counts: [0; SINKS] })
    }

    fn write(&mut self, mut out: PipelineOutput) -> Result<()> {
        // The pipeline defers them (see open_pipeline): their JSON is written here, on the
        // sinks' thread.
        out.encode_models()?;
        let PipelineOutput { predictions, models, dead_letters, embeddings, drift, .. } = out;
        for (i, recs) in [predictions, models, dead_letters, embeddings, drift].into_iter().enumerate() {
            self.counts[i] += recs.len() as u64;
            if let Some(w) = &mut self.writers[i] {
                w.append_records(recs)?;
            }
        }
        Ok(())
    }
}

struct PartitionRun {
    partition: i32,
    sinks: Option<PartitionSinks>,
    metrics: Prequential,
    drift: Option<crate::drift::DriftState>,
    rows_in: u64,
    /// See [`Pipeline::refused_labels`].
    refused_labels: (u64, Option<String>),
    error: Option<HostError>,
}

fn run_partition(
    components: &[OperatorComponent],
    job: &Job,
    partition: i32,
    first: bool,
    chunks: Receiver<Vec<Record>>,
    progress: &AtomicU64,
) -> PartitionRun {
    let mut run = PartitionRun {
        partition,
        sinks: None,
        metrics: Prequential::default(),
        drift: None,
        rows_in: 0,
        refused_labels: (0, None),
        error: None,
    };
    let sinks = PartitionSinks::create(&sink_paths(job), (!first).then_some(partition));
    let (sinks, mut pipeline) = match sinks.and_then(|s| open_pipeline(job, components, partition).map(|p| (s, p))) {
        Ok((s, mut p)) => {
            p.defer_models(true);
            (s, p)
        }
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    // Records decode on one thread, the operators run on another, and the sinks write on a
    // third, so the three overlap; the channels bound what waits between them.
    let (tx, rx) = sync_channel::<PipelineOutput>(CHUNKS_IN_FLIGHT);
    let (dtx, drx) = sync_channel::<(Vec<Record>, Vec<Decoded>)>(CHUNKS_IN_FLIGHT);
    let mut predecoder = pipeline.predecoder();
    let (sinks, write_error, failed) = std::thread::scope(|s| {
        s.spawn(move || {
            // One message per call (an Arrow record of thousands of rows is a call of its
            // own): the operators start on the first call while the next ones decode, and
            // the sinks get each call's outputs as soon as it is done.
            'chunks: for chunk in chunks.iter() {
                let calls = predecoder.decode(&chunk);
                let last = calls.len().saturating_sub(1);
                let mut rest = chunk;
                for (i, call) in calls.into_iter().enumerate() {
                    // The last call takes the records after it too (those after a bad record
                    // the pipeline stops at).
                    let tail = if i == last { Vec::new() } else { rest.split_off(call.consumed.min(rest.len())) };
                    if dtx.send((rest, vec![call])).is_err() {
                        break 'chunks;
                    }
                    rest = tail;
                }
            }
            // Dropping the receiver makes the reader stop sending to a partition that failed.
            drop(chunks);
        });
        let writer = s.spawn(move || {
            let mut sinks = sinks;
            let mut error = None;
            for o in rx.iter() {
                if let Err(e) = sinks.write(o) {
                    error = Some(e);
                    break;
                }
            }
            (sinks, error)
        });
        let mut failed = None;
        for (chunk, calls) in drx.iter() {
            let n = chunk.len() as u64;
            let (o, r) = pipeline.process_decoded(chunk, calls);
            progress.fetch_add(n, Ordering::Relaxed);
            if tx.send(o).is_err() {
                break;
            }
            if let Err(e) = r {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() {
            let (o, r) = pipeline.finish();
            let _ = tx.send(o);
            failed = r.err();
        }
        drop(tx);
        drop(drx);
        let (sinks, write_error) = writer.join().expect("sink writer panicked");
        (sinks, write_error, failed)
    });
    run.metrics = pipeline.metrics().clone();
    run.drift = pipeline.drift().cloned();
    run.rows_in = pipeline.rows_in();
    let (n, first) = pipeline.refused_labels();
    run.refused_labels = (n, first.map(str::to_owned));
    run.sinks = Some(sinks);
    run.error = write_error.or(failed);
    run
}

fn topic_of(p: &Path) -> String {
    p.file_stem().and_then(|s| s.to_str()).unwrap_or("out").trim_end_matches(".replay").to_owned()
}

/// Runs `job` over its replay source. `on_progress(records_done, records_total)` is called
/// from time to time (for a progress bar; the total is an estimate until the end). Sinks are
/// written even when the run fails, with everything up to the failing record, and then the
/// error is returned.
pub fn run_replay(rt: &Runtime, job: &Job, on_progress: &(dyn Fn(u64, u64) + Sync)) -> Result<RunSummary> {
    let src =
        job.source.replay.as_ref().ok_or_else(|| HostError::Job("source.replay is not set (and this runner reads replays only)".into()))?;
    let components = load_operators(rt, job)?;
    let reader = ReplayReader::open(&job.resolve(src))?;
    let estimate = reader.estimated_records();
    let start = Instant::now();
    let progress = AtomicU64::new(0);
    let mut records_in = 0u64;
    let mut read_error = None;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let mut runs: Vec<PartitionRun> = std::thread::scope(|s| {
        let done_tx = done_tx;
        let mut senders: BTreeMap<i32, SyncSender<Vec<Record>>> = BTreeMap::new();
        let mut handles = Vec::new();
        let mut last_report = Instant::now();
        'read: for batch in reader {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            };
            records_in += batch.len() as u64;
            let mut by_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
            for r in batch {
                by_partition.entry(r.partition).or_default().push(r);
            }
            for (p, recs) in by_partition {
                let tx = senders.entry(p).or_insert_with(|| {
                    let (tx, rx) = sync_channel(CHUNKS_IN_FLIGHT);
                    let (components, progress, first, done) = (&components, &progress, handles.is_empty(), done_tx.clone());
                    handles.push(s.spawn(move || {
                        let run = run_partition(components, job, p, first, rx, progress);
                        let _ = done.send(());
                        run
                    }));
                    tx
                });
                // A partition that stopped (it failed) takes no more; the others go on, as
                // they would have had the partitions run one after the other.
                let _ = tx.send(recs);
            }
            if last_report.elapsed() > Duration::from_millis(100) {
                on_progress(progress.load(Ordering::Relaxed), estimate.max(records_in));
                last_report = Instant::now();
            }
            if read_error.is_some() {
                break 'read;
            }
        }
        drop(senders);
        // A thread that ended without saying so (a panic) drops its sender: no hang.
        drop(done_tx);
        // Each partition thread says when it is done; progress is reported meanwhile.
        let mut left = handles.len();
        while left > 0 {
            match done_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => left -= 1,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => on_progress(progress.load(Ordering::Relaxed), records_in),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        handles.into_iter().map(|h| h.join().expect("partition thread panicked")).collect()
    });
    on_progress(progress.load(Ordering::Relaxed), records_in);
    let elapsed = start.elapsed();

    // The first partition seen wrote the sink files; the others are appended in order.
    let mut first_error = read_error;
    let mut counts = [0u64; SINKS];
    let mut rows_in = 0;
    let head = if runs.is_empty() { None } else { Some(runs.remove(0)) };
    runs.sort_by_key(|r| r.partition);
    // Metrics are merged in partition order (as the Kafka runner merges them), so that sums of
    // floats come out with the same bits whichever partition was seen first.
    let mut metrics = Prequential::default();
    let mut drift = job.drift.enabled.then(DriftSummary::default);
    let mut by_partition: Vec<&PartitionRun> = head.iter().chain(&runs).collect();
    by_partition.sort_by_key(|r| r.partition);
    let mut refused_labels: (u64, Option<String>) = (0, None);
    for r in by_partition {
        refused_labels.0 += r.refused_labels.0;
        if refused_labels.1.is_none() {
            refused_labels.1.clone_from(&r.refused_labels.1);
        }
        metrics.merge(&r.metrics);
        if let (Some(d), Some(s)) = (&mut drift, &r.drift) {
            d.merge(s);
        }
    }
    let paths = sink_paths(job);
    let mut finals: [Option<ReplayWriter>; SINKS] = Default::default();
    for (n, r) in head.into_iter().chain(runs).enumerate() {
        rows_in += r.rows_in;
        if let Some(s) = r.sinks {
            for (i, c) in s.counts.iter().enumerate() {
                counts[i] += c;
            }
            for (i, w) in s.writers.into_iter().enumerate() {
                let Some(w) = w else { continue };
                if n == 0 || finals[i].is_none() {
                    finals[i] = Some(w);
                } else if let Some(f) = finals[i].as_mut() {
                    let part = w.finish()?;
                    f.append_file(&part)?;
                    std::fs::remove_file(&part).map_err(|e| HostError::io(format!("cannot remove {}", part.display()), e))?;
                }
            }
        }
        if first_error.is_none() {
            first_error = r.error;
        }
    }
    for (i, f) in finals.into_iter().enumerate() {
        match f {
            Some(f) => {
                f.finish()?;
            }
            None => {
                // No partition at all (an empty replay): still write empty sinks.
                if let Some(p) = &paths[i] {
                    ReplayWriter::create(p, &topic_of(p))?.finish()?;
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let metrics = metrics.summary();
    if let (n @ 1.., Some(first)) = (refused_labels.0, &refused_labels.1)
        && metrics.labelled == 0
    {
        // Dead letters keep the run going, but a run that learned from nothing must not look
        // like a success.
        return Err(HostError::Job(format!(
            "every labelled row was refused: {n} record(s) went to the dead letters for their label column and none was learned from \
             (the first: {first})"
        )));
    }
    Ok(RunSummary {
        operator: components.iter().map(|c| c.info().name.clone()).collect::<Vec<_>>().join(" | "),
        records_in,
        rows_in,
        predictions: counts[0],
        models: counts[1],
        dead_letters: counts[2],
        embeddings: counts[3],
        elapsed,
        metrics,
        drift,
    })
}
