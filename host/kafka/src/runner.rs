//! The Kafka runner: a consumer-group member that runs one [`Pipeline`] per assigned input
//! partition and commits, once per checkpoint interval, one transaction holding the
//! predictions, model versions, dead letters and drift detections produced since the last
//! one, every changed pipeline's snapshot (on the checkpoint topic) and the consumer offsets.
//!
//! Recovery is the same path whatever happened (a crash, SIGKILL, a rebalance, an aborted
//! transaction, a broker that went away): a *session* (producer, consumer, checkpoint reader)
//! starts, `init_transactions` fences the previous producer of this transactional id and
//! aborts its open transaction, and every partition the group assigns is restored from its
//! last committed checkpoint and resumed from the checkpoint's offset. What the aborted
//! transaction held is invisible to `read_committed` readers and is produced again, the
//! same bytes, because operators are deterministic. Kafka errors end the session; the runner
//! logs why and starts a new one, waiting while the broker is unreachable: it never exits
//! because the broker is down. Errors that no retry fixes (an incompatible checkpoint, a
//! bad record without a dead-letter topic, a trapping operator) stop the run.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eddy_host::drift::DriftSummary;
use eddy_host::job::Job;
use eddy_host::metrics::{Prequential, Summary};
use eddy_host::run::load_operators;
use eddy_host::{HostError, OperatorComponent, Pipeline, PipelineOutput, PipelineSnapshot, Record, Runtime, SnapshotKind};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::checkpoint::{Checkpoint, CheckpointStore, check_compatible, key as checkpoint_key};
use crate::client::{
    BrokerWatch, Rebalance, SourceContext, TopicSpec, ensure_topics, high_watermarks, is_transient, partition_count, record_of,
    start_up_within, started, starting_up, time_retention,
};
use crate::config::{KafkaJob, StartAt};
use crate::metrics::Metrics;
use crate::partition::PartState;
use crate::sink::Sink;
use crate::store::KafkaStore;
use crate::worker::{self, Worker};
use crate::{Error, Result};

/// Options that do not come from the job file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Serve Prometheus metrics here (overrides `[run] metrics_addr`).
    pub metrics_addr: Option<String>,
    /// Set it to stop the run: it commits a last checkpoint and returns its summary (the
    /// input has not ended, so the operators get no end-of-input watermark).
    pub stop: Option<Arc<AtomicBool>>,
}

/// What a Kafka run did (in this process).
#[derive(Debug, Clone)]
pub struct KafkaSummary {
    /// Operator name.
    pub operator: String,
    /// Input records processed by this process (records processed again after a restart
    /// count again).
    pub records_in: u64,
    /// Rows of those records (an Arrow record holds several; a JSON record one).
    pub rows_in: u64,
    /// Prediction records produced.
    pub predictions: u64,
    /// Model version records produced.
    pub models: u64,
    /// Dead letters produced.
    pub dead_letters: u64,
    /// Embedding records produced.
    pub embeddings: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Partitions restored from a checkpoint.
    pub restores: u64,
    /// Sessions started over after a Kafka failure.
    pub restarts: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Prequential metrics of the pipelines at the end, over each partition's whole stream
    /// (checkpoints carry them across restarts).
    pub metrics: Summary,
    /// Drift detections of the pipelines at the end, over each partition's whole stream
    /// (checkpoints carry the detector; none when `[drift] enabled = false`).
    pub drift: Option<DriftSummary>,
    /// Where metrics were served.
    pub metrics_addr: Option<SocketAddr>,
}

impl KafkaSummary {
    /// Input records per second.
    pub fn throughput(&self) -> f64 {
        self.records_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Bytes of record values one poll takes from a partition at most.
const POLL_BYTES: usize = 16 << 20;

/// Runs a job whose source is `[source.kafka]`: until stopped, or with `stop_at_end` until
/// caught up with the end offsets seen at start.
pub fn run_kafka(rt: &Runtime, job: &Job, opts: &RunOptions) -> Result<KafkaSummary> {
    let k = KafkaJob::from_job(job)?;
    let components = load_operators(rt, job)?;
    let metrics = Metrics::default();
    let addr = opts.metrics_addr.clone().or_else(|| job.run.metrics_addr.clone());
    let metrics_addr = match addr {
        Some(a) => {
            let bound = metrics.serve(&a).map_err(|e| Error::Io(format!("cannot serve metrics on {a}: {e}")))?;
            tracing::info!(target: "eddy_kafka", "serving Prometheus metrics on http://{bound}/metrics");
            Some(bound)
        }
        None => None,
    };
    let mut r = Runner {
        stop: opts.stop.clone(),
        configs: job.stages().iter().map(|s| s.config_json()).collect(),
        job,
        k,
        components,
        metrics,
        ends: None,
        totals: Totals::default(),
        checkpoint_no: 0,
        started: Instant::now(),
        metrics_addr,
    };
    r.run()
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    records_in: u64,
    rows_in: u64,
    predictions: u64,
    models: u64,
    dead_letters: u64,
    embeddings: u64,
    checkpoints: u64,
    restores: u64,
    restarts: u64,
}

struct Runner<'a> {
    job: &'a Job,
    k: KafkaJob,
    components: Vec<OperatorComponent>,
    configs: Vec<Value>,
    metrics: Metrics,
    /// With `stop_at_end`: (low, high) watermarks of every input partition, seen at start.
    ends: Option<BTreeMap<(String, i32), (i64, i64)>>,
    totals: Totals,
    checkpoint_no: u64,
    started: Instant,
    metrics_addr: Option<SocketAddr>,
    stop: Option<Arc<AtomicBool>>,
}

impl Runner<'_> {
    /// Operator names and versions of the chain, joined with ` | `.
    fn operators(&self) -> (String, String) {
        let names: Vec<&str> = self.components.iter().map(|c| c.info().name.as_str()).collect();
        let versions: Vec<&str> = self.components.iter().map(|c| c.info().version.as_str()).collect();
        (names.join(" | "), versions.join(" | "))
    }

    /// Moves a partition's pipeline onto a thread of its own.
    fn worker(&self, pipeline: Pipeline, topic: &str, partition: i32) -> Result<Worker> {
        Worker::spawn(pipeline, format!("eddy-{topic}-{partition}"))
            .map_err(|e| Error::Config(format!("cannot start the pipeline thread of {topic}[{partition}]: {e}")))
    }

    fn open_pipeline(&self, partition: i32) -> Result<Pipeline> {
        let stages: Vec<(&OperatorComponent, &Value)> = self.components.iter().zip(&self.configs).collect();
        let mut p = Pipeline::chain(&stages, partition, self.job.source.format, self.k.dead_letters())?;
        p.route_embeddings(self.k.sinks.embeddings.is_some());
        p.set_chain_learning(self.job.run.chain_learning)?;
        // Without a models topic, operators do not build model versions (the model version
        // gauge then stays empty).
        p.set_models(self.k.sinks.models.is_some())?;
        p.set_drift(&self.job.drift)?;
        // Model versions and embeddings are encoded by the runner (emit), not on the
        // partition's pipeline thread.
        p.defer_models(true);
        Ok(p)
    }

    fn run(&mut self) -> Result<KafkaSummary> {
        let mode = if self.k.sinks.exactly_once { "exactly once" } else { "at least once" };
        let (names, versions) = self.operators();
        tracing::info!(
            target: "eddy_kafka",
            "eddy: {names} {versions} on {} as group {} at {} ({mode}, a checkpoint every {} ms on {}{})",
            self.k.topics().join(", "),
            self.k.source.group,
            self.k.source.brokers,
            self.k.sinks.checkpoint_interval_ms,
            self.k.sinks.checkpoints,
            if self.k.source.stop_at_end { ", stopping at the end" } else { "" },
        );
        start_up_within(self.k.source.stop_at_end.then(|| Duration::from_millis(self.k.source.startup_timeout_ms)));
        let mut backoff = Duration::from_millis(500);
        loop {
            let began = Instant::now();
            let result = Session::open(self).and_then(Session::run);
            match result {
                Ok(summary) => return Ok(summary),
                Err(e) if e.is_fenced() => {
                    return Err(Error::Fenced(format!(
                        "another process took this one's place ({e}): it uses the same transactional id {id:?}, which is also the \
                         consumer's group.instance.id. Every eddy process of group {group:?} needs its own `transactional_id` in \
                         [sinks.kafka] (the default is \"eddy-<group>\"), e.g. --set sinks.kafka.transactional_id={id}-2. \
                         If this job was started again elsewhere on purpose, this process stopping is right: the newer one \
                         continues from the last committed checkpoint.",
                        id = self.k.transactional_id(),
                        group = self.k.source.group,
                    )));
                }
                Err(e) if e.retriable() => {
                    starting_up(|| format!("the job could not start ({e})"))?;
                    if began.elapsed() > Duration::from_secs(60) {
                        backoff = Duration::from_millis(500);
                    }
                    self.totals.restarts += 1;
                    self.metrics.lock().restarts += 1;
                    tracing::warn!(target: "eddy_kafka", "{e}; starting over from the last committed checkpoint in {:.1} s", backoff.as_secs_f64());
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Batches of records a partition's pipeline may hold before the runner waits for it: one
/// being processed while the next waits, so the operator is never idle while the runner
/// polls and produces.
const IN_FLIGHT: usize = 2;

/// One input partition's pipeline (on its own thread) and where it stands.
struct Part {
    worker: Worker,
    s: PartState,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    records_in: u64,
    predictions: u64,
    models: u64,
    dead_letters: u64,
    embeddings: u64,
    drift: u64,
}

/// The output topics' time retention ([`time_retention`]), read on a thread of its own while
/// the session starts: only a warning depends on it.
struct Retention {
    reading: Option<std::thread::JoinHandle<Vec<(String, i64)>>>,
    known: HashMap<String, i64>,
}

impl Retention {
    /// Output topic -> retention.ms, once read (a read that failed warns of nothing).
    fn map(&mut self) -> &mut HashMap<String, i64> {
        if let Some(reading) = self.reading.take() {
            self.known = reading.join().unwrap_or_default().into_iter().collect();
        }
        &mut self.known
    }
}

struct Session<'r, 'a> {
    r: &'r mut Runner<'a>,
    /// One queue per assigned partition, polled in turn, so that every partition makes
    /// progress in every batch (and the batch's partitions are processed in parallel).
    queues: BTreeMap<(String, i32), PartitionQueue<SourceContext>>,
    consumer: Arc<BaseConsumer<SourceContext>>,
    sink: Sink,
    store: KafkaStore,
    /// Output topic -> partition count.
    out_partitions: HashMap<String, i32>,
    /// Output topics the broker deletes by record timestamp -> retention.ms, until eddy has
    /// warned that it writes records older than that (once per topic).
    retention: Retention,
    parts: BTreeMap<(String, i32), Part>,
    assigned_once: bool,
    last_checkpoint: Instant,
    last_summary: Instant,
    since: Counts,
}

impl<'r, 'a> Session<'r, 'a> {
    fn open(r: &'r mut Runner<'a>) -> Result<Self> {
        let k = &r.k;
        let brokers = k.sinks.brokers.clone().unwrap_or_else(|| k.source.brokers.clone());
        // The producer's set-up (with exactly once, `init_transactions`: finding the
        // transaction coordinator, fencing the previous producer, which can take most of a
        // second) runs beside the rest of the set-up, which only reads and creates topics.
        let (sink, rest) = std::thread::scope(|scope| {
            let producer = std::thread::Builder::new()
                .name("eddy-producer-init".into())
                .spawn_scoped(scope, || -> Result<Sink> {
                    let sink = Sink::new(&k.producer_config(), &brokers, k.sinks.exactly_once, r.metrics.clone())?;
                    sink.init()?;
                    Ok(sink)
                })
                .map_err(|e| Error::Io(format!("cannot start a thread: {e}")))?;
            let rest = Self::open_source(r, &brokers);
            let sink = producer.join().map_err(|_| Error::Io("the producer's set-up panicked".into()))?;
            Ok::<_, Error>((sink, rest))
        })?;
        let (consumer, store, out_partitions, retention, ends) = rest?;
        let sink = sink?;
        if let Some(ends) = ends {
            r.ends = Some(ends);
        }
        Ok(Self {
            r,
            queues: BTreeMap::new(),
            consumer,
            sink,
            store,
            out_partitions,
            retention,
            parts: BTreeMap::new(),
            assigned_once: false,
            last_checkpoint: Instant::now(),
            last_summary: Instant::now(),
            since: Counts::default(),
        })
    }

    /// The session's consumer (subscribed), checkpoint store, output partition counts, the
    /// output topics' retention (being read) and, with `stop_at_end` on the first session, the end
    /// offsets: everything but the producer.
    #[expect(clippy::type_complexity, reason = "one caller, which takes the tuple apart at once")]
    fn open_source(
        r: &Runner<'_>,
        brokers: &str,
    ) -> Result<(Arc<BaseConsumer<SourceContext>>, KafkaStore, HashMap<String, i32>, Retention, Option<BTreeMap<(String, i32), (i64, i64)>>)>
    {
        let k = &r.k;
        let watch = BrokerWatch::new(&k.source.brokers, Some(r.metrics.clone()));
        let consumer: BaseConsumer<SourceContext> =
            BaseConsumer::from_config_and_context(&k.consumer_config(), SourceContext::new(&k.source.brokers, r.metrics.clone()))
                .map_err(|e| Error::kafka("creating the consumer", e))?;
        let consumer = Arc::new(consumer);
        let mut in_partitions = 1;
        for t in k.topics() {
            let mut said = false;
            loop {
                if let Some(n) = partition_count(consumer.client(), &t, &watch)? {
                    in_partitions = in_partitions.max(n);
                    break;
                }
                if !said {
                    tracing::warn!(target: "eddy_kafka", "input topic {t} does not exist (yet); waiting for it");
                    said = true;
                }
                starting_up(|| format!("input topic {t} does not exist on {}", k.source.brokers))?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }

        let mut specs = Vec::new();
        for t in [&k.sinks.predictions, &k.sinks.models, &k.sinks.dead_letters, &k.sinks.drift].into_iter().flatten() {
            specs.push(TopicSpec { name: t.clone(), partitions: in_partitions, configs: vec![] });
        }
        if let Some(t) = &k.sinks.embeddings {
            specs.push(TopicSpec {
                name: t.clone(),
                partitions: in_partitions,
                configs: vec![("cleanup.policy".into(), "compact".into())],
            });
        }
        specs.push(TopicSpec {
            name: k.sinks.checkpoints.clone(),
            partitions: in_partitions,
            configs: vec![("cleanup.policy".into(), "compact".into())],
        });
        let admin_brokers = brokers.to_owned();
        let counts = ensure_topics(&k.admin_config(), brokers, &specs, k.sinks.create_topics)?;
        let out_partitions: HashMap<String, i32> = specs.iter().zip(&counts).map(|(s, n)| (s.name.clone(), *n as i32)).collect();
        let outputs: Vec<String> = specs.iter().map(|s| s.name.clone()).filter(|t| *t != k.sinks.checkpoints).collect();
        // Only for a warning: read beside the rest of the session.
        let admin = k.admin_config();
        let retention = std::thread::Builder::new()
            .name("eddy-retention".into())
            .spawn(move || time_retention(&admin, &admin_brokers, &outputs))
            .map_err(|e| Error::Io(format!("cannot start a thread: {e}")))?;
        let store = KafkaStore::open(
            &k.checkpoint_reader_config(),
            brokers,
            &k.sinks.checkpoints,
            out_partitions[&k.sinks.checkpoints],
            k.sinks.chunk_bytes,
        )?;

        let mut ends_seen = None;
        if k.source.stop_at_end && r.ends.is_none() {
            // High watermarks (see `high_watermarks`): an upstream transaction settling now
            // is part of the input.
            let mut ends = BTreeMap::new();
            for t in k.topics() {
                let n = partition_count(consumer.client(), &t, &watch)?.unwrap_or(0) as i32;
                for (p, w) in high_watermarks(&k.base_config(), &k.source.brokers, &t, n)?.into_iter().enumerate() {
                    ends.insert((t.clone(), p as i32), w);
                }
            }
            let total: i64 = ends.values().map(|(lo, hi)| hi - lo).sum();
            tracing::info!(target: "eddy_kafka", "stop_at_end: will stop at the end offsets seen now ({} partitions, {total} records retained)", ends.len());
            ends_seen = Some(ends);
        }

        let topics = k.topics();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|e| Error::kafka("subscribing", e))?;
        Ok((consumer, store, out_partitions, Retention { reading: Some(retention), known: HashMap::new() }, ends_seen))
    }

    fn run(mut self) -> Result<KafkaSummary> {
        let interval = self.r.k.interval();
        loop {
            // A broker refused a bounded job's credentials (librdkafka only logs it).
            crate::client::check_denied()?;
            let batch = self.poll_batch()?;
            let events = self.consumer.context().take_events();
            if !batch.is_empty() && events.is_empty() && self.last_checkpoint.elapsed() >= interval {
                // A checkpoint is due: the pipelines take this batch once their snapshots are
                // taken, and work on it while the transaction commits.
                self.checkpoint_then(batch)?;
            } else if !batch.is_empty() {
                self.process(batch)?;
            }
            for ev in events {
                self.rebalance(ev)?;
            }
            if !self.assigned_once {
                let group = &self.r.k.source.group;
                starting_up(|| format!("the consumer group {group} assigned no partitions (is its coordinator available?)"))?;
            }
            if self.r.k.source.stop_at_end && self.caught_up()? {
                tracing::info!(target: "eddy_kafka", "caught up with the end offsets seen at start: finishing");
                return self.finish(true);
            }
            if self.r.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                tracing::info!(target: "eddy_kafka", "asked to stop: committing a last checkpoint");
                return self.finish(false);
            }
            if self.last_checkpoint.elapsed() >= interval {
                self.checkpoint()?;
            }
            if self.last_summary.elapsed() >= Duration::from_secs(5) {
                self.publish_summaries();
            }
        }
    }

    /// Up to `run.batch_size` records (and [`POLL_BYTES`] of values) of every assigned
    /// partition, or nothing after a short wait. Stops early when a rebalance is waiting.
    fn poll_batch(&mut self) -> Result<Vec<Record>> {
        let max = self.r.job.run.batch_size;
        let wait =
            self.r.k.interval().saturating_sub(self.last_checkpoint.elapsed()).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let start = Instant::now();
        let mut recs = Vec::new();
        let ctx = self.consumer.context().clone();
        loop {
            // The main queue first: rebalances and errors, and any records fetched before
            // their partition got its own queue (those come before the queue's records).
            while let Some(m) = self.consumer.poll(Duration::ZERO) {
                take(m, &mut recs, &ctx, &self.r.k)?;
                if ctx.has_events() {
                    break;
                }
            }
            if ctx.has_events() {
                break;
            }
            for q in self.queues.values() {
                // `run.batch_size` counts rows; an Arrow record holds many, so a poll also
                // stops at POLL_BYTES of values per partition.
                let (mut n, mut bytes) = (0, 0);
                while n < max && bytes < POLL_BYTES {
                    match q.poll(Duration::ZERO) {
                        Some(m) => {
                            n += 1;
                            take(m, &mut recs, &ctx, &self.r.k)?;
                            bytes += recs.last().map_or(0, |r| r.value.len());
                        }
                        None => break,
                    }
                }
            }
            if !recs.is_empty() || start.elapsed() >= wait {
                break;
            }
            // Nothing yet: wait on the main queue a little (it serves callbacks too).
            if let Some(m) = self.consumer.poll(Duration::from_millis(5)) {
                take(m, &mut recs, &ctx, &self.r.k)?;
            }
        }
        Ok(recs)
    }

    /// Hands each partition's records to its pipeline's thread (see [`Session::submit`]) and
    /// emits the outputs of the batches that are done.
    fn process(&mut self, batch: Vec<Record>) -> Result<()> {
        self.submit(batch)?;
        self.collect(false)
    }

    /// Hands each partition's records to its pipeline's thread. A partition keeps at most
    /// [`IN_FLIGHT`] batches in flight: with more, this waits for (and emits) the oldest.
    fn submit(&mut self, batch: Vec<Record>) -> Result<()> {
        let mut groups: BTreeMap<(String, i32), Vec<Record>> = BTreeMap::new();
        for r in batch {
            let key = (r.topic.clone(), r.partition);
            // Records of partitions no longer ours, or already handed in (a fetch that raced
            // a seek), are skipped.
            let Some(part) = self.parts.get(&key) else { continue };
            if r.offset < part.s.queued_offset() {
                continue;
            }
            groups.entry(key).or_default().push(r);
        }
        for (key, recs) in groups {
            while self.parts[&key].worker.in_flight() >= IN_FLIGHT {
                self.collect_one(&key, true)?;
            }
            let part = self.parts.get_mut(&key).expect("grouped by assigned partition");
            if let Some(last) = recs.last() {
                part.s.handed(last.offset);
            }
            part.worker.submit(recs)?;
        }
        Ok(())
    }

    /// Takes (and emits) the outputs of every batch that is done; with `wait`, of every
    /// batch handed in.
    fn collect(&mut self, wait: bool) -> Result<()> {
        let keys: Vec<(String, i32)> = self.parts.iter().filter(|(_, p)| p.worker.in_flight() > 0).map(|(k, _)| k.clone()).collect();
        for key in keys {
            while self.collect_one(&key, wait)? {}
        }
        Ok(())
    }

    /// Takes the outputs of `key`'s oldest batch in flight, if done (or waiting for it with
    /// `wait`): emits them and moves the partition's offsets on. Whether there was one.
    fn collect_one(&mut self, key: &(String, i32), wait: bool) -> Result<bool> {
        let Some(done) = self.parts.get_mut(key).expect("assigned").worker.next_done(wait)? else { return Ok(false) };
        if done.skipped {
            // An earlier batch failed; that failure is being handled.
            return Ok(true);
        }
        let worker::Done { records: recs, output: out, result: res, rows, .. } = done;
        self.r.totals.rows_in += rows;
        self.emit(key, out)?;
        let stopped_at = match &res {
            Err(HostError::BadRecord { origin, .. }) => Some(origin.offset),
            _ => None,
        };
        let part = self.parts.get_mut(key).expect("assigned");
        let done = part.s.processed(recs.iter().map(|r| r.offset), stopped_at, res.is_err());
        self.since.records_in += done;
        self.r.totals.records_in += done;
        let next = part.s.next_offset;
        self.r.metrics.partition(&key.0, key.1, |m| {
            m.records_in += done;
            m.next_offset = next;
        });
        match res {
            Ok(()) => Ok(true),
            Err(e @ HostError::BadRecord { .. }) => {
                // Commit everything before the bad record, then stop (there is no dead-letter
                // topic). The pipeline ran nothing after it.
                self.checkpoint()?;
                Err(e.into())
            }
            Err(e) => {
                self.sink.abort();
                Err(e.into())
            }
        }
    }

    /// Sends a pipeline's output into the open transaction.
    fn emit(&mut self, key: &(String, i32), mut out: PipelineOutput) -> Result<()> {
        out.encode_models()?;
        let s = &self.r.k.sinks;
        let mut version = None;
        let routes = [
            (&s.predictions, &out.predictions),
            (&s.models, &out.models),
            (&s.dead_letters, &out.dead_letters),
            (&s.embeddings, &out.embeddings),
            (&s.drift, &out.drift),
        ];
        for (topic, recs) in routes {
            let Some(topic) = topic else { continue };
            let n = self.out_partitions.get(topic).copied().unwrap_or(1).max(1);
            if let Some(retention) = self.retention.map().get(topic.as_str()).copied() {
                let horizon = Sink::now_ms().saturating_sub(retention);
                if let Some(r) = (0..recs.len()).find(|&i| (1..horizon).contains(&recs.timestamp(i))).map(|i| recs.get(i)) {
                    tracing::warn!(
                        target: "eddy_kafka",
                        "output topic {topic} deletes records older than its retention.ms ({retention} ms) by their timestamps, and eddy's outputs keep their input's: \
                         the record of {}[{}] offset {} has timestamp {}, so the broker will delete it (and others like it) at its next retention check, \
                         committed or not. Set retention.ms=-1 or message.timestamp.type=LogAppendTime on the topic to keep them.",
                        r.header("eddy.origin.topic").unwrap_or_default(),
                        r.header("eddy.origin.partition").unwrap_or_default(),
                        r.header("eddy.origin.offset").unwrap_or_default(),
                        r.timestamp
                    );
                    self.retention.map().remove(topic.as_str());
                }
            }
            for i in 0..recs.len() {
                self.sink.send_output(topic, Some(recs.partition(i).rem_euclid(n)), recs, i)?;
            }
        }
        if let Some(last) = out.models.len().checked_sub(1) {
            version =
                serde_json::from_slice::<Value>(out.models.value(last)).ok().and_then(|v| v.get("modelVersion").and_then(Value::as_i64));
        }
        let c = Counts {
            records_in: 0,
            predictions: out.predictions.len() as u64,
            models: out.models.len() as u64,
            dead_letters: out.dead_letters.len() as u64,
            embeddings: out.embeddings.len() as u64,
            drift: out.drift.len() as u64,
        };
        self.since.predictions += c.predictions;
        self.since.drift += c.drift;
        self.since.models += c.models;
        self.since.dead_letters += c.dead_letters;
        self.since.embeddings += c.embeddings;
        let t = &mut self.r.totals;
        t.predictions += c.predictions;
        t.models += c.models;
        t.dead_letters += c.dead_letters;
        t.embeddings += c.embeddings;
        self.r.metrics.partition(&key.0, key.1, |m| {
            m.predictions += c.predictions;
            m.models += c.models;
            m.dead_letters += c.dead_letters;
            m.drift_detections += c.drift;
            if version.is_some() {
                m.model_version = version;
            }
        });
        Ok(())
    }

    /// Snapshots every changed pipeline and commits one transaction with the snapshots,
    /// everything sent since the last checkpoint, and the consumer offsets.
    fn checkpoint(&mut self) -> Result<()> {
        self.checkpoint_then(Vec::new())
    }

    /// [`Session::checkpoint`], handing `next` (records polled after everything the
    /// checkpoint covers) to the pipelines as soon as their snapshots are taken, so that they
    /// process it while the checkpoint is stored and committed. Their outputs are emitted after
    /// the commit, into the next transaction; the offsets committed are those of the
    /// snapshots. No poll of the consumer happens in between, so no rebalance either.
    fn checkpoint_then(&mut self, next: Vec<Record>) -> Result<()> {
        // Everything handed to the pipelines is processed and its outputs are in the
        // transaction before the snapshots are taken.
        self.collect(true)?;
        let t0 = Instant::now();
        let dirty: Vec<(String, i32)> = self.parts.iter().filter(|(_, p)| p.s.dirty).map(|(k, _)| k.clone()).collect();
        if dirty.is_empty() && !self.sink.in_transaction() {
            self.last_checkpoint = Instant::now();
            return if next.is_empty() { Ok(()) } else { self.process(next) };
        }
        let info = self.r.operators();
        let mut bytes = 0usize;
        let mut deltas = 0usize;
        for key in &dirty {
            let part = self.parts.get_mut(key).expect("dirty part");
            let base = checkpoint_key(&self.r.k.source.group, &key.0, key.1);
            // An incremental snapshot: operators with large states may return only what
            // changed since the last one, and the checkpoint then stores only that link.
            let mut snap = part.worker.call(|p| p.snapshot_incremental())??;
            let mut full_stages: Vec<bool> = snap.stages.iter().map(|s| s.kind == SnapshotKind::Full).collect();
            let plan = match part.s.plan(&base, &full_stages) {
                Some(plan) => plan,
                None => {
                    // A delta with no stored base (cannot happen with a well-behaved
                    // operator): store the whole state instead.
                    snap = part.worker.call(|p| p.snapshot())??;
                    full_stages = vec![true; snap.stages.len()];
                    part.s.plan_whole(&base)
                }
            };
            let cp = Checkpoint {
                group: self.r.k.source.group.clone(),
                topic: key.0.clone(),
                partition: key.1,
                epoch: part.s.epoch,
                offset: part.s.next_offset,
                operator: info.0.clone(),
                version: info.1.clone(),
                records_in: part.s.records_in,
                created_ms: Sink::now_ms(),
                earlier: plan.earlier,
                earlier_snapshots: Vec::new(),
                full_stages,
                snapshot: snap.to_bytes(),
                stored: None,
                finished: part.s.finished,
            };
            let (written, link) = self.store.save(&cp, &plan.obsolete)?;
            bytes += written;
            if link.full_stages.iter().any(|f| !f) {
                deltas += 1;
            }
            part.s.stored(cp.earlier, link);
        }
        if !next.is_empty() {
            // Every pipeline was drained above, so this waits for (and emits) nothing.
            debug_assert!(self.parts.values().all(|p| p.worker.in_flight() == 0));
            self.submit(next)?;
        }
        let topic = self.store.topic().to_owned();
        for (p, rec) in self.store.drain() {
            let headers: Vec<(&str, Option<&[u8]>)> = rec.headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice()))).collect();
            self.sink.send_parts(&topic, Some(p), Some(rec.key.as_bytes()), rec.value.as_deref(), None, &headers)?;
        }
        let mut offsets = TopicPartitionList::new();
        for ((t, p), part) in &self.parts {
            if part.s.next_offset >= 0 {
                offsets.add_partition_offset(t, *p, Offset::Offset(part.s.next_offset)).map_err(|e| Error::kafka("offsets", e))?;
            }
        }
        if self.r.k.sinks.exactly_once {
            let group = self.consumer.group_metadata().ok_or_else(|| Error::Restart("the consumer has no group metadata".into()))?;
            self.sink.commit(&offsets, &group, &self.r.k.source.group)?;
        } else {
            self.sink.flush()?;
            if offsets.count() > 0 {
                loop {
                    match self.consumer.commit(&offsets, CommitMode::Sync) {
                        Ok(()) => break,
                        Err(e) if is_transient(&e) => self.consumer.context().watch.trouble(&format!("committing offsets: {e}")),
                        Err(e) => return Err(Error::kafka("committing offsets", e)),
                    }
                }
            }
        }
        for key in &dirty {
            self.parts.get_mut(key).expect("dirty part").s.committed();
        }
        let took = t0.elapsed();
        self.r.checkpoint_no += 1;
        self.r.totals.checkpoints += 1;
        {
            let mut m = self.r.metrics.lock();
            m.checkpoints += 1;
            m.checkpoint_seconds_sum += took.as_secs_f64();
            m.last_checkpoint_seconds = took.as_secs_f64();
            m.last_checkpoint_bytes = bytes as u64;
            m.checkpoint_bytes_sum += bytes as u64;
        }
        let c = std::mem::take(&mut self.since);
        tracing::info!(
            target: "eddy_kafka",
            "checkpoint {} committed in {} ms: {} records in, {} predictions, {} model versions, {} dead letters{}{}; {} of snapshots for {} partitions{}; resume at {}",
            self.r.checkpoint_no,
            took.as_millis(),
            c.records_in,
            c.predictions,
            c.models,
            c.dead_letters,
            if c.embeddings > 0 { format!(", {} embeddings", c.embeddings) } else { String::new() },
            if c.drift > 0 { format!(", {} drift detections", c.drift) } else { String::new() },
            human_bytes(bytes),
            dirty.len(),
            if deltas > 0 { format!(" ({deltas} incremental)") } else { String::new() },
            offsets_text(&self.parts),
        );
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    fn rebalance(&mut self, ev: Rebalance) -> Result<()> {
        let cooperative = matches!(self.consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        match ev {
            Rebalance::Assign(list) => {
                let tpl = self.restore(&list)?;
                let r = if cooperative { self.consumer.incremental_assign(&tpl) } else { self.consumer.assign(&tpl) };
                r.map_err(|e| Error::kafka("assigning partitions", e))?;
                // An assignment deactivates the partition queues: make them again.
                self.queues.clear();
                for key in self.parts.keys() {
                    if let Some(q) = self.consumer.split_partition_queue(&key.0, key.1) {
                        self.queues.insert(key.clone(), q);
                    }
                }
                self.assigned_once = true;
                started();
            }
            Rebalance::Revoke(list) => {
                if self.consumer.assignment_lost() {
                    self.sink.abort();
                    return Err(Error::Restart(format!("the consumer group took {} away (session lost)", names(&list))));
                }
                // Commit what was done for them while they are still ours.
                self.checkpoint()?;
                for key in &list {
                    self.parts.remove(key);
                    self.queues.remove(key);
                    self.r.metrics.partition(&key.0, key.1, |m| m.assigned = false);
                }
                tracing::info!(target: "eddy_kafka", "partitions revoked: {}", names(&list));
                let mut tpl = TopicPartitionList::new();
                for (t, p) in &list {
                    tpl.add_partition(t, *p);
                }
                let r = if cooperative { self.consumer.incremental_unassign(&tpl) } else { self.consumer.unassign() };
                r.map_err(|e| Error::kafka("unassigning partitions", e))?;
            }
            Rebalance::Error(e) => tracing::warn!(target: "eddy_kafka", "consumer group rebalance failed: {e}"),
        }
        Ok(())
    }

    /// Builds (and restores) the pipelines of newly assigned partitions; returns the
    /// assignment with the offsets to start from.
    fn restore(&mut self, list: &[(String, i32)]) -> Result<TopicPartitionList> {
        let group = self.r.k.source.group.clone();
        let mut asked = TopicPartitionList::new();
        for (t, p) in list {
            asked.add_partition(t, *p);
        }
        let committed = loop {
            match self.consumer.committed_offsets(asked.clone(), Duration::from_secs(30)) {
                Ok(c) => break c,
                Err(e) if is_transient(&e) => self.consumer.context().watch.waiting(&format!("reading committed offsets: {e}"))?,
                Err(e) => return Err(Error::kafka(format!("reading the committed offsets of consumer group {group}"), e)),
            }
        };
        self.store.refresh()?;
        let (name, version) = self.r.operators();
        let mut tpl = TopicPartitionList::new();
        for (t, p) in list {
            let t0 = Instant::now();
            let committed_at = match committed.find_partition(t, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            };
            // The previous owner's transaction may have committed the offsets a moment
            // before its checkpoint records became readable: wait for them (looking at the
            // manifest's offset only; the chain is assembled once, below).
            let mut at = self.store.cached_offset(&group, t, *p);
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Some(c) = committed_at.filter(|c| at.is_none_or(|o| o < *c)) {
                if Instant::now() > deadline {
                    return Err(Error::Checkpoint(format!(
                        "the consumer group {group} has committed offset {c} for {t}[{p}], but the checkpoint topic {} holds {}: \
                         the checkpoints were deleted or belong elsewhere. Reset the group's offsets (or use a new group) to start over",
                        self.store.topic(),
                        at.map_or("no checkpoint for it".to_owned(), |o| format!("a checkpoint at offset {o} only")),
                    )));
                }
                std::thread::sleep(Duration::from_millis(200));
                self.store.refresh()?;
                at = self.store.cached_offset(&group, t, *p);
            }
            let cp = self.store.cached(&group, t, *p)?;
            let mut pipeline = self.r.open_pipeline(*p)?;
            let part = match &cp {
                Some(cp) => {
                    check_compatible(cp, &name, &version, self.store.topic())?;
                    let chain = cp.chain().map(PipelineSnapshot::from_bytes).collect::<std::result::Result<Vec<_>, _>>()?;
                    pipeline
                        .restore_chain(&chain)
                        .map_err(|e| Error::Checkpoint(format!("{t}[{p}], checkpoint epoch {}: {e}", cp.epoch)))?;
                    tpl.add_partition_offset(t, *p, Offset::Offset(cp.offset)).map_err(|e| Error::kafka("assignment", e))?;
                    tracing::info!(
                        target: "eddy_kafka",
                        "recovered {t}[{p}] from checkpoint epoch {} in {} ms: {} of snapshot{}, {} records processed before, resuming at offset {}",
                        cp.epoch,
                        t0.elapsed().as_millis(),
                        human_bytes(cp.chain_bytes()),
                        if cp.earlier.is_empty() { String::new() } else { format!(" in a chain of {} links", cp.earlier.len() + 1) },
                        cp.records_in,
                        cp.offset,
                    );
                    self.r.totals.restores += 1;
                    self.r.metrics.lock().restores += 1;
                    let stale = self.store.stale(&group, t, *p);
                    Part { worker: self.r.worker(pipeline, t, *p)?, s: PartState::restored(cp, stale) }
                }
                None => {
                    let start = self.r.k.source.start;
                    let at = if start == StartAt::Latest { Offset::End } else { Offset::Beginning };
                    tpl.add_partition_offset(t, *p, at).map_err(|e| Error::kafka("assignment", e))?;
                    tracing::info!(
                        target: "eddy_kafka",
                        "{t}[{p}] has no checkpoint in {} for group {group}: starting at the {} offset",
                        self.store.topic(),
                        if start == StartAt::Latest { "latest" } else { "earliest" },
                    );
                    Part { worker: self.r.worker(pipeline, t, *p)?, s: PartState::fresh() }
                }
            };
            let next = part.s.next_offset;
            self.r.metrics.partition(t, *p, |m| {
                m.assigned = true;
                m.next_offset = next.max(0);
            });
            self.parts.insert((t.clone(), *p), part);
        }
        Ok(tpl)
    }

    /// Whether every assigned partition reached the end offset seen at start.
    fn caught_up(&self) -> Result<bool> {
        let Some(ends) = &self.r.ends else { return Ok(false) };
        if !self.assigned_once || self.parts.is_empty() || self.consumer.context().has_events() {
            return Ok(false);
        }
        let pos = self.consumer.position().map_err(|e| Error::kafka("consumer position", e))?;
        Ok(self.parts.iter().all(|((t, p), part)| {
            let (lo, hi) = ends.get(&(t.clone(), *p)).copied().unwrap_or((0, 0));
            let at = match pos.find_partition(t, *p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o.max(part.s.next_offset),
                _ => part.s.next_offset,
            };
            hi <= lo || at >= hi
        }))
    }

    /// A last checkpoint (after the end-of-input watermark when `end_of_input`) and the summary.
    fn finish(mut self, end_of_input: bool) -> Result<KafkaSummary> {
        self.collect(true)?;
        let keys: Vec<(String, i32)> = if end_of_input { self.parts.keys().cloned().collect() } else { Vec::new() };
        for key in &keys {
            let part = self.parts.get_mut(key).expect("part");
            if part.s.finished {
                tracing::info!(target: "eddy_kafka", "{}[{}] already had the end-of-input watermark and nothing came since", key.0, key.1);
                continue;
            }
            tracing::info!(target: "eddy_kafka", "end of input: the end-of-input watermark for {}[{}]", key.0, key.1);
            let (out, res) = part.worker.call(|p| p.finish())?;
            part.s.input_ended();
            self.emit(key, out)?;
            res?;
        }
        self.checkpoint()?;
        self.publish_summaries();
        let mut pre = Prequential::default();
        let mut drift = self.r.job.drift.enabled.then(DriftSummary::default);
        let mut refused: (u64, Option<String>) = (0, None);
        for part in self.parts.values() {
            let (n, first) = part.worker.call(|p| {
                let (n, first) = p.refused_labels();
                (n, first.map(str::to_owned))
            })?;
            refused.0 += n;
            if refused.1.is_none() {
                refused.1 = first;
            }
            pre.merge(&part.worker.call(|p| p.metrics().clone())?);
            if let (Some(d), Some(s)) = (&mut drift, part.worker.call(|p| p.drift().cloned())?) {
                d.merge(&s);
            }
        }
        let metrics = pre.summary();
        if let (n @ 1.., Some(first)) = (refused.0, &refused.1)
            && metrics.labelled == 0
        {
            // As `eddy run` over a replay: a bounded run that learned from nothing must not end
            // as a success (the dead letters are committed).
            return Err(Error::Host(eddy_host::HostError::Job(format!(
                "every labelled row was refused: {n} record(s) went to the dead letters for their label column and none was \
                 learned from (the first: {first})"
            ))));
        }
        let t = self.r.totals;
        Ok(KafkaSummary {
            operator: self.r.operators().0,
            records_in: t.records_in,
            rows_in: t.rows_in,
            predictions: t.predictions,
            models: t.models,
            dead_letters: t.dead_letters,
            embeddings: t.embeddings,
            checkpoints: t.checkpoints,
            restores: t.restores,
            restarts: t.restarts,
            elapsed: self.r.started.elapsed(),
            metrics,
            drift,
            metrics_addr: self.r.metrics_addr,
        })
    }

    fn publish_summaries(&mut self) {
        for ((t, p), part) in &self.parts {
            // A pipeline whose thread is gone reports that on its next batch.
            if let Ok(s) = part.worker.call(|p| p.metrics().summary()) {
                self.r.metrics.partition(t, *p, |m| m.summary = Some(s));
            }
        }
        self.last_summary = Instant::now();
    }
}

/// Takes one poll result: a record, or an error to report (fatal ones end the session).
fn take(
    m: rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>,
    recs: &mut Vec<Record>,
    ctx: &SourceContext,
    k: &KafkaJob,
) -> Result<()> {
    match m {
        Ok(m) => recs.push(record_of(&m)),
        Err(KafkaError::PartitionEOF(_)) => {}
        Err(KafkaError::MessageConsumptionFatal(c)) => return Err(Error::kafka("consuming", KafkaError::MessageConsumptionFatal(c))),
        // The group or a topic refused to this principal (an ACL missing): no retry helps.
        Err(e) if crate::error::denial(&e).is_some() => {
            return Err(Error::kafka(format!("consuming {} as consumer group {}", k.topics().join(", "), k.source.group), e));
        }
        Err(e) => ctx.watch.trouble(&format!("consuming: {e}")),
    }
    Ok(())
}

impl Drop for Session<'_, '_> {
    fn drop(&mut self) {
        // Closing the consumer revokes its partitions and waits until that is applied: from
        // now on the context applies rebalances itself, and a revocation this session took
        // but did not answer (it ended on an error) is answered here.
        self.consumer.context().closing.store(true, Ordering::Relaxed);
        self.queues.clear();
        let r = if matches!(self.consumer.rebalance_protocol(), RebalanceProtocol::Cooperative) {
            self.consumer.assignment().and_then(|a| self.consumer.incremental_unassign(&a))
        } else {
            self.consumer.unassign()
        };
        if let Err(e) = r {
            tracing::debug!(target: "eddy_kafka", "unassigning on close: {e}");
        }
    }
}

fn names(list: &[(String, i32)]) -> String {
    list.iter().map(|(t, p)| format!("{t}[{p}]")).collect::<Vec<_>>().join(", ")
}

fn offsets_text(parts: &BTreeMap<(String, i32), Part>) -> String {
    let mut v: Vec<String> =
        parts.iter().filter(|(_, p)| p.s.next_offset >= 0).map(|((t, p), part)| format!("{t}[{p}]@{}", part.s.next_offset)).collect();
    if v.len() > 8 {
        let more = v.len() - 8;
        v.truncate(8);
        v.push(format!("and {more} more"));
    }
    if v.is_empty() { "no offsets yet".into() } else { v.join(" ") }
}

/// `1.2 KiB`, `3.4 MiB`.
pub fn human_bytes(n: usize) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    }
}
