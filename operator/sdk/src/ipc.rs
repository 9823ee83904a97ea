//! Arrow IPC stream encoding and decoding: how record batches cross the component boundary.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, Schema};

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array};
    use arrow_schema::{DataType, Field};

    #[test]
    fn owned_and_borrowed_decoding_agree() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Float64, false), Field::new("b", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![1.5, 2.5])), Arc::new(Int64Array::from(vec![Some(1), None]))]).unwrap();
        let bytes = encode(&batch).unwrap();
        assert_eq!(decode(&bytes).unwrap(), batch);
        assert_eq!(decode_owned(bytes).unwrap(), batch);
        let empty = RecordBatch::new_empty(batch.schema());
        assert_eq!(decode_owned(encode(&empty).unwrap()).unwrap().schema(), batch.schema());
    }
}

/// Encodes one batch as an Arrow IPC stream.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    {
        let mut w = StreamWriter::try_new(&mut out, batch.schema_ref())?;
        w.write(batch)?;
        w.finish()?;
    }
    Ok(out)
}

/// Decodes an Arrow IPC stream that the caller owns, without copying the column data: the
/// batch's buffers point into `bytes` (when they are aligned, as IPC writers align them).
pub fn decode_owned(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    let mut buffer = arrow_buffer::Buffer::from_vec(bytes);
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
