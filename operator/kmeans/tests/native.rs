//! OnlineKMeans natively: the Flink ML random-initial-model conformance case, the initial model
//! as version 0, batch-size independence, restore at any row, bad input and bad config.

use std::sync::Arc;

use eddy_kmeans::OnlineKMeans;
use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::java_random::JavaRandom;
use eddy_sdk::{Operator, OperatorError, VectorBuilder, vector_field};
use serde_json::{Value, json};

/// A batch with one dense vector column `features` (a `None` row is a null vector).
fn batch(rows: &[Option<Vec<f64>>], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for x in rows {
        match x {
            Some(x) => v.append_dense(x),
            None => v.append_null(),
        }
    }
    let seq = UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64);
    let schema = Schema::new(vec![vector_field("features", true), Field::new("__seq", DataType::UInt64, false)]);
    let cols: Vec<ArrayRef> = vec![Arc::new(v.finish()), Arc::new(seq)];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn dense(rows: &[Vec<f64>], seq0: u64) -> RecordBatch {
    batch(&rows.iter().cloned().map(Some).collect::<Vec<_>>(), seq0)
}

/// A batch of sparse vectors (zeros left out).
fn sparse(rows: &[Vec<f64>], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for x in rows {
        let (ix, vals): (Vec<i32>, Vec<f64>) = x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as i32, *v)).unzip();
        v.append_sparse(x.len() as i64, &ix, &vals);
    }
    let seq = UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64);
    let schema = Schema::new(vec![vector_field("features", true), Field::new("__seq", DataType::UInt64, false)]);
    let cols: Vec<ArrayRef> = vec![Arc::new(v.finish()), Arc::new(seq)];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

/// A batch with one Float64 column per coordinate, named `x0`, `x1`, ...
fn columns(rows: &[Vec<f64>], seq0: u64) -> RecordBatch {
    let d = rows[0].len();
    let mut fields: Vec<Field> = (0..d).map(|j| Field::new(format!("x{j}"), DataType::Float64, true)).collect();
    let mut cols: Vec<ArrayRef> = (0..d).map(|j| Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r[j]))) as ArrayRef).collect();
    fields.push(Field::new("__seq", DataType::UInt64, false));
    cols.push(Arc::new(UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64)));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn conformance() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/kmeans_random_init.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("shared/conformance beside the repo")).unwrap()
}

fn vecs(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

fn i64s(b: &RecordBatch, col: &str) -> Vec<i64> {
    b.column_by_name(col).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
}

fn seqs(b: &RecordBatch) -> Vec<u64> {
    b.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec()
}

fn list(a: &dyn Array) -> Vec<f64> {
    a.as_any().downcast_ref::<Float64Array>().unwrap().values().to_vec()
}

/// One published model: centroids, weights, version.
type Published = (Vec<Vec<f64>>, Vec<f64>, i64);

fn models(b: &Option<RecordBatch>) -> Vec<Published> {
    let Some(b) = b else { return Vec::new() };
    let c = b.column_by_name("centroids").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    let w = b.column_by_name("weights").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    let v = i64s(b, "modelVersion");
    (0..b.num_rows())
        .map(|r| {
            let cs = c.value(r);
            let cs = cs.as_any().downcast_ref::<ListArray>().unwrap();
            ((0..cs.len()).map(|i| list(cs.value(i).as_ref())).collect(), list(w.value(r).as_ref()), v[r])
        })
        .collect()
}

fn sorted_by_x(mut c: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    c.sort_by(|a, b| a[0].total_cmp(&b[0]));
    c
}

fn assert_close(got: &[Vec<f64>], want: &[Vec<f64>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() < 1e-9, "{what}: {g:?} vs {w:?}");
        }
    }
}

/// Predicts `rows` with a copy of `op` (restored from its snapshot), so they are not learnt.
fn predict_only(op: &OnlineKMeans, cfg: &str, rows: &[Vec<f64>]) -> (Vec<i64>, Vec<i64>) {
    let mut fork = OnlineKMeans::open_json(cfg).unwrap();
    fork.restore(&op.snapshot().unwrap()).unwrap();
    let out = fork.process(&dense(rows, 1_000_000)).unwrap().outputs;
    (i64s(&out, "prediction"), i64s(&out, "modelVersion"))
}

#[test]
fn flink_ml_random_init_conformance() {
    let c = conformance();
    let r = &c["initialModel"]["random"];
    let mut cfg = c["params"].clone();
    cfg["initialModel"] = json!({"random": {"seed": r["seed"], "dim": r["dim"], "weight": r["weight"]}});
    let cfg = cfg.to_string();
    let mut op = OnlineKMeans::open_json(&cfg).unwrap();
    let train = vecs(&c["train"]);
    let predict = vecs(&c["predictRows"]);

    // Before any row: model data is the initial model, version 0.
    let m0 = models(&Some(op.model_data().unwrap()));
    assert_eq!(m0, vec![(vecs(&c["initialModel"]["centroids"]), list_of(&c["initialModel"]["weights"]), 0)]);
    assert!(op.model_data().unwrap().column_by_name("__seq").is_none());

    let mut seen_rows = 0;
    for (i, exp) in c["expected"].as_array().unwrap().iter().enumerate() {
        let upto = exp["afterRows"].as_u64().unwrap() as usize;
        let out = op.process(&dense(&train[seen_rows..upto], seen_rows as u64)).unwrap();
        seen_rows = upto;
        let published = models(&out.models);
        // The first call publishes the initial model (version 0) before the first update.
        let expected_versions: Vec<i64> = if i == 0 { vec![0, 1] } else { vec![2] };
        assert_eq!(published.iter().map(|m| m.2).collect::<Vec<_>>(), expected_versions);
        // Each model row names the input row that published it.
        let by: Vec<u64> = if i == 0 { vec![0, 5] } else { vec![11] };
        assert_eq!(seqs(out.models.as_ref().unwrap()), by);
        if i == 0 {
            assert_eq!(published[0].0, vecs(&c["initialModel"]["centroids"]));
        }
        // Every training row was assigned with the model in force before this batch.
        assert_eq!(i64s(&out.outputs, "modelVersion"), vec![i as i64; 6]);
        assert_eq!(seqs(&out.outputs), ((upto - 6) as u64..upto as u64).collect::<Vec<_>>());
        let (cents, weights, _) = published.last().unwrap().clone();
        let want = vecs(&exp["centroidsSortedByX"]);
        assert_close(&sorted_by_x(cents.clone()), &want, "centroids");
        assert_eq!(weights, list_of(&exp["weights"]));

        let (pred, ver) = predict_only(&op, &cfg, &predict);
        assert_eq!(ver, vec![i as i64 + 1; 6]);
        if i == 0 {
            assert!(pred[0] == pred[1] && pred[1] == pred[2], "{pred:?}");
            assert!(pred[3] == pred[4] && pred[4] == pred[5], "{pred:?}");
            assert_ne!(pred[0], pred[3], "{pred:?}");
            // The first three rows (x = +10) go to the centroid near x = +10.1.
            assert!((cents[pred[0] as usize][0] - 10.1).abs() < 1e-9);
        } else {
            assert!(pred.iter().all(|p| *p == pred[0]), "{pred:?}");
        }
    }
    assert_eq!(op.pending_rows(), 0);
}

fn list_of(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn explicit_initial_model_and_trailing_partial_batch() {
    let cfg = json!({"k": 2, "globalBatchSize": 3, "decayFactor": 0.5,
        "initialModel": {"centroids": [[0.0, 0.0], [10.0, 10.0]], "weights": [1.0, 2.0]}})
    .to_string();
    let mut op = OnlineKMeans::open_json(&cfg).unwrap();
    // An empty call publishes nothing; the initial model goes out with the first row, which
    // names it by its `__seq`.
    assert!(op.process(&dense(&[], 0)).unwrap().models.is_none());
    let out = op.process(&dense(&[vec![1.0, 1.0], vec![2.0, 2.0], vec![9.0, 9.0], vec![0.0, 0.0]], 0)).unwrap();
    assert_eq!(i64s(&out.outputs, "prediction"), vec![0, 0, 1, 0]);
    assert_eq!(i64s(&out.outputs, "modelVersion"), vec![0, 0, 0, 1]);
    let all = models(&out.models);
    assert_eq!(all[0], (vec![vec![0.0, 0.0], vec![10.0, 10.0]], vec![1.0, 2.0], 0));
    assert_eq!(seqs(out.models.as_ref().unwrap()), vec![0, 2], "published by rows 0 and 2");
    let m = &all[1..];
    assert_eq!(m.len(), 1);
    // w0 = 0.5 * 1 + 2 = 2.5, lambda = 2 / 2.5: c0 = 0 * 0.2 + (0.8 / 2) * 3 = 1.2.
    // w1 = 0.5 * 2 + 1 = 2, lambda = 0.5: c1 = 10 * 0.5 + 0.5 * 9 = 9.5.
    assert_eq!(m[0].1, vec![2.5, 2.0]);
    assert_close(&m[0].0, &[vec![1.2, 1.2], vec![9.5, 9.5]], "decayed centroids");
    assert_eq!(op.pending_rows(), 1, "the fourth row waits in the partial batch");
    // Nothing more is published without more rows, and the initial model only once.
    assert!(op.process(&dense(&[], 4)).unwrap().models.is_none());
}

/// Deterministic clustered data: `n` rows of dimension 3 around 4 centres.
fn data(n: usize, seed: i64) -> Vec<Vec<f64>> {
    let mut r = JavaRandom::new(seed);
    let centres = [[5.0, 0.0, 1.0], [-5.0, 2.0, 0.0], [0.0, -6.0, 3.0], [1.0, 1.0, -7.0]];
    (0..n)
        .map(|_| {
            let c = centres[(r.next_double() * 4.0) as usize];
            c.iter().map(|x| x + (r.next_double() - 0.5) * 4.0).collect()
        })
        .collect()
}

/// Everything a run produced: (prediction, version, seq) per output row, models with the
/// `__seq` that published each, final snapshot.
type Run = (Vec<(i64, i64, u64)>, Vec<(Published, u64)>, Vec<u8>);

fn run_chunks(cfg: &str, rows: &[Vec<f64>], chunk: usize, restore_at: Option<usize>) -> Run {
    let mut op = OnlineKMeans::open_json(cfg).unwrap();
    let mut outs = Vec::new();
    let mut ms = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = (start + chunk).min(rows.len());
        if let Some(s) = restore_at
            && start < s
            && end > s
        {
            end = s;
        }
        let out = op.process(&dense(&rows[start..end], start as u64)).unwrap();
        let (p, v, q) = (i64s(&out.outputs, "prediction"), i64s(&out.outputs, "modelVersion"), seqs(&out.outputs));
        outs.extend((0..p.len()).map(|i| (p[i], v[i], q[i])));
        if let Some(m) = &out.models {
            ms.extend(models(&out.models).into_iter().zip(seqs(m)));
        }
        start = end;
        if restore_at == Some(end) {
            let snap = op.snapshot().unwrap();
            op = OnlineKMeans::open_json(cfg).unwrap();
            op.restore(&snap).unwrap();
        }
    }
    (outs, ms, op.snapshot().unwrap())
}

fn configs() -> Vec<String> {
    ["euclidean", "manhattan", "cosine"]
        .iter()
        .map(|d| {
            json!({"k": 4, "distanceMeasure": d, "globalBatchSize": 16, "decayFactor": 0.5,
                "initialModel": {"random": {"seed": 7, "dim": 3, "weight": 1.0}}})
            .to_string()
        })
        .collect()
}

#[test]
fn batch_size_independence() {
    let rows = data(500, 1);
    for cfg in configs() {
        let whole = run_chunks(&cfg, &rows, rows.len(), None);
        assert_eq!(whole.0.len(), rows.len());
        assert_eq!(whole.1.len(), 1 + 500 / 16, "initial model + one per full batch");
        for chunk in [1, 7, 1000] {
            assert!(run_chunks(&cfg, &rows, chunk, None) == whole, "{cfg}: chunk {chunk} differs");
        }
    }
}

#[test]
fn restore_at_any_row_continues_identically() {
    let rows = data(300, 2);
    for cfg in configs() {
        let whole = run_chunks(&cfg, &rows, 7, None);
        for at in [0, 1, 15, 16, 17, 150, 299, 300] {
            assert!(run_chunks(&cfg, &rows, 7, Some(at)) == whole, "{cfg}: restore at {at} differs");
        }
    }
}

#[test]
fn dimension_from_first_row_sparse_and_column_features() {
    let rows = data(100, 3);
    let base = json!({"k": 3, "globalBatchSize": 10, "initialModel": {"random": {"seed": 3}}});
    let mut a = OnlineKMeans::open_json(&base.to_string()).unwrap();
    assert_eq!(a.model_data().unwrap().num_rows(), 1, "model data before the dimension is known");
    let out_a = a.process(&dense(&rows, 0)).unwrap();
    assert_eq!(models(&out_a.models)[0].0.len(), 3);
    assert_eq!(models(&out_a.models)[0].0[0].len(), 3, "dimension taken from the first row");

    let mut b = OnlineKMeans::open_json(&base.to_string()).unwrap();
    let out_b = b.process(&sparse(&rows, 0)).unwrap();
    assert_eq!(i64s(&out_a.outputs, "prediction"), i64s(&out_b.outputs, "prediction"));
    assert_eq!(models(&out_a.models), models(&out_b.models));

    let mut cfg = base.clone();
    cfg["featuresCol"] = json!(["x0", "x1", "x2"]);
    let mut c = OnlineKMeans::open_json(&cfg.to_string()).unwrap();
    let out_c = c.process(&columns(&rows, 0)).unwrap();
    assert_eq!(i64s(&out_a.outputs, "prediction"), i64s(&out_c.outputs, "prediction"));
    assert_eq!(models(&out_a.models), models(&out_c.models));
}

fn input_err(e: OperatorError) -> (u32, Option<String>, String) {
    match e {
        OperatorError::InvalidInput(i) => (i.row, i.column, i.message),
        other => panic!("expected an input error, got {other}"),
    }
}

/// Rows of a hand-made batch (`None` is a null vector).
type Rows = Vec<Option<Vec<f64>>>;

#[test]
fn bad_rows_leave_state_unchanged() {
    let cfg = json!({"k": 2, "globalBatchSize": 2, "distanceMeasure": "cosine",
        "initialModel": {"random": {"seed": 0, "dim": 2}}})
    .to_string();
    let mut op = OnlineKMeans::open_json(&cfg).unwrap();
    op.process(&dense(&[vec![1.0, 2.0]], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let cases: Vec<(Rows, u32, &str)> = vec![
        (vec![Some(vec![1.0, 2.0]), Some(vec![1.0, f64::NAN])], 1, "non-finite"),
        (vec![Some(vec![1.0, 2.0, 3.0])], 0, "dimension 3"),
        (vec![Some(vec![1.0, 2.0]), None], 1, "missing"),
        (vec![Some(vec![1.0, 2.0]), Some(vec![0.0, 0.0])], 1, "zero vector"),
    ];
    for (rows, row, msg) in cases {
        let (r, col, m) = input_err(op.process(&batch(&rows, 1)).unwrap_err());
        assert_eq!((r, col.as_deref()), (row, Some("features")), "{m}");
        assert!(m.contains(msg), "{m}");
        assert_eq!(op.snapshot().unwrap(), before, "state changed by a refused batch ({msg})");
    }
    let mut cols =
        OnlineKMeans::open_json(&json!({"featuresCol": ["x0", "x1"], "initialModel": {"random": {"seed": 0}}}).to_string()).unwrap();
    let bad = columns(&[vec![1.0, 2.0], vec![f64::INFINITY, 0.0]], 0);
    let (r, col, _) = input_err(cols.process(&bad).unwrap_err());
    assert_eq!((r, col.as_deref()), (1, Some("x0")));
}

#[test]
fn bad_config_names_the_parameter() {
    let init = json!({"random": {"seed": 0, "dim": 2}});
    for (cfg, param) in [
        (json!({"initialModel": init, "kk": 2}), "kk"),
        (json!({"initialModel": init, "k": 1}), "k"),
        (json!({"initialModel": init, "distanceMeasure": "chebyshev"}), "distanceMeasure"),
        (json!({"initialModel": init, "decayFactor": 1.5}), "decayFactor"),
        (json!({"initialModel": init, "globalBatchSize": 0}), "globalBatchSize"),
        (json!({"initialModel": init, "modelVersionCol": "prediction"}), "modelVersionCol"),
        (json!({}), "initialModel"),
        (json!({"initialModel": {"random": {"seed": 0}, "centroids": [[1.0]]}}), "initialModel"),
        (json!({"initialModel": {"random": {"sead": 0}}}), "initialModel.random.sead"),
        (json!({"initialModel": {"random": {"seed": 0, "weight": -1.0}}}), "initialModel.random.weight"),
        (json!({"initialModel": {"centroids": [[1.0, 2.0]]}}), "initialModel.centroids"),
        (json!({"initialModel": {"centroids": [[1.0, 2.0], [1.0]]}}), "initialModel.centroids[1]"),
        (json!({"initialModel": {"centroids": [[1.0], [2.0]], "weights": [1.0]}}), "initialModel.weights"),
        (json!({"distanceMeasure": "cosine", "initialModel": {"centroids": [[1.0], [0.0]]}}), "initialModel.centroids[1]"),
        (json!({"featuresCol": ["a", "b", "c"], "initialModel": init}), "initialModel"),
        (json!({"initialModel": init, "batchStrategy": "time"}), "batchStrategy"),
        (json!({"initialModel": init, "seed": "x"}), "seed"),
    ] {
        match OnlineKMeans::open_json(&cfg.to_string()) {
            Err(OperatorError::InvalidConfig(c)) => assert_eq!(c.parameter, param, "{cfg}: {}", c.message),
            Err(e) => panic!("{cfg}: expected a config error, got {e}"),
            Ok(_) => panic!("{cfg}: accepted"),
        }
    }
}

#[test]
fn flink_ml_batch_strategy_and_seed_are_accepted() {
    let init = json!({"random": {"seed": 0, "dim": 2}});
    let plain = OnlineKMeans::open_json(&json!({"initialModel": init}).to_string()).unwrap();
    let flink = OnlineKMeans::open_json(&json!({"initialModel": init, "batchStrategy": "COUNT", "seed": 42}).to_string()).unwrap();
    let (a, b) = (plain.snapshot().unwrap(), flink.snapshot().unwrap());
    assert_eq!(a, b, "neither changes the model");
}

#[test]
fn readme_example_config_opens() {
    let readme = include_str!("../README.md");
    let start = readme.find("```toml").expect("a TOML example") + "```toml".len();
    let end = start + readme[start..].find("```").unwrap();
    let job: toml::Table = toml::from_str(&readme[start..end]).unwrap();
    assert_eq!(job["operator"]["component"].as_str(), Some("kmeans"));
    let config = serde_json::to_string(&job["operator"]["config"]).unwrap();
    OnlineKMeans::open_json(&config).unwrap();
}
