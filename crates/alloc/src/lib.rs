//! The `stampede` binary's global allocator: mimalloc, with plainly-aligned requests sent to
//! `mi_malloc` instead of `mi_malloc_aligned`.
//!
//! The `mimalloc` crate's allocator passes every request to `mi_malloc_aligned`, whatever its
//! alignment. For a block over 1 KiB whose size class is not a power of two, mimalloc then cannot
//! prove the alignment from the size class and over-allocates: it asks for `size + align - 1`,
//! and marks the page so that every free from it looks the block's start up again. That is the
//! path an iteration's boxed future (2.4 KiB, 16-byte aligned) took on every iteration: ~270
//! instructions to allocate and free it under callgrind, where `mi_malloc` takes a free block
//! from the size class's page (docs/benchmarks.md, "seventh session").
//!
//! Here a request aligned to at most 16 bytes goes to `mi_malloc`, and its result is checked.
//! mimalloc's blocks are all 8-byte aligned, and 16-byte aligned in every size class that is a
//! multiple of 16 (all but 24, 40 and 56 bytes), since a page's first block is. A block that
//! falls short (a 16-byte-aligned 24-byte value) is freed and the request goes to
//! `mi_malloc_aligned` as before. Larger alignments always go to `mi_malloc_aligned`. Every
//! block, however allocated, is released by `mi_free`.
#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// Alignments up to this are asked of `mi_malloc` first.
const PLAIN_ALIGN: usize = 16;

/// mimalloc as the global allocator (see the crate documentation).
pub struct MiMalloc;

fn aligned(p: *mut c_void, align: usize) -> bool {
    (p as usize) & (align - 1) == 0
}

type Plain = unsafe extern "C" fn(usize) -> *mut c_void;
type Aligned = unsafe extern "C" fn(usize, usize) -> *mut c_void;

/// `plain(size)` when its block has the alignment asked for, else `aligned_fn(size, align)`.
///
/// # Safety
/// `plain` and `aligned_fn` are mimalloc's allocation functions (`mi_malloc`/`mi_zalloc` and their
/// `_aligned` forms); `layout` has a non-zero size.
#[inline]
unsafe fn allocate(layout: Layout, plain: Plain, aligned_fn: Aligned) -> *mut u8 {
    // SAFETY: plain FFI calls; `p` came from mimalloc and is freed at most once.
    unsafe {
        if layout.align() <= PLAIN_ALIGN {
            let p = plain(layout.size());
            if aligned(p, layout.align()) {
                return p.cast();
            }
            mi::mi_free(p);
        }
        aligned_fn(layout.size(), layout.align()).cast()
    }
}

// SAFETY: every method returns either null or a block of at least the requested size at the
// requested alignment (checked, or guaranteed by the `_aligned` entry points), owned by
// mimalloc and released only through `mi_free`, which accepts blocks from any of them.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout has a non-zero size (the `GlobalAlloc` contract).
        unsafe { allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned, once.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a live block of `layout` from this allocator; on success
        // mimalloc has moved its contents and released the old block, and a misaligned result
        // is itself a live block that `mi_realloc_aligned` moves again.
        unsafe {
            if layout.align() <= PLAIN_ALIGN {
                let p = mi::mi_realloc(ptr.cast(), new_size);
                if aligned(p, layout.align()) {
                    return p.cast();
                }
                return mi::mi_realloc_aligned(p, new_size, layout.align()).cast();
            }
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 16] = [
        1, 7, 8, 15, 16, 24, 40, 100, 1000, 1024, 1025, 2500, 4096, 5000, 70_000, 3_000_000,
    ];
    const ALIGNS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 4096];

    fn fill(p: *mut u8, n: usize, seed: u8) {
        for i in 0..n {
            // SAFETY: `p` holds at least `n` bytes.
            unsafe { p.add(i).write(seed.wrapping_add(i as u8)) };
        }
    }

    fn holds(p: *const u8, n: usize, seed: u8) -> bool {
        // SAFETY: `p` holds at least `n` initialised bytes.
        (0..n).all(|i| unsafe { p.add(i).read() } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn every_block_has_its_size_and_alignment_and_keeps_its_bytes() {
        for align in ALIGNS {
            for size in SIZES {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; each block is used within its size and freed once.
                unsafe {
                    let p = MiMalloc.alloc(layout);
                    assert!(!p.is_null(), "{layout:?}");
                    assert_eq!(p as usize % align, 0, "{layout:?}");
                    fill(p, size, 3);
                    assert!(holds(p, size, 3), "{layout:?}");
                    MiMalloc.dealloc(p, layout);
                }
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_where_a_freed_block_left_bytes() {
        for align in ALIGNS {
            for size in SIZES {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: as above.
                unsafe {
                    let dirty = MiMalloc.alloc(layout);
                    fill(dirty, size, 0xAA);
                    MiMalloc.dealloc(dirty, layout);
                    let p = MiMalloc.alloc_zeroed(layout);
                    assert_eq!(p as usize % align, 0, "{layout:?}");
                    assert!((0..size).all(|i| p.add(i).read() == 0), "{layout:?}");
                    MiMalloc.dealloc(p, layout);
                }
            }
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_and_the_alignment_growing_and_shrinking() {
        for align in ALIGNS {
            for from in SIZES {
                for to in SIZES {
                    let layout = Layout::from_size_align(from, align).unwrap();
                    // SAFETY: as above; the old block is not used after `realloc`.
                    unsafe {
                        let p = MiMalloc.alloc(layout);
                        fill(p, from, 7);
                        let q = MiMalloc.realloc(p, layout, to);
                        assert!(!q.is_null());
                        assert_eq!(q as usize % align, 0, "{layout:?} -> {to}");
                        assert!(holds(q, from.min(to), 7), "{layout:?} -> {to}");
                        MiMalloc.dealloc(q, Layout::from_size_align(to, align).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn blocks_from_both_paths_can_be_freed_in_any_order() {
        let layouts: Vec<Layout> = (ALIGNS.iter())
            .flat_map(|&a| {
                SIZES
                    .iter()
                    .map(move |&s| Layout::from_size_align(s, a).unwrap())
            })
            .collect();
        // SAFETY: each block is freed once, with its own layout.
        unsafe {
            let blocks: Vec<_> = (layouts.iter()).map(|&l| (MiMalloc.alloc(l), l)).collect();
            for (p, l) in blocks.into_iter().rev() {
                MiMalloc.dealloc(p, l);
            }
        }
    }
}
