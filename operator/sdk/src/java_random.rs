//! `java.util.Random`, bit for bit: Flink ML draws random initial models with it, so eddy's
//! operators reproduce the same initial models for the same seed.

use serde::{Deserialize, Serialize};

/// Java's 48-bit linear congruential generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5DEE_CE66D;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    /// `new java.util.Random(seed)`.
    pub fn new(seed: i64) -> Self {
        Self { seed: (seed as u64 ^ MULTIPLIER) & MASK }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `Random.nextDouble()`.
    pub fn next_double(&mut self) -> f64 {
        let hi = i64::from(self.next(26)) << 27;
        let lo = i64::from(self.next(27));
        (hi + lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_flink_ml_kmeans_initial_model_for_seed_0() {
        let mut r = JavaRandom::new(0);
        let got: Vec<f64> = (0..4).map(|_| r.next_double()).collect();
        assert_eq!(got, vec![0.730967787376657, 0.24053641567148587, 0.6374174253501083, 0.5504370051176339]);
    }
}
