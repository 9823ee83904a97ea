//! Seeded synthetic interaction streams for the embedding updater, and the popularity
//! baseline it is measured against.
//!
//! Users and items belong to planted latent groups. Each event picks a user uniformly, then,
//! with probability `in_group`, an item of the user's group by a Zipf popularity inside the
//! group, and otherwise an item of the whole catalogue by a global Zipf popularity. At the
//! drift event every user (or a given share of them) moves to another group (chosen at random), so a model that learned
//! the old groups has to relearn the users. The same config and seed give the same stream, bit
//! for bit, on the same platform (the Zipf weights use the platform's `powf`).
//!
//! Users are written as JSON strings (`"u17"`) and items as JSON integers (`42`), so a stream
//! exercises both id forms. Native only: this crate is not an operator.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

/// SplitMix64, the generator the stream is drawn from.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Seed of the stream.
    pub seed: u64,
    /// Number of events.
    pub events: u64,
    /// Number of users.
    pub users: u64,
    /// Number of items.
    pub items: u64,
    /// Number of latent groups (users and items each belong to one).
    pub groups: u64,
    /// Probability that an event's item comes from the user's group.
    pub in_group: f64,
    /// Zipf exponent of item popularity (inside a group and over the catalogue).
    pub zipf: f64,
    /// Index of the first event after the drift (users change group); `None` for no drift.
    pub drift_at: Option<u64>,
    /// Share of the users that change group at the drift (1: every user; each user is drawn
    /// with this probability).
    pub drift_share: f64,
    /// Event time of the first event, ms since the epoch.
    pub start_ms: i64,
    /// Event-time step between events, ms.
    pub step_ms: i64,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            events: 200_000,
            users: 2_000,
            items: 1_000,
            groups: 10,
            in_group: 0.8,
            zipf: 1.0,
            drift_at: Some(100_000),
            drift_share: 1.0,
            start_ms: 1_700_000_000_000,
            step_ms: 1_000,
        }
    }
}

/// One generated event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interaction {
    /// User number (written as the JSON string `"u<n>"`).
    pub user: u64,
    /// Item number (written as the JSON integer `<n>`).
    pub item: u64,
    /// Event time, ms.
    pub ts: i64,
}

impl Interaction {
    /// The user id as JSON text, as the operator sees it (`"u17"`).
    pub fn user_json(&self) -> String {
        format!("\"u{}\"", self.user)
    }

    /// The item id as JSON text, as the operator sees it (`42`).
    pub fn item_json(&self) -> String {
        self.item.to_string()
    }

    /// The event as one JSON line (without the newline).
    pub fn json_line(&self) -> String {
        let mut s = String::with_capacity(48);
        let _ = write!(s, "{{\"user\":\"u{}\",\"item\":{},\"ts\":{}}}", self.user, self.item, self.ts);
        s
    }
}

/// A Zipf sampler over `0..n`: cumulative weights `1 / (rank+1)^s`, binary search.
#[derive(Debug, Clone)]
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut SplitMix64) -> usize {
        let total = *self.cumulative.last().expect("a non-empty Zipf");
        let x = rng.next_f64() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }
}

/// The stream: an iterator of [`Interaction`]s.
#[derive(Debug, Clone)]
pub struct Generator {
    cfg: GenConfig,
    rng: SplitMix64,
    user_group: Vec<u64>,
    /// Items of each group, in popularity order (most popular first).
    group_items: Vec<Vec<u64>>,
    /// All items in global popularity order.
    catalogue: Vec<u64>,
    group_zipf: Vec<Zipf>,
    global_zipf: Zipf,
    next: u64,
}

fn shuffle(v: &mut [u64], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

impl Generator {
    /// A generator for `cfg`. Panics when a count is zero or `groups > items`.
    pub fn new(cfg: GenConfig) -> Self {
        assert!(cfg.users > 0 && cfg.items > 0 && cfg.groups > 0 && cfg.groups <= cfg.items, "bad generator config: {cfg:?}");
        let mut rng = SplitMix64::new(cfg.seed);
        let user_group = (0..cfg.users).map(|_| rng.below(cfg.groups)).collect();
        let mut items: Vec<u64> = (0..cfg.items).collect();
        shuffle(&mut items, &mut rng);
        let mut group_items = vec![Vec::new(); cfg.groups as usize];
        for (n, &i) in items.iter().enumerate() {
            group_items[n % cfg.groups as usize].push(i);
        }
        let mut catalogue: Vec<u64> = (0..cfg.items).collect();
        shuffle(&mut catalogue, &mut rng);
        let group_zipf = group_items.iter().map(|g| Zipf::new(g.len(), cfg.zipf)).collect();
        let global_zipf = Zipf::new(cfg.items as usize, cfg.zipf);
        Self { cfg, rng, user_group, group_items, catalogue, group_zipf, global_zipf, next: 0 }
    }

    /// The group of `user` now (it changes at the drift).
    pub fn user_group(&self, user: u64) -> u64 {
        self.user_group[user as usize]
    }

    /// The group of `item`.
    pub fn item_group(&self, item: u64) -> u64 {
        self.group_items.iter().position(|g| g.contains(&item)).expect("every item has a group") as u64
    }

    fn drift(&mut self) {
        let g = self.cfg.groups;
        if g < 2 {
            return;
        }
        let share = self.cfg.drift_share;
        for u in 0..self.user_group.len() {
            // Share 1 draws nothing extra, so streams written before the share existed stay
            // the same.
            if share < 1.0 && self.rng.next_f64() >= share {
                continue;
            }
            let shift = 1 + self.rng.below(g - 1);
            self.user_group[u] = (self.user_group[u] + shift) % g;
        }
    }
}

impl Iterator for Generator {
    type Item = Interaction;

    fn next(&mut self) -> Option<Interaction> {
        if self.next >= self.cfg.events {
            return None;
        }
        if Some(self.next) == self.cfg.drift_at {
            self.drift();
        }
        let user = self.rng.below(self.cfg.users);
        let item = if self.rng.next_f64() < self.cfg.in_group {
            let g = self.user_group[user as usize] as usize;
            self.group_items[g][self.group_zipf[g].sample(&mut self.rng)]
        } else {
            self.catalogue[self.global_zipf.sample(&mut self.rng)]
        };
        let ts = self.cfg.start_ms + self.next as i64 * self.cfg.step_ms;
        self.next += 1;
        Some(Interaction { user, item, ts })
    }
}

/// Prequential popularity baseline: ranks the known items by how often they occurred so far
/// (ties by id text, ascending, as the operator breaks them), scores the event's item, then
/// counts it. An item never seen before is a miss.
#[derive(Debug, Clone, Default)]
pub struct PopularityBaseline {
    counts: HashMap<String, u64>,
    order: BTreeSet<(std::cmp::Reverse<u64>, String)>,
}

impl PopularityBaseline {
    /// An empty baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `item` (JSON text) is among the 10 most frequent items so far, then counts it.
    pub fn hit10_then_count(&mut self, item: &str) -> bool {
        let hit = self.order.iter().take(10).any(|(_, id)| id == item);
        let c = self.counts.entry(item.to_owned()).or_insert(0);
        if *c > 0 {
            self.order.remove(&(std::cmp::Reverse(*c), item.to_owned()));
        }
        *c += 1;
        self.order.insert((std::cmp::Reverse(*c), item.to_owned()));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_planted() {
        let cfg = GenConfig { events: 20_000, drift_at: Some(10_000), ..GenConfig::default() };
        let a: Vec<_> = Generator::new(cfg.clone()).collect();
        let b: Vec<_> = Generator::new(cfg.clone()).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 20_000);
        let other: Vec<_> = Generator::new(GenConfig { seed: 7, ..cfg.clone() }).take(100).collect();
        assert_ne!(&a[..100], &other[..]);
        // Before the drift about in_group + (1 - in_group) / groups of the events are in-group.
        let mut g = Generator::new(cfg.clone());
        let mut in_group = 0;
        for _ in 0..10_000 {
            let e = g.next().unwrap();
            if g.user_group(e.user) == g.item_group(e.item) {
                in_group += 1;
            }
        }
        let share = f64::from(in_group) / 10_000.0;
        assert!((share - 0.82).abs() < 0.02, "in-group share {share}");
        assert_eq!(a[1].ts - a[0].ts, cfg.step_ms);
        assert_eq!(a[0].json_line(), format!("{{\"user\":\"u{}\",\"item\":{},\"ts\":{}}}", a[0].user, a[0].item, a[0].ts));
    }

    #[test]
    fn drift_moves_every_user() {
        let cfg = GenConfig { events: 10, drift_at: Some(5), ..GenConfig::default() };
        let mut g = Generator::new(cfg);
        let before: Vec<u64> = (0..2_000).map(|u| g.user_group(u)).collect();
        for _ in 0..6 {
            g.next();
        }
        assert!((0..2_000).all(|u| g.user_group(u) != before[u as usize]));
    }

    #[test]
    fn popularity_baseline_ranks_by_count() {
        let mut p = PopularityBaseline::new();
        assert!(!p.hit10_then_count("1"));
        assert!(p.hit10_then_count("1"));
        for i in 2..=11 {
            p.hit10_then_count(&i.to_string());
        }
        // "1" (count 2) then "10", "11", "2", ... "9" (count 1, by id text): "9" is 11th.
        assert!(p.hit10_then_count("1"));
        assert!(!p.hit10_then_count("9"));
    }
}
