//! Stress of the sampling allocator with every allocation sampled: many threads (that
//! exit) allocate, reallocate across sizes and alignments and free; the per-stack
//! counts the allocator recorded must equal the ones the workers counted themselves.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use holmes_runtime::alloc::{self as halloc, Allocator};
use holmes_runtime::symbol::Symbolizer;

#[global_allocator]
static A: Allocator = Allocator::system();

const THREADS: usize = 8;
const WAVES: usize = 4;
const OPS: usize = 4000;
const HELD: usize = 48;

/// What one worker did, counted independently of the allocator.
#[derive(Default, Clone, Copy, Debug)]
struct Count {
    allocs: u64,
    reallocs: u64,
    bytes: u64,
    retained: u64,
    retained_bytes: u64,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Allocates, reallocates and frees through the global allocator, never touching the
/// heap otherwise (the bookkeeping lives in stack arrays), so every allocation whose
/// stack contains this function is one it counted. Leaves `retained` blocks live.
#[inline(never)]
fn stress_worker(seed: u64, retained: &mut [(usize, Layout); 8], count: &mut Count) {
    let mut s = seed | 1;
    let mut held: [(usize, Layout); HELD] = [(0, Layout::new::<u8>()); HELD];
    let aligns = [1usize, 8, 16, 64, 4096, 1 << 16];
    for _ in 0..OPS {
        let slot = (xorshift(&mut s) % HELD as u64) as usize;
        let (p, layout) = held[slot];
        if p == 0 {
            let size = match xorshift(&mut s) % 10 {
                0 => 1 + (xorshift(&mut s) % (256 << 10)) as usize,
                1..=3 => 1 + (xorshift(&mut s) % 4096) as usize,
                _ => 1 + (xorshift(&mut s) % 128) as usize,
            };
            let align = aligns[(xorshift(&mut s) % aligns.len() as u64) as usize];
            let layout = Layout::from_size_align(size, align).expect("layout");
            // SAFETY: non-zero size.
            let p = unsafe {
                if xorshift(&mut s).is_multiple_of(2) {
                    alloc(layout)
                } else {
                    alloc_zeroed(layout)
                }
            };
            assert!(!p.is_null());
            // SAFETY: p is a fresh block of `size` bytes.
            unsafe { p.write(7) };
            count.allocs += 1;
            count.bytes += size as u64;
            held[slot] = (p as usize, layout);
        } else if xorshift(&mut s).is_multiple_of(2) {
            // Realloc across sizes: shrink or grow by up to 64x (crossing the
            // small/large boundaries of malloc, moving or not).
            let new_size = match xorshift(&mut s) % 3 {
                0 => 1 + layout.size() / 2,
                1 => layout.size() + 1 + (xorshift(&mut s) % 64) as usize,
                _ => (layout.size() * 64).min(1 << 20),
            };
            // SAFETY: p was allocated with `layout`; new_size is non-zero.
            let q = unsafe { realloc(p as *mut u8, layout, new_size) };
            assert!(!q.is_null());
            // SAFETY: q holds at least min(old, new) bytes, the first is ours.
            assert_eq!(unsafe { q.read() }, 7, "realloc kept the contents");
            count.reallocs += 1;
            count.bytes += new_size as u64;
            held[slot] = (
                q as usize,
                Layout::from_size_align(new_size, layout.align()).expect("layout"),
            );
        } else {
            // SAFETY: p was allocated with `layout`.
            unsafe { dealloc(p as *mut u8, layout) };
            held[slot].0 = 0;
        }
    }
    // Keep up to 8 blocks alive past the thread's exit, free the rest.
    let mut kept = 0;
    for &(p, layout) in held.iter() {
        if p == 0 {
            continue;
        }
        if kept < retained.len() {
            retained[kept] = (p, layout);
            kept += 1;
            count.retained += 1;
            count.retained_bytes += layout.size() as u64;
        } else {
            // SAFETY: p was allocated with `layout`.
            unsafe { dealloc(p as *mut u8, layout) };
        }
    }
}

fn worker_entries(snap: &halloc::HeapSnapshot, sym: &mut Symbolizer) -> Vec<halloc::HeapEntry> {
    snap.entries()
        .iter()
        .filter(|e| {
            e.stack.iter().any(|&ip| {
                sym.resolve(ip, true)
                    .iter()
                    .any(|f| f.name.contains("stress_worker"))
            })
        })
        .cloned()
        .collect()
}

#[test]
fn every_allocation_sampled_counts_match_across_threads() {
    halloc::set_sample_rate(1);
    let before = halloc::stats();
    assert!(
        before.installed,
        "the wrapper is this binary's global allocator"
    );

    // A reader snapshots concurrently the whole time: copying must not disturb anything.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(halloc::snapshot());
                n += 1;
            }
            n
        })
    };

    let mut total = Count::default();
    let mut retained: Vec<(usize, Layout)> = Vec::new();
    for wave in 0..WAVES {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut kept = [(0usize, Layout::new::<u8>()); 8];
                    let mut c = Count::default();
                    stress_worker((wave * 100 + t) as u64 * 0x9E37_79B9 + 1, &mut kept, &mut c);
                    (kept, c)
                })
            })
            .collect();
        for h in handles {
            let (kept, c) = h.join().expect("worker");
            total.allocs += c.allocs;
            total.reallocs += c.reallocs;
            total.bytes += c.bytes;
            total.retained += c.retained;
            total.retained_bytes += c.retained_bytes;
            retained.extend(kept.iter().filter(|(p, _)| *p != 0));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let snapshots = reader.join().expect("reader");
    assert!(snapshots > 0);

    let stats = halloc::stats();
    assert_eq!(stats.dropped_samples, 0, "{stats:?}");
    assert_eq!(stats.dropped_stacks, 0, "{stats:?}");

    let mut sym = Symbolizer::new();
    let snap = halloc::snapshot();
    let entries = worker_entries(&snap, &mut sym);
    assert!(!entries.is_empty(), "no stack names stress_worker");
    let sum = |f: fn(&halloc::HeapEntry) -> u64| entries.iter().map(f).sum::<u64>();
    // Rate 1: every allocation and realloc is a sample of weight exactly 1.
    assert_eq!(sum(|e| e.alloc_objects), total.allocs + total.reallocs);
    assert_eq!(sum(|e| e.alloc_space), total.bytes);
    assert_eq!(
        sum(|e| e.sampled_inuse),
        total.retained,
        "live samples after exits"
    );
    assert_eq!(sum(|e| e.inuse_objects), total.retained);
    assert_eq!(sum(|e| e.inuse_space), total.retained_bytes);

    // Freed from another thread than the one that allocated: still matched.
    for (p, layout) in retained {
        // SAFETY: allocated by a worker with `layout`, freed once.
        unsafe { dealloc(p as *mut u8, layout) };
    }
    let snap = halloc::snapshot();
    let entries = worker_entries(&snap, &mut sym);
    assert_eq!(entries.iter().map(|e| e.sampled_inuse).sum::<u64>(), 0);
    assert_eq!(entries.iter().map(|e| e.inuse_space).sum::<u64>(), 0);
    assert_eq!(
        entries.iter().map(|e| e.alloc_objects).sum::<u64>(),
        total.allocs + total.reallocs,
        "cumulative counts survive frees"
    );

    // Zero-sized types never reach the allocator; nothing may be recorded for them.
    let zst: Vec<()> = Vec::with_capacity(1000);
    let boxed = Box::new(());
    assert_eq!(zst.capacity(), usize::MAX);
    drop((zst, boxed));

    // Sampling off: nothing more is sampled on this thread.
    halloc::set_sample_rate(0);
    let n = halloc::stats().total_sampled_allocs;
    let v: Vec<Vec<u8>> = (0..1000).map(|_| vec![1u8; 1000]).collect();
    drop(v);
    let after = halloc::stats().total_sampled_allocs;
    // Other threads (the harness) may still be at their old countdown: allow a few.
    assert!(after - n < 5, "sampled {} with sampling off", after - n);
}
