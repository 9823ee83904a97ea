//! The sandbox an operator instance runs in, as configuration with documented defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits applied to every operator instance.
///
/// An operator gets no file system, network, environment, arguments or real clock (its WASI
/// clocks read zero and its random source is a fixed sequence, so even a careless operator
/// stays deterministic); these limits bound what it can take from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most linear memory one instance may hold, in MiB (default 512). Growing past it traps
    /// the instance.
    pub memory_mib: u64,
    /// Longest one call into the operator may run, in milliseconds (default 30,000). Enforced
    /// by epoch interruption, so it costs almost nothing while the operator runs.
    pub call_timeout_ms: u64,
    /// Most bytes one call may return, in MiB (default 256): outputs, model versions or model
    /// data past it are a broken contract, refused before they are decoded (the record in
    /// flight is then retried alone, as for a trap, and set aside if it fails again).
    pub output_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_mib: 512, call_timeout_ms: 30_000, output_mib: 256 }
    }
}

impl Limits {
    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The output limit in bytes.
    pub fn output_bytes(&self) -> usize {
        usize::try_from(self.output_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    /// The call timeout.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// How often the epoch ticker advances; call deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Ticks of [`EPOCH_TICK`] in `d`, at least one.
pub(crate) fn ticks(d: Duration) -> u64 {
    (d.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}
