//! A deliberately hostile operator for the host's sandbox tests. Its `mode` parameter picks
//! the misbehaviour that `process` shows once it has seen `afterRows` rows: `trap` (panics),
//! `loop` (spins forever), `alloc` (allocates without bound), `garbage` (returns outputs whose
//! `__seq` column has the wrong type), `wrong-rows` (returns an output batch with the wrong `__seq` values),
//! `echo` (behaves: answers each row with `prediction = 0`), or `poison` (a tiny learner that
//! answers each row with the sum of the `x` seen before it, and traps, on every attempt, on a
//! row whose `x` is `poisonValue`), `recurse` (the same learner, recursing without bound on the
//! poison row: stack exhaustion), `huge-output` (the same learner, answering the poison row with
//! a string of `outputMib` MiB), or `probe` (answers each row with what it can see of the
//! world: the wall clock, the monotonic clock, the environment, random numbers, the file system).
//!
//! Whatever the mode, `failIn` (`snapshot`, `restore`, `watermark` or `modelData`) makes that
//! call misbehave as `failHow` says: `trap` (panics) or `malformed` (a snapshot of the wrong
//! kind, a refused restore, a watermark answering a row that is not waiting, model data of
//! `outputMib` MiB).

use std::sync::Arc;

use eddy_sdk::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, Operator, OperatorError, OperatorInfo, OperatorKind, Output, ParamInfo, SEQ_COLUMN, SnapshotKind,
    seq_column,
};
use serde::{Deserialize, Serialize};

/// The hostile operator.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hostile {
    mode: String,
    after_rows: u64,
    seen: u64,
    /// `poison` mode: the `x` that makes it trap.
    poison: f64,
    /// `poison` mode: the sum of the `x` learned so far (its whole model).
    sum: f64,
    /// `huge-output` mode and malformed model data: how many MiB to return.
    output_mib: u64,
    /// The call that misbehaves besides `process` ("" for none).
    fail_in: String,
    /// How it misbehaves: `trap` or `malformed`.
    fail_how: String,
}

impl Operator for Hostile {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "Hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Misbehaves on purpose, for sandbox tests.".into(),
            params: vec![
                ParamInfo::new(
                    "mode",
                    "string",
                    Some("\"echo\""),
                    "trap | loop | alloc | garbage | wrong-rows | echo | poison | recurse | huge-output | probe",
                ),
                ParamInfo::new("outputMib", "long", Some("64"), "huge-output mode and malformed model data: MiB returned."),
                ParamInfo::new("failIn", "string", Some("\"\""), "snapshot | restore | watermark | modelData: the call that misbehaves."),
                ParamInfo::new("failHow", "string", Some("\"trap\""), "trap | malformed: how the failIn call misbehaves."),
                ParamInfo::new("poisonValue", "double", Some("666.0"), "poison mode: the x on which it traps, every time."),
                ParamInfo::new("afterRows", "long", Some("0"), "Rows processed normally before misbehaving."),
                ParamInfo::new("featuresCol", "string", Some("\"x\""), "Ignored; read so that rows need a column."),
            ],
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let mode: String = config.get("mode", "echo".into())?;
        let modes = ["trap", "loop", "alloc", "garbage", "wrong-rows", "echo", "poison", "recurse", "huge-output", "probe"];
        if !modes.contains(&mode.as_str()) {
            return Err(OperatorError::config("mode", format!("unknown mode {mode:?}")));
        }
        let fail_in: String = config.get("failIn", String::new())?;
        if !["", "snapshot", "restore", "watermark", "modelData"].contains(&fail_in.as_str()) {
            return Err(OperatorError::config("failIn", format!("unknown call {fail_in:?}")));
        }
        let fail_how: String = config.get("failHow", "trap".into())?;
        if !["trap", "malformed"].contains(&fail_how.as_str()) {
            return Err(OperatorError::config("failHow", format!("unknown misbehaviour {fail_how:?}")));
        }
        Ok(Self {
            mode,
            after_rows: config.get("afterRows", 0)?,
            seen: 0,
            poison: config.get("poisonValue", 666.0)?,
            sum: 0.0,
            output_mib: config.get("outputMib", 64)?,
            fail_in,
            fail_how,
        })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        vec![ColumnSpec::required("x", ColumnType::Float64)]
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        if ["poison", "recurse", "huge-output"].contains(&self.mode.as_str()) {
            return self.learn_unless_poisoned(batch);
        }
        if self.mode == "probe" {
            return probe(batch);
        }
        let n = batch.num_rows() as u64;
        let misbehave = self.seen + n > self.after_rows;
        if misbehave {
            match self.mode.as_str() {
                "trap" => panic!("hostile operator: deliberate trap"),
                "loop" => {
                    let mut x = 0u64;
                    loop {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
                "alloc" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 16 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                _ => {}
            }
        }
        self.seen += n;
        let mut seq: Vec<u64> = seq_column(batch)?.values().to_vec();
        if misbehave && self.mode == "wrong-rows" {
            seq.iter_mut().for_each(|s| *s += 1_000_000);
        }
        if misbehave && self.mode == "garbage" {
            let schema = Arc::new(Schema::new(vec![Field::new(SEQ_COLUMN, DataType::Float64, false)]));
            let col: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN; seq.len()]));
            let outputs = RecordBatch::try_new(schema, vec![col]).map_err(|e| OperatorError::internal(e.to_string()))?;
            return Ok(Output { outputs, models: None });
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("prediction", DataType::Float64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![Arc::new(Float64Array::from(vec![0.0; seq.len()])), Arc::new(UInt64Array::from(seq))];
        let outputs = RecordBatch::try_new(schema, cols).map_err(|e| OperatorError::internal(e.to_string()))?;
        Ok(Output { outputs, models: None })
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        match self.misbehaves("modelData") {
            Some(true) => panic!("hostile operator: deliberate trap in model data"),
            Some(false) => blob_batch("model", self.output_mib),
            None => Ok(RecordBatch::new_empty(Arc::new(Schema::empty()))),
        }
    }

    fn watermark(&mut self, timestamp: i64) -> Result<Option<Output>, OperatorError> {
        match self.misbehaves("watermark") {
            Some(true) => panic!("hostile operator: deliberate trap in watermark {timestamp}"),
            // An answer to a row nobody is waiting for.
            Some(false) => Ok(Some(Output { outputs: answers(vec![0.0], vec![999_999])?, models: None })),
            None => Ok(None),
        }
    }

    fn snapshot_blob(&self, full: bool) -> Result<(SnapshotKind, Vec<u8>), OperatorError> {
        match self.misbehaves("snapshot") {
            Some(true) => panic!("hostile operator: deliberate trap in snapshot"),
            // A delta, whatever the host asked for.
            Some(false) => Ok((SnapshotKind::Delta, vec![0xde, 0xad])),
            None => {
                let _ = full;
                Ok((SnapshotKind::Full, self.snapshot()?))
            }
        }
    }

    fn restore_chain(&mut self, chain: &[&[u8]]) -> Result<(), OperatorError> {
        match self.misbehaves("restore") {
            Some(true) => panic!("hostile operator: deliberate trap in restore"),
            Some(false) => Err(OperatorError::internal("hostile operator: refuses every snapshot")),
            None => match chain {
                [one] => self.restore(one),
                _ => Err(OperatorError::internal("hostile operator: one full snapshot only")),
            },
        }
    }
}

impl Hostile {
    /// Whether `call` misbehaves: `Some(true)` traps, `Some(false)` returns malformed data.
    fn misbehaves(&self, call: &str) -> Option<bool> {
        (self.fail_in == call).then(|| self.fail_how == "trap")
    }
}

/// Output rows: `prediction` and `__seq`.
fn answers(prediction: Vec<f64>, seq: Vec<u64>) -> Result<RecordBatch, OperatorError> {
    let schema =
        Arc::new(Schema::new(vec![Field::new("prediction", DataType::Float64, false), Field::new(SEQ_COLUMN, DataType::UInt64, false)]));
    let cols: Vec<ArrayRef> = vec![Arc::new(Float64Array::from(prediction)), Arc::new(UInt64Array::from(seq))];
    RecordBatch::try_new(schema, cols).map_err(|e| OperatorError::internal(e.to_string()))
}

/// A one-row batch with a `name` column holding `mib` MiB of text.
fn blob_batch(name: &str, mib: u64) -> Result<RecordBatch, OperatorError> {
    let blob = "x".repeat(usize::try_from(mib << 20).unwrap_or(usize::MAX));
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![blob])) as ArrayRef])
        .map_err(|e| OperatorError::internal(e.to_string()))
}

/// Recurses `depth` levels deep: without bound for `u64::MAX`. Each level is a wasm call
/// frame (no locals in linear memory, and no accumulator LLVM could turn into a loop), so the
/// engine's call stack runs out: wasmtime's "call stack exhausted".
#[inline(never)]
fn dive(depth: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    dive(depth - 1).rotate_left(7) ^ depth
}

/// `probe` mode: every row answered with what the guest sees: `clockMs` (wall clock, ms since
/// 1970; -1 if refused), `monotonicNs` (nanoseconds a busy loop took by the monotonic clock),
/// `envVars` (environment variables), `args` (command-line arguments), `random` (64 bits from
/// std's randomly seeded hasher, as the low 52 bits of a float), `fsRoot` (1 if `/` can be
/// listed), `fsFile` (1 if /etc/passwd can be opened).
fn probe(batch: &RecordBatch) -> Result<Output, OperatorError> {
    use std::hash::{BuildHasher, Hasher};
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(-1.0, |d| d.as_millis() as f64);
    let start = std::time::Instant::now();
    let mut x = 0u64;
    for i in 0..1_000_000u64 {
        x = std::hint::black_box(x.wrapping_add(i));
    }
    let monotonic = start.elapsed().as_nanos() as f64;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(x);
    let random = (h.finish() & ((1 << 52) - 1)) as f64;
    let seen = [
        ("clockMs", clock),
        ("monotonicNs", monotonic),
        ("envVars", std::env::vars_os().count() as f64),
        ("args", std::env::args_os().count() as f64),
        ("random", random),
        ("fsRoot", f64::from(u8::from(std::fs::read_dir("/").is_ok()))),
        ("fsFile", f64::from(u8::from(std::fs::File::open("/etc/passwd").is_ok()))),
    ];
    let seq = seq_column(batch)?.clone();
    let mut fields: Vec<Field> = seen.iter().map(|(n, _)| Field::new(*n, DataType::Float64, false)).collect();
    fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
    let mut cols: Vec<ArrayRef> = seen.iter().map(|(_, v)| Arc::new(Float64Array::from(vec![*v; seq.len()])) as ArrayRef).collect();
    cols.push(Arc::new(seq));
    let outputs = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| OperatorError::internal(e.to_string()))?;
    Ok(Output { outputs, models: None })
}

impl Hostile {
    /// `poison` mode: answers each row with the sum of the `x` before it, then learns it;
    /// traps on `poisonValue` (having learned the rows before it in the batch, as a real
    /// operator that fails mid-batch would). `recurse` mode exhausts its stack there instead,
    /// and `huge-output` answers that row with `outputMib` MiB (a `blob` column, empty for
    /// the other rows).
    fn learn_unless_poisoned(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let x = batch
            .column_by_name("x")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or_else(|| OperatorError::input(0, Some("x"), "expected a Float64 column"))?;
        let mut answers_of = Vec::with_capacity(x.len());
        for v in x.iter() {
            let v = v.unwrap_or(0.0);
            if v == self.poison && self.mode == "recurse" {
                let depth = u64::MAX - self.seen;
                self.sum += dive(depth) as f64;
            }
            if v == self.poison && self.mode == "poison" {
                panic!("hostile operator: poisoned by x = {v}");
            }
            answers_of.push(self.sum);
            self.sum += v;
        }
        let seq: Vec<u64> = seq_column(batch)?.values().to_vec();
        let mut outputs = answers(answers_of, seq)?;
        if self.mode == "huge-output" && x.iter().any(|v| v == Some(self.poison)) {
            let blob = "x".repeat(usize::try_from(self.output_mib << 20).unwrap_or(usize::MAX));
            let blobs: Vec<&str> = x.iter().map(|v| if v == Some(self.poison) { blob.as_str() } else { "" }).collect();
            let mut fields: Vec<Field> = outputs.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new("blob", DataType::Utf8, false));
            let mut cols = outputs.columns().to_vec();
            cols.push(Arc::new(StringArray::from(blobs)));
            outputs = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| OperatorError::internal(e.to_string()))?;
        }
        Ok(Output { outputs, models: None })
    }
}

eddy_sdk::export_operator!(Hostile);
