//! The window is always a suffix of the stream: never wider than the values seen since the last
//! restart, and its statistics are those of the last `width` values.

use eddy_drift::{Adwin, AdwinConfig};
use proptest::prelude::*;

use crate::streams::Rng;

/// Feeds `values` and checks the window after every update; the number of detections.
fn check(config: AdwinConfig, values: &[f64]) -> usize {
    let mut a = Adwin::new(config).unwrap();
    let (mut since_restart, mut detections) = (0u64, 0);
    for (i, &x) in values.iter().enumerate() {
        let restarts = a.drift_detected();
        since_restart = if restarts { 1 } else { since_restart + 1 };
        if a.update(x) {
            detections += 1;
        }
        let w = a.width();
        assert!(w >= 1 && w <= since_restart && w <= i as u64 + 1, "row {i}: width {w}, {since_restart} since the last restart");
        let window = &values[i + 1 - w as usize..=i];
        let mean = window.iter().sum::<f64>() / w as f64;
        let variance = window.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / w as f64;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
        assert!(close(a.estimation(), mean), "row {i}: estimation {} vs mean {mean} of the last {w}", a.estimation());
        assert!(close(a.total(), mean * w as f64), "row {i}: total");
        assert!(close(a.variance(), variance), "row {i}: variance {} vs {variance}", a.variance());
    }
    detections
}

fn config() -> impl Strategy<Value = AdwinConfig> {
    (prop::sample::select(vec![0.002, 0.05, 0.3]), 1u32..=4, 2u32..=5, 0u32..=5, 0u32..=10).prop_map(
        |(delta, clock, max_buckets, min_window_length, grace_period)| AdwinConfig {
            delta,
            clock,
            max_buckets,
            min_window_length,
            grace_period,
        },
    )
}

proptest! {
    #[test]
    fn the_window_is_the_last_width_values(
        config in config(),
        base in prop::collection::vec(0.0f64..1.0, 1..400),
        shift_at in 0usize..400,
        shift in prop::sample::select(vec![0.0, 0.5, 3.0, -20.0]),
    ) {
        let values: Vec<f64> = base.iter().enumerate().map(|(i, v)| if i >= shift_at { v + shift } else { *v }).collect();
        check(config, &values);
    }
}

#[test]
fn the_window_stays_the_last_width_values_across_detections() {
    // Level shifts every 300 rows, checked after every value: many cuts, drops and restarts.
    let mut rng = Rng::new(11);
    let values: Vec<f64> = (0..6000).map(|i| [0.0, 4.0, 1.0, 9.0][(i / 300) % 4] + rng.uniform()).collect();
    let config = AdwinConfig { delta: 0.05, clock: 1, max_buckets: 2, min_window_length: 2, grace_period: 5 };
    let detections = check(config, &values);
    assert!(detections >= 15, "{detections} detections");
}
