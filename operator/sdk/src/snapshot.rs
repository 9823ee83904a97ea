//! Snapshot envelopes: state bytes tagged with the operator's name and major version, so a
//! snapshot never restores into an incompatible operator.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{OperatorError, OperatorInfo};

const MAGIC: &str = "eddy-snapshot/1";

/// Whether a snapshot blob holds the whole state or the changes since the previous one
/// (the WIT `snapshot-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotKind {
    /// Restorable alone.
    Full,
    /// Restorable only at the end of a chain from a full blob.
    Delta,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    magic: String,
    operator: String,
    version: String,
    state: T,
}

/// The major version of a semantic version string (`"1.2.3"` gives `"1"`; `0.x` versions
/// compare on `0.x`, as semver does).
pub fn major(version: &str) -> &str {
    let mut parts = version.splitn(3, '.');
    let first = parts.next().unwrap_or("");
    if first == "0" {
        let n = first.len() + 1 + parts.next().map_or(0, str::len);
        &version[..n.min(version.len())]
    } else {
        first
    }
}

/// Serializes `state` in an envelope for `info`.
pub fn seal<T: Serialize>(info: &OperatorInfo, state: &T) -> Result<Vec<u8>, OperatorError> {
    let env = Envelope { magic: MAGIC.into(), operator: info.name.clone(), version: info.version.clone(), state };
    postcard::to_stdvec(&env).map_err(|e| OperatorError::internal(format!("snapshot failed: {e}")))
}

#[derive(Deserialize)]
struct Header {
    magic: String,
    operator: String,
    version: String,
}

/// Checks the envelope against `info` and deserializes the state.
pub fn open<T: DeserializeOwned>(info: &OperatorInfo, bytes: &[u8]) -> Result<T, OperatorError> {
    let header: Header = postcard::from_bytes(bytes).map_err(|e| OperatorError::internal(format!("not an eddy snapshot: {e}")))?;
    if header.magic != MAGIC {
        return Err(OperatorError::internal(format!("not an eddy snapshot (magic {:?})", header.magic)));
    }
    if header.operator != info.name || major(&header.version) != major(&info.version) {
        return Err(OperatorError::internal(format!(
            "incompatible snapshot: taken by {} {}, this operator is {} {}",
            header.operator, header.version, info.name, info.version
        )));
    }
    let env: Envelope<T> =
        postcard::from_bytes(bytes).map_err(|e| OperatorError::internal(format!("corrupt snapshot of {}: {e}", info.name)))?;
    Ok(env.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OperatorKind;

    fn info(name: &str, version: &str) -> OperatorInfo {
        OperatorInfo {
            name: name.into(),
            version: version.into(),
            kind: OperatorKind::Classifier,
            description: String::new(),
            params: vec![],
        }
    }

    #[test]
    fn roundtrip_and_refusals() {
        let bytes = seal(&info("A", "1.2.0"), &vec![1.5f64, 2.0]).unwrap();
        assert_eq!(open::<Vec<f64>>(&info("A", "1.9.1"), &bytes).unwrap(), vec![1.5, 2.0]);
        assert!(open::<Vec<f64>>(&info("B", "1.2.0"), &bytes).unwrap_err().to_string().contains("incompatible"));
        assert!(open::<Vec<f64>>(&info("A", "2.0.0"), &bytes).unwrap_err().to_string().contains("incompatible"));
        assert!(open::<Vec<f64>>(&info("A", "1.0.0"), b"garbage").is_err());
        assert_eq!(major("0.3.1"), "0.3");
        assert_eq!(major("2.1.0"), "2");
    }
}
