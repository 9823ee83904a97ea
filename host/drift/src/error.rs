//! The crate's errors. Both kinds are the caller's fault (a bad parameter, a snapshot that is
//! not an ADWIN state), and retrying with the same input cannot help.

/// A parameter of [`AdwinConfig`](crate::AdwinConfig) is out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `delta` is not in the open interval (0, 1).
    #[error("adwin: delta must lie strictly between 0 and 1, got {0}")]
    Delta(f64),
    /// `clock` is 0.
    #[error("adwin: clock must be at least 1 (1 tests the window after every value)")]
    Clock,
    /// `max_buckets` is below 2 or above [`MAX_BUCKETS`](crate::MAX_BUCKETS). river
    /// accepts 1, but then its bucket rows empty out as they merge and dropping the oldest
    /// bucket reads an empty row.
    #[error("adwin: max_buckets must be from 2 to 1024, got {0}")]
    MaxBuckets(u32),
}

/// A snapshot does not hold a consistent ADWIN state (it was altered, or is not one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot's parameters are invalid.
    #[error("adwin snapshot: {0}")]
    Config(#[from] ConfigError),
    /// The window's bookkeeping contradicts itself; the text says how.
    #[error("adwin snapshot: {0}")]
    Inconsistent(&'static str),
}
