//! The wire form of an output record, as `NativeOperator.process` returns it: a one-line UTF-8
//! JSON object (the header), a newline, then the record's value bytes as they are:
//!
//! ```text
//! {"sink":"predictions","partition":3,"offset":41,"timestamp":1700000000000}
//! {"prediction":1.0,...}
//! ```
//!
//! The value is exactly the bytes `eddy run` writes as the record's value; it is not escaped, so
//! neither side spends time quoting and unquoting it (the header holds no raw newline: JSON
//! strings escape them). `offset` is the input row's offset for predictions and dead letters, and
//! for models the record's offset in `eddy run`'s models sink (models are numbered per partition
//! from 0), so (sink, partition, offset) names every output once. `timestamp` is the record's
//! timestamp as `eddy run` writes it. Dead letters add `reason`, `stage` and, when known,
//! `column`. (The Java side also accepts a single JSON object with the value as a JSON string
//! field `value`, which is what its pure-Java stand-ins write.)

use eddy_host::{Record, headers};

/// The three outputs of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// One record per answered input row.
    Predictions,
    /// One record per model version published.
    Models,
    /// One record per refused input row.
    DeadLetters,
}

impl Sink {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Sink::Predictions => "predictions",
            Sink::Models => "models",
            Sink::DeadLetters => "dead_letters",
        }
    }
}

/// One output record on its way to Java.
#[derive(Debug, Clone, PartialEq)]
pub struct WireRecord {
    /// Which output.
    pub sink: Sink,
    /// Where it belongs (see the module doc for `offset`).
    pub offset: i64,
    /// The record, as `eddy run` would write it (its own offset is not used).
    pub record: Record,
}

impl WireRecord {
    /// A record with an explicit offset.
    pub fn new(sink: Sink, record: Record, offset: i64) -> Self {
        Self { sink, offset, record }
    }

    /// A record that answers an input row: its offset is the row's (from the origin header).
    pub fn answering(sink: Sink, record: Record) -> Self {
        let offset = record.header(headers::ORIGIN_OFFSET).and_then(|o| o.parse().ok()).unwrap_or(record.offset);
        Self { sink, offset, record }
    }

    /// The wire form, appended to `buf`.
    pub fn write_to(&self, buf: &mut Vec<u8>) {
        let r = &self.record;
        buf.extend_from_slice(b"{\"sink\":\"");
        buf.extend_from_slice(self.sink.name().as_bytes());
        buf.extend_from_slice(b"\",\"partition\":");
        buf.extend_from_slice(r.partition.to_string().as_bytes());
        buf.extend_from_slice(b",\"offset\":");
        buf.extend_from_slice(self.offset.to_string().as_bytes());
        buf.extend_from_slice(b",\"timestamp\":");
        buf.extend_from_slice(r.timestamp.to_string().as_bytes());
        if self.sink == Sink::DeadLetters {
            for (key, header) in [("reason", headers::ERROR_REASON), ("stage", headers::ERROR_STAGE), ("column", headers::ERROR_COLUMN)] {
                if let Some(v) = r.header(header) {
                    buf.extend_from_slice(b",\"");
                    buf.extend_from_slice(key.as_bytes());
                    buf.extend_from_slice(b"\":");
                    quote(buf, &v);
                }
            }
        }
        buf.extend_from_slice(b"}\n");
        buf.extend_from_slice(&r.value);
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.record.value.len() + 128);
        self.write_to(&mut buf);
        buf
    }
}

fn quote(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(buf, s).expect("writing a string to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_keeps_the_value_bytes() {
        let value = br#"{"a":"x\"y","p":0.1}"#.to_vec();
        let r = Record {
            topic: String::new(),
            partition: 3,
            offset: -1,
            timestamp: 7,
            key: None,
            value: value.clone(),
            headers: vec![(headers::ORIGIN_OFFSET.into(), Some(b"41".to_vec()))],
        };
        let w = WireRecord::answering(Sink::Predictions, r);
        assert_eq!(w.offset, 41);
        let wire = w.to_bytes();
        let nl = wire.iter().position(|&b| b == b'\n').unwrap();
        let json: serde_json::Value = serde_json::from_slice(&wire[..nl]).unwrap();
        assert_eq!(json, serde_json::json!({"sink": "predictions", "partition": 3, "offset": 41, "timestamp": 7}));
        assert_eq!(&wire[nl + 1..], value.as_slice());
    }
}
