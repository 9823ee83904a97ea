//! What a store holds for one operator instance: its WASI context (with nothing in it), the
//! resource table, the memory limiter, the captured stderr, and the host side of the
//! `logging` import that operators are granted.

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::logging;

/// Per-instance host state.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) operator: String,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl logging::Host for HostState {
    fn log(&mut self, level: logging::Level, message: String) {
        let op = &self.operator;
        match level {
            logging::Level::Trace => tracing::trace!(operator = %op, "{message}"),
            logging::Level::Debug => tracing::debug!(operator = %op, "{message}"),
            logging::Level::Info => tracing::info!(operator = %op, "{message}"),
            logging::Level::Warn => tracing::warn!(operator = %op, "{message}"),
            logging::Level::Error => tracing::error!(operator = %op, "{message}"),
        }
    }
}

impl crate::bindings::types::Host for HostState {}
