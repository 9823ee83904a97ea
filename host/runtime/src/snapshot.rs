//! What a pipeline's snapshot holds (every stage's operator state and the rows it has not
//! answered, the numbering, the latest timestamp, the prequential metrics, the drift detector)
//! and the pure rules
//! of snapshot chains (which links a restore still needs).

use eddy_sdk::SnapshotKind;
use serde::{Deserialize, Serialize};

use crate::drift::DriftState;
use crate::metrics::Prequential;
use crate::{HostError, Record, Result};

/// One stage's part of a [`PipelineSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSnapshot {
    /// Operator name, checked on restore.
    pub operator: String,
    /// Operator version.
    pub version: String,
    /// Whether `state` is whole or a delta on this stage's state in the previous snapshot
    /// of a chain (see [`crate::Pipeline::restore_chain`]).
    pub kind: SnapshotKind,
    /// The operator's snapshot bytes.
    pub state: Vec<u8>,
    /// Rows sent to this stage but not answered yet: (seq, record, row in record, the
    /// earlier stages' outputs for that row as a one-row Arrow IPC stream, if there are any).
    pub pending: Vec<(u64, Record, usize, Option<Vec<u8>>)>,
}

/// Everything needed to resume a pipeline: every stage's operator snapshot plus the host's own
/// state (numbering, rows waiting for an answer, latest timestamp).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// One per stage, in chain order.
    pub stages: Vec<StageSnapshot>,
    /// Next `__seq` to hand out.
    pub next_seq: u64,
    /// Latest record timestamp seen (stamps model records that name no input row).
    pub last_timestamp: i64,
    /// The prequential metrics of every row answered before the snapshot, so that a restored
    /// job's summary and gauges cover the whole stream. Snapshots written before eddy kept them
    /// restore with empty metrics (then counting starts at the restore, as it used to).
    pub metrics: Prequential,
    /// The drift detector of the prequential error, with its detections so far (none when
    /// drift detection is off). Snapshots written before eddy kept it restore without one
    /// (then detection starts at the restore, with an empty window).
    pub drift: Option<DriftState>,
}

/// A snapshot as eddy wrote them before the drift detector was part of it (the same fields,
/// in the same order, without the last).
#[derive(Deserialize)]
struct SnapshotWithoutDrift {
    stages: Vec<StageSnapshot>,
    next_seq: u64,
    last_timestamp: i64,
    metrics: Prequential,
}

/// A snapshot as eddy wrote them before metrics were part of it.
#[derive(Deserialize)]
struct SnapshotWithoutMetrics {
    stages: Vec<StageSnapshot>,
    next_seq: u64,
    last_timestamp: i64,
}

impl PipelineSnapshot {
    /// Serialized form.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("snapshot serializes")
    }

    /// Parses bytes written by [`PipelineSnapshot::to_bytes`] (of this version of eddy, or of
    /// one from before the drift detector or the metrics were kept, see
    /// [`PipelineSnapshot::drift`] and [`PipelineSnapshot::metrics`]). Trailing bytes are
    /// refused.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let err = |e: postcard::Error| HostError::Restore(format!("not a pipeline snapshot: {e}"));
        match postcard::take_from_bytes::<Self>(b) {
            Ok((s, [])) => Ok(s),
            Ok((_, rest)) => Err(HostError::Restore(format!("not a pipeline snapshot: {} bytes after its end", rest.len()))),
            Err(new) => {
                if let Ok((old, [])) = postcard::take_from_bytes::<SnapshotWithoutDrift>(b) {
                    return Ok(Self {
                        stages: old.stages,
                        next_seq: old.next_seq,
                        last_timestamp: old.last_timestamp,
                        metrics: old.metrics,
                        drift: None,
                    });
                }
                match postcard::take_from_bytes::<SnapshotWithoutMetrics>(b) {
                    Ok((old, [])) => Ok(Self {
                        stages: old.stages,
                        next_seq: old.next_seq,
                        last_timestamp: old.last_timestamp,
                        metrics: Prequential::default(),
                        drift: None,
                    }),
                    _ => Err(err(new)),
                }
            }
        }
    }

    /// Whether every stage's state is whole, so that this snapshot restores alone.
    pub fn is_full(&self) -> bool {
        self.stages.iter().all(|s| s.kind == SnapshotKind::Full)
    }

    /// Of a chain of snapshots (oldest first), the index of the first one still needed to
    /// restore the last (see [`chain_start`]). A chain in which a stage has no full state is
    /// refused.
    pub fn needed_from(chain: &[PipelineSnapshot]) -> Result<usize> {
        let Some(last) = chain.last() else { return Err(HostError::Restore("an empty snapshot chain".into())) };
        let flags: Vec<Vec<bool>> = chain.iter().map(|s| s.stages.iter().map(|st| st.kind == SnapshotKind::Full).collect()).collect();
        let flags: Vec<&[bool]> = flags.iter().map(Vec::as_slice).collect();
        chain_start(&flags).ok_or_else(|| {
            let i = (0..last.stages.len()).find(|&i| !flags.iter().any(|f| f.get(i).copied().unwrap_or(false))).unwrap_or(0);
            HostError::Restore(format!(
                "the snapshot chain has no full snapshot of stage {} ({}): its {} snapshots are all deltas",
                i + 1,
                last.stages.get(i).map_or("?", |s| s.operator.as_str()),
                chain.len()
            ))
        })
    }

    /// The operator names, in chain order (for error messages and logs).
    pub fn operators(&self) -> String {
        self.stages.iter().map(|s| format!("{} {}", s.operator, s.version)).collect::<Vec<_>>().join(" | ")
    }
}

/// Of a chain of snapshots (oldest first), each given by whether it holds each stage's state
/// whole, the index of the first one still needed to restore the last: every stage needs its
/// last whole state and the deltas after it. `None` if a stage has no whole state in the chain
/// (or the chain is empty). Hosts that store chains use it to drop what a newer full state
/// replaced.
pub fn chain_start(full_stages: &[&[bool]]) -> Option<usize> {
    let last = full_stages.last()?;
    let mut from = full_stages.len() - 1;
    for i in 0..last.len() {
        from = from.min(full_stages.iter().rposition(|f| f.get(i).copied().unwrap_or(false))?);
    }
    Some(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PipelineSnapshot {
        let mut metrics = Prequential::default();
        metrics.classified(Some(1.0), Some(0.8), 1.0);
        metrics.classified(Some(1.0), Some(0.6), 0.0);
        let mut drift = DriftState::new(eddy_drift::AdwinConfig::default()).unwrap();
        let at = crate::drift::RowAt { topic: "t", partition: 0, offset: 0, row: 0, timestamp: 0, model_version: None };
        for i in 0..100 {
            drift.update(f64::from(i % 3 == 0), &at);
        }
        PipelineSnapshot {
            stages: vec![StageSnapshot {
                operator: "OnlineLogisticRegression".into(),
                version: "1.2.0".into(),
                kind: SnapshotKind::Full,
                state: vec![1, 2, 3],
                pending: Vec::new(),
            }],
            next_seq: 17,
            last_timestamp: 1234,
            metrics,
            drift: Some(drift),
        }
    }

    #[test]
    fn snapshots_keep_metrics_and_drift_and_read_those_written_before_they_did() {
        let s = sample();
        let back = PipelineSnapshot::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.metrics.summary().accuracy, Some(0.5));
        assert_eq!(back.drift.as_ref().map(DriftState::rows), Some(100));
        let off = PipelineSnapshot { drift: None, ..s.clone() };
        assert_eq!(PipelineSnapshot::from_bytes(&off.to_bytes()).unwrap(), off);
        // The bytes of an eddy that kept metrics but no drift detector.
        #[derive(Serialize)]
        struct WithoutDrift<'a> {
            stages: &'a [StageSnapshot],
            next_seq: u64,
            last_timestamp: i64,
            metrics: &'a Prequential,
        }
        let old =
            postcard::to_stdvec(&WithoutDrift { stages: &s.stages, next_seq: 17, last_timestamp: 1234, metrics: &s.metrics }).unwrap();
        let back = PipelineSnapshot::from_bytes(&old).unwrap();
        assert_eq!(back, off, "the same snapshot without a detector");
        // The bytes an older eddy wrote: the same fields without the metrics.
        #[derive(Serialize)]
        struct Old<'a> {
            stages: &'a [StageSnapshot],
            next_seq: u64,
            last_timestamp: i64,
        }
        let old = postcard::to_stdvec(&Old { stages: &s.stages, next_seq: 17, last_timestamp: 1234 }).unwrap();
        let back = PipelineSnapshot::from_bytes(&old).unwrap();
        assert_eq!((back.stages, back.next_seq, back.last_timestamp), (s.stages.clone(), 17, 1234));
        assert_eq!(back.metrics, Prequential::default());
        // Trailing bytes and cut snapshots are refused.
        let mut long = s.to_bytes();
        long.push(0);
        assert!(PipelineSnapshot::from_bytes(&long).is_err());
        let bytes = s.to_bytes();
        for cut in 0..bytes.len() {
            if let Ok(back) = PipelineSnapshot::from_bytes(&bytes[..cut]) {
                // Only the old formats can end early: a cut exactly after last_timestamp or
                // after the metrics.
                assert_eq!(back.drift, None, "cut {cut}");
                assert!(back.metrics == Prequential::default() || back.metrics == s.metrics, "cut {cut}");
            }
        }
    }

    #[test]
    fn chain_start_keeps_every_stage_s_last_full_state() {
        let (t, f) = (true, false);
        assert_eq!(chain_start(&[&[t], &[f], &[f]]), Some(0));
        assert_eq!(chain_start(&[&[t], &[f], &[t]]), Some(2));
        assert_eq!(chain_start(&[&[t, t], &[t, f], &[f, t]]), Some(1), "stage 0 needs links 1 and 2");
        assert_eq!(chain_start(&[&[f], &[f]]), None);
        assert_eq!(chain_start(&[]), None);
    }
}
