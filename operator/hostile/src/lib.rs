//! A deliberately hostile operator for the host's sandbox tests. Its `mode` parameter picks
//! the misbehaviour that `process` shows once it has seen `afterRows` rows: `trap` (panics),
//! `loop` (spins forever), `alloc` (allocates without bound), `garbage` (returns outputs whose
//! `__seq` column has the wrong type), `wrong-rows` (returns an output batch with the wrong `__seq` values),
//! `echo` (behaves: answers each row with `prediction = 0`), or `poison` (a tiny learner that
//! answers each row with the sum of the `x` seen before it, and traps, on every attempt, on a
//! row whose `x` is `poisonValue`), or `probe` (answers each row with what it can see of the
//! world: the wall clock, the monotonic clock, the environment, random numbers, the file system).

use std::sync::Arc;

use eddy_sdk::arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, Operator, OperatorError, OperatorInfo, OperatorKind, Output, ParamInfo, SEQ_COLUMN, seq_column,
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
}

impl Operator for Hostile {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "Hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Classifier,
            description: "Misbehaves on purpose, for sandbox tests.".into(),
            params: vec![
                ParamInfo::new("mode", "string", Some("\"echo\""), "trap | loop | alloc | garbage | wrong-rows | echo | poison | probe"),
                ParamInfo::new("poisonValue", "double", Some("666.0"), "poison mode: the x on which it traps, every time."),
                ParamInfo::new("afterRows", "long", Some("0"), "Rows processed normally before misbehaving."),
                ParamInfo::new("featuresCol", "string", Some("\"x\""), "Ignored; read so that rows need a column."),
            ],
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let mode: String = config.get("mode", "echo".into())?;
        if !["trap", "loop", "alloc", "garbage", "wrong-rows", "echo", "poison", "probe"].contains(&mode.as_str()) {
            return Err(OperatorError::config("mode", format!("unknown mode {mode:?}")));
        }
        Ok(Self { mode, after_rows: config.get("afterRows", 0)?, seen: 0, poison: config.get("poisonValue", 666.0)?, sum: 0.0 })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        vec![ColumnSpec::required("x", ColumnType::Float64)]
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        if self.mode == "poison" {
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
        Ok(RecordBatch::new_empty(Arc::new(Schema::empty())))
    }
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
    /// operator that fails mid-batch would).
    fn learn_unless_poisoned(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let x = batch
            .column_by_name("x")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
            .ok_or_else(|| OperatorError::input(0, Some("x"), "expected a Float64 column"))?;
        let mut answers = Vec::with_capacity(x.len());
        for v in x.iter() {
            let v = v.unwrap_or(0.0);
            if v == self.poison {
                panic!("hostile operator: poisoned by x = {v}");
            }
            answers.push(self.sum);
            self.sum += v;
        }
        let seq: Vec<u64> = seq_column(batch)?.values().to_vec();
        let schema = Arc::new(Schema::new(vec![
            Field::new("prediction", DataType::Float64, false),
            Field::new(SEQ_COLUMN, DataType::UInt64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![Arc::new(Float64Array::from(answers)), Arc::new(UInt64Array::from(seq))];
        let outputs = RecordBatch::try_new(schema, cols).map_err(|e| OperatorError::internal(e.to_string()))?;
        Ok(Output { outputs, models: None })
    }
}

eddy_sdk::export_operator!(Hostile);
