//! The arithmetic the model needs, written so that it gives the same bits on every target:
//! a dot product with a fixed summation order (eight lanes, then a fixed tree), and an
//! exponential built from `+`, `*`, `/` and bit manipulation only, so that no platform libm
//! (glibc natively, wasi-libc in the component) can make two hosts disagree.

/// `a · b` over `f32`, summed in eight interleaved lanes and then a fixed tree. The order is
/// part of the model's definition: scores (and so ranks) are bit-identical on every target.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[l] += x * y;
    }
    tree(&acc)
}

/// The fixed tree that sums the eight lanes of [`dot`].
#[inline]
fn tree(acc: &[f32; 8]) -> f32 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// `out[r] = p · row r of matrix` for every row of `matrix` (row-major, rows of `p.len()`),
/// each exactly as [`dot`] computes it: one matrix-vector product, the cost of ranking. On
/// wasm32 it runs on 128-bit SIMD (the same lanes, the same multiply-then-add order, so the
/// same bits as the scalar code).
pub fn scores(p: &[f32], matrix: &[f32], out: &mut [f32]) {
    let dim = p.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    debug_assert_eq!(matrix.len(), out.len() * dim);
    #[cfg(target_arch = "wasm32")]
    {
        if dim.is_multiple_of(8) {
            simd::scores(p, matrix, out);
            return;
        }
    }
    for (row, o) in matrix.chunks_exact(dim).zip(out.iter_mut()) {
        *o = dot(p, row);
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128, v128_load};

    /// [`super::scores`] for dimensions that are multiples of 8: lanes 0-3 and 4-7 of
    /// [`super::dot`] in two 4-lane registers, the user's vector loaded once (into registers
    /// for dimensions 8 to 64, by a copy of the loop per dimension).
    #[target_feature(enable = "simd128")]
    pub fn scores(p: &[f32], matrix: &[f32], out: &mut [f32]) {
        match p.len() {
            8 => fixed::<1>(p, matrix, out),
            16 => fixed::<2>(p, matrix, out),
            24 => fixed::<3>(p, matrix, out),
            32 => fixed::<4>(p, matrix, out),
            40 => fixed::<5>(p, matrix, out),
            48 => fixed::<6>(p, matrix, out),
            56 => fixed::<7>(p, matrix, out),
            64 => fixed::<8>(p, matrix, out),
            _ => {
                for (row, o) in matrix.chunks_exact(p.len()).zip(out.iter_mut()) {
                    *o = super::dot(p, row);
                }
            }
        }
    }

    #[target_feature(enable = "simd128")]
    fn load(v: &[f32], at: usize) -> v128 {
        assert!(at + 4 <= v.len());
        // SAFETY: the 16 bytes at `at` are inside `v` (checked above; the check folds away in
        // the unrolled loops); v128_load has no alignment requirement.
        #[expect(unsafe_code, reason = "a 128-bit load from an f32 slice, bounds checked")]
        unsafe {
            v128_load(v.as_ptr().add(at).cast::<v128>())
        }
    }

    /// Rows of `8 * N` values.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn fixed<const N: usize>(p: &[f32], matrix: &[f32], out: &mut [f32]) {
        let mut lo_p = [f32x4_splat(0.0); N];
        let mut hi_p = [f32x4_splat(0.0); N];
        for c in 0..N {
            lo_p[c] = load(p, 8 * c);
            hi_p[c] = load(p, 8 * c + 4);
        }
        for (row, o) in matrix.chunks_exact(8 * N).zip(out.iter_mut()) {
            let mut lo = f32x4_splat(0.0);
            let mut hi = f32x4_splat(0.0);
            for c in 0..N {
                lo = f32x4_add(lo, f32x4_mul(lo_p[c], load(row, 8 * c)));
                hi = f32x4_add(hi, f32x4_mul(hi_p[c], load(row, 8 * c + 4)));
            }
            let acc = [
                f32x4_extract_lane::<0>(lo),
                f32x4_extract_lane::<1>(lo),
                f32x4_extract_lane::<2>(lo),
                f32x4_extract_lane::<3>(lo),
                f32x4_extract_lane::<0>(hi),
                f32x4_extract_lane::<1>(hi),
                f32x4_extract_lane::<2>(hi),
                f32x4_extract_lane::<3>(hi),
            ];
            *o = super::tree(&acc);
        }
    }
}

/// `e^x`, deterministic on every target: range reduction by `ln 2` (split in two parts), a
/// degree-13 Taylor polynomial on `|r| <= ln(2)/2` (truncation below 1e-17), and scaling
/// by `2^k` through the exponent bits. Saturates to 0 below -708 and to `f64::MAX` above 709.
pub fn exp(x: f64) -> f64 {
    // fdlibm's split of ln 2: LN2_HI has 32 trailing zero bits, so k * LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    if x.is_nan() {
        return x;
    }
    if x < -708.0 {
        return 0.0;
    }
    if x > 709.0 {
        return f64::MAX;
    }
    let k = (x * LOG2E + 0.5).floor();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner form of sum_{n=0}^{13} r^n / n!.
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    // 2^k for k in [-1022, 1023]; k may be -1023 or -1024 near the lower bound: scale twice.
    let k = k as i64;
    let (k1, k2) = (k / 2, k - k / 2);
    p * pow2(k1) * pow2(k2)
}

fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// The logistic function `1 / (1 + e^-x)`, through [`exp`].
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp(-x))
    } else {
        let e = exp(x);
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        let mut x = -700.0;
        while x < 700.0 {
            let (got, want) = (exp(x), x.exp());
            assert!(((got - want) / want).abs() < 4e-15, "exp({x}) = {got}, want {want}");
            x += 0.731;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-16);
        assert!((sigmoid(3.0) - 1.0 / (1.0 + (-3.0f64).exp())).abs() < 1e-15);
        assert!((sigmoid(-3.0) - 1.0 / (1.0 + 3.0f64.exp())).abs() < 1e-15);
    }

    #[test]
    fn scores_are_the_dot_products_bit_for_bit() {
        for dim in [1, 7, 8, 16, 32, 37] {
            let p: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let m: Vec<f32> = (0..dim * 5).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut out = vec![0.0; 5];
            scores(&p, &m, &mut out);
            for (r, o) in out.iter().enumerate() {
                assert_eq!(o.to_bits(), dot(&p, &m[r * dim..(r + 1) * dim]).to_bits(), "dim {dim} row {r}");
            }
        }
    }

    #[test]
    fn dot_matches_naive_sum_closely() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-5);
    }
}
