//! Operator configs: a JSON object of parameters (Flink ML names), checked against the
//! operator's declared parameters so that every error names the parameter at fault.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{OperatorError, ParamInfo};

/// A validated operator config: every key is a declared parameter.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: Map<String, Value>,
}

impl Config {
    /// Parses `json` (an object) and rejects any key not in `params`.
    pub fn parse(json: &str, params: &[ParamInfo]) -> Result<Self, OperatorError> {
        let value: Value = serde_json::from_str(if json.trim().is_empty() { "{}" } else { json })
            .map_err(|e| OperatorError::config("<config>", format!("not valid JSON: {e}")))?;
        let Value::Object(values) = value else {
            return Err(OperatorError::config("<config>", "the config must be a JSON object"));
        };
        for key in values.keys() {
            if !params.iter().any(|p| &p.name == key) {
                let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                return Err(OperatorError::config(key, format!("unknown parameter; known parameters: {}", known.join(", "))));
            }
        }
        Ok(Self { values })
    }

    /// The value of `name`, or `default` when unset. A value of the wrong type is an error
    /// naming the parameter (and the path inside it, for nested values).
    pub fn get<T: DeserializeOwned>(&self, name: &str, default: T) -> Result<T, OperatorError> {
        Ok(self.get_opt(name)?.unwrap_or(default))
    }

    /// The value of `name`, or `None` when unset or null.
    pub fn get_opt<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, OperatorError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_path_to_error::deserialize(v).map(Some).map_err(|e| {
                let path = e.path().to_string();
                let parameter = if path == "." { name.to_owned() } else { format!("{name}.{path}") };
                OperatorError::config(parameter, e.into_inner().to_string())
            }),
        }
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_null())
    }
}

/// Where features come from: one vector column, or a list of numeric columns (Flink ML's
/// `featuresCol`, extended to accept a list).
///
/// In a config (JSON) it is a string or a list of strings; in a snapshot (postcard, which is
/// not self-describing) it is written as a tagged enum, so it round-trips in both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeaturesCol {
    /// One column holding a dense or sparse vector.
    Vector(String),
    /// Several numeric columns, in order.
    Columns(Vec<String>),
}

#[derive(Serialize, Deserialize)]
enum FeaturesColTagged {
    Vector(String),
    Columns(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FeaturesColUntagged {
    Vector(String),
    Columns(Vec<String>),
}

impl Serialize for FeaturesCol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self, s.is_human_readable()) {
            (Self::Vector(c), true) => c.serialize(s),
            (Self::Columns(c), true) => c.serialize(s),
            (Self::Vector(c), false) => FeaturesColTagged::Vector(c.clone()).serialize(s),
            (Self::Columns(c), false) => FeaturesColTagged::Columns(c.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FeaturesCol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            Ok(match FeaturesColUntagged::deserialize(d)? {
                FeaturesColUntagged::Vector(c) => Self::Vector(c),
                FeaturesColUntagged::Columns(c) => Self::Columns(c),
            })
        } else {
            Ok(match FeaturesColTagged::deserialize(d)? {
                FeaturesColTagged::Vector(c) => Self::Vector(c),
                FeaturesColTagged::Columns(c) => Self::Columns(c),
            })
        }
    }
}

/// Checks a numeric parameter against a range; the error names the parameter.
pub fn check_range(name: &str, value: f64, ok: bool, expected: &str) -> Result<(), OperatorError> {
    if ok && value.is_finite() { Ok(()) } else { Err(OperatorError::config(name, format!("{value} is out of range: expected {expected}"))) }
}

impl Config {
    /// A finite `f64` parameter that must satisfy `ok`; `expected` describes the range.
    pub fn f64_in(&self, name: &str, default: f64, ok: impl Fn(f64) -> bool, expected: &str) -> Result<f64, OperatorError> {
        let v: f64 = self.get(name, default)?;
        check_range(name, v, ok(v), expected)?;
        Ok(v)
    }

    /// A positive integer parameter.
    pub fn positive(&self, name: &str, default: u64) -> Result<u64, OperatorError> {
        let v: i64 = self.get(name, i64::try_from(default).unwrap_or(i64::MAX))?;
        if v <= 0 {
            return Err(OperatorError::config(name, format!("{v} is out of range: expected > 0")));
        }
        Ok(v as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<ParamInfo> {
        vec![ParamInfo::new("alpha", "double", Some("0.1"), "a"), ParamInfo::new("cols", "x", None, "c")]
    }

    #[test]
    fn unknown_parameter_is_named() {
        let err = Config::parse(r#"{"alpah": 1}"#, &params()).unwrap_err();
        assert!(matches!(err, OperatorError::InvalidConfig(ref c) if c.parameter == "alpah"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let c = Config::parse(r#"{"alpha": "x"}"#, &params()).unwrap();
        let err = c.get::<f64>("alpha", 0.1).unwrap_err();
        assert!(matches!(err, OperatorError::InvalidConfig(ref c) if c.parameter == "alpha"), "{err}");
    }

    #[test]
    fn range_is_checked() {
        let c = Config::parse(r#"{"alpha": -1}"#, &params()).unwrap();
        assert!(c.f64_in("alpha", 0.1, |v| v > 0.0, "> 0").is_err());
        assert_eq!(c.get::<f64>("missing", 2.0).unwrap(), 2.0);
    }

    #[test]
    fn features_col_round_trips_through_postcard() {
        for f in [FeaturesCol::Vector("v".into()), FeaturesCol::Columns(vec!["a".into(), "b".into()])] {
            let b = postcard::to_stdvec(&f).unwrap();
            assert_eq!(postcard::from_bytes::<FeaturesCol>(&b).unwrap(), f);
        }
    }

    #[test]
    fn features_col_accepts_both_forms() {
        let c = Config::parse(r#"{"cols": ["a","b"]}"#, &params()).unwrap();
        assert_eq!(c.get_opt::<FeaturesCol>("cols").unwrap(), Some(FeaturesCol::Columns(vec!["a".into(), "b".into()])));
    }
}
