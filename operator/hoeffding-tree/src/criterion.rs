//! Split criteria and the Hoeffding bound, as river's `split_criterion` classes compute them:
//! information gain (entropy in bits), Gini impurity decrease and Hellinger distance, each
//! refusing (merit `-inf`) a candidate that leaves fewer than two branches with more than
//! `minBranchFraction` of the weight.

use crate::dist::{ClassId, Dist};
use crate::params::SplitCriterion;

/// What a criterion needs besides the distributions.
#[derive(Debug, Clone, Copy)]
pub struct Criterion {
    /// Which criterion.
    pub kind: SplitCriterion,
    /// The smallest share of the weight that makes a branch count.
    pub min_branch_fraction: f64,
    /// The classes whose values are 0 and 1 (Hellinger reads these two).
    pub class0: Option<ClassId>,
    /// See `class0`.
    pub class1: Option<ClassId>,
}

impl Criterion {
    /// The merit of dividing `pre` into `post` (river's `merit_of_split`).
    pub fn merit(&self, pre: &Dist, post: &[Dist; 2]) -> f64 {
        if num_subsets_greater_than_frac(post, self.min_branch_fraction, self.kind != SplitCriterion::Hellinger) < 2 {
            return f64::NEG_INFINITY;
        }
        match self.kind {
            SplitCriterion::InfoGain => entropy(pre) - entropy_of_split(post),
            SplitCriterion::Gini => {
                let w = [post[0].total(), post[1].total()];
                let total = w[0] + w[1];
                let mut gini = 0.0;
                for (d, wi) in post.iter().zip(w) {
                    gini += (wi / total) * gini_of(d, wi);
                }
                1.0 - gini
            }
            SplitCriterion::Hellinger => self.hellinger(post),
        }
    }

    /// The range of the merit (river's `range_of_merit`): `log2(max(classes, 2))` for
    /// information gain and Hellinger, 1 for Gini. `classes` counts the leaf's classes.
    pub fn range_of_merit(&self, pre: &Dist) -> f64 {
        match self.kind {
            SplitCriterion::Gini => 1.0,
            SplitCriterion::InfoGain | SplitCriterion::Hellinger => libm::log2(pre.len().max(2) as f64),
        }
    }

    /// river's `compute_hellinger`: 0 unless both branches hold both classes 0 and 1.
    fn hellinger(&self, post: &[Dist; 2]) -> f64 {
        let (Some(c0), Some(c1)) = (self.class0, self.class1) else { return 0.0 };
        let (Some(lp), Some(ln), Some(rp), Some(rn)) = (post[0].get(c1), post[0].get(c0), post[1].get(c1), post[1].get(c0)) else {
            return 0.0;
        };
        let total_negative = ln + rn;
        let total_positive = lp + rp;
        let a = (ln / total_negative).sqrt() - (lp / total_positive).sqrt();
        let b = (rn / total_negative).sqrt() - (rp / total_positive).sqrt();
        (a * a + b * b).sqrt()
    }
}

/// `sqrt(R^2 ln(1/delta) / (2n))`: with probability `1 - delta`, the true mean of a variable of
/// range `R` is within this of the mean of `n` observations.
pub fn hoeffding_bound(range: f64, delta: f64, n: f64) -> f64 {
    ((range * range * eddy_sdk::math::ln(1.0 / delta)) / (2.0 * n)).sqrt()
}

/// How many branches hold more than `min_frac` of the total weight. river's information gain
/// and Gini count none when the total is 0 (`guard`); its Hellinger criterion divides anyway.
fn num_subsets_greater_than_frac(post: &[Dist; 2], min_frac: f64, guard: bool) -> usize {
    let sums = [post[0].total(), post[1].total()];
    let total = sums[0] + sums[1];
    if guard && (total.is_nan() || total <= 0.0) {
        return 0;
    }
    sums.iter().filter(|&&d| d / total > min_frac).count()
}

/// The entropy of one distribution, in bits (river's `_compute_entropy_dict`).
pub fn entropy(d: &Dist) -> f64 {
    let mut entropy = 0.0;
    let mut sum = 0.0;
    for &(_, w) in d.entries() {
        if w > 0.0 {
            entropy -= w * libm::log2(w);
            sum += w;
        }
    }
    if sum > 0.0 { (entropy + sum * libm::log2(sum)) / sum } else { 0.0 }
}

/// The weighted entropy of the branches (river's `_compute_entropy_list`).
fn entropy_of_split(post: &[Dist; 2]) -> f64 {
    let w = [post[0].total(), post[1].total()];
    let total = w[0] + w[1];
    let mut e = 0.0;
    for (d, wi) in post.iter().zip(w) {
        e += wi * entropy(d);
    }
    e / total
}

/// The Gini impurity of one distribution of total `sum` (river's `compute_gini`).
fn gini_of(d: &Dist, sum: f64) -> f64 {
    let mut gini = 1.0;
    if sum != 0.0 {
        for &(_, w) in d.entries() {
            let f = w / sum;
            gini -= f * f;
        }
    }
    gini
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(ws: &[f64]) -> Dist {
        let mut d = Dist::default();
        for (i, w) in ws.iter().enumerate() {
            d.push(i as ClassId, *w);
        }
        d
    }

    fn crit(kind: SplitCriterion) -> Criterion {
        Criterion { kind, min_branch_fraction: 0.01, class0: Some(0), class1: Some(1) }
    }

    #[test]
    fn textbook_values() {
        // river gives the same rounding: 1.0000000000000004.
        assert_eq!(entropy(&dist(&[5.0, 5.0])), 1.0000000000000004);
        assert_eq!(entropy(&dist(&[4.0, 0.0])), 0.0);
        let mut right = Dist::default();
        right.push(1, 5.0);
        let perfect = [dist(&[5.0]), right];
        assert_eq!(crit(SplitCriterion::InfoGain).merit(&dist(&[5.0, 5.0]), &perfect), 1.0000000000000004);
        assert_eq!(crit(SplitCriterion::Gini).merit(&dist(&[5.0, 5.0]), &perfect), 1.0);
        // Hellinger needs both classes on both sides.
        assert_eq!(crit(SplitCriterion::Hellinger).merit(&dist(&[5.0, 5.0]), &perfect), 0.0);
        let h = crit(SplitCriterion::Hellinger).merit(&dist(&[5.0, 5.0]), &[dist(&[4.0, 1.0]), dist(&[1.0, 4.0])]);
        let want = (2.0 * (0.8f64.sqrt() - 0.2f64.sqrt()).powi(2)).sqrt();
        assert!((h - want).abs() < 1e-15);
        // A branch with under 1% of the weight does not count.
        assert_eq!(crit(SplitCriterion::InfoGain).merit(&dist(&[500.0, 500.0]), &[dist(&[1.0]), dist(&[499.0, 500.0])]), f64::NEG_INFINITY);
        assert_eq!(crit(SplitCriterion::InfoGain).range_of_merit(&dist(&[1.0])), 1.0);
        assert_eq!(crit(SplitCriterion::InfoGain).range_of_merit(&dist(&[1.0, 1.0, 1.0, 1.0])), 2.0);
        assert!((hoeffding_bound(1.0, 1e-7, 200.0) - (16.11809565095832f64 / 400.0).sqrt()).abs() < 1e-15);
    }
}
