//! The Flink ML conformance vectors, run through the compiled components by the host.

use eddy_host::Format;
use eddy_tests::{component, conformance, json_records, runtime};
use serde_json::{Value, json};

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn ftrl_dense_through_the_component() {
    let c = conformance("ftrl_dense.json");
    let mut config = c["params"].clone();
    config["initialModel"] = json!({ "coefficient": c["initialModel"]["coefficient"] });
    let comp = component(runtime(), "ftrl");
    let mut p = eddy_host::Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
    let train: Vec<Value> = c["train"].as_array().unwrap().iter().map(|r| json!({"features": r[0], "label": r[1]})).collect();
    let predict: Vec<Value> = c["predictRows"].as_array().unwrap().iter().map(|x| json!({"features": x})).collect();
    let mut done = 0;
    for exp in c["expected"].as_array().unwrap() {
        let upto = exp["afterRows"].as_u64().unwrap() as usize;
        let (out, r) = p.process(&json_records("train", &train[done..upto]));
        r.unwrap();
        done = upto;
        assert_eq!(out.models.len(), 1, "one model version per global batch of 10");
        let model: Value = serde_json::from_slice(out.models.value(0)).unwrap();
        assert_eq!(model["modelVersion"], exp["modelVersion"]);
        if let Some(coef) = exp.get("coefficient") {
            for (g, e) in model["coefficient"].as_array().unwrap().iter().zip(coef.as_array().unwrap()) {
                assert!((f(g) - f(e)).abs() < 1e-9, "coefficient {g} vs {e}");
            }
        }
        let (out, r) = p.process(&json_records("predict", &predict));
        r.unwrap();
        assert_eq!(out.predictions.len(), predict.len());
        for (i, rec) in out.predictions.iter().enumerate() {
            let v: Value = serde_json::from_slice(&rec.value).unwrap();
            assert_eq!(v["modelVersion"], exp["modelVersion"]);
            assert_eq!(v["prediction"], exp["prediction"][i]);
            for j in 0..2 {
                let (g, e) = (f(&v["rawPrediction"][j]), f(&exp["rawPrediction"][i][j]));
                assert!((g - e).abs() < 1e-9, "rawPrediction[{i}][{j}] {g} vs {e}");
            }
            assert_eq!(v["features"], predict[i]["features"], "the input's fields are carried");
        }
    }
}

fn sorted_by_x(centroids: &Value) -> Vec<Vec<f64>> {
    let mut c: Vec<Vec<f64>> = centroids.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(f).collect()).collect();
    c.sort_by(|a, b| a[0].total_cmp(&b[0]));
    c
}

#[test]
fn kmeans_random_init_through_the_component() {
    let c = conformance("kmeans_random_init.json");
    let r = &c["initialModel"]["random"];
    let mut config = c["params"].clone();
    config["initialModel"] = json!({"random": {"seed": r["seed"], "dim": r["dim"], "weight": r["weight"]}});
    let comp = component(runtime(), "kmeans");
    let mut p = eddy_host::Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
    let train: Vec<Value> = c["train"].as_array().unwrap().iter().map(|x| json!({"features": x})).collect();
    let mut models = Vec::new();
    let (out, res) = p.process(&json_records("train", &train[..6]));
    res.unwrap();
    models.extend(out.models.iter().map(|m| serde_json::from_slice::<Value>(&m.value).unwrap()));
    // Version 0 is Flink ML's seed-0 draw.
    assert_eq!(models[0]["modelVersion"], 0);
    assert_eq!(models[0]["centroids"], c["initialModel"]["centroids"]);
    let mut done = 6;
    for exp in c["expected"].as_array().unwrap() {
        let upto = exp["afterRows"].as_u64().unwrap() as usize;
        if upto > done {
            let (out, res) = p.process(&json_records("train", &train[done..upto]));
            res.unwrap();
            models.extend(out.models.iter().map(|m| serde_json::from_slice::<Value>(&m.value).unwrap()));
            done = upto;
        }
        let last = models.last().unwrap();
        let got = sorted_by_x(&last["centroids"]);
        let want = sorted_by_x(&exp["centroidsSortedByX"]);
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() < 1e-9, "centroids {got:?} vs {want:?}");
        }
        let weights: Vec<f64> = last["weights"].as_array().unwrap().iter().map(f).collect();
        assert_eq!(weights, exp["weights"].as_array().unwrap().iter().map(f).collect::<Vec<_>>());
    }
}

#[test]
fn scaler_event_time_windows_through_the_component() {
    let c = conformance("scaler_windows.json");
    let mut config = c["params"].clone();
    config["inputCol"] = json!("input");
    let comp = component(runtime(), "scaler");
    let mut p = eddy_host::Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
    let input = c["input"].as_array().unwrap();
    let values: Vec<Value> = input.iter().map(|e| json!({"input": e[1]})).collect();
    let mut recs = json_records("scaler", &values);
    for (r, e) in recs.iter_mut().zip(input) {
        r.timestamp = e[0].as_i64().unwrap();
    }
    let (mut out, res) = p.process(&recs);
    res.unwrap();
    let (end, res) = p.finish();
    res.unwrap();
    out.extend(end);
    let models: Vec<Value> = out.models.iter().map(|m| serde_json::from_slice(&m.value).unwrap()).collect();
    let expected = c["expectedModels"].as_array().unwrap();
    assert_eq!(models.len(), expected.len());
    for (m, e) in models.iter().zip(expected) {
        assert_eq!(m["version"], e["version"]);
        assert_eq!(m["timestamp"], e["timestamp"]);
        for key in ["mean", "std"] {
            for (g, w) in m[key].as_array().unwrap().iter().zip(e[key].as_array().unwrap()) {
                assert!((f(g) - f(w)).abs() <= 1e-12 * f(w).abs().max(1.0), "{key}: {g} vs {w}");
            }
        }
    }
    assert_eq!(out.predictions.len(), recs.len(), "every row is answered, some after the end-of-input watermark");
}

/// Flink ML's sparse cases (without and with `weightCol`), kept in this repository
/// (tests/conformance/ftrl_sparse.json, copied from its OnlineLogisticRegressionTest).
#[test]
fn ftrl_sparse_and_weighted_through_the_component() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance").join("ftrl_sparse.json");
    let c: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let comp = component(runtime(), "ftrl");
    for (case, weighted) in [("unweighted", false), ("weightCol", true)] {
        let mut config = c["params"].clone();
        config["initialModel"] = json!({ "coefficient": c["initialModel"]["coefficient"] });
        if weighted {
            config["weightCol"] = json!("weight");
        }
        let mut p = eddy_host::Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
        let train: Vec<Value> =
            c["train"].as_array().unwrap().iter().map(|r| json!({"features": r[0], "label": r[1], "weight": r[2]})).collect();
        let predict: Vec<Value> = c["predictRows"].as_array().unwrap().iter().map(|x| json!({"features": x})).collect();
        let mut done = 0;
        for exp in c["expected"][case].as_array().unwrap() {
            let upto = exp["afterRows"].as_u64().unwrap() as usize;
            let (out, r) = p.process(&json_records("train", &train[done..upto]));
            r.unwrap();
            done = upto;
            assert_eq!(out.models.len(), 1, "{case}: one model version per global batch of 9");
            let (out, r) = p.process(&json_records("predict", &predict));
            r.unwrap();
            let mut raw: Vec<[f64; 2]> = out
                .predictions
                .iter()
                .map(|rec| {
                    let v: Value = serde_json::from_slice(&rec.value).unwrap();
                    [f(&v["rawPrediction"][0]), f(&v["rawPrediction"][1])]
                })
                .collect();
            raw.sort_by(|a, b| a[0].total_cmp(&b[0]));
            for (g, e) in raw.iter().zip(exp["rawPredictionSorted"].as_array().unwrap()) {
                for j in 0..2 {
                    assert!((g[j] - f(&e[j])).abs() < 1e-9, "{case} after {upto} rows: rawPrediction {g:?} vs {e}");
                }
            }
        }
    }
}
