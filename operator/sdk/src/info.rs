//! What an operator says of itself, and which columns it reads: native mirrors of the WIT
//! `operator-info` and `column-spec` records.

/// The kind of operator; hosts use it to choose prequential metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    /// Predicts a class.
    Classifier,
    /// Predicts a number.
    Regressor,
    /// Assigns rows to clusters.
    Clusterer,
    /// Rewrites columns.
    Transformer,
    /// Learns embeddings.
    Embedder,
    /// Scores how anomalous each row is, unsupervised (higher: more anomalous); the host
    /// scores that score against a 0/1 label by ROC AUC.
    AnomalyDetector,
}

/// One configuration parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    /// Name as written in the config.
    pub name: String,
    /// Short type description.
    pub type_name: String,
    /// Default as JSON text, if any.
    pub default_value: Option<String>,
    /// One sentence on what it does.
    pub doc: String,
}

impl ParamInfo {
    /// Builds a parameter description; `default` is JSON text (`"0.1"`, `"\"label\""`).
    pub fn new(name: &str, type_name: &str, default: Option<&str>, doc: &str) -> Self {
        Self { name: name.into(), type_name: type_name.into(), default_value: default.map(str::to_owned), doc: doc.into() }
    }
}

/// What an operator says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Stable name; snapshots carry it.
    pub name: String,
    /// Semantic version; snapshots restore only into the same major version.
    pub version: String,
    /// Kind of operator.
    pub kind: OperatorKind,
    /// One paragraph for humans.
    pub description: String,
    /// Every parameter the config may set.
    pub params: Vec<ParamInfo>,
}

/// How the host must deliver an input column (see the WIT `column-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Arrow Float64; NaN and infinities rejected by the host.
    Float64,
    /// Arrow Int64.
    Int64,
    /// Arrow Utf8.
    Utf8,
    /// Arrow Utf8 holding the value's canonical JSON text.
    Json,
    /// Dense or sparse vector as the struct of [`crate::vector_data_type`].
    Vector,
    /// A class label (number, string or boolean) as Arrow Utf8 holding its canonical JSON
    /// text; read it with [`crate::labels`].
    Label,
}

/// One column an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// Delivered type.
    pub column_type: ColumnType,
    /// Whether null or missing makes the row invalid.
    pub required: bool,
}

impl ColumnSpec {
    /// A required column.
    pub fn required(name: &str, column_type: ColumnType) -> Self {
        Self { name: name.into(), column_type, required: true }
    }

    /// An optional column (arrives as null when absent).
    pub fn optional(name: &str, column_type: ColumnType) -> Self {
        Self { name: name.into(), column_type, required: false }
    }
}
