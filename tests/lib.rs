//! Shared helpers for eddy's integration tests: where things are, a runtime with a private
//! component cache, shipped components by name, and replay files built from JSON values.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use eddy_host::replay::ReplayWriter;
use eddy_host::{Limits, OperatorComponent, Record, Runtime};
use serde_json::Value;

/// The phishing example's feature columns, in its job's order.
pub const PHISHING_FEATURES: [&str; 9] = [
    "empty_server_form_handler",
    "popup_window",
    "https",
    "request_from_other_domain",
    "anchor_from_other_domain",
    "is_popular",
    "long_url",
    "age_of_domain",
    "ip_in_url",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `../shared` beside the repository (datasets and conformance vectors).
pub fn shared_dir() -> PathBuf {
    repo_root().join("..").join("shared")
}

/// A conformance case from `../shared/conformance`.
pub fn conformance(name: &str) -> Value {
    let p = shared_dir().join("conformance").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).expect("valid JSON")
}

/// A process-wide runtime with default limits.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Limits::default()).expect("runtime"))
}

/// A runtime with custom limits (a new one per call; it has its own epoch ticker).
pub fn runtime_with(limits: Limits) -> Runtime {
    Runtime::new(limits).expect("runtime")
}

/// A shipped operator, compiled.
pub fn component(rt: &Runtime, name: &str) -> OperatorComponent {
    let op = eddy_bundle::find(name).unwrap_or_else(|| panic!("no shipped operator {name}"));
    rt.load(op.bytes, Path::new(op.name)).expect("component loads")
}

/// Records of `topic`, partition 0, offsets 0.., timestamps = offset, with JSON values.
pub fn json_records(topic: &str, values: &[Value]) -> Vec<Record> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            topic: topic.into(),
            partition: 0,
            offset: i as i64,
            timestamp: i as i64,
            key: None,
            value: serde_json::to_vec(v).expect("JSON"),
            headers: vec![],
        })
        .collect()
}

/// Writes records to a replay file.
pub fn write_replay(path: &Path, records: Vec<Record>) {
    let mut w = ReplayWriter::create(path, "input").expect("create replay");
    w.append(records).expect("append");
    w.finish().expect("finish");
}

/// JSON values of a replay's records.
pub fn replay_values(path: &Path) -> Vec<Value> {
    eddy_host::replay::read(path).expect("read replay").iter().map(|r| serde_json::from_slice(&r.value).expect("JSON value")).collect()
}
