//! Faults and bad input against the real broker: the broker goes away mid-run and comes back
//! (eddy waits, says so, and ends with the same result); undecodable records go to the
//! dead-letter topic in the same transactions as the predictions, with reason and origin in
//! headers; a checkpoint of another operator stops the job with a clear error; a bounded job
//! whose brokers or input topic are not there fails at start-up, naming them, while an
//! unbounded one waits; a bounded job that refused every label fails saying so.

use std::time::{Duration, Instant};

use eddy_host::Record;
use serde_json::json;

use crate::kafka_support::{
    Eddy, FTRL, KafkaBroker, Names, assert_exactly_once, assert_same, json_of, kafka_job, produce, read_topic, read_topic_at_least,
    replay_reference, shared, synthetic, workdir,
};

#[test]
fn the_broker_goes_away_and_comes_back() {
    let mut broker = KafkaBroker::start().expect("start a private broker");
    let b = broker.bootstrap().to_owned();
    let n = Names::new("outage");
    let all = synthetic(&n.input, 3, 4000, 7);
    let (first, second): (Vec<Record>, Vec<Record>) = all.iter().cloned().partition(|r| r.offset < 2000);
    produce(&b, &n.input, &first);
    let dir = workdir("outage");
    let job = kafka_job(&dir, &b, &n, FTRL, false, "");
    let mut e = Eddy::start(&job, &[], &dir.join("eddy.log"));
    assert!(e.wait_for_log("committed in", 2, Duration::from_secs(60)), "no checkpoint before the outage:\n{}", e.log_text());

    broker.stop();
    std::thread::sleep(Duration::from_secs(5));
    assert!(e.child.try_wait().unwrap().is_none(), "eddy exited while the broker was down:\n{}", e.log_text());
    broker.restart().expect("restart the broker");
    eddy_kafka::topic::produce(&b, &n.input, &[], &second).expect("produce the rest");
    let input = read_topic(&b, &n.input);
    assert_eq!(input.len(), all.len());

    let deadline = Instant::now() + Duration::from_secs(120);
    let predictions = loop {
        let p = read_topic(&b, &n.predictions);
        if p.len() >= input.len() || Instant::now() > deadline {
            break p;
        }
        assert!(e.child.try_wait().unwrap().is_none(), "eddy exited:\n{}", e.log_text());
        std::thread::sleep(Duration::from_millis(500));
    };
    e.kill();
    let log = e.log_text();
    assert!(log.contains("unreachable") && log.contains("eddy waits and keeps retrying"), "the log says the broker was away:\n{log}");
    assert!(log.contains("answers again"), "the log says the broker came back:\n{log}");
    // Said once, in eddy's words: no librdkafka FATAL or rust-rdkafka ERROR lines about eddy's
    // own consumer being fenced when it rejoins, no "n/m brokers are down" arithmetic, no
    // "unreachable" for a connection the restarted broker closed.
    for noise in ["FATAL", "ERROR", "brokers are down", "connection closed by peer", "SESSTMOUT"] {
        assert!(!log.contains(noise), "the log says {noise:?}:\n{log}");
    }
    assert_exactly_once(&predictions, &input);
    let reference = replay_reference(&input, FTRL, false);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("model versions", &read_topic_at_least(&b, &n.models, reference.models.len()), &reference.models);
}

#[test]
fn bad_records_go_to_dead_letters_in_the_same_transactions() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("deadletters");
    let mut recs = synthetic(&n.input, 2, 6000, 11);
    let mut bad = 0;
    for r in recs.iter_mut() {
        match r.offset % 97 {
            13 => r.value = b"{not json".to_vec(),
            31 => r.value = serde_json::to_vec(&json!({"f0": 1.0, "label": 1})).unwrap(),
            47 => r.value = serde_json::to_vec(&json!({"f0": "x", "f1": 1, "f2": 1, "f3": 1, "f4": 1, "label": 0})).unwrap(),
            _ => continue,
        }
        bad += 1;
    }
    let input = produce(b, &n.input, &recs);
    let dir = workdir("deadletters");
    let dl = format!("dead_letters = \"{}\"", n.dead_letters);
    let job = kafka_job(&dir, b, &n, FTRL, true, &dl);
    let log = dir.join("eddy.log");
    // One crash mid-way: dead letters written in an aborted transaction must not show.
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait_for_log("committed in", 1, Duration::from_secs(60)), "{}", e.log_text());
    assert!(e.child.try_wait().unwrap().is_none(), "the job finished before the kill; give it more input:\n{}", e.log_text());
    e.kill();
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(120)), "{}", e.log_text());

    let reference = replay_reference(&input, FTRL, true);
    let dead = read_topic_at_least(b, &n.dead_letters, bad);
    assert_eq!(dead.len(), bad, "one dead letter per bad record; eddy's log:\n{}", e.log_text());
    assert_same("dead letters", &dead, &reference.dead_letters);
    for d in &dead {
        let origin = (
            d.header("eddy.origin.partition").unwrap().parse::<i32>().unwrap(),
            d.header("eddy.origin.offset").unwrap().parse::<i64>().unwrap(),
        );
        let src = input.iter().find(|r| (r.partition, r.offset) == origin).expect("origin is an input record");
        assert_eq!(d.value, src.value, "a dead letter carries the original value");
        assert_eq!(d.header("eddy.origin.topic").as_deref(), Some(n.input.as_str()));
        let reason = d.header("eddy.error.reason").expect("reason header");
        assert!(!reason.is_empty());
        assert!(d.header("eddy.error.stage").is_some());
    }
    let good: Vec<Record> = input
        .iter()
        .filter(|r| {
            !dead.iter().any(|d| {
                d.header("eddy.origin.offset") == Some(r.offset.to_string())
                    && d.header("eddy.origin.partition") == Some(r.partition.to_string())
            })
        })
        .cloned()
        .collect();
    let predictions = read_topic_at_least(b, &n.predictions, good.len());
    assert_exactly_once(&predictions, &good);
    assert_same("predictions", &predictions, &reference.predictions);
}

#[test]
fn a_checkpoint_of_another_operator_stops_the_job() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("incompatible");
    let recs: Vec<Record> = synthetic(&n.input, 1, 300, 3)
        .into_iter()
        .map(|mut r| {
            let mut v = json_of(&r);
            v["x"] = v["f0"].clone();
            r.value = serde_json::to_vec(&v).unwrap();
            r
        })
        .collect();
    produce(b, &n.input, &recs);
    let dir = workdir("incompatible");
    let hostile = "[operator]\ncomponent = \"hostile\"\n[operator.config]\nmode = \"echo\"\n";
    let job = kafka_job(&dir, b, &n, hostile, true, "");
    let mut e = Eddy::start(&job, &[], &dir.join("hostile.log"));
    assert!(e.wait(Duration::from_secs(60)), "{}", e.log_text());

    let other = Names { predictions: format!("{}-ftrl", n.predictions), models: format!("{}-ftrl", n.models), ..n.clone() };
    let job = kafka_job(&dir, b, &other, FTRL, true, "");
    let mut e = Eddy::start(&job, &[], &dir.join("ftrl.log"));
    assert!(!e.wait(Duration::from_secs(60)), "restoring another operator's checkpoint must fail");
    let log = e.log_text();
    assert!(log.contains("incompatible checkpoint"), "{log}");
    assert!(log.contains("snapshot of operator Hostile") && log.contains("this job runs OnlineLogisticRegression"), "{log}");
    assert!(read_topic(b, &other.predictions).is_empty(), "nothing was written");
}

fn origin(r: &Record) -> (i32, i64) {
    (
        r.header("eddy.origin.partition").and_then(|p| p.parse().ok()).expect("origin partition header"),
        r.header("eddy.origin.offset").and_then(|p| p.parse().ok()).expect("origin offset header"),
    )
}

#[test]
fn at_least_once_loses_nothing_through_a_kill() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("atleastonce");
    let input = produce(b, &n.input, &synthetic(&n.input, 2, 6000, 23));
    let reference = replay_reference(&input, FTRL, false);
    let dir = workdir("atleastonce");
    let job = kafka_job(&dir, b, &n, FTRL, true, "exactly_once = false");
    let log = dir.join("eddy.log");
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait_for_log("committed in", 1, Duration::from_secs(60)), "{}", e.log_text());
    assert!(e.child.try_wait().unwrap().is_none(), "the job finished before the kill; give it more input:\n{}", e.log_text());
    e.kill();
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(120)), "{}", e.log_text());

    // Every input has a prediction; a record read again after the kill is scored again, to
    // the same bytes, because the pipeline restarts from the checkpoint that preceded it.
    let want: std::collections::BTreeMap<(i32, i64), Vec<u8>> =
        reference.predictions.iter().map(|r| (origin(r), r.value.clone())).collect();
    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    let mut covered = std::collections::BTreeSet::new();
    for p in &predictions {
        let o = origin(p);
        assert_eq!(Some(&p.value), want.get(&o), "prediction for {o:?} differs from the uninterrupted run");
        covered.insert(o);
    }
    assert_eq!(covered.len(), input.len(), "inputs without a prediction");
}

#[test]
fn outputs_a_topic_would_delete_at_once_are_warned_about() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("retention");
    // A predictions topic that deletes by time (a week, Kafka's default); the synthetic input
    // is from 2023, and predictions keep their input's timestamps.
    broker.create_topic(&n.predictions, 1, &[("retention.ms", "604800000")]).expect("create topic");
    produce(b, &n.input, &synthetic(&n.input, 1, 200, 5));
    let dir = workdir("retention");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let mut e = Eddy::start(&job, &[], &dir.join("eddy.log"));
    assert!(e.wait(Duration::from_secs(60)), "{}", e.log_text());
    let text = e.log_text();
    let warning = format!("output topic {} deletes records older than its retention.ms (604800000 ms)", n.predictions);
    assert_eq!(text.matches(&warning).count(), 1, "one warning for the predictions topic:\n{text}");
    assert!(!text.contains(&format!("output topic {} deletes", n.models)), "the models topic keeps records forever:\n{text}");
}

#[test]
fn stop_at_end_waits_for_a_transaction_open_when_it_starts() {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("opentxn");
    let recs = synthetic(&n.input, 1, 300, 41);
    produce(b, &n.input, &recs[..200]);
    // An upstream transactional producer (another job, say) has written the last 100 records
    // and not committed yet when eddy starts: the end eddy must reach is after them.
    let upstream: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", b).set("transactional.id", "opentxn-upstream").create().expect("producer");
    upstream.init_transactions(Duration::from_secs(30)).expect("init_transactions");
    upstream.begin_transaction().expect("begin");
    for r in &recs[200..] {
        upstream.send(BaseRecord::<[u8], [u8]>::to(&n.input).partition(0).payload(&r.value).timestamp(r.timestamp)).expect("send");
    }
    upstream.flush(Duration::from_secs(30)).expect("flush");

    let dir = workdir("opentxn");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let mut e = Eddy::start(&job, &[], &dir.join("eddy.log"));
    assert!(e.wait_for_log("stop_at_end: will stop at the end offsets seen now", 1, Duration::from_secs(60)), "{}", e.log_text());
    assert!(e.log_text().contains("300 records retained"), "the end counts the open transaction's records:\n{}", e.log_text());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(e.child.try_wait().unwrap().is_none(), "eddy stopped before the open transaction settled:\n{}", e.log_text());
    upstream.commit_transaction(Duration::from_secs(30)).expect("commit");
    assert!(e.wait(Duration::from_secs(60)), "{}", e.log_text());

    let input = read_topic(b, &n.input);
    assert_eq!(input.len(), 300);
    let predictions = read_topic_at_least(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
}

#[test]
fn a_bounded_job_fails_at_start_up_naming_what_is_missing_and_an_unbounded_one_waits() {
    let broker = shared();
    let b = broker.bootstrap();
    let dir = workdir("startup");
    let quick = ["source.kafka.startup_timeout_ms=3000".to_string()];

    // Nothing listens on port 1.
    let n = Names::new("startup-nobroker");
    let job = kafka_job(&dir, "127.0.0.1:1", &n, FTRL, true, "");
    let started = Instant::now();
    let mut e = Eddy::start(&job, &quick, &dir.join("nobroker.log"));
    assert!(!e.wait(Duration::from_secs(90)), "a bounded job without a broker must fail");
    let log = e.log_text();
    assert!(log.contains("127.0.0.1:1") && log.contains("startup_timeout_ms = 3000"), "the error names the broker and the setting:\n{log}");
    eprintln!("no broker: failed after {:.1} s", started.elapsed().as_secs_f64());

    // A broker, but no input topic.
    let n = Names::new("startup-notopic");
    let job = kafka_job(&dir, b, &n, FTRL, true, "");
    let mut e = Eddy::start(&job, &quick, &dir.join("notopic.log"));
    assert!(!e.wait(Duration::from_secs(90)), "a bounded job without its input topic must fail");
    let log = e.log_text();
    assert!(log.contains(&format!("input topic {} does not exist on {b}", n.input)), "the error names the topic:\n{log}");

    // Unbounded, the same job waits for the topic (and says so).
    let n = Names::new("startup-waits");
    let job = kafka_job(&dir, b, &n, FTRL, false, "");
    let mut e = Eddy::start(&job, &quick, &dir.join("waits.log"));
    e.wait_for_log("does not exist (yet); waiting for it", 1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(6));
    assert!(e.child.try_wait().unwrap().is_none(), "an unbounded job keeps waiting past the start-up timeout:\n{}", e.log_text());
    e.kill();
}

/// A tiny learner (the running sum of `x`) that traps on every attempt at `x = 666`.
const POISONED: &str = "[operator]\ncomponent = \"hostile\"\n[operator.config]\nmode = \"poison\"\n";

#[test]
fn a_poison_record_goes_to_dead_letters_once_through_a_kill() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("poison");
    let mut recs = synthetic(&n.input, 2, 6000, 5);
    for r in recs.iter_mut() {
        let x = if (r.partition, r.offset) == (1, 4321) { 666.0 } else { json_of(r)["f0"].as_f64().unwrap() };
        r.value = serde_json::to_vec(&json!({ "x": x })).unwrap();
    }
    let input = produce(b, &n.input, &recs);
    let dir = workdir("poison");
    let dl = format!("dead_letters = \"{}\"", n.dead_letters);
    let job = kafka_job(&dir, b, &n, POISONED, true, &dl);
    let log = dir.join("eddy.log");
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait_for_log("committed in", 1, Duration::from_secs(60)), "{}", e.log_text());
    assert!(e.child.try_wait().unwrap().is_none(), "the job finished before the kill; give it more input:\n{}", e.log_text());
    e.kill();
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(180)), "{}", e.log_text());

    let dead = read_topic_at_least(b, &n.dead_letters, 1);
    assert_eq!(dead.len(), 1, "exactly one dead letter; eddy's log:\n{}", e.log_text());
    let d = &dead[0];
    assert_eq!((d.header("eddy.origin.partition").as_deref(), d.header("eddy.origin.offset").as_deref()), (Some("1"), Some("4321")));
    let reason = d.header("eddy.error.reason").unwrap();
    assert!(reason.contains("poisoned by x = 666") && reason.contains("fresh instance"), "the trap message: {reason}");
    let good: Vec<Record> = input.iter().filter(|r| (r.partition, r.offset) != (1, 4321)).cloned().collect();
    let predictions = read_topic_at_least(b, &n.predictions, good.len());
    assert_exactly_once(&predictions, &good);
    // The replay of the same input: the same dead letter, and predictions (the sums learned
    // so far) of a model that never learned the poison record.
    let reference = replay_reference(&input, POISONED, true);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("dead letters", &dead, &reference.dead_letters);
    let after: Vec<f64> = reference
        .predictions
        .iter()
        .filter(|p| p.header("eddy.origin.partition").as_deref() == Some("1"))
        .map(|p| json_of(p)["prediction"].as_f64().unwrap())
        .collect();
    let sum_before: f64 = good.iter().filter(|r| r.partition == 1 && r.offset < 4321).map(|r| json_of(r)["x"].as_f64().unwrap()).sum();
    assert_eq!(after[4321], sum_before, "the row after the poison record sees the sum without it");
}

/// Labels FTRL cannot read (strings) on every record: each is a dead letter, and the bounded job
/// then fails saying that nothing was learned, instead of ending as a success.
#[test]
fn a_bounded_job_that_refuses_every_label_fails_saying_so() {
    let broker = shared();
    let b = broker.bootstrap();
    let n = Names::new("refused-labels");
    let mut recs = synthetic(&n.input, 1, 50, 5);
    for r in recs.iter_mut() {
        let mut v = json_of(r);
        v["label"] = json!(if v["label"] == json!(1) { "yes" } else { "no" });
        r.value = serde_json::to_vec(&v).unwrap();
    }
    produce(b, &n.input, &recs);
    let dir = workdir("refused-labels");
    let dl = format!("dead_letters = \"{}\"", n.dead_letters);
    let job = kafka_job(&dir, b, &n, FTRL, true, &dl);
    let mut e = Eddy::start(&job, &[], &dir.join("eddy.log"));
    assert!(!e.wait(Duration::from_secs(120)), "the job ended as a success:\n{}", e.log_text());
    let log = e.log_text();
    assert!(log.contains("every labelled row was refused: 50 record(s)"), "{log}");
    assert_eq!(read_topic_at_least(b, &n.dead_letters, 50).len(), 50, "the refused records are in the dead letters");
}
