//! Restore tests for every shipped operator, through its compiled component: snapshot at an
//! arbitrary record, restore into a fresh instance, continue, and get exactly the outputs and
//! final state of an uninterrupted run (and the same again with other batch sizes).

use eddy_host::{Format, Pipeline, PipelineOutput, PipelineSnapshot, Record};
use eddy_tests::{component, json_records, repo_root, runtime};
use serde_json::{Value, json};

const FEATURES: [&str; 9] = [
    "empty_server_form_handler",
    "popup_window",
    "https",
    "request_from_other_domain",
    "anchor_from_other_domain",
    "is_popular",
    "long_url",
    "age_of_domain",
    "ip_in_url",
];

fn phishing() -> Vec<Record> {
    let mut r = eddy_host::replay::read(&repo_root().join("examples/phishing/phishing.replay")).unwrap();
    for (i, rec) in r.iter_mut().enumerate() {
        rec.timestamp = 1_000 * i as i64;
    }
    r
}

fn interactions() -> Vec<Record> {
    // A small deterministic stream: 40 users, 60 items, users prefer items of their own group.
    let mut x: u64 = 7;
    let values: Vec<Value> = (0..1500)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let user = (x >> 33) % 40;
            let item = (user % 4) * 15 + (x >> 50) % 15;
            if user % 5 == 0 { json!({"user": format!("u{user}"), "item": item}) } else { json!({"user": user, "item": item}) }
        })
        .collect();
    let mut r = json_records("interactions", &values);
    for (i, rec) in r.iter_mut().enumerate() {
        rec.timestamp = 60_000 * i as i64;
    }
    r
}

fn cases() -> Vec<(&'static str, Value, Vec<Record>)> {
    let f = json!(FEATURES);
    vec![
        ("ftrl", json!({"featuresCol": f, "labelCol": "is_phishing", "globalBatchSize": 8}), phishing()),
        ("naive-bayes", json!({"featuresCol": f, "labelCol": "is_phishing", "globalBatchSize": 3}), phishing()),
        ("softmax-regression", json!({"featuresCol": f, "labelCol": "is_phishing", "globalBatchSize": 5}), phishing()),
        ("linear-regression", json!({"featuresCol": f, "labelCol": "age_of_domain", "optimizer": "adagrad"}), phishing()),
        ("kmeans", json!({"featuresCol": f, "k": 3, "globalBatchSize": 16, "decayFactor": 0.5, "initialModel": {"random": {"seed": 1, "dim": 9, "weight": 0.0}}}), phishing()),
        ("scaler", json!({"inputCol": f, "withMean": true, "windows": {"eventTimeTumblingMs": 50_000}, "maxAllowedModelDelayMs": 20_000}), phishing()),
        ("embeddings", json!({"dim": 8, "negatives": 4, "publishEveryEvents": 100, "admitAfter": 2, "expireAfterMs": 30_000_000, "topK": 3}), interactions()),
    ]
}

fn run(p: &mut Pipeline, recs: &[Record], chunk: usize, out: &mut PipelineOutput) {
    for c in recs.chunks(chunk) {
        let (o, r) = p.process(c);
        r.unwrap();
        out.extend(o);
    }
}

#[test]
fn every_operator_restores_bit_for_bit_through_its_component() {
    for (name, config, recs) in cases() {
        let comp = component(runtime(), name);
        let open = || {
            let mut p = Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
            p.route_embeddings(true);
            p
        };
        let mut want = PipelineOutput::default();
        let mut straight = open();
        run(&mut straight, &recs, 100, &mut want);
        let (o, r) = straight.finish();
        r.unwrap();
        want.extend(o);
        let want_state = straight.snapshot().unwrap().to_bytes();
        assert!(!want.predictions.is_empty(), "{name} answered nothing");
        assert!(!want.models.is_empty() || !want.embeddings.is_empty(), "{name} published no model");

        for (cut, chunk) in [(1usize, 1usize), (457, 7), (1001, 1000)] {
            let mut got = PipelineOutput::default();
            let mut a = open();
            run(&mut a, &recs[..cut], chunk, &mut got);
            let snap = PipelineSnapshot::from_bytes(&a.snapshot().unwrap().to_bytes()).unwrap();
            drop(a);
            let mut b = open();
            b.restore(&snap).unwrap();
            run(&mut b, &recs[cut..], chunk, &mut got);
            let (o, r) = b.finish();
            r.unwrap();
            got.extend(o);
            assert!(got.predictions == want.predictions, "{name}: predictions differ after a restore at {cut} (batches of {chunk})");
            assert!(got.models == want.models, "{name}: models differ after a restore at {cut}");
            assert!(got.embeddings == want.embeddings, "{name}: embeddings differ after a restore at {cut}");
            assert_eq!(b.snapshot().unwrap().to_bytes(), want_state, "{name}: final state differs after a restore at {cut}");
        }
    }
}

#[test]
fn a_snapshot_never_restores_into_another_operator() {
    let ftrl = component(runtime(), "ftrl");
    let nb = component(runtime(), "naive-bayes");
    let cfg = json!({"featuresCol": FEATURES, "labelCol": "is_phishing"});
    let mut a = Pipeline::new(&ftrl, &cfg, 0, Format::Json, false).unwrap();
    let (_, r) = a.process(&phishing()[..10]);
    r.unwrap();
    let snap = a.snapshot().unwrap();
    let mut b = Pipeline::new(&nb, &cfg, 0, Format::Json, false).unwrap();
    let err = b.restore(&snap).unwrap_err().to_string();
    assert!(err.contains("OnlineLogisticRegression") && err.contains("but the job runs"), "{err}");
}
