//! OnlineSoftmaxRegression natively: a hand-worked first step, an independent
//! re-implementation of river's `SoftmaxRegression` (class discovery in order of appearance,
//! L2, mini-batches, intercepts as a constant feature), class order, declared classes,
//! learning, batch-size independence, restore, and refusals of bad rows and configs.

use eddy_testkit as support;

use eddy_sdk::Operator;
use eddy_softmax_regression::SoftmaxRegression;
use support::*;

/// river's `SoftmaxRegression` with `SGD(lr)`, re-implemented with its dict semantics (classes in
/// order of first appearance, probabilities over the classes known before the row), or one
/// mean-gradient step per batch of `batch` labelled rows. `bias` appends a constant feature 1
/// (an unregularized intercept when `l2` is 0). Returns each row's probabilities keyed by class
/// value, and the final (class, weights) list.
#[expect(clippy::type_complexity, reason = "a reference implementation's plain outputs")]
fn reference(rows: &[LabeledRow], lr: f64, l2: f64, batch: usize, bias: bool) -> (Vec<Vec<(f64, f64)>>, Vec<(f64, Vec<f64>)>) {
    let mut model: Vec<(f64, Vec<f64>)> = Vec::new();
    let mut out = Vec::new();
    let mut pending: Vec<(Vec<f64>, f64, Vec<(f64, f64)>)> = Vec::new();
    for (x, y) in rows {
        let mut x = x.clone();
        if bias {
            x.push(1.0);
        }
        let z: Vec<f64> = model.iter().map(|(_, w)| w.iter().zip(&x).map(|(a, b)| a * b).sum()).collect();
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let s: f64 = e.iter().sum();
        let probs: Vec<(f64, f64)> = model.iter().zip(&e).map(|((c, _), e)| (*c, e / s)).collect();
        out.push(probs.clone());
        let Some(y) = y else { continue };
        pending.push((x, *y, probs));
        if pending.len() < batch {
            continue;
        }
        for (_, y, _) in &pending {
            if !model.iter().any(|(c, _)| c == y) {
                model.push((*y, vec![0.0; pending[0].0.len()]));
            }
        }
        let n = pending.len() as f64;
        for (c, w) in model.iter_mut() {
            let mut g = vec![0.0; w.len()];
            for (x, y, probs) in &pending {
                let p = probs.iter().find(|(pc, _)| pc == c).map_or(0.0, |p| p.1).clamp(1e-15, 1.0 - 1e-15);
                let l = p - if y == c { 1.0 } else { 0.0 };
                for (gi, xi) in g.iter_mut().zip(x) {
                    *gi += xi * l;
                }
            }
            for (wi, gi) in w.iter_mut().zip(&g) {
                *wi -= lr * (gi / n + l2 * *wi);
            }
        }
        pending.clear();
    }
    (out, model)
}

#[test]
fn first_steps_by_hand() {
    // Row 0 (class 5) meets an empty model: no prediction; class 5 enters with zero weights and
    // gradient 1e-15 - 1, so w = 0.01 (1 - 1e-15) [1, 2], b = 0.01 (1 - 1e-15).
    let mut op = SoftmaxRegression::open_json("{}").unwrap();
    let rows: Vec<LabeledRow> =
        vec![(vec![1.0, 2.0], Some(5.0)), (vec![0.0, 1.0], None), (vec![1.0, 0.0], Some(2.0)), (vec![0.0, 0.0], None)];
    let out = op.process(&dense_batch(&rows, 0)).unwrap();
    let o = &out.outputs;
    assert_eq!(f64_col(o, "prediction"), vec![None, Some(5.0), Some(5.0), Some(2.0)]);
    let raw = list_col(o, "rawPrediction");
    assert_eq!(raw[0], Vec::<f64>::new());
    assert_eq!(raw[1], vec![1.0]);
    assert_eq!(raw[3].len(), 2, "classes 2 and 5");
    assert_eq!(i64_col(o, "modelVersion"), vec![0, 1, 1, 2]);
    let models = out.models.unwrap();
    let step = 0.01 * (1.0 - 1e-15);
    assert_eq!(list_col(&models, "classes")[0], vec![5.0]);
    assert_eq!(list_col(&models, "intercepts")[0], vec![step]);
    let m = op.model().unwrap();
    assert_eq!(m.classes, vec![2.0, 5.0]);
    // Row 2 (class 2, new): class 5 had p = 1 -> clamped 1 - 1e-15, gradient (1 - 1e-15) x.
    assert_close(m.weights[1][0], step * 1.0 - 0.01 * (1.0 - 1e-15), 1e-15, "w_5[0]");
    assert_close(m.weights[1][1], step * 2.0, 1e-15, "w_5[1]");
    assert_close(m.weights[0][0], 0.01 * (1.0 - 1e-15), 1e-15, "w_2[0]");
    assert_eq!(m.weights[0][1], 0.0);
}

#[test]
fn matches_river_reimplementation() {
    let classes = [3.0, -1.0, 0.0, 7.5];
    let rows = blobs(400, 3, &classes, 5, 7);
    for (cfg, lr, l2, batch, intercept) in [
        (r#"{"fitIntercept": false}"#, 0.01, 0.0, 1, false),
        (r#"{}"#, 0.01, 0.0, 1, true),
        (r#"{"fitIntercept": false, "learningRate": 0.1, "reg": 0.01}"#, 0.1, 0.01, 1, false),
        (r#"{"learningRate": 0.05, "globalBatchSize": 6}"#, 0.05, 0.0, 6, true),
    ] {
        let mut op = SoftmaxRegression::open_json(cfg).unwrap();
        let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
        let (want, model) = reference(&rows, lr, l2, batch, intercept);
        let raw = list_col(&out, "rawPrediction");
        let pred = f64_col(&out, "prediction");
        for (i, (got, want)) in raw.iter().zip(&want).enumerate() {
            let mut want = want.clone();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert_eq!(got.len(), want.len(), "{cfg}: row {i}");
            for (g, (_, w)) in got.iter().zip(&want) {
                assert_close(*g, *w, 1e-12, cfg);
            }
            if let Some(best) = want.iter().fold(None::<(f64, f64)>, |b, &(c, p)| match b {
                Some((_, bp)) if bp >= p => b,
                _ => Some((c, p)),
            }) {
                assert_eq!(pred[i], Some(best.0), "{cfg}: row {i}");
            }
        }
        let m = op.model().unwrap();
        let mut model = model;
        model.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(m.classes, model.iter().map(|c| c.0).collect::<Vec<_>>());
        for (k, (_, w)) in model.iter().enumerate() {
            for (g, w) in m.weights[k].iter().zip(w) {
                assert_close(*g, *w, 1e-12, cfg);
            }
            assert_close(m.intercepts[k], if intercept { w[3] } else { 0.0 }, 1e-12, cfg);
        }
    }
}

#[test]
fn learns_separable_classes() {
    let rows = blobs(3000, 2, &[0.0, 1.0, 2.0], 8, 0);
    let mut op = SoftmaxRegression::open_json(r#"{"learningRate": 0.1}"#).unwrap();
    let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
    let pred = f64_col(&out, "prediction");
    let tail = 2000..3000;
    let correct = tail.clone().filter(|&i| pred[i] == rows[i].1).count();
    // The blobs overlap, so accuracy well below 1 is expected; chance is 1/3.
    assert!(correct as f64 / tail.len() as f64 > 0.7, "prequential accuracy {correct}/1000");
}

#[test]
fn declared_classes_give_fixed_raw_prediction() {
    let mut op = SoftmaxRegression::open_json(r#"{"classes": [2, 0, 1]}"#).unwrap();
    let out = op.process(&dense_batch(&[(vec![1.0], None), (vec![1.0], Some(1.0)), (vec![1.0], None)], 0)).unwrap().outputs;
    let raw = list_col(&out, "rawPrediction");
    assert_eq!(raw[0], vec![1.0 / 3.0; 3]);
    assert_eq!(f64_col(&out, "prediction")[0], Some(0.0), "ties go to the smallest class");
    assert!(raw[2][1] > raw[2][0] && raw[2][1] > raw[2][2], "{:?}", raw[2]);
    let err = op.process(&dense_batch(&[(vec![1.0], Some(3.0))], 3)).unwrap_err();
    assert_input_error(&err, 0, "label");
    let md = op.model_data().unwrap();
    assert_eq!(list_col(&md, "classes"), vec![vec![0.0, 1.0, 2.0]]);
}

#[test]
fn sparse_and_column_features_match_dense() {
    let mut rows = blobs(200, 3, &[0.0, 1.0, 4.0], 9, 5);
    for (i, r) in rows.iter_mut().enumerate() {
        r.0[i % 3] = 0.0;
    }
    for cfg in [r#"{"globalBatchSize": 4}"#, r#"{"reg": 0.1}"#] {
        let dense = run::<SoftmaxRegression>(cfg, &rows, 9, None, dense_batch);
        let sparse = run::<SoftmaxRegression>(cfg, &rows, 9, None, sparse_batch);
        assert_eq!(dense.outputs, sparse.outputs, "{cfg}");
        assert_eq!(dense.models, sparse.models, "{cfg}");
        let mut cols: serde_json::Value = serde_json::from_str(cfg).unwrap();
        cols["featuresCol"] = serde_json::json!(["a", "b", "c"]);
        let by_cols = run::<SoftmaxRegression>(&cols.to_string(), &rows, 9, None, |r, s| columns_batch(r, &["a", "b", "c"], s));
        assert_eq!(dense.outputs, by_cols.outputs, "{cfg}");
        assert_eq!(dense.models, by_cols.models, "{cfg}");
    }
}

#[test]
fn batch_size_independence_and_restore() {
    let rows = blobs(400, 3, &[5.0, 1.0, -2.0, 0.5], 12, 3);
    for cfg in [r#"{}"#, r#"{"globalBatchSize": 5, "reg": 0.01}"#, r#"{"globalBatchSize": 64, "classes": [-2, 0.5, 1, 5]}"#] {
        assert_batch_independent::<SoftmaxRegression>(cfg, &rows, dense_batch, &[1, 13, 203, 399]);
    }
}

#[test]
fn bad_rows_leave_state_unchanged() {
    let mut op = SoftmaxRegression::open_json(r#"{"globalBatchSize": 2}"#).unwrap();
    op.process(&dense_batch(&[(vec![1.0, 2.0], Some(1.0))], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let good = (vec![1.0, 2.0], Some(0.0));
    let err = op.process(&dense_batch(&[good.clone(), (vec![f64::NAN, 2.0], Some(1.0))], 1)).unwrap_err();
    assert_input_error(&err, 1, "features");
    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, 2.0, 3.0], None)], 1)).unwrap_err();
    assert_input_error(&err, 1, "features");
    let err = op.process(&dense_batch(&[good.clone(), good.clone(), (vec![1.0, 2.0], Some(f64::NEG_INFINITY))], 1)).unwrap_err();
    assert_input_error(&err, 2, "label");
    assert_eq!(op.snapshot().unwrap(), before, "state unchanged after refused batches");

    let mut op = SoftmaxRegression::open_json(r#"{"featuresCol": ["a", "b"]}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&columns_batch(&[good.clone(), (vec![1.0, f64::NAN], None)], &["a", "b"], 0)).unwrap_err();
    assert_input_error(&err, 1, "b");
    assert_eq!(op.snapshot().unwrap(), before);

    let mut op = SoftmaxRegression::open_json(r#"{"learningRate": 1e300}"#).unwrap();
    let before = op.snapshot().unwrap();
    let rows: Vec<LabeledRow> = (0..5).map(|i| (vec![1e10, -1e10], Some((i % 2) as f64))).collect();
    let err = op.process(&dense_batch(&rows, 0)).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert_eq!(op.snapshot().unwrap(), before);
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"l2": 1}"#, "l2"),
        (r#"{"learningRate": 0}"#, "learningRate"),
        (r#"{"reg": -1}"#, "reg"),
        (r#"{"fitIntercept": "yes"}"#, "fitIntercept"),
        (r#"{"globalBatchSize": 0}"#, "globalBatchSize"),
        (r#"{"classes": []}"#, "classes"),
        (r#"{"classes": [0, -0.0]}"#, "classes"),
        (r#"{"featuresCol": []}"#, "featuresCol"),
    ] {
        assert_config_error::<SoftmaxRegression>(cfg, param);
    }
}

#[test]
fn describe_and_model_data() {
    let info = SoftmaxRegression::describe();
    assert_eq!(info.kind, eddy_sdk::OperatorKind::Classifier);
    for p in &info.params {
        assert!(!p.doc.is_empty(), "{}", p.name);
        if let Some(d) = &p.default_value {
            serde_json::from_str::<serde_json::Value>(d).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
    let md = SoftmaxRegression::open_json("{}").unwrap().model_data().unwrap();
    let names: Vec<String> = md.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["classes", "weights", "intercepts", "modelVersion"]);
}
