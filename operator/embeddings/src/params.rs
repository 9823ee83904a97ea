//! The embedding updater's parameters: names, defaults, one-sentence docs, and the range checks
//! that turn a bad value into a config error naming the parameter.

use eddy_sdk::{Config, OperatorError, ParamInfo, TIMESTAMP_COLUMN};
use serde::{Deserialize, Serialize};

/// The pairwise or pointwise loss the model is trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Bayesian personalised ranking: `-ln σ(s(u,i) - s(u,j))` for each sampled negative `j`.
    Bpr,
    /// Logistic (negative sampling as in word2vec): `-ln σ(s(u,i)) - Σ_j ln σ(-s(u,j))`.
    Logistic,
}

/// How a vector's step is sized from its gradients (one accumulator per vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Row-wise AdaGrad: `G += |g|²/dim`, step `lr / √G`. The step shrinks with the vector's
    /// whole history, so a vector that has learned much adapts slowly after a drift.
    AdaGrad,
    /// Row-wise RMSProp (AdaGrad with a decaying accumulator): `G = decay·G + (1-decay)·|g|²/dim`
    /// (the first update sets `G = |g|²/dim`), step `lr / √G`: the step follows the recent
    /// gradients only, so it keeps adapting.
    RmsProp,
    /// Plain SGD: step `lr`.
    Sgd,
    /// Plain SGD for the user vectors (with `userLearningRate`: a user's step never shrinks,
    /// so a changed taste is re-learned in a few events), row-wise AdaGrad for the item vectors
    /// (many updates each: steps that shrink as they settle).
    Hybrid,
}

/// How ids are written in the outputs (`topK`, and the `id` of published rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdFormat {
    /// As the input held them: a string id as the string (`sku-1`), an integer as its digits
    /// (`42`); a string that would read like an integer or starts with a quote keeps its JSON
    /// quotes (`"42"`), so two ids are never written alike.
    Plain,
    /// The canonical JSON text of every id (`"sku-1"`, `42`).
    Json,
}

/// The embedding updater's configuration, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Column holding the user id (a JSON string or integer).
    pub user_col: String,
    /// Column holding the item id (a JSON string or integer).
    pub item_col: String,
    /// Optional column holding the event's weight (>= 0; null means 1).
    pub weight_col: Option<String>,
    /// Column holding the event time in ms (Int64).
    pub timestamp_col: String,
    /// Embedding dimension.
    pub dim: usize,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// Negatives sampled per event.
    pub negatives: usize,
    /// L2 regularisation applied to every vector an event updates.
    pub reg: f32,
    /// The loss.
    pub loss: Loss,
    /// Seed of the generator that initialises vectors and samples negatives.
    pub seed: u64,
    /// Standard deviation of the initial vector coordinates (uniform distribution).
    pub init_std: f32,
    /// An id gets a vector at its `admit_after`-th event.
    pub admit_after: u32,
    /// Event-time span after which an id that was not seen is evicted (0 = never).
    pub expire_after_ms: i64,
    /// Most ids (users plus items, admitted or still counting) held at once.
    pub max_ids: u64,
    /// Items listed per event in the `topK` output column (0 = no column).
    pub top_k: usize,
    /// Whether to rank the true item among the known items for each event.
    pub evaluate: bool,
    /// Publish the changed vectors every this many events (0 = only at watermarks).
    pub publish_every_events: u64,
    /// Number of recent positive item occurrences kept for popularity sampling.
    pub popularity_window: usize,
    /// Probability that a negative is drawn from the popularity window rather than uniformly
    /// from the known items.
    pub popularity_mix: f64,
    /// Every this many snapshots is a full one; the others are deltas (1 = always full).
    pub full_snapshot_every: u64,
    /// How steps are sized.
    pub optimizer: Optimizer,
    /// Base learning rate of the user vectors.
    pub user_learning_rate: f32,
    /// Weight of the positive's estimated rank in the user's step (0 = plain BPR).
    pub rank_weight: f64,
    /// Decay of the RMSProp accumulator.
    pub decay: f32,
    /// How ids are written in the outputs.
    pub id_format: IdFormat,
}

/// The parameters the embedding updater declares, with their defaults.
pub fn param_infos() -> Vec<ParamInfo> {
    vec![
        ParamInfo::new(
            "userCol",
            "string",
            Some("\"user\""),
            "Column holding the user id, a JSON string or integer (`42` and `\"42\"` are different ids).",
        ),
        ParamInfo::new(
            "itemCol",
            "string",
            Some("\"item\""),
            "Column holding the item id, a JSON string or integer (`42` and `\"42\"` are different ids).",
        ),
        ParamInfo::new(
            "weightCol",
            "string",
            None,
            "Optional column holding the event's weight (>= 0, null means 1); it scales the event's gradient.",
        ),
        ParamInfo::new(
            "timestampCol",
            "string",
            Some("\"__timestamp\""),
            "Column holding the event time in ms since the epoch (Int64); `__timestamp` is the record timestamp.",
        ),
        ParamInfo::new("dim", "long", Some("32"), "Embedding dimension (1 to 1024)."),
        ParamInfo::new(
            "learningRate",
            "double",
            Some("0.1"),
            "Base learning rate of the item vectors (> 0); userLearningRate sets the users'.",
        ),
        ParamInfo::new("negatives", "long", Some("8"), "Negatives sampled per event (0 to 1000)."),
        ParamInfo::new("reg", "double", Some("0.0001"), "L2 regularisation of every vector an event updates (>= 0)."),
        ParamInfo::new(
            "loss",
            "\"bpr\" | \"logistic\"",
            Some("\"bpr\""),
            "BPR (pairwise, one term per negative) or logistic (the positive against each negative, as word2vec).",
        ),
        ParamInfo::new(
            "seed",
            "long",
            Some("0"),
            "Seed of the generator (SplitMix64, kept in the state) that draws initial vectors and negatives.",
        ),
        ParamInfo::new("initStd", "double", Some("0.1"), "Standard deviation of the initial vector coordinates, drawn uniformly (> 0)."),
        ParamInfo::new(
            "admitAfter",
            "long",
            Some("1"),
            "An id gets its own vector at its admitAfter-th event; before that it is counted only, and its events are scored as cold and not learned from (>= 1).",
        ),
        ParamInfo::new(
            "expireAfterMs",
            "long",
            Some("0"),
            "An id unseen for more than this event-time span is evicted, with a tombstone if it had a vector (0 = never; >= 0).",
        ),
        ParamInfo::new(
            "maxIds",
            "long",
            Some("250000"),
            "Most ids (users plus items, admitted or counting) held at once; a new id at the bound evicts the least recently seen one (>= 2).",
        ),
        ParamInfo::new(
            "topK",
            "long",
            Some("0"),
            "When > 0, the predictions carry a `topK` column: the topK best-scored known item ids for the event's user (0 to 1000).",
        ),
        ParamInfo::new(
            "evaluate",
            "boolean",
            Some("true"),
            "Rank the true item among all known items before learning (`rank`, `hit10`, `reciprocalRank`); costs items * dim per event.",
        ),
        ParamInfo::new(
            "publishEveryEvents",
            "long",
            Some("10000"),
            "Publish the vectors changed since the last publication every this many events, and at every watermark (0 = at watermarks only).",
        ),
        ParamInfo::new(
            "popularityWindow",
            "long",
            Some("100000"),
            "Recent positive item occurrences kept for sampling negatives by popularity (>= 1).",
        ),
        ParamInfo::new(
            "popularityMix",
            "double",
            Some("0"),
            "Probability that a negative is drawn from the popularity window; otherwise it is drawn uniformly from the known items ([0, 1]).",
        ),
        ParamInfo::new(
            "optimizer",
            "\"hybrid\" | \"adagrad\" | \"rmsprop\" | \"sgd\"",
            Some("\"hybrid\""),
            "How each vector's step is sized: hybrid (plain SGD for users at userLearningRate, so a changed taste is re-learned in a few events; row-wise AdaGrad for items), row-wise AdaGrad for both (steps shrink with each vector's history: slow after a drift), row-wise RMSProp (AdaGrad with a decaying accumulator), or plain SGD.",
        ),
        ParamInfo::new("userLearningRate", "double", Some("0.07"), "Base learning rate of the user vectors (> 0)."),
        ParamInfo::new(
            "rankWeight",
            "double",
            Some("0.15"),
            "Scales the user's step of each event by 1 + rankWeight * ln(1 + r), r the positive's rank among the items estimated from the sampled negatives scored at or above it: a positive ranked far down (a taste that changed) moves the user more (0 = plain BPR; 0 to 100).",
        ),
        ParamInfo::new(
            "decay",
            "double",
            Some("0.99"),
            "Decay of the RMSProp accumulator of mean squared gradients, with optimizer = \"rmsprop\" (0 < decay < 1).",
        ),
        ParamInfo::new(
            "idFormat",
            "\"plain\" | \"json\"",
            Some("\"plain\""),
            "How ids are written in `topK` and in published rows: plain (a string id as the string, an integer as its digits; a string that reads like an integer keeps its quotes) or as JSON text.",
        ),
        ParamInfo::new(
            "fullSnapshotEvery",
            "long",
            Some("10"),
            "Of the snapshots a host takes for its checkpoints, every this many is full and the others are deltas of the changed entries that restore only as a chain (1 = always full); a host that asks for a full snapshot always gets one.",
        ),
    ]
}

fn long_in(c: &Config, name: &str, default: i64, lo: i64, hi: i64) -> Result<i64, OperatorError> {
    let v: i64 = c.get(name, default)?;
    if v < lo || v > hi {
        let range = if hi == i64::MAX { format!(">= {lo}") } else { format!("a value in [{lo}, {hi}]") };
        return Err(OperatorError::config(name, format!("{v} is out of range: expected {range}")));
    }
    Ok(v)
}

fn column_name(c: &Config, name: &str, default: &str) -> Result<String, OperatorError> {
    let v: String = c.get(name, default.to_owned())?;
    if v.is_empty() {
        return Err(OperatorError::config(name, "a column name cannot be empty"));
    }
    Ok(v)
}

impl Params {
    /// Reads and checks every parameter.
    pub fn from_config(c: &Config) -> Result<Self, OperatorError> {
        let loss = match c.get::<String>("loss", "bpr".into())?.as_str() {
            "bpr" => Loss::Bpr,
            "logistic" => Loss::Logistic,
            other => return Err(OperatorError::config("loss", format!("unknown loss {other:?}: expected \"bpr\" or \"logistic\""))),
        };
        let optimizer = match c.get::<String>("optimizer", "hybrid".into())?.as_str() {
            "adagrad" => Optimizer::AdaGrad,
            "rmsprop" => Optimizer::RmsProp,
            "sgd" => Optimizer::Sgd,
            "hybrid" => Optimizer::Hybrid,
            other => {
                return Err(OperatorError::config(
                    "optimizer",
                    format!("unknown optimizer {other:?}: expected \"hybrid\", \"adagrad\", \"rmsprop\" or \"sgd\""),
                ));
            }
        };
        let id_format = match c.get::<String>("idFormat", "plain".into())?.as_str() {
            "plain" => IdFormat::Plain,
            "json" => IdFormat::Json,
            other => return Err(OperatorError::config("idFormat", format!("unknown id format {other:?}: expected \"plain\" or \"json\""))),
        };
        let weight_col: Option<String> = c.get_opt("weightCol")?;
        if weight_col.as_deref() == Some("") {
            return Err(OperatorError::config("weightCol", "a column name cannot be empty"));
        }
        let p = Self {
            user_col: column_name(c, "userCol", "user")?,
            item_col: column_name(c, "itemCol", "item")?,
            weight_col,
            timestamp_col: column_name(c, "timestampCol", TIMESTAMP_COLUMN)?,
            dim: long_in(c, "dim", 32, 1, 1024)? as usize,
            learning_rate: c.f64_in("learningRate", 0.1, |v| v > 0.0 && v <= 1e6, "> 0")? as f32,
            negatives: long_in(c, "negatives", 8, 0, 1000)? as usize,
            reg: c.f64_in("reg", 1e-4, |v| (0.0..=1e6).contains(&v), ">= 0")? as f32,
            loss,
            seed: c.get::<i64>("seed", 0)? as u64,
            init_std: c.f64_in("initStd", 0.1, |v| v > 0.0 && v <= 1e6, "> 0")? as f32,
            admit_after: long_in(c, "admitAfter", 1, 1, i64::from(u32::MAX))? as u32,
            expire_after_ms: long_in(c, "expireAfterMs", 0, 0, i64::MAX)?,
            max_ids: long_in(c, "maxIds", 250_000, 2, i64::from(u32::MAX))? as u64,
            top_k: long_in(c, "topK", 0, 0, 1000)? as usize,
            evaluate: c.get("evaluate", true)?,
            publish_every_events: long_in(c, "publishEveryEvents", 10_000, 0, i64::MAX)? as u64,
            popularity_window: long_in(c, "popularityWindow", 100_000, 1, 100_000_000)? as usize,
            popularity_mix: c.f64_in("popularityMix", 0.0, |v| (0.0..=1.0).contains(&v), "a value in [0, 1]")?,
            full_snapshot_every: long_in(c, "fullSnapshotEvery", 10, 1, i64::MAX)? as u64,
            optimizer,
            user_learning_rate: c.f64_in("userLearningRate", 0.07, |v| v > 0.0 && v <= 1e6, "> 0")? as f32,
            rank_weight: c.f64_in("rankWeight", 0.15, |v| (0.0..=100.0).contains(&v), "a value in [0, 100]")?,
            decay: c.f64_in("decay", 0.99, |v| v > 0.0 && v < 1.0, "a value in (0, 1)")? as f32,
            id_format,
        };
        for (name, col) in
            [("itemCol", &p.item_col), ("weightCol", p.weight_col.as_ref().unwrap_or(&String::new())), ("timestampCol", &p.timestamp_col)]
        {
            if col == &p.user_col {
                return Err(OperatorError::config(name, format!("column {col:?} is already userCol")));
            }
        }
        if p.weight_col.as_deref() == Some(p.item_col.as_str()) || p.timestamp_col == p.item_col {
            let name = if p.timestamp_col == p.item_col { "timestampCol" } else { "weightCol" };
            return Err(OperatorError::config(name, format!("column {:?} is already itemCol", p.item_col)));
        }
        Ok(p)
    }
}
