//! FTRL throughput through the compiled component (driven by the host: IPC encode, copy into
//! the guest, decode, process, encode, copy out, decode) against the same operator code
//! compiled natively and called on the same Arrow batches. Reports the ratio, measured in the
//! same process, alternating the two so that machine noise hits both alike.
//!
//! `cargo bench -p eddy-host --bench ftrl_component_vs_native [-- ROWS BATCH ROUNDS]`
//! (defaults: 1,000,000 rows of 32 dense features, batches of 4,096 rows, 5 rounds). Both
//! feature layouts eddy accepts are measured: one vector column (`featuresCol = "features"`)
//! and 32 numeric columns (`featuresCol = ["f0", ..., "f31"]`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use eddy_ftrl::Ftrl;
use eddy_host::{Limits, Runtime};
use eddy_sdk::{Operator, VectorBuilder, vector_field};

const DIM: usize = 32;
const CONFIG: &str = r#"{"globalBatchSize": 32, "alpha": 0.5}"#;

/// The same rows with one Float64 column per feature.
fn as_columns(batches: &[RecordBatch]) -> Vec<RecordBatch> {
    let mut fields: Vec<Field> = (0..DIM).map(|i| Field::new(format!("f{i}"), DataType::Float64, false)).collect();
    fields.push(Field::new("label", DataType::Float64, true));
    fields.push(Field::new("__seq", DataType::UInt64, false));
    let schema = Arc::new(Schema::new(fields));
    batches
        .iter()
        .map(|b| {
            let v = eddy_sdk::VectorColumn::new(b, "features").unwrap();
            let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(b.num_rows()); DIM];
            for r in 0..b.num_rows() {
                for (c, x) in cols.iter_mut().zip(v.get(r).unwrap().unwrap().values) {
                    c.push(*x);
                }
            }
            let mut arrays: Vec<ArrayRef> = cols.into_iter().map(|c| Arc::new(Float64Array::from(c)) as ArrayRef).collect();
            arrays.push(b.column(1).clone());
            arrays.push(b.column(2).clone());
            RecordBatch::try_new(schema.clone(), arrays).unwrap()
        })
        .collect()
}

fn batches(rows: usize, batch: usize) -> Vec<RecordBatch> {
    // A fixed linear rule plus deterministic pseudo-random features.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let schema = Arc::new(Schema::new(vec![
        vector_field("features", false),
        Field::new("label", DataType::Float64, true),
        Field::new("__seq", DataType::UInt64, false),
    ]));
    let mut out = Vec::new();
    let mut seq = 0u64;
    while (seq as usize) < rows {
        let n = batch.min(rows - seq as usize);
        let mut v = VectorBuilder::new();
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let f: Vec<f64> = (0..DIM).map(|_| next()).collect();
            let score: f64 = f.iter().enumerate().map(|(i, x)| if i % 2 == 0 { *x } else { -0.5 * x }).sum();
            labels.push(if score > 0.0 { 1.0 } else { 0.0 });
            v.append_dense(&f);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(v.finish()),
            Arc::new(Float64Array::from(labels)),
            Arc::new(UInt64Array::from_iter_values(seq..seq + n as u64)),
        ];
        out.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
        seq += n as u64;
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let batch = args.get(1).copied().unwrap_or(4096);
    let rounds = args.get(2).copied().unwrap_or(5);
    let data = batches(rows, batch);
    let rt = Runtime::new(Limits::default()).unwrap();
    let op = eddy_bundle::find("ftrl").unwrap();
    let component = rt.load(op.bytes, Path::new("ftrl")).unwrap();

    let columns_config = format!(
        r#"{{"globalBatchSize": 32, "alpha": 0.5, "featuresCol": [{}]}}"#,
        (0..DIM).map(|i| format!("\"f{i}\"")).collect::<Vec<_>>().join(", ")
    );
    let column_data = as_columns(&data);
    println!("FTRL, {rows} rows x {DIM} dense features, batches of {batch}, globalBatchSize 32, median of {rounds} rounds");
    let mut states = Vec::new();
    for (layout, config, data) in [("one vector column", CONFIG.to_owned(), &data), ("32 numeric columns", columns_config, &column_data)] {
        let mut native_t = Vec::new();
        let mut wasm_t = Vec::new();
        let mut check = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut native = Ftrl::open_json(&config).unwrap();
            let t = Instant::now();
            for b in data {
                std::hint::black_box(native.process(b).unwrap());
            }
            native_t.push(t.elapsed());

            let mut inst = component.instantiate(&config).unwrap();
            let t = Instant::now();
            for b in data {
                std::hint::black_box(inst.process(b, |_| true).map_err(|e| format!("{e:?}")).unwrap());
            }
            wasm_t.push(t.elapsed());
            if round == 0 {
                check = (native.snapshot().unwrap(), inst.snapshot(true).map_err(|e| format!("{e:?}")).unwrap().1);
            }
        }
        assert_eq!(check.0, check.1, "native and component end in the same state");
        states.push(native_t.len());
        let (n, w) = (median(native_t), median(wasm_t));
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!("{layout}:");
        println!("  native     {:>8.3} s  {:>12.0} rows/s", n.as_secs_f64(), rate(n));
        println!("  component  {:>8.3} s  {:>12.0} rows/s", w.as_secs_f64(), rate(w));
        println!("  ratio component/native time: {:.3}x (final states identical)", w.as_secs_f64() / n.as_secs_f64());
    }
    if std::env::var_os("EDDY_BENCH_BREAKDOWN").is_some() {
        // Where the component's extra time goes: Arrow IPC on the host side alone.
        for (layout, data) in [("one vector column", &data), ("32 numeric columns", &column_data)] {
            let t = Instant::now();
            for b in data.iter() {
                std::hint::black_box(eddy_sdk::ipc::encode(b).unwrap());
            }
            println!("{layout}: host IPC encode of the inputs alone: {:.3} s", t.elapsed().as_secs_f64());
        }
    }
}
