//! Structured mutations of valid inputs: what a corrupt disk, a broken producer or a hostile
//! operator does to bytes. Positions are taken modulo the input's length when applied, so any
//! generated mutation applies to any input.

use proptest::prelude::*;

/// One change to an input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit.
    FlipBit(usize, u8),
    /// Set one byte.
    SetByte(usize, u8),
    /// Cut the input at a position.
    Truncate(usize),
    /// Remove up to 16 bytes.
    Remove(usize, u8),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Copy a run of up to 64 bytes to another position (repeats a message, a field).
    Duplicate(usize, u8, usize),
    /// Insert a run of another seed (by index) at a position.
    Splice(usize, usize, u16, usize),
    /// Overwrite an aligned 4- or 8-byte word with a huge or negative value (length fields).
    HugeWord(usize, bool, u8),
    /// Replace the n-th run of ASCII digits with a huge, negative or overflowing number
    /// (lengths and counts in JSON).
    HugeNumber(usize, u8),
}

const WORDS: [u64; 8] = [0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x7fff_fff0, i64::MAX as u64, u64::MAX, 1 << 40, 0x1000_0000];
const NUMBERS: [&str; 9] = [
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967295",
    "1e308",
    "-1",
    "0",
    "99999999999999999999999",
    "2147483648",
];

/// Any mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(a, b)| Mutation::FlipBit(a, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::SetByte(a, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), 1u8..16).prop_map(|(a, n)| Mutation::Remove(a, n)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(a, b)| Mutation::Insert(a, b)),
        1 => (any::<usize>(), 1u8..64, any::<usize>()).prop_map(|(a, n, b)| Mutation::Duplicate(a, n, b)),
        1 => (any::<usize>(), any::<usize>(), 1u16..512, any::<usize>()).prop_map(|(s, a, n, b)| Mutation::Splice(s, a, n, b)),
        3 => (any::<usize>(), any::<bool>(), 0u8..8).prop_map(|(a, w, v)| Mutation::HugeWord(a, w, v)),
        2 => (any::<usize>(), 0u8..9).prop_map(|(n, v)| Mutation::HugeNumber(n, v)),
    ]
}

/// A seed (by index into `seeds`) and the mutations to apply to it.
pub fn case() -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    (any::<usize>(), proptest::collection::vec(mutation(), 1..6))
}

/// `seed` with `muts` applied in order (`seeds` are the other inputs a splice takes from).
pub fn apply(seed: &[u8], muts: &[Mutation], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for m in muts {
        apply_one(&mut d, m, seeds);
    }
    d
}

fn apply_one(d: &mut Vec<u8>, m: &Mutation, seeds: &[Vec<u8>]) {
    let len = d.len();
    let at = |p: usize| if len == 0 { 0 } else { p % len };
    match *m {
        Mutation::FlipBit(p, b) if len > 0 => d[at(p)] ^= 1 << b,
        Mutation::SetByte(p, v) if len > 0 => d[at(p)] = v,
        Mutation::Truncate(p) => d.truncate(at(p)),
        Mutation::Remove(p, n) if len > 0 => {
            let a = at(p);
            d.drain(a..(a + usize::from(n)).min(len));
        }
        Mutation::Insert(p, ref b) => {
            let a = if len == 0 { 0 } else { p % (len + 1) };
            d.splice(a..a, b.iter().copied());
        }
        Mutation::Duplicate(p, n, q) if len > 0 => {
            let a = at(p);
            let run = d[a..(a + usize::from(n)).min(len)].to_vec();
            let b = q % (len + 1);
            d.splice(b..b, run);
        }
        Mutation::Splice(s, p, n, q) if !seeds.is_empty() => {
            let other = &seeds[s % seeds.len()];
            if other.is_empty() {
                return;
            }
            let a = p % other.len();
            let run = &other[a..(a + usize::from(n)).min(other.len())];
            let b = if len == 0 { 0 } else { q % (len + 1) };
            d.splice(b..b, run.iter().copied());
        }
        Mutation::HugeWord(p, wide, v) => {
            let w = if wide { 8 } else { 4 };
            if len < w {
                return;
            }
            let a = (at(p) / 4 * 4).min(len - w);
            let value = WORDS[usize::from(v) % WORDS.len()];
            if wide {
                d[a..a + 8].copy_from_slice(&value.to_le_bytes());
            } else {
                d[a..a + 4].copy_from_slice(&(value as u32).to_le_bytes());
            }
        }
        Mutation::HugeNumber(nth, v) => {
            let runs: Vec<(usize, usize)> = digit_runs(d);
            if runs.is_empty() {
                return;
            }
            let (a, b) = runs[nth % runs.len()];
            d.splice(a..b, NUMBERS[usize::from(v) % NUMBERS.len()].bytes());
        }
        _ => {}
    }
}

/// Where the runs of ASCII digits are: (start, end).
fn digit_runs(d: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < d.len() {
        if d[i].is_ascii_digit() {
            let start = i;
            while i < d.len() && d[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_apply_to_any_input() {
        let seeds = vec![b"{\"size\": 12, \"x\": [1]}".to_vec(), vec![0xff; 16]];
        let d = apply(&seeds[0], &[Mutation::HugeNumber(0, 0)], &seeds);
        assert_eq!(d, b"{\"size\": 18446744073709551615, \"x\": [1]}");
        let d = apply(&seeds[1], &[Mutation::HugeWord(5, false, 1)], &seeds);
        assert_eq!(&d[4..8], &0x7fff_ffffu32.to_le_bytes());
        for m in [Mutation::Remove(3, 9), Mutation::Truncate(7), Mutation::Splice(1, 3, 100, 2), Mutation::FlipBit(99, 7)] {
            apply(&[], std::slice::from_ref(&m), &seeds);
            apply(&seeds[0], &[m], &seeds);
        }
    }
}
