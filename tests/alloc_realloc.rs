//! `realloc` and `alloc_zeroed` through the sampling allocator with sampling switched
//! on and off between the allocation and the reallocation (so a sampled block becomes
//! unsampled and back), across sizes up to a few MiB and alignments up to 64 KiB:
//! contents survive, alignments hold, zeroed blocks are zero even when a dirty block
//! is reused, and every sample is forgotten when its block goes away.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};

use holmes_runtime::alloc::{self as halloc, Allocator};

mod common;
use common::{check_pattern, fill_pattern};

#[global_allocator]
static A: Allocator = Allocator::system();

/// One test at a time: they change the process-wide sample rate.
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn realloc_keeps_contents_and_forgets_samples_across_sampling_changes() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let sizes = [
        24usize,
        4000,
        5000,
        // Around 64 KiB (samples from there on were not shifted once), and a few
        // MiB (remapped by glibc's realloc, shift and all).
        65_535,
        65_536,
        300_000,
        1 << 20,
        (1 << 20) + 1,
        3 << 20,
    ];
    let live_before = halloc::stats().live_samples;
    for align in [1usize, 8, 16, 4096, 1 << 16] {
        for (k, &from) in sizes.iter().enumerate() {
            for &to in &sizes {
                let seed = (k * 31 + align % 251) as u8;
                let layout = Layout::from_size_align(from, align).expect("layout");
                // Sample the first block, then alternate: the new block is sampled
                // (rate 1) or not (rate 0).
                halloc::set_sample_rate(1);
                // SAFETY: non-zero size.
                let p = unsafe { alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                // SAFETY: `p` holds at least that many bytes.
                unsafe { fill_pattern(p, from, seed) };
                halloc::set_sample_rate(if to % 2 == 0 { 1 } else { 0 });
                // SAFETY: `p` was allocated with `layout`; `to` is non-zero.
                let q = unsafe { realloc(p, layout, to) };
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0, "realloc keeps the alignment");
                // SAFETY: `q` holds at least that many bytes.
                unsafe { check_pattern(q, from.min(to), seed) };
                halloc::set_sample_rate(0);
                // SAFETY: `q` holds `to` bytes with `layout.align()`.
                unsafe { dealloc(q, Layout::from_size_align(to, align).expect("layout")) };
            }
        }
    }
    let s = halloc::stats();
    // Every block was sampled and freed; the slack is for the test harness's threads.
    assert!(
        s.live_samples <= live_before + 10,
        "{} live samples, {live_before} before: samples not forgotten",
        s.live_samples
    );
    assert_eq!(s.dropped_samples, 0, "{s:?}");
}

#[test]
fn zeroed_blocks_are_zero_after_a_dirty_block_is_reused() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    halloc::set_sample_rate(1);
    for size in [100usize, 8 << 10, 200 << 10, 1 << 20] {
        let layout = Layout::from_size_align(size, 8).expect("layout");
        for _ in 0..3 {
            // SAFETY: non-zero size; each block is freed with its layout.
            unsafe {
                let dirty = alloc(layout);
                std::ptr::write_bytes(dirty, 0xFF, size);
                dealloc(dirty, layout);
                let z = alloc_zeroed(layout);
                assert!(
                    std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0),
                    "{size} B block not zeroed"
                );
                dealloc(z, layout);
            }
        }
    }
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
}

#[test]
fn blocks_sampled_before_sampling_is_turned_off_are_forgotten_when_freed() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    halloc::set_sample_rate(1);
    let live_before = halloc::stats().live_samples;
    let blocks: Vec<Vec<u8>> = (0..2000).map(|i| vec![i as u8; 16 + i % 5000]).collect();
    assert!(halloc::stats().live_samples >= live_before + 2000);
    halloc::set_sample_rate(0);
    // Grow half of them (unsampled reallocs of sampled blocks), drop the rest.
    let mut grown = Vec::new();
    for (i, mut v) in blocks.into_iter().enumerate() {
        let len = v.len();
        if i % 2 == 0 {
            v.resize(len * 3, 1);
            assert!(v[..len].iter().all(|&b| b == i as u8));
            grown.push(v);
        }
    }
    drop(grown);
    let live_after = halloc::stats().live_samples;
    assert!(
        live_after <= live_before + 10,
        "{live_after} live samples, {live_before} before (slack for the test harness threads)"
    );
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
}
