//! Prequential metrics computed by the host from the labels: every row is scored before the
//! model learns from it, so these are honest out-of-sample numbers. Accuracy, log loss and ROC
//! AUC for classifiers (macro F1 too), MAE and RMSE for regressors, hit rate at 10 and mean
//! reciprocal rank for embedders, ROC AUC of the anomaly score for anomaly detectors.
//!
//! The running counts are part of every pipeline snapshot, so that a job restored from a
//! checkpoint reports metrics over the whole stream, exactly what an uninterrupted run reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Running prequential metrics. Serializable: they travel in pipeline snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prequential {
    rows: u64,
    labelled: u64,
    correct: u64,
    log_loss_sum: f64,
    scores: AucScores,
    confusion: Confusion,
    abs_err: f64,
    sq_err: f64,
    ranked: u64,
    hits10: u64,
    rr_sum: f64,
    /// A label other than 0 or 1 was seen: log loss and ROC AUC (binary metrics) are withheld.
    not_binary: bool,
}

/// A finished set of metrics (what the summary prints).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Rows answered.
    pub rows: u64,
    /// Rows with a label.
    pub labelled: u64,
    /// Classifier accuracy.
    pub accuracy: Option<f64>,
    /// Mean log loss (binary, from the positive-class probability, clipped to 1e-15).
    pub log_loss: Option<f64>,
    /// ROC AUC (binary).
    pub roc_auc: Option<f64>,
    /// Macro-averaged F1 over the classes seen.
    pub macro_f1: Option<f64>,
    /// Regressor mean absolute error.
    pub mae: Option<f64>,
    /// Regressor root mean squared error.
    pub rmse: Option<f64>,
    /// Embedder hit rate at 10.
    pub hit_rate_10: Option<f64>,
    /// Embedder mean reciprocal rank.
    pub mrr: Option<f64>,
}

impl Prequential {
    /// Counts a row with no label.
    pub fn unlabelled(&mut self) {
        self.rows += 1;
    }

    /// A classifier's answer: predicted class (none when the model knows no class yet, which
    /// counts as a miss), positive-class probability (binary), label.
    pub fn classified(&mut self, prediction: Option<f64>, probability: Option<f64>, label: f64) {
        self.classified_batch(&[(prediction, probability, label)]);
    }

    /// [`Prequential::classified`] for each of `answers` (prediction, probability, label), in
    /// order; the scores are counted after the rest ([`AucScores::push_many`]).
    pub fn classified_batch(&mut self, answers: &[(Option<f64>, Option<f64>, f64)]) {
        let mut scored = Vec::with_capacity(answers.len());
        for &(prediction, probability, label) in answers {
            scored.extend(self.count_classified(prediction, probability, label));
        }
        self.scores.push_many(&scored);
    }

    /// Counts a classifier's answer in all but the scores; the clipped positive-class
    /// probability and whether the label is positive, for the scores.
    fn count_classified(&mut self, prediction: Option<f64>, probability: Option<f64>, label: f64) -> Option<(f64, bool)> {
        self.rows += 1;
        self.labelled += 1;
        if prediction == Some(label) {
            self.correct += 1;
        }
        // A missing prediction lands in a class of its own, so it counts against the label's F1.
        let predicted = prediction.map_or(i64::MIN, |p| p as i64);
        if label != 0.0 && label != 1.0 {
            self.not_binary = true;
        }
        self.confusion.add((label as i64, predicted), 1);
        let p = probability?.clamp(1e-15, 1.0 - 1e-15);
        self.log_loss_sum -= if label == 1.0 { p.ln() } else { (1.0 - p).ln() };
        Some((p, label == 1.0))
    }

    /// A regressor's answer.
    pub fn regressed(&mut self, prediction: f64, label: f64) {
        self.rows += 1;
        self.labelled += 1;
        let e = prediction - label;
        self.abs_err += e.abs();
        self.sq_err += e * e;
    }

    /// An anomaly detector's answer: its score (higher: more anomalous; in [0, 1]) and the
    /// label (1: anomaly, 0: normal), for ROC AUC.
    pub fn anomaly_scored(&mut self, score: f64, label: f64) {
        self.anomaly_scored_batch(&[(score, label)]);
    }

    /// [`Prequential::anomaly_scored`] for each of `answers` (score, label), in order.
    pub fn anomaly_scored_batch(&mut self, answers: &[(f64, f64)]) {
        self.rows += answers.len() as u64;
        self.labelled += answers.len() as u64;
        self.not_binary |= answers.iter().any(|(_, label)| *label != 0.0 && *label != 1.0);
        let scored: Vec<(f64, bool)> = answers.iter().map(|(score, label)| (*score, *label == 1.0)).collect();
        self.scores.push_many(&scored);
    }

    /// An embedder's answer: the 1-based rank of the true item, if it could be ranked.
    pub fn ranked(&mut self, rank: Option<i64>) {
        self.rows += 1;
        self.labelled += 1;
        self.ranked += 1;
        if let Some(r) = rank.filter(|r| *r >= 1) {
            if r <= 10 {
                self.hits10 += 1;
            }
            self.rr_sum += 1.0 / r as f64;
        }
    }

    /// Adds another set of counts (partitions are merged for the summary).
    pub fn merge(&mut self, o: &Prequential) {
        self.rows += o.rows;
        self.labelled += o.labelled;
        self.correct += o.correct;
        self.log_loss_sum += o.log_loss_sum;
        self.scores.merge(&o.scores);
        for (k, v) in o.confusion.iter() {
            self.confusion.add(*k, *v);
        }
        self.abs_err += o.abs_err;
        self.sq_err += o.sq_err;
        self.ranked += o.ranked;
        self.hits10 += o.hits10;
        self.rr_sum += o.rr_sum;
        self.not_binary |= o.not_binary;
    }

    /// The metrics so far.
    pub fn summary(&self) -> Summary {
        let l = self.labelled as f64;
        let classified = !self.confusion.is_empty();
        let regressed = self.labelled > 0 && !classified && self.ranked == 0 && self.scores.n == 0;
        Summary {
            rows: self.rows,
            labelled: self.labelled,
            accuracy: classified.then(|| self.correct as f64 / l),
            log_loss: (classified && self.scores.n > 0 && !self.not_binary).then(|| self.log_loss_sum / self.scores.n as f64),
            roc_auc: if self.not_binary { None } else { self.scores.auc() },
            macro_f1: classified.then(|| macro_f1(&self.confusion)),
            mae: regressed.then(|| self.abs_err / l),
            rmse: regressed.then(|| (self.sq_err / l).sqrt()),
            hit_rate_10: (self.ranked > 0).then(|| self.hits10 as f64 / self.ranked as f64),
            mrr: (self.ranked > 0).then(|| self.rr_sum / self.ranked as f64),
        }
    }
}

/// Counts of (label, predicted class) pairs, sorted by pair: a binary search over the few
/// pairs a stream has, in one small array (it was a `BTreeMap`, an entry per row).
/// Serialized as the map it replaced (postcard writes a map and a sequence of pairs alike), so
/// snapshots read the same.
#[derive(Debug, Clone, Default, PartialEq)]
struct Confusion(Vec<((i64, i64), u64)>);

impl Confusion {
    fn add(&mut self, key: (i64, i64), n: u64) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (key, n)),
        }
    }

    fn get(&self, key: (i64, i64)) -> u64 {
        self.0.binary_search_by(|(k, _)| k.cmp(&key)).map_or(0, |i| self.0[i].1)
    }

    fn iter(&self) -> impl Iterator<Item = &((i64, i64), u64)> {
        self.0.iter()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Confusion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Confusion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(BTreeMap::<(i64, i64), u64>::deserialize(d)?.into_iter().collect()))
    }
}

/// Scored rows kept exactly up to this many (1 MiB, also in every snapshot); beyond, in
/// [`AUC_BINS`] bins.
const AUC_EXACT_LIMIT: usize = 1 << 16;
/// Bins of the positive-class probability once the exact list is full (1 MiB of counts).
const AUC_BINS: usize = 1 << 16;

/// What ROC AUC needs, in bounded memory: the exact (probability, label) pairs of the first
/// [`AUC_EXACT_LIMIT`] scored rows (so bounded runs get the exact value), then counts of
/// positives and negatives per probability bin of width 2^-16 (pairs within one bin count as
/// ties, which moves the AUC by far less than its sampling error). A job on an endless stream
/// thus neither grows without bound nor sorts everything at every summary. When the list turns
/// into counts depends on the rows alone, never on snapshots, so a restored run computes the
/// same value as an uninterrupted one; a snapshot holds at most 1 MiB of pairs, or the
/// non-empty bins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AucScores {
    /// Rows scored.
    n: u64,
    exact: Vec<(f64, bool)>,
    /// `[negatives, positives]` per bin, once the exact list overflowed.
    #[serde(with = "sparse_bins")]
    bins: Option<Vec<[u64; 2]>>,
}

/// The bins as (index, negatives, positives) of the non-empty ones: a snapshot carries what
/// the stream filled, not 1 MiB of zeros. An index outside the bins is refused (snapshots are
/// read from a checkpoint topic, which anyone with write access can fill).
mod sparse_bins {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::AUC_BINS;

    pub fn serialize<S: Serializer>(bins: &Option<Vec<[u64; 2]>>, s: S) -> Result<S::Ok, S::Error> {
        let sparse: Option<Vec<(u32, u64, u64)>> = bins
            .as_ref()
            .map(|b| b.iter().enumerate().filter(|(_, c)| c[0] != 0 || c[1] != 0).map(|(i, c)| (i as u32, c[0], c[1])).collect());
        sparse.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<[u64; 2]>>, D::Error> {
        let Some(sparse) = Option::<Vec<(u32, u64, u64)>>::deserialize(d)? else { return Ok(None) };
        let mut bins = vec![[0; 2]; AUC_BINS];
        for (i, negatives, positives) in sparse {
            let bin = bins.get_mut(i as usize).ok_or_else(|| D::Error::custom(format!("ROC AUC bin {i} is outside 0..{AUC_BINS}")))?;
            *bin = [negatives, positives];
        }
        Ok(Some(bins))
    }
}

impl AucScores {
    fn bin(p: f64) -> usize {
        ((p * AUC_BINS as f64) as usize).min(AUC_BINS - 1)
    }

    fn push(&mut self, p: f64, positive: bool) {
        self.n += 1;
        match &mut self.bins {
            Some(b) => b[Self::bin(p)][usize::from(positive)] += 1,
            None => {
                self.exact.push((p, positive));
                if self.exact.len() > AUC_EXACT_LIMIT {
                    self.binned();
                }
            }
        }
    }

    /// [`AucScores::push`] for each of `scores`, in order, the bins counted in a loop of their
    /// own: one bin per row scattered over 1 MiB missed the cache on every row (15% of a fast
    /// learner's operator thread), and a loop of nothing but those increments lets the
    /// processor wait for many misses at once.
    fn push_many(&mut self, scores: &[(f64, bool)]) {
        let mut rest = scores;
        while self.bins.is_none() {
            let Some(((p, positive), tail)) = rest.split_first() else { return };
            self.push(*p, *positive);
            rest = tail;
        }
        let Some(b) = &mut self.bins else { return };
        self.n += rest.len() as u64;
        let at: Vec<(usize, usize)> = rest.iter().map(|(p, positive)| (Self::bin(*p), usize::from(*positive))).collect();
        for (bin, positive) in at {
            b[bin][positive] += 1;
        }
    }

    fn binned(&mut self) -> &mut Vec<[u64; 2]> {
        let exact = std::mem::take(&mut self.exact);
        let b = self.bins.get_or_insert_with(|| vec![[0; 2]; AUC_BINS]);
        for (p, positive) in exact {
            b[Self::bin(p)][usize::from(positive)] += 1;
        }
        b
    }

    fn merge(&mut self, o: &AucScores) {
        self.n += o.n;
        if self.bins.is_none() && o.bins.is_none() && self.exact.len() + o.exact.len() <= AUC_EXACT_LIMIT {
            self.exact.extend_from_slice(&o.exact);
            return;
        }
        let b = self.binned();
        for &(p, positive) in &o.exact {
            b[Self::bin(p)][usize::from(positive)] += 1;
        }
        for (mine, theirs) in b.iter_mut().zip(o.bins.iter().flatten()) {
            mine[0] += theirs[0];
            mine[1] += theirs[1];
        }
    }

    fn auc(&self) -> Option<f64> {
        let Some(b) = &self.bins else { return roc_auc(&self.exact) };
        let (mut below, mut sum, mut pos, mut neg) = (0.0, 0.0, 0.0, 0.0);
        for [n, p] in b.iter().map(|c| [c[0] as f64, c[1] as f64]) {
            sum += p * (below + n / 2.0);
            below += n;
            pos += p;
            neg += n;
        }
        (pos > 0.0 && neg > 0.0).then(|| sum / (pos * neg))
    }
}

/// ROC AUC by the rank-sum formula, ties counted half.
pub fn roc_auc(scores: &[(f64, bool)]) -> Option<f64> {
    let pos = scores.iter().filter(|s| s.1).count() as f64;
    let neg = scores.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let mut s: Vec<(f64, bool)> = scores.to_vec();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < s.len() && s[j].0 == s[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * s[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

fn macro_f1(confusion: &Confusion) -> f64 {
    let mut classes: Vec<i64> = confusion.iter().flat_map(|((a, b), _)| [*a, *b]).filter(|c| *c != i64::MIN).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut total = 0.0;
    for c in &classes {
        let tp = confusion.get((*c, *c)) as f64;
        let fp: f64 = confusion.iter().filter(|((l, p), _)| p == c && l != c).map(|(_, v)| *v as f64).sum();
        let fn_: f64 = confusion.iter().filter(|((l, p), _)| l == c && p != c).map(|(_, v)| *v as f64).sum();
        let denom = 2.0 * tp + fp + fn_;
        total += if denom == 0.0 { 0.0 } else { 2.0 * tp / denom };
    }
    total / classes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform draws in [0, 1) from a seeded linear congruential generator.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn confusion_counts_read_and_write_as_the_map_they_replaced() {
        let mut map = BTreeMap::new();
        let mut c = Confusion::default();
        for (i, key) in [(1, 1), (0, 1), (1, i64::MIN), (1, 1), (-3, 7), (0, 1), (1, 1)].into_iter().enumerate() {
            *map.entry(key).or_insert(0u64) += i as u64 + 1;
            c.add(key, i as u64 + 1);
        }
        assert_eq!(c.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), map.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
        assert_eq!(c.get((1, 1)), 1 + 4 + 7);
        assert_eq!(c.get((5, 5)), 0);
        let old = postcard::to_allocvec(&map).unwrap();
        assert_eq!(postcard::to_allocvec(&c).unwrap(), old, "the same bytes as the BTreeMap");
        assert_eq!(postcard::from_bytes::<Confusion>(&old).unwrap(), c);
    }

    #[test]
    fn auc_matches_hand_computation() {
        // Scores 0.1(neg) 0.4(pos) 0.35(neg) 0.8(pos): 3 of 4 pairs ordered -> 0.75.
        let s = [(0.1, false), (0.4, true), (0.35, false), (0.8, true)];
        assert_eq!(roc_auc(&s), Some(1.0));
        let s = [(0.1, false), (0.4, true), (0.5, false), (0.8, true)];
        assert_eq!(roc_auc(&s), Some(0.75));
        assert_eq!(roc_auc(&[(0.5, true), (0.5, false)]), Some(0.5));
    }

    #[test]
    fn auc_memory_is_bounded_and_the_binned_value_stays_exact_enough() {
        let mut rnd = uniform(3);
        let (mut a, mut b) = (AucScores::default(), AucScores::default());
        let mut all = Vec::new();
        for i in 0..(AUC_EXACT_LIMIT + 400_000) {
            let positive = rnd() < 0.4;
            let p = (rnd() * 0.7 + if positive { 0.3 } else { 0.0 }).clamp(1e-15, 1.0 - 1e-15);
            all.push((p, positive));
            if i < 1000 { b.push(p, positive) } else { a.push(p, positive) }
        }
        assert!(a.exact.is_empty() && a.bins.is_some(), "past the limit the pairs became counts");
        assert!(b.bins.is_none() && b.exact.len() == 1000, "a small run stays exact");
        a.merge(&b);
        assert_eq!(a.n as usize, all.len());
        let exact = roc_auc(&all).unwrap();
        let binned = a.auc().unwrap();
        assert!((binned - exact).abs() < 1e-5, "binned {binned} vs exact {exact}");
        for (p, positive) in all.iter().take(1000) {
            a.push(*p, *positive);
        }
        assert!(a.exact.is_empty(), "once binned, pairs are never kept again");
    }

    #[test]
    fn metrics_round_trip_through_snapshot_bytes_and_go_on_counting_alike() {
        let mut rnd = uniform(7);
        let rows: Vec<(f64, f64)> = (0..AUC_EXACT_LIMIT + 5000).map(|_| (rnd(), if rnd() < 0.3 { 1.0 } else { 0.0 })).collect();
        // Snapshots in the exact phase and in the binned phase.
        for cut in [10, AUC_EXACT_LIMIT / 2, AUC_EXACT_LIMIT + 100] {
            let (mut whole, mut first) = (Prequential::default(), Prequential::default());
            for (i, (p, label)) in rows.iter().enumerate() {
                whole.classified(Some(if *p >= 0.5 { 1.0 } else { 0.0 }), Some(*p), *label);
                if i < cut {
                    first.classified(Some(if *p >= 0.5 { 1.0 } else { 0.0 }), Some(*p), *label);
                }
            }
            let bytes = postcard::to_stdvec(&first).unwrap();
            assert!(bytes.len() < 1 << 21, "a snapshot's metrics stay small: {} bytes", bytes.len());
            let mut restored: Prequential = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(restored, first, "cut {cut}: the bytes give the same counts back");
            for (p, label) in &rows[cut..] {
                restored.classified(Some(if *p >= 0.5 { 1.0 } else { 0.0 }), Some(*p), *label);
            }
            assert_eq!(restored, whole, "cut {cut}: counting on from a restore is counting straight through");
            assert_eq!(restored.summary(), whole.summary());
        }
        // A bin index outside the bins is an error, not a panic.
        let mut bad = Prequential::default();
        bad.scores.bins = Some(vec![[0; 2]; AUC_BINS]);
        bad.scores.bins.as_mut().unwrap()[AUC_BINS - 1] = [1, 1];
        let mut bytes = postcard::to_stdvec(&bad).unwrap();
        let tail = postcard::to_stdvec(&(AUC_BINS as u32 - 1, 1u64, 1u64)).unwrap();
        let at = bytes.windows(tail.len()).rposition(|w| w == tail.as_slice()).unwrap();
        bytes.splice(at..at + tail.len(), postcard::to_stdvec(&(AUC_BINS as u32, 1u64, 1u64)).unwrap());
        assert!(postcard::from_bytes::<Prequential>(&bytes).is_err());
    }

    #[test]
    fn counting_a_batch_is_counting_row_by_row() {
        let mut rnd = uniform(11);
        // Batches that cross the exact list's limit; a missing probability or prediction here and there.
        let rows: Vec<_> = (0..AUC_EXACT_LIMIT + 3000)
            .map(|i| {
                let p = rnd();
                let label = if rnd() < 0.4 { 1.0 } else { 0.0 };
                (if i % 97 == 0 { None } else { Some(if p >= 0.5 { 1.0 } else { 0.0 }) }, (i % 89 != 0).then_some(p), label)
            })
            .collect();
        let (mut one, mut batched) = (Prequential::default(), Prequential::default());
        for &(prediction, p, label) in &rows {
            one.classified(prediction, p, label);
        }
        for chunk in rows.chunks(1777) {
            batched.classified_batch(chunk);
        }
        assert!(one.scores.bins.is_some());
        assert_eq!(batched, one);
        assert_eq!(batched.summary(), one.summary());
    }

    #[test]
    fn anomaly_summary_is_roc_auc_alone() {
        let mut p = Prequential::default();
        for (score, label) in [(0.1, 0.0), (0.9, 1.0), (0.3, 0.0), (0.2, 1.0)] {
            p.anomaly_scored(score, label);
        }
        p.unlabelled();
        let s = p.summary();
        assert_eq!((s.rows, s.labelled, s.roc_auc), (5, 4, Some(0.75)));
        assert_eq!((s.accuracy, s.log_loss, s.macro_f1, s.mae, s.rmse), (None, None, None, None, None));
    }

    #[test]
    fn classifier_summary() {
        let mut p = Prequential::default();
        p.classified(Some(1.0), Some(0.9), 1.0);
        p.classified(Some(0.0), Some(0.2), 1.0);
        p.unlabelled();
        let s = p.summary();
        assert_eq!(s.rows, 3);
        assert_eq!(s.accuracy, Some(0.5));
        let ll = (-(0.9f64.ln()) - 0.2f64.ln()) / 2.0;
        assert!((s.log_loss.unwrap() - ll).abs() < 1e-12);
        // A third class makes the binary metrics meaningless: they are withheld.
        p.classified(Some(2.0), Some(0.5), 2.0);
        let s = p.summary();
        assert_eq!((s.log_loss, s.roc_auc), (None, None));
        assert!((s.accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }
}
