//! Output records stored column by column: what a pipeline step hands its sinks. A prediction
//! is written straight into one buffer of values shared by the whole step (no allocation per
//! record), its origin headers are kept as numbers until a sink wants them, and a replay sink
//! turns the columns into an Arrow batch of the replay schema without copying the values.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    BinaryArray, BinaryBuilder, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder, StructBuilder,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};

use crate::record::headers as h;
use crate::replay::{header_fields, schema};
use crate::{Origin, Record};

/// A list of output records, column by column. Output records carry no topic: the sink
/// names it. Records come back out as [`Record`]s ([`Records::iter`], [`Records::get`]) or,
/// for a replay sink, as one Arrow batch ([`Records::into_batch`]).
#[derive(Debug, Clone)]
pub struct Records {
    /// An index into `topics`, or [`NO_TOPIC`] for the sink's topic.
    topic: Vec<u32>,
    partition: Vec<i32>,
    offset: Vec<i64>,
    timestamp: Vec<i64>,
    key_ends: Vec<i32>,
    key_data: Vec<u8>,
    key_valid: Vec<bool>,
    value_ends: Vec<i32>,
    value_data: Vec<u8>,
    /// The input record a record answers (its `eddy.origin.*` headers): an index into
    /// `topics`, the partition and the offset.
    origin: Vec<Option<(u32, i32, i64)>>,
    topics: Vec<String>,
    /// Headers after the origin headers (empty for predictions: no allocation).
    extra: Vec<Vec<(String, Option<Vec<u8>>)>>,
}

/// Equal when they hold the same records in the same order (however they were built).
impl PartialEq for Records {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

/// The `topic` of a record that takes the sink's topic.
const NO_TOPIC: u32 = u32::MAX;

impl Default for Records {
    fn default() -> Self {
        Self::new()
    }
}

fn end_of(data: &[u8]) -> i32 {
    i32::try_from(data.len()).expect("a step's outputs hold less than 2 GiB of keys or values")
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Self {
            topic: Vec::new(),
            partition: Vec::new(),
            offset: Vec::new(),
            timestamp: Vec::new(),
            key_ends: vec![0],
            key_data: Vec::new(),
            key_valid: Vec::new(),
            value_ends: vec![0],
            value_data: Vec::new(),
            origin: Vec::new(),
            topics: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.partition.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.partition.is_empty()
    }

    /// Reserves room for `bytes` more bytes of values.
    pub(crate) fn reserve_values(&mut self, bytes: usize) {
        self.value_data.reserve(bytes);
    }

    /// Reserves room for `n` more records of about `value_bytes` bytes of values each.
    pub fn reserve(&mut self, n: usize, value_bytes: usize) {
        self.topic.reserve(n);
        self.partition.reserve(n);
        self.offset.reserve(n);
        self.timestamp.reserve(n);
        self.key_ends.reserve(n);
        self.key_valid.reserve(n);
        self.value_ends.reserve(n);
        self.value_data.reserve(n * value_bytes);
        self.origin.reserve(n);
        self.extra.reserve(n);
    }

    fn push_key(&mut self, key: Option<&[u8]>) {
        if let Some(k) = key {
            self.key_data.extend_from_slice(k);
        }
        self.key_valid.push(key.is_some());
        self.key_ends.push(end_of(&self.key_data));
    }

    fn topic_index(&mut self, topic: &str) -> u32 {
        match self.topics.iter().rposition(|t| t == topic) {
            Some(i) => i as u32,
            None => {
                self.topics.push(topic.to_owned());
                (self.topics.len() - 1) as u32
            }
        }
    }

    /// Appends a record (one with an empty topic takes the sink's).
    pub fn push(&mut self, r: Record) {
        let t = if r.topic.is_empty() { NO_TOPIC } else { self.topic_index(&r.topic) };
        self.topic.push(t);
        self.partition.push(r.partition);
        self.offset.push(r.offset);
        self.timestamp.push(r.timestamp);
        self.push_key(r.key.as_deref());
        self.value_data.extend_from_slice(&r.value);
        self.value_ends.push(end_of(&self.value_data));
        self.origin.push(None);
        self.extra.push(r.headers);
    }

    /// Appends the answer to `input`: its partition, timestamp and key, its origin in
    /// headers, and the value `write` appends to the buffer it is given (on error nothing
    /// is appended).
    pub fn push_answer<E>(&mut self, input: &Record, write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let start = self.value_data.len();
        if let Err(e) = write(&mut self.value_data) {
            self.value_data.truncate(start);
            return Err(e);
        }
        self.value_ends.push(end_of(&self.value_data));
        self.topic.push(NO_TOPIC);
        self.partition.push(input.partition);
        self.offset.push(-1);
        self.timestamp.push(input.timestamp);
        self.push_key(input.key.as_deref());
        let t = self.topic_index(&input.topic);
        self.origin.push(Some((t, input.partition, input.offset)));
        self.extra.push(Vec::new());
        Ok(())
    }

    /// Appends a dead letter: `input`'s key, value and timestamp, its origin, its own headers
    /// (byte for byte, in order) and `headers` after them.
    pub fn push_refused(&mut self, input: &Record, headers: Vec<(String, Option<Vec<u8>>)>) {
        self.push_answer::<std::convert::Infallible>(input, |v| {
            v.extend_from_slice(&input.value);
            Ok(())
        })
        .expect("infallible");
        let mut all = Vec::with_capacity(input.headers.len() + headers.len());
        all.extend(input.headers.iter().cloned());
        all.extend(headers);
        *self.extra.last_mut().expect("just pushed") = all;
    }

    /// Appends every record of `other`.
    pub fn extend(&mut self, other: Records) {
        let (kb, vb) = (end_of(&self.key_data), end_of(&self.value_data));
        for t in other.topic {
            let t = if t == NO_TOPIC { t } else { self.topic_index(&other.topics[t as usize]) };
            self.topic.push(t);
        }
        self.partition.extend(other.partition);
        self.offset.extend(other.offset);
        self.timestamp.extend(other.timestamp);
        self.key_ends.extend(other.key_ends[1..].iter().map(|e| e + kb));
        self.key_data.extend(other.key_data);
        self.key_valid.extend(other.key_valid);
        self.value_ends.extend(other.value_ends[1..].iter().map(|e| e + vb));
        self.value_data.extend(other.value_data);
        for o in other.origin {
            let o = o.map(|(t, p, off)| (self.topic_index(&other.topics[t as usize]), p, off));
            self.origin.push(o);
        }
        self.extra.extend(other.extra);
    }

    /// Appends record `i` of `other`.
    pub(crate) fn push_from(&mut self, other: &Records, i: usize) {
        let t = match other.topic[i] {
            NO_TOPIC => NO_TOPIC,
            t => self.topic_index(&other.topics[t as usize]),
        };
        self.topic.push(t);
        self.partition.push(other.partition[i]);
        self.offset.push(other.offset[i]);
        self.timestamp.push(other.timestamp[i]);
        self.push_key(other.key(i));
        self.value_data.extend_from_slice(other.value(i));
        self.value_ends.push(end_of(&self.value_data));
        let o = other.origin[i].map(|(t, p, off)| (self.topic_index(&other.topics[t as usize]), p, off));
        self.origin.push(o);
        self.extra.push(other.extra[i].clone());
    }

    /// The same records in the order `order` gives (a permutation of their indices).
    pub(crate) fn permute(&mut self, order: &[usize]) {
        debug_assert_eq!(order.len(), self.len());
        let mut out = Records::new();
        out.reserve(order.len(), 0);
        for &i in order {
            out.push_from(self, i);
        }
        *self = out;
    }

    /// The offset of the input record that record `i` answers, if it answers one.
    pub(crate) fn origin_offset(&self, i: usize) -> Option<i64> {
        self.origin[i].map(|(_, _, o)| o)
    }

    /// The partition of record `i`.
    pub fn partition(&self, i: usize) -> i32 {
        self.partition[i]
    }

    /// The value of record `i`.
    pub fn value(&self, i: usize) -> &[u8] {
        &self.value_data[self.value_ends[i] as usize..self.value_ends[i + 1] as usize]
    }

    /// The key of record `i`.
    pub fn key(&self, i: usize) -> Option<&[u8]> {
        self.key_valid[i].then(|| &self.key_data[self.key_ends[i] as usize..self.key_ends[i + 1] as usize])
    }

    /// The timestamp of record `i`.
    pub fn timestamp(&self, i: usize) -> i64 {
        self.timestamp[i]
    }

    /// The input record that record `i` answers, if it answers one.
    pub fn origin(&self, i: usize) -> Option<Origin> {
        self.origin[i].map(|(t, partition, offset)| Origin { topic: self.topics[t as usize].clone(), partition, offset })
    }

    /// The headers of record `i`: the origin ones first, then the others.
    pub fn headers(&self, i: usize) -> Vec<(String, Option<Vec<u8>>)> {
        let mut hs = Vec::with_capacity(3 + self.extra[i].len());
        if let Some(o) = self.origin(i) {
            hs.push((h::ORIGIN_TOPIC.into(), Some(o.topic.into_bytes())));
            hs.push((h::ORIGIN_PARTITION.into(), Some(o.partition.to_string().into_bytes())));
            hs.push((h::ORIGIN_OFFSET.into(), Some(o.offset.to_string().into_bytes())));
        }
        hs.extend(self.extra[i].iter().cloned());
        hs
    }

    /// The value bytes of every record.
    pub fn value_bytes(&self) -> usize {
        self.value_data.len()
    }

    /// Calls `f` with the headers of record `i` as borrowed pairs (the origin ones first):
    /// what a producer needs, without building a [`Record`].
    pub fn with_headers<R>(&self, i: usize, f: impl FnOnce(&[(&str, Option<&[u8]>)]) -> R) -> R {
        let (mut p_text, mut o_text) = (itoa::Buffer::new(), itoa::Buffer::new());
        let mut hs: Vec<(&str, Option<&[u8]>)> = Vec::with_capacity(3 + self.extra[i].len());
        if let Some((t, p, o)) = self.origin[i] {
            hs.push((h::ORIGIN_TOPIC, Some(self.topics[t as usize].as_bytes())));
            hs.push((h::ORIGIN_PARTITION, Some(p_text.format(p).as_bytes())));
            hs.push((h::ORIGIN_OFFSET, Some(o_text.format(o).as_bytes())));
        }
        hs.extend(self.extra[i].iter().map(|(k, v)| (k.as_str(), v.as_deref())));
        f(&hs)
    }

    /// Record `i`, whole (the topic is empty unless it was given when it was pushed).
    pub fn get(&self, i: usize) -> Record {
        Record {
            topic: match self.topic[i] {
                NO_TOPIC => String::new(),
                t => self.topics[t as usize].clone(),
            },
            partition: self.partition[i],
            offset: self.offset[i],
            timestamp: self.timestamp[i],
            key: self.key(i).map(<[u8]>::to_vec),
            value: self.value(i).to_vec(),
            headers: self.headers(i),
        }
    }

    /// Every record, whole, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { records: self, next: 0 }
    }

    /// Every record, whole, in order.
    pub fn into_records(self) -> Vec<Record> {
        self.iter().collect()
    }

    /// Gives each record with a negative offset the next offset of its partition in `next`,
    /// and moves `next` past every record.
    pub(crate) fn assign_offsets(&mut self, next: &mut BTreeMap<i32, i64>) {
        for (p, o) in self.partition.iter().zip(&mut self.offset) {
            let n = next.entry(*p).or_insert(0);
            if *o < 0 {
                *o = *n;
            }
            *n = *o + 1;
        }
    }

    /// The records as one batch of the replay schema, `topic` the topic of those pushed
    /// without one; the keys and values become its columns without a copy.
    pub fn into_batch(self, topic: &str) -> RecordBatch {
        let n = self.len();
        let mut headers = ListBuilder::new(StructBuilder::from_fields(header_fields(), 0)).with_field(Arc::new(Field::new(
            "item",
            DataType::Struct(header_fields()),
            false,
        )));
        let (mut p_text, mut o_text) = (itoa::Buffer::new(), itoa::Buffer::new());
        for i in 0..n {
            let extra = &self.extra[i];
            let origin = self.origin[i];
            if origin.is_none() && extra.is_empty() {
                headers.append_null();
                continue;
            }
            let sb = headers.values();
            if let Some((t, p, o)) = origin {
                let topic = self.topics[t as usize].as_bytes();
                for (k, v) in [
                    (h::ORIGIN_TOPIC, topic),
                    (h::ORIGIN_PARTITION, p_text.format(p).as_bytes()),
                    (h::ORIGIN_OFFSET, o_text.format(o).as_bytes()),
                ] {
                    sb.field_builder::<StringBuilder>(0).expect("key").append_value(k);
                    sb.field_builder::<BinaryBuilder>(1).expect("value").append_value(v);
                    sb.append(true);
                }
            }
            for (k, v) in extra {
                sb.field_builder::<StringBuilder>(0).expect("key").append_value(k);
                sb.field_builder::<BinaryBuilder>(1).expect("value").append_option(v.as_deref());
                sb.append(true);
            }
            headers.append(true);
        }
        let topics = {
            let mut data = Vec::with_capacity(topic.len() * n);
            let mut ends = Vec::with_capacity(n + 1);
            ends.push(0i32);
            for &t in &self.topic {
                let t = if t == NO_TOPIC { topic } else { self.topics[t as usize].as_str() };
                data.extend_from_slice(t.as_bytes());
                ends.push(end_of(&data));
            }
            StringArray::new(OffsetBuffer::new(ScalarBuffer::from(ends)), Buffer::from_vec(data), None)
        };
        let key_nulls = self.key_valid.iter().any(|v| !v).then(|| NullBuffer::from(self.key_valid));
        let keys = BinaryArray::new(OffsetBuffer::new(ScalarBuffer::from(self.key_ends)), Buffer::from_vec(self.key_data), key_nulls);
        let values = BinaryArray::new(OffsetBuffer::new(ScalarBuffer::from(self.value_ends)), Buffer::from_vec(self.value_data), None);
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(topics),
                Arc::new(Int32Array::from(self.partition)),
                Arc::new(Int64Array::from(self.offset)),
                Arc::new(Int64Array::from(self.timestamp)),
                Arc::new(keys),
                Arc::new(values),
                Arc::new(headers.finish()),
            ],
        )
        .expect("columns match the replay schema")
    }
}

/// The records of a [`Records`], each built whole.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    records: &'a Records,
    next: usize,
}

impl Iterator for Iter<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        (self.next < self.records.len()).then(|| {
            self.next += 1;
            self.records.get(self.next - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.records.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Records {
    type Item = Record;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Records {
    type Item = Record;
    type IntoIter = std::vec::IntoIter<Record>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_records().into_iter()
    }
}

impl From<Vec<Record>> for Records {
    fn from(rs: Vec<Record>) -> Self {
        let mut out = Records::new();
        for r in rs {
            out.push(r);
        }
        out
    }
}

impl FromIterator<Record> for Records {
    fn from_iter<I: IntoIterator<Item = Record>>(it: I) -> Self {
        let mut out = Records::new();
        for r in it {
            out.push(r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(offset: i64, key: Option<&[u8]>) -> Record {
        Record {
            topic: "in".into(),
            partition: 2,
            offset,
            timestamp: 7 + offset,
            key: key.map(<[u8]>::to_vec),
            value: b"{\"x\":1}".to_vec(),
            headers: vec![],
        }
    }

    #[test]
    fn answers_keep_key_timestamp_and_origin() {
        let mut rs = Records::new();
        rs.push_answer::<()>(&input(5, Some(b"k")), |v| {
            v.extend_from_slice(b"{\"p\":1}");
            Ok(())
        })
        .unwrap();
        assert!(
            rs.push_answer(&input(6, None), |v| {
                v.extend_from_slice(b"half");
                Err("no")
            })
            .is_err()
        );
        rs.push_refused(&input(6, None), vec![("why".into(), Some(b"bad".to_vec()))]);
        assert_eq!(rs.len(), 2);
        let a = rs.get(0);
        assert_eq!(
            (a.partition, a.offset, a.timestamp, a.key.as_deref(), a.value.as_slice()),
            (2, -1, 12, Some(&b"k"[..]), &b"{\"p\":1}"[..])
        );
        assert_eq!(a.header(h::ORIGIN_TOPIC).as_deref(), Some("in"));
        assert_eq!(a.header(h::ORIGIN_OFFSET).as_deref(), Some("5"));
        let d = rs.get(1);
        assert_eq!((d.key.as_deref(), d.value.as_slice()), (None, &b"{\"x\":1}"[..]));
        assert_eq!(d.headers.len(), 4);
        assert_eq!(d.header("why").as_deref(), Some("bad"));
    }

    #[test]
    fn batches_hold_what_records_hold() {
        let mut rs: Records =
            vec![Record { partition: 1, offset: -1, value: b"m".to_vec(), headers: vec![("v".into(), None)], ..Record::default() }].into();
        let mut more = Records::new();
        more.push_refused(&input(3, Some(b"key")), vec![]);
        rs.extend(more);
        let want: Vec<Record> = rs.iter().collect();
        let mut next = BTreeMap::from([(2, 10)]);
        let mut numbered = rs.clone();
        numbered.assign_offsets(&mut next);
        assert_eq!(next, BTreeMap::from([(1, 1), (2, 11)]));
        assert_eq!((numbered.get(0).offset, numbered.get(1).offset), (0, 10));
        let path = tempfile::tempdir().unwrap();
        let p = path.path().join("t.replay");
        let mut w = crate::replay::ReplayWriter::create(&p, "out").unwrap();
        w.append_records(rs).unwrap();
        w.finish().unwrap();
        let back = crate::replay::read(&p).unwrap();
        assert_eq!(back.len(), 2);
        for (i, (g, w)) in back.iter().zip(&want).enumerate() {
            assert_eq!(
                (&g.topic[..], g.partition, g.timestamp, &g.key, &g.value, &g.headers),
                ("out", w.partition, w.timestamp, &w.key, &w.value, &w.headers),
                "record {i}"
            );
        }
        assert_eq!((back[0].offset, back[1].offset), (0, 0));
    }
}
