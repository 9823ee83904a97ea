//! On the synthetic generator's stream (planted groups, popularity skew, a drift), the
//! prequential hit rate at 10 beats the popularity baseline, dips at the drift and recovers.

mod common;

use common::{Ev, f64s, run};
use eddy_embeddings::Embeddings;
use eddy_embeddings_gen::{GenConfig, Generator, PopularityBaseline};
use eddy_sdk::Operator;

fn stream(cfg: &GenConfig) -> Vec<Ev> {
    Generator::new(cfg.clone()).map(|e| Ev { user: e.user_json(), item: e.item_json(), ts: e.ts, weight: None }).collect()
}

/// Hit rate at 10 per window of `w` events: (model, baseline).
fn curves(config: &str, events: &[Ev], w: usize) -> (Vec<f64>, Vec<f64>) {
    let mut op = Embeddings::open_json(config).unwrap();
    let (outs, _) = run(&mut op, events, 4096, 0);
    let hits: Vec<f64> = outs.iter().flat_map(|b| f64s(b, "hit10")).map(Option::unwrap).collect();
    let mut base = PopularityBaseline::new();
    let bhits: Vec<f64> = events.iter().map(|e| f64::from(u8::from(base.hit10_then_count(&e.item)))).collect();
    let win = |h: &[f64]| h.chunks(w).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
    (win(&hits), win(&bhits))
}

#[test]
fn hit_rate_beats_popularity_dips_at_the_drift_and_recovers() {
    let cfg = GenConfig { events: 40_000, users: 400, items: 200, groups: 8, drift_at: Some(20_000), ..GenConfig::default() };
    let (m, b) = curves(r#"{"dim": 16, "publishEveryEvents": 0}"#, &stream(&cfg), 4_000);
    let f = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ");
    println!("model    {}\nbaseline {}", f(&m), f(&b));
    // Windows 0..4 are before the drift, 5..9 after it.
    assert!(m[4] > b[4] + 0.15, "before the drift: model {} vs popularity {}", m[4], b[4]);
    assert!(m[5] < m[4] - 0.15, "no dip at the drift: {} then {}", m[4], m[5]);
    assert!(m[9] > b[9] + 0.1 && m[9] > m[5] + 0.15, "no recovery: {} after the drift, {} at the end (popularity {})", m[5], m[9], b[9]);
}

#[test]
#[ignore = "exploration: prints curves for several configs"]
fn print_curves_for_tuning() {
    let cfg = GenConfig::default();
    let events = stream(&cfg);
    for config in [
        r#"{"publishEveryEvents": 0}"#,
        r#"{"publishEveryEvents": 0, "learningRate": 0.1}"#,
        r#"{"publishEveryEvents": 0, "learningRate": 0.1, "popularityMix": 0.0}"#,
        r#"{"publishEveryEvents": 0, "learningRate": 0.2}"#,
        r#"{"publishEveryEvents": 0, "learningRate": 0.1, "reg": 0.001}"#,
        r#"{"publishEveryEvents": 0, "learningRate": 0.1, "negatives": 4}"#,
    ] {
        let (m, b) = curves(config, &events, 10_000);
        let f = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ");
        println!("{config}\n  model    {}\n  baseline {}", f(&m), f(&b));
    }
}
