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
    assert_eq!(after.dropped_samples, before.dropped_samples, "{after:?}");
}

/// Over glibc (16-aligned blocks), where the free path's shortcut applies: a sampled
/// block of alignment at most 8, whatever its size, sits 8 bytes into its block (bit 3
/// set), other samples and unsampled blocks stay where malloc put them.
#[test]
fn samples_of_alignment_up_to_8_are_shifted_and_the_rest_are_not() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cases = [
        (1usize, 1usize, true),
        (24, 8, true),
        (65_535, 8, true),
        (65_536, 1, true),
        (1 << 20, 8, true),
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

/// `System`, counting the calls that reach it.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call unchanged to System.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract.
        unsafe { System.realloc(p, l, n) }
    }
}

static C: Allocator<Counting> = Allocator::new(Counting);

/// Reallocates `p` (of `from` bytes, alignment 8) through `C` to `to` bytes at `rate`;
/// checks the contents and that the wrapped allocator did it with one `realloc` (in
/// place or remapped: no copy of ours) when `in_place`.
fn realloc_at(p: *mut u8, from: usize, to: usize, rate: u64, in_place: bool) -> *mut u8 {
    halloc::set_sample_rate(rate);
    let (allocs, reallocs) = (
        ALLOCS.load(Ordering::Relaxed),
        REALLOCS.load(Ordering::Relaxed),
    );
    // SAFETY: `p` was allocated by `C` with `from` bytes, alignment 8; `to` is non-zero.
    let q = unsafe { C.realloc(p, Layout::from_size_align(from, 8).expect("layout"), to) };
    assert!(!q.is_null());
    // SAFETY: `q` holds at least that many bytes.
    unsafe { check_pattern(q, from.min(to), 9) };
    if in_place {
        assert_eq!(
            ALLOCS.load(Ordering::Relaxed),
            allocs,
            "{from} -> {to}: no new block"
        );
        assert_eq!(
            REALLOCS.load(Ordering::Relaxed),
            reallocs + 1,
            "{from} -> {to}"
        );
    }
    q
}

/// A sample reallocated without a new sample stays shifted, as a carried block, and the
/// wrapped allocator's `realloc` moves it (no copy of ours: big blocks are remapped);
/// sampled again, it is a sample again; every record goes with its block.
#[test]
fn a_sample_reallocated_unsampled_stays_shifted_and_is_moved_by_the_wrapped_allocator() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let before = halloc::stats();
    halloc::set_sample_rate(1);
    let size = 1 << 20;
    // SAFETY: non-zero size; freed below with its final layout.
    let p = unsafe { C.alloc(Layout::from_size_align(size, 8).expect("layout")) };
    assert!(!p.is_null());
    // SAFETY: `p` holds `size` bytes.
    unsafe { fill_pattern(p, size, 9) };
    assert!(p as usize & 8 != 0, "a sample is shifted");

    let q = realloc_at(p, size, 3 << 20, 0, true);
    let s = halloc::stats();
    assert!(q as usize & 8 != 0, "still shifted");
    assert_eq!(
        (s.live_samples, s.carried_blocks),
        (before.live_samples, before.carried_blocks + 1),
        "{s:?}"
    );
    let q = realloc_at(q, 3 << 20, 100, 0, true);
    assert!(q as usize & 8 != 0, "a carried block stays shifted");
    assert_eq!(halloc::stats().carried_blocks, before.carried_blocks + 1);

    let q = realloc_at(q, 100, 2 << 20, 1, true);
    let s = halloc::stats();
    assert!(q as usize & 8 != 0);
    assert_eq!(
        (s.live_samples, s.carried_blocks),
        (before.live_samples + 1, before.carried_blocks),
        "sampled again: {s:?}"
    );
    halloc::set_sample_rate(0);
    // SAFETY: allocated by `C` with this layout.
    unsafe { C.dealloc(q, Layout::from_size_align(2 << 20, 8).expect("layout")) };
    let s = halloc::stats();
    assert_eq!(
        (s.live_samples, s.carried_blocks, s.dropped_samples),
        (
            before.live_samples,
            before.carried_blocks,
            before.dropped_samples
        ),
        "{s:?}"
    );
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
}

/// A plain block sampled on `realloc` is copied into a shifted block when it is small;
/// above the copy limit (4 sample rates, at least 1 MiB) it stays plain and its sample
/// is counted in the allocation profile and as dropped, not as live.
#[test]
fn a_plain_block_sampled_on_realloc_is_copied_into_place_unless_too_big() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let before = halloc::stats();
    for (size, copied) in [(1000usize, true), (1 << 20, true), (2 << 20, false)] {
        halloc::set_sample_rate(0);
        // SAFETY: non-zero size; freed below with its final layout.
        let p = unsafe { C.alloc(Layout::from_size_align(size, 8).expect("layout")) };
        assert!(!p.is_null() && p as usize & 8 == 0, "plain");
        // SAFETY: `p` holds `size` bytes.
        unsafe { fill_pattern(p, size, 9) };
        let sampled_before = halloc::stats().total_sampled_allocs;
        let q = realloc_at(p, size, size + 5000, 1, !copied);
        let s = halloc::stats();
        assert_eq!(s.total_sampled_allocs, sampled_before + 1, "{size} B");
        assert_eq!(q as usize & 8 != 0, copied, "{size} B");
        assert_eq!(
            s.live_samples,
            before.live_samples + u64::from(copied),
            "{s:?}"
        );
        assert_eq!(
            s.dropped_samples,
            before.dropped_samples + u64::from(!copied),
            "{s:?}"
        );
        halloc::set_sample_rate(0);
        // SAFETY: allocated by `C` with this layout.
        unsafe { C.dealloc(q, Layout::from_size_align(size + 5000, 8).expect("layout")) };
        assert_eq!(halloc::stats().live_samples, before.live_samples);
    }
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
}
