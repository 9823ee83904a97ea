//! What every Kafka client of eddy shares: librdkafka's log and error callbacks turned into
//! readable, rate-limited lines ("the broker is unreachable, eddy keeps retrying" rather than
//! a connection error every second), the consumer context that hands rebalances to the
//! runner, topic metadata, topic creation, and record conversion.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eddy_host::Record;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

use crate::metrics::Metrics;
use crate::{Error, Result};

/// How long one metadata or watermark request may take before eddy says it is waiting.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Broker trouble as reported so far, process-wide: every client of a run (consumer, producer,
/// checkpoint reader, admin) reports through it, so an outage is said once (see [`Outage`]).
static OUTAGE: Mutex<Outage> = Mutex::new(Outage { since: None, reported: None, recovered: None });

/// When to say that the brokers are away, and when that they are back: a line when trouble
/// starts and every 10 s while it lasts, one when a request succeeds again. Right after
/// recovering (2 s), trouble is said only once it has lasted 2 s: a connection the restarted
/// broker had not yet opened, or one it closed, is not an outage.
#[derive(Debug)]
struct Outage {
    /// When the current run of trouble began (None while requests succeed).
    since: Option<Instant>,
    /// When the last "unreachable" line was written, if one was since the last recovery.
    reported: Option<Instant>,
    /// When the last "answers again" line was written.
    recovered: Option<Instant>,
}

impl Outage {
    /// Whether trouble seen now should be written (and notes it).
    fn trouble(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        let report = match self.reported {
            Some(t) => now.duration_since(t) >= Duration::from_secs(10),
            None => {
                self.recovered.is_none_or(|r| now.duration_since(r) >= Duration::from_secs(2))
                    || now.duration_since(since) >= Duration::from_secs(2)
            }
        };
        if report {
            self.reported = Some(now);
        }
        report
    }

    /// Whether a success seen now ends a reported outage (and notes it).
    fn ok(&mut self, now: Instant) -> bool {
        self.since = None;
        let back = self.reported.take().is_some();
        if back {
            self.recovered = Some(now);
        }
        back
    }
}

/// While a bounded job starts: when start-up began and how long it may take (see
/// [`start_up_within`]). Process-wide, like [`OUTAGE`]: every client of the run waits
/// on the same brokers.
static START_UP: Mutex<Option<(Instant, Duration)>> = Mutex::new(None);

/// Whether the job is bounded (`stop_at_end`): then a broker refusing its credentials ends
/// it ([`check_denied`]) instead of being waited out.
static BOUNDED: AtomicBool = AtomicBool::new(false);

/// The first time a broker refused the job's credentials or TLS handshake, as librdkafka
/// reported it (its error callback; the calls themselves then only time out): which brokers
/// and why. Process-wide, like [`OUTAGE`].
static REFUSED: Mutex<Option<(String, String)>> = Mutex::new(None);

/// From now on, waiting for brokers or topics fails after `limit` ([`BrokerWatch::waiting`],
/// [`starting_up`]); `None` waits as long as it takes. Until [`started`]. With a limit the job
/// is bounded: an authentication failure then ends it at any time ([`check_denied`]).
pub fn start_up_within(limit: Option<Duration>) {
    BOUNDED.store(limit.is_some(), Ordering::Relaxed);
    *START_UP.lock().unwrap_or_else(|p| p.into_inner()) = limit.map(|l| (Instant::now(), l));
}

/// `Err(Error::Denied)` if a broker refused a bounded job's credentials or TLS handshake
/// (no retry fixes that); an unbounded job keeps retrying, saying why every 10 s, since the
/// credentials may be fixed on the broker's side while it waits.
pub fn check_denied() -> Result<()> {
    if !BOUNDED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match &*REFUSED.lock().unwrap_or_else(|p| p.into_inner()) {
        Some((brokers, why)) => Err(Error::Denied(format!(
            "{why} at Kafka broker {brokers}. Check sasl.username, sasl.password, sasl.mechanisms and the ssl.* settings \
             in [source.kafka.properties]"
        ))),
        None => Ok(()),
    }
}

/// Start-up is over (the consumer got its partitions): waiting no longer fails.
pub fn started() {
    *START_UP.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// `Err(Error::Startup)` once a bounded job's start-up took longer than it may, saying what
/// it was waiting for (`what`, a sentence naming the brokers or the topic).
pub fn starting_up(what: impl FnOnce() -> String) -> Result<()> {
    check_denied()?;
    let limit = *START_UP.lock().unwrap_or_else(|p| p.into_inner());
    match limit {
        Some((since, limit)) if since.elapsed() >= limit => Err(Error::Startup(format!(
            "{} after {:.0} s of start-up; a stop_at_end job gives up after source.kafka.startup_timeout_ms = {} \
             (raise it to wait longer)",
            what(),
            since.elapsed().as_secs_f64(),
            limit.as_millis()
        ))),
        _ => Ok(()),
    }
}

/// Rate-limited reporting of broker trouble, shared by a client's callbacks.
#[derive(Debug)]
pub struct BrokerWatch {
    brokers: String,
    metrics: Option<Metrics>,
}

impl BrokerWatch {
    /// Watches the cluster at `brokers`.
    pub fn new(brokers: &str, metrics: Option<Metrics>) -> Self {
        Self { brokers: brokers.to_owned(), metrics }
    }

    /// Reports trouble (at most one line every 10 s).
    pub fn trouble(&self, what: &str) {
        if let Some(m) = &self.metrics {
            m.lock().broker_up = false;
        }
        if OUTAGE.lock().unwrap_or_else(|p| p.into_inner()).trouble(Instant::now()) {
            tracing::warn!(target: "eddy_kafka", "Kafka broker {} unreachable or failing ({what}); eddy waits and keeps retrying", self.brokers);
        }
    }

    /// Reports trouble as [`BrokerWatch::trouble`] does, from a loop that waits for the
    /// brokers: past a bounded job's start-up time it fails instead ([`starting_up`]), and at
    /// once when a broker refused a bounded job's credentials ([`check_denied`]).
    pub fn waiting(&self, what: &str) -> Result<()> {
        check_denied()?;
        self.trouble(what);
        starting_up(|| format!("Kafka broker {} still unreachable or failing ({what})", self.brokers))
    }

    /// Notes that the broker answered a request.
    pub fn ok(&self) {
        if let Some(m) = &self.metrics {
            m.lock().broker_up = true;
        }
        if OUTAGE.lock().unwrap_or_else(|p| p.into_inner()).ok(Instant::now()) {
            tracing::info!(target: "eddy_kafka", "Kafka broker {} answers again", self.brokers);
        }
    }
}

/// The partitions the transaction coordinator refused to add to a transaction for want of an
/// ACL, as librdkafka logs them (`Failed to add partition "t" [0] to transaction: Broker:
/// Topic authorization failed`): the error the commit then returns does not name the topic.
static REFUSED_PARTITIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Takes the partitions [`REFUSED_PARTITIONS`] holds, as `"t" [0], ...`.
pub(crate) fn take_refused_partitions() -> Option<String> {
    let mut v = REFUSED_PARTITIONS.lock().unwrap_or_else(|p| p.into_inner());
    if v.is_empty() {
        return None;
    }
    let text = v.join(", ");
    v.clear();
    Some(text)
}

pub(crate) fn log_line(watch: &BrokerWatch, level: RDKafkaLogLevel, fac: &str, msg: &str) {
    if fac == "ADDPARTS"
        && msg.contains("authorization failed")
        && let Some(part) = msg.split("Failed to add partition ").nth(1).and_then(|m| m.split(" to transaction").next())
    {
        REFUSED_PARTITIONS.lock().unwrap_or_else(|p| p.into_inner()).push(part.to_owned());
    }
    match outage_line(fac, msg) {
        OutageLine::Trouble => {
            tracing::debug!(target: "librdkafka", "{fac} {msg}");
            watch.trouble(msg);
        }
        OutageLine::Quiet => tracing::debug!(target: "librdkafka", "{fac} {msg}"),
        OutageLine::Other if (level as i32) <= (RDKafkaLogLevel::Warning as i32) && fac != "METADATAUPDATE" => {
            tracing::warn!(target: "librdkafka", "{fac} {msg}")
        }
        OutageLine::Other => tracing::debug!(target: "librdkafka", "{fac} {msg}"),
    }
}

/// What a librdkafka log line means for the outage report.
#[derive(Debug, PartialEq, Eq)]
enum OutageLine {
    /// The broker cannot be reached, or a request to it timed out: reported through
    /// [`BrokerWatch::trouble`] (one line every 10 s), the line itself at debug level.
    Trouble,
    /// A consequence of an outage eddy reports itself, in its own words (a session lost, eddy's
    /// consumer fenced when it rejoins after one, a connection closed that librdkafka reopens
    /// at once): debug level only.
    Quiet,
    /// Anything else: logged at its own level.
    Other,
}

fn outage_line(fac: &str, msg: &str) -> OutageLine {
    // A socket the broker closed (a restart, an idle timeout) is reopened by librdkafka at
    // once; if the broker is really gone, the reconnection fails and says so.
    if fac == "DISCONNECT" || msg.contains("Disconnected") || msg.contains("connection closed by peer") {
        return OutageLine::Quiet;
    }
    // Connection failures repeat every second while a broker is down.
    if matches!(fac, "FAIL" | "BROKERFAIL" | "REQTMOUT" | "ERROR") || msg.contains("Connection refused") || msg.contains("Timed out") {
        return OutageLine::Trouble;
    }
    // The runner logs "the consumer group took ... away (session lost); starting over from
    // the last committed checkpoint" for these.
    if fac == "SESSTMOUT" || (fac == "FATAL" && msg.contains("fenced")) || msg.contains("FencedInstanceId") {
        return OutageLine::Quiet;
    }
    OutageLine::Other
}

pub(crate) fn error_line(watch: &BrokerWatch, error: &KafkaError, reason: &str) {
    match error.rdkafka_error_code() {
        Some(code @ (RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed | RDKafkaErrorCode::SSL)) => {
            let why = if code == RDKafkaErrorCode::SSL { "TLS handshake failed" } else { crate::error::AUTHENTICATION_FAILED };
            let mut refused = REFUSED.lock().unwrap_or_else(|p| p.into_inner());
            if refused.is_none() {
                *refused = Some((watch.brokers.clone(), format!("{why} ({reason})")));
            }
            drop(refused);
            // A bounded job stops on it (check_denied); an unbounded one waits, saying why.
            if !BOUNDED.load(Ordering::Relaxed) {
                watch.trouble(&format!("{why}: {reason}"));
            }
        }
        // Refusals by the authorizer come back from the call that was refused, as an error
        // naming the resource (Error::Denied): no second line here.
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed,
        ) => tracing::debug!(target: "eddy_kafka", "Kafka: {error}: {reason}"),
        // librdkafka's own text ("1/1 brokers are down", and "0/2 brokers are down" while a
        // restarted broker is known under two names) reads as a contradiction: say what it means.
        Some(RDKafkaErrorCode::AllBrokersDown) => watch.trouble("no broker answers"),
        Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::Resolve | RDKafkaErrorCode::OperationTimedOut) => {
            watch.trouble(reason)
        }
        // eddy's consumer fenced when it rejoins after an outage: the runner starts over
        // from the last committed checkpoint and says so.
        Some(RDKafkaErrorCode::FencedInstanceId) => tracing::debug!(target: "eddy_kafka", "Kafka: {error}: {reason}"),
        _ => tracing::warn!(target: "eddy_kafka", "Kafka: {error}: {reason}"),
    }
}

/// Context of producers and admin clients.
#[derive(Debug)]
pub struct QuietContext {
    /// Broker trouble reporting.
    pub watch: BrokerWatch,
}

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(&self.watch, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        error_line(&self.watch, &error, reason);
    }
}

impl ConsumerContext for QuietContext {}

/// A partition assignment change, for the runner to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebalance {
    /// These partitions are now ours.
    Assign(Vec<(String, i32)>),
    /// These partitions are being taken away.
    Revoke(Vec<(String, i32)>),
    /// The group protocol failed.
    Error(String),
}

/// Context of the input consumer: queues rebalances instead of applying them, so the runner
/// can commit or restore first and then call `assign`/`unassign` itself; records lag from
/// librdkafka's statistics.
#[derive(Debug)]
pub struct SourceContext {
    /// Broker trouble reporting.
    pub watch: BrokerWatch,
    /// Rebalances not handled yet.
    pub events: Mutex<VecDeque<Rebalance>>,
    /// Set when the consumer is being closed: rebalances are then applied at once (the
    /// close waits for them), since nothing is committed any more.
    pub closing: AtomicBool,
    metrics: Metrics,
}

impl SourceContext {
    /// A context reporting to `metrics`.
    pub fn new(brokers: &str, metrics: Metrics) -> Self {
        Self {
            watch: BrokerWatch::new(brokers, Some(metrics.clone())),
            events: Mutex::new(VecDeque::new()),
            closing: AtomicBool::new(false),
            metrics,
        }
    }

    /// Takes the queued rebalances.
    pub fn take_events(&self) -> Vec<Rebalance> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
    }

    /// Whether a rebalance is waiting.
    pub fn has_events(&self) -> bool {
        !self.events.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(&self.watch, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        error_line(&self.watch, &error, reason);
    }
    fn stats(&self, s: Statistics) {
        let mut m = self.metrics.lock();
        for (topic, t) in &s.topics {
            for (p, ps) in &t.partitions {
                if let Some(pm) = m.partitions.get_mut(&(topic.clone(), *p)) {
                    let end = if ps.ls_offset >= 0 { ps.ls_offset } else { ps.hi_offset };
                    if end >= 0 {
                        pm.end_offset = Some(end);
                    }
                }
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        if self.closing.load(Ordering::Relaxed) {
            let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
            let r = match (err, cooperative) {
                (RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, true) => consumer.incremental_assign(tpl),
                (RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, false) => consumer.assign(tpl),
                (_, true) => consumer.incremental_unassign(tpl),
                (_, false) => consumer.unassign(),
            };
            if let Err(e) = r {
                tracing::debug!(target: "eddy_kafka", "rebalance while closing: {e}");
            }
            return;
        }
        let parts = partitions_of(tpl);
        let ev = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => Rebalance::Assign(parts),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => Rebalance::Revoke(parts),
            other => Rebalance::Error(format!("{:?}", RDKafkaErrorCode::from(other))),
        };
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push_back(ev);
    }
}

/// The (topic, partition) pairs of a list.
pub fn partitions_of(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect()
}

/// A consumed message as an eddy record.
pub fn record_of(m: &BorrowedMessage<'_>) -> Record {
    Record {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis().unwrap_or(0),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers: m.headers().map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec))).collect()).unwrap_or_default(),
    }
}

/// The partition count of `topic`, or `None` if it does not exist. Waits (with a log line)
/// while the broker is unreachable.
pub fn partition_count<C: ClientContext>(client: &Client<C>, topic: &str, watch: &BrokerWatch) -> Result<Option<usize>> {
    loop {
        match client.fetch_metadata(Some(topic), REQUEST_TIMEOUT) {
            Ok(md) => {
                watch.ok();
                let Some(t) = md.topics().iter().find(|t| t.name() == topic) else { return Ok(None) };
                return match t.error() {
                    None if !t.partitions().is_empty() => Ok(Some(t.partitions().len())),
                    None => Ok(None),
                    Some(e) => match RDKafkaErrorCode::from(e) {
                        RDKafkaErrorCode::UnknownTopicOrPartition => Ok(None),
                        RDKafkaErrorCode::LeaderNotAvailable => {
                            std::thread::sleep(Duration::from_millis(200));
                            continue;
                        }
                        other => Err(Error::kafka(format!("metadata of topic {topic}"), KafkaError::MetadataFetch(other))),
                    },
                };
            }
            Err(e) if is_transient(&e) => watch.waiting(&format!("metadata of topic {topic}: {e}"))?,
            Err(e) => return Err(Error::kafka(format!("metadata of topic {topic}"), e)),
        }
    }
}

/// Errors that mean "not now": timeouts and unreachable brokers.
pub fn is_transient(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::TimedOutQueue
                | RDKafkaErrorCode::UnknownTopicOrPartition
        )
    )
}

/// A topic eddy may create.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: usize,
    /// Topic configs, e.g. `cleanup.policy=compact`.
    pub configs: Vec<(String, String)>,
}

/// Creates the topics that do not exist yet (replication factor: the broker's default).
/// Returns each topic's partition count. Waits while the broker is unreachable.
pub fn ensure_topics(config: &ClientConfig, brokers: &str, topics: &[TopicSpec], create: bool) -> Result<Vec<usize>> {
    let mut config = config.clone();
    config.set("allow.auto.create.topics", "false");
    let watch = BrokerWatch::new(brokers, None);
    let admin: AdminClient<QuietContext> =
        AdminClient::from_config_and_context(&config, QuietContext { watch: BrokerWatch::new(brokers, None) })
            .map_err(|e| Error::kafka("creating the admin client", e))?;
    let mut counts = Vec::new();
    for t in topics {
        loop {
            if let Some(n) = partition_count(admin.inner(), &t.name, &watch)? {
                counts.push(n);
                break;
            }
            if !create {
                return Err(Error::Config(format!("topic {:?} does not exist (and create_topics = false)", t.name)));
            }
            let mut nt = NewTopic::new(&t.name, t.partitions.max(1) as i32, TopicReplication::Fixed(-1));
            for (k, v) in &t.configs {
                nt = nt.set(k, v);
            }
            let opts = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
            match futures_executor::block_on(admin.create_topics([&nt], &opts)) {
                Ok(results) => {
                    for r in results {
                        match r {
                            Ok(name) => {
                                tracing::info!(target: "eddy_kafka", "created topic {name} ({} partitions{})", t.partitions.max(1), configs_text(&t.configs))
                            }
                            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                            Err((name, code)) if is_transient(&KafkaError::AdminOp(code)) => {
                                watch.waiting(&format!("creating topic {name}: {code}"))?;
                            }
                            Err((name, code)) => return Err(Error::kafka(format!("creating topic {name}"), KafkaError::AdminOp(code))),
                        }
                    }
                }
                Err(e) if is_transient(&e) => watch.waiting(&format!("creating topic {}: {e}", t.name))?,
                Err(e) => return Err(Error::kafka(format!("creating topic {}", t.name), e)),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(counts)
}

/// For each of `topics` that the broker deletes by time using the producer's timestamps
/// (`cleanup.policy` with `delete`, `message.timestamp.type=CreateTime`, `retention.ms` >= 0),
/// its `retention.ms`. eddy's outputs keep their input records' timestamps, so outputs of a
/// stream from the past are deleted at the broker's next retention check; the runner warns.
/// Best effort: a topic whose configuration cannot be read is left out.
pub fn time_retention(config: &ClientConfig, brokers: &str, topics: &[String]) -> Vec<(String, i64)> {
    let Ok(admin) = AdminClient::from_config_and_context(config, QuietContext { watch: BrokerWatch::new(brokers, None) }) else {
        return Vec::new();
    };
    let admin: AdminClient<QuietContext> = admin;
    let specs: Vec<ResourceSpecifier<'_>> = topics.iter().map(|t| ResourceSpecifier::Topic(t.as_str())).collect();
    let opts = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
    let Ok(results) = futures_executor::block_on(admin.describe_configs(&specs, &opts)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (t, r) in topics.iter().zip(results) {
        let Ok(res) = r else { continue };
        let value = |k: &str| res.get(k).and_then(|e| e.value.clone()).unwrap_or_default();
        let retention: i64 = value("retention.ms").parse().unwrap_or(-1);
        if retention >= 0 && value("cleanup.policy").contains("delete") && value("message.timestamp.type") != "LogAppendTime" {
            out.push((t.clone(), retention));
        }
    }
    out
}

fn configs_text(c: &[(String, String)]) -> String {
    c.iter().map(|(k, v)| format!(", {k}={v}")).collect()
}

/// `(low, high)` watermarks of partitions `0..partitions` of `topic`, the high one being the
/// high watermark: they are asked with a read_uncommitted client made from `config`, because
/// librdkafka answers a read_committed client with the last stable offset, which stops short of
/// a transaction still open or whose commit markers are on their way (the last one of a job that
/// just finished). A read_committed reader that goes up to the high watermark waits for such
/// transactions to settle. Waits while the broker is unreachable.
pub fn high_watermarks(config: &ClientConfig, brokers: &str, topic: &str, partitions: i32) -> Result<Vec<(i64, i64)>> {
    let mut config = config.clone();
    config.set("isolation.level", "read_uncommitted");
    let client: BaseConsumer<QuietContext> =
        BaseConsumer::from_config_and_context(&config, QuietContext { watch: BrokerWatch::new(brokers, None) })
            .map_err(|e| Error::kafka("creating the end-offset client", e))?;
    (0..partitions).map(|p| watermarks(client.client(), topic, p, &client.context().watch)).collect()
}

/// Reads `(low, high)` watermarks of a partition, waiting while the broker is unreachable.
pub fn watermarks<C: ClientContext>(client: &Client<C>, topic: &str, partition: i32, watch: &BrokerWatch) -> Result<(i64, i64)> {
    loop {
        match client.fetch_watermarks(topic, partition, REQUEST_TIMEOUT) {
            Ok(w) => {
                watch.ok();
                return Ok(w);
            }
            Err(e) if is_transient(&e) => watch.waiting(&format!("watermarks of {topic}[{partition}]: {e}"))?,
            Err(e) => return Err(Error::kafka(format!("watermarks of {topic}[{partition}]"), e)),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Outage, OutageLine, outage_line};

    #[test]
    fn an_outage_is_said_when_it_starts_every_10_s_and_when_it_ends_and_a_blip_after_it_is_not() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut o = Outage { since: None, reported: None, recovered: None };
        assert!(o.trouble(at(0)), "the first trouble is said at once");
        assert!(!o.trouble(at(5_000)));
        assert!(o.trouble(at(10_000)), "and again every 10 s");
        assert!(o.ok(at(12_000)), "the end of a reported outage is said");
        assert!(!o.ok(at(12_100)), "once");
        assert!(!o.trouble(at(12_200)), "a refused connection right after recovering is not an outage");
        assert!(!o.trouble(at(13_000)));
        assert!(!o.ok(at(13_100)), "and its end is not news");
        assert!(!o.trouble(at(13_500)));
        assert!(o.trouble(at(15_600)), "trouble that lasts 2 s is said, even right after a recovery");
        assert!(o.ok(at(16_000)));
        assert!(o.trouble(at(30_000)), "long after a recovery, trouble is said at once");
    }

    /// The lines of a broker restart as librdkafka 2.x writes them (recorded from
    /// kafka_faults::the_broker_goes_away_and_comes_back).
    #[test]
    fn outage_lines_are_sorted_into_trouble_quiet_and_other() {
        let cases = [
            (
                "FAIL",
                "127.0.0.1:30876/1: Connect to ipv4#127.0.0.1:30876 failed: Connection refused (after 0ms in state CONNECT)",
                OutageLine::Trouble,
            ),
            (
                "ADDOFFSETS",
                "TxnCoordinator/1: Failed to add offsets to transaction on broker TxnCoordinator/1: Local: Timed out",
                OutageLine::Trouble,
            ),
            (
                "FAIL",
                "127.0.0.1:30876/1: Disconnected: connection closed by peer: receive 0 after POLLIN (after 2378ms in state UP)",
                OutageLine::Quiet,
            ),
            ("SESSTMOUT", "Consumer group session timed out (in join-state steady) after 10009 ms", OutageLine::Quiet),
            ("FATAL", "Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id", OutageLine::Quiet),
            ("ADDPARTS", "Failed to add partition \"t\" [0] to transaction: Broker: Topic authorization failed", OutageLine::Other),
            ("CONFWARN", "Configuration property X is a consumer property and will be ignored", OutageLine::Other),
        ];
        for (fac, msg, want) in cases {
            assert_eq!(outage_line(fac, msg), want, "{fac} {msg}");
        }
    }
}
