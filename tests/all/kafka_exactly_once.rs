//! Exactly once through crashes: `eddy run` on a real broker is killed with SIGKILL at random
//! points, at least five times, and restarted; afterwards the read_committed predictions topic
//! holds exactly one prediction per input record, and predictions and model versions are byte
//! for byte those of an uninterrupted run.

use std::time::{Duration, Instant};

use crate::kafka_support::{Eddy, FTRL, Lcg, Names, assert_exactly_once, assert_same, kafka_job, produce, read_topic_at_least, replay_reference, shared, synthetic, workdir};

#[test]
fn sigkill_at_random_points_changes_nothing() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("sigkill");
    let input = produce(b, &n.input, &synthetic(&n.input, 3, 8000, 42));
    let reference = replay_reference(&input, FTRL, false);
    let dir = workdir("sigkill");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let log = dir.join("eddy.log");

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let mut kills = 0;
    let mut finished = false;
    // Kill at random moments after each run's first committed checkpoint (and, once, during
    // start-up), until five kills landed mid-run; then let it finish.
    while kills < 5 {
        let mut e = Eddy::start(&job, &[], &log);
        if kills == 2 {
            std::thread::sleep(Duration::from_millis(300 + (rng.next_f64() * 400.0) as u64));
        } else {
            let before = e.log_text().matches("committed in").count();
            e.wait_for_log("committed in", before + 1, Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis((rng.next_f64() * 600.0) as u64));
        }
        if e.child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        e.kill();
        kills += 1;
        eprintln!("sigkill test (seed {seed}): kill {kills} after {:.1} s", started.elapsed().as_secs_f64());
    }
    assert!(!finished, "the job finished before it was killed five times; give it more input");
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(120)), "the last run failed:\n{}", e.log_text());
    let text = e.log_text();
    assert!(text.matches("recovered sigkill-in[").count() >= 3, "restarts restored from checkpoints:\n{text}");

    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("model versions", &read_topic_at_least(b, &n.models, reference.models.len()), &reference.models);
    eprintln!("sigkill test (seed {seed}): {kills} kills, {:.1} s", started.elapsed().as_secs_f64());
}
