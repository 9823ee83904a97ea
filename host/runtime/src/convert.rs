//! The WIT types an operator returns (its description, its input columns, its errors),
//! converted to the SDK's types the rest of the host works with.

use eddy_sdk::{ColumnSpec, ColumnType, OperatorError, OperatorInfo, OperatorKind, ParamInfo};

use crate::bindings::types;

/// The operator's description of itself.
pub(crate) fn convert_info(i: types::OperatorInfo) -> OperatorInfo {
    OperatorInfo {
        name: i.name,
        version: i.version,
        kind: match i.kind {
            types::OperatorKind::Classifier => OperatorKind::Classifier,
            types::OperatorKind::Regressor => OperatorKind::Regressor,
            types::OperatorKind::Clusterer => OperatorKind::Clusterer,
            types::OperatorKind::Transformer => OperatorKind::Transformer,
            types::OperatorKind::Embedder => OperatorKind::Embedder,
            types::OperatorKind::AnomalyDetector => OperatorKind::AnomalyDetector,
        },
        description: i.description,
        params: i
            .params
            .into_iter()
            .map(|p| ParamInfo { name: p.name, type_name: p.type_name, default_value: p.default_value, doc: p.doc })
            .collect(),
    }
}

/// The columns an instance reads.
pub(crate) fn convert_columns(cols: Vec<types::ColumnSpec>) -> Vec<ColumnSpec> {
    cols.into_iter()
        .map(|c| ColumnSpec {
            name: c.name,
            column_type: match c.column_type {
                types::ColumnType::Float64 => ColumnType::Float64,
                types::ColumnType::Int64 => ColumnType::Int64,
                types::ColumnType::Utf8 => ColumnType::Utf8,
                types::ColumnType::Json => ColumnType::Json,
                types::ColumnType::Vector => ColumnType::Vector,
                types::ColumnType::Label => ColumnType::Label,
            },
            required: c.required,
        })
        .collect()
}

/// An error the operator returned (not a trap).
pub(crate) fn convert_error(e: types::OperatorError) -> OperatorError {
    match e {
        types::OperatorError::InvalidConfig(c) => OperatorError::config(c.parameter, c.message),
        types::OperatorError::InvalidInput(i) => OperatorError::input(i.row as usize, i.column.as_deref(), i.message),
        types::OperatorError::Internal(m) => OperatorError::internal(m),
    }
}
