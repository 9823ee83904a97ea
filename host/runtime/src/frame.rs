//! Rows in flight at one stage of a pipeline, as Arrow batches: the columns the stage (and
//! the stages after it) read, the `__seq` of each row and the record it came from. Answers
//! come back by `__seq` and become take indices over the waiting batches, so joining outputs
//! to their inputs never goes row by row through a map.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use arrow::array::BooleanArray;
use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{filter_record_batch, interleave, take_record_batch};
use arrow::datatypes::{Field, Schema};

use crate::Record;
use crate::decode::RecordDecoder;

/// An input record, shared by its rows.
#[derive(Debug)]
pub(crate) struct Source {
    /// The record as it arrived.
    pub record: Record,
    /// How many rows it holds (1 for JSON).
    pub rows: usize,
    /// Its decoded Arrow value (Arrow format only): a prediction carries all of its fields.
    pub arrow: Option<RecordBatch>,
}

/// A batch of rows with where each came from.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    /// What the rows hold: the decoded input columns first (`n_inputs` of them), then the
    /// output columns of the stages before this one.
    pub cols: RecordBatch,
    /// How many of `cols` are decoded input columns.
    pub n_inputs: usize,
    /// Each row's `__seq`.
    pub seqs: Vec<u64>,
    /// Each row's record and row in it.
    pub src: Vec<(Arc<Source>, u32)>,
}

impl Rows {
    /// A stage's waiting rows rebuilt from a snapshot (see [`crate::StageSnapshot::pending`]): their records decoded again, their
    /// earlier outputs read back.
    pub fn rebuild(decoder: &mut RecordDecoder, pending: &[(u64, Record, usize, Option<Vec<u8>>)]) -> Result<Option<Rows>, String> {
        if pending.is_empty() {
            return Ok(None);
        }
        let mut records: Vec<Record> = Vec::new();
        let mut index: BTreeMap<(String, i32, i64), usize> = BTreeMap::new();
        for (_, r, _, _) in pending {
            index.entry((r.topic.clone(), r.partition, r.offset)).or_insert_with(|| {
                records.push(r.clone());
                records.len() - 1
            });
        }
        let decoded = decoder.decode(&records, false, usize::MAX);
        if let Some((_, e)) = decoded.bad.first() {
            return Err(format!("a waiting record no longer decodes: {}", e.reason()));
        }
        let mut first_row = vec![0usize; records.len()];
        let mut sources = Vec::with_capacity(records.len());
        let mut at = 0;
        for (k, rows, arrow) in decoded.good {
            first_row[k] = at;
            at += rows;
            sources.push(Arc::new(Source { record: records[k].clone(), rows, arrow }));
        }
        let mut idx = Vec::with_capacity(pending.len());
        let mut src = Vec::with_capacity(pending.len());
        let mut extras = Vec::new();
        for (_, r, row, extra) in pending {
            let k = index[&(r.topic.clone(), r.partition, r.offset)];
            if *row >= sources[k].rows {
                return Err(format!("a waiting row {row} is outside its record's {} rows", sources[k].rows));
            }
            idx.push((first_row[k] + row) as u32);
            src.push((sources[k].clone(), *row as u32));
            if let Some(b) = extra {
                extras.push(crate::untrusted::decode_value(b).map_err(|e| format!("corrupt waiting row: {e}"))?);
            }
        }
        let cols = arrow::compute::take_record_batch(&decoded.batch, &arrow::array::UInt32Array::from(idx)).map_err(|e| e.to_string())?;
        let n_inputs = cols.num_columns();
        let mut rows = Rows { cols, n_inputs, seqs: pending.iter().map(|p| p.0).collect(), src };
        if !extras.is_empty() {
            if extras.len() != pending.len() {
                return Err("corrupt waiting rows: some carry earlier outputs and some do not".into());
            }
            let extra = arrow::compute::concat_batches(&extras[0].schema(), &extras).map_err(|e| e.to_string())?;
            rows = rows.with_outputs(&extra);
        }
        Ok(Some(rows))
    }

    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// The rows whose `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> Rows {
        let mask = BooleanArray::from(keep.to_vec());
        Rows {
            cols: filter_record_batch(&self.cols, &mask).expect("mask matches the batch"),
            n_inputs: self.n_inputs,
            seqs: self.seqs.iter().zip(keep).filter(|(_, k)| **k).map(|(s, _)| *s).collect(),
            src: self.src.iter().zip(keep).filter(|(_, k)| **k).map(|(s, _)| s.clone()).collect(),
        }
    }

    /// Rows `range`, zero-copy for the columns.
    pub fn slice(&self, start: usize, len: usize) -> Rows {
        Rows {
            cols: self.cols.slice(start, len),
            n_inputs: self.n_inputs,
            seqs: self.seqs[start..start + len].to_vec(),
            src: self.src[start..start + len].to_vec(),
        }
    }

    /// The output columns of the stages before (for a prediction).
    pub fn earlier_outputs(&self) -> RecordBatch {
        self.cols.project(&(self.n_inputs..self.cols.num_columns()).collect::<Vec<_>>()).expect("in range")
    }

    /// These rows as the next stage reads them: `outputs` (one row per row here, `__seq`
    /// removed) added after the earlier outputs; a column of the same name is replaced.
    pub fn with_outputs(self, outputs: &RecordBatch) -> Rows {
        let out_schema = outputs.schema();
        let replaced = |name: &str| out_schema.index_of(name).is_ok();
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        let mut n_inputs = 0;
        for (i, (f, c)) in self.cols.schema().fields().iter().zip(self.cols.columns()).enumerate() {
            if replaced(f.name()) {
                continue;
            }
            if i < self.n_inputs {
                n_inputs += 1;
            }
            fields.push(f.clone());
            cols.push(c.clone());
        }
        for (f, c) in out_schema.fields().iter().zip(outputs.columns()) {
            fields.push(Arc::new(Field::new(f.name(), c.data_type().clone(), true)));
            cols.push(c.clone());
        }
        let cols = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("columns of one length");
        Rows { cols, n_inputs, seqs: self.seqs, src: self.src }
    }
}

struct Frame {
    rows: Rows,
    answered: Vec<bool>,
    open: usize,
    /// How `seqs` run, so that a lookup is a subtraction (the usual case: a call's rows in
    /// order) or a binary search.
    order: Order,
}

enum Order {
    /// `seqs[i] == seqs[0] + i`.
    Contiguous,
    /// Increasing, with gaps.
    Sorted,
    /// Any order.
    Unsorted,
}

impl Frame {
    fn find(&self, seq: u64) -> Option<usize> {
        let s = &self.rows.seqs;
        let i = match self.order {
            Order::Contiguous => usize::try_from(seq.checked_sub(s[0])?).ok().filter(|&i| i < s.len())?,
            Order::Sorted => s.binary_search(&seq).ok()?,
            Order::Unsorted => s.iter().position(|x| *x == seq)?,
        };
        (!self.answered[i]).then_some(i)
    }
}

/// The rows a stage has been sent and has not answered yet, in the order they were sent.
#[derive(Default)]
pub(crate) struct Pending {
    frames: VecDeque<Frame>,
}

impl Pending {
    /// Adds rows sent to the stage.
    pub fn push(&mut self, rows: Rows) {
        let n = rows.len();
        if n == 0 {
            return;
        }
        let order = if rows.seqs.windows(2).all(|w| w[0] + 1 == w[1]) {
            Order::Contiguous
        } else if rows.seqs.windows(2).all(|w| w[0] < w[1]) {
            Order::Sorted
        } else {
            Order::Unsorted
        };
        self.frames.push_back(Frame { rows, answered: vec![false; n], open: n, order });
    }

    /// Takes back the rows added last (a call that failed).
    pub fn pop(&mut self) -> Option<Rows> {
        self.frames.pop_back().map(|f| f.rows)
    }

    fn locate(&self, seq: u64) -> Option<(usize, usize)> {
        // Newest first: answers are usually for the rows just sent.
        self.frames.iter().enumerate().rev().find_map(|(fi, f)| f.find(seq).map(|ri| (fi, ri)))
    }

    /// Whether `seq` is waiting for an answer.
    pub fn contains(&self, seq: u64) -> bool {
        self.locate(seq).is_some()
    }

    /// The record of a waiting row.
    pub fn source(&self, seq: u64) -> Option<&Arc<Source>> {
        self.locate(seq).map(|(fi, ri)| &self.frames[fi].rows.src[ri].0)
    }

    /// Removes the rows `seqs` names (in that order) and returns them. An unknown or repeated
    /// `seq` is an error (the caller reports a malformed output).
    pub fn take(&mut self, seqs: &[u64]) -> Result<Rows, String> {
        let mut at = Vec::with_capacity(seqs.len());
        for &s in seqs {
            let (fi, ri) = self.locate(s).ok_or_else(|| {
                format!("output row answers `__seq` {s}, which is not a row waiting for an answer (or was answered twice)")
            })?;
            let f = &mut self.frames[fi];
            f.answered[ri] = true;
            f.open -= 1;
            at.push((fi, ri));
        }
        let first = at.first().map_or(0, |a| a.0);
        let rows = if at.iter().all(|a| a.0 == first) {
            let f = &self.frames[first].rows;
            let whole = at.len() == f.len() && at.iter().enumerate().all(|(i, a)| a.1 == i);
            if whole {
                f.clone()
            } else {
                let idx = UInt32Array::from_iter_values(at.iter().map(|a| a.1 as u32));
                Rows {
                    cols: take_record_batch(&f.cols, &idx).map_err(|e| e.to_string())?,
                    n_inputs: f.n_inputs,
                    seqs: at.iter().map(|a| f.seqs[a.1]).collect(),
                    src: at.iter().map(|a| f.src[a.1].clone()).collect(),
                }
            }
        } else {
            let schema = self.frames[first].rows.cols.schema();
            let used: Vec<usize> = {
                let mut u: Vec<usize> = at.iter().map(|a| a.0).collect();
                u.sort_unstable();
                u.dedup();
                u
            };
            if used.iter().any(|&fi| self.frames[fi].rows.cols.schema() != schema) {
                return Err("answers join rows sent in calls whose batches had different columns".into());
            }
            let pos = |fi: usize| used.binary_search(&fi).expect("used");
            let idx: Vec<(usize, usize)> = at.iter().map(|a| (pos(a.0), a.1)).collect();
            let mut cols = Vec::with_capacity(schema.fields().len());
            for c in 0..schema.fields().len() {
                let arrays: Vec<&dyn Array> = used.iter().map(|&fi| self.frames[fi].rows.cols.column(c).as_ref()).collect();
                cols.push(interleave(&arrays, &idx).map_err(|e| e.to_string())?);
            }
            Rows {
                cols: RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())?,
                n_inputs: self.frames[first].rows.n_inputs,
                seqs: at.iter().map(|a| self.frames[a.0].rows.seqs[a.1]).collect(),
                src: at.iter().map(|a| self.frames[a.0].rows.src[a.1].clone()).collect(),
            }
        };
        Ok(rows)
    }

    /// Drops batches whose rows are all answered.
    pub fn gc(&mut self) {
        self.frames.retain(|f| f.open > 0);
    }

    /// Every waiting row, in the order sent: (seq, its record and row, its earlier outputs as
    /// a one-row batch when there are any).
    pub fn waiting(&self) -> Vec<(u64, &Arc<Source>, u32, Option<RecordBatch>)> {
        let mut out = Vec::new();
        for f in &self.frames {
            let extra = (f.rows.n_inputs < f.rows.cols.num_columns()).then(|| f.rows.earlier_outputs());
            for (i, done) in f.answered.iter().enumerate() {
                if !done {
                    let (src, row) = &f.rows.src[i];
                    out.push((f.rows.seqs[i], src, *row, extra.as_ref().map(|e| e.slice(i, 1))));
                }
            }
        }
        out
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}
