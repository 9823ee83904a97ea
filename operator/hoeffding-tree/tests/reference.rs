//! The outside reference: river 0.26.1's `HoeffdingTreeClassifier`, run prequentially on the
//! first 2,000 rows of bananas.csv and all 1,250 of phishing.csv under five configurations by
//! `tests/reference/river_reference.py`, which stored the rows, river's prediction for each, its
//! accuracy and its tree's size. eddy must reach river's accuracy to within one point, grow as
//! many splits and leaves, predict what river predicted on at least 99.5% of the rows, and give
//! river's probability of class 1 to 1e-8 (under two configurations) on as many. Measured: the
//! same accuracy, the same prediction on 100% of the rows of every configuration and the same
//! probability on 100% (the test prints the shares).

use std::path::Path;

use eddy_hoeffding_tree::HoeffdingTree;
use eddy_sdk::Operator;
use eddy_testkit::{LabeledRow, columns_batch, f64_col, list_col};
use serde_json::Value;

struct Reference {
    features: Vec<String>,
    rows: Vec<LabeledRow>,
    /// Per configuration, river's prediction per row (`None` before any class is known).
    predictions: Vec<(String, Vec<Option<f64>>)>,
    /// Per configuration, river's probability of class 1 per row.
    p1: Vec<(String, Vec<f64>)>,
}

fn load(name: &str) -> (Reference, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let features: Vec<String> =
        summary["datasets"][name]["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let nf = features.len();
    let pred_cols: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.starts_with("river_p1_"))
        .filter_map(|(i, h)| h.strip_prefix("river_").map(|c| (i, c.to_owned())))
        .collect();
    let p1_cols: Vec<(usize, String)> =
        header.iter().enumerate().filter_map(|(i, h)| h.strip_prefix("river_p1_").map(|c| (i, c.to_owned()))).collect();
    let mut r = Reference {
        features,
        rows: Vec::new(),
        predictions: pred_cols.iter().map(|(_, c)| (c.clone(), Vec::new())).collect(),
        p1: p1_cols.iter().map(|(_, c)| (c.clone(), Vec::new())).collect(),
    };
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let x = cells[..nf].iter().map(|c| c.parse::<f64>().unwrap()).collect();
        r.rows.push((x, Some(cells[nf].parse::<f64>().unwrap())));
        for (k, (i, _)) in pred_cols.iter().enumerate() {
            r.predictions[k].1.push((!cells[*i].is_empty()).then(|| cells[*i].parse().unwrap()));
        }
        for (k, (i, _)) in p1_cols.iter().enumerate() {
            r.p1[k].1.push(cells[*i].parse().unwrap());
        }
    }
    (r, summary)
}

/// Runs eddy on the reference rows under `params` (eddy's names, as JSON), all in one batch.
fn run_eddy(r: &Reference, params: &Value) -> (Vec<Option<f64>>, Vec<Vec<f64>>, HoeffdingTree) {
    let mut config = params.as_object().unwrap().clone();
    config.insert("featuresCol".into(), r.features.clone().into());
    let mut op = HoeffdingTree::open_json(&Value::Object(config).to_string()).unwrap();
    let names: Vec<&str> = r.features.iter().map(String::as_str).collect();
    let out = op.process(&columns_batch(&r.rows, &names, 0)).unwrap().outputs;
    (f64_col(&out, "prediction"), list_col(&out, "rawPrediction"), op)
}

fn accuracy(preds: &[Option<f64>], rows: &[LabeledRow]) -> f64 {
    preds.iter().zip(rows).filter(|(p, r)| **p == r.1).count() as f64 / rows.len() as f64
}

/// Checks every configuration of `name`; `min_agreement` is the smallest share of rows on which
/// eddy must predict what river predicted, per configuration.
fn check(name: &str, min_agreement: &[(&str, f64)]) {
    let (r, summary) = load(name);
    let configs = &summary["datasets"][name]["configs"];
    assert_eq!(r.predictions.len(), min_agreement.len(), "one bound per configuration");
    for (config, river_preds) in &r.predictions {
        let params = &configs[config]["params"];
        let river_acc = configs[config]["accuracy"].as_f64().unwrap();
        let (preds, raw, op) = run_eddy(&r, params);
        let splits = configs[config]["splits"].as_i64().unwrap();
        assert_eq!(op.tree().version, splits, "{name}/{config}: as many splits as river's tree");
        assert_eq!(op.tree().n_leaves() as i64, configs[config]["leaves"].as_i64().unwrap(), "{name}/{config}: leaves");
        let eddy_acc = accuracy(&preds, &r.rows);
        assert_eq!(accuracy(river_preds, &r.rows), river_acc, "{name}/{config}: the stored predictions give river's accuracy");
        let agree = preds.iter().zip(river_preds).filter(|(a, b)| a == b).count() as f64 / r.rows.len() as f64;
        println!(
            "{name}/{config}: eddy {:.2}% river {:.2}%, same prediction on {:.2}% of {} rows",
            eddy_acc * 100.0,
            river_acc * 100.0,
            agree * 100.0,
            r.rows.len()
        );
        assert!((eddy_acc - river_acc).abs() <= 0.01, "{name}/{config}: accuracy {eddy_acc} vs river's {river_acc}");
        let bound = min_agreement.iter().find(|(c, _)| c == config).unwrap().1;
        assert!(agree >= bound, "{name}/{config}: same prediction as river on {agree} of the rows, expected at least {bound}");
        if let Some((_, p1)) = r.p1.iter().find(|(c, _)| c == config) {
            let mut close = 0;
            let mut seen: Vec<f64> = Vec::new();
            for ((got, want), row) in raw.iter().zip(p1).zip(&r.rows) {
                // rawPrediction lists the classes seen so far, ascending.
                let got = seen.iter().position(|&c| c == 1.0).map_or(0.0, |i| got[i]);
                if let Some(y) = row.1
                    && !seen.contains(&y)
                {
                    seen.push(y);
                    seen.sort_by(f64::total_cmp);
                }
                if (got - want).abs() <= 1e-8 {
                    close += 1;
                }
            }
            let share = close as f64 / r.rows.len() as f64;
            println!("{name}/{config}: p(1) within 1e-8 of river's on {:.2}% of rows", share * 100.0);
            assert!(share >= bound, "{name}/{config}: p(1) close to river's on {share} of the rows");
        }
    }
}

#[test]
fn bananas_matches_river() {
    check("bananas", &[("default", 0.995), ("fast", 0.995), ("gini_mc", 0.995), ("hellinger_nb", 0.995), ("mc_poor_depth", 0.995)]);
}

#[test]
fn phishing_matches_river() {
    check("phishing", &[("default", 0.995), ("fast", 0.995), ("gini_mc", 0.995), ("hellinger_nb", 0.995), ("mc_poor_depth", 0.995)]);
}
