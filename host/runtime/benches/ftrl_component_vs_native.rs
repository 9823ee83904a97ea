//! FTRL throughput through the compiled component (driven by the host: the input batch written
//! as Arrow IPC straight into the guest's memory, decode, process, encode, copy out, decode)
//! against the same operator code compiled natively and called on the same Arrow batches.
//! Reports the ratio, measured in the same process, alternating the two so that machine noise
//! hits both alike.
//!
//! `cargo bench -p eddy-host --bench ftrl_component_vs_native [-- ROWS BATCH ROUNDS]`
//! (defaults: 1,000,000 rows of 32 dense features, batches of 4,096 rows, 5 rounds). Both
//! feature layouts eddy accepts are measured: one vector column (`featuresCol = "features"`)
//! and 32 numeric columns (`featuresCol = ["f0", ..., "f31"]`).
//!
//! Environment:
//! - `EDDY_BENCH_GLOBAL_BATCH=N`: FTRL's `globalBatchSize` (default 32; 1 publishes a model
//!   version per row).
//! - `EDDY_BENCH_PUBLISH=0`: both sides told not to publish model versions
//!   (`set_publish_models(false)`), as a host without a models sink does.
//! - `EDDY_BENCH_LAYOUT=vector|columns`: one layout only.
//! - `EDDY_BENCH_BREAKDOWN=1`: also time the host's IPC encoding of the inputs alone.
//! - `EDDY_BENCH_INTERLEAVE=1`: alternate the two batch by batch instead of round by round
//!   (which goes first alternates too), so that a shared machine's load, which changes from
//!   one second to the next, weighs on both alike.
//!
//! Besides wall-clock time it reports the thread's CPU time (on Linux), which other processes
//! on a shared machine disturb less. Both sides run with the allocator the `eddy` binary uses
//! (mimalloc).

/// The `eddy` binary's allocator, so the host's side of the boundary costs here what it costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use eddy_ftrl::Ftrl;
use eddy_host::{Limits, Runtime};
use eddy_sdk::{Operator, VectorBuilder, vector_field};

const DIM: usize = 32;

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
            let mut cols: Vec<Vec<f64>> = (0..DIM).map(|_| Vec::with_capacity(b.num_rows())).collect();
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
        let cols: Vec<ArrayRef> =
            vec![Arc::new(v.finish()), Arc::new(Float64Array::from(labels)), Arc::new(UInt64Array::from_iter_values(seq..seq + n as u64))];
        out.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
        seq += n as u64;
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of the calling thread, when the platform tells it.
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "the thread's CPU clock, for a benchmark")]
fn thread_cpu() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec (two longs on 64-bit Linux) into `ts`.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0 && cfg!(target_pointer_width = "64")).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<Duration> {
    None
}

/// Wall-clock and CPU time of `f`.
fn timed(f: impl FnOnce()) -> (Duration, Option<Duration>) {
    let (t, c) = (Instant::now(), thread_cpu());
    f();
    (t.elapsed(), c.zip(thread_cpu()).map(|(a, b)| b - a))
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let batch = args.get(1).copied().unwrap_or(4096);
    let rounds = args.get(2).copied().unwrap_or(5);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let global_batch: usize = env("EDDY_BENCH_GLOBAL_BATCH").map(|v| v.parse().expect("EDDY_BENCH_GLOBAL_BATCH")).unwrap_or(32);
    let publish = env("EDDY_BENCH_PUBLISH").is_none_or(|v| v != "0");
    let layout_only = env("EDDY_BENCH_LAYOUT");
    let interleave = env("EDDY_BENCH_INTERLEAVE").is_some_and(|v| v != "0");
    let data = batches(rows, batch);
    let rt = Runtime::new(Limits::default()).unwrap();
    let op = eddy_bundle::find("ftrl").unwrap();
    let component = rt.load(op.bytes, Path::new("ftrl")).unwrap();

    let vector_config = format!(r#"{{"globalBatchSize": {global_batch}, "alpha": 0.5}}"#);
    let columns_config = format!(
        r#"{{"globalBatchSize": {global_batch}, "alpha": 0.5, "featuresCol": [{}]}}"#,
        (0..DIM).map(|i| format!("\"f{i}\"")).collect::<Vec<_>>().join(", ")
    );
    let column_data = as_columns(&data);
    println!(
        "FTRL, {rows} rows x {DIM} dense features, batches of {batch}, globalBatchSize {global_batch}, models {}, median of {rounds} rounds{}",
        if publish { "published" } else { "not published" },
        if interleave { ", interleaved batch by batch" } else { "" }
    );
    for (layout, name, config, data) in
        [("one vector column", "vector", vector_config, &data), ("32 numeric columns", "columns", columns_config, &column_data)]
    {
        if layout_only.as_deref().is_some_and(|l| l != name) {
            continue;
        }
        let (mut native_t, mut native_c, mut wasm_t, mut wasm_c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut check = (Vec::new(), Vec::new());
        let mut models = (0, 0);
        for round in 0..rounds {
            let mut native = Ftrl::open_json(&config).unwrap();
            native.set_publish_models(publish);
            let mut native_models = 0;
            let mut run_native = |b: &RecordBatch| {
                let out = native.process(b).unwrap();
                native_models += out.models.as_ref().map_or(0, |m| m.num_rows());
                std::hint::black_box(out);
            };
            let mut inst = component.instantiate(&config).unwrap();
            inst.set_publish_models(publish).map_err(|e| format!("{e:?}")).unwrap();
            let mut wasm_models = 0;
            let mut run_wasm = |b: &RecordBatch| {
                let out = inst.process(b, |_| true).map_err(|e| format!("{e:?}")).unwrap();
                wasm_models += out.models.as_ref().map_or(0, |m| m.num_rows());
                std::hint::black_box(out);
            };
            if interleave {
                let (mut n, mut w) = ((Duration::ZERO, Some(Duration::ZERO)), (Duration::ZERO, Some(Duration::ZERO)));
                let add = |acc: &mut (Duration, Option<Duration>), (t, c): (Duration, Option<Duration>)| {
                    acc.0 += t;
                    acc.1 = acc.1.zip(c).map(|(a, b)| a + b);
                };
                for (i, b) in data.iter().enumerate() {
                    if i % 2 == 0 {
                        add(&mut n, timed(|| run_native(b)));
                        add(&mut w, timed(|| run_wasm(b)));
                    } else {
                        add(&mut w, timed(|| run_wasm(b)));
                        add(&mut n, timed(|| run_native(b)));
                    }
                }
                native_t.push(n.0);
                native_c.extend(n.1);
                wasm_t.push(w.0);
                wasm_c.extend(w.1);
            } else {
                let (t, c) = timed(|| data.iter().for_each(&mut run_native));
                native_t.push(t);
                native_c.extend(c);
                let (t, c) = timed(|| data.iter().for_each(&mut run_wasm));
                wasm_t.push(t);
                wasm_c.extend(c);
            }
            if round == 0 {
                check = (native.snapshot().unwrap(), inst.snapshot(true).map_err(|e| format!("{e:?}")).unwrap().1);
                models = (native_models, wasm_models);
            }
        }
        assert_eq!(check.0, check.1, "native and component end in the same state");
        assert_eq!(models.0, models.1, "native and component publish as many model versions");
        let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
        let (nb, wb) = (best(&native_t), best(&wasm_t));
        let (n, w) = (median(native_t), median(wasm_t));
        let rate = |d: Duration| rows as f64 / d.as_secs_f64();
        println!("{layout}: ({} model versions published)", models.0);
        println!("  native     {:>8.3} s  {:>12.0} rows/s", n.as_secs_f64(), rate(n));
        println!("  component  {:>8.3} s  {:>12.0} rows/s", w.as_secs_f64(), rate(w));
        println!("  ratio component/native time: {:.3}x (final states identical)", w.as_secs_f64() / n.as_secs_f64());
        println!(
            "  best round: native {:.3} s, component {:.3} s, ratio {:.3}x",
            nb.as_secs_f64(),
            wb.as_secs_f64(),
            wb.as_secs_f64() / nb.as_secs_f64()
        );
        if native_c.len() == rounds && wasm_c.len() == rounds {
            let (n, w) = (median(native_c), median(wasm_c));
            println!(
                "  CPU time: native {:.3} s, component {:.3} s, ratio {:.3}x",
                n.as_secs_f64(),
                w.as_secs_f64(),
                w.as_secs_f64() / n.as_secs_f64()
            );
        }
    }
    if std::env::var_os("EDDY_BENCH_BREAKDOWN").is_some() {
        // Where the component's extra time goes: Arrow IPC on the host side alone.
        for (layout, data) in [("one vector column", &data), ("32 numeric columns", &column_data)] {
            let t = Instant::now();
            for b in data.iter() {
                std::hint::black_box(eddy_sdk::ipc::encode(b).unwrap());
            }
            println!("{layout}: host IPC encode of the inputs alone: {:.3} s", t.elapsed().as_secs_f64());
            // What the host does per call: lay the stream out and write it into memory that is
            // already there (the guest's, where the previous batch was).
            let mut buffer = Vec::new();
            let t = Instant::now();
            for b in data.iter() {
                let layout = eddy_sdk::ipc::StreamLayout::new(b).unwrap();
                buffer.resize(layout.len(), 0);
                layout.write_to(&mut buffer);
                std::hint::black_box(&buffer);
            }
            println!("{layout}: the same written into one reused buffer: {:.3} s", t.elapsed().as_secs_f64());
        }
    }
}
