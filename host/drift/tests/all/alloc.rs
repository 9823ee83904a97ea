//! Updates do not allocate once the window has had its widest bucket rows: not in steady
//! state, not through a detection, and not while the window grows back after it. A counting
//! allocator (per thread, so tests running alongside do not count) proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use eddy_drift::Adwin;

use crate::streams::bernoulli;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    // try_with: the allocator may run while the thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

#[expect(unsafe_code, reason = "a global allocator is an unsafe trait; this one only counts and defers to the system's")]
// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's guarantees about `layout` are passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn updates_through_a_detection_do_not_allocate() {
    // 60,000 rows at an error rate of 0.2, then 30,000 at 0.6: a detection, a restart, and a
    // window that grows back to less than its earlier width.
    let warm = bernoulli(21, 60_000, |_| 0.2);
    let drift = bernoulli(22, 30_000, |_| 0.6);
    let mut a = Adwin::default();
    for x in &warm {
        a.update(*x);
    }
    let before = allocations();
    let mut detections = 0;
    for x in &drift {
        detections += usize::from(a.update(*x));
    }
    let allocated = allocations() - before;
    assert!(detections >= 1, "the drift is detected");
    assert_eq!(allocated, 0, "allocations during 30,000 updates");
}
