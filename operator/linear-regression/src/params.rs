//! Online linear regression's parameters (Flink ML style names; defaults of river's
//! `LinearRegression`), parsed and range-checked.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

/// How the coefficients are updated from their gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Plain SGD: `w -= learningRate * g`.
    Sgd,
    /// AdaGrad: `G += g^2; w -= learningRate / sqrt(G + adagradEpsilon) * g`.
    Adagrad,
}

/// The operator's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Where features come from.
    pub features: FeaturesCol,
    /// Target column; rows where it is null are scored, not learned from.
    pub label_col: String,
    /// Output column for the prediction.
    pub prediction_col: String,
    /// Output column for the version of the model that scored the row.
    pub model_version_col: String,
    /// The coefficients' optimizer.
    pub optimizer: Optimizer,
    /// The coefficients' learning rate (> 0).
    pub learning_rate: f64,
    /// L2 strength (>= 0).
    pub reg: f64,
    /// The intercept's learning rate (>= 0; 0 keeps the intercept at 0).
    pub intercept_learning_rate: f64,
    /// AdaGrad's epsilon (> 0).
    pub adagrad_epsilon: f64,
    /// Bound on the absolute loss gradient of one row (> 0).
    pub clip_gradient: f64,
    /// Labelled rows per model update.
    pub global_batch_size: usize,
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
        ParamInfo::new("labelCol", "string", Some("\"label\""), "Target column; rows without a target are scored only."),
        ParamInfo::new("predictionCol", "string", Some("\"prediction\""), "Output column for the prediction w . x + intercept."),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"modelVersion\""),
            "Output column for the version of the model that scored the row.",
        ),
        ParamInfo::new(
            "optimizer",
            "\"sgd\" | \"adagrad\"",
            Some("\"sgd\""),
            "How the coefficients follow their gradient: plain SGD, or AdaGrad (per-coordinate rates); the intercept always uses plain SGD with interceptLearningRate.",
        ),
        ParamInfo::new("learningRate", "double", Some("0.01"), "Learning rate of the coefficients (> 0)."),
        ParamInfo::new(
            "reg",
            "double",
            Some("0.0"),
            "L2 regularization strength (>= 0): reg * w is added to the coefficients' gradient (river's l2); the intercept is not regularized.",
        ),
        ParamInfo::new("interceptLearningRate", "double", Some("0.01"), "Learning rate of the intercept (>= 0; 0 keeps it at 0)."),
        ParamInfo::new("adagradEpsilon", "double", Some("1.0E-8"), "AdaGrad's epsilon inside the square root (> 0); unused with sgd."),
        ParamInfo::new(
            "clipGradient",
            "double",
            Some("1.0E12"),
            "Each row's loss gradient 2 (prediction - label) is clipped to [-clipGradient, clipGradient] (> 0).",
        ),
        ParamInfo::new(
            "globalBatchSize",
            "long",
            Some("1"),
            "Labelled rows per model update (> 0): 1 learns after every labelled row; larger values take one step on the batch's mean gradient, as Flink ML's count-based batches do.",
        ),
    ]
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
        let optimizer = match c.get("optimizer", "sgd".to_owned())?.to_ascii_lowercase().as_str() {
            "sgd" => Optimizer::Sgd,
            "adagrad" => Optimizer::Adagrad,
            other => {
                return Err(OperatorError::config("optimizer", format!("unknown optimizer {other:?}: expected \"sgd\" or \"adagrad\"")));
            }
        };
        Ok(Self {
            features,
            label_col: c.get("labelCol", "label".to_owned())?,
            prediction_col: c.get("predictionCol", "prediction".to_owned())?,
            model_version_col: c.get("modelVersionCol", "modelVersion".to_owned())?,
            optimizer,
            learning_rate: c.f64_in("learningRate", 0.01, |v| v > 0.0, "> 0")?,
            reg: c.f64_in("reg", 0.0, |v| v >= 0.0, ">= 0")?,
            intercept_learning_rate: c.f64_in("interceptLearningRate", 0.01, |v| v >= 0.0, ">= 0")?,
            adagrad_epsilon: c.f64_in("adagradEpsilon", 1e-8, |v| v > 0.0, "> 0")?,
            clip_gradient: c.f64_in("clipGradient", 1e12, |v| v > 0.0, "> 0")?,
            global_batch_size: usize::try_from(c.positive("globalBatchSize", 1)?)
                .map_err(|_| OperatorError::config("globalBatchSize", "too large for this target"))?,
        })
    }
}
