//! Test support shared by the native tests of eddy's operators: batch builders (dense, sparse and
//! column-wise features), a deterministic data generator, exact (bit-level) canonical forms of
//! output rows, and drivers that feed the same rows in chunks of any size, with or without a
//! snapshot and restore in the middle.

use std::sync::Arc;

use eddy_sdk::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{Operator, VectorBuilder, vector_field};

/// A row: features and an optional label.
pub type LabeledRow = (Vec<f64>, Option<f64>);

fn labels_and_seq(rows: &[LabeledRow], seq0: u64) -> (ArrayRef, ArrayRef) {
    let labels = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
    let seq = UInt64Array::from_iter_values(seq0..seq0 + rows.len() as u64);
    (Arc::new(labels), Arc::new(seq))
}

fn vector_batch(v: &mut VectorBuilder, rows: &[LabeledRow], seq0: u64) -> RecordBatch {
    let (labels, seq) = labels_and_seq(rows, seq0);
    let schema = Schema::new(vec![
        vector_field("features", false),
        Field::new("label", DataType::Float64, true),
        Field::new("__seq", DataType::UInt64, false),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![Arc::new(v.finish()), labels, seq]).unwrap()
}

/// A batch with a dense `features` vector column, `label` and `__seq`.
pub fn dense_batch(rows: &[LabeledRow], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for (x, _) in rows {
        v.append_dense(x);
    }
    vector_batch(&mut v, rows, seq0)
}

/// The same rows with `features` as sparse vectors (zeros left out).
pub fn sparse_batch(rows: &[LabeledRow], seq0: u64) -> RecordBatch {
    let mut v = VectorBuilder::new();
    for (x, _) in rows {
        let (ix, vals): (Vec<i32>, Vec<f64>) = x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as i32, *v)).unzip();
        v.append_sparse(x.len() as i64, &ix, &vals);
    }
    vector_batch(&mut v, rows, seq0)
}

/// The same rows with one Float64 column per feature, named `names`.
pub fn columns_batch(rows: &[LabeledRow], names: &[&str], seq0: u64) -> RecordBatch {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        fields.push(Field::new(*name, DataType::Float64, false));
        cols.push(Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.0[j]))));
    }
    let (labels, seq) = labels_and_seq(rows, seq0);
    fields.push(Field::new("label", DataType::Float64, true));
    fields.push(Field::new("__seq", DataType::UInt64, false));
    cols.push(labels);
    cols.push(seq);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// A deterministic 64-bit LCG (Knuth's MMIX constants); `next_f64` is uniform in [0, 1).
pub struct Lcg(u64);

impl Lcg {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }

    /// The next value in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A roughly normal value (sum of 4 uniforms, centred, unit-ish variance).
    pub fn next_normal(&mut self) -> f64 {
        ((0..4).map(|_| self.next_f64()).sum::<f64>() - 2.0) * 1.7320508075688772
    }
}

/// `n` rows of `dim` features from `classes.len()` Gaussian blobs (centre of class `c` is
/// `2c + j` on feature `j`, spread `1 + j / 2`), labelled with the class value; every
/// `unlabelled_every`-th row has no label (0: all labelled).
pub fn blobs(n: usize, dim: usize, classes: &[f64], seed: u64, unlabelled_every: usize) -> Vec<LabeledRow> {
    let mut g = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let c = ((g.next_f64() * classes.len() as f64) as usize).min(classes.len() - 1);
            let x = (0..dim).map(|j| 2.0 * c as f64 + j as f64 + (1.0 + j as f64 / 2.0) * g.next_normal()).collect();
            let unlabelled = unlabelled_every > 0 && i % unlabelled_every == unlabelled_every - 1;
            (x, if unlabelled { None } else { Some(classes[c]) })
        })
        .collect()
}

/// An exact text form of one cell: floats as their bits, lists recursively, nulls as `null`.
pub fn cell(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Float64 => format!("{:016x}", a.as_any().downcast_ref::<Float64Array>().unwrap().value(i).to_bits()),
        DataType::Int64 => a.as_any().downcast_ref::<Int64Array>().unwrap().value(i).to_string(),
        DataType::UInt64 => a.as_any().downcast_ref::<UInt64Array>().unwrap().value(i).to_string(),
        DataType::List(_) => {
            let v = a.as_any().downcast_ref::<ListArray>().unwrap().value(i);
            let parts: Vec<String> = (0..v.len()).map(|j| cell(v.as_ref(), j)).collect();
            format!("[{}]", parts.join(","))
        }
        other => panic!("unexpected type {other}"),
    }
}

/// Every row of `batch` in exact text form, with the column names.
pub fn canon(batch: &RecordBatch) -> Vec<String> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|i| {
            let parts: Vec<String> =
                schema.fields().iter().zip(batch.columns()).map(|(f, c)| format!("{}={}", f.name(), cell(c.as_ref(), i))).collect();
            parts.join(" ")
        })
        .collect()
}

/// Everything a run produced, in exact form.
#[derive(Debug, PartialEq)]
pub struct Run {
    /// Output rows.
    pub outputs: Vec<String>,
    /// Published model rows.
    pub models: Vec<String>,
    /// The final snapshot.
    pub snapshot: Vec<u8>,
    /// The final model data.
    pub model_data: Vec<String>,
}

/// Feeds `rows` in chunks of `chunk` rows (built by `make`); if `restore_at` is set, snapshots
/// after the chunk that reaches that row, and continues in a fresh instance restored from it.
pub fn run<O: Operator>(
    config: &str,
    rows: &[LabeledRow],
    chunk: usize,
    restore_at: Option<usize>,
    make: fn(&[LabeledRow], u64) -> RecordBatch,
) -> Run {
    let mut op = O::open_json(config).unwrap();
    let mut outputs = Vec::new();
    let mut models = Vec::new();
    let mut start = 0;
    let mut restored = false;
    while start < rows.len() {
        let end = (start + chunk).min(rows.len());
        let end = match restore_at {
            Some(at) if !restored && at > start && at < end => at,
            _ => end,
        };
        let out = op.process(&make(&rows[start..end], start as u64)).unwrap();
        assert_eq!(out.outputs.num_rows(), end - start, "one output row per input row");
        outputs.extend(canon(&out.outputs));
        if let Some(m) = &out.models {
            models.extend(canon(m));
        }
        start = end;
        if restore_at == Some(start) && !restored {
            let snap = op.snapshot().unwrap();
            op = O::open_json(config).unwrap();
            op.restore(&snap).unwrap();
            restored = true;
        }
    }
    Run { outputs, models, snapshot: op.snapshot().unwrap(), model_data: canon(&op.model_data().unwrap()) }
}

/// The Float64 values of column `name` (nulls as `None`).
pub fn f64_col(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let a = batch.column_by_name(name).unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    (0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))).collect()
}

/// The `List<Float64>` values of column `name`.
pub fn list_col(batch: &RecordBatch, name: &str) -> Vec<Vec<f64>> {
    let a = batch.column_by_name(name).unwrap().as_any().downcast_ref::<ListArray>().unwrap();
    (0..a.len()).map(|i| a.value(i).as_any().downcast_ref::<Float64Array>().unwrap().values().to_vec()).collect()
}

/// The Int64 values of column `name`.
pub fn i64_col(batch: &RecordBatch, name: &str) -> Vec<i64> {
    batch.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
}

/// Asserts `a` and `b` agree to `tol` (absolute, or relative for large values).
pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    let scale = 1f64.max(a.abs()).max(b.abs());
    assert!((a - b).abs() <= tol * scale, "{what}: {a} vs {b}");
}

/// Checks that the same rows give identical outputs, models, model data and snapshots whether
/// fed one row at a time, 7 at a time, 1000 at a time or all at once, and when snapshotted and
/// restored mid-stream.
pub fn assert_batch_independent<O: Operator>(
    config: &str,
    rows: &[LabeledRow],
    make: fn(&[LabeledRow], u64) -> RecordBatch,
    restore_points: &[usize],
) {
    let whole = run::<O>(config, rows, rows.len(), None, make);
    assert!(!whole.models.is_empty(), "the run published models");
    for chunk in [1, 7, 1000] {
        let r = run::<O>(config, rows, chunk, None, make);
        assert_eq!(r.outputs, whole.outputs, "outputs differ with chunks of {chunk}");
        assert_eq!(r.models, whole.models, "models differ with chunks of {chunk}");
        assert_eq!(r.model_data, whole.model_data, "model data differs with chunks of {chunk}");
        assert_eq!(r.snapshot, whole.snapshot, "snapshot differs with chunks of {chunk}");
    }
    for &at in restore_points {
        for chunk in [7, rows.len()] {
            let r = run::<O>(config, rows, chunk, Some(at), make);
            assert_eq!(r, whole, "restore at row {at} (chunks of {chunk}) changed the run");
        }
    }
}

/// Asserts that `err` is an input error at `row` naming `column`.
pub fn assert_input_error(err: &eddy_sdk::OperatorError, row: u32, column: &str) {
    match err {
        eddy_sdk::OperatorError::InvalidInput(e) => {
            assert_eq!(e.row, row, "{err}");
            assert_eq!(e.column.as_deref(), Some(column), "{err}");
        }
        other => panic!("expected an input error, got {other}"),
    }
}

/// Asserts that opening with `config` fails naming `param`.
pub fn assert_config_error<O: Operator>(config: &str, param: &str) {
    match O::open_json(config) {
        Err(eddy_sdk::OperatorError::InvalidConfig(c)) => assert_eq!(c.parameter, param, "{config}: {}", c.message),
        Err(other) => panic!("{config}: expected a config error, got {other}"),
        Ok(_) => panic!("{config}: expected a config error naming {param}"),
    }
}

/// One case of a river reference recorded under a crate's `tests/reference` by its
/// `river_reference.py`: the case's entry in `summary.json` (whose `river` is checked to be
/// 0.26.1, the version the comparison pins) and the rows of `<case>.csv`, every cell a number.
pub struct RiverCase {
    /// `summary.json`'s `cases.<case>`.
    pub entry: serde_json::Value,
    /// The CSV's rows after its header, each cell parsed (Rust's parse rounds correctly, so
    /// Python's `repr` of a float comes back exactly).
    pub rows: Vec<Vec<f64>>,
}

/// Reads case `case` of the river reference under `<manifest_dir>/tests/reference`, checking
/// that every row has `cells` cells and that there are as many rows as the summary says.
pub fn river_case(manifest_dir: &str, case: &str, cells: impl Fn(&serde_json::Value) -> usize) -> RiverCase {
    let dir = std::path::Path::new(manifest_dir).join("tests/reference");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["river"], "0.26.1");
    let entry = summary["cases"][case].clone();
    let width = cells(&entry);
    let text = std::fs::read_to_string(dir.join(format!("{case}.csv"))).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|line| {
            let row: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
            assert_eq!(row.len(), width, "{case}: {line}");
            row
        })
        .collect();
    assert_eq!(rows.len() as u64, entry["rows"].as_u64().unwrap(), "{case}: rows");
    RiverCase { entry, rows }
}

/// A float the reference script wrote as Python's `repr` in a JSON string, parsed exactly.
pub fn exact(v: &serde_json::Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}
