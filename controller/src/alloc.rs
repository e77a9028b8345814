//! [`ReservingAllocator`]: the process's global allocator, which serves very large allocations
//! as untouched address-space reservations.
//!
//! Why: the `kafka-protocol` decoders size a `Vec` from a length read off the wire before they
//! read its elements (`Vec::with_capacity(n)`). A 20-byte request claiming two billion array
//! elements would then ask the system allocator for tens of gigabytes; when that fails Rust
//! aborts the process, and no `Result` or `catch_unwind` can intervene. Served from an
//! `mmap(MAP_NORESERVE)` mapping, such a request costs address space only: no page is touched
//! before the decoder runs out of bytes, returns its error, and the mapping is unmapped.
//! Capacities too large for `isize` still panic (`capacity overflow`); the server decodes under
//! `catch_unwind` for that case.
//!
//! Everything else goes to mimalloc: replaying metadata into persistent maps allocates and frees
//! many small nodes, where glibc's malloc spent a third of the driver thread's time.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc as System;

/// Allocations of at least this size are reservations (1 GiB: nothing legitimate in metaquorum
/// allocates this much at once, so ordinary allocations never take the slow path).
pub const RESERVATION_BYTES_MIN: usize = 1 << 30;
const PAGE_BYTES: usize = 4096;

/// The system allocator, except that allocations of [`RESERVATION_BYTES_MIN`] or more are
/// `mmap(MAP_NORESERVE)` reservations. Install it with `#[global_allocator]` in binaries that
/// decode untrusted Kafka requests.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReservingAllocator;

fn is_reservation(layout: Layout) -> bool {
    layout.size() >= RESERVATION_BYTES_MIN && layout.align() <= PAGE_BYTES
}

unsafe fn reserve(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint; the kernel picks the place.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

unsafe impl GlobalAlloc for ReservingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_reservation(layout) {
            // SAFETY: size is non-zero (>= RESERVATION_BYTES_MIN).
            unsafe { reserve(layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_reservation(layout) {
            // Anonymous mappings are zero-filled.
            // SAFETY: as in `alloc`.
            unsafe { reserve(layout.size()) }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_reservation(layout) {
            // SAFETY: `ptr` came from `reserve(layout.size())`.
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
        } else {
            // SAFETY: `ptr` came from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` and `layout.align()` form a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_reservation(layout) && !is_reservation(new_layout) {
            // SAFETY: both sides are System allocations.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: allocate, copy the common prefix, free; each through the matching path.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_untouched_allocation_is_a_cheap_reservation() {
        let a = ReservingAllocator;
        // 64 GiB: more than this machine's memory; the system allocator would fail (abort).
        let layout = Layout::from_size_align(64 << 30, 8).unwrap();
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            assert_eq!(*p, 7);
            let p = a.realloc(p, layout, 2 << 30);
            assert!(!p.is_null());
            assert_eq!(*p, 7);
            a.dealloc(p, Layout::from_size_align(2 << 30, 8).unwrap());
        }
    }

    #[test]
    fn small_allocations_round_trip_through_realloc_across_the_threshold() {
        let a = ReservingAllocator;
        let small = Layout::from_size_align(64, 8).unwrap();
        unsafe {
            let p = a.alloc(small);
            std::ptr::write_bytes(p, 0xab, 64);
            let big = a.realloc(p, small, RESERVATION_BYTES_MIN);
            assert_eq!(*big.add(63), 0xab);
            let back = a.realloc(
                big,
                Layout::from_size_align(RESERVATION_BYTES_MIN, 8).unwrap(),
                32,
            );
            assert_eq!(*back.add(31), 0xab);
            a.dealloc(back, Layout::from_size_align(32, 8).unwrap());
        }
    }
}
