//! HoeffdingTreeClassifier natively: a split decision derived by hand (information gain and the
//! Hoeffding bound), tie-breaking with `tau`, `removePoorAttrs`, prequential scoring and model
//! versions, declared classes, batch-size independence and restore mid-stream, the memory
//! bound, publishing switched off, the model data, and refusals of bad rows and configs.

use eddy_hoeffding_tree::{HoeffdingTree, Node, Tree};
use eddy_sdk::Operator;
use eddy_testkit::*;
use serde_json::Value;

/// Class weights of a leaf, as (class id, weight) in the leaf's order.
type Weights = Vec<(u32, f64)>;

/// The root of `tree` as (feature, threshold, left class weights, right class weights), when it
/// is a branch whose children are leaves.
fn root_split(tree: &Tree) -> Option<(u32, f64, Weights, Weights)> {
    let Node::Branch(b) = tree.nodes.first()? else { return None };
    let leaf = |i: u32| match &tree.nodes[i as usize] {
        Node::Leaf(l) => l.stats.entries().to_vec(),
        Node::Branch(_) => panic!("child {i} is a branch"),
    };
    Some((b.feature, b.threshold, leaf(b.children[0]), leaf(b.children[1])))
}

/// Twelve rows alternating classes 0 and 1. Feature `a` separates them (class 0 at 0.0, 0.1, ...,
/// 0.5; class 1 at 1.0, 1.1, ..., 1.5); feature `b` is 0, 1, 0, 1, ... in both classes alike.
fn separable_stream() -> Vec<LabeledRow> {
    (0..12)
        .map(|i| {
            let class = (i % 2) as f64;
            let k = (i / 2) as f64;
            (vec![class + k * 0.1, ((i / 2) % 2) as f64], Some(class))
        })
        .collect()
}

#[test]
fn information_gain_split_decided_by_the_hoeffding_bound_by_hand() {
    // Derivation, gracePeriod 4 (attempts after 4, 8 and 12 rows), two classes so the range of
    // the information gain is R = log2(2) = 1, and the bound is sqrt(R^2 ln(1/delta) / (2n)).
    //
    // Feature a: the candidates are min + (max - min) / 11 * i, i = 1..10. One of them falls in
    // the gap between class 0's largest value and class 1's smallest; there each class goes
    // whole to one side, the branches are pure, and the gain is H(pre) - H(post) = 1 - 0 = 1
    // bit. (Candidates inside a class's range cut its Gaussian and gain less.)
    // Feature b: both classes have the very same Gaussian, so every candidate divides both
    // classes in the same proportion, each branch stays 50/50, and the gain is 1 - 1 = 0.
    // So the best candidate (a) leads the runner-up (b) by 1 bit.
    //
    // delta = 1e-7, ln(1/delta) = 16.118:
    //   n = 4:  bound = sqrt(16.118 / 8)  = 1.419 > 1: no split;
    //   n = 8:  bound = sqrt(16.118 / 16) = 1.0037 > 1: still no split;
    //   n = 12: bound = sqrt(16.118 / 24) = 0.8195 < 1: split on a.
    // After 12 rows a ranges over [0, 1.5]; the candidates are 1.5/11 * i; i = 1, 2, 3 (0.136,
    // 0.273, 0.409) lie inside class 0's range [0, 0.5], i = 4 (0.545) is the first in the gap:
    // that is the threshold (the first of equal merits wins), left {0: 6}, right {1: 6}.
    let rows = separable_stream();
    let mut op = HoeffdingTree::open_json(r#"{"gracePeriod": 4}"#).unwrap();
    let out = op.process(&dense_batch(&rows[..8], 0)).unwrap();
    assert!(out.models.is_none() && op.tree().version == 0, "no split after 8 rows: the bound 1.0037 exceeds the gain 1");
    let out = op.process(&dense_batch(&rows[8..], 8)).unwrap();
    let models = out.models.expect("the split after row 12 is published");
    assert_eq!(i64_col(&models, "modelVersion"), vec![1]);
    assert_eq!(cell(models.column_by_name("__seq").unwrap().as_ref(), 0), "11", "published by the row that split the leaf");
    let (feature, threshold, left, right) = root_split(op.tree()).unwrap();
    assert_eq!(feature, 0);
    assert_eq!(threshold, 0.0 + (1.5 - 0.0) / 11.0 * 4.0);
    assert_eq!((left, right), (vec![(0, 6.0)], vec![(1, 6.0)]), "class ids: 0 is class 0, 1 is class 1");
    // `x[feature] <= threshold` goes left: a row exactly at the threshold is class 0's, the
    // next float up class 1's.
    let probes = [(vec![threshold, 0.0], None), (vec![threshold.next_up(), 0.0], None)];
    let out = op.process(&dense_batch(&probes, 12)).unwrap().outputs;
    assert_eq!(f64_col(&out, "prediction"), vec![Some(0.0), Some(1.0)]);

    // With delta = 1e-6, ln(1/delta) = 13.816 and the bound after 8 rows is
    // sqrt(13.816 / 16) = 0.929 < 1: the same split comes one attempt earlier (max 1.3 then, so
    // the threshold is 1.3/11 * 3, the first candidate past class 0's 0.3).
    let mut op = HoeffdingTree::open_json(r#"{"gracePeriod": 4, "delta": 1e-6}"#).unwrap();
    let out = op.process(&dense_batch(&rows[..8], 0)).unwrap();
    assert_eq!(i64_col(&out.models.unwrap(), "modelVersion"), vec![1]);
    assert_eq!(root_split(op.tree()).unwrap().1, 0.0 + (1.3 - 0.0) / 11.0 * 3.0);
}

#[test]
fn tau_breaks_a_tie_between_identical_features() {
    // Two copies of one informative feature: their best candidates have exactly the same
    // merit, so the Hoeffding bound can never separate them. With tau = 0.05 the tie is broken
    // once the bound falls below 0.05: sqrt(16.118 / (2n)) < 0.05 for n > 3223.6, so at the
    // first attempt after that, n = 3400 (attempts every 200; at 3200 the bound is 0.0502).
    // The winner is the later of the equal candidates (river sorts them stably and takes the
    // last): feature 1. With tau = 0 the tree never splits.
    let mut g = Lcg::new(5);
    let rows: Vec<LabeledRow> = (0..4000)
        .map(|_| {
            let u = g.next_f64();
            let label = if (u < 0.5) != (g.next_f64() < 0.2) { 0.0 } else { 1.0 };
            (vec![u, u], Some(label))
        })
        .collect();
    let mut op = HoeffdingTree::open_json("{}").unwrap();
    let out = op.process(&dense_batch(&rows, 0)).unwrap();
    let models = out.models.expect("a split");
    assert_eq!(cell(models.column_by_name("__seq").unwrap().as_ref(), 0), "3399", "split by the 3,400th row");
    assert_eq!(op.tree().version, 1);
    assert_eq!(root_split(op.tree()).unwrap().0, 1, "ties go to the later feature");
    let versions = i64_col(&out.outputs, "modelVersion");
    assert_eq!((versions[3399], versions[3400]), (0, 1), "row 3,400 was scored before the split, row 3,401 after");

    let mut op = HoeffdingTree::open_json(r#"{"tau": 0}"#).unwrap();
    assert!(op.process(&dense_batch(&rows, 0)).unwrap().models.is_none());
    assert_eq!(op.tree().version, 0, "without tau the tie is never broken");
}

#[test]
fn remove_poor_attrs_stops_watching_a_useless_feature() {
    // Two copies of an informative feature (they tie, and with tau = 0 the leaf never splits)
    // and one of noise. At the first attempt (200 rows) the copies gain about 0.28 bits, the
    // noise about 0, and the bound is sqrt(16.118 / 400) = 0.2: the noise trails the best by
    // more than the bound, so a majority-class leaf stops observing it for good. Naive Bayes
    // leaves keep every feature (river's `disable_attribute` does nothing there).
    let mut g = Lcg::new(8);
    let rows: Vec<LabeledRow> = (0..1000)
        .map(|_| {
            let u = g.next_f64();
            let label = if (u < 0.5) != (g.next_f64() < 0.2) { 0.0 } else { 1.0 };
            (vec![u, u, g.next_f64()], Some(label))
        })
        .collect();
    let observed = |cfg: &str| {
        let mut op = HoeffdingTree::open_json(cfg).unwrap();
        op.process(&dense_batch(&rows, 0)).unwrap();
        assert_eq!(op.tree().version, 0);
        let Node::Leaf(root) = &op.tree().nodes[0] else { panic!("the root split") };
        (root.splitters.as_ref().unwrap().iter().map(|s| s.feature).collect::<Vec<_>>(), root.disabled.clone())
    };
    assert_eq!(observed(r#"{"tau": 0, "leafPrediction": "mc", "removePoorAttrs": true}"#), (vec![0, 1], vec![2]));
    assert_eq!(observed(r#"{"tau": 0, "leafPrediction": "mc"}"#), (vec![0, 1, 2], vec![]));
    assert_eq!(observed(r#"{"tau": 0, "removePoorAttrs": true}"#), (vec![0, 1, 2], vec![]));
}

#[test]
fn prequential_scoring_and_leaf_predictions() {
    let rows: Vec<LabeledRow> =
        vec![(vec![0.0], Some(3.0)), (vec![1.0], None), (vec![1.0], Some(3.0)), (vec![5.0], Some(-2.0)), (vec![5.0], None)];
    for leaf in ["mc", "nb", "nba"] {
        let mut op = HoeffdingTree::open_json(&format!(r#"{{"leafPrediction": "{leaf}"}}"#)).unwrap();
        let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
        let pred = f64_col(&out, "prediction");
        let raw = list_col(&out, "rawPrediction");
        assert_eq!(pred[..4], [None, Some(3.0), Some(3.0), Some(3.0)], "{leaf}");
        assert_eq!(raw[0], Vec::<f64>::new(), "no class known yet");
        assert_eq!(raw[1], vec![1.0]);
        assert_eq!(raw[4].len(), 2, "classes -2 and 3, in that order");
        // Row 4 (x = 5): class 3 has seen 0 and 1 (a Gaussian of mean 0.5, variance 0.5, so
        // log density -20.8 at 5, plus log prior ln 2/3), class -2 has seen one value (no
        // density: its log prior ln 1/3 only). Naive Bayes says -2; the class frequencies say 3;
        // "nba" has seen the frequencies right twice (rows 0 and 2) and naive Bayes once (row
        // 2), so it goes with the frequencies.
        let want = if leaf == "nb" { -2.0 } else { 3.0 };
        assert_eq!(pred[4], Some(want), "{leaf}: {:?}", raw[4]);
        assert!((raw[4].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        if leaf == "mc" {
            assert_eq!(raw[4], vec![1.0 / 3.0, 2.0 / 3.0]);
        }
        assert_eq!(i64_col(&out, "modelVersion"), vec![0; 5]);
    }
}

#[test]
fn declared_classes_give_fixed_raw_prediction() {
    let mut op = HoeffdingTree::open_json(r#"{"classes": [1, 0], "leafPrediction": "mc"}"#).unwrap();
    let rows: Vec<LabeledRow> =
        vec![(vec![0.0], None), (vec![0.0], Some(1.0)), (vec![2.0], None), (vec![3.0], Some(0.0)), (vec![3.0], None)];
    let out = op.process(&dense_batch(&rows, 0)).unwrap().outputs;
    let raw = list_col(&out, "rawPrediction");
    assert_eq!(raw[0], vec![0.0, 0.0], "before any row: no probability, the smallest class predicted");
    assert_eq!(raw[2], vec![0.0, 1.0]);
    assert_eq!(raw[4], vec![0.5, 0.5]);
    assert_eq!(f64_col(&out, "prediction"), vec![Some(0.0), Some(0.0), Some(1.0), Some(1.0), Some(0.0)], "ties go to the smaller class");
    let md = op.model_data().unwrap();
    assert_eq!(list_col(&md, "classes"), vec![vec![0.0, 1.0]]);
}

/// `n` rows of three classes over three features: feature 0 separates the classes well,
/// feature 1 a little, feature 2 not at all; every ninth row has no label.
fn three_classes(n: usize) -> Vec<LabeledRow> {
    let mut g = Lcg::new(21);
    (0..n)
        .map(|i| {
            let c = ((g.next_f64() * 3.0) as usize).min(2) as f64;
            let x = vec![3.0 * c + g.next_normal(), c + 2.0 * g.next_normal(), g.next_normal()];
            (x, (i % 9 != 8).then_some(c))
        })
        .collect()
}

#[test]
fn batch_size_independence_and_restore() {
    let rows = three_classes(1500);
    for cfg in [
        r#"{"gracePeriod": 50}"#,
        r#"{"gracePeriod": 30, "splitCriterion": "gini", "leafPrediction": "mc", "removePoorAttrs": true, "classes": [0, 1, 2]}"#,
        r#"{"gracePeriod": 40, "leafPrediction": "nb", "nbThreshold": 10, "maxDepth": 2, "tau": 0.2}"#,
        r#"{"gracePeriod": 30, "maxSize": 0.002, "memoryEstimatePeriod": 100}"#,
    ] {
        assert_batch_independent::<HoeffdingTree>(cfg, &rows, dense_batch, &[1, 13, 203, 777, 1499]);
    }
}

#[test]
fn sparse_and_column_features_match_dense() {
    let mut rows = three_classes(600);
    for (i, r) in rows.iter_mut().enumerate() {
        r.0[i % 3] = 0.0;
    }
    let cfg = r#"{"gracePeriod": 40}"#;
    let dense = run::<HoeffdingTree>(cfg, &rows, 10, None, dense_batch);
    assert!(!dense.models.is_empty());
    let sparse = run::<HoeffdingTree>(cfg, &rows, 10, None, sparse_batch);
    assert_eq!(dense.outputs, sparse.outputs);
    assert_eq!(dense.models, sparse.models);
    let cols = run::<HoeffdingTree>(r#"{"gracePeriod": 40, "featuresCol": ["a", "b", "c"]}"#, &rows, 10, None, |r, s| {
        columns_batch(r, &["a", "b", "c"], s)
    });
    assert_eq!(dense.outputs, cols.outputs);
}

#[test]
fn publishing_off_changes_nothing_else() {
    let rows = three_classes(900);
    let cfg = r#"{"gracePeriod": 30}"#;
    let mut on = HoeffdingTree::open_json(cfg).unwrap();
    let mut off = HoeffdingTree::open_json(cfg).unwrap();
    off.set_publish_models(false);
    let a = on.process(&dense_batch(&rows, 0)).unwrap();
    let b = off.process(&dense_batch(&rows, 0)).unwrap();
    assert!(a.models.is_some() && b.models.is_none());
    assert_eq!(canon(&a.outputs), canon(&b.outputs));
    assert_eq!(on.snapshot().unwrap(), off.snapshot().unwrap());
    assert_eq!(canon(&on.model_data().unwrap()), canon(&off.model_data().unwrap()));
}

#[test]
fn model_data_describes_the_tree() {
    let rows = separable_stream();
    let mut op = HoeffdingTree::open_json(r#"{"gracePeriod": 4}"#).unwrap();
    let md = op.model_data().unwrap();
    let names: Vec<String> = md.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        [
            "classes",
            "nodeFeature",
            "nodeThreshold",
            "nodeLeft",
            "nodeRight",
            "nodeDepth",
            "nodeActive",
            "nodeClassWeights",
            "nActiveLeaves",
            "modelVersion"
        ]
    );
    assert_eq!(
        canon(&md),
        [
            "classes=[] nodeFeature=[] nodeThreshold=[] nodeLeft=[] nodeRight=[] nodeDepth=[] nodeActive=[] nodeClassWeights=[] nActiveLeaves=0 modelVersion=0"
        ]
    );
    op.process(&dense_batch(&rows, 0)).unwrap();
    let md = op.model_data().unwrap();
    let ints = |name: &str| cell(md.column_by_name(name).unwrap().as_ref(), 0);
    assert_eq!(list_col(&md, "classes"), vec![vec![0.0, 1.0]]);
    assert_eq!(ints("nodeFeature"), "[0,-1,-1]", "the root tests feature 0; nodes 1 and 2 are leaves");
    assert_eq!(ints("nodeLeft"), "[1,-1,-1]");
    assert_eq!(ints("nodeRight"), "[2,-1,-1]");
    assert_eq!(ints("nodeDepth"), "[0,1,1]");
    assert_eq!(ints("nodeActive"), "[0,1,1]");
    assert_eq!(list_col(&md, "nodeThreshold"), vec![vec![1.5 / 11.0 * 4.0, 0.0, 0.0]]);
    let weights = md.column_by_name("nodeClassWeights").unwrap();
    let bits = |v: &[f64]| format!("[{}]", v.iter().map(|x| format!("{:016x}", x.to_bits())).collect::<Vec<_>>().join(","));
    assert_eq!(cell(weights.as_ref(), 0), format!("[{},{},{}]", bits(&[6.0, 6.0]), bits(&[6.0, 0.0]), bits(&[0.0, 6.0])));
    assert_eq!((i64_col(&md, "nActiveLeaves"), i64_col(&md, "modelVersion")), (vec![2], vec![1]));
}

#[test]
fn memory_bound_deactivates_the_least_promising_leaves() {
    // Eight classes and six features: active leaves are large (an observer per feature and
    // class), inactive ones small. Unbounded, the tree grows 11 leaves, all active, 13.1 KiB
    // by eddy's estimate. With a 6 KiB bound estimated every 200 rows, the least promising
    // leaves are deactivated and the tree stays under the bound after every estimate (it
    // measured 3.6 to 5.9 KiB), while its inactive leaves keep counting classes.
    let mut g = Lcg::new(3);
    let rows: Vec<LabeledRow> = (0..6000)
        .map(|_| {
            let c = ((g.next_f64() * 8.0) as usize).min(7) as f64;
            let mut x: Vec<f64> = (0..6).map(|_| g.next_normal()).collect();
            x[0] = c + 0.25 * x[0];
            (x, Some(c))
        })
        .collect();
    let free = run::<HoeffdingTree>(r#"{"gracePeriod": 50}"#, &rows, rows.len(), None, dense_batch);
    let mut free_op = HoeffdingTree::open_json(r#"{"gracePeriod": 50}"#).unwrap();
    free_op.process(&dense_batch(&rows, 0)).unwrap();
    let unbounded = free_op.tree().clone();
    assert!(!free.models.is_empty());
    assert_eq!(unbounded.n_inactive, 0);

    let max_bytes = 6.0 * 1024.0;
    let cfg = format!(r#"{{"gracePeriod": 50, "maxSize": {}, "memoryEstimatePeriod": 200}}"#, max_bytes / 1048576.0);
    let mut op = HoeffdingTree::open_json(&cfg).unwrap();
    for (k, chunk) in rows.chunks(200).enumerate() {
        op.process(&dense_batch(chunk, (k * 200) as u64)).unwrap();
        let t = op.tree();
        // Right after each estimate (every 200 rows), the estimated size of what is active is
        // within the bound.
        // Right after each size estimate (every 200 rows) the tree is within the bound.
        assert!(t.size_bytes() as f64 <= max_bytes, "after {} rows: {} bytes", (k + 1) * 200, t.size_bytes());
    }
    let t = op.tree();
    println!(
        "bounded: {} active, {} inactive leaves, {} bytes; unbounded: {} leaves, {} bytes",
        t.n_active,
        t.n_inactive,
        t.size_bytes(),
        unbounded.n_leaves(),
        unbounded.size_bytes()
    );
    assert!(t.n_inactive > 0, "some leaves were deactivated");
    assert!(unbounded.size_bytes() as f64 > max_bytes);

    // stopMemManagement: once the bound is hit, the tree stops growing for good.
    let mut op = HoeffdingTree::open_json(&cfg.replace('}', r#", "stopMemManagement": true}"#)).unwrap();
    op.process(&dense_batch(&rows, 0)).unwrap();
    assert!(!op.tree().growth_allowed);
    assert!(op.tree().version < unbounded.version);
}

#[test]
fn bad_rows_leave_state_unchanged() {
    let mut op = HoeffdingTree::open_json(r#"{"gracePeriod": 2}"#).unwrap();
    op.process(&dense_batch(&[(vec![1.0, 2.0], Some(1.0)), (vec![3.0, 2.0], Some(0.0))], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let good = (vec![1.0, 2.0], Some(0.0));

    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, f64::NAN], Some(1.0))], 2)).unwrap_err();
    assert_input_error(&err, 1, "features");
    let err = op.process(&dense_batch(&[good.clone(), good.clone(), (vec![1.0, 2.0, 3.0], Some(0.0))], 2)).unwrap_err();
    assert_input_error(&err, 2, "features");
    assert!(err.to_string().contains("dimension 3"), "{err}");
    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, 2.0], Some(f64::INFINITY))], 2)).unwrap_err();
    assert_input_error(&err, 1, "label");
    let err = op.process(&dense_batch(&[good.clone(), good.clone(), (vec![1e101, 2.0], Some(1.0))], 2)).unwrap_err();
    assert_input_error(&err, 2, "features");
    assert!(err.to_string().contains("1e100"), "{err}");
    assert_eq!(op.snapshot().unwrap(), before, "state unchanged after refused batches");

    let mut op = HoeffdingTree::open_json(r#"{"classes": [0, 1]}"#).unwrap();
    let err = op.process(&dense_batch(&[good.clone(), (vec![1.0, 2.0], Some(2.0))], 0)).unwrap_err();
    assert_input_error(&err, 1, "label");

    let mut op = HoeffdingTree::open_json(r#"{"featuresCol": ["a", "b"]}"#).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&columns_batch(&[good.clone(), good.clone(), (vec![1.0, f64::NAN], Some(1.0))], &["a", "b"], 0)).unwrap_err();
    assert_input_error(&err, 2, "b");
    let err = op.process(&columns_batch(&[good.clone(), (vec![1.0, -1e200], Some(1.0))], &["a", "b"], 0)).unwrap_err();
    assert_input_error(&err, 1, "b");
    assert_eq!(op.snapshot().unwrap(), before);
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"gracePeriod": 0}"#, "gracePeriod"),
        (r#"{"gracePeriod": 2.5}"#, "gracePeriod"),
        (r#"{"maxDepth": -1}"#, "maxDepth"),
        (r#"{"splitCriterion": "entropy"}"#, "splitCriterion"),
        (r#"{"leafPrediction": "knn"}"#, "leafPrediction"),
        (r#"{"delta": 0}"#, "delta"),
        (r#"{"delta": 1}"#, "delta"),
        (r#"{"tau": -0.1}"#, "tau"),
        (r#"{"nbThreshold": -1}"#, "nbThreshold"),
        (r#"{"nSplits": 0}"#, "nSplits"),
        (r#"{"minBranchFraction": 1}"#, "minBranchFraction"),
        (r#"{"maxShareToSplit": 0}"#, "maxShareToSplit"),
        (r#"{"maxSize": 0}"#, "maxSize"),
        (r#"{"memoryEstimatePeriod": 0}"#, "memoryEstimatePeriod"),
        (r#"{"stopMemManagement": 1}"#, "stopMemManagement"),
        (r#"{"classes": [1, 1.0]}"#, "classes"),
        (r#"{"featuresCol": []}"#, "featuresCol"),
        (r#"{"grace_period": 10}"#, "grace_period"),
    ] {
        assert_config_error::<HoeffdingTree>(cfg, param);
    }
}

#[test]
fn describe_declares_every_parameter_with_a_doc() {
    let info = HoeffdingTree::describe();
    assert_eq!(info.kind, eddy_sdk::OperatorKind::Classifier);
    for p in &info.params {
        assert!(!p.doc.is_empty(), "{}", p.name);
        if let Some(d) = &p.default_value {
            serde_json::from_str::<Value>(d).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
    let readme = include_str!("../README.md");
    for p in &info.params {
        assert!(readme.contains(&format!("| `{}` |", p.name)), "README documents {}", p.name);
    }
}

#[test]
fn snapshot_from_another_operator_is_refused() {
    let mut op = HoeffdingTree::open_json("{}").unwrap();
    let bytes = eddy_sdk::snapshot::seal(&eddy_sdk::OperatorInfo { name: "Other".into(), ..HoeffdingTree::describe() }, &1u8).unwrap();
    assert!(matches!(op.restore(&bytes), Err(eddy_sdk::OperatorError::Internal(_))));
}
