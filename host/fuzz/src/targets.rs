//! The fuzz targets and their seeds (valid inputs the mutations start from).
//!
//! A target returns nothing: it fails by panicking (a decoder's panic, or a broken invariant
//! the target checks), by aborting, or by allocating past [`crate::guard::LIMIT`].

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, StringDictionaryBuilder, UInt64Array,
};
use arrow::datatypes::{Float64Type, Int32Type};
use arrow::ipc::writer::StreamWriter;
use eddy_host::decode::{DecodeCol, RecordDecoder};
use eddy_host::drift::DriftSettings;
use eddy_host::replay::{ReplayReader, ReplayWriter};
use eddy_host::{Format, OperatorComponent, Pipeline, PipelineSnapshot, Record, Runtime, SnapshotKind, StageSnapshot};
use eddy_kafka::checkpoint::{self, Checkpoint, CheckpointIndex, StoredRecord};
use eddy_sdk::{ColumnSpec, ColumnType, TIMESTAMP_COLUMN, VectorBuilder, ipc};
use serde_json::{Value, json};

/// One fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its name (the libFuzzer target's too).
    pub name: &'static str,
    /// Valid inputs.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Decodes one input; must not panic, abort or allocate without bound.
    pub run: fn(&[u8]),
}

/// Every target.
pub fn all() -> Vec<Target> {
    vec![
        Target { name: "record_value_json", seeds: json_seeds, run: record_value_json },
        Target { name: "record_value_arrow", seeds: arrow_seeds, run: record_value_arrow },
        Target { name: "guest_output", seeds: output_seeds, run: guest_output },
        Target { name: "replay_file", seeds: replay_seeds, run: replay_file },
        Target { name: "checkpoint_records", seeds: checkpoint_seeds, run: checkpoint_records },
        Target { name: "pipeline_snapshot", seeds: snapshot_seeds, run: pipeline_snapshot },
    ]
}

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}

fn record(value: &[u8], offset: i64) -> Record {
    Record {
        topic: "t".into(),
        partition: 0,
        offset,
        timestamp: 1000 + offset,
        key: Some(b"k".to_vec()),
        value: value.to_vec(),
        headers: vec![("h".into(), Some(b"v".to_vec()))],
    }
}

// ---------------------------------------------------------------- record values

/// The columns the record decoders read: every column type, required and optional.
fn columns() -> Vec<DecodeCol> {
    [
        ColumnSpec::required("x", ColumnType::Vector),
        ColumnSpec::optional("label", ColumnType::Float64),
        ColumnSpec::optional("n", ColumnType::Int64),
        ColumnSpec::optional("s", ColumnType::Utf8),
        ColumnSpec::optional("id", ColumnType::Json),
        ColumnSpec::optional(TIMESTAMP_COLUMN, ColumnType::Int64),
    ]
    .into_iter()
    .map(|spec| DecodeCol { spec })
    .collect()
}

fn decode_records(format: Format, good: &[u8], data: &[u8]) {
    let mut d = RecordDecoder::new(columns(), format);
    let recs = [record(good, 0), record(data, 1), record(good, 2)];
    let out = d.decode(&recs, false, usize::MAX);
    assert_eq!(out.consumed, 3);
    assert_eq!(out.good.len() + out.bad.len(), 3, "every record is good or bad");
    assert_eq!(out.batch.num_rows(), out.good.iter().map(|g| g.1).sum::<usize>(), "the batch holds the good records' rows");
    assert!(out.good.iter().any(|g| g.0 == 0) && out.good.iter().any(|g| g.0 == 2), "a bad neighbour spoils nothing");
    let out = d.decode(&recs[1..2], true, 1);
    assert_eq!(out.good.len() + out.bad.len(), 1);
}

const GOOD_JSON: &[u8] = br#"{"x": [1, 2.5], "label": 1}"#;

fn json_seeds() -> Vec<Vec<u8>> {
    [
        &br#"{"x": [1, 2.5, -3e-2], "label": 1, "n": 3, "s": "a\"b\u00e9", "id": "sku-1", "__timestamp": 1700000000000}"#[..],
        br#"{"x": {"size": 5, "indices": [1, 3], "values": [1.5, 2]}, "label": 0.0, "id": 17}"#,
        br#"{"x": {"values": [1, 2], "size": 2, "indices": null}, "other": {"deep": [1, {"a": [null, true]}]}, "s": null}"#,
        br#"{"n": -9223372036854775808, "x": [], "x": [0.5], "label": null}"#,
        br#"  {"x":[1e308,-1e-308],"s":"\ud83d\ude00","id":{"a":1}}  "#,
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

/// Record values as JSON objects.
pub fn record_value_json(data: &[u8]) {
    decode_records(Format::Json, GOOD_JSON, data);
}

fn stream(batches: &[RecordBatch]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, &batches[0].schema()).expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.finish().expect("finish");
    drop(w);
    out
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).expect("batch")
}

fn list(rows: &[&[f64]]) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows.iter().map(|r| Some(r.iter().map(|x| Some(*x))))))
}

fn good_arrow() -> Vec<u8> {
    ipc::encode(&batch(vec![("x", list(&[&[1.0, 2.0]])), ("label", Arc::new(Float64Array::from(vec![1.0])))])).expect("encode")
}

fn arrow_seeds() -> Vec<Vec<u8>> {
    let plain = batch(vec![
        ("x", list(&[&[1.0, 2.5], &[], &[-3.0]])),
        ("label", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(0.0)]))),
        ("n", Arc::new(Int32Array::from(vec![1, 2, 3]))),
        ("s", Arc::new(StringArray::from(vec!["a", "bé", ""]))),
        ("id", Arc::new(Int64Array::from(vec![7, 8, 9]))),
        (TIMESTAMP_COLUMN, Arc::new(Int64Array::from(vec![5, 6, 7]))),
    ]);
    let mut v = VectorBuilder::new();
    v.append_dense(&[1.0, 2.0]);
    v.append_sparse(4, &[0, 3], &[1.0, -1.0]);
    let sparse = batch(vec![("x", Arc::new(v.finish())), ("s", Arc::new(StringArray::from(vec![Some("a"), None])))]);
    let mut dict = StringDictionaryBuilder::<Int32Type>::new();
    dict.append_value("red");
    dict.append_value("blue");
    dict.append_value("red");
    let dict = batch(vec![("x", list(&[&[1.0], &[2.0], &[3.0]])), ("s", Arc::new(dict.finish()))]);
    vec![
        ipc::encode(&plain).expect("encode"),
        stream(&[plain.slice(0, 1), plain.slice(1, 2)]),
        ipc::encode(&sparse).expect("encode"),
        stream(&[dict]),
        good_arrow(),
    ]
}

/// Record values as Arrow IPC streams.
pub fn record_value_arrow(data: &[u8]) {
    decode_records(Format::Arrow, &good_arrow(), data);
}

// ---------------------------------------------------------------- operator outputs

fn output_seeds() -> Vec<Vec<u8>> {
    let seq = |n: u64| -> ArrayRef { Arc::new(UInt64Array::from_iter_values(0..n)) };
    vec![
        ipc::encode(&batch(vec![("prediction", Arc::new(Float64Array::from(vec![1.0, 0.0])) as ArrayRef), ("__seq", seq(2))]))
            .expect("encode"),
        ipc::encode(&batch(vec![
            ("prediction", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
            ("rawPrediction", list(&[&[0.2, 0.8]])),
            ("modelVersion", Arc::new(Int64Array::from(vec![3]))),
            ("__seq", seq(1)),
        ]))
        .expect("encode"),
        ipc::encode(&batch(vec![("coefficient", list(&[&[0.5, -1.5, 2.0]])), ("modelVersion", Arc::new(Int64Array::from(vec![9])))]))
            .expect("encode"),
    ]
}

/// What an operator returns (outputs, models, model data), read as the host reads it.
pub fn guest_output(data: &[u8]) {
    let outputs = eddy_host::untrusted::decode_guest_output(&mut ipc::Decoder::default(), data.to_vec());
    let model_data = eddy_host::untrusted::decode_guest_output(&mut ipc::Decoder::default(), data.to_vec());
    assert_eq!(outputs.is_ok(), model_data.is_ok());
}

// ---------------------------------------------------------------- replay files

fn replay_records() -> Vec<Record> {
    (0..5)
        .map(|i| Record {
            topic: String::new(),
            partition: i % 2,
            offset: -1,
            timestamp: i64::from(i),
            key: (i % 2 == 0).then(|| vec![b'k', i as u8]),
            value: format!("{{\"x\": [{i}]}}").into_bytes(),
            headers: if i == 1 { vec![("h".into(), Some(vec![0xff])), ("n".into(), None)] } else { vec![] },
        })
        .collect()
}

/// The folder of this process's scratch files (see [`remove_scratch`]).
fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("eddy-fuzz-{}", std::process::id()))
}

/// Removes this process's scratch files.
pub fn remove_scratch() {
    let _ = std::fs::remove_dir_all(scratch_dir());
}

fn scratch(name: &str) -> PathBuf {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(format!("{name}-{:?}", std::thread::current().id()).replace(['(', ')'], ""))
}

fn replay_seeds() -> Vec<Vec<u8>> {
    let p = scratch("seed.replay");
    let mut w = ReplayWriter::create(&p, "t").expect("writer");
    w.append(replay_records()).expect("append");
    w.finish().expect("finish");
    let one = std::fs::read(&p).expect("read");
    vec![one]
}

/// A replay file, opened and read to its end.
pub fn replay_file(data: &[u8]) {
    let p = scratch("fuzz.replay");
    std::fs::write(&p, data).expect("write scratch file");
    read_replay(&p);
}

fn read_replay(p: &Path) {
    let Ok(reader) = ReplayReader::open(p) else { return };
    let _ = reader.estimated_records();
    for batch in reader {
        if batch.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------- checkpoint records

/// Between two framed checkpoint records.
const SEPARATOR: &[u8] = b"\xffEDDY\xff";

/// Checkpoint-topic records in a byte framing that survives mutations which change lengths:
/// records joined by [`SEPARATOR`], each a kind byte (0 chunk, 1 manifest, 2 tombstone, 3
/// chunk without value), the key, a zero byte, the value.
fn frame(records: &[StoredRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEPARATOR);
        }
        let kind = match (r.headers.first().map(|h| h.1.as_slice()), &r.value) {
            (Some(b"chunk"), Some(_)) => 0u8,
            (Some(b"manifest"), _) => 1,
            (Some(b"tombstone"), _) => 2,
            _ => 3,
        };
        out.push(kind);
        out.extend_from_slice(r.key.as_bytes());
        out.push(0);
        out.extend_from_slice(r.value.as_deref().unwrap_or(&[]));
    }
    out
}

fn unframe(data: &[u8]) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR).unwrap_or(rest.len());
        let rec = &rest[..end];
        rest = &rest[(end + SEPARATOR.len()).min(rest.len())..];
        let Some((&kind, rec)) = rec.split_first() else { continue };
        let zero = rec.iter().position(|&b| b == 0).unwrap_or(rec.len());
        let (key, value) = (&rec[..zero], &rec[(zero + 1).min(rec.len())..]);
        let (kind, value) = match kind % 4 {
            0 => ("chunk", Some(value.to_vec())),
            1 => ("manifest", Some(value.to_vec())),
            2 => ("tombstone", None),
            _ => ("chunk", None),
        };
        out.push(StoredRecord {
            key: String::from_utf8_lossy(key).into_owned(),
            value,
            headers: vec![(checkpoint::KIND_HEADER.into(), kind.as_bytes().to_vec())],
        });
    }
    out
}

fn small_snapshot(kind: SnapshotKind, state: &[u8]) -> PipelineSnapshot {
    PipelineSnapshot {
        stages: vec![StageSnapshot {
            operator: "OnlineLogisticRegression".into(),
            version: "1.2.0".into(),
            kind,
            state: state.to_vec(),
            pending: vec![(3, record(GOOD_JSON, 3), 0, None)],
        }],
        next_seq: 4,
        last_timestamp: 1003,
        metrics: Default::default(),
        drift: None,
    }
}

fn checkpoint_seeds() -> Vec<Vec<u8>> {
    let cp0 = Checkpoint {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
        epoch: 0,
        offset: 10,
        operator: "OnlineLogisticRegression".into(),
        version: "1.2.0".into(),
        records_in: 10,
        created_ms: 1,
        earlier: vec![],
        earlier_snapshots: vec![],
        full_stages: vec![true],
        snapshot: small_snapshot(SnapshotKind::Full, &[1, 2, 3, 4, 5]).to_bytes(),
        stored: None,
        finished: false,
    };
    let (mut recs, link0) = checkpoint::encode(&cp0, 40, &[]);
    let cp1 = Checkpoint {
        epoch: 1,
        offset: 20,
        records_in: 20,
        earlier: vec![link0],
        full_stages: vec![false],
        snapshot: small_snapshot(SnapshotKind::Delta, &[6]).to_bytes(),
        finished: true,
        ..cp0.clone()
    };
    let (more, _) = checkpoint::encode(&cp1, 40, &["g/t/0/link/7/0".into()]);
    recs.extend(more);
    let one = frame(&recs[..]);
    let (p1, _) = checkpoint::encode(&Checkpoint { partition: 1, ..cp0 }, 1000, &[]);
    vec![one, frame(&p1)]
}

/// Checkpoint-topic records: manifests (JSON) and chunks, applied to an index, then every
/// pipeline's latest checkpoint assembled and its snapshots parsed.
pub fn checkpoint_records(data: &[u8]) {
    let mut index = CheckpointIndex::default();
    for r in unframe(data) {
        index.apply(&r);
    }
    for p in 0..2 {
        let _ = index.offset("g", "t", p);
        let _ = index.stale("g", "t", p);
        let Ok(Some(cp)) = index.get("g", "t", p) else { continue };
        let _ = checkpoint::check_compatible(&cp, "OnlineLogisticRegression", "1.2.0", "ck");
        let chain: Vec<PipelineSnapshot> = cp.chain().filter_map(|b| PipelineSnapshot::from_bytes(b).ok()).collect();
        if !chain.is_empty() {
            let _ = PipelineSnapshot::needed_from(&chain);
        }
    }
}

// ---------------------------------------------------------------- pipeline snapshots

struct Chain {
    scaler: OperatorComponent,
    ftrl: OperatorComponent,
    pipeline: Option<Pipeline>,
}

thread_local! {
    static CHAIN: RefCell<Option<Chain>> = const { RefCell::new(None) };
}

fn runtime() -> &'static Runtime {
    static RT: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        Runtime::new(eddy_host::Limits { memory_mib: 64, call_timeout_ms: 5_000, ..eddy_host::Limits::default() }).expect("runtime")
    })
}

fn configs() -> (Value, Value) {
    (
        json!({"inputCol": ["a", "b"], "outputCol": "scaled", "withMean": true, "withStd": true,
               "windows": {"countTumbling": 1}, "modelVersionCol": ""}),
        json!({"featuresCol": "scaled", "labelCol": "label", "globalBatchSize": 1}),
    )
}

fn open_chain(c: &Chain) -> Pipeline {
    let (a, b) = configs();
    let mut p = Pipeline::chain(&[(&c.scaler, &a), (&c.ftrl, &b)], 0, Format::Json, true).expect("chain opens");
    p.set_drift(&DriftSettings::default()).expect("drift");
    p
}

fn with_chain<R>(f: impl FnOnce(&mut Pipeline) -> R) -> R {
    CHAIN.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.get_or_insert_with(|| {
            let load = |name: &str| {
                let op = eddy_bundle::find(name).expect("a shipped operator");
                runtime().load(op.bytes, Path::new(op.name)).expect("component loads")
            };
            Chain { scaler: load("scaler"), ftrl: load("ftrl"), pipeline: None }
        });
        if c.pipeline.is_none() {
            c.pipeline = Some(open_chain(c));
        }
        f(c.pipeline.as_mut().expect("opened"))
    })
}

/// Drops the thread's pipeline (the next case opens a fresh one).
fn reset_chain() {
    CHAIN.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            c.pipeline = None;
        }
    });
}

fn chain_records(n: i64, from: i64) -> Vec<Record> {
    (from..from + n).map(|i| record(format!("{{\"a\": {}, \"b\": {}, \"label\": {}}}", i % 7, (i * 3) % 5, i % 2).as_bytes(), i)).collect()
}

fn snapshot_seeds() -> Vec<Vec<u8>> {
    reset_chain();
    let plain = with_chain(|p| {
        let (_, r) = p.process(&chain_records(30, 0));
        r.expect("the seed run works");
        p.snapshot().expect("snapshot")
    });
    reset_chain();
    // The same with rows waiting at both stages (the second with the first's outputs).
    let mut waiting = plain.clone();
    let mut v = VectorBuilder::new();
    v.append_dense(&[0.5, -0.5]);
    let extra = ipc::encode(&batch(vec![("scaled", Arc::new(v.finish()) as ArrayRef)])).expect("encode");
    let recs = chain_records(2, 30);
    waiting.stages[0].pending.push((30, recs[0].clone(), 0, None));
    waiting.stages[1].pending.push((31, recs[1].clone(), 0, Some(extra)));
    waiting.next_seq = 32;
    vec![plain.to_bytes(), waiting.to_bytes()]
}

/// A pipeline snapshot, parsed, checked and restored into a running scaler | FTRL chain,
/// which then processes records, snapshots and finishes.
pub fn pipeline_snapshot(data: &[u8]) {
    let Ok(s) = PipelineSnapshot::from_bytes(data) else { return };
    let _ = (s.operators(), s.is_full());
    let chain = std::slice::from_ref(&s);
    let _ = PipelineSnapshot::needed_from(chain);
    with_chain(|p| {
        if p.restore(&s).is_ok() {
            let _ = p.process(&chain_records(3, s.next_seq.min(1 << 40) as i64));
            let _ = p.snapshot();
            let _ = p.finish();
            let _ = p.model_data();
        }
    });
    reset_chain();
}
