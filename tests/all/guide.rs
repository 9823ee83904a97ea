//! The README's guide to writing an operator, run for real: build `examples/my-operator` to a
//! component with cargo (as the guide says), run its job file with it, and check that it learns.

use std::process::Command;

use eddy_host::job::Job;
use eddy_host::run::run_replay;
use eddy_tests::{repo_root, runtime};

#[test]
fn the_guide_operator_builds_and_runs() {
    let root = repo_root();
    let target = root.join("target/guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The guide says `--release` into ./target; the test shares the bundle's guest build
    // directory instead, so the SDK's wasm build is reused.
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--profile", "guest", "--target", "wasm32-wasip2", "-p", "my-operator", "--target-dir"])
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the guide's operator failed");
    let wasm = target.join("wasm32-wasip2/guest/my_operator.wasm");
    let dir = tempfile::tempdir().unwrap();
    let job = Job::load(
        &root.join("examples/my-operator/job.toml"),
        &[
            format!("operator.component={:?}", wasm.display().to_string()),
            format!("sinks.predictions={:?}", dir.path().join("p.replay").display().to_string()),
            format!("sinks.models={:?}", dir.path().join("m.replay").display().to_string()),
        ],
    )
    .unwrap();
    let s = run_replay(runtime(), &job, &|_, _| {}).unwrap();
    assert_eq!(s.operator, "Perceptron");
    assert_eq!(s.predictions, 1250);
    assert!(s.models > 0, "a perceptron on real data makes mistakes and updates");
    let acc = s.metrics.accuracy.unwrap();
    assert!(acc > 0.75, "the perceptron learns the phishing data: accuracy {acc}");
}
