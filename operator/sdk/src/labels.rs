//! Class labels in the type the data has them: numbers, strings or booleans.
//!
//! A classifier declares its label column as [`ColumnType::Label`]: the host delivers each label
//! as its canonical JSON text (`1.0`, `"spam"`, `true`). [`Labels`] turns them into the class
//! values a model computes with (`f64`) and back into predictions of the labels' own type:
//! - numbers are their own class values (`1` and `1.0` are one class);
//! - booleans are 0 (`false`) and 1 (`true`), so a binary classifier's second class is `true`;
//! - strings are numbered in the order they are first seen, after the declared classes (a
//!   `classes` parameter), so a classifier's class order, and its `rawPrediction` order, is
//!   the order of class values: ascending numbers, `false` before `true`, strings as declared
//!   then as first seen.
//!
//! The type is fixed by the declared classes or by the first label seen: a label of another
//! type is an input error naming the row. The numbering is state (it goes into snapshots), so
//! predictions are the same whatever the batch boundaries and across restores.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ColumnSpec, ColumnType, Config, OperatorError};

/// The type of a classifier's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelKind {
    /// Numbers: the class value is the number.
    Number,
    /// Strings: the class value is the string's index in [`Labels`].
    Text,
    /// Booleans: 0 and 1.
    Bool,
}

impl LabelKind {
    fn name(self) -> &'static str {
        match self {
            LabelKind::Number => "a number",
            LabelKind::Text => "a string",
            LabelKind::Bool => "a boolean",
        }
    }
}

/// One label as it came.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Label {
    fn kind(&self) -> LabelKind {
        match self {
            Label::Number(_) => LabelKind::Number,
            Label::Text(_) => LabelKind::Text,
            Label::Bool(_) => LabelKind::Bool,
        }
    }

    /// Reads a label's canonical JSON text (what the host delivers) or any JSON scalar.
    pub fn from_json(v: &Value) -> Option<Label> {
        match v {
            Value::Number(n) => n.as_f64().filter(|x| x.is_finite()).map(Label::Number),
            Value::String(s) => Some(Label::Text(s.clone())),
            Value::Bool(b) => Some(Label::Bool(*b)),
            _ => None,
        }
    }
}

/// The canonical text of a numeric label: what serde_json writes for the f64 (`1.0`, `0.5`),
/// with `-0` written as `0.0`, so that equal numbers have equal texts.
pub fn number_text(x: f64) -> String {
    let x = if x == 0.0 { 0.0 } else { x };
    Value::from(x).to_string()
}

/// The input column spec of an optional label column.
pub fn label_column(name: &str) -> ColumnSpec {
    ColumnSpec::optional(name, ColumnType::Label)
}

/// A classifier's labels: their type and the numbering of string labels (state).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Labels {
    kind: Option<LabelKind>,
    texts: Vec<String>,
}

impl Labels {
    /// Reads a `classes` parameter (a list of numbers, strings or booleans, all of one type):
    /// the labels seeded with them, and their class values (as the classifier's declared
    /// classes). `None` when the parameter is not set.
    pub fn declared(config: &Config, name: &str) -> Result<(Labels, Option<Vec<f64>>), OperatorError> {
        let mut labels = Labels::default();
        let Some(list) = config.get_opt::<Vec<Value>>(name)? else { return Ok((labels, None)) };
        let mut values = Vec::with_capacity(list.len());
        for v in &list {
            let l = Label::from_json(v)
                .ok_or_else(|| OperatorError::config(name, format!("a class must be a number, a string or a boolean, got {v}")))?;
            let x = labels.class_of(&l).map_err(|m| OperatorError::config(name, m))?;
            if values.contains(&x) {
                return Err(OperatorError::config(name, format!("class {v} is listed twice")));
            }
            values.push(x);
        }
        Ok((labels, Some(values)))
    }

    /// The labels' type, once declared classes or a first label fixed it.
    pub fn kind(&self) -> Option<LabelKind> {
        self.kind
    }

    /// The class value of `label`, numbering a new string; refuses a label of another type.
    fn class_of(&mut self, label: &Label) -> Result<f64, String> {
        let kind = *self.kind.get_or_insert(label.kind());
        if kind != label.kind() {
            return Err(format!("the label is {} but this classifier's labels are {}", label.kind().name(), kind.name()));
        }
        Ok(match label {
            Label::Number(x) => {
                if *x == 0.0 {
                    0.0
                } else {
                    *x
                }
            }
            Label::Bool(b) => f64::from(u8::from(*b)),
            Label::Text(s) => match self.texts.iter().position(|t| t == s) {
                Some(i) => i as f64,
                None => {
                    self.texts.push(s.clone());
                    (self.texts.len() - 1) as f64
                }
            },
        })
    }

    /// Reads the optional label column `col` into class values (`None`: no label; a batch
    /// without the column is unlabelled). Returns the updated labels (new strings numbered) to
    /// keep only if the batch is accepted. Takes the host's canonical JSON text, and, for
    /// native callers, Float64 and Boolean columns.
    pub fn read(&self, batch: &RecordBatch, col: &str) -> Result<(Vec<Option<f64>>, Labels), OperatorError> {
        let n = batch.num_rows();
        let mut next = self.clone();
        let Some(a) = batch.column_by_name(col) else { return Ok((vec![None; n], next)) };
        let bad = |r: usize, m: String| OperatorError::input(r, Some(col), m);
        let mut out = Vec::with_capacity(n);
        if let Some(f) = a.as_any().downcast_ref::<Float64Array>() {
            for r in 0..n {
                if f.is_null(r) {
                    out.push(None);
                    continue;
                }
                let v = f.value(r);
                if !v.is_finite() {
                    return Err(bad(r, format!("label is not finite ({v})")));
                }
                out.push(Some(next.class_of(&Label::Number(v)).map_err(|m| bad(r, m))?));
            }
        } else if let Some(b) = a.as_any().downcast_ref::<BooleanArray>() {
            for r in 0..n {
                out.push(if b.is_null(r) { None } else { Some(next.class_of(&Label::Bool(b.value(r))).map_err(|m| bad(r, m))?) });
            }
        } else if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
            for r in 0..n {
                if s.is_null(r) {
                    out.push(None);
                    continue;
                }
                let text = s.value(r);
                let label = serde_json::from_str::<Value>(text)
                    .ok()
                    .as_ref()
                    .and_then(Label::from_json)
                    .ok_or_else(|| bad(r, format!("expected a label's JSON text (a number, a string or a boolean), got {text}")))?;
                out.push(Some(next.class_of(&label).map_err(|m| bad(r, m))?));
            }
        } else {
            return Err(bad(0, format!("expected a label column (the host's JSON text), got {}", a.data_type())));
        }
        Ok((out, next))
    }

    /// The Arrow type of predictions: Utf8 for strings, Boolean for booleans, else Float64.
    pub fn prediction_type(&self) -> DataType {
        match self.kind {
            Some(LabelKind::Text) => DataType::Utf8,
            Some(LabelKind::Bool) => DataType::Boolean,
            _ => DataType::Float64,
        }
    }

    /// Predicted class values as a column of the labels' type (see
    /// [`Labels::prediction_type`]).
    pub fn predictions(&self, classes: &[Option<f64>]) -> ArrayRef {
        match self.kind {
            Some(LabelKind::Text) => {
                Arc::new(StringArray::from_iter(classes.iter().map(|c| c.and_then(|c| self.texts.get(c as usize)).map(String::as_str))))
            }
            Some(LabelKind::Bool) => Arc::new(BooleanArray::from_iter(classes.iter().map(|c| c.map(|c| c != 0.0)))),
            _ => Arc::new(Float64Array::from_iter(classes.iter().copied())),
        }
    }

    /// The label a class value stands for, as JSON (for model data and logs).
    pub fn to_json(&self, class: f64) -> Value {
        match self.kind {
            Some(LabelKind::Text) => self.texts.get(class as usize).map_or(Value::Null, |s| Value::String(s.clone())),
            Some(LabelKind::Bool) => Value::Bool(class != 0.0),
            _ => Value::from(class),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Schema};

    fn batch(a: ArrayRef) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new("y", a.data_type().clone(), true)])), vec![a]).unwrap()
    }

    #[test]
    fn strings_are_numbered_as_first_seen_after_the_declared_ones() {
        let cfg = Config::parse(r#"{"classes": ["b", "a"]}"#, &[crate::ParamInfo::new("classes", "list", None, "")]).unwrap();
        let (labels, declared) = Labels::declared(&cfg, "classes").unwrap();
        assert_eq!(declared, Some(vec![0.0, 1.0]));
        let texts = StringArray::from(vec![Some("\"a\""), None, Some("\"c\""), Some("\"b\"")]);
        let (got, next) = labels.read(&batch(Arc::new(texts)), "y").unwrap();
        assert_eq!(got, vec![Some(1.0), None, Some(2.0), Some(0.0)]);
        let p = next.predictions(&[Some(2.0), None]);
        let p = p.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((p.value(0), p.is_null(1)), ("c", true));
        assert_eq!(labels.kind(), Some(LabelKind::Text), "the original is unchanged but typed");
    }

    #[test]
    fn numbers_and_booleans_are_their_values_and_types_do_not_mix() {
        let l = Labels::default();
        let (got, n) = l.read(&batch(Arc::new(StringArray::from(vec!["1.0", "0.0", "2.5"]))), "y").unwrap();
        assert_eq!(got, vec![Some(1.0), Some(0.0), Some(2.5)]);
        let e = n.read(&batch(Arc::new(StringArray::from(vec!["true"]))), "y").unwrap_err();
        assert!(e.to_string().contains("a boolean but this classifier's labels are a number"), "{e}");
        let (got, b) = l.read(&batch(Arc::new(BooleanArray::from(vec![true, false]))), "y").unwrap();
        assert_eq!(got, vec![Some(1.0), Some(0.0)]);
        assert_eq!(b.prediction_type(), DataType::Boolean);
        assert_eq!(number_text(-0.0), "0.0");
        assert_eq!(number_text(1.0), number_text(1.0_f64.floor()));
    }
}
