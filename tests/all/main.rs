//! eddy's integration tests, in one binary: operators run as compiled components driven by the
//! host, jobs run over replays, bad input and hostile components are contained.

mod bad_input;
mod chain;
mod conformance;
mod determinism;
mod drift;
mod embeddings;
mod examples;
mod guide;
mod hostile_calls;
mod kafka_exactly_once;
mod kafka_faults;
mod kafka_group;
mod kafka_replays;
mod kafka_secure;
mod kafka_support;
mod labels;
mod make_test;
mod poison;
mod restore;
mod sandbox;
mod wit;
