//! Checkpoints as plain data, and the pure functions that turn them into checkpoint-topic
//! records and back; I/O stays behind the small [`CheckpointStore`] trait ([`MemoryStore`]
//! for tests, the Kafka store in `runner`).
//!
//! One checkpoint covers one pipeline (one input topic-partition) of one job (consumer group):
//! the pipeline's snapshot and the input offset to resume from. Offsets live here, not only in
//! the consumer group, so a restore needs nothing else. On the (compacted) checkpoint topic a
//! checkpoint is written, inside the job's transaction, as:
//!
//! - `n` chunk records, key `<group>/<topic>/<partition>/chunk/<epoch % 2>/<i>`, value the
//!   `i`-th slice of the snapshot (at most `chunk_bytes`), headers `eddy.checkpoint=chunk`,
//!   `eddy.checkpoint.epoch`, `eddy.checkpoint.chunk`;
//! - then one manifest record, key `<group>/<topic>/<partition>`, value a JSON
//!   [`Manifest`] (offset, operator, version, epoch, chunk count, length, SHA-256),
//!   header `eddy.checkpoint=manifest`.
//!
//! Compaction keeps the last record per key, in order, so the last manifest and the chunks of
//! its epoch survive; chunks left over from an older, longer snapshot are ignored because the
//! manifest says how many chunks its epoch has and each chunk says its epoch. Chunks alternate
//! between two key slots by epoch, so that even without transactions (`exactly_once = false`)
//! a checkpoint interrupted half-way never overwrites the chunks of the last complete one.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Header that says what a checkpoint-topic record is (`chunk` or `manifest`).
pub const KIND_HEADER: &str = "eddy.checkpoint";
/// Header with a chunk's epoch.
pub const EPOCH_HEADER: &str = "eddy.checkpoint.epoch";
/// Header with a chunk's index.
pub const CHUNK_HEADER: &str = "eddy.checkpoint.chunk";

/// One pipeline's committed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The job's consumer group.
    pub group: String,
    /// Input topic.
    pub topic: String,
    /// Input partition.
    pub partition: i32,
    /// How many checkpoints of this pipeline came before (0 for the first).
    pub epoch: u64,
    /// The next input offset to read.
    pub offset: i64,
    /// Operator name.
    pub operator: String,
    /// Operator version.
    pub version: String,
    /// Input records processed by this pipeline up to `offset`, over its whole life.
    pub records_in: u64,
    /// Wall clock at checkpoint time, ms since the epoch (informational).
    pub created_ms: i64,
    /// The pipeline snapshot (`PipelineSnapshot::to_bytes`).
    pub snapshot: Vec<u8>,
}

/// The manifest record's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version of this record.
    pub format: u32,
    /// See [`Checkpoint`].
    pub group: String,
    /// See [`Checkpoint`].
    pub topic: String,
    /// See [`Checkpoint`].
    pub partition: i32,
    /// See [`Checkpoint`].
    pub epoch: u64,
    /// See [`Checkpoint`].
    pub offset: i64,
    /// See [`Checkpoint`].
    pub operator: String,
    /// See [`Checkpoint`].
    pub version: String,
    /// See [`Checkpoint`].
    pub records_in: u64,
    /// See [`Checkpoint`].
    pub created_ms: i64,
    /// Number of chunk records.
    pub chunks: u32,
    /// Snapshot length in bytes.
    pub bytes: u64,
    /// SHA-256 of the snapshot, hex.
    pub sha256: String,
}

const FORMAT: u32 = 1;

/// A record of the checkpoint topic, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Record key.
    pub key: String,
    /// Record value.
    pub value: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl StoredRecord {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The manifest key of a pipeline.
pub fn key(group: &str, topic: &str, partition: i32) -> String {
    format!("{group}/{topic}/{partition}")
}

/// The checkpoint-topic records for `cp`, in the order they must be written: chunks, then
/// the manifest.
pub fn encode(cp: &Checkpoint, chunk_bytes: usize) -> Vec<StoredRecord> {
    let base = key(&cp.group, &cp.topic, cp.partition);
    let chunks: Vec<&[u8]> = if cp.snapshot.is_empty() { vec![&[][..]] } else { cp.snapshot.chunks(chunk_bytes.max(1)).collect() };
    let mut out = Vec::with_capacity(chunks.len() + 1);
    for (i, c) in chunks.iter().enumerate() {
        out.push(StoredRecord {
            key: format!("{base}/chunk/{}/{i}", cp.epoch % 2),
            value: c.to_vec(),
            headers: vec![
                (KIND_HEADER.into(), b"chunk".to_vec()),
                (EPOCH_HEADER.into(), cp.epoch.to_string().into_bytes()),
                (CHUNK_HEADER.into(), i.to_string().into_bytes()),
            ],
        });
    }
    let m = Manifest {
        format: FORMAT,
        group: cp.group.clone(),
        topic: cp.topic.clone(),
        partition: cp.partition,
        epoch: cp.epoch,
        offset: cp.offset,
        operator: cp.operator.clone(),
        version: cp.version.clone(),
        records_in: cp.records_in,
        created_ms: cp.created_ms,
        chunks: chunks.len() as u32,
        bytes: cp.snapshot.len() as u64,
        sha256: hex::encode(Sha256::digest(&cp.snapshot)),
    };
    out.push(StoredRecord {
        key: base,
        value: serde_json::to_vec(&m).expect("manifest serializes"),
        headers: vec![(KIND_HEADER.into(), b"manifest".to_vec())],
    });
    out
}

/// Chunks of one pipeline waiting for their manifest: (slot, index) -> (epoch, bytes).
type Chunks = BTreeMap<(u64, u32), (u64, Vec<u8>)>;

/// The latest complete checkpoint of every pipeline, built by feeding it the checkpoint
/// topic's records in order ([`CheckpointIndex::apply`]).
#[derive(Debug, Default)]
pub struct CheckpointIndex {
    /// Chunks waiting for their manifest: manifest key -> (slot, index) -> (epoch, bytes).
    chunks: HashMap<String, Chunks>,
    /// Latest complete checkpoint per manifest key.
    latest: HashMap<String, Checkpoint>,
    /// Manifests that could not be assembled, per key (cleared by a later good one).
    broken: HashMap<String, String>,
}

impl CheckpointIndex {
    /// Takes one record of the checkpoint topic (in topic order). Records that are not
    /// eddy's are ignored.
    pub fn apply(&mut self, r: &StoredRecord) {
        match r.header(KIND_HEADER) {
            Some("chunk") => {
                let Some((base, at)) = r.key.rsplit_once("/chunk/") else { return };
                let Some((slot, idx)) = at.split_once('/') else { return };
                let (Some(epoch), Some(slot), Some(i)) = (r.header(EPOCH_HEADER).and_then(|e| e.parse().ok()), slot.parse().ok(), idx.parse().ok())
                else {
                    return;
                };
                self.chunks.entry(base.to_owned()).or_default().insert((slot, i), (epoch, r.value.clone()));
            }
            Some("manifest") => match self.assemble(r) {
                Ok(cp) => {
                    self.broken.remove(&r.key);
                    if self.latest.get(&r.key).is_none_or(|old| old.epoch <= cp.epoch) {
                        self.latest.insert(r.key.clone(), cp);
                    }
                }
                Err(why) => {
                    self.broken.insert(r.key.clone(), why);
                }
            },
            _ => {}
        }
    }

    fn assemble(&mut self, r: &StoredRecord) -> std::result::Result<Checkpoint, String> {
        let m: Manifest = serde_json::from_slice(&r.value).map_err(|e| format!("unreadable manifest: {e}"))?;
        if m.format != FORMAT {
            return Err(format!("manifest format {} (this eddy reads {FORMAT})", m.format));
        }
        let chunks = self.chunks.get_mut(&r.key);
        let mut snapshot = Vec::with_capacity(m.bytes as usize);
        let slot = m.epoch % 2;
        for i in 0..m.chunks {
            match chunks.as_ref().and_then(|c| c.get(&(slot, i))) {
                Some((e, bytes)) if *e == m.epoch => snapshot.extend_from_slice(bytes),
                Some((e, _)) => return Err(format!("chunk {i} of epoch {} belongs to epoch {e}", m.epoch)),
                None => return Err(format!("chunk {i} of {} is missing", m.chunks)),
            }
        }
        if hex::encode(Sha256::digest(&snapshot)) != m.sha256 || snapshot.len() as u64 != m.bytes {
            return Err(format!("the {} chunks of epoch {} do not add up to the snapshot the manifest describes", m.chunks, m.epoch));
        }
        if let Some(c) = chunks {
            c.retain(|(s, _), (e, _)| *s != slot && *e > m.epoch);
        }
        Ok(Checkpoint {
            group: m.group,
            topic: m.topic,
            partition: m.partition,
            epoch: m.epoch,
            offset: m.offset,
            operator: m.operator,
            version: m.version,
            records_in: m.records_in,
            created_ms: m.created_ms,
            snapshot,
        })
    }

    /// The latest complete checkpoint of a pipeline; an error if the latest manifest could
    /// not be assembled.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Result<Option<&Checkpoint>> {
        let k = key(group, topic, partition);
        if let Some(why) = self.broken.get(&k) {
            return Err(Error::Checkpoint(format!("the latest checkpoint of {k} is corrupt: {why}")));
        }
        Ok(self.latest.get(&k))
    }

    /// Number of pipelines with a checkpoint.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether no checkpoint was seen.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

/// Refuses a checkpoint of another operator (chain) or another major version, with a
/// message that says what to do. Chains are named `A | B` with versions `1.0.0 | 0.2.0`.
pub fn check_compatible(cp: &Checkpoint, operator: &str, version: &str, checkpoint_topic: &str) -> Result<()> {
    let names = |s: &str| s.split(" | ").map(str::to_owned).collect::<Vec<_>>();
    let (had, have) = (names(&cp.operator), names(operator));
    let (had_v, have_v) = (names(&cp.version), names(version));
    let same = had == have && had_v.len() == have_v.len() && had_v.iter().zip(&have_v).all(|(a, b)| major(a) == major(b));
    if same {
        return Ok(());
    }
    Err(Error::Checkpoint(format!(
        "incompatible checkpoint: topic {checkpoint_topic:?} holds, for group {:?} and input {}[{}], a snapshot of operator {} {} \
         (checkpoint epoch {}, offset {}), but this job runs {} {}; a snapshot is only restored into the same operator \
         with the same major version. Use another consumer group or checkpoint topic for this job, or delete the old checkpoints.",
        cp.group, cp.topic, cp.partition, cp.operator, cp.version, cp.epoch, cp.offset, operator, version
    )))
}

/// The part of a version that must match for a snapshot to be restored: `1` of `1.4.2`,
/// `0.3` of `0.3.1` (as in the SDK: below 1.0 the minor version is the major one).
pub fn major(version: &str) -> &str {
    let mut parts = version.splitn(3, '.');
    let first = parts.next().unwrap_or("");
    if first == "0" {
        let n = first.len() + 1 + parts.next().map_or(0, str::len);
        &version[..n.min(version.len())]
    } else {
        first
    }
}

/// Where checkpoints are kept: the checkpoint topic, or memory in tests.
pub trait CheckpointStore {
    /// The last committed checkpoint of a pipeline (reads whatever was committed since the
    /// previous call first).
    fn load(&mut self, group: &str, topic: &str, partition: i32) -> Result<Option<Checkpoint>>;
    /// Adds `cp` to the current transaction; returns the bytes written.
    fn save(&mut self, cp: &Checkpoint) -> Result<usize>;
}

/// A checkpoint store in memory, with the same encoding as the topic (for tests).
#[derive(Debug)]
pub struct MemoryStore {
    chunk_bytes: usize,
    /// Every record written, in order (what the topic would hold before compaction).
    pub log: Vec<StoredRecord>,
    index: CheckpointIndex,
}

impl MemoryStore {
    /// An empty store that splits snapshots into chunks of `chunk_bytes`.
    pub fn new(chunk_bytes: usize) -> Self {
        Self { chunk_bytes, log: Vec::new(), index: CheckpointIndex::default() }
    }
}

impl CheckpointStore for MemoryStore {
    fn load(&mut self, group: &str, topic: &str, partition: i32) -> Result<Option<Checkpoint>> {
        Ok(self.index.get(group, topic, partition)?.cloned())
    }

    fn save(&mut self, cp: &Checkpoint) -> Result<usize> {
        let recs = encode(cp, self.chunk_bytes);
        let n = recs.iter().map(|r| r.key.len() + r.value.len()).sum();
        for r in &recs {
            self.index.apply(r);
        }
        self.log.extend(recs);
        Ok(n)
    }
}

/// What log compaction keeps of `log`: the last record of every key, in log order.
pub fn compact(log: &[StoredRecord]) -> Vec<StoredRecord> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in log.iter().enumerate() {
        last.insert(&r.key, i);
    }
    log.iter().enumerate().filter(|(i, r)| last[r.key.as_str()] == *i).map(|(_, r)| r.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(epoch: u64, len: usize) -> Checkpoint {
        Checkpoint {
            group: "g".into(),
            topic: "in".into(),
            partition: 2,
            epoch,
            offset: 100 + epoch as i64,
            operator: "OnlineLogisticRegression".into(),
            version: "1.2.0".into(),
            records_in: epoch * 10,
            created_ms: 0,
            snapshot: (0..len).map(|i| (i * 7 + epoch as usize) as u8).collect(),
        }
    }

    fn index(log: &[StoredRecord]) -> CheckpointIndex {
        let mut ix = CheckpointIndex::default();
        log.iter().for_each(|r| ix.apply(r));
        ix
    }

    #[test]
    fn large_snapshots_are_chunked_and_reassembled() {
        let mut s = MemoryStore::new(1000);
        let c = cp(0, 4500);
        s.save(&c).unwrap();
        assert_eq!(s.log.len(), 6, "5 chunks and a manifest");
        assert!(s.log.iter().all(|r| r.value.len() <= 1000 || r.header(KIND_HEADER) == Some("manifest")));
        assert_eq!(s.load("g", "in", 2).unwrap(), Some(c));
        assert_eq!(s.load("g", "in", 3).unwrap(), None);
        assert_eq!(s.load("other", "in", 2).unwrap(), None);
    }

    #[test]
    fn the_latest_survives_compaction_even_when_it_has_fewer_chunks() {
        let mut s = MemoryStore::new(1000);
        s.save(&cp(0, 4500)).unwrap();
        s.save(&cp(1, 1500)).unwrap();
        s.save(&cp(2, 0)).unwrap();
        s.save(&cp(3, 2500)).unwrap();
        let compacted = compact(&s.log);
        assert!(compacted.len() < s.log.len());
        let ix = index(&compacted);
        assert_eq!(ix.get("g", "in", 2).unwrap(), Some(&cp(3, 2500)));
        assert_eq!(index(&s.log).get("g", "in", 2).unwrap(), Some(&cp(3, 2500)));
        // An empty snapshot round-trips too.
        let ix = index(&compact(&s.log[..s.log.len() - 4]));
        assert_eq!(ix.get("g", "in", 2).unwrap(), Some(&cp(2, 0)));
    }

    #[test]
    fn a_manifest_without_its_chunks_is_an_error_not_garbage() {
        let mut log = encode(&cp(0, 3000), 1000);
        let mut newer = encode(&cp(2, 3000), 1000);
        newer.remove(1);
        log.extend(newer);
        let e = index(&compact(&log)).get("g", "in", 2).unwrap_err();
        assert!(e.to_string().contains("chunk 1 of epoch 2 belongs to epoch 0"), "{e}");
        let e = index(&log).get("g", "in", 2).unwrap_err();
        assert!(e.to_string().contains("chunk 1 of 3 is missing"), "{e}");
        // A later complete checkpoint heals it.
        let mut ix = index(&log);
        encode(&cp(3, 10), 1000).iter().for_each(|r| ix.apply(r));
        assert_eq!(ix.get("g", "in", 2).unwrap().unwrap().epoch, 3);
    }

    #[test]
    fn an_interrupted_checkpoint_leaves_the_previous_one_whole() {
        // Without transactions a crash can leave chunks without their manifest.
        let mut log = encode(&cp(0, 3000), 1000);
        log.extend(encode(&cp(1, 3000), 1000));
        let partial = encode(&cp(2, 3000), 1000);
        log.extend(partial[..2].iter().cloned());
        assert_eq!(index(&compact(&log)).get("g", "in", 2).unwrap(), Some(&cp(1, 3000)));
        assert_eq!(index(&log).get("g", "in", 2).unwrap(), Some(&cp(1, 3000)));
    }

    #[test]
    fn foreign_records_are_ignored() {
        let mut ix = CheckpointIndex::default();
        ix.apply(&StoredRecord { key: "x".into(), value: b"hello".to_vec(), headers: vec![] });
        assert!(ix.is_empty());
    }

    #[test]
    fn compatibility() {
        let c = cp(0, 1);
        assert!(check_compatible(&c, "OnlineLogisticRegression", "1.9.0", "ck").is_ok());
        let e = check_compatible(&c, "OnlineLogisticRegression", "2.0.0", "ck").unwrap_err();
        assert!(e.to_string().contains("incompatible checkpoint"), "{e}");
        let e = check_compatible(&c, "Hostile", "1.2.0", "ck").unwrap_err();
        assert!(e.to_string().contains("snapshot of operator OnlineLogisticRegression 1.2.0") && e.to_string().contains("runs Hostile 1.2.0"), "{e}");
        let mut chain = cp(0, 1);
        chain.operator = "A | B".into();
        chain.version = "1.0.0 | 0.2.1".into();
        assert!(check_compatible(&chain, "A | B", "1.3.0 | 0.2.0", "ck").is_ok());
        assert!(check_compatible(&chain, "A | B", "1.3.0 | 0.3.0", "ck").is_err());
        assert!(check_compatible(&chain, "A", "1.0.0", "ck").is_err());
        assert_eq!(major("0.3.1"), "0.3");
        assert_eq!(major("2.0"), "2");
    }
}
