//! Restore tests for every shipped operator, through its compiled component: snapshot at an
//! arbitrary record, restore into a fresh instance, continue, and get exactly the outputs and
//! final state of an uninterrupted run (and the same again with other batch sizes).

use eddy_host::{Format, Pipeline, PipelineOutput, PipelineSnapshot, Record};
use eddy_tests::{component, json_records, repo_root, runtime};
use serde_json::{Value, json};

use eddy_tests::PHISHING_FEATURES as FEATURES;

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
            if user.is_multiple_of(5) { json!({"user": format!("u{user}"), "item": item}) } else { json!({"user": user, "item": item}) }
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
        ("hoeffding-tree", json!({"featuresCol": f, "labelCol": "is_phishing", "gracePeriod": 50, "delta": 1e-3, "tau": 0.1}), phishing()),
        (
            "half-space-trees",
            json!({"featuresCol": f, "labelCol": "is_phishing", "nTrees": 4, "height": 5, "windowSize": 100, "seed": 3}),
            phishing(),
        ),
        (
            "kmeans",
            json!({"featuresCol": f, "k": 3, "globalBatchSize": 16, "decayFactor": 0.5, "initialModel": {"random": {"seed": 1, "dim": 9, "weight": 0.0}}}),
            phishing(),
        ),
        (
            "scaler",
            json!({"inputCol": f, "withMean": true, "windows": {"eventTimeTumblingMs": 50_000}, "maxAllowedModelDelayMs": 20_000}),
            phishing(),
        ),
        (
            "embeddings",
            json!({"dim": 8, "negatives": 4, "publishEveryEvents": 100, "admitAfter": 2, "expireAfterMs": 30_000_000, "topK": 3}),
            interactions(),
        ),
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
            assert_eq!(b.metrics(), straight.metrics(), "{name}: metrics after a restore at {cut} are not the whole stream's");
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

/// A table of 3,000 users, then 1,000 events on 20 of them: snapshots taken every 100 events
/// of the second part are mostly deltas (`fullSnapshotEvery = 4`).
fn big_table_then_few_users() -> Vec<Record> {
    let values: Vec<Value> = (0..4000u64)
        .map(|i| {
            let user = if i < 3000 { i } else { i % 20 };
            json!({"user": user, "item": (i * 7) % 60})
        })
        .collect();
    let mut r = json_records("interactions", &values);
    for (i, rec) in r.iter_mut().enumerate() {
        rec.timestamp = 1_000 * i as i64;
    }
    r
}

#[test]
fn incremental_snapshots_cost_what_changed_and_restore_as_chains() {
    let comp = component(runtime(), "embeddings");
    let config = json!({"dim": 16, "negatives": 2, "publishEveryEvents": 250, "fullSnapshotEvery": 4});
    let open = || {
        let mut p = Pipeline::new(&comp, &config, 0, Format::Json, false).unwrap();
        p.route_embeddings(true);
        p
    };
    let recs = big_table_then_few_users();
    let mut want = PipelineOutput::default();
    let mut straight = open();
    let mut links = Vec::new();
    run(&mut straight, &recs[..3000], 64, &mut want);
    for at in (3000..4000).step_by(100) {
        links.push((at, straight.snapshot_incremental().unwrap()));
        run(&mut straight, &recs[at..at + 100], 64, &mut want);
    }
    let (o, r) = straight.finish();
    r.unwrap();
    want.extend(o);
    let want_state = straight.snapshot().unwrap().to_bytes();

    let kinds: Vec<bool> = links.iter().map(|(_, s)| s.is_full()).collect();
    assert_eq!(kinds, [true, false, false, false, true, false, false, false, true, false], "every 4th snapshot is full");
    let full = links[0].1.to_bytes().len();
    let delta = links[1].1.to_bytes().len();
    assert!(
        delta * 10 < full,
        "a delta after 100 events on 20 users should be far smaller than the table of 3,000: {delta} vs {full} bytes"
    );

    for k in [2usize, 3, 5, 9] {
        let chain: Vec<PipelineSnapshot> = links[..=k].iter().map(|(_, s)| PipelineSnapshot::from_bytes(&s.to_bytes()).unwrap()).collect();
        let from = PipelineSnapshot::needed_from(&chain).unwrap();
        assert_eq!(from, k / 4 * 4, "the chain back to the last full snapshot");
        let at = links[k].0;
        let mut got = PipelineOutput::default();
        let mut prefix = open();
        run(&mut prefix, &recs[..at], 64, &mut got);
        drop(prefix);
        let mut b = open();
        b.restore_chain(&chain[from..]).unwrap();
        run(&mut b, &recs[at..], 64, &mut got);
        let (o, r) = b.finish();
        r.unwrap();
        got.extend(o);
        assert!(got.predictions == want.predictions, "predictions differ after restoring the chain {from}..={k}");
        assert!(got.embeddings == want.embeddings, "embeddings differ after restoring the chain {from}..={k}");
        assert_eq!(b.snapshot().unwrap().to_bytes(), want_state, "final state differs after restoring the chain {from}..={k}");
    }

    // A chain missing its full snapshot, or a delta, is refused with a reason.
    let chain: Vec<PipelineSnapshot> = links.iter().map(|(_, s)| s.clone()).collect();
    let err = open().restore_chain(&chain[1..3]).unwrap_err().to_string();
    assert!(err.contains("no full snapshot of stage 1"), "{err}");
    let skipping = [chain[0].clone(), chain[2].clone()];
    let err = open().restore_chain(&skipping).unwrap_err().to_string();
    assert!(err.contains("another parent"), "{err}");
}

/// A restore followed directly by the end of input: the models published then name no input
/// row, so they carry the latest timestamp seen before the snapshot (which the snapshot keeps),
/// not 0, even when timestamps arrived out of order.
#[test]
fn a_restore_then_the_end_of_input_stamps_models_with_the_latest_timestamp() {
    let comp = component(runtime(), "scaler");
    let cfg = json!({"inputCol": ["x"], "windows": {"eventTimeTumblingMs": 1_000_000}});
    let mut recs = json_records("ts", &(0..6).map(|i| json!({"x": i as f64})).collect::<Vec<_>>());
    for (r, ts) in recs.iter_mut().zip([5_000, 9_000, 3_000, 7_000, 2_000, 4_000]) {
        r.timestamp = ts;
    }
    let mut a = Pipeline::new(&comp, &cfg, 0, Format::Json, false).unwrap();
    let (_, r) = a.process(&recs);
    r.unwrap();
    let snap = PipelineSnapshot::from_bytes(&a.snapshot().unwrap().to_bytes()).unwrap();
    let (straight, r) = a.finish();
    r.unwrap();
    let mut b = Pipeline::new(&comp, &cfg, 0, Format::Json, false).unwrap();
    b.restore(&snap).unwrap();
    let (restored, r) = b.finish();
    r.unwrap();
    assert!(!restored.models.is_empty(), "the end of input closes the window and publishes a model");
    let stamps: Vec<i64> = restored.models.iter().map(|m| m.timestamp).collect();
    assert!(stamps.iter().all(|t| *t == 9_000), "models after a restore carry the latest timestamp: {stamps:?}");
    assert!(restored.models == straight.models, "the same models as without the restore");
}
