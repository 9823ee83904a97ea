//! The Hoeffding tree's parameters: river's `HoeffdingTreeClassifier` arguments under eddy's
//! camelCase names, with river's defaults, parsed and range-checked.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

/// How a split candidate is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitCriterion {
    /// Information gain (entropy in bits); range of merit `log2(classes)`.
    InfoGain,
    /// Gini impurity decrease; range of merit 1.
    Gini,
    /// Hellinger distance between the two branches' distributions of classes 0 and 1.
    Hellinger,
}

/// How a leaf turns its statistics into class probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeafPrediction {
    /// The leaf's class frequencies.
    MajorityClass,
    /// Gaussian naive Bayes over the leaf's per-class feature statistics.
    NaiveBayes,
    /// Naive Bayes or the class frequencies, whichever has been right more often at that leaf.
    NaiveBayesAdaptive,
}

/// The operator's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Where features come from.
    pub features: FeaturesCol,
    /// Label column (a numeric class value); rows where it is null are scored, not learned from.
    pub label_col: String,
    /// Output column for the predicted class value.
    pub prediction_col: String,
    /// Output column for the class probabilities, ordered by class value.
    pub raw_prediction_col: String,
    /// Output column for the version of the tree that scored the row.
    pub model_version_col: String,
    /// A fixed, declared class set (ascending class values), or `None` to discover classes
    /// from the labels.
    pub classes: Option<Vec<f64>>,
    /// The labels' type and the declared strings' numbering (see [`eddy_sdk::labels`]).
    pub labels: eddy_sdk::labels::Labels,
    /// Weight a leaf must see between split attempts.
    pub grace_period: f64,
    /// The deepest a leaf may be and still grow (`None`: no limit).
    pub max_depth: Option<u32>,
    /// How split candidates are scored.
    pub split_criterion: SplitCriterion,
    /// One minus the confidence of the Hoeffding bound.
    pub delta: f64,
    /// The bound below which the best candidate wins a tie.
    pub tau: f64,
    /// How leaves predict.
    pub leaf_prediction: LeafPrediction,
    /// Weight a `nb` leaf must have seen before it predicts with naive Bayes.
    pub nb_threshold: f64,
    /// Candidate thresholds the Gaussian splitter evaluates per feature.
    pub n_splits: u32,
    /// A candidate needs two branches holding more than this share of the weight.
    pub min_branch_fraction: f64,
    /// A leaf whose majority class holds more than this share does not split.
    pub max_share_to_split: f64,
    /// Whether "no split" competes with the candidates.
    pub merit_preprune: bool,
    /// The tree's size bound, in bytes (from `maxSize` in MiB).
    pub max_bytes: f64,
    /// Labelled rows between two size estimates.
    pub memory_estimate_period: u64,
    /// Whether the tree stops growing for good once the size bound is hit (or a leaf is inactive).
    pub stop_mem_management: bool,
    /// Whether majority-class leaves stop watching features that cannot win a split.
    pub remove_poor_attrs: bool,
}

/// The parameters the operator declares, with their defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new(
            "featuresCol",
            "string | list<string>",
            Some("\"features\""),
            "A vector column (dense list or sparse {size, indices, values}), or a list of numeric columns.",
        ),
        ParamInfo::new(
            "labelCol",
            "string",
            Some("\"label\""),
            "Label column holding the class as a number; rows without a label are scored only.",
        ),
        ParamInfo::new(
            "predictionCol",
            "string",
            Some("\"prediction\""),
            "Output column for the predicted class value (null while no class is known).",
        ),
        ParamInfo::new(
            "rawPredictionCol",
            "string",
            Some("\"rawPrediction\""),
            "Output column for the class probabilities, ordered by ascending class value (the model data's `classes`).",
        ),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"modelVersion\""),
            "Output column for the version of the tree that scored the row (its number of splits).",
        ),
        ParamInfo::new(
            "classes",
            "list<double | string | boolean>",
            None,
            "Optional fixed class set (numbers, strings or booleans, one type, as the labels come): rawPrediction then always has one entry per class (ascending class values: numbers ascending, false before true, strings in the order listed) and other labels are input errors; unset, classes are discovered from the labels.",
        ),
        ParamInfo::new("gracePeriod", "long", Some("200"), "Labelled rows (weight) a leaf must see between two split attempts (> 0)."),
        ParamInfo::new(
            "maxDepth",
            "long",
            None,
            "Deepest level at which a leaf may still split (>= 0; the root is depth 0); unset, no limit.",
        ),
        ParamInfo::new(
            "splitCriterion",
            "string",
            Some("\"info_gain\""),
            "How split candidates are scored: \"info_gain\" (information gain), \"gini\" (Gini impurity decrease) or \"hellinger\" (Hellinger distance; binary problems with classes 0 and 1).",
        ),
        ParamInfo::new(
            "delta",
            "double",
            Some("1.0E-7"),
            "Significance of the Hoeffding bound (0 < delta < 1): a split needs confidence 1 - delta.",
        ),
        ParamInfo::new(
            "tau",
            "double",
            Some("0.05"),
            "Tie threshold (>= 0): when the Hoeffding bound falls below it, the best candidate splits even if the runner-up is as good.",
        ),
        ParamInfo::new(
            "leafPrediction",
            "string",
            Some("\"nba\""),
            "How leaves predict: \"mc\" (class frequencies), \"nb\" (Gaussian naive Bayes) or \"nba\" (whichever of the two has been right more often at that leaf).",
        ),
        ParamInfo::new(
            "nbThreshold",
            "double",
            Some("0"),
            "Weight an \"nb\" leaf must have seen before it predicts with naive Bayes rather than class frequencies (>= 0).",
        ),
        ParamInfo::new(
            "nSplits",
            "long",
            Some("10"),
            "Candidate thresholds per feature: the Gaussian splitter tries this many equally spaced points between the feature's smallest and largest value at the leaf (> 0).",
        ),
        ParamInfo::new(
            "minBranchFraction",
            "double",
            Some("0.01"),
            "A candidate split counts only if at least two branches get more than this share of the leaf's weight (0 <= f < 1).",
        ),
        ParamInfo::new(
            "maxShareToSplit",
            "double",
            Some("0.99"),
            "A leaf whose majority class holds more than this share of its weight does not split, and stops growing (0 < s <= 1).",
        ),
        ParamInfo::new(
            "meritPreprune",
            "boolean",
            Some("true"),
            "Whether \"no split\" competes with the candidates (river's merit_preprune).",
        ),
        ParamInfo::new(
            "maxSize",
            "double",
            Some("100.0"),
            "Size bound of the tree in MiB, by eddy's size estimate (> 0): when the estimate exceeds it, the least promising leaves are deactivated (they keep class counts only).",
        ),
        ParamInfo::new("memoryEstimatePeriod", "long", Some("1000000"), "Labelled rows between two estimates of the tree's size (> 0)."),
        ParamInfo::new(
            "stopMemManagement",
            "boolean",
            Some("false"),
            "Whether the tree stops growing for good when the size bound is hit (or any leaf is inactive), instead of deactivating leaves.",
        ),
        ParamInfo::new(
            "removePoorAttrs",
            "boolean",
            Some("false"),
            "Whether majority-class (\"mc\") leaves stop watching features whose best split trails the best by more than the Hoeffding bound.",
        ),
    ]
}

/// Checks a declared class list: non-empty, finite, distinct; returns it in ascending order
/// (with `-0.0` read as `0.0`).
fn check_classes(name: &str, classes: Option<Vec<f64>>) -> Result<Option<Vec<f64>>, OperatorError> {
    let Some(mut cs) = classes else { return Ok(None) };
    if cs.is_empty() {
        return Err(OperatorError::config(name, "the class list is empty"));
    }
    if let Some(bad) = cs.iter().find(|c| !c.is_finite()) {
        return Err(OperatorError::config(name, format!("class {bad} is not finite")));
    }
    for c in &mut cs {
        if *c == 0.0 {
            *c = 0.0;
        }
    }
    cs.sort_by(f64::total_cmp);
    if let Some(w) = cs.windows(2).find(|w| w[0] == w[1]) {
        return Err(OperatorError::config(name, format!("class {} is listed twice", w[0])));
    }
    Ok(Some(cs))
}

/// An integer parameter in `[min, max]`.
fn int_in(c: &Config, name: &str, default: i64, min: i64, max: i64) -> Result<i64, OperatorError> {
    let v: i64 = c.get(name, default)?;
    if v < min || v > max {
        return Err(OperatorError::config(name, format!("{v} is out of range: expected {min} to {max}")));
    }
    Ok(v)
}

/// One of `choices` (value, meaning).
fn choice<T: Copy>(c: &Config, name: &str, default: &str, choices: &[(&str, T)]) -> Result<T, OperatorError> {
    let v: String = c.get(name, default.to_owned())?;
    choices.iter().find(|(k, _)| *k == v).map(|(_, t)| *t).ok_or_else(|| {
        let names: Vec<String> = choices.iter().map(|(k, _)| format!("\"{k}\"")).collect();
        OperatorError::config(name, format!("unknown value \"{v}\": expected one of {}", names.join(", ")))
    })
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
        let max_depth = match c.get_opt::<i64>("maxDepth")? {
            None => None,
            Some(d) if (0..=i64::from(u32::MAX - 1)).contains(&d) => Some(d as u32),
            Some(d) => return Err(OperatorError::config("maxDepth", format!("{d} is out of range: expected >= 0"))),
        };
        let (labels, declared) = eddy_sdk::labels::Labels::declared(c, "classes")?;
        Ok(Self {
            features,
            label_col: c.get("labelCol", "label".to_owned())?,
            prediction_col: c.get("predictionCol", "prediction".to_owned())?,
            raw_prediction_col: c.get("rawPredictionCol", "rawPrediction".to_owned())?,
            model_version_col: c.get("modelVersionCol", "modelVersion".to_owned())?,
            classes: check_classes("classes", declared)?,
            labels,
            grace_period: int_in(c, "gracePeriod", 200, 1, 1 << 53)? as f64,
            max_depth,
            split_criterion: choice(
                c,
                "splitCriterion",
                "info_gain",
                &[("info_gain", SplitCriterion::InfoGain), ("gini", SplitCriterion::Gini), ("hellinger", SplitCriterion::Hellinger)],
            )?,
            delta: c.f64_in("delta", 1e-7, |v| v > 0.0 && v < 1.0, "0 < delta < 1")?,
            tau: c.f64_in("tau", 0.05, |v| v >= 0.0, ">= 0")?,
            leaf_prediction: choice(
                c,
                "leafPrediction",
                "nba",
                &[("mc", LeafPrediction::MajorityClass), ("nb", LeafPrediction::NaiveBayes), ("nba", LeafPrediction::NaiveBayesAdaptive)],
            )?,
            nb_threshold: c.f64_in("nbThreshold", 0.0, |v| v >= 0.0, ">= 0")?,
            n_splits: int_in(c, "nSplits", 10, 1, 10_000)? as u32,
            min_branch_fraction: c.f64_in("minBranchFraction", 0.01, |v| (0.0..1.0).contains(&v), "0 <= f < 1")?,
            max_share_to_split: c.f64_in("maxShareToSplit", 0.99, |v| v > 0.0 && v <= 1.0, "0 < s <= 1")?,
            merit_preprune: c.get("meritPreprune", true)?,
            max_bytes: c.f64_in("maxSize", 100.0, |v| v > 0.0 && v < 1e12, "0 < maxSize < 1e12 (MiB)")? * (1u64 << 20) as f64,
            memory_estimate_period: int_in(c, "memoryEstimatePeriod", 1_000_000, 1, i64::MAX)? as u64,
            stop_mem_management: c.get("stopMemManagement", false)?,
            remove_poor_attrs: c.get("removePoorAttrs", false)?,
        })
    }
}
