//! The sampling allocator over a wrapped allocator whose own blocks are only 8-aligned
//! (bit 3 of their addresses set), like jemalloc's 8-byte class or mimalloc's 24-byte
//! one: the free path's shortcut (bit 3 clear = not a sample) never applies to them,
//! so every free goes through the filter. Checks that samples are still matched, that
//! the contents survive reallocs between sampled and unsampled blocks, and that the
//! wrapped allocator gets back exactly the addresses and layouts it handed out.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use holmes_runtime::alloc::{self as halloc, Allocator};

mod common;
use common::{check_pattern, fill_pattern};

/// Hands out blocks 8 bytes into a 16-aligned `System` block when the alignment
/// allows it, with the requested size written in front, and counts every call that
/// comes back with another address or layout.
struct Odd;

static LIVE: AtomicU64 = AtomicU64::new(0);
static MISMATCHES: AtomicU64 = AtomicU64::new(0);

/// Where `Odd` puts a block of `l` in its System block: 8 bytes in when allowed.
fn offset(l: Layout) -> usize {
    if l.align() <= 8 {
        8
    } else {
        l.align().max(16)
    }
}

/// The System block `Odd` carves a block of `l` from.
fn outer(l: Layout) -> Layout {
    Layout::from_size_align(l.size() + 16 + offset(l), l.align().max(16)).expect("layout")
}

// SAFETY: every block is carved from a System block of `outer(layout)`, at an offset
// that keeps the requested alignment, with room for the requested size after it.
unsafe impl GlobalAlloc for Odd {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: non-zero size.
        let base = unsafe { System.alloc(outer(l)) };
        if base.is_null() {
            return base;
        }
        LIVE.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the offset and the size header fit in the outer block.
        unsafe {
            let p = base.add(offset(l));
            (p.sub(8) as *mut u64).write_unaligned(l.size() as u64);
            p
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `alloc` above (checked by the header).
        unsafe {
            if (p.sub(8) as *const u64).read_unaligned() != l.size() as u64 {
                MISMATCHES.fetch_add(1, Ordering::Relaxed);
                return; // leak rather than corrupt the heap
            }
            LIVE.fetch_sub(1, Ordering::Relaxed);
            System.dealloc(p.sub(offset(l)), outer(l));
        }
    }
}

static H: Allocator<Odd> = Allocator::new(Odd);
static S: Allocator = Allocator::system();

/// One test at a time: they change the process-wide sample rate.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn samples_are_matched_over_an_allocator_with_8_aligned_blocks() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let sizes = [8usize, 24, 1000, 65_535, 65_536, 200_000];
    let before = halloc::stats();
    let mut blocks = 0u64;
    for align in [1usize, 8, 16, 64] {
        for (k, &from) in sizes.iter().enumerate() {
            for (j, &to) in sizes.iter().enumerate() {
                // All four combinations of sampled / unsampled before and after.
                for pattern in 0..4u64 {
                    let seed = (k * 7 + j * 13 + align) as u8;
                    let layout = Layout::from_size_align(from, align).expect("layout");
                    halloc::set_sample_rate(if pattern & 1 == 1 { 1 } else { 0 });
                    // SAFETY: non-zero size; freed below with its final layout.
                    let p = unsafe { H.alloc(layout) };
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0);
                    // SAFETY: `p` holds at least that many bytes.
                    unsafe { fill_pattern(p, from, seed) };
                    halloc::set_sample_rate(if pattern & 2 == 2 { 1 } else { 0 });
                    // SAFETY: `p` was allocated by `H` with `layout`; `to` is non-zero.
                    let q = unsafe { H.realloc(p, layout, to) };
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "realloc keeps the alignment");
                    // SAFETY: `q` holds at least that many bytes.
                    unsafe { check_pattern(q, from.min(to), seed) };
                    halloc::set_sample_rate(0);
                    // SAFETY: `q` holds `to` bytes with `align`.
                    unsafe { H.dealloc(q, Layout::from_size_align(to, align).expect("layout")) };
                    blocks += 1;
                }
            }
        }
    }
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
    let after = halloc::stats();
    assert_eq!(
        MISMATCHES.load(Ordering::Relaxed),
        0,
        "wrong address or layout handed back"
    );
    assert_eq!(
        LIVE.load(Ordering::Relaxed),
        0,
        "blocks leaked in the wrapped allocator"
    );
    // Half the blocks were sampled at allocation and half at reallocation: every
    // sample is gone again (this binary's own allocator is not sampled).
    let sampled = after.total_sampled_allocs - before.total_sampled_allocs;
    assert_eq!(
        sampled, blocks,
        "one sample per block and pattern bit set: {after:?}"
    );
    assert_eq!(after.live_samples, before.live_samples, "{after:?}");
    assert_eq!(after.dropped_samples, 0, "{after:?}");
}

/// Over glibc (16-aligned blocks), where the free path's shortcut applies: a sampled
/// block of alignment at most 8 and below 64 KiB sits 8 bytes into its block (bit 3
/// set), other samples and unsampled blocks stay where malloc put them.
#[test]
fn small_samples_are_shifted_and_the_rest_are_not() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cases = [
        (1usize, 1usize, true),
        (24, 8, true),
        (65_535, 8, true),
        (65_536, 1, false),
        (1 << 20, 8, false),
        (24, 16, false),
        (4096, 4096, false),
    ];
    for (size, align, shifted) in cases {
        let layout = Layout::from_size_align(size, align).expect("layout");
        for rate in [1u64, 0] {
            halloc::set_sample_rate(rate);
            // SAFETY: non-zero size; freed below with its layout.
            let p = unsafe { S.alloc(layout) };
            assert!(!p.is_null());
            // SAFETY: `p` holds at least that many bytes.
            unsafe { fill_pattern(p, size, 3) };
            let bit3 = p as usize & 8 != 0;
            assert_eq!(
                bit3,
                shifted && rate == 1,
                "{size} B align {align} at rate {rate}"
            );
            // SAFETY: `p` holds at least that many bytes.
            unsafe { check_pattern(p, size, 3) };
            // SAFETY: allocated just above with `layout`.
            unsafe { S.dealloc(p, layout) };
        }
    }
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
}
