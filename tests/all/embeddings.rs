//! The embedding-updater example through the compiled component: hit rate at 10 clearly above
//! popularity, a dip at the drift and a recovery; changed vectors published once per id per
//! publication, keyed by id, as a compacted topic would hold them.

use std::collections::BTreeSet;

use eddy_embeddings_gen::GenConfig;
use eddy_tests::{repo_root, runtime};
use serde_json::Value;

#[test]
fn hit_rate_beats_popularity_dips_at_the_drift_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig { events: 40_000, users: 400, items: 200, groups: 8, drift_at: Some(20_000), ..GenConfig::default() };
    let job = repo_root().join("examples/embeddings/job.toml");
    let c = embeddings_example::run(
        runtime(),
        &job,
        dir.path(),
        &cfg,
        4_000,
        &["operator.config.dim=16".into(), "operator.config.publishEveryEvents=5000".into()],
    )
    .unwrap();
    let (m, b) = (&c.model, &c.baseline);
    // Windows 0..4 are before the drift, 5..9 after it.
    assert!(m[4] > b[4] + 0.15, "before the drift: model {} vs popularity {}", m[4], b[4]);
    assert!(m[5] < m[4] - 0.15, "no dip at the drift: {} then {}", m[4], m[5]);
    assert!(m[9] > b[9] + 0.1 && m[9] > m[5] + 0.15, "no recovery: {} after the drift, {} at the end", m[5], m[9]);
    let hr = c.summary.metrics.hit_rate_10.unwrap();
    assert!(hr > 0.2 && c.summary.metrics.mrr.unwrap() > 0.0, "host summary hit rate {hr}");
    assert!(embeddings_example::svg(&c).contains("<polyline"), "the plot has both curves");

    // Publications: one record per changed id, keyed by kind:id.
    let recs = eddy_host::replay::read(&dir.path().join("embeddings.replay")).unwrap();
    assert!(!recs.is_empty());
    let mut seen = BTreeSet::new();
    for r in &recs {
        let v: Value = serde_json::from_slice(&r.value).unwrap();
        let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
        assert_eq!(key, format!("{}:{}", v["kind"].as_str().unwrap(), v["id"].as_str().unwrap()));
        assert!(seen.insert((v["modelVersion"].as_i64().unwrap(), key.clone())), "{key} twice in one publication");
        assert_eq!(v["vector"].as_array().unwrap().len(), 16);
        assert_eq!(r.timestamp, v["eventTime"].as_i64().unwrap());
    }
    let publications: BTreeSet<i64> = seen.iter().map(|(v, _)| *v).collect();
    assert!(publications.len() >= 8, "every 5,000 events and at the end: {publications:?}");
    // Only vectors changed since the previous publication: every record of publication k was
    // updated after the last update that publication k-1 carried.
    let mut span: std::collections::BTreeMap<i64, (i64, i64)> = std::collections::BTreeMap::new();
    for r in &recs {
        let v: Value = serde_json::from_slice(&r.value).unwrap();
        let e = span.entry(v["modelVersion"].as_i64().unwrap()).or_insert((i64::MAX, i64::MIN));
        e.0 = e.0.min(r.timestamp);
        e.1 = e.1.max(r.timestamp);
    }
    let spans: Vec<(i64, i64)> = span.into_values().collect();
    for w in spans.windows(2) {
        assert!(w[1].0 > w[0].1, "a publication repeats a vector that did not change since the previous one: {w:?}");
    }
}
