//! HalfSpaceTrees natively: scores equal to river 0.26.1's, bit for bit, on recorded streams;
//! mass counting and the window swap followed by hand; a planted outlier scored above normal
//! rows; the same outputs, models and state whatever the batch sizes and across a snapshot and
//! restore; limits that bound the split points; and refusals of bad rows and configs.

use std::path::PathBuf;
use std::sync::Arc;

use eddy_half_space_trees::{Forest, HalfSpaceTrees};
use eddy_sdk::Operator;
use eddy_sdk::arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_testkit::*;
use serde_json::{Value, json};

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

/// A recorded case: its eddy config (label column renamed `label`), its rows (features, 0/1
/// label) and river's scores.
fn case(name: &str) -> (Value, Vec<LabeledRow>, Vec<f64>) {
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(reference_dir().join("cases.json")).unwrap()).unwrap();
    let mut config = cases[name]["config"].clone();
    config["labelCol"] = json!("label");
    let text = std::fs::read_to_string(reference_dir().join(cases[name]["file"].as_str().unwrap())).unwrap();
    let mut rows = Vec::new();
    let mut scores = Vec::new();
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let (x, rest) = v.split_at(v.len() - 2);
        rows.push((x.to_vec(), Some(rest[0])));
        scores.push(rest[1]);
    }
    (config, rows, scores)
}

fn names(config: &Value) -> Vec<String> {
    config["featuresCol"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

fn by_columns(rows: &[LabeledRow], names: &[String], seq0: u64) -> RecordBatch {
    let n: Vec<&str> = names.iter().map(String::as_str).collect();
    columns_batch(rows, &n, seq0)
}

/// The scores of `rows` fed in one batch to an operator opened with `config`.
fn scores(config: &str, rows: &[LabeledRow], make: impl Fn(&[LabeledRow], u64) -> RecordBatch) -> Vec<f64> {
    let mut op = HalfSpaceTrees::open_json(config).unwrap();
    let out = op.process(&make(rows, 0)).unwrap();
    f64_col(&out.outputs, "anomalyScore").into_iter().map(Option::unwrap).collect()
}

/// ROC AUC by the rank-sum formula, ties counted half.
fn auc(scores: &[f64], labels: &[f64]) -> f64 {
    let mut s: Vec<(f64, bool)> = scores.iter().zip(labels).map(|(s, l)| (*s, *l == 1.0)).collect();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = s.iter().filter(|x| x.1).count() as f64;
    let neg = s.len() as f64 - pos;
    let (mut i, mut rank_sum) = (0, 0.0);
    while i < s.len() {
        let j = i + s[i..].iter().take_while(|x| x.0 == s[i].0).count();
        rank_sum += (i + 1 + j) as f64 / 2.0 * s[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[test]
fn scores_equal_rivers_bit_for_bit() {
    for name in ["tiny", "planted", "shuttle"] {
        let (config, rows, want) = case(name);
        let cols = names(&config);
        let got = scores(&config.to_string(), &rows, |r, s| by_columns(r, &cols, s));
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{name}: row {i}: eddy {g}, river {w}");
        }
        // The same rows as a vector column, with list limits in place of named ones.
        if let Some(limits) = config["limits"].as_object() {
            let list: Vec<Value> = cols.iter().map(|c| limits[c].clone()).collect();
            let cfg = json!({"nTrees": config["nTrees"], "height": config["height"], "windowSize": config["windowSize"],
                "seed": config["seed"], "limits": list});
            assert_eq!(scores(&cfg.to_string(), &rows, dense_batch), got, "{name}: vector column");
        }
    }
}

#[test]
fn masses_and_window_swap_by_hand() {
    // One tree of height 2 over one feature in [0, 1]: every split point lies strictly inside
    // (0, 1), so 0.0 always goes left (nodes 0, 1, 3) and 1.0 always right (0, 2, 6).
    let config = r#"{"nTrees": 1, "height": 2, "windowSize": 3, "labelCol": "label"}"#;
    let mut op = HalfSpaceTrees::open_json(config).unwrap();
    let row = |v: f64| (vec![v], None);
    let out = op.process(&dense_batch(&[row(0.0), row(0.0)], 0)).unwrap();
    assert_eq!(f64_col(&out.outputs, "anomalyScore"), vec![Some(0.0); 2], "the first window scores 0");
    assert!(out.models.is_none());
    let f: &Forest = op.forest().unwrap();
    assert_eq!(f.l_mass, [2, 2, 0, 2, 0, 0, 0], "latest window: two rows down the left edge");
    assert_eq!(f.r_mass, [0; 7]);
    assert!(f.threshold.iter().all(|t| *t > 0.0 && *t < 1.0));

    // The third row fills the window: its masses become the reference.
    let out = op.process(&dense_batch(&[row(1.0)], 2)).unwrap();
    assert_eq!(f64_col(&out.outputs, "anomalyScore"), vec![Some(0.0)]);
    assert_eq!(i64_col(&out.outputs, "modelVersion"), vec![0]);
    let models = out.models.expect("a model at the swap");
    assert_eq!(canon(&models)[0].split(' ').find(|c| c.starts_with("mass=")).unwrap(), "mass=[[3,2,1,2,0,0,1]]");
    assert_eq!(models.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().value(0), 2);
    let f = op.forest().unwrap();
    assert_eq!((f.r_mass.as_slice(), f.l_mass.as_slice()), ([3, 2, 1, 2, 0, 0, 1].as_slice(), [0; 7].as_slice()));
    assert_eq!((op.version(), op.rows_in_window()), (1, 0));

    // Scores: sum of r_mass * 2^depth along the path (no node is under the size limit 0.3),
    // over the largest possible 1 tree * 3 rows * (1 + 2 + 4) = 21, flipped.
    let out = op.process(&dense_batch(&[row(0.0), row(1.0)], 3)).unwrap();
    let left = 1.0 - (3.0 * 1.0 + 2.0 * 2.0 + 2.0 * 4.0) / 21.0;
    let right = 1.0 - (3.0 * 1.0 + 1.0 * 2.0 + 1.0 * 4.0) / 21.0;
    assert_eq!(f64_col(&out.outputs, "anomalyScore"), vec![Some(left), Some(right)]);
    assert_eq!(i64_col(&out.outputs, "modelVersion"), vec![1, 1]);
    assert!(right > left, "the rarer path scores higher");
    assert_eq!(op.forest().unwrap().l_mass, [2, 1, 1, 1, 0, 0, 1]);
    assert_eq!(op.forest().unwrap().r_mass, [3, 2, 1, 2, 0, 0, 1], "the reference stays until the window fills");

    // A path that reaches a node the reference window never visited stops there: with the
    // left edge only in the reference, 1.0 scores 3 (root) + 0 * 2 and no more.
    let mut op = HalfSpaceTrees::open_json(config).unwrap();
    let out = op.process(&dense_batch(&[row(0.0), row(0.0), row(0.0), row(1.0)], 0)).unwrap();
    assert_eq!(f64_col(&out.outputs, "anomalyScore")[3], Some(1.0 - 3.0 / 21.0));

    // With windows of 20 the size limit is 2: after 19 rows down the left edge and one down
    // the right, 1.0 meets node 2 with mass 1, adds 1 * 2 and stops there (its leaf, also of
    // mass 1, is not added), out of 1 tree * 20 rows * 7.
    let mut op = HalfSpaceTrees::open_json(r#"{"nTrees": 1, "height": 2, "windowSize": 20}"#).unwrap();
    let mut rows = vec![row(0.0); 19];
    rows.push(row(1.0));
    op.process(&dense_batch(&rows, 0)).unwrap();
    assert_eq!(op.forest().unwrap().r_mass, [20, 19, 1, 19, 0, 0, 1]);
    let out = op.process(&dense_batch(&[row(1.0)], 20)).unwrap();
    assert_eq!(f64_col(&out.outputs, "anomalyScore"), vec![Some(1.0 - (20.0 + 1.0 * 2.0) / 140.0)]);
}

#[test]
fn a_planted_outlier_scores_above_every_normal_row() {
    let mut g = Lcg::new(5);
    let mut rows: Vec<LabeledRow> =
        (0..400).map(|_| (vec![0.5 + 0.05 * g.next_normal(), 0.4 + 0.05 * g.next_normal()], Some(0.0))).collect();
    rows[333] = (vec![0.05, 0.95], Some(1.0));
    let s = scores(r#"{"windowSize": 100, "labelCol": "label"}"#, &rows, dense_batch);
    let normal_max = s[100..].iter().enumerate().filter(|(i, _)| *i + 100 != 333).map(|(_, v)| *v).fold(0.0, f64::max);
    assert!(s[333] > normal_max, "outlier {} vs normal rows up to {normal_max}", s[333]);
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));

    // On the planted reference stream (one row in 20 an anomaly), the ROC AUC is high.
    let (config, rows, _) = case("planted");
    let cols = names(&config);
    let s = scores(&config.to_string(), &rows, |r, q| by_columns(r, &cols, q));
    let labels: Vec<f64> = rows.iter().map(|r| r.1.unwrap()).collect();
    let a = auc(&s[40..], &labels[40..]);
    assert!(a > 0.95, "ROC AUC after the first window {a}");
}

fn stream(n: usize, seed: u64) -> Vec<LabeledRow> {
    let mut g = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let outlier = i % 37 == 36;
            let x: Vec<f64> =
                (0..3).map(|j| if outlier { g.next_f64() * 1.4 - 0.2 } else { 0.3 + 0.1 * j as f64 + 0.05 * g.next_normal() }).collect();
            // Some exact zeros, so that sparse rows leave values out.
            let x = if i % 11 == 0 { vec![0.0, x[1], x[2]] } else { x };
            (x, if i % 5 == 4 { None } else { Some(f64::from(u8::from(outlier))) })
        })
        .collect()
}

fn abc(rows: &[LabeledRow], seq0: u64) -> RecordBatch {
    columns_batch(rows, &["a", "b", "c"], seq0)
}

#[test]
fn batch_sizes_and_restores_change_nothing() {
    let rows = stream(1100, 3);
    let vector = r#"{"nTrees": 5, "height": 6, "windowSize": 97, "seed": 9, "labelCol": "label"}"#;
    // Restores inside a window, right at a swap (97 * 4), and right after one.
    let at = [1, 50, 388, 389, 1000];
    assert_batch_independent::<HalfSpaceTrees>(vector, &rows, dense_batch, &at);
    assert_batch_independent::<HalfSpaceTrees>(vector, &rows, sparse_batch, &at);
    let columns = r#"{"featuresCol": ["a", "b", "c"], "nTrees": 5, "height": 6, "windowSize": 97, "seed": 9, "labelCol": "label"}"#;
    assert_batch_independent::<HalfSpaceTrees>(columns, &rows, abc, &at);
    let dense = run::<HalfSpaceTrees>(vector, &rows, 64, None, dense_batch);
    assert_eq!(run::<HalfSpaceTrees>(vector, &rows, 64, None, sparse_batch), dense, "sparse and dense rows are the same rows");
    assert_eq!(run::<HalfSpaceTrees>(columns, &rows, 64, None, abc).outputs, dense.outputs, "columns or a vector: the same scores");
    assert_eq!(dense.models.len(), 1100 / 97, "a model per window swap");

    // Labels are for evaluation only: without them (or without the label column), the same.
    let unlabelled: Vec<LabeledRow> = rows.iter().map(|r| (r.0.clone(), None)).collect();
    assert_eq!(run::<HalfSpaceTrees>(vector, &unlabelled, 64, None, dense_batch), dense);
    let no_label_col = r#"{"nTrees": 5, "height": 6, "windowSize": 97, "seed": 9}"#;
    assert_eq!(run::<HalfSpaceTrees>(no_label_col, &rows, 64, None, dense_batch).outputs, dense.outputs);
}

#[test]
fn a_snapshot_before_the_first_row_restores_and_the_trees_grow_alike() {
    let rows = stream(300, 4);
    let config = r#"{"windowSize": 50}"#;
    let whole = run::<HalfSpaceTrees>(config, &rows, 300, None, dense_batch);
    let fresh = HalfSpaceTrees::open_json(config).unwrap();
    assert!(fresh.forest().is_none(), "a vector column's dimension comes with the first row");
    let mut op = HalfSpaceTrees::open_json(config).unwrap();
    op.restore(&fresh.snapshot().unwrap()).unwrap();
    let out = op.process(&dense_batch(&rows, 0)).unwrap();
    assert_eq!(canon(&out.outputs), whole.outputs);
    assert_eq!(op.snapshot().unwrap(), whole.snapshot);
    // A snapshot is its state's postcard bytes: a round trip gives the same bytes.
    let mut again = HalfSpaceTrees::open_json(config).unwrap();
    again.restore(&whole.snapshot).unwrap();
    assert_eq!(again.snapshot().unwrap(), whole.snapshot);
}

#[test]
fn publishing_off_changes_nothing_but_the_models() {
    let rows = stream(500, 6);
    let config = r#"{"windowSize": 60, "labelCol": "label"}"#;
    let mut on = HalfSpaceTrees::open_json(config).unwrap();
    let mut off = HalfSpaceTrees::open_json(config).unwrap();
    off.set_publish_models(false);
    for (k, chunk) in rows.chunks(70).enumerate() {
        let (a, b) = (on.process(&dense_batch(chunk, 70 * k as u64)).unwrap(), off.process(&dense_batch(chunk, 70 * k as u64)).unwrap());
        assert_eq!(canon(&a.outputs), canon(&b.outputs));
        assert!(b.models.is_none());
    }
    assert_eq!(on.snapshot().unwrap(), off.snapshot().unwrap());
    assert_eq!(canon(&on.model_data().unwrap()), canon(&off.model_data().unwrap()));
    assert_eq!(on.version(), 500 / 60);
}

#[test]
fn limits_bound_every_split_and_values_outside_are_scored() {
    let limits = [(-5.0, 5.0), (100.0, 2000.0), (0.0, 1.0)];
    let list = r#"{"featuresCol": ["a", "b", "c"], "nTrees": 6, "height": 7, "limits": [[-5, 5], [100, 2000], [0, 1]]}"#;
    let op = HalfSpaceTrees::open_json(list).unwrap();
    let f = op.forest().expect("a list of columns fixes the dimension: the trees grow at open");
    // Every split point lies in the middle 70% of its node's range of its feature.
    for t in 0..f.n_trees {
        let splits = f.splits_per_tree();
        let mut checked = 0;
        let mut stack = vec![(0usize, limits.to_vec())];
        while let Some((node, lim)) = stack.pop() {
            if node >= splits {
                continue;
            }
            let (feat, at) = (f.feature[t * splits + node] as usize, f.threshold[t * splits + node]);
            let (lo, hi) = lim[feat];
            assert!(
                at >= lo + 0.15 * (hi - lo) && at < hi - 0.15 * (hi - lo) + 1e-12,
                "tree {t} node {node}: {at} not in padded [{lo}, {hi}]"
            );
            checked += 1;
            let (mut l, mut r) = (lim.clone(), lim);
            l[feat].1 = at;
            r[feat].0 = at;
            stack.push((2 * node + 1, l));
            stack.push((2 * node + 2, r));
        }
        assert_eq!(checked, splits);
    }
    // Features are chosen in proportion to their range: the widest one at nearly every root.
    let roots_on_b = (0..f.n_trees).filter(|t| f.feature[t * f.splits_per_tree()] == 1).count();
    assert!(roots_on_b >= 5, "{roots_on_b} of 6 roots split the widest feature");

    // By name: the same trees; an unnamed column keeps [0, 1].
    let by_name = r#"{"featuresCol": ["a", "b", "c"], "nTrees": 6, "height": 7, "limits": {"a": [-5, 5], "b": [100, 2000]}}"#;
    assert_eq!(HalfSpaceTrees::open_json(by_name).unwrap().forest(), Some(f));

    // Values outside the limits are neither refused nor clipped: they take the outermost
    // branches and score like any row there.
    let rows: Vec<LabeledRow> = (0..300).map(|i| (vec![(i % 10) as f64 - 4.5, 1000.0 + i as f64, 0.5], None)).collect();
    let mut probe = rows.clone();
    probe.push((vec![-50.0, 1e6, 7.0], None));
    let s = scores(list, &probe, abc);
    assert!(s[300] > s[250..300].iter().copied().fold(0.0, f64::max), "a row far outside the limits scores high");
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn bad_rows_are_refused_naming_row_and_column_and_nothing_is_learned() {
    let config = r#"{"featuresCol": ["a", "b", "c"], "windowSize": 4, "labelCol": "label"}"#;
    let mut op = HalfSpaceTrees::open_json(config).unwrap();
    op.process(&abc(&stream(3, 1), 0)).unwrap();
    let before = op.snapshot().unwrap();
    let good = stream(6, 2);

    let mut nan = good.clone();
    nan[4].0[1] = f64::NAN;
    assert_input_error(&op.process(&abc(&nan, 3)).unwrap_err(), 4, "b");
    let mut inf = good.clone();
    inf[2].0[2] = f64::INFINITY;
    inf[5].0[0] = f64::NAN;
    assert_input_error(&op.process(&abc(&inf, 3)).unwrap_err(), 2, "c");
    let mut label = good.clone();
    label[3].1 = Some(2.0);
    assert_input_error(&op.process(&abc(&label, 3)).unwrap_err(), 3, "label");

    // A missing value (null) in a feature column.
    let batch = abc(&good, 3);
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols[0] = Arc::new(Float64Array::from(vec![Some(0.1), Some(0.2), None, Some(0.3), Some(0.4), Some(0.5)]));
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| if f.name() == "a" { Field::new("a", DataType::Float64, true) } else { f.as_ref().clone() })
        .collect();
    let missing = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    assert_input_error(&op.process(&missing).unwrap_err(), 2, "a");
    assert_eq!(op.snapshot().unwrap(), before, "refused batches leave the state as it was");
    op.process(&abc(&good, 3)).unwrap();

    // A vector column: its dimension is fixed by the first row (or by `limits`).
    let mut op = HalfSpaceTrees::open_json(r#"{"windowSize": 4}"#).unwrap();
    op.process(&dense_batch(&good, 0)).unwrap();
    let before = op.snapshot().unwrap();
    let mut short = good.clone();
    short[3].0.pop();
    assert_input_error(&op.process(&dense_batch(&short, 6)).unwrap_err(), 3, "features");
    let two: Vec<LabeledRow> = good.iter().map(|r| (r.0[..2].to_vec(), None)).collect();
    assert_input_error(&op.process(&dense_batch(&two, 6)).unwrap_err(), 0, "features");
    assert_eq!(op.snapshot().unwrap(), before);
    let mut op = HalfSpaceTrees::open_json(r#"{"limits": [[0, 1], [0, 2]]}"#).unwrap();
    assert_input_error(&op.process(&dense_batch(&good, 0)).unwrap_err(), 0, "features");
}

#[test]
fn bad_configs_are_refused_naming_the_parameter() {
    for (config, param) in [
        (r#"{"nTrees": 0}"#, "nTrees"),
        (r#"{"height": 0}"#, "height"),
        (r#"{"height": 24}"#, "height"),
        (r#"{"nTrees": 1000, "height": 14}"#, "nTrees"),
        (r#"{"windowSize": 0}"#, "windowSize"),
        (r#"{"windowSize": 4294967296}"#, "windowSize"),
        (r#"{"seed": 1.5}"#, "seed"),
        (r#"{"featuresCol": []}"#, "featuresCol"),
        (r#"{"limits": []}"#, "limits"),
        (r#"{"limits": [[1, 0]]}"#, "limits.0"),
        (r#"{"limits": [[0, 1], [0, 0]]}"#, "limits.1"),
        (r#"{"limits": [[-1e308, 1e308]]}"#, "limits.0"),
        (r#"{"limits": "wide"}"#, "limits"),
        (r#"{"limits": {"a": [0, 1]}}"#, "limits"),
        (r#"{"featuresCol": ["a", "b"], "limits": [[0, 1]]}"#, "limits"),
        (r#"{"featuresCol": ["a", "b"], "limits": {"c": [0, 1]}}"#, "limits.c"),
        (r#"{"featuresCol": ["a", "b"], "limits": {"b": [2, 1]}}"#, "limits.b"),
        (r#"{"windowsize": 10}"#, "windowsize"),
    ] {
        assert_config_error::<HalfSpaceTrees>(config, param);
    }
}

#[test]
fn describes_itself_as_an_anomaly_detector_with_documented_defaults() {
    let info = HalfSpaceTrees::describe();
    assert_eq!(info.kind, eddy_sdk::OperatorKind::AnomalyDetector);
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for p in &info.params {
        assert!(readme.contains(&format!("`{}`", p.name)), "README documents {}", p.name);
        if let Some(d) = &p.default_value {
            serde_json::from_str::<Value>(d).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
    }
    let cols: Vec<String> =
        HalfSpaceTrees::open_json(r#"{"labelCol": "y"}"#).unwrap().input_columns().into_iter().map(|c| c.name).collect();
    assert_eq!(cols, ["features", "y"]);
    assert_eq!(HalfSpaceTrees::open_json("{}").unwrap().input_columns().len(), 1, "no label column unless asked");
}
