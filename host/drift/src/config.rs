//! ADWIN's parameters, their defaults (river's) and the check that they make sense.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// ADWIN's parameters. The defaults are river's: `delta` 0.002, `clock` 32, `max_buckets` 5,
/// `min_window_length` 5, `grace_period` 10. Deserializing fills in missing fields with these
/// defaults and refuses unknown ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdwinConfig {
    /// Significance of the cut test, in (0, 1): the smaller, the fewer false alarms and the
    /// later a real change is seen.
    pub delta: f64,
    /// The window is tested for a cut every `clock` values (1: after every value).
    pub clock: u32,
    /// How many buckets of each size the window keeps before merging the two oldest into one
    /// of twice the size (2 to [`MAX_BUCKETS`]). More buckets: finer cut points, more memory
    /// and time.
    pub max_buckets: u32,
    /// Neither side of a cut may hold fewer values than this.
    pub min_window_length: u32,
    /// No cut is tested until the window holds more than this many values.
    pub grace_period: u32,
}

/// The largest `max_buckets` accepted. The window keeps room for `max_buckets + 1` buckets of
/// 16 bytes in each of up to 64 rows, allocated as rows open: 1,024 bounds that at about 1 MiB
/// (river's default is 5; beyond a few dozen, more buckets only cost time). Without a bound a
/// job file, or an altered snapshot, could ask for gigabytes before the first value.
pub const MAX_BUCKETS: u32 = 1024;

impl Default for AdwinConfig {
    fn default() -> Self {
        Self { delta: 0.002, clock: 32, max_buckets: 5, min_window_length: 5, grace_period: 10 }
    }
}

impl AdwinConfig {
    /// Checks the parameters: `delta` in the open interval (0, 1), `clock` at least 1,
    /// `max_buckets` from 2 to [`MAX_BUCKETS`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        // Written so that NaN fails too.
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(ConfigError::Delta(self.delta));
        }
        if self.clock == 0 {
            return Err(ConfigError::Clock);
        }
        if !(2..=MAX_BUCKETS).contains(&self.max_buckets) {
            return Err(ConfigError::MaxBuckets(self.max_buckets));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_each_bad_parameter_is_named() {
        let ok = AdwinConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        for delta in [0.0, 1.0, -0.1, 2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(AdwinConfig { delta, ..ok }.validate().map_err(|e| matches!(e, ConfigError::Delta(_))), Err(true), "{delta}");
        }
        assert_eq!(AdwinConfig { clock: 0, ..ok }.validate(), Err(ConfigError::Clock));
        assert_eq!(AdwinConfig { max_buckets: 1, ..ok }.validate(), Err(ConfigError::MaxBuckets(1)));
        assert_eq!(AdwinConfig { max_buckets: 0, ..ok }.validate(), Err(ConfigError::MaxBuckets(0)));
        assert_eq!(AdwinConfig { max_buckets: MAX_BUCKETS, ..ok }.validate(), Ok(()));
        assert_eq!(AdwinConfig { max_buckets: MAX_BUCKETS + 1, ..ok }.validate(), Err(ConfigError::MaxBuckets(MAX_BUCKETS + 1)));
        assert_eq!(AdwinConfig { max_buckets: u32::MAX, ..ok }.validate(), Err(ConfigError::MaxBuckets(u32::MAX)));
        let edge = AdwinConfig { delta: 1e-300, clock: 1, max_buckets: 2, min_window_length: 0, grace_period: 0 };
        assert_eq!(edge.validate(), Ok(()));
    }

    #[test]
    fn a_partial_config_takes_the_defaults_and_an_unknown_field_is_refused() {
        let c: AdwinConfig = serde_json::from_str(r#"{"delta": 0.01}"#).unwrap();
        assert_eq!(c, AdwinConfig { delta: 0.01, ..AdwinConfig::default() });
        assert!(serde_json::from_str::<AdwinConfig>(r#"{"detla": 0.01}"#).is_err());
    }
}
