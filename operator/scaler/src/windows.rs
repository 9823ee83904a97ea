//! Window assignment and closing, as a small state machine over plain data.
//!
//! Rows are assumed to arrive in event-time order per instance. The operator's watermark is the
//! largest of the host's `watermark(ts)` calls and `t - 1` for every row's event time t (rows
//! with the same time may still follow). A row whose event time is at or before the watermark
//! (a late row) is assigned as if it had arrived at `watermark + 1`, so it counts toward the
//! window open at the watermark instead of being dropped (Flink would drop it). With that rule
//! at most one window is open at any time, so the statistics can be learnt row by row, in
//! arrival order, exactly as Flink adds a window's rows when it fires.

use serde::{Deserialize, Serialize};

use crate::params::Windows;

/// The window currently gathering rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    /// Rows in the window.
    pub rows: u64,
    /// Start (inclusive) in ms; unused for count windows.
    pub start: i64,
    /// End (exclusive) in ms, saturating at `i64::MAX`; unused for count windows.
    pub end: i64,
}

impl OpenWindow {
    /// The window's max timestamp (Flink's `TimeWindow.maxTimestamp()`).
    pub fn max_timestamp(&self) -> i64 {
        self.end - 1
    }
}

/// What happens when a row is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    /// The row joins the open window (or opens one).
    Join,
    /// The row lies beyond the open window: close it first, then assign the row again.
    CloseFirst,
}

/// Where a row with event time `t` goes, given the open window and the watermark; updates the
/// open window when the row joins it. `t` is ignored for global and count windows.
pub fn assign(windows: Windows, open: &mut Option<OpenWindow>, watermark: i64, t: i64) -> Assign {
    let te = t.max(watermark.saturating_add(1));
    match windows {
        Windows::Global => {
            open.get_or_insert(OpenWindow { rows: 0, start: i64::MIN, end: i64::MAX }).rows += 1;
        }
        Windows::CountTumbling(_) => {
            open.get_or_insert(OpenWindow { rows: 0, start: 0, end: i64::MAX }).rows += 1;
        }
        Windows::EventTimeTumbling(size) => {
            let start = te.saturating_sub(te.rem_euclid(size));
            match open {
                Some(o) if o.start != start => return Assign::CloseFirst,
                Some(o) => o.rows += 1,
                None => *open = Some(OpenWindow { rows: 1, start, end: start.saturating_add(size) }),
            }
        }
        Windows::EventTimeSession(gap) => {
            let end = te.saturating_add(gap);
            match open {
                // Flink's TimeWindow.intersects is inclusive: a row at the session's end merges.
                Some(o) if o.end < te => return Assign::CloseFirst,
                Some(o) => {
                    o.rows += 1;
                    o.start = o.start.min(te);
                    o.end = o.end.max(end);
                }
                None => *open = Some(OpenWindow { rows: 1, start: te, end }),
            }
        }
    }
    Assign::Join
}

/// Whether the open window closes: a count window when full, an event-time or global window
/// when the watermark has reached its max timestamp.
pub fn is_due(windows: Windows, open: &OpenWindow, watermark: i64) -> bool {
    match windows {
        Windows::CountTumbling(n) => open.rows >= n,
        Windows::Global | Windows::EventTimeTumbling(_) | Windows::EventTimeSession(_) => {
            open.rows > 0 && open.max_timestamp() <= watermark
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_windows_align_on_the_epoch_and_close_ahead() {
        let w = Windows::EventTimeTumbling(3000);
        let mut open = None;
        assert_eq!(assign(w, &mut open, i64::MIN, 1000), Assign::Join);
        assert_eq!(open, Some(OpenWindow { rows: 1, start: 0, end: 3000 }));
        assert_eq!(assign(w, &mut open, 999, 3000), Assign::CloseFirst);
        let mut neg = None;
        assign(w, &mut neg, i64::MIN, -1);
        assert_eq!(neg, Some(OpenWindow { rows: 1, start: -3000, end: 0 }));
    }

    #[test]
    fn late_rows_count_toward_the_window_open_at_the_watermark() {
        let w = Windows::EventTimeTumbling(3000);
        let mut open = None;
        assign(w, &mut open, 5000, 10);
        assert_eq!(open, Some(OpenWindow { rows: 1, start: 3000, end: 6000 }));
    }

    #[test]
    fn sessions_merge_when_touching_and_close_beyond_the_gap() {
        let w = Windows::EventTimeSession(1000);
        let mut open = None;
        assign(w, &mut open, i64::MIN, 0);
        assert_eq!(assign(w, &mut open, -1, 1000), Assign::Join);
        assert_eq!(open, Some(OpenWindow { rows: 2, start: 0, end: 2000 }));
        assert_eq!(assign(w, &mut open, 999, 2001), Assign::CloseFirst);
        assert!(!is_due(w, open.as_ref().unwrap(), 1998));
        assert!(is_due(w, open.as_ref().unwrap(), 1999));
    }
}
