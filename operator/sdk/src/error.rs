//! Typed operator errors, mirroring the WIT `operator-error` variant.

/// A config that the operator refuses: names the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The parameter, as named in the config.
    pub parameter: String,
    /// What is wrong with it.
    pub message: String,
}

/// An input row that the operator refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// 0-based index of the row within the batch given to `process`.
    pub row: u32,
    /// What is wrong with it.
    pub message: String,
}

/// What an operator returns when it refuses a call. Traps (panics) are a different thing: the
/// host contains them and treats the instance as broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// Bad config, raised at open.
    #[error("invalid config: parameter `{}`: {}", .0.parameter, .0.message)]
    InvalidConfig(ConfigError),
    /// A bad row; the operator's state is unchanged.
    #[error("invalid input at row {}{}: {}", .0.row, .0.column.as_deref().map(|c| format!(", column `{c}`")).unwrap_or_default(), .0.message)]
    InvalidInput(InputError),
    /// Anything else (a corrupt snapshot, a bug).
    #[error("internal operator error: {0}")]
    Internal(String),
}

impl OperatorError {
    /// A config error for `parameter`.
    pub fn config(parameter: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig(ConfigError { parameter: parameter.into(), message: message.into() })
    }

    /// An input error at `row`, optionally naming a column.
    pub fn input(row: usize, column: Option<&str>, message: impl Into<String>) -> Self {
        Self::InvalidInput(InputError {
            column: column.map(str::to_owned),
            row: u32::try_from(row).unwrap_or(u32::MAX),
            message: message.into(),
        })
    }

    /// An internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }
}
