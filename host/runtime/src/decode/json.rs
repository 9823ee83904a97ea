//! JSON record values straight into column slots: one serde_json pass over each object that
//! keeps only the columns an operator reads, with numbers, strings and dense vectors parsed in
//! place (no `serde_json::Value` tree for them). A record is checked whole before any of its
//! values reach a builder, so a bad record is named and skipped without touching the batch.

use std::collections::HashMap;
use std::fmt;

use eddy_sdk::{ColumnType, TIMESTAMP_COLUMN};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::json_fast::{self, Fast};
use super::json_value::json_vector;
use super::slots::{ColState, Slot};
use super::{DecodeCol, DecodeError};

/// Parses JSON objects into the slots of the columns an operator reads.
#[derive(Debug)]
pub(super) struct JsonRowParser {
    types: Vec<ColumnType>,
    keys: Keys,
    pub(super) cols: Vec<ColState>,
    /// Whether the fast path is tried first (tests compare the two paths).
    pub(super) fast: bool,
}

/// Which column a key names.
#[derive(Debug)]
struct Keys {
    index: HashMap<Vec<u8>, usize>,
    names: Vec<Vec<u8>>,
    /// For each key position in an object, the column the key there named last time:
    /// producers write their keys in one order, so the lookup is usually one comparison.
    hint: Vec<Option<usize>>,
    /// Each column's key as it appears in a JSON object, with the colon (`"f0":`); empty for
    /// a name JSON writes with escapes (its keys are always scanned).
    quoted: Vec<Vec<u8>>,
}

impl json_fast::KeyIndex for Keys {
    #[inline(always)]
    fn lookup(&mut self, pos: usize, key: &[u8]) -> Option<usize> {
        lookup(&mut self.hint, &self.names, &self.index, pos, key)
    }

    #[inline(always)]
    fn expect(&self, pos: usize) -> Option<(usize, &[u8])> {
        let c = self.hint.get(pos).copied().flatten()?;
        let key = self.quoted[c].as_slice();
        (!key.is_empty()).then_some((c, key))
    }
}

impl JsonRowParser {
    pub(super) fn new(cols: &[DecodeCol]) -> Self {
        Self {
            types: cols.iter().map(|c| c.spec.column_type).collect(),
            keys: Keys {
                index: cols.iter().enumerate().map(|(i, c)| (c.spec.name.as_bytes().to_vec(), i)).collect(),
                names: cols.iter().map(|c| c.spec.name.as_bytes().to_vec()).collect(),
                hint: Vec::new(),
                quoted: cols
                    .iter()
                    .map(|c| {
                        let mut k = serde_json::to_vec(&c.spec.name).expect("a string serializes");
                        k.push(b':');
                        if k.contains(&b'\\') { Vec::new() } else { k }
                    })
                    .collect(),
            },
            cols: cols.iter().map(|_| ColState::default()).collect(),
            fast: true,
        }
    }

    /// Parses one value; afterwards `cols` hold the row. Errors name no column: they are
    /// about the value as a whole (not JSON, not an object).
    pub(super) fn parse(&mut self, value: &[u8]) -> Result<(), DecodeError> {
        self.reset();
        if self.fast && json_fast::parse(value, &self.types, &mut self.cols, &mut self.keys) == Fast::Done {
            return Ok(());
        }
        self.reset();
        let mut de = serde_json::Deserializer::from_slice(value);
        let is_object = de.deserialize_any(ObjectVisitor { p: self }).and_then(|o| de.end().map(|()| o));
        match is_object {
            Err(e) => Err(DecodeError { column: None, row: None, message: format!("value is not valid JSON: {e}") }),
            Ok(false) => Err(DecodeError { column: None, row: None, message: "value is JSON but not an object".into() }),
            Ok(true) => Ok(()),
        }
    }

    fn reset(&mut self) {
        for c in &mut self.cols {
            c.slot = Slot::Absent;
            c.dense.clear();
        }
    }

    fn lookup(&mut self, pos: usize, key: &[u8]) -> Option<usize> {
        json_fast::KeyIndex::lookup(&mut self.keys, pos, key)
    }

    /// Checks the parsed row against column `i`'s spec: `Err` with the message eddy reports.
    #[inline]
    pub(super) fn check(&self, i: usize, col: &DecodeCol) -> Result<(), DecodeError> {
        // The fast path reads only finite numbers into Float64 columns: nothing to check.
        if matches!(self.cols[i].slot, Slot::Fast) {
            return Ok(());
        }
        self.check_slot(i, col)
    }

    #[inline(never)]
    fn check_slot(&self, i: usize, col: &DecodeCol) -> Result<(), DecodeError> {
        let name = col.spec.name.as_str();
        let st = &self.cols[i];
        let err = |m: String| Err(DecodeError { column: Some(name.into()), row: None, message: m });
        match &st.slot {
            Slot::Absent | Slot::Null if name == TIMESTAMP_COLUMN => return Ok(()),
            Slot::Absent | Slot::Null => return if col.spec.required { err("missing required column".into()) } else { Ok(()) },
            _ => {}
        }
        match col.spec.column_type {
            ColumnType::Float64 => match st.as_f64() {
                Some(x) if x.is_finite() => Ok(()),
                Some(x) => err(format!("not a finite number ({x})")),
                None => err(format!("expected a number, got {}", st.slot.describe())),
            },
            ColumnType::Int64 => match st.slot {
                Slot::Int(_) => Ok(()),
                _ => err(format!("expected an integer, got {}", st.slot.describe())),
            },
            ColumnType::Utf8 => match st.slot {
                Slot::Str(_) => Ok(()),
                _ => err(format!("expected a string, got {}", st.slot.describe())),
            },
            ColumnType::Json => Ok(()),
            ColumnType::Label => match (&st.slot, st.as_f64()) {
                (_, Some(x)) if !x.is_finite() => err(format!("not a finite number ({x})")),
                (_, Some(_)) | (Slot::Str(_), _) | (Slot::Other(Value::Bool(_)), _) => Ok(()),
                (other, None) => err(format!("expected a label (a number, a string or a boolean), got {}", other.describe())),
            },
            ColumnType::Vector => match &st.slot {
                Slot::Dense => Ok(()),
                Slot::BadVector(m) => err(m.clone()),
                Slot::Other(v) => json_vector(v).map(|_| ()).map_err(|m| DecodeError::col(name, None, m)),
                other => err(format!("expected a vector (array of numbers or {{size, indices, values}}), got {}", other.describe())),
            },
        }
    }
}

/// The column a key at position `pos` of an object names, if any: `hint` remembers, for each
/// position, the column found there last time (producers write their keys in one order, so
/// this is usually one comparison).
#[inline(always)]
fn lookup(hint: &mut Vec<Option<usize>>, names: &[Vec<u8>], index: &HashMap<Vec<u8>, usize>, pos: usize, key: &[u8]) -> Option<usize> {
    if let Some(Some(i)) = hint.get(pos)
        && same_bytes(&names[*i], key)
    {
        return Some(*i);
    }
    lookup_slow(hint, index, pos, key)
}

/// [`lookup`] when the key at `pos` is not the one seen there last time.
#[cold]
#[inline(never)]
fn lookup_slow(hint: &mut Vec<Option<usize>>, index: &HashMap<Vec<u8>, usize>, pos: usize, key: &[u8]) -> Option<usize> {
    let found = index.get(key).copied();
    if found.is_some() {
        if hint.len() <= pos {
            hint.resize(pos + 1, None);
        }
        hint[pos] = found;
    }
    found
}

/// `a == b` for the short keys of JSON objects, compared in place (a call to `memcmp` costs
/// more than the comparison for keys of a few bytes).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

struct ObjectVisitor<'a> {
    p: &'a mut JsonRowParser,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut pos = 0;
        while let Some(col) = map.next_key_seed(KeySeed { p: &mut *self.p, pos })? {
            match col {
                Some(i) => {
                    let ty = self.p.types[i];
                    map.next_value_seed(ValueSeed { ty, st: &mut self.p.cols[i] })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            pos += 1;
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

struct KeySeed<'a> {
    p: &'a mut JsonRowParser,
    pos: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        // As bytes: a key is compared with the column names, never kept, so serde_json need
        // not check it as UTF-8 on the way.
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_bytes<E>(self, k: &[u8]) -> Result<Option<usize>, E> {
        Ok(self.p.lookup(self.pos, k))
    }
    fn visit_str<E>(self, k: &str) -> Result<Option<usize>, E> {
        Ok(self.p.lookup(self.pos, k.as_bytes()))
    }
}

struct ValueSeed<'a> {
    ty: ColumnType,
    st: &'a mut ColState,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.ty {
            ColumnType::Json => {
                self.st.slot = match Value::deserialize(d)? {
                    Value::Null => Slot::Null,
                    v => Slot::Other(v),
                };
                Ok(())
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.st.slot = Slot::Null;
        Ok(())
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.st.slot = Slot::Other(Value::Bool(b));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.st.slot = Slot::Int(v);
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.st.slot = i64::try_from(v).map_or(Slot::Big(v), Slot::Int);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.st.slot = Slot::Float(v);
        Ok(())
    }
    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.st.slot = Slot::Str(s.to_owned());
        Ok(())
    }
    fn visit_string<E>(self, s: String) -> Result<(), E> {
        self.st.slot = Slot::Str(s);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.st.slot = Slot::Other(Value::deserialize(MapAccessDeserializer::new(map))?);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.ty != ColumnType::Vector {
            self.st.slot = Slot::Other(Value::deserialize(SeqAccessDeserializer::new(seq))?);
            return Ok(());
        }
        // A dense vector: numbers straight into the scratch buffer (a repeated key starts over).
        self.st.dense.clear();
        let mut bad = None;
        let mut i = 0usize;
        while let Some(x) = seq.next_element::<NumOrValue>()? {
            match x {
                NumOrValue::Num(f) if bad.is_none() => self.st.dense.push(f),
                NumOrValue::Num(_) => {}
                NumOrValue::Other(v) => {
                    bad.get_or_insert_with(|| format!("vector[{i}] is not a finite number ({v})"));
                }
            }
            i += 1;
        }
        self.st.slot = match bad {
            Some(m) => Slot::BadVector(m),
            None => Slot::Dense,
        };
        Ok(())
    }
}

/// A vector element: a number, or whatever else it was (for the error message).
enum NumOrValue {
    Num(f64),
    Other(Value),
}

impl<'de> Deserialize<'de> for NumOrValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NumOrValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Num(v))
            }
            fn visit_unit<E>(self) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Other(Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Other(Value::Bool(b)))
            }
            fn visit_str<E>(self, s: &str) -> Result<NumOrValue, E> {
                Ok(NumOrValue::Other(Value::String(s.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NumOrValue, A::Error> {
                Ok(NumOrValue::Other(Value::deserialize(MapAccessDeserializer::new(map))?))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<NumOrValue, A::Error> {
                Ok(NumOrValue::Other(Value::deserialize(SeqAccessDeserializer::new(seq))?))
            }
        }
        d.deserialize_any(V)
    }
}
