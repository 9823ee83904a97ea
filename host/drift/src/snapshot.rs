//! The serialized form of a detector: its parameters, its statistics and its bucket rows as
//! plain lists, checked for consistency when read back.

use serde::{Deserialize, Serialize};

use crate::buckets::{Bucket, Buckets};
use crate::{Adwin, AdwinConfig, SnapshotError};

/// What [`Adwin`] serializes to and deserializes from.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Adwin", deny_unknown_fields)]
pub(crate) struct Snapshot {
    config: AdwinConfig,
    width: u64,
    total: f64,
    variance_sum: f64,
    tick: u32,
    drift_detected: bool,
    n_detections: u64,
    /// Bucket rows, newest (single values) first; each row's buckets oldest first, as
    /// (sum, sum of squared deviations) pairs.
    rows: Vec<Vec<(f64, f64)>>,
}

impl From<Adwin> for Snapshot {
    fn from(a: Adwin) -> Self {
        let rows = (0..a.buckets.rows()).map(|i| a.buckets.row(i).iter().map(|b| (b.total, b.variance)).collect()).collect();
        Self {
            config: a.config,
            width: a.width,
            total: a.total,
            variance_sum: a.variance_sum,
            tick: a.tick,
            drift_detected: a.drift_detected,
            n_detections: a.n_detections,
            rows,
        }
    }
}

impl TryFrom<Snapshot> for Adwin {
    type Error = SnapshotError;

    fn try_from(s: Snapshot) -> Result<Self, SnapshotError> {
        use SnapshotError::Inconsistent;
        s.config.validate()?;
        if s.tick >= s.config.clock {
            return Err(Inconsistent("the clock is past its period"));
        }
        if s.rows.is_empty() {
            return Err(Inconsistent("no bucket row"));
        }
        // Row i's buckets hold 2^i values each: the rows must account for the width exactly.
        let mut width = 0u64;
        for (i, row) in s.rows.iter().enumerate() {
            if row.len() > s.config.max_buckets as usize {
                return Err(Inconsistent("a bucket row holds more than max_buckets buckets"));
            }
            if i > 0 && row.is_empty() {
                return Err(Inconsistent("an empty bucket row above the first"));
            }
            width = u32::try_from(i)
                .ok()
                .and_then(|i| 1u64.checked_shl(i))
                .and_then(|size| size.checked_mul(row.len() as u64))
                .and_then(|n| width.checked_add(n))
                .ok_or(Inconsistent("the bucket rows hold more values than a window can"))?;
        }
        if width != s.width {
            return Err(Inconsistent("the width is not the number of values in the buckets"));
        }
        let rows: Vec<Vec<Bucket>> =
            s.rows.iter().map(|r| r.iter().map(|&(total, variance)| Bucket { total, variance }).collect()).collect();
        Ok(Adwin {
            config: s.config,
            buckets: Buckets::from_rows(s.config.max_buckets as usize, &rows),
            width: s.width,
            total: s.total,
            variance_sum: s.variance_sum,
            tick: s.tick,
            drift_detected: s.drift_detected,
            n_detections: s.n_detections,
        })
    }
}
