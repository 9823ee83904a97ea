//! CPython's `random.Random`, bit for bit, for the draws river's `HalfSpaceTrees` makes: the
//! Mersenne Twister MT19937 seeded from an integer as `random.Random(seed)` seeds it
//! (`init_by_array` over the 32-bit words of `|seed|`), `random()` (53-bit doubles from two
//! words), `uniform(a, b)` and one weighted `choices(population, weights)`. With the same seed,
//! eddy grows the same trees as river, so their scores can be compared exactly.

use serde::{Deserialize, Serialize};

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// `random.Random(seed)` of CPython (3.2 and later; the algorithm has not changed since).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonRandom {
    state: Vec<u32>,
    index: usize,
}

impl PythonRandom {
    /// `random.Random(seed)`: Python seeds with `abs(seed)`, split into 32-bit words, least
    /// significant first (one word at least).
    pub fn new(seed: i64) -> Self {
        let s = seed.unsigned_abs();
        let key: Vec<u32> = if s >> 32 == 0 { vec![s as u32] } else { vec![s as u32, (s >> 32) as u32] };
        let mut r = Self::init_genrand(19_650_218);
        r.init_by_array(&key);
        r
    }

    fn init_genrand(s: u32) -> Self {
        let mut mt = vec![0u32; N];
        mt[0] = s;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Self { state: mt, index: N }
    }

    fn init_by_array(&mut self, key: &[u32]) {
        let mt = &mut self.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            let mt = &mut self.state;
            let mag = |y: u32| if y & 1 == 0 { 0 } else { MATRIX_A };
            for k in 0..N {
                let y = (mt[k] & UPPER_MASK) | (mt[(k + 1) % N] & LOWER_MASK);
                mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ mag(y);
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random()`: a double in [0, 1) from 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `uniform(a, b)`: `a + (b - a) * random()`.
    pub fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.random()
    }

    /// `choices(range(len(weights)), weights)[0]`: the cumulative weights summed left to
    /// right, one `random()` scaled by their total, and the first index whose cumulative weight
    /// exceeds it (`bisect_right`, capped at the last index). `weights` is not empty and its
    /// total is positive.
    pub fn choice_weighted(&mut self, weights: &[f64]) -> usize {
        let mut cum = Vec::with_capacity(weights.len());
        let mut total = 0.0;
        for (i, w) in weights.iter().enumerate() {
            // Python's accumulate starts from the first weight itself, not from 0 + it.
            total = if i == 0 { *w } else { total + w };
            cum.push(total);
        }
        let v = self.random() * (total + 0.0);
        let hi = weights.len() - 1;
        cum[..hi].partition_point(|c| *c <= v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython() {
        // python3 -c "import random; print(random.Random(42).random())" and so on.
        assert_eq!(PythonRandom::new(42).random(), 0.6394267984578837);
        assert_eq!(PythonRandom::new(0).random(), 0.8444218515250481);
        assert_eq!(PythonRandom::new(-5).random(), PythonRandom::new(5).random());
        assert_eq!(PythonRandom::new((1 << 40) + 5).random(), 0.5043802970418443);
    }
}
