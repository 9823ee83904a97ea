//! Drift detection on the prequential error stream: each partition's pipeline feeds an ADWIN
//! detector ([`eddy_drift::Adwin`], river's `drift.ADWIN` bit for bit) one number per labelled
//! row its last operator answered, and reports where that number's mean changed.
//!
//! What a row feeds, by the last operator's kind: a classifier 1 when its prediction is wrong
//! (a missing prediction is wrong) and 0 when right; a regressor |prediction - label|; an
//! embedder 0 when the true item ranks in the top 10 and 1 otherwise. Anomaly detectors,
//! clusterers and transformers feed nothing (an anomaly score has no per-row error), nor do
//! rows without a label; a value that is not finite is skipped. The detector, the count of
//! detections and the first [`KEPT_DETECTIONS`] of them are part of the pipeline snapshot, so a
//! restored job detects at exactly the rows an uninterrupted one does.

use eddy_drift::{Adwin, AdwinConfig, ConfigError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Detections kept per partition (and in a summary) for reporting; every one is counted, and
/// every one goes to the drift sink.
pub const KEPT_DETECTIONS: usize = 100;

/// `[drift]` of a job file: whether to detect, and ADWIN's parameters (river's names and
/// defaults). Missing keys take the defaults; unknown keys are refused.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftSettings {
    /// Detect drift (default true: an ADWIN update per labelled row costs next to nothing
    /// beside an operator call, and its state is a few hundred bytes of the snapshot).
    pub enabled: bool,
    /// Significance of the cut test, in (0, 1): the smaller, the fewer false alarms and the
    /// later a real change is seen.
    pub delta: f64,
    /// The window is tested every `clock` values (at least 1).
    pub clock: u32,
    /// Buckets of each size kept before the two oldest merge (2 to 1,024).
    pub max_buckets: u32,
    /// Neither side of a cut may hold fewer values.
    pub min_window_length: u32,
    /// No test until the window holds more values than this.
    pub grace_period: u32,
}

impl Default for DriftSettings {
    fn default() -> Self {
        let a = AdwinConfig::default();
        Self {
            enabled: true,
            delta: a.delta,
            clock: a.clock,
            max_buckets: a.max_buckets,
            min_window_length: a.min_window_length,
            grace_period: a.grace_period,
        }
    }
}

impl DriftSettings {
    /// The detector's parameters.
    pub fn adwin(&self) -> AdwinConfig {
        AdwinConfig {
            delta: self.delta,
            clock: self.clock,
            max_buckets: self.max_buckets,
            min_window_length: self.min_window_length,
            grace_period: self.grace_period,
        }
    }

    /// Checks the parameters; the error names the job-file key (`drift.delta`, ...).
    pub fn validate(&self) -> Result<(), String> {
        self.adwin().validate().map_err(|e| match e {
            ConfigError::Delta(d) => format!("drift.delta must lie strictly between 0 and 1, got {d}"),
            ConfigError::Clock => "drift.clock must be at least 1 (1 tests the window after every value)".to_owned(),
            ConfigError::MaxBuckets(n) => format!("drift.max_buckets must be from 2 to {}, got {n}", eddy_drift::MAX_BUCKETS),
            other => format!("[drift]: {other}"),
        })
    }
}

/// One detection: the row at which ADWIN found a change, and the error around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The input record's topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The row within the record (0 for JSON records; Arrow records hold several).
    pub row: u32,
    /// The record's timestamp (ms).
    pub timestamp: i64,
    /// The version of the model that made the row's prediction, when the operator outputs
    /// one (its `modelVersionCol`).
    pub model_version: Option<i64>,
    /// The window's mean error just before the row's value was added.
    pub error_before: f64,
    /// The mean error of the window the detection left (its recent part).
    pub error_after: f64,
    /// That window's width, in rows.
    pub width: u64,
}

impl Detection {
    /// The JSON object a drift record carries and the summary lists: `topic`, `partition`,
    /// `offset`, `row`, `timestamp`, `modelVersion` (when known), `errorBefore`,
    /// `errorAfter`, `width`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("topic".into(), Value::from(self.topic.clone()));
        m.insert("partition".into(), Value::from(self.partition));
        m.insert("offset".into(), Value::from(self.offset));
        m.insert("row".into(), Value::from(self.row));
        m.insert("timestamp".into(), Value::from(self.timestamp));
        if let Some(v) = self.model_version {
            m.insert("modelVersion".into(), Value::from(v));
        }
        m.insert("errorBefore".into(), Value::from(self.error_before));
        m.insert("errorAfter".into(), Value::from(self.error_after));
        m.insert("width".into(), Value::from(self.width));
        Value::Object(m)
    }
}

/// Where a fed value comes from (what a detection at it reports).
#[derive(Debug, Clone)]
pub(crate) struct RowAt<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub row: u32,
    pub timestamp: i64,
    pub model_version: Option<i64>,
}

/// A partition's detector and what it found. Serializable: it travels in pipeline snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftState {
    adwin: Adwin,
    /// Values fed since the pipeline started (across restores).
    rows: u64,
    /// Detections since then.
    detections: u64,
    /// The first [`KEPT_DETECTIONS`] of them.
    kept: Vec<Detection>,
}

impl DriftState {
    /// A detector with an empty window.
    pub fn new(config: AdwinConfig) -> Result<Self, ConfigError> {
        Ok(Self { adwin: Adwin::new(config)?, rows: 0, detections: 0, kept: Vec::new() })
    }

    /// The detector's parameters.
    pub fn config(&self) -> &AdwinConfig {
        self.adwin.config()
    }

    /// The same history (counts and kept detections) with a new, empty window of `config`:
    /// what a job restored with other `[drift]` parameters continues with.
    pub(crate) fn with_config(&self, config: AdwinConfig) -> Result<Self, ConfigError> {
        Ok(Self { adwin: Adwin::new(config)?, ..self.clone() })
    }

    /// Values fed (labelled rows with a finite error).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Drifts detected.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// The first [`KEPT_DETECTIONS`] detections.
    pub fn kept(&self) -> &[Detection] {
        &self.kept
    }

    /// Feeds one error value (skipped unless finite); the detection, if ADWIN found a change
    /// at it.
    pub(crate) fn update(&mut self, error: f64, at: &RowAt<'_>) -> Option<Detection> {
        if !error.is_finite() {
            return None;
        }
        self.rows += 1;
        let before = self.adwin.estimation();
        if !self.adwin.update(error) {
            return None;
        }
        self.detections += 1;
        let d = Detection {
            topic: at.topic.to_owned(),
            partition: at.partition,
            offset: at.offset,
            row: at.row,
            timestamp: at.timestamp,
            model_version: at.model_version,
            error_before: before,
            error_after: self.adwin.estimation(),
            width: self.adwin.width(),
        };
        if self.kept.len() < KEPT_DETECTIONS {
            self.kept.push(d.clone());
        }
        Some(d)
    }
}

/// Drift over every partition of a run, for its summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftSummary {
    /// Values fed (labelled rows with a finite error).
    pub rows: u64,
    /// Drifts detected, all of them.
    pub detections: u64,
    /// The earliest [`KEPT_DETECTIONS`] of the detections each partition kept, by timestamp
    /// (then partition, offset, row).
    pub kept: Vec<Detection>,
}

impl DriftSummary {
    /// Adds a partition's state.
    pub fn merge(&mut self, s: &DriftState) {
        self.rows += s.rows;
        self.detections += s.detections;
        self.kept.extend(s.kept.iter().cloned());
        self.kept.sort_by(|a, b| {
            (a.timestamp, a.partition, &a.topic, a.offset, a.row).cmp(&(b.timestamp, b.partition, &b.topic, b.offset, b.row))
        });
        self.kept.truncate(KEPT_DETECTIONS);
    }

    /// `{"rows", "detections", "kept": [...]}` (each as [`Detection::to_json`]).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "rows": self.rows,
            "detections": self.detections,
            "kept": self.kept.iter().map(Detection::to_json).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> RowAt<'static> {
        RowAt { topic: "t", partition: 2, offset, row: 0, timestamp: 10 * offset, model_version: Some(offset / 10) }
    }

    #[test]
    fn settings_default_to_river_s_and_bad_values_name_their_key() {
        let s = DriftSettings::default();
        assert!(s.enabled);
        assert_eq!(s.adwin(), AdwinConfig::default());
        assert_eq!(s.validate(), Ok(()));
        let e = DriftSettings { delta: 0.0, ..s }.validate().unwrap_err();
        assert!(e.starts_with("drift.delta "), "{e}");
        assert!(DriftSettings { clock: 0, ..s }.validate().unwrap_err().starts_with("drift.clock "));
        assert!(DriftSettings { max_buckets: 1, ..s }.validate().unwrap_err().starts_with("drift.max_buckets "));
        assert!(DriftSettings { max_buckets: 1025, ..s }.validate().unwrap_err().contains("from 2 to 1024, got 1025"));
    }

    #[test]
    fn a_jump_is_detected_reported_and_kept_and_non_finite_values_are_skipped() {
        let mut d = DriftState::new(AdwinConfig::default()).unwrap();
        let mut found = Vec::new();
        for i in 0..3000 {
            let e = if i < 2000 { (i % 10 == 0) as u8 as f64 } else { (i % 10 < 7) as u8 as f64 };
            assert_eq!(d.update(f64::NAN, &at(i)), None);
            found.extend(d.update(e, &at(i)));
        }
        assert_eq!(d.rows(), 3000, "NaN values are not fed");
        let first = &found[0];
        assert!((2000..2100).contains(&first.offset), "{first:?}");
        assert!(first.error_before < 0.2 && first.error_after > 0.3, "{first:?}");
        assert_eq!((first.partition, first.model_version, first.timestamp), (2, Some(first.offset / 10), 10 * first.offset));
        assert_eq!(d.detections(), found.len() as u64);
        assert_eq!(d.kept(), &found[..]);
        let json = first.to_json();
        assert_eq!(json["offset"], first.offset);
        assert_eq!(json["errorAfter"], first.error_after);
        let mut s = DriftSummary::default();
        s.merge(&d);
        assert_eq!((s.rows, s.detections, s.kept.len()), (3000, found.len() as u64, found.len()));
    }

    #[test]
    fn the_kept_list_is_capped_and_the_count_is_not() {
        // delta close to 1, clock 1: a detection at every alternation of long runs.
        let c = AdwinConfig { delta: 0.9, clock: 1, max_buckets: 5, min_window_length: 1, grace_period: 2 };
        let mut d = DriftState::new(c).unwrap();
        for i in 0..20_000 {
            d.update(if (i / 8) % 2 == 0 { 0.0 } else { 100.0 }, &at(i));
        }
        assert!(d.detections() > KEPT_DETECTIONS as u64, "{}", d.detections());
        assert_eq!(d.kept().len(), KEPT_DETECTIONS);
        let bytes = postcard::to_stdvec(&d).unwrap();
        assert_eq!(postcard::from_bytes::<DriftState>(&bytes).unwrap(), d);
        let mut s = DriftSummary::default();
        s.merge(&d);
        s.merge(&d);
        assert_eq!((s.detections, s.kept.len()), (2 * d.detections(), KEPT_DETECTIONS));
        assert!(s.kept.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }
}
