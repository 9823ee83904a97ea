//! OnlineStandardScaler's parameters, with Flink ML's names and defaults, parsed and
//! range-checked so that every refusal names the parameter at fault. Also defines the `windows`
//! encoding.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo, SEQ_COLUMN, TIMESTAMP_COLUMN};
use serde::{Deserialize, Serialize};

/// How rows are cut into windows; one model is published per non-empty window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Windows {
    /// One window over the whole input, closed by the end-of-input watermark (`i64::MAX`), as
    /// Flink ML's `GlobalWindows` (an end-of-stream window) does.
    Global,
    /// Tumbling windows of this many rows; a trailing partial window never closes (as in Flink).
    CountTumbling(u64),
    /// Event-time tumbling windows of this many milliseconds, aligned on the epoch.
    EventTimeTumbling(i64),
    /// Event-time session windows closed by a gap of this many milliseconds.
    EventTimeSession(i64),
}

impl Windows {
    /// Whether windows are cut by event time (and the model carries the window's timestamp).
    pub fn is_event_time(self) -> bool {
        matches!(self, Self::EventTimeTumbling(_) | Self::EventTimeSession(_))
    }
}

/// `windows` as written in a config: a table with exactly one key.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WindowsJson {
    global: Option<bool>,
    count_tumbling: Option<i64>,
    event_time_tumbling_ms: Option<i64>,
    event_time_session_gap_ms: Option<i64>,
    processing_time_tumbling_ms: Option<i64>,
    processing_time_session_gap_ms: Option<i64>,
}

const WINDOWS_FORMS: &str =
    "expected exactly one of { global = true }, { countTumbling = N }, { eventTimeTumblingMs = N }, { eventTimeSessionGapMs = N }";

/// How the statistics are kept and rows scaled with them (`variance`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Variance {
    /// Flink ML's `OnlineStandardScaler` (`"flink-ml"`, the default): sums and sums of squares,
    /// the sample standard deviation `sqrt((sumSq - n * mean^2) / (n - 1))`, rows scaled as
    /// `(x + -mean) * (1 / std)`.
    #[default]
    FlinkMl,
    /// river 0.26.1's `preprocessing.StandardScaler` (`"river"`): Welford's running mean and
    /// population variance (`ddof = 0`), updated after every row, rows scaled as
    /// `(x - mean) / sqrt(var)`, 0 where the variance is 0 (river's `safe_div`).
    River,
}

/// Whether the output carries the model version, and under which name. Parsed from
/// `modelVersionCol`: a name, or `""` (or `false`) for no version column.
#[derive(Deserialize)]
#[serde(untagged)]
enum VersionColJson {
    Name(String),
    Flag(bool),
}

/// OnlineStandardScaler's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// The vector column (or list of numeric columns) to scale and learn from.
    pub input: FeaturesCol,
    /// Output vector column.
    pub output_col: String,
    /// Subtract the mean.
    pub with_mean: bool,
    /// Divide by the standard deviation.
    pub with_std: bool,
    /// Output column for the model version, or `None` for no such column.
    pub model_version_col: Option<String>,
    /// A row with event time t is scaled only by a model whose timestamp is >= t - this.
    pub max_allowed_model_delay_ms: i64,
    /// The windowing.
    pub windows: Windows,
    /// Int64 column carrying each row's event time (ms); read only for event-time windows.
    pub timestamp_col: String,
    /// How the statistics are kept. Not part of the serialized parameters, so that the
    /// snapshot layout of the versions before it stays a prefix of this one's: the operator's
    /// state records it (as the presence of river's statistics, its last field).
    #[serde(skip)]
    pub variance: Variance,
}

/// The parameters OnlineStandardScaler declares, with Flink ML's defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new(
            "inputCol",
            "string | list<string>",
            Some("\"input\""),
            "The vector column to scale (dense or sparse), or a list of numeric columns.",
        ),
        ParamInfo::new("outputCol", "string", Some("\"output\""), "Output column for the scaled (dense) vector."),
        ParamInfo::new("withMean", "boolean", Some("false"), "Whether to subtract the mean."),
        ParamInfo::new("withStd", "boolean", Some("true"), "Whether to divide by the standard deviation (a zero deviation gives 0)."),
        ParamInfo::new(
            "variance",
            "string",
            Some("\"flink-ml\""),
            "How the mean and standard deviation are kept: \"flink-ml\" (Flink ML's OnlineStandardScaler: sums and sums of squares, the sample standard deviation, a model per window) or \"river\" (river 0.26.1's preprocessing.StandardScaler, step for step: Welford's running mean and population variance updated after every row, (x - mean) / sqrt(var), 0 where the variance is 0; needs withMean = true and windows = {countTumbling = 1}).",
        ),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"version\""),
            "Output column for the version of the model that scaled the row; \"\" for none.",
        ),
        ParamInfo::new(
            "maxAllowedModelDelayMs",
            "long",
            Some("0"),
            "A row with event time t waits until the model's timestamp is >= t - this (>= 0).",
        ),
        ParamInfo::new(
            "windows",
            "\"global\" | {global = true} | {countTumbling = N} | {eventTimeTumblingMs = N} | {eventTimeSessionGapMs = N}",
            Some("{\"global\": true}"),
            "How rows are cut into windows; one model per non-empty window, from all rows seen so far.",
        ),
        ParamInfo::new(
            "timestampCol",
            "string",
            Some("\"__timestamp\""),
            "Int64 column with each row's event time in ms (read only for event-time windows; `__timestamp` is the record timestamp).",
        ),
    ]
}

fn windows(c: &Config) -> Result<Windows, OperatorError> {
    if let Ok(Some(name)) = c.get_opt::<String>("windows") {
        return match name.as_str() {
            "global" => Ok(Windows::Global),
            _ => Err(OperatorError::config("windows", format!("unknown windows {name:?}: {WINDOWS_FORMS}"))),
        };
    }
    let w: WindowsJson = c.get("windows", WindowsJson { global: Some(true), ..WindowsJson::default() })?;
    let processing = "processing-time windows are refused: they are cut by the wall clock, so a replay or a restore would cut different windows and publish different models (eddy operators are deterministic); use eventTimeTumblingMs / eventTimeSessionGapMs over timestampCol, or countTumbling";
    if w.processing_time_tumbling_ms.is_some() {
        return Err(OperatorError::config("windows.processingTimeTumblingMs", processing));
    }
    if w.processing_time_session_gap_ms.is_some() {
        return Err(OperatorError::config("windows.processingTimeSessionGapMs", processing));
    }
    let positive = |name: &str, v: i64| {
        if v > 0 { Ok(v) } else { Err(OperatorError::config(format!("windows.{name}"), format!("{v} is out of range: expected > 0"))) }
    };
    let set = [w.global.is_some(), w.count_tumbling.is_some(), w.event_time_tumbling_ms.is_some(), w.event_time_session_gap_ms.is_some()];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(OperatorError::config("windows", WINDOWS_FORMS));
    }
    Ok(match w {
        WindowsJson { global: Some(true), .. } => Windows::Global,
        WindowsJson { global: Some(false), .. } => {
            return Err(OperatorError::config("windows.global", format!("false is not a windowing: {WINDOWS_FORMS}")));
        }
        WindowsJson { count_tumbling: Some(n), .. } => Windows::CountTumbling(positive("countTumbling", n)? as u64),
        WindowsJson { event_time_tumbling_ms: Some(n), .. } => Windows::EventTimeTumbling(positive("eventTimeTumblingMs", n)?),
        WindowsJson { event_time_session_gap_ms: Some(n), .. } => Windows::EventTimeSession(positive("eventTimeSessionGapMs", n)?),
        _ => return Err(OperatorError::config("windows", WINDOWS_FORMS)),
    })
}

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let input = c.get("inputCol", FeaturesCol::Vector("input".into()))?;
        if let FeaturesCol::Columns(cols) = &input
            && cols.is_empty()
        {
            return Err(OperatorError::config("inputCol", "the list of input columns is empty"));
        }
        let model_version_col = match c.get("modelVersionCol", VersionColJson::Name("version".into()))? {
            VersionColJson::Name(n) if n.is_empty() => None,
            VersionColJson::Name(n) => Some(n),
            VersionColJson::Flag(false) => None,
            VersionColJson::Flag(true) => {
                return Err(OperatorError::config("modelVersionCol", "expected a column name, or \"\" for no version column"));
            }
        };
        let output_col: String = c.get("outputCol", "output".to_owned())?;
        if output_col.is_empty() || output_col == SEQ_COLUMN {
            return Err(OperatorError::config("outputCol", format!("{output_col:?} is not a usable output column name")));
        }
        if let Some(v) = &model_version_col
            && (v == SEQ_COLUMN || *v == output_col)
        {
            return Err(OperatorError::config("modelVersionCol", format!("{v:?} clashes with another output column")));
        }
        let delay: i64 = c.get("maxAllowedModelDelayMs", 0)?;
        if delay < 0 {
            return Err(OperatorError::config("maxAllowedModelDelayMs", format!("{delay} is out of range: expected >= 0")));
        }
        let timestamp_col: String = c.get("timestampCol", TIMESTAMP_COLUMN.to_owned())?;
        if timestamp_col.is_empty() {
            return Err(OperatorError::config("timestampCol", "must name a column"));
        }
        let with_mean = c.get("withMean", false)?;
        let windows = windows(c)?;
        let variance = match c.get("variance", "flink-ml".to_owned())?.as_str() {
            "flink-ml" => Variance::FlinkMl,
            "river" => Variance::River,
            other => {
                return Err(OperatorError::config("variance", format!("unknown value \"{other}\": expected \"flink-ml\" or \"river\"")));
            }
        };
        if variance == Variance::River {
            if windows != Windows::CountTumbling(1) {
                return Err(OperatorError::config(
                    "windows",
                    "variance = \"river\" updates the statistics after every row and scales the next row with them, as river's StandardScaler does: it needs windows = { countTumbling = 1 } (and withMean = true)",
                ));
            }
            if !with_mean {
                return Err(OperatorError::config(
                    "withMean",
                    "river's StandardScaler always subtracts the mean: set withMean = true with variance = \"river\"",
                ));
            }
        }
        Ok(Self {
            input,
            output_col,
            with_mean,
            with_std: c.get("withStd", true)?,
            model_version_col,
            max_allowed_model_delay_ms: delay,
            windows,
            timestamp_col,
            variance,
        })
    }
}
