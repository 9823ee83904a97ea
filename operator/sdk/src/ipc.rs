//! Arrow IPC stream encoding and decoding: how record batches cross the component boundary.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, Schema};

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
