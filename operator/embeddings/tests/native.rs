//! The embedding updater natively: admission, expiry, the memory bound, tombstones,
//! publication, ranking, batch-size independence, restore (full and incremental), determinism,
//! and refusals of bad input and bad config.

mod common;

use common::{Ev, Row, batch, concat, ev, f64s, i64s, model_rows, run};
use eddy_embeddings::snapshot::{BlobKind, frame_chain};
use eddy_embeddings::{Embeddings, IdFormat, Kind, display_id};
use eddy_sdk::arrow::array::{Array, ListArray, RecordBatch, StringArray, UInt64Array};
use eddy_sdk::{Operator, OperatorError};

/// A stream over `users` users and `items` items with some structure (user u prefers items
/// near 3u), 1 s apart, with a few string and integer ids of the same text.
fn events(n: usize, users: u64, items: u64, seed: u64) -> Vec<Ev> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    (0..n)
        .map(|k| {
            let u = next() % users;
            let i = if next().is_multiple_of(4) { next() % items } else { (3 * u + next() % 5) % items };
            let user = if u.is_multiple_of(2) { format!("\"u{u}\"") } else { u.to_string() };
            let item = if i.is_multiple_of(3) { format!("\"{i}\"") } else { i.to_string() };
            Ev { user, item, ts: 1_000 * k as i64, weight: k.is_multiple_of(10).then_some(2.0) }
        })
        .collect()
}

fn open(config: &str) -> Embeddings {
    Embeddings::open_json(config).unwrap()
}

fn published(models: &[RecordBatch]) -> Vec<Row> {
    models.iter().flat_map(model_rows).collect()
}

/// Everything a run produced, for comparing runs.
#[derive(Debug, PartialEq)]
struct Trace {
    outputs: Option<RecordBatch>,
    models: Vec<Row>,
    snapshot: Vec<u8>,
    table: Vec<Row>,
}

fn trace(op: &Embeddings, outs: &[RecordBatch], models: &[RecordBatch]) -> Trace {
    Trace {
        outputs: concat(outs),
        models: published(models),
        snapshot: op.full_snapshot().unwrap(),
        table: model_rows(&op.model_data().unwrap()),
    }
}

const CONFIG: &str = r#"{"dim": 8, "negatives": 3, "topK": 5, "publishEveryEvents": 50, "admitAfter": 2,
    "expireAfterMs": 60000, "maxIds": 120, "weightCol": "weight", "popularityWindow": 64}"#;

#[test]
fn admission_waits_for_the_nth_sighting_and_keeps_string_and_integer_ids_apart() {
    let mut op = open(r#"{"dim": 4, "admitAfter": 3, "publishEveryEvents": 0}"#);
    let evs = vec![
        ev("\"u\"", "42", 0),
        ev("\"u\"", "\"42\"", 1),
        ev("\"u\"", "42", 2),
        ev("\"u\"", "42", 3),
        ev("\"u\"", "\"42\"", 4),
        ev("\"u\"", "42", 5),
    ];
    let (outs, models) = run(&mut op, &evs, 1, 0);
    assert!(models.is_empty());
    let out = concat(&outs).unwrap();
    // The user is admitted at event 2 (its third sighting), item 42 at event 3; a rank needs
    // both known before the event, so event 5 is the first one ranked.
    assert_eq!(i64s(&out, "rank"), vec![None, None, None, None, None, Some(1)]);
    assert_eq!(f64s(&out, "hit10"), vec![Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)]);
    assert!(op.vector("user", "\"u\"").is_some());
    assert!(op.vector("item", "42").is_some());
    // "42" (the string) was seen twice: still counting, no vector; it never shares 42's.
    assert!(op.vector("item", "\"42\"").is_none());
    assert_eq!(op.model().ids_held(), 3);
    let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
    let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    // Ids are written in their plain form: the string "u" as u, the integer 42 as 42.
    assert_eq!(keys, vec![("item", "42"), ("user", "u")]);
    // Third sighting of "42": now it has its own vector.
    run(&mut op, &[ev("\"v\"", "\"42\"", 6)], 1, 6);
    assert!(op.vector("item", "\"42\"").is_some());
    assert_ne!(op.vector("item", "\"42\""), op.vector("item", "42"));
}

#[test]
fn expiry_evicts_ids_unseen_for_the_span_and_publishes_tombstones() {
    let mut op = open(r#"{"dim": 4, "expireAfterMs": 1000, "publishEveryEvents": 0}"#);
    run(&mut op, &[ev("1", "10", 0), ev("2", "20", 500), ev("2", "20", 1000)], 7, 0);
    op.watermark(i64::MAX).unwrap();
    assert!(op.vector("user", "1").is_some() && op.vector("item", "10").is_some());
    // At 1000 nothing is older than 1000 ms. At 1001 user 1 and item 10 (seen at 0) go.
    run(&mut op, &[ev("2", "20", 1001)], 1, 3);
    assert!(op.vector("user", "1").is_none() && op.vector("item", "10").is_none());
    assert_eq!(op.model().ids_held(), 2);
    let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
    let tomb: Vec<(&str, &str, i64)> = rows.iter().filter(|r| r.2.is_none()).map(|r| (r.0.as_str(), r.1.as_str(), r.4)).collect();
    assert_eq!(tomb, vec![("item", "10", 1001), ("user", "1", 1001)]);
    // Out-of-order events do not move the clock back; an expired id comes back as new.
    let (outs, _) = run(&mut op, &[ev("1", "20", 900)], 1, 4);
    assert_eq!(i64s(&outs[0], "rank"), vec![None]);
    assert!(op.vector("user", "1").is_some());
    assert_eq!(op.model().clock, 1001);
}

#[test]
fn the_memory_bound_evicts_the_least_recently_seen_id() {
    let mut op = open(r#"{"dim": 4, "maxIds": 4, "admitAfter": 1, "publishEveryEvents": 0}"#);
    run(&mut op, &[ev("1", "10", 0), ev("2", "20", 1)], 1, 0);
    op.watermark(i64::MAX).unwrap();
    assert_eq!(op.model().ids_held(), 4);
    // User 1 is seen again (most recent); new item 30 needs room: item 10 is the oldest.
    run(&mut op, &[ev("1", "30", 2)], 1, 2);
    assert_eq!(op.model().ids_held(), 4);
    assert!(op.vector("item", "10").is_none());
    assert!(op.vector("user", "1").is_some() && op.vector("user", "2").is_some() && op.vector("item", "20").is_some());
    // Two new ids at once: the two oldest go (user 2, then item 20), never the event's own.
    run(&mut op, &[ev("3", "40", 3)], 1, 3);
    assert!(op.vector("user", "2").is_none() && op.vector("item", "20").is_none());
    assert!(op.vector("user", "3").is_some() && op.vector("item", "40").is_some());
    let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
    let tomb: Vec<(&str, &str)> = rows.iter().filter(|r| r.2.is_none()).map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(tomb, vec![("item", "10"), ("item", "20"), ("user", "2")]);
    // Under a long stream the bound holds at every event.
    let mut op = open(r#"{"dim": 4, "maxIds": 30, "admitAfter": 2}"#);
    for e in events(2_000, 40, 40, 3).chunks(1) {
        run(&mut op, e, 1, 0);
        assert!(op.model().ids_held() <= 30);
    }
}

#[test]
fn tombstones_are_published_once_and_superseded_by_readmission() {
    let mut op = open(r#"{"dim": 4, "expireAfterMs": 10, "publishEveryEvents": 0, "negatives": 0}"#);
    run(&mut op, &[ev("1", "10", 0)], 1, 0);
    op.watermark(i64::MAX).unwrap();
    // User 1 and item 10 expire at t=11; user 1 comes back in the same interval.
    run(&mut op, &[ev("2", "20", 11), ev("1", "20", 12)], 1, 1);
    let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
    let summary: Vec<(&str, &str, bool)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str(), r.2.is_some())).collect();
    assert_eq!(summary, vec![("item", "10", false), ("item", "20", true), ("user", "1", true), ("user", "2", true)]);
    assert!(rows.iter().all(|r| r.3 == 2), "all rows carry version 2: {rows:?}");
    // Nothing changed since: no publication, no new version.
    assert!(op.watermark(i64::MAX).unwrap().is_none());
    assert_eq!(op.model().version, 2);
    // The tombstone is not repeated once published.
    run(&mut op, &[ev("2", "20", 13)], 1, 3);
    let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
    assert!(rows.iter().all(|r| r.2.is_some()));
}

#[test]
fn publications_carry_only_changed_vectors_every_n_events() {
    let mut op = open(r#"{"dim": 4, "negatives": 0, "publishEveryEvents": 2}"#);
    let evs = [ev("1", "10", 0), ev("2", "20", 1), ev("1", "10", 2), ev("1", "10", 3), ev("3", "30", 4)];
    let (outs, models) = run(&mut op, &evs, 100, 0);
    let out = concat(&outs).unwrap();
    assert_eq!(i64s(&out, "modelVersion"), vec![Some(0), Some(0), Some(1), Some(1), Some(2)]);
    let rows = published(&models);
    let keys: Vec<(&str, &str, i64, i64)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str(), r.3, r.4)).collect();
    assert_eq!(
        keys,
        vec![
            ("item", "10", 1, 0),
            ("item", "20", 1, 1),
            ("user", "1", 1, 0),
            ("user", "2", 1, 1),
            ("item", "10", 2, 3),
            ("user", "1", 2, 3)
        ]
    );
    // Each model row names the input row whose processing published it.
    let seqs: Vec<u64> = models
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name("__seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap();
            a.values().to_vec()
        })
        .collect();
    assert_eq!(seqs, vec![1, 1, 1, 1, 3, 3]);
    // Each published vector is the vector at publication time; model_data has the whole table.
    let table = model_rows(&op.model_data().unwrap());
    assert_eq!(table.len(), 6);
    assert!(table.iter().all(|r| r.3 == 2 && r.2.as_ref().unwrap().len() == 4));
    let last = op.watermark(i64::MAX).unwrap().unwrap().models.unwrap();
    assert!(last.column_by_name("__seq").is_none(), "a watermark publication answers no input row");
    let rows = model_rows(&last);
    assert_eq!(rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(), vec!["30", "3"]);
    assert_eq!(rows[0].2.as_deref(), op.vector("item", "30"));
}

/// Brute-force rank and top-k from the published table, in f64: at dimension 6 (the portable
/// kernel's remainder lanes) and 16, with every id admitted and with ids still counting
/// towards `admitAfter` (never ranked).
#[test]
fn rank_and_top_k_match_a_brute_force_ranking() {
    for config in [
        (r#"{"dim": 6, "topK": 4, "publishEveryEvents": 0}"#, 30),
        // Fewer items admitted than topK: a slot still counting would show in every list.
        (r#"{"dim": 16, "topK": 200, "publishEveryEvents": 0, "admitAfter": 12}"#, 300),
    ] {
        brute_force_ranking(config.0, config.1);
    }
}

fn brute_force_ranking(config: &str, items: u64) {
    let k: usize = serde_json::from_str::<serde_json::Value>(config).unwrap()["topK"].as_u64().unwrap() as usize;
    let mut op = open(config);
    let evs = events(3_000, 20, items, 9);
    run(&mut op, &evs, 500, 0);
    let probe = events(40, 20, items, 10);
    let mut checked = 0;
    for (n, e) in probe.iter().enumerate() {
        let table = model_rows(&op.model_data().unwrap());
        let (outs, _) = run(&mut op, std::slice::from_ref(e), 1, 10_000 + n as u64);
        let out = &outs[0];
        let user = display_id(&e.user, IdFormat::Plain);
        let Some(pu) = table.iter().find(|r| r.0 == "user" && r.1 == user).and_then(|r| r.2.clone()) else { continue };
        let dot = |q: &[f32]| pu.iter().zip(q).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>();
        let mut scored: Vec<(f64, String)> =
            table.iter().filter(|r| r.0 == "item").map(|r| (dot(r.2.as_ref().unwrap()), r.1.clone())).collect();
        scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
        let item = display_id(&e.item, IdFormat::Plain);
        let want_rank = scored.iter().position(|s| s.1 == item).map(|p| p as i64 + 1);
        assert_eq!(i64s(out, "rank")[0], want_rank, "event {n}");
        if let Some(r) = want_rank {
            assert_eq!(f64s(out, "hit10")[0], Some(if r <= 10 { 1.0 } else { 0.0 }));
            assert_eq!(f64s(out, "reciprocalRank")[0], Some(1.0 / r as f64));
            checked += 1;
        }
        let top = out.column_by_name("topK").unwrap().as_any().downcast_ref::<ListArray>().unwrap().value(0);
        let top = top.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<&str> = (0..top.len()).map(|i| top.value(i)).collect();
        let want: Vec<&str> = scored.iter().take(k).map(|s| s.1.as_str()).collect();
        assert_eq!(got, want, "event {n}");
    }
    assert!(checked > 20);
}

#[test]
fn ids_are_written_as_the_input_held_them_and_never_alike() {
    for (json, plain) in [
        ("\"sku-0376\"", "sku-0376"),
        ("42", "42"),
        ("-7", "-7"),
        ("\"42\"", "\"42\""),
        ("\"-7\"", "\"-7\""),
        ("\"4x2\"", "4x2"),
        ("\"a\\\"b\"", "a\"b"),
        ("\"\\\"42\\\"\"", "\"\\\"42\\\"\""),
        ("\"\"", ""),
    ] {
        assert_eq!(display_id(json, IdFormat::Plain), plain, "{json}");
        assert_eq!(display_id(json, IdFormat::Json), json);
    }
    // Through the operator: topK and published ids in the input's own form (strings plain,
    // integers as digits); with idFormat = "json", the JSON text as before.
    for (config, want_top, want_ids) in [
        (
            r#"{"dim": 4, "topK": 3, "publishEveryEvents": 0, "negatives": 0}"#,
            vec!["sku-1", "42", "\"42\""],
            vec!["\"42\"", "42", "sku-1", "u"],
        ),
        (
            r#"{"dim": 4, "topK": 3, "publishEveryEvents": 0, "negatives": 0, "idFormat": "json"}"#,
            vec!["\"sku-1\"", "42", "\"42\""],
            vec!["\"42\"", "\"sku-1\"", "\"u\"", "42"],
        ),
    ] {
        let mut op = open(config);
        let evs = [ev("\"u\"", "\"sku-1\"", 0), ev("\"u\"", "42", 1), ev("\"u\"", "\"42\"", 2), ev("\"u\"", "42", 3)];
        let (outs, _) = run(&mut op, &evs, 10, 0);
        let top = outs[0].column_by_name("topK").unwrap().as_any().downcast_ref::<ListArray>().unwrap().value(3);
        let top = top.as_any().downcast_ref::<StringArray>().unwrap();
        let mut got: Vec<&str> = (0..top.len()).map(|i| top.value(i)).collect();
        got.sort_unstable();
        let mut want = want_top.clone();
        want.sort_unstable();
        assert_eq!(got, want, "{config}");
        let rows = model_rows(&op.watermark(i64::MAX).unwrap().unwrap().models.unwrap());
        let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let mut sorted_ids = ids.clone();
        sorted_ids.sort_unstable();
        let mut want_sorted = want_ids.clone();
        want_sorted.sort_unstable();
        assert_eq!(sorted_ids, want_sorted, "{config}");
    }
}

#[test]
fn batch_size_does_not_change_anything() {
    let evs = events(1_500, 40, 60, 1);
    let mut traces = Vec::new();
    for size in [1, 7, 1000, evs.len()] {
        let mut op = open(CONFIG);
        let (outs, mut models) = run(&mut op, &evs, size, 0);
        models.extend(op.watermark(i64::MAX).unwrap().and_then(|o| o.models));
        traces.push((size, trace(&op, &outs, &models), op.snapshot().unwrap()));
    }
    let (_, first, snap) = &traces[0];
    assert!(first.models.iter().any(|r| r.2.is_none()), "the stream exercises tombstones");
    for (size, t, s) in &traces[1..] {
        assert!(t == first, "batch size {size} differs");
        assert_eq!(s, snap, "batch size {size}: snapshot bytes differ");
    }
}

#[test]
fn restore_at_any_event_continues_bit_for_bit() {
    let evs = events(1_200, 40, 60, 2);
    let mut whole = open(CONFIG);
    let (outs, models) = run(&mut whole, &evs, 100, 0);
    let want = trace(&whole, &outs, &models);
    for cut in [0, 1, 333, 799, 1_199] {
        let mut a = open(CONFIG);
        let (mut outs, mut models) = run(&mut a, &evs[..cut], 64, 0);
        let bytes = a.snapshot().unwrap();
        let mut b = open(CONFIG);
        b.restore(&bytes).unwrap();
        let (o, m) = run(&mut b, &evs[cut..], 13, cut as u64);
        outs.extend(o);
        models.extend(m);
        let got = trace(&b, &outs, &models);
        assert!(got == want, "restored at event {cut}: the run differs");
        assert_eq!(b.snapshot().unwrap(), whole.snapshot().unwrap());
    }
}

#[test]
fn incremental_snapshots_restore_as_a_chain() {
    let evs = events(1_000, 40, 60, 4);
    let config = CONFIG.replace("\"dim\": 8", "\"dim\": 8, \"fullSnapshotEvery\": 3");
    let mut whole = open(&config);
    let (outs, models) = run(&mut whole, &evs, 100, 0);
    let want = trace(&whole, &outs, &models);

    let mut a = open(&config);
    let mut blobs = Vec::new();
    let mut done = 0;
    for cut in [100, 250, 400, 650, 653] {
        run(&mut a, &evs[done..cut], 50, done as u64);
        done = cut;
        blobs.push(a.snapshot_blob(false).unwrap().1);
    }
    let kinds: Vec<BlobKind> = blobs.iter().map(|b| Embeddings::peek_snapshot(b).unwrap().kind).collect();
    assert_eq!(kinds, vec![BlobKind::Full, BlobKind::Delta, BlobKind::Delta, BlobKind::Full, BlobKind::Delta]);
    assert!(blobs[4].len() < blobs[3].len() / 2, "a delta of 3 events is smaller: {} vs {}", blobs[4].len(), blobs[3].len());

    // A delta alone is refused with a message saying why; so is a chain out of order.
    let err = open(&config).restore(&blobs[4]).unwrap_err().to_string();
    assert!(err.contains("only as a chain"), "{err}");
    let err = open(&config).restore(&frame_chain(&[&blobs[0], &blobs[2]])).unwrap_err().to_string();
    assert!(err.contains("another parent"), "{err}");

    // The chain of the first three blobs restores the state at event 400, and the run continues
    // identically; so does the chain of the last two.
    for (chain, at) in [(frame_chain(&blobs[0..3]), 400), (frame_chain(&blobs[3..5]), 653)] {
        let mut b = open(&config);
        b.restore(&chain).unwrap();
        let mut c = open(&config);
        let (mut outs, mut models) = run(&mut c, &evs[..at], 100, 0);
        assert_eq!(b.full_snapshot().unwrap(), c.full_snapshot().unwrap(), "state at {at}");
        let (o, m) = run(&mut b, &evs[at..], 100, at as u64);
        outs.extend(o);
        models.extend(m);
        assert!(trace(&b, &outs, &models) == want, "chain ending at {at}");
    }
    // A restored chain continues the cadence: the next snapshot after the 653 state is a delta
    // whose parent is the last blob of the chain.
    let mut b = open(&config);
    b.restore(&frame_chain(&blobs[3..5])).unwrap();
    run(&mut b, &evs[653..800], 100, 653);
    let next = b.snapshot_blob(false).unwrap().1;
    let h = Embeddings::peek_snapshot(&next).unwrap();
    assert_eq!((h.kind, h.from_op, h.to_op), (BlobKind::Delta, 653, 800));
    let mut c = open(&config);
    c.restore(&frame_chain(&[&blobs[3], &blobs[4], &next])).unwrap();
    assert_eq!(c.full_snapshot().unwrap(), b.full_snapshot().unwrap());
}

#[test]
fn the_same_seed_gives_the_same_model_and_another_seed_another() {
    let evs = events(800, 30, 40, 5);
    let run_with = |config: &str| {
        let mut op = open(config);
        let (outs, models) = run(&mut op, &evs, 77, 0);
        trace(&op, &outs, &models)
    };
    let a = run_with(r#"{"dim": 8, "seed": 7}"#);
    assert!(a == run_with(r#"{"dim": 8, "seed": 7}"#));
    let b = run_with(r#"{"dim": 8, "seed": 8}"#);
    assert_ne!(a.table, b.table);
}

#[test]
fn bad_rows_are_refused_naming_row_and_column_and_leave_the_state_alone() {
    let mut op = open(r#"{"dim": 4, "weightCol": "weight"}"#);
    run(&mut op, &events(50, 5, 5, 6), 50, 0);
    let before = op.full_snapshot().unwrap();
    let good = ev("1", "2", 100);
    let cases: Vec<(Ev, &str, &str)> = vec![
        (ev("1.5", "2", 100), "user", "JSON string or integer"),
        (ev("1", "[2]", 100), "item", "JSON string or integer"),
        (ev("1", "true", 100), "item", "JSON string or integer"),
        (Ev { weight: Some(-1.0), ..good.clone() }, "weight", "weight"),
        (Ev { weight: Some(f64::NAN), ..good.clone() }, "weight", "weight"),
        (ev(&format!("\"{}\"", "x".repeat(2_000)), "2", 100), "user", "bytes long"),
    ];
    for (bad, col, msg) in cases {
        let err = op.process(&batch(&[good.clone(), good.clone(), bad.clone()], 50)).unwrap_err();
        match &err {
            OperatorError::InvalidInput(e) => {
                assert_eq!((e.row, e.column.as_deref()), (2, Some(col)), "{bad:?}: {err}");
                assert!(e.message.contains(msg), "{bad:?}: {err}");
            }
            other => panic!("{bad:?}: {other}"),
        }
        assert_eq!(op.full_snapshot().unwrap(), before);
    }
    // Null ids and times.
    let mut b = batch(&[good.clone(), good], 50);
    let mut cols = b.columns().to_vec();
    cols[0] = std::sync::Arc::new(StringArray::from(vec![Some("1"), None]));
    b = RecordBatch::try_new(b.schema(), cols).unwrap();
    let err = op.process(&b).unwrap_err().to_string();
    assert!(err.contains("row 1") && err.contains("`user`") && err.contains("missing id"), "{err}");
    assert_eq!(op.full_snapshot().unwrap(), before);
}

#[test]
fn bad_config_names_the_parameter() {
    for (cfg, param) in [
        (r#"{"dimm": 3}"#, "dimm"),
        (r#"{"dim": 0}"#, "dim"),
        (r#"{"learningRate": 0}"#, "learningRate"),
        (r#"{"negatives": -1}"#, "negatives"),
        (r#"{"reg": -1}"#, "reg"),
        (r#"{"loss": "hinge"}"#, "loss"),
        (r#"{"initStd": 0}"#, "initStd"),
        (r#"{"admitAfter": 0}"#, "admitAfter"),
        (r#"{"expireAfterMs": -5}"#, "expireAfterMs"),
        (r#"{"maxIds": 1}"#, "maxIds"),
        (r#"{"topK": 5000}"#, "topK"),
        (r#"{"publishEveryEvents": -1}"#, "publishEveryEvents"),
        (r#"{"popularityWindow": 0}"#, "popularityWindow"),
        (r#"{"popularityMix": 1.5}"#, "popularityMix"),
        (r#"{"fullSnapshotEvery": 0}"#, "fullSnapshotEvery"),
        (r#"{"userCol": "item"}"#, "itemCol"),
        (r#"{"evaluate": "yes"}"#, "evaluate"),
        (r#"{"seed": 1.5}"#, "seed"),
    ] {
        let e = Embeddings::open_json(cfg).unwrap_err().to_string();
        assert!(e.contains(&format!("`{param}`")), "{cfg}: {e}");
    }
}

#[test]
fn declared_defaults_are_the_defaults() {
    let defaults = open("{}");
    for p in Embeddings::describe().params {
        if let Some(d) = &p.default_value {
            let op = open(&format!("{{\"{}\": {d}}}", p.name));
            assert_eq!(op.model().p, defaults.model().p, "default of {}", p.name);
        }
    }
    let cols: Vec<String> = defaults.input_columns().into_iter().map(|c| c.name).collect();
    assert_eq!(cols, vec!["user", "item", "__timestamp"]);
}

#[test]
fn evaluation_off_leaves_the_metrics_null() {
    let mut op = open(r#"{"dim": 4, "evaluate": false}"#);
    let (outs, _) = run(&mut op, &events(20, 3, 3, 8), 20, 0);
    assert!(f64s(&outs[0], "hit10").iter().all(Option::is_none));
    assert!(i64s(&outs[0], "rank").iter().all(Option::is_none));
    assert!(outs[0].column_by_name("topK").is_none());
    assert_eq!(op.model().table(Kind::Item).len(), 3);
}
