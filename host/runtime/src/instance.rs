//! One running operator instance: a store under limits, the guest's `instance` resource, and
//! checked calls. A trap (panic, timeout, memory limit) poisons the instance; an error the
//! operator returns does not.

use std::mem::MaybeUninit;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, UInt64Array};
use eddy_sdk::{ColumnSpec, OperatorError, OperatorInfo, SEQ_COLUMN, SnapshotKind, ipc};
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext};
use wasmtime::component::{ComponentType, Func, Lower, ResourceAny};
use wasmtime::{Store, Trap, ValRaw};

use crate::bindings::OperatorWorld;
use crate::bindings::types::SnapshotKind as WitSnapshotKind;
use crate::convert::{convert_columns, convert_error};
use crate::host_state::HostState;
use crate::limits::ticks;
use crate::untrusted::decode_guest_output;
use crate::{HostError, Limits, Result};

/// Why a call into an operator failed.
#[derive(Debug)]
pub enum CallError {
    /// The operator refused the call (bad config, a bad row, an internal error). The instance
    /// is still usable; on `InvalidInput` its state is unchanged.
    Operator(OperatorError),
    /// The instance trapped, timed out, ran out of memory or broke the contract. It is broken.
    Failed(String),
}

/// What one call produced, decoded and checked.
#[derive(Debug, Default)]
pub struct Processed {
    /// Output rows with a checked `__seq` column; `None` when there were none.
    pub outputs: Option<RecordBatch>,
    /// Model versions published; `None` when none were.
    pub models: Option<RecordBatch>,
}

/// A running operator instance.
pub struct OperatorInstance {
    store: Store<HostState>,
    bindings: OperatorWorld,
    /// The guest's `[method]instance.process`, called with [`GuestStream`] instead of bytes.
    process_func: Func,
    handle: ResourceAny,
    info: Arc<OperatorInfo>,
    columns: Vec<ColumnSpec>,
    limits: Limits,
    broken: Option<String>,
    /// What the host last told the instance with [`OperatorInstance::set_publish_models`].
    publish_models: bool,
    /// What the host last told the instance with [`OperatorInstance::set_learned_outputs`].
    learned_outputs: bool,
    /// IPC state kept from call to call (the last schemas), so that the input, output and model
    /// batches of one schema, call after call, skip its message.
    ipc: Ipc,
}

#[derive(Debug, Default)]
struct Ipc {
    input: ipc::Encoder,
    outputs: ipc::Decoder,
    models: ipc::Decoder,
}

impl std::fmt::Debug for OperatorInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorInstance").field("operator", &self.info.name).field("broken", &self.broken).finish()
    }
}

impl OperatorInstance {
    /// Opens the guest's `instance` resource with a JSON config in `store`, a fresh store of a
    /// component, given with the component's `bindings` and its `[method]instance.process`.
    pub(crate) fn open(
        mut store: Store<HostState>,
        bindings: OperatorWorld,
        process_func: Func,
        info: Arc<OperatorInfo>,
        limits: Limits,
        config_json: &str,
    ) -> Result<Self> {
        if let Err(e) = process_func.typed::<ProcessParams<'static>, ProcessResults>(&store) {
            return Err(HostError::Load { path: info.name.clone().into(), message: format!("`process` has an unexpected type: {e:#}") });
        }
        store.set_epoch_deadline(ticks(limits.call_timeout()));
        let opened = bindings.eddy_operator_operator().instance().call_open(&mut store, config_json);
        let handle = match opened {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                return Err(match convert_error(e) {
                    OperatorError::InvalidConfig(c) => {
                        HostError::OperatorConfig { operator: info.name.clone(), parameter: c.parameter, message: c.message }
                    }
                    other => HostError::OperatorInternal { operator: info.name.clone(), message: other.to_string() },
                });
            }
            Err(e) => {
                return Err(HostError::OperatorFailed {
                    operator: info.name.clone(),
                    range: "open".into(),
                    message: describe_trap(&e, &store, limits),
                });
            }
        };
        let mut inst = Self {
            store,
            bindings,
            process_func,
            handle,
            info,
            columns: Vec::new(),
            limits,
            broken: None,
            publish_models: true,
            learned_outputs: false,
            ipc: Ipc::default(),
        };
        let cols = inst.call(|s, b, h| b.eddy_operator_operator().instance().call_input_columns(s, h).map(Ok));
        inst.columns = match cols {
            Ok(c) => convert_columns(c),
            Err(CallError::Failed(m)) => {
                return Err(HostError::OperatorFailed { operator: inst.info.name.clone(), range: "open".into(), message: m });
            }
            Err(CallError::Operator(e)) => {
                return Err(HostError::OperatorInternal { operator: inst.info.name.clone(), message: e.to_string() });
            }
        };
        Ok(inst)
    }

    /// What the operator says of itself.
    pub fn info(&self) -> &OperatorInfo {
        &self.info
    }

    /// The columns it reads.
    pub fn input_columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// Whether a trap has broken the instance.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(
            &mut Store<HostState>,
            &OperatorWorld,
            ResourceAny,
        ) -> wasmtime::Result<std::result::Result<R, crate::bindings::types::OperatorError>>,
    ) -> std::result::Result<R, CallError> {
        if let Some(why) = &self.broken {
            return Err(CallError::Failed(format!("the instance is broken by an earlier failure: {why}")));
        }
        self.store.set_epoch_deadline(ticks(self.limits.call_timeout()));
        match f(&mut self.store, &self.bindings, self.handle) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(CallError::Operator(convert_error(e))),
            Err(e) => {
                let msg = describe_trap(&e, &self.store, self.limits);
                self.broken = Some(msg.clone());
                Err(CallError::Failed(msg))
            }
        }
    }

    /// Processes one input batch (which must carry `__seq`). Outputs are checked: every
    /// output row's `__seq` must be one the host handed out (`valid_seq`).
    ///
    /// The batch crosses as the WIT says, an Arrow IPC stream in a `list<u8>`, but the host
    /// writes the stream straight into the guest's memory (one copy of the column data), never
    /// into bytes of its own first.
    pub fn process(&mut self, batch: &RecordBatch, valid_seq: impl Fn(u64) -> bool) -> std::result::Result<Processed, CallError> {
        let layout = self.ipc.input.layout(batch).map_err(|e| CallError::Failed(format!("cannot encode the input batch: {e}")))?;
        let func = self.process_func;
        let p = self.call(|s, _, h| {
            let typed = func.typed::<ProcessParams<'_>, ProcessResults>(&*s)?;
            Ok(typed.call(s, (h, GuestStream(&layout)))?.0)
        })?;
        self.check(p, valid_seq)
    }

    /// Tells the instance whether to publish model versions (the WIT `set-publish-models`; on
    /// until told otherwise). A host without a models sink turns it off: `process` and
    /// `watermark` then return no models, and the operator may skip building them; outputs,
    /// state, snapshots and model version numbers are the same either way. The setting outlives
    /// a `restore`. Models a guest returns anyway while it is off are dropped unread.
    pub fn set_publish_models(&mut self, on: bool) -> std::result::Result<(), CallError> {
        self.call(|s, b, h| b.eddy_operator_operator().instance().call_set_publish_models(s, h, on).map(Ok))?;
        self.publish_models = on;
        Ok(())
    }

    /// Whether the instance publishes model versions (see [`OperatorInstance::set_publish_models`]).
    pub fn publishes_models(&self) -> bool {
        self.publish_models
    }

    /// Tells the instance whether to add, for each output column `c`, the column `c@learned`:
    /// the row as the instance transforms it after learning from it (the WIT
    /// `set-learned-outputs`; off until told otherwise). A chain that learns river's way turns
    /// it on for every stage but the last. The setting outlives a `restore`.
    pub fn set_learned_outputs(&mut self, on: bool) -> std::result::Result<(), CallError> {
        self.call(|s, b, h| b.eddy_operator_operator().instance().call_set_learned_outputs(s, h, on).map(Ok))?;
        self.learned_outputs = on;
        Ok(())
    }

    /// Whether the instance adds learned forms to its outputs (see
    /// [`OperatorInstance::set_learned_outputs`]).
    pub fn learned_outputs(&self) -> bool {
        self.learned_outputs
    }

    /// Sends a watermark (see the WIT `watermark`).
    pub fn watermark(&mut self, timestamp: i64, valid_seq: impl Fn(u64) -> bool) -> std::result::Result<Processed, CallError> {
        let p = self.call(|s, b, h| b.eddy_operator_operator().instance().call_watermark(s, h, timestamp))?;
        self.check(p, valid_seq)
    }

    fn check(
        &mut self,
        p: crate::bindings::types::Processed,
        valid_seq: impl Fn(u64) -> bool,
    ) -> std::result::Result<Processed, CallError> {
        let fail = |this: &mut Self, m: String| {
            let msg = format!("malformed output: {m}");
            this.broken = Some(msg.clone());
            CallError::Failed(msg)
        };
        let mut out = Processed::default();
        for (what, len) in [("outputs", p.outputs.len()), ("models", p.models.len())] {
            if len > self.limits.output_bytes() {
                return Err(fail(self, self.oversized(what, len)));
            }
        }
        if !p.outputs.is_empty() {
            let batch = match decode_guest_output(&mut self.ipc.outputs, p.outputs) {
                Ok(b) => b,
                Err(e) => return Err(fail(self, format!("outputs are not an Arrow IPC stream: {e}"))),
            };
            let seq = batch.column_by_name(SEQ_COLUMN).and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned());
            let Some(seq) = seq else {
                return Err(fail(self, format!("outputs lack a UInt64 `{SEQ_COLUMN}` column")));
            };
            if seq.null_count() > 0 {
                return Err(fail(self, format!("`{SEQ_COLUMN}` has nulls")));
            }
            if let Some(bad) = seq.values().iter().find(|s| !valid_seq(**s)) {
                return Err(fail(self, format!("output row answers `{SEQ_COLUMN}` {bad}, which is not a row waiting for an answer")));
            }
            if batch.num_rows() > 0 {
                out.outputs = Some(batch);
            }
        }
        if self.publish_models && !p.models.is_empty() {
            match decode_guest_output(&mut self.ipc.models, p.models) {
                Ok(b) if b.num_rows() > 0 => out.models = Some(b),
                Ok(_) => {}
                Err(e) => return Err(fail(self, format!("models are not an Arrow IPC stream: {e}"))),
            }
        }
        Ok(out)
    }

    /// Why `len` bytes of `what` are refused (over [`Limits::output_mib`]).
    fn oversized(&self, what: &str, len: usize) -> String {
        format!(
            "{what} of {:.1} MiB, over the limit of {} MiB (limits.output_mib)",
            len as f64 / f64::from(1 << 20),
            self.limits.output_mib
        )
    }

    /// The current model.
    pub fn model_data(&mut self) -> std::result::Result<RecordBatch, CallError> {
        let bytes = self.call(|s, b, h| b.eddy_operator_operator().instance().call_model_data(s, h))?;
        if bytes.len() > self.limits.output_bytes() {
            return Err(CallError::Failed(format!("malformed model data: {}", self.oversized("model data", bytes.len()))));
        }
        decode_guest_output(&mut ipc::Decoder::default(), bytes).map_err(|e| CallError::Failed(format!("malformed model data: {e}")))
    }

    /// The operator's state: a full snapshot when `full` (a delta then is a broken contract,
    /// reported like a malformed output), else whatever the operator chooses (a delta of what
    /// changed since its previous snapshot, or a full one).
    pub fn snapshot(&mut self, full: bool) -> std::result::Result<(SnapshotKind, Vec<u8>), CallError> {
        let blob = self.call(|s, b, h| b.eddy_operator_operator().instance().call_snapshot(s, h, full))?;
        let kind = match blob.kind {
            WitSnapshotKind::Full => SnapshotKind::Full,
            WitSnapshotKind::Delta if full => return Err(CallError::Failed("asked for a full snapshot, it returned a delta".into())),
            WitSnapshotKind::Delta => SnapshotKind::Delta,
        };
        Ok((kind, blob.bytes))
    }

    /// Restores a chain of snapshots, oldest first: a full one, then the deltas after it.
    pub fn restore(&mut self, chain: &[Vec<u8>]) -> std::result::Result<(), CallError> {
        self.call(|s, b, h| b.eddy_operator_operator().instance().call_restore(s, h, chain))
    }
}

type ProcessParams<'a> = (ResourceAny, GuestStream<'a>);
type ProcessResults = (std::result::Result<crate::bindings::types::Processed, crate::bindings::types::OperatorError>,);

/// An Arrow IPC stream passed as a `list<u8>` argument: lowering it allocates the list in the
/// guest (its `cabi_realloc`, as for any list) and writes the stream there directly from the
/// batch's buffers, where lowering a `&[u8]` would copy bytes the host encoded first.
///
/// It implements wasmtime's lowering traits by hand, through items wasmtime keeps public for its
/// generated code (`__internal`, hidden trait items): the same steps as wasmtime's own lowering
/// of `[u8]` (`lower_list`), checked against wasmtime 48 (its `ComponentType` and `Lower` impls
/// for `[T]`). The type check is `[u8]`'s own.
struct GuestStream<'a>(&'a ipc::StreamLayout);

impl GuestStream<'_> {
    /// Allocates the list in the guest and writes the stream: returns (pointer, length).
    fn store<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<(usize, usize)> {
        let len = self.0.len();
        // Alignment 1, as for any `list<u8>` (the guest frees it with that layout); the guest's
        // allocator aligns it further, as Arrow's decoder wants, and copies when it does not.
        let ptr = cx.realloc(0, 0, 1, len)?;
        // `realloc` checked that `ptr..ptr + len` lies in the guest's memory.
        self.0.write_to(&mut cx.as_slice_mut()[ptr..ptr + len]);
        Ok((ptr, len))
    }
}

// SAFETY: the same representation as `[u8]` (a pointer and a length), whose ABI info and type
// check it uses.
#[expect(unsafe_code, reason = "wasmtime's lowering trait, implemented as wasmtime implements it for [u8]")]
unsafe impl ComponentType for GuestStream<'_> {
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes what lowering a `[u8]` writes: a pointer to `len` bytes that the guest's
// realloc allocated, and `len`, as two flat values or two little-endian u32 in memory.
#[expect(unsafe_code, reason = "wasmtime's lowering trait, implemented as wasmtime implements it for [u8]")]
unsafe impl Lower for GuestStream<'_> {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.store(cx)?;
        // Stored as 64-bit integers, as wasmtime stores pointer pairs (see its "WRITEPTR64").
        dst.write([ValRaw::i64(ptr as i64), ValRaw::i64(len as i64)]);
        Ok(())
    }

    fn linear_lower_to_memory<T>(&self, cx: &mut LowerContext<'_, T>, _ty: InterfaceType, offset: usize) -> wasmtime::Result<()> {
        let (ptr, len) = self.store(cx)?;
        *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
        *cx.get::<4>(offset + 4) = u32::try_from(len)?.to_le_bytes();
        Ok(())
    }
}

/// A readable account of a trap: timeout, memory limit, or the guest's panic message.
fn describe_trap(e: &wasmtime::Error, store: &Store<HostState>, limits: Limits) -> String {
    let stderr = store.data().stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    // Rust's panic output: "thread '..' panicked at file:line:col:\n<message>\nnote: ...".
    let panic_line = match stderr.find("panicked at") {
        Some(i) => stderr[i..].lines().skip(1).take_while(|l| !l.starts_with("note:")).collect::<Vec<_>>().join(" ").trim().to_owned(),
        None => stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned(),
    };
    let chain = format!("{e:#}");
    if let Some(trap) = e.downcast_ref::<Trap>()
        && *trap == Trap::Interrupt
    {
        return format!("exceeded the call time limit of {} ms (limits.call_timeout_ms)", limits.call_timeout_ms);
    }
    if chain.contains("forcing trap when growing memory") || chain.contains("memory") && chain.contains("limit") {
        return format!("exceeded the memory limit of {} MiB (limits.memory_mib): {chain}", limits.memory_mib);
    }
    if panic_line.is_empty() { format!("trapped: {chain}") } else { format!("trapped: {panic_line} ({chain})") }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::{Limits, OperatorInstance, Runtime};

    fn ftrl(rt: &Runtime, config: &str) -> OperatorInstance {
        let op = eddy_bundle::find("ftrl").expect("the bundle ships ftrl");
        rt.load(op.bytes, Path::new("ftrl")).unwrap().instantiate(config).unwrap()
    }

    /// `rows` rows of three numeric features, labelled by a fixed rule, `__seq` from `seq0`.
    fn batch(rows: usize, seq0: u64) -> RecordBatch {
        let mut fields: Vec<Field> = (0..3).map(|i| Field::new(format!("f{i}"), DataType::Float64, false)).collect();
        fields.push(Field::new("label", DataType::Float64, true));
        fields.push(Field::new("__seq", DataType::UInt64, false));
        let value = |r: u64, c: u64| (((r * 7 + c * 3) % 11) as f64 - 5.0) / 5.0;
        let seq = seq0..seq0 + rows as u64;
        let mut cols: Vec<ArrayRef> =
            (0..3).map(|c| Arc::new(Float64Array::from_iter_values(seq.clone().map(|r| value(r, c)))) as ArrayRef).collect();
        cols.push(Arc::new(Float64Array::from_iter_values(seq.clone().map(|r| if value(r, 0) > value(r, 1) { 1.0 } else { 0.0 }))));
        cols.push(Arc::new(UInt64Array::from_iter_values(seq)));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    fn versions(models: &RecordBatch) -> Vec<i64> {
        models.column_by_name("modelVersion").unwrap().as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
    }

    #[test]
    fn an_instance_told_not_to_publish_models_returns_none_and_keeps_the_same_state() {
        let rt = Runtime::new(Limits::default()).unwrap();
        let config = r#"{"globalBatchSize": 1, "featuresCol": ["f0", "f1", "f2"]}"#;
        let (mut on, mut off) = (ftrl(&rt, config), ftrl(&rt, config));
        assert!(on.publishes_models());
        off.set_publish_models(false).unwrap();
        assert!(!off.publishes_models());
        for i in 0..3 {
            let b = batch(50, 50 * i);
            let (a, z) = (on.process(&b, |_| true).unwrap(), off.process(&b, |_| true).unwrap());
            assert_eq!(a.outputs, z.outputs, "batch {i}: the same predictions");
            assert_eq!(a.models.map(|m| m.num_rows()), Some(50), "batch {i}: one model version per row");
            assert!(z.models.is_none(), "batch {i}: none when not publishing");
            assert_eq!(on.snapshot(true).unwrap(), off.snapshot(true).unwrap(), "batch {i}: the same state");
        }
        // The setting outlives a restore, and a fresh instance publishes.
        let (_, state) = off.snapshot(true).unwrap();
        off.restore(std::slice::from_ref(&state)).unwrap();
        let mut fresh = ftrl(&rt, config);
        fresh.restore(std::slice::from_ref(&state)).unwrap();
        let b = batch(10, 150);
        assert!(off.process(&b, |_| true).unwrap().models.is_none(), "still off after a restore");
        let published = fresh.process(&b, |_| true).unwrap().models.expect("a fresh instance publishes");
        // Versions went on counting while they were not published.
        assert_eq!(versions(&published), (151..=160).collect::<Vec<_>>());
        off.set_publish_models(true).unwrap();
        assert_eq!(versions(&off.process(&batch(10, 160), |_| true).unwrap().models.unwrap()), (161..=170).collect::<Vec<_>>());
    }

    #[test]
    fn process_writes_the_input_into_the_guest_whatever_the_batch() {
        // Sliced batches, an empty one, one row: what the guest decodes is what the host holds
        // (the operator's outputs answer exactly the rows sent).
        let rt = Runtime::new(Limits::default()).unwrap();
        let mut inst = ftrl(&rt, r#"{"featuresCol": ["f0", "f1", "f2"]}"#);
        let whole = batch(100, 0);
        for (offset, len) in [(0, 100), (3, 40), (99, 1), (50, 0)] {
            let b = whole.slice(offset, len);
            let out = inst.process(&b, |_| true).unwrap();
            let seq: Vec<u64> = out
                .outputs
                .map(|o| o.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().values().to_vec())
                .unwrap_or_default();
            assert_eq!(seq, (offset as u64..(offset + len) as u64).collect::<Vec<_>>(), "slice {offset}+{len}");
        }
    }
}
