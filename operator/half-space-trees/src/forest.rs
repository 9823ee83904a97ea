//! The half-space trees themselves: `nTrees` complete binary trees of height `height`, grown
//! once from the feature limits with river's random draws, whose nodes count how many rows of
//! the latest window (`l_mass`) and of the reference window (`r_mass`) passed through them.
//! Nodes are stored in heap order (node `i` has children `2i + 1` and `2i + 2`): the
//! `2^height - 1` split nodes first, then the `2^height` leaves.

use serde::{Deserialize, Serialize};

use crate::python_random::PythonRandom;

/// river's padding: a split point is drawn in the middle 70% of the node's range of the chosen
/// feature (`make_padded_tree(..., padding=0.15)`).
const PADDING: f64 = 0.15;

/// The forest and its two mass profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Number of trees.
    pub n_trees: usize,
    /// Height of every tree (split levels; a tree has `height + 1` levels of nodes).
    pub height: u32,
    /// Split feature of every split node, tree after tree (`n_trees * (2^height - 1)`).
    pub feature: Vec<u32>,
    /// Split point of every split node: a row goes left when its value is below it.
    pub threshold: Vec<f64>,
    /// Mass of every node (`n_trees * (2^(height + 1) - 1)`) in the latest window, being
    /// filled.
    pub l_mass: Vec<u32>,
    /// Mass of every node in the reference window: the latest window as it was when it last
    /// filled up.
    pub r_mass: Vec<u32>,
}

impl Forest {
    /// Split nodes per tree.
    pub fn splits_per_tree(&self) -> usize {
        (1usize << self.height) - 1
    }

    /// Nodes per tree.
    pub fn nodes_per_tree(&self) -> usize {
        (1usize << (self.height + 1)) - 1
    }

    /// Grows `n_trees` trees over features with the given `[lo, hi]` limits, drawing as
    /// river's `make_padded_tree` does from `random.Random(seed)`: trees one after the other,
    /// each node before its left subtree before its right subtree; at a node, the feature with
    /// probability proportional to its current range (`choices`), then the split point uniform
    /// in the padded range (`uniform`), which then bounds that feature in the subtrees.
    pub fn grow(n_trees: usize, height: u32, limits: &[(f64, f64)], seed: i64) -> Self {
        let splits = (1usize << height) - 1;
        let nodes = (1usize << (height + 1)) - 1;
        let mut f = Self {
            n_trees,
            height,
            feature: vec![0; n_trees * splits],
            threshold: vec![0.0; n_trees * splits],
            l_mass: vec![0; n_trees * nodes],
            r_mass: vec![0; n_trees * nodes],
        };
        let mut rng = PythonRandom::new(seed);
        let mut lim = limits.to_vec();
        for t in 0..n_trees {
            f.grow_node(t * splits, 0, height, &mut lim, &mut rng);
        }
        f
    }

    fn grow_node(&mut self, base: usize, node: usize, height: u32, limits: &mut [(f64, f64)], rng: &mut PythonRandom) {
        if height == 0 {
            return;
        }
        let weights: Vec<f64> = limits.iter().map(|(lo, hi)| hi - lo).collect();
        let on = rng.choice_weighted(&weights);
        let (a, b) = limits[on];
        let at = rng.uniform(a + PADDING * (b - a), b - PADDING * (b - a));
        self.feature[base + node] = on as u32;
        self.threshold[base + node] = at;
        limits[on] = (a, at);
        self.grow_node(base, 2 * node + 1, height - 1, limits, rng);
        limits[on] = (at, b);
        self.grow_node(base, 2 * node + 2, height - 1, limits, rng);
        limits[on] = (a, b);
    }

    /// Scores `x` against the reference window and counts it in the latest window, in one walk
    /// per tree (the row's path is the same for both). The score is river's `_walk_score`
    /// summed over the trees: along the path, `r_mass * 2^depth` of every node down to the
    /// first whose `r_mass` is below `size_limit` (that node included), or to the leaf. Each
    /// tree's sum starts from 0 and is added to the total, in floating point, in river's order.
    pub fn score_and_learn(&mut self, x: &[f64], size_limit: f64) -> f64 {
        let (splits, nodes) = (self.splits_per_tree(), self.nodes_per_tree());
        let mut total = 0.0;
        for t in 0..self.n_trees {
            let (feature, threshold) = (&self.feature[t * splits..][..splits], &self.threshold[t * splits..][..splits]);
            let (l_mass, r_mass) = (&mut self.l_mass[t * nodes..][..nodes], &self.r_mass[t * nodes..][..nodes]);
            let mut score = 0.0;
            let mut scoring = true;
            let mut node = 0;
            for depth in 0..=self.height {
                l_mass[node] += 1;
                if scoring {
                    let r = r_mass[node];
                    score += (u64::from(r) << depth) as f64;
                    scoring = f64::from(r) >= size_limit;
                }
                if depth < self.height {
                    let right = x[feature[node] as usize] >= threshold[node];
                    node = 2 * node + 1 + usize::from(right);
                }
            }
            total += score;
        }
        total
    }

    /// Scores `x` as [`Forest::score_and_learn`] does, but counts `learn` in the latest window
    /// instead (a chain learning river's way: the row as transformed after the stages before
    /// learned it). Two walks per tree; the same result as `score_and_learn` when `learn == x`.
    pub fn score_then_learn(&mut self, x: &[f64], learn: &[f64], size_limit: f64) -> f64 {
        let (splits, nodes) = (self.splits_per_tree(), self.nodes_per_tree());
        let mut total = 0.0;
        for t in 0..self.n_trees {
            let (feature, threshold) = (&self.feature[t * splits..][..splits], &self.threshold[t * splits..][..splits]);
            let (l_mass, r_mass) = (&mut self.l_mass[t * nodes..][..nodes], &self.r_mass[t * nodes..][..nodes]);
            let mut score = 0.0;
            let mut node = 0;
            for depth in 0..=self.height {
                let r = r_mass[node];
                score += (u64::from(r) << depth) as f64;
                if f64::from(r) < size_limit || depth == self.height {
                    break;
                }
                node = 2 * node + 1 + usize::from(x[feature[node] as usize] >= threshold[node]);
            }
            let mut node = 0;
            for depth in 0..=self.height {
                l_mass[node] += 1;
                if depth < self.height {
                    node = 2 * node + 1 + usize::from(learn[feature[node] as usize] >= threshold[node]);
                }
            }
            total += score;
        }
        total
    }

    /// The latest window becomes the reference window, and a new latest window starts empty.
    pub fn swap_windows(&mut self) {
        std::mem::swap(&mut self.l_mass, &mut self.r_mass);
        self.l_mass.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_then_learn_scores_one_row_and_counts_the_other() {
        let limits = [(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)];
        let (mut a, mut b) = (Forest::grow(5, 4, &limits, 42), Forest::grow(5, 4, &limits, 42));
        let rows: Vec<[f64; 3]> = (0..200).map(|i| [(i % 7) as f64 / 7.0, (i % 11) as f64 / 11.0, (i % 13) as f64 / 13.0]).collect();
        for (i, x) in rows.iter().enumerate() {
            // The same row both ways: the same score and masses as the one-walk path.
            assert_eq!(a.score_and_learn(x, 2.0), b.score_then_learn(x, x, 2.0), "row {i}");
            if i == 100 {
                a.swap_windows();
                b.swap_windows();
            }
        }
        assert!(a.l_mass == b.l_mass && a.r_mass == b.r_mass);
        // Another row learned: the scores still read the reference window only; the latest
        // window counts the learned row's path.
        let (x, other) = ([0.1, 0.2, 0.3], [0.9, 0.8, 0.7]);
        let (mut scored, mut learned) = (b.clone(), b.clone());
        let want = scored.score_and_learn(&x, 2.0);
        learned.score_and_learn(&other, 2.0);
        assert_eq!(b.score_then_learn(&x, &other, 2.0), want);
        assert!(b.l_mass == learned.l_mass && b.l_mass != scored.l_mass);
    }
}
