//! The arithmetic the model needs, written so that it gives the same bits on every target:
//! a dot product with a fixed summation order (eight lanes, then a fixed tree), and an
//! exponential built from `+`, `*`, `/` and bit manipulation only, so that no platform libm
//! (glibc natively, wasi-libc in the component) can make two hosts disagree.

use crate::table::BLOCK;

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

/// `out[s] = p · (vector of slot s)` for every slot of `blocks`, the blocked layout of
/// [`crate::table::Table::blocks`] ([`BLOCK`] slots to a block, dimension-major inside it),
/// each bit for bit as [`dot`] computes it: lane `d % 8` of a slot accumulates `p[d] * v[d]`
/// in order of `d` and the lanes are summed by the same tree. One SIMD lane per slot, so no
/// horizontal sums: the cost of ranking. `out` must hold one score per slot of `blocks`.
pub fn block_scores(p: &[f32], blocks: &[f32], out: &mut [f32]) {
    let dim = p.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    debug_assert_eq!(blocks.len(), out.len() * dim);
    #[cfg(target_arch = "wasm32")]
    {
        if dim.is_multiple_of(8) && simd::block_scores(p, blocks, out) {
            return;
        }
    }
    let full = dim / 8;
    for (blk, o) in blocks.chunks_exact(BLOCK * dim).zip(out.chunks_exact_mut(BLOCK)) {
        let mut acc = [[0.0f32; BLOCK]; 8];
        // Eight dimensions at a time (lane l of the accumulators takes dimension 8c + l), then
        // the rest: the loops unroll and the accumulators stay in registers.
        for (ps, cols) in p.chunks_exact(8).zip(blk.chunks_exact(8 * BLOCK)).take(full) {
            for (l, (&pd, col)) in ps.iter().zip(cols.chunks_exact(BLOCK)).enumerate() {
                for k in 0..BLOCK {
                    acc[l][k] += pd * col[k];
                }
            }
        }
        for (l, (&pd, col)) in p[8 * full..].iter().zip(blk[8 * full * BLOCK..].chunks_exact(BLOCK)).enumerate() {
            for k in 0..BLOCK {
                acc[l][k] += pd * col[k];
            }
        }
        for (k, o) in o.iter_mut().enumerate() {
            *o = tree(&[acc[0][k], acc[1][k], acc[2][k], acc[3][k], acc[4][k], acc[5][k], acc[6][k], acc[7][k]]);
        }
    }
}

/// One block of [`BLOCK`] scores `x` with their live marks (all ones or zero, see
/// [`crate::table::Table::blocks`]) against the positive's score `si` and the k-th best score
/// so far `floor`: how many live slots score above `si`, and whether a live slot ties with
/// `si` or is not below `floor` (NaN included), so that the block must be looked at slot by slot.
#[inline]
#[cfg_attr(not(target_arch = "wasm32"), expect(clippy::neg_cmp_op_on_partial_ord, reason = "a NaN score is not below the floor"))]
pub fn scan_block(x: &[f32], live: &[u32], si: f32, floor: f32) -> (u32, bool) {
    #[cfg(target_arch = "wasm32")]
    {
        simd::scan_block(x, live, si, floor)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let (mut above, mut look) = (0, false);
        for (&x, &l) in x[..BLOCK].iter().zip(&live[..BLOCK]) {
            let l = l != 0;
            above += u32::from(l & (x > si));
            look |= l & ((x == si) | !(x < floor));
        }
        (above, look)
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{
        f32x4_add, f32x4_eq, f32x4_gt, f32x4_lt, f32x4_mul, f32x4_splat, i32x4_bitmask, v128, v128_and, v128_any_true, v128_load, v128_not,
        v128_or, v128_store,
    };

    /// [`super::scan_block`] for a block of four: four vector compares, a bit count, a test.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn scan_block(block: &[f32], live: &[u32], si: f32, floor: f32) -> (u32, bool) {
        let x = load(block, 0);
        assert!(live.len() >= 4);
        // SAFETY: `live` holds at least four u32 (checked above); no alignment requirement.
        #[expect(unsafe_code, reason = "a 128-bit load from a u32 slice, bounds checked")]
        let l = unsafe { v128_load(live.as_ptr().cast::<v128>()) };
        let si = f32x4_splat(si);
        let above = i32x4_bitmask(v128_and(l, f32x4_gt(x, si))).count_ones();
        let look = v128_and(l, v128_or(f32x4_eq(x, si), v128_not(f32x4_lt(x, f32x4_splat(floor)))));
        (above, v128_any_true(look))
    }

    /// [`super::block_scores`] for dimensions 8 to 64 in steps of 8 (false for others): a copy
    /// of the loop per dimension, eight accumulators of four slots each.
    #[target_feature(enable = "simd128")]
    pub fn block_scores(p: &[f32], blocks: &[f32], out: &mut [f32]) -> bool {
        match p.len() {
            8 => blocked::<1>(p, blocks, out),
            16 => blocked::<2>(p, blocks, out),
            24 => blocked::<3>(p, blocks, out),
            32 => blocked::<4>(p, blocks, out),
            40 => blocked::<5>(p, blocks, out),
            48 => blocked::<6>(p, blocks, out),
            56 => blocked::<7>(p, blocks, out),
            64 => blocked::<8>(p, blocks, out),
            _ => return false,
        }
        true
    }

    /// Slots of `8 * N` values in blocks of four.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn blocked<const N: usize>(p: &[f32], blocks: &[f32], out: &mut [f32]) {
        let p = &p[..8 * N];
        let mut ps = [[f32x4_splat(0.0); 8]; N];
        for (c, lanes) in ps.iter_mut().enumerate() {
            for (l, v) in lanes.iter_mut().enumerate() {
                *v = f32x4_splat(p[8 * c + l]);
            }
        }
        for (blk, o) in blocks.chunks_exact(32 * N).zip(out.chunks_exact_mut(4)) {
            let mut acc = [f32x4_splat(0.0); 8];
            for (c, lanes) in ps.iter().enumerate() {
                for (l, &pv) in lanes.iter().enumerate() {
                    acc[l] = f32x4_add(acc[l], f32x4_mul(pv, load(blk, 4 * (8 * c + l))));
                }
            }
            let sum = f32x4_add(
                f32x4_add(f32x4_add(acc[0], acc[1]), f32x4_add(acc[2], acc[3])),
                f32x4_add(f32x4_add(acc[4], acc[5]), f32x4_add(acc[6], acc[7])),
            );
            assert!(o.len() == 4);
            // SAFETY: `o` holds four f32 (checked above); v128_store has no alignment requirement.
            #[expect(unsafe_code, reason = "a 128-bit store into four f32, length checked")]
            unsafe {
                v128_store(o.as_mut_ptr().cast::<v128>(), sum)
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
    fn block_scores_are_the_dot_products_bit_for_bit() {
        for dim in [1, 7, 8, 16, 32, 37, 64] {
            let slots: usize = 11;
            let p: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let m: Vec<f32> = (0..dim * slots).map(|i| (i as f32 * 0.11).cos() * if i % 5 == 0 { -1e-3 } else { 1.0 }).collect();
            let padded = slots.div_ceil(BLOCK) * BLOCK;
            let mut blocks = vec![0.0; padded * dim];
            for s in 0..slots {
                for d in 0..dim {
                    blocks[s / BLOCK * BLOCK * dim + BLOCK * d + s % BLOCK] = m[s * dim + d];
                }
            }
            let mut out = vec![f32::NAN; padded];
            block_scores(&p, &blocks, &mut out);
            for s in 0..slots {
                assert_eq!(out[s].to_bits(), dot(&p, &m[s * dim..(s + 1) * dim]).to_bits(), "dim {dim} slot {s}");
            }
            assert!(out[slots..].iter().all(|&x| x == 0.0), "padding slots score 0");
        }
    }

    #[test]
    fn scan_block_counts_live_slots_above_and_flags_ties_and_candidates() {
        let all = [u32::MAX; 4];
        assert_eq!(scan_block(&[0.0, 1.0, -2.0, 0.5], &all, 0.2, 2.0), (2, false));
        assert_eq!(scan_block(&[0.0, 1.0, -2.0, 0.5], &[u32::MAX, 0, 0, u32::MAX], 0.2, 2.0), (1, false), "dead slots never count");
        assert_eq!(scan_block(&[0.0, 1.0, -2.0, 0.2], &all, 0.2, 2.0), (1, true), "a tie with the positive");
        assert_eq!(scan_block(&[0.0, 1.0, -2.0, 2.0], &all, 0.2, 2.0), (2, true), "a slot at the floor");
        assert_eq!(scan_block(&[0.0, 1.0, -2.0, 2.0], &[u32::MAX, u32::MAX, u32::MAX, 0], 0.2, 2.0), (1, false));
        assert_eq!(scan_block(&[f32::NAN, 0.0, 0.0, 0.0], &all, 0.2, 2.0), (0, true), "NaN is never below the floor");
        assert_eq!(scan_block(&[1.0; 4], &all, f32::NAN, 2.0), (0, false), "nothing is above a NaN positive");
    }

    #[test]
    fn dot_matches_naive_sum_closely() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-5);
    }
}
