//! The Hoeffding tree itself, as river 0.26.1's `HoeffdingTreeClassifier` grows it: nodes in an
//! arena (a split turns a leaf into a branch in place and appends its two children), leaves with
//! class weights and one Gaussian observer per feature, split attempts every `gracePeriod` of
//! weight decided by the Hoeffding bound (or the `tau` tie rule), river's pre-pruning (the
//! "no split" candidate, the majority-share rule) and its memory management (Kirkby's: the
//! least promising leaves are deactivated when the size estimate exceeds the bound, and every
//! leaf that fits is reactivated after each split).
//!
//! Every decision follows river's code path, including its quirks, so that the same rows give
//! the same tree; the module's tests and the crate's reference test check that against river.

use serde::{Deserialize, Serialize};

use crate::criterion::{Criterion, hoeffding_bound};
use crate::dist::{ClassId, Dist, argmax};
use crate::params::{LeafPrediction, Params};
use crate::splitter::Splitter;

/// Size estimate of a leaf without observers, in bytes (eddy's own formula; see the README).
const LEAF_BYTES: u64 = 96;
/// Size estimate of one class weight in a leaf or branch.
const CLASS_WEIGHT_BYTES: u64 = 16;
/// Size estimate of one feature observer, without its per-class statistics.
const SPLITTER_BYTES: u64 = 48;
/// Size estimate of one class's statistics in an observer.
const GAUSSIAN_BYTES: u64 = 48;
/// Size estimate of a branch without its class weights.
const BRANCH_BYTES: u64 = 64;
/// Size estimate of the tree's own fields.
const TREE_BYTES: u64 = 256;

/// A leaf: where rows end, are counted, and are watched for a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// Weight per class, in the order the leaf first saw each class.
    pub stats: Dist,
    /// Depth (the root is 0).
    pub depth: u32,
    /// One observer per feature, in feature order; `None` when the leaf is inactive (it still
    /// counts classes, but neither observes features nor splits). Empty right after a split or
    /// a reactivation: the next row creates them.
    pub splitters: Option<Vec<Splitter>>,
    /// Features no longer observed (`removePoorAttrs`).
    pub disabled: Vec<u32>,
    /// The leaf's weight at its last split attempt.
    pub last_split_attempt_at: f64,
    /// Weight of rows the class frequencies predicted right (`nba` leaves).
    pub mc_correct: f64,
    /// Weight of rows naive Bayes predicted right (`nba` leaves).
    pub nb_correct: f64,
}

impl Leaf {
    fn new(stats: Dist, depth: u32) -> Self {
        let last = stats.total();
        Self {
            stats,
            depth,
            splitters: Some(Vec::new()),
            disabled: Vec::new(),
            last_split_attempt_at: last,
            mc_correct: 0.0,
            nb_correct: 0.0,
        }
    }

    /// Whether the leaf observes features and may split.
    pub fn is_active(&self) -> bool {
        self.splitters.is_some()
    }

    /// How likely the leaf is to split: its weight outside the majority class (river's
    /// `calculate_promise`).
    fn promise(&self) -> f64 {
        let total = self.stats.total();
        if total > 0.0 { total - self.stats.max_weight() } else { 0.0 }
    }

    fn size(&self) -> u64 {
        let own = LEAF_BYTES + CLASS_WEIGHT_BYTES * self.stats.len() as u64;
        own + self.splitters.as_ref().map_or(0, |s| s.iter().map(|s| SPLITTER_BYTES + GAUSSIAN_BYTES * s.len() as u64).sum())
    }

    /// Class probabilities by naive Bayes over the observers (river's
    /// `do_naive_bayes_prediction`): empty when the leaf has no weight.
    fn naive_bayes(&self, x: &[f64]) -> Dist {
        let total = self.stats.total();
        let mut votes = Dist::default();
        if self.stats.is_empty() || total == 0.0 {
            return votes;
        }
        let splitters = self.splitters.as_deref().unwrap_or_default();
        for &(c, w) in self.stats.entries() {
            if w > 0.0 {
                let mut v = eddy_sdk::math::ln(w / total);
                for s in splitters {
                    let lp = s.cond_log_proba(x[s.feature as usize], c);
                    if lp > f64::NEG_INFINITY {
                        v += lp;
                    }
                }
                votes.push(c, v);
            } else {
                votes.push(c, 0.0);
            }
        }
        let e = votes.entries();
        let mut max_ll = e[0].1;
        for &(_, v) in &e[1..] {
            if v > max_ll {
                max_ll = v;
            }
        }
        let mut sum = 0.0;
        for &(_, v) in e {
            sum += eddy_sdk::math::exp(v - max_ll);
        }
        let lse = max_ll + eddy_sdk::math::ln(sum);
        let mut out = Dist::default();
        for &(c, v) in e {
            out.push(c, eddy_sdk::math::exp(v - lse));
        }
        out
    }

    /// The leaf's class probabilities for `x` under `mode`.
    fn prediction(&self, x: &[f64], mode: LeafPrediction, nb_threshold: f64) -> Dist {
        let nb = match mode {
            LeafPrediction::MajorityClass => false,
            LeafPrediction::NaiveBayes => self.is_active() && self.stats.total() >= nb_threshold,
            LeafPrediction::NaiveBayesAdaptive => self.is_active() && self.nb_correct >= self.mc_correct,
        };
        if nb { self.naive_bayes(x) } else { self.stats.normalized() }
    }

    /// Learns one row of class `c` (river's `learn_one` of the leaf classes).
    fn learn(&mut self, x: &[f64], c: ClassId, w: f64, mode: LeafPrediction) {
        if mode == LeafPrediction::NaiveBayesAdaptive && self.is_active() {
            if self.stats.is_empty() || self.stats.normalized().argmax() == Some(c) {
                self.mc_correct += w;
            }
            let nb = self.naive_bayes(x);
            if !nb.is_empty() && nb.argmax() == Some(c) {
                self.nb_correct += w;
            }
        }
        self.stats.add(c, w);
        if let Some(splitters) = &mut self.splitters {
            if splitters.is_empty() {
                splitters.extend((0..x.len() as u32).filter(|f| !self.disabled.contains(f)).map(Splitter::new));
            }
            for s in splitters.iter_mut() {
                s.update(x[s.feature as usize], c, w);
            }
        }
    }

    fn deactivate(&mut self) {
        self.splitters = None;
    }

    fn activate(&mut self) {
        if self.splitters.is_none() {
            self.splitters = Some(Vec::new());
        }
    }
}

/// An inner node: `x[feature] <= threshold` goes left, anything else right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// The feature tested.
    pub feature: u32,
    /// The threshold.
    pub threshold: f64,
    /// Depth (the root is 0).
    pub depth: u32,
    /// The class weights of the leaf this branch replaced, when it split.
    pub stats: Dist,
    /// Arena indices of the left and right children.
    pub children: [u32; 2],
}

/// A node of the arena.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// A leaf.
    Leaf(Leaf),
    /// A branch.
    Branch(Branch),
}

/// A split candidate (river's `BranchFactory`); `feature: None` is "no split".
struct Suggestion {
    merit: f64,
    feature: Option<u32>,
    threshold: f64,
    children: Option<[Dist; 2]>,
}

impl Suggestion {
    fn null() -> Self {
        Self { merit: f64::NEG_INFINITY, feature: None, threshold: 0.0, children: None }
    }
}

/// What one learned row did to the tree's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// Nothing structural.
    None,
    /// A leaf split (the version went up).
    Split,
}

/// The tree and the bookkeeping river keeps beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes; empty before the first labelled row, else the root is at 0.
    pub nodes: Vec<Node>,
    /// Class values by [`ClassId`], in order of first appearance (declared classes first).
    pub class_values: Vec<f64>,
    /// Class ids in ascending order of value.
    pub sorted: Vec<ClassId>,
    /// Position of each class id in `sorted`.
    rank: Vec<u32>,
    /// Active leaves (river's `_n_active_leaves`).
    pub n_active: u64,
    /// Inactive leaves (river's `_n_inactive_leaves`).
    pub n_inactive: u64,
    active_leaf_size_estimate: f64,
    inactive_leaf_size_estimate: f64,
    size_estimate_overhead_fraction: f64,
    /// Whether leaves may still split (false for good after `stopMemManagement` stops growth).
    pub growth_allowed: bool,
    /// Labelled rows learned.
    pub rows_learned: u64,
    /// Number of splits so far: the model version.
    pub version: i64,
}

impl Tree {
    /// An empty tree that knows `declared` classes (ascending) from the start.
    pub fn new(declared: Option<&[f64]>) -> Self {
        let mut t = Self {
            nodes: Vec::new(),
            class_values: Vec::new(),
            sorted: Vec::new(),
            rank: Vec::new(),
            n_active: 0,
            n_inactive: 0,
            active_leaf_size_estimate: 0.0,
            inactive_leaf_size_estimate: 0.0,
            size_estimate_overhead_fraction: 1.0,
            growth_allowed: true,
            rows_learned: 0,
            version: 0,
        };
        for &c in declared.unwrap_or_default() {
            t.class_id(c);
        }
        t
    }

    /// The id of class value `y`, registering it when new.
    fn class_id(&mut self, y: f64) -> ClassId {
        if let Some(i) = self.class_values.iter().position(|&v| v == y) {
            return i as ClassId;
        }
        let id = self.class_values.len() as ClassId;
        self.class_values.push(y);
        let at = self.sorted.partition_point(|&c| self.class_values[c as usize] < y);
        self.sorted.insert(at, id);
        self.rank = vec![0; self.sorted.len()];
        for (r, &c) in self.sorted.iter().enumerate() {
            self.rank[c as usize] = r as u32;
        }
        id
    }

    /// The known class values, ascending.
    pub fn classes(&self) -> Vec<f64> {
        self.sorted.iter().map(|&c| self.class_values[c as usize]).collect()
    }

    /// The id of a class value, if known.
    fn known_class(&self, y: f64) -> Option<ClassId> {
        self.class_values.iter().position(|&v| v == y).map(|i| i as ClassId)
    }

    fn leaf_index(&self, x: &[f64]) -> usize {
        let mut i = 0;
        while let Node::Branch(b) = &self.nodes[i] {
            i = b.children[usize::from(x[b.feature as usize] > b.threshold)] as usize;
        }
        i
    }

    fn leaf_mut(&mut self, i: usize) -> &mut Leaf {
        match &mut self.nodes[i] {
            Node::Leaf(l) => l,
            Node::Branch(_) => unreachable!("node {i} is a leaf"),
        }
    }

    /// Scores `x` (river's `predict_proba_one` then `predict_one`): the probability of every
    /// known class in ascending order into `probs`, and the predicted class (the most probable,
    /// the smallest on ties; `None` while no class is known).
    pub fn predict(&self, x: &[f64], p: &Params, probs: &mut Vec<f64>) -> Option<f64> {
        probs.clear();
        probs.resize(self.sorted.len(), 0.0);
        if !self.nodes.is_empty() {
            let Node::Leaf(leaf) = &self.nodes[self.leaf_index(x)] else { unreachable!("leaf_index ends at a leaf") };
            for &(c, v) in leaf.prediction(x, p.leaf_prediction, p.nb_threshold).entries() {
                probs[self.rank[c as usize] as usize] = v;
            }
        }
        let ranked: Vec<(ClassId, f64)> = probs.iter().enumerate().map(|(r, &v)| (r as ClassId, v)).collect();
        argmax(&ranked).map(|r| self.class_values[self.sorted[r as usize] as usize])
    }

    /// Learns one labelled row (river's `learn_one` with weight 1); says whether a leaf split.
    pub fn learn(&mut self, x: &[f64], y: f64, p: &Params) -> Growth {
        let c = self.class_id(y);
        self.rows_learned += 1;
        if self.nodes.is_empty() {
            self.nodes.push(Node::Leaf(Leaf::new(Dist::default(), 0)));
            self.n_active = 1;
        }
        let i = self.leaf_index(x);
        let max_depth = p.max_depth.unwrap_or(u32::MAX);
        let growth_allowed = self.growth_allowed;
        let leaf = self.leaf_mut(i);
        leaf.learn(x, c, 1.0, p.leaf_prediction);
        let mut growth = Growth::None;
        if growth_allowed && leaf.is_active() {
            if leaf.depth >= max_depth {
                leaf.deactivate();
                self.n_active -= 1;
                self.n_inactive += 1;
            } else {
                let weight_seen = leaf.stats.total();
                if weight_seen - leaf.last_split_attempt_at >= p.grace_period {
                    growth = self.attempt_to_split(i, p);
                    if let Node::Leaf(leaf) = &mut self.nodes[i] {
                        leaf.last_split_attempt_at = weight_seen;
                    }
                }
            }
        }
        if self.rows_learned.is_multiple_of(p.memory_estimate_period) {
            self.estimate_model_size(p);
        }
        growth
    }

    fn criterion(&self, p: &Params) -> Criterion {
        Criterion {
            kind: p.split_criterion,
            min_branch_fraction: p.min_branch_fraction,
            class0: self.known_class(0.0),
            class1: self.known_class(1.0),
        }
    }

    /// river's `_attempt_to_split`.
    fn attempt_to_split(&mut self, i: usize, p: &Params) -> Growth {
        let crit = self.criterion(p);
        let Node::Leaf(leaf) = &self.nodes[i] else { unreachable!("a leaf") };
        if leaf.stats.is_pure() {
            return Growth::None;
        }
        let total = leaf.stats.total();
        let mut suggestions = Vec::new();
        let majority = leaf.stats.max_weight();
        if majority != 0.0 && majority / total > p.max_share_to_split {
            suggestions.push(Suggestion::null());
        } else {
            if p.merit_preprune {
                suggestions.push(Suggestion::null());
            }
            for s in leaf.splitters.as_deref().unwrap_or_default() {
                let mut best = Suggestion::null();
                for v in s.split_points(p.n_splits) {
                    let post = s.binary_split(v);
                    let merit = crit.merit(&leaf.stats, &post);
                    if merit > best.merit {
                        best = Suggestion { merit, feature: Some(s.feature), threshold: v, children: Some(post) };
                    }
                }
                suggestions.push(best);
            }
        }
        // A stable sort by merit, as Python's `list.sort` (which compares with `<` only).
        suggestions.sort_by(|a, b| a.merit.partial_cmp(&b.merit).unwrap_or(std::cmp::Ordering::Equal));
        let n = suggestions.len();
        let mut poor = Vec::new();
        let should_split = if n < 2 {
            n > 0
        } else {
            let bound = hoeffding_bound(crit.range_of_merit(&leaf.stats), p.delta, total);
            let (best, second) = (&suggestions[n - 1], &suggestions[n - 2]);
            if p.remove_poor_attrs {
                poor.extend(suggestions.iter().filter(|s| s.feature.is_some() && best.merit - s.merit > bound).filter_map(|s| s.feature));
            }
            best.merit - second.merit > bound || bound < p.tau
        };
        if p.leaf_prediction == LeafPrediction::MajorityClass && !poor.is_empty() {
            let leaf = self.leaf_mut(i);
            for f in poor {
                if let Some(s) = &mut leaf.splitters
                    && let Some(at) = s.iter().position(|s| s.feature == f)
                {
                    s.remove(at);
                    leaf.disabled.push(f);
                }
            }
        }
        if !should_split {
            return Growth::None;
        }
        let decision = suggestions.pop().expect("n > 0");
        let growth = match (decision.feature, decision.children) {
            (Some(feature), Some([l, r])) => {
                let Node::Leaf(leaf) = std::mem::replace(&mut self.nodes[i], Node::Leaf(Leaf::new(Dist::default(), 0))) else {
                    unreachable!("a leaf")
                };
                let depth = leaf.depth;
                let at = self.nodes.len() as u32;
                self.nodes[i] =
                    Node::Branch(Branch { feature, threshold: decision.threshold, depth, stats: leaf.stats, children: [at, at + 1] });
                self.nodes.push(Node::Leaf(Leaf::new(l, depth + 1)));
                self.nodes.push(Node::Leaf(Leaf::new(r, depth + 1)));
                self.n_active += 1;
                self.version += 1;
                Growth::Split
            }
            _ => {
                // Pre-pruning: "no split" won; the leaf stops growing.
                self.leaf_mut(i).deactivate();
                self.n_inactive += 1;
                self.n_active -= 1;
                Growth::None
            }
        };
        self.enforce_size_limit(p);
        growth
    }

    /// Arena indices of the leaves, left to right (river's `iter_leaves`).
    fn leaves(&self) -> Vec<usize> {
        let mut out = Vec::new();
        if self.nodes.is_empty() {
            return out;
        }
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            match &self.nodes[i] {
                Node::Leaf(_) => out.push(i),
                Node::Branch(b) => {
                    stack.push(b.children[1] as usize);
                    stack.push(b.children[0] as usize);
                }
            }
        }
        out
    }

    fn leaf(&self, i: usize) -> &Leaf {
        match &self.nodes[i] {
            Node::Leaf(l) => l,
            Node::Branch(_) => unreachable!("node {i} is a leaf"),
        }
    }

    /// river's `_enforce_size_limit`: keep active as many of the most promising leaves as the
    /// size estimate allows, deactivate the others, reactivate those that fit.
    fn enforce_size_limit(&mut self, p: &Params) {
        let tree_size = self.size_estimate_overhead_fraction
            * (self.active_leaf_size_estimate + self.n_inactive as f64 * self.inactive_leaf_size_estimate);
        if (self.n_inactive > 0 || tree_size > p.max_bytes) && p.stop_mem_management {
            self.growth_allowed = false;
            return;
        }
        let mut leaves = self.leaves();
        leaves.sort_by(|&a, &b| self.leaf(a).promise().partial_cmp(&self.leaf(b).promise()).unwrap_or(std::cmp::Ordering::Equal));
        let n = leaves.len();
        let mut max_active = 0;
        while max_active < n {
            max_active += 1;
            let size = (max_active as f64 * self.active_leaf_size_estimate + (n - max_active) as f64 * self.inactive_leaf_size_estimate)
                * self.size_estimate_overhead_fraction;
            if size > p.max_bytes {
                max_active -= 1;
                break;
            }
        }
        let cutoff = n - max_active;
        let max_depth = p.max_depth.unwrap_or(u32::MAX);
        for (k, &i) in leaves.iter().enumerate() {
            let leaf = self.leaf_mut(i);
            if k < cutoff {
                if leaf.is_active() {
                    leaf.deactivate();
                    self.n_inactive += 1;
                    self.n_active -= 1;
                }
            } else if !leaf.is_active() && leaf.depth < max_depth {
                leaf.activate();
                self.n_active += 1;
                self.n_inactive -= 1;
            }
        }
    }

    /// river's `_estimate_model_size`, with eddy's size formula in place of Python's object
    /// sizes: refreshes the per-leaf estimates and the overhead fraction, and enforces the
    /// bound when the tree is over it.
    fn estimate_model_size(&mut self, p: &Params) {
        let (mut active, mut inactive) = (0u64, 0u64);
        for i in self.leaves() {
            let l = self.leaf(i);
            if l.is_active() {
                active += l.size();
            } else {
                inactive += l.size();
            }
        }
        if active > 0 && self.n_active > 0 {
            self.active_leaf_size_estimate = active as f64 / self.n_active as f64;
        }
        if inactive > 0 && self.n_inactive > 0 {
            self.inactive_leaf_size_estimate = inactive as f64 / self.n_inactive as f64;
        }
        let actual = self.size_bytes() as f64;
        let estimated = self.n_active as f64 * self.active_leaf_size_estimate + self.n_inactive as f64 * self.inactive_leaf_size_estimate;
        if estimated > 0.0 {
            self.size_estimate_overhead_fraction = actual / estimated;
        }
        if actual > p.max_bytes {
            self.enforce_size_limit(p);
        }
    }

    /// The tree's size by eddy's estimate, in bytes (see the README).
    pub fn size_bytes(&self) -> u64 {
        let nodes: u64 = self
            .nodes
            .iter()
            .map(|n| match n {
                Node::Leaf(l) => l.size(),
                Node::Branch(b) => BRANCH_BYTES + CLASS_WEIGHT_BYTES * b.stats.len() as u64,
            })
            .sum();
        TREE_BYTES + 8 * self.class_values.len() as u64 + nodes
    }

    /// The size estimate of the active leaves alone, in bytes.
    pub fn active_size_bytes(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| {
                if let Node::Leaf(l) = n
                    && l.is_active()
                {
                    l.size()
                } else {
                    0
                }
            })
            .sum()
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| matches!(n, Node::Leaf(_))).count()
    }

    /// The longest root-to-leaf path, in edges (0 for a lone leaf or an empty tree).
    pub fn height(&self) -> u32 {
        self.nodes.iter().map(|n| if let Node::Leaf(l) = n { l.depth } else { 0 }).max().unwrap_or(0)
    }
}
