//! The slot pool the handlers write into, and the capture lock around it: the state
//! words' phases, the preallocated, leaked pools, and the reset after `fork()`.

use super::*;
pub(super) const IDLE: u64 = 0;
pub(super) const REQUESTED: u64 = 1;
pub(super) const WRITING: u64 = 2;
pub(super) const DONE: u64 = 3;
pub(super) const ABANDONED: u64 = 4;
pub(super) const PHASE_MASK: u64 = 0xff;

pub(super) fn word(gen: u32, phase: u64) -> u64 {
    (u64::from(gen) << 8) | phase
}

/// One thread's answer. Plain atomics, so no data race exists even when a late
/// handler and the capturer touch the same slot.
pub(super) struct Slot {
    pub(super) state: AtomicU64,
    pub(super) len: AtomicUsize,
    pub(super) ips: [AtomicUsize; MAX_FRAMES],
    pub(super) handler_ns: AtomicU64,
}

impl Slot {
    pub(super) fn new() -> Self {
        Slot {
            state: AtomicU64::new(IDLE),
            len: AtomicUsize::new(0),
            ips: [const { AtomicUsize::new(0) }; MAX_FRAMES],
            handler_ns: AtomicU64::new(0),
        }
    }
}

/// Preallocated storage shared with the handlers. Leaked: lives until the process ends.
pub(super) struct Pool {
    pub(super) slots: Box<[Slot]>,
    /// Readable mappings `[lo, hi)`, sorted by `lo`, valid for `maps_len` entries.
    pub(super) maps_lo: Box<[AtomicUsize]>,
    pub(super) maps_hi: Box<[AtomicUsize]>,
    /// Whether each mapping is executable (code).
    pub(super) maps_exec: Box<[AtomicBool]>,
    pub(super) maps_len: AtomicUsize,
    /// Answers still expected in the current capture; a futex word.
    pub(super) remaining: AtomicU32,
    /// Our process id, to ignore queued signals that someone else sent.
    pub(super) pid: AtomicI32,
}

impl Pool {
    pub(super) fn new(slots: usize, maps: usize) -> Self {
        Pool {
            slots: (0..slots).map(|_| Slot::new()).collect(),
            maps_lo: (0..maps).map(|_| AtomicUsize::new(0)).collect(),
            maps_hi: (0..maps).map(|_| AtomicUsize::new(0)).collect(),
            maps_exec: (0..maps).map(|_| AtomicBool::new(false)).collect(),
            maps_len: AtomicUsize::new(0),
            remaining: AtomicU32::new(0),
            pid: AtomicI32::new(0),
        }
    }

    /// Index of the snapshot mapping that contains `addr`. Allocation-free, lock-free.
    pub(super) fn find(&self, addr: usize) -> Option<usize> {
        let n = self
            .maps_len
            .load(Ordering::Relaxed)
            .min(self.maps_lo.len());
        // Binary search for the last mapping whose start is <= addr.
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.maps_lo[mid].load(Ordering::Relaxed) <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let i = lo.checked_sub(1)?;
        (addr < self.maps_hi[i].load(Ordering::Relaxed)).then_some(i)
    }

    /// `[start, end)` of mapping `i`.
    pub(super) fn range(&self, i: usize) -> (usize, usize) {
        (
            self.maps_lo[i].load(Ordering::Relaxed),
            self.maps_hi[i].load(Ordering::Relaxed),
        )
    }

    /// The executable mapping that contains `addr`.
    pub(super) fn code(&self, addr: usize) -> Option<usize> {
        self.find(addr)
            .filter(|&i| self.maps_exec[i].load(Ordering::Relaxed))
    }

    /// True when some handler is between its compare-exchange and its final store.
    pub(super) fn writing(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.state.load(Ordering::Acquire) & PHASE_MASK == WRITING)
    }

    /// Turns every request left over from an earlier capture (possible only if that
    /// capture unwound) into an abandoned one, so no late handler can enter.
    pub(super) fn abandon_leftovers(&self) {
        for s in self.slots.iter() {
            let cur = s.state.load(Ordering::Acquire);
            if cur & PHASE_MASK == REQUESTED {
                let _ = s.state.compare_exchange(
                    cur,
                    (cur & !PHASE_MASK) | ABANDONED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        }
    }
}

/// The pool the handler uses. Only ever replaced by a larger, fresh one; the old one
/// is leaked, never freed.
pub(super) static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

/// State owned by whoever holds the capture lock.
pub(super) struct Capturer {
    pub(super) pool: Option<&'static Pool>,
    pub(super) generation: u32,
    /// Pools abandoned because a handler never finished (bounded).
    pub(super) abandoned_pools: usize,
}

impl Capturer {
    pub(super) const fn new() -> Capturer {
        Capturer {
            pool: None,
            generation: 0,
            abandoned_pools: 0,
        }
    }
}

/// The process-wide capture lock and the state it guards. Not a `std` mutex: the child
/// of a `fork()` must be able to reset it (a parent thread may hold it at the fork, and
/// that thread does not exist in the child), see [`reset_after_fork`].
pub(super) struct CaptureLock {
    pub(super) held: AtomicBool,
    pub(super) state: UnsafeCell<Capturer>,
}

// SAFETY: `state` is only reached through a `Held`, which exists for one holder of
// `held` at a time (acquire/release), or in the single-threaded child of a fork.
unsafe impl Sync for CaptureLock {}

pub(super) static CAPTURER: CaptureLock = CaptureLock {
    held: AtomicBool::new(false),
    state: UnsafeCell::new(Capturer::new()),
};

/// Holding the capture lock; releases it on drop (also when a capture panics: the
/// state stays consistent, leftover requests are abandoned by the next capture).
pub(super) struct Held(pub(super) &'static CaptureLock);

impl std::ops::Deref for Held {
    type Target = Capturer;
    fn deref(&self) -> &Capturer {
        // SAFETY: this `Held` is the only holder of the lock.
        unsafe { &*self.0.state.get() }
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut Capturer {
        // SAFETY: this `Held` is the only holder of the lock.
        unsafe { &mut *self.0.state.get() }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.store(false, Ordering::Release);
    }
}

/// Resets the capture state in the child of a `fork()`: only the forking thread was
/// copied, so no capture runs and no handler of the parent's threads is writing. The
/// lock is freed and the next capture starts from a fresh pool (the parent's may hold
/// slots that its threads were writing at the fork); the old state is forgotten, not
/// dropped (a parent thread may have been changing it). Async-signal-safe: stores only.
pub(crate) fn reset_after_fork() {
    // SAFETY: the child of a fork runs this single-threaded (from the atfork handler),
    // so nothing else reaches the state; `write` does not drop the old value.
    unsafe { std::ptr::write(CAPTURER.state.get(), Capturer::new()) };
    CAPTURER.held.store(false, Ordering::Release);
    POOL.store(std::ptr::null_mut(), Ordering::Release);
}

/// Most pools we leak because their handlers got stuck (a debugger holding a thread
/// inside the handler, for instance) before refusing to capture.
pub(super) const MAX_ABANDONED_POOLS: usize = 8;
