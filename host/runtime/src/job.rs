//! Job files: what to read, which operator to run with which config, where to write. The
//! names here are part of the user contract (extend them, never rename them):
//!
//! ```toml
//! [source]
//! replay = "path/to/input.replay"     # or [source.kafka]
//! format = "json"                     # or "arrow"
//! [operator]
//! component = "ftrl"                  # a shipped operator by name, or a path to a .wasm
//! [operator.config]                   # handed to the operator as is (Flink ML names)
//! globalBatchSize = 32
//! [sinks]
//! predictions = "out/predictions.replay"
//! models = "out/models.replay"
//! dead_letters = "out/dead-letters.replay"   # optional
//! drift = "out/drift.replay"          # optional: one record per drift detection
//! [run]
//! batch_size = 4096                   # rows per call into the operator
//! chain_learning = "river"            # or "flink-ml": how the stages of a chain learn
//! metrics_addr = "127.0.0.1:9464"     # Kafka jobs: serve Prometheus metrics here
//! [limits]
//! memory_mib = 512
//! call_timeout_ms = 30000
//! output_mib = 256
//! [drift]                             # ADWIN on the prequential error (river's parameters)
//! enabled = true
//! delta = 0.002
//! clock = 32
//! max_buckets = 5
//! min_window_length = 5
//! grace_period = 10
//! ```
//!
//! Relative paths are relative to the job file. `--set key.path=value` overrides any value
//! (the value is read as TOML when it parses, else as a string).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::drift::DriftSettings;
use crate::{Format, HostError, Limits, Result};

/// A parsed job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Where records come from.
    pub source: Source,
    /// The operator to run (or use `[[operators]]` for a chain).
    pub operator: Option<OperatorSpec>,
    /// A chain of operators (`[[operators]]` tables, in order): each one's output columns are
    /// added to the rows the next one reads.
    #[serde(default)]
    pub operators: Vec<OperatorSpec>,
    /// Where outputs go (none by default: the run then only reports its metrics).
    #[serde(default)]
    pub sinks: Sinks,
    /// Execution settings.
    #[serde(default)]
    pub run: RunSettings,
    /// Sandbox limits for every operator instance.
    #[serde(default)]
    pub limits: Limits,
    /// Drift detection on the prequential error (`[drift]`; on by default).
    #[serde(default)]
    pub drift: DriftSettings,
    /// Directory relative paths are resolved against (the job file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A replay file to read.
    pub replay: Option<PathBuf>,
    /// Value format.
    #[serde(default)]
    pub format: Format,
    /// Kafka settings (`[source.kafka]`), read by the Kafka runner.
    pub kafka: Option<toml::Table>,
}

/// `[operator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// A shipped operator's name (`ftrl`) or a path to a component file.
    pub component: String,
    /// The operator's config, handed over as JSON.
    #[serde(default)]
    pub config: toml::Table,
}

/// `[sinks]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sinks {
    /// Prediction records.
    pub predictions: Option<PathBuf>,
    /// Model versions.
    pub models: Option<PathBuf>,
    /// Refused records; without it a bad record stops the job.
    pub dead_letters: Option<PathBuf>,
    /// Changed embeddings of an embedder, keyed by id, tombstones for evicted ids (a compacted
    /// topic of these is the current table). Without it they go to `models`.
    pub embeddings: Option<PathBuf>,
    /// Drift detections, one record per detection (see [`crate::drift`]); needs
    /// `[drift] enabled`.
    pub drift: Option<PathBuf>,
    /// Kafka sink settings (`[sinks.kafka]`), read by the Kafka runner.
    pub kafka: Option<toml::Table>,
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    /// Rows per call into the operator (default 4096): a call takes whole records and ends
    /// with the first one that brings it to this many rows or more, so an Arrow record with
    /// more rows goes whole, in a call of its own. Results do not depend on it.
    pub batch_size: usize,
    /// Serve Prometheus metrics on this address (`host:port`) while a Kafka job runs.
    pub metrics_addr: Option<String>,
    /// How the stages of a chain learn: `"river"` (the default: each stage learns from the row
    /// as the stages before transform it after learning it) or `"flink-ml"` (each stage learns
    /// from the row as it scored it). See [`crate::ChainLearning`].
    pub chain_learning: crate::ChainLearning,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self { batch_size: crate::DEFAULT_BATCH_ROWS, metrics_addr: None, chain_learning: crate::ChainLearning::default() }
    }
}

impl Job {
    /// Reads a job file and applies `overrides` (`key.path=value`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| HostError::Job(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base, overrides).map_err(|e| match e {
            HostError::Job(m) => HostError::Job(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Parses job text; `base_dir` resolves relative paths.
    pub fn parse(text: &str, base_dir: &Path, overrides: &[String]) -> Result<Self> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| HostError::Job(e.to_string()))?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let mut job: Job = table.try_into().map_err(|e: toml::de::Error| HostError::Job(e.to_string()))?;
        job.base_dir = base_dir.to_path_buf();
        match (&job.operator, job.operators.is_empty()) {
            (Some(_), false) => return Err(HostError::Job("set either [operator] or [[operators]], not both".into())),
            (None, true) => return Err(HostError::Job("missing [operator] (or [[operators]] for a chain)".into())),
            _ => {}
        }
        if job.run.batch_size == 0 {
            return Err(HostError::Job("run.batch_size must be at least 1".into()));
        }
        job.drift.validate().map_err(HostError::Job)?;
        let drift_sink = job.sinks.drift.is_some() || job.sinks.kafka.as_ref().is_some_and(|k| k.contains_key("drift"));
        if drift_sink && !job.drift.enabled {
            return Err(HostError::Job("a drift sink is set but drift.enabled = false: nothing would be written to it".into()));
        }
        Ok(job)
    }

    /// A path from the job file, resolved against its directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }

    /// The operators to run, in chain order (one for a plain `[operator]`).
    pub fn stages(&self) -> Vec<&OperatorSpec> {
        self.operator.iter().chain(&self.operators).collect()
    }

    /// The (last) operator's config as JSON.
    pub fn operator_config(&self) -> serde_json::Value {
        self.stages().last().expect("validated: at least one operator").config_json()
    }
}

impl OperatorSpec {
    /// The config as JSON.
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).expect("TOML values convert to JSON")
    }
}

fn apply_override(table: &mut toml::Table, o: &str) -> Result<()> {
    let (key, value) = o.split_once('=').ok_or_else(|| HostError::Job(format!("--set {o:?}: expected key=value")))?;
    let value: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let bad = |p: &str, what: &str| HostError::Job(format!("--set {key}: `{p}` {what}"));
    // Walk tables by name and arrays (of tables, e.g. [[operators]]) by index.
    let mut cur = table.entry(parts[0].to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    for p in &parts[1..] {
        cur = match cur {
            toml::Value::Table(t) => t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(a) => {
                let i: usize = p.parse().map_err(|_| bad(p, "must be an index into an array"))?;
                let n = a.len();
                a.get_mut(i).ok_or_else(|| bad(p, &format!("is past the end of an array of {n}")))?
            }
            _ => return Err(bad(p, "is inside a value that is neither a table nor an array")),
        };
    }
    *cur = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"
        [source]
        replay = "in.replay"
        [operator]
        component = "ftrl"
        [operator.config]
        globalBatchSize = 32
        featuresCol = ["a", "b"]
        [sinks]
        predictions = "out/p.replay"
    "#;

    #[test]
    fn parses_and_overrides() {
        let j = Job::parse(
            JOB,
            Path::new("/jobs"),
            &["run.batch_size=7".into(), "operator.config.alpha=0.5".into(), "operator.config.labelCol=y".into()],
        )
        .unwrap();
        assert_eq!(j.run.batch_size, 7);
        assert_eq!(j.operator_config()["alpha"], 0.5);
        assert_eq!(j.operator_config()["labelCol"], "y");
        assert_eq!(j.resolve(j.source.replay.as_ref().unwrap()), PathBuf::from("/jobs/in.replay"));
        assert_eq!(j.source.format, Format::Json);
    }

    #[test]
    fn sinks_are_optional() {
        let a = JOB.find("[sinks]").unwrap();
        let j = Job::parse(&JOB[..a], Path::new("."), &[]).unwrap();
        assert!(j.sinks.predictions.is_none() && j.sinks.models.is_none() && j.sinks.dead_letters.is_none() && j.sinks.kafka.is_none());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Job::parse(&JOB.replace("[sinks]", "[sinks]\npredictons = \"x\""), Path::new("."), &[]).unwrap_err();
        assert!(e.to_string().contains("predictons"), "{e}");
        let e = Job::parse(JOB, Path::new("."), &["run.batch_size=0".into()]).unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
        let chain = JOB.replace("[operator]\n        component = \"ftrl\"\n        [operator.config]", "[[operators]]\n        component = \"scaler\"\n        [[operators]]\n        component = \"ftrl\"\n        [operators.config]");
        let j = Job::parse(&chain, Path::new("."), &[]).unwrap();
        assert_eq!(j.stages().iter().map(|s| s.component.as_str()).collect::<Vec<_>>(), vec!["scaler", "ftrl"]);
        assert_eq!(j.operator_config()["globalBatchSize"], 32);
        let j = Job::parse(&chain, Path::new("."), &["operators.1.config.alpha=0.5".into()]).unwrap();
        assert_eq!(j.operator_config()["alpha"], 0.5);
        assert!(Job::parse(&chain, Path::new("."), &["operators.5.config.alpha=0.5".into()]).is_err());
    }

    #[test]
    fn drift_is_on_by_default_and_bad_settings_name_their_key() {
        let j = Job::parse(JOB, Path::new("."), &[]).unwrap();
        assert_eq!(j.drift, DriftSettings::default());
        assert!(j.drift.enabled && j.sinks.drift.is_none());
        let j = Job::parse(JOB, Path::new("."), &["drift.delta=0.01".into(), "drift.clock=1".into(), "sinks.drift=\"d.replay\"".into()])
            .unwrap();
        assert_eq!((j.drift.adwin().delta, j.drift.adwin().clock, j.drift.adwin().grace_period), (0.01, 1, 10));
        assert_eq!(j.sinks.drift, Some(PathBuf::from("d.replay")));
        for (set, key) in [
            ("drift.delta=0", "drift.delta"),
            ("drift.delta=1.5", "drift.delta"),
            ("drift.clock=0", "drift.clock"),
            ("drift.max_buckets=1", "drift.max_buckets"),
            ("drift.clock=-1", "clock"),
            ("drift.delta=\"small\"", "delta"),
            ("drift.detla=0.1", "detla"),
            ("drift.on_drift=\"reset\"", "on_drift"),
        ] {
            let e = Job::parse(JOB, Path::new("."), &[set.into()]).unwrap_err().to_string();
            assert!(e.contains(key), "{set}: {e}");
        }
        let e = Job::parse(JOB, Path::new("."), &["drift.enabled=false".into(), "sinks.drift=\"d.replay\"".into()]).unwrap_err();
        assert!(e.to_string().contains("drift.enabled = false"), "{e}");
        let j = Job::parse(JOB, Path::new("."), &["drift.enabled=false".into()]).unwrap();
        assert!(!j.drift.enabled);
    }
}
