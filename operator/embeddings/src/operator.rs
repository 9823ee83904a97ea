//! The [`Embeddings`] operator: reads interaction events from Arrow batches, validates the
//! whole batch, then steps the model event by event (score, then learn), and turns scores and
//! publications into Arrow output. Its serde form is a full snapshot; `snapshot` and
//! `restore` add deltas and chains (see [`crate::snapshot`]).

use std::sync::Arc;

use eddy_sdk::arrow::array::builder::{Float32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use eddy_sdk::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema, SchemaRef};
use eddy_sdk::{
    ColumnSpec, ColumnType, Config, Operator, OperatorError, OperatorInfo, OperatorKind, Output, SEQ_COLUMN, SnapshotKind, seq_column,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Event, Model, PublishedRow};
use crate::params::{IdFormat, Params, param_infos};
use crate::snapshot::{self, Header, Marker, MarkerCell};

/// Longest id accepted, in bytes of JSON text.
pub const MAX_ID_BYTES: usize = 1024;

/// The embedding updater.
#[derive(Debug)]
pub struct Embeddings {
    model: Model,
    marker: MarkerCell,
}

impl Clone for Embeddings {
    fn clone(&self) -> Self {
        Self { model: self.model.clone(), marker: MarkerCell::new(self.marker.get()) }
    }
}

/// The input columns of one batch, checked.
struct Rows<'a> {
    users: &'a StringArray,
    items: &'a StringArray,
    weights: Vec<f64>,
    times: &'a Int64Array,
}

fn check_id(row: usize, col: &str, id: &str) -> Result<(), OperatorError> {
    if id.len() > MAX_ID_BYTES {
        return Err(OperatorError::input(row, Some(col), format!("id is {} bytes long; at most {MAX_ID_BYTES} are accepted", id.len())));
    }
    let b = id.as_bytes();
    let string = b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"';
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let integer = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    if !(string || integer) {
        return Err(OperatorError::input(row, Some(col), format!("id must be a JSON string or integer, got {id}")));
    }
    Ok(())
}

/// How `id` (canonical JSON text, a string or an integer) is written in the outputs: as JSON
/// text, or plain (see [`IdFormat::Plain`]): an integer as its digits, a string as its value,
/// except a string whose value reads like an integer (`"42"`) or starts with a quote, which
/// keeps its JSON text, so that no two ids are written alike.
pub fn display_id(id: &str, format: IdFormat) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let b = id.as_bytes();
    if format == IdFormat::Json || b.first() != Some(&b'"') {
        return Cow::Borrowed(id);
    }
    let inner = &id[1..id.len() - 1];
    let value: Cow<'_, str> = if inner.contains('\\') {
        match serde_json::from_str::<String>(id) {
            Ok(v) => Cow::Owned(v),
            Err(_) => return Cow::Borrowed(id),
        }
    } else {
        Cow::Borrowed(inner)
    };
    let v = value.as_bytes();
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    let integer_like = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    if integer_like || v.first() == Some(&b'"') { Cow::Borrowed(id) } else { value }
}

fn utf8<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, OperatorError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| OperatorError::input(0, Some(name), "column missing from the batch the host delivered"))?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| OperatorError::input(0, Some(name), "expected a Json (Utf8) column"))
}

fn internal(e: impl std::fmt::Display) -> OperatorError {
    OperatorError::internal(e.to_string())
}

impl Embeddings {
    /// The model, for inspection and tests.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The current vector of an admitted id (`kind` is `"user"` or `"item"`, `id` JSON text).
    pub fn vector(&self, kind: &str, id: &str) -> Option<&[f32]> {
        let kind = match kind {
            "user" => crate::Kind::User,
            "item" => crate::Kind::Item,
            _ => return None,
        };
        self.model.known(kind, id).map(|s| self.model.table(kind).vector(s))
    }

    /// A full snapshot whatever `fullSnapshotEvery` says, without moving the delta marker:
    /// for tools and tests that compare whole states.
    pub fn full_snapshot(&self) -> Result<Vec<u8>, OperatorError> {
        Ok(snapshot::write(&Self::describe(), &self.model, None)?.0)
    }

    /// The header of a snapshot blob taken by this operator (full or delta, events covered,
    /// parent hash), without decoding the state.
    pub fn peek_snapshot(bytes: &[u8]) -> Result<Header, OperatorError> {
        snapshot::peek(&Self::describe(), bytes)
    }

    fn read_rows<'a>(&self, batch: &'a RecordBatch) -> Result<Rows<'a>, OperatorError> {
        let p = &self.model.p;
        let n = batch.num_rows();
        let users = utf8(batch, &p.user_col)?;
        let items = utf8(batch, &p.item_col)?;
        let times = batch
            .column_by_name(&p.timestamp_col)
            .ok_or_else(|| OperatorError::input(0, Some(&p.timestamp_col), "column missing from the batch the host delivered"))?
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| OperatorError::input(0, Some(&p.timestamp_col), "expected an Int64 column (ms since the epoch)"))?;
        let weight = match &p.weight_col {
            None => None,
            Some(c) => Some(eddy_sdk::f64_column(batch, c)?),
        };
        let mut weights = Vec::with_capacity(n);
        for r in 0..n {
            for (a, col) in [(users, &p.user_col), (items, &p.item_col)] {
                if a.is_null(r) {
                    return Err(OperatorError::input(r, Some(col), "missing id"));
                }
                check_id(r, col, a.value(r))?;
            }
            if times.is_null(r) {
                return Err(OperatorError::input(r, Some(&p.timestamp_col), "missing event time"));
            }
            let w = match weight {
                Some(a) if !a.is_null(r) => a.value(r),
                _ => 1.0,
            };
            if !(w.is_finite() && w >= 0.0) {
                return Err(OperatorError::input(r, p.weight_col.as_deref(), format!("weight must be finite and >= 0, got {w}")));
            }
            weights.push(w);
        }
        Ok(Rows { users, items, weights, times })
    }

    fn output_schema(&self) -> SchemaRef {
        let mut fields = vec![
            Field::new("rank", DataType::Int64, true),
            Field::new("hit10", DataType::Float64, true),
            Field::new("reciprocalRank", DataType::Float64, true),
            Field::new("modelVersion", DataType::Int64, false),
        ];
        if self.model.p.top_k > 0 {
            fields.push(Field::new("topK", DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, false))), true));
        }
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
        Arc::new(Schema::new(fields))
    }

    /// The published rows as a batch: `kind`, `id`, `vector` (null for a tombstone),
    /// `modelVersion`, `eventTime`, and with `seqs` a `__seq` column naming, for each row, the
    /// input row whose processing published it.
    fn model_batch(&self, rows: &[PublishedRow], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
        let format = self.model.p.id_format;
        let mut fields = vec![
            Field::new("kind", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("vector", DataType::List(Arc::new(Field::new_list_field(DataType::Float32, false))), true),
            Field::new("modelVersion", DataType::Int64, false),
            Field::new("eventTime", DataType::Int64, false),
        ];
        let kind = StringArray::from_iter_values(rows.iter().map(|r| r.kind.name()));
        let id = StringArray::from_iter_values(rows.iter().map(|r| display_id(&r.id, format)));
        let mut vec = ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Float32, false)));
        for r in rows {
            match &r.vector {
                Some(v) => {
                    vec.values().append_slice(v);
                    vec.append(true);
                }
                None => vec.append(false),
            }
        }
        let version = Int64Array::from_iter_values(rows.iter().map(|r| r.version));
        let time = Int64Array::from_iter_values(rows.iter().map(|r| r.event_time));
        let mut cols: Vec<ArrayRef> = vec![Arc::new(kind), Arc::new(id), Arc::new(vec.finish()), Arc::new(version), Arc::new(time)];
        if let Some(s) = seqs {
            fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
            cols.push(Arc::new(UInt64Array::from(s.to_vec())));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(internal)
    }
}

impl Operator for Embeddings {
    fn describe() -> OperatorInfo {
        OperatorInfo {
            name: "EmbeddingUpdater".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: OperatorKind::Embedder,
            description: "User and item embeddings learned online from interaction events by implicit-feedback matrix factorisation (BPR or logistic loss, sampled negatives, SGD for users and row-wise AdaGrad for items by default), in collisionless tables keyed by the raw id with admission, event-time expiry and a memory bound; each event is ranked before it is learned from, and the changed vectors (and tombstones) are published as model rows.".into(),
            params: param_infos(),
        }
    }

    fn open(config: &Config) -> Result<Self, OperatorError> {
        let p = Params::from_config(config)?;
        Ok(Self { model: Model::new(p), marker: MarkerCell::default() })
    }

    fn input_columns(&self) -> Vec<ColumnSpec> {
        let p = &self.model.p;
        let mut cols = vec![
            ColumnSpec::required(&p.user_col, ColumnType::Json),
            ColumnSpec::required(&p.item_col, ColumnType::Json),
            ColumnSpec::required(&p.timestamp_col, ColumnType::Int64),
        ];
        if let Some(w) = &p.weight_col {
            cols.push(ColumnSpec::optional(w, ColumnType::Float64));
        }
        cols
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<Output, OperatorError> {
        let rows = self.read_rows(batch)?;
        let seq = seq_column(batch)?.clone();
        let n = batch.num_rows();
        let top_k = self.model.p.top_k;
        let format = self.model.p.id_format;
        let mut rank = Int64Builder::with_capacity(n);
        let mut hit = Float64Builder::with_capacity(n);
        let mut rr = Float64Builder::with_capacity(n);
        let mut version = Int64Builder::with_capacity(n);
        let mut top = (top_k > 0).then(|| {
            ListBuilder::with_capacity(StringBuilder::with_capacity(n * top_k, n * top_k * 8), n)
                .with_field(Arc::new(Field::new_list_field(DataType::Utf8, false)))
        });
        let mut published: Vec<PublishedRow> = Vec::new();
        let mut published_seq: Vec<u64> = Vec::new();
        for r in 0..n {
            let e = Event { user: rows.users.value(r), item: rows.items.value(r), weight: rows.weights[r], time: rows.times.value(r) };
            let (score, publication) = self.model.step(&e, |id| {
                if let Some(b) = top.as_mut() {
                    b.values().append_value(display_id(id, format));
                }
            });
            rank.append_option(score.rank.map(|r| r as i64));
            if score.evaluated {
                let r = score.rank;
                hit.append_value(r.map_or(0.0, |r| if r <= 10 { 1.0 } else { 0.0 }));
                rr.append_value(r.map_or(0.0, |r| 1.0 / r as f64));
            } else {
                hit.append_null();
                rr.append_null();
            }
            version.append_value(score.version);
            if let Some(b) = top.as_mut() {
                b.append(score.has_top);
            }
            if let Some(p) = publication {
                published_seq.extend(std::iter::repeat_n(seq.value(r), p.len()));
                published.extend(p);
            }
        }
        let mut cols: Vec<ArrayRef> =
            vec![Arc::new(rank.finish()), Arc::new(hit.finish()), Arc::new(rr.finish()), Arc::new(version.finish())];
        if let Some(mut b) = top {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(seq));
        let outputs = RecordBatch::try_new(self.output_schema(), cols).map_err(internal)?;
        let models = if published.is_empty() { None } else { Some(self.model_batch(&published, Some(&published_seq))?) };
        Ok(Output { outputs, models })
    }

    fn watermark(&mut self, _timestamp: i64) -> Result<Option<Output>, OperatorError> {
        let Some(rows) = self.model.publish() else { return Ok(None) };
        let outputs = RecordBatch::new_empty(self.output_schema());
        Ok(Some(Output { outputs, models: Some(self.model_batch(&rows, None)?) }))
    }

    fn model_data(&self) -> Result<RecordBatch, OperatorError> {
        self.model_batch(&self.model.table_rows(), None)
    }

    /// A full snapshot (the chain's new base); hosts that keep chains use `snapshot_blob`.
    fn snapshot(&self) -> Result<Vec<u8>, OperatorError> {
        Ok(self.snapshot_blob(true)?.1)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let (model, marker) = snapshot::read(&Self::describe(), state)?;
        self.model = model;
        self.marker.set(marker);
        Ok(())
    }

    fn snapshot_blob(&self, full: bool) -> Result<(SnapshotKind, Vec<u8>), OperatorError> {
        let mk = self.marker.get();
        let full = full || !mk.taken || mk.deltas_since_full + 1 >= self.model.p.full_snapshot_every;
        let (bytes, header) = snapshot::write(&Self::describe(), &self.model, (!full).then_some(&mk))?;
        self.marker.set(Marker {
            taken: true,
            op: header.to_op,
            ring_writes: self.model.ring_writes,
            hash: snapshot::blob_hash(&bytes),
            deltas_since_full: if full { 0 } else { mk.deltas_since_full + 1 },
        });
        Ok((if full { SnapshotKind::Full } else { SnapshotKind::Delta }, bytes))
    }

    fn restore_chain(&mut self, chain: &[&[u8]]) -> Result<(), OperatorError> {
        let (model, marker) = snapshot::read_blobs(&Self::describe(), chain)?;
        self.model = model;
        self.marker.set(marker);
        Ok(())
    }
}

impl Serialize for Embeddings {
    /// The serde form is a full snapshot blob (the SDK envelope around it).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.full_snapshot().map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Embeddings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = serde::de::Deserialize::deserialize(d)?;
        let (model, marker) = snapshot::read(&Self::describe(), &bytes).map_err(serde::de::Error::custom)?;
        Ok(Self { model, marker: MarkerCell::new(marker) })
    }
}
