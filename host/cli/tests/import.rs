//! `eddy topic import`: Arrow values, Parquet input. Runs the `eddy` binary as a child process
//! and reads the replay files it writes with arrow (a replay is an Arrow IPC file).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::ipc::reader::FileReader;
use parquet::arrow::ArrowWriter;

fn eddy(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy")).args(args).output().expect("run eddy");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-import-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One record of a replay file.
#[derive(Debug, PartialEq)]
struct Rec {
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
}

fn read_replay(path: &Path) -> Vec<Rec> {
    let mut out = Vec::new();
    for b in FileReader::try_new(File::open(path).unwrap(), None).unwrap() {
        let b = b.unwrap();
        let partition = b.column_by_name("partition").unwrap().as_primitive::<arrow::datatypes::Int32Type>();
        let offset = b.column_by_name("offset").unwrap().as_primitive::<Int64Type>();
        let timestamp = b.column_by_name("timestamp").unwrap().as_primitive::<Int64Type>();
        let key = b.column_by_name("key").unwrap().as_binary::<i32>();
        let value = b.column_by_name("value").unwrap().as_binary::<i32>();
        for i in 0..b.num_rows() {
            out.push(Rec {
                partition: partition.value(i),
                offset: offset.value(i),
                timestamp: timestamp.value(i),
                key: key.is_valid(i).then(|| key.value(i).to_vec()),
                value: value.value(i).to_vec(),
            });
        }
    }
    out
}

/// `n` rows: x (float), n (integer), name (text), ts (integer timestamp).
fn rows(n: usize) -> (Vec<f64>, Vec<i64>, Vec<String>, Vec<i64>) {
    let x = (0..n).map(|i| i as f64 * 0.25 - 1.0).collect();
    let k = (0..n).map(|i| (i as i64 * 7) % 5).collect();
    let name = (0..n).map(|i| format!("r{i}")).collect();
    let ts = (0..n).map(|i| 1_700_000_000_000 + i as i64 * 1000).collect();
    (x, k, name, ts)
}

fn write_csv(path: &Path, n: usize) {
    let (x, k, name, ts) = rows(n);
    let mut s = String::from("x,n,name,ts\n");
    for i in 0..n {
        // Floats with a fractional part, so that CSV inference makes x a float column.
        s += &format!("{:?},{},{},{}\n", x[i] + 0.125, k[i], name[i], ts[i]);
    }
    std::fs::write(path, s).unwrap();
}

fn write_parquet(path: &Path, n: usize) {
    let (x, k, name, ts) = rows(n);
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(x.iter().map(|v| v + 0.125).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(k)),
            Arc::new(StringArray::from(name)),
            Arc::new(Int64Array::from(ts)),
        ],
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    // Two writes, so that the reader sees more than one batch.
    w.write(&batch.slice(0, n / 2)).unwrap();
    w.write(&batch.slice(n / 2, n - n / 2)).unwrap();
    w.close().unwrap();
}

#[test]
fn arrow_import_holds_n_csv_rows_per_record_and_the_last_is_short() {
    let dir = tmp_dir("arrow");
    let csv = dir.join("in.csv");
    write_csv(&csv, 10);
    let out = dir.join("out.replay");
    let (ok, err) = eddy(&[
        "topic",
        "import",
        "--csv",
        csv.to_str().unwrap(),
        "--topic",
        "t",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "arrow",
        "--rows-per-record",
        "4",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("wrote 3 records (10 rows)"), "{err}");
    let recs = read_replay(&out);
    let batches: Vec<RecordBatch> = recs.iter().map(|r| eddy_sdk::ipc::decode(&r.value).unwrap()).collect();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [4, 4, 2]);
    assert_eq!(recs.iter().map(|r| (r.partition, r.offset, r.timestamp)).collect::<Vec<_>>(), [(0, 0, 0), (0, 1, 4), (0, 2, 8)]);
    assert!(recs.iter().all(|r| r.key.is_none()));
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    let (x, k, name, ts) = rows(10);
    assert_eq!(
        all.column_by_name("x").unwrap().as_primitive::<Float64Type>().values().to_vec(),
        x.iter().map(|v| v + 0.125).collect::<Vec<_>>()
    );
    assert_eq!(all.column_by_name("n").unwrap().as_primitive::<Int64Type>().values().to_vec(), k);
    assert_eq!(all.column_by_name("name").unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_owned()).collect::<Vec<_>>(), name);
    assert_eq!(all.column_by_name("ts").unwrap().as_primitive::<Int64Type>().values().to_vec(), ts);

    // --timestamp: a record's timestamp is its first row's; with partitions, rows are dealt
    // round-robin and a record holds rows of one partition.
    let (ok, err) = eddy(&[
        "topic",
        "import",
        "--csv",
        csv.to_str().unwrap(),
        "--topic",
        "t",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "arrow",
        "--rows-per-record",
        "2",
        "--partitions",
        "2",
        "--timestamp",
        "ts",
    ]);
    assert!(ok, "{err}");
    let recs = read_replay(&out);
    let mut seen = vec![Vec::new(); 2];
    for r in &recs {
        let b = eddy_sdk::ipc::decode(&r.value).unwrap();
        let names: Vec<String> = b.column_by_name("name").unwrap().as_string::<i32>().iter().map(|s| s.unwrap().to_owned()).collect();
        assert_eq!(r.timestamp, ts[names[0][1..].parse::<usize>().unwrap()]);
        seen[r.partition as usize].extend(names);
    }
    assert_eq!(seen[0], ["r0", "r2", "r4", "r6", "r8"]);
    assert_eq!(seen[1], ["r1", "r3", "r5", "r7", "r9"]);
    assert_eq!(recs.iter().filter(|r| r.partition == 0).map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parquet_import_equals_the_csv_import_of_the_same_rows() {
    let dir = tmp_dir("parquet");
    let (csv, pq) = (dir.join("in.csv"), dir.join("in.parquet"));
    write_csv(&csv, 25);
    write_parquet(&pq, 25);
    for extra in [&["--partitions", "3", "--key", "name"][..], &["--format", "arrow", "--rows-per-record", "7", "--timestamp", "ts"]] {
        let import = |flag: &str, input: &Path, out: &Path| {
            let mut args = vec!["topic", "import", flag, input.to_str().unwrap(), "--topic", "t", "--out", out.to_str().unwrap()];
            args.extend(extra);
            let (ok, err) = eddy(&args);
            assert!(ok, "{err}");
            read_replay(out)
        };
        let from_csv = import("--csv", &csv, &dir.join("csv.replay"));
        let from_parquet = import("--parquet", &pq, &dir.join("parquet.replay"));
        assert!(!from_csv.is_empty());
        assert_eq!(from_csv, from_parquet, "{extra:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn arrow_import_refuses_a_key_unless_one_row_per_record() {
    let dir = tmp_dir("key");
    let csv = dir.join("in.csv");
    write_csv(&csv, 6);
    let (json, arrow) = (dir.join("json.replay"), dir.join("arrow.replay"));
    let base = ["topic", "import", "--csv", csv.to_str().unwrap(), "--topic", "t", "--key", "name", "--partitions", "3"];
    let (ok, err) = eddy(&[&base[..], &["--out", arrow.to_str().unwrap(), "--format", "arrow"]].concat());
    assert!(!ok);
    assert!(err.contains("--key with --format arrow needs --rows-per-record 1"), "{err}");
    assert!(!arrow.exists());
    let (ok, err) = eddy(&[&base[..], &["--out", arrow.to_str().unwrap(), "--format", "arrow", "--rows-per-record", "3"]].concat());
    assert!(!ok && err.contains("needs --rows-per-record 1"), "{err}");

    // With one row per record, keys and partitions are the JSON import's.
    let (ok, err) = eddy(&[&base[..], &["--out", arrow.to_str().unwrap(), "--format", "arrow", "--rows-per-record", "1"]].concat());
    assert!(ok, "{err}");
    let (ok, err) = eddy(&[&base[..], &["--out", json.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    // (Records of different partitions may be interleaved differently in the file.)
    let keys_of = |path: &Path| {
        let mut k: Vec<_> = read_replay(path).iter().map(|r| (r.partition, r.offset, r.timestamp, r.key.clone())).collect();
        k.sort();
        k
    };
    assert_eq!(keys_of(&arrow), keys_of(&json));
    let (ok, err) = eddy(&[
        "topic",
        "import",
        "--csv",
        csv.to_str().unwrap(),
        "--topic",
        "t",
        "--out",
        json.to_str().unwrap(),
        "--rows-per-record",
        "2",
    ]);
    assert!(!ok && err.contains("--rows-per-record needs --format arrow"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
