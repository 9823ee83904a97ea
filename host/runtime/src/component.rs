//! A loaded operator component: compiled once, described once, instantiated per partition.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy_sdk::{OperatorInfo, OperatorKind};
use wasmtime::component::{Func, ResourceTable};
use wasmtime::{Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, WasiCtxBuilder};

use crate::bindings::{OPERATOR_INTERFACE, OperatorWorld, OperatorWorldPre};
use crate::convert::convert_info;
use crate::host_state::HostState;
use crate::instance::OperatorInstance;
use crate::limits::ticks;
use crate::{HostError, Limits, Result};

/// A compiled component, ready to instantiate cheaply.
#[derive(Clone)]
pub struct OperatorComponent {
    engine: Engine,
    pre: OperatorWorldPre<HostState>,
    info: Arc<OperatorInfo>,
    label: PathBuf,
    limits: Limits,
}

impl std::fmt::Debug for OperatorComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorComponent").field("info", &self.info).field("label", &self.label).finish()
    }
}

struct ZeroClock;

impl wasmtime_wasi::HostWallClock for ZeroClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for ZeroClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A fixed byte cycle for the guest's "random" sources: std's HashMap seeds come from here, so
/// even an operator that iterates a HashMap behaves the same on every run and every host.
fn fixed_random() -> Deterministic {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Deterministic::new(bytes)
}

impl OperatorComponent {
    /// Describes the component (one call to its `describe`, in a store of its own); its
    /// instances will run in stores of `engine` under `limits`.
    pub(crate) fn new(engine: &Engine, limits: Limits, pre: OperatorWorldPre<HostState>, label: &Path) -> Result<Self> {
        let mut c = Self {
            engine: engine.clone(),
            pre,
            info: Arc::new(OperatorInfo {
                name: label.display().to_string(),
                version: String::new(),
                kind: OperatorKind::Transformer,
                description: String::new(),
                params: vec![],
            }),
            label: label.into(),
            limits,
        };
        let (mut store, bindings, _) = c.new_store()?;
        store.set_epoch_deadline(ticks(c.limits.call_timeout()));
        let info = bindings
            .eddy_operator_operator()
            .call_describe(&mut store)
            .map_err(|e| HostError::Load { path: label.into(), message: format!("describe failed: {e:#}") })?;
        c.info = Arc::new(convert_info(info));
        Ok(c)
    }

    /// A fresh store with a fresh instance of the component, its bindings, and its exported
    /// `[method]instance.process` (called directly by [`OperatorInstance::process`], which
    /// writes the input batch straight into the guest's memory).
    pub(crate) fn new_store(&self) -> Result<(Store<HostState>, OperatorWorld, Func)> {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(ZeroClock)
            .monotonic_clock(ZeroClock)
            .secure_random(fixed_random())
            .insecure_random(fixed_random())
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes())
            .trap_on_grow_failure(true)
            .instances(64)
            .tables(64)
            .memories(16)
            .build();
        let state = HostState { wasi, table: ResourceTable::new(), limits, stderr, operator: self.info.name.clone() };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // What one call may hand the host (a snapshot, an output batch): wasmtime's default of
        // 128 MiB would trap the full snapshot of a large model; the sandbox's memory bound
        // already caps what a guest can hold, so it caps what it can return too.
        store.set_hostcall_fuel(self.limits.memory_bytes());
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(self.limits.call_timeout()));
        let failed = |e: wasmtime::Error| HostError::Load { path: self.label.clone(), message: format!("instantiation failed: {e:#}") };
        let instance = self.pre.instance_pre().instantiate(&mut store).map_err(failed)?;
        let bindings = OperatorWorld::new(&mut store, &instance).map_err(failed)?;
        let process = instance
            .get_export_index(&mut store, None, OPERATOR_INTERFACE)
            .and_then(|i| instance.get_export_index(&mut store, Some(&i), "[method]instance.process"))
            .and_then(|i| instance.get_func(&mut store, i))
            .ok_or_else(|| failed(wasmtime::format_err!("no `{OPERATOR_INTERFACE}` export with `[method]instance.process`")))?;
        Ok((store, bindings, process))
    }

    /// What the operator says of itself.
    pub fn info(&self) -> &OperatorInfo {
        &self.info
    }

    /// The limits its instances run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Opens an instance with a JSON config.
    pub fn instantiate(&self, config_json: &str) -> Result<OperatorInstance> {
        let (store, bindings, process) = self.new_store()?;
        OperatorInstance::open(store, bindings, process, self.info.clone(), self.limits, config_json)
    }
}
