//! The allocator of the `global-allocator` feature: segregated free lists
//! over pages taken with `memory.grow`.
//!
//! A plugin allocates the same few sizes over and over (a header map, a log
//! line, a context), one stream after another, and never runs two threads.
//! So every request is rounded up to a *size class*, a freed block goes on
//! its class's free list, and the next request of that class takes it back,
//! with no splitting or coalescing. Rust hands the layout back on `dealloc`,
//! so blocks carry no header. Against dlmalloc (what the standard library
//! uses on wasm), an allocate-and-free of a small `Vec` costs 181 wasm
//! instructions instead of 238 (wasmtime fuel), and the allocator is a few
//! hundred bytes of code instead of about 5 KB.
//!
//! Classes are multiples of 16 bytes: 16, 32, 48 and 64, then four steps per
//! doubling (80, 96, 112, 128, 160, ...), so a block wastes at most a fifth
//! of itself above 64 bytes. Requests aligned to more than 16 bytes get a
//! power-of-two block aligned to its size (to 4 KiB for larger blocks; more
//! than 4 KiB of alignment is refused), from lists of their own. Memory a
//! class took is kept by that class (a wasm module cannot give memory back
//! to the host anyway); a plugin with a steady workload reaches a steady
//! footprint, which the benchmarks check over a million streams.

/// Bytes of every block's granule and of the alignment all blocks have.
const GRANULE: usize = 16;
/// Classes of blocks aligned to 16, up to blocks of 2^31 bytes: 16 to 64,
/// then four per doubling from 2^6 to 2^31 (indices 0 to 103).
const CLASSES: usize = 4 + (31 - 6) * 4;
/// Largest alignment served (a wasm page is 64 KiB; larger would waste pages).
const MAX_ALIGN: usize = 4096;
/// Classes of blocks aligned to more than 16: powers of two 2^5 ..= 2^31.
const ALIGNED_CLASSES: usize = 31 - 5 + 1;

/// Which free list a layout's blocks live on, and their size and alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    /// Index into the free lists (aligned classes follow the plain ones).
    pub(crate) index: usize,
    /// Size of each block.
    pub(crate) block: usize,
    /// Alignment of each block.
    pub(crate) align: usize,
}

/// The class for `size` bytes aligned to `align`, or `None` for a request no
/// block can serve (over 2 GiB, or aligned to more than 4 KiB).
#[inline]
pub(crate) fn class(size: usize, align: usize) -> Option<Class> {
    if align > GRANULE {
        if align > MAX_ALIGN || size > 1 << 31 {
            return None;
        }
        let block = size.max(align).next_power_of_two();
        let log = block.trailing_zeros() as usize;
        return Some(Class { index: CLASSES + log - 5, block, align: block.min(MAX_ALIGN) });
    }
    if size > 1 << 31 {
        return None;
    }
    let rounded = size.max(1).div_ceil(GRANULE) * GRANULE;
    if rounded <= 64 {
        return Some(Class { index: rounded / GRANULE - 1, block: rounded, align: GRANULE });
    }
    // Above 64: the top two bits below the leading one pick one of four
    // steps between two powers of two.
    let e = (usize::BITS - 1 - (rounded - 1).leading_zeros()) as usize;
    let shift = e - 2;
    let step = ((rounded - 1) >> shift) & 3;
    Some(Class { index: 4 + (e - 6) * 4 + step, block: (5 + step) << shift, align: GRANULE })
}

#[cfg(all(feature = "global-allocator", target_arch = "wasm32"))]
pub(crate) use heap::Heap;

#[cfg(all(feature = "global-allocator", target_arch = "wasm32"))]
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::ptr;

    use super::{ALIGNED_CLASSES, CLASSES, Class, class};

    #[cfg(target_feature = "atomics")]
    compile_error!("sluice's global allocator is single-threaded; build without the `atomics` target feature");

    const PAGE: usize = 65536;

    struct State {
        /// Head of each class's free list; a free block's first word links to the next.
        free: [*mut u8; CLASSES + ALIGNED_CLASSES],
        /// The unused part of the last pages taken from the host.
        next: usize,
        end: usize,
    }

    /// The heap: segregated free lists (see the [module docs](super)).
    pub(crate) struct Heap(UnsafeCell<State>);

    // SAFETY: a wasm32 module without the `atomics` feature (refused above)
    // runs one thread, so the state is never accessed concurrently.
    unsafe impl Sync for Heap {}

    impl Heap {
        pub(crate) const fn new() -> Heap {
            Heap(UnsafeCell::new(State { free: [ptr::null_mut(); CLASSES + ALIGNED_CLASSES], next: 0, end: 0 }))
        }
    }

    impl State {
        /// A new block of `class`, cut from the pages at the end of memory.
        fn carve(&mut self, class: Class) -> *mut u8 {
            if let Some(start) = fit(self.next, self.end, class) {
                self.next = start + class.block;
                return start as *mut u8;
            }
            // Take enough new pages for the block at its alignment.
            let pages = class.block.saturating_add(class.align).div_ceil(PAGE);
            let old = core::arch::wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return ptr::null_mut();
            }
            let Some(end) = old.checked_mul(PAGE).and_then(|base| base.checked_add(pages * PAGE)) else {
                return ptr::null_mut();
            };
            // Contiguous with the pages we have (nobody else grew memory):
            // keep the unused tail; otherwise start over at the new pages.
            if old * PAGE != self.end {
                self.next = old * PAGE;
            }
            self.end = end;
            match fit(self.next, self.end, class) {
                Some(start) => {
                    self.next = start + class.block;
                    start as *mut u8
                }
                None => ptr::null_mut(),
            }
        }
    }

    /// Where a block of `class` starts in the free range `next..end`, if it fits.
    fn fit(next: usize, end: usize, class: Class) -> Option<usize> {
        let start = next.checked_next_multiple_of(class.align)?;
        (start.checked_add(class.block)? <= end).then_some(start)
    }

    // SAFETY: every block handed out is `class.block >= size` bytes aligned
    // to `class.align >= align`, lies in memory no other block overlaps
    // (carved once from fresh pages, or reused after its `dealloc`), and a
    // freed block returns to the list its layout maps to.
    unsafe impl GlobalAlloc for Heap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let Some(class) = class(layout.size(), layout.align()) else { return ptr::null_mut() };
            // SAFETY: single-threaded (see `Sync`), and no reference to the
            // state outlives this call.
            let state = unsafe { &mut *self.0.get() };
            let head = state.free[class.index];
            if head.is_null() {
                return state.carve(class);
            }
            // SAFETY: `head` is a free block of this class; its first word
            // holds the next free block (written by `dealloc`).
            state.free[class.index] = unsafe { head.cast::<*mut u8>().read() };
            head
        }

        unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
            let Some(class) = class(layout.size(), layout.align()) else { return };
            // SAFETY: as in `alloc`.
            let state = unsafe { &mut *self.0.get() };
            // SAFETY: the caller gives back a block `alloc` returned for this
            // layout: at least 16 bytes, aligned to 16, no longer in use.
            unsafe { block.cast::<*mut u8>().write(state.free[class.index]) };
            state.free[class.index] = block;
        }

        unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let old = class(layout.size(), layout.align());
            if old.is_some() && old == class(new_size, layout.align()) {
                return block;
            }
            // SAFETY: the caller guarantees the new layout is valid.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: as in `alloc`.
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks hold at least the smaller size and are
                // distinct (the old one is still allocated).
                unsafe {
                    ptr::copy_nonoverlapping(block, new, layout.size().min(new_size));
                    self.dealloc(block, layout);
                }
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sizes_round_to_sixteen_bytes() {
        assert_eq!(class(0, 1), Some(Class { index: 0, block: 16, align: 16 }));
        assert_eq!(class(1, 1), Some(Class { index: 0, block: 16, align: 16 }));
        assert_eq!(class(17, 8), Some(Class { index: 1, block: 32, align: 16 }));
        assert_eq!(class(64, 16), Some(Class { index: 3, block: 64, align: 16 }));
        assert_eq!(class(65, 1).map(|c| c.block), Some(80));
        assert_eq!(class(129, 1).map(|c| c.block), Some(160));
    }

    #[test]
    fn every_block_fits_its_request_and_wastes_at_most_a_fifth_above_64_bytes() {
        let mut sizes: alloc::vec::Vec<usize> = (0..5000).collect();
        sizes.extend((13..31).flat_map(|e| [(1usize << e) - 1, 1 << e, (1 << e) + 1, 3 << (e - 1)]));
        sizes.extend([(1 << 31) - 1, 1 << 31]);
        let mut last = 0;
        for size in sizes.iter().copied() {
            let c = class(size, 1).unwrap();
            assert!(c.block >= size && c.block.is_multiple_of(GRANULE) && c.index < CLASSES, "{size}: {c:?}");
            if size > 64 {
                assert!(c.block - size < c.block / 5 + GRANULE, "{size}: {c:?}");
            }
            // Classes grow with the size, and a block's own size maps back to its class.
            assert!(c.index >= last);
            last = c.index;
            assert_eq!(class(c.block, 1), Some(c), "{size}");
        }
        assert_eq!(class((1 << 31) + 1, 1), None);
    }

    #[test]
    fn over_aligned_requests_get_power_of_two_blocks_aligned_to_their_size() {
        assert_eq!(class(8, 32), Some(Class { index: CLASSES, block: 32, align: 32 }));
        assert_eq!(class(100, 64), Some(Class { index: CLASSES + 2, block: 128, align: 128 }));
        let big = class(10_000, 4096).unwrap();
        assert_eq!((big.block, big.align), (16384, 4096));
        assert!(big.index < CLASSES + ALIGNED_CLASSES);
        assert_eq!(class(1 << 31, 32).map(|c| c.index), Some(CLASSES + ALIGNED_CLASSES - 1));
        assert_eq!(class(8, 8192), None);
        // The layout given back on free maps to the same list.
        assert_eq!(class(100, 64), class(100, 64));
    }
}
