//! The ADWIN detector: the window, its running statistics, the cut test, and river's restart
//! after a detection.

use serde::{Deserialize, Serialize};

use crate::buckets::Buckets;
use crate::snapshot::Snapshot;
use crate::{AdwinConfig, ConfigError};

/// ADWIN (adaptive windowing, Bifet & Gavaldà 2007, the ADWIN2 variant with exponential
/// histograms), computed as river 0.26.1's `river.drift.ADWIN` computes it: the same values
/// give the same detections, the same window and bit-identical statistics.
///
/// The window holds the most recent values, summarised in buckets. Every
/// [`clock`](AdwinConfig::clock) values, once it holds more than
/// [`grace_period`](AdwinConfig::grace_period), every split of it into an older and a newer
/// part (each at least [`min_window_length`](AdwinConfig::min_window_length) long) is tested,
/// oldest split first; where the two means differ by more than the Hoeffding/Bernstein bound
/// for [`delta`](AdwinConfig::delta), the oldest bucket is dropped and the test starts over.
/// Dropping at least one bucket is a detection.
///
/// As in river, the value after a detection starts a new, empty window (the grace period
/// applies again); until then [`width`](Self::width) and the statistics describe the window
/// the detection left. Where eddy differs from river, it is in what is reported, never in
/// when a drift is detected:
/// - [`n_detections`](Self::n_detections) counts every detection since creation (river's
///   counter restarts with the window, so it reads 1 after a detection and 0 after the next
///   value);
/// - [`variance`](Self::variance) is the variance of the window's values (river's
///   `ADWIN.variance` returns the sum of their squared deviations from the mean);
/// - the clock counts values modulo `clock`, where river's 32-bit counter would wrap after
///   2^31 values without a detection.
///
/// Values should be finite: a NaN or an infinity poisons the window's sums until the next
/// detection, which it then prevents (as in river).
///
/// The state serializes (serde) with its parameters; a restored detector continues bit for bit
/// where the original was. Deserializing checks the state and refuses an inconsistent one with
/// a [`SnapshotError`](crate::SnapshotError).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "Snapshot", try_from = "Snapshot")]
pub struct Adwin {
    pub(crate) config: AdwinConfig,
    pub(crate) buckets: Buckets,
    /// Values in the window.
    pub(crate) width: u64,
    /// Their sum.
    pub(crate) total: f64,
    /// Their sum of squared deviations from the window's mean (river's `variance`).
    pub(crate) variance_sum: f64,
    /// Values since the window was last due for a test, modulo `clock`.
    pub(crate) tick: u32,
    /// The last value was a detection: the next one starts a new window.
    pub(crate) drift_detected: bool,
    pub(crate) n_detections: u64,
}

impl Default for Adwin {
    /// A detector with river's default parameters.
    fn default() -> Self {
        Self::valid(AdwinConfig::default())
    }
}

impl Adwin {
    /// A detector with an empty window, or the error of the first bad parameter.
    pub fn new(config: AdwinConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::valid(config))
    }

    fn valid(config: AdwinConfig) -> Self {
        Self {
            config,
            buckets: Buckets::new(config.max_buckets as usize),
            width: 0,
            total: 0.0,
            variance_sum: 0.0,
            tick: 0,
            drift_detected: false,
            n_detections: 0,
        }
    }

    /// The parameters.
    pub fn config(&self) -> &AdwinConfig {
        &self.config
    }

    /// Adds a value (after emptying the window if the previous value was a detection) and
    /// tells whether a drift is detected at this value. Allocates only when the window grows a
    /// bucket row it never had before (about once per doubling of its widest width so far).
    pub fn update(&mut self, x: f64) -> bool {
        if self.drift_detected {
            self.restart();
        }
        self.insert(x);
        self.drift_detected = self.test_due() && self.shrink();
        self.n_detections += u64::from(self.drift_detected);
        self.drift_detected
    }

    /// Whether the last [`update`](Self::update) detected a drift.
    pub fn drift_detected(&self) -> bool {
        self.drift_detected
    }

    /// Number of values in the window.
    pub fn width(&self) -> u64 {
        self.width
    }

    /// Sum of the values in the window.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Mean of the values in the window (0 when it is empty).
    pub fn estimation(&self) -> f64 {
        if self.width == 0 { 0.0 } else { self.total / self.width as f64 }
    }

    /// Variance of the values in the window: the mean of their squared deviations from
    /// [`estimation`](Self::estimation), over width values rather than width - 1 (0 when the
    /// window is empty). It is river's `variance_in_window`, the variance the cut test uses.
    pub fn variance(&self) -> f64 {
        if self.width == 0 { 0.0 } else { self.variance_sum / self.width as f64 }
    }

    /// Drifts detected since the detector was created (or since the state it was restored
    /// from was created).
    pub fn n_detections(&self) -> u64 {
        self.n_detections
    }

    /// river's `ADWIN._reset`: a new window, with the clock back at zero.
    fn restart(&mut self) {
        self.buckets.clear();
        self.width = 0;
        self.total = 0.0;
        self.variance_sum = 0.0;
        self.tick = 0;
    }

    fn insert(&mut self, x: f64) {
        self.buckets.push(x);
        self.width += 1;
        let w = self.width as f64;
        let mut increment = 0.0;
        if self.width > 1 {
            let d = x - self.total / (w - 1.0);
            increment = (w - 1.0) * d * d / w;
        }
        self.variance_sum += increment;
        self.total += x;
    }

    /// Advances the clock; true when the window is due for a test and past the grace period.
    fn test_due(&mut self) -> bool {
        self.tick += 1;
        if self.tick < self.config.clock {
            return false;
        }
        self.tick = 0;
        self.width > u64::from(self.config.grace_period)
    }

    /// Drops the oldest bucket while some split of the window shows a change; true if it
    /// dropped any.
    fn shrink(&mut self) -> bool {
        let mut dropped = false;
        while self.has_cut() {
            self.drop_oldest();
            dropped = true;
        }
        dropped
    }

    /// Tests the splits after each bucket, oldest first, up to the one before the newest.
    fn has_cut(&self) -> bool {
        let min = u64::from(self.config.min_window_length);
        let w = self.width as f64;
        // Both depend on the width only; river computes them at every split, to the same bits.
        let delta_prime = (2.0 * w.ln() / self.config.delta).ln();
        let variance = self.variance_sum / w;
        let (mut n0, mut n1, mut u0, mut u1) = (0u64, self.width, 0.0, self.total);
        for i in (0..self.buckets.rows()).rev() {
            let size = 1u64 << i;
            let row = self.buckets.row(i);
            for (k, bucket) in row.iter().enumerate() {
                n0 += size;
                n1 -= size;
                u0 += bucket.total;
                u1 -= bucket.total;
                if i == 0 && k + 1 == row.len() {
                    return false;
                }
                if n0 >= min && n1 >= min {
                    let m = f64::from(self.config.min_window_length);
                    let m_recip = 1.0 / (n0 as f64 - m + 1.0) + 1.0 / (n1 as f64 - m + 1.0);
                    let epsilon = (2.0 * m_recip * variance * delta_prime).sqrt() + 2.0 / 3.0 * delta_prime * m_recip;
                    let delta_mean = u0 / n0 as f64 - u1 / n1 as f64;
                    if delta_mean.abs() > epsilon {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Removes the oldest bucket from the window and its statistics.
    fn drop_oldest(&mut self) {
        let (bucket, n) = self.buckets.pop_oldest();
        let n_f = n as f64;
        let mu = bucket.total / n_f;
        self.width -= n;
        self.total -= bucket.total;
        let w = self.width as f64;
        let mu_window = self.total / w;
        self.variance_sum -= bucket.variance + n_f * w * (mu - mu_window) * (mu - mu_window) / (n_f + w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_short_window() {
        let mut a = Adwin::default();
        assert_eq!((a.width(), a.estimation(), a.variance()), (0, 0.0, 0.0));
        for v in [1.0, 2.0, 3.0, 4.0, 5.0] {
            assert!(!a.update(v));
        }
        assert_eq!((a.width(), a.total(), a.estimation()), (5, 15.0, 3.0));
        assert_eq!(a.variance(), 2.0);
    }

    #[test]
    fn a_bad_config_is_refused() {
        let c = AdwinConfig { clock: 0, ..AdwinConfig::default() };
        assert_eq!(Adwin::new(c), Err(ConfigError::Clock));
    }

    #[test]
    fn no_test_until_the_window_is_wider_than_the_grace_period() {
        // A jump big enough to be seen at width 10 is first tested, and seen, at width 11.
        let c = AdwinConfig { delta: 0.9, clock: 1, max_buckets: 5, min_window_length: 1, grace_period: 10 };
        let mut a = Adwin::new(c).unwrap();
        let values = [0.0, 0.0, 0.0, 0.0, 0.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0];
        let found: Vec<usize> = values.iter().enumerate().filter(|(_, x)| a.update(**x)).map(|(i, _)| i).collect();
        assert_eq!(found, [10]);
    }

    #[test]
    fn the_split_after_the_newest_value_is_never_tested() {
        // With min_window_length 0 that split would compare the window with nothing: the empty
        // side's sum is a rounding residue (here 0.1 + 0.2 - 0.1 - 0.2 != 0) over zero values.
        let c = AdwinConfig { delta: 0.9, clock: 1, max_buckets: 5, min_window_length: 0, grace_period: 0 };
        let mut a = Adwin::new(c).unwrap();
        assert!(!a.update(0.1));
        assert!(!a.update(0.2));
        assert_eq!(a.width(), 2);
    }

    #[test]
    fn the_value_after_a_detection_starts_a_new_window() {
        let c = AdwinConfig { clock: 1, ..AdwinConfig::default() };
        let mut a = Adwin::new(c).unwrap();
        let mut at = None;
        for i in 0..2000 {
            if a.update(if i < 1000 { 0.0 } else { 10.0 }) {
                at = Some(i);
                break;
            }
        }
        let at = at.expect("a jump of 10 is detected");
        assert!((1000..1010).contains(&at), "{at}");
        assert!(a.drift_detected() && a.width() < 1000 && a.n_detections() == 1);
        a.update(10.0);
        assert_eq!((a.width(), a.total(), a.drift_detected(), a.n_detections()), (1, 10.0, false, 1));
    }
}
