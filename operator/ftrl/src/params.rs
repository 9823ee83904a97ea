//! FTRL's parameters, with Flink ML's names and defaults, parsed and range-checked.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

/// The initial model (`initialModel` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum InitialModel {
    /// All-zero coefficients (the default); the dimension comes from `featuresCol` when it is a
    /// list, otherwise from the first row.
    Zeros,
    /// Explicit coefficients; fixes the dimension.
    Coefficient(Vec<f64>),
    /// Flink ML's random initial model: `java.util.Random(seed).nextDouble()` per coordinate.
    Random {
        /// The seed.
        seed: i64,
        /// The dimension; optional when `featuresCol` is a list of columns.
        dim: Option<usize>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum InitialModelJson {
    Name(String),
    Explicit { coefficient: Vec<f64> },
    Random { random: RandomJson },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomJson {
    seed: i64,
    dim: Option<usize>,
}

/// Whose update rule FTRL follows (`update`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Update {
    /// Flink ML's `OnlineLogisticRegression` (`"flink-ml"`, the default): a global batch's
    /// gradient, then the coefficients from the updated accumulators; a row is scored with
    /// every row before it learned.
    #[default]
    FlinkMl,
    /// river 0.26.1's `LogisticRegression(optimizer=FTRLProximal(...), intercept_lr=0)`
    /// (`"river"`), row by row: the coefficients are recomputed from the accumulators before
    /// each row's gradient is added, so a row is scored without the row just before it; river's
    /// sigmoid (clamped at +-30), log-loss gradient (approximated past |w.x| > 18) and ties
    /// (p = 0.5 predicts the first class). `globalBatchSize` must be 1.
    River,
}

/// FTRL's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Learning-rate parameter alpha (> 0).
    pub alpha: f64,
    /// Learning-rate parameter beta (>= 0).
    pub beta: f64,
    /// L1 strength: elasticNet * reg.
    pub l1: f64,
    /// L2 strength: (1 - elasticNet) * reg.
    pub l2: f64,
    /// Rows per model update.
    pub global_batch_size: usize,
    /// Where features come from.
    pub features: FeaturesCol,
    /// Label column (0.0 / 1.0); rows where it is null are scored, not learned from.
    pub label_col: String,
    /// Optional weight column.
    pub weight_col: Option<String>,
    /// Output column names.
    pub prediction_col: String,
    /// Output column for `[1 - p, p]`.
    pub raw_prediction_col: String,
    /// Output column for the model version used.
    pub model_version_col: String,
    /// Initial model.
    pub initial_model: InitialModel,
    /// Whose update rule. Read from the job at every start, not state: snapshots stay as they
    /// were (the accumulators are the same under both rules).
    #[serde(skip)]
    pub update: Update,
}

/// The parameters FTRL declares, with Flink ML's defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new("alpha", "double", Some("0.1"), "FTRL learning-rate parameter alpha (> 0)."),
        ParamInfo::new("beta", "double", Some("0.1"), "FTRL learning-rate parameter beta (>= 0)."),
        ParamInfo::new("reg", "double", Some("0.0"), "Regularization strength (>= 0)."),
        ParamInfo::new(
            "elasticNet",
            "double",
            Some("0.0"),
            "ElasticNet mixing in [0, 1]: l1 = elasticNet * reg, l2 = (1 - elasticNet) * reg.",
        ),
        ParamInfo::new(
            "globalBatchSize",
            "long",
            Some("32"),
            "Labelled rows per model update (> 0); 1 (and only 1) with update = \"river\".",
        ),
        ParamInfo::new(
            "update",
            "string",
            Some("\"flink-ml\""),
            "Whose update rule: \"flink-ml\" (Flink ML's OnlineLogisticRegression: global batches, coefficients from the updated accumulators) or \"river\" (river 0.26.1's LogisticRegression with FTRLProximal and intercept_lr = 0, row by row: coefficients recomputed before each row's gradient is added, river's clamped sigmoid, log-loss gradient and ties; globalBatchSize 1).",
        ),
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
            "Label column: 0.0 or 1.0, or one of the two `classes`; rows without a label are scored only.",
        ),
        ParamInfo::new(
            "classes",
            "list",
            None,
            "Optional: the two classes as the labels come (numbers, strings or booleans, one type), negative first: rawPrediction is [P(first), P(second)] and predictions are given in the labels' type; any other label is an input error. Unset, labels are the numbers 0 and 1.",
        ),
        ParamInfo::new(
            "weightCol",
            "string",
            None,
            "Optional weight column (only sparse rows use it, as Flink ML does; with update = \"river\" it scales every row's gradient, as river does).",
        ),
        ParamInfo::new("predictionCol", "string", Some("\"prediction\""), "Output column for the predicted class."),
        ParamInfo::new("rawPredictionCol", "string", Some("\"rawPrediction\""), "Output column for [1 - p, p]."),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"modelVersion\""),
            "Output column for the version of the model that scored the row.",
        ),
        ParamInfo::new(
            "initialModel",
            "\"zeros\" | {coefficient} | {random: {seed, dim}}",
            Some("\"zeros\""),
            "The model before any update (version 0).",
        ),
    ]
}

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let reg = c.f64_in("reg", 0.0, |v| v >= 0.0, ">= 0")?;
        let elastic = c.f64_in("elasticNet", 0.0, |v| (0.0..=1.0).contains(&v), "a value in [0, 1]")?;
        let features = c.get("featuresCol", FeaturesCol::Vector("features".into()))?;
        if let FeaturesCol::Columns(cols) = &features
            && cols.is_empty()
        {
            return Err(OperatorError::config("featuresCol", "the list of feature columns is empty"));
        }
        let initial_model = match c.get_opt::<InitialModelJson>("initialModel").map_err(|_| {
            OperatorError::config("initialModel", "expected \"zeros\", { coefficient = [...] } or { random = { seed = N, dim = D } }")
        })? {
            None => InitialModel::Zeros,
            Some(InitialModelJson::Name(n)) if n == "zeros" => InitialModel::Zeros,
            Some(InitialModelJson::Name(n)) => {
                return Err(OperatorError::config(
                    "initialModel",
                    format!("unknown initial model {n:?}: expected \"zeros\", {{ coefficient }} or {{ random }}"),
                ));
            }
            Some(InitialModelJson::Explicit { coefficient }) => {
                if coefficient.iter().any(|v| !v.is_finite()) {
                    return Err(OperatorError::config("initialModel.coefficient", "holds a non-finite value"));
                }
                InitialModel::Coefficient(coefficient)
            }
            Some(InitialModelJson::Random { random }) => InitialModel::Random { seed: random.seed, dim: random.dim },
        };
        let update = match c.get("update", "flink-ml".to_owned())?.as_str() {
            "flink-ml" => Update::FlinkMl,
            "river" => Update::River,
            other => return Err(OperatorError::config("update", format!("unknown value \"{other}\": expected \"flink-ml\" or \"river\""))),
        };
        // river learns row by row: a batch size other than 1 is refused rather than ignored.
        let batch_default = if update == Update::River { 1 } else { 32 };
        let global_batch_size = c.positive("globalBatchSize", batch_default)? as usize;
        if update == Update::River && global_batch_size != 1 {
            return Err(OperatorError::config(
                "globalBatchSize",
                format!("is {global_batch_size}, but update = \"river\" learns row by row: leave it out or set 1"),
            ));
        }
        let p = Self {
            alpha: c.f64_in("alpha", 0.1, |v| v > 0.0, "> 0")?,
            beta: c.f64_in("beta", 0.1, |v| v >= 0.0, ">= 0")?,
            l1: elastic * reg,
            l2: (1.0 - elastic) * reg,
            global_batch_size,
            features,
            label_col: c.get("labelCol", "label".to_owned())?,
            weight_col: c.get_opt("weightCol")?,
            prediction_col: c.get("predictionCol", "prediction".to_owned())?,
            raw_prediction_col: c.get("rawPredictionCol", "rawPrediction".to_owned())?,
            model_version_col: c.get("modelVersionCol", "modelVersion".to_owned())?,
            initial_model,
            update,
        };
        if let (InitialModel::Coefficient(w), FeaturesCol::Columns(cols)) = (&p.initial_model, &p.features)
            && w.len() != cols.len()
        {
            return Err(OperatorError::config(
                "initialModel.coefficient",
                format!("has {} values but featuresCol lists {} columns", w.len(), cols.len()),
            ));
        }
        Ok(p)
    }
}
