//! Snapshots whose cost follows the changes: a *full* snapshot holds every occupied slot, a
//! *delta* only the slots changed since the previous snapshot (plus the small core: counters,
//! RNG, tombstones, the popularity-ring writes since then). Every blob is an SDK envelope
//! (operator name and major version checked on restore) around a [`Header`] that names the
//! event range it covers and the hash of its parent blob, so a chain restores only in order
//! and only onto its own base.
//!
//! `restore` takes one byte string: a full blob alone, or a *chain* (a full blob and the deltas
//! that follow it, in order) framed by [`frame_chain`]. Which blobs a host must keep is told
//! by [`peek`]: a delta needs every blob back to the last full one.

use std::cell::Cell;

use eddy_sdk::{OperatorError, OperatorInfo, snapshot as envelope};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::model::Model;
use crate::params::Params;
use crate::rng::SplitMix64;
use crate::table::{EntryOwned, Kind, Table};

/// Prefix of a framed chain of snapshot blobs.
pub const CHAIN_MAGIC: &[u8; 16] = b"eddy-chain/1\n\0\0\0";

/// Whether a blob holds the whole state or the changes since its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlobKind {
    /// Restorable alone.
    Full,
    /// Restorable only after its parent (and the parent's parents, back to a full blob).
    Delta,
}

/// What a blob covers; readable without decoding the state (see [`peek`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Full or delta.
    pub kind: BlobKind,
    /// Events already in the parent (0 for a full blob).
    pub from_op: u64,
    /// Events covered once this blob is applied.
    pub to_op: u64,
    /// [`blob_hash`] of the parent blob (0 for a full blob).
    pub parent_hash: u64,
}

/// The scalar state and the small structures, written whole into every blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Core<T> {
    params: Params,
    rng: SplitMix64,
    clock: i64,
    tick: u64,
    events: u64,
    version: i64,
    events_since_publish: u64,
    published_op: u64,
    tombstones: Vec<(Kind, T, i64)>,
    ring_writes: u64,
    user_capacity: u64,
    item_capacity: u64,
}

/// Writes that went into the popularity ring: write `first + n` holds `values[n]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RingWrites<V> {
    first: u64,
    values: V,
}

/// The slots of one table that a blob carries, serialized without copying.
struct Entries<'a> {
    table: &'a Table,
    slots: Vec<u32>,
    admit_after: u32,
}

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.slots.iter().map(|&slot| {
            let with_vector = self.table.count[slot as usize] >= self.admit_after;
            self.table.entry(slot, with_vector)
        }))
    }
}

/// A blob as written.
struct BlobRef<'a> {
    header: Header,
    core: Core<&'a str>,
    ring: RingWrites<Vec<u32>>,
    users: Entries<'a>,
    items: Entries<'a>,
}

impl Serialize for BlobRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Blob", 5)?;
        st.serialize_field("header", &self.header)?;
        st.serialize_field("core", &self.core)?;
        st.serialize_field("ring", &self.ring)?;
        st.serialize_field("users", &self.users)?;
        st.serialize_field("items", &self.items)?;
        st.end()
    }
}

/// A blob as read (same layout as [`BlobRef`]).
#[derive(Debug, Deserialize)]
pub struct Blob {
    header: Header,
    core: Core<String>,
    ring: RingWrites<Vec<u32>>,
    users: Vec<EntryOwned>,
    items: Vec<EntryOwned>,
}

/// Where the last snapshot left off: what the next delta is relative to. Kept outside the
/// serialized state (snapshots are taken through `&self`); a restore sets it to the end of the
/// restored chain, so the restored instance continues exactly as the original would have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marker {
    /// Whether a snapshot was taken (or restored) at all.
    pub taken: bool,
    /// Events covered by it.
    pub op: u64,
    /// Ring writes covered by it.
    pub ring_writes: u64,
    /// Its [`blob_hash`].
    pub hash: u64,
    /// Deltas since the last full blob.
    pub deltas_since_full: u64,
}

/// A 64-bit hash of a blob's bytes (word-wise multiply-xorshift; integrity, not security).
pub fn blob_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ (bytes.len() as u64).wrapping_mul(K);
    let words = bytes.chunks_exact(8);
    let rest = words.remainder();
    for w in words {
        let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ v).wrapping_mul(K);
        h ^= h >> 29;
    }
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 32)
}

fn core_of(m: &Model) -> Core<&str> {
    Core {
        params: m.p.clone(),
        rng: m.rng.clone(),
        clock: m.clock,
        tick: m.tick,
        events: m.events,
        version: m.version,
        events_since_publish: m.events_since_publish,
        published_op: m.published_op,
        tombstones: m.tombstones.iter().map(|((k, id), t)| (*k, id.as_str(), *t)).collect(),
        ring_writes: m.ring_writes,
        user_capacity: m.users.capacity() as u64,
        item_capacity: m.items.capacity() as u64,
    }
}

/// Ring writes from `first` (clamped to the ones still in the ring) to the end, in order.
fn ring_since(m: &Model, first: u64) -> RingWrites<Vec<u32>> {
    let window = m.p.popularity_window as u64;
    let first = first.max(m.ring_writes.saturating_sub(window));
    let values = (first..m.ring_writes).map(|w| m.ring[(w % window) as usize]).collect();
    RingWrites { first, values }
}

/// Writes a blob: full (every occupied slot) when `marker` is `None`, else a delta of the
/// slots changed after `marker.op`.
pub fn write(info: &OperatorInfo, m: &Model, marker: Option<&Marker>) -> Result<(Vec<u8>, Header), OperatorError> {
    let admit_after = m.p.admit_after;
    let (header, ring, users, items) = match marker {
        None => (
            Header { kind: BlobKind::Full, from_op: 0, to_op: m.events, parent_hash: 0 },
            ring_since(m, 0),
            m.users.occupied().collect(),
            m.items.occupied().collect(),
        ),
        Some(mk) => {
            let changed =
                |t: &Table| -> Vec<u32> { t.changed_op.iter().enumerate().filter(|&(_, &c)| c > mk.op).map(|(s, _)| s as u32).collect() };
            (
                Header { kind: BlobKind::Delta, from_op: mk.op, to_op: m.events, parent_hash: mk.hash },
                ring_since(m, mk.ring_writes),
                changed(&m.users),
                changed(&m.items),
            )
        }
    };
    let blob = BlobRef {
        header,
        core: core_of(m),
        ring,
        users: Entries { table: &m.users, slots: users, admit_after },
        items: Entries { table: &m.items, slots: items, admit_after },
    };
    Ok((envelope::seal(info, &blob)?, header))
}

/// The header of a blob, without decoding the state: what a host needs to keep chains.
pub fn peek(info: &OperatorInfo, bytes: &[u8]) -> Result<Header, OperatorError> {
    #[derive(Deserialize)]
    struct Prefix {
        header: Header,
    }
    let p: Prefix = envelope::open(info, bytes)?;
    Ok(p.header)
}

/// Frames blobs (a full one, then its deltas in order) into the one byte string `restore`
/// accepts: [`CHAIN_MAGIC`], then for each blob its length (u64, little-endian) and its bytes.
pub fn frame_chain<B: AsRef<[u8]>>(blobs: &[B]) -> Vec<u8> {
    let total: usize = blobs.iter().map(|b| b.as_ref().len() + 8).sum();
    let mut out = Vec::with_capacity(CHAIN_MAGIC.len() + total);
    out.extend_from_slice(CHAIN_MAGIC);
    for b in blobs {
        out.extend_from_slice(&(b.as_ref().len() as u64).to_le_bytes());
        out.extend_from_slice(b.as_ref());
    }
    out
}

/// Splits a framed chain (or a lone blob) into blobs.
fn unframe(bytes: &[u8]) -> Result<Vec<&[u8]>, OperatorError> {
    let Some(mut rest) = bytes.strip_prefix(CHAIN_MAGIC.as_slice()) else {
        return Ok(vec![bytes]);
    };
    let mut blobs = Vec::new();
    while !rest.is_empty() {
        let bad = || OperatorError::internal("corrupt snapshot chain: truncated frame");
        let len: [u8; 8] = rest.get(..8).ok_or_else(bad)?.try_into().expect("8 bytes");
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| bad())?;
        let blob = rest.get(8..8usize.saturating_add(len)).ok_or_else(bad)?;
        blobs.push(blob);
        rest = &rest[8 + len..];
    }
    if blobs.is_empty() {
        return Err(OperatorError::internal("empty snapshot chain"));
    }
    Ok(blobs)
}

fn apply(m: &mut Model, blob: Blob) -> Result<(usize, usize), String> {
    let c = blob.core;
    m.p = c.params;
    m.rng = c.rng;
    m.clock = c.clock;
    m.tick = c.tick;
    m.events = c.events;
    m.version = c.version;
    m.events_since_publish = c.events_since_publish;
    m.published_op = c.published_op;
    m.tombstones = c.tombstones.into_iter().map(|(k, id, t)| ((k, id), t)).collect();
    let window = m.p.popularity_window as u64;
    m.ring.resize(c.ring_writes.min(window) as usize, 0);
    for (n, v) in blob.ring.values.into_iter().enumerate() {
        let w = blob.ring.first + n as u64;
        *m.ring.get_mut((w % window) as usize).ok_or("ring write outside the ring")? = v;
    }
    m.ring_writes = c.ring_writes;
    for e in blob.users {
        m.users.set_entry(e)?;
    }
    for e in blob.items {
        m.items.set_entry(e)?;
    }
    Ok((c.user_capacity as usize, c.item_capacity as usize))
}

/// Decodes a full blob alone, or a chain, into a model; returns it with the marker the next
/// snapshot continues from.
pub fn read(info: &OperatorInfo, bytes: &[u8]) -> Result<(Model, Marker), OperatorError> {
    read_blobs(info, &unframe(bytes)?)
}

/// Decodes a chain given as separate blobs (a full one, then its deltas in order) into a
/// model; returns it with the marker the next snapshot continues from.
pub fn read_blobs(info: &OperatorInfo, blobs: &[&[u8]]) -> Result<(Model, Marker), OperatorError> {
    if blobs.is_empty() {
        return Err(OperatorError::internal("empty snapshot chain"));
    }
    let mut model: Option<Model> = None;
    let mut marker = Marker::default();
    let mut caps = (0, 0);
    for (n, raw) in blobs.iter().enumerate() {
        let blob: Blob = envelope::open(info, raw)?;
        let h = blob.header;
        match (n, h.kind) {
            (0, BlobKind::Delta) => {
                return Err(OperatorError::internal(format!(
                    "this is an incremental snapshot (the changes of events {}..={}): it restores only as a chain after its full base; frame the base and every delta after it with frame_chain",
                    h.from_op + 1,
                    h.to_op
                )));
            }
            (0, BlobKind::Full) => {}
            (_, BlobKind::Full) => {
                return Err(OperatorError::internal(format!("snapshot chain: blob {n} is a full snapshot; a chain has one, first")));
            }
            (_, BlobKind::Delta) => {
                if h.from_op != marker.op || h.parent_hash != marker.hash {
                    return Err(OperatorError::internal(format!(
                        "snapshot chain: blob {n} continues events up to {} of another parent, but the chain so far covers {}",
                        h.from_op, marker.op
                    )));
                }
            }
        }
        let m = model.get_or_insert_with(|| Model::new(blob.core.params.clone()));
        if m.p.dim != blob.core.params.dim {
            return Err(OperatorError::internal("snapshot chain: the dimension changed along the chain"));
        }
        caps = apply(m, blob).map_err(|e| OperatorError::internal(format!("corrupt snapshot: {e}")))?;
        marker = Marker { taken: true, op: h.to_op, ring_writes: m.ring_writes, hash: blob_hash(raw), deltas_since_full: n as u64 };
    }
    let mut m = model.expect("at least one blob");
    m.rebuild(caps.0, caps.1).map_err(|e| OperatorError::internal(format!("corrupt snapshot: {e}")))?;
    Ok((m, marker))
}

/// The marker cell the operator keeps beside its model.
pub type MarkerCell = Cell<Marker>;
