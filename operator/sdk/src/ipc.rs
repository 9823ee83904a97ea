//! Arrow IPC stream encoding and decoding: how record batches cross the component boundary.
//!
//! [`encode`] writes exactly the bytes arrow's `StreamWriter` writes (schema message, one record
//! batch message, end-of-stream marker), but copies the column data once, into a buffer of the
//! exact final size: [`StreamLayout`] lays the stream out first (the message headers, and the
//! list of column buffers to copy), so that a host can also write it straight into a guest's
//! memory ([`StreamLayout::write_to`]). Arrow's writer copies each buffer into a growing body
//! vector and then the body into the output, which costs two copies and, for large batches,
//! fresh pages on every call.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_buffer::{ArrowNativeType, Buffer};
use arrow_data::ArrayData;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteOptions, StreamWriter, write_message};
use arrow_schema::{ArrowError, DataType, Schema, SchemaRef};

/// Alignment of every message and body buffer (arrow's default write options).
const ALIGNMENT: usize = 64;
const PADDING: [u8; ALIGNMENT] = [0; ALIGNMENT];
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

fn pad(len: usize) -> usize {
    len.next_multiple_of(ALIGNMENT) - len
}

/// One body buffer of a record batch message, followed by zero padding to the alignment.
#[derive(Debug, Clone)]
enum Piece {
    /// Bytes of a column buffer (sliced, never copied).
    Bytes(Buffer),
    /// A validity bitmap with every bit set, `n` bytes (a column without nulls).
    Ones(usize),
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Bytes(b) => b.len(),
            Piece::Ones(n) => *n,
        }
    }
}

/// One batch laid out as an Arrow IPC stream, not yet written: the headers, and the column
/// buffers the body copies. [`StreamLayout::len`] is the exact size of the stream, so it can
/// be written with one copy of the data into memory allocated for it (a `Vec`, or a guest's
/// linear memory).
#[derive(Debug, Clone)]
pub struct StreamLayout {
    /// The framed schema message and the framed record batch message header (or, for column
    /// types the layout does not cover, the whole stream as arrow's writer wrote it).
    head: Vec<u8>,
    body: Vec<Piece>,
    /// Whether the end-of-stream marker follows the body (false when `head` holds it).
    end: bool,
    len: usize,
}

impl StreamLayout {
    /// Lays out `batch`. Column types outside the layout's reach (dictionaries, views, unions,
    /// run-end encoded) are encoded by arrow's writer instead, into the head.
    pub fn new(batch: &RecordBatch) -> Result<Self, ArrowError> {
        Encoder::default().layout(batch)
    }

    fn with_schema_message(batch: &RecordBatch, schema_message: &[u8]) -> Result<Self, ArrowError> {
        let options = IpcWriteOptions::default();
        let mut body = Vec::new();
        let mut nodes = Vec::new();
        let mut buffers = Vec::new();
        let mut offset = 0usize;
        for column in batch.columns() {
            let data = column.to_data();
            if !lay_out(&data, column.len(), column.null_count(), &mut body, &mut nodes, &mut buffers, &mut offset) {
                return Self::fallback(batch);
            }
        }
        let mut head = Vec::with_capacity(schema_message.len() + 512);
        head.extend_from_slice(schema_message);
        let header = batch_header(batch.num_rows(), &nodes, &buffers, offset);
        write_message(&mut head, EncodedData { ipc_message: header, arrow_data: Vec::new() }, &options)?;
        let len = head.len() + offset + END_OF_STREAM.len();
        Ok(Self { head, body, end: true, len })
    }

    fn fallback(batch: &RecordBatch) -> Result<Self, ArrowError> {
        let mut head = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut head, batch.schema_ref())?;
            w.write(batch)?;
            w.finish()?;
        }
        let len = head.len();
        Ok(Self { head, body: Vec::new(), end: false, len })
    }

    /// The stream's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the stream is empty (it never is: it holds at least the schema).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the stream into `out`, which must be exactly [`StreamLayout::len`] bytes long.
    ///
    /// # Panics
    ///
    /// If `out` has another length.
    pub fn write_to(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.len, "the output must be exactly the stream's length");
        let (head, mut rest) = out.split_at_mut(self.head.len());
        head.copy_from_slice(&self.head);
        for piece in &self.body {
            let n = piece.len();
            let (dst, tail) = rest.split_at_mut(n + pad(n));
            let (data, padding) = dst.split_at_mut(n);
            match piece {
                Piece::Bytes(b) => data.copy_from_slice(b),
                Piece::Ones(_) => data.fill(0xff),
            }
            padding.fill(0);
            rest = tail;
        }
        if self.end {
            rest.copy_from_slice(&END_OF_STREAM);
        } else {
            debug_assert!(rest.is_empty());
        }
    }

    /// The stream as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.append_to(&mut out);
        out
    }

    /// Appends the stream's bytes to `out` (room reserved once, nothing zeroed first).
    pub fn append_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len);
        let start = out.len();
        out.extend_from_slice(&self.head);
        for piece in &self.body {
            let n = piece.len();
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Ones(_) => out.resize(out.len() + n, 0xff),
            }
            out.extend_from_slice(&PADDING[..pad(n)]);
        }
        if self.end {
            out.extend_from_slice(&END_OF_STREAM);
        }
        debug_assert_eq!(out.len() - start, self.len);
    }
}

/// Encodes batches one after another, each as a stream of its own, remembering the last
/// schema's message: batches of one schema (an operator's inputs or outputs, call after call)
/// skip encoding it again.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The last schema and its framed message.
    schema: Option<(SchemaRef, Vec<u8>)>,
}

impl Encoder {
    /// Lays out `batch` (see [`StreamLayout::new`]).
    pub fn layout(&mut self, batch: &RecordBatch) -> Result<StreamLayout, ArrowError> {
        let schema = batch.schema_ref();
        let cached = self.schema.as_ref().is_some_and(|(s, _)| Arc::ptr_eq(s, schema) || **s == **schema);
        if !cached {
            let options = IpcWriteOptions::default();
            let encoded =
                IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(schema, &mut DictionaryTracker::new(false), &options);
            let mut framed = Vec::new();
            write_message(&mut framed, encoded, &options)?;
            self.schema = Some((schema.clone(), framed));
        }
        let (_, framed) = self.schema.as_ref().expect("set above");
        StreamLayout::with_schema_message(batch, framed)
    }

    /// Encodes `batch` (see [`encode`]).
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        Ok(self.layout(batch)?.to_vec())
    }
}

/// Decodes streams one after another, remembering the last schema: a stream whose schema
/// message is, byte for byte, the previous stream's reuses the schema decoded then. Record
/// batches are decoded without copying their data ([`decode_owned`]) and checked as arrow
/// checks them.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The last schema message (flatbuffer bytes) and its schema.
    schema: Option<(Vec<u8>, SchemaRef)>,
    /// Whether array contents are taken as valid without checking them (see
    /// [`Decoder::trusting_the_writer`]).
    trusted: bool,
}

/// One message of a stream: its flatbuffer, and where its body starts and how long it is.
struct MessageAt<'a> {
    message: arrow_ipc::Message<'a>,
    metadata: &'a [u8],
    body_start: usize,
    body_len: usize,
}

/// The message at `pos`, or `None` at the end-of-stream marker (or the end of the bytes).
fn message_at(bytes: &[u8], pos: usize) -> Result<Option<MessageAt<'_>>, ArrowError> {
    let bad = |what: &str| ArrowError::IpcError(format!("malformed IPC stream at byte {pos}: {what}"));
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")));
    let Some(first) = word(pos) else {
        return if pos == bytes.len() { Ok(None) } else { Err(bad("truncated message length")) };
    };
    let (len, start) =
        if first == 0xffff_ffff { (word(pos + 4).ok_or_else(|| bad("truncated message length"))?, pos + 8) } else { (first, pos + 4) };
    if len == 0 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| bad("message length"))?;
    let metadata = start.checked_add(len).and_then(|end| bytes.get(start..end)).ok_or_else(|| bad("message past the end"))?;
    let message = arrow_ipc::root_as_message(metadata).map_err(|e| bad(&format!("not a message: {e}")))?;
    let body_len = usize::try_from(message.bodyLength()).map_err(|_| bad("negative body length"))?;
    let body_start = start + len;
    if body_start.checked_add(body_len).is_none_or(|end| end > bytes.len()) {
        return Err(bad("body past the end"));
    }
    Ok(Some(MessageAt { message, metadata, body_start, body_len }))
}

impl Decoder {
    /// A decoder for streams that only eddy's host writes: the operator's input, which the host
    /// lays out ([`StreamLayout`]) from a record batch arrow has already checked. The messages
    /// are still checked (lengths, bounds, flatbuffers), but the array contents are not checked
    /// again (offsets in order and inside their values, UTF-8): on a 4,096-row vector column that
    /// second check was about a tenth of a component's extra time over native code
    /// (`ftrl_component_vs_native`). Never use it on bytes from anyone else; the host decodes
    /// what operators return with a checking [`Decoder::default`].
    ///
    /// # Safety
    ///
    /// Every stream given to it must hold arrays that arrow's own checks accept; otherwise reading
    /// them is undefined behaviour (inside the guest's sandbox, which it cannot leave).
    #[expect(unsafe_code, reason = "the caller vouches for the arrays")]
    pub unsafe fn trusting_the_writer() -> Self {
        Self { schema: None, trusted: true }
    }

    /// Decodes a stream that the caller owns (see [`decode_owned`]).
    pub fn decode_owned(&mut self, bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
        let buffer = Buffer::from_vec(bytes);
        match self.decode_plain(&buffer)? {
            Some(batch) => Ok(batch),
            // Dictionaries and other rarities: arrow's own decoder.
            None => decode_buffer(buffer),
        }
    }

    /// A stream of a schema message and record batch messages; `None` for anything else.
    fn decode_plain(&mut self, buffer: &Buffer) -> Result<Option<RecordBatch>, ArrowError> {
        let bytes = buffer.as_slice();
        let Some(first) = message_at(bytes, 0)? else { return Err(ArrowError::IpcError("the stream has no schema".into())) };
        let schema = match &self.schema {
            Some((message, schema)) if message.as_slice() == first.metadata => schema.clone(),
            _ => {
                let Some(fb) = first.message.header_as_schema() else { return Ok(None) };
                let schema = Arc::new(arrow_ipc::convert::fb_to_schema(fb));
                if schema.flattened_fields().iter().any(|f| matches!(f.data_type(), DataType::Dictionary(..))) {
                    return Ok(None);
                }
                self.schema = Some((first.metadata.to_vec(), schema.clone()));
                schema
            }
        };
        let mut pos = first.body_start + first.body_len;
        let mut batches = Vec::new();
        while let Some(m) = message_at(bytes, pos)? {
            let Some(header) = m.message.header_as_record_batch() else { return Ok(None) };
            let batch = if self.trusted {
                // The message again, from its length prefix, with the body after it: what
                // arrow's file decoder reads (the one that can skip the content checks).
                let message_start = pos;
                let block = arrow_ipc::Block::new(
                    message_start as i64,
                    i32::try_from(m.body_start - message_start).map_err(|_| ArrowError::IpcError("message too long".into()))?,
                    m.body_len as i64,
                );
                let message = buffer.slice_with_length(message_start, m.body_start + m.body_len - message_start);
                // SAFETY: `trusted` is only set by `trusting_the_writer`, whose caller promises
                // streams of valid arrays.
                #[expect(unsafe_code, reason = "the caller of trusting_the_writer vouches for the arrays")]
                let decoder =
                    unsafe { arrow_ipc::reader::FileDecoder::new(schema.clone(), m.message.version()).with_skip_validation(true) };
                decoder.read_record_batch(&block, &message)?.ok_or_else(|| ArrowError::IpcError("not a record batch".into()))?
            } else {
                let body = buffer.slice_with_length(m.body_start, m.body_len);
                let no_dictionaries = std::collections::HashMap::new();
                arrow_ipc::reader::read_record_batch(&body, header, schema.clone(), &no_dictionaries, None, &m.message.version())?
            };
            batches.push(batch);
            pos = m.body_start + m.body_len;
        }
        Ok(Some(match batches.len() {
            0 => RecordBatch::new_empty(schema),
            1 => batches.pop().expect("one batch"),
            _ => arrow_select::concat::concat_batches(&schema, &batches)?,
        }))
    }
}

/// The record batch message (a flatbuffer), built in the order arrow's writer builds it.
fn batch_header(rows: usize, nodes: &[arrow_ipc::FieldNode], buffers: &[arrow_ipc::Buffer], body_len: usize) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let buffers = fbb.create_vector(buffers);
    let nodes = fbb.create_vector(nodes);
    let root = {
        let mut b = arrow_ipc::RecordBatchBuilder::new(&mut fbb);
        b.add_length(rows as i64);
        b.add_nodes(nodes);
        b.add_buffers(buffers);
        b.finish().as_union_value()
    };
    let mut message = arrow_ipc::MessageBuilder::new(&mut fbb);
    message.add_version(arrow_ipc::MetadataVersion::V5);
    message.add_header_type(arrow_ipc::MessageHeader::RecordBatch);
    message.add_bodyLength(body_len as i64);
    message.add_header(root);
    let root = message.finish();
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

fn push(piece: Piece, body: &mut Vec<Piece>, buffers: &mut Vec<arrow_ipc::Buffer>, offset: &mut usize) {
    let n = piece.len();
    buffers.push(arrow_ipc::Buffer::new(*offset as i64, n as i64));
    *offset += n + pad(n);
    body.push(piece);
}

/// Lays out one array's nodes and buffers exactly as arrow's `write_array_data` writes them
/// (with the default options: no compression, metadata V5). Returns false for types it does
/// not cover.
fn lay_out(
    data: &ArrayData,
    rows: usize,
    null_count: usize,
    body: &mut Vec<Piece>,
    nodes: &mut Vec<arrow_ipc::FieldNode>,
    buffers: &mut Vec<arrow_ipc::Buffer>,
    offset: &mut usize,
) -> bool {
    let dt = data.data_type();
    match dt {
        DataType::Dictionary(..)
        | DataType::BinaryView
        | DataType::Utf8View
        | DataType::Union(..)
        | DataType::RunEndEncoded(..)
        | DataType::ListView(_)
        | DataType::LargeListView(_) => return false,
        _ => {}
    }
    if matches!(dt, DataType::Null) {
        nodes.push(arrow_ipc::FieldNode::new(rows as i64, rows as i64));
    } else {
        nodes.push(arrow_ipc::FieldNode::new(rows as i64, null_count as i64));
        let validity = match data.nulls() {
            None => Piece::Ones(rows.div_ceil(8)),
            Some(n) => Piece::Bytes(n.inner().sliced()),
        };
        push(validity, body, buffers, offset);
    }
    match dt {
        DataType::Binary | DataType::Utf8 | DataType::LargeBinary | DataType::LargeUtf8 => {
            let (offsets, values) = if data.is_empty() {
                (Buffer::from_vec(Vec::<u8>::new()), Buffer::from_vec(Vec::<u8>::new()))
            } else {
                let (offsets, start, len) = if matches!(dt, DataType::Binary | DataType::Utf8) {
                    rebased_offsets_of::<i32>(data)
                } else {
                    rebased_offsets_of::<i64>(data)
                };
                (offsets, data.buffers()[1].slice_with_length(start, len))
            };
            push(Piece::Bytes(offsets), body, buffers, offset);
            push(Piece::Bytes(values), body, buffers, offset);
        }
        DataType::Boolean => {
            let bits = data.buffers()[0].bit_slice(data.offset(), data.len());
            push(Piece::Bytes(bits), body, buffers, offset);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(..) => {
            let (offsets, child) = if data.is_empty() {
                (Buffer::from_vec(Vec::<u8>::new()), data.child_data()[0].slice(0, 0))
            } else {
                let (offsets, start, len) =
                    if matches!(dt, DataType::LargeList(_)) { rebased_offsets_of::<i64>(data) } else { rebased_offsets_of::<i32>(data) };
                (offsets, data.child_data()[0].slice(start, len))
            };
            push(Piece::Bytes(offsets), body, buffers, offset);
            return lay_out(&child, child.len(), child.null_count(), body, nodes, buffers, offset);
        }
        DataType::FixedSizeList(_, size) => {
            let size = *size as usize;
            let child = data.child_data()[0].slice(data.offset() * size, data.len() * size);
            return lay_out(&child, child.len(), child.null_count(), body, nodes, buffers, offset);
        }
        DataType::Struct(_) | DataType::Null => {
            for b in data.buffers() {
                push(Piece::Bytes(b.clone()), body, buffers, offset);
            }
            for child in data.child_data() {
                if !lay_out(child, child.len(), child.null_count(), body, nodes, buffers, offset) {
                    return false;
                }
            }
        }
        _ => {
            // Fixed-width values (numbers, temporal types, decimals, fixed-size binary): the
            // rows' slice of the values buffer.
            let width = match dt {
                DataType::FixedSizeBinary(w) => *w as usize,
                _ => match dt.primitive_width() {
                    Some(w) => w,
                    None => return false,
                },
            };
            if data.buffers().len() != 1 || !data.child_data().is_empty() {
                return false;
            }
            let values = &data.buffers()[0];
            let min = data.len() * width;
            let values = if data.offset() != 0 || min < values.len() {
                let start = data.offset() * width;
                values.slice_with_length(start, min.min(values.len() - start))
            } else {
                values.clone()
            };
            push(Piece::Bytes(values), body, buffers, offset);
        }
    }
    true
}

/// Offsets rebased to start at zero (a zero-copy slice when they already do), and the range
/// of child values they cover: arrow's `reencode_offsets`.
fn rebased_offsets_of<O: ArrowNativeType + std::ops::Sub<Output = O>>(data: &ArrayData) -> (Buffer, usize, usize) {
    let all: &[O] = data.buffers()[0].typed_data::<O>();
    let slice = &all[data.offset()..data.offset() + data.len() + 1];
    let start = slice[0];
    let end = slice[slice.len() - 1];
    let offsets = if start.as_usize() == 0 {
        let size = std::mem::size_of::<O>();
        data.buffers()[0].slice_with_length(data.offset() * size, (data.len() + 1) * size)
    } else {
        Buffer::from_iter(slice.iter().map(|x| *x - start))
    };
    (offsets, start.as_usize(), end.as_usize() - start.as_usize())
}

/// Encodes one batch as an Arrow IPC stream (the bytes arrow's `StreamWriter` writes), copying
/// the column data once.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    Ok(StreamLayout::new(batch)?.to_vec())
}

/// Decodes an Arrow IPC stream that the caller owns, without copying the column data: the
/// batch's buffers point into `bytes` (when they are aligned, as IPC writers align them).
pub fn decode_owned(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    decode_buffer(Buffer::from_vec(bytes))
}

fn decode_buffer(mut buffer: Buffer) -> Result<RecordBatch, ArrowError> {
    let mut decoder = arrow_ipc::reader::StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        match decoder.decode(&mut buffer)? {
            Some(b) => batches.push(b),
            None if buffer.is_empty() => break,
            None => {}
        }
    }
    decoder.finish()?;
    let schema = decoder.schema().ok_or_else(|| ArrowError::IpcError("the stream has no schema".into()))?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow_select::concat::concat_batches(&schema, &batches),
    }
}

/// Decodes an Arrow IPC stream into one batch (concatenating if the stream holds several).
/// An empty stream with a schema gives an empty batch.
pub fn decode(bytes: &[u8]) -> Result<RecordBatch, ArrowError> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    let schema: Arc<Schema> = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("one batch")),
        _ => arrow_select::concat::concat_batches(&schema, &batches),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{BooleanBuilder, FixedSizeListBuilder, Float64Builder, Int32Builder, ListBuilder, StringBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, Float64Array, Int64Array, NullArray, StringArray, TimestampMillisecondArray, UInt64Array,
    };
    use arrow_schema::Field;

    fn arrow_encode(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = StreamWriter::try_new(&mut out, batch.schema_ref()).unwrap();
        w.write(batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    fn batch_of(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0 || a.data_type() == &DataType::Null))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
    }

    fn vectors() -> ArrayRef {
        let mut v = crate::VectorBuilder::new();
        for r in 0..37 {
            match r % 4 {
                0 => v.append_dense(&[r as f64, 1.5, -2.0]),
                1 => v.append_sparse(3, &[0, 2], &[0.5, r as f64]),
                2 => v.append_null(),
                _ => v.append_dense(&[]),
            }
        }
        Arc::new(v.finish())
    }

    fn samples() -> Vec<RecordBatch> {
        let mut lists = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
        for r in 0..29 {
            for k in 0..(r % 3) {
                lists.values().values().append_slice(&[k as f64, r as f64]);
                lists.values().append(k != 1);
            }
            lists.append(r % 5 != 0);
        }
        let mut fixed = FixedSizeListBuilder::new(Int32Builder::new(), 2);
        let mut bools = BooleanBuilder::new();
        let mut strings = StringBuilder::new();
        for r in 0..29 {
            fixed.values().append_slice(&[r, -r]);
            fixed.append(r % 7 != 0);
            bools.append_option((r % 3 != 0).then_some(r % 2 == 0));
            strings.append_option((r % 4 != 1).then(|| "x".repeat(r as usize % 5)));
        }
        let dict: DictionaryArray<Int32Type> = ["a", "b", "a", "c"].into_iter().collect();
        let wide = batch_of(vec![
            ("f", Arc::new(Float64Array::from_iter_values((0..29).map(|i| i as f64 * 0.25))) as ArrayRef),
            ("i", Arc::new(Int64Array::from_iter((0..29).map(|i| (i % 3 != 0).then_some(i))))),
            ("s", Arc::new(strings.finish())),
            ("b", Arc::new(bools.finish())),
            ("l", Arc::new(lists.finish())),
            ("x", Arc::new(fixed.finish())),
            ("t", Arc::new(TimestampMillisecondArray::from_iter_values(0..29))),
            ("n", Arc::new(NullArray::new(29))),
            ("__seq", Arc::new(UInt64Array::from_iter_values(100..129))),
        ]);
        let vec_batch = batch_of(vec![
            ("features", vectors()),
            ("label", Arc::new(Float64Array::from_iter((0..37).map(|i| (i % 2 == 0).then_some(1.0))))),
        ]);
        vec![
            wide.clone(),
            wide.slice(3, 17),
            wide.slice(9, 0),
            RecordBatch::new_empty(wide.schema()),
            vec_batch.clone(),
            vec_batch.slice(1, 30),
            vec_batch.slice(13, 5),
            batch_of(vec![("d", Arc::new(dict) as ArrayRef)]),
            batch_of(vec![("s", Arc::new(StringArray::from(vec!["only"])) as ArrayRef)]),
        ]
    }

    #[test]
    fn encode_writes_what_arrows_stream_writer_writes() {
        for (i, batch) in samples().iter().enumerate() {
            let expected = arrow_encode(batch);
            let layout = StreamLayout::new(batch).unwrap();
            let is_dictionary = matches!(batch.column(0).data_type(), DataType::Dictionary(..));
            assert_eq!(layout.end, !is_dictionary, "sample {i}: only dictionaries fall back to arrow's writer");
            assert_eq!(layout.len(), expected.len(), "sample {i}: length");
            assert_eq!(layout.to_vec(), expected, "sample {i}: to_vec");
            let mut out = vec![0xaa; layout.len()];
            layout.write_to(&mut out);
            assert_eq!(out, expected, "sample {i}: write_to");
            assert_eq!(&decode(&out).unwrap(), batch, "sample {i}: round trip");
        }
    }

    #[test]
    fn encoder_and_decoder_keep_schemas_from_call_to_call() {
        let mut encoder = Encoder::default();
        let mut decoder = Decoder::default();
        // Twice over, so that the second pass meets cached schemas (and schema changes).
        for pass in 0..2 {
            for (i, batch) in samples().iter().enumerate() {
                let bytes = encoder.encode(batch).unwrap();
                assert_eq!(bytes, arrow_encode(batch), "pass {pass}, sample {i}: encoded");
                assert_eq!(&decoder.decode_owned(bytes.clone()).unwrap(), batch, "pass {pass}, sample {i}: decoded");
                assert_eq!(decoder.decode_owned(bytes).unwrap().schema(), batch.schema(), "pass {pass}, sample {i}: decoded again");
            }
        }
    }

    #[test]
    #[expect(unsafe_code, reason = "valid streams only, as trusting_the_writer asks")]
    fn a_trusting_decoder_reads_what_a_checking_one_reads() {
        // SAFETY: every stream below is written from a valid batch.
        let mut trusting = unsafe { Decoder::trusting_the_writer() };
        let mut checking = Decoder::default();
        let mut encoder = Encoder::default();
        for pass in 0..2 {
            for (i, batch) in samples().iter().enumerate() {
                let bytes = encoder.encode(batch).unwrap();
                let expected = checking.decode_owned(bytes.clone()).unwrap();
                assert_eq!(&expected, batch, "pass {pass}, sample {i}: checked");
                assert_eq!(trusting.decode_owned(bytes).unwrap(), expected, "pass {pass}, sample {i}: trusted");
            }
        }
        // Several record batches in one stream, and slices (offsets that do not start at 0).
        let batch = samples().swap_remove(0);
        let mut two = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut two, batch.schema_ref()).unwrap();
            w.write(&batch.slice(0, 10)).unwrap();
            w.write(&batch.slice(10, 19)).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(trusting.decode_owned(two).unwrap(), batch);
        // The messages themselves are still checked: a cut stream is an error, not a read past
        // the end.
        let bytes = encode(&batch).unwrap();
        let cut = bytes.len() - 16;
        assert!(trusting.decode_owned(bytes[..cut].to_vec()).is_err());
    }

    #[test]
    fn decoder_reads_streams_of_several_batches_and_refuses_broken_ones() {
        let batch = samples().swap_remove(0);
        let mut two = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut two, batch.schema_ref()).unwrap();
            w.write(&batch.slice(0, 10)).unwrap();
            w.write(&batch.slice(10, 19)).unwrap();
            w.finish().unwrap();
        }
        let mut decoder = Decoder::default();
        assert_eq!(decoder.decode_owned(two.clone()).unwrap(), batch);
        // A stream without its end-of-stream marker is read to its end.
        assert_eq!(decoder.decode_owned(two[..two.len() - 8].to_vec()).unwrap(), batch);
        // Every shorter prefix is an error (or a shorter batch), never a panic.
        for cut in 0..two.len() - 8 {
            if let Ok(b) = Decoder::default().decode_owned(two[..cut].to_vec()) {
                assert!(b.num_rows() < batch.num_rows(), "cut at {cut}");
            }
        }
        assert!(decoder.decode_owned(Vec::new()).is_err());
    }

    #[test]
    fn owned_and_borrowed_decoding_agree() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Float64, false), Field::new("b", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Float64Array::from(vec![1.5, 2.5])), Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        let bytes = encode(&batch).unwrap();
        assert_eq!(decode(&bytes).unwrap(), batch);
        assert_eq!(decode_owned(bytes).unwrap(), batch);
        let empty = RecordBatch::new_empty(batch.schema());
        assert_eq!(decode_owned(encode(&empty).unwrap()).unwrap().schema(), batch.schema());
    }
}
