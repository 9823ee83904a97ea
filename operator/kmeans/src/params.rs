//! OnlineKMeans's parameters, with Flink ML's names and defaults, parsed and range-checked so
//! that every refusal names the parameter at fault.

use eddy_sdk::{Config, FeaturesCol, OperatorError, ParamInfo};
use serde::{Deserialize, Serialize};

use crate::model::DistanceMeasure;

/// The initial model (`initialModel` in the config). Flink ML requires one; so does eddy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InitialModel {
    /// Flink ML's random initial model: `java.util.Random(seed).nextDouble()` centroid by
    /// centroid, coordinate by coordinate; every weight is `weight`.
    Random {
        /// The seed.
        seed: i64,
        /// The dimension; when absent it comes from `featuresCol` (a list of columns) or from
        /// the first row.
        dim: Option<usize>,
        /// The weight of every initial centroid.
        weight: f64,
    },
    /// Explicit centroids (k of them, one dimension) and their weights.
    Explicit {
        /// The centroids.
        centroids: Vec<Vec<f64>>,
        /// One weight per centroid.
        weights: Vec<f64>,
    },
}

/// `initialModel` as written in a config: `{ random = { seed, dim, weight } }` or
/// `{ centroids = [[..], ..], weights = [..] }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitialModelJson {
    random: Option<RandomJson>,
    centroids: Option<Vec<Vec<f64>>>,
    weights: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomJson {
    seed: i64,
    dim: Option<usize>,
    weight: Option<f64>,
}

/// OnlineKMeans's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Number of clusters (> 1).
    pub k: usize,
    /// How distances are measured.
    pub distance: DistanceMeasure,
    /// Rows per model update.
    pub global_batch_size: usize,
    /// Weight of the history in [0, 1].
    pub decay_factor: f64,
    /// Where features come from.
    pub features: FeaturesCol,
    /// Output column for the cluster index.
    pub prediction_col: String,
    /// Output column for the version of the model that assigned the row.
    pub model_version_col: String,
    /// The model before any update (version 0).
    pub initial_model: InitialModel,
}

const INITIAL_MODEL_FORMS: &str = "expected { random = { seed = N, dim = D, weight = W } } or { centroids = [[..], ..], weights = [..] }";

/// The parameters OnlineKMeans declares, with Flink ML's defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new("k", "int", Some("2"), "Number of clusters (> 1)."),
        ParamInfo::new("distanceMeasure", "string", Some("\"euclidean\""), "Distance measure: \"euclidean\", \"manhattan\" or \"cosine\"."),
        ParamInfo::new("globalBatchSize", "int", Some("32"), "Rows per model update (> 0); a trailing partial batch waits in the state."),
        ParamInfo::new(
            "decayFactor",
            "double",
            Some("0.0"),
            "Weight of the history in [0, 1]: 0 forgets it, 1 weighs every batch equally.",
        ),
        ParamInfo::new(
            "featuresCol",
            "string | list<string>",
            Some("\"features\""),
            "A vector column (dense list or sparse {size, indices, values}), or a list of numeric columns.",
        ),
        ParamInfo::new("predictionCol", "string", Some("\"prediction\""), "Output column for the index of the nearest centroid."),
        ParamInfo::new(
            "modelVersionCol",
            "string",
            Some("\"modelVersion\""),
            "Output column for the version of the model that assigned the row.",
        ),
        ParamInfo::new(
            "batchStrategy",
            "string",
            Some("\"count\""),
            "How rows are gathered into global batches: Flink ML's only strategy, \"count\" (globalBatchSize rows each); accepted for compatibility.",
        ),
        ParamInfo::new(
            "seed",
            "long",
            None,
            "Accepted for compatibility with Flink ML's OnlineKMeans, which declares it; the online update draws no random numbers (the initial model's random = { seed } sets the starting centroids).",
        ),
        ParamInfo::new(
            "initialModel",
            "{random: {seed, dim?, weight?}} | {centroids, weights?}",
            None,
            "The model before any update, published as version 0 (required, as in Flink ML).",
        ),
    ]
}

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let k: i64 = c.get("k", 2)?;
        if k <= 1 {
            return Err(OperatorError::config("k", format!("{k} is out of range: expected > 1")));
        }
        let k = usize::try_from(k).map_err(|_| OperatorError::config("k", "too large"))?;
        let distance = match c.get("distanceMeasure", "euclidean".to_owned())?.as_str() {
            "euclidean" => DistanceMeasure::Euclidean,
            "manhattan" => DistanceMeasure::Manhattan,
            "cosine" => DistanceMeasure::Cosine,
            other => {
                return Err(OperatorError::config(
                    "distanceMeasure",
                    format!("unknown distance measure {other:?}: expected \"euclidean\", \"manhattan\" or \"cosine\""),
                ));
            }
        };
        let strategy: String = c.get("batchStrategy", "count".to_owned())?;
        if !strategy.eq_ignore_ascii_case("count") {
            return Err(OperatorError::config(
                "batchStrategy",
                format!(
                    "{strategy:?} is not a batch strategy: Flink ML's OnlineKMeans has only \"count\" (batches of globalBatchSize rows)"
                ),
            ));
        }
        // Read for its type only: nothing random happens after the initial model.
        let _seed: Option<i64> = c.get_opt("seed")?;
        let features = c.get("featuresCol", FeaturesCol::Vector("features".into()))?;
        if let FeaturesCol::Columns(cols) = &features
            && cols.is_empty()
        {
            return Err(OperatorError::config("featuresCol", "the list of feature columns is empty"));
        }
        let initial_model = initial_model(c, k, distance)?;
        let list_dim = match &features {
            FeaturesCol::Columns(cols) => Some(cols.len()),
            FeaturesCol::Vector(_) => None,
        };
        let model_dim = match &initial_model {
            InitialModel::Random { dim, .. } => *dim,
            InitialModel::Explicit { centroids, .. } => centroids.first().map(Vec::len),
        };
        if let (Some(l), Some(m)) = (list_dim, model_dim)
            && l != m
        {
            return Err(OperatorError::config("initialModel", format!("has dimension {m} but featuresCol lists {l} columns")));
        }
        let prediction_col: String = c.get("predictionCol", "prediction".to_owned())?;
        let model_version_col: String = c.get("modelVersionCol", "modelVersion".to_owned())?;
        for (name, value) in [("predictionCol", &prediction_col), ("modelVersionCol", &model_version_col)] {
            if value.is_empty() || value == eddy_sdk::SEQ_COLUMN {
                return Err(OperatorError::config(name, format!("{value:?} is not a usable output column name")));
            }
        }
        if prediction_col == model_version_col {
            return Err(OperatorError::config("modelVersionCol", format!("{model_version_col:?} is also predictionCol")));
        }
        Ok(Self {
            k,
            distance,
            global_batch_size: usize::try_from(c.positive("globalBatchSize", 32)?)
                .map_err(|_| OperatorError::config("globalBatchSize", "too large"))?,
            decay_factor: c.f64_in("decayFactor", 0.0, |v| (0.0..=1.0).contains(&v), "a value in [0, 1]")?,
            features,
            prediction_col,
            model_version_col,
            initial_model,
        })
    }
}

fn initial_model(c: &Config, k: usize, distance: DistanceMeasure) -> Result<InitialModel, OperatorError> {
    let Some(json) = c.get_opt::<InitialModelJson>("initialModel")? else {
        return Err(OperatorError::config(
            "initialModel",
            format!("required (Flink ML needs an initial model too): {INITIAL_MODEL_FORMS}"),
        ));
    };
    match json {
        InitialModelJson { random: Some(r), centroids: None, weights: None } => {
            let weight = r.weight.unwrap_or(0.0);
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(OperatorError::config(
                    "initialModel.random.weight",
                    format!("{weight} is out of range: expected a finite value >= 0"),
                ));
            }
            if r.dim == Some(0) {
                return Err(OperatorError::config("initialModel.random.dim", "0 is out of range: expected > 0"));
            }
            Ok(InitialModel::Random { seed: r.seed, dim: r.dim, weight })
        }
        InitialModelJson { random: None, centroids: Some(centroids), weights } => {
            if centroids.len() != k {
                return Err(OperatorError::config("initialModel.centroids", format!("has {} centroids but k is {k}", centroids.len())));
            }
            let dim = centroids[0].len();
            if dim == 0 {
                return Err(OperatorError::config("initialModel.centroids", "centroids must not be empty"));
            }
            for (i, cen) in centroids.iter().enumerate() {
                if cen.len() != dim {
                    return Err(OperatorError::config(
                        format!("initialModel.centroids[{i}]"),
                        format!("has dimension {} but centroid 0 has {dim}", cen.len()),
                    ));
                }
                if cen.iter().any(|v| !v.is_finite()) {
                    return Err(OperatorError::config(format!("initialModel.centroids[{i}]"), "holds a non-finite value"));
                }
                if distance == DistanceMeasure::Cosine && cen.iter().all(|v| *v == 0.0) {
                    return Err(OperatorError::config(
                        format!("initialModel.centroids[{i}]"),
                        "is the zero vector, for which cosine distance is undefined",
                    ));
                }
            }
            let weights = weights.unwrap_or_else(|| vec![0.0; k]);
            if weights.len() != k {
                return Err(OperatorError::config(
                    "initialModel.weights",
                    format!("has {} weights but there are {k} centroids", weights.len()),
                ));
            }
            if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
                return Err(OperatorError::config("initialModel.weights", format!("{w} is out of range: expected finite values >= 0")));
            }
            Ok(InitialModel::Explicit { centroids, weights })
        }
        _ => Err(OperatorError::config("initialModel", INITIAL_MODEL_FORMS)),
    }
}
