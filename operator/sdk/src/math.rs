//! Transcendental functions that give the same bits on every target.
//!
//! `f64::exp` and `f64::ln` call the platform's libm, and glibc (native builds) and wasi-libc
//! (components) round some results differently in the last bit. Operators use these pure-Rust
//! versions (from the `libm` crate) instead, so a native unit test and the compiled component
//! agree bit for bit. `sqrt` and basic arithmetic are exact in IEEE 754 everywhere.

/// e^x, identical on every target.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// Natural logarithm, identical on every target.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// The logistic function 1 / (1 + e^-x).
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// `x . w` over the first `min(len)` entries, summed in index order (`((x0 w0 + x1 w1) + x2 w2)
/// + ...`, no fused multiply-add): the same bits as the plain loop, on every target. Unrolled by
/// eight, which matters in a component, where every loop iteration costs an interruption check.
#[inline(always)]
pub fn dot(x: &[f64], w: &[f64]) -> f64 {
    let n = x.len().min(w.len());
    let (x, w) = (&x[..n], &w[..n]);
    let mut s = 0.0;
    let (xc, wc) = (x.chunks_exact(8), w.chunks_exact(8));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (a, b) in xc.zip(wc) {
        s += a[0] * b[0];
        s += a[1] * b[1];
        s += a[2] * b[2];
        s += a[3] * b[3];
        s += a[4] * b[4];
        s += a[5] * b[5];
        s += a[6] * b[6];
        s += a[7] * b[7];
    }
    for (a, b) in xr.iter().zip(wr) {
        s += a * b;
    }
    s
}

/// Whether every value is finite (no NaN, no infinity). Checks them all, eight at a time,
/// without stopping early: a fast pass for the common case, before any per-row error search.
/// (On the bits: a value is not finite when its exponent bits are all ones, which vectorizes as
/// plain integer operations.)
pub fn all_finite(values: &[f64]) -> bool {
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    let not_finite = |v: f64| u64::from(!v.to_bits() & EXPONENT == 0);
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    let mut bad = 0u64;
    for c in chunks {
        let c: &[f64; 8] = c.try_into().expect("chunks of 8");
        for v in c {
            bad |= not_finite(*v);
        }
    }
    for v in rest {
        bad |= not_finite(*v);
    }
    bad == 0
}

/// Appends the first `rows` values of `columns` to `out` row by row (row-major: row 0's value
/// of every column, then row 1's, ...), eight columns at a time.
///
/// # Panics
///
/// If a column holds fewer than `rows` values.
pub fn rows_from_columns(columns: &[&[f64]], rows: usize, out: &mut Vec<f64>) {
    let columns: Vec<&[f64]> = columns.iter().map(|c| &c[..rows]).collect();
    out.reserve(rows * columns.len());
    let (blocks, rest) = columns.split_at(columns.len() / 8 * 8);
    for r in 0..rows {
        for b in blocks.chunks_exact(8) {
            out.extend_from_slice(&[b[0][r], b[1][r], b[2][r], b[3][r], b[4][r], b[5][r], b[6][r], b[7][r]]);
        }
        for c in rest {
            out.push(c[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_from_columns_is_a_transpose() {
        for d in [1usize, 3, 8, 11, 32] {
            let cols: Vec<Vec<f64>> = (0..d).map(|c| (0..9).map(|r| (r * 100 + c) as f64).collect()).collect();
            let views: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let mut out = vec![-1.0];
            rows_from_columns(&views, 7, &mut out);
            let expected: Vec<f64> = std::iter::once(-1.0).chain((0..7).flat_map(|r| (0..d).map(move |c| (r * 100 + c) as f64))).collect();
            assert_eq!(out, expected, "d = {d}");
        }
    }

    use super::*;

    #[test]
    fn dot_sums_in_index_order() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 * 2e3 - 1e3
        };
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 100] {
            let a: Vec<f64> = (0..n).map(|_| next()).collect();
            let b: Vec<f64> = (0..n + 3).map(|_| next()).collect();
            let mut plain = 0.0;
            for (p, q) in a.iter().zip(&b) {
                plain += p * q;
            }
            assert_eq!(dot(&a, &b).to_bits(), plain.to_bits(), "n = {n}");
            assert_eq!(dot(&b, &a).to_bits(), plain.to_bits(), "n = {n}, swapped");
        }
    }

    #[test]
    fn all_finite_finds_any_nan_or_infinity() {
        for n in [0usize, 1, 8, 13, 40] {
            let v: Vec<f64> = (0..n).map(|i| i as f64 - 3.5).collect();
            assert!(all_finite(&v));
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                for at in 0..n {
                    let mut w = v.clone();
                    w[at] = bad;
                    assert!(!all_finite(&w), "n = {n}, {bad} at {at}");
                }
            }
        }
    }
}
