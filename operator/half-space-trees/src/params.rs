//! Half-space trees' parameters (river's, in eddy's camelCase), parsed and range-checked, with
//! the feature limits resolved against the feature columns.

use std::collections::BTreeMap;

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

/// The most nodes the forest may hold (`nTrees * (2^(height + 1) - 1)`): 2^24, about 200 MB of
/// state with both mass profiles and the splits.
pub const MAX_NODES: u64 = 1 << 24;

/// The operator's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Where features come from.
    pub features: FeaturesCol,
    /// Number of trees.
    pub n_trees: usize,
    /// Height of each tree.
    pub height: u32,
    /// Rows per window.
    pub window_size: u32,
    /// `[lo, hi]` of every feature, in feature order; `None`: every feature in `[0, 1]` (the
    /// dimension then comes from the first row of a vector column).
    pub limits: Option<Vec<(f64, f64)>>,
    /// Seed of the draws that grow the trees (`random.Random(seed)`).
    pub seed: i64,
    /// Output column for the anomaly score.
    pub score_col: String,
    /// Output column for the version of the model that scored the row.
    pub model_version_col: String,
    /// Optional 0/1 label column, read for evaluation only.
    pub label_col: Option<String>,
}

/// The parameters the operator declares, with their defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new(
            "featuresCol",
            "string | list<string>",
            Some("\"features\""),
            "A vector column (dense list or sparse {size, indices, values}, made dense), or a list of numeric columns.",
        ),
        ParamInfo::new("nTrees", "long", Some("10"), "Number of trees (> 0)."),
        ParamInfo::new(
            "height",
            "long",
            Some("8"),
            "Height of each tree (> 0): a tree has height + 1 levels, 2^(height + 1) - 1 nodes; nTrees * that is at most 2^24.",
        ),
        ParamInfo::new(
            "windowSize",
            "long",
            Some("250"),
            "Rows per window (> 0): the masses of the latest window become the reference that rows are scored against every windowSize rows.",
        ),
        ParamInfo::new(
            "limits",
            "list | map",
            None,
            "Range [lo, hi] of each feature that the split points are drawn in: a list in feature order, or (with a list of feature columns) an object of column name to range, unnamed columns keeping [0, 1]. Unset: every feature in [0, 1]. Values outside are not refused: they follow the outermost branches.",
        ),
        ParamInfo::new(
            "seed",
            "long",
            Some("42"),
            "Seed of the random split features and points (Python's random.Random(seed), as river).",
        ),
        ParamInfo::new(
            "scoreCol",
            "string",
            Some("\"anomalyScore\""),
            "Output column for the anomaly score in [0, 1] (higher: more anomalous; 0 during the first window).",
        ),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"modelVersion\""),
            "Output column for the version of the model that scored the row (windows completed before it).",
        ),
        ParamInfo::new(
            "labelCol",
            "string",
            None,
            "Optional 0/1 column (1: anomaly) read for evaluation only: the host scores the anomaly score against it (ROC AUC); it never changes what is learned.",
        ),
    ]
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LimitsJson {
    List(Vec<[f64; 2]>),
    ByName(BTreeMap<String, [f64; 2]>),
}

fn check_limit(name: &str, [lo, hi]: [f64; 2]) -> Result<(f64, f64), OperatorError> {
    if lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite() {
        Ok((lo, hi))
    } else {
        Err(OperatorError::config(name, format!("[{lo}, {hi}] is not a range: expected finite lo < hi")))
    }
}

/// Reads `limits` into one `[lo, hi]` per feature, in feature order.
fn limits(c: &Config, features: &FeaturesCol) -> Result<Option<Vec<(f64, f64)>>, OperatorError> {
    if !c.contains("limits") {
        return Ok(None);
    }
    let json = c.get_opt::<LimitsJson>("limits").map_err(|_| {
        OperatorError::config(
            "limits",
            "expected a list of [lo, hi] pairs (one per feature) or an object of feature column name to [lo, hi]",
        )
    })?;
    let list = match json {
        Some(LimitsJson::List(l)) => {
            if l.is_empty() {
                return Err(OperatorError::config("limits", "the list of limits is empty"));
            }
            if let FeaturesCol::Columns(cols) = features
                && cols.len() != l.len()
            {
                return Err(OperatorError::config("limits", format!("{} ranges for {} feature columns", l.len(), cols.len())));
            }
            l.into_iter().enumerate().map(|(i, r)| check_limit(&format!("limits.{i}"), r)).collect::<Result<Vec<_>, _>>()?
        }
        Some(LimitsJson::ByName(m)) => {
            let FeaturesCol::Columns(cols) = features else {
                return Err(OperatorError::config(
                    "limits",
                    "limits by column name need featuresCol to be a list of columns; for a vector column give a list of [lo, hi] pairs",
                ));
            };
            if let Some(unknown) = m.keys().find(|k| !cols.contains(k)) {
                return Err(OperatorError::config(format!("limits.{unknown}"), "not one of the feature columns"));
            }
            cols.iter()
                .map(|col| m.get(col).map_or(Ok((0.0, 1.0)), |r| check_limit(&format!("limits.{col}"), *r)))
                .collect::<Result<Vec<_>, _>>()?
        }
        None => return Ok(None),
    };
    Ok(Some(list))
}

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let features = c.get("featuresCol", FeaturesCol::Vector("features".into()))?;
        if let FeaturesCol::Columns(cols) = &features
            && cols.is_empty()
        {
            return Err(OperatorError::config("featuresCol", "the list of feature columns is empty"));
        }
        let n_trees = c.positive("nTrees", 10)?;
        let height = c.positive("height", 8)?;
        if height > 23 || n_trees.saturating_mul((2u64 << height) - 1) > MAX_NODES {
            let p = if height > 23 { "height" } else { "nTrees" };
            return Err(OperatorError::config(
                p,
                format!("{n_trees} trees of height {height} make more than 2^24 nodes: use fewer or lower trees"),
            ));
        }
        let window_size = c.positive("windowSize", 250)?;
        let window_size = u32::try_from(window_size)
            .map_err(|_| OperatorError::config("windowSize", format!("{window_size} is out of range: expected at most {}", u32::MAX)))?;
        let label_col: Option<String> = c.get_opt("labelCol")?;
        Ok(Self {
            limits: limits(c, &features)?,
            features,
            n_trees: n_trees as usize,
            height: height as u32,
            window_size,
            seed: c.get("seed", 42)?,
            score_col: c.get("scoreCol", "anomalyScore".to_owned())?,
            model_version_col: c.get("modelVersionCol", "modelVersion".to_owned())?,
            label_col: label_col.filter(|l| !l.is_empty()),
        })
    }
}
