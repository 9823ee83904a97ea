//! Record values to one Arrow batch: the records of a call decode straight into column
//! builders (JSON objects by a single serde_json pass, Arrow IPC values by decode, cast and
//! concat), one record at a time, so a bad record is named (topic, partition, offset, column,
//! row) and left out without touching its neighbours, whatever the batch boundaries.

mod arrow;
mod json;
mod json_fast;
mod json_value;
mod slots;

use std::sync::Arc;

use ::arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use ::arrow::datatypes::{Field, Schema, SchemaRef};
use eddy_sdk::{ColumnSpec, ColumnType, TIMESTAMP_COLUMN, VectorBuilder};

use self::arrow::arrow_column;
pub(crate) use self::arrow::target_type;
use self::json::JsonRowParser;
use self::json_value::{JsonVector, json_vector};
use self::slots::Slot;
use crate::{Format, Record};

/// Why a record cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Row inside the record (Arrow records hold several rows).
    pub row: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl DecodeError {
    fn col(column: &str, row: Option<usize>, message: impl Into<String>) -> Self {
        Self { column: Some(column.into()), row, message: message.into() }
    }

    /// The reason as eddy reports it: the row first when the record holds several.
    pub fn reason(&self) -> String {
        match self.row {
            Some(row) => format!("row {row}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Column `spec` of `batch` converted to the type `spec` asks for and checked (a later
/// stage's column, read from an earlier stage's outputs).
pub(crate) fn convert_column(batch: &RecordBatch, spec: &ColumnSpec) -> Result<ArrayRef, DecodeError> {
    arrow_column(batch, spec, 0)
}

/// One column to decode: the operator's spec, with `required` as the decoder enforces it.
#[derive(Debug, Clone)]
pub struct DecodeCol {
    /// Name, type and whether a value must be there.
    pub spec: ColumnSpec,
}

/// What a call's records decoded into.
#[derive(Debug)]
pub struct Decoded {
    /// How many of the records given were looked at (good and bad).
    pub consumed: usize,
    /// One column per [`DecodeCol`], the rows of every good record in order.
    pub batch: RecordBatch,
    /// The good records: (index in the input, rows it holds, its Arrow value when the format
    /// is Arrow: a prediction carries all of its fields).
    pub good: Vec<(usize, usize, Option<RecordBatch>)>,
    /// The bad records, in order: (index in the input, why).
    pub bad: Vec<(usize, DecodeError)>,
}

enum ColBuilder {
    F64(Float64Builder),
    I64(Int64Builder),
    Str(StringBuilder),
    Vector(Box<VectorBuilder>),
}

/// Decodes record values into the columns a chain of operators reads.
#[derive(Debug)]
pub struct RecordDecoder {
    cols: Vec<DecodeCol>,
    format: Format,
    schema: SchemaRef,
    /// Whether each column is the record timestamp column (filled from the record's
    /// timestamp when the value has none).
    is_timestamp: Vec<bool>,
    json: Option<JsonRowParser>,
}

impl RecordDecoder {
    /// A decoder of `cols` from values in `format`.
    pub fn new(cols: Vec<DecodeCol>, format: Format) -> Self {
        let schema =
            Arc::new(Schema::new(cols.iter().map(|c| Field::new(&c.spec.name, target_type(c.spec.column_type), true)).collect::<Vec<_>>()));
        let json = (format == Format::Json).then(|| JsonRowParser::new(&cols));
        let is_timestamp = cols.iter().map(|c| c.spec.name == TIMESTAMP_COLUMN).collect();
        Self { cols, format, schema, is_timestamp, json }
    }

    /// A decoder of the same columns, with state of its own (for another thread).
    pub fn fresh(&self) -> Self {
        Self::new(self.cols.clone(), self.format)
    }

    /// The same decoder without the JSON fast path (tests compare the two).
    #[cfg(test)]
    fn without_fast_path(mut self) -> Self {
        if let Some(j) = &mut self.json {
            j.fast = false;
        }
        self
    }

    /// The schema of decoded batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes records from the start of `records` until the good ones hold `max_rows` rows
    /// or more (whole records only: at least one record is looked at). With `stop_at_bad`,
    /// decoding stops at the first bad record (the caller will stop there too).
    pub fn decode(&mut self, records: &[Record], stop_at_bad: bool, max_rows: usize) -> Decoded {
        match self.format {
            Format::Json => self.decode_json(records, stop_at_bad, max_rows),
            Format::Arrow => self.decode_arrow(records, stop_at_bad, max_rows),
        }
    }

    fn decode_json(&mut self, records: &[Record], stop_at_bad: bool, max_rows: usize) -> Decoded {
        let records = &records[..records.len().min(max_rows.max(1))];
        let n = records.len();
        let mut consumed = 0;
        let mut builders: Vec<ColBuilder> = self
            .cols
            .iter()
            .map(|c| match c.spec.column_type {
                ColumnType::Float64 => ColBuilder::F64(Float64Builder::with_capacity(n)),
                ColumnType::Int64 => ColBuilder::I64(Int64Builder::with_capacity(n)),
                ColumnType::Utf8 | ColumnType::Json | ColumnType::Label => ColBuilder::Str(StringBuilder::with_capacity(n, n * 8)),
                ColumnType::Vector => ColBuilder::Vector(Box::new(VectorBuilder::new())),
            })
            .collect();
        let parser = self.json.as_mut().expect("a JSON decoder");
        let mut good = Vec::with_capacity(n);
        let mut bad = Vec::new();
        for (k, r) in records.iter().enumerate() {
            consumed += 1;
            let checked = parser.parse(&r.value).and_then(|()| {
                for (i, c) in self.cols.iter().enumerate() {
                    parser.check(i, c)?;
                }
                Ok(())
            });
            if let Err(e) = checked {
                bad.push((k, e));
                if stop_at_bad {
                    break;
                }
                continue;
            }
            for (((c, b), st), &is_ts) in self.cols.iter().zip(&mut builders).zip(&parser.cols).zip(&self.is_timestamp) {
                let ts = (is_ts && matches!(st.slot, Slot::Absent | Slot::Null)).then_some(r.timestamp);
                match b {
                    ColBuilder::F64(b) => b.append_option(st.as_f64().or(ts.map(|t| t as f64))),
                    ColBuilder::I64(b) => b.append_option(match st.slot {
                        Slot::Int(i) => Some(i),
                        _ => ts,
                    }),
                    ColBuilder::Str(b) => match (&st.slot, c.spec.column_type) {
                        (Slot::Str(s), ColumnType::Utf8) => b.append_value(s),
                        (_, ColumnType::Label) => match st.as_f64() {
                            Some(x) => b.append_value(eddy_sdk::labels::number_text(x)),
                            None => b.append_option(st.slot.json_text(&st.dense)),
                        },
                        (slot, _) => b.append_option(slot.json_text(&st.dense)),
                    },
                    ColBuilder::Vector(b) => match &st.slot {
                        Slot::Dense => b.append_dense(&st.dense),
                        Slot::Other(v) => match json_vector(v) {
                            Ok(JsonVector::Dense(x)) => b.append_dense(&x),
                            Ok(JsonVector::Sparse(size, ix, vals)) => b.append_sparse(size, &ix, &vals),
                            Err(_) => unreachable!("checked above"),
                        },
                        _ => b.append_null(),
                    },
                }
            }
            good.push((k, 1, None));
        }
        let columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    ColBuilder::F64(mut b) => Arc::new(b.finish()),
                    ColBuilder::I64(mut b) => Arc::new(b.finish()),
                    ColBuilder::Str(mut b) => Arc::new(b.finish()),
                    ColBuilder::Vector(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).expect("builders match the schema");
        Decoded { consumed, batch, good, bad }
    }

    fn decode_arrow(&mut self, records: &[Record], stop_at_bad: bool, max_rows: usize) -> Decoded {
        let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); self.cols.len()];
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let mut consumed = 0;
        let mut rows = 0;
        for (k, r) in records.iter().enumerate() {
            if rows >= max_rows.max(1) {
                break;
            }
            consumed += 1;
            let decoded = crate::untrusted::decode_value(&r.value)
                .map_err(|e| DecodeError { column: None, row: None, message: format!("value is not an Arrow IPC stream: {e}") })
                .and_then(|batch| {
                    let cols = self.cols.iter().map(|c| arrow_column(&batch, &c.spec, r.timestamp)).collect::<Result<Vec<_>, _>>()?;
                    Ok((batch, cols))
                });
            match decoded {
                Ok((batch, cols)) => {
                    for (p, c) in parts.iter_mut().zip(cols) {
                        p.push(c);
                    }
                    rows += batch.num_rows();
                    good.push((k, batch.num_rows(), Some(batch)));
                }
                Err(e) => {
                    bad.push((k, e));
                    if stop_at_bad {
                        break;
                    }
                }
            }
        }
        let columns: Vec<ArrayRef> = parts
            .iter()
            .zip(self.schema.fields())
            .map(|(p, f)| match p.len() {
                0 => ::arrow::array::new_empty_array(f.data_type()),
                1 => p[0].clone(),
                _ => {
                    let refs: Vec<&dyn ::arrow::array::Array> = p.iter().map(|a| a.as_ref()).collect();
                    ::arrow::compute::concat(&refs).expect("decoded columns share the target type")
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).expect("decoded columns match the schema");
        Decoded { consumed, batch, good, bad }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::arrow::array::{Array, Float64Array, Int32Array};
    use ::arrow::datatypes::DataType;
    use eddy_sdk::{VectorColumn, ipc};

    fn cols(specs: Vec<ColumnSpec>) -> Vec<DecodeCol> {
        specs.into_iter().map(|spec| DecodeCol { spec }).collect()
    }

    fn specs() -> Vec<DecodeCol> {
        cols(vec![ColumnSpec::required("x", ColumnType::Vector), ColumnSpec::optional("label", ColumnType::Float64)])
    }

    fn rec(value: &[u8], ts: i64) -> Record {
        Record { topic: "t".into(), partition: 0, offset: ts, timestamp: ts, key: None, value: value.to_vec(), headers: vec![] }
    }

    fn one(value: &[u8], cols: Vec<DecodeCol>, format: Format) -> Result<RecordBatch, DecodeError> {
        let mut d = RecordDecoder::new(cols, format);
        let out = d.decode(&[rec(value, 0)], false, usize::MAX);
        match out.bad.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(out.batch),
        }
    }

    #[test]
    fn json_errors_name_the_column() {
        let e = one(b"{not json", specs(), Format::Json).unwrap_err();
        assert!(e.message.contains("not valid JSON"));
        let e = one(b"[1, 2]", specs(), Format::Json).unwrap_err();
        assert_eq!(e.message, "value is JSON but not an object");
        let e = one(br#"{"label": 1}"#, specs(), Format::Json).unwrap_err();
        assert_eq!((e.column.as_deref(), e.message.as_str()), (Some("x"), "missing required column"));
        let e = one(br#"{"x": [1, "a"]}"#, specs(), Format::Json).unwrap_err();
        assert_eq!(e.message, "vector[1] is not a finite number (\"a\")");
        let e = one(br#"{"x": [1], "label": "yes"}"#, specs(), Format::Json).unwrap_err();
        assert_eq!((e.column.as_deref(), e.message.as_str()), (Some("label"), "expected a number, got a string"));
        let e = one(br#"{"x": {"size": 3, "indices": [2, 1], "values": [1, 2]}}"#, specs(), Format::Json).unwrap_err();
        assert!(e.message.contains("out of order"), "{e:?}");
        // The first bad column in the operator's order is the one named, wherever it is in the object.
        let e = one(br#"{"label": "yes", "x": "no"}"#, specs(), Format::Json).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("x"));
        // A syntax error after a type error is a syntax error.
        let e = one(br#"{"label": "yes", "x": [1]"#, specs(), Format::Json).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{e:?}");
    }

    #[test]
    fn json_rows_build_one_batch_and_bad_records_are_left_out() {
        let mut d = RecordDecoder::new(specs(), Format::Json);
        let recs = [
            rec(br#"{"x": [1, 2], "label": 1, "other": {"deep": [1, {"a": null}]}}"#, 5),
            rec(br#"{"x": "bad"}"#, 6),
            rec(br#"{"other": 1, "x": {"size": 2, "indices": [1], "values": [3]}}"#, 7),
            rec(br#"{"x": [4, 5], "x": [6], "label": 0}"#, 8),
        ];
        let out = d.decode(&recs, false, usize::MAX);
        assert_eq!(out.good.iter().map(|g| g.0).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(out.bad.len(), 1);
        assert_eq!(out.bad[0].0, 1);
        let batch = out.batch;
        assert_eq!(batch.num_rows(), 3);
        let v = VectorColumn::new(&batch, "x").unwrap();
        assert_eq!(v.get(0).unwrap().unwrap().to_dense(), vec![1.0, 2.0]);
        assert_eq!(v.get(1).unwrap().unwrap().to_dense(), vec![0.0, 3.0]);
        assert_eq!(v.get(2).unwrap().unwrap().to_dense(), vec![6.0], "the last of duplicate keys wins");
        let l = batch.column_by_name("label").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
        assert!(l.is_null(1));
        // Stopping at the first bad record.
        let out = d.decode(&recs, true, usize::MAX);
        assert_eq!((out.good.len(), out.bad.len()), (1, 1));
    }

    #[test]
    fn json_scalars_ids_and_timestamps() {
        let c = cols(vec![
            ColumnSpec::required("n", ColumnType::Int64),
            ColumnSpec::required("s", ColumnType::Utf8),
            ColumnSpec::required("id", ColumnType::Json),
            ColumnSpec::optional(TIMESTAMP_COLUMN, ColumnType::Int64),
        ]);
        let mut d = RecordDecoder::new(c.clone(), Format::Json);
        let out = d.decode(
            &[rec(br#"{"n": 3, "s": "a\"b", "id": "sku-1"}"#, 42), rec(br#"{"n": 4, "s": "", "id": 7, "__timestamp": 9}"#, 43)],
            false,
            usize::MAX,
        );
        assert!(out.bad.is_empty(), "{:?}", out.bad);
        let b = out.batch;
        let s = |i: usize| b.column(i).as_any().downcast_ref::<::arrow::array::StringArray>().unwrap().clone();
        let n = |i: usize| b.column(i).as_any().downcast_ref::<::arrow::array::Int64Array>().unwrap().clone();
        assert_eq!(n(0).values().to_vec(), vec![3, 4]);
        assert_eq!(s(1).value(0), "a\"b");
        assert_eq!((s(2).value(0), s(2).value(1)), ("\"sku-1\"", "7"));
        assert_eq!(n(3).values().to_vec(), vec![42, 9], "the record timestamp fills a missing __timestamp");
        let e = one(br#"{"n": 1.5, "s": "a", "id": 1}"#, c.clone(), Format::Json).unwrap_err();
        assert_eq!(e.message, "expected an integer, got a number");
        let e = one(br#"{"n": 1, "s": 2, "id": 1}"#, c, Format::Json).unwrap_err();
        assert_eq!(e.message, "expected a string, got a number");
    }

    #[test]
    fn arrow_values_are_cast_and_checked() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false), Field::new("label", DataType::Float64, true)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN)]))],
        )
        .unwrap();
        let bytes = ipc::encode(&batch).unwrap();
        let c = cols(vec![ColumnSpec::required("a", ColumnType::Float64), ColumnSpec::optional("label", ColumnType::Float64)]);
        let e = one(&bytes, c.clone(), Format::Arrow).unwrap_err();
        assert_eq!((e.column.as_deref(), e.row), (Some("label"), Some(1)));
        let ok = RecordBatch::try_new(
            batch.schema(),
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(Float64Array::from(vec![Some(1.0), None]))],
        )
        .unwrap();
        let ok = ipc::encode(&ok).unwrap();
        let mut d = RecordDecoder::new(c, Format::Arrow);
        let out = d.decode(&[rec(&ok, 0), rec(b"junk", 1), rec(&ok, 2)], false, usize::MAX);
        assert_eq!(out.consumed, 3);
        assert_eq!(out.batch.num_rows(), 4);
        assert_eq!(out.good.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(), vec![(0, 2), (2, 2)]);
        assert!(out.bad[0].1.message.contains("not an Arrow IPC stream"));
        let a = out.batch.column(0).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(a.values().to_vec(), vec![1.0, 2.0, 1.0, 2.0]);
        assert!(out.batch.column(1).is_null(1));
    }

    mod fast_path {
        use super::*;
        use proptest::prelude::*;

        /// JSON text for a value: numbers in every JSON form (and some forms JSON forbids),
        /// strings with and without escapes, literals, arrays, objects.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|i| i.to_string()),
                any::<u64>().prop_map(|i| i.to_string()),
                any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:?}")),
                any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:e}")),
                "-?(0|[1-9][0-9]{0,22})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
                prop_oneof![Just("-0"), Just("01"), Just("1."), Just(".5"), Just("+1"), Just("1e"), Just("-"), Just("1e400"), Just("NaN")]
                    .prop_map(String::from),
                "\"[a-z\\\\\"é]{0,6}\"",
                prop_oneof![Just("true"), Just("false"), Just("null"), Just("[1, 2.5]"), Just("{\"a\": 1}"), Just("[]")]
                    .prop_map(String::from),
            ]
        }

        fn object() -> impl Strategy<Value = String> {
            let key = prop_oneof![Just("a"), Just("b"), Just("c"), Just("x"), Just("a\\u0062")];
            (proptest::collection::vec((key, value(), "[ \t\n]{0,2}"), 0..6), prop_oneof![Just(""), Just(" "), Just("}"), Just(",")])
                .prop_map(|(fields, tail)| {
                    let body: Vec<String> = fields.iter().map(|(k, v, ws)| format!("{ws}\"{k}\"{ws}:{ws}{v}")).collect();
                    format!("{{{}}}{tail}", body.join(","))
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn the_fast_path_decodes_exactly_as_serde_json(values in proptest::collection::vec(object(), 1..8)) {
                let cols = cols(vec![
                    ColumnSpec::required("a", ColumnType::Float64),
                    ColumnSpec::optional("b", ColumnType::Int64),
                    ColumnSpec::optional("c", ColumnType::Float64),
                ]);
                let recs: Vec<Record> = values.iter().enumerate().map(|(i, v)| rec(v.as_bytes(), i as i64)).collect();
                let fast = RecordDecoder::new(cols.clone(), Format::Json).decode(&recs, false, usize::MAX);
                let slow = RecordDecoder::new(cols, Format::Json).without_fast_path().decode(&recs, false, usize::MAX);
                prop_assert_eq!(&fast.bad, &slow.bad);
                prop_assert_eq!(fast.good.iter().map(|g| g.0).collect::<Vec<_>>(), slow.good.iter().map(|g| g.0).collect::<Vec<_>>());
                // Bit for bit, -0.0 included.
                for (f, s) in fast.batch.columns().iter().zip(slow.batch.columns()) {
                    prop_assert_eq!(f.to_data(), s.to_data());
                }
            }
        }
    }
}
