//! Seeded test streams: a small PRNG (splitmix64) and the shapes the tests use.

/// splitmix64: a tiny, well-mixed, seedable generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `rows` Bernoulli values (1.0 with probability `p(row)`), like a per-row error of a classifier.
pub fn bernoulli(seed: u64, rows: usize, p: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..rows).map(|i| if rng.uniform() < p(i) { 1.0 } else { 0.0 }).collect()
}

/// Runs a detector over `values`; the rows at which it detected a drift.
pub fn detections(adwin: &mut eddy_drift::Adwin, values: &[f64]) -> Vec<usize> {
    values.iter().enumerate().filter(|(_, x)| adwin.update(**x)).map(|(i, _)| i).collect()
}
