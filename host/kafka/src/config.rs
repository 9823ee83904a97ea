//! The Kafka parts of a job file, `[source.kafka]` and `[sinks.kafka]`, checked once and
//! turned into librdkafka client configs. Names are part of the user contract:
//!
//! ```toml
//! [source]
//! format = "json"                          # or "arrow", as for replays
//! [source.kafka]
//! brokers = "127.0.0.1:9092"               # bootstrap servers
//! topics = ["clicks"]                      # or topic = "clicks"
//! group = "eddy-clicks"                    # consumer group; also names the checkpoints
//! start = "earliest"                       # where a partition without a checkpoint starts: earliest | latest
//! stop_at_end = false                      # true: stop once caught up with the end offsets seen at start
//! startup_timeout_ms = 30000               # stop_at_end jobs: fail if brokers or input topics are not there by then
//! [source.kafka.properties]                # any librdkafka setting, for every client (TLS, SASL, ...)
//! "security.protocol" = "SASL_SSL"
//!
//! [sinks.kafka]
//! predictions = "clicks-predictions"       # each optional but checkpoints
//! models = "clicks-models"
//! dead_letters = "clicks-dead-letters"     # without it a bad record stops the job
//! embeddings = "clicks-embeddings"         # embedders: changed vectors (compacted)
//! drift = "clicks-drift"                   # one record per drift detection ([drift] in the job)
//! checkpoints = "clicks-checkpoints"       # compacted; created so when missing
//! exactly_once = true                      # one transaction per checkpoint (default)
//! checkpoint_interval_ms = 1000
//! transactional_id = "eddy-clicks-0"       # default "eddy-<group>"; one per process
//! create_topics = true                     # create missing output topics
//! chunk_bytes = 524288                     # snapshots larger than this are split
//! [sinks.kafka.properties]                 # librdkafka settings for the producer only
//! "compression.type" = "lz4"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_host::job::Job;
use rdkafka::ClientConfig;
use serde::Deserialize;

use crate::{Error, Result};

/// Where a partition that has no checkpoint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// The partition's first retained record.
    #[default]
    Earliest,
    /// Records produced after the partition is assigned.
    Latest,
}

/// `[source.kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// One topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// Several topics.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Consumer group id.
    pub group: String,
    /// Where a partition without a checkpoint starts.
    #[serde(default)]
    pub start: StartAt,
    /// Stop once every assigned partition reached the end offset seen at start.
    #[serde(default)]
    pub stop_at_end: bool,
    /// With `stop_at_end`: how long start-up may wait for unreachable brokers or a missing
    /// input topic before the job fails, naming them (a script running a bounded job gets an
    /// error instead of a hang). Jobs without `stop_at_end` wait as long as it takes.
    #[serde(default = "default_startup_timeout_ms")]
    pub startup_timeout_ms: u64,
    /// librdkafka settings for every client of the job.
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
}

fn default_startup_timeout_ms() -> u64 {
    30_000
}

/// `[sinks.kafka]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Bootstrap servers of the output cluster (default: the source's).
    #[serde(default)]
    pub brokers: Option<String>,
    /// Prediction topic.
    #[serde(default)]
    pub predictions: Option<String>,
    /// Model version topic.
    #[serde(default)]
    pub models: Option<String>,
    /// Dead-letter topic.
    #[serde(default)]
    pub dead_letters: Option<String>,
    /// Changed embeddings of an embedder, keyed by id, tombstones for evicted ids (created
    /// compacted). Without it they go to `models`.
    #[serde(default)]
    pub embeddings: Option<String>,
    /// Drift detections, one record per detection, key the input partition (needs `[drift]
    /// enabled`, the default).
    #[serde(default)]
    pub drift: Option<String>,
    /// Checkpoint topic (compacted).
    pub checkpoints: String,
    /// Transactions on (exactly once) or off (at least once).
    #[serde(default = "yes")]
    pub exactly_once: bool,
    /// Milliseconds between checkpoints.
    #[serde(default = "default_interval")]
    pub checkpoint_interval_ms: u64,
    /// The producer's `transactional.id`.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// Create missing topics.
    #[serde(default = "yes")]
    pub create_topics: bool,
    /// Snapshot chunk size in bytes.
    #[serde(default = "default_chunk")]
    pub chunk_bytes: usize,
    /// librdkafka settings for the producer.
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
}

fn yes() -> bool {
    true
}
fn default_interval() -> u64 {
    1000
}
fn default_chunk() -> usize {
    512 * 1024
}

/// Everything the Kafka runner needs from a job file.
#[derive(Debug, Clone)]
pub struct KafkaJob {
    /// `[source.kafka]`.
    pub source: SourceConfig,
    /// `[sinks.kafka]`.
    pub sinks: SinkConfig,
}

impl KafkaJob {
    /// Reads and checks `[source.kafka]` and `[sinks.kafka]` of `job`.
    pub fn from_job(job: &Job) -> Result<Self> {
        let source = job.source.kafka.clone().ok_or_else(|| Error::Config("the job has no [source.kafka]".into()))?;
        let source: SourceConfig =
            source.try_into().map_err(|e: toml::de::Error| Error::Config(format!("[source.kafka]: {}", e.message())))?;
        let sinks =
            job.sinks.kafka.clone().ok_or_else(|| {
                Error::Config("a job with [source.kafka] needs [sinks.kafka] (at least `checkpoints = \"topic\"`)".into())
            })?;
        let sinks: SinkConfig = sinks.try_into().map_err(|e: toml::de::Error| Error::Config(format!("[sinks.kafka]: {}", e.message())))?;
        if job.source.replay.is_some() {
            return Err(Error::Config("set either source.replay or [source.kafka], not both".into()));
        }
        let files = [
            ("predictions", &job.sinks.predictions),
            ("models", &job.sinks.models),
            ("dead_letters", &job.sinks.dead_letters),
            ("embeddings", &job.sinks.embeddings),
            ("drift", &job.sinks.drift),
        ];
        for (name, set) in files {
            if set.is_some() {
                return Err(Error::Config(format!(
                    "sinks.{name} is a file sink; with [source.kafka] name a topic in [sinks.kafka] instead (sinks.kafka.{name})"
                )));
            }
        }
        let k = KafkaJob { source, sinks };
        if k.topics().is_empty() {
            return Err(Error::Config("[source.kafka] names no topic: set `topic` or `topics`".into()));
        }
        if k.source.group.is_empty() {
            return Err(Error::Config("source.kafka.group is empty".into()));
        }
        if k.sinks.checkpoint_interval_ms == 0 {
            return Err(Error::Config("sinks.kafka.checkpoint_interval_ms must be at least 1".into()));
        }
        if k.sinks.chunk_bytes < 64 {
            return Err(Error::Config("sinks.kafka.chunk_bytes must be at least 64".into()));
        }
        let outputs = [&k.sinks.predictions, &k.sinks.models, &k.sinks.dead_letters, &k.sinks.embeddings, &k.sinks.drift];
        for t in outputs.iter().filter_map(|t| t.as_ref()).chain([&k.sinks.checkpoints]) {
            if k.topics().contains(t) {
                return Err(Error::Config(format!("topic {t:?} is both an input and an output")));
            }
        }
        Ok(k)
    }

    /// Input topics.
    pub fn topics(&self) -> Vec<String> {
        let mut t = self.source.topics.clone();
        if let Some(one) = &self.source.topic {
            t.insert(0, one.clone());
        }
        t.dedup();
        t
    }

    /// The producer's transactional id.
    pub fn transactional_id(&self) -> String {
        self.sinks.transactional_id.clone().unwrap_or_else(|| format!("eddy-{}", self.source.group))
    }

    /// Time between checkpoints.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.sinks.checkpoint_interval_ms)
    }

    /// Whether refused records go to a dead-letter topic.
    pub fn dead_letters(&self) -> bool {
        self.sinks.dead_letters.is_some()
    }

    /// Base settings every client of the job shares: brokers and `[source.kafka.properties]`.
    pub fn base_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.source.brokers);
        apply(&mut c, &self.source.properties);
        c
    }

    /// The input consumer: group member, read_committed, offsets managed by eddy.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("group.id", &self.source.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", if self.source.start == StartAt::Latest { "latest" } else { "earliest" })
            // Static membership: a restarted process takes its old place at once instead of
            // waiting for the dead one's session to time out.
            .set("group.instance.id", self.transactional_id())
            .set("session.timeout.ms", "10000")
            .set("statistics.interval.ms", "1000");
        merge(self.base_config(), c)
    }

    /// A consumer that reads checkpoints: assigned partitions, never joining a group nor
    /// committing. librdkafka's `assign` needs a `group.id` and looks up its coordinator: the
    /// job's own group, so that the job's principal needs no ACL on a second group.
    pub fn checkpoint_reader_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("group.id", &self.source.group)
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest");
        merge(self.sink_base_config(), c)
    }

    fn sink_base_config(&self) -> ClientConfig {
        let mut c = self.base_config();
        if let Some(b) = &self.sinks.brokers {
            c.set("bootstrap.servers", b);
        }
        c
    }

    /// The producer: transactional when exactly once, idempotent always.
    pub fn producer_config(&self) -> ClientConfig {
        let mut c = self.sink_base_config();
        c.set("enable.idempotence", "true").set("linger.ms", "5");
        if self.sinks.exactly_once {
            let timeout = (self.sinks.checkpoint_interval_ms * 10).clamp(60_000, 900_000);
            c.set("transactional.id", self.transactional_id()).set("transaction.timeout.ms", timeout.to_string());
        }
        apply(&mut c, &self.sinks.properties);
        c
    }

    /// An admin client for topic creation.
    pub fn admin_config(&self) -> ClientConfig {
        self.sink_base_config()
    }
}

/// Sets every `properties` entry on `c` (numbers and booleans as their text).
pub fn apply(c: &mut ClientConfig, props: &BTreeMap<String, toml::Value>) {
    for (k, v) in props {
        let v = match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        c.set(k, v);
    }
}

/// `base` with every setting of `over` set on top, except those already in `base` from the
/// user's properties: the user's passthrough wins over eddy's defaults. (Values are read with
/// `get`: `config_map` hides secrets such as `sasl.password` behind a placeholder.)
fn merge(base: ClientConfig, over: ClientConfig) -> ClientConfig {
    let mut c = over;
    for k in base.config_map().keys() {
        if let Some(v) = base.get(k) {
            c.set(*k, v);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn job(extra: &str) -> Job {
        job_with(extra, &[])
    }

    fn job_with(extra: &str, sets: &[String]) -> Job {
        let text = format!(
            r#"
            [source]
            format = "json"
            [source.kafka]
            brokers = "b:1"
            topic = "in"
            group = "g"
            [source.kafka.properties]
            "security.protocol" = "ssl"
            "session.timeout.ms" = 6000
            "sasl.password" = "s3cret"
            [operator]
            component = "ftrl"
            [sinks.kafka]
            predictions = "p"
            checkpoints = "c"
            {extra}
            "#
        );
        Job::parse(&text, Path::new("."), sets).unwrap()
    }

    #[test]
    fn the_transactional_id_the_fenced_error_suggests_can_be_set_from_the_command_line() {
        let k = KafkaJob::from_job(&job_with("", &["sinks.kafka.transactional_id=eddy-g-2".into()])).unwrap();
        assert_eq!(k.transactional_id(), "eddy-g-2");
        assert_eq!(k.producer_config().get("transactional.id"), Some("eddy-g-2"));
        assert_eq!(k.consumer_config().get("group.instance.id"), Some("eddy-g-2"));
    }

    #[test]
    fn defaults_and_passthrough() {
        let k = KafkaJob::from_job(&job("")).unwrap();
        assert_eq!(k.topics(), ["in"]);
        assert!(k.sinks.exactly_once);
        assert_eq!(k.transactional_id(), "eddy-g");
        let c = k.consumer_config();
        assert_eq!(c.get("security.protocol"), Some("ssl"));
        assert_eq!(c.get("session.timeout.ms"), Some("6000"), "user settings win over eddy's defaults");
        assert_eq!(c.get("isolation.level"), Some("read_committed"));
        let p = k.producer_config();
        assert_eq!(p.get("transactional.id"), Some("eddy-g"));
        for c in [k.consumer_config(), k.checkpoint_reader_config(), k.producer_config(), k.admin_config()] {
            assert_eq!(c.get("sasl.password"), Some("s3cret"), "secrets reach every client as they are");
        }
        assert_eq!(p.get("security.protocol"), Some("ssl"));
        assert!(!k.dead_letters());
    }

    #[test]
    fn mistakes_are_named() {
        let e = KafkaJob::from_job(&job("exactly_onc = true")).unwrap_err();
        assert!(e.to_string().contains("exactly_onc"), "{e}");
        let e = KafkaJob::from_job(&job("models = \"in\"")).unwrap_err();
        assert!(e.to_string().contains("both an input and an output"), "{e}");
        let e = KafkaJob::from_job(&job("drift = \"in\"")).unwrap_err();
        assert!(e.to_string().contains("both an input and an output"), "{e}");
        assert_eq!(KafkaJob::from_job(&job("drift = \"d\"")).unwrap().sinks.drift.as_deref(), Some("d"));
        let j = Job::parse(
            "[source.kafka]\nbrokers='b'\ntopic='t'\ngroup='g'\n[operator]\ncomponent='ftrl'\n[sinks]\npredictions='x.replay'\n[sinks.kafka]\ncheckpoints='c'",
            Path::new("."),
            &[],
        )
        .unwrap();
        let e = KafkaJob::from_job(&j).unwrap_err();
        assert!(e.to_string().contains("sinks.kafka.predictions"), "{e}");
    }
}
