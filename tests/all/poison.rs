//! Poison records: a record on which the operator traps on every attempt is retried once on a
//! fresh instance at the state before it, then set aside (dead letter with the trap message),
//! and everything else comes out exactly as in a run without that record, whatever the batch
//! sizes and restores; without a dead-letter sink the pipeline stops at it, naming it.

use eddy_host::{Format, HostError, Pipeline, PipelineOutput, PipelineSnapshot, Record, headers};
use eddy_tests::{component, json_records, runtime};
use serde_json::json;

const POISON_AT: usize = 137;

/// 400 records `{"x": i}`, the one at [`POISON_AT`] holding the poison value.
fn records() -> Vec<Record> {
    let values: Vec<_> = (0..400).map(|i| json!({"x": if i == POISON_AT { 666.0 } else { i as f64 }})).collect();
    json_records("poison-input", &values)
}

fn pipeline(dead_letters: bool, batch_rows: usize) -> Pipeline {
    let c = component(runtime(), "hostile");
    let mut p = Pipeline::new(&c, &json!({"mode": "poison"}), 0, Format::Json, dead_letters).unwrap();
    p.set_batch_rows(batch_rows);
    p
}

fn run(p: &mut Pipeline, recs: &[Record], chunk: usize, out: &mut PipelineOutput) {
    for c in recs.chunks(chunk) {
        let (o, r) = p.process(c);
        r.unwrap();
        out.extend(o);
    }
}

/// The operator's own state at the end (the sum it learned), as snapshot bytes.
fn state(p: &mut Pipeline) -> Vec<u8> {
    p.snapshot().unwrap().stages[0].state.clone()
}

#[test]
fn a_poison_record_is_set_aside_and_nothing_else_changes() {
    let recs = records();
    let without: Vec<Record> = recs.iter().enumerate().filter(|(i, _)| *i != POISON_AT).map(|(_, r)| r.clone()).collect();
    let mut want = PipelineOutput::default();
    let mut clean = pipeline(true, 64);
    run(&mut clean, &without, 50, &mut want);
    assert!(want.dead_letters.is_empty());
    let want_state = state(&mut clean);

    for (chunk, batch_rows) in [(1, 1), (7, 3), (50, 64), (400, 1000)] {
        let mut got = PipelineOutput::default();
        let mut p = pipeline(true, batch_rows);
        run(&mut p, &recs, chunk, &mut got);
        assert!(got.predictions == want.predictions, "chunks of {chunk}: predictions are a run's without the poison record");
        assert_eq!(state(&mut p), want_state, "chunks of {chunk}: the model is a run's without the poison record");
        let dead = got.dead_letters.into_records();
        assert_eq!(dead.len(), 1, "chunks of {chunk}: exactly one dead letter");
        let d = &dead[0];
        let header = |name: &str| {
            let v = d.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.clone()).unwrap_or_default();
            String::from_utf8(v).unwrap()
        };
        assert_eq!(header(headers::ORIGIN_OFFSET), POISON_AT.to_string(), "the dead letter names the poison record's offset");
        assert_eq!((&d.key, &d.value), (&recs[POISON_AT].key, &recs[POISON_AT].value), "the poison record, unchanged");
        let reason = header(headers::ERROR_REASON);
        assert!(reason.contains("poisoned by x = 666") && reason.contains("fresh instance"), "the trap message: {reason}");
        assert_eq!(p.metrics().summary().rows, 399, "the poison record is not answered");
    }
}

#[test]
fn a_restored_pipeline_sets_the_poison_record_aside_alike() {
    let recs = records();
    let mut want = PipelineOutput::default();
    let mut straight = pipeline(true, 16);
    run(&mut straight, &recs, 16, &mut want);
    let want_state = state(&mut straight);
    // Restored before the poison record, and with a snapshot in between (the recovery base
    // moves with every snapshot).
    for cut in [40, 130] {
        let mut got = PipelineOutput::default();
        let mut a = pipeline(true, 16);
        run(&mut a, &recs[..cut], 16, &mut got);
        let snap = PipelineSnapshot::from_bytes(&a.snapshot().unwrap().to_bytes()).unwrap();
        let mut b = pipeline(true, 16);
        b.restore(&snap).unwrap();
        run(&mut b, &recs[cut..cut + 50], 16, &mut got);
        let _ = b.snapshot_incremental().unwrap();
        run(&mut b, &recs[cut + 50..], 16, &mut got);
        assert!(got.predictions == want.predictions, "restored at {cut}: predictions");
        assert!(got.dead_letters == want.dead_letters, "restored at {cut}: dead letters");
        assert_eq!(state(&mut b), want_state, "restored at {cut}: the model");
    }
}

#[test]
fn a_small_retry_log_takes_the_state_whole_and_the_next_incremental_snapshot_is_full() {
    let recs = records();
    let mut want = PipelineOutput::default();
    let mut straight = pipeline(true, 16);
    run(&mut straight, &recs, 16, &mut want);
    let want_state = state(&mut straight);

    let mut got = PipelineOutput::default();
    let mut p = pipeline(true, 16);
    // A few calls' worth: the state is taken whole every few calls.
    p.set_retry_log_bytes(2048);
    run(&mut p, &recs, 16, &mut got);
    assert!(got.predictions == want.predictions && got.dead_letters == want.dead_letters);
    assert_eq!(state(&mut p), want_state);

    // An operator with incremental snapshots (embeddings): normally a delta follows a full
    // snapshot; once the state was taken whole in between, the next one is full, so that the
    // host's chain never needs a state it did not store.
    let events: Vec<_> = (0..300u64).map(|i| json!({"user": i % 40, "item": (i * 7) % 30})).collect();
    let events = json_records("poison-events", &events);
    let c = component(runtime(), "embeddings");
    let cfg = json!({"dim": 4, "publishEveryEvents": 50, "fullSnapshotEvery": 100});
    for (limit, full) in [(None, false), (Some(1024), true)] {
        let mut e = Pipeline::new(&c, &cfg, 0, Format::Json, true).unwrap();
        assert!(e.snapshot_incremental().unwrap().is_full(), "the first snapshot is full");
        if let Some(l) = limit {
            e.set_retry_log_bytes(l);
        }
        let mut out = PipelineOutput::default();
        run(&mut e, &events, 20, &mut out);
        assert_eq!(e.snapshot_incremental().unwrap().is_full(), full, "retry log limit {limit:?}");
    }
}

#[test]
fn without_dead_letters_the_pipeline_stops_at_the_poison_record_naming_it() {
    let recs = records();
    let mut p = pipeline(false, 64);
    let mut out = PipelineOutput::default();
    let mut err = None;
    for c in recs.chunks(100) {
        let (o, r) = p.process(c);
        out.extend(o);
        if let Err(e) = r {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the poison record stops the pipeline");
    assert!(matches!(err, HostError::BadRecord { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("topic poison-input, partition 0, offset 137") && msg.contains("poisoned by x = 666"), "{msg}");
    assert_eq!(out.predictions.len(), POISON_AT, "every record before it is answered");
}
