//! Logging from inside an operator: the only host function an operator imports.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Writes one log line through the host (on wasm) or to stderr (natively, for tests).
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::wasm::bindings::eddy::operator::logging::{Level as L, log as host_log};
        let l = match level {
            Level::Trace => L::Trace,
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        host_log(l, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    if level >= Level::Warn {
        eprintln!("[{level:?}] {message}");
    }
}
