//! `make test` runs the real-broker test modules one at a time, after skipping them in the
//! parallel phase: a new `kafka_*` module missing from the skip list would run twice, the first
//! time in parallel with everything else. This keeps the list complete.

use eddy_tests::repo_root;

#[test]
fn the_parallel_phase_skips_every_real_broker_module() {
    let main = std::fs::read_to_string(repo_root().join("tests/all/main.rs")).unwrap();
    let makefile = std::fs::read_to_string(repo_root().join("Makefile")).unwrap();
    let parallel = makefile.lines().find(|l| l.contains("cargo test --workspace")).expect("the parallel phase in the Makefile");
    let modules: Vec<&str> = main
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .filter(|m| m.starts_with("kafka_") && *m != "kafka_support")
        .collect();
    assert!(modules.len() >= 4, "{modules:?}");
    for m in modules {
        assert!(parallel.contains(&format!("--skip {m}::")), "Makefile: add `--skip {m}::` to the `cargo test --workspace` line");
    }
}
