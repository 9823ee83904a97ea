//! The k-means model, Flink ML's distance measures and nearest-centroid search, and the
//! update for one global batch, as pure functions over plain data (Flink ML's arithmetic, in
//! Flink ML's order of operations).

use eddy_sdk::java_random::JavaRandom;
use serde::{Deserialize, Serialize};

/// How the distance between a point and a centroid is measured (Flink ML's
/// `distanceMeasure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DistanceMeasure {
    /// Squared L2 distance computed as Flink does: `max(0, |a|^2 + |b|^2 - 2 a.b)`, with its
    /// lower-bound pruning `(|a| - |b|)^2`.
    Euclidean,
    /// L1 distance.
    Manhattan,
    /// `1 - a.b / |a| / |b|`; undefined for a zero vector.
    Cosine,
}

/// Centroids and weights, with the L2 norm of every centroid (derived, kept so that scoring a
/// row costs one dot product per centroid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The k centroids, all of the same dimension.
    pub centroids: Vec<Vec<f64>>,
    /// One weight per centroid.
    pub weights: Vec<f64>,
    /// 0 for the initial model, +1 per update.
    pub version: i64,
    norms: Vec<f64>,
}

/// The rows of the partial global batch, reduced to what the update needs: how many rows went
/// to each centroid and their sum (added in arrival order, as Flink sums the batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Rows gathered so far.
    pub len: usize,
    /// Rows assigned to each centroid.
    pub counts: Vec<u64>,
    /// Sum of the rows assigned to each centroid.
    pub sums: Vec<Vec<f64>>,
}

impl Pending {
    /// An empty batch for `k` centroids of dimension `dim`.
    pub fn new(k: usize, dim: usize) -> Self {
        Self { len: 0, counts: vec![0; k], sums: vec![vec![0.0; dim]; k] }
    }

    /// Adds `point`, assigned to centroid `cluster`.
    pub fn add(&mut self, cluster: usize, point: &[f64]) {
        self.len += 1;
        self.counts[cluster] += 1;
        for (s, x) in self.sums[cluster].iter_mut().zip(point) {
            *s += x;
        }
    }
}

/// `BLAS.norm2` as Flink ML's Java BLAS computes it: `|x|` for one value, else the square root
/// of the sum of squares in index order.
pub fn norm2(x: &[f64]) -> f64 {
    match x {
        [] => 0.0,
        [v] => v.abs(),
        _ => x.iter().map(|v| v * v).sum::<f64>().sqrt(),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

impl Model {
    /// A model (version 0) from centroids and weights.
    pub fn new(centroids: Vec<Vec<f64>>, weights: Vec<f64>) -> Self {
        let norms = centroids.iter().map(|c| norm2(c)).collect();
        Self { centroids, weights, version: 0, norms }
    }

    /// Flink ML's random initial model for `(k, dim, weight, seed)`.
    pub fn random(k: usize, dim: usize, weight: f64, seed: i64) -> Self {
        let mut r = JavaRandom::new(seed);
        let centroids = (0..k).map(|_| (0..dim).map(|_| r.next_double()).collect()).collect();
        Self::new(centroids, vec![weight; k])
    }

    /// The dimension of the centroids.
    pub fn dim(&self) -> usize {
        self.centroids.first().map_or(0, Vec::len)
    }

    /// The index of the centroid nearest to `point` (whose L2 norm is `point_norm`); ties go to
    /// the lowest index. Under cosine a zero centroid is never nearest (Flink would fail the
    /// job); the caller has already refused a zero point.
    pub fn closest(&self, point: &[f64], point_norm: f64, measure: DistanceMeasure) -> usize {
        match measure {
            DistanceMeasure::Euclidean => {
                // EuclideanDistanceMeasure.findClosest, step for step.
                let mut best = f64::INFINITY;
                let mut index = 0;
                for (i, (c, &cn)) in self.centroids.iter().zip(&self.norms).enumerate() {
                    let lb = point_norm - cn;
                    if lb * lb >= best {
                        continue;
                    }
                    let d = (point_norm * point_norm + cn * cn - 2.0 * dot(point, c)).max(0.0);
                    if d < best {
                        best = d;
                        index = i;
                    }
                }
                index
            }
            DistanceMeasure::Manhattan => self.argmin(|c, _| c.iter().zip(point).map(|(a, b)| (a - b).abs()).sum()),
            DistanceMeasure::Cosine => self.argmin(|c, cn| if cn > 0.0 { 1.0 - dot(c, point) / cn / point_norm } else { f64::INFINITY }),
        }
    }

    /// DistanceMeasure.findClosest: strict `<` from `Double.MAX_VALUE`, so the lowest index
    /// wins ties; 0 when no distance is finite.
    fn argmin(&self, dist: impl Fn(&[f64], f64) -> f64) -> usize {
        let mut best = f64::MAX;
        let mut index = 0;
        for (i, (c, &cn)) in self.centroids.iter().zip(&self.norms).enumerate() {
            let d = dist(c, cn);
            if d < best {
                best = d;
                index = i;
            }
        }
        index
    }

    /// Applies one global batch (Flink ML's `ModelDataLocalUpdater` for one subtask):
    /// `w *= decay`; then for every centroid that received rows, `w += n`, `lambda = n / w`,
    /// `c = c * (1 - lambda) + (lambda / n) * sum`.
    pub fn update(&mut self, batch: &Pending, decay_factor: f64) {
        for w in &mut self.weights {
            *w *= decay_factor;
        }
        for (i, &n) in batch.counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let n = n as f64;
            self.weights[i] += n;
            let lambda = n / self.weights[i];
            let a = lambda / n;
            for (c, s) in self.centroids[i].iter_mut().zip(&batch.sums[i]) {
                *c *= 1.0 - lambda;
                *c += a * s;
            }
            self.norms[i] = norm2(&self.centroids[i]);
        }
        self.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_model_matches_flink_ml_for_seed_0() {
        let m = Model::random(2, 2, 0.0, 0);
        assert_eq!(m.centroids, vec![vec![0.730967787376657, 0.24053641567148587], vec![0.6374174253501083, 0.5504370051176339]]);
        assert_eq!(m.weights, vec![0.0, 0.0]);
    }

    #[test]
    fn ties_go_to_the_lowest_index() {
        let m = Model::new(vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![1.0, 0.0]], vec![0.0; 3]);
        for measure in [DistanceMeasure::Euclidean, DistanceMeasure::Manhattan, DistanceMeasure::Cosine] {
            assert_eq!(m.closest(&[0.0, 1.0], 1.0, measure), 0, "{measure:?}");
            assert_eq!(m.closest(&[2.0, 0.0], 2.0, measure), 0, "{measure:?}");
            assert_eq!(m.closest(&[-2.0, 0.5], norm2(&[-2.0, 0.5]), measure), 1, "{measure:?}");
        }
    }

    #[test]
    fn decay_weighs_history() {
        let mut m = Model::new(vec![vec![0.0], vec![10.0]], vec![2.0, 4.0]);
        let mut b = Pending::new(2, 1);
        b.add(0, &[3.0]);
        b.add(0, &[3.0]);
        m.update(&b, 0.5);
        // w0 = 0.5 * 2 + 2 = 3, c0 = (1 * 0 + 6) / 3 = 2; w1 = 0.5 * 4 = 2, c1 unchanged.
        assert_eq!(m.weights, vec![3.0, 2.0]);
        assert!((m.centroids[0][0] - 2.0).abs() < 1e-15);
        assert_eq!(m.centroids[1], vec![10.0]);
        assert_eq!(m.version, 1);
    }
}
