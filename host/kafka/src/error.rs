//! Errors of the Kafka runner, classified like the host's: whose fault, and whether starting
//! over from the last checkpoint can help.

use eddy_host::{Fault, HostError};
use rdkafka::error::KafkaError;

/// Errors of the Kafka runner and tools.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `[source.kafka]` / `[sinks.kafka]` or a command-line argument is wrong.
    #[error("kafka config: {0}")]
    Config(String),
    /// The host library failed (operator, bad record, restore, ...).
    #[error(transparent)]
    Host(#[from] HostError),
    /// A Kafka call failed in a way that starting the session over may fix.
    #[error("kafka: {context}: {source}")]
    Kafka {
        /// What eddy was doing.
        context: String,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// The checkpoint topic holds something eddy cannot use (incompatible operator, corrupt
    /// chunks, behind the committed offsets).
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The session must start over from the last committed checkpoint (partitions lost,
    /// transaction aborted).
    #[error("{0}")]
    Restart(String),
    /// Another process took this one's place: a producer with the same transactional id, or
    /// a consumer with the same `group.instance.id`, started after this one. Starting over
    /// would fence that one in turn (two processes would take turns forever), so the runner
    /// stops instead, saying why.
    #[error("{0}")]
    Fenced(String),
    /// Anything else from outside (files).
    #[error("{0}")]
    Io(String),
    /// A bounded (`stop_at_end`) job could not start within `startup_timeout_ms`: brokers
    /// unreachable, or an input topic missing. Not retried: the job stops, saying which.
    #[error("{0}")]
    Startup(String),
    /// The brokers refused the job's principal: authentication failed (wrong credentials,
    /// mechanism or TLS trust), or an ACL is missing (a topic, the group, the transactional
    /// id). No retry fixes it: the job stops, naming the cause and the resource.
    #[error("{0}")]
    Denied(String),
}

impl Error {
    /// Wraps a Kafka error with what eddy was doing (`context` names the resource: the
    /// topic, the group, the transactional id). A refusal by the brokers (authentication,
    /// authorization) becomes [`Error::Denied`], saying so first.
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        let context = context.into();
        match denial(&source) {
            Some(cause) => Self::denied(cause, &context, &source),
            None => Self::Kafka { context, source },
        }
    }

    /// [`Error::Denied`] for a refusal by the brokers (`cause`, e.g. "topic authorization
    /// failed") met while doing `context`, whatever code `source` carries: librdkafka may
    /// report a refused transaction as a state error once it has aborted it.
    pub(crate) fn denied(cause: &str, context: &str, source: &KafkaError) -> Self {
        Self::Denied(format!(
            "{cause} ({context}): {source}. {}",
            if cause == AUTHENTICATION_FAILED {
                "Check sasl.username, sasl.password, sasl.mechanisms and the ssl.* settings in [source.kafka.properties]"
            } else {
                "The job's principal lacks an ACL; host/kafka/README.md lists the ones a job needs"
            }
        ))
    }

    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Self::Config(_) => Fault::User,
            Self::Host(h) => h.fault(),
            Self::Kafka { .. } | Self::Io(_) | Self::Restart(_) | Self::Fenced(_) | Self::Startup(_) => Fault::External,
            Self::Checkpoint(_) | Self::Denied(_) => Fault::User,
        }
    }

    /// Whether another process with the same transactional id or `group.instance.id` took
    /// this one's place (see [`Error::Fenced`]).
    pub fn is_fenced(&self) -> bool {
        use rdkafka::types::RDKafkaErrorCode as C;
        match self {
            Self::Fenced(_) => true,
            Self::Kafka { source, .. } => matches!(source.rdkafka_error_code(), Some(C::Fenced | C::ProducerFenced | C::FencedInstanceId)),
            _ => false,
        }
    }

    /// Whether the runner should start over from the last committed checkpoint rather
    /// than stop: broker trouble, aborted transactions, partitions lost.
    pub fn retriable(&self) -> bool {
        if self.is_fenced() {
            return false;
        }
        match self {
            Self::Kafka { source, .. } => !is_user_error(source),
            Self::Restart(_) => true,
            _ => false,
        }
    }
}

/// How [`Error::Denied`] starts for an authentication failure.
pub(crate) const AUTHENTICATION_FAILED: &str = "authentication failed";

/// The cause, if `e` is the brokers refusing the job's principal: `authentication failed`,
/// or `topic`, `group`, `transactional id` or `cluster authorization failed`.
pub(crate) fn denial(e: &KafkaError) -> Option<&'static str> {
    use rdkafka::types::RDKafkaErrorCode as C;
    Some(match e.rdkafka_error_code()? {
        C::Authentication | C::SaslAuthenticationFailed => AUTHENTICATION_FAILED,
        C::TopicAuthorizationFailed => "topic authorization failed",
        C::GroupAuthorizationFailed => "group authorization failed",
        C::TransactionalIdAuthorizationFailed => "transactional id authorization failed",
        C::ClusterAuthorizationFailed => "cluster authorization failed",
        _ => return None,
    })
}

/// Kafka errors that no retry fixes: bad settings, authentication, authorization.
fn is_user_error(e: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    if let KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) = e {
        return true;
    }
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::Authentication
                | C::SaslAuthenticationFailed
                | C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::TransactionalIdAuthorizationFailed
                | C::InvalidConfig
                | C::MessageSizeTooLarge
                | C::InvalidTransactionTimeout
                | C::UnsupportedVersion
        )
    )
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
