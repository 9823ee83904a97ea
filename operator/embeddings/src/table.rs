//! A collisionless embedding table keyed by the raw id: slots in struct-of-arrays form (one
//! contiguous `f32` matrix for the vectors, which ranking reads as it is, and for ranking a
//! live mark per slot), an id → slot
//! index, and a set of free slots that always hands out the lowest one, so that slot layout is
//! a function of the events alone and can be rebuilt from a snapshot.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// Which table an id lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A user id.
    User,
    /// An item id.
    Item,
}

impl Kind {
    /// The name used in the published rows (`"user"` or `"item"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Item => "item",
        }
    }
}

/// Slots per block of the scores ([`crate::math::rows_scan`]): one 128-bit SIMD register of `f32`.
pub const BLOCK: usize = 4;

/// FxHash (rustc-hash): no keys, so no host randomness; the index is looked up, never iterated.
type FixedHasher = rustc_hash::FxBuildHasher;

/// One table's slots. A slot is free when its id is empty (a JSON text is never empty).
#[derive(Debug, Clone, Default)]
pub struct Table {
    dim: usize,
    ids: Vec<String>,
    /// Events seen for the id (saturating); the id is admitted once it reaches `admitAfter`.
    pub count: Vec<u32>,
    /// Recency tick of the last sighting (unique across both tables).
    pub tick: Vec<u64>,
    /// Event-time clock at the last sighting.
    pub last_seen: Vec<i64>,
    /// Event-time clock at the last change of the vector.
    pub updated_time: Vec<i64>,
    /// Event number of the last change of the vector (publication tracking).
    pub updated_op: Vec<u64>,
    /// Event number of the last change of anything in the slot (snapshot tracking).
    pub changed_op: Vec<u64>,
    /// Row-wise optimiser accumulator (AdaGrad: sum over updates of the mean squared gradient
    /// coordinate; RMSProp: its decaying mean; unused by SGD).
    pub acc: Vec<f32>,
    vectors: Vec<f32>,
    /// Derived (never in a snapshot), kept only after [`Table::keep_live`]: one mark per slot,
    /// padded with zeros to whole blocks of [`BLOCK`]: all ones for a slot holding an admitted
    /// id (count at least `admit_after`), zero otherwise (and for padding).
    live: Vec<u32>,
    admit_after: u32,
    /// Slots whose vector changed since `live` was last brought up to date.
    stale: Vec<u32>,
    /// Every slot is stale (after a restore, or when more changed than there are slots).
    all_stale: bool,
    keep_live: bool,
    index: HashMap<String, u32, FixedHasher>,
    free: BTreeSet<u32>,
}

/// One slot as it is written into a snapshot (borrowed) or read from one (owned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry<S, V> {
    /// The slot.
    pub slot: u32,
    /// The raw id (JSON text); empty for a free slot.
    pub id: S,
    /// See [`Table::count`].
    pub count: u32,
    /// See [`Table::tick`].
    pub tick: u64,
    /// See [`Table::last_seen`].
    pub last_seen: i64,
    /// See [`Table::updated_time`].
    pub updated_time: i64,
    /// See [`Table::updated_op`].
    pub updated_op: u64,
    /// See [`Table::changed_op`].
    pub changed_op: u64,
    /// See [`Table::acc`].
    pub acc: f32,
    /// The vector, empty when the slot has none (free, or an id still counting).
    pub vector: V,
}

/// An entry borrowed from a table, for writing.
pub type EntryRef<'a> = Entry<&'a str, &'a [f32]>;
/// An entry read from a snapshot.
pub type EntryOwned = Entry<String, Vec<f32>>;

impl Table {
    /// An empty table of vectors of dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    /// Number of slots (occupied or free).
    pub fn capacity(&self) -> usize {
        self.ids.len()
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of `id`, if present.
    pub fn lookup(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The id in `slot` (empty when free).
    pub fn id(&self, slot: u32) -> &str {
        &self.ids[slot as usize]
    }

    /// The vector of `slot`.
    #[inline]
    pub fn vector(&self, slot: u32) -> &[f32] {
        let s = slot as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    /// The vector of `slot`, mutable.
    #[inline]
    pub fn vector_mut(&mut self, slot: u32) -> &mut [f32] {
        if self.keep_live && !self.all_stale {
            if self.stale.len() >= self.ids.len() {
                self.all_stale = true;
                self.stale.clear();
            } else {
                self.stale.push(slot);
            }
        }
        let s = slot as usize * self.dim;
        &mut self.vectors[s..s + self.dim]
    }

    /// Puts `id` in the lowest free slot (or a new one), with everything zero.
    pub fn insert(&mut self, id: &str) -> u32 {
        let slot = match self.free.pop_first() {
            Some(s) => s,
            None => {
                self.grow(self.ids.len() + 1);
                (self.ids.len() - 1) as u32
            }
        };
        self.ids[slot as usize] = id.to_owned();
        self.index.insert(id.to_owned(), slot);
        slot
    }

    /// Frees `slot` (its id must be present); `op` is recorded as its last change.
    pub fn remove(&mut self, slot: u32, op: u64) {
        let s = slot as usize;
        let id = std::mem::take(&mut self.ids[s]);
        self.index.remove(&id);
        self.clear(s);
        self.changed_op[s] = op;
        self.free.insert(slot);
    }

    fn clear(&mut self, s: usize) {
        self.count[s] = 0;
        self.tick[s] = 0;
        self.last_seen[s] = 0;
        self.updated_time[s] = 0;
        self.updated_op[s] = 0;
        self.changed_op[s] = 0;
        self.acc[s] = 0.0;
        self.vector_mut(s as u32).fill(0.0);
    }

    fn grow(&mut self, capacity: usize) {
        if capacity <= self.ids.len() {
            return;
        }
        self.ids.resize(capacity, String::new());
        self.count.resize(capacity, 0);
        self.tick.resize(capacity, 0);
        self.last_seen.resize(capacity, 0);
        self.updated_time.resize(capacity, 0);
        self.updated_op.resize(capacity, 0);
        self.changed_op.resize(capacity, 0);
        self.acc.resize(capacity, 0.0);
        self.vectors.resize(capacity * self.dim, 0.0);
        if self.keep_live {
            self.live.resize(capacity.div_ceil(BLOCK) * BLOCK, 0);
        }
    }

    /// Keeps the live marks from now on (for [`Table::live`]): slots counted `admit_after`
    /// times or more are live. A slot's admission (its count reaching `admit_after`) and its
    /// removal both write its vector, so the marks follow the vectors.
    pub fn keep_live(&mut self, admit_after: u32) {
        self.keep_live = true;
        self.admit_after = admit_after;
        self.refill_live();
    }

    /// Marks every slot for [`Table::sync_live`].
    fn refill_live(&mut self) {
        self.live.clear();
        self.live.resize(self.capacity().div_ceil(BLOCK) * BLOCK, 0);
        self.stale.clear();
        self.all_stale = true;
    }

    /// Brings the live marks up to date (see [`Table::live`]).
    pub fn sync_live(&mut self) {
        let admit_after = self.admit_after;
        let Self { live, count, .. } = self;
        let mut copy = |s: usize| {
            live[s] = if count[s] >= admit_after { u32::MAX } else { 0 };
        };
        if std::mem::take(&mut self.all_stale) {
            for s in 0..self.ids.len() {
                copy(s);
            }
        }
        for slot in self.stale.drain(..) {
            copy(slot as usize);
        }
    }

    /// The live marks (see the `live` field) as of the last [`Table::sync_live`], padded to
    /// whole blocks of [`BLOCK`] slots. Empty unless [`Table::keep_live`] was called.
    pub fn live(&self) -> &[u32] {
        &self.live
    }

    /// Every slot's vector, one after another ([`Table::capacity`] slots of `dim` values).
    pub fn rows(&self) -> &[f32] {
        &self.vectors
    }

    /// The entry of `slot` for a snapshot; the vector is written only when `with_vector`.
    pub fn entry(&self, slot: u32, with_vector: bool) -> EntryRef<'_> {
        let s = slot as usize;
        Entry {
            slot,
            id: &self.ids[s],
            count: self.count[s],
            tick: self.tick[s],
            last_seen: self.last_seen[s],
            updated_time: self.updated_time[s],
            updated_op: self.updated_op[s],
            changed_op: self.changed_op[s],
            acc: self.acc[s],
            vector: if with_vector { self.vector(slot) } else { &[] },
        }
    }

    /// Overwrites a slot from a snapshot entry (growing the table if needed). The index and
    /// free set are left stale: call [`Table::rebuild`] once all entries are in.
    pub fn set_entry(&mut self, e: EntryOwned) -> Result<(), String> {
        if !e.vector.is_empty() && e.vector.len() != self.dim {
            return Err(format!("entry of slot {} has a vector of {} values, expected {}", e.slot, e.vector.len(), self.dim));
        }
        let s = e.slot as usize;
        self.grow(s + 1);
        self.clear(s);
        self.ids[s] = e.id;
        self.count[s] = e.count;
        self.tick[s] = e.tick;
        self.last_seen[s] = e.last_seen;
        self.updated_time[s] = e.updated_time;
        self.updated_op[s] = e.updated_op;
        self.changed_op[s] = e.changed_op;
        self.acc[s] = e.acc;
        if !e.vector.is_empty() {
            self.vector_mut(e.slot).copy_from_slice(&e.vector);
        }
        Ok(())
    }

    /// Grows to `capacity` slots (a snapshot's) and rebuilds the index and the free set from
    /// the slots. Fails on a duplicate id.
    pub fn rebuild(&mut self, capacity: usize) -> Result<(), String> {
        self.grow(capacity);
        if self.keep_live {
            self.refill_live();
        }
        self.index.clear();
        self.free.clear();
        for (s, id) in self.ids.iter().enumerate() {
            if id.is_empty() {
                self.free.insert(s as u32);
            } else if self.index.insert(id.clone(), s as u32).is_some() {
                return Err(format!("id {id} is in two slots"));
            }
        }
        Ok(())
    }

    /// Occupied slots in slot order.
    pub fn occupied(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().enumerate().filter(|(_, id)| !id.is_empty()).map(|(s, _)| s as u32)
    }
}
