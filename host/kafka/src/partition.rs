//! Where one input partition stands, and how that changes: records handed to its pipeline,
//! a batch's outputs taken, a checkpoint planned and committed. Pure state transitions, no
//! I/O (the runner does the polling, producing and storing around them), so each is tested
//! here on its own.

use eddy_host::chain_start;

use crate::checkpoint::{Checkpoint, LinkRef, link_keys};

/// One partition's progress and checkpoint chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartState {
    /// Next offset to process; -1 until the first record when there was no checkpoint.
    pub next_offset: i64,
    /// The offset after the last record handed to the pipeline, while batches are in flight.
    pub queued: Option<i64>,
    /// Epoch of the next checkpoint.
    pub epoch: u64,
    /// Records processed over the pipeline's life (carried by checkpoints).
    pub records_in: u64,
    /// Changed since the last checkpoint.
    pub dirty: bool,
    /// The links of the last committed checkpoint's snapshot chain, oldest first.
    pub chain: Vec<LinkRef>,
    /// Chunk keys on the checkpoint topic that no checkpoint needs (left by interrupted
    /// checkpoints): the next checkpoint writes their tombstones.
    pub stale: Vec<String>,
    /// The chain once the checkpoint being committed is.
    pub next_chain: Option<Vec<LinkRef>>,
    /// Had the end-of-input watermark and read nothing since (kept in checkpoints, so that a
    /// partition handed to another process after it finished is not finished twice).
    pub finished: bool,
}

/// How the next checkpoint of a partition stores its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChainPlan {
    /// The links of the current chain the new one builds on (oldest first).
    pub earlier: Vec<LinkRef>,
    /// Keys on the checkpoint topic no chain needs any more: tombstoned by the checkpoint.
    pub obsolete: Vec<String>,
}

impl PartState {
    /// A partition without a checkpoint.
    pub fn fresh() -> Self {
        Self {
            next_offset: -1,
            queued: None,
            epoch: 0,
            records_in: 0,
            dirty: false,
            chain: Vec::new(),
            stale: Vec::new(),
            next_chain: None,
            finished: false,
        }
    }

    /// A partition restored from `cp`; `stale` are keys of interrupted checkpoints (the next
    /// checkpoint removes them, so the partition counts as changed).
    pub fn restored(cp: &Checkpoint, stale: Vec<String>) -> Self {
        let mut chain = cp.earlier.clone();
        chain.extend(cp.stored.clone());
        Self {
            next_offset: cp.offset,
            queued: None,
            epoch: cp.epoch + 1,
            records_in: cp.records_in,
            dirty: !stale.is_empty(),
            chain,
            stale,
            next_chain: None,
            finished: cp.finished,
        }
    }

    /// Records below this offset were processed or are being processed: a record below it
    /// (from a fetch that raced a seek) is not handed in again.
    pub fn queued_offset(&self) -> i64 {
        self.queued.unwrap_or(self.next_offset).max(self.next_offset)
    }

    /// Records up to `last_offset` were handed to the pipeline.
    pub fn handed(&mut self, last_offset: i64) {
        self.queued = Some(last_offset + 1);
    }

    /// A batch with these record offsets was processed, up to the record at `stopped_at`
    /// (the bad record the job stops at) when there is one, or none of it when `failed`
    /// otherwise. Returns how many records are done.
    pub fn processed(&mut self, offsets: impl IntoIterator<Item = i64>, stopped_at: Option<i64>, failed: bool) -> u64 {
        let (mut done, mut last) = (0u64, None);
        if stopped_at.is_some() || !failed {
            for o in offsets.into_iter().take_while(|o| stopped_at.is_none_or(|at| *o < at)) {
                done += 1;
                last = Some(o);
            }
        }
        if let Some(last) = last {
            self.next_offset = last + 1;
            self.records_in += done;
            self.dirty = true;
            self.finished = false;
        }
        if let Some(at) = stopped_at {
            self.next_offset = at;
            self.dirty = true;
        }
        done
    }

    /// The end-of-input watermark went through the pipeline.
    pub fn input_ended(&mut self) {
        self.dirty = true;
        self.finished = true;
    }

    /// Plans the next checkpoint for a snapshot whose stages are whole (`true`) or deltas:
    /// the new link builds on the shortest tail of the chain that still holds every stage's
    /// last whole state; everything before it (and stale keys) is obsolete. `None` when a
    /// delta has no whole state to build on: the caller then stores a whole snapshot.
    pub fn plan(&self, base: &str, full_stages: &[bool]) -> Option<ChainPlan> {
        let mut flags: Vec<&[bool]> = self.chain.iter().map(|l| l.full_stages.as_slice()).collect();
        flags.push(full_stages);
        let from = chain_start(&flags)?;
        Some(self.plan_from(base, from))
    }

    /// The plan for a whole snapshot: no earlier link is needed.
    pub fn plan_whole(&self, base: &str) -> ChainPlan {
        self.plan_from(base, self.chain.len())
    }

    fn plan_from(&self, base: &str, from: usize) -> ChainPlan {
        let mut obsolete: Vec<String> = self.chain[..from].iter().flat_map(|l| link_keys(base, l)).collect();
        obsolete.extend(self.stale.iter().cloned());
        ChainPlan { earlier: self.chain[from..].to_vec(), obsolete }
    }

    /// The checkpoint holding `link` (built on `earlier`) is being committed.
    pub fn stored(&mut self, earlier: Vec<LinkRef>, link: LinkRef) {
        let mut chain = earlier;
        chain.push(link);
        self.next_chain = Some(chain);
    }

    /// The checkpoint committed: the next one has the next epoch and starts clean.
    pub fn committed(&mut self) {
        self.epoch += 1;
        self.dirty = false;
        self.stale.clear();
        if let Some(chain) = self.next_chain.take() {
            self.chain = chain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(epoch: u64, full: &[bool]) -> LinkRef {
        LinkRef { epoch, full_stages: full.to_vec(), chunks: 2, bytes: 10, sha256: String::new() }
    }

    #[test]
    fn handed_records_are_not_handed_again() {
        let mut s = PartState::fresh();
        assert_eq!(s.queued_offset(), -1, "without a checkpoint, any record is new");
        s.handed(9);
        assert_eq!(s.queued_offset(), 10);
        assert_eq!(s.processed([0, 1, 9], None, false), 3);
        assert_eq!((s.next_offset, s.records_in, s.dirty), (10, 3, true));
        assert_eq!(s.queued_offset(), 10);
    }

    #[test]
    fn a_bad_record_stops_the_partition_before_it() {
        let mut s = PartState::fresh();
        s.finished = true;
        assert_eq!(s.processed([4, 5, 6, 7], Some(6), true), 2);
        assert_eq!((s.next_offset, s.records_in, s.finished), (6, 2, false));
        // The first record bad: nothing done, and the job resumes at it.
        let mut s = PartState::fresh();
        assert_eq!(s.processed([4, 5], Some(4), true), 0);
        assert_eq!((s.next_offset, s.records_in, s.dirty), (4, 0, true));
        // Any other failure: nothing done, nothing moves.
        let mut s = PartState::fresh();
        assert_eq!(s.processed([4, 5], None, true), 0);
        assert_eq!((s.next_offset, s.dirty), (-1, false));
    }

    #[test]
    fn deltas_build_on_the_last_whole_state_of_every_stage() {
        let mut s = PartState::fresh();
        s.chain = vec![link(0, &[true, true]), link(1, &[true, false]), link(2, &[false, false])];
        s.stale = vec!["old".into()];
        // Stage 1's last whole state is in link 1, stage 2's in link 0: keep all three.
        let p = s.plan("b", &[false, false]).unwrap();
        assert_eq!(p.earlier.len(), 3);
        assert_eq!(p.obsolete, vec!["old".to_owned()]);
        // A whole snapshot of both stages needs nothing before it.
        let p = s.plan("b", &[true, true]).unwrap();
        assert!(p.earlier.is_empty());
        assert_eq!(p.obsolete.len(), 3 * 2 + 1, "every chunk of every link, and the stale key");
        assert_eq!(p, s.plan_whole("b"));
        // Stage 1 whole, stage 2 a delta: builds on link 0 (stage 2's last whole state) onward.
        assert_eq!(s.plan("b", &[true, false]).unwrap().earlier.len(), 3);
        s.chain = vec![link(3, &[false, true])];
        assert_eq!(s.plan("b", &[false, false]), None, "stage 1 has no whole state to build on");
    }

    #[test]
    fn a_commit_moves_to_the_next_epoch_and_chain() {
        let mut s = PartState::fresh();
        s.dirty = true;
        s.stale = vec!["x".into()];
        let plan = s.plan_whole("b");
        s.stored(plan.earlier, link(0, &[true]));
        assert_eq!(s.chain, vec![], "not before the commit");
        s.committed();
        assert_eq!((s.epoch, s.dirty, s.stale.len(), s.chain.len()), (1, false, 0, 1));
        s.input_ended();
        assert!(s.dirty && s.finished);
    }
}
