//! The column slots a JSON record is parsed into: for each column an operator reads, what the
//! row held there. Both JSON paths write them (the serde_json one in `json`, the fast one in
//! `json_fast`); the parser checks them and the decoder appends them to the column builders.

use serde_json::Value;

use super::json_value::json_type;

/// What one column of one row held.
#[derive(Debug, Default)]
pub(super) enum Slot {
    /// The field was not there.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A JSON number that is an integer.
    Int(i64),
    /// A JSON integer above `i64::MAX`.
    Big(u64),
    /// A JSON number with a fraction or exponent.
    Float(f64),
    /// A number the fast path read: its value is in the column's `num` (written apart from
    /// the tag, which spares a store-forwarding stall on every field).
    Fast,
    /// A string.
    Str(String),
    /// A dense vector: its values are in the column's scratch buffer.
    Dense,
    /// A vector whose values were not all finite numbers: the message says which.
    BadVector(String),
    /// Anything else, kept whole for the error message or the `json` column type.
    Other(Value),
}

impl Slot {
    /// What the value was, for an error message ("a number", "a string", ...).
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Slot::Absent | Slot::Null => "null",
            Slot::Int(_) | Slot::Big(_) | Slot::Float(_) | Slot::Fast => "a number",
            Slot::Str(_) => "a string",
            Slot::Dense | Slot::BadVector(_) => "an array",
            Slot::Other(v) => json_type(v),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            Slot::Int(i) => Some(i as f64),
            Slot::Big(u) => Some(u as f64),
            Slot::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The value as canonical JSON text (the `json` column type).
    pub(super) fn json_text(&self, dense: &[f64]) -> Option<String> {
        match self {
            Slot::Absent | Slot::Null => None,
            Slot::Int(i) => Some(i.to_string()),
            Slot::Big(u) => Some(u.to_string()),
            Slot::Float(f) => Some(Value::from(*f).to_string()),
            Slot::Str(s) => Some(Value::String(s.clone()).to_string()),
            Slot::Dense => Some(Value::from(dense.to_vec()).to_string()),
            Slot::BadVector(_) | Slot::Fast => None,
            Slot::Other(v) => Some(v.to_string()),
        }
    }
}

/// One column's state while a row is parsed.
#[derive(Debug, Default)]
pub(super) struct ColState {
    pub(super) slot: Slot,
    /// The number of a [`Slot::Fast`].
    pub(super) num: f64,
    pub(super) dense: Vec<f64>,
}

impl ColState {
    /// The value as a float, if it is a number.
    pub(super) fn as_f64(&self) -> Option<f64> {
        match self.slot {
            Slot::Fast => Some(self.num),
            ref s => s.as_f64(),
        }
    }
}
