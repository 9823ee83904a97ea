//! A partition's pipeline on a thread of its own, for the life of the assignment: the runner
//! hands it records and collects the outputs later, so the operator works while the runner
//! polls the next records and produces the last outputs. Whatever else the runner asks of a
//! pipeline (snapshots, the end-of-input watermark, metrics) runs after the work handed in
//! before it, in order. After a call that failed, the worker runs no more records: the
//! pipeline's state stays that of the failure, which is what a checkpoint must store.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use eddy_host::{HostError, Pipeline, PipelineOutput, Record};

/// What one batch of records gave: the records (for the runner's offsets), the outputs, how
/// the call ended, and the rows it decoded.
pub(crate) struct Done {
    pub records: Vec<Record>,
    pub output: PipelineOutput,
    pub result: eddy_host::Result<()>,
    pub rows: u64,
    /// Not run: an earlier batch of this partition failed.
    pub skipped: bool,
}

struct State {
    pipeline: Pipeline,
    failed: bool,
}

type Task = Box<dyn FnOnce(&mut State) + Send>;

/// A pipeline on its own thread.
pub(crate) struct Worker {
    tasks: Option<Sender<Task>>,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    in_flight: usize,
    name: String,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Moves `pipeline` onto a thread named `name`.
    pub(crate) fn spawn(pipeline: Pipeline, name: String) -> std::io::Result<Self> {
        let (tasks, rx) = channel::<Task>();
        let thread = std::thread::Builder::new().name(name.clone()).spawn(move || {
            let mut state = State { pipeline, failed: false };
            for task in rx {
                task(&mut state);
            }
        })?;
        let (done_tx, done_rx) = channel();
        Ok(Self { tasks: Some(tasks), done_tx, done_rx, in_flight: 0, name, thread: Some(thread) })
    }

    fn gone(&self) -> HostError {
        HostError::Runtime(format!("the pipeline thread {} ended (it panicked)", self.name))
    }

    fn send(&self, task: Task) -> Result<(), HostError> {
        self.tasks.as_ref().expect("open until dropped").send(task).map_err(|_| self.gone())
    }

    /// Hands `records` to the pipeline; [`Worker::next_done`] gives what they produced.
    pub(crate) fn submit(&mut self, records: Vec<Record>) -> Result<(), HostError> {
        let done = self.done_tx.clone();
        self.send(Box::new(move |s: &mut State| {
            if s.failed {
                let result = Err(HostError::Runtime("not run: an earlier batch of this partition failed".into()));
                let _ = done.send(Done { records, output: PipelineOutput::default(), result, rows: 0, skipped: true });
                return;
            }
            let before = s.pipeline.rows_in();
            let (output, result) = s.pipeline.process(&records);
            s.failed = result.is_err();
            let rows = s.pipeline.rows_in() - before;
            let _ = done.send(Done { records, output, result, rows, skipped: false });
        }))?;
        self.in_flight += 1;
        Ok(())
    }

    /// Batches handed in whose outputs were not taken yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The outputs of the oldest batch not taken yet: waiting for them with `wait`, `None`
    /// when there is none (or, without `wait`, when it is not done yet).
    pub(crate) fn next_done(&mut self, wait: bool) -> Result<Option<Done>, HostError> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let got = if wait {
            Some(self.done_rx.recv().map_err(|_| self.gone())?)
        } else {
            match self.done_rx.try_recv() {
                Ok(d) => Some(d),
                Err(std::sync::mpsc::TryRecvError::Empty) => None,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(self.gone()),
            }
        };
        if got.is_some() {
            self.in_flight -= 1;
        }
        Ok(got)
    }

    /// Runs `f` on the pipeline after the work handed in before, and returns what it gives.
    pub(crate) fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Pipeline) -> R + Send + 'static) -> Result<R, HostError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(Box::new(move |s: &mut State| {
            let _ = tx.send(f(&mut s.pipeline));
        }))?;
        // A panic on the thread drops the sender unanswered.
        rx.recv().map_err(|_| self.gone())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.tasks.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
