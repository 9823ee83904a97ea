//! Checkpoints as plain data, and the pure functions that turn them into checkpoint-topic
//! records and back; I/O stays behind the small [`CheckpointStore`] trait ([`MemoryStore`]
//! for tests, the Kafka store in `store`).
//!
//! One checkpoint covers one pipeline (one input topic-partition) of one job (consumer group):
//! the pipeline's snapshot and the input offset to resume from. Offsets live here, not only in
//! the consumer group, so a restore needs nothing else.
//!
//! A pipeline's snapshot may be incremental (an operator returns a delta of what changed since
//! its previous snapshot, see the WIT `snapshot-kind`), so a checkpoint is a *chain of links*:
//! each link is the pipeline snapshot written at one checkpoint, and the checkpoint names the
//! links it needs, back to the last full state of every stage. A checkpoint writes only its
//! own link, so its cost follows what changed. On the (compacted) checkpoint topic, inside the
//! job's transaction, a checkpoint at epoch `e` writes:
//!
//! - its link as `n` chunk records, key `<group>/<topic>/<partition>/link/<e>/<i>`, value the
//!   `i`-th slice (at most `chunk_bytes`), headers `eddy.checkpoint=chunk`,
//!   `eddy.checkpoint.epoch=e`, `eddy.checkpoint.chunk=i`;
//! - then one manifest record, key `<group>/<topic>/<partition>`, value a JSON [`Manifest`]
//!   (offset, operator, version, epoch, and for every link of the chain its epoch, chunk
//!   count, length, SHA-256 and which stages it holds whole), header `eddy.checkpoint=manifest`;
//! - then a tombstone (null value, header `eddy.checkpoint=tombstone`) for every chunk of the
//!   links the new chain no longer needs, so that compaction removes them.
//!
//! Link keys are never reused while a manifest names them, so a checkpoint interrupted
//! half-way (possible only without transactions) never damages the last complete one; chunks
//! it left behind are unreferenced and get their tombstones at the next checkpoint.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Header that says what a checkpoint-topic record is (`chunk`, `manifest` or `tombstone`).
pub const KIND_HEADER: &str = "eddy.checkpoint";
/// Header with a chunk's epoch (the checkpoint that wrote its link).
pub const EPOCH_HEADER: &str = "eddy.checkpoint.epoch";
/// Header with a chunk's index.
pub const CHUNK_HEADER: &str = "eddy.checkpoint.chunk";

/// One link of a checkpoint's chain as its manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRef {
    /// The epoch of the checkpoint that wrote it (its chunks' keys hold it).
    pub epoch: u64,
    /// Per pipeline stage, whether the link holds that stage's whole state (else a delta).
    pub full_stages: Vec<bool>,
    /// Number of chunk records.
    pub chunks: u32,
    /// Length in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

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
    /// The links written at earlier checkpoints that this one still needs, oldest first
    /// (empty when `snapshot` holds every stage whole).
    pub earlier: Vec<LinkRef>,
    /// The bytes of the `earlier` links, in the same order: filled by a load, ignored by a
    /// save (they are stored already).
    pub earlier_snapshots: Vec<Vec<u8>>,
    /// Per stage, whether `snapshot` holds its whole state.
    pub full_stages: Vec<bool>,
    /// The newest link, written at `epoch` (`PipelineSnapshot::to_bytes`).
    pub snapshot: Vec<u8>,
    /// How the newest link is stored: filled by a load, ignored by a save.
    pub stored: Option<LinkRef>,
    /// The pipeline had the end-of-input watermark (a `stop_at_end` run finished it) and read
    /// nothing since: a later owner must not give it again.
    pub finished: bool,
}

impl Checkpoint {
    /// Every link's bytes, oldest first (what `Pipeline::restore_chain` takes, decoded).
    pub fn chain(&self) -> impl Iterator<Item = &[u8]> {
        self.earlier_snapshots.iter().map(Vec::as_slice).chain(std::iter::once(self.snapshot.as_slice()))
    }

    /// Bytes of every link.
    pub fn chain_bytes(&self) -> usize {
        self.chain().map(<[u8]>::len).sum()
    }
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
    /// The chain, oldest first; the last link was written at `epoch`.
    pub links: Vec<LinkRef>,
    /// See [`Checkpoint`].
    #[serde(default)]
    pub finished: bool,
}

const FORMAT: u32 = 2;

/// A record of the checkpoint topic, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Record key.
    pub key: String,
    /// Record value; `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl StoredRecord {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Bytes of key and value.
    pub fn len(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, Vec::len)
    }

    /// Whether key and value are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The manifest key of a pipeline.
pub fn key(group: &str, topic: &str, partition: i32) -> String {
    format!("{group}/{topic}/{partition}")
}

fn chunk_key(base: &str, epoch: u64, i: u32) -> String {
    format!("{base}/link/{epoch}/{i}")
}

/// The keys of a link's chunks.
pub fn link_keys(base: &str, link: &LinkRef) -> Vec<String> {
    (0..link.chunks).map(|i| chunk_key(base, link.epoch, i)).collect()
}

/// The checkpoint-topic records for `cp`, in the order they must be written: the new link's
/// chunks, the manifest, then tombstones for `obsolete` keys (chunks no chain needs; a key
/// the new link writes is never tombstoned). Returns them with the new link's [`LinkRef`].
pub fn encode(cp: &Checkpoint, chunk_bytes: usize, obsolete: &[String]) -> (Vec<StoredRecord>, LinkRef) {
    let base = key(&cp.group, &cp.topic, cp.partition);
    let chunks: Vec<&[u8]> = if cp.snapshot.is_empty() { vec![&[][..]] } else { cp.snapshot.chunks(chunk_bytes.max(1)).collect() };
    let mut out = Vec::with_capacity(chunks.len() + 1 + obsolete.len());
    let mut written = BTreeSet::new();
    for (i, c) in chunks.iter().enumerate() {
        let k = chunk_key(&base, cp.epoch, i as u32);
        written.insert(k.clone());
        out.push(StoredRecord {
            key: k,
            value: Some(c.to_vec()),
            headers: vec![
                (KIND_HEADER.into(), b"chunk".to_vec()),
                (EPOCH_HEADER.into(), cp.epoch.to_string().into_bytes()),
                (CHUNK_HEADER.into(), i.to_string().into_bytes()),
            ],
        });
    }
    let link = LinkRef {
        epoch: cp.epoch,
        full_stages: cp.full_stages.clone(),
        chunks: chunks.len() as u32,
        bytes: cp.snapshot.len() as u64,
        sha256: hex::encode(Sha256::digest(&cp.snapshot)),
    };
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
        links: cp.earlier.iter().cloned().chain(std::iter::once(link.clone())).collect(),
        finished: cp.finished,
    };
    out.push(StoredRecord {
        key: base,
        value: Some(serde_json::to_vec(&m).expect("manifest serializes")),
        headers: vec![(KIND_HEADER.into(), b"manifest".to_vec())],
    });
    for k in obsolete.iter().filter(|k| !written.contains(*k)) {
        out.push(StoredRecord { key: k.clone(), value: None, headers: vec![(KIND_HEADER.into(), b"tombstone".to_vec())] });
    }
    (out, link)
}

/// Chunks of one pipeline: (link epoch, index) -> bytes.
type Chunks = BTreeMap<(u64, u32), Vec<u8>>;

/// The latest complete checkpoint of every pipeline, built by feeding it the checkpoint
/// topic's records in order ([`CheckpointIndex::apply`]).
#[derive(Debug, Default)]
pub struct CheckpointIndex {
    /// Chunks per manifest key that the latest manifest names, or that are newer than it.
    chunks: HashMap<String, Chunks>,
    /// Latest manifest per manifest key.
    latest: HashMap<String, Manifest>,
    /// Chunk keys per manifest key that no manifest needs any more and that have no
    /// tombstone yet (left by an interrupted checkpoint): the next checkpoint deletes them.
    stale: HashMap<String, BTreeSet<String>>,
    /// Manifests that could not be read, per key (cleared by a later good one).
    broken: HashMap<String, String>,
}

fn split_chunk_key(key: &str) -> Option<(&str, u64, u32)> {
    let (base, at) = key.rsplit_once("/link/")?;
    let (epoch, i) = at.split_once('/')?;
    Some((base, epoch.parse().ok()?, i.parse().ok()?))
}

impl CheckpointIndex {
    /// Takes one record of the checkpoint topic (in topic order). Records that are not
    /// eddy's are ignored.
    pub fn apply(&mut self, r: &StoredRecord) {
        match (r.header(KIND_HEADER), &r.value) {
            (Some("chunk"), Some(v)) => {
                let Some((base, epoch, i)) = split_chunk_key(&r.key) else { return };
                self.chunks.entry(base.to_owned()).or_default().insert((epoch, i), v.clone());
            }
            (Some("tombstone"), _) | (Some("chunk"), None) => {
                let Some((base, epoch, i)) = split_chunk_key(&r.key) else { return };
                if let Some(c) = self.chunks.get_mut(base) {
                    c.remove(&(epoch, i));
                }
                if let Some(s) = self.stale.get_mut(base) {
                    s.remove(&r.key);
                }
            }
            (Some("manifest"), Some(v)) => match serde_json::from_slice::<Manifest>(v) {
                Ok(m) if m.format == FORMAT => {
                    self.broken.remove(&r.key);
                    if self.latest.get(&r.key).is_some_and(|old| old.epoch > m.epoch) {
                        return;
                    }
                    // Chunks of links the manifest does not name, up to its epoch, are stale.
                    let named: HashMap<u64, u32> = m.links.iter().map(|l| (l.epoch, l.chunks)).collect();
                    if let Some(c) = self.chunks.get_mut(&r.key) {
                        let stale = self.stale.entry(r.key.clone()).or_default();
                        c.retain(|(e, i), _| {
                            let keep = named.get(e).is_some_and(|n| i < n) || *e > m.epoch;
                            if !keep {
                                stale.insert(chunk_key(&r.key, *e, *i));
                            }
                            keep
                        });
                    }
                    self.latest.insert(r.key.clone(), m);
                }
                Ok(m) => {
                    self.broken.insert(r.key.clone(), format!("manifest format {} (this eddy reads {FORMAT})", m.format));
                }
                Err(e) => {
                    self.broken.insert(r.key.clone(), format!("unreadable manifest: {e}"));
                }
            },
            _ => {}
        }
    }

    /// The latest complete checkpoint of a pipeline, assembled and checked; an error if the
    /// latest manifest is unreadable or its chunks do not add up.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Result<Option<Checkpoint>> {
        let k = key(group, topic, partition);
        if let Some(why) = self.broken.get(&k) {
            return Err(Error::Checkpoint(format!("the latest checkpoint of {k} is corrupt: {why}")));
        }
        let Some(m) = self.latest.get(&k) else { return Ok(None) };
        let corrupt = |why: String| Error::Checkpoint(format!("the latest checkpoint of {k} (epoch {}) is corrupt: {why}", m.epoch));
        let Some(last) = m.links.last() else { return Err(corrupt("its manifest names no snapshot".into())) };
        let chunks = self.chunks.get(&k);
        let mut snapshots = Vec::with_capacity(m.links.len());
        for l in &m.links {
            // Not `with_capacity(l.bytes)`: the manifest is data, and a corrupt length must not
            // reserve memory (the fuzz target found a manifest claiming 2^63 bytes).
            let mut bytes = Vec::new();
            for i in 0..l.chunks {
                match chunks.and_then(|c| c.get(&(l.epoch, i))) {
                    Some(b) if bytes.len() as u64 + b.len() as u64 <= l.bytes => bytes.extend_from_slice(b),
                    Some(_) => {
                        return Err(corrupt(format!(
                            "the chunks of the snapshot written at epoch {} hold more than the {} bytes its manifest says",
                            l.epoch, l.bytes
                        )));
                    }
                    None => {
                        return Err(corrupt(format!("chunk {i} of {} of the snapshot written at epoch {} is missing", l.chunks, l.epoch)));
                    }
                }
            }
            if bytes.len() as u64 != l.bytes || hex::encode(Sha256::digest(&bytes)) != l.sha256 {
                return Err(corrupt(format!(
                    "the {} chunks of the snapshot written at epoch {} do not add up to what the manifest describes",
                    l.chunks, l.epoch
                )));
            }
            snapshots.push(bytes);
        }
        let snapshot = snapshots.pop().expect("one link at least");
        Ok(Some(Checkpoint {
            group: m.group.clone(),
            topic: m.topic.clone(),
            partition: m.partition,
            epoch: m.epoch,
            offset: m.offset,
            operator: m.operator.clone(),
            version: m.version.clone(),
            records_in: m.records_in,
            created_ms: m.created_ms,
            earlier: m.links[..m.links.len() - 1].to_vec(),
            earlier_snapshots: snapshots,
            full_stages: last.full_stages.clone(),
            snapshot,
            stored: Some(last.clone()),
            finished: m.finished,
        }))
    }

    /// The input offset of a pipeline's latest manifest, without assembling its snapshots.
    pub fn offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.latest.get(&key(group, topic, partition)).map(|m| m.offset)
    }

    /// Chunk keys of a pipeline that no checkpoint needs and that still wait for their
    /// tombstone.
    pub fn stale(&self, group: &str, topic: &str, partition: i32) -> Vec<String> {
        self.stale.get(&key(group, topic, partition)).map(|s| s.iter().cloned().collect()).unwrap_or_default()
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
    /// Adds `cp` (its newest link and its manifest) to the current transaction, with
    /// tombstones for the `obsolete` chunk keys; returns the bytes written and the new link.
    fn save(&mut self, cp: &Checkpoint, obsolete: &[String]) -> Result<(usize, LinkRef)>;
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
        self.index.get(group, topic, partition)
    }

    fn save(&mut self, cp: &Checkpoint, obsolete: &[String]) -> Result<(usize, LinkRef)> {
        let (recs, link) = encode(cp, self.chunk_bytes, obsolete);
        let n = recs.iter().map(StoredRecord::len).sum();
        for r in &recs {
            self.index.apply(r);
        }
        self.log.extend(recs);
        Ok((n, link))
    }
}

/// What log compaction keeps of `log` once tombstones have expired: the last record of every
/// key, in log order, unless it is a tombstone.
pub fn compact(log: &[StoredRecord]) -> Vec<StoredRecord> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, r) in log.iter().enumerate() {
        last.insert(&r.key, i);
    }
    log.iter().enumerate().filter(|(i, r)| last[r.key.as_str()] == *i && r.value.is_some()).map(|(_, r)| r.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(epoch: u64, len: usize, full: bool, earlier: Vec<LinkRef>) -> Checkpoint {
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
            earlier,
            earlier_snapshots: vec![],
            full_stages: vec![full],
            snapshot: (0..len).map(|i| (i * 7 + epoch as usize) as u8).collect(),
            stored: None,
            finished: epoch % 2 == 1,
        }
    }

    fn index(log: &[StoredRecord]) -> CheckpointIndex {
        let mut ix = CheckpointIndex::default();
        log.iter().for_each(|r| ix.apply(r));
        ix
    }

    #[test]
    fn a_manifest_claiming_huge_lengths_is_corrupt_not_an_allocation() {
        // Found by the checkpoint_records fuzz target: `bytes` was reserved as given, so a
        // manifest claiming 2^63 bytes aborted the process.
        let (mut log, _) = encode(&cp(0, 300, true, vec![]), 100, &[]);
        let m = log.iter_mut().find(|r| r.header(KIND_HEADER) == Some("manifest")).unwrap();
        let text = String::from_utf8(m.value.clone().unwrap()).unwrap();
        for huge in ["9223372036854775807", "18446744073709551615"] {
            let mut log = log.clone();
            let m = log.iter_mut().find(|r| r.header(KIND_HEADER) == Some("manifest")).unwrap();
            m.value = Some(text.replace("\"bytes\":300", &format!("\"bytes\":{huge}")).into_bytes());
            let e = index(&log).get("g", "in", 2).unwrap_err().to_string();
            assert!(e.contains("do not add up"), "{e}");
        }
        // Chunks that hold more than the manifest says are refused as they are read.
        let mut short = log.clone();
        let m = short.iter_mut().find(|r| r.header(KIND_HEADER) == Some("manifest")).unwrap();
        m.value = Some(text.replace("\"bytes\":300", "\"bytes\":150").into_bytes());
        let e = index(&short).get("g", "in", 2).unwrap_err().to_string();
        assert!(e.contains("hold more than the 150 bytes"), "{e}");
        assert!(index(&log).get("g", "in", 2).unwrap().is_some(), "the unchanged log loads");
    }

    /// A loaded checkpoint without the stored-link details, to compare with what was saved.
    fn strip(c: Option<Checkpoint>) -> Option<Checkpoint> {
        c.map(|c| Checkpoint { stored: None, ..c })
    }

    /// What a load gives back for a chain saved as `links`.
    fn loaded(c: &Checkpoint, earlier: &[&Checkpoint]) -> Checkpoint {
        Checkpoint { earlier_snapshots: earlier.iter().map(|e| e.snapshot.clone()).collect(), ..c.clone() }
    }

    #[test]
    fn large_snapshots_are_chunked_and_reassembled() {
        let mut s = MemoryStore::new(1000);
        let c = cp(0, 4500, true, vec![]);
        s.save(&c, &[]).unwrap();
        assert_eq!(s.log.len(), 6, "5 chunks and a manifest");
        assert!(s.log.iter().all(|r| r.value.as_ref().unwrap().len() <= 1000 || r.header(KIND_HEADER) == Some("manifest")));
        assert_eq!(strip(s.load("g", "in", 2).unwrap()), Some(c));
        assert_eq!(s.load("g", "in", 3).unwrap(), None);
        assert_eq!(s.load("other", "in", 2).unwrap(), None);
    }

    #[test]
    fn a_chain_writes_only_its_new_link_and_drops_what_a_full_link_replaces() {
        let mut s = MemoryStore::new(1000);
        let c0 = cp(0, 4500, true, vec![]);
        let (n0, l0) = s.save(&c0, &[]).unwrap();
        let c1 = cp(1, 300, false, vec![l0.clone()]);
        let (n1, l1) = s.save(&c1, &[]).unwrap();
        assert!(n1 < n0 / 5, "a delta checkpoint writes its delta and a manifest only: {n1} vs {n0} bytes");
        let c2 = cp(2, 200, false, vec![l0.clone(), l1.clone()]);
        let (_, l2) = s.save(&c2, &[]).unwrap();
        let want = loaded(&c2, &[&c0, &c1]);
        assert_eq!(strip(s.load("g", "in", 2).unwrap()).as_ref(), Some(&want));
        assert_eq!(
            strip(index(&compact(&s.log)).get("g", "in", 2).unwrap()).as_ref(),
            Some(&want),
            "compaction keeps every link the chain needs"
        );

        // A full link makes the older ones obsolete: their chunks get tombstones.
        let base = key("g", "in", 2);
        let obsolete: Vec<String> = [&l0, &l1, &l2].iter().flat_map(|l| link_keys(&base, l)).collect();
        assert_eq!(obsolete.len(), 5 + 1 + 1);
        let c3 = cp(3, 800, true, vec![]);
        s.save(&c3, &obsolete).unwrap();
        assert_eq!(s.log.iter().filter(|r| r.value.is_none()).count(), 7);
        let compacted = compact(&s.log);
        assert_eq!(compacted.len(), 2, "one chunk and the manifest are left: {compacted:?}");
        assert_eq!(strip(index(&compacted).get("g", "in", 2).unwrap()), Some(c3.clone()));
        assert_eq!(strip(s.load("g", "in", 2).unwrap()), Some(c3));
        assert!(index(&s.log).stale("g", "in", 2).is_empty(), "every dropped chunk got its tombstone");
    }

    #[test]
    fn a_manifest_without_its_chunks_is_an_error_not_garbage() {
        let (mut log, l0) = encode(&cp(0, 3000, true, vec![]), 1000, &[]);
        let (mut delta, _) = encode(&cp(1, 3000, false, vec![l0]), 1000, &[]);
        delta.remove(1);
        log.extend(delta);
        let e = index(&log).get("g", "in", 2).unwrap_err();
        assert!(e.to_string().contains("chunk 1 of 3 of the snapshot written at epoch 1 is missing"), "{e}");
        // A later complete checkpoint heals it.
        let mut ix = index(&log);
        encode(&cp(2, 10, true, vec![]), 1000, &[]).0.iter().for_each(|r| ix.apply(r));
        assert_eq!(ix.get("g", "in", 2).unwrap().unwrap().epoch, 2);
        // A manifest of another layout is named as such.
        let mut ix = index(&log);
        ix.apply(&StoredRecord {
            key: key("g", "in", 2),
            value: Some(br#"{"format":1}"#.to_vec()),
            headers: vec![(KIND_HEADER.into(), b"manifest".to_vec())],
        });
        assert!(ix.get("g", "in", 2).unwrap_err().to_string().contains("unreadable manifest"));
    }

    #[test]
    fn an_interrupted_checkpoint_leaves_the_previous_one_whole_and_its_leftovers_are_deleted_later() {
        // Without transactions a crash can leave chunks without their manifest.
        let (mut log, l0) = encode(&cp(0, 3000, true, vec![]), 1000, &[]);
        let c1 = cp(1, 3000, false, vec![l0.clone()]);
        log.extend(encode(&c1, 1000, &[]).0);
        let (partial, _) = encode(&cp(2, 5000, true, vec![]), 1000, &[]);
        log.extend(partial[..4].iter().cloned());
        let ix = index(&compact(&log));
        assert_eq!(ix.get("g", "in", 2).unwrap().map(|c| c.epoch), Some(1));
        assert_eq!(index(&log).get("g", "in", 2).unwrap().map(|c| c.epoch), Some(1));
        // The restarted job writes epoch 2 again, shorter: chunks 2 and 3 of the crashed
        // attempt are stale and go at the next checkpoint.
        let (again, l2) = encode(&cp(2, 1500, true, vec![]), 1000, &[]);
        log.extend(again);
        let ix = index(&log);
        let stale = ix.stale("g", "in", 2);
        let base = key("g", "in", 2);
        let mut want: Vec<String> = link_keys(&base, &l0);
        want.extend(link_keys(&base, &LinkRef { chunks: 3, ..l0.clone() }).into_iter().map(|k| k.replace("/link/0/", "/link/1/")));
        want.push(format!("{base}/link/2/2"));
        want.push(format!("{base}/link/2/3"));
        want.sort();
        assert_eq!(stale, want);
        log.extend(encode(&cp(3, 10, false, vec![l2]), 1000, &stale).0);
        let ix = index(&log);
        assert!(ix.stale("g", "in", 2).is_empty());
        assert_eq!(ix.get("g", "in", 2).unwrap().unwrap().earlier.len(), 1);
    }

    #[test]
    fn foreign_records_are_ignored() {
        let mut ix = CheckpointIndex::default();
        ix.apply(&StoredRecord { key: "x".into(), value: Some(b"hello".to_vec()), headers: vec![] });
        ix.apply(&StoredRecord { key: "x/link/a/b".into(), value: None, headers: vec![(KIND_HEADER.into(), b"tombstone".to_vec())] });
        assert!(ix.is_empty());
    }

    #[test]
    fn compatibility() {
        let c = cp(0, 1, true, vec![]);
        assert!(check_compatible(&c, "OnlineLogisticRegression", "1.9.0", "ck").is_ok());
        let e = check_compatible(&c, "OnlineLogisticRegression", "2.0.0", "ck").unwrap_err();
        assert!(e.to_string().contains("incompatible checkpoint"), "{e}");
        let e = check_compatible(&c, "Hostile", "1.2.0", "ck").unwrap_err();
        assert!(
            e.to_string().contains("snapshot of operator OnlineLogisticRegression 1.2.0") && e.to_string().contains("runs Hostile 1.2.0"),
            "{e}"
        );
        let mut chain = cp(0, 1, true, vec![]);
        chain.operator = "A | B".into();
        chain.version = "1.0.0 | 0.2.1".into();
        assert!(check_compatible(&chain, "A | B", "1.3.0 | 0.2.0", "ck").is_ok());
        assert!(check_compatible(&chain, "A | B", "1.3.0 | 0.3.0", "ck").is_err());
        assert!(check_compatible(&chain, "A", "1.0.0", "ck").is_err());
        assert_eq!(major("0.3.1"), "0.3");
        assert_eq!(major("2.0"), "2");
    }
}
