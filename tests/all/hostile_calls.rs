//! Hostile guests beyond `process`'s traps (sandbox.rs) and poison values (poison.rs): deep
//! recursion and an oversized output on one record are poison records like a trap (one dead
//! letter naming what happened, everything else as in a run without the record), and a guest
//! that traps or returns malformed data in `snapshot`, `restore`, `watermark` or `model-data`
//! fails that call with an error naming the call and the operator; nothing answered before is
//! lost, and the host goes on.

use eddy_host::{Format, HostError, Limits, Pipeline, PipelineOutput, Record, Runtime, headers};
use eddy_tests::{component, json_records, runtime, runtime_with};
use serde_json::{Value, json};

const POISON_AT: usize = 23;

/// 60 records `{"x": i}`, the one at [`POISON_AT`] holding the poison value 666.
fn records() -> Vec<Record> {
    let values: Vec<_> = (0..60).map(|i| json!({"x": if i == POISON_AT { 666.0 } else { i as f64 }})).collect();
    json_records("hostile-calls", &values)
}

fn pipeline(rt: &Runtime, config: Value) -> Pipeline {
    let c = component(rt, "hostile");
    let mut p = Pipeline::new(&c, &config, 0, Format::Json, true).unwrap();
    p.set_batch_rows(8);
    p
}

fn run(p: &mut Pipeline, recs: &[Record]) -> PipelineOutput {
    let mut out = PipelineOutput::default();
    for c in recs.chunks(10) {
        let (o, r) = p.process(c);
        r.unwrap();
        out.extend(o);
    }
    out
}

/// Runs `config` (a learner that misbehaves on the poison record) over [`records`]: one dead
/// letter, for the poison record, whose reason is returned; predictions and the learned state
/// are those of the same learner over the records without it.
fn poison_record_reason(rt: &Runtime, config: Value) -> String {
    let recs = records();
    let without: Vec<Record> = recs.iter().enumerate().filter(|(i, _)| *i != POISON_AT).map(|(_, r)| r.clone()).collect();
    let mut clean = pipeline(rt, config.clone());
    let want = run(&mut clean, &without);
    let mut p = pipeline(rt, config);
    let got = run(&mut p, &recs);
    assert!(got.predictions == want.predictions, "predictions are a run's without the poison record");
    assert_eq!(p.snapshot().unwrap().stages[0].state, clean.snapshot().unwrap().stages[0].state, "the model too");
    let dead = got.dead_letters.into_records();
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    assert_eq!(dead[0].header(headers::ORIGIN_OFFSET).as_deref(), Some(POISON_AT.to_string().as_str()));
    dead[0].header(headers::ERROR_REASON).unwrap()
}

#[test]
fn deep_recursion_is_contained_as_a_poison_record() {
    let reason = poison_record_reason(runtime(), json!({"mode": "recurse"}));
    assert!(reason.contains("call stack exhausted"), "the trap says what happened: {reason}");
}

#[test]
fn an_oversized_output_is_refused_and_its_record_set_aside() {
    // 24 MiB answers one record; the host takes at most 16 MiB from a call.
    let rt = runtime_with(Limits { memory_mib: 256, output_mib: 16, ..Limits::default() });
    let reason = poison_record_reason(&rt, json!({"mode": "huge-output", "outputMib": 24}));
    assert!(reason.contains("outputs of 24.0 MiB, over the limit of 16 MiB (limits.output_mib)"), "{reason}");
    // Within the limit it is an answer like any other.
    let rt = runtime_with(Limits { memory_mib: 256, output_mib: 64, ..Limits::default() });
    let mut p = pipeline(&rt, json!({"mode": "huge-output", "outputMib": 24}));
    let out = run(&mut p, &records()[..30]);
    assert_eq!((out.predictions.len(), out.dead_letters.len()), (30, 0));
    // Past the memory limit the guest cannot even build it: a memory-limit trap, set aside alike.
    let rt = runtime_with(Limits { memory_mib: 32, ..Limits::default() });
    let reason = poison_record_reason(&rt, json!({"mode": "huge-output", "outputMib": 24}));
    assert!(reason.contains("memory limit of 32 MiB"), "{reason}");
}

/// An echoing operator whose `call` misbehaves as `how` says.
fn failing(call: &str, how: &str) -> Pipeline {
    pipeline(runtime(), json!({"mode": "echo", "failIn": call, "failHow": how}))
}

fn assert_names(err: &HostError, call: &str) {
    let msg = err.to_string();
    assert!(msg.contains("operator Hostile") && msg.contains(call), "names the operator and the call ({call}): {msg}");
}

/// Processes 20 records; every one is answered before the call under test.
fn answered_before(p: &mut Pipeline) -> PipelineOutput {
    let out = run(p, &records()[..20]);
    assert_eq!(out.predictions.len(), 20);
    out
}

#[test]
fn a_failing_snapshot_names_the_call_and_loses_nothing() {
    for (how, why) in [("trap", "deliberate trap in snapshot"), ("malformed", "asked for a full snapshot, it returned a delta")] {
        let mut p = failing("snapshot", how);
        let before = answered_before(&mut p);
        let err = p.snapshot().unwrap_err();
        assert_names(&err, "snapshot");
        assert!(err.to_string().contains(why), "{how}: {err}");
        // The pipeline goes on (a broken instance is rebuilt at the state before it): the
        // records after it are answered as in a run that never snapshotted.
        let after = run(&mut p, &records()[20..40]);
        let mut straight = failing("", "trap");
        let want = run(&mut straight, &records()[..40]);
        let mut got = before;
        got.extend(after);
        assert!(got.predictions == want.predictions, "{how}: nothing lost, nothing repeated");
    }
}

#[test]
fn a_failing_restore_names_the_call_and_the_operator() {
    let mut good = failing("", "trap");
    answered_before(&mut good);
    let snap = good.snapshot().unwrap();
    for (how, why) in [("trap", "deliberate trap in restore"), ("malformed", "refuses every snapshot")] {
        let mut p = failing("restore", how);
        let err = p.restore(&snap).unwrap_err();
        assert!(matches!(err, HostError::Restore(_)), "{err}");
        assert_names(&err, "restore");
        assert!(err.to_string().contains(why), "{how}: {err}");
    }
}

#[test]
fn a_failing_watermark_names_the_call_and_keeps_what_was_answered() {
    for (how, why) in [("trap", "deliberate trap in watermark"), ("malformed", "which is not a row waiting for an answer")] {
        let mut p = failing("watermark", how);
        answered_before(&mut p);
        let (out, r) = p.finish();
        let err = r.unwrap_err();
        assert_names(&err, "end of input");
        assert!(err.to_string().contains(why), "{how}: {err}");
        assert!(out.predictions.is_empty(), "{how}: nothing made up");
        assert_eq!(p.metrics().summary().rows, 20, "{how}: the rows answered before are kept");
    }
}

#[test]
fn failing_model_data_names_the_call_and_the_operator() {
    let rt = runtime_with(Limits { memory_mib: 160, output_mib: 16, ..Limits::default() });
    for (how, why) in [("trap", "deliberate trap in model data"), ("malformed", "model data of 40.0 MiB, over the limit of 16 MiB")] {
        let mut p = pipeline(&rt, json!({"mode": "echo", "failIn": "modelData", "failHow": how, "outputMib": 40}));
        answered_before(&mut p);
        let err = p.model_data().unwrap_err();
        assert_names(&err, "model data");
        assert!(err.to_string().contains(why), "{how}: {err}");
    }
}
