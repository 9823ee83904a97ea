//! Arrow IPC bytes from outside the host, checked before arrow reads them: record values,
//! what an operator returns (outputs, models, model data), the waiting rows of a snapshot,
//! and replay files.
//!
//! arrow's IPC readers trust the lengths they read: a message length or a body length is
//! allocated as given (a few bytes claiming 2 GiB reserve 2 GiB), a buffer outside its body
//! panics, and a schema with an unknown type width or unit panics. Here every message is
//! walked first: lengths must lie inside the bytes, buffers inside their body, row counts
//! below 8 per byte of input (a bit per row, the densest any column with buffers gets), and
//! every type must be one arrow reads without panicking. Only then does arrow decode, so what
//! it allocates is bounded by the input's size.
//!
//! An operator's output is held to more: exactly one schema message and at most one record
//! batch, no dictionaries, no compression, and nothing after the end-of-stream marker (what
//! the SDK writes; anything else is a broken contract).

use std::io::{Read, Seek, SeekFrom};

use arrow::array::RecordBatch;
use arrow::ipc::{self as fb, Message, MessageHeader};
use eddy_sdk::ipc;

/// Nested types deeper than this are refused (arrow's schema conversion recurses).
const MAX_DEPTH: usize = 32;

/// What a stream may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A record value: any number of record batches and dictionaries.
    Value,
    /// An operator's answer: one record batch at most, no dictionaries.
    Output,
}

/// Decodes what an operator returned (outputs, models or model data) with `decoder`, after
/// checking it strictly (see the module documentation).
pub fn decode_guest_output(decoder: &mut ipc::Decoder, bytes: Vec<u8>) -> Result<RecordBatch, String> {
    check_stream(&bytes, Shape::Output)?;
    decoder.decode_owned(bytes).map_err(|e| e.to_string())
}

/// Decodes a record value in Arrow format (an IPC stream of one or more batches, which are
/// concatenated), after checking it.
pub fn decode_value(bytes: &[u8]) -> Result<RecordBatch, String> {
    check_stream(bytes, Shape::Value)?;
    ipc::decode(bytes).map_err(|e| e.to_string())
}

/// Most rows a stream of `len` bytes may claim.
fn max_rows(len: usize) -> i64 {
    i64::try_from(len.saturating_mul(8)).unwrap_or(i64::MAX)
}

/// A message, where its body starts, and how long the body is.
type Found<'a> = (Message<'a>, usize, usize);

/// The message at `pos`: (message, body start, body length) and where the next message starts,
/// or `None` at the end of the bytes or at an end-of-stream marker (then with where the
/// marker ends). With `body` false the body is not looked for (a file block's header alone).
fn message_at(bytes: &[u8], pos: usize, body: bool) -> Result<(Option<Found<'_>>, usize), String> {
    let bad = |what: &str| format!("malformed Arrow IPC stream at byte {pos}: {what}");
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")));
    if pos == bytes.len() {
        return Ok((None, pos));
    }
    let first = word(pos).ok_or_else(|| bad("a message length cut short"))?;
    let (len, start) =
        if first == 0xffff_ffff { (word(pos + 4).ok_or_else(|| bad("a message length cut short"))?, pos + 8) } else { (first, pos + 4) };
    if len == 0 {
        return Ok((None, start));
    }
    if len > i32::MAX as u32 {
        return Err(bad(&format!("message length {len}")));
    }
    let end = start
        .checked_add(len as usize)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(&format!("a message of {len} bytes, {} bytes left", bytes.len() - start.min(bytes.len()))))?;
    let message = fb::root_as_message(&bytes[start..end]).map_err(|e| bad(&format!("not a message: {e}")))?;
    if !body {
        return Ok((Some((message, end, 0)), end));
    }
    let body = message.bodyLength();
    let body_end = usize::try_from(body).ok().and_then(|b| end.checked_add(b)).filter(|&e| e <= bytes.len());
    let Some(body_end) = body_end else {
        return Err(bad(&format!("a body of {body} bytes, {} bytes left", bytes.len() - end)));
    };
    Ok((Some((message, end, body as usize)), body_end))
}

/// Walks a stream's messages and checks them (see the module documentation).
fn check_stream(bytes: &[u8], shape: Shape) -> Result<(), String> {
    let rows_limit = max_rows(bytes.len());
    let (first, mut pos) = message_at(bytes, 0, true)?;
    let Some((first, _, _)) = first else { return Err("the stream has no schema".into()) };
    let schema = first.header_as_schema().ok_or("the stream does not start with a schema")?;
    check_schema(schema, shape == Shape::Value)?;
    let fields = schema.fields().ok_or("the schema has no fields")?;
    let (mut batches, mut rows) = (0usize, 0i64);
    loop {
        let (m, next) = message_at(bytes, pos, true)?;
        let Some((m, body_start, body)) = m else {
            if next < bytes.len() {
                return Err(format!("{} bytes after the end-of-stream marker", bytes.len() - next));
            }
            return Ok(());
        };
        if body_start % 8 != 0 {
            return Err(format!("a message body at byte {body_start}, not on an 8-byte boundary"));
        }
        match m.header_type() {
            MessageHeader::RecordBatch => {
                batches += 1;
                if shape == Shape::Output && batches > 1 {
                    return Err("more than one record batch (an operator returns one)".into());
                }
                let b = m.header_as_record_batch().ok_or("a record batch message without its header")?;
                rows = rows.saturating_add(check_batch(b, body, rows_limit, fields, None)?);
                if rows > rows_limit {
                    return Err(format!("{rows} rows in {} bytes", bytes.len()));
                }
            }
            MessageHeader::DictionaryBatch if shape == Shape::Value => {
                let d = m.header_as_dictionary_batch().ok_or("a dictionary message without its header")?;
                let b = d.data().ok_or("a dictionary message without its data")?;
                check_batch(b, body, rows_limit, fields, Some(d.id()))?;
            }
            MessageHeader::DictionaryBatch => return Err("a dictionary batch (operators return plain columns)".into()),
            MessageHeader::Schema => return Err("a second schema message".into()),
            other => return Err(format!("a message of type {other:?}")),
        }
        pos = next;
    }
}

type Fields<'a> = flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<fb::Field<'a>>>;

/// Checks one record batch header against its body and the schema's `fields` (or, for a
/// dictionary batch, the values of dictionary `dictionary`): returns its row count.
fn check_batch(b: fb::RecordBatch<'_>, body: usize, rows_limit: i64, fields: Fields<'_>, dictionary: Option<i64>) -> Result<i64, String> {
    if let Some(c) = b.compression() {
        return Err(format!("a compressed batch ({:?}): compressed bodies are not accepted", c.codec()));
    }
    let rows = b.length();
    if !(0..=rows_limit).contains(&rows) {
        return Err(format!("a batch of {rows} rows"));
    }
    for n in b.nodes().iter().flatten() {
        if !(0..=rows_limit).contains(&n.length()) || !(0..=n.length()).contains(&n.null_count()) {
            return Err(format!("a column of {} values with {} nulls", n.length(), n.null_count()));
        }
    }
    let buffers = b.buffers().map_or(0, |v| v.len());
    for buf in b.buffers().iter().flatten() {
        let inside = u64::try_from(buf.offset())
            .ok()
            .zip(u64::try_from(buf.length()).ok())
            .and_then(|(o, l)| o.checked_add(l))
            .is_some_and(|end| end <= body as u64);
        if !inside {
            return Err(format!("a buffer at {} of {} bytes, outside a body of {body} bytes", buf.offset(), buf.length()));
        }
        // The format puts every buffer on an 8-byte boundary; arrow's zero-copy reading
        // panics on a misaligned one (found by the fuzz targets: one flipped bit of an offset).
        if buf.offset() % 8 != 0 {
            return Err(format!("a buffer at {}, not on an 8-byte boundary", buf.offset()));
        }
    }
    let mut variadic = 0i64;
    for c in b.variadicBufferCounts().iter().flatten() {
        variadic = variadic.saturating_add(c);
        if c < 0 || variadic > buffers as i64 {
            return Err(format!("{c} variadic buffers, {buffers} buffers in all"));
        }
    }
    let mut walk = Layout { batch: b, node: 0, buffer: 0, variadic: 0 };
    match dictionary {
        None => {
            for f in fields.iter() {
                walk.field(f, false)?;
            }
        }
        Some(id) => match find_dictionary(fields, id, 0) {
            Some(f) => walk.field(f, true)?,
            None => return Err(format!("a dictionary batch for dictionary {id}, which no column uses")),
        },
    }
    Ok(rows)
}

/// The field that dictionary `id` encodes.
fn find_dictionary<'a>(fields: Fields<'a>, id: i64, depth: usize) -> Option<fb::Field<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    for f in fields.iter() {
        if f.dictionary().is_some_and(|d| d.id() == id) {
            return Some(f);
        }
        if let Some(found) = f.children().and_then(|c| find_dictionary(c, id, depth + 1)) {
            return Some(found);
        }
    }
    None
}

/// Walks a batch's column nodes and buffers in the order arrow's reader takes them, to check
/// what arrow builds before it validates: a validity bitmap must hold a bit per value (arrow
/// panics on a shorter one).
struct Layout<'a> {
    batch: fb::RecordBatch<'a>,
    node: usize,
    buffer: usize,
    variadic: usize,
}

impl Layout<'_> {
    /// Column `f`'s node and buffers, then its children's (`values`: `f`'s dictionary values,
    /// in a dictionary batch).
    fn field(&mut self, f: fb::Field<'_>, values: bool) -> Result<(), String> {
        use fb::Type as T;
        let name = f.name().unwrap_or("");
        let Some(node) = self.batch.nodes().filter(|n| self.node < n.len()).map(|n| n.get(self.node)) else {
            return Err(format!("column `{name}`: no node for it"));
        };
        self.node += 1;
        let dictionary = f.dictionary().is_some() && !values;
        // The width of each buffer's elements: a buffer's length must be a multiple of it
        // (arrow panics reading offsets or values from a buffer that ends mid-element; found
        // by the fuzz targets).
        let bytes = |bits: i32| usize::try_from(bits / 8).unwrap_or(1).max(1);
        let widths: Vec<usize> = if dictionary {
            vec![1, f.dictionary().and_then(|d| d.indexType()).map_or(1, |i| bytes(i.bitWidth()))]
        } else {
            match f.type_type() {
                T::Null => vec![],
                T::Struct_ | T::FixedSizeList => vec![1],
                T::List | T::Map => vec![1, 4],
                T::LargeList => vec![1, 8],
                T::Binary | T::Utf8 => vec![1, 4, 1],
                T::LargeBinary | T::LargeUtf8 => vec![1, 8, 1],
                T::BinaryView | T::Utf8View => {
                    let extra = self.batch.variadicBufferCounts().filter(|v| self.variadic < v.len()).map(|v| v.get(self.variadic));
                    self.variadic += 1;
                    match extra.and_then(|n| usize::try_from(n).ok()) {
                        Some(n) if n <= self.batch.buffers().map_or(0, |b| b.len()) => {
                            [1, 16].into_iter().chain(std::iter::repeat_n(1, n)).collect()
                        }
                        _ => return Err(format!("column `{name}`: no valid variadic buffer count")),
                    }
                }
                T::Int => vec![1, f.type_as_int().map_or(1, |i| bytes(i.bitWidth()))],
                T::FloatingPoint => vec![1, f.type_as_floating_point().map_or(1, |p| 2 << p.precision().0.clamp(0, 2))],
                T::Date => vec![1, if f.type_as_date().is_some_and(|d| d.unit() == fb::DateUnit::DAY) { 4 } else { 8 }],
                T::Time => vec![1, f.type_as_time().map_or(1, |t| bytes(t.bitWidth()))],
                T::Timestamp | T::Duration => vec![1, 8],
                T::Interval => vec![1, f.type_as_interval().map_or(1, |i| [4, 8, 16][i.unit().0.clamp(0, 2) as usize])],
                T::Decimal => vec![1, f.type_as_decimal().map_or(1, |d| bytes(d.bitWidth()))],
                _ => vec![1, 1],
            }
        };
        let count = widths.len();
        let buffers = self.batch.buffers().map_or(0, |b| b.len());
        if self.buffer.saturating_add(count) > buffers {
            return Err(format!("column `{name}`: {count} buffers, {} left", buffers - self.buffer.min(buffers)));
        }
        let all = self.batch.buffers().expect("counted above");
        for (k, w) in widths.iter().enumerate() {
            let len = all.get(self.buffer + k).length();
            if len % *w as i64 != 0 {
                return Err(format!("column `{name}`: a buffer of {len} bytes holding {w}-byte values"));
            }
        }
        if count > 0 && node.null_count() > 0 {
            let validity = self.batch.buffers().expect("counted above").get(self.buffer);
            if validity.length().saturating_mul(8) < node.length() {
                return Err(format!("column `{name}`: a validity bitmap of {} bytes for {} values", validity.length(), node.length()));
            }
        }
        self.buffer += count;
        if !dictionary {
            for c in f.children().iter().flatten() {
                self.field(c, false)?;
            }
        }
        Ok(())
    }
}

fn check_schema(s: fb::Schema<'_>, dictionaries: bool) -> Result<(), String> {
    if s.endianness() != fb::Endianness::Little {
        return Err("a big-endian schema".into());
    }
    for f in s.fields().ok_or("the schema has no fields")? {
        check_field(f, dictionaries, 0)?;
    }
    Ok(())
}

/// Checks a field's type as arrow's schema conversion reads it (which panics on what is
/// refused here); types eddy never reads or writes and arrow reads least safely (unions,
/// run-end encoded, list views) are refused.
fn check_field(f: fb::Field<'_>, dictionaries: bool, depth: usize) -> Result<(), String> {
    use fb::Type as T;
    let name = f.name().unwrap_or("");
    let bad = |what: String| Err(format!("column `{name}`: {what}"));
    if depth > MAX_DEPTH {
        return bad(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    if let Some(d) = f.dictionary() {
        if !dictionaries {
            return bad("dictionary-encoded (operators return plain columns)".into());
        }
        match d.indexType() {
            Some(i) if matches!(i.bitWidth(), 8 | 16 | 32 | 64) => {}
            _ => return bad("a dictionary without a valid index type".into()),
        }
    }
    let children = f.children().map_or(0, |c| c.len());
    let ok = match f.type_type() {
        T::Null | T::Bool | T::Binary | T::BinaryView | T::LargeBinary | T::Utf8 | T::Utf8View | T::LargeUtf8 | T::Struct_ => true,
        T::Int => f.type_as_int().is_some_and(|i| matches!(i.bitWidth(), 8 | 16 | 32 | 64)),
        T::FixedSizeBinary => f.type_as_fixed_size_binary().is_some_and(|b| b.byteWidth() >= 0),
        T::FloatingPoint => f.type_as_floating_point().is_some_and(|p| (0..=2).contains(&p.precision().0)),
        T::Date => f.type_as_date().is_some_and(|d| (0..=1).contains(&d.unit().0)),
        T::Time => f.type_as_time().is_some_and(|t| matches!((t.bitWidth(), t.unit().0), (32, 0 | 1) | (64, 2 | 3))),
        T::Timestamp => f.type_as_timestamp().is_some_and(|t| (0..=3).contains(&t.unit().0)),
        T::Interval => f.type_as_interval().is_some_and(|i| (0..=2).contains(&i.unit().0)),
        T::Duration => f.type_as_duration().is_some_and(|d| (0..=3).contains(&d.unit().0)),
        T::List | T::LargeList => children == 1,
        T::FixedSizeList => children == 1 && f.type_as_fixed_size_list().is_some_and(|l| l.listSize() >= 0),
        T::Map => children == 1 && f.type_as_map().is_some(),
        T::Decimal => f.type_as_decimal().is_some_and(|d| {
            let most = match d.bitWidth() {
                32 => 9,
                64 => 18,
                128 => 38,
                256 => 76,
                _ => 0,
            };
            (1..=most).contains(&d.precision()) && (-128..=i32::from(i8::MAX)).contains(&d.scale()) && d.scale() <= d.precision()
        }),
        other => return bad(format!("type {other:?} is not accepted")),
    };
    if !ok {
        return bad(format!("a malformed {:?} type", f.type_type()));
    }
    for c in f.children().iter().flatten() {
        check_field(c, dictionaries, depth + 1)?;
    }
    Ok(())
}

/// Checks an Arrow IPC file (a replay file) before arrow's file reader opens it: its footer,
/// schema and every block lie inside the file, and every batch's buffers inside its block.
pub(crate) fn check_file(f: &mut (impl Read + Seek)) -> Result<(), String> {
    const MAGIC: &[u8; 6] = b"ARROW1";
    let size = f.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    if size < 18 {
        return Err(format!("{size} bytes, too short for an Arrow IPC file"));
    }
    let mut read_at = |at: u64, len: usize| -> Result<Vec<u8>, String> {
        let mut buf = vec![0; len];
        f.seek(SeekFrom::Start(at)).and_then(|_| f.read_exact(&mut buf)).map_err(|e| e.to_string())?;
        Ok(buf)
    };
    if read_at(0, 6)? != MAGIC {
        return Err("it does not start with ARROW1".into());
    }
    let tail = read_at(size - 10, 10)?;
    if &tail[4..] != MAGIC {
        return Err("it does not end with ARROW1 (a file cut short?)".into());
    }
    let footer_len = i32::from_le_bytes(tail[..4].try_into().expect("four bytes"));
    let data_end = size - 10;
    let Some(footer_start) = u64::try_from(footer_len).ok().filter(|&l| l <= data_end - 8).map(|l| data_end - l) else {
        return Err(format!("a footer of {footer_len} bytes in a file of {size}"));
    };
    let footer_bytes = read_at(footer_start, footer_len as usize)?;
    let footer = fb::root_as_footer(&footer_bytes).map_err(|e| format!("not an Arrow IPC footer: {e}"))?;
    let schema = footer.schema().ok_or("the footer has no schema")?;
    check_schema(schema, true)?;
    let fields = schema.fields().ok_or("the schema has no fields")?;
    let rows_limit = max_rows(usize::try_from(size).unwrap_or(usize::MAX));
    let blocks = footer.recordBatches().into_iter().flatten().chain(footer.dictionaries().into_iter().flatten());
    for b in blocks {
        let (offset, meta, body) = (b.offset(), b.metaDataLength(), b.bodyLength());
        let end = u64::try_from(offset)
            .ok()
            .filter(|&o| o >= 8)
            .zip(u64::try_from(meta).ok().filter(|&m| m >= 8))
            .zip(u64::try_from(body).ok())
            .and_then(|((o, m), b)| o.checked_add(m)?.checked_add(b));
        if end.is_none_or(|e| e > footer_start) {
            return Err(format!("a block at {offset} of {meta} + {body} bytes, outside the file's {footer_start} bytes of data"));
        }
        let header = read_at(offset as u64, meta as usize)?;
        let (m, _) = message_at(&header, 0, false).map_err(|e| format!("the block at {offset}: {e}"))?;
        let Some((m, _, _)) = m else { return Err(format!("the block at {offset} holds no message")) };
        let (batch, dictionary) = match m.header_type() {
            MessageHeader::RecordBatch => (m.header_as_record_batch(), None),
            MessageHeader::DictionaryBatch => {
                let d = m.header_as_dictionary_batch();
                (d.and_then(|d| d.data()), d.map(|d| d.id()))
            }
            other => return Err(format!("the block at {offset} holds a message of type {other:?}")),
        };
        let batch = batch.ok_or_else(|| format!("the block at {offset} holds a batch message without its header"))?;
        check_batch(batch, body as usize, rows_limit, fields, dictionary).map_err(|e| format!("the block at {offset}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;

    use arrow::array::{Float64Array, StringDictionaryBuilder, UInt64Array};
    use arrow::datatypes::Int32Type;
    use arrow::ipc::writer::StreamWriter;
    use flatbuffers::FlatBufferBuilder;

    use super::*;

    fn output() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("prediction", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(0.5)])) as _),
            ("__seq", Arc::new(UInt64Array::from(vec![0, 1, 2])) as _),
        ])
        .unwrap()
    }

    fn guest(bytes: &[u8]) -> Result<RecordBatch, String> {
        decode_guest_output(&mut ipc::Decoder::default(), bytes.to_vec())
    }

    /// A framed message: continuation marker, length, flatbuffer padded to 8, body.
    fn framed(message: &[u8], body: &[u8]) -> Vec<u8> {
        let padded = message.len().next_multiple_of(8);
        let mut out = vec![0xff, 0xff, 0xff, 0xff];
        out.extend_from_slice(&(padded as u32).to_le_bytes());
        out.extend_from_slice(message);
        out.resize(8 + padded, 0);
        out.extend_from_slice(body);
        out
    }

    /// `stream` (one schema, one batch) with its batch message rebuilt by `edit` (which gets the
    /// length, nodes and buffers and may add compression); the body is kept.
    fn rebuilt(stream: &[u8], edit: impl Fn(&mut i64, &mut Vec<fb::FieldNode>, &mut Vec<fb::Buffer>, &mut bool)) -> Vec<u8> {
        rebuilt_claiming(stream, None, edit)
    }

    /// [`rebuilt`], the message claiming a body of `body` bytes if given.
    fn rebuilt_claiming(
        stream: &[u8],
        body: Option<i64>,
        edit: impl Fn(&mut i64, &mut Vec<fb::FieldNode>, &mut Vec<fb::Buffer>, &mut bool),
    ) -> Vec<u8> {
        let (_, schema_end) = message_at(stream, 0, true).unwrap();
        let (m, _) = message_at(stream, schema_end, true).unwrap();
        let (m, body_start, body_len) = m.unwrap();
        let b = m.header_as_record_batch().unwrap();
        let (mut length, mut compressed) = (b.length(), false);
        let mut nodes: Vec<fb::FieldNode> = b.nodes().unwrap().iter().copied().collect();
        let mut buffers: Vec<fb::Buffer> = b.buffers().unwrap().iter().copied().collect();
        edit(&mut length, &mut nodes, &mut buffers, &mut compressed);
        let mut fbb = FlatBufferBuilder::new();
        let (nodes, buffers) = (fbb.create_vector(&nodes), fbb.create_vector(&buffers));
        let compression = compressed.then(|| {
            let mut c = fb::BodyCompressionBuilder::new(&mut fbb);
            c.add_codec(fb::CompressionType::LZ4_FRAME);
            c.finish()
        });
        let mut rb = fb::RecordBatchBuilder::new(&mut fbb);
        rb.add_length(length);
        rb.add_nodes(nodes);
        rb.add_buffers(buffers);
        if let Some(c) = compression {
            rb.add_compression(c);
        }
        let rb = rb.finish();
        let mut mb = fb::MessageBuilder::new(&mut fbb);
        mb.add_version(fb::MetadataVersion::V5);
        mb.add_header_type(MessageHeader::RecordBatch);
        mb.add_header(rb.as_union_value());
        mb.add_bodyLength(body.unwrap_or(body_len as i64));
        let mb = mb.finish();
        fbb.finish(mb, None);
        let mut out = stream[..schema_end].to_vec();
        out.extend(framed(fbb.finished_data(), &stream[body_start..body_start + body_len]));
        out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        out
    }

    #[test]
    fn what_the_sdk_writes_is_accepted() {
        let bytes = ipc::encode(&output()).unwrap();
        assert_eq!(guest(&bytes).unwrap(), output());
        assert_eq!(guest(&bytes[..bytes.len() - 8]).unwrap(), output(), "without its end-of-stream marker");
        assert_eq!(decode_value(&bytes).unwrap(), output());
        assert_eq!(guest(&rebuilt(&bytes, |_, _, _, _| {})).unwrap(), output(), "the test's rebuild changes nothing by itself");
    }

    #[test]
    fn operator_outputs_are_held_to_one_plain_uncompressed_batch_and_nothing_after() {
        let bytes = ipc::encode(&output()).unwrap();
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(guest(&trailing).unwrap_err(), "4 bytes after the end-of-stream marker");
        assert!(decode_value(&trailing).is_err(), "record values too");
        let mut two = Vec::new();
        let mut w = StreamWriter::try_new(&mut two, &output().schema()).unwrap();
        w.write(&output().slice(0, 1)).unwrap();
        w.write(&output().slice(1, 2)).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(guest(&two).unwrap_err(), "more than one record batch (an operator returns one)");
        assert_eq!(decode_value(&two).unwrap(), output(), "a record value may hold several");
        let mut dict = StringDictionaryBuilder::<Int32Type>::new();
        dict.append_value("a");
        let dict = RecordBatch::try_from_iter(vec![("s", Arc::new(dict.finish()) as _)]).unwrap();
        let mut with_dict = Vec::new();
        let mut w = StreamWriter::try_new(&mut with_dict, &dict.schema()).unwrap();
        w.write(&dict).unwrap();
        w.finish().unwrap();
        drop(w);
        assert!(guest(&with_dict).unwrap_err().contains("dictionary-encoded"));
        assert_eq!(decode_value(&with_dict).unwrap(), dict);
        let compressed = rebuilt(&bytes, |_, _, _, c| *c = true);
        assert_eq!(guest(&compressed).unwrap_err(), "a compressed batch (LZ4_FRAME): compressed bodies are not accepted");
        assert!(decode_value(&compressed).is_err());
    }

    #[test]
    fn absurd_lengths_are_refused_before_anything_is_allocated() {
        let bytes = ipc::encode(&output()).unwrap();
        // A schema message claiming 2 GiB (arrow's stream reader reserves what it reads).
        let mut long = bytes.clone();
        long[4..8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        assert!(guest(&long).unwrap_err().contains("a message of 2147483632 bytes"), "{:?}", guest(&long));
        assert!(decode_value(&long).is_err());
        // A batch of 2^40 rows in a few hundred bytes.
        let rows = rebuilt(&bytes, |len, nodes, _, _| {
            *len = 1 << 40;
            *nodes = nodes.iter().map(|_| fb::FieldNode::new(1 << 40, 0)).collect();
        });
        assert!(guest(&rows).unwrap_err().contains("a batch of 1099511627776 rows"));
        // A buffer past the body: arrow panics on it.
        let outside = rebuilt(&bytes, |_, _, buffers, _| buffers[1] = fb::Buffer::new(buffers[1].offset(), 1 << 30));
        assert!(guest(&outside).unwrap_err().contains("outside a body"));
        assert!(catch_unwind(AssertUnwindSafe(|| ipc::Decoder::default().decode_owned(outside.clone()))).is_err(), "arrow alone panics");
        // A validity bitmap shorter than its column, with nulls (found by the replay_file
        // fuzz target): arrow panics building the array, before it validates.
        let short = rebuilt(&bytes, |_, _, buffers, _| buffers[0] = fb::Buffer::new(buffers[0].offset(), 0));
        assert!(guest(&short).unwrap_err().contains("a validity bitmap of 0 bytes for 3 values"), "{:?}", guest(&short));
        assert!(catch_unwind(AssertUnwindSafe(|| ipc::decode(&short))).is_err(), "arrow alone panics");
    }

    #[test]
    fn lengths_claimed_by_a_few_bytes_are_not_allocated() {
        // A batch message claiming a body of 2^40 bytes: arrow's stream reader reserves the
        // body length it reads, zeroed, before reading it.
        let bytes = ipc::encode(&output()).unwrap();
        let claim = rebuilt_claiming(&bytes, Some(1 << 40), |_, _, _, _| {});
        assert!(guest(&claim).unwrap_err().contains("a body of 1099511627776 bytes"), "{:?}", guest(&claim));
        assert!(decode_value(&claim).unwrap_err().contains("a body of 1099511627776 bytes"));
        // A replay file whose footer claims 2 GiB: arrow's file reader reserves it.
        let mut file = Vec::new();
        let mut w = arrow::ipc::writer::FileWriter::try_new(&mut file, &output().schema()).unwrap();
        w.write(&output()).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(check_file(&mut std::io::Cursor::new(&file)), Ok(()));
        let n = file.len();
        file[n - 10..n - 6].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        let e = check_file(&mut std::io::Cursor::new(&file)).unwrap_err();
        assert_eq!(e, format!("a footer of 2147483632 bytes in a file of {n}"));
    }

    #[test]
    fn buffers_must_be_aligned_and_hold_whole_values() {
        // Found by the long fuzz run: one flipped bit in a buffer's offset or length made
        // arrow's zero-copy reading panic (a misaligned buffer, or list offsets ending
        // mid-value).
        let lists = RecordBatch::try_from_iter(vec![
            (
                "raw",
                Arc::new(arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Float64Type, _, _>(vec![
                    Some(vec![Some(1.0)]),
                    Some(vec![]),
                ])) as _,
            ),
            ("__seq", Arc::new(UInt64Array::from(vec![0, 1])) as _),
        ])
        .unwrap();
        let bytes = ipc::encode(&lists).unwrap();
        assert_eq!(guest(&bytes).unwrap(), lists);
        let misaligned = rebuilt(&bytes, |_, _, buffers, _| buffers[1] = fb::Buffer::new(buffers[1].offset() + 1, buffers[1].length()));
        assert!(guest(&misaligned).unwrap_err().contains("not on an 8-byte boundary"), "{:?}", guest(&misaligned));
        let ragged = rebuilt(&bytes, |_, _, buffers, _| buffers[1] = fb::Buffer::new(buffers[1].offset(), buffers[1].length() + 1));
        assert_eq!(guest(&ragged).unwrap_err(), "column `raw`: a buffer of 13 bytes holding 4-byte values");
        assert!(catch_unwind(AssertUnwindSafe(|| ipc::Decoder::default().decode_owned(ragged.clone()))).is_err(), "arrow alone panics");
    }

    #[test]
    fn malformed_schemas_are_refused_where_arrow_panics() {
        // A schema message without its fields vector (found by the guest_output and
        // replay_file fuzz targets: arrow unwraps it), then one with an Int of 33 bits.
        let schema = |fields: Option<u16>| {
            let mut fbb = FlatBufferBuilder::new();
            let fields = fields.map(|bits| {
                let name = fbb.create_string("x");
                let mut int = fb::IntBuilder::new(&mut fbb);
                int.add_bitWidth(i32::from(bits));
                int.add_is_signed(true);
                let int = int.finish();
                let mut f = fb::FieldBuilder::new(&mut fbb);
                f.add_name(name);
                f.add_type_type(fb::Type::Int);
                f.add_type_(int.as_union_value());
                let f = f.finish();
                fbb.create_vector(&[f])
            });
            let mut s = fb::SchemaBuilder::new(&mut fbb);
            if let Some(f) = fields {
                s.add_fields(f);
            }
            let s = s.finish();
            let mut m = fb::MessageBuilder::new(&mut fbb);
            m.add_version(fb::MetadataVersion::V5);
            m.add_header_type(MessageHeader::Schema);
            m.add_header(s.as_union_value());
            let m = m.finish();
            fbb.finish(m, None);
            let mut out = framed(fbb.finished_data(), &[]);
            out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
            out
        };
        assert_eq!(guest(&schema(None)).unwrap_err(), "the schema has no fields");
        assert!(catch_unwind(|| ipc::decode(&schema(None))).is_err(), "arrow alone panics");
        assert_eq!(decode_value(&schema(Some(33))).unwrap_err(), "column `x`: a malformed Int type");
        assert!(catch_unwind(|| ipc::decode(&schema(Some(33)))).is_err(), "arrow alone panics");
        assert_eq!(decode_value(&schema(Some(32))).unwrap().schema().field(0).data_type(), &arrow::datatypes::DataType::Int32);
    }
}
