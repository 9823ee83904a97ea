//! A detector serialized mid-stream and restored continues exactly as an uninterrupted one
//! (same detections, bit-identical state), in JSON and in postcard; an inconsistent snapshot is
//! refused.

use eddy_drift::{Adwin, AdwinConfig};

use crate::streams::bernoulli;

/// 30,000 rows whose error rate switches between 0.1 and 0.5 every 5,000 rows.
fn stream() -> Vec<f64> {
    bernoulli(7, 30_000, |i| if (i / 5_000) % 2 == 0 { 0.1 } else { 0.5 })
}

fn configs() -> [AdwinConfig; 2] {
    // The default, and one whose clock (7) does not divide the restore points.
    [AdwinConfig::default(), AdwinConfig { delta: 0.01, clock: 7, max_buckets: 3, min_window_length: 4, grace_period: 20 }]
}

type Codec = fn(&Adwin) -> Adwin;

fn json(a: &Adwin) -> Adwin {
    serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap()
}

fn postcard(a: &Adwin) -> Adwin {
    postcard::from_bytes(&postcard::to_stdvec(a).unwrap()).unwrap()
}

/// Runs over `values`, replacing the detector by its restored snapshot after each row in
/// `restore_after`; the detections and the final detector.
fn run(config: AdwinConfig, values: &[f64], restore_after: &[usize], codec: Codec) -> (Vec<usize>, Adwin) {
    let mut a = Adwin::new(config).unwrap();
    let mut found = Vec::new();
    for (i, x) in values.iter().enumerate() {
        if a.update(*x) {
            found.push(i);
        }
        if restore_after.contains(&i) {
            let restored = codec(&a);
            assert_eq!(restored, a, "row {i}: the restored detector equals the original");
            a = restored;
        }
    }
    (found, a)
}

#[test]
fn a_restored_detector_continues_bit_for_bit() {
    let values = stream();
    for config in configs() {
        let (straight, end) = run(config, &values, &[], json);
        assert!(straight.len() >= 4, "{config:?}: the stream has drifts to detect: {straight:?}");
        // Restore early, around the clock, right after each detection (the next value empties
        // the window) and the one after, and every 1,009 rows.
        let mut points: Vec<usize> = vec![0, 1, 30, 31, 32, 33];
        points.extend(straight.iter().flat_map(|&d| [d, d + 1]));
        points.extend((0..values.len()).step_by(1009));
        for codec in [json as Codec, postcard] {
            let (restored, end2) = run(config, &values, &points, codec);
            assert_eq!(restored, straight, "{config:?}: detections");
            assert_eq!(end2, end, "{config:?}: final state");
            assert_eq!(serde_json::to_string(&end2).unwrap(), serde_json::to_string(&end).unwrap());
            assert_eq!(end2.n_detections(), straight.len() as u64);
        }
    }
}

#[test]
fn an_inconsistent_snapshot_is_refused() {
    let mut a = Adwin::default();
    for x in bernoulli(9, 1000, |_| 0.3) {
        a.update(x);
    }
    let good = serde_json::to_value(&a).unwrap();
    assert!(serde_json::from_value::<Adwin>(good.clone()).is_ok());
    let broken = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        serde_json::from_value::<Adwin>(v).expect_err("refused").to_string()
    };
    let width = good["width"].as_u64().unwrap();
    assert!(broken(&|v| v["width"] = (width + 1).into()).contains("the width is not the number of values in the buckets"));
    assert!(broken(&|v| v["tick"] = 32.into()).contains("the clock is past its period"));
    assert!(broken(&|v| v["config"]["delta"] = 0.0.into()).contains("delta must lie strictly between 0 and 1"));
    assert!(broken(&|v| v["config"]["max_buckets"] = 1.into()).contains("max_buckets must be from 2 to 1024, got 1"));
    // A snapshot asking for room it does not need is refused before any is allocated (the
    // fuzzer found one whose restore allocated 554 MB of bucket slots).
    assert!(broken(&|v| v["config"]["max_buckets"] = (1u32 << 31).into()).contains("max_buckets must be from 2 to 1024"));
    assert!(broken(&|v| v["rows"] = serde_json::json!([])).contains("no bucket row"));
    assert!(broken(&|v| v["rows"][1] = serde_json::json!([])).contains("an empty bucket row above the first"));
    let too_many = serde_json::Value::Array(vec![serde_json::json!([1.0, 0.0]); 6]);
    assert!(broken(&|v| v["rows"][0] = too_many.clone()).contains("holds more than max_buckets"));
    assert!(broken(&|v| v["surprise"] = 1.into()).contains("unknown field"));
}
