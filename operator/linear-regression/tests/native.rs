//! OnlineLinearRegression natively: a hand-worked SGD step, an independent re-implementation of
//! river's `LinearRegression` (SGD and AdaGrad, L2, intercept rate, clipping, mini-batches),
//! convergence, batch-size independence, restore, and refusals of bad rows and configs.

use eddy_testkit as support;

use eddy_linear_regression::LinearRegression;
use eddy_sdk::Operator;
use support::*;

/// river's `LinearRegression` re-implemented row by row (or one mean-gradient step per batch of
/// `batch` labelled rows, as its `learn_many`), returning the prequential predictions and the
/// final (coefficients, intercept).
#[expect(clippy::too_many_arguments, reason = "one argument per hyper-parameter, as river's constructor")]
fn reference(
    rows: &[LabeledRow],
    adagrad: bool,
    lr: f64,
    l2: f64,
    intercept_lr: f64,
    clip: f64,
    batch: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let d = rows[0].0.len();
    let (mut w, mut b, mut g2) = (vec![0.0; d], 0.0, vec![0.0; d]);
    let mut preds = Vec::new();
    let mut pending: Vec<(Vec<f64>, f64, f64)> = Vec::new();
    for (x, y) in rows {
        let p = x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + b;
        preds.push(p);
        let Some(y) = y else { continue };
        pending.push((x.clone(), *y, p));
        if pending.len() < batch {
            continue;
        }
        let n = pending.len() as f64;
        let ls: Vec<f64> = pending.iter().map(|(_, y, p)| (2.0 * (p - y)).clamp(-clip, clip)).collect();
        let g: Vec<f64> = (0..d).map(|j| pending.iter().zip(&ls).map(|((x, _, _), l)| x[j] * l).sum::<f64>() / n + l2 * w[j]).collect();
        b -= intercept_lr * (ls.iter().sum::<f64>() / n);
        for j in 0..d {
            if adagrad {
                g2[j] += g[j] * g[j];
                w[j] -= lr / (g2[j] + eps).sqrt() * g[j];
            } else {
                w[j] -= lr * g[j];
            }
        }
        pending.clear();
    }
    (preds, w, b)
}

fn regression_rows(n: usize, seed: u64, unlabelled_every: usize) -> Vec<LabeledRow> {
    let mut g = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let x: Vec<f64> = (0..3).map(|_| g.next_normal()).collect();
            let y = 3.0 * x[0] - 2.0 * x[1] + 0.5 * x[2] + 1.0 + 0.1 * g.next_normal();
            (x, (unlabelled_every == 0 || i % unlabelled_every != unlabelled_every - 1).then_some(y))
        })
        .collect()
}

#[test]
fn one_sgd_step_by_hand() {
    // x = [1, 2], y = 3, from zeros: loss gradient 2 (0 - 3) = -6; w = 0.01 * 6 * [1, 2];
    // b = 0.01 * 6; the next prediction is 0.06 + 0.24 + 0.06 = 0.36.
    let mut op = LinearRegression::open_json("{}").unwrap();
    let out = op.process(&dense_batch(&[(vec![1.0, 2.0], Some(3.0)), (vec![1.0, 2.0], None)], 0)).unwrap();
    let pred = f64_col(&out.outputs, "prediction");
    assert_eq!(pred[0], Some(0.0));
    assert_close(pred[1].unwrap(), 0.36, 1e-15, "prediction after one step");
    assert_eq!(i64_col(&out.outputs, "modelVersion"), vec![0, 1]);
    let m = op.model().unwrap();
    assert_close(m.coefficient[0], 0.06, 1e-15, "w0");
    assert_close(m.coefficient[1], 0.12, 1e-15, "w1");
    assert_close(m.intercept, 0.06, 1e-15, "intercept");
    let models = out.models.unwrap();
    assert_eq!(list_col(&models, "coefficient"), vec![m.coefficient.clone()]);
    assert_eq!(f64_col(&models, "intercept"), vec![Some(m.intercept)]);
}

#[test]
fn matches_river_reimplementation() {
    let rows = regression_rows(500, 1, 6);
    for (cfg, adagrad, lr, l2, ilr, clip, batch) in [
        (r#"{}"#, false, 0.01, 0.0, 0.01, 1e12, 1),
        (r#"{"optimizer": "adagrad", "learningRate": 0.1}"#, true, 0.1, 0.0, 0.01, 1e12, 1),
        (r#"{"learningRate": 0.02, "reg": 0.01, "interceptLearningRate": 0.1}"#, false, 0.02, 0.01, 0.1, 1e12, 1),
        (r#"{"optimizer": "AdaGrad", "reg": 0.001, "clipGradient": 0.5}"#, true, 0.01, 0.001, 0.01, 0.5, 1),
        (r#"{"globalBatchSize": 8, "learningRate": 0.05}"#, false, 0.05, 0.0, 0.01, 1e12, 8),
        (r#"{"globalBatchSize": 3, "optimizer": "adagrad", "interceptLearningRate": 0}"#, true, 0.01, 0.0, 0.0, 1e12, 3),
    ] {
        let mut op = LinearRegression::open_json(cfg).unwrap();
        let out = op.process(&dense_batch(&rows, 0)).unwrap();
        let (preds, w, b) = reference(&rows, adagrad, lr, l2, ilr, clip, batch, 1e-8);
        for (g, want) in f64_col(&out.outputs, "prediction").iter().zip(&preds) {
            assert_close(g.unwrap(), *want, 1e-12, cfg);
        }
        let m = op.model().unwrap();
        for (g, want) in m.coefficient.iter().zip(&w) {
            assert_close(*g, *want, 1e-12, cfg);
        }
        assert_close(m.intercept, b, 1e-12, cfg);
        if ilr == 0.0 {
            assert_eq!(m.intercept, 0.0);
        }
    }
}

#[test]
fn converges_on_a_linear_target() {
    let rows = regression_rows(5000, 2, 0);
    for cfg in [
        r#"{"learningRate": 0.02, "interceptLearningRate": 0.02}"#,
        r#"{"optimizer": "adagrad", "learningRate": 0.5, "interceptLearningRate": 0.02}"#,
    ] {
        let mut op = LinearRegression::open_json(cfg).unwrap();
        op.process(&dense_batch(&rows, 0)).unwrap();
        let m = op.model().unwrap();
        for (g, want) in m.coefficient.iter().zip([3.0, -2.0, 0.5]) {
            assert!((g - want).abs() < 0.05, "{cfg}: {:?}", m.coefficient);
        }
        assert!((m.intercept - 1.0).abs() < 0.05, "{cfg}: {}", m.intercept);
    }
}

#[test]
fn sparse_and_column_features_match_dense() {
    let mut rows = regression_rows(200, 3, 5);
    for (i, r) in rows.iter_mut().enumerate() {
        r.0[i % 3] = 0.0;
    }
    for cfg in [r#"{"globalBatchSize": 4}"#, r#"{"optimizer": "adagrad", "reg": 0.1}"#] {
        let dense = run::<LinearRegression>(cfg, &rows, 9, None, dense_batch);
        let sparse = run::<LinearRegression>(cfg, &rows, 9, None, sparse_batch);
        assert_eq!(dense.outputs, sparse.outputs, "{cfg}");
        assert_eq!(dense.models, sparse.models, "{cfg}");
        let mut cols: serde_json::Value = serde_json::from_str(cfg).unwrap();
        cols["featuresCol"] = serde_json::json!(["a", "b", "c"]);
        let by_cols = run::<LinearRegression>(&cols.to_string(), &rows, 9, None, |r, s| columns_batch(r, &["a", "b", "c"], s));
        assert_eq!(dense.outputs, by_cols.outputs, "{cfg}");
        assert_eq!(dense.models, by_cols.models, "{cfg}");
    }
}

#[test]
fn batch_size_independence_and_restore() {
    let rows = regression_rows(400, 4, 3);
    for cfg in [r#"{}"#, r#"{"optimizer": "adagrad", "globalBatchSize": 5, "reg": 0.01}"#, r#"{"globalBatchSize": 64}"#] {
        assert_batch_independent::<LinearRegression>(cfg, &rows, dense_batch, &[1, 13, 203, 399]);
    }
    assert_batch_independent::<LinearRegression>(r#"{"globalBatchSize": 3}"#, &rows, sparse_batch, &[50]);
}

#[test]
fn bad_rows_leave_state_unchanged() {
    let mut op = LinearRegression::open_json(r#"{"globalBatchSize": 2}"#).unwrap();
    op.process(&dense_batch(&[(vec![1.0, 2.0], Some(1.0))], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let good = (vec![1.0, 2.0], Some(0.0));
    let err = op.process(&dense_batch(&[good.clone(), (vec![f64::NAN, 2.0], Some(1.0))], 1)).unwrap_err();
    assert_input_error(&err, 1, "features");
    let err = op.process(&dense_batch(&[(vec![1.0], Some(0.0))], 1)).unwrap_err();
    assert_input_error(&err, 0, "features");
    let err = op.process(&dense_batch(&[good.clone(), good.clone(), (vec![1.0, 2.0], Some(f64::NAN))], 1)).unwrap_err();
    assert_input_error(&err, 2, "label");
    assert_eq!(op.snapshot().unwrap(), before, "state unchanged after refused batches");

    let mut op = LinearRegression::open_json(r#"{"featuresCol": ["a", "b"]}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&columns_batch(&[good.clone(), (vec![f64::INFINITY, 1.0], None)], &["a", "b"], 0)).unwrap_err();
    assert_input_error(&err, 1, "a");
    assert_eq!(op.snapshot().unwrap(), before);

    // A learning rate that makes the model blow up: the update that would leave it non-finite
    // is refused at the row that closes the batch, and nothing of the call is kept.
    let mut op = LinearRegression::open_json(r#"{"learningRate": 1e300}"#).unwrap();
    let before = op.snapshot().unwrap();
    let rows: Vec<LabeledRow> = (0..5).map(|i| (vec![1e3, -1e3], Some(i as f64))).collect();
    let err = op.process(&dense_batch(&rows, 0)).unwrap_err();
    assert_input_error(&err, 2, "features");
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert_eq!(op.snapshot().unwrap(), before);
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"learningrate": 1}"#, "learningrate"),
        (r#"{"optimizer": "adam"}"#, "optimizer"),
        (r#"{"learningRate": 0}"#, "learningRate"),
        (r#"{"reg": -1}"#, "reg"),
        (r#"{"interceptLearningRate": -0.1}"#, "interceptLearningRate"),
        (r#"{"adagradEpsilon": 0}"#, "adagradEpsilon"),
        (r#"{"clipGradient": 0}"#, "clipGradient"),
        (r#"{"globalBatchSize": 0}"#, "globalBatchSize"),
        (r#"{"featuresCol": []}"#, "featuresCol"),
    ] {
        assert_config_error::<LinearRegression>(cfg, param);
    }
}

#[test]
fn describe_and_model_data() {
    let info = LinearRegression::describe();
    assert_eq!(info.kind, eddy_sdk::OperatorKind::Regressor);
    for p in &info.params {
        assert!(!p.doc.is_empty(), "{}", p.name);
        if let Some(d) = &p.default_value {
            serde_json::from_str::<serde_json::Value>(d).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
    let md = LinearRegression::open_json(r#"{"featuresCol": ["a", "b"]}"#).unwrap().model_data().unwrap();
    let names: Vec<String> = md.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["coefficient", "intercept", "modelVersion"]);
    assert_eq!(list_col(&md, "coefficient"), vec![vec![0.0, 0.0]]);
    let md = LinearRegression::open_json("{}").unwrap().model_data().unwrap();
    assert_eq!(list_col(&md, "coefficient"), vec![Vec::<f64>::new()], "dimension not known yet");
}
