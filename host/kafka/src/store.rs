//! The checkpoint topic as a [`CheckpointStore`]: loading reads the topic (read_committed,
//! every partition, from the beginning the first time, incrementally after that) up to its
//! current end into a [`CheckpointIndex`]; saving stages the encoded records, which the runner
//! sends inside its transaction.

use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::checkpoint::{Checkpoint, CheckpointIndex, CheckpointStore, LinkRef, StoredRecord, encode};
use crate::client::{BrokerWatch, QuietContext, watermarks};
use crate::{Error, Result};

/// Checkpoints kept in a Kafka topic.
pub struct KafkaStore {
    reader: BaseConsumer<QuietContext>,
    topic: String,
    partitions: i32,
    chunk_bytes: usize,
    index: CheckpointIndex,
    staged: Vec<(i32, StoredRecord)>,
}

impl std::fmt::Debug for KafkaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStore").field("topic", &self.topic).field("partitions", &self.partitions).finish()
    }
}

impl KafkaStore {
    /// Opens `topic` (which has `partitions` partitions) for reading with `config`.
    pub fn open(config: &ClientConfig, brokers: &str, topic: &str, partitions: i32, chunk_bytes: usize) -> Result<Self> {
        let reader: BaseConsumer<QuietContext> =
            BaseConsumer::from_config_and_context(config, QuietContext { watch: BrokerWatch::new(brokers, None) })
                .map_err(|e| Error::kafka("creating the checkpoint reader", e))?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| Error::kafka("checkpoint reader", e))?;
        }
        reader.assign(&tpl).map_err(|e| Error::kafka("assigning the checkpoint topic", e))?;
        Ok(Self { reader, topic: topic.to_owned(), partitions, chunk_bytes, index: CheckpointIndex::default(), staged: Vec::new() })
    }

    /// Reads everything committed to the checkpoint topic up to its current end as a
    /// read_committed client sees it: the last stable offset, so a checkpoint another process
    /// is committing right now may not be in yet (a restore that needs it waits for it by
    /// comparing with the group's committed offsets). eddy says so if reading takes long.
    pub fn refresh(&mut self) -> Result<()> {
        let watch = &self.reader.context().watch;
        let mut highs = Vec::new();
        for p in 0..self.partitions {
            highs.push(watermarks(self.reader.client(), &self.topic, p, watch)?);
        }
        let start = Instant::now();
        let mut said = false;
        loop {
            let pos = self.reader.position().map_err(|e| Error::kafka("checkpoint reader position", e))?;
            let done = highs.iter().enumerate().all(|(p, (lo, hi))| {
                let at = match pos.find_partition(&self.topic, p as i32).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => -1,
                };
                hi <= lo || at >= *hi
            });
            if done {
                return Ok(());
            }
            match self.reader.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    let r = StoredRecord {
                        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers: m
                            .headers()
                            .map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec).unwrap_or_default())).collect())
                            .unwrap_or_default(),
                    };
                    self.index.apply(&r);
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(e)) if crate::error::denial(&e).is_some() => {
                    return Err(Error::kafka(format!("reading the checkpoint topic {}", self.topic), e));
                }
                Some(Err(e)) => self.reader.context().watch.waiting(&format!("reading checkpoints: {e}"))?,
            }
            if !said && start.elapsed() > Duration::from_secs(10) {
                said = true;
                tracing::info!(target: "eddy_kafka", "waiting for the checkpoint topic {} to settle (an open transaction holds back its end)", self.topic);
            }
        }
    }

    /// The latest checkpoint read so far by [`KafkaStore::refresh`], without reading more.
    pub fn cached(&self, group: &str, topic: &str, partition: i32) -> Result<Option<Checkpoint>> {
        self.index.get(group, topic, partition)
    }

    /// The input offset of the latest checkpoint read so far (its manifest only, nothing
    /// assembled).
    pub fn cached_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.index.offset(group, topic, partition)
    }

    /// Chunk keys of a pipeline that no checkpoint needs and that still wait for their
    /// tombstone (left by interrupted checkpoints), as read so far.
    pub fn stale(&self, group: &str, topic: &str, partition: i32) -> Vec<String> {
        self.index.stale(group, topic, partition)
    }

    /// The checkpoint-topic partition of an input partition.
    pub fn partition_for(&self, input_partition: i32) -> i32 {
        input_partition.rem_euclid(self.partitions.max(1))
    }

    /// Takes the records staged by [`CheckpointStore::save`], with their partitions.
    pub fn drain(&mut self) -> Vec<(i32, StoredRecord)> {
        std::mem::take(&mut self.staged)
    }

    /// The checkpoint topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl CheckpointStore for KafkaStore {
    fn load(&mut self, group: &str, topic: &str, partition: i32) -> Result<Option<Checkpoint>> {
        self.refresh()?;
        self.index.get(group, topic, partition)
    }

    fn save(&mut self, cp: &Checkpoint, obsolete: &[String]) -> Result<(usize, LinkRef)> {
        let p = self.partition_for(cp.partition);
        let (recs, link) = encode(cp, self.chunk_bytes, obsolete);
        let n = recs.iter().map(StoredRecord::len).sum();
        self.staged.extend(recs.into_iter().map(|r| (p, r)));
        Ok((n, link))
    }
}
