//! Live topics to replay files and back: [`record`] reads a topic (every partition, from the
//! beginning, `read_committed`) until a bound; [`produce`] writes records into a topic,
//! keeping their partitions, keys, timestamps and headers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_host::Record;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::client::{BrokerWatch, QuietContext, TopicSpec, ensure_topics, high_watermarks, partition_count, record_of};
use crate::metrics::Metrics;
use crate::sink::Sink;
use crate::{Error, Result};

/// When [`record`] stops (the first bound reached; at least one must be set).
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// After this many records.
    pub count: Option<u64>,
    /// After this much time.
    pub timeout: Option<Duration>,
    /// Once every partition reached the end offset (high watermark) it had when recording
    /// started; transactions open then are waited for.
    pub until_end: bool,
}

fn client_config(brokers: &str, properties: &[(String, String)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in properties {
        c.set(k, v);
    }
    c
}

/// Reads `topic` from the beginning of every partition until a bound is reached; records are
/// returned ordered by partition, then offset. `properties` are librdkafka settings (TLS, SASL).
pub fn record(brokers: &str, topic: &str, properties: &[(String, String)], bounds: &Bounds) -> Result<Vec<Record>> {
    if bounds.count.is_none() && bounds.timeout.is_none() && !bounds.until_end {
        return Err(Error::Config("give a bound: a count, a timeout, or until-end".into()));
    }
    let mut config = client_config(brokers, &[]);
    config
        .set("group.id", format!("eddy-record-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "false");
    for (k, v) in properties {
        config.set(k, v);
    }
    let consumer: BaseConsumer<QuietContext> =
        BaseConsumer::from_config_and_context(&config, QuietContext { watch: BrokerWatch::new(brokers, None) })
            .map_err(|e| Error::kafka("creating the consumer", e))?;
    let watch = &consumer.context().watch;
    let n =
        partition_count(consumer.client(), topic, watch)?.ok_or_else(|| Error::Config(format!("topic {topic:?} does not exist")))? as i32;
    let mut ends = BTreeMap::new();
    if bounds.until_end {
        // The high watermark, so that a transaction settling now is waited for.
        for (p, w) in high_watermarks(&config, brokers, topic, n)?.into_iter().enumerate() {
            ends.insert(p as i32, w);
        }
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..n {
        tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| Error::kafka("assignment", e))?;
    }
    consumer.assign(&tpl).map_err(|e| Error::kafka("assigning partitions", e))?;
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        if bounds.count.is_some_and(|c| out.len() as u64 >= c) || bounds.timeout.is_some_and(|t| start.elapsed() >= t) {
            break;
        }
        if bounds.until_end {
            let pos = consumer.position().map_err(|e| Error::kafka("position", e))?;
            let done = ends.iter().all(|(p, (lo, hi))| {
                let at = match pos.find_partition(topic, *p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => -1,
                };
                hi <= lo || at >= *hi
            });
            if done {
                break;
            }
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(record_of(&m)),
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => watch.trouble(&format!("reading {topic}: {e}")),
        }
    }
    if let Some(c) = bounds.count {
        out.truncate(c as usize);
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    Ok(out)
}

/// What [`produce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Records written.
    pub records: u64,
    /// Partitions of the topic.
    pub partitions: i32,
}

/// Writes `records` into `topic`, each to its own partition, with its key, timestamp and
/// headers. The topic is created with enough partitions when missing; an existing topic with
/// too few partitions is an error. Waits until every record is acknowledged.
pub fn produce(brokers: &str, topic: &str, properties: &[(String, String)], records: &[Record]) -> Result<Produced> {
    let needed = records.iter().map(|r| r.partition + 1).max().unwrap_or(1).max(1);
    if records.iter().any(|r| r.partition < 0) {
        return Err(Error::Config("a record has a negative partition".into()));
    }
    let admin = client_config(brokers, properties);
    let spec = TopicSpec { name: topic.to_owned(), partitions: needed as usize, configs: vec![] };
    let n = ensure_topics(&admin, brokers, &[spec], true)?[0] as i32;
    if n < needed {
        return Err(Error::Config(format!("topic {topic:?} has {n} partitions, but the records use partitions up to {}", needed - 1)));
    }
    let mut config = client_config(brokers, &[]);
    config.set("enable.idempotence", "true").set("linger.ms", "5");
    for (k, v) in properties {
        config.set(k, v);
    }
    let mut sink = Sink::new(&config, brokers, false, Metrics::default())?;
    for r in records {
        sink.send(topic, Some(r.partition), r)?;
    }
    sink.flush()?;
    Ok(Produced { records: records.len() as u64, partitions: n })
}
