//! An allocation guard for fuzzing: a global allocator that refuses any single allocation
//! above [`LIMIT`] bytes and reports the input being decoded when it does, so that an input
//! of a few bytes that makes a decoder reserve gigabytes is a failure with its bytes, not a
//! slow machine or an out-of-memory kill.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The largest single allocation a decoder may make on fuzz inputs (they are a few KiB).
pub const LIMIT: usize = 256 << 20;

thread_local! {
    /// The input this thread is decoding: (target name, bytes), for the report.
    static CURRENT: Cell<(&'static str, *const u8, usize)> = const { Cell::new(("", std::ptr::null(), 0)) };
}

/// Marks `data` as the input this thread decodes until the next call (see [`LimitAlloc`]).
/// The bytes must stay alive while they are marked; [`clear`] unmarks them.
pub fn set_current(target: &'static str, data: &[u8]) {
    CURRENT.with(|c| c.set((target, data.as_ptr(), data.len())));
}

/// Unmarks the current input.
pub fn clear() {
    CURRENT.with(|c| c.set(("", std::ptr::null(), 0)));
}

/// The system allocator, refusing single allocations above [`LIMIT`] (the process then aborts,
/// as on any failed allocation, after writing which target and input asked for it).
pub struct LimitAlloc;

fn write_stderr(b: &[u8]) {
    // SAFETY: writing a valid buffer to file descriptor 2; no allocation.
    #[expect(unsafe_code, reason = "reporting from inside the allocator, which must not allocate")]
    unsafe {
        libc::write(2, b.as_ptr().cast(), b.len());
    }
}

fn report(size: usize) {
    let mut buf = [0u8; 64];
    let mut n = 0;
    let push = |buf: &mut [u8; 64], n: &mut usize, b: u8| {
        buf[*n] = b;
        *n += 1;
        if *n == buf.len() {
            write_stderr(&buf[..]);
            *n = 0;
        }
    };
    write_stderr(b"\neddy-fuzz: an allocation of ");
    let (d, first) = digits(size);
    write_stderr(&d[first..]);
    write_stderr(b" bytes (over the limit) while decoding ");
    let (target, ptr, len) = CURRENT.with(Cell::get);
    write_stderr(target.as_bytes());
    write_stderr(b" input, hex: ");
    if !ptr.is_null() {
        // SAFETY: `set_current`'s caller keeps the marked bytes alive while they are marked.
        #[expect(unsafe_code, reason = "reading the marked input from inside the allocator")]
        let data = unsafe { std::slice::from_raw_parts(ptr, len) };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &b in data {
            push(&mut buf, &mut n, HEX[usize::from(b >> 4)]);
            push(&mut buf, &mut n, HEX[usize::from(b & 15)]);
        }
    }
    write_stderr(&buf[..n]);
    write_stderr(b"\n");
}

/// Decimal digits of a number without allocating: (buffer, first digit).
fn digits(mut n: usize) -> ([u8; 20], usize) {
    let mut out = [b'0'; 20];
    let mut i = 20;
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return (out, i);
        }
    }
}

// SAFETY: forwards to the system allocator, or returns null (a refused allocation).
#[expect(unsafe_code, reason = "a global allocator")]
unsafe impl GlobalAlloc for LimitAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            report(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LIMIT {
            report(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, as given.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > LIMIT {
            report(new_size);
            return std::ptr::null_mut();
        }
        // SAFETY: allocated by `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
