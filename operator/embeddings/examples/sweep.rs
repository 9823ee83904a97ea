//! The sweep behind the embedding updater's defaults: runs the operator natively (the same
//! arithmetic as the component, bit for bit) over seeded generator streams with and without a
//! drift, for a grid of optimiser, learning rate, negative sampling and regularisation
//! settings, and prints the prequential hit rate at 10 over the whole stream, before the drift,
//! over the 10,000 events right after it and over the last 10,000 events.
//!
//! `cargo run --release -p eddy-embeddings --example sweep [-- quick]`
//! (benchmarks/embeddings/run.sh --sweep runs it). The streams use seeds 100 to 102, never the
//! seeds the benchmark reports (1 and 2).

use std::sync::Arc;

use eddy_embeddings::Embeddings;
use eddy_embeddings_gen::{GenConfig, Generator};
use eddy_sdk::Operator;
use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};

/// The benchmark's stream shape (issue 14): 2,000 users, 500 items in 12 groups, 100,000
/// events, half the users changing taste at event 50,000 (or no drift).
fn stream(seed: u64, drift: bool) -> (Vec<(String, String, i64)>, Option<u64>) {
    let cfg = GenConfig {
        seed,
        events: 100_000,
        users: 2_000,
        items: 500,
        groups: 12,
        drift_at: drift.then_some(50_000),
        drift_share: 0.5,
        ..GenConfig::default()
    };
    let drift_at = cfg.drift_at;
    (Generator::new(cfg).map(|e| (e.user_json(), e.item_json(), e.ts)).collect(), drift_at)
}

fn hits(config: &str, events: &[(String, String, i64)]) -> Vec<f64> {
    let mut op = Embeddings::open_json(config).unwrap_or_else(|e| panic!("{config}: {e}"));
    let schema = Arc::new(Schema::new(vec![
        Field::new("user", DataType::Utf8, false),
        Field::new("item", DataType::Utf8, false),
        Field::new("__timestamp", DataType::Int64, false),
        Field::new("__seq", DataType::UInt64, false),
    ]));
    let mut out = Vec::with_capacity(events.len());
    for (n, chunk) in events.chunks(4096).enumerate() {
        let seq0 = (n * 4096) as u64;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.0.as_str()))),
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.1.as_str()))),
            Arc::new(Int64Array::from_iter_values(chunk.iter().map(|e| e.2))),
            Arc::new(UInt64Array::from_iter_values(seq0..seq0 + chunk.len() as u64)),
        ];
        let b = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let o = op.process(&b).unwrap().outputs;
        let h = o.column_by_name("hit10").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
        out.extend((0..h.len()).map(|i| h.value(i)));
    }
    out
}

/// A named stream of (user, item, time) events and its drift event.
type Stream = (&'static str, Vec<(String, String, i64)>, Option<u64>);

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() {
    let quick = std::env::args().nth(1).is_some_and(|a| a == "quick");
    let streams: Vec<Stream> = if quick {
        vec![("seed 100, drift", stream(100, true).0, Some(50_000))]
    } else {
        vec![
            ("seed 100, drift", stream(100, true).0, Some(50_000)),
            ("seed 101, drift", stream(101, true).0, Some(50_000)),
            ("seed 102, no drift", stream(102, false).0, None),
        ]
    };
    // The defaults first (an empty fragment), then the grid.
    let mut grid: Vec<String> = vec![String::new()];
    let lrs: &[(&str, &[f64])] = &[("adagrad", &[0.05, 0.1, 0.2]), ("rmsprop", &[0.01, 0.02, 0.04]), ("sgd", &[0.02, 0.05, 0.1])];
    for (opt, rates) in lrs {
        for lr in *rates {
            for mix in [0.0, 0.5] {
                grid.push(format!(
                    r#""optimizer": "{opt}", "learningRate": {lr}, "userLearningRate": {lr}, "rankWeight": 0, "popularityMix": {mix}"#
                ));
            }
        }
    }
    for ulr in [0.05, 0.07, 0.1] {
        for rw in [0.0, 0.15, 0.3] {
            grid.push(format!(r#""optimizer": "hybrid", "userLearningRate": {ulr}, "rankWeight": {rw}"#));
        }
    }
    // `-- config '"learningRate": 0.05' ...`: only these settings.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(p) = args.iter().position(|a| a == "config") {
        grid = args[p + 1..].to_vec();
    } else if !quick {
        for extra in [
            r#""popularityMix": 0.5"#,
            r#""popularityMix": 0.2"#,
            r#""negatives": 4"#,
            r#""negatives": 16"#,
            r#""reg": 0.001"#,
            r#""reg": 0.01"#,
            r#""learningRate": 0.05"#,
            r#""learningRate": 0.2"#,
        ] {
            grid.push(extra.into());
        }
    }
    println!(
        "| settings (the others at their defaults: dim 32, 8 negatives, hybrid, learningRate 0.1, userLearningRate 0.07, rankWeight 0.15, popularityMix 0, reg 0.0001) | stream | whole | before drift | 10,000 after | last 10,000 |"
    );
    println!("|---|---|---|---|---|---|");
    for g in &grid {
        let config = if g.is_empty() { r#"{"publishEveryEvents": 0}"#.to_owned() } else { format!(r#"{{"publishEveryEvents": 0, {g}}}"#) };
        let label = if g.is_empty() { "(defaults)" } else { g.as_str() };
        for (name, events, drift) in &streams {
            let h = hits(&config, events);
            let n = h.len();
            let (before, after) = match drift {
                Some(d) => {
                    let d = *d as usize;
                    (format!("{:.3}", mean(&h[..d])), format!("{:.3}", mean(&h[d..(d + 10_000).min(n)])))
                }
                None => ("-".into(), "-".into()),
            };
            println!("| {label} | {name} | {:.3} | {before} | {after} | {:.3} |", mean(&h), mean(&h[n - 10_000..]));
        }
    }
}
