//! `eddy topic import` and `eddy topic cat`: CSV, JSON lines or Parquet to replay files, and
//! back to JSON lines for reading.
//!
//! Import streams: the input is read in batches (CSV and Parquet readers yield them; JSON lines
//! are read line by line) and records are written as they are made, so a large input is never
//! held in memory whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat_batches, take_record_batch};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use arrow::json::writer::{JsonArray, WriterBuilder};
use eddy_host::Record;
use eddy_host::replay::{ReplayReader, ReplayWriter};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};

/// Rows per batch read from a CSV, JSON lines or Parquet input.
const READ_BATCH_ROWS: usize = 8192;

/// What the values of imported records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValueFormat {
    /// One JSON object (one row) per record.
    Json,
    /// An Arrow IPC stream of up to --rows-per-record rows per record (`format = "arrow"` in a
    /// job's [source]).
    Arrow,
}

/// Arguments of `eddy topic import`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["csv", "jsonl", "parquet"])))]
pub struct ImportArgs {
    /// A CSV file with a header row (types are inferred: numbers stay numbers).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// A file of JSON objects, one per line.
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// A Parquet file (column types are kept).
    #[arg(long)]
    parquet: Option<PathBuf>,
    /// The topic name recorded in the replay.
    #[arg(long)]
    topic: String,
    /// The replay file to write.
    #[arg(long)]
    out: PathBuf,
    /// Record values: JSON objects, one row each, or Arrow IPC streams of several rows.
    #[arg(long, value_enum, default_value_t = ValueFormat::Json)]
    format: ValueFormat,
    /// With --format arrow: rows per record (the last record of a partition may hold fewer).
    /// [default: 1024]
    #[arg(long, value_name = "N")]
    rows_per_record: Option<usize>,
    /// Spread rows over this many partitions (by key hash when --key is given, else
    /// round-robin); a record holds rows of one partition only.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// Use this column as the record key (with --format arrow, only with --rows-per-record 1).
    #[arg(long)]
    key: Option<String>,
    /// Column holding the record timestamp (ms since the epoch; with --format arrow, the
    /// record's first row's); default: the (first) row's number.
    #[arg(long)]
    timestamp: Option<String>,
}

type Batches = Box<dyn Iterator<Item = anyhow::Result<RecordBatch>>>;

fn open(path: &Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

fn csv_batches(path: &Path) -> anyhow::Result<Batches> {
    let mut f = open(path)?;
    let format = Format::default().with_header(true);
    // Inference reads the whole file once (streaming), so that a column whose first rows look
    // like integers but later ones do not is still typed right.
    let (schema, _) = format.infer_schema(&mut f, None).with_context(|| format!("{}: cannot infer CSV schema", path.display()))?;
    let reader = ReaderBuilder::new(Arc::new(schema)).with_format(format).with_batch_size(READ_BATCH_ROWS).build(open(path)?)?;
    let p = path.display().to_string();
    Ok(Box::new(reader.map(move |b| b.with_context(|| format!("{p}: bad CSV")))))
}

fn parquet_batches(path: &Path) -> anyhow::Result<Batches> {
    let p = path.display().to_string();
    let reader = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
        .with_context(|| format!("{p}: not a Parquet file"))?
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .with_context(|| format!("{p}: cannot read Parquet"))?;
    Ok(Box::new(reader.map(move |b| b.with_context(|| format!("{p}: bad Parquet")))))
}

/// JSON lines as Arrow batches (for --format arrow): types are inferred from every line.
fn jsonl_batches(path: &Path) -> anyhow::Result<Batches> {
    let p = path.display().to_string();
    let (schema, _) = arrow::json::reader::infer_json_schema_from_seekable(BufReader::new(open(path)?), None)
        .with_context(|| format!("{p}: cannot infer a schema from the JSON lines"))?;
    let reader = arrow::json::ReaderBuilder::new(Arc::new(schema))
        .with_batch_size(READ_BATCH_ROWS)
        .build(BufReader::new(open(path)?))
        .with_context(|| format!("{p}: bad JSON lines"))?;
    Ok(Box::new(reader.map(move |b| b.with_context(|| format!("{p}: bad JSON lines")))))
}

/// The batch's rows as JSON objects (nulls kept as nulls).
fn json_rows(batch: &RecordBatch) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut buf = Vec::new();
    let mut w = WriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut buf);
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(serde_json::from_slice(&buf)?)
}

fn jsonl_rows(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Map<String, Value>>>> {
    let f = open(path)?;
    let p = path.to_owned();
    Ok(BufReader::new(f).lines().enumerate().filter_map(move |(i, line)| {
        let line = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(anyhow::Error::new(e).context(format!("{}:{}", p.display(), i + 1)))),
        };
        if line.trim().is_empty() {
            return None;
        }
        Some(match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(anyhow::anyhow!("{}:{}: not a JSON object", p.display(), i + 1)),
            Err(e) => Err(anyhow::anyhow!("{}:{}: {e}", p.display(), i + 1)),
        })
    }))
}

fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, x| (h ^ u32::from(*x)).wrapping_mul(0x0100_0193))
}

fn key_bytes(v: Option<&Value>, key: &str, row: u64) -> anyhow::Result<Vec<u8>> {
    Ok(match v {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(v) => v.to_string().into_bytes(),
        None => bail!("row {}: no column {key:?} for --key", row + 1),
    })
}

/// Writes records; `ReplayWriter` numbers the offsets of each partition, and writes a batch every
/// `BATCH_ROWS` records or every few megabytes of values, so that memory stays bounded however
/// many rows an Arrow value holds.
struct Writer {
    w: ReplayWriter,
    topic: String,
    records: u64,
}

impl Writer {
    fn append(&mut self, partition: usize, timestamp: i64, key: Option<Vec<u8>>, value: Vec<u8>) -> anyhow::Result<()> {
        let r = Record { topic: self.topic.clone(), partition: partition as i32, offset: -1, timestamp, key, value, headers: vec![] };
        self.w.append([r])?;
        self.records += 1;
        Ok(())
    }
}

pub fn import(a: &ImportArgs) -> anyhow::Result<()> {
    if a.partitions < 1 {
        bail!("--partitions must be at least 1");
    }
    let partitions = a.partitions as usize;
    let mut w = Writer { w: ReplayWriter::create(&a.out, &a.topic)?, topic: a.topic.clone(), records: 0 };
    let rows = match a.format {
        ValueFormat::Json => {
            if a.rows_per_record.is_some() {
                bail!("--rows-per-record needs --format arrow (a JSON value holds one row)");
            }
            let mut json = JsonImport { a, w: &mut w, rows: 0 };
            match (&a.csv, &a.jsonl, &a.parquet) {
                (_, Some(p), _) => {
                    for row in jsonl_rows(p)? {
                        json.row(row?)?;
                    }
                }
                (Some(p), _, _) => json.batches(csv_batches(p)?)?,
                (_, _, Some(p)) => json.batches(parquet_batches(p)?)?,
                _ => unreachable!("clap requires one input"),
            }
            json.rows
        }
        ValueFormat::Arrow => {
            let n = a.rows_per_record.unwrap_or(1024);
            if n == 0 {
                bail!("--rows-per-record must be at least 1");
            }
            if a.key.is_some() && n != 1 {
                bail!(
                    "--key with --format arrow needs --rows-per-record 1: a record has one key, and the rows of a record of {n} rows would have different ones"
                );
            }
            let batches = match (&a.csv, &a.jsonl, &a.parquet) {
                (Some(p), _, _) => csv_batches(p)?,
                (_, Some(p), _) => jsonl_batches(p)?,
                (_, _, Some(p)) => parquet_batches(p)?,
                _ => unreachable!("clap requires one input"),
            };
            arrow_import(a, n, partitions, batches, &mut w)?
        }
    };
    let records = w.records;
    let path = w.w.finish()?;
    eprintln!("wrote {records} records ({rows} rows) to {} (topic {}, {} partition(s))", path.display(), a.topic, a.partitions);
    Ok(())
}

/// JSON values: one record per row.
struct JsonImport<'a> {
    a: &'a ImportArgs,
    w: &'a mut Writer,
    rows: u64,
}

impl JsonImport<'_> {
    fn batches(&mut self, batches: Batches) -> anyhow::Result<()> {
        for b in batches {
            for row in json_rows(&b?)? {
                self.row(row)?;
            }
        }
        Ok(())
    }

    fn row(&mut self, row: Map<String, Value>) -> anyhow::Result<()> {
        let (a, i) = (self.a, self.rows);
        let key = a.key.as_ref().map(|k| key_bytes(row.get(k), k, i)).transpose()?;
        let partition = match &key {
            Some(k) => (fnv1a(k) % a.partitions as u32) as usize,
            None => (i % a.partitions as u64) as usize,
        };
        let timestamp = match &a.timestamp {
            Some(c) => {
                row.get(c).and_then(Value::as_i64).with_context(|| format!("row {}: column {c:?} is not an integer timestamp", i + 1))?
            }
            None => i as i64,
        };
        let value = serde_json::to_vec(&Value::Object(row))?;
        self.w.append(partition, timestamp, key, value)?;
        self.rows += 1;
        Ok(())
    }
}

/// Rows of one partition waiting to fill a record.
#[derive(Default)]
struct Pending {
    batches: Vec<RecordBatch>,
    rows: usize,
    /// The timestamp of every pending row, and its key (only with --key, where a record holds
    /// one row).
    timestamps: std::collections::VecDeque<i64>,
    keys: std::collections::VecDeque<Vec<u8>>,
}

/// The record timestamps of a batch's rows: a column's values, or the rows' numbers.
fn row_timestamps(a: &ImportArgs, b: &RecordBatch, first_row: u64) -> anyhow::Result<Vec<i64>> {
    let Some(c) = &a.timestamp else {
        return Ok((0..b.num_rows() as i64).map(|i| first_row as i64 + i).collect());
    };
    let col = b.column_by_name(c).with_context(|| format!("no column {c:?} for --timestamp"))?;
    let ok = col.data_type().is_integer() || matches!(col.data_type(), DataType::Timestamp(TimeUnit::Millisecond, _));
    if !ok {
        bail!("column {c:?} is {}, not an integer timestamp (ms since the epoch)", col.data_type());
    }
    let col = cast(col, &DataType::Int64)?;
    let col = col.as_primitive::<Int64Type>();
    (0..col.len())
        .map(|i| {
            if col.is_valid(i) {
                Ok(col.value(i))
            } else {
                bail!("row {}: column {c:?} is null, not a timestamp", first_row + i as u64 + 1)
            }
        })
        .collect()
}

/// Arrow values: rows dealt to partitions (round-robin, or by key hash), up to `n` consecutive
/// rows of a partition per record. Returns the number of rows.
fn arrow_import(a: &ImportArgs, n: usize, partitions: usize, batches: Batches, w: &mut Writer) -> anyhow::Result<u64> {
    let mut pending: Vec<Pending> = (0..partitions).map(|_| Pending::default()).collect();
    let mut rows = 0u64;
    for b in batches {
        let b = b?;
        if b.num_rows() == 0 {
            continue;
        }
        let timestamps = row_timestamps(a, &b, rows)?;
        let keys = match &a.key {
            Some(k) => {
                let col = b.column_by_name(k).with_context(|| format!("no column {k:?} for --key"))?;
                let one = RecordBatch::try_from_iter([(k.as_str(), col.clone())])?;
                let vals = json_rows(&one)?;
                Some(vals.iter().enumerate().map(|(i, r)| key_bytes(r.get(k), k, rows + i as u64)).collect::<anyhow::Result<Vec<_>>>()?)
            }
            None => None,
        };
        let part_of = |i: usize| match &keys {
            Some(k) => (fnv1a(&k[i]) % partitions as u32) as usize,
            None => ((rows + i as u64) % partitions as u64) as usize,
        };
        if partitions == 1 {
            let p = &mut pending[0];
            p.rows += b.num_rows();
            p.timestamps.extend(&timestamps);
            p.keys.extend(keys.into_iter().flatten());
            p.batches.push(b.clone());
            emit(p, 0, n, false, w)?;
        } else {
            let mut idx: Vec<Vec<u32>> = vec![Vec::new(); partitions];
            for i in 0..b.num_rows() {
                idx[part_of(i)].push(i as u32);
            }
            for (part, ix) in idx.into_iter().enumerate().filter(|(_, ix)| !ix.is_empty()) {
                let p = &mut pending[part];
                p.rows += ix.len();
                p.timestamps.extend(ix.iter().map(|&i| timestamps[i as usize]));
                if let Some(k) = &keys {
                    p.keys.extend(ix.iter().map(|&i| k[i as usize].clone()));
                }
                p.batches.push(take_record_batch(&b, &UInt32Array::from(ix))?);
                emit(p, part, n, false, w)?;
            }
        }
        rows += b.num_rows() as u64;
    }
    for (part, p) in pending.iter_mut().enumerate() {
        emit(p, part, n, true, w)?;
    }
    Ok(rows)
}

/// Writes a record for every `n` pending rows (and, at the end, one for the rest).
fn emit(p: &mut Pending, partition: usize, n: usize, last: bool, w: &mut Writer) -> anyhow::Result<()> {
    if p.rows < n && !(last && p.rows > 0) {
        return Ok(());
    }
    let all = if p.batches.len() == 1 { p.batches.pop().expect("one batch") } else { concat_batches(&p.batches[0].schema(), &p.batches)? };
    p.batches.clear();
    let mut start = 0;
    while all.num_rows() - start >= n || (last && start < all.num_rows()) {
        let len = n.min(all.num_rows() - start);
        let value = eddy_sdk::ipc::encode(&all.slice(start, len))?;
        let timestamp = p.timestamps.pop_front().expect("a timestamp per row");
        p.timestamps.drain(..len - 1);
        let key = p.keys.pop_front();
        w.append(partition, timestamp, key, value)?;
        start += len;
    }
    p.rows = all.num_rows() - start;
    if p.rows > 0 {
        p.batches.push(all.slice(start, p.rows));
    }
    Ok(())
}

pub fn cat(file: &Path, limit: Option<usize>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut n = 0;
    for batch in ReplayReader::open(file)? {
        for r in batch? {
            if limit.is_some_and(|l| n >= l) {
                return Ok(out.flush()?);
            }
            let value = match serde_json::from_slice::<Value>(&r.value) {
                Ok(v) => v,
                Err(_) => match eddy_sdk::ipc::decode(&r.value) {
                    Ok(b) => arrow_rows(&b)?,
                    Err(_) => Value::String(String::from_utf8_lossy(&r.value).into_owned()),
                },
            };
            let headers: Map<String, Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |v| Value::String(String::from_utf8_lossy(v).into_owned()))))
                .collect();
            let line = serde_json::json!({
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "key": r.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                "value": value,
                "headers": headers,
            });
            if writeln!(out, "{line}").is_err() {
                return Ok(());
            }
            n += 1;
        }
    }
    Ok(out.flush()?)
}

fn arrow_rows(b: &RecordBatch) -> anyhow::Result<Value> {
    if b.num_columns() == 0 || b.column(0).is_empty() {
        return Ok(Value::Array(vec![]));
    }
    Ok(Value::Array(json_rows(b)?.into_iter().map(Value::Object).collect()))
}
