//! Class distributions: a class's weight per class, kept in the order the classes were first
//! added, as river's leaves keep them in a Python dict. The order is part of the arithmetic:
//! sums run in it, and ties between classes go to the one added first, exactly as river's
//! `sum(d.values())` and `max(d, key=d.get)` do (Python 3.11: plain left-to-right sums).

use serde::{Deserialize, Serialize};

/// A class, as an index into the tree's table of class values (in order of first appearance).
pub type ClassId = u32;

/// Weights per class, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dist(Vec<(ClassId, f64)>);

impl Dist {
    /// The (class, weight) entries, in insertion order.
    pub fn entries(&self) -> &[(ClassId, f64)] {
        &self.0
    }

    /// Appends a class (not already present) with weight `w`.
    pub fn push(&mut self, class: ClassId, w: f64) {
        self.0.push((class, w));
    }

    /// Adds `w` to `class`, appending it when new (river's `update_stats`).
    #[inline]
    pub fn add(&mut self, class: ClassId, w: f64) {
        match self.0.iter_mut().find(|(c, _)| *c == class) {
            Some((_, v)) => *v += w,
            None => self.0.push((class, w)),
        }
    }

    /// Number of classes present (including any with weight 0).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no class is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of the weights, left to right (Python's `sum`).
    #[inline]
    pub fn total(&self) -> f64 {
        let mut s = 0.0;
        for (_, w) in &self.0 {
            s += w;
        }
        s
    }

    /// The largest weight (0 when empty).
    pub fn max_weight(&self) -> f64 {
        let mut it = self.0.iter().map(|e| e.1);
        let first = it.next().unwrap_or(0.0);
        it.fold(first, |m, w| if w > m { w } else { m })
    }

    /// Whether fewer than two classes have a non-zero weight (river's
    /// `observed_class_distribution_is_pure`).
    pub fn is_pure(&self) -> bool {
        self.0.iter().filter(|(_, w)| *w != 0.0).take(2).count() < 2
    }

    /// The weights scaled to sum to 1 (river's `normalize_values_in_dict`: each weight times
    /// `1 / total`; unchanged when the total is 0 or NaN).
    pub fn normalized(&self) -> Dist {
        let total = self.total();
        if total == 0.0 || total.is_nan() {
            return self.clone();
        }
        let k = 1.0 / total;
        Dist(self.0.iter().map(|&(c, w)| (c, w * k)).collect())
    }

    /// The class with the largest weight, the first added on ties (`None` when empty).
    pub fn argmax(&self) -> Option<ClassId> {
        argmax(&self.0)
    }

    /// The weight of `class` (`None` when absent).
    pub fn get(&self, class: ClassId) -> Option<f64> {
        self.0.iter().find(|(c, _)| *c == class).map(|e| e.1)
    }
}

/// The class of the largest value, the first on ties (Python's `max(d, key=d.get)`).
pub fn argmax(entries: &[(ClassId, f64)]) -> Option<ClassId> {
    let mut best: Option<(ClassId, f64)> = None;
    for &(c, v) in entries {
        match best {
            Some((_, b)) if v > b => best = Some((c, v)),
            Some(_) => {}
            None => best = Some((c, v)),
        }
    }
    best.map(|b| b.0)
}
