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
