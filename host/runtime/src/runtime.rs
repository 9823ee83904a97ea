//! The wasm runtime: one engine per process with epoch interruption, an epoch ticker thread,
//! a cache of ahead-of-time compiled components, and the linker that grants operators nothing
//! but logging (and a WASI context with nothing in it).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::bindings::{OperatorWorld, OperatorWorldPre};
use crate::component::OperatorComponent;
use crate::host_state::HostState;
use crate::limits::EPOCH_TICK;
use crate::{HostError, Limits, Result};

/// The process-wide wasm runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    cache_dir: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.limits).field("cache_dir", &self.cache_dir).finish()
    }
}

impl Runtime {
    /// A runtime with these limits, caching compiled components in [`default_cache_dir`].
    pub fn new(limits: Limits) -> Result<Self> {
        Self::with_cache(limits, default_cache_dir())
    }

    /// A runtime with an explicit cache directory (`None`: compile every time).
    pub fn with_cache(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = Config::new();
        // The call time limit. Epoch interruption makes compiled code check the epoch at every
        // function entry and loop header, and those checks keep floating-point values of hot
        // loops in stack slots across iterations: on FTRL it cost about 0.15x of the native run
        // time (ftrl_component_vs_native). The SDK's hot loops do several elements per
        // iteration for that reason; fuel would cost more.
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // `EDDY_WASM_PERFMAP=1` writes /tmp/perf-<pid>.map so that `perf report` names the
        // guest's functions (for profiling only; it changes no result).
        if std::env::var_os("EDDY_WASM_PERFMAP").is_some_and(|v| v != "0") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| HostError::Runtime(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| HostError::Runtime(format!("{e:#}")))?;
        OperatorWorld::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| HostError::Runtime(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("eddy-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| HostError::io("cannot start the epoch ticker thread", e))?
        };
        Ok(Self { engine, linker, limits, cache_dir, stop, ticker: Some(ticker) })
    }

    /// The limits every instance gets.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Loads a component file (compiled ahead of time and cached).
    pub fn load_file(&self, path: &Path) -> Result<OperatorComponent> {
        let bytes = std::fs::read(path).map_err(|e| HostError::Load { path: path.into(), message: e.to_string() })?;
        self.load(&bytes, path)
    }

    /// Loads a component from bytes; `label` names it in errors.
    pub fn load(&self, bytes: &[u8], label: &Path) -> Result<OperatorComponent> {
        let load_err = |e: wasmtime::Error| HostError::Load { path: label.into(), message: format!("{e:#}") };
        let component = self.compile_cached(bytes).map_err(load_err)?;
        check_imports(&component, &self.engine).map_err(|message| HostError::Load { path: label.into(), message })?;
        let pre = self.linker.instantiate_pre(&component).map_err(load_err)?;
        let pre = OperatorWorldPre::new(pre).map_err(load_err)?;
        OperatorComponent::new(&self.engine, self.limits, pre, label)
    }

    fn compile_cached(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        let Some(dir) = &self.cache_dir else { return Component::new(&self.engine, bytes) };
        let mut h = DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let key = format!("{}-{:016x}.cwasm", hex::encode(Sha256::digest(bytes)), h.finish());
        let path = dir.join(key);
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the file name) and the same wasm digest; a damaged or
            // foreign file fails to deserialize and we recompile below.
            #[expect(unsafe_code, reason = "loading our own precompiled artifact")]
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!("recompiling {}: cached artifact unusable: {e:#}", path.display()),
            }
        }
        let compiled = self.engine.precompile_component(bytes)?;
        if std::fs::create_dir_all(dir).is_ok() {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &compiled).and_then(|()| std::fs::rename(&tmp, &path)).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
        // SAFETY: produced just now by this engine.
        #[expect(unsafe_code, reason = "loading an artifact this engine just produced")]
        unsafe {
            Component::deserialize(&self.engine, &compiled)
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// The interfaces an operator may import, by prefix: eddy's own, and the WASI ones that Rust's
/// standard library imports, each given nothing (no preopened directories, a clock stopped at
/// 0, a fixed random sequence, no environment). Anything else (sockets, HTTP, other worlds) is
/// refused at load.
const ALLOWED_IMPORTS: [&str; 6] = ["eddy:operator/", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/"];

/// Refuses a component that imports an interface outside [`ALLOWED_IMPORTS`], naming it.
fn check_imports(component: &Component, engine: &Engine) -> std::result::Result<(), String> {
    let ty = component.component_type();
    let refused: Vec<&str> =
        ty.imports(engine).map(|(name, _)| name).filter(|n| !ALLOWED_IMPORTS.iter().any(|p| n.starts_with(p))).collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the component imports {}, which eddy does not grant to operators (they get logging and a WASI with nothing in it: {})",
        refused.join(", "),
        ALLOWED_IMPORTS.join(" ")
    ))
}

/// `$EDDY_CACHE_DIR`, else `$XDG_CACHE_HOME/eddy/components`, else `~/.cache/eddy/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("EDDY_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("eddy").join("components"))
}
