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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Coefficients.
    pub w: Vec<f64>,
    /// Sum of squared gradients per coordinate.
    pub n: Vec<f64>,
    /// FTRL z per coordinate.
    pub z: Vec<f64>,
    /// Version: 0 for the initial model, +1 per update.
    pub version: i64,
}

impl Model {
    /// The initial model (version 0) with coefficients `w`.
    pub fn initial(w: Vec<f64>) -> Self {
        let d = w.len();
        Self { w, n: vec![0.0; d], z: vec![0.0; d], version: 0 }
    }

    /// Applies one global batch (Flink ML's single-instance form).
    pub fn update(&mut self, batch: &Partial, alpha: f64, beta: f64, l1: f64, l2: f64) {
        let d = self.w.len();
        let (w, n, z) = (&mut self.w[..d], &mut self.n[..d], &mut self.z[..d]);
        let (bg, bs) = (&batch.g[..d], &batch.s[..d]);
        // One coordinate, in Flink ML's order of operations.
        // Flink ML takes sqrt(n) of the updated n again for the coefficient: that is the
        // same operation on the same value as `root_new` (n + g * g, rounded once), so it is
        // taken once here, with the same bits. A divisor of 1 (every dense row of a batch of
        // one) leaves g as it is, bit for bit, so it is not divided.
        let coordinate = |w: &mut f64, n: &mut f64, z: &mut f64, g: f64, s: f64| {
            let g = if s != 0.0 && s != 1.0 { g / s } else { g };
            let n_new = *n + g * g;
            let root_new = n_new.sqrt();
            let sigma = (root_new - n.sqrt()) / alpha;
            *z += g - sigma * *w;
            *n = n_new;
            *w = if z.abs() <= l1 {
                0.0
            } else {
                let sign = if *z >= 0.0 { 1.0 } else { -1.0 };
                (sign * l1 - *z) / ((beta + root_new) / alpha + l2)
            };
        };
        // Two coordinates at a time in 128-bit lanes, in a component: the same IEEE operations
        // lane by lane (no fused multiply-add), so the same bits; divisions and square roots,
        // the update's cost, then go two at a time.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let (w, n, z, bg, bs) = {
            let pairs = simd::update_pairs(w, n, z, bg, bs, [alpha, beta, l1, l2]);
            (&mut w[pairs..], &mut n[pairs..], &mut z[pairs..], &bg[pairs..], &bs[pairs..])
        };
        // Four coordinates per iteration: in a component every loop iteration costs an
        // interruption check, and reloads the loop's constants.
        let (mut w4, mut n4, mut z4) = (w.chunks_exact_mut(4), n.chunks_exact_mut(4), z.chunks_exact_mut(4));
        let (g4, s4) = (bg.chunks_exact(4), bs.chunks_exact(4));
        let (gr, sr) = (g4.remainder(), s4.remainder());
        for ((((w, n), z), g), s) in (&mut w4).zip(&mut n4).zip(&mut z4).zip(g4).zip(s4) {
            for k in 0..4 {
                coordinate(&mut w[k], &mut n[k], &mut z[k], g[k], s[k]);
            }
        }
        let rest = w4.into_remainder().iter_mut().zip(n4.into_remainder().iter_mut()).zip(z4.into_remainder().iter_mut());
        for (((w, n), z), (g, s)) in rest.zip(gr.iter().zip(sr)) {
            coordinate(w, n, z, *g, *s);
        }
        self.version += 1;
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{
        f64x2, f64x2_abs, f64x2_add, f64x2_div, f64x2_extract_lane, f64x2_ge, f64x2_le, f64x2_mul, f64x2_ne, f64x2_splat, f64x2_sqrt,
        f64x2_sub, v128, v128_bitselect,
    };

    fn load(x: &[f64]) -> v128 {
        f64x2(x[0], x[1])
    }

    fn store(v: v128, x: &mut [f64]) {
        x[0] = f64x2_extract_lane::<0>(v);
        x[1] = f64x2_extract_lane::<1>(v);
    }

    /// [`super::Model::update`]'s coordinate for the coordinates in whole pairs, two at a
    /// time; how many it did (the rest are the caller's). `p` is `[alpha, beta, l1, l2]`.
    pub fn update_pairs(w: &mut [f64], n: &mut [f64], z: &mut [f64], bg: &[f64], bs: &[f64], p: [f64; 4]) -> usize {
        let [alpha, beta, l1, l2] = p.map(|x| f64x2_splat(x));
        let (zero, one, minus_one) = (f64x2_splat(0.0), f64x2_splat(1.0), f64x2_splat(-1.0));
        let pairs = w.len() / 2 * 2;
        let (w2, n2, z2) = (w[..pairs].chunks_exact_mut(2), n[..pairs].chunks_exact_mut(2), z[..pairs].chunks_exact_mut(2));
        for ((((w, n), z), g), s) in w2.zip(n2).zip(z2).zip(bg.chunks_exact(2)).zip(bs.chunks_exact(2)) {
            let (g, s) = (load(g), load(s));
            // g / s where s is not 0 (g / 1 is g, bit for bit, as the scalar form assumes).
            let g = v128_bitselect(f64x2_div(g, s), g, f64x2_ne(s, zero));
            let (n0, w0, z0) = (load(n), load(w), load(z));
            let n_new = f64x2_add(n0, f64x2_mul(g, g));
            let root_new = f64x2_sqrt(n_new);
            let sigma = f64x2_div(f64x2_sub(root_new, f64x2_sqrt(n0)), alpha);
            let z_new = f64x2_add(z0, f64x2_sub(g, f64x2_mul(sigma, w0)));
            let sign = v128_bitselect(one, minus_one, f64x2_ge(z_new, zero));
            let coef = f64x2_div(f64x2_sub(f64x2_mul(sign, l1), z_new), f64x2_add(f64x2_div(f64x2_add(beta, root_new), alpha), l2));
            let w_new = v128_bitselect(zero, coef, f64x2_le(f64x2_abs(z_new), l1));
            store(n_new, n);
            store(z_new, z);
            store(w_new, w);
        }
        pairs
    }
}
