//! Typed errors of the host library, classified by who is at fault.

use std::path::PathBuf;

use crate::record::Origin;

/// Who is at fault for an error, and so what a user should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The user's job, config or data: fix the input.
    User,
    /// The operator component: it trapped, looped, over-allocated or answered malformed data.
    Operator,
    /// Something outside (disk, broker): retrying may help.
    External,
    /// A bug in eddy.
    Internal,
}

/// Errors of the host library.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The job file or a `--set` override is wrong.
    #[error("job config: {0}")]
    Job(String),
    /// An operator refused its config at open.
    #[error("operator {operator}: invalid config: parameter `{parameter}`: {message}")]
    OperatorConfig {
        /// Operator name.
        operator: String,
        /// The parameter at fault.
        parameter: String,
        /// What is wrong.
        message: String,
    },
    /// A record could not be used and there is no dead-letter sink.
    #[error("bad record at {origin}{}: {message}", column.as_deref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    BadRecord {
        /// Where the record came from.
        origin: Origin,
        /// The column at fault, if known.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The operator trapped, ran out of time or memory, or broke the contract.
    #[error("operator {operator} failed while processing {range}: {message}")]
    OperatorFailed {
        /// Operator name.
        operator: String,
        /// The records it was processing (`topic/partition@first..=last`).
        range: String,
        /// What happened (trap message, timeout, memory limit, malformed output).
        message: String,
    },
    /// The operator returned an internal error.
    #[error("operator {operator}: {message}")]
    OperatorInternal {
        /// Operator name.
        operator: String,
        /// Its message.
        message: String,
    },
    /// A snapshot cannot be restored.
    #[error("cannot restore: {0}")]
    Restore(String),
    /// A component file cannot be loaded or compiled.
    #[error("cannot load operator component {path}: {message}")]
    Load {
        /// Where it came from.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A replay file is unreadable or malformed.
    #[error("replay {path}: {message}")]
    Replay {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Arrow failed on host-built data (a bug, or a sink problem).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Anything from the wasm runtime that is not the operator's fault.
    #[error("wasm runtime: {0}")]
    Runtime(String),
}

impl HostError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Job(_) | Self::OperatorConfig { .. } | Self::BadRecord { .. } | Self::Replay { .. } => Fault::User,
            Self::OperatorFailed { .. } | Self::OperatorInternal { .. } | Self::Restore(_) | Self::Load { .. } => Fault::Operator,
            Self::Io { .. } => Fault::External,
            Self::Arrow(_) | Self::Runtime(_) => Fault::Internal,
        }
    }

    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

/// Result alias of the host library.
pub type Result<T, E = HostError> = std::result::Result<T, E>;
