//! Two `eddy run` processes in one consumer group share the input's partitions: the second
//! joins while the first is running, the group moves partitions between them, each partition's
//! pipeline is handed over through its committed checkpoint, and together they write exactly
//! one prediction per input record, byte for byte those (and the model versions) of a single
//! uninterrupted replay run.

use std::time::Duration;

use crate::kafka_support::{
    Eddy, FTRL, Names, assert_exactly_once, assert_same, kafka_job, produce, read_topic_at_least, replay_reference, shared, synthetic,
    workdir,
};

#[test]
fn two_processes_in_one_group_share_the_partitions() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("group");
    let input = produce(b, &n.input, &synthetic(&n.input, 4, 50_000, 17));
    let reference = replay_reference(&input, FTRL, false);

    let (dir_a, dir_b) = (workdir("group-a"), workdir("group-b"));
    let job_a = kafka_job(&dir_a, b, &n, FTRL, true, "transactional_id = \"group-a\"");
    let job_b = kafka_job(&dir_b, b, &n, FTRL, true, "transactional_id = \"group-b\"");
    let mut a = Eddy::start(&job_a, &[], &dir_a.join("eddy.log"));
    assert!(a.wait_for_log("committed in", 2, Duration::from_secs(60)), "{}", a.log_text());
    let mut b2 = Eddy::start(&job_b, &[], &dir_b.join("eddy.log"));
    assert!(a.wait(Duration::from_secs(180)), "the first process failed:\n{}", a.log_text());
    assert!(b2.wait(Duration::from_secs(180)), "the second process failed:\n{}", b2.log_text());
    let (log_a, log_b) = (a.log_text(), b2.log_text());
    assert!(log_a.contains("partitions revoked"), "the first process gave partitions away:\n{log_a}");
    assert!(log_b.contains("recovered group-in["), "the second process took over a partition from its checkpoint:\n{log_b}");

    // Each partition gets the end-of-input watermark once, whoever finishes it (a partition
    // handed over after it finished is not finished again).
    for p in 0..4 {
        let line = format!("end-of-input watermark for group-in[{p}]");
        assert_eq!(log_a.matches(&line).count() + log_b.matches(&line).count(), 1, "{line}:\n{log_a}\n{log_b}");
    }

    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("model versions", &read_topic_at_least(b, &n.models, reference.models.len()), &reference.models);
}

#[test]
fn two_processes_with_one_transactional_id_are_told_so_and_lose_nothing() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("twins");
    let input = produce(b, &n.input, &synthetic(&n.input, 2, 10_000, 29));
    let reference = replay_reference(&input, FTRL, false);
    // One job file for both: the same default transactional id ("eddy-<group>"), which is
    // also the consumer's group.instance.id. The second process fences the first.
    let dir = workdir("twins");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let mut first = Eddy::start(&job, &[], &dir.join("first.log"));
    assert!(first.wait_for_log("committed in", 1, Duration::from_secs(60)), "{}", first.log_text());
    let mut second = Eddy::start(&job, &[], &dir.join("second.log"));
    assert!(!first.wait(Duration::from_secs(60)), "the first process must stop with an error:\n{}", first.log_text());
    let text = first.log_text();
    assert!(text.contains("another process took this one's place") && text.contains("needs its own `transactional_id`"), "{text}");
    assert!(second.wait(Duration::from_secs(120)), "the second process carries on to the end:\n{}", second.log_text());

    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same("predictions", &predictions, &reference.predictions);
}
