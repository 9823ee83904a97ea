//! The bar the drift-detection issue set, on seeded streams: a planted abrupt drift is detected
//! within 1,000 rows after it, and 100,000 drift-free rows raise no alarm.
//!
//! ADWIN's delta bounds the error of one test, not of a whole stream, so with river's defaults
//! about 2% of drift-free 100,000-row streams do raise an alarm, in river as in eddy (river:
//! 2 of 100 Python-seeded streams at an error rate of 0.25; eddy: 4 of the 200 streams of
//! seeds 0..200 here, seed 19 for one, at row 17,599). The ignored test below measures it.

use eddy_drift::Adwin;

use crate::streams::{bernoulli, detections};

const ROWS: usize = 100_000;
const DRIFT_AT: usize = 50_000;

/// A classifier's errors whose rate jumps from 0.2 to 0.4 at row 50,000.
fn abrupt(seed: u64) -> Vec<f64> {
    bernoulli(seed, ROWS, |i| if i < DRIFT_AT { 0.2 } else { 0.4 })
}

/// A classifier's errors at a constant rate of 0.25.
fn stable(seed: u64) -> Vec<f64> {
    bernoulli(seed, ROWS, |_| 0.25)
}

#[test]
fn an_abrupt_drift_is_detected_within_1000_rows() {
    for seed in 1..=5 {
        let found = detections(&mut Adwin::default(), &abrupt(seed));
        let first = found.first().copied();
        assert!(first.is_some_and(|r| (DRIFT_AT..DRIFT_AT + 1000).contains(&r)), "seed {seed}: detections {found:?}");
    }
}

#[test]
fn a_drift_free_stream_raises_no_alarm() {
    for seed in 1..=5 {
        let found = detections(&mut Adwin::default(), &stable(seed));
        assert!(found.is_empty(), "seed {seed}: false alarms at {found:?}");
    }
}

/// `cargo test -p eddy-drift --release -- --ignored rates`: over seeds 0..200, every abrupt
/// drift is found within 1,000 rows (measured: within 335, median 143) and false alarms are
/// rare (measured: 1 abrupt stream alarms before its drift, 4 stable streams alarm).
#[test]
#[ignore = "20 million updates; run in release"]
fn rates_over_200_seeds() {
    let (mut late, mut early, mut false_alarms) = (Vec::new(), 0, 0);
    for seed in 0..200 {
        let found = detections(&mut Adwin::default(), &abrupt(seed));
        early += usize::from(found.first().is_some_and(|r| *r < DRIFT_AT));
        if !found.iter().any(|r| (DRIFT_AT..DRIFT_AT + 1000).contains(r)) {
            late.push(seed);
        }
        false_alarms += usize::from(!detections(&mut Adwin::default(), &stable(seed)).is_empty());
    }
    assert!(late.is_empty(), "drifts found late or never: seeds {late:?}");
    assert!(early <= 4, "{early} of 200 abrupt streams alarmed before the drift");
    assert!(false_alarms <= 8, "{false_alarms} of 200 stable streams alarmed");
}
