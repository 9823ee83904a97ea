//! The embedding model and everything one event does to it, over plain data (no Arrow):
//! expiry, scoring (rank of the true item, top-k: one matrix-vector product over the item
//! table), admission and the memory bound, one step of BPR or logistic loss with sampled
//! negatives (row-wise RMSProp, AdaGrad or SGD), and the bookkeeping that lets publications
//! and snapshots carry only what changed. Per-event work reuses buffers kept in the model: no
//! allocation per event once they have grown.

use std::collections::BTreeMap;

use crate::math::{dot, not_below, rows_scan, sigmoid, top_floor};
use crate::params::{Loss, Optimizer, Params};
use crate::recency::Recency;
use crate::rng::SplitMix64;
use crate::table::{BLOCK, Kind, Table};

/// Largest gradient scale one event can apply (keeps huge weights finite in `f32`).
const MAX_SCALE: f64 = 1e6;
/// Draws tried when sampling a uniform known item before giving the negative up.
const UNIFORM_TRIES: usize = 8;
/// Added to the AdaGrad denominator.
const ADAGRAD_EPS: f32 = 1e-8;

/// One event, as read from an input row.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The user id (JSON text).
    pub user: &'a str,
    /// The item id (JSON text).
    pub item: &'a str,
    /// The weight (>= 0).
    pub weight: f64,
    /// The event time (ms).
    pub time: i64,
}

/// What scoring an event gave, before learning from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// 1-based rank of the true item among the known items; `None` when the user or the item
    /// is unknown (cold), or when evaluation is off.
    pub rank: Option<u64>,
    /// Whether evaluation ran for this event.
    pub evaluated: bool,
    /// Whether the event has a top-k list (given to [`Model::step`]'s callback); false when
    /// the user is unknown or top-k is off.
    pub has_top: bool,
    /// The model version in force (publications so far).
    pub version: i64,
}

/// Buffers reused from event to event (derived, never in a snapshot).
#[derive(Debug, Clone, Default)]
struct Scratch {
    /// Scores of every item slot for the event's user.
    scores: Vec<f32>,
    /// The best live score of each block of `scores` (see [`rows_scan`]), padded with `-inf`
    /// to whole groups of four blocks.
    maxes: Vec<f32>,
    /// Scratch for [`top_floor`].
    select: Vec<u32>,
    /// The best items of the last scored event, best first: (score, slot).
    top: Vec<(f32, u32)>,
    /// The user's and the positive item's vectors before the step, and the gradients.
    pu: Vec<f32>,
    qi: Vec<f32>,
    gu: Vec<f32>,
    gi: Vec<f32>,
    gj: Vec<f32>,
    /// The negatives drawn for the event.
    negs: Vec<u32>,
}

/// The admitted slots whose vector changed since the last publication: a flag per slot and
/// the list of flagged slots, so that marking a slot (ten times an event) costs O(1). The
/// list may name a slot twice or name an unflagged one; [`DirtySet::take`] yields each flagged
/// slot once. Order does not matter: publications sort their rows by kind and id.
#[derive(Debug, Clone, Default)]
struct DirtySet {
    flags: [Vec<bool>; 2],
    list: Vec<(Kind, u32)>,
    len: usize,
}

impl DirtySet {
    fn flag(&mut self, kind: Kind, slot: u32) -> &mut bool {
        let f = &mut self.flags[kind as usize];
        if f.len() <= slot as usize {
            f.resize(slot as usize + 1, false);
        }
        &mut f[slot as usize]
    }

    fn insert(&mut self, kind: Kind, slot: u32) {
        let f = self.flag(kind, slot);
        if !*f {
            *f = true;
            self.len += 1;
            self.list.push((kind, slot));
        }
    }

    fn remove(&mut self, kind: Kind, slot: u32) {
        let f = self.flag(kind, slot);
        if *f {
            *f = false;
            self.len -= 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Every flagged slot once, unflagging them all.
    fn take(&mut self) -> Vec<(Kind, u32)> {
        let list = std::mem::take(&mut self.list);
        let out: Vec<(Kind, u32)> = list.into_iter().filter(|&(k, s)| std::mem::replace(self.flag(k, s), false)).collect();
        self.len = 0;
        out
    }

    fn clear(&mut self) {
        for (k, s) in std::mem::take(&mut self.list) {
            *self.flag(k, s) = false;
        }
        self.len = 0;
    }
}

/// One published row: a vector, or a tombstone for an evicted id.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedRow {
    /// User or item.
    pub kind: Kind,
    /// The raw id (JSON text).
    pub id: String,
    /// The vector; `None` for a tombstone.
    pub vector: Option<Vec<f32>>,
    /// The version of the publication.
    pub version: i64,
    /// Event-time clock at the vector's last change (or at the eviction).
    pub event_time: i64,
}

/// The model: both tables and every counter, plus derived structures rebuilt on restore.
#[derive(Debug, Clone)]
pub struct Model {
    /// The configuration.
    pub p: Params,
    /// User vectors.
    pub users: Table,
    /// Item vectors.
    pub items: Table,
    /// Initial vectors and negatives.
    pub rng: SplitMix64,
    /// Event-time clock: the largest event time seen (`i64::MIN` before the first event).
    pub clock: i64,
    /// Recency counter; each sighting of an id takes the next value.
    pub tick: u64,
    /// Events processed; the event being processed is number `events` (from 1).
    pub events: u64,
    /// Publications so far (the model version).
    pub version: i64,
    /// Events since the last publication.
    pub events_since_publish: u64,
    /// Event number of the last publication.
    pub published_op: u64,
    /// Ids evicted (with a vector) since the last publication, with the clock at eviction.
    pub tombstones: BTreeMap<(Kind, String), i64>,
    /// Item slots of the most recent positive events (a ring of `popularityWindow`).
    pub ring: Vec<u32>,
    /// Writes into the ring so far; write `w` went to `ring[w % popularityWindow]`.
    pub ring_writes: u64,
    /// Derived: the held ids, least recently seen first (for expiry and the bound).
    lru: Recency,
    /// Derived: admitted slots whose vector changed since the last publication.
    pub_dirty: DirtySet,
    /// Derived: buffers reused by every event.
    scratch: Scratch,
}

impl Model {
    /// An empty model.
    pub fn new(p: Params) -> Self {
        let dim = p.dim;
        let rng = SplitMix64::new(p.seed);
        let mut items = Table::new(dim);
        if p.evaluate || p.top_k > 0 {
            items.keep_live(p.admit_after);
        }
        Self {
            p,
            users: Table::new(dim),
            items,
            rng,
            clock: i64::MIN,
            tick: 0,
            events: 0,
            version: 0,
            events_since_publish: 0,
            published_op: 0,
            tombstones: BTreeMap::new(),
            ring: Vec::new(),
            ring_writes: 0,
            lru: Recency::default(),
            pub_dirty: DirtySet::default(),
            scratch: Scratch::default(),
        }
    }

    /// The table of `kind`.
    pub fn table(&self, kind: Kind) -> &Table {
        match kind {
            Kind::User => &self.users,
            Kind::Item => &self.items,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut Table {
        match kind {
            Kind::User => &mut self.users,
            Kind::Item => &mut self.items,
        }
    }

    /// Whether `slot` of `table` holds an admitted id (free slots count 0 < admitAfter).
    #[inline]
    fn admitted(&self, table: &Table, slot: u32) -> bool {
        table.count[slot as usize] >= self.p.admit_after
    }

    /// The admitted slot of `id`, if any.
    pub fn known(&self, kind: Kind, id: &str) -> Option<u32> {
        let t = self.table(kind);
        t.lookup(id).filter(|&s| self.admitted(t, s))
    }

    /// Ids held (users plus items, admitted or counting).
    pub fn ids_held(&self) -> usize {
        self.users.len() + self.items.len()
    }

    /// Processes one event: expiry, scoring, then learning; returns the score and, when the
    /// event completes a publication interval, the publication. `top` is called with each
    /// id (JSON text) of the event's top list, best first, before the model learns from it.
    pub fn step(&mut self, e: &Event<'_>, mut top: impl FnMut(&str)) -> (Score, Option<Vec<PublishedRow>>) {
        self.clock = self.clock.max(e.time);
        self.events += 1;
        self.expire();
        let score = self.score(e);
        for &(_, s) in &self.scratch.top {
            top(self.items.id(s));
        }
        self.learn(e);
        self.events_since_publish += 1;
        let mut published = None;
        if self.p.publish_every_events > 0 && self.events_since_publish >= self.p.publish_every_events {
            published = self.publish();
            self.events_since_publish = 0;
        }
        (score, published)
    }

    /// Evicts every id unseen for more than `expireAfterMs` of event time.
    fn expire(&mut self) {
        if self.p.expire_after_ms == 0 {
            return;
        }
        while let Some((kind, slot)) = self.lru.front() {
            let seen = self.table(kind).last_seen[slot as usize];
            if self.clock.saturating_sub(seen) <= self.p.expire_after_ms {
                break;
            }
            self.evict(kind, slot);
        }
    }

    /// Removes an id; one that had a vector leaves a tombstone for the next publication.
    fn evict(&mut self, kind: Kind, slot: u32) {
        let (op, clock) = (self.events, self.clock);
        let t = self.table(kind);
        if self.admitted(t, slot) {
            let id = t.id(slot).to_owned();
            self.tombstones.insert((kind, id), clock);
        }
        self.pub_dirty.remove(kind, slot);
        self.lru.remove(kind, slot);
        self.table_mut(kind).remove(slot, op);
    }

    /// Scores an event with the model as it stands (after expiry, before learning).
    fn score(&mut self, e: &Event<'_>) -> Score {
        let version = self.version;
        let evaluated = self.p.evaluate;
        self.scratch.top.clear();
        let Some(u) = self.known(Kind::User, e.user) else {
            return Score { rank: None, evaluated, has_top: false, version };
        };
        let item = if evaluated { self.known(Kind::Item, e.item) } else { None };
        if item.is_none() && self.p.top_k == 0 {
            return Score { rank: None, evaluated, has_top: false, version };
        }
        let rank = self.rank(u, item);
        Score { rank, evaluated, has_top: self.p.top_k > 0, version }
    }

    /// The user's scores against every item slot as one matrix-vector product ([`rows_scan`],
    /// which also counts the live slots above the positive and takes each block's best live
    /// score), then the rank of `item` for user slot `u` (ties broken by id, smaller first) and
    /// the top `topK` items (score descending, then id ascending) into the scratch top list.
    /// Only the blocks not below a floor for the list ([`top_floor`]) are looked at slot by slot.
    fn rank(&mut self, u: u32, item: Option<u32>) -> Option<u64> {
        let k = self.p.top_k;
        let Self { users, items, scratch, .. } = self;
        let n = items.capacity();
        let blocks_n = n.div_ceil(BLOCK);
        scratch.scores.resize(blocks_n * BLOCK, 0.0);
        // Padded with -inf to whole groups of four for `not_below`.
        scratch.maxes.clear();
        scratch.maxes.resize(blocks_n.div_ceil(4) * 4, f32::NEG_INFINITY);
        items.sync_live();
        let items = &*items;
        let live = items.live();
        let pu = users.vector(u);
        // The positive's score as the kernel computes it (`rows_scan` gives `dot`'s bits).
        let si = item.map_or(f32::INFINITY, |i| dot(pu, items.vector(i)));
        let scan = rows_scan(pu, items.rows(), live, si, &mut scratch.scores, &mut scratch.maxes[..blocks_n]);
        let sc = &scratch.scores;
        let mut better = scan.above;
        if let Some(i) = item {
            let target = i as usize;
            debug_assert_eq!(sc[target].to_bits(), si.to_bits());
            // Live slots tying with the positive (other than itself) count when their id is
            // smaller: looked for only when there are any.
            if scan.equal > u64::from(live[target] != 0 && sc[target] == si) {
                let target_id = items.id(i);
                better += (0..n).filter(|&s| s != target && live[s] != 0 && sc[s] == si && items.id(s as u32) < target_id).count() as u64;
            }
        }
        if k > 0 {
            let top = &mut scratch.top;
            let ahead = |a: (f32, u32), b: (f32, u32)| a.0 > b.0 || (a.0 == b.0 && items.id(a.1) < items.id(b.1));
            // A slot below the floor cannot enter the list (NaN scores are never below it).
            let mut floor = if scan.nan { f32::NEG_INFINITY } else { top_floor(&scratch.maxes, k, &mut scratch.select) };
            for (g, group) in scratch.maxes.chunks_exact(4).enumerate() {
                // The floor only rises: a block flagged here is checked again below.
                let mut flagged = not_below(group, floor);
                while flagged != 0 {
                    let b = 4 * g + flagged.trailing_zeros() as usize;
                    flagged &= flagged - 1;
                    if b >= blocks_n || scratch.maxes[b] < floor {
                        continue;
                    }
                    for s in b * BLOCK..(b + 1) * BLOCK {
                        let x = sc[s];
                        if live[s] == 0 || x < floor {
                            continue;
                        }
                        let cand = (x, s as u32);
                        if top.len() == k && !ahead(cand, top[k - 1]) {
                            continue;
                        }
                        let pos = top.partition_point(|&y| ahead(y, cand));
                        if top.len() == k {
                            top.pop();
                        }
                        top.insert(pos, cand);
                        if top.len() == k {
                            floor = top[k - 1].0;
                        }
                    }
                }
            }
        }
        item.map(|_| better + 1)
    }

    /// Counts the sighting of both ids (admitting, inserting and evicting as needed), then
    /// takes one gradient step if both are admitted.
    fn learn(&mut self, e: &Event<'_>) {
        let u = self.touch(Kind::User, e.user);
        let i = self.touch(Kind::Item, e.item);
        let (ua, ia) = (self.admitted(&self.users, u), self.admitted(&self.items, i));
        if ua && ia && e.weight > 0.0 {
            self.gradient_step(u, i, e.weight);
        }
        if ia {
            let w = self.p.popularity_window;
            let pos = (self.ring_writes % w as u64) as usize;
            if pos == self.ring.len() {
                self.ring.push(i);
            } else {
                self.ring[pos] = i;
            }
            self.ring_writes += 1;
        }
    }

    /// Records one sighting of `id`: inserts it (evicting the least recently seen id when the
    /// table is at `maxIds`), refreshes its recency, counts it, and admits it at its
    /// `admitAfter`-th sighting with a fresh random vector.
    fn touch(&mut self, kind: Kind, id: &str) -> u32 {
        let (op, clock) = (self.events, self.clock);
        let slot = match self.table(kind).lookup(id) {
            Some(s) => {
                self.lru.remove(kind, s);
                s
            }
            None => {
                // The front is never the other id of this event: that one was just touched,
                // so it is the most recent, and maxIds >= 2.
                while self.ids_held() as u64 >= self.p.max_ids {
                    let (k, s) = self.lru.front().expect("a full table has an oldest id");
                    self.evict(k, s);
                }
                self.table_mut(kind).insert(id)
            }
        };
        self.tick += 1;
        let tick = self.tick;
        self.lru.push_back(kind, slot);
        let admit_after = self.p.admit_after;
        let t = self.table_mut(kind);
        let s = slot as usize;
        t.tick[s] = tick;
        t.last_seen[s] = clock;
        t.changed_op[s] = op;
        t.count[s] = t.count[s].saturating_add(1);
        if t.count[s] == admit_after {
            let a = self.p.init_std * 3f32.sqrt();
            let t = match kind {
                Kind::User => &mut self.users,
                Kind::Item => &mut self.items,
            };
            for v in t.vector_mut(slot) {
                *v = a * self.rng.next_signed_f32();
            }
            t.acc[s] = 0.0;
            self.mark_updated(kind, slot);
            self.tombstones.remove(&(kind, id.to_owned()));
        }
        slot
    }

    fn mark_updated(&mut self, kind: Kind, slot: u32) {
        let (op, clock) = (self.events, self.clock);
        let t = self.table_mut(kind);
        let s = slot as usize;
        t.updated_op[s] = op;
        t.updated_time[s] = clock;
        t.changed_op[s] = op;
        self.pub_dirty.insert(kind, slot);
    }

    /// A negative item: from the popularity ring with probability `popularityMix`, otherwise
    /// (or when the ring's entry is no longer a known item) uniformly from the known items by
    /// rejection over the slots. `None` when no known item was found.
    fn draw_negative(&mut self) -> Option<u32> {
        let mix = self.p.popularity_mix;
        let from_ring = !self.ring.is_empty() && (mix >= 1.0 || (mix > 0.0 && self.rng.next_f64() < mix));
        if from_ring {
            let s = self.ring[self.rng.below(self.ring.len() as u64) as usize];
            if self.admitted(&self.items, s) {
                return Some(s);
            }
        }
        let cap = self.items.capacity() as u64;
        for _ in 0..UNIFORM_TRIES {
            let s = self.rng.below(cap) as u32;
            if self.admitted(&self.items, s) {
                return Some(s);
            }
        }
        None
    }

    /// One step of the loss for user `u`, positive item `i`, and `negatives` sampled items,
    /// with gradients taken at the user's and the positive item's vectors as they were before
    /// the step (a negative drawn twice is stepped twice, at its vector of the moment).
    fn gradient_step(&mut self, u: u32, i: u32, weight: f64) {
        let dim = self.p.dim;
        let reg = self.p.reg;
        let mut sc = std::mem::take(&mut self.scratch);
        for b in [&mut sc.gu, &mut sc.gi, &mut sc.gj] {
            b.clear();
            b.resize(dim, 0.0);
        }
        sc.pu.clear();
        sc.pu.extend_from_slice(self.users.vector(u));
        sc.qi.clear();
        sc.qi.extend_from_slice(self.items.vector(i));
        let si = f64::from(dot(&sc.pu, &sc.qi));
        if self.p.loss == Loss::Logistic {
            let c = (weight * sigmoid(-si)).min(MAX_SCALE) as f32;
            for d in 0..dim {
                sc.gu[d] -= c * sc.qi[d];
                sc.gi[d] -= c * sc.pu[d];
            }
        }
        sc.negs.clear();
        for _ in 0..self.p.negatives {
            if let Some(j) = self.draw_negative().filter(|&j| j != i) {
                sc.negs.push(j);
            }
        }
        let Scratch { pu, qi, gu, gi, gj, negs, .. } = &mut sc;
        // Rank weight: the share of sampled negatives scored at or above the positive
        // estimates its rank among the items; a positive ranked far down (a taste that
        // changed) gets a larger step.
        let w = if self.p.rank_weight > 0.0 && !negs.is_empty() {
            let above = negs.iter().filter(|&&j| f64::from(dot(pu, self.items.vector(j))) >= si).count();
            let est = above as f64 * self.items.len() as f64 / negs.len() as f64;
            1.0 + self.p.rank_weight * (1.0 + est).ln()
        } else {
            1.0
        };
        let scale = |x: f64| (weight * x).min(MAX_SCALE) as f32;
        for &j in negs.iter() {
            let qj = self.items.vector(j);
            let sj = f64::from(dot(pu, qj));
            match self.p.loss {
                Loss::Bpr => {
                    let c = scale(sigmoid(sj - si));
                    for d in 0..dim {
                        gu[d] -= c * (qi[d] - qj[d]);
                        gi[d] -= c * pu[d];
                        gj[d] = c * pu[d] + reg * qj[d];
                    }
                }
                Loss::Logistic => {
                    let c = scale(sigmoid(sj));
                    for d in 0..dim {
                        gu[d] += c * qj[d];
                        gj[d] = c * pu[d] + reg * qj[d];
                    }
                }
            }
            self.update(Kind::Item, j, gj);
        }
        let wu = w as f32;
        for d in 0..dim {
            gu[d] = wu * gu[d] + reg * pu[d];
            gi[d] += reg * qi[d];
        }
        self.update(Kind::User, u, gu);
        self.update(Kind::Item, i, gi);
        self.scratch = sc;
    }

    /// One optimiser step of the vector in `slot` along gradient `g` (see [`Optimizer`]).
    fn update(&mut self, kind: Kind, slot: u32, g: &[f32]) {
        let decay = self.p.decay;
        let optimizer = match (self.p.optimizer, kind) {
            (Optimizer::Hybrid, Kind::User) => Optimizer::Sgd,
            (Optimizer::Hybrid, Kind::Item) => Optimizer::AdaGrad,
            (o, _) => o,
        };
        let lr = match kind {
            Kind::User => self.p.user_learning_rate,
            Kind::Item => self.p.learning_rate,
        };
        let dim = self.p.dim as f32;
        let t = self.table_mut(kind);
        let s = slot as usize;
        let step = match optimizer {
            Optimizer::Sgd | Optimizer::Hybrid => lr,
            Optimizer::AdaGrad => {
                let acc = t.acc[s] + dot(g, g) / dim;
                t.acc[s] = acc;
                lr / (acc.sqrt() + ADAGRAD_EPS)
            }
            Optimizer::RmsProp => {
                let g2 = dot(g, g) / dim;
                // The first update sets the accumulator (no bias towards zero).
                let acc = if t.acc[s] == 0.0 { g2 } else { decay * t.acc[s] + (1.0 - decay) * g2 };
                t.acc[s] = acc;
                lr / (acc.sqrt() + ADAGRAD_EPS)
            }
        };
        for (v, gd) in t.vector_mut(slot).iter_mut().zip(g) {
            *v -= step * gd;
        }
        self.mark_updated(kind, slot);
    }

    /// Publishes the vectors changed and the ids evicted since the last publication, sorted
    /// by kind and id; `None` (and no new version) when nothing changed.
    pub fn publish(&mut self) -> Option<Vec<PublishedRow>> {
        if self.pub_dirty.is_empty() && self.tombstones.is_empty() {
            return None;
        }
        self.version += 1;
        let version = self.version;
        let mut rows: Vec<PublishedRow> = Vec::with_capacity(self.pub_dirty.len() + self.tombstones.len());
        for (kind, slot) in self.pub_dirty.take() {
            let t = self.table(kind);
            rows.push(PublishedRow {
                kind,
                id: t.id(slot).to_owned(),
                vector: Some(t.vector(slot).to_vec()),
                version,
                event_time: t.updated_time[slot as usize],
            });
        }
        for ((kind, id), &time) in &self.tombstones {
            rows.push(PublishedRow { kind: *kind, id: id.clone(), vector: None, version, event_time: time });
        }
        rows.sort_by(|a, b| (a.kind.name(), &a.id).cmp(&(b.kind.name(), &b.id)));
        self.tombstones.clear();
        self.published_op = self.events;
        self.events_since_publish = 0;
        Some(rows)
    }

    /// Every admitted id with its vector, sorted by kind and id, at the current version.
    pub fn table_rows(&self) -> Vec<PublishedRow> {
        let mut rows = Vec::new();
        for kind in [Kind::User, Kind::Item] {
            let t = self.table(kind);
            for s in t.occupied().filter(|&s| self.admitted(t, s)) {
                rows.push(PublishedRow {
                    kind,
                    id: t.id(s).to_owned(),
                    vector: Some(t.vector(s).to_vec()),
                    version: self.version,
                    event_time: t.updated_time[s as usize],
                });
            }
        }
        rows.sort_by(|a, b| (a.kind.name(), &a.id).cmp(&(b.kind.name(), &b.id)));
        rows
    }

    /// Rebuilds the derived structures (index, free slots, recency order, publication set)
    /// from the slots, after a restore.
    pub fn rebuild(&mut self, user_capacity: usize, item_capacity: usize) -> Result<(), String> {
        self.users.rebuild(user_capacity)?;
        self.items.rebuild(item_capacity)?;
        self.lru.clear();
        self.pub_dirty.clear();
        let mut order = Vec::new();
        for kind in [Kind::User, Kind::Item] {
            let t = self.table(kind);
            let mut dirty = Vec::new();
            for s in t.occupied() {
                order.push((t.tick[s as usize], kind, s));
                if self.admitted(t, s) && t.updated_op[s as usize] > self.published_op {
                    dirty.push((kind, s));
                }
            }
            for (k, s) in dirty {
                self.pub_dirty.insert(k, s);
            }
        }
        order.sort_unstable_by_key(|&(tick, _, _)| tick);
        if let Some(w) = order.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("two ids share the recency tick {}", w[0].0));
        }
        for (_, kind, slot) in order {
            self.lru.push_back(kind, slot);
        }
        if self.ids_held() as u64 > self.p.max_ids {
            return Err(format!("{} ids held but maxIds is {}", self.ids_held(), self.p.max_ids));
        }
        Ok(())
    }
}
