//! The output side: one producer for predictions, model versions, dead letters and checkpoint
//! records. With exactly-once it is transactional: everything sent between two commits, plus
//! the consumer offsets, becomes visible to `read_committed` readers at once or never. While
//! the broker is unreachable, commits are retried (with a log line); an error that requires
//! aborting the transaction is returned as retriable, so the runner starts over from the
//! last committed checkpoint.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eddy_host::{Record, Records};
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Timestamp};

use crate::client::{BrokerWatch, REQUEST_TIMEOUT, is_transient};
use crate::metrics::Metrics;
use crate::{Error, Result};

/// Producer context: broker trouble lines, and delivery failures counted.
#[derive(Debug)]
pub struct SinkContext {
    watch: BrokerWatch,
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        crate::client::log_line(&self.watch, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        crate::client::error_line(&self.watch, &error, reason);
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = r {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut f = self.first_failure.lock().unwrap_or_else(|p| p.into_inner());
            if f.is_none() {
                *f = Some(format!("to topic {}: {e}", m.topic()));
            }
        }
    }
}

/// The job's producer.
pub struct Sink {
    producer: ThreadedProducer<SinkContext>,
    /// The transactional id (empty when not transactional), for error messages.
    id: String,
    transactional: bool,
    in_txn: bool,
    metrics: Metrics,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("transactional", &self.transactional).field("in_txn", &self.in_txn).finish()
    }
}

impl Sink {
    /// Creates the producer; with `transactional`, `config` must hold `transactional.id`
    /// and [`Sink::init`] must run before anything is sent.
    pub fn new(config: &ClientConfig, brokers: &str, transactional: bool, metrics: Metrics) -> Result<Self> {
        let ctx = SinkContext {
            watch: BrokerWatch::new(brokers, Some(metrics.clone())),
            failed: AtomicU64::new(0),
            first_failure: Mutex::new(None),
        };
        let producer = ThreadedProducer::from_config_and_context(config, ctx).map_err(|e| Error::kafka("creating the producer", e))?;
        let id = config.get("transactional.id").unwrap_or_default().to_owned();
        Ok(Self { producer, id, transactional, in_txn: false, metrics })
    }

    fn watch(&self) -> &BrokerWatch {
        &self.producer.context().watch
    }

    /// Registers the transactional id with the broker, fencing any older producer with the
    /// same id and aborting its open transaction. Waits while the broker is unreachable.
    pub fn init(&self) -> Result<()> {
        if !self.transactional {
            return Ok(());
        }
        loop {
            match self.producer.init_transactions(REQUEST_TIMEOUT) {
                Ok(()) => {
                    self.watch().ok();
                    return Ok(());
                }
                Err(KafkaError::Transaction(e)) if e.is_retriable() => self.watch().waiting(&format!("initializing transactions: {e}"))?,
                Err(e) => return Err(Error::kafka(format!("initializing transactions with transactional id {}", self.id), e)),
            }
        }
    }

    /// Sends one record (into the open transaction, beginning one if needed). `partition`
    /// `None` lets the key choose.
    pub fn send(&mut self, topic: &str, partition: Option<i32>, r: &Record) -> Result<()> {
        let headers: Vec<(&str, Option<&[u8]>)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        self.send_parts(topic, partition, r.key.as_deref(), Some(&r.value), Some(r.timestamp).filter(|t| *t > 0), &headers)
    }

    /// Sends record `i` of a pipeline's output records.
    pub fn send_output(&mut self, topic: &str, partition: Option<i32>, records: &Records, i: usize) -> Result<()> {
        records.with_headers(i, |headers| {
            self.send_parts(
                topic,
                partition,
                records.key(i),
                Some(records.value(i)),
                Some(records.timestamp(i)).filter(|t| *t > 0),
                headers,
            )
        })
    }

    /// Sends one record given by its parts; a `None` value is a tombstone (compacted topics
    /// delete the key).
    pub fn send_parts(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: Option<i64>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<()> {
        if self.transactional && !self.in_txn {
            self.producer.begin_transaction().map_err(|e| Error::kafka("beginning a transaction", e))?;
            self.in_txn = true;
        }
        let mut h = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in headers {
            h = h.insert(Header { key: k, value: *v });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).headers(h);
        if let Some(v) = value {
            rec = rec.payload(v);
        }
        if let Some(k) = key {
            rec = rec.key(k);
        }
        if let Some(p) = partition {
            rec = rec.partition(p);
        }
        if let Some(t) = timestamp {
            rec = rec.timestamp(t);
        }
        loop {
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    rec = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
                    return Err(Error::Config(format!(
                        "a record for topic {topic} is {} bytes, more than the producer's message.max.bytes: raise it (and the broker's / topic's max.message.bytes) in [sinks.kafka.properties]",
                        value.map_or(0, <[u8]>::len)
                    )));
                }
                Err((e, _)) => {
                    // A fatal producer error hides its cause: fencing by a newer producer with
                    // the same transactional id must stop this process, not restart it.
                    if let Some((RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced, why)) = self.producer.client().fatal_error() {
                        return Err(Error::Fenced(format!("sending to {topic}: {why}")));
                    }
                    return Err(Error::kafka(format!("sending to {topic}"), e));
                }
            }
        }
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.in_txn
    }

    /// Commits the open transaction with the consumer's `offsets` (exactly once), waiting
    /// while the broker is unreachable. An error that requires an abort aborts and is
    /// returned (retriable).
    pub fn commit(&mut self, offsets: &TopicPartitionList, group: &ConsumerGroupMetadata, group_id: &str) -> Result<()> {
        if !self.in_txn {
            self.producer.begin_transaction().map_err(|e| Error::kafka("beginning a transaction", e))?;
            self.in_txn = true;
        }
        // commit_transaction flushes too, but its wait is served from here: see `settle`.
        self.settle();
        let what = format!("sending the offsets of consumer group {group_id} to the transaction of transactional id {}", self.id);
        self.txn_step(&what, |p| p.send_offsets_to_transaction(offsets, group, REQUEST_TIMEOUT))?;
        let what = format!("committing the transaction of transactional id {}", self.id);
        self.txn_step(&what, |p| p.commit_transaction(REQUEST_TIMEOUT))?;
        self.in_txn = false;
        Ok(())
    }

    fn txn_step(&mut self, what: &str, f: impl Fn(&ThreadedProducer<SinkContext>) -> rdkafka::error::KafkaResult<()>) -> Result<()> {
        loop {
            match f(&self.producer) {
                Ok(()) => {
                    self.watch().ok();
                    return Ok(());
                }
                Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                    // A record the transaction held could not be delivered (say, to a topic
                    // this principal may not write to): name it.
                    let first = self.producer.context().first_failure.lock().unwrap_or_else(|p| p.into_inner()).take();
                    self.producer.context().failed.store(0, Ordering::Relaxed);
                    self.abort();
                    let refused = crate::client::take_refused_partitions();
                    let because = match &refused {
                        Some(parts) => format!("; the brokers refused to add partition(s) {parts} to it"),
                        None => first.map(|f| format!("; the first record it could not deliver went {f}")).unwrap_or_default(),
                    };
                    let context = format!("{what} (the transaction was aborted{because})");
                    let e = KafkaError::Transaction(e);
                    // The coordinator's refusal may surface as the next call's "Erroneous
                    // state" (send_offsets after the add-partitions request failed): it is a
                    // refusal all the same, which no retry fixes.
                    return Err(if refused.is_some() {
                        Error::denied("topic authorization failed", &context, &e)
                    } else {
                        Error::kafka(context, e)
                    });
                }
                Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                    crate::client::check_denied()?;
                    self.watch().trouble(&format!("{what}: {e}"))
                }
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    self.watch().trouble(&format!("{what}: delivering the transaction's records timed out"))
                }
                Err(e) => {
                    self.in_txn = false;
                    return Err(Error::kafka(what, e));
                }
            }
        }
    }

    /// Aborts the open transaction, if any (best effort: a producer that cannot abort is
    /// replaced by the runner, and its successor's `init` aborts the transaction).
    pub fn abort(&mut self) {
        if !self.in_txn {
            return;
        }
        self.in_txn = false;
        self.metrics.lock().aborts += 1;
        for _ in 0..6 {
            match self.producer.abort_transaction(REQUEST_TIMEOUT) {
                Ok(()) => return,
                Err(KafkaError::Transaction(e)) if e.is_retriable() => self.watch().trouble(&format!("aborting the transaction: {e}")),
                Err(e) => {
                    tracing::warn!(target: "eddy_kafka", "aborting the transaction failed ({e}); the next producer will abort it");
                    return;
                }
            }
        }
    }

    /// Waits (at most the request timeout) until the producer holds nothing unacknowledged,
    /// looking every millisecond. rust-rdkafka's `flush` waits in steps of 100 ms (it polls a
    /// queue that the threaded producer's own thread serves as well), which cost up to 100 ms
    /// a checkpoint; after this it returns at once.
    fn settle(&self) {
        let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
        while self.producer.in_flight_count() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until everything sent is acknowledged (at least once); an error if any record
    /// could not be delivered.
    pub fn flush(&self) -> Result<()> {
        self.settle();
        loop {
            match self.producer.flush(REQUEST_TIMEOUT) {
                Ok(()) => break,
                Err(e) if is_transient(&e) => self.watch().trouble(&format!("delivering records: {e}")),
                Err(e) => return Err(Error::kafka("delivering records", e)),
            }
        }
        let ctx = self.producer.context();
        if ctx.failed.swap(0, Ordering::Relaxed) > 0 {
            let first = ctx.first_failure.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
            return Err(Error::kafka(format!("delivering records ({first})"), KafkaError::Flush(RDKafkaErrorCode::MessageTimedOut)));
        }
        Ok(())
    }

    /// Current time as a Kafka timestamp (ms), for records that have none of their own.
    pub fn now_ms() -> i64 {
        Timestamp::now().to_millis().unwrap_or(0)
    }
}
