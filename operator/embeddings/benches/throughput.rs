//! Native benchmark of the embedding updater (a plain `main`, no harness):
//!
//! 1. events per second at dimension 32 with 8 negatives, learning only and with the
//!    prequential ranking against every known item;
//! 2. the size and time of a snapshot after 10,000 changed ids in a table of 1,000,000 ids,
//!    full and incremental, and the time to restore the chain.
//!
//! Run: `cargo bench -p eddy-embeddings --bench throughput` (add `-- quick` for a smaller run).

use std::sync::Arc;
use std::time::Instant;

use eddy_embeddings::Embeddings;
use eddy_embeddings::snapshot::frame_chain;
use eddy_sdk::Operator;
use eddy_sdk::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};

fn batch(events: &[(String, String)], seq0: u64) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("user", DataType::Utf8, false),
        Field::new("item", DataType::Utf8, false),
        Field::new("__timestamp", DataType::Int64, false),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    let n = events.len() as u64;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.0.as_str()))),
        Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.1.as_str()))),
        Arc::new(Int64Array::from_iter_values((seq0..seq0 + n).map(|s| s as i64 * 10))),
        Arc::new(UInt64Array::from_iter_values(seq0..seq0 + n)),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

/// Resident memory of this process in MB (Linux), for the per-id memory estimate.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1e3
}

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((u128::from(self.0 >> 11) * u128::from(n)) >> 53) as u64
    }
}

/// Feeds `events` in batches of 4096 from `seq0`; returns the seconds it took.
fn feed(op: &mut Embeddings, events: &[(String, String)], seq0: u64) -> f64 {
    let t = Instant::now();
    let mut seq = seq0;
    for chunk in events.chunks(4096) {
        let b = batch(chunk, seq);
        op.process(&b).unwrap();
        seq += chunk.len() as u64;
    }
    t.elapsed().as_secs_f64()
}

fn throughput(n: usize, users: u64, items: u64) {
    let mut rng = Lcg(1);
    let events: Vec<(String, String)> =
        (0..n).map(|_| (format!("\"u{}\"", rng.below(users)), rng.below(items).min(rng.below(items)).to_string())).collect();
    for (label, config) in [
        ("learning only (evaluate=false)", r#"{"dim": 32, "negatives": 8, "evaluate": false}"#),
        ("learning + rank against all known items", r#"{"dim": 32, "negatives": 8}"#),
    ] {
        let mut op = Embeddings::open_json(config).unwrap();
        let warm = n / 5;
        feed(&mut op, &events[..warm], 0);
        let secs = feed(&mut op, &events[warm..], warm as u64);
        let known = op.model().table(eddy_embeddings::Kind::Item).len();
        println!(
            "  {label}: {:.0} events/s ({} events, {users} users, {known} known items, dim 32, 8 negatives)",
            (n - warm) as f64 / secs,
            n - warm
        );
    }
}

fn snapshots(table: u64, changed_target: usize) {
    let config = format!(
        r#"{{"dim": 32, "negatives": 8, "evaluate": false, "publishEveryEvents": 0, "maxIds": {}, "fullSnapshotEvery": 1000}}"#,
        table + 10
    );
    let before = rss_mb();
    let mut op = Embeddings::open_json(&config).unwrap();
    let half = table / 2;
    let fill: Vec<(String, String)> = (0..half).map(|k| (format!("\"u{k}\""), k.to_string())).collect();
    let secs = feed(&mut op, &fill, 0);
    println!("  built a table of {} ids ({half} events, {secs:.1} s)", op.model().ids_held());
    let ids = op.model().ids_held() as f64;
    println!("  memory: about {:.0} bytes per id (resident set grew {:.0} MB)", (rss_mb() - before) * 1e6 / ids, rss_mb() - before);
    op.watermark(i64::MAX).unwrap();

    let t = Instant::now();
    let full = op.snapshot().unwrap();
    let full_secs = t.elapsed().as_secs_f64();
    println!("  full snapshot: {:.1} MB in {:.3} s", full.len() as f64 / 1e6, full_secs);

    // Events on existing ids; each changes its user, its item and up to 8 negatives.
    let mut rng = Lcg(7);
    let k = changed_target / 10;
    let upd: Vec<(String, String)> = (0..k).map(|_| (format!("\"u{}\"", rng.below(half)), rng.below(half).to_string())).collect();
    feed(&mut op, &upd, half);
    let changed = op.watermark(i64::MAX).unwrap().and_then(|o| o.models).map_or(0, |m| m.num_rows());

    let t = Instant::now();
    let delta = op.snapshot_blob(false).unwrap().1;
    let delta_secs = t.elapsed().as_secs_f64();
    println!(
        "  delta snapshot after {k} events changing {changed} ids: {:.2} MB in {:.4} s ({:.0} bytes per changed id)",
        delta.len() as f64 / 1e6,
        delta_secs,
        delta.len() as f64 / changed as f64
    );
    let t = Instant::now();
    let again = op.full_snapshot().unwrap();
    println!("  (a full snapshot at that point: {:.1} MB in {:.3} s)", again.len() as f64 / 1e6, t.elapsed().as_secs_f64());

    let chain = frame_chain(&[&full, &delta]);
    let t = Instant::now();
    let mut restored = Embeddings::open_json(&config).unwrap();
    restored.restore(&chain).unwrap();
    println!("  restore of the chain (full + delta): {:.3} s", t.elapsed().as_secs_f64());
    assert_eq!(restored.full_snapshot().unwrap(), again, "the chain restores the same state");
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    println!("eddy-embeddings throughput ({} build)", if cfg!(debug_assertions) { "debug" } else { "optimised" });
    if quick {
        throughput(50_000, 5_000, 1_000);
        snapshots(100_000, 10_000);
    } else {
        throughput(500_000, 100_000, 1_000);
        throughput(200_000, 100_000, 10_000);
        snapshots(1_000_000, 10_000);
    }
}
