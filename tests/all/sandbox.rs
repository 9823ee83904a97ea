//! Hostile components are contained: a trap, an endless loop and unbounded allocation each fail
//! the call with an error naming the operator and the records in flight, the host stays up,
//! and malformed output is refused. (A failed call is first retried record by record on fresh
//! instances, see poison.rs; an operator that fails on every record is then at fault: the
//! pipeline stops with its failure.)

use std::time::{Duration, Instant};

use eddy_host::{Format, HostError, Limits, Pipeline};
use eddy_tests::{component, json_records, runtime, runtime_with};
use serde_json::json;

fn records() -> Vec<eddy_host::Record> {
    json_records("hostile-input", &(0..10).map(|i| json!({"x": i as f64})).collect::<Vec<_>>())
}

fn run_hostile(rt: &eddy_host::Runtime, mode: &str) -> HostError {
    let c = component(rt, "hostile");
    let mut p = Pipeline::new(&c, &json!({"mode": mode, "afterRows": 4}), 0, Format::Json, true).unwrap();
    let recs = records();
    let (out, r) = p.process(&recs[..4]);
    r.unwrap();
    assert_eq!(out.predictions.len(), 4, "behaves before afterRows");
    let (_, r) = p.process(&recs[4..]);
    let err = r.unwrap_err();
    // The instance is broken; the next call says so instead of running it again.
    let (_, again) = p.process(&recs[..1]);
    assert!(again.unwrap_err().to_string().contains("broken"));
    err
}

fn assert_names_operator_and_range(err: &HostError) {
    let msg = err.to_string();
    assert!(matches!(err, HostError::OperatorFailed { .. }), "{msg}");
    assert!(msg.contains("operator Hostile"), "{msg}");
    assert!(msg.contains("topic hostile-input, partition 0, offsets 4..=9"), "{msg}");
}

#[test]
fn trap_is_contained() {
    let err = run_hostile(runtime(), "trap");
    assert_names_operator_and_range(&err);
    assert!(err.to_string().contains("deliberate trap"), "the guest's panic message is reported: {err}");
}

#[test]
fn endless_loop_hits_the_time_limit() {
    let rt = runtime_with(Limits { call_timeout_ms: 300, ..Limits::default() });
    let c = component(&rt, "hostile");
    let mut p = Pipeline::new(&c, &json!({"mode": "loop"}), 0, Format::Json, true).unwrap();
    let t = Instant::now();
    let (_, r) = p.process(&records());
    let took = t.elapsed();
    let err = r.unwrap_err();
    assert!(matches!(err, HostError::OperatorFailed { .. }), "{err}");
    assert!(err.to_string().contains("time limit of 300 ms"), "{err}");
    assert!(err.to_string().contains("offsets 0..=9"), "{err}");
    // Generous: the point is that the call was interrupted rather than left spinning forever.
    assert!(took < Duration::from_secs(20), "interrupted after {took:?}");
}

#[test]
fn unbounded_allocation_hits_the_memory_limit() {
    let rt = runtime_with(Limits { memory_mib: 64, ..Limits::default() });
    let err = run_hostile(&rt, "alloc");
    assert_names_operator_and_range(&err);
    assert!(err.to_string().contains("memory limit of 64 MiB"), "{err}");
}

#[test]
fn malformed_outputs_are_refused() {
    for mode in ["garbage", "wrong-rows"] {
        let err = run_hostile(runtime(), mode);
        assert_names_operator_and_range(&err);
        assert!(err.to_string().contains("malformed output"), "{mode}: {err}");
    }
}

#[test]
fn the_host_survives_and_runs_the_next_instance() {
    let _ = run_hostile(runtime(), "trap");
    let c = component(runtime(), "hostile");
    let mut p = Pipeline::new(&c, &json!({"mode": "echo"}), 0, Format::Json, true).unwrap();
    let (out, r) = p.process(&records());
    r.unwrap();
    assert_eq!(out.predictions.len(), 10);
}

/// What a guest sees of the world: a wall clock stopped at 0, a monotonic clock that does not
/// move, no environment, no arguments, no file system, and random numbers that are the same
/// in every instance (so that results are deterministic).
#[test]
fn the_guest_sees_no_clock_environment_files_or_real_randomness() {
    let probe = |rt: &eddy_host::Runtime| {
        let c = component(rt, "hostile");
        let mut p = Pipeline::new(&c, &json!({"mode": "probe"}), 0, Format::Json, false).unwrap();
        let (out, r) = p.process(&records()[..1]);
        r.unwrap();
        let v: serde_json::Value = serde_json::from_slice(out.predictions.value(0)).unwrap();
        v
    };
    let seen = probe(runtime());
    for (k, want) in [("clockMs", 0.0), ("monotonicNs", 0.0), ("envVars", 0.0), ("args", 0.0), ("fsRoot", 0.0), ("fsFile", 0.0)] {
        assert_eq!(seen[k].as_f64(), Some(want), "{k}: {seen}");
    }
    let other = probe(&runtime_with(Limits::default()));
    assert_eq!(seen["random"], other["random"], "random numbers are a fixed sequence, the same in every instance");
}

/// A component importing an interface operators are not granted (here a socket network) is
/// refused at load, naming the import.
#[test]
fn a_component_that_imports_sockets_is_refused_at_load() {
    let bytes = wat::parse_str(r#"(component (import "wasi:sockets/network@0.2.0" (instance)))"#).unwrap();
    let err = runtime().load(&bytes, std::path::Path::new("sneaky.wasm")).unwrap_err().to_string();
    assert!(err.contains("sneaky.wasm") && err.contains("wasi:sockets/network@0.2.0"), "{err}");
    assert!(err.contains("does not grant"), "{err}");
}
