//! A real one-node Kafka broker for eddy's tests, std only.
//!
//! This module drives `tests/kafka/broker`, the bash script that runs Apache Kafka (KRaft,
//! broker and controller in one JVM, `-Xmx512m`) from jars that Maven fetches from Maven
//! Central once into `~/.cache/eddy/kafka-<version>/lib`. It needs Java 17+ and, the first
//! time, Maven; no Docker. Pull it into a test with a `#[path]` module (the path is relative
//! to the file that declares it; `include!` does not work because of this `//!` text), then:
//!
//! ```ignore
//! #[path = "../../../tests/harness/kafka.rs"] // from host/runtime/tests/kafka_it.rs
//! mod kafka;
//!
//! let broker = kafka::KafkaBroker::start()?;
//! broker.create_topic("events", 3, &[("cleanup.policy", "compact")])?;
//! broker.produce("events", &[("k1", "v1"), ("k2", "v2")])?;
//! assert_eq!(broker.consume("events", 2)?.len(), 2);
//! // ... point eddy at broker.bootstrap() ...
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Each [`KafkaBroker`] lives in a fresh folder under [`std::env::temp_dir`] and is stopped,
//! and its folder deleted, when dropped (the folder is kept when the thread is panicking or
//! `EDDY_KAFKA_KEEP=1`, so `broker.log` can be read). A watchdog in the script also stops the
//! broker if the test process dies without dropping it. A start takes about 4-10 s on a
//! loaded 2-core machine (plus the one-time jar download), so tests that only need *a* broker
//! should share one with [`KafkaBroker::shared`] and use their own topic names; tests that
//! stop or restart the broker (outage tests) start their own.

// Each test crate compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the broker script lives, relative to the repository root.
pub const BROKER_SCRIPT: &str = "tests/kafka/broker";

/// Separates key and value on the console tools' lines (ASCII unit separator, unlikely in data).
const KEY_SEPARATOR: &str = "\u{1f}";

/// A running one-node Kafka broker on `127.0.0.1`, owned by the test that started it.
///
/// Dropping it stops the broker (SIGTERM, then SIGKILL after 30 s) and deletes its folder.
#[derive(Debug)]
pub struct KafkaBroker {
    /// The `tests/kafka/broker` script that manages this broker.
    script: PathBuf,
    /// The broker's folder: `server.properties`, `broker.log`, `pid`, `bootstrap`, `data/`.
    dir: PathBuf,
    /// `127.0.0.1:PORT`; stays the same across [`KafkaBroker::restart`].
    bootstrap: String,
    /// Whether this handle believes the broker process is up.
    running: bool,
    /// Whether `Drop` leaves the broker running (only for the leaked [`KafkaBroker::shared`]).
    shared: bool,
}

impl KafkaBroker {
    /// Starts a fresh broker, finding `tests/kafka/broker` with [`find_broker_script`].
    ///
    /// Returns once the broker answers a metadata request; the error carries the script's
    /// stderr (including the tail of `broker.log`) when it does not come up within ~90 s.
    pub fn start() -> io::Result<Self> {
        Self::start_with_script(&find_broker_script()?)
    }

    /// Starts a fresh broker using the script of the repository checked out at `repo_root`.
    pub fn start_in_repo(repo_root: &Path) -> io::Result<Self> {
        Self::start_with_script(&repo_root.join(BROKER_SCRIPT))
    }

    /// Starts a fresh broker using the given `tests/kafka/broker` script.
    pub fn start_with_script(script: &Path) -> io::Result<Self> {
        Self::start_with(script, &[])
    }

    /// Starts a fresh `--secure` broker: clients authenticate with SASL/SCRAM-SHA-512 over
    /// TLS (a throw-away CA), and the standard authorizer allows nothing without an ACL
    /// (`User:admin` is the super user). [`KafkaBroker::admin_properties`] gives the admin's
    /// librdkafka settings, [`KafkaBroker::client_properties`] another user's;
    /// [`KafkaBroker::add_user`] and [`KafkaBroker::acls`] manage users and ACLs. The other
    /// methods (topics, console producer and consumer) act as the admin.
    pub fn start_secure() -> io::Result<Self> {
        Self::start_with(&find_broker_script()?, &["--secure"])
    }

    fn start_with(script: &Path, options: &[&str]) -> io::Result<Self> {
        if !script.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("Kafka broker script not found at {}", script.display())));
        }
        let dir = fresh_temp_dir()?;
        let mut broker = KafkaBroker { script: script.to_path_buf(), dir, bootstrap: String::new(), running: false, shared: false };
        let mut args = vec![broker.dir_str()];
        args.extend_from_slice(options);
        match broker.run_with_owner("start", &args) {
            Ok(stdout) => {
                broker.bootstrap = last_line(&stdout);
                broker.running = true;
                Ok(broker)
            }
            Err(e) => {
                // Nothing runs; keep the folder only if asked to (it holds broker.log).
                if !keep_dirs() {
                    let _ = std::fs::remove_dir_all(&broker.dir);
                }
                broker.dir = PathBuf::new();
                Err(e)
            }
        }
    }

    /// One broker shared by every caller in this test process, started on first use.
    ///
    /// It is never dropped: the script's watchdog stops it and deletes its folder when the
    /// process exits. Do not stop or restart it (you only get `&`); give each test its own
    /// topic names. A failed start is retried by the next caller.
    pub fn shared() -> io::Result<&'static KafkaBroker> {
        static SHARED: Mutex<Option<&'static KafkaBroker>> = Mutex::new(None);
        let mut slot = SHARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(broker) = *slot {
            return Ok(broker);
        }
        let mut broker = Self::start()?;
        broker.shared = true;
        let broker: &'static KafkaBroker = Box::leak(Box::new(broker));
        *slot = Some(broker);
        Ok(broker)
    }

    /// The bootstrap address for clients, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The broker's folder (holds `broker.log`, `server.properties` and the `data/` log dir).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The librdkafka settings of the admin (the super user) of a `--secure` broker:
    /// `security.protocol`, `sasl.mechanisms`, `sasl.username`, `sasl.password`,
    /// `ssl.ca.location`. Empty for a plain broker.
    pub fn admin_properties(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.dir.join("admin.librdkafka")).unwrap_or_default();
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }

    /// [`KafkaBroker::admin_properties`] with another user's name and password.
    pub fn client_properties(&self, user: &str, password: &str) -> Vec<(String, String)> {
        self.admin_properties()
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "sasl.username" => (k, user.to_owned()),
                "sasl.password" => (k, password.to_owned()),
                _ => (k, v),
            })
            .collect()
    }

    /// Adds a SCRAM-SHA-512 user to a `--secure` broker.
    pub fn add_user(&self, name: &str, password: &str) -> io::Result<()> {
        self.run(&["users", self.dir_str(), "add", name, password]).map(drop)
    }

    /// Runs Kafka's AclCommand as the admin of a `--secure` broker, e.g.
    /// `&["--add", "--allow-principal", "User:job", "--operation", "Read", "--topic", "in"]`;
    /// its output.
    pub fn acls(&self, args: &[&str]) -> io::Result<String> {
        let mut full = vec!["acls", self.dir_str()];
        full.extend_from_slice(args);
        self.run(&full)
    }

    /// The broker's log file, worth printing when a test fails.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    /// Whether the broker process is alive (asks the script, which checks the pid).
    pub fn is_running(&self) -> bool {
        self.run(&["status", self.dir_str()]).is_ok()
    }

    /// Stops the broker (SIGTERM, SIGKILL after 30 s) and waits for it to exit; the data stays,
    /// so [`KafkaBroker::restart`] can bring it back. Does nothing if it is already stopped.
    /// A failure is reported on stderr only: the script's fallback is SIGKILL, so the broker
    /// is gone either way.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        if let Err(e) = self.run(&["stop", self.dir_str()]) {
            eprintln!("kafka harness: stopping the broker in {}: {e}", self.dir.display());
        }
        self.running = false;
    }

    /// Starts the broker again on the same port with the same data (stopping it first if it
    /// runs), for broker-outage tests. Returns once it answers metadata requests again.
    pub fn restart(&mut self) -> io::Result<()> {
        let dir = self.dir_str().to_owned();
        let stdout = self.run_with_owner("restart", &[dir.as_str()]);
        match stdout {
            Ok(stdout) => {
                let bootstrap = last_line(&stdout);
                debug_assert_eq!(bootstrap, self.bootstrap, "restart must keep the port");
                self.running = true;
                Ok(())
            }
            Err(e) => {
                self.running = false;
                Err(e)
            }
        }
    }

    /// Creates `name` with `partitions` partitions (replication factor 1) and topic-level
    /// `configs`, e.g. `&[("cleanup.policy", "compact"), ("segment.ms", "100")]`.
    pub fn create_topic(&self, name: &str, partitions: u32, configs: &[(&str, &str)]) -> io::Result<()> {
        let partitions = partitions.to_string();
        let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["topics", self.dir_str(), "create", name, "--partitions", &partitions];
        for config in &configs {
            args.extend(["--config", config.as_str()]);
        }
        self.run(&args).map(drop)
    }

    /// Deletes `name`.
    pub fn delete_topic(&self, name: &str) -> io::Result<()> {
        self.run(&["topics", self.dir_str(), "delete", name]).map(drop)
    }

    /// Writes `(key, value)` records to `topic` with Kafka's own console producer (an oracle
    /// independent of eddy's client). Keys and values must not contain newlines or `\u{1f}`.
    pub fn produce(&self, topic: &str, records: &[(&str, &str)]) -> io::Result<()> {
        let mut input = String::new();
        for (key, value) in records {
            for part in [key, value] {
                if part.contains(['\n', '\r']) || part.contains(KEY_SEPARATOR) {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("record part {part:?} holds a newline or \\u{{1f}}")));
                }
            }
            input.push_str(&format!("{key}{KEY_SEPARATOR}{value}\n"));
        }
        let args = ["produce", self.dir_str(), topic, "--key-separator", KEY_SEPARATOR];
        self.run_input(&args, Some(input.as_bytes())).map(drop)
    }

    /// Reads the first `count` records of `topic` (all partitions, from the beginning) with
    /// Kafka's own console consumer, as `(key, value)`; a null key reads as `"null"`. Fails if
    /// fewer than `count` records arrive within 30 s. Order is per partition only.
    pub fn consume(&self, topic: &str, count: usize) -> io::Result<Vec<(String, String)>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let count_arg = count.to_string();
        let args = ["consume", self.dir_str(), topic, &count_arg, "--property", "print.key=true", "--property", "key.separator=\u{1f}"];
        let stdout = self.run(&args)?;
        let records: Vec<(String, String)> = stdout
            .lines()
            .map(|line| match line.split_once(KEY_SEPARATOR) {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => ("null".to_owned(), line.to_owned()),
            })
            .collect();
        if records.len() < count {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("expected {count} records from {topic}, got {}: {records:?}", records.len()),
            ));
        }
        Ok(records)
    }

    /// The folder as `&str` (temp dirs made here are valid UTF-8 unless `TMPDIR` is not).
    fn dir_str(&self) -> &str {
        self.dir.to_str().unwrap_or_default()
    }

    /// Runs `start`/`restart` with `--owner <this pid>` (and `--rm` unless dirs are kept), so the
    /// script's watchdog cleans up if this process dies without dropping the broker.
    fn run_with_owner(&self, command: &str, args: &[&str]) -> io::Result<String> {
        let pid = std::process::id().to_string();
        let mut full = vec![command];
        full.extend_from_slice(args);
        full.extend(["--owner", pid.as_str()]);
        if !keep_dirs() {
            full.push("--rm");
        }
        self.run(&full)
    }

    /// Runs the script with `args`; stdout on success, an error with stderr otherwise.
    fn run(&self, args: &[&str]) -> io::Result<String> {
        self.run_input(args, None)
    }

    /// Runs the script with `args`, feeding `input` on stdin if given.
    fn run_input(&self, args: &[&str], input: Option<&[u8]>) -> io::Result<String> {
        // Through bash, so a checkout that lost the executable bit still works.
        let mut child = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run bash {}: {e}", self.script.display())))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            stdin.write_all(bytes)?;
            // Dropping stdin closes it, which ends the console producer.
        }
        let output = child.wait_with_output()?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(io::Error::other(format!(
                "`{} {}` failed ({}):\n{}{}",
                self.script.display(),
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout),
            )))
        }
    }
}

impl Drop for KafkaBroker {
    /// Stops the broker and deletes its folder, keeping the folder (and saying where) when
    /// the thread is panicking or `EDDY_KAFKA_KEEP=1`.
    fn drop(&mut self) {
        if self.shared || self.dir.as_os_str().is_empty() {
            return;
        }
        self.stop();
        if std::thread::panicking() || keep_dirs() {
            eprintln!("kafka harness: broker log kept at {}", self.log_path().display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Finds `tests/kafka/broker`: `EDDY_KAFKA_BROKER_SCRIPT` if set, else the first
/// `tests/kafka/broker` found walking up from the current directory, then from
/// `CARGO_MANIFEST_DIR` (cargo runs tests in the crate's folder inside the repository).
pub fn find_broker_script() -> io::Result<PathBuf> {
    if let Some(script) = std::env::var_os("EDDY_KAFKA_BROKER_SCRIPT") {
        return Ok(PathBuf::from(script));
    }
    let starts = [std::env::current_dir().ok(), std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from)];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join(BROKER_SCRIPT);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{BROKER_SCRIPT} not found above {:?}; run from inside the eddy repository or set \
             EDDY_KAFKA_BROKER_SCRIPT",
            std::env::current_dir().unwrap_or_default()
        ),
    ))
}

/// Whether to keep broker folders (`EDDY_KAFKA_KEEP` set to anything but `0` or empty).
fn keep_dirs() -> bool {
    std::env::var("EDDY_KAFKA_KEEP").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Makes a new, empty folder `eddy-kafka-<pid>-<n>-<nanos>` under the temp dir.
fn fresh_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("eddy-kafka-{}-{n}-{nanos}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())));
            }
        }
    }
}

/// The last non-empty line of the script's stdout (the bootstrap address).
fn last_line(stdout: &str) -> String {
    stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned()
}
