//! Frame-pointer stack walking, shared by the sampling allocator and the thread dump.
//!
//! # Why by hand
//! Walking frame pointers costs ~35 ns for 30 frames; `backtrace::trace` (DWARF, libgcc)
//! costs ~3.7 µs and is neither async-signal-safe nor safe to call from inside an
//! allocator (it may allocate and takes a global lock). No crate offers a bounded,
//! allocation-free, lock-free frame-pointer walk that validates every read against the
//! walked thread's stack, so it lives here.
//!
//! # Rules (hot path / signal context)
//! - No allocation, no lock, no libgcc, no panics: every function here may run inside a
//!   signal handler or inside `GlobalAlloc::alloc`.
//! - Every frame record read lies inside `[lo, hi)`, the stack of the walked thread, is
//!   aligned, and lies strictly above the previous record, so a garbage frame pointer
//!   (code built without frame pointers) ends the walk instead of faulting.
//!
//! Addresses recorded are return addresses (except the first one of a walk started from
//! a signal context, which is the interrupted PC); the symbolizer looks up `addr - 1` for
//! return addresses so that the call site, not the next line, is reported.

#[cfg(linux_stack_walk)]
pub mod dwarf;
pub mod maps;
#[cfg(linux_stack_walk)]
mod thread_pointer;

#[cfg(linux_stack_walk)]
use thread_pointer::proven_bounds;

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

/// True when stacks are walked with DWARF call-frame information ([`dwarf`]) rather than
/// frame pointers. Set by `start()` (see [`use_dwarf`]); read on every walk.
static DWARF: AtomicBool = AtomicBool::new(false);

/// Makes every later walk use DWARF CFI (`true`, once [`dwarf::prepare`] ran) or frame
/// pointers (`false`).
pub fn use_dwarf(on: bool) {
    DWARF.store(on, Ordering::Release);
}

/// True when walks use DWARF CFI.
#[inline(always)]
pub fn uses_dwarf() -> bool {
    cfg!(linux_stack_walk) && DWARF.load(Ordering::Relaxed)
}

/// The walker in use.
pub fn walker() -> StackWalk {
    if uses_dwarf() {
        StackWalk::Dwarf
    } else {
        StackWalk::FramePointers
    }
}

/// Chooses [`StackWalk::Auto`](StackWalk::Auto)'s walker unless one was chosen
/// already: for captures taken without a running holmes (`dump_threads()`, the CPU
/// profile and heap samples set up by `alloc::set_sample_rate` on their own). Not
/// async-signal-safe.
pub(crate) fn ensure_chosen() {
    if !CHOSEN.load(Ordering::Acquire) {
        choose(StackWalk::Auto);
    }
}

static CHOSEN: AtomicBool = AtomicBool::new(false);

/// Set when a check at start found the frame-pointer walk short (see
/// `dump::frame_pointer_check`); read by `Status` and dump headers.
static TRUNCATED: AtomicBool = AtomicBool::new(false);

/// True when the stacks holmes records look truncated.
pub fn stacks_truncated() -> bool {
    TRUNCATED.load(Ordering::Relaxed)
}

pub(crate) fn set_stacks_truncated(yes: bool) {
    TRUNCATED.store(yes, Ordering::Relaxed);
}

/// Picks the walker for `want` (at `start()`, outside signal context) and makes every
/// later walk use it. [`StackWalk::Auto`]: frame pointers when
/// the build forces them and a walk of the current stack by frame pointers gets (within
/// the C library's few frames) as deep as one by CFI; DWARF otherwise. DWARF needs
/// unwind tables; without any, frame pointers. Returns the walker in use.
pub fn choose(want: StackWalk) -> StackWalk {
    #[cfg(linux_stack_walk)]
    use StackWalk;
    #[cfg(linux_stack_walk)]
    let dwarf = match want {
        StackWalk::FramePointers => false,
        StackWalk::Dwarf => dwarf::prepare().with_tables > 0,
        _ => {
            dwarf::prepare().with_tables > 0
                && !(cfg!(holmes_frame_pointers) && frame_pointers_are_whole())
        }
    };
    #[cfg(not(linux_stack_walk))]
    let dwarf = {
        let _ = want;
        false
    };
    use_dwarf(dwarf);
    CHOSEN.store(true, Ordering::Release);
    walker()
}

/// True when a frame-pointer walk of this very stack gets as deep as a CFI walk, less
/// the C library's own few frames (it keeps no frame pointers).
#[cfg(linux_stack_walk)]
#[inline(never)]
pub(crate) fn frame_pointers_are_whole() -> bool {
    let Some((lo, hi)) = current_thread_bounds() else {
        return false;
    };
    let regs = dwarf::current_regs();
    let (mut by_fp, mut by_cfi) = (Stack::empty(), Stack::empty());
    // SAFETY: the current thread's own live stack.
    unsafe {
        walk(regs.fp, lo, hi, &mut by_fp);
        if !dwarf::walk(regs, regs.sp, hi, &mut by_cfi) {
            return true;
        }
    }
    // The CFI walk starts with this function's own PC.
    by_fp.len() + 4 >= by_cfi.len()
}

/// Deepest stack recorded; deeper stacks are truncated at the root end.
pub const MAX_FRAMES: usize = 64;

/// A fixed-size, `Copy` list of code addresses, innermost first.
///
/// Only the first `len` entries are ever written or read: an empty stack is not
/// zero-filled, so making one on the heap sampling path costs one store instead of
/// a 512-byte `memset` (49 instructions and up to nine cache lines per sample).
#[derive(Clone, Copy)]
pub struct Stack {
    len: u32,
    ips: [MaybeUninit<usize>; MAX_FRAMES],
}

impl Stack {
    /// An empty stack (usable in `static`s and preallocated buffers).
    pub const fn empty() -> Self {
        Stack {
            len: 0,
            ips: [MaybeUninit::uninit(); MAX_FRAMES],
        }
    }

    /// The recorded addresses, innermost first.
    pub fn ips(&self) -> &[usize] {
        let len = (self.len as usize).min(MAX_FRAMES);
        // SAFETY: the first `len` entries have been written (`push` and `walk`, the
        // only writers, count an entry after writing it; `skip` moves written entries
        // down); `MaybeUninit<usize>` has `usize`'s layout.
        unsafe { std::slice::from_raw_parts(self.ips.as_ptr().cast::<usize>(), len) }
    }

    /// Number of recorded frames.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when no frame was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an address; returns false when the stack is full.
    #[inline]
    pub fn push(&mut self, ip: usize) -> bool {
        if (self.len as usize) < MAX_FRAMES {
            self.ips[self.len as usize] = MaybeUninit::new(ip);
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Forgets every frame.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Drops the `n` innermost frames (the profiler's own frames).
    pub fn skip(&mut self, n: usize) {
        let n = n.min(self.len as usize);
        self.ips.copy_within(n..self.len as usize, 0);
        self.len -= n as u32;
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::empty()
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.ips().iter().map(|ip| format!("{ip:#x}")))
            .finish()
    }
}

/// Walks the frame-pointer chain that starts at the frame record `fp`, appending each
/// return address to `out` until the chain leaves `[lo, hi)`, stops increasing, hits a
/// null return address or `out` is full.
///
/// A frame record is two words: the caller's frame pointer, then the return address
/// (x86_64 `rbp`, aarch64 `x29`; the same layout on both).
///
/// # Safety
/// `[lo, hi)` must be readable memory for the whole walk (the stack of a thread that
/// cannot exit meanwhile: the current thread, or a thread stopped in a signal handler).
#[inline]
pub unsafe fn walk(mut fp: usize, lo: usize, hi: usize, out: &mut Stack) {
    const WORD: usize = std::mem::size_of::<usize>();
    // Records are checked against `last`, the highest start of a whole record inside
    // `[lo, hi)`; `lo` only once: every later record lies above the one before it.
    // The count stays in a register until the end (the heap sampling path runs
    // this; ~10 instructions a frame).
    let Some(last) = hi.checked_sub(2 * WORD) else {
        return;
    };
    let mut n = out.len as usize;
    if fp < lo {
        return;
    }
    while n < MAX_FRAMES && fp <= last && fp.is_multiple_of(WORD) {
        // SAFETY: [fp, fp + 2 words) lies inside [lo, hi), readable per the contract.
        let (next, ret) = unsafe {
            let rec = fp as *const usize;
            (rec.read(), rec.add(1).read())
        };
        if ret == 0 {
            break;
        }
        out.ips[n] = MaybeUninit::new(ret);
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    out.len = n as u32;
}

/// The frame pointer of the caller of this function (inlined, so: the current frame).
#[inline(always)]
pub fn current_fp() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register, no memory access.
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads a register, no memory access.
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

thread_local! {
    // [lo, hi) known readable on this thread's stack; (0, 0) = not looked up yet,
    // (1, 1) = looked up and not found. Const-initialised without a destructor, so
    // access never allocates and works while the thread is being torn down.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Bounds `[lo, hi)` of the current thread's stack, looked up once per thread without
/// allocating and cached (see [`thread_bounds_containing`]).
pub fn current_thread_bounds() -> Option<(usize, usize)> {
    let probe = 0u8;
    thread_bounds_containing(std::ptr::addr_of!(probe) as usize)
}

/// Readable bounds `[lo, hi)` around `sp`, an address on the current thread's stack,
/// for walking it. Cached per thread; looked up again when `sp` is outside the cached
/// range (a deeper call, the main thread's stack grew). Allocation-free and
/// async-signal-safe.
///
/// Tried first: `[sp, thread pointer)`, proven readable by the kernel (see `thread_pointer.rs`;
/// ~4 µs here), which covers every thread but the main one, and on the main thread
/// (glibc) `[sp, the stack pointer it started with)`, proven the same way. Else the
/// mapping that contains `sp`, from `/proc/self/maps` ([`maps::find_mapping`]): ~40 µs
/// here and longer the more mappings a process has, paid (before the thread-pointer
/// way) by every new thread on its first heap sample, inside an allocation.
pub fn thread_bounds_containing(sp: usize) -> Option<(usize, usize)> {
    let cached = BOUNDS.try_with(Cell::get).ok()?;
    if cached.0 <= sp && sp < cached.1 {
        return Some(cached);
    }
    if cached == (1, 1) {
        return None;
    }
    let found = proven_bounds(sp, cached).or_else(|| maps::find_mapping(sp));
    let _ = BOUNDS.try_with(|b| b.set(found.unwrap_or((1, 1))));
    found
}

#[cfg(not(linux_stack_walk))]
fn proven_bounds(_sp: usize, _cached: (usize, usize)) -> Option<(usize, usize)> {
    None
}

/// Captures the current thread's stack into `out`, innermost first, starting with the
/// caller of this function. Allocation-free; safe inside `GlobalAlloc`.
#[inline(never)]
pub fn capture_current(out: &mut Stack) {
    out.clear();
    let Some((lo, hi)) = current_thread_bounds() else {
        return;
    };
    #[cfg(linux_stack_walk)]
    if uses_dwarf() {
        let regs = dwarf::current_regs();
        // SAFETY: [sp, hi) is the live part of the current thread's own stack.
        if regs.sp >= lo && unsafe { dwarf::walk(regs, regs.sp, hi, out) } {
            out.skip(1); // this function itself: start at its caller, as below
            return;
        }
    }
    let fp = current_fp();
    // SAFETY: the current thread's own stack is mapped and cannot go away under us.
    unsafe { walk(fp, lo, hi, out) };
}

/// True when the instruction just before `ret` is a call (x86_64: `call rel32`,
/// `call [rip+disp32]`, `call reg`, `call [reg+disp8]`; aarch64: `bl`, `blr`).
///
/// # Safety
/// `[lo, hi)` must be readable memory containing `ret`.
#[inline(always)]
pub unsafe fn follows_call(ret: usize, (lo, hi): (usize, usize)) -> bool {
    if ret > hi {
        return false;
    }
    // SAFETY (for every read below): the byte lies in [lo, ret) ⊂ [lo, hi).
    let byte = |back: usize| -> Option<u8> {
        let a = ret.checked_sub(back)?;
        (a >= lo).then(|| unsafe { (a as *const u8).read() })
    };
    #[cfg(target_arch = "x86_64")]
    {
        // `FF /2` with the ModRM byte `m` at `ret - len + 1`: reg field 2 and the
        // addressing mode that makes the instruction `len` bytes long.
        let ff2 = |len: usize, mode: u8, sib: bool| -> bool {
            byte(len) == Some(0xFF)
                && byte(len - 1).is_some_and(|m| {
                    m & 0x38 == 0x10 && m & 0xC0 == mode && ((m & 0x07 == 0x04) == sib)
                })
        };
        byte(5) == Some(0xE8) // call rel32
            || (byte(6) == Some(0xFF) && byte(5) == Some(0x15)) // call [rip+disp32]
            || ff2(2, 0xC0, false) // call reg
            || (ff2(2, 0x00, false) && byte(1).is_some_and(|m| m & 0x07 != 0x05)) // call [reg]
            || ff2(3, 0x40, false) // call [reg+disp8]
            || ff2(6, 0x80, false) // call [reg+disp32]
            || ff2(3, 0x00, true) // call [sib]
            || ff2(4, 0x40, true) // call [sib+disp8]
            || ff2(7, 0x80, true) // call [sib+disp32]
    }
    #[cfg(target_arch = "aarch64")]
    {
        let b = [byte(4), byte(3), byte(2), byte(1)];
        let [Some(b0), Some(b1), Some(b2), Some(b3)] = b else {
            return false;
        };
        let insn = u32::from_le_bytes([b0, b1, b2, b3]);
        insn & 0xFC00_0000 == 0x9400_0000 || insn & 0xFFFF_FC1F == 0xD63F_0000
    }
}

/// `(pc, frame pointer, stack pointer)` of an interrupted context, for the signal
/// handlers (CPU profile, thread dump); `None` where the layout is not known.
///
/// # Safety
/// `ctx` must be the `ucontext_t` pointer the kernel passed to an `SA_SIGINFO` handler.
#[inline(always)]
pub unsafe fn registers(ctx: *mut libc::c_void) -> Option<(usize, usize, usize)> {
    let uc = ctx as *const libc::ucontext_t;
    #[cfg(all(linux_stack_walk, target_arch = "x86_64"))]
    {
        // SAFETY: the caller passes a valid ucontext.
        let g = unsafe { &(*uc).uc_mcontext.gregs };
        Some((
            g[libc::REG_RIP as usize] as usize,
            g[libc::REG_RBP as usize] as usize,
            g[libc::REG_RSP as usize] as usize,
        ))
    }
    #[cfg(all(linux_stack_walk, target_arch = "aarch64"))]
    {
        // SAFETY: the caller passes a valid ucontext.
        let m = unsafe { &(*uc).uc_mcontext };
        Some((m.pc as usize, m.regs[29] as usize, m.sp as usize))
    }
    #[cfg(not(linux_stack_walk))]
    {
        let _ = uc;
        None
    }
}

/// How a walker reads in a log line or a dump header.
pub(crate) fn walker_name(w: StackWalk) -> &'static str {
    match w {
        StackWalk::Dwarf => "DWARF call-frame information (.eh_frame)",
        _ => "frame pointers",
    }
}

/// How holmes walks stacks (heap samples, CPU samples, thread dumps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackWalk {
    /// Frame pointers when the build forces them (`-C force-frame-pointers=yes`, seen by
    /// holmes' build script) and a walk at start shows them complete; DWARF otherwise.
    Auto,
    /// Frame pointers only: fastest (~35 ns for 30 frames), but code built without them
    /// (`cargo build --release`'s default, the C library) loses its callers.
    FramePointers,
    /// DWARF call-frame information (`.eh_frame`, which every Linux binary ships), with
    /// the frame pointer where a function has no CFI: whole stacks in any build.
    Dwarf,
}

impl StackWalk {
    /// The spelling of the attribute and `HOLMES_STACK_WALK`: `auto`,
    /// `frame_pointers`, `dwarf`.
    pub fn parse(s: &str) -> Option<StackWalk> {
        match s {
            "auto" => Some(StackWalk::Auto),
            "frame_pointers" => Some(StackWalk::FramePointers),
            "dwarf" => Some(StackWalk::Dwarf),
            _ => None,
        }
    }

    /// The spelling [`parse`](Self::parse) reads.
    pub const fn name(self) -> &'static str {
        match self {
            StackWalk::Auto => "auto",
            StackWalk::FramePointers => "frame_pointers",
            StackWalk::Dwarf => "dwarf",
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for StackWalk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for StackWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(linux_stack_walk, holmes_frame_pointers))]
    fn walks_own_stack_through_named_functions() {
        #[inline(never)]
        fn level3(out: &mut Stack) {
            capture_current(out);
            std::hint::black_box(&out);
        }
        #[inline(never)]
        fn level2(out: &mut Stack) {
            level3(out);
            std::hint::black_box(&out);
        }
        #[inline(never)]
        fn level1(out: &mut Stack) {
            level2(out);
            std::hint::black_box(&out);
        }
        let mut s = Stack::empty();
        level1(&mut s);
        assert!(s.len() >= 3, "stack too short: {s:?}");
        let mut sym = crate::symbol::Symbolizer::new();
        let mut names = Vec::new();
        for &ip in s.ips().iter().take(6) {
            names.extend(sym.resolve(ip, true).iter().map(|f| f.name.clone()));
        }
        let joined = names.join(" | ");
        for f in ["level3", "level2", "level1"] {
            assert!(joined.contains(f), "{f} missing from {joined}");
        }
    }

    #[test]
    fn walk_stops_outside_bounds_and_on_non_increasing_chain() {
        // A fake stack: three records chained upwards, then one pointing down.
        let mut mem = [0usize; 16];
        let base = mem.as_ptr() as usize;
        let w = std::mem::size_of::<usize>();
        mem[0] = base + 4 * w; // -> record at index 4
        mem[1] = 0x1111;
        mem[4] = base + 8 * w; // -> record at index 8
        mem[5] = 0x2222;
        mem[8] = base; // points down: must stop
        mem[9] = 0x3333;
        let mut s = Stack::empty();
        unsafe { walk(base, base, base + mem.len() * w, &mut s) };
        assert_eq!(s.ips(), &[0x1111, 0x2222, 0x3333]);
        // The same chain with `hi` cutting the second record off.
        let mut s = Stack::empty();
        unsafe { walk(base, base, base + 5 * w, &mut s) };
        assert_eq!(s.ips(), &[0x1111]);
        // Misaligned start: nothing.
        let mut s = Stack::empty();
        unsafe { walk(base + 1, base, base + mem.len() * w, &mut s) };
        assert!(s.is_empty());
    }

    #[test]
    fn stack_push_skip_and_full() {
        let mut s = Stack::empty();
        for i in 0..MAX_FRAMES {
            assert!(s.push(i));
        }
        assert!(!s.push(99));
        s.skip(2);
        assert_eq!(s.len(), MAX_FRAMES - 2);
        assert_eq!(s.ips()[0], 2);
    }
}
