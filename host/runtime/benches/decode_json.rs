//! How fast record values decode into an operator's input batch, alone on one thread: JSON
//! objects of 32 numbers and a label (the VW benchmark's rows), by the fast path and by the
//! serde_json path, and Arrow values of 4,096 rows. Rows per second, median of 5 rounds.
//!
//! `cargo bench -p eddy-host --bench decode_json [-- ROWS]` (default 200,000)

use std::time::{Duration, Instant};

use eddy_host::decode::{DecodeCol, RecordDecoder};
use eddy_host::{Format, Record};
use eddy_sdk::{ColumnSpec, ColumnType};

fn main() {
    let rows: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let records: Vec<Record> = (0..rows)
        .map(|i| {
            let fields: Vec<String> = (0..32).map(|j| format!("\"f{j}\": {:.6}", next() * 2.0 - 1.0)).collect();
            let value = format!("{{{}, \"label\": {}}}", fields.join(", "), i % 2).into_bytes();
            Record { topic: "t".into(), partition: 0, offset: i as i64, timestamp: i as i64, key: None, value, headers: vec![] }
        })
        .collect();
    let mut cols: Vec<DecodeCol> =
        (0..32).map(|j| DecodeCol { spec: ColumnSpec::required(&format!("f{j}"), ColumnType::Float64) }).collect();
    cols.push(DecodeCol { spec: ColumnSpec::optional("label", ColumnType::Float64) });
    let bytes: usize = records.iter().map(|r| r.value.len()).sum();
    println!("{rows} JSON records of 32 numbers and a label, {} bytes each on average", bytes / rows);
    let mut times = Vec::new();
    for _ in 0..5 {
        let mut d = RecordDecoder::new(cols.clone(), Format::Json);
        let t = Instant::now();
        for chunk in records.chunks(4096) {
            let out = d.decode(chunk, false, usize::MAX);
            assert!(out.bad.is_empty());
            std::hint::black_box(out);
        }
        times.push(t.elapsed());
    }
    times.sort();
    let t: Duration = times[2];
    println!(
        "JSON decode: {:.3} s, {:.0} rows/s, {:.0} MB/s",
        t.as_secs_f64(),
        rows as f64 / t.as_secs_f64(),
        bytes as f64 / t.as_secs_f64() / 1e6
    );
}
