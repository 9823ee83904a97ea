//! The outside reference for `variance = "river"`: river 0.26.1's `preprocessing.StandardScaler`,
//! run by `tests/reference/river_reference.py` on the first 500 rows of river's TrumpApproval
//! (ordinal dates around 736,400 next to percentages; also the first 200 with
//! `with_std=False`) and the first 200 rows of river's Phishing (features in {0, 0.5, 1}, some
//! constant for a while: variance exactly 0, scaled to 0). For every row it stored river's
//! transform before learning the row (what a river pipeline scores it with: eddy's `output`)
//! and after (what the pipeline's next step learns from: eddy's `output@learned`), and river's
//! running means and variances after the last row. eddy must give both forms of every row
//! within 1e-9 relative (measured: within 4.9e-12, the 12 significant digits the files keep)
//! and river's final statistics bit for bit. With the sample variance (ddof = 1) trump and
//! phishing fail (29% off); with the first row held back for a model, as Flink ML's way does,
//! trump without std fails (river scales the first row by its empty statistics).

use std::sync::Arc;

use eddy_scaler::OnlineStandardScaler;
use eddy_sdk::arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{Operator, VectorBuilder, VectorColumn, learned_name, vector_field};
use eddy_testkit::{exact, river_case};
use serde_json::json;

struct Reference {
    with_std: bool,
    rows: Vec<Vec<f64>>,
    /// river's transform of each row before learning it.
    scored: Vec<Vec<f64>>,
    /// river's transform of each row after learning it.
    learned: Vec<Vec<f64>>,
    /// river's running means and variances after the last row (variances: `None` without std).
    mean: Vec<f64>,
    var: Option<Vec<f64>>,
}

fn load(case: &str) -> Reference {
    let c = river_case(env!("CARGO_MANIFEST_DIR"), case, |e| 3 * e["features"].as_array().unwrap().len());
    let nf = c.rows[0].len() / 3;
    let e = &c.entry;
    Reference {
        with_std: e["with_std"].as_bool().unwrap(),
        rows: c.rows.iter().map(|r| r[..nf].to_vec()).collect(),
        scored: c.rows.iter().map(|r| r[nf..2 * nf].to_vec()).collect(),
        learned: c.rows.iter().map(|r| r[2 * nf..].to_vec()).collect(),
        mean: e["mean"].as_array().unwrap().iter().map(exact).collect(),
        var: e["var"].as_array().map(|a| a.iter().map(exact).collect()),
    }
}

/// Rows `seq0..` as a vector column `input`, with `__timestamp` and `__seq`.
fn batch(rows: &[Vec<f64>], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for x in rows {
        v.append_dense(x);
    }
    let schema = Schema::new(vec![
        vector_field("input", false),
        Field::new("__timestamp", DataType::Int64, false),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(v.finish()),
        Arc::new(Int64Array::from_iter_values((0..rows.len() as i64).map(|i| i * 1000))),
        Arc::new(UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64)),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn vectors(b: &RecordBatch, col: &str) -> Vec<Vec<f64>> {
    let vc = VectorColumn::new(b, col).unwrap();
    (0..b.num_rows()).map(|r| vc.get(r).unwrap().unwrap().to_dense()).collect()
}

/// The largest relative difference, |got - want| / |want| (0 where both are 0; infinite where
/// only river's is 0).
fn max_rel(got: &[Vec<f64>], want: &[Vec<f64>]) -> f64 {
    assert_eq!(got.len(), want.len());
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len());
        for (g, w) in g.iter().zip(w) {
            let d = (g - w).abs();
            worst = worst.max(if d == 0.0 { 0.0 } else { d / w.abs() });
        }
    }
    worst
}

/// What a run answered, in answer order: `__seq`, `output`, and `output@learned` (empty when
/// the learned forms are off).
type Answers = (Vec<u64>, Vec<Vec<f64>>, Vec<Vec<f64>>);

/// Runs the case through eddy's river mode in chunks of `chunk` rows, restoring into a fresh
/// instance after every chunk when `restore`; the answers and the operator.
fn run(case: &Reference, chunk: usize, learned: bool, restore: bool) -> (Answers, OnlineStandardScaler) {
    let cfg = json!({"variance": "river", "withMean": true, "withStd": case.with_std, "windows": {"countTumbling": 1}}).to_string();
    let mut op = OnlineStandardScaler::open_json(&cfg).unwrap();
    op.set_learned_outputs(learned);
    let (mut seqs, mut scored, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for (i, rows) in case.rows.chunks(chunk).enumerate() {
        let out = op.process(&batch(rows, (i * chunk) as u64)).unwrap().outputs;
        let seq = out.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap();
        seqs.extend(seq.values().iter().copied());
        scored.extend(vectors(&out, "output"));
        assert_eq!(out.column_by_name(&learned_name("output")).is_some(), learned);
        if learned {
            after.extend(vectors(&out, &learned_name("output")));
        }
        if restore {
            let snap = op.snapshot().unwrap();
            op = OnlineStandardScaler::open_json(&cfg).unwrap();
            op.restore(&snap).unwrap();
            op.set_learned_outputs(learned);
        }
    }
    ((seqs, scored, after), op)
}

fn check(name: &str) {
    let r = load(name);
    let ((seqs, scored, learned), op) = run(&r, r.rows.len(), true, false);
    assert_eq!(seqs, (0..r.rows.len() as u64).collect::<Vec<_>>(), "{name}: no row waits, answers in row order");
    let (e_scored, e_learned) = (max_rel(&scored, &r.scored), max_rel(&learned, &r.learned));
    println!(
        "{name}: {} rows, largest relative difference from river: {e_scored:.2e} before learning, {e_learned:.2e} after",
        r.rows.len()
    );
    assert!(e_scored <= 1e-9, "{name}: the rows as scored differ from river's by up to {e_scored:e} (relative)");
    assert!(e_learned <= 1e-9, "{name}: the rows as learned differ from river's by up to {e_learned:e} (relative)");
    let stats = op.river_stats().unwrap();
    assert_eq!(stats.count, r.rows.len() as u64);
    assert_eq!(stats.mean, r.mean, "{name}: river's running means, bit for bit");
    if let Some(var) = &r.var {
        assert_eq!(&stats.var, var, "{name}: river's running variances, bit for bit");
    }
    // Learning Flink ML's way (no learned forms) scores the same; batch boundaries and
    // restores change nothing.
    for (chunk, learned_on, restore) in [(1, false, false), (7, true, true), (64, false, true)] {
        let ((s, sc, le), _) = run(&r, chunk, learned_on, restore);
        assert_eq!((s, sc), (seqs.clone(), scored.clone()), "{name}: chunk {chunk}, restore {restore}");
        if learned_on {
            assert_eq!(le, learned, "{name}: chunk {chunk}, restore {restore}: learned forms");
        }
    }
}

#[test]
fn trump_matches_river() {
    check("trump");
}

#[test]
fn trump_without_std_matches_river() {
    check("trump_without_std");
}

#[test]
fn phishing_matches_river() {
    check("phishing");
}
