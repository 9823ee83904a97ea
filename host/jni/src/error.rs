//! Errors of the native library. Every one reaches Java as `dev.eddy.core.EddyException` with
//! its `Display` text as the message (see `exports.rs`).

use eddy_host::HostError;

/// What can go wrong in a call from Java.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host library failed: the operator refused its config or failed, a snapshot does not
    /// restore, the component does not load. The message is the host's, which names the operator
    /// and, for failures, the records it was processing.
    #[error("{0}")]
    Host(#[from] HostError),
    /// The caller broke the contract: an unknown handle, arrays of different lengths, a config
    /// that is not a JSON object.
    #[error("eddy: {0}")]
    Usage(String),
    /// A JNI call failed. When it left a Java exception pending (an `OutOfMemoryError`, say),
    /// that exception is what Java sees.
    #[error("eddy: JNI: {0}")]
    Jni(#[from] jni::errors::Error),
}

/// Result alias of the native library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}
