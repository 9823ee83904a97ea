//! Recorded topics: a replay file is an Arrow IPC *file* with one row per Kafka record and the
//! columns `topic` (utf8), `partition` (int32), `offset` (int64), `timestamp` (int64, ms since
//! the epoch), `key` (binary, nullable), `value` (binary) and `headers` (list of
//! `{key: utf8, value: binary}`, nullable). pyarrow, polars and DuckDB open it as is.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, BinaryArray, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;

use crate::{HostError, Record, Records, Result};

/// Records per Arrow batch in a replay file.
pub const BATCH_ROWS: usize = 4096;

pub(crate) fn header_fields() -> Fields {
    Fields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", DataType::Binary, true)])
}

/// The schema every replay file has.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, false),
        Field::new("headers", DataType::List(Arc::new(Field::new("item", DataType::Struct(header_fields()), false))), true),
    ]))
}

fn replay_err(path: &Path, message: impl Into<String>) -> HostError {
    HostError::Replay { path: path.into(), message: message.into() }
}

/// Reads every record of a replay file, in file order.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for batch in ReplayReader::open(path)? {
        out.extend(batch?);
    }
    Ok(out)
}

/// Streams a replay file batch by batch.
pub struct ReplayReader {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
}

impl ReplayReader {
    /// Opens a replay file and checks its schema.
    pub fn open(path: &Path) -> Result<Self> {
        let mut f = File::open(path).map_err(|e| replay_err(path, format!("cannot open: {e}")))?;
        // arrow's reader allocates the lengths it reads and panics on some malformed schemas.
        crate::untrusted::check_file(&mut f).map_err(|e| replay_err(path, format!("not an Arrow IPC file: {e}")))?;
        f.seek(SeekFrom::Start(0)).map_err(|e| replay_err(path, format!("cannot read: {e}")))?;
        let reader = FileReader::try_new(BufReader::new(f), None).map_err(|e| replay_err(path, format!("not an Arrow IPC file: {e}")))?;
        let s = reader.schema();
        for want in schema().fields() {
            match s.field_with_name(want.name()) {
                Ok(f) if f.data_type() == want.data_type() => {}
                Ok(f) => {
                    return Err(replay_err(
                        path,
                        format!("column `{}` has type {}, expected {}", want.name(), f.data_type(), want.data_type()),
                    ));
                }
                Err(_) => return Err(replay_err(path, format!("missing column `{}`: not a replay file", want.name()))),
            }
        }
        Ok(Self { path: path.into(), reader })
    }

    /// How many records the file holds, from its batch count (eddy writes [`BATCH_ROWS`]
    /// records a batch): an estimate for progress bars, exact only at the end.
    pub fn estimated_records(&self) -> u64 {
        (self.reader.num_batches() * BATCH_ROWS) as u64
    }
}

impl Iterator for ReplayReader {
    type Item = Result<Vec<Record>>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?;
        Some(batch.map_err(|e| replay_err(&self.path, e.to_string())).and_then(|b| records_of(&b, &self.path)))
    }
}

fn records_of(b: &RecordBatch, path: &Path) -> Result<Vec<Record>> {
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| replay_err(path, format!("missing column {n}")));
    let topic = col("topic")?.as_any().downcast_ref::<StringArray>().expect("checked type");
    let partition = col("partition")?.as_any().downcast_ref::<Int32Array>().expect("checked type");
    let offset = col("offset")?.as_any().downcast_ref::<Int64Array>().expect("checked type");
    let ts = col("timestamp")?.as_any().downcast_ref::<Int64Array>().expect("checked type");
    let key = col("key")?.as_any().downcast_ref::<BinaryArray>().expect("checked type");
    let value = col("value")?.as_any().downcast_ref::<BinaryArray>().expect("checked type");
    let headers = col("headers")?.as_any().downcast_ref::<ListArray>().expect("checked type");
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let mut hs = Vec::new();
        if headers.is_valid(i) {
            let v = headers.value(i);
            let s = v.as_any().downcast_ref::<StructArray>().expect("checked type");
            let k = s.column(0).as_any().downcast_ref::<StringArray>().expect("checked type");
            let val = s.column(1).as_any().downcast_ref::<BinaryArray>().expect("checked type");
            for j in 0..s.len() {
                hs.push((k.value(j).to_owned(), val.is_valid(j).then(|| val.value(j).to_vec())));
            }
        }
        out.push(Record {
            topic: topic.value(i).to_owned(),
            partition: partition.value(i),
            offset: offset.value(i),
            timestamp: ts.value(i),
            key: key.is_valid(i).then(|| key.value(i).to_vec()),
            value: value.value(i).to_vec(),
            headers: hs,
        });
    }
    Ok(out)
}

/// Writes a replay file. Records with an empty topic get the writer's topic; records with a
/// negative offset get the next offset of their partition. The file appears under its name
/// only when [`ReplayWriter::finish`] succeeds (it is written beside it, then renamed).
/// Batches in the file end after [`BATCH_ROWS`] records or [`BATCH_BYTES`] bytes of values,
/// whichever comes first, so the file's bytes do not depend on how the records were handed in.
pub struct ReplayWriter {
    path: PathBuf,
    tmp: PathBuf,
    topic: String,
    writer: Option<FileWriter<BufWriter<Slices>>>,
    buffer: Records,
    next_offset: BTreeMap<i32, i64>,
    written: u64,
}

/// Bytes of values a writer buffers before it writes a batch, whatever the record count
/// (Arrow predictions of thousands of rows are megabytes each).
pub const BATCH_BYTES: usize = 8 << 20;

/// The most a replay writer hands the file system in one `write` call.
pub const WRITE_SLICE: usize = 64 << 10;

/// A file that takes writes at most [`WRITE_SLICE`] bytes at a time. Arrow's IPC writer writes a
/// batch's value buffer (megabytes) in one call, which a `BufWriter` passes straight through.
/// On the development VM (Linux 6.18, ext4), a large `write` makes the page cache take large
/// folios, which come from memory the host has taken back and copy at a tenth of the usual
/// speed (at one moment `dd bs=64k` 3.6 GB/s and `bs=512k` 0.33 GB/s); a JSON replay's
/// predictions writer spent 1.9 of its run's 5.3 CPU-seconds there, 0.7 with slices. Once the
/// small pages run out as well, slices are as slow (a replay writing a gigabyte after a few
/// gigabytes of broker logs), but they never cost anything.
struct Slices(File);

impl Write for Slices {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(&buf[..buf.len().min(WRITE_SLICE)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl std::fmt::Debug for ReplayWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWriter").field("path", &self.path).field("written", &self.written).finish()
    }
}

impl ReplayWriter {
    /// Creates `path` (and its parent directories) for records of `topic`.
    pub fn create(path: &Path, topic: &str) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| HostError::io(format!("cannot create {}", dir.display()), e))?;
        }
        let tmp = path.with_extension("replay.tmp");
        let f = File::create(&tmp).map_err(|e| HostError::io(format!("cannot create {}", tmp.display()), e))?;
        let writer = FileWriter::try_new(BufWriter::with_capacity(WRITE_SLICE, Slices(f)), &schema())?;
        Ok(Self {
            path: path.into(),
            tmp,
            topic: topic.into(),
            writer: Some(writer),
            buffer: Records::new(),
            next_offset: BTreeMap::new(),
            written: 0,
        })
    }

    fn full(&self) -> bool {
        self.buffer.len() >= BATCH_ROWS || self.buffer.value_bytes() >= BATCH_BYTES
    }

    /// Appends records.
    pub fn append(&mut self, records: impl IntoIterator<Item = Record>) -> Result<()> {
        for r in records {
            self.buffer.push(r);
            if self.full() {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Appends output records. When the writer holds none and `records` fill at most one
    /// batch, they become that batch as they are (no copy).
    pub fn append_records(&mut self, records: Records) -> Result<()> {
        // Whole, they end a batch exactly where record by record would: below both bounds, or
        // at the row bound with their last record.
        if self.buffer.is_empty() && records.len() <= BATCH_ROWS && records.value_bytes() < BATCH_BYTES {
            self.buffer = records;
            if self.full() {
                self.flush()?;
            }
            return Ok(());
        }
        let mut left = records.value_bytes();
        for i in 0..records.len() {
            let bytes = records.value(i).len();
            if self.buffer.is_empty() {
                // Room for the batch this starts, at once: values of megabytes each (Arrow
                // predictions) otherwise grow the buffer by copying it, several times a batch.
                self.buffer.reserve_values(left.min(BATCH_BYTES + bytes));
            }
            left -= bytes;
            self.buffer.push_from(&records, i);
            if self.full() {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut records = std::mem::take(&mut self.buffer);
        records.assign_offsets(&mut self.next_offset);
        let n = records.len() as u64;
        let b = records.into_batch(&self.topic);
        self.writer.as_mut().expect("open writer").write(&b)?;
        self.written += n;
        Ok(())
    }

    /// Appends every record of another replay file, streaming it.
    pub fn append_file(&mut self, path: &Path) -> Result<()> {
        for batch in ReplayReader::open(path)? {
            self.append(batch?)?;
        }
        Ok(())
    }

    /// Records written so far (including buffered ones).
    pub fn len(&self) -> u64 {
        self.written + self.buffer.len() as u64
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the footer and moves the file into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.flush()?;
        let mut w = self.writer.take().expect("open writer");
        w.finish()?;
        drop(w);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| HostError::io(format!("cannot move {} into place", self.path.display()), e))?;
        Ok(self.path.clone())
    }
}

impl Drop for ReplayWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.replay");
        let mut w = ReplayWriter::create(&p, "t").unwrap();
        let recs: Vec<Record> = (0..5000)
            .map(|i| Record {
                topic: String::new(),
                partition: i % 3,
                offset: -1,
                timestamp: i64::from(i),
                key: (i % 2 == 0).then(|| vec![1, 2]),
                value: format!("{{\"i\":{i}}}").into_bytes(),
                headers: if i % 5 == 0 { vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)] } else { vec![] },
            })
            .collect();
        w.append(recs.clone()).unwrap();
        w.finish().unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back.len(), 5000);
        assert_eq!(back[4].offset, 1);
        assert_eq!(back[4].partition, 1);
        assert_eq!(back[5].headers, recs[5].headers);
        assert_eq!(back[0].topic, "t");
        assert_eq!(back[7].value, recs[7].value);
    }

    #[test]
    fn files_do_not_depend_on_how_records_were_handed_in() {
        // Values of 100 B, then 3-5 KB: batches end at the row bound early on, at the byte bound later.
        let recs: Vec<Record> = (0..9000)
            .map(|i: i64| Record {
                partition: (i % 2) as i32,
                offset: -1,
                timestamp: i,
                key: (i % 3 == 0).then(|| vec![b'k']),
                value: vec![b'x'; if i < 5000 { 100 } else { 3000 + (i as usize % 2000) }],
                ..Record::default()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, chunk: usize| {
            let p = dir.path().join(name);
            let mut w = ReplayWriter::create(&p, "t").unwrap();
            for c in recs.chunks(chunk) {
                w.append_records(Records::from(c.to_vec())).unwrap();
            }
            w.finish().unwrap();
            std::fs::read(&p).unwrap()
        };
        let one_by_one = {
            let p = dir.path().join("plain.replay");
            let mut w = ReplayWriter::create(&p, "t").unwrap();
            w.append(recs.clone()).unwrap();
            w.finish().unwrap();
            std::fs::read(&p).unwrap()
        };
        for chunk in [1, 7, 1000, 4096, 9000] {
            assert!(write(&format!("c{chunk}.replay"), chunk) == one_by_one, "chunks of {chunk}");
        }
    }
}
