//! The sampling allocator: [`Allocator`] wraps any [`GlobalAlloc`] and samples the
//! allocations that go through it the way Go's runtime does, so holmes can write a
//! heap profile (`alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`) and
//! catch a heap spike at its peak.
//!
//! ```
//! #[global_allocator]
//! static ALLOC: holmes_runtime::alloc::Allocator = holmes_runtime::alloc::Allocator::system();
//!
//! fn main() {
//!     let v = vec![0u8; 1 << 20];
//!     let stats = holmes_runtime::alloc::stats();
//!     assert!(stats.installed);
//!     drop(v);
//! }
//! ```
//!
//! To profile another allocator, wrap it (the same works for `mimalloc::MiMalloc`):
//!
//! ```text
//! #[global_allocator]
//! static ALLOC: holmes::Allocator<tikv_jemallocator::Jemalloc> =
//!     holmes::Allocator::new(tikv_jemallocator::Jemalloc);
//! ```
//!
//! # Sampling
//! As in Go: every thread keeps a byte countdown drawn from an exponential distribution
//! with mean [`sample_rate`] (default 512 KiB, [`set_sample_rate`]). Each allocation
//! subtracts its size; the allocation that takes the countdown to zero is sampled and a
//! new countdown is drawn. An allocation of `size` bytes is then sampled with
//! probability `1 − e^(−size/rate)`, and each sample is weighted by the inverse of that
//! probability (Go's unbiasing) when estimates and profiles are computed. A sample
//! records the size and the frame-pointer stack of the allocating thread; the free (or
//! `realloc`) of a sampled block is matched, so `inuse_*` is what is still live.
//! `realloc` counts as a free of the old block and an allocation of the new size.
//! A sampled block may be placed a few bytes into the wrapped allocator's block (see
//! below); the caller never sees a difference.
//!
//! # Hot path rules
//! This module runs inside every allocation of the process, in any thread, including
//! threads being torn down. Like pprof-rs's "Signal Safety" section, these are the
//! rules it keeps, and why:
//!
//! - **Common allocation** = one subtraction from a thread-local countdown and a sign
//!   test. The thread-locals are const-initialised `Cell`s without destructors:
//!   accessing them never allocates and never registers a TLS destructor; if TLS is
//!   unavailable the allocation is simply not sampled.
//! - **Common free** of a block of alignment at most 8 (nearly every block a Rust
//!   program frees) = a few register operations on the arguments, no memory access:
//!   such blocks are *shifted* when sampled, placed 8 bytes into a
//!   16-aligned block of the wrapped allocator, so bit 3 of a sample's address is
//!   set, while glibc, musl (64-bit) and jemalloc (above 8 bytes) hand out 16-aligned
//!   blocks. A clear bit 3 settles it: not a sample. A set bit 3 (a sample, or a block
//!   of a wrapped allocator that aligns to 8 only), and every other block, ask a 64 KiB
//!   counting filter: one relaxed byte load (one counter per 64 bytes of address
//!   space, neighbouring blocks on neighbouring counters); zero means "not sampled" —
//!   no shared write, no lock, no global counter. That ask is out of line: the
//!   inlined free is two tests and a jump to the wrapped allocator, small enough not
//!   to change what the compiler inlines around it, and its slow function takes
//!   `__rust_dealloc`'s arguments in the same registers. The
//!   filter is a field of the [`Allocator`] value (see `table::Filter`). Only when
//!   the counter is non-zero (a sampled block, a neighbour of one, or a block
//!   sharing the counter with a live sample: with `n` live samples, about
//!   `n / 65536` of such frees) are the 16 keys of its window in the live table
//!   scanned read-only; only a sampled free writes (one CAS to clear its key, counter
//!   updates). A shifted sample is freed at its real address with its real layout.
//!
//!   A shifted block stays shifted: its `realloc` goes to the wrapped allocator, shift
//!   and all, and when the new block is not sampled it is recorded as *carried*,
//!   weightless, so that its free still finds it (a stash slot is claimed before the
//!   block moves, so the record cannot fail). Only a plain block sampled on `realloc` is
//!   copied into a sample's place, at most `copy_limit` bytes (4 sample rates, at least
//!   1 MiB). Why this design, and what the alternatives measured: `docs/allocator.md`.
//! - **Sampling path** (once per ~512 KiB per thread): walks frame pointers
//!   ([`crate::stack::capture_current`], allocation-free), then updates fixed tables in
//!   `static`s with atomics. It never calls the global allocator, takes no lock (so no
//!   thread can hold anything another allocating thread waits for), and a thread-local
//!   re-entrancy guard makes any nested allocation bypass sampling.
//! - **Bounded memory**: at most [`MAX_LIVE`] (64 Ki) live samples and
//!   [`MAX_BUCKETS`] (16 Ki) distinct stacks, in ~14 MiB of zero-initialised address
//!   space of which only touched pages become resident. A sample that finds no room is
//!   counted ([`HeapStats::dropped_samples`], [`HeapStats::dropped_stacks`]).
//! - **Peak trigger**: a relaxed load on the sampling path; firing is one CAS and a
//!   futex wake (see [`set_trigger`]).
//!
//! Everything that may allocate or block — copying the tables (`snapshot`),
//! symbolizing, encoding — runs on holmes threads, never inside the allocator.
//!
//! # Platforms
//! Stacks are captured on Linux x86_64 and aarch64 (DWARF call-frame information, or
//! frame pointers where the build forces them: see [`crate::stack`]). Elsewhere the allocator compiles and samples, but
//! stacks are empty, so profiles have sizes without call sites.
//!
//! Rate changes take effect at once in the thread that calls [`set_sample_rate`] and in
//! threads started later; other threads switch at their next sample point (after, on
//! average, the old rate's worth of bytes).

mod buckets;
mod sampler;
pub(crate) use sampler::ExcludedScope;
mod snapshot;
mod table;
mod trigger;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::stack::{self, Stack};

pub use buckets::MAX_BUCKETS;
pub use sampler::{weight, DEFAULT_SAMPLE_RATE};
pub use snapshot::{snapshot, snapshot_peak, HeapEntry, HeapSnapshot};
pub use table::MAX_LIVE;
pub use trigger::DISARMED;

/// Sum of the unbiased byte estimates of the live samples.
static LIVE_EST: AtomicU64 = AtomicU64::new(0);
static TOTAL_SAMPLED: AtomicU64 = AtomicU64::new(0);
static DROPPED_SAMPLES: AtomicU64 = AtomicU64::new(0);

/// A [`GlobalAlloc`] that forwards to `A` and samples allocations for heap profiles.
///
/// See the [module documentation](self) for how sampling works and what it costs.
///
/// ```
/// use holmes_runtime::alloc::Allocator;
///
/// #[global_allocator]
/// static ALLOC: Allocator = Allocator::system();
/// # fn main() {}
/// ```
///
/// Wrapping another allocator (here shown as text; any `GlobalAlloc` works):
///
/// ```text
/// #[global_allocator]
/// static ALLOC: Allocator<mimalloc::MiMalloc> = Allocator::new(mimalloc::MiMalloc);
/// ```
///
/// The value holds the 64 KiB filter of the free path (zero-initialised: in a
/// `static` it takes no space in the binary and only touched pages become resident),
/// so it belongs in a `static`.
pub struct Allocator<A: GlobalAlloc = System> {
    inner: A,
    filter: table::Filter,
}

impl Allocator<System> {
    /// The wrapper around the system allocator (`malloc`/`free`).
    pub const fn system() -> Allocator<System> {
        Allocator::new(System)
    }
}

impl<A: GlobalAlloc + Default> Default for Allocator<A> {
    fn default() -> Self {
        Allocator::new(A::default())
    }
}

impl<A: GlobalAlloc + std::fmt::Debug> std::fmt::Debug for Allocator<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allocator")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<A: GlobalAlloc> Allocator<A> {
    /// A sampling wrapper around `inner`.
    ///
    /// ```
    /// use std::alloc::System;
    /// use holmes_runtime::alloc::Allocator;
    ///
    /// #[global_allocator]
    /// static ALLOC: Allocator<System> = Allocator::new(System);
    /// # fn main() {}
    /// ```
    pub const fn new(inner: A) -> Allocator<A> {
        Allocator {
            inner,
            filter: table::Filter::new(),
        }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }

    #[cold]
    #[inline(never)]
    unsafe fn alloc_slow(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { self.alloc_rated(layout, zeroed, sampler::expired(layout.size())) }
    }

    /// Allocates a block for `layout`, recorded as a sample when `rate` says so and
    /// there is room for it, else plain.
    ///
    /// # Safety
    /// `layout` has a non-zero size.
    #[inline]
    unsafe fn alloc_rated(&self, layout: Layout, zeroed: bool, rate: Option<u64>) -> *mut u8 {
        if let Some(rate) = rate {
            // SAFETY: forwarded from our caller's contract.
            if let Some(p) = unsafe { self.alloc_sampled(layout, zeroed, rate) } {
                return p;
            }
        }
        // SAFETY: forwarded from our caller's contract.
        unsafe { self.alloc_plain(layout, zeroed) }
    }

    /// # Safety
    /// `layout` has a non-zero size.
    #[inline]
    unsafe fn alloc_plain(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: forwarded from our caller's contract.
        unsafe {
            if zeroed {
                self.inner.alloc_zeroed(layout)
            } else {
                self.inner.alloc(layout)
            }
        }
    }

    /// Allocates a block for `layout` and records it as a sample: shifted when the
    /// layout is shiftable. `None` when it cannot be recorded as a shifted block (the
    /// table is full, or the larger block could not be had); nothing is allocated then
    /// and the caller allocates a plain block.
    ///
    /// # Safety
    /// `layout` has a non-zero size.
    #[inline(never)]
    unsafe fn alloc_sampled(&self, layout: Layout, zeroed: bool, rate: u64) -> Option<*mut u8> {
        if !shiftable(layout) {
            // SAFETY: forwarded from our caller's contract.
            let p = unsafe { self.alloc_plain(layout, zeroed) };
            // A record that finds no room leaves an ordinary block: simply not sampled.
            record(&self.filter, p, layout.size(), rate);
            return Some(p);
        }
        let Some(outer) = shifted_layout(layout) else {
            // Too big to be had anyway.
            return None;
        };
        // SAFETY: `outer` has a non-zero size.
        let base = unsafe { self.alloc_plain(outer, zeroed) };
        if base.is_null() {
            return None;
        }
        // SAFETY: `outer` is `SHIFT` bytes longer than `layout`.
        let p = unsafe { base.add(SHIFT) };
        if record(&self.filter, p, layout.size(), rate) {
            return Some(p);
        }
        // Unrecorded, its free would go to the wrong address: give it back.
        // SAFETY: allocated just above with `outer`.
        unsafe { self.inner.dealloc(base, outer) };
        None
    }

    #[cold]
    #[inline(never)]
    unsafe fn realloc_slow(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        expired: bool,
    ) -> *mut u8 {
        let rate = if expired {
            sampler::expired(new_size)
        } else {
            None
        };
        // SAFETY: the caller guarantees that `new_size`, rounded up to the alignment,
        // does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !shiftable(layout) {
            // Over-aligned: samples stay where the wrapped allocator put them, and it
            // moves the block (in place when it can, by remapping big ones). Remove the
            // old sample before the block can move and its address be reused.
            let old = if self.filter.maybe_sampled(ptr) {
                free_slow(&self.filter, ptr)
            } else {
                None
            };
            // SAFETY: forwarded unchanged from our caller's contract.
            let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if p.is_null() {
                // The old block is still live: put its sample back.
                if let Some(rec) = old {
                    restore(&self.filter, ptr, &rec, None);
                }
                return p;
            }
            if let Some(rate) = rate {
                record(&self.filter, p, new_size, rate);
            }
            return p;
        }
        let shifted =
            ptr as usize & SHIFT != 0 && self.filter.maybe_sampled(ptr) && table::contains(ptr);
        if shifted {
            if let Some(claim) = table::claim() {
                // SAFETY: forwarded from our caller's contract; `ptr` is shifted.
                return unsafe { self.realloc_shifted(ptr, layout, new_layout, rate, claim) };
            }
        } else if rate.is_none() || layout.size() > copy_limit() {
            // A plain block that stays plain. (One sampled now but bigger than the
            // copy limit stays plain too: its sample is only in the allocation
            // profile, see `copy_limit`.)
            // SAFETY: forwarded unchanged from our caller's contract.
            let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if let (Some(rate), false) = (rate, p.is_null()) {
                record_dropped(new_size, rate);
            }
            return p;
        }
        // Into a shifted block (a plain block sampled now), or out of one when no
        // stash slot could be claimed: a new block, a copy, then the old block is
        // freed. If the new block cannot be had, the old one is untouched and still
        // recorded.
        // SAFETY: `new_layout` has a non-zero size (our caller's contract).
        let p = unsafe { self.alloc_rated(new_layout, false, rate) };
        if p.is_null() {
            return p;
        }
        // SAFETY: both blocks hold at least the bytes copied and are distinct; `ptr`
        // was allocated with `layout`, and is freed once, here.
        unsafe {
            std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
            self.dealloc_sampled(ptr, layout);
        }
        p
    }

    /// Reallocates a shifted block (a sample, or a carried block that was one) by the
    /// wrapped allocator, shift and all, so it grows in place or is remapped as any
    /// block would be, and records the moved block: as a sample when `rate` says so,
    /// else as carried. `claim` guarantees the record a slot.
    ///
    /// # Safety
    /// `GlobalAlloc::realloc`'s for `ptr` (recorded, shifted), `layout` and
    /// `new_layout.size()`; `new_layout` has `layout`'s alignment.
    unsafe fn realloc_shifted(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_layout: Layout,
        rate: Option<u64>,
        claim: table::Claim,
    ) -> *mut u8 {
        let (Some(outer), Some(new_outer)) = (shifted_layout(layout), shifted_layout(new_layout))
        else {
            // Too big to be shifted: fails as the wrapped allocator would have.
            table::release(claim);
            return std::ptr::null_mut();
        };
        // Removed before the block can move and its address be reused.
        let old = free_slow(&self.filter, ptr);
        // SAFETY: a shifted block was allocated at `ptr - SHIFT` with `outer`;
        // `new_outer` is a valid layout of the same alignment.
        let base = unsafe { self.inner.realloc(ptr.sub(SHIFT), outer, new_outer.size()) };
        if base.is_null() {
            // The old block is still live: put its record back.
            match old {
                Some(rec) => restore(&self.filter, ptr, &rec, Some(claim)),
                None => table::release(claim),
            }
            return base;
        }
        // SAFETY: `new_outer` is `SHIFT` bytes longer than `new_layout`.
        let p = unsafe { base.add(SHIFT) };
        let size = new_layout.size();
        if rate.is_some_and(|rate| record(&self.filter, p, size, rate)) {
            table::release(claim);
        } else {
            table::insert_claimed(&self.filter, p, &table::Record::carried(size as u64), claim);
        }
        p
    }

    /// The free path of a block that [`surely_plain`] could not clear: the filter
    /// decides. Its arguments are `__rust_dealloc`'s, in the same registers (the
    /// allocator last), so the inlined fast path jumps here without moving any: with
    /// `(&self, ptr, layout)` the moves were made on every free, slow or not.
    ///
    /// # Safety
    /// `GlobalAlloc::dealloc`'s, for `ptr` and the layout of `size` and `align`.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_slow(ptr: *mut u8, size: usize, align: usize, this: &Self) {
        // SAFETY: the layout `ptr` was allocated with; forwarded from our caller.
        unsafe {
            let layout = Layout::from_size_align_unchecked(size, align);
            if this.filter.maybe_sampled(ptr) {
                this.dealloc_sampled(ptr, layout);
            } else {
                this.inner.dealloc(ptr, layout);
            }
        }
    }

    /// Frees a block that may be a sample.
    ///
    /// # Safety
    /// `GlobalAlloc::dealloc`'s.
    #[inline]
    unsafe fn dealloc_sampled(&self, ptr: *mut u8, layout: Layout) {
        // The sample (if any) is removed first, so the address can be reused by another
        // thread at once. A recorded block of a shiftable layout is a shifted one.
        // SAFETY: forwarded from our caller's contract, with the address and layout
        // the wrapped allocator handed out.
        unsafe {
            match (free_slow(&self.filter, ptr), shifted_layout(layout)) {
                (Some(_), Some(outer)) => self.inner.dealloc(ptr.sub(SHIFT), outer),
                _ => self.inner.dealloc(ptr, layout),
            }
        }
    }
}

/// How far into its block a shifted sample starts: bit 3 of its address is set.
const SHIFT: usize = 8;

/// Whether the samples of `layout` are shifted: alignment at most 8 (an address 8
/// bytes into a 16-aligned block is still aligned for it).
#[inline(always)]
fn shiftable(layout: Layout) -> bool {
    layout.align() <= SHIFT
}

/// The wrapped allocator's layout of a shifted block of `layout`; `None` when the
/// layout is not shiftable or too big to be shifted (within 16 bytes of `isize::MAX`).
#[inline]
fn shifted_layout(layout: Layout) -> Option<Layout> {
    if !shiftable(layout) {
        return None;
    }
    Layout::from_size_align(layout.size().checked_add(SHIFT)?, 2 * SHIFT).ok()
}

/// The largest plain block a `realloc` copies to make its new block a (shifted)
/// sample: 4 times the sample rate, at least 1 MiB. A bigger plain block sampled on
/// `realloc` stays plain and its sample is only in the allocation profile, counted as
/// dropped. That is rare (a block sampled with probability `1 − e^(−size/rate)` at
/// every size it grew through has to reach 4 rates unsampled: about 1 in 3 000), and
/// the copy (and the moment of both blocks in memory) would grow with the block.
fn copy_limit() -> usize {
    let limit = sample_rate().saturating_mul(4).max(1 << 20);
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// Records a sampled allocation of `size` bytes at `p`, counted in `filter`.
/// False when it is not recorded as live (the caller keeps or gives back the block).
#[inline(never)]
fn record(filter: &table::Filter, p: *mut u8, size: usize, rate: u64) -> bool {
    if p.is_null() || size == 0 {
        // A failed allocation holds nothing; a zero-size block holds no memory and an
        // allocator may hand the same address out several times.
        return false;
    }
    sampler::guarded(|| {
        let rec = charge(size, rate);
        if table::insert(filter, p, &rec) {
            let live = LIVE_EST.fetch_add(rec.est_bytes, Ordering::Relaxed) + rec.est_bytes;
            trigger::check(live);
            true
        } else {
            DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
            false
        }
    })
}

/// A sample of `size` bytes whose block cannot be recorded as live (a plain block
/// beyond the copy limit): in the allocation profile, and counted as dropped.
#[cold]
#[inline(never)]
fn record_dropped(size: usize, rate: u64) {
    sampler::guarded(|| {
        charge(size, rate);
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
    });
}

/// Charges a sample of `size` bytes (non-zero) to the allocation profile, its stack's
/// bucket and the sample count, and returns its live record (not inserted yet). Runs
/// inside `sampler::guarded`.
#[inline(always)]
fn charge(size: usize, rate: u64) -> table::Record {
    let mut st = Stack::empty();
    // The frames of the allocation path (this function included) are trimmed by name
    // when the profile is written, not here: cheaper on this path.
    stack::capture_current(&mut st);
    let size = size as u64;
    let w = weight(size, rate);
    // + 0.5 and truncate: rounds (positive values) without a libm call.
    let est_count = (w * sampler::COUNT_ONE as f64 + 0.5) as u64;
    let est_bytes = (w * size as f64 + 0.5) as u64;
    let bucket = buckets::find_or_insert(&st);
    buckets::add(bucket, est_count, est_bytes);
    TOTAL_SAMPLED.fetch_add(1, Ordering::Relaxed);
    table::Record {
        size,
        bucket,
        est_count,
        est_bytes,
    }
}

/// Puts back the record of a block whose `realloc` failed.
/// With a claimed stash slot it cannot fail (a shifted block must stay recorded);
/// without one a record that finds no room is a dropped sample.
fn restore(filter: &table::Filter, p: *mut u8, rec: &table::Record, claim: Option<table::Claim>) {
    let recorded = match claim {
        Some(claim) => {
            table::insert_claimed(filter, p, rec, claim);
            true
        }
        None => table::insert(filter, p, rec),
    };
    if recorded {
        LIVE_EST.fetch_add(rec.est_bytes, Ordering::Relaxed);
    } else {
        DROPPED_SAMPLES.fetch_add(1, Ordering::Relaxed);
    }
}

/// A block whose filter counter is non-zero is being freed: removes its sample if it
/// is one.
#[cold]
#[inline(never)]
fn free_slow(filter: &table::Filter, p: *mut u8) -> Option<table::Record> {
    let rec = table::remove(filter, p)?;
    LIVE_EST.fetch_sub(rec.est_bytes, Ordering::Relaxed);
    Some(rec)
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged and
// returns its result unchanged; the bookkeeping around it never touches the block.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Allocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if sampler::take(layout.size()) {
            // SAFETY: same contract as ours.
            return unsafe { self.alloc_slow(layout, false) };
        }
        // SAFETY: same contract as ours.
        unsafe { self.inner.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if sampler::take(layout.size()) {
            // SAFETY: same contract as ours.
            return unsafe { self.alloc_slow(layout, true) };
        }
        // SAFETY: same contract as ours.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    // The slow paths are tail calls that take the original arguments, so the fast
    // paths keep nothing alive across a call: no frame beyond the frame pointer, no
    // saved registers, and the wrapped allocator is reached by a jump.
    //
    // Free and realloc clear the common block with `surely_plain` (two tests, no
    // memory access) and reach their slow function through one call: with a call per
    // failed test a `String` pair's drop was no longer inlined into `HashMap`'s drop
    // loop (+6 instructions per map entry). The filter's load stays out of line for
    // the same reason.

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if surely_plain(ptr, layout) {
            // SAFETY: same contract as ours.
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        // SAFETY: same contract as ours.
        unsafe { Self::dealloc_slow(ptr, layout.size(), layout.align(), self) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The countdown first, so its subtraction's flags feed the branch.
        if sampler::take(new_size) {
            // SAFETY: same contract as ours.
            return unsafe { self.realloc_slow(ptr, layout, new_size, true) };
        }
        if surely_plain(ptr, layout) {
            // SAFETY: same contract as ours.
            return unsafe { self.inner.realloc(ptr, layout, new_size) };
        }
        // SAFETY: same contract as ours.
        unsafe { self.realloc_slow(ptr, layout, new_size, false) }
    }
}

/// The free and realloc fast paths' test: true when `ptr`, allocated with `layout`,
/// is certainly not recorded. A shiftable layout's recorded blocks are shifted, so a
/// clear bit 3 settles it without a load: the wrapped allocator's own blocks have it
/// clear when it aligns them to 16 (glibc and musl on 64-bit targets, jemalloc above 8
/// bytes). A set bit 3 (a sample, or a block of an allocator that aligns to 8 only) and
/// an alignment above 8 (never shifted) are decided out of line, by the filter.
///
/// Bit 3 first, then the alignment, each failure marked cold, with `branch_barrier`
/// between: without it LLVM merged the two into one condition, ordered the bit test
/// last and computed it with `mov; and` instead of `test` (or with `setcc`), one or two
/// instructions more per call.
#[inline(always)]
fn surely_plain(ptr: *mut u8, layout: Layout) -> bool {
    if ptr as usize & SHIFT != 0 {
        cold_path();
        return false;
    }
    branch_barrier();
    if !shiftable(layout) {
        cold_path();
        return false;
    }
    true
}

/// Marks the branch it is called in as unlikely: `std::hint::cold_path`, which is
/// stable only since Rust 1.95, written the way it can be on the compilers this crate
/// supports (a call to an empty `#[cold]` function).
#[cold]
#[inline(always)]
fn cold_path() {}

/// Emits nothing, but LLVM keeps it where it is, so the branch before it cannot be
/// folded into the one after it (an empty `asm!` block; `nomem`: it orders no memory
/// accesses, so loads and stores around it are still optimised). Other targets, and
/// Miri (which runs no inline assembly), do without it.
#[inline(always)]
fn branch_barrier() {
    #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
    // SAFETY: an empty instruction sequence that touches no memory, stack or flags.
    unsafe {
        std::arch::asm!("", options(nomem, nostack, preserves_flags));
    }
}

/// Sets the mean number of bytes between samples: 0 turns sampling off, 1 samples
/// every allocation (tests), the default is [`DEFAULT_SAMPLE_RATE`] (512 KiB, Go's).
///
/// Takes effect at once in the calling thread and in threads started later; other
/// threads switch at their next sample point.
///
/// Also picks the stack walker as `start()` would with `stack_walk = "auto"` if none was
/// picked yet (the allocator used without a running holmes): otherwise samples would be
/// walked by frame pointers, cut short in a build without them.
pub fn set_sample_rate(bytes: u64) {
    crate::stack::ensure_chosen();
    sampler::SAMPLE_RATE.store(bytes, Ordering::Relaxed);
    sampler::reset_current_thread();
}

/// Never samples the calling thread's allocations again. holmes calls it on its own
/// threads, so that its symbol cache and buffers do not count in the `heap` rule nor
/// show in heap profiles. Costs nothing on the allocation path (it is checked only when
/// the countdown runs out).
pub fn exclude_current_thread() {
    sampler::exclude_current_thread();
}

/// The current mean number of bytes between samples (0 = off).
pub fn sample_rate() -> u64 {
    sampler::SAMPLE_RATE.load(Ordering::Relaxed)
}

/// Ends the heap watcher's [`wait_trigger`] at once, so that it sees a shutdown.
pub(crate) fn poke_trigger_waiter() {
    trigger::poke();
}

/// Disarms the peak trigger in the child of a `fork()` (see `crate::fork`).
pub(crate) fn disarm_trigger_after_fork() {
    trigger::arm(DISARMED);
}

/// Arms the one-shot peak trigger: the first sampled allocation after which the
/// unbiased live-heap estimate exceeds `threshold_bytes` disarms it and wakes the
/// thread blocked in [`wait_trigger`]. [`DISARMED`] (`u64::MAX`) disarms it. Arming
/// clears a fire that was not consumed yet.
pub fn set_trigger(threshold_bytes: u64) {
    trigger::arm(threshold_bytes);
}

/// Blocks the calling (holmes) thread until the trigger fires or `timeout` passes.
/// Returns the live-heap estimate at the moment it fired. The allocating thread that
/// fires it only does a CAS and a futex wake; it never waits for this thread.
pub fn wait_trigger(timeout: Duration) -> Option<u64> {
    trigger::wait(timeout)
}

/// Counters of the sampling allocator (all process-wide).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapStats {
    /// True once an allocation went through [`Allocator`]: false means it is not the
    /// global allocator and heap profiles would be empty.
    pub installed: bool,
    /// Mean bytes between samples (0 = off).
    pub sample_rate: u64,
    /// Unbiased estimate of the live heap, from the live samples.
    pub live_bytes_estimate: u64,
    /// Samples currently live (at most about [`MAX_LIVE`]: a soft cap).
    pub live_samples: u64,
    /// Allocations sampled since the start.
    pub total_sampled_allocs: u64,
    /// Frees (and reallocs) of sampled blocks since the start.
    pub sampled_frees: u64,
    /// Samples not recorded as live because the live table was full (or, rarely, a
    /// plain block sampled on `realloc` was too big to move into a sample's place).
    pub dropped_samples: u64,
    /// Blocks that were samples and were reallocated without a new sample: still
    /// placed as samples are, so recorded (in the live table, weightless) until freed.
    pub carried_blocks: u64,
    /// Distinct stacks recorded (at most [`MAX_BUCKETS`]).
    pub stack_buckets: u64,
    /// Samples charged to the overflow bucket because the stack table was full.
    pub dropped_stacks: u64,
    /// The armed trigger threshold, [`DISARMED`] when none.
    pub trigger_threshold: u64,
}

/// The allocator's counters.
pub fn stats() -> HeapStats {
    HeapStats {
        installed: sampler::INSTALLED.load(Ordering::Relaxed),
        sample_rate: sample_rate(),
        live_bytes_estimate: LIVE_EST.load(Ordering::Relaxed),
        live_samples: table::live(),
        total_sampled_allocs: TOTAL_SAMPLED.load(Ordering::Relaxed),
        sampled_frees: table::removed(),
        dropped_samples: DROPPED_SAMPLES.load(Ordering::Relaxed),
        carried_blocks: table::carried(),
        stack_buckets: buckets::used(),
        dropped_stacks: buckets::dropped(),
        trigger_threshold: trigger::threshold(),
    }
}
