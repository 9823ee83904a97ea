//! Determinism: the same records in the same order give byte-identical sinks whatever the
//! batch size, the partitioning of work over threads, or a snapshot and restore mid-stream.

use std::path::Path;

use eddy_host::job::Job;
use eddy_host::run::run_replay;
use eddy_host::{Format, Pipeline, PipelineOutput, PipelineSnapshot};
use eddy_tests::{component, repo_root, runtime};

fn run_phishing(out: &Path, extra: &[String]) -> eddy_host::run::RunSummary {
    let job_path = repo_root().join("examples/phishing/job.toml");
    let mut overrides = vec![
        format!("sinks.predictions={:?}", out.join("p.replay").display().to_string()),
        format!("sinks.models={:?}", out.join("m.replay").display().to_string()),
        format!("sinks.dead_letters={:?}", out.join("d.replay").display().to_string()),
    ];
    overrides.extend_from_slice(extra);
    let job = Job::load(&job_path, &overrides).unwrap();
    run_replay(runtime(), &job, &|_, _| {}).unwrap()
}

#[test]
fn phishing_sinks_are_identical_for_every_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut reference: Option<(Vec<u8>, Vec<u8>)> = None;
    for bs in [1usize, 7, 1000, 1_000_000] {
        let out = dir.path().join(format!("bs{bs}"));
        let s = run_phishing(&out, &[format!("run.batch_size={bs}")]);
        assert_eq!((s.records_in, s.predictions, s.dead_letters), (1250, 1250, 0));
        assert!(s.models > 1000, "globalBatchSize 1 publishes a model per labelled row");
        let p = std::fs::read(out.join("p.replay")).unwrap();
        let m = std::fs::read(out.join("m.replay")).unwrap();
        match &reference {
            None => reference = Some((p, m)),
            Some((rp, rm)) => {
                assert!(rp == &p, "predictions differ at batch size {bs}");
                assert!(rm == &m, "models differ at batch size {bs}");
            }
        }
    }
}

#[test]
fn phishing_accuracy_is_sane() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_phishing(dir.path(), &[]);
    let acc = s.metrics.accuracy.unwrap();
    let auc = s.metrics.roc_auc.unwrap();
    // Prequential FTRL without intercept on raw features; a constant predictor gets 56%.
    assert!(acc > 0.80 && auc > 0.90, "accuracy {acc}, AUC {auc}");
}

fn feed(p: &mut Pipeline, recs: &[eddy_host::Record], chunk: usize) -> PipelineOutput {
    let mut all = PipelineOutput::default();
    for c in recs.chunks(chunk) {
        let (o, r) = p.process(c);
        r.unwrap();
        all.extend(o);
    }
    all
}

/// Phishing's records, and a maker of fresh FTRL pipelines for them (`globalBatchSize = 8`,
/// JSON, partition 0, no dead letters): what the pipeline-level tests below run.
fn phishing_ftrl() -> (Vec<eddy_host::Record>, impl Fn() -> Pipeline) {
    let recs = eddy_host::replay::read(&repo_root().join("examples/phishing/phishing.replay")).unwrap();
    let job = Job::load(&repo_root().join("examples/phishing/job.toml"), &["operator.config.globalBatchSize=8".into()]).unwrap();
    let comp = component(runtime(), "ftrl");
    let cfg = job.operator_config();
    (recs, move || Pipeline::new(&comp, &cfg, 0, Format::Json, false).unwrap())
}

/// A pipeline that defers its model versions (as the replay and Kafka runners' do, so that
/// their JSON is written on the sinks' thread, not the operators') hands them out as batches,
/// and encoding those gives exactly the records a pipeline that does not defer gives, in the
/// same order, whatever the chunks the records come in.
#[test]
fn deferred_model_versions_encode_to_the_same_records() {
    let (recs, fresh) = phishing_ftrl();
    let mut plain = fresh();
    let want = feed(&mut plain, &recs, 100);
    assert!(want.models.len() > 100, "{} model versions", want.models.len());
    for chunk in [1usize, 37, 2000] {
        let mut p = fresh();
        p.defer_models(true);
        let mut got = feed(&mut p, &recs, chunk);
        assert!(got.models.is_empty() && !got.is_empty(), "chunks of {chunk}: model versions encoded before encode_models");
        got.encode_models().unwrap();
        assert!(got == want, "chunks of {chunk}: deferred model versions differ");
    }
}

#[test]
fn snapshot_and_restore_mid_stream_continue_bit_for_bit() {
    let (recs, fresh) = phishing_ftrl();
    let mut straight = fresh();
    let want = feed(&mut straight, &recs, 100);
    let want_snap = straight.snapshot().unwrap().to_bytes();
    for cut in [1usize, 333, 1001] {
        let mut a = fresh();
        let mut got = feed(&mut a, &recs[..cut], 50);
        // Through bytes, into a fresh instance, as a restart would.
        let snap = PipelineSnapshot::from_bytes(&a.snapshot().unwrap().to_bytes()).unwrap();
        drop(a);
        let mut b = fresh();
        b.restore(&snap).unwrap();
        got.extend(feed(&mut b, &recs[cut..], 77));
        assert!(got == want, "outputs differ after a restore at record {cut}");
        assert_eq!(b.snapshot().unwrap().to_bytes(), want_snap, "final state differs after a restore at record {cut}");
    }
}

#[test]
fn partitions_run_in_parallel_with_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let recs = eddy_host::replay::read(&repo_root().join("examples/phishing/phishing.replay")).unwrap();
    let spread: Vec<_> = recs
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.partition = (i % 3) as i32;
            r.offset = (i / 3) as i64;
            r
        })
        .collect();
    let input = dir.path().join("in.replay");
    eddy_tests::write_replay(&input, spread);
    let src = format!("source.replay={:?}", input.display().to_string());
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    run_phishing(&a, &[src.clone(), "run.batch_size=5".into()]);
    run_phishing(&b, &[src, "run.batch_size=999".into()]);
    for f in ["p.replay", "m.replay"] {
        assert!(std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    let parts: std::collections::BTreeSet<i32> =
        eddy_host::replay::read(&a.join("p.replay")).unwrap().iter().map(|r| r.partition).collect();
    assert_eq!(parts.len(), 3, "one instance per partition, outputs keep the partition");
}
