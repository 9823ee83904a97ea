//! The bounded fuzz run of `cargo test`: every target on structured mutations of its seeds,
//! a fixed number of cases each (seconds in all), under the allocation guard. Longer runs:
//!
//! ```sh
//! EDDY_FUZZ_CASES=100000 cargo test --release -p eddy-fuzz --test fuzz -- --nocapture
//! ```
//!
//! (`EDDY_FUZZ_SEED` picks another sequence; `EDDY_FUZZ_TARGET` runs one target.) Each
//! target's line reports its cases and failures; a failure prints its seed, mutations and
//! input, and fails the test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use eddy_fuzz::guard::{self, LimitAlloc};
use eddy_fuzz::mutate::{apply, case};
use eddy_fuzz::{Target, all};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

#[global_allocator]
static ALLOC: LimitAlloc = LimitAlloc;

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs `cases` mutated inputs through `t`; returns (cases, failures).
fn fuzz(t: &Target, cases: u64, seed: u64) -> (u64, u64) {
    let seeds = (t.seeds)();
    // The seeds themselves first: they must decode without failing.
    for s in &seeds {
        (t.run)(s);
    }
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + t.name.len().min(24)].copy_from_slice(&t.name.as_bytes()[..t.name.len().min(24)]);
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let strategy = case();
    let mut failures = 0;
    for i in 0..cases {
        let (s, muts) = strategy.new_tree(&mut runner).expect("a case").current();
        let data = apply(&seeds[s % seeds.len()], &muts, &seeds);
        guard::set_current(t.name, &data);
        let r = catch_unwind(AssertUnwindSafe(|| (t.run)(&data)));
        guard::clear();
        if let Err(e) = r {
            failures += 1;
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            if failures <= 2 {
                eprintln!(
                    "{}: case {i} failed: {msg}\n  seed {} mutations {muts:?}\n  input ({} bytes): {}",
                    t.name,
                    s % seeds.len(),
                    data.len(),
                    data.iter().take(2048).map(|b| format!("{b:02x}")).collect::<String>()
                );
            }
        }
    }
    (cases, failures)
}

#[test]
fn decoders_survive_mutated_inputs() {
    let seed = env("EDDY_FUZZ_SEED").unwrap_or(12);
    let only = std::env::var("EDDY_FUZZ_TARGET").ok();
    let mut failed = Vec::new();
    for t in all().iter().filter(|t| only.as_deref().is_none_or(|o| o == t.name)) {
        // The snapshot target calls operator components: fewer cases.
        let default = if t.name == "pipeline_snapshot" { 300 } else { 1500 };
        let cases = env("EDDY_FUZZ_CASES").unwrap_or(default);
        let started = Instant::now();
        let (n, bad) = fuzz(t, cases, seed);
        eprintln!("{:<20} {n:>8} cases {bad:>4} failures {:>7.1} s", t.name, started.elapsed().as_secs_f64());
        if bad > 0 {
            failed.push(t.name);
        }
    }
    eddy_fuzz::targets::remove_scratch();
    assert!(failed.is_empty(), "failing targets: {failed:?}");
}
