//! FTRL natively: the Flink ML dense conformance case, batch-size independence, restore.

use std::sync::Arc;

use eddy_ftrl::Ftrl;
use eddy_sdk::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{Operator, VectorBuilder, vector_field};
use serde_json::Value;

fn batch(rows: &[(Vec<f64>, Option<f64>)], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for (x, _) in rows {
        v.append_dense(x);
    }
    let labels = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
    let seq = UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64);
    let schema = Schema::new(vec![
        vector_field("features", false),
        Field::new("label", DataType::Float64, true),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![Arc::new(v.finish()), Arc::new(labels), Arc::new(seq)];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

fn conformance() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/ftrl_dense.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("shared/conformance beside the repo")).unwrap()
}

fn vecs(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

#[test]
fn flink_ml_dense_conformance() {
    let c = conformance();
    let mut cfg = c["params"].clone();
    cfg["initialModel"] = serde_json::json!({"coefficient": c["initialModel"]["coefficient"]});
    let mut op = Ftrl::open_json(&cfg.to_string()).unwrap();
    let train: Vec<(Vec<f64>, Option<f64>)> = c["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect(), Some(r[1].as_f64().unwrap())))
        .collect();
    let predict: Vec<(Vec<f64>, Option<f64>)> = vecs(&c["predictRows"]).into_iter().map(|x| (x, None)).collect();
    let mut seq = 0;
    for exp in c["expected"].as_array().unwrap() {
        let upto = exp["afterRows"].as_u64().unwrap() as usize;
        let start = upto - 10;
        let out = op.process(&batch(&train[start..upto], seq)).unwrap();
        seq += 10;
        assert!(out.models.is_some(), "a model update after {upto} rows");
        let out = op.process(&batch(&predict, seq)).unwrap().outputs;
        seq += predict.len() as u64;
        let raw = out.column_by_name("rawPrediction").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        let pred = out.column_by_name("prediction").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
        let ver = out.column_by_name("modelVersion").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        for (i, want) in vecs(&exp["rawPrediction"]).iter().enumerate() {
            let got = raw.value(i);
            let got = got.as_any().downcast_ref::<Float64Array>().unwrap();
            for (j, w) in want.iter().enumerate().take(2) {
                assert!((got.value(j) - w).abs() < 1e-9, "raw[{i}][{j}] {} vs {w}", got.value(j));
            }
            assert_eq!(pred.value(i), exp["prediction"][i].as_f64().unwrap());
            assert_eq!(ver.value(i), exp["modelVersion"].as_i64().unwrap());
        }
        if let Some(coef) = exp.get("coefficient") {
            let w = &op.model().unwrap().w;
            for (g, e) in w.iter().zip(coef.as_array().unwrap()) {
                assert!((g - e.as_f64().unwrap()).abs() < 1e-9);
            }
        }
    }
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"alhpa": 1}"#, "alhpa"),
        (r#"{"alpha": 0}"#, "alpha"),
        (r#"{"elasticNet": 2}"#, "elasticNet"),
        (r#"{"globalBatchSize": 0}"#, "globalBatchSize"),
        (r#"{"initialModel": "ones"}"#, "initialModel"),
    ] {
        let e = Ftrl::open_json(cfg).unwrap_err().to_string();
        assert!(e.contains(&format!("`{param}`")), "{cfg}: {e}");
    }
}

#[test]
fn bad_rows_leave_state_unchanged() {
    let mut op = Ftrl::open_json(r#"{"globalBatchSize": 2}"#).unwrap();
    op.process(&batch(&[(vec![1.0, 2.0], Some(1.0))], 0)).unwrap();
    let before = op.snapshot().unwrap();
    let err = op.process(&batch(&[(vec![1.0, 2.0], Some(0.0)), (vec![1.0, f64::NAN], Some(1.0))], 1)).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    let err = op.process(&batch(&[(vec![1.0, 2.0, 3.0], Some(0.0))], 1)).unwrap_err();
    assert!(err.to_string().contains("dimension 3"), "{err}");
    assert_eq!(op.snapshot().unwrap(), before);
}

/// Rows whose label follows a fixed rule, for tests that only need learning to happen.
fn rows(n: usize, seed: u64) -> Vec<(Vec<f64>, Option<f64>)> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    (0..n)
        .map(|i| {
            let f: Vec<f64> = (0..4).map(|_| next()).collect();
            let label = (i % 3 != 2).then(|| if f[0] - 0.5 * f[1] > 0.0 { 1.0 } else { 0.0 });
            (f, label)
        })
        .collect()
}

#[test]
fn not_publishing_models_changes_nothing_but_the_models() {
    let data = rows(60, 7);
    let cfg = r#"{"globalBatchSize": 2, "featuresCol": "features"}"#;
    let (mut on, mut off) = (Ftrl::open_json(cfg).unwrap(), Ftrl::open_json(cfg).unwrap());
    off.set_publish_models(false);
    for (i, chunk) in data.chunks(20).enumerate() {
        let b = batch(chunk, 20 * i as u64);
        let (a, z) = (on.process(&b).unwrap(), off.process(&b).unwrap());
        assert_eq!(a.outputs, z.outputs, "chunk {i}: same outputs");
        assert!(a.models.is_some() && z.models.is_none(), "chunk {i}: models only when publishing");
        assert_eq!(on.snapshot().unwrap(), off.snapshot().unwrap(), "chunk {i}: same state");
    }
    // Publishing again, the versions continue the same numbering.
    off.set_publish_models(true);
    let b = batch(&rows(20, 9), 60);
    let (a, z) = (on.process(&b).unwrap(), off.process(&b).unwrap());
    assert_eq!(a.models, z.models);
    let versions = a.models.unwrap().column_by_name("modelVersion").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().clone();
    assert_eq!(versions.value(0), on.model().unwrap().version - versions.len() as i64 + 1);
    assert!(versions.value(0) > 20, "versions published while off still counted");
}

/// `batch` with the labels as the host hands over a `Label` column: each label's JSON text.
fn text_batch(rows: &[(Vec<f64>, Option<f64>)], seq0: u64, mut text: impl FnMut(f64) -> String) -> RecordBatch {
    let b = batch(rows, seq0);
    let labels = StringArray::from(rows.iter().map(|r| r.1.map(&mut text)).collect::<Vec<_>>());
    let schema = Schema::new(vec![
        vector_field("features", false),
        Field::new("label", DataType::Utf8, true),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![b.column(0).clone(), Arc::new(labels), b.column(2).clone()]).unwrap()
}

#[test]
fn declared_classes_of_any_type_learn_exactly_as_zero_and_one() {
    let data = rows(300, 11);
    let base = r#""globalBatchSize": 4, "featuresCol": "features""#;
    let mut numeric = Ftrl::open_json(&format!("{{{base}}}")).unwrap();
    /// A `classes` parameter, the text of a 0/1 label in its type, the two classes as text.
    type Case = (&'static str, fn(f64) -> String, [&'static str; 2]);
    let cases: [Case; 3] = [
        (r#"["ham", "spam"]"#, |y| if y == 1.0 { "\"spam\"".into() } else { "\"ham\"".into() }, ["ham", "spam"]),
        ("[false, true]", |y| if y == 1.0 { "true".into() } else { "false".into() }, ["false", "true"]),
        ("[-1, 1]", |y| if y == 1.0 { "1.0".into() } else { "-1.0".into() }, ["-1", "1"]),
    ];
    let want = numeric.process(&batch(&data, 0)).unwrap().outputs;
    let want_pred = want.column_by_name("prediction").unwrap().as_any().downcast_ref::<Float64Array>().unwrap().clone();
    for (classes, text, names) in cases {
        let mut op = Ftrl::open_json(&format!(r#"{{{base}, "classes": {classes}}}"#)).unwrap();
        let label_spec = op.input_columns().into_iter().find(|c| c.name == "label").unwrap();
        assert_eq!(label_spec.column_type, eddy_sdk::ColumnType::Label, "{classes}: labels of any type");
        // Restored halfway through a fresh instance with the same config: the classes hold.
        let first = op.process(&text_batch(&data[..150], 0, text)).unwrap().outputs;
        let mut op2 = Ftrl::open_json(&format!(r#"{{{base}, "classes": {classes}}}"#)).unwrap();
        op2.restore(&op.snapshot().unwrap()).unwrap();
        let second = op2.process(&text_batch(&data[150..], 150, text)).unwrap().outputs;
        assert_eq!(op2.model().unwrap().w, numeric.model().unwrap().w, "{classes}: the same model, bit for bit");
        for (part, out) in [(0, &first), (150, &second)] {
            assert_eq!(
                out.column_by_name("rawPrediction"),
                want.column_by_name("rawPrediction").map(|c| c.slice(part, out.num_rows())).as_ref()
            );
            let pred = out.column_by_name("prediction").unwrap();
            for i in 0..out.num_rows() {
                let class = usize::from(want_pred.value(part + i) == 1.0);
                let got = match pred.data_type() {
                    DataType::Utf8 => pred.as_any().downcast_ref::<StringArray>().unwrap().value(i).to_owned(),
                    DataType::Boolean => pred.as_any().downcast_ref::<BooleanArray>().unwrap().value(i).to_string(),
                    _ => pred.as_any().downcast_ref::<Float64Array>().unwrap().value(i).to_string(),
                };
                assert_eq!(got, names[class], "{classes}: row {} predicted in the labels' own type", part + i);
            }
        }
    }
}

#[test]
fn a_label_outside_the_classes_is_an_input_error_naming_it() {
    let mut op = Ftrl::open_json(r#"{"featuresCol": "features", "classes": ["ham", "spam"]}"#).unwrap();
    let data = rows(5, 3);
    let mut i = 0;
    let labels = ["\"ham\"", "\"spam\"", "\"eggs\"", "\"ham\"", "\"ham\""];
    let b = text_batch(&data, 0, |_| {
        i += 1;
        labels[i - 1].to_owned()
    });
    let before = op.snapshot().unwrap();
    let err = op.process(&b).expect_err("eggs is not a class");
    match &err {
        eddy_sdk::OperatorError::InvalidInput(e) => {
            // Row 2 is unlabelled (`rows` leaves every third row so): "eggs" is row 3's.
            assert_eq!((e.row, e.column.as_deref()), (3, Some("label")));
            assert_eq!(e.message, r#"label "eggs" is not one of classes ["ham", "spam"]"#);
        }
        other => panic!("an input error, got {other:?}"),
    }
    assert_eq!(op.snapshot().unwrap(), before, "nothing learned from the refused batch");
    let three = Ftrl::open_json(r#"{"featuresCol": "features", "classes": ["a", "b", "c"]}"#).map(|_| ()).expect_err("three classes");
    assert!(three.to_string().contains("two classes"), "{three}");
}
