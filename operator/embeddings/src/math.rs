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

/// What [`rows_scan`] saw of the live slots' scores against the positive's score.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Live slots scoring above the positive's score.
    pub above: u64,
    /// Live slots scoring exactly the positive's score (the positive itself among them when
    /// it is live).
    pub equal: u64,
    /// Whether a live slot scored NaN.
    pub nan: bool,
}

/// The scores of every slot against `p`, each bit for bit as [`dot`] computes it, and in the
/// same pass what ranking needs of them. `rows` holds the slots' vectors one after another
/// (`rows.len() / p.len()` slots); `out` one score per slot, padded to whole blocks of
/// [`BLOCK`] (the padding scores 0); `live` a mark per slot of `out` (all ones or zero, see
/// [`crate::table::Table::live`]); `maxes` one value per block, set to the largest score
/// among the block's live slots (`-inf` when none is live; only a bound, so which of `+0`/`-0`
/// it is does not matter). Returns the [`Scan`] of the live slots against the positive's
/// score `si`. On wasm32 with a dimension of 8 to 64 in steps of 8, four slots at a time with
/// SIMD (the component's path, checked against the native operator by the embeddings tests).
pub fn rows_scan(p: &[f32], rows: &[f32], live: &[u32], si: f32, out: &mut [f32], maxes: &mut [f32]) -> Scan {
    assert!(out.len() == maxes.len() * BLOCK && live.len() == out.len());
    let dim = p.len();
    #[cfg(target_arch = "wasm32")]
    {
        if let Some(scan) = simd::rows_scan(p, rows, live, si, out, maxes) {
            return scan;
        }
    }
    let n = rows.len().checked_div(dim).unwrap_or(0);
    let full = if dim.is_multiple_of(8) { n / BLOCK } else { 0 };
    for (o, v) in out.chunks_exact_mut(BLOCK).zip(rows.chunks_exact(BLOCK * dim.max(1))).take(full) {
        o.copy_from_slice(&four(p, v));
    }
    for (s, o) in out.iter_mut().enumerate().skip(full * BLOCK) {
        *o = if s < n { dot(p, &rows[s * dim..(s + 1) * dim]) } else { 0.0 };
    }
    scan_scores(out, live, si, maxes)
}

/// [`dot`] of `p` (a multiple of 8 values) with four vectors stored one after another, the
/// four at once (the compiler's vectors take the eight lanes of each).
#[inline]
fn four(p: &[f32], v: &[f32]) -> [f32; BLOCK] {
    let dim = p.len();
    let mut acc = [[0.0f32; 8]; BLOCK];
    let (v0, rest) = v.split_at(dim);
    let (v1, rest) = rest.split_at(dim);
    let (v2, v3) = rest.split_at(dim);
    for (c, pc) in p.chunks_exact(8).enumerate() {
        let pc: &[f32; 8] = pc.try_into().expect("eight");
        for (a, vk) in acc.iter_mut().zip([v0, v1, v2, v3]) {
            let x: &[f32; 8] = vk[8 * c..8 * c + 8].try_into().expect("eight");
            for l in 0..8 {
                a[l] += pc[l] * x[l];
            }
        }
    }
    acc.map(|a| tree(&a))
}

/// The scan of [`rows_scan`] over scores already computed.
fn scan_scores(out: &[f32], live: &[u32], si: f32, maxes: &mut [f32]) -> Scan {
    let mut scan = Scan::default();
    for ((x, l), m) in out.chunks_exact(BLOCK).zip(live.chunks_exact(BLOCK)).zip(maxes.iter_mut()) {
        let mut best = f32::NEG_INFINITY;
        for (&x, &l) in x.iter().zip(l) {
            if l == 0 {
                continue;
            }
            scan.above += u64::from(x > si);
            scan.equal += u64::from(x == si);
            scan.nan |= x.is_nan();
            if x > best {
                best = x;
            }
        }
        *m = best;
    }
    scan
}

/// A floor for the top `k` scores from the block maxima of [`rows_scan`] (`k >= 1`, none NaN,
/// padded with `-inf` to a multiple of four): the `k`-th largest maximum of groups of blocks
/// (about `4k` groups, so that the selection is short and the floor close to the `k`-th best
/// score). Each group's maximum is a live slot's score, so `k` slots score at least the floor.
/// `-inf` when fewer than `k` blocks hold a live slot. `buf` is scratch.
pub fn top_floor(maxes: &[f32], k: usize, buf: &mut Vec<u32>) -> f32 {
    let chunks = maxes.len() / 4;
    let per = (chunks / (4 * k).max(1)).max(1);
    buf.clear();
    if chunks / per >= k {
        buf.extend(maxes.chunks(4 * per).map(|g| key(max_of(g))));
    } else {
        buf.extend(maxes.iter().map(|&m| key(m)));
    }
    kth_largest(buf, k)
}

/// The `k`-th largest of float keys ([`key`]), as a float; `-inf` when there are fewer than
/// `k` or the `k`-th is `-inf`. A zero's sign orders the keys too, which only makes the result
/// one of two equal values.
fn kth_largest(keys: &mut [u32], k: usize) -> f32 {
    if k == 0 || keys.len() < k {
        return f32::NEG_INFINITY;
    }
    let at = keys.len() - k;
    let kth = *keys.select_nth_unstable(at).1;
    f32::from_bits(if kth >> 31 == 1 { kth & !(1 << 31) } else { !kth })
}

/// A float's bits as an integer that orders as the float (NaN aside).
#[inline]
fn key(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

/// The largest of `v` (a multiple of four values, none NaN; `-inf` when empty).
#[inline]
fn max_of(v: &[f32]) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        simd::max_of(v)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        v.iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
    }
}

/// Bit `j` set when `maxes[j]` is not below `floor` (NaN included), for four block maxima.
#[inline]
#[cfg_attr(not(target_arch = "wasm32"), expect(clippy::neg_cmp_op_on_partial_ord, reason = "a NaN maximum is not below the floor"))]
pub fn not_below(maxes: &[f32], floor: f32) -> u32 {
    #[cfg(target_arch = "wasm32")]
    {
        simd::not_below(maxes, floor)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        maxes[..4].iter().enumerate().fold(0, |bits, (j, &m)| bits | u32::from(!(m < floor)) << j)
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{
        f32x4_add, f32x4_eq, f32x4_extract_lane, f32x4_gt, f32x4_lt, f32x4_mul, f32x4_ne, f32x4_pmax, f32x4_splat, i32x4_bitmask,
        i32x4_extract_lane, i32x4_shuffle, i32x4_splat, i32x4_sub, v128, v128_and, v128_any_true, v128_bitselect, v128_load, v128_not,
        v128_or, v128_store,
    };

    use super::Scan;

    /// [`super::rows_scan`] for dimensions 8 to 64 in steps of 8 (None for others).
    #[target_feature(enable = "simd128")]
    pub fn rows_scan(p: &[f32], rows: &[f32], live: &[u32], si: f32, out: &mut [f32], maxes: &mut [f32]) -> Option<Scan> {
        Some(match p.len() {
            8 => rows_scanned::<1>(p, rows, live, si, out, maxes),
            16 => rows_scanned::<2>(p, rows, live, si, out, maxes),
            24 => rows_scanned::<3>(p, rows, live, si, out, maxes),
            32 => rows_scanned::<4>(p, rows, live, si, out, maxes),
            40 => rows_scanned::<5>(p, rows, live, si, out, maxes),
            48 => rows_scanned::<6>(p, rows, live, si, out, maxes),
            56 => rows_scanned::<7>(p, rows, live, si, out, maxes),
            64 => rows_scanned::<8>(p, rows, live, si, out, maxes),
            _ => return None,
        })
    }

    /// `[x0 + x1, x2 + x3, y0 + y1, y2 + y3]`: one level of [`super::dot`]'s tree for two.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn pair(x: v128, y: v128) -> v128 {
        f32x4_add(i32x4_shuffle::<0, 2, 4, 6>(x, y), i32x4_shuffle::<1, 3, 5, 7>(x, y))
    }

    /// The scores of four slots of `8 * N` values stored one after another: eight values of
    /// `p` at a time against the same eight of each slot (two accumulators a slot: lanes 0-3
    /// and 4-7 of [`super::dot`]), then the tree for all four at once (two levels of [`pair`]
    /// and a sum). `p` is read again for every block: held for the whole loop, its `2N`
    /// vectors would not fit in registers beside the eight accumulators.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn four<const N: usize>(p: &[f32], v: &[f32]) -> v128 {
        let d = 8 * N;
        let p = core::hint::black_box(p);
        let mut acc = [f32x4_splat(0.0); 8];
        for c in 0..N {
            let (plo, phi) = (load(p, 8 * c), load(p, 8 * c + 4));
            for k in 0..4 {
                acc[2 * k] = f32x4_add(acc[2 * k], f32x4_mul(plo, load(v, k * d + 8 * c)));
                acc[2 * k + 1] = f32x4_add(acc[2 * k + 1], f32x4_mul(phi, load(v, k * d + 8 * c + 4)));
            }
        }
        let (ab_lo, ab_hi) = (pair(acc[0], acc[2]), pair(acc[1], acc[3]));
        let (cd_lo, cd_hi) = (pair(acc[4], acc[6]), pair(acc[5], acc[7]));
        f32x4_add(pair(ab_lo, cd_lo), pair(ab_hi, cd_hi))
    }

    /// [`rows_scan`] for `8 * N` values a slot: [`four`] per block, then the block's scan:
    /// compares against the positive's score counted in vectors, and the live slots' maximum
    /// (dead slots as `-inf`, two shuffles and pseudo-maxima; NaN is flagged on its own).
    #[target_feature(enable = "simd128")]
    #[inline]
    fn rows_scanned<const N: usize>(p: &[f32], rows: &[f32], live: &[u32], si: f32, out: &mut [f32], maxes: &mut [f32]) -> Scan {
        let d = 8 * N;
        let p = &p[..d];
        let siv = f32x4_splat(si);
        let (mut above, mut equal, mut nan) = (i32x4_splat(0), i32x4_splat(0), i32x4_splat(0));
        let full = rows.len() / (4 * d);
        let rest = &rows[full * 4 * d..];
        for (b, ((o, l), m)) in out.chunks_exact_mut(4).zip(live.chunks_exact(4)).zip(maxes.iter_mut()).enumerate() {
            let sum = if b < full {
                four::<N>(p, &rows[b * 4 * d..(b + 1) * 4 * d])
            } else if b == full && !rest.is_empty() {
                // The last, partial block (once a call): its missing slots score 0.
                let mut tail = [0.0f32; 4 * 64];
                tail[..rest.len()].copy_from_slice(rest);
                four::<N>(p, &tail[..4 * d])
            } else {
                f32x4_splat(0.0)
            };
            store(o, sum);
            // SAFETY: `l` holds four u32 (chunks_exact); v128_load has no alignment requirement.
            #[expect(unsafe_code, reason = "a 128-bit load from four u32")]
            let lv = unsafe { v128_load(l.as_ptr().cast::<v128>()) };
            above = i32x4_sub(above, v128_and(lv, f32x4_gt(sum, siv)));
            equal = i32x4_sub(equal, v128_and(lv, f32x4_eq(sum, siv)));
            nan = v128_or(nan, v128_and(lv, f32x4_ne(sum, sum)));
            let x = v128_bitselect(sum, f32x4_splat(f32::NEG_INFINITY), lv);
            let x = f32x4_pmax(x, i32x4_shuffle::<2, 3, 0, 1>(x, x));
            let x = f32x4_pmax(x, i32x4_shuffle::<1, 0, 3, 2>(x, x));
            *m = f32x4_extract_lane::<0>(x);
        }
        let total = |v: v128| -> u64 {
            u64::from(i32x4_extract_lane::<0>(v) as u32)
                + u64::from(i32x4_extract_lane::<1>(v) as u32)
                + u64::from(i32x4_extract_lane::<2>(v) as u32)
                + u64::from(i32x4_extract_lane::<3>(v) as u32)
        };
        Scan { above: total(above), equal: total(equal), nan: v128_any_true(nan) }
    }

    /// [`super::max_of`]: pseudo-maxima four at a time, then across the lanes.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn max_of(v: &[f32]) -> f32 {
        let mut m = f32x4_splat(f32::NEG_INFINITY);
        for c in v.chunks_exact(4) {
            m = f32x4_pmax(m, load(c, 0));
        }
        let m = f32x4_pmax(m, i32x4_shuffle::<2, 3, 0, 1>(m, m));
        f32x4_extract_lane::<0>(f32x4_pmax(m, i32x4_shuffle::<1, 0, 3, 2>(m, m)))
    }

    /// [`super::not_below`]: one compare and a bit mask.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn not_below(maxes: &[f32], floor: f32) -> u32 {
        u32::from(i32x4_bitmask(v128_not(f32x4_lt(load(maxes, 0), f32x4_splat(floor)))))
    }

    /// Four f32 into `o`.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn store(o: &mut [f32], v: v128) {
        assert!(o.len() == 4);
        // SAFETY: `o` holds four f32 (checked above); v128_store has no alignment requirement.
        #[expect(unsafe_code, reason = "a 128-bit store into four f32, length checked")]
        unsafe {
            v128_store(o.as_mut_ptr().cast::<v128>(), v)
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
    fn rows_scan_scores_are_the_dot_products_and_padding_scores_zero() {
        for dim in [1, 7, 8, 32] {
            let slots: usize = 11;
            let p: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let m: Vec<f32> = (0..dim * slots).map(|i| (i as f32 * 0.11).cos() * if i % 5 == 0 { -1e-3 } else { 1.0 }).collect();
            let padded = slots.div_ceil(BLOCK) * BLOCK;
            let (mut out, mut maxes) = (vec![f32::NAN; padded], vec![f32::NAN; padded / BLOCK]);
            let live = vec![u32::MAX; padded];
            rows_scan(&p, &m, &live, 0.0, &mut out, &mut maxes);
            for s in 0..slots {
                assert_eq!(out[s].to_bits(), dot(&p, &m[s * dim..(s + 1) * dim]).to_bits(), "dim {dim} slot {s}");
            }
            assert!(out[slots..].iter().all(|&x| x == 0.0), "padding slots score 0");
        }
    }

    /// Scores of two blocks (dimension 1, `p = [1]`, so each slot scores its own value).
    fn scan(values: [f32; 8], live: [u32; 8], si: f32) -> (Scan, [f32; 2]) {
        let (mut out, mut maxes) = ([0.0; 8], [0.0; 2]);
        let scan = rows_scan(&[1.0], &values, &live, si, &mut out, &mut maxes);
        assert_eq!(out.map(f32::to_bits), values.map(f32::to_bits), "scores");
        (scan, maxes)
    }

    #[test]
    fn rows_scan_counts_live_slots_against_the_positive_and_bounds_each_block() {
        const L: u32 = u32::MAX;
        let all = [L; 8];
        let v = [0.0, 1.0, -2.0, 0.5, 3.0, 0.2, 0.2, -1.0];
        assert_eq!(scan(v, all, 0.2), (Scan { above: 3, equal: 2, nan: false }, [1.0, 3.0]));
        let (s, m) = scan(v, [L, 0, 0, L, 0, 0, L, L], 0.2);
        assert_eq!((s, m), (Scan { above: 1, equal: 1, nan: false }, [0.5, 0.2]), "dead slots count for nothing");
        let (s, m) = scan(v, [0, 0, 0, 0, L, L, L, L], 0.2);
        assert_eq!((s, m), (Scan { above: 1, equal: 2, nan: false }, [f32::NEG_INFINITY, 3.0]), "a block with no live slot");
        let (s, _) = scan([f32::NAN, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], all, 0.5);
        assert_eq!(s, Scan { above: 4, equal: 0, nan: true });
        let (s, _) = scan([f32::NAN, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], [0, L, L, L, L, L, L, L], 0.5);
        assert!(!s.nan, "a dead NaN is not flagged");
        assert_eq!(scan(v, all, f32::NAN).0, Scan { above: 0, equal: 0, nan: false }, "nothing is above or at a NaN positive");
    }

    #[test]
    fn top_floor_is_a_floor_for_the_top_k() {
        let mut buf = Vec::new();
        let ninf = f32::NEG_INFINITY;
        // Fewer than 4k chunks of blocks: the k-th largest block maximum itself.
        let maxes = [0.5, ninf, 2.0, -1.0, 2.0, 0.0, ninf, ninf];
        assert_eq!(top_floor(&maxes, 1, &mut buf), 2.0);
        assert_eq!(top_floor(&maxes, 2, &mut buf), 2.0, "equal maxima are two blocks");
        assert_eq!(top_floor(&maxes, 3, &mut buf), 0.5);
        assert_eq!(top_floor(&maxes, 5, &mut buf), -1.0);
        assert_eq!(top_floor(&maxes, 6, &mut buf), ninf, "fewer blocks with a live slot than k");
        assert_eq!(top_floor(&maxes, 9, &mut buf), ninf);
        assert_eq!(top_floor(&[-0.5, -3.0, 1e-30, -1e-30], 2, &mut buf), -1e-30, "negative values order as floats");
        assert_eq!(top_floor(&[-0.0, 0.0, -0.0, ninf], 2, &mut buf), 0.0);
        // 64 blocks, k = 2: 8 groups of 8 blocks; the floor is the second best group maximum,
        // at or below the second best block maximum, and at least k blocks reach it.
        let maxes: Vec<f32> = (0..64).map(|i| ((i * 37 % 64) as f32 - 20.0) / 3.0).collect();
        let f = top_floor(&maxes, 2, &mut buf);
        let mut sorted = maxes.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        assert!(f <= sorted[1], "{f} is a floor");
        assert!(maxes.iter().filter(|&&m| m >= f).count() >= 2);
        assert!(f >= sorted[8], "{f} is within the best group maxima");
    }

    #[test]
    fn not_below_flags_maxima_at_or_above_the_floor() {
        assert_eq!(not_below(&[0.5, 2.0, 1.0, f32::NEG_INFINITY], 1.0), 0b0110);
        assert_eq!(not_below(&[f32::NAN, 0.0, 0.0, 0.0], 1.0), 0b0001, "NaN is never below the floor");
        assert_eq!(not_below(&[0.0; 4], f32::NEG_INFINITY), 0b1111);
    }

    #[test]
    fn dot_matches_naive_sum_closely() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-5);
    }
}
