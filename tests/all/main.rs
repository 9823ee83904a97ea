//! eddy's integration tests, in one binary: operators run as compiled components driven by the
//! host, jobs run over replays, bad input and hostile components are contained.

mod bad_input;
mod chain;
mod conformance;
mod determinism;
mod guide;
mod restore;
mod sandbox;
