//! eddy against a secured broker (`tests/kafka/broker start --secure`: SASL/SCRAM-SHA-512 over
//! TLS with a throw-away CA, the standard authorizer, nothing allowed without an ACL). An
//! exactly-once job with its credentials and the CA in `[source.kafka.properties]`, granted
//! exactly the ACLs host/kafka/README.md lists, survives a SIGKILL with every record answered
//! once; a wrong password, and each of those ACLs missing, end a bounded job at once with an
//! error naming the cause and the resource, without restarts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use eddy_host::Record;
use eddy_kafka::topic::{self, Bounds};

use crate::kafka_support::{Eddy, FTRL, KafkaBroker, Names, assert_exactly_once, assert_same, replay_reference, synthetic, workdir};

/// One `--secure` broker for the tests of this module, started on first use (the script's
/// watchdog stops it when the test process exits).
fn secure() -> &'static KafkaBroker {
    static BROKER: Mutex<Option<&'static KafkaBroker>> = Mutex::new(None);
    let mut slot = BROKER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(b) = *slot {
        return b;
    }
    let b: &'static KafkaBroker =
        Box::leak(Box::new(KafkaBroker::start_secure().unwrap_or_else(|e| panic!("cannot start the secure test broker: {e}"))));
    *slot = Some(b);
    b
}

/// Everything `topic` holds for a read_committed reader, read as the admin, once it holds at
/// least `n` records (or 60 s passed).
fn read_as_admin(b: &KafkaBroker, topic: &str, n: usize) -> Vec<Record> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let bounds = Bounds { until_end: true, timeout: Some(Duration::from_secs(60)), ..Bounds::default() };
        let r = topic::record(b.bootstrap(), topic, &b.admin_properties(), &bounds).expect("record topic");
        if r.len() >= n || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Produces `records` into `topic` as the admin (creating it) and returns what it then holds.
fn produce_as_admin(b: &KafkaBroker, topic: &str, records: &[Record]) -> Vec<Record> {
    topic::produce(b.bootstrap(), topic, &b.admin_properties(), records).expect("produce input");
    let back = read_as_admin(b, topic, records.len());
    assert_eq!(back.len(), records.len());
    back
}

/// Creates the job's output topics as the admin (the job's principal may not create topics).
fn create_outputs(b: &KafkaBroker, n: &Names, partitions: u32) {
    b.create_topic(&n.predictions, partitions, &[]).expect("create predictions");
    b.create_topic(&n.models, partitions, &[]).expect("create models");
    b.create_topic(&n.checkpoints, partitions, &[("cleanup.policy", "compact")]).expect("create checkpoints");
}

/// The ACLs host/kafka/README.md lists for a job's principal, as (operation, resource type
/// flag of Kafka's AclCommand, resource name): read the input topic, the group and the
/// checkpoint topic; write the output topics, the checkpoint topic and the transactional id.
fn minimal_acls(n: &Names) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("Read", "--topic", n.input.clone()),
        ("Read", "--group", n.group.clone()),
        ("Read", "--topic", n.checkpoints.clone()),
        ("Write", "--topic", n.predictions.clone()),
        ("Write", "--topic", n.models.clone()),
        ("Write", "--topic", n.checkpoints.clone()),
        ("Write", "--transactional-id", format!("eddy-{}", n.group)),
    ]
}

/// Grants `acls` to `user` (one AclCommand per operation: each JVM start costs a second or two).
fn grant(b: &KafkaBroker, user: &str, acls: &[(&str, &str, String)]) {
    let principal = format!("User:{user}");
    for op in ["Read", "Write"] {
        let mut args = vec!["--add", "--allow-principal", principal.as_str(), "--operation", op];
        let these: Vec<&(&str, &str, String)> = acls.iter().filter(|a| a.0 == op).collect();
        if these.is_empty() {
            continue;
        }
        for (_, kind, name) in these {
            args.extend([*kind, name.as_str()]);
        }
        b.acls(&args).expect("add ACLs");
    }
}

/// A Kafka job file authenticating as `user` with `password`, trusting the broker's CA.
fn secure_job(dir: &Path, b: &KafkaBroker, n: &Names, user: &str, password: &str) -> PathBuf {
    let props: String = b.client_properties(user, password).iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect();
    let text = format!(
        r#"
[source]
format = "json"
[source.kafka]
brokers = "{brokers}"
topic = "{input}"
group = "{group}"
stop_at_end = true
startup_timeout_ms = 60000
[source.kafka.properties]
{props}
{FTRL}
[run]
batch_size = 64
[sinks.kafka]
predictions = "{predictions}"
models = "{models}"
checkpoints = "{checkpoints}"
checkpoint_interval_ms = 100
create_topics = false
"#,
        brokers = b.bootstrap(),
        input = n.input,
        group = n.group,
        predictions = n.predictions,
        models = n.models,
        checkpoints = n.checkpoints,
    );
    let p = dir.join(format!("{user}.toml"));
    std::fs::write(&p, text).expect("write job");
    p
}

/// Runs a job that must fail: within 25 s (well before its 60 s start-up timeout), without
/// starting over; its log.
fn must_fail(job: &Path, log: &Path) -> String {
    let started = Instant::now();
    let mut e = Eddy::start(job, &[], log);
    assert!(!e.wait(Duration::from_secs(90)), "the job must fail:\n{}", e.log_text());
    let text = e.log_text();
    assert!(started.elapsed() < Duration::from_secs(25), "the job failed only after {:?}:\n{text}", started.elapsed());
    assert!(!text.contains("starting over"), "a refusal is not retried:\n{text}");
    text
}

#[test]
fn an_exactly_once_job_runs_with_credentials_tls_and_exactly_the_minimal_acls() {
    let b = secure();
    let n = Names::new("secure");
    let (user, password) = ("eddy-job", "job-secret-1");
    b.add_user(user, password).expect("add user");
    let input = produce_as_admin(b, &n.input, &synthetic(&n.input, 3, 6000, 17));
    create_outputs(b, &n, 3);
    let acls = minimal_acls(&n);
    grant(b, user, &acls);
    let listed = b.acls(&["--list", "--principal", &format!("User:{user}")]).expect("list ACLs");
    assert_eq!(listed.matches("permissionType=ALLOW").count(), acls.len(), "exactly the minimal ACLs, nothing more:\n{listed}");

    let dir = workdir("secure");
    let job = secure_job(&dir, b, &n, user, password);
    let log = dir.join("eddy.log");
    // A SIGKILL after the first checkpoint: the restart reads the checkpoint topic back,
    // fences the old producer and resumes, all with the job's own credentials.
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait_for_log("committed in", 2, Duration::from_secs(60)), "{}", e.log_text());
    assert!(e.child.try_wait().unwrap().is_none(), "the job finished before the kill; give it more input:\n{}", e.log_text());
    e.kill();
    let mut e = Eddy::start(&job, &[], &log);
    assert!(e.wait(Duration::from_secs(120)), "{}", e.log_text());
    let text = e.log_text();
    assert!(text.contains("recovered secure-in["), "the restart restored from the checkpoints:\n{text}");

    let reference = replay_reference(&input, FTRL, false);
    let predictions = read_as_admin(b, &n.predictions, input.len());
    assert_exactly_once(&predictions, &input);
    assert_same("predictions", &predictions, &reference.predictions);
    assert_same("model versions", &read_as_admin(b, &n.models, reference.models.len()), &reference.models);

    // Without Read on the checkpoint topic, the next start cannot restore: it says so.
    let principal = format!("User:{user}");
    b.acls(&["--remove", "--force", "--allow-principal", &principal, "--operation", "Read", "--topic", &n.checkpoints])
        .expect("remove ACL");
    let text = must_fail(&job, &dir.join("no-checkpoint-read.log"));
    assert!(
        text.contains(&format!("topic authorization failed (reading the checkpoint topic {})", n.checkpoints)),
        "the error names the cause and the topic:\n{text}"
    );
}

#[test]
fn a_wrong_password_ends_a_bounded_job_naming_the_cause() {
    let b = secure();
    let n = Names::new("secure-wrongpw");
    b.add_user("eddy-wrongpw", "the-right-one").expect("add user");
    produce_as_admin(b, &n.input, &synthetic(&n.input, 1, 10, 3));
    let dir = workdir("secure-wrongpw");
    let job = secure_job(&dir, b, &n, "eddy-wrongpw", "not-the-right-one");
    let text = must_fail(&job, &dir.join("eddy.log"));
    assert!(text.contains("authentication failed") && text.contains("invalid credentials"), "the error names the cause:\n{text}");
    assert!(text.contains(b.bootstrap()), "and the broker:\n{text}");
}

#[test]
fn each_missing_acl_ends_a_bounded_job_naming_the_resource() {
    let b = secure();
    let n = Names::new("secure-acl");
    produce_as_admin(b, &n.input, &synthetic(&n.input, 1, 10, 5));
    create_outputs(b, &n, 1);
    let dir = workdir("secure-acl");
    let txn = format!("eddy-{}", n.group);
    // Each case: the minimal ACLs but one, and what the error must say.
    let cases = [
        ("Read", n.input.clone(), format!("topic authorization failed (metadata of topic {})", n.input)),
        ("Read", n.group.clone(), format!("group authorization failed (consuming {} as consumer group {})", n.input, n.group)),
        ("Write", n.predictions.clone(), format!("topic authorization failed (metadata of topic {})", n.predictions)),
        ("Write", n.checkpoints.clone(), format!("refused to add partition(s) \"{}\" [0] to it", n.checkpoints)),
        ("Write", txn.clone(), format!("transactional id authorization failed (initializing transactions with transactional id {txn})")),
    ];
    for (i, (op, resource, expected)) in cases.iter().enumerate() {
        let user = format!("eddy-acl-{i}");
        b.add_user(&user, "pw").expect("add user");
        let acls: Vec<_> = minimal_acls(&n).into_iter().filter(|(o, _, r)| !(o == op && r == resource)).collect();
        assert_eq!(acls.len(), 6, "one ACL left out");
        grant(b, &user, &acls);
        let job = secure_job(&dir, b, &n, &user, "pw");
        let text = must_fail(&job, &dir.join(format!("{user}.log")));
        assert!(text.contains(expected), "without {op} on {resource} the error says `{expected}`:\n{text}");
        assert!(text.contains("authorization failed ("), "{text}");
        assert!(text.contains("host/kafka/README.md lists the ones a job needs"), "{text}");
    }
}
