//! The same streams as river 0.26.1's `drift.ADWIN` read (tests/reference/streams.json) give
//! the same detections, the same window widths at them and bit-identical final statistics
//! (tests/reference/river_adwin.json, written by tests/reference/river_adwin.py).

use std::collections::BTreeMap;

use eddy_drift::{Adwin, AdwinConfig};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Stream {
    /// Row 4i+j is bit 3-j of hex digit i.
    Bits {
        rows: usize,
        hex: String,
    },
    Values {
        values: Vec<f64>,
    },
}

impl Stream {
    fn values(&self) -> Vec<f64> {
        match self {
            Stream::Bits { rows, hex } => {
                let bits = hex.chars().flat_map(|c| {
                    let d = c.to_digit(16).expect("a hex digit");
                    (0..4).rev().map(move |j| f64::from((d >> j) & 1))
                });
                bits.take(*rows).collect()
            }
            Stream::Values { values } => values.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Reference {
    river: String,
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    stream: String,
    config_name: String,
    config: AdwinConfig,
    detections: Vec<usize>,
    widths_at_detection: Vec<u64>,
    #[serde(rename = "final")]
    end: Final,
}

#[derive(Deserialize)]
struct Final {
    width: u64,
    total: f64,
    estimation: f64,
    variance_sum: f64,
    variance_in_window: f64,
}

fn read<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn detections_and_final_state_equal_rivers() {
    let streams: BTreeMap<String, Stream> = read("streams.json");
    let reference: Reference = read("river_adwin.json");
    assert_eq!(reference.river, "0.26.1");
    assert_eq!(reference.runs.len(), 6, "every stream with river's defaults, two with an eager config");
    let mut detected = 0;
    for run in &reference.runs {
        let name = format!("{} / {}", run.stream, run.config_name);
        let values = streams[&run.stream].values();
        let mut adwin = Adwin::new(run.config).unwrap();
        let (mut rows, mut widths) = (Vec::new(), Vec::new());
        for (i, x) in values.iter().enumerate() {
            if adwin.update(*x) {
                rows.push(i);
                widths.push(adwin.width());
            }
        }
        assert_eq!(rows, run.detections, "{name}: detections");
        assert_eq!(widths, run.widths_at_detection, "{name}: widths right after each detection");
        assert_eq!(adwin.n_detections() as usize, rows.len(), "{name}");
        let end = &run.end;
        assert_eq!(adwin.width(), end.width, "{name}: final width");
        assert_eq!(adwin.total().to_bits(), end.total.to_bits(), "{name}: total {} vs {}", adwin.total(), end.total);
        assert_eq!(adwin.estimation().to_bits(), end.estimation.to_bits(), "{name}: estimation");
        assert_eq!(adwin.variance().to_bits(), end.variance_in_window.to_bits(), "{name}: variance");
        let state = serde_json::to_value(&adwin).unwrap();
        assert_eq!(state["variance_sum"].as_f64().unwrap().to_bits(), end.variance_sum.to_bits(), "{name}: river's variance");
        detected += rows.len();
    }
    assert!(detected >= 5, "the reference runs detect something ({detected})");
}
