//! GaussianNaiveBayes natively: the statistics and probabilities against an independent
//! two-pass computation and against linfa-bayes' own batch fit, prequential semantics, declared
//! classes, batch-size independence, restore, and refusals of bad rows and configs; the same
//! for `likelihood = "river"` against river's formula (tests/reference.rs has river itself),
//! and snapshots taken before `likelihood` existed.

use eddy_testkit as support;

use eddy_naive_bayes::GaussianNaiveBayes;
use eddy_sdk::Operator;
use linfa::traits::Fit;
use linfa_bayes::{GaussianNb, NaiveBayes};
use ndarray::{Array1, Array2};
use support::*;

/// Per-class count, mean and population variance by two passes over the rows.
fn two_pass(rows: &[LabeledRow], classes: &[f64]) -> Vec<(usize, Vec<f64>, Vec<f64>)> {
    let dim = rows[0].0.len();
    classes
        .iter()
        .map(|c| {
            let xs: Vec<&Vec<f64>> = rows.iter().filter(|r| r.1 == Some(*c)).map(|r| &r.0).collect();
            let n = xs.len() as f64;
            let mean: Vec<f64> = (0..dim).map(|j| xs.iter().map(|x| x[j]).sum::<f64>() / n).collect();
            let var = (0..dim).map(|j| xs.iter().map(|x| (x[j] - mean[j]).powi(2)).sum::<f64>() / n).collect();
            (xs.len(), mean, var)
        })
        .collect()
}

/// Class probabilities by the textbook formula, with epsilon = varSmoothing * the largest
/// variance of any feature over all labelled rows.
fn reference_proba(rows: &[LabeledRow], classes: &[f64], var_smoothing: f64, x: &[f64]) -> Vec<f64> {
    let labelled: Vec<&LabeledRow> = rows.iter().filter(|r| r.1.is_some()).collect();
    let dim = x.len();
    let n = labelled.len() as f64;
    let mut max_var = 0.0f64;
    for j in 0..dim {
        let m = labelled.iter().map(|r| r.0[j]).sum::<f64>() / n;
        max_var = max_var.max(labelled.iter().map(|r| (r.0[j] - m).powi(2)).sum::<f64>() / n);
    }
    let eps = var_smoothing * max_var;
    let stats = two_pass(rows, classes);
    let jll: Vec<f64> = stats
        .iter()
        .map(|(count, mean, var)| {
            let mut l = (*count as f64 / n).ln();
            for j in 0..dim {
                let s = var[j] + eps;
                l += -0.5 * (2.0 * std::f64::consts::PI * s).ln() - 0.5 * (x[j] - mean[j]).powi(2) / s;
            }
            l
        })
        .collect();
    let max = jll.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = jll.iter().map(|l| (l - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Scores `probes` (unlabelled) with the operator's current model.
fn score(op: &mut GaussianNaiveBayes, probes: &[Vec<f64>], seq0: u64) -> (Vec<Option<f64>>, Vec<Vec<f64>>) {
    let rows: Vec<LabeledRow> = probes.iter().map(|x| (x.clone(), None)).collect();
    let out = op.process(&dense_batch(&rows, seq0)).unwrap().outputs;
    (f64_col(&out, "prediction"), list_col(&out, "rawPrediction"))
}

#[test]
fn sklearn_docstring_example() {
    // scikit-learn's and river's GaussianNB example: [-0.8, -1] is class 1.
    let x = [[-1.0, -1.0], [-2.0, -1.0], [-3.0, -2.0], [1.0, 1.0], [2.0, 1.0], [3.0, 2.0]];
    let rows: Vec<LabeledRow> = x.iter().zip([1.0, 1.0, 1.0, 2.0, 2.0, 2.0]).map(|(x, y)| (x.to_vec(), Some(y))).collect();
    let mut op = GaussianNaiveBayes::open_json("{}").unwrap();
    op.process(&dense_batch(&rows, 0)).unwrap();
    let (pred, raw) = score(&mut op, &[vec![-0.8, -1.0]], 6);
    assert_eq!(pred, vec![Some(1.0)]);
    let want = reference_proba(&rows, &[1.0, 2.0], 1e-9, &[-0.8, -1.0]);
    for (g, w) in raw[0].iter().zip(&want) {
        assert_close(*g, *w, 1e-12, "probability");
    }
    assert_eq!(op.model().version, 6, "one update per labelled row");
}

#[test]
fn statistics_and_probabilities_match_two_pass_reference() {
    let classes = [-1.0, 0.0, 2.5];
    let rows = blobs(300, 4, &classes, 7, 5);
    let probes: Vec<Vec<f64>> = blobs(20, 4, &classes, 99, 0).into_iter().map(|r| r.0).collect();
    for gbs in [1, 8] {
        let mut op = GaussianNaiveBayes::open_json(&format!(r#"{{"globalBatchSize": {gbs}}}"#)).unwrap();
        op.process(&dense_batch(&rows, 0)).unwrap();
        let labelled = rows.iter().filter(|r| r.1.is_some()).count();
        assert_eq!(op.model().version as usize, labelled / gbs);
        // Learn the partial batch too (with gbs 8, 240 labelled rows fill exactly 30 batches).
        assert_eq!(labelled % gbs, 0);
        let model = op.model();
        let want = two_pass(&rows, &classes);
        assert_eq!(model.classes.iter().map(|c| c.class).collect::<Vec<_>>(), classes.to_vec());
        for (c, (count, mean, var)) in model.classes.iter().zip(&want) {
            assert_eq!(c.count as usize, *count);
            for j in 0..4 {
                assert_close(c.mean[j], mean[j], 1e-12, "mean");
                assert_close(c.var[j], var[j], 1e-12, "variance");
            }
        }
        let (_, raw) = score(&mut op, &probes, 1000);
        for (x, got) in probes.iter().zip(&raw) {
            let want = reference_proba(&rows, &classes, 1e-9, x);
            for (g, w) in got.iter().zip(&want) {
                assert_close(*g, *w, 1e-9, "probability");
            }
        }
    }
}

#[test]
fn agrees_with_linfa_batch_fit() {
    // After every labelled row has been learned one at a time, the model scores like linfa's
    // `GaussianNb` fitted on all of them at once (whose smoothing is varSmoothing times the
    // largest variance of the whole data set, as eddy's is).
    let classes = [0.0, 1.0, 2.0];
    let rows: Vec<LabeledRow> = blobs(200, 3, &classes, 3, 0);
    let mut op = GaussianNaiveBayes::open_json(r#"{"varSmoothing": 1e-6}"#).unwrap();
    op.process(&dense_batch(&rows, 0)).unwrap();

    let x = Array2::from_shape_vec((rows.len(), 3), rows.iter().flat_map(|r| r.0.clone()).collect()).unwrap();
    let y: Array1<usize> = rows.iter().map(|r| r.1.unwrap() as usize).collect();
    let fitted: GaussianNb<f64, usize> = GaussianNb::params().var_smoothing(1e-6).fit(&linfa::Dataset::new(x, y)).unwrap();
    let probes: Vec<Vec<f64>> = blobs(30, 3, &classes, 11, 0).into_iter().map(|r| r.0).collect();
    let px = Array2::from_shape_vec((probes.len(), 3), probes.iter().flatten().copied().collect()).unwrap();
    let (linfa_proba, linfa_classes) = fitted.predict_proba(px.view());
    assert_eq!(linfa_classes, vec![&0, &1, &2]);
    let (pred, raw) = score(&mut op, &probes, 200);
    for (i, got) in raw.iter().enumerate() {
        for k in 0..3 {
            assert_close(got[k], linfa_proba[[i, k]], 1e-9, "probability vs linfa");
        }
        let best = (0..3).fold(0, |b, k| if linfa_proba[[i, k]] > linfa_proba[[i, b]] { k } else { b });
        assert_eq!(pred[i], Some(best as f64));
    }
}

#[test]
fn prequential_scoring_and_versions() {
    // Each row is scored by the model in force before it is learned from.
    let rows: Vec<LabeledRow> = vec![
        (vec![0.0, 0.0], Some(3.0)),
        (vec![1.0, 0.0], None),
        (vec![1.0, 1.0], Some(3.0)),
        (vec![5.0, 5.0], Some(-2.0)),
        (vec![5.0, 5.0], None),
    ];
    let mut op = GaussianNaiveBayes::open_json("{}").unwrap();
    let out = op.process(&dense_batch(&rows, 0)).unwrap();
    let o = &out.outputs;
    assert_eq!(f64_col(o, "prediction"), vec![None, Some(3.0), Some(3.0), Some(3.0), Some(-2.0)]);
    let raw = list_col(o, "rawPrediction");
    assert_eq!(raw[0], Vec::<f64>::new(), "no class known yet");
    assert_eq!(raw[1], vec![1.0]);
    assert_eq!(raw[4].len(), 2, "classes -2 and 3, in that order");
    assert!(raw[4][0] > 0.99, "{:?}", raw[4]);
    assert_eq!(i64_col(o, "modelVersion"), vec![0, 1, 1, 2, 3]);
    let models = out.models.unwrap();
    assert_eq!(i64_col(&models, "modelVersion"), vec![1, 2, 3]);
    let published_by = models.column_by_name("__seq").unwrap();
    let published_by: Vec<String> = (0..3).map(|i| cell(published_by.as_ref(), i)).collect();
    assert_eq!(published_by, ["0", "2", "3"], "each model names the row that closed its batch");
    assert_eq!(list_col(&models, "classes")[2], vec![-2.0, 3.0]);
    let seq = o.column_by_name("__seq").unwrap();
    assert_eq!(cell(seq.as_ref(), 4), "4");
}

#[test]
fn declared_classes_give_fixed_raw_prediction() {
    let mut op = GaussianNaiveBayes::open_json(r#"{"classes": [1, 0]}"#).unwrap();
    let rows: Vec<LabeledRow> =
        vec![(vec![0.0], None), (vec![0.0], Some(1.0)), (vec![2.0], None), (vec![3.0], Some(0.0)), (vec![3.0], None)];
    let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
    let raw = list_col(&out, "rawPrediction");
    assert_eq!(raw[0], vec![0.5, 0.5], "before any row, declared classes are equally likely");
    assert_eq!(raw[1], vec![0.5, 0.5]);
    assert_eq!(raw[2], vec![0.0, 1.0], "class 0 not seen yet: probability 0");
    assert!(raw[4][0] > 0.5, "{:?}", raw[4]);
    assert_eq!(f64_col(&out, "prediction")[..3], [Some(0.0), Some(0.0), Some(1.0)]);
    let md = op.model_data().unwrap();
    assert_eq!(list_col(&md, "classes"), vec![vec![0.0, 1.0]]);
}

#[test]
fn sparse_and_column_features_match_dense() {
    let mut rows = blobs(120, 3, &[0.0, 1.0], 5, 4);
    for (i, r) in rows.iter_mut().enumerate() {
        r.0[i % 3] = 0.0;
    }
    let cfg = r#"{"globalBatchSize": 3}"#;
    let dense = run::<GaussianNaiveBayes>(cfg, &rows, 10, None, dense_batch);
    let sparse = run::<GaussianNaiveBayes>(cfg, &rows, 10, None, sparse_batch);
    assert_eq!(dense.outputs, sparse.outputs);
    assert_eq!(dense.models, sparse.models);
    let cols = run::<GaussianNaiveBayes>(r#"{"globalBatchSize": 3, "featuresCol": ["a", "b", "c"]}"#, &rows, 10, None, |r, s| {
        columns_batch(r, &["a", "b", "c"], s)
    });
    assert_eq!(dense.outputs, cols.outputs);
    assert_eq!(dense.models, cols.models);
}

#[test]
fn batch_size_independence_and_restore() {
    let rows = blobs(400, 3, &[0.0, 1.0, 7.0], 21, 3);
    for cfg in [r#"{}"#, r#"{"globalBatchSize": 5}"#, r#"{"globalBatchSize": 64, "classes": [0, 1, 7]}"#] {
        assert_batch_independent::<GaussianNaiveBayes>(cfg, &rows, dense_batch, &[1, 13, 203, 399]);
    }
}

#[test]
fn bad_rows_leave_state_unchanged() {
    let mut op = GaussianNaiveBayes::open_json(r#"{"globalBatchSize": 2}"#).unwrap();
    op.process(&dense_batch(&[(vec![1.0, 2.0], Some(1.0))], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let good = (vec![1.0, 2.0], Some(0.0));

    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, f64::NAN], Some(1.0))], 1)).unwrap_err();
    assert_input_error(&err, 1, "features");
    let err = op.process(&dense_batch(&[good.clone(), good.clone(), (vec![1.0, 2.0, 3.0], Some(0.0))], 1)).unwrap_err();
    assert_input_error(&err, 2, "features");
    assert!(err.to_string().contains("dimension 3"), "{err}");
    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, 2.0], Some(f64::INFINITY))], 1)).unwrap_err();
    assert_input_error(&err, 1, "label");
    assert_eq!(op.snapshot().unwrap(), before, "state unchanged after refused batches");

    let mut op = GaussianNaiveBayes::open_json(r#"{"classes": [0, 1]}"#).unwrap();
    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, 2.0], Some(2.0))], 0)).unwrap_err();
    assert_input_error(&err, 1, "label");

    let mut op = GaussianNaiveBayes::open_json(r#"{"featuresCol": ["a", "b"]}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&columns_batch(&[good.clone(), good.clone(), (vec![1.0, f64::NAN], Some(1.0))], &["a", "b"], 0)).unwrap_err();
    assert_input_error(&err, 2, "b");
    assert_eq!(op.snapshot().unwrap(), before);

    // Features so large that the variance overflows: refused at the row that closes the
    // batch, with the state as it was.
    let mut op = GaussianNaiveBayes::open_json(r#"{"globalBatchSize": 2}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&dense_batch(&[(vec![1e300], Some(1.0)), (vec![-1e300], Some(1.0))], 0)).unwrap_err();
    assert_input_error(&err, 1, "features");
    assert_eq!(op.snapshot().unwrap(), before);
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"varSmothing": 1}"#, "varSmothing"),
        (r#"{"varSmoothing": 0}"#, "varSmoothing"),
        (r#"{"varSmoothing": -1}"#, "varSmoothing"),
        (r#"{"globalBatchSize": 0}"#, "globalBatchSize"),
        (r#"{"classes": []}"#, "classes"),
        (r#"{"classes": [1, 1.0]}"#, "classes"),
        (r#"{"classes": [1, "a"]}"#, "classes"),
        (r#"{"classes": [null]}"#, "classes"),
        (r#"{"featuresCol": []}"#, "featuresCol"),
        (r#"{"labelCol": 3}"#, "labelCol"),
        (r#"{"likelihood": "scikit"}"#, "likelihood"),
        (r#"{"likelihood": 1}"#, "likelihood"),
        (r#"{"likelihood": "river", "varSmoothing": 1e-9}"#, "varSmoothing"),
    ] {
        assert_config_error::<GaussianNaiveBayes>(cfg, param);
    }
}

#[test]
fn snapshot_from_another_operator_is_refused() {
    let mut op = GaussianNaiveBayes::open_json("{}").unwrap();
    let bytes = eddy_sdk::snapshot::seal(&eddy_sdk::OperatorInfo { name: "Other".into(), ..GaussianNaiveBayes::describe() }, &1u8).unwrap();
    assert!(matches!(op.restore(&bytes), Err(eddy_sdk::OperatorError::Internal(_))));
}

#[test]
fn describe_declares_every_parameter_with_a_doc() {
    let info = GaussianNaiveBayes::describe();
    assert_eq!(info.kind, eddy_sdk::OperatorKind::Classifier);
    for p in &info.params {
        assert!(!p.doc.is_empty(), "{}", p.name);
        if let Some(d) = &p.default_value {
            serde_json::from_str::<serde_json::Value>(d).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
    let md = GaussianNaiveBayes::open_json("{}").unwrap().model_data().unwrap();
    let names: Vec<String> = md.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["classes", "classCount", "theta", "var", "epsilon", "modelVersion"]);
}

/// river 0.26.1's `GaussianNB` by its formula, from two-pass statistics: the probability of
/// every learned class (ascending class order) and the prediction (ties: the class learned
/// first).
fn river_reference(rows: &[LabeledRow], x: &[f64]) -> (Option<f64>, Vec<f64>) {
    let labelled: Vec<&LabeledRow> = rows.iter().filter(|r| r.1.is_some()).collect();
    let mut first_learned: Vec<f64> = Vec::new();
    for r in &labelled {
        if !first_learned.contains(&r.1.unwrap()) {
            first_learned.push(r.1.unwrap());
        }
    }
    let mut ascending = first_learned.clone();
    ascending.sort_by(f64::total_cmp);
    let stats = two_pass(rows, &ascending);
    let n = labelled.len() as f64;
    let jll: Vec<f64> = stats
        .iter()
        .map(|(count, mean, var)| {
            let mut l = (*count as f64 / n).ln();
            for j in 0..x.len() {
                let pdf = if var[j] > 0.0 {
                    (-(x[j] - mean[j]).powi(2) / (2.0 * var[j])).exp() / (2.0 * std::f64::consts::PI * var[j]).sqrt()
                } else {
                    0.0
                };
                l += (1e-9 + pdf).ln();
            }
            l
        })
        .collect();
    let max = jll.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + jll.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    let probs: Vec<f64> = jll.iter().map(|l| (l - lse).exp()).collect();
    let p = |c: &f64| probs[ascending.iter().position(|a| a == c).unwrap()];
    let best = first_learned.iter().fold(None, |b: Option<f64>, c| if b.is_none_or(|b| p(c) > p(&b)) { Some(*c) } else { b });
    (best, probs)
}

#[test]
fn river_likelihood_matches_its_formula() {
    // Discrete features (many variances exactly 0, so densities 0 and terms ln(1e-9)) and
    // continuous ones, three classes, unlabelled rows in between.
    let classes = [4.0, -1.0, 2.0];
    let mut rows = blobs(300, 3, &classes, 17, 5);
    for (i, r) in rows.iter_mut().enumerate() {
        r.0[2] = (i % 3) as f64 * 0.5;
        if r.1 == Some(2.0) {
            r.0[1] = 1.0;
        }
    }
    for gbs in [1, 6] {
        let mut op = GaussianNaiveBayes::open_json(&format!(r#"{{"likelihood": "river", "globalBatchSize": {gbs}}}"#)).unwrap();
        let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
        let (pred, raw) = (f64_col(&out, "prediction"), list_col(&out, "rawPrediction"));
        if gbs == 1 {
            // Prequential: row i is scored from the labelled rows before it.
            for i in 1..rows.len() {
                if rows[..i].iter().all(|r| r.1.is_none()) {
                    continue;
                }
                let (want_pred, want) = river_reference(&rows[..i], &rows[i].0);
                assert_eq!(pred[i], want_pred, "row {i}");
                assert_eq!(raw[i].len(), want.len());
                for (g, w) in raw[i].iter().zip(&want) {
                    assert_close(*g, *w, 1e-9, "probability");
                }
            }
        }
        let learned = rows.iter().filter(|r| r.1.is_some()).count();
        assert_eq!(op.model().version as usize, learned / gbs);
        let model = op.model();
        assert_eq!(model.epsilon, 0.0, "no smoothing");
        let want = two_pass(&rows, &[-1.0, 2.0, 4.0]);
        for (c, (count, mean, var)) in model.classes.iter().zip(&want) {
            assert_eq!(c.count as usize, *count);
            for j in 0..3 {
                assert_close(c.mean[j], mean[j], 1e-12, "mean");
                assert_close(c.var[j], var[j], 1e-12, "population variance");
            }
        }
        assert_eq!(model.classes[1].var[1], 0.0, "a constant feature's variance is exactly 0");
        let order: Vec<f64> = op.river_stats().unwrap().classes.iter().map(|c| c.class).collect();
        let mut first = Vec::new();
        for r in rows.iter().filter_map(|r| r.1) {
            if !first.contains(&r) {
                first.push(r);
            }
        }
        assert_eq!(order, first, "classes in the order first learned");
    }
}

#[test]
fn river_ties_go_to_the_class_learned_first() {
    // One row each of classes 5 then 2, then one of each again, the same point: equal
    // likelihoods. river predicts the class it learned first; scikit-learn's order is the
    // smallest class value.
    let rows: Vec<LabeledRow> =
        vec![(vec![1.0, 2.0], Some(5.0)), (vec![1.0, 2.0], Some(2.0)), (vec![1.0, 2.0], None), (vec![3.0, 2.0], None)];
    let mut river = GaussianNaiveBayes::open_json(r#"{"likelihood": "river"}"#).unwrap();
    let out = river.process(&dense_batch(&rows, 0)).unwrap().outputs;
    assert_eq!(f64_col(&out, "prediction"), vec![None, Some(5.0), Some(5.0), Some(5.0)]);
    // river 0.26.1 gives {5: 0.49999999999999906, 2: 0.49999999999999906} (its logsumexp).
    let raw = &list_col(&out, "rawPrediction")[2];
    assert_eq!(raw[0], raw[1]);
    assert_close(raw[0], 0.49999999999999906, 1e-15, "p");
    let mut sklearn = GaussianNaiveBayes::open_json("{}").unwrap();
    let out = sklearn.process(&dense_batch(&rows, 0)).unwrap().outputs;
    assert_eq!(f64_col(&out, "prediction")[2], Some(2.0));
}

#[test]
fn river_declared_classes() {
    // Declared, not learned yet: probability 0 (river has no such class); before any row the
    // declared classes are equally likely, as with scikit-learn's likelihood.
    let mut op = GaussianNaiveBayes::open_json(r#"{"likelihood": "river", "classes": [0, 1, 2]}"#).unwrap();
    let rows: Vec<LabeledRow> =
        vec![(vec![0.0], None), (vec![0.0], Some(2.0)), (vec![1.0], Some(1.0)), (vec![3.0], Some(2.0)), (vec![3.0], None)];
    let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
    let raw = list_col(&out, "rawPrediction");
    assert_eq!(raw[0], vec![1.0 / 3.0; 3]);
    assert_eq!(raw[2], vec![0.0, 0.0, 1.0]);
    assert_eq!(raw[3][0], 0.0);
    assert_eq!(raw[4][0], 0.0);
    let (_, want) = river_reference(&rows[..4], &[3.0]);
    assert_close(raw[4][1], want[0], 1e-12, "p(1)");
    assert_close(raw[4][2], want[1], 1e-12, "p(2)");
    assert_eq!(f64_col(&out, "prediction"), vec![Some(0.0), Some(0.0), Some(2.0), Some(2.0), Some(2.0)]);
    let md = op.model_data().unwrap();
    assert_eq!(f64_col(&md, "epsilon"), vec![Some(0.0)], "no smoothing");
    assert_eq!(op.model().classes[2].var, vec![2.25], "population variance of 0 and 3");
}

#[test]
fn river_batch_size_independence_and_restore() {
    let rows = blobs(400, 3, &[0.0, 1.0, 7.0], 23, 3);
    for cfg in [
        r#"{"likelihood": "river"}"#,
        r#"{"likelihood": "river", "globalBatchSize": 5}"#,
        r#"{"likelihood": "river", "globalBatchSize": 64, "classes": [7, 1, 0]}"#,
    ] {
        assert_batch_independent::<GaussianNaiveBayes>(cfg, &rows, dense_batch, &[1, 13, 203, 399]);
    }
    // The likelihood survives a restore into an instance opened with the other one.
    let mut op = GaussianNaiveBayes::open_json(r#"{"likelihood": "river"}"#).unwrap();
    op.process(&dense_batch(&rows[..200], 0)).unwrap();
    let mut other = GaussianNaiveBayes::open_json("{}").unwrap();
    other.restore(&op.snapshot().unwrap()).unwrap();
    let a = op.process(&dense_batch(&rows[200..], 200)).unwrap();
    let b = other.process(&dense_batch(&rows[200..], 200)).unwrap();
    assert_eq!(a.outputs, b.outputs);
    assert_eq!(a.models, b.models);
}

#[test]
fn river_refuses_what_would_overflow() {
    let mut op = GaussianNaiveBayes::open_json(r#"{"likelihood": "river", "globalBatchSize": 2}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&dense_batch(&[(vec![1e300], Some(1.0)), (vec![-1e300], Some(1.0))], 0)).unwrap_err();
    assert_input_error(&err, 1, "features");
    assert_eq!(op.snapshot().unwrap(), before);
}

/// A snapshot taken by the operator before `likelihood` existed (commit ccb343d): `{"globalBatchSize": 3}`
/// after the first 40 rows of `blobs(80, 3, &[0.0, 1.0, 2.0], 5, 6)`.
const SNAPSHOT_BEFORE_LIKELIHOOD: &str = concat!(
    "0f656464792d736e617073686f742f3112476175737369616e4e61697665426179657305302e312e30000866656174757265",
    "73056c6162656c0a70726564696374696f6e0d72617750726564696374696f6e0c6d6f64656c56657273696f6e95d626e80b",
    "2e113e0300000001030300000000000000000b0346ad2c1d69aed83f4406cf2528a8f83f1c1ffadcdd51054003e52a4915cb",
    "0ae23fbf062b536207fb3f2f40429de43ef73f000000000000f03f0c03a3e4910dd78e0040fc115004d617044044172f9007",
    "820840033dbfda2f3f8ff33fe7a59e517764f23f5b791040fca3064000000000000000400a03b538775bd9c70d40023b982e",
    "07fe144033fdc0e8d556164003e51eadb844c3f43f9f590ed32959f73f36c55275259800402a113fe8f31b303e160103ea74",
    "855cb6bf0b40e0dd823522a7f93f0564367166bb0a40000000000000f03f010000",
);

#[test]
fn the_default_is_unchanged_and_older_snapshots_restore() {
    let old: Vec<u8> = (0..SNAPSHOT_BEFORE_LIKELIHOOD.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SNAPSHOT_BEFORE_LIKELIHOOD[i..i + 2], 16).unwrap())
        .collect();
    let rows = blobs(80, 3, &[0.0, 1.0, 2.0], 5, 6);
    for cfg in [r#"{"globalBatchSize": 3}"#, r#"{"globalBatchSize": 3, "likelihood": "sklearn"}"#] {
        let mut op = GaussianNaiveBayes::open_json(cfg).unwrap();
        op.process(&dense_batch(&rows[..40], 0)).unwrap();
        // The same state, bit for bit, as before `likelihood`, plus its last field (None).
        let mut want = old.clone();
        want.push(0);
        assert_eq!(op.snapshot().unwrap(), want, "{cfg}");
        let mut restored = GaussianNaiveBayes::open_json(r#"{"likelihood": "river"}"#).unwrap();
        restored.restore(&old).unwrap();
        assert_eq!(restored.snapshot().unwrap(), want, "the older snapshot restores with scikit-learn's likelihood");
        let a = op.process(&dense_batch(&rows[40..], 40)).unwrap();
        let b = restored.process(&dense_batch(&rows[40..], 40)).unwrap();
        assert_eq!(a.outputs, b.outputs);
        assert_eq!(a.models, b.models);
    }
    let mut op = GaussianNaiveBayes::open_json("{}").unwrap();
    assert!(op.restore(&old[..old.len() - 1]).is_err(), "a truncated snapshot is refused");
}
