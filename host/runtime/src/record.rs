//! Kafka-shaped records: what sources yield and sinks take, and where a record came from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One Kafka record (or one row of a replay file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp, ms since the epoch.
    pub timestamp: i64,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Record {
    /// Where this record came from.
    pub fn origin(&self) -> Origin {
        Origin { topic: self.topic.clone(), partition: self.partition, offset: self.offset }
    }

    /// The first header named `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_ref()).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// Topic, partition and offset of a record: how every error and dead letter names its source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "topic {}, partition {}, offset {}", self.topic, self.partition, self.offset)
    }
}

/// Header names eddy writes on output records.
pub mod headers {
    /// Topic of the input record an output answers.
    pub const ORIGIN_TOPIC: &str = "eddy.origin.topic";
    /// Partition of the input record an output answers.
    pub const ORIGIN_PARTITION: &str = "eddy.origin.partition";
    /// Offset of the input record an output answers.
    pub const ORIGIN_OFFSET: &str = "eddy.origin.offset";
    /// Why a record is a dead letter.
    pub const ERROR_REASON: &str = "eddy.error.reason";
    /// The column at fault in a dead letter, if known.
    pub const ERROR_COLUMN: &str = "eddy.error.column";
    /// The stage that refused a dead letter (`decode` or the operator's name).
    pub const ERROR_STAGE: &str = "eddy.error.stage";
}
