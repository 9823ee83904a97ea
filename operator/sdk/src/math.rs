//! Transcendental functions that give the same bits on every target.
//!
//! `f64::exp` and `f64::ln` call the platform's libm, and glibc (native builds) and wasi-libc
//! (components) round some results differently in the last bit. Operators use these pure-Rust
//! versions (from the `libm` crate) instead, so a native unit test and the compiled component
//! agree bit for bit. `sqrt` and basic arithmetic are exact in IEEE 754 everywhere.

/// e^x, identical on every target: the `libm` crate's `exp` (musl's, from FreeBSD), the same
/// operations in the same order, hence the same bits (a test compares the two), written out
/// here so that it inlines into the caller. In a component every call costs an interruption
/// check and spills the caller's floating-point registers, and operators call `exp` per row.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // The constants by their bits (musl's comments give them; the decimals are 6.93147180369123816490e-01,
    // 1.90821492927058770002e-10, 1.44269504088896338700e+00, then P1..P5).
    const HALF: [f64; 2] = [0.5, -0.5];
    const LN2HI: f64 = f64::from_bits(0x3fe62e42_fee00000);
    const LN2LO: f64 = f64::from_bits(0x3dea39ef_35793c76);
    const INVLN2: f64 = f64::from_bits(0x3ff71547_652b82fe);
    const P1: f64 = f64::from_bits(0x3fc55555_5555553e);
    const P2: f64 = f64::from_bits(0xbf66c16c_16bebd93);
    const P3: f64 = f64::from_bits(0x3f11566a_af25de2c);
    const P4: f64 = f64::from_bits(0xbebbbd41_c5d26bf1);
    const P5: f64 = f64::from_bits(0x3e663769_72bea4d0);
    // Thresholds, by their bits too: 709.782712893383973096 and -745.13321910194110842.
    const OVERFLOW: f64 = f64::from_bits(0x40862e42_fefa39ef);
    const UNDERFLOW: f64 = f64::from_bits(0xc0874910_d52d3051);
    let x1p1023 = f64::from_bits(0x7fe0000000000000);
    let mut x = x;
    let mut hx = (x.to_bits() >> 32) as u32;
    let sign = (hx >> 31) as i32;
    hx &= 0x7fffffff; // high word of |x|
    // Special cases: |x| >= 708.39...
    if hx >= 0x4086232b {
        if x.is_nan() {
            return x;
        }
        if x > OVERFLOW {
            return x * x1p1023; // overflow
        }
        if x < UNDERFLOW {
            return 0.0; // underflow
        }
    }
    // Argument reduction.
    let (hi, lo, k);
    if hx > 0x3fd62e42 {
        // |x| > 0.5 ln2
        k = if hx >= 0x3ff0a2b2 {
            // |x| >= 1.5 ln2
            (INVLN2 * x + HALF[sign as usize]) as i32
        } else {
            1 - sign - sign
        };
        hi = x - k as f64 * LN2HI; // k*ln2hi is exact here
        lo = k as f64 * LN2LO;
        x = hi - lo;
    } else if hx > 0x3e300000 {
        // |x| > 2**-28
        k = 0;
        hi = x;
        lo = 0.0;
    } else {
        return 1.0 + x;
    }
    // x is now in the primary range.
    let xx = x * x;
    let c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
    let y = 1.0 + (x * c / (2.0 - c) - lo + hi);
    if k == 0 { y } else { scalbn(y, k) }
}

/// `x * 2^n`, correctly rounded (so any correct implementation gives these bits): musl's.
#[inline(always)]
fn scalbn(x: f64, mut n: i32) -> f64 {
    let x1p1023 = f64::from_bits(0x7fe0000000000000); // 2^1023
    let x1p53 = f64::from_bits(0x4340000000000000); // 2^53
    let x1p_1022 = f64::from_bits(0x0010000000000000); // 2^-1022
    let mut y = x;
    if n > 1023 {
        y *= x1p1023;
        n -= 1023;
        if n > 1023 {
            y *= x1p1023;
            n -= 1023;
            if n > 1023 {
                n = 1023;
            }
        }
    } else if n < -1022 {
        // Keeps the final n below -53, so that there is no double rounding among subnormals.
        y *= x1p_1022 * x1p53;
        n += 1022 - 53;
        if n < -1022 {
            y *= x1p_1022 * x1p53;
            n += 1022 - 53;
            if n < -1022 {
                n = -1022;
            }
        }
    }
    y * f64::from_bits(((0x3ff + n) as u64) << 52)
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

/// `x . w` over the first `min(len)` entries, summed in index order (`(x0 w0 + x1 w1) + x2 w2`
/// and so on, no fused multiply-add): the same bits as the plain loop, on every target. Unrolled
/// by eight, which matters in a component, where every loop iteration costs an interruption
/// check.
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
/// of every column, then row 1's, ...). Works eight columns at a time, each block in one pass
/// down the rows, writing straight into `out`'s spare capacity.
///
/// # Panics
///
/// If a column holds fewer than `rows` values.
#[expect(unsafe_code, reason = "Vec::set_len once every appended value is written")]
pub fn rows_from_columns(columns: &[&[f64]], rows: usize, out: &mut Vec<f64>) {
    let d = columns.len();
    let columns: Vec<&[f64]> = columns.iter().map(|c| &c[..rows]).collect();
    let start = out.len();
    out.reserve(rows * d);
    if d == 0 || rows == 0 {
        return;
    }
    let dst = &mut out.spare_capacity_mut()[..rows * d];
    let mut c0 = 0;
    for block in columns.chunks(8) {
        if let Ok(b) = <&[&[f64]; 8]>::try_from(block) {
            // Two rows per iteration (fewer loop iterations, each costing a check in a component).
            let mut pairs = dst.chunks_exact_mut(2 * d);
            for (i, two) in (&mut pairs).enumerate() {
                let r = 2 * i;
                let (first, second) = two.split_at_mut(d);
                let first: &mut [_; 8] = (&mut first[c0..c0 + 8]).try_into().expect("eight columns");
                let second: &mut [_; 8] = (&mut second[c0..c0 + 8]).try_into().expect("eight columns");
                for k in 0..8 {
                    first[k].write(b[k][r]);
                    second[k].write(b[k][r + 1]);
                }
            }
            if let Some(last) = pairs.into_remainder().get_mut(c0..c0 + 8) {
                for k in 0..8 {
                    last[k].write(b[k][rows - 1]);
                }
            }
        } else {
            for (k, col) in block.iter().enumerate() {
                for (row, x) in dst.chunks_exact_mut(d).zip(col.iter()) {
                    row[c0 + k].write(*x);
                }
            }
        }
        c0 += block.len();
    }
    // SAFETY: the blocks cover every column, and each wrote its value into every one of the
    // `rows` rows of `d` values: all `rows * d` spare values are initialized.
    unsafe { out.set_len(start + rows * d) };
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
    fn exp_is_libms_bit_for_bit() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cases: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -744.5,
            -740.0,
            -720.0,
            708.0,
            0.5 * std::f64::consts::LN_2,
            1.5 * std::f64::consts::LN_2,
            3.725290298461914e-9,
            -3.725290298461914e-9,
            1e-300,
            -1e-300,
        ];
        // Around the overflow and underflow thresholds and where the argument reduction changes
        // (|x| = 708.39, 0.5 ln2, 1.5 ln2, 2^-28): the bit patterns on either side.
        for bits in [
            0x40862e42_fefa39efu64,
            0xc0874910_d52d3051,
            0xc086232b_dd7abcd2,
            0x3fd62e42_fefa39ef,
            0x3ff0a2b2_3f3bab73,
            0x3e300000_00000000,
        ] {
            for d in 0..=4u64 {
                for b in [bits.wrapping_add(d), bits.wrapping_sub(d)] {
                    cases.push(f64::from_bits(b));
                    cases.push(-f64::from_bits(b));
                }
            }
        }
        for _ in 0..200_000 {
            // Uniform over [-750, 750], and uniform over the bit patterns (all magnitudes).
            cases.push((next() >> 11) as f64 / (1u64 << 53) as f64 * 1500.0 - 750.0);
            cases.push(f64::from_bits(next()));
        }
        for t in cases {
            let (ours, theirs) = (exp(t), libm::exp(t));
            assert!(ours.to_bits() == theirs.to_bits() || ours.is_nan() && theirs.is_nan(), "exp({t:e}): {ours:e} vs libm {theirs:e}");
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
