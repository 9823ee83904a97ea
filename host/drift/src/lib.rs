//! Drift detection for eddy's host: [`Adwin`], the adaptive-windowing detector of Bifet &
//! Gavaldà (2007, ADWIN2 with exponential histograms), computed exactly as river 0.26.1's
//! `river.drift.ADWIN` does, so that a stream gives the same detections in eddy as in river.
//! The host feeds it one number per row (a prequential error) and reports where the number's
//! mean changed. The detector is plain data: it serializes into a pipeline snapshot and,
//! restored, continues bit for bit. Parameters and defaults are in the crate's README.

mod adwin;
mod buckets;
mod config;
mod error;
mod snapshot;

pub use adwin::Adwin;
pub use config::{AdwinConfig, MAX_BUCKETS};
pub use error::{ConfigError, SnapshotError};

/// The README's examples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
