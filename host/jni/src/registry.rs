//! Process-wide state: the one wasm [`Runtime`] (created on first use), the components it has
//! loaded (by the name or path Java gave), and the open operators behind Java's `long` handles.
//!
//! A handle is an id into a table of boxed operators rather than a raw pointer, so a stale,
//! closed or made-up handle is an `EddyException` instead of a crashed TaskManager. Each
//! operator has its own lock: calls on one handle come from one thread (Flink's task thread),
//! so it is never contended, and different handles run in parallel.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use eddy_host::{HostError, Limits, OperatorComponent, Runtime};

use crate::error::{Result, usage};
use crate::operator::Operator;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static RUNTIME_INIT: Mutex<()> = Mutex::new(());
/// Runtimes with other limits than the default (`openSpec`), one per distinct limits, kept
/// for the life of the process like the default one.
static LIMITED: Mutex<Vec<(Limits, &'static Runtime)>> = Mutex::new(Vec::new());
/// A loaded component's key: its spec and the limits of its runtime (memory MiB, call timeout ms).
type ComponentKey = (String, u64, u64);
static COMPONENTS: Mutex<Option<HashMap<ComponentKey, OperatorComponent>>> = Mutex::new(None);
static HANDLES: Mutex<Option<HashMap<i64, Arc<Mutex<Operator>>>>> = Mutex::new(None);
static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The tables stay consistent even if a panic unwound through a holder: every update is a
    // single insert or remove.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process-wide runtime, created on first use with the default [`Limits`]. A failed
/// creation is reported and retried on the next call.
pub fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _init = lock(&RUNTIME_INIT);
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = Runtime::new(Limits::default())?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The runtime enforcing `limits`: the default one, or one made for these limits on first use.
fn runtime_for(limits: Limits) -> Result<&'static Runtime> {
    if limits == Limits::default() {
        return runtime();
    }
    let mut made = lock(&LIMITED);
    if let Some((_, rt)) = made.iter().find(|(l, _)| *l == limits) {
        return Ok(rt);
    }
    let rt: &'static Runtime = Box::leak(Box::new(Runtime::new(limits)?));
    made.push((limits, rt));
    Ok(rt)
}

/// The component named by `spec`: a component file if `spec` names one, else an operator eddy
/// ships (`ftrl`, `kmeans`, ...). Compiled once per process and spec.
pub fn component(spec: &str) -> Result<OperatorComponent> {
    component_with(spec, Limits::default())
}

/// [`component`] in the runtime enforcing `limits`.
pub fn component_with(spec: &str, limits: Limits) -> Result<OperatorComponent> {
    let mut cache = lock(&COMPONENTS);
    let cache = cache.get_or_insert_with(HashMap::new);
    let key = (spec.to_owned(), limits.memory_mib, limits.call_timeout_ms);
    if let Some(c) = cache.get(&key) {
        return Ok(c.clone());
    }
    let rt = runtime_for(limits)?;
    let path = Path::new(spec);
    let c = if path.is_file() {
        rt.load_file(path)?
    } else if let Some(op) = eddy_bundle::find(spec).filter(|_| !spec.ends_with(".wasm")) {
        rt.load(op.bytes, Path::new(op.name))?
    } else {
        let names: Vec<&str> = eddy_bundle::shipped().map(|o| o.name).collect();
        return Err(HostError::Load {
            path: path.into(),
            message: format!("no such file, and not an operator eddy ships ({})", names.join(", ")),
        }
        .into());
    };
    cache.insert(key, c.clone());
    Ok(c)
}

/// Registers an operator and returns its handle (never 0).
pub fn insert(op: Operator) -> i64 {
    let h = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    lock(&HANDLES).get_or_insert_with(HashMap::new).insert(h, Arc::new(Mutex::new(op)));
    h
}

/// Runs `f` on the operator behind `handle`.
pub fn with<T>(handle: i64, f: impl FnOnce(&mut Operator) -> Result<T>) -> Result<T> {
    let op = lock(&HANDLES)
        .as_ref()
        .and_then(|m| m.get(&handle).cloned())
        .ok_or_else(|| usage(format!("no open operator has handle {handle} (closed already, or never opened)")))?;
    let mut op = op
        .lock()
        .map_err(|_| usage(format!("the operator behind handle {handle} panicked in an earlier call; close it and open a new one")))?;
    f(&mut op)
}

/// Forgets `handle`; its operator is dropped once no call is using it. Unknown handles are an
/// error, so a double close shows up.
pub fn remove(handle: i64) -> Result<()> {
    match lock(&HANDLES).as_mut().and_then(|m| m.remove(&handle)) {
        Some(_) => Ok(()),
        None => Err(usage(format!("cannot close handle {handle}: no open operator has it"))),
    }
}
