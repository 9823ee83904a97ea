//! What it takes to rebuild one stage's operator instance at the state it had before its
//! current call, after that call trapped (or ran out of time or memory) and broke it: the
//! stage's state at its last snapshot (a full state and the deltas after it) and every batch
//! the stage processed since. Replaying them on a fresh instance gives back that state bit
//! for bit, because operators are deterministic. The pipeline uses it to retry a failed call
//! once and, failing again, to find the record that makes the operator fail (a poison record)
//! and set it aside (see `Pipeline::run_stage`).
//!
//! Memory stays bounded: past [`LOG_BYTES`] of logged input, the stage's state is taken whole
//! (a full operator snapshot) and becomes the new base; the host's next incremental snapshot
//! of the stage is then made full too, so that the host's chain never depends on a state it
//! did not store.

use arrow::array::RecordBatch;

use crate::instance::{CallError, OperatorInstance};
use crate::{OperatorComponent, Result};

/// Input kept for replay before the state is taken whole instead (32 MiB of Arrow arrays).
pub(crate) const LOG_BYTES: usize = 32 << 20;

/// A stage's way back to the state before its current call.
pub(crate) struct Recovery {
    component: OperatorComponent,
    /// The stage's config as JSON text.
    config: String,
    /// The operator states to restore, oldest first (a full state, then deltas); empty: a
    /// freshly opened instance.
    base: Vec<Vec<u8>>,
    /// The batches processed since `base`, in order.
    log: Vec<RecordBatch>,
    log_bytes: usize,
    /// Past this many bytes of log, the state is taken whole instead ([`LOG_BYTES`]).
    log_limit: usize,
    /// The state was taken whole outside a host's snapshot: the host's next snapshot of the
    /// stage must be full.
    next_full: bool,
    /// The operator failed on every record it was given alone: no more retries, the instance
    /// stays broken.
    gave_up: bool,
}

impl Recovery {
    /// A stage opened fresh from `component` with `config`.
    pub fn new(component: &OperatorComponent, config: String) -> Self {
        Self {
            component: component.clone(),
            config,
            base: Vec::new(),
            log: Vec::new(),
            log_bytes: 0,
            log_limit: LOG_BYTES,
            next_full: false,
            gave_up: false,
        }
    }

    /// Sets how many bytes of input are kept before the state is taken whole instead.
    pub fn set_log_limit(&mut self, bytes: usize) {
        self.log_limit = bytes;
    }

    /// No more retries: the operator, not a record, is at fault.
    pub fn give_up(&mut self) {
        self.gave_up = true;
    }

    /// Whether [`Recovery::give_up`] was called (and no restore came since).
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// Notes a batch the instance processed. Past [`LOG_BYTES`], takes the instance's state
    /// whole as the new base instead of keeping the batches.
    pub fn processed(&mut self, instance: &mut OperatorInstance, batch: RecordBatch) -> std::result::Result<(), CallError> {
        self.log_bytes += batch.get_array_memory_size();
        self.log.push(batch);
        if self.log_bytes > self.log_limit {
            let (_, state) = instance.snapshot(true)?;
            self.rebase(vec![state]);
            self.next_full = true;
        }
        Ok(())
    }

    /// Whether the host's next snapshot of the stage must be full (see the module docs).
    pub fn needs_full_snapshot(&self) -> bool {
        self.next_full
    }

    /// The host took a snapshot of the stage: `full` state, or a delta on the previous one.
    pub fn snapshot_taken(&mut self, full: bool, state: &[u8]) {
        if full {
            self.rebase(vec![state.to_vec()]);
        } else {
            self.base.push(state.to_vec());
            self.log.clear();
            self.log_bytes = 0;
        }
        self.next_full = false;
    }

    /// The stage was restored from `states` (a full state, then deltas).
    pub fn restored(&mut self, states: Vec<Vec<u8>>) {
        self.rebase(states);
        self.next_full = false;
        self.gave_up = false;
    }

    fn rebase(&mut self, states: Vec<Vec<u8>>) {
        self.base = states;
        self.log.clear();
        self.log_bytes = 0;
    }

    /// A fresh instance at the state the stage had after its last good call: opened, restored
    /// from the base, the logged batches processed again (their outputs were answered the
    /// first time and are dropped). The host's settings (models published, learned outputs)
    /// as the broken instance had them.
    pub fn rebuild(&self, publish_models: bool, learned_outputs: bool) -> Result<std::result::Result<OperatorInstance, CallError>> {
        let mut inst = self.component.instantiate(&self.config)?;
        let replayed = (|| {
            inst.set_publish_models(publish_models)?;
            if learned_outputs {
                inst.set_learned_outputs(true)?;
            }
            if !self.base.is_empty() {
                inst.restore(&self.base)?;
            }
            for b in &self.log {
                inst.process(b, |_| true)?;
            }
            Ok(())
        })();
        Ok(replayed.map(|()| inst))
    }
}
