//! Operator outputs to record values, only at the sink. A JSON prediction is the input
//! record's own bytes with the output fields spliced in before its closing brace (a field of
//! the same name is replaced), the outputs written by arrow-json's encoders; an Arrow
//! prediction is one IPC stream per answered group of rows of an input record. Model versions
//! and embeddings become JSON objects here too, and only when a sink wants them.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StructArray, UInt32Array};
use arrow::datatypes::{DataType, FieldRef, Int64Type, Schema};
use arrow::error::ArrowError;
use arrow::json::writer::{Encoder, EncoderFactory, EncoderOptions, JsonArray, NullableEncoder, WriterBuilder, make_encoder};
use eddy_sdk::SEQ_COLUMN;
use memchr::memmem;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::HostError;

/// Each row of `batch` as a JSON object, without the `__seq` column. Nulls are written as
/// `null` so every row has every column; dense vectors are plain arrays.
pub fn rows_to_json(batch: &RecordBatch) -> Result<Vec<Map<String, Value>>, HostError> {
    let batch = without_seq(batch);
    if batch.num_columns() == 0 {
        return Ok(vec![Map::new(); batch.num_rows()]);
    }
    let mut buf = Vec::with_capacity(batch.num_rows() * 64);
    {
        let mut w =
            WriterBuilder::new().with_explicit_nulls(true).with_encoder_factory(Arc::new(VectorAsJson)).build::<_, JsonArray>(&mut buf);
        w.write(&batch)?;
        w.finish()?;
    }
    serde_json::from_slice(&buf).map_err(|e| HostError::Runtime(format!("arrow-json produced unreadable JSON: {e}")))
}

/// `batch` without its `__seq` column.
pub fn without_seq(batch: &RecordBatch) -> RecordBatch {
    match batch.schema().index_of(SEQ_COLUMN) {
        Ok(i) => {
            let mut b = batch.clone();
            b.remove_column(i);
            b
        }
        Err(_) => batch.clone(),
    }
}

/// Writes eddy's vector struct as a plain array of numbers when it is dense, and as
/// `{"size", "indices", "values"}` when it is sparse.
#[derive(Debug)]
struct VectorAsJson;

impl EncoderFactory for VectorAsJson {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        if array.data_type() != &eddy_sdk::vector_data_type() {
            return Ok(None);
        }
        let s: &'a StructArray = array.as_struct();
        let DataType::Struct(fields) = array.data_type() else { unreachable!("a struct") };
        let enc = VectorEncoder {
            size: s.column(0).as_primitive::<Int64Type>(),
            indices_nulls: s.column(1).logical_nulls(),
            indices: make_encoder(&fields[1], s.column(1).as_ref(), options)?,
            values: make_encoder(&fields[2], s.column(2).as_ref(), options)?,
        };
        Ok(Some(NullableEncoder::new(Box::new(enc), s.nulls().cloned())))
    }
}

struct VectorEncoder<'a> {
    size: &'a arrow::array::Int64Array,
    indices_nulls: Option<arrow::buffer::NullBuffer>,
    indices: NullableEncoder<'a>,
    values: NullableEncoder<'a>,
}

impl Encoder for VectorEncoder<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        if self.indices_nulls.as_ref().is_some_and(|n| n.is_null(idx)) {
            self.values.encode(idx, out);
            return;
        }
        out.extend_from_slice(b"{\"size\":");
        out.extend_from_slice(self.size.value(idx).to_string().as_bytes());
        out.extend_from_slice(b",\"indices\":");
        self.indices.encode(idx, out);
        out.extend_from_slice(b",\"values\":");
        self.values.encode(idx, out);
        out.push(b'}');
    }
}

/// Writes JSON prediction values: an input object with output fields added.
pub struct JsonSplicer<'a> {
    names: Vec<Vec<u8>>,
    /// The output names as text (the fields an input loses when it has them).
    replaced: Vec<String>,
    encoders: Vec<NullableEncoder<'a>>,
    finders: Vec<memmem::Finder<'static>>,
}

/// The options the splicer's encoders are made with (they borrow them).
pub fn json_options() -> EncoderOptions {
    EncoderOptions::default().with_explicit_nulls(true).with_encoder_factory(Arc::new(VectorAsJson))
}

impl<'a> JsonSplicer<'a> {
    /// A splicer of the columns of `outputs` (no `__seq`), encoded with `options`.
    pub fn new(outputs: &'a RecordBatch, fields: &'a [FieldRef], options: &'a EncoderOptions) -> Result<Self, HostError> {
        let mut names = Vec::new();
        let mut encoders = Vec::new();
        let mut finders = Vec::new();
        for (f, c) in fields.iter().zip(outputs.columns()) {
            let quoted = serde_json::to_vec(f.name()).expect("a string serializes");
            finders.push(memmem::Finder::new(&quoted).into_owned());
            let mut key = quoted;
            key.push(b':');
            names.push(key);
            encoders.push(make_encoder(f, c.as_ref(), options)?);
        }
        let replaced = fields.iter().map(|f| f.name().clone()).collect();
        Ok(Self { names, replaced, encoders, finders })
    }

    fn fields(&mut self, row: usize, out: &mut Vec<u8>) {
        for (i, (name, enc)) in self.names.iter().zip(&mut self.encoders).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name);
            if enc.is_null(row) {
                out.extend_from_slice(b"null");
            } else {
                enc.encode(row, out);
            }
        }
    }

    /// Appends to `out` the prediction value for output row `row` answering the JSON object
    /// `input`: the input's fields in their order and bytes, minus any the outputs replace,
    /// then the outputs (on error, `out` may hold part of it).
    pub fn splice_into(&mut self, input: &[u8], row: usize, out: &mut Vec<u8>) -> Result<(), HostError> {
        let collides = self.finders.iter().any(|f| f.find(input).is_some());
        if !collides {
            let end = input.iter().rposition(|b| *b == b'}').ok_or_else(|| HostError::Runtime("a JSON input is not an object".into()))?;
            let body = &input[..end];
            let empty = body.iter().skip_while(|b| b.is_ascii_whitespace()).skip(1).all(u8::is_ascii_whitespace);
            out.extend_from_slice(body);
            if !self.names.is_empty() {
                if !empty {
                    out.push(b',');
                }
                self.fields(row, out);
            }
            out.push(b'}');
            return Ok(());
        }
        // A name of an output appears in the input (as a key, or inside a string): rebuild
        // the object from its fields, leaving out the ones an output replaces.
        let fields: Vec<(String, &RawValue)> = serde_json::from_slice::<OrderedObject<'_>>(input)
            .map_err(|e| HostError::Runtime(format!("a JSON input no longer parses: {e}")))?
            .0;
        out.push(b'{');
        let mut first = true;
        for (k, v) in &fields {
            if self.replaced.iter().any(|r| r == k) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut *out, k).expect("a key serializes");
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        if !self.names.is_empty() {
            if !first {
                out.push(b',');
            }
            self.fields(row, out);
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON object's fields in document order, values unparsed.
struct OrderedObject<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for OrderedObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = OrderedObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, raw)) = m.next_entry::<String, &'de RawValue>()? {
                    // A repeated key: the last one counts, as when the input was decoded.
                    v.retain(|(old, _): &(String, &RawValue)| *old != k);
                    v.push((k, raw));
                }
                Ok(OrderedObject(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Appends to `out` one Arrow prediction value: rows `rows` of the input record's batch with the output
/// columns (`outputs`, one row per entry of `rows`) added; an output column replaces an input
/// column of the same name.
pub fn arrow_prediction_into(input: &RecordBatch, rows: &[u32], outputs: &RecordBatch, out: &mut Vec<u8>) -> Result<(), HostError> {
    let whole = rows.len() == input.num_rows() && rows.iter().enumerate().all(|(i, r)| *r as usize == i);
    let idx = UInt32Array::from(rows.to_vec());
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut cols = Vec::new();
    let out_schema = outputs.schema();
    for (f, c) in input.schema().fields().iter().zip(input.columns()) {
        if out_schema.index_of(f.name()).is_ok() {
            continue;
        }
        fields.push(f.clone());
        cols.push(if whole { c.clone() } else { arrow::compute::take(c, &idx, None)? });
    }
    for (f, c) in out_schema.fields().iter().zip(outputs.columns()) {
        if f.name() == SEQ_COLUMN {
            continue;
        }
        fields.push(f.clone());
        cols.push(c.clone());
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
    eddy_sdk::ipc::StreamLayout::new(&batch)?.append_to(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, ListArray};
    use arrow::datatypes::Float64Type;

    fn outputs() -> RecordBatch {
        let raw = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![Some(vec![Some(0.25), Some(0.75)]), None]);
        let mut v = eddy_sdk::VectorBuilder::new();
        v.append_dense(&[1.0, 2.5]);
        v.append_sparse(4, &[1], &[3.0]);
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                arrow::datatypes::Field::new("prediction", DataType::Float64, true),
                arrow::datatypes::Field::new("rawPrediction", raw.data_type().clone(), true),
                eddy_sdk::vector_field("scaled", true),
            ])),
            vec![Arc::new(Float64Array::from(vec![Some(1.0), None])), Arc::new(raw), Arc::new(v.finish())],
        )
        .unwrap()
    }

    fn splice(input: &str, row: usize) -> String {
        let out = outputs();
        let schema = out.schema();
        let opts = json_options();
        let mut s = JsonSplicer::new(&out, schema.fields(), &opts).unwrap();
        let mut v = Vec::new();
        s.splice_into(input.as_bytes(), row, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn outputs_are_appended_to_the_input_bytes() {
        assert_eq!(
            splice(r#"{"b": 1.50, "a": "x"}  "#, 0),
            r#"{"b": 1.50, "a": "x","prediction":1.0,"rawPrediction":[0.25,0.75],"scaled":[1.0,2.5]}"#
        );
        assert_eq!(splice("{ }", 1), r#"{ "prediction":null,"rawPrediction":null,"scaled":{"size":4,"indices":[1],"values":[3.0]}}"#);
    }

    #[test]
    fn an_output_replaces_an_input_field_of_the_same_name() {
        let got = splice(r#"{"prediction": 0, "b": [1, 2], "note": "prediction"}"#, 0);
        assert_eq!(got, r#"{"b":[1, 2],"note":"prediction","prediction":1.0,"rawPrediction":[0.25,0.75],"scaled":[1.0,2.5]}"#);
        let v: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["prediction"], Value::from(1.0));
    }

    #[test]
    fn rows_to_json_writes_dense_vectors_as_arrays() {
        let rows = rows_to_json(&outputs()).unwrap();
        assert_eq!(rows[0]["scaled"], serde_json::json!([1.0, 2.5]));
        assert_eq!(rows[1]["scaled"]["indices"], serde_json::json!([1]));
        assert_eq!(rows[1]["prediction"], Value::Null);
    }
}
