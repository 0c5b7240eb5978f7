//! Stack buckets: cumulative sampled allocations per distinct stack, like Go's
//! `mProf` buckets. Insert-only, fixed storage (`.bss`), lock-free.
//!
//! A bucket is found by a hash of its stack with linear probing over at most
//! [`PROBE`] slots, and the full stack is compared, so hash collisions never merge two
//! stacks. When no slot is free the sample is charged to bucket 0, the overflow bucket
//! (empty stack, shown as such in profiles), and counted in `HeapStats::dropped_stacks`:
//! totals stay right, attribution degrades.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::stack::{Stack, MAX_FRAMES};

/// Distinct stacks kept (16 Ki, ~9 MiB of address space, touched as used).
pub const MAX_BUCKETS: usize = 1 << 14;
const PROBE: usize = 64;
const EMPTY: u64 = 0;
const BUSY: u64 = 1;
/// Index of the overflow bucket.
pub(crate) const OVERFLOW: u32 = 0;

/// One cache-line-aligned bucket, what a sample touches first: the header (hash,
/// length, the two counters a sample adds to) and the innermost four frames share its
/// first line, so a sample of a known stack of up to 12 frames reads two lines.
#[repr(C, align(64))]
struct Bucket {
    hash: AtomicU64,
    est_count: AtomicU64,
    est_bytes: AtomicU64,
    len: AtomicU32,
    frames: [AtomicUsize; MAX_FRAMES],
}

impl Bucket {
    const fn new() -> Self {
        Bucket {
            hash: AtomicU64::new(EMPTY),
            est_count: AtomicU64::new(0),
            est_bytes: AtomicU64::new(0),
            len: AtomicU32::new(0),
            frames: [const { AtomicUsize::new(0) }; MAX_FRAMES],
        }
    }

    fn matches(&self, ips: &[usize]) -> bool {
        self.len.load(Ordering::Relaxed) as usize == ips.len()
            && self
                .frames
                .iter()
                .zip(ips)
                .all(|(f, &ip)| f.load(Ordering::Relaxed) == ip)
    }
}

static BUCKETS: [Bucket; MAX_BUCKETS] = [const { Bucket::new() }; MAX_BUCKETS];
static USED: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn hash(ips: &[usize]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ ips.len() as u64;
    for &ip in ips {
        h = (h ^ ip as u64).wrapping_mul(0x0000_0100_0000_01B3);
        h ^= h >> 29;
    }
    if h <= BUSY {
        h + 2
    } else {
        h
    }
}

/// The bucket of `stack`, created if new; [`OVERFLOW`] when the table has no room.
pub(crate) fn find_or_insert(stack: &Stack) -> u32 {
    let ips = stack.ips();
    let h = hash(ips);
    for i in 0..PROBE {
        let idx = (h as usize).wrapping_add(i) & (MAX_BUCKETS - 1);
        if idx == OVERFLOW as usize {
            continue;
        }
        let b = &BUCKETS[idx];
        let mut k = b.hash.load(Ordering::Acquire);
        if k == EMPTY {
            match b
                .hash
                .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    for (f, &ip) in b.frames.iter().zip(ips) {
                        f.store(ip, Ordering::Relaxed);
                    }
                    b.len.store(ips.len() as u32, Ordering::Relaxed);
                    b.hash.store(h, Ordering::Release);
                    USED.fetch_add(1, Ordering::Relaxed);
                    return idx as u32;
                }
                Err(now) => k = now,
            }
        }
        // BUSY: another thread is writing a stack here, maybe this one; moving on at
        // worst makes a second bucket for the same stack, which profiles merge.
        if k == h && b.matches(ips) {
            return idx as u32;
        }
    }
    DROPPED.fetch_add(1, Ordering::Relaxed);
    OVERFLOW
}

/// Charges one sampled allocation to bucket `idx` (two atomic adds: the unbiased
/// counts are all the profile needs).
pub(crate) fn add(idx: u32, est_count: u64, est_bytes: u64) {
    if let Some(b) = BUCKETS.get(idx as usize) {
        b.est_count.fetch_add(est_count, Ordering::Relaxed);
        b.est_bytes.fetch_add(est_bytes, Ordering::Relaxed);
    }
}

/// A copy of one bucket.
#[derive(Clone, Debug, Default)]
pub(crate) struct BucketCopy {
    pub index: u32,
    pub stack: Vec<usize>,
    pub est_count: u64,
    pub est_bytes: u64,
}

/// Copies every bucket that holds at least one allocation (allocates: holmes threads).
pub(crate) fn copy_all() -> Vec<BucketCopy> {
    let mut out = Vec::new();
    for (idx, b) in BUCKETS.iter().enumerate() {
        let h = b.hash.load(Ordering::Acquire);
        if idx != OVERFLOW as usize && h <= BUSY {
            continue;
        }
        let est_count = b.est_count.load(Ordering::Relaxed);
        if est_count == 0 {
            continue;
        }
        let len = (b.len.load(Ordering::Relaxed) as usize).min(MAX_FRAMES);
        out.push(BucketCopy {
            index: idx as u32,
            stack: b.frames[..len]
                .iter()
                .map(|f| f.load(Ordering::Relaxed))
                .collect(),
            est_count,
            est_bytes: b.est_bytes.load(Ordering::Relaxed),
        });
    }
    out
}

/// Buckets in use.
pub(crate) fn used() -> u64 {
    USED.load(Ordering::Relaxed)
}

/// Samples charged to the overflow bucket.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(ips: &[usize]) -> Stack {
        let mut s = Stack::empty();
        for &ip in ips {
            s.push(ip);
        }
        s
    }

    #[test]
    fn same_stack_same_bucket_and_counts_accumulate() {
        let a = stack(&[0xdead_0001, 0xdead_0002, 0xdead_0003]);
        let b = stack(&[0xdead_0001, 0xdead_0002]);
        let ia = find_or_insert(&a);
        let ib = find_or_insert(&b);
        assert_ne!(ia, OVERFLOW);
        assert_ne!(ia, ib, "a prefix is a different stack");
        assert_eq!(find_or_insert(&a), ia);
        add(ia, 3, 300);
        add(ia, 1, 50);
        let c = copy_all().into_iter().find(|c| c.index == ia).unwrap();
        assert_eq!(c.stack, vec![0xdead_0001, 0xdead_0002, 0xdead_0003]);
        assert_eq!((c.est_count, c.est_bytes), (4, 350));
    }
}
