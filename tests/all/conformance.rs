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
        let model: Value = serde_json::from_slice(&out.models[0].value).unwrap();
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
