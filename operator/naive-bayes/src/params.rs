//! Gaussian naive Bayes' parameters (Flink ML style names, scikit-learn/linfa defaults), parsed
//! and range-checked.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

/// How a row's class likelihoods are computed from the per-class statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Likelihood {
    /// scikit-learn's and linfa's: Gaussian densities with variances smoothed by
    /// `varSmoothing` times the largest pooled feature variance (`"sklearn"`, the default).
    #[default]
    Sklearn,
    /// river 0.26.1's `naive_bayes.GaussianNB`: river's running statistics, unsmoothed
    /// population variances, `ln(1e-9 + density)` per feature, ties to the class learned first
    /// (`"river"`).
    River,
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
    /// Output column for the version of the model that scored the row.
    pub model_version_col: String,
    /// Portion of the largest feature variance added to every variance (> 0).
    pub var_smoothing: f64,
    /// Labelled rows per model update.
    pub global_batch_size: usize,
    /// A fixed, declared class set (ascending class values), or `None` to discover classes
    /// from the labels.
    pub classes: Option<Vec<f64>>,
    /// The labels' type and the declared strings' numbering (see [`eddy_sdk::labels`]).
    pub labels: eddy_sdk::labels::Labels,
    /// How rows are scored. Not part of the serialized parameters, so that the snapshot layout
    /// of the versions before it stays a prefix of this one's: the operator's state records it
    /// (as the presence of river's statistics, its last field).
    #[serde(skip)]
    pub likelihood: Likelihood,
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
            "Output column for the version of the model that scored the row.",
        ),
        ParamInfo::new(
            "likelihood",
            "string",
            Some("\"sklearn\""),
            "How rows are scored: \"sklearn\" (scikit-learn's and linfa's GaussianNB: variances smoothed by varSmoothing, statistics folded in by linfa-bayes) or \"river\" (river 0.26.1's naive_bayes.GaussianNB exactly: river's running mean and population variance per class, log(1e-9 + density) per feature, a zero variance giving density 0, ties to the class learned first; varSmoothing must be left unset).",
        ),
        ParamInfo::new(
            "varSmoothing",
            "double",
            Some("1.0E-9"),
            "Portion of the largest variance of all features (over every labelled row learned so far) added to each variance for stability (> 0), as in linfa and scikit-learn. Not used by likelihood = \"river\" (which has no smoothing).",
        ),
        ParamInfo::new(
            "globalBatchSize",
            "long",
            Some("1"),
            "Labelled rows per model update (> 0): 1 learns after every labelled row; larger values gather count-based batches, as Flink ML does.",
        ),
        ParamInfo::new(
            "classes",
            "list<double | string | boolean>",
            None,
            "Optional fixed class set (numbers, strings or booleans, one type, as the labels come): rawPrediction then always has one entry per class (ascending class values: numbers ascending, false before true, strings in the order listed) and other labels are input errors; unset, classes are discovered from the labels.",
        ),
    ]
}

/// Checks a declared class list: non-empty, finite, distinct; returns it in ascending order
/// (with `-0.0` read as `0.0`).
pub fn check_classes(name: &str, classes: Option<Vec<f64>>) -> Result<Option<Vec<f64>>, OperatorError> {
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

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let features = c.get("featuresCol", FeaturesCol::Vector("features".into()))?;
        if let FeaturesCol::Columns(cols) = &features
            && cols.is_empty()
        {
            return Err(OperatorError::config("featuresCol", "the list of feature columns is empty"));
        }
        let (labels, declared) = eddy_sdk::labels::Labels::declared(c, "classes")?;
        let likelihood = match c.get("likelihood", "sklearn".to_owned())?.as_str() {
            "sklearn" => Likelihood::Sklearn,
            "river" => Likelihood::River,
            other => {
                return Err(OperatorError::config("likelihood", format!("unknown value \"{other}\": expected \"sklearn\" or \"river\"")));
            }
        };
        if likelihood == Likelihood::River && c.contains("varSmoothing") {
            return Err(OperatorError::config(
                "varSmoothing",
                "river's likelihood has no variance smoothing: leave varSmoothing unset with likelihood = \"river\"",
            ));
        }
        Ok(Self {
            features,
            label_col: c.get("labelCol", "label".to_owned())?,
            prediction_col: c.get("predictionCol", "prediction".to_owned())?,
            raw_prediction_col: c.get("rawPredictionCol", "rawPrediction".to_owned())?,
            model_version_col: c.get("modelVersionCol", "modelVersion".to_owned())?,
            var_smoothing: c.f64_in("varSmoothing", 1e-9, |v| v > 0.0, "> 0")?,
            global_batch_size: usize::try_from(c.positive("globalBatchSize", 1)?)
                .map_err(|_| OperatorError::config("globalBatchSize", "too large for this target"))?,
            classes: check_classes("classes", declared)?,
            labels,
            likelihood,
        })
    }
}
