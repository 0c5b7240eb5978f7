//! The live-sample table: which pointers are sampled, and what each one weighs.
//!
//! Fixed storage in `static`s (zero-initialised, so it lives in `.bss` and the OS backs
//! a page only once it is touched); never allocates, never locks.
//!
//! - [`Filter`]: 64 Ki one-byte counters (64 KiB), one per 64 bytes of address space
//!   (wrapping every 4 MiB, the bits above 64 KiB folded in); a counter is the number
//!   of live samples starting in its 64 bytes (saturating at 255, then sticky).
//!   A free that asks the filter (blocks not settled by the shift test, see `alloc`'s
//!   module docs) and reads 0 is known not to be sampled after one relaxed load, with
//!   no shared write. The filter is a field of the `Allocator` value, not a `static`
//!   of this crate: see [`Filter`] for why.
//! - [`KEYS`]/[`DATA`]: 128 Ki slots. A pointer lives in one of the [`WINDOW`] slots
//!   that follow its home slot (two cache lines). Lookups scan the whole window, so a
//!   removed slot simply goes back to 0 (no tombstones, probe length fixed forever).
//!   When the window is full or [`MAX_LIVE`] records are live (a soft cap: racing
//!   inserters may pass it by one each) the sample is dropped and counted.
//! - *Carried* records ([`Record::carried`]): a shifted block that was a sample and was
//!   reallocated without a new sample (see `alloc`'s module docs). It stays shifted, so
//!   its free must still find it, but it weighs nothing, is in no profile and is not
//!   counted as a sample. The cap does not refuse them.
//! - The stash: [`STASH`] more slots, scanned only while one is claimed. A `realloc`
//!   that keeps a block shifted claims one *before* the wrapped allocator moves the
//!   block ([`claim`]), so the moved block can be recorded even when its window is
//!   full ([`insert_claimed`]): once moved, a shifted block that no record names would
//!   be freed at the wrong address. No slot to claim: the caller copies instead.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Most samples recorded as live at once (64 Ki); beyond that samples are dropped and
/// counted in `HeapStats::dropped_samples`. At the default rate this covers ~32 GiB of
/// live heap.
pub const MAX_LIVE: u64 = 1 << 16;

const SLOTS_LOG2: u32 = 17;
const SLOTS: usize = 1 << SLOTS_LOG2;
/// Slots scanned per lookup: 16 keys = 2 cache lines.
pub(crate) const WINDOW: usize = 16;
const FILTER_LOG2: u32 = 16;
const FILTER_LEN: usize = 1 << FILTER_LOG2;

/// A slot being written (never a real pointer).
const BUSY: usize = 1;

/// The bucket of a carried record (no stack bucket has it: see [`MAX_BUCKETS`]).
///
/// [`MAX_BUCKETS`]: super::MAX_BUCKETS
const CARRIED: u32 = u32::MAX;

/// Slots of the stash.
pub(crate) const STASH: usize = 64;

/// What a live sample weighs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Requested size in bytes.
    pub size: u64,
    /// Index of its stack bucket.
    pub bucket: u32,
    /// Estimated objects it stands for, fixed point (`COUNT_ONE` = 1).
    pub est_count: u64,
    /// Estimated bytes it stands for.
    pub est_bytes: u64,
}

impl Record {
    /// The record of a carried block of `size` bytes: weighs nothing.
    pub(crate) fn carried(size: u64) -> Record {
        Record {
            size,
            bucket: CARRIED,
            est_count: 0,
            est_bytes: 0,
        }
    }

    fn is_carried(&self) -> bool {
        self.bucket == CARRIED
    }
}

struct Data {
    size: AtomicU64,
    bucket: AtomicU32,
    est_count: AtomicU64,
    est_bytes: AtomicU64,
}

impl Data {
    const fn new() -> Self {
        Data {
            size: AtomicU64::new(0),
            bucket: AtomicU32::new(0),
            est_count: AtomicU64::new(0),
            est_bytes: AtomicU64::new(0),
        }
    }
    fn load(&self) -> Record {
        Record {
            size: self.size.load(Ordering::Relaxed),
            bucket: self.bucket.load(Ordering::Relaxed),
            est_count: self.est_count.load(Ordering::Relaxed),
            est_bytes: self.est_bytes.load(Ordering::Relaxed),
        }
    }
    fn store(&self, r: &Record) {
        self.size.store(r.size, Ordering::Relaxed);
        self.bucket.store(r.bucket, Ordering::Relaxed);
        self.est_count.store(r.est_count, Ordering::Relaxed);
        self.est_bytes.store(r.est_bytes, Ordering::Relaxed);
    }
}

#[repr(align(64))]
struct Keys([AtomicUsize; SLOTS]);

/// The counting filter in front of the table.
///
/// It is a field of [`super::Allocator`], so it lives in the user's
/// `#[global_allocator]` static. It was read on every free when this was decided: a
/// `static` of the user's crate is addressed directly (`FILTER(%rip)`), while a
/// `static` of this crate, seen from the inlined free path, is reached through the
/// GOT, one more dependent load (a 64 B pair over glibc measured +7 % through the GOT,
/// +0.3 % in the allocator value). Since the shift test, only frees it cannot settle
/// read the filter, out of line, where one more load hardly matters.
///
/// Each allocator value counts its own samples in its own filter (the table behind
/// is shared); a block is freed through the value that allocated it (the
/// `GlobalAlloc` contract), so its free finds the counter its allocation raised.
#[repr(align(64))]
pub(crate) struct Filter([AtomicU8; FILTER_LEN]);

impl Filter {
    pub(crate) const fn new() -> Filter {
        Filter([const { AtomicU8::new(0) }; FILTER_LEN])
    }

    /// False means `ptr` is certainly not a live sample: one relaxed byte load.
    #[inline(always)]
    pub(crate) fn maybe_sampled(&self, ptr: *mut u8) -> bool {
        self.0[filter_index(ptr as usize)].load(Ordering::Relaxed) != 0
    }

    fn inc(&self, ptr: usize) {
        let c = &self.0[filter_index(ptr)];
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v < u8::MAX).then(|| v + 1)
        });
    }

    fn dec(&self, ptr: usize) {
        let c = &self.0[filter_index(ptr)];
        // 255 is sticky: past it the counter no longer knows how many share it.
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v != 0 && v < u8::MAX).then(|| v - 1)
        });
    }
}

static KEYS: Keys = Keys([const { AtomicUsize::new(0) }; SLOTS]);
static DATA: [Data; SLOTS] = [const { Data::new() }; SLOTS];
static STASH_KEYS: [AtomicUsize; STASH] = [const { AtomicUsize::new(0) }; STASH];
static STASH_DATA: [Data; STASH] = [const { Data::new() }; STASH];
/// Stash slots claimed (reserved or holding a record): lookups scan the stash only
/// while it is non-zero.
static STASH_CLAIMED: AtomicUsize = AtomicUsize::new(0);
/// Records inserted / removed (samples and carried): recorded = inserted - removed.
/// Two counters written by different paths instead of one shared up-down counter; the
/// cap check only reads.
static INSERTED: AtomicU64 = AtomicU64::new(0);
static REMOVED: AtomicU64 = AtomicU64::new(0);
/// The carried ones among them: written only when a carried record comes or goes, so
/// a sample's way in and out touches the two above alone.
static CARRIED_IN: AtomicU64 = AtomicU64::new(0);
static CARRIED_OUT: AtomicU64 = AtomicU64::new(0);

/// Counts a record going into (`going_in`) or out of the table.
fn count(rec: &Record, going_in: bool) {
    let (all, carried) = if going_in {
        (&INSERTED, &CARRIED_IN)
    } else {
        (&REMOVED, &CARRIED_OUT)
    };
    all.fetch_add(1, Ordering::Relaxed);
    if rec.is_carried() {
        carried.fetch_add(1, Ordering::Relaxed);
    }
}

#[inline(always)]
fn hash(ptr: usize) -> u64 {
    (ptr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// log2 of the bytes of address space one filter counter stands for.
const GRANULE_LOG2: u32 = 6;

#[inline(always)]
fn filter_index(ptr: usize) -> usize {
    // Shifts and a xor, cheaper than a multiplicative hash on the free path, and
    // locality-preserving: within an aligned 64 KiB chunk neighbouring blocks use
    // neighbouring counters, so one cache line of the filter serves 4 KiB of heap and
    // the frees of a working set touch 1/64 of its size in filter lines. Folding in
    // the bits above 64 KiB moves whole cache lines: blocks at the same offset of
    // two heaps 64 MiB apart (glibc's per-thread arenas) land on different lines, so
    // two threads sampling do not write into the line the other one reads (with the
    // bits above 4 MiB folded in instead they did, and a 2-thread 4 KiB pair bench
    // ran +16 % instead of +6 %). One counter per 64 bytes: two live samples
    // starting in the same 64 bytes share it (counted twice, still exact), and a free
    // next to a live sample pays a table lookup. Measured on the HashMap bench: ~1 %
    // less overhead than one counter per 16 bytes.
    ((ptr >> GRANULE_LOG2) ^ (ptr >> 16)) & (FILTER_LEN - 1)
}

fn home(ptr: usize) -> usize {
    // Multiplicative hash bits, unrelated to the filter's index (raw address bits),
    // so filter collisions and window collisions differ. Windows start on a cache
    // line (8 keys).
    ((hash(ptr) >> (64 - FILTER_LOG2 - SLOTS_LOG2)) as usize) & (SLOTS - 1) & !7
}

/// The slot indices of `ptr`'s window, in probe order.
fn window(ptr: usize) -> impl Iterator<Item = usize> {
    let start = home(ptr);
    (0..WINDOW).map(move |i| (start + i) & (SLOTS - 1))
}

/// Records `ptr` as a live sample (or carried block), counted in `filter`. False when
/// the table is full (the caller counts the drop): its window, or for a sample the cap.
pub(crate) fn insert(filter: &Filter, ptr: *mut u8, rec: &Record) -> bool {
    let ptr = ptr as usize;
    // A soft cap: racing inserters may pass it by one each.
    if !rec.is_carried() && records() >= MAX_LIVE {
        return false;
    }
    insert_in_window(filter, ptr, rec)
}

/// [`insert`] without the cap.
fn insert_in_window(filter: &Filter, ptr: usize, rec: &Record) -> bool {
    if ptr <= BUSY {
        return false;
    }
    for idx in window(ptr) {
        if reserve(&KEYS.0[idx]) {
            fill(&KEYS.0[idx], &DATA[idx], filter, ptr, rec);
            return true;
        }
    }
    false
}

/// Reserves the slot `key` if it is free (marks it `BUSY`).
fn reserve(key: &AtomicUsize) -> bool {
    key.load(Ordering::Relaxed) == 0
        && key
            .compare_exchange(0, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
}

/// Fills a reserved slot with `ptr`'s record, counted in `filter`: the data first,
/// then the key, so a reader that sees the key sees the data.
fn fill(key: &AtomicUsize, data: &Data, filter: &Filter, ptr: usize, rec: &Record) {
    data.store(rec);
    filter.inc(ptr);
    key.store(ptr, Ordering::Release);
    count(rec, true);
}

/// A claimed stash slot: held across a `realloc` of a shifted block, then either
/// given back or filled by [`insert_claimed`].
#[must_use]
pub(crate) struct Claim(usize);

/// Claims a stash slot, `None` when all [`STASH`] are claimed.
pub(crate) fn claim() -> Option<Claim> {
    let idx = STASH_KEYS.iter().position(reserve)?;
    STASH_CLAIMED.fetch_add(1, Ordering::Relaxed);
    Some(Claim(idx))
}

/// Gives back a claimed, unfilled slot.
pub(crate) fn release(claim: Claim) {
    STASH_KEYS[claim.0].store(0, Ordering::Release);
    STASH_CLAIMED.fetch_sub(1, Ordering::Relaxed);
}

/// Records `ptr` like [`insert`], but over the cap too and, when its window is full,
/// in the claimed slot: it cannot fail. The slot is given back when not needed.
pub(crate) fn insert_claimed(filter: &Filter, ptr: *mut u8, rec: &Record, claim: Claim) {
    let ptr = ptr as usize;
    if insert_in_window(filter, ptr, rec) {
        release(claim);
        return;
    }
    fill(&STASH_KEYS[claim.0], &STASH_DATA[claim.0], filter, ptr, rec);
}

/// Removes `ptr` if it is a live sample counted in `filter` and returns its record.
/// Only the owner of a block frees it, so a found key cannot be removed by anyone else
/// meanwhile.
pub(crate) fn remove(filter: &Filter, ptr: *mut u8) -> Option<Record> {
    let ptr = ptr as usize;
    let rec = match window(ptr).find_map(|idx| take(&KEYS.0[idx], &DATA[idx], ptr)) {
        Some(rec) => rec,
        None => {
            let rec =
                stash_slots().find_map(|idx| take(&STASH_KEYS[idx], &STASH_DATA[idx], ptr))?;
            STASH_CLAIMED.fetch_sub(1, Ordering::Relaxed);
            rec
        }
    };
    filter.dec(ptr);
    count(&rec, false);
    Some(rec)
}

/// Empties the slot `key` if it holds `ptr`, and returns its record.
fn take(key: &AtomicUsize, data: &Data, ptr: usize) -> Option<Record> {
    if key.load(Ordering::Acquire) != ptr {
        return None;
    }
    let rec = data.load();
    key.compare_exchange(ptr, 0, Ordering::AcqRel, Ordering::Relaxed)
        .ok()?;
    Some(rec)
}

/// The stash's slot indices, none while no slot is claimed.
fn stash_slots() -> std::ops::Range<usize> {
    if STASH_CLAIMED.load(Ordering::Relaxed) == 0 {
        0..0
    } else {
        0..STASH
    }
}

/// True when `ptr` is recorded (a read-only scan of its window, and of the stash while
/// a slot is claimed). Only the owner of a block frees it, so the answer stays true
/// until the owner removes it.
pub(crate) fn contains(ptr: *mut u8) -> bool {
    let ptr = ptr as usize;
    window(ptr).any(|idx| KEYS.0[idx].load(Ordering::Acquire) == ptr)
        || stash_slots().any(|idx| STASH_KEYS[idx].load(Ordering::Acquire) == ptr)
}

/// Number of records, samples and carried.
fn records() -> u64 {
    let removed = REMOVED.load(Ordering::Relaxed);
    INSERTED.load(Ordering::Relaxed).saturating_sub(removed)
}

/// Number of live samples recorded.
pub(crate) fn live() -> u64 {
    records().saturating_sub(carried())
}

/// Number of carried records.
pub(crate) fn carried() -> u64 {
    let out = CARRIED_OUT.load(Ordering::Relaxed);
    CARRIED_IN.load(Ordering::Relaxed).saturating_sub(out)
}

/// Sample records removed since the start (frees and reallocs of sampled blocks).
pub(crate) fn removed() -> u64 {
    let carried_out = CARRIED_OUT.load(Ordering::Relaxed);
    REMOVED.load(Ordering::Relaxed).saturating_sub(carried_out)
}

/// Calls `f` with every live sample's record (a racy but consistent-per-record view: a
/// record whose key changed while it was read is skipped); carried records are not
/// samples and are left out.
pub(crate) fn for_each_live(mut f: impl FnMut(usize, Record)) {
    let slots = KEYS.0.iter().zip(&DATA);
    for (key, data) in slots.chain(STASH_KEYS.iter().zip(&STASH_DATA)) {
        let k = key.load(Ordering::Acquire);
        if k <= BUSY {
            continue;
        }
        let rec = data.load();
        if key.load(Ordering::Acquire) == k && !rec.is_carried() {
            f(k, rec);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Addresses that cannot collide with real heap pointers of the test process
    /// (the table is process-global and the test binary's allocator is `System`).
    pub(crate) fn fake(i: usize) -> *mut u8 {
        (0x7F00_0000_0000usize + (i << 4)) as *mut u8
    }

    /// The filter of these tests, as an `Allocator` value would hold it.
    static F: Filter = Filter::new();

    /// The table is process-global: table tests run one at a time.
    pub(crate) static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn rec(n: u64) -> Record {
        Record {
            size: n,
            bucket: 3,
            est_count: 1,
            est_bytes: n,
        }
    }

    #[test]
    fn insert_lookup_remove() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let p = fake(1);
        assert!(!F.maybe_sampled(p) || remove(&F, p).is_none());
        assert!(insert(&F, p, &rec(100)));
        assert!(F.maybe_sampled(p));
        let mut seen = false;
        for_each_live(|k, r| seen |= k == p as usize && r.size == 100);
        assert!(seen);
        assert_eq!(remove(&F, p), Some(rec(100)));
        assert_eq!(remove(&F, p), None, "second free is not a sample");
        assert!(!F.maybe_sampled(p), "filter counter back to zero");
    }

    /// `WINDOW + extra` fake pointers sharing one home window (from `fake(from)` on),
    /// the first `WINDOW` of them inserted: the window is full.
    fn full_window(from: usize, extra: usize) -> Vec<*mut u8> {
        let target = home(fake(from) as usize);
        let ptrs: Vec<*mut u8> = (from..from + 200_000_000)
            .map(fake)
            .filter(|p| home(*p as usize) == target)
            .take(WINDOW + extra)
            .collect();
        assert_eq!(ptrs.len(), WINDOW + extra);
        for p in &ptrs[..WINDOW] {
            assert!(insert(&F, *p, &rec(1)));
        }
        ptrs
    }

    #[test]
    fn window_full_drops_then_frees_reuse() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let ptrs = full_window(1_000_000, 1);
        assert!(!insert(&F, ptrs[WINDOW], &rec(1)), "window full: dropped");
        assert!(remove(&F, ptrs[WINDOW]).is_none());
        assert!(remove(&F, ptrs[3]).is_some());
        assert!(insert(&F, ptrs[WINDOW], &rec(2)), "a freed slot is reused");
        assert_eq!(remove(&F, ptrs[WINDOW]).map(|r| r.size), Some(2));
        for p in ptrs[..WINDOW].iter().filter(|p| **p != ptrs[3]) {
            assert!(remove(&F, *p).is_some());
        }
    }

    #[test]
    fn filter_saturates_and_stays_sticky() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // All pointers of one filter counter.
        let idx = filter_index(fake(77) as usize);
        let ptrs: Vec<*mut u8> = (0..200_000_000)
            .map(fake)
            .filter(|p| filter_index(*p as usize) == idx)
            .take(300)
            .collect();
        assert_eq!(ptrs.len(), 300);
        let mut inserted = Vec::new();
        for p in &ptrs {
            if insert(&F, *p, &rec(1)) {
                inserted.push(*p);
            }
        }
        assert!(inserted.len() > 255, "only {} inserted", inserted.len());
        for p in &inserted {
            assert!(remove(&F, *p).is_some());
        }
        // Saturated: stays "maybe" (correct, just slower), never a false "no".
        assert!(F.maybe_sampled(ptrs[0]));
    }

    #[test]
    fn a_claimed_stash_slot_takes_the_record_a_full_window_refuses() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let ptrs = full_window(60_000_000, 2);
        let (sample, carried) = (ptrs[WINDOW], ptrs[WINDOW + 1]);
        assert!(!insert(&F, sample, &rec(5)), "window full");
        let (live_before, carried_before) = (live(), super::carried());
        insert_claimed(&F, sample, &rec(5), claim().expect("a free slot"));
        insert_claimed(
            &F,
            carried,
            &Record::carried(7),
            claim().expect("a free slot"),
        );
        assert!(contains(sample) && contains(carried));
        assert_eq!(
            (live(), super::carried()),
            (live_before + 1, carried_before + 1)
        );
        let mut seen = Vec::new();
        for_each_live(|k, r| {
            if k == sample as usize || k == carried as usize {
                seen.push(r.size);
            }
        });
        assert_eq!(
            seen,
            [5],
            "samples in the stash are listed, carried blocks are not"
        );
        assert_eq!(remove(&F, carried), Some(Record::carried(7)));
        assert_eq!(remove(&F, sample), Some(rec(5)));
        assert!(!contains(sample) && !contains(carried));
        assert_eq!((live(), super::carried()), (live_before, carried_before));
        // A claim not needed (room in the window) is given back; all STASH can be
        // claimed, then none.
        assert!(remove(&F, ptrs[0]).is_some());
        insert_claimed(&F, ptrs[0], &rec(1), claim().expect("a free slot"));
        assert_eq!(STASH_CLAIMED.load(Ordering::Relaxed), 0);
        let claims: Vec<Claim> = (0..STASH).map_while(|_| claim()).collect();
        assert_eq!(claims.len(), STASH);
        assert!(claim().is_none(), "all claimed");
        claims.into_iter().for_each(release);
        assert_eq!(STASH_CLAIMED.load(Ordering::Relaxed), 0);
        for p in &ptrs[..WINDOW] {
            assert!(remove(&F, *p).is_some());
        }
    }

    #[test]
    fn live_cap_is_enforced() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let base = live();
        let mut inserted = Vec::new();
        let mut i = 300_000_000;
        while live() < MAX_LIVE {
            if insert(&F, fake(i), &rec(1)) {
                inserted.push(fake(i));
            }
            i += 1;
        }
        assert_eq!(inserted.len() as u64, MAX_LIVE - base);
        for j in 0..1000 {
            assert!(!insert(&F, fake(i + j), &rec(1)), "cap reached: must drop");
        }
        assert_eq!(live(), MAX_LIVE);
        for p in &inserted {
            assert!(remove(&F, *p).is_some());
        }
        assert_eq!(live(), base);
    }
}
