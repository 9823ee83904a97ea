//! A deliberately hostile operator for the host's sandbox tests. Its `mode` parameter picks
//! the misbehaviour that `process` shows once it has seen `afterRows` rows: `trap` (panics),
//! `loop` (spins forever), `alloc` (allocates without bound), `garbage` (returns outputs whose
//! `__seq` column has the wrong type), `wrong-rows` (returns an output batch with the wrong `__seq` values),
//! `echo` (behaves: answers each row with `prediction = 0`), or `poison` (a tiny learner that
//! answers each row with the sum of the `x` seen before it, and traps, on every attempt, on a
//! row whose `x` is `poisonValue`).

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
                ParamInfo::new("mode", "string", Some("\"echo\""), "trap | loop | alloc | garbage | wrong-rows | echo | poison"),
                ParamInfo::new("poisonValue", "double", Some("666.0"), "poison mode: the x on which it traps, every time."),
                ParamInfo::new("afterRows", "long", Some("0"), "Rows processed normally before misbehaving."),
                ParamInfo::new("featuresCol", "string", Some("\"x\""), "Ignored; read so that rows need a column."),
            ],
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let mode: String = config.get("mode", "echo".into())?;
        if !["trap", "loop", "alloc", "garbage", "wrong-rows", "echo", "poison"].contains(&mode.as_str()) {
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
