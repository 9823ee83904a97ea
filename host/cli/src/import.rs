//! `eddy topic import` and `eddy topic cat`: CSV or JSON lines to replay files, and back to
//! JSON lines for reading.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::{Array, RecordBatch};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::json::writer::{JsonArray, WriterBuilder};
use eddy_host::Record;
use eddy_host::replay::{ReplayReader, ReplayWriter};
use serde_json::{Map, Value};

/// Arguments of `eddy topic import`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["csv", "jsonl"])))]
pub struct ImportArgs {
    /// A CSV file with a header row (types are inferred: numbers stay numbers).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// A file of JSON objects, one per line.
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// The topic name recorded in the replay.
    #[arg(long)]
    topic: String,
    /// The replay file to write.
    #[arg(long)]
    out: PathBuf,
    /// Spread records over this many partitions (by key hash when --key is given, else
    /// round-robin).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// Use this column as the record key.
    #[arg(long)]
    key: Option<String>,
    /// Column holding the record timestamp (ms since the epoch); default: the row number.
    #[arg(long)]
    timestamp: Option<String>,
}

fn csv_rows(path: &Path) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let format = Format::default().with_header(true);
    let (schema, _) = format.infer_schema(&mut f, None).with_context(|| format!("{}: cannot infer CSV schema", path.display()))?;
    let f = File::open(path)?;
    let reader = ReaderBuilder::new(Arc::new(schema)).with_format(format).build(f)?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.with_context(|| format!("{}: bad CSV", path.display()))?;
        let mut buf = Vec::new();
        let mut w = WriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut buf);
        w.write(&batch)?;
        w.finish()?;
        drop(w);
        let part: Vec<Map<String, Value>> = serde_json::from_slice(&buf)?;
        rows.extend(part);
    }
    Ok(rows)
}

fn jsonl_rows(path: &Path) -> anyhow::Result<Vec<Map<String, Value>>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(m)) => rows.push(m),
            Ok(_) => bail!("{}:{}: not a JSON object", path.display(), i + 1),
            Err(e) => bail!("{}:{}: {e}", path.display(), i + 1),
        }
    }
    Ok(rows)
}

fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, x| (h ^ u32::from(*x)).wrapping_mul(0x0100_0193))
}

pub fn import(a: &ImportArgs) -> anyhow::Result<()> {
    if a.partitions < 1 {
        bail!("--partitions must be at least 1");
    }
    let rows = match (&a.csv, &a.jsonl) {
        (Some(p), _) => csv_rows(p)?,
        (_, Some(p)) => jsonl_rows(p)?,
        _ => unreachable!("clap requires one"),
    };
    let mut w = ReplayWriter::create(&a.out, &a.topic)?;
    let n = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        let key = match &a.key {
            Some(k) => Some(match row.get(k) {
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(v) => v.to_string().into_bytes(),
                None => bail!("row {}: no column {k:?} for --key", i + 1),
            }),
            None => None,
        };
        let partition = match &key {
            Some(k) => (fnv1a(k) % a.partitions as u32) as i32,
            None => (i % a.partitions as usize) as i32,
        };
        let timestamp = match &a.timestamp {
            Some(c) => row.get(c).and_then(Value::as_i64).with_context(|| format!("row {}: column {c:?} is not an integer timestamp", i + 1))?,
            None => i as i64,
        };
        let value = serde_json::to_vec(&Value::Object(row))?;
        w.append([Record { topic: a.topic.clone(), partition, offset: -1, timestamp, key, value, headers: vec![] }])?;
    }
    let path = w.finish()?;
    eprintln!("wrote {n} records to {} (topic {}, {} partition(s))", path.display(), a.topic, a.partitions);
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
    let mut buf = Vec::new();
    let mut w = WriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut buf);
    w.write(b)?;
    w.finish()?;
    drop(w);
    Ok(serde_json::from_slice(&buf)?)
}
