//! What a checkpoint costs when the state is large and little of it changed (not a test):
//!
//!     cargo bench -p eddy-kafka --bench incremental_checkpoint
//!
//! The embeddings operator runs through its compiled component (dimension 32, 8 negatives,
//! learning only) over 1,000,000 events of distinct users on 1,000 items: a table of about
//! 1,001,000 ids. A full pipeline snapshot is taken and encoded into checkpoint-topic records
//! (chunks of 1 MiB, SHA-256, as the Kafka store writes them); then 9,000 more events touch
//! about 10,000 ids (9,000 users, the 1,000 items, which the negatives reach), and an
//! incremental snapshot is taken and encoded the same way. Reported: bytes and time of both,
//! their ratios (same process, same table), and the time to restore the chain (full + delta)
//! into a fresh instance, against restoring the full snapshot alone.
//!
//! `EDDY_BENCH_IDS` (default 1,000,000) sets the number of users.

use std::time::Instant;

use eddy_host::job::Job;
use eddy_host::run::{load_operators, open_pipeline};
use eddy_host::{Limits, Pipeline, PipelineSnapshot, Record, Runtime};
use eddy_kafka::checkpoint::{Checkpoint, encode};

fn events(users: impl Iterator<Item = (u64, u64)>, first_offset: i64) -> Vec<Record> {
    users
        .enumerate()
        .map(|(i, (user, item))| Record {
            topic: "interactions".into(),
            partition: 0,
            offset: first_offset + i as i64,
            timestamp: 1_700_000_000_000 + first_offset + i as i64,
            key: None,
            value: format!("{{\"user\":{user},\"item\":{item}}}").into_bytes(),
            headers: vec![],
        })
        .collect()
}

fn feed(p: &mut Pipeline, recs: &[Record]) {
    for c in recs.chunks(4096) {
        let (_, r) = p.process(c);
        r.expect("process");
    }
}

/// Encodes a snapshot as the Kafka store would; returns bytes written.
fn store_bytes(snap: &PipelineSnapshot, epoch: u64) -> usize {
    let cp = Checkpoint {
        group: "bench".into(),
        topic: "interactions".into(),
        partition: 0,
        epoch,
        offset: 0,
        operator: snap.operators(),
        version: String::new(),
        records_in: 0,
        created_ms: 0,
        earlier: vec![],
        earlier_snapshots: vec![],
        full_stages: snap.stages.iter().map(|s| s.kind == eddy_host::SnapshotKind::Full).collect(),
        snapshot: snap.to_bytes(),
        stored: None,
        finished: false,
    };
    encode(&cp, 1 << 20, &[]).0.iter().map(|r| r.len()).sum()
}

fn main() {
    let ids: u64 = std::env::var("EDDY_BENCH_IDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let job = Job::parse(
        &format!(
            "[source]\nreplay = \"none.replay\"\nformat = \"json\"\n[limits]\nmemory_mib = 3072\ncall_timeout_ms = 600000\n\
             [operator]\ncomponent = \"embeddings\"\n[operator.config]\ndim = 32\nnegatives = 8\nevaluate = false\n\
             publishEveryEvents = 0\nmaxIds = {}\nfullSnapshotEvery = 1000\n[sinks]\n",
            ids * 2 + 10_000
        ),
        dir.path(),
        &[],
    )
    .expect("job");
    let rt = Runtime::new(Limits { memory_mib: 3072, call_timeout_ms: 600_000, ..Limits::default() }).expect("runtime");
    let comps = load_operators(&rt, &job).expect("component");
    let mut p = open_pipeline(&job, &comps, 0).expect("pipeline");

    let t = Instant::now();
    feed(&mut p, &events((0..ids).map(|u| (u, u % 1000)), 0));
    let build = t.elapsed().as_secs_f64();
    println!("table: {ids} users + 1,000 items from {ids} events in {build:.1} s ({:.0} events/s)", ids as f64 / build);

    let t = Instant::now();
    let full = p.snapshot_incremental().expect("full snapshot");
    let full_take = t.elapsed().as_secs_f64();
    assert!(full.is_full(), "the first snapshot is full");
    let t = Instant::now();
    let full_bytes = store_bytes(&full, 0);
    let full_encode = t.elapsed().as_secs_f64();

    let changed = 9_000u64;
    feed(&mut p, &events((0..changed).map(|j| ((j * 97) % ids, j % 1000)), ids as i64));
    let t = Instant::now();
    let delta = p.snapshot_incremental().expect("delta snapshot");
    let delta_take = t.elapsed().as_secs_f64();
    assert!(!delta.is_full(), "the second snapshot is a delta");
    let t = Instant::now();
    let delta_bytes = store_bytes(&delta, 1);
    let delta_encode = t.elapsed().as_secs_f64();

    let mut fresh = open_pipeline(&job, &comps, 0).expect("pipeline");
    let t = Instant::now();
    fresh.restore_chain(std::slice::from_ref(&full)).expect("restore full");
    let restore_full = t.elapsed().as_secs_f64();
    let mut fresh = open_pipeline(&job, &comps, 0).expect("pipeline");
    let t = Instant::now();
    fresh.restore_chain(&[full, delta]).expect("restore chain");
    let restore_chain = t.elapsed().as_secs_f64();
    assert_eq!(fresh.snapshot().expect("state").to_bytes(), p.snapshot().expect("state").to_bytes(), "the chain restores the same state");

    let mb = |b: usize| b as f64 / 1e6;
    println!("| checkpoint | bytes written | snapshot (guest) | encode (host) | total |");
    println!("|---|---|---|---|---|");
    println!("| full | {:.2} MB | {:.3} s | {:.3} s | {:.3} s |", mb(full_bytes), full_take, full_encode, full_take + full_encode);
    println!(
        "| incremental, {changed} events later | {:.2} MB | {:.4} s | {:.4} s | {:.4} s |",
        mb(delta_bytes),
        delta_take,
        delta_encode,
        delta_take + delta_encode
    );
    println!(
        "ratios incremental/full: bytes {:.4}, time {:.4}; restore of the chain {:.2} s vs the full snapshot alone {:.2} s ({:.2}x)",
        delta_bytes as f64 / full_bytes as f64,
        (delta_take + delta_encode) / (full_take + full_encode),
        restore_chain,
        restore_full,
        restore_chain / restore_full
    );
}
