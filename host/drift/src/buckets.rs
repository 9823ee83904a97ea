//! ADWIN2's exponential histogram: the window as rows of buckets, row `i` holding buckets that
//! summarise 2^i values each (their sum and the sum of squared deviations from their mean).
//!
//! Row 0 is the newest, the last row the oldest; within a row the oldest bucket comes first.
//! A row may briefly hold `max_buckets + 1` buckets; [`Buckets::push`] then merges its two
//! oldest into one bucket of the next row, and so on up. All rows live in one flat vector with
//! a stride of `max_buckets + 1`, so steady-state updates never allocate; a new row grows it
//! (amortised, and the capacity is kept across [`Buckets::clear`]).

/// One bucket: the sum of the values it summarises and their sum of squared deviations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) total: f64,
    pub(crate) variance: f64,
}

const EMPTY: Bucket = Bucket { total: 0.0, variance: 0.0 };

/// The bucket rows.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    /// `max_buckets + 1`: the room of each row in `slots`.
    stride: usize,
    /// Row `i` occupies `slots[i * stride..][..len[i]]`.
    slots: Vec<Bucket>,
    /// Buckets in each row; never empty (row 0 always exists).
    len: Vec<usize>,
}

/// Equal when the rows hold the same buckets (what lies beyond a row's end does not count).
impl PartialEq for Buckets {
    fn eq(&self, o: &Self) -> bool {
        self.stride == o.stride && self.rows() == o.rows() && (0..self.rows()).all(|i| self.row(i) == o.row(i))
    }
}

impl Buckets {
    pub(crate) fn new(max_buckets: usize) -> Self {
        let stride = max_buckets + 1;
        Self { stride, slots: vec![EMPTY; stride], len: vec![0] }
    }

    /// Rebuilds the rows from their buckets (row 0 first, each oldest first), as a snapshot
    /// holds them. The caller checks that no row holds more than `max_buckets`.
    pub(crate) fn from_rows(max_buckets: usize, rows: &[Vec<Bucket>]) -> Self {
        let mut b = Self::new(max_buckets);
        b.slots.resize(rows.len().max(1) * b.stride, EMPTY);
        b.len.resize(rows.len().max(1), 0);
        for (i, row) in rows.iter().enumerate() {
            b.slots[i * b.stride..][..row.len()].copy_from_slice(row);
            b.len[i] = row.len();
        }
        b
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.len.len()
    }

    /// Row `i`'s buckets, oldest first.
    pub(crate) fn row(&self, i: usize) -> &[Bucket] {
        &self.slots[i * self.stride..][..self.len[i]]
    }

    /// Empties the window, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.len.clear();
        self.len.push(0);
        self.slots.truncate(self.stride);
    }

    /// Adds a bucket of one value, then merges overflowing rows upwards, oldest pair first,
    /// with river's arithmetic.
    pub(crate) fn push(&mut self, value: f64) {
        self.append(0, Bucket { total: value, variance: 0.0 });
        let mut i = 0;
        while self.len[i] == self.stride {
            let n = (1u64 << i) as f64;
            let [a, b] = [self.slots[i * self.stride], self.slots[i * self.stride + 1]];
            let (mu_a, mu_b) = (a.total / n, b.total / n);
            let merged = Bucket { total: a.total + b.total, variance: a.variance + b.variance + n * 0.5 * (mu_a - mu_b) * (mu_a - mu_b) };
            if i + 1 == self.rows() {
                self.len.push(0);
                self.slots.resize(self.rows() * self.stride, EMPTY);
            }
            self.append(i + 1, merged);
            self.drop_oldest(i, 2);
            i += 1;
        }
    }

    /// Removes the oldest bucket of the window (the first of the last row) and returns it with
    /// the number of values it summarised. The window must not be empty.
    pub(crate) fn pop_oldest(&mut self) -> (Bucket, u64) {
        let last = self.rows() - 1;
        let oldest = self.slots[last * self.stride];
        self.drop_oldest(last, 1);
        if self.len[last] == 0 && last > 0 {
            self.len.pop();
            self.slots.truncate(self.rows() * self.stride);
        }
        (oldest, 1 << last)
    }

    fn append(&mut self, row: usize, bucket: Bucket) {
        self.slots[row * self.stride + self.len[row]] = bucket;
        self.len[row] += 1;
    }

    fn drop_oldest(&mut self, row: usize, n: usize) {
        let start = row * self.stride;
        self.slots.copy_within(start + n..start + self.len[row], start);
        self.len[row] -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(b: &Buckets) -> Vec<usize> {
        (0..b.rows()).map(|i| b.row(i).len()).collect()
    }

    #[test]
    fn rows_fill_and_merge_oldest_first() {
        let mut b = Buckets::new(2);
        for v in 1..=3 {
            b.push(v as f64);
        }
        // 1 and 2 merged into one bucket of row 1; 3 stays in row 0.
        assert_eq!(sizes(&b), [1, 1]);
        assert_eq!(b.row(1)[0], Bucket { total: 3.0, variance: 0.5 });
        for v in 4..=11 {
            b.push(v as f64);
        }
        // 11 values = 1 + 2 + 2 * 4: rows hold 1, 1 and 2 buckets of 1, 2 and 4 values.
        assert_eq!(sizes(&b), [1, 1, 2]);
        assert_eq!(b.row(2)[0].total, 1.0 + 2.0 + 3.0 + 4.0);
        assert_eq!(b.row(2)[0].variance, 5.0, "squared deviations of 1..=4 from 2.5");
        assert_eq!(b.row(0)[0].total, 11.0);
        let (oldest, n) = b.pop_oldest();
        assert_eq!((oldest.total, n), (10.0, 4));
        assert_eq!(sizes(&b), [1, 1, 1]);
        let (oldest, n) = b.pop_oldest();
        assert_eq!((oldest.total, n), (5.0 + 6.0 + 7.0 + 8.0, 4));
        assert_eq!(sizes(&b), [1, 1], "the emptied last row is dropped");
        b.clear();
        assert_eq!(sizes(&b), [0]);
    }
}
