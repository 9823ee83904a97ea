//! The FTRL-Proximal model and its update for one global batch, as pure functions over plain
//! data (Flink ML's arithmetic, in Flink ML's order of operations).

use serde::{Deserialize, Serialize};

/// The labelled rows of the partial global batch, kept as the sums the update needs. The
/// model cannot change before the batch closes, so each row's gradient term can be added as
/// the row arrives, in row order: the same additions, in the same order, as Flink ML's loop
/// over the finished batch, hence the same bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    /// Sum of (p - label) * x per coordinate.
    pub g: Vec<f64>,
    /// Per-coordinate divisor: rows (dense) or weights (sparse) that touched the coordinate.
    pub s: Vec<f64>,
    /// Labelled rows gathered so far.
    pub rows: usize,
}

impl Partial {
    /// An empty partial batch of dimension `d`.
    pub fn new(d: usize) -> Self {
        Self { g: vec![0.0; d], s: vec![0.0; d], rows: 0 }
    }

    /// Adds a labelled row whose dot product with the current model is `dot`.
    #[inline(always)]
    pub fn add(&mut self, indices: Option<&[i32]>, values: &[f64], label: f64, weight: f64, dot: f64) {
        let p = 1.0 / (1.0 + eddy_sdk::math::exp(-dot));
        let m = p - label;
        match indices {
            None => {
                // Eight coordinates per iteration (in a component every loop iteration costs an
                // interruption check); the same operations on every coordinate either way.
                let n = self.g.len().min(self.s.len()).min(values.len());
                let (g, s, x) = (&mut self.g[..n], &mut self.s[..n], &values[..n]);
                let (mut gc, mut sc, xc) = (g.chunks_exact_mut(8), s.chunks_exact_mut(8), x.chunks_exact(8));
                let xr = xc.remainder();
                for ((g8, s8), x8) in (&mut gc).zip(&mut sc).zip(xc) {
                    // Through local arrays, which the compiler knows do not overlap, so that it
                    // uses vector instructions (as it does natively).
                    let x: [f64; 8] = x8.try_into().expect("chunks of 8");
                    let mut g: [f64; 8] = (&*g8).try_into().expect("chunks of 8");
                    let mut s: [f64; 8] = (&*s8).try_into().expect("chunks of 8");
                    for k in 0..8 {
                        g[k] += m * x[k];
                        s[k] += 1.0;
                    }
                    g8.copy_from_slice(&g);
                    s8.copy_from_slice(&s);
                }
                for ((gi, si), x) in gc.into_remainder().iter_mut().zip(sc.into_remainder().iter_mut()).zip(xr) {
                    *gi += m * x;
                    *si += 1.0;
                }
            }
            Some(ix) => {
                for (&i, x) in ix.iter().zip(values) {
                    self.g[i as usize] += m * x;
                    self.s[i as usize] += weight;
                }
            }
        }
        self.rows += 1;
    }

    /// Empties it for the next batch.
    pub fn clear(&mut self) {
        self.g.iter_mut().for_each(|x| *x = 0.0);
        self.s.iter_mut().for_each(|x| *x = 0.0);
        self.rows = 0;
    }
}

/// Coefficients and FTRL accumulators.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// Coefficients.
    pub w: Vec<f64>,
    /// Sum of squared gradients per coordinate.
    pub n: Vec<f64>,
    /// FTRL z per coordinate.
    pub z: Vec<f64>,
    /// Version: 0 for the initial model, +1 per update.
    pub version: i64,
    /// sqrt(n) per coordinate, as the last update computed it (empty until the first update
    /// after a restore, which takes it from `n`): the update needs sqrt(n) before and after,
    /// and a square root is a third of its cost. Not in snapshots: it is `n`'s, bit for bit.
    #[serde(skip)]
    root: Vec<f64>,
}

impl PartialEq for Model {
    /// The model's state (`root` follows from `n`).
    fn eq(&self, o: &Self) -> bool {
        (&self.w, &self.n, &self.z, self.version) == (&o.w, &o.n, &o.z, o.version)
    }
}

impl Model {
    /// The initial model (version 0) with coefficients `w`.
    pub fn initial(w: Vec<f64>) -> Self {
        let d = w.len();
        Self { w, n: vec![0.0; d], z: vec![0.0; d], version: 0, root: vec![0.0; d] }
    }

    /// Applies one global batch (Flink ML's single-instance form).
    pub fn update(&mut self, batch: &Partial, alpha: f64, beta: f64, l1: f64, l2: f64) {
        let d = self.w.len();
        if self.root.len() != d {
            self.root = self.n.iter().map(|n| n.sqrt()).collect();
        }
        let (w, n, z, r) = (&mut self.w[..d], &mut self.n[..d], &mut self.z[..d], &mut self.root[..d]);
        let (bg, bs) = (&batch.g[..d], &batch.s[..d]);
        // One coordinate, in Flink ML's order of operations. Flink ML takes sqrt(n) before
        // the update and sqrt(n + g * g) twice after it: the one before is the last update's
        // (`r`, the same operation on the same value), the two after are one. A divisor of 1
        // (every dense row of a batch of one) leaves g as it is, bit for bit: not divided.
        let coordinate = |w: &mut f64, n: &mut f64, z: &mut f64, r: &mut f64, g: f64, s: f64| {
            let g = if s != 0.0 && s != 1.0 { g / s } else { g };
            let n_new = *n + g * g;
            let root_new = n_new.sqrt();
            let sigma = (root_new - *r) / alpha;
            *z += g - sigma * *w;
            *n = n_new;
            *r = root_new;
            *w = if z.abs() <= l1 {
                0.0
            } else {
                let sign = if *z >= 0.0 { 1.0 } else { -1.0 };
                (sign * l1 - *z) / ((beta + root_new) / alpha + l2)
            };
        };
        // In a component, two coordinates at a time in 128-bit lanes: the same IEEE operations
        // lane by lane (no fused multiply-add), so the same bits, and the divider, which the
        // update waits for, does two divisions for the time of one.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let (w, n, z, r, bg, bs) = {
            let done = simd::update_pairs(w, n, z, r, bg, bs, [alpha, beta, l1, l2]);
            (&mut w[done..], &mut n[done..], &mut z[done..], &mut r[done..], &bg[done..], &bs[done..])
        };
        // Four coordinates per iteration: in a component every loop iteration costs an
        // interruption check, and reloads the loop's constants.
        let (mut w4, mut n4, mut z4, mut r4) = (w.chunks_exact_mut(4), n.chunks_exact_mut(4), z.chunks_exact_mut(4), r.chunks_exact_mut(4));
        let (g4, s4) = (bg.chunks_exact(4), bs.chunks_exact(4));
        let (gr, sr) = (g4.remainder(), s4.remainder());
        for (((((w, n), z), r), g), s) in (&mut w4).zip(&mut n4).zip(&mut z4).zip(&mut r4).zip(g4).zip(s4) {
            for k in 0..4 {
                coordinate(&mut w[k], &mut n[k], &mut z[k], &mut r[k], g[k], s[k]);
            }
        }
        let rest = w4
            .into_remainder()
            .iter_mut()
            .zip(n4.into_remainder().iter_mut())
            .zip(z4.into_remainder().iter_mut())
            .zip(r4.into_remainder().iter_mut());
        for ((((w, n), z), r), (g, s)) in rest.zip(gr.iter().zip(sr)) {
            coordinate(w, n, z, r, *g, *s);
        }
        self.version += 1;
    }
}

/// river 0.26.1's `LogisticRegression(optimizer=FTRLProximal(alpha, beta, l1, l2),
/// intercept_lr=0)`, one labelled row at a time (`update = "river"`), in river's order of
/// operations: the row's gradient comes from the coefficients it was scored with; then, per
/// coordinate the row touches, the coefficient is recomputed from the accumulators *before*
/// this gradient (so the next row is scored without it), and only then are `z` and `n` updated.
pub mod river {
    use super::Model;

    /// river's probability (`utils.math.sigmoid`: 0 below -30, 1 above 30).
    pub fn probability(dot: f64) -> f64 {
        if dot < -30.0 {
            0.0
        } else if dot > 30.0 {
            1.0
        } else {
            1.0 / (1.0 + eddy_sdk::math::exp(-dot))
        }
    }

    /// river's `optim.losses.Log().gradient(label, dot)`, with its approximations past
    /// |dot| > 18.
    pub fn loss_gradient(label: f64, dot: f64) -> f64 {
        let y = if label == 0.0 { -1.0 } else { 1.0 };
        let z = dot * y;
        if z > 18.0 {
            eddy_sdk::math::exp(-z) * -y
        } else if z < -18.0 {
            -y
        } else {
            -y / (eddy_sdk::math::exp(z) + 1.0)
        }
    }

    /// river's dot product: the coordinates summed one after another.
    pub fn dot(indices: Option<&[i32]>, values: &[f64], w: &[f64]) -> f64 {
        match indices {
            None => values.iter().zip(w).fold(0.0, |s, (x, w)| s + w * x),
            Some(ix) => ix.iter().zip(values).fold(0.0, |s, (&i, x)| s + w[i as usize] * x),
        }
    }

    impl Model {
        /// Learns one labelled row scored at `dot` (river's `learn_one` after its
        /// `predict_one`); `weight` scales the loss gradient, as river's `w` does.
        pub fn learn_river(&mut self, indices: Option<&[i32]>, values: &[f64], label: f64, weight: f64, dot: f64, p: [f64; 4]) {
            let [alpha, beta, l1, l2] = p;
            // river's clip_gradient (1e12), applied to the loss gradient times the weight.
            let lg = (loss_gradient(label, dot) * weight).clamp(-1e12, 1e12);
            // The kept square roots are the Flink ML update's; this one takes its own.
            self.root.clear();
            let mut coordinate = |i: usize, x: f64| {
                let (w, z, n) = (&mut self.w[i], &mut self.z[i], &mut self.n[i]);
                let g = x * lg;
                // A coefficient whose |z| is not above l1 keeps its value (river assigns
                // only above it).
                if z.abs() > l1 {
                    let sign = if *z > 0.0 { 1.0 } else { -1.0 };
                    *w = -(1.0 / ((beta + n.sqrt()) / alpha + l2)) * (*z - sign * l1);
                }
                let s = ((*n + g * g).sqrt() - n.sqrt()) / alpha;
                *z += g - s * *w;
                *n += g * g;
            };
            match indices {
                None => values.iter().enumerate().for_each(|(i, x)| coordinate(i, *x)),
                Some(ix) => ix.iter().zip(values).for_each(|(i, x)| coordinate(*i as usize, *x)),
            }
            self.version += 1;
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{
        f64x2_abs, f64x2_add, f64x2_div, f64x2_ge, f64x2_le, f64x2_mul, f64x2_ne, f64x2_splat, f64x2_sqrt, f64x2_sub, v128, v128_and,
        v128_andnot, v128_any_true, v128_bitselect, v128_load, v128_store,
    };

    fn load(v: &[f64], at: usize) -> v128 {
        assert!(at + 2 <= v.len());
        // SAFETY: the 16 bytes at `at` are inside `v` (checked above); no alignment needed.
        #[expect(unsafe_code, reason = "a 128-bit load from an f64 slice, bounds checked")]
        unsafe {
            v128_load(v.as_ptr().add(at).cast::<v128>())
        }
    }

    fn store(v: &mut [f64], at: usize, x: v128) {
        assert!(at + 2 <= v.len());
        // SAFETY: as in `load`, for a store into `v`.
        #[expect(unsafe_code, reason = "a 128-bit store into an f64 slice, bounds checked")]
        unsafe {
            v128_store(v.as_mut_ptr().add(at).cast::<v128>(), x)
        }
    }

    /// [`super::Model::update`]'s coordinate for the coordinates in whole pairs, two at a
    /// time; how many it did (the rest are the caller's). `p` is `[alpha, beta, l1, l2]`.
    pub fn update_pairs(w: &mut [f64], n: &mut [f64], z: &mut [f64], r: &mut [f64], bg: &[f64], bs: &[f64], p: [f64; 4]) -> usize {
        let [alpha, beta, l1, l2] = p.map(|x| f64x2_splat(x));
        let (zero, one, minus_one) = (f64x2_splat(0.0), f64x2_splat(1.0), f64x2_splat(-1.0));
        let pairs = w.len().min(n.len()).min(z.len()).min(r.len()).min(bg.len()).min(bs.len()) / 2 * 2;
        let mut k = 0;
        while k < pairs {
            let (g, s) = (load(bg, k), load(bs, k));
            // g / s where s is neither 0 nor 1 (g / 1 is g, bit for bit): the division only
            // when a lane needs it.
            let divide = v128_and(f64x2_ne(s, zero), f64x2_ne(s, one));
            let g = if v128_any_true(divide) { v128_bitselect(f64x2_div(g, s), g, divide) } else { g };
            let (w0, z0) = (load(w, k), load(z, k));
            let n_new = f64x2_add(load(n, k), f64x2_mul(g, g));
            let root_new = f64x2_sqrt(n_new);
            let sigma = f64x2_div(f64x2_sub(root_new, load(r, k)), alpha);
            let z_new = f64x2_add(z0, f64x2_sub(g, f64x2_mul(sigma, w0)));
            let sign = v128_bitselect(one, minus_one, f64x2_ge(z_new, zero));
            let coef = f64x2_div(f64x2_sub(f64x2_mul(sign, l1), z_new), f64x2_add(f64x2_div(f64x2_add(beta, root_new), alpha), l2));
            store(n, k, n_new);
            store(r, k, root_new);
            store(z, k, z_new);
            store(w, k, v128_andnot(coef, f64x2_le(f64x2_abs(z_new), l1)));
            k += 2;
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The square roots kept between updates give the bits computing them afresh gives, and a
    /// model read back from a snapshot (without them) goes on exactly as one that kept them.
    #[test]
    fn kept_square_roots_change_no_bit() {
        let d = 7;
        let mut x: u64 = 3;
        let mut rnd = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let batches: Vec<Partial> = (0..40)
            .map(|i| {
                let mut p = Partial::new(d);
                let rows = 1 + i % 3;
                for _ in 0..rows {
                    let v: Vec<f64> = (0..d).map(|_| rnd()).collect();
                    p.add(None, &v, if rnd() > 0.0 { 1.0 } else { 0.0 }, 1.0, rnd());
                }
                p
            })
            .collect();
        let (alpha, beta, l1, l2) = (0.1, 0.1, 0.05, 0.01);
        // Flink ML's coordinate as written there: both square roots taken every time.
        let mut reference = Model::initial(vec![0.0; d]);
        for b in &batches {
            for k in 0..d {
                let (w, n, z) = (&mut reference.w[k], &mut reference.n[k], &mut reference.z[k]);
                let g = if b.s[k] != 0.0 { b.g[k] / b.s[k] } else { b.g[k] };
                let sigma = ((*n + g * g).sqrt() - n.sqrt()) / alpha;
                *z += g - sigma * *w;
                *n += g * g;
                *w = if z.abs() <= l1 { 0.0 } else { ((if *z >= 0.0 { 1.0 } else { -1.0 }) * l1 - *z) / ((beta + n.sqrt()) / alpha + l2) };
            }
            reference.version += 1;
        }
        let mut kept = Model::initial(vec![0.0; d]);
        let mut restored = Model::initial(vec![0.0; d]);
        for (i, b) in batches.iter().enumerate() {
            kept.update(b, alpha, beta, l1, l2);
            restored.update(b, alpha, beta, l1, l2);
            if i % 7 == 3 {
                restored = serde_json::from_str(&serde_json::to_string(&restored).unwrap()).unwrap();
                assert!(restored.root.is_empty(), "the roots are not in snapshots");
            }
        }
        let bits = |m: &Model| [&m.w, &m.n, &m.z].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(bits(&kept), bits(&reference));
        assert_eq!(bits(&restored), bits(&reference));
        assert_eq!(kept.version, 40);
    }
}
