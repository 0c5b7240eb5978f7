//! DWARF call-frame unwinding (`.eh_frame`), for code built without frame pointers.
//!
//! `cargo build --release` keeps no frame pointers unless asked, and the C library and
//! most C dependencies never do; every Linux binary ships `.eh_frame` call-frame
//! information instead (it is what panics unwind with). This walker reads it through
//! `framehop`, which evaluates CFI where a function has it and falls back to the frame
//! pointer where it does not, so mixed builds get whole stacks.
//!
//! # Prepared outside signal context
//! [`prepare`] lists the loaded objects with `dl_iterate_phdr` and registers, for each,
//! its `.eh_frame_hdr` (the `PT_GNU_EH_FRAME` segment: a sorted table of functions) and
//! the `.eh_frame` it points to, *as they are loaded in memory*: nothing is copied or
//! read from disk. The resulting unwinder is published through an atomic pointer and
//! never freed while reachable; a newer one (after `dlopen`) replaces it, the old one is
//! leaked (a few hundred bytes a module). [`prepare`] runs at `start()`, before every CPU
//! capture and thread dump, and on the sampler's ticks when the C library's count of
//! loaded objects changed; it allocates and takes the loader's lock, so never from a
//! handler or the allocator.
//!
//! # The walk (signal handlers, the allocator's sampling path)
//! - No allocation: framehop with `MustNotAllocateDuringUnwind` evaluates CFI in fixed
//!   arrays; its per-walk state (a rule cache and the CFI evaluation context, ~40 KiB)
//!   comes from a pool of [`CACHES`] preallocated caches, claimed with one
//!   compare-and-swap and released after the walk. When every cache is in use (more than
//!   that many walks at the same instant) the caller falls back to frame pointers.
//! - No lock, no libgcc, no panic path.
//! - Memory reads: the unwind tables of loaded objects (mapped, read-only), and stack
//!   words, each checked to lie inside `[lo, hi)`, the walked thread's live stack, and
//!   to be aligned. A library `dlclose`d between [`prepare`] and a walk could leave the
//!   unwinder pointing at unmapped tables: the same exposure as the frame-pointer walk's
//!   code-mapping checks; holmes itself never unloads code.
//!
//! # Why framehop
//! It is the unwinder of samply and of pprof-rs's `framehop-unwinder`, supports x86_64
//! and aarch64, caches one rule per address (a warm frame costs a hash lookup and a
//! register update), and can be driven without allocation. pprof-rs's integration
//! copies every module's sections into vectors (megabytes for a large binary); holmes
//! points framehop at the loaded tables instead.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use framehop::{
    CacheNative, ExplicitModuleSectionInfo, Module, MustNotAllocateDuringUnwind, Unwinder,
    UnwinderNative,
};

use super::{Stack, MAX_FRAMES};

type Tables = &'static [u8];
type Walker = UnwinderNative<Tables, MustNotAllocateDuringUnwind>;
type Cache = CacheNative<MustNotAllocateDuringUnwind>;

/// Walks that can run at the same instant (each needs a cache of its own).
pub const CACHES: usize = 8;

/// The unwinder for the objects loaded when it was built.
struct Registry {
    walker: Walker,
    /// The C library's count of objects ever loaded / unloaded when it was built.
    adds: u64,
    subs: u64,
    /// Objects registered, and how many of them had unwind tables.
    modules: usize,
    with_tables: usize,
}

static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(std::ptr::null_mut());
/// Serialises [`prepare`] (callers on several holmes threads).
static PREPARING: Mutex<()> = Mutex::new(());

struct CacheSlot {
    busy: AtomicBool,
    cache: UnsafeCell<Cache>,
}

// SAFETY: a slot's cache is only reached by the one walk that set `busy` (acquire) until
// it clears it (release).
unsafe impl Sync for CacheSlot {}

static SLOTS: OnceLock<Box<[CacheSlot]>> = OnceLock::new();

/// Walks done with DWARF and walks that fell back to frame pointers for want of a
/// cache, for tests and `Status`.
static WALKS: AtomicU64 = AtomicU64::new(0);
static NO_CACHE: AtomicU64 = AtomicU64::new(0);

/// What [`prepare`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// Loaded objects registered.
    pub modules: usize,
    /// Of those, objects with an `.eh_frame_hdr` the walker can use.
    pub with_tables: usize,
}

/// Builds (or refreshes, when objects were loaded or unloaded since) the unwinder and
/// the cache pool. Not async-signal-safe; see the module docs.
pub fn prepare() -> Prepared {
    let _serial = PREPARING.lock().unwrap_or_else(|p| p.into_inner());
    SLOTS.get_or_init(|| {
        (0..CACHES)
            .map(|_| CacheSlot {
                busy: AtomicBool::new(false),
                cache: UnsafeCell::new(Cache::new_in()),
            })
            .collect()
    });
    let (adds, subs) = loader_counts();
    let current = REGISTRY.load(Ordering::Acquire);
    // SAFETY: registries are leaked, never freed.
    if let Some(r) = unsafe { current.as_ref() } {
        if (r.adds, r.subs) == (adds, subs) {
            return Prepared {
                modules: r.modules,
                with_tables: r.with_tables,
            };
        }
    }
    let mut walker = Walker::new();
    let (mut modules, mut with_tables) = (0, 0);
    for_each_object(|o| {
        modules += 1;
        if let Some(m) = o.module() {
            with_tables += 1;
            walker.add_module(m);
        }
    });
    let r = Box::leak(Box::new(Registry {
        walker,
        adds,
        subs,
        modules,
        with_tables,
    }));
    REGISTRY.store(r, Ordering::Release);
    Prepared {
        modules,
        with_tables,
    }
}

/// True once [`prepare`] has run: walks can use DWARF.
pub fn is_ready() -> bool {
    !REGISTRY.load(Ordering::Acquire).is_null() && SLOTS.get().is_some()
}

/// True when objects were loaded or unloaded since the unwinder was built (cheap:
/// reads two counters of the C library; takes the loader's lock, not signal-safe).
pub fn is_stale() -> bool {
    let r = REGISTRY.load(Ordering::Acquire);
    // SAFETY: registries are leaked, never freed.
    match unsafe { r.as_ref() } {
        Some(r) => loader_counts() != (r.adds, r.subs),
        None => true,
    }
}

/// `(dwarf walks, walks that found no free cache)` so far.
pub fn counts() -> (u64, u64) {
    (
        WALKS.load(Ordering::Relaxed),
        NO_CACHE.load(Ordering::Relaxed),
    )
}

/// Registers at the start of a walk.
#[derive(Clone, Copy, Debug)]
pub struct Regs {
    /// Program counter: the interrupted instruction, or a point in the caller's own code.
    pub pc: usize,
    /// Stack pointer.
    pub sp: usize,
    /// Frame pointer (`rbp`, `x29`), for frames without CFI.
    pub fp: usize,
    /// Link register (`x30`) on aarch64; unused on x86_64.
    pub lr: usize,
}

/// Walks the stack described by `regs`, appending the PC and then each return address
/// to `out` (up to [`MAX_FRAMES`]). Reads stack words inside `[lo, hi)` only. Returns
/// false, leaving `out` untouched, when DWARF cannot be used (not prepared, or every
/// cache busy): the caller then walks frame pointers.
///
/// # Safety
/// `[lo, hi)` must be readable for the whole walk (the current thread's own stack, or
/// the stack of a thread stopped in a signal handler on it).
pub unsafe fn walk(regs: Regs, lo: usize, hi: usize, out: &mut Stack) -> bool {
    let r = REGISTRY.load(Ordering::Acquire);
    // SAFETY: registries are leaked, never freed.
    let Some(r) = (unsafe { r.as_ref() }) else {
        return false;
    };
    let Some(slot) = claim() else {
        NO_CACHE.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    // SAFETY: `claim` gave this walk exclusive use of the slot's cache.
    let cache = unsafe { &mut *slot.cache.get() };
    let mut read = |addr: u64| -> Result<u64, ()> {
        let a = addr as usize;
        if a >= lo && a.is_multiple_of(std::mem::size_of::<usize>()) && a <= hi.saturating_sub(8) {
            // SAFETY: an aligned word inside [lo, hi), readable per the contract.
            Ok(unsafe { (a as *const u64).read() })
        } else {
            Err(())
        }
    };
    let mut frames = r
        .walker
        .iter_frames(regs.pc as u64, initial(regs), cache, &mut read);
    let mut n = 0;
    while n < MAX_FRAMES {
        match frames.next() {
            Ok(Some(f)) => {
                let ip = f.address() as usize;
                if ip == 0 || !out.push(ip) {
                    break;
                }
                n += 1;
            }
            _ => break,
        }
    }
    slot.busy.store(false, Ordering::Release);
    WALKS.fetch_add(1, Ordering::Relaxed);
    true
}

fn claim() -> Option<&'static CacheSlot> {
    SLOTS.get()?.iter().find(|s| {
        s.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })
}

#[cfg(target_arch = "x86_64")]
fn initial(r: Regs) -> framehop::UnwindRegsNative {
    framehop::x86_64::UnwindRegsX86_64::new(r.pc as u64, r.sp as u64, r.fp as u64)
}

#[cfg(target_arch = "aarch64")]
fn initial(r: Regs) -> framehop::UnwindRegsNative {
    framehop::aarch64::UnwindRegsAarch64::new(r.lr as u64, r.sp as u64, r.fp as u64)
}

/// The registers of the caller of this function, at a point inside it: the start of a
/// walk of the current thread. Inlined into [`super::capture_current`], whose own frame
/// is then the first one walked.
#[inline(always)]
pub fn current_regs() -> Regs {
    let (pc, sp, fp, lr): (usize, usize, usize, usize);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads registers, no memory access.
    unsafe {
        std::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {fp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags)
        );
        lr = 0;
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads registers, no memory access.
    unsafe {
        std::arch::asm!(
            "adr {pc}, .",
            "mov {sp}, sp",
            "mov {fp}, x29",
            "mov {lr}, x30",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            lr = out(reg) lr,
            options(nomem, nostack, preserves_flags)
        );
    }
    Regs { pc, sp, fp, lr }
}

/// The link register of an interrupted context (aarch64; 0 elsewhere).
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
#[inline(always)]
pub unsafe fn context_lr(ctx: *mut libc::c_void) -> usize {
    #[cfg(target_arch = "aarch64")]
    {
        let uc = ctx as *const libc::ucontext_t;
        // SAFETY: the caller passes a valid ucontext.
        unsafe { (*uc).uc_mcontext.regs[30] as usize }
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = ctx;
        0
    }
}

/// One loaded object, as `dl_iterate_phdr` describes it.
struct Object {
    name: String,
    bias: usize,
    /// `[lowest, highest)` address of its loadable segments.
    range: (usize, usize),
    /// Its executable segment(s), `[start, end)` (load-biased).
    text: Option<(usize, usize)>,
    /// `PT_GNU_EH_FRAME`, `[start, end)` (load-biased).
    eh_frame_hdr: Option<(usize, usize)>,
    /// Loadable segments, to bound `.eh_frame` by the end of the one that holds it.
    loads: Vec<(usize, usize)>,
}

impl Object {
    /// framehop's module for this object, when it has usable unwind tables.
    fn module(&self) -> Option<Module<Tables>> {
        let (hdr_start, hdr_end) = self.eh_frame_hdr?;
        // SAFETY: the segment is loaded and readable (PT_GNU_EH_FRAME lies inside a
        // PT_LOAD segment).
        let hdr: Tables =
            unsafe { std::slice::from_raw_parts(hdr_start as *const u8, hdr_end - hdr_start) };
        let eh_frame = eh_frame_address(hdr, hdr_start)?;
        let end = self
            .loads
            .iter()
            .find(|&&(s, e)| s <= eh_frame && eh_frame < e)
            .map(|&(_, e)| e)?;
        // SAFETY: [eh_frame, end) lies inside a loaded segment of the object.
        let frames: Tables =
            unsafe { std::slice::from_raw_parts(eh_frame as *const u8, end - eh_frame) };
        let svma = |(s, e): (usize, usize)| (s - self.bias) as u64..(e - self.bias) as u64;
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: self.text.map(svma),
            eh_frame_svma: Some(svma((eh_frame, end))),
            eh_frame: Some(frames),
            eh_frame_hdr_svma: Some(svma((hdr_start, hdr_end))),
            eh_frame_hdr: Some(hdr),
            ..Default::default()
        };
        Some(Module::new(
            self.name.clone(),
            self.range.0 as u64..self.range.1 as u64,
            self.bias as u64,
            info,
        ))
    }
}

/// The address of `.eh_frame`, from the `eh_frame_ptr` field of `.eh_frame_hdr` loaded
/// at `at`.
fn eh_frame_address(hdr: &[u8], at: usize) -> Option<usize> {
    const PCREL: u8 = 0x10;
    const DATAREL: u8 = 0x30;
    let (&version, rest) = hdr.split_first()?;
    let (&enc, _) = rest.split_first()?;
    if version != 1 || enc == 0xff {
        return None;
    }
    let field = hdr.get(4..)?;
    let value: i64 = match enc & 0x0f {
        0x00 | 0x04 | 0x0c => i64::from_le_bytes(field.get(..8)?.try_into().ok()?), // absptr, udata8, sdata8
        0x03 => i64::from(u32::from_le_bytes(field.get(..4)?.try_into().ok()?)),    // udata4
        0x0b => i64::from(i32::from_le_bytes(field.get(..4)?.try_into().ok()?)),    // sdata4
        _ => return None,
    };
    let base = match enc & 0x70 {
        0 => 0,
        PCREL => (at + 4) as i64,
        DATAREL => at as i64,
        _ => return None,
    };
    usize::try_from(base.wrapping_add(value)).ok()
}

/// The C library's counts of objects loaded and unloaded so far (`dlpi_adds`,
/// `dlpi_subs`).
fn loader_counts() -> (u64, u64) {
    let mut counts = (0u64, 0u64);
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // The counters exist when the C library passes a struct that holds them.
        let has = std::mem::offset_of!(libc::dl_phdr_info, dlpi_subs)
            + std::mem::size_of::<libc::c_ulonglong>();
        if size >= has {
            // SAFETY: the C library passes a valid info of at least `size` bytes and
            // `data` is the `counts` below.
            unsafe {
                *(data as *mut (u64, u64)) = ((*info).dlpi_adds, (*info).dlpi_subs);
            }
        }
        1 // the first object is enough
    }
    // SAFETY: the callback only reads `info` and writes `counts`.
    unsafe { libc::dl_iterate_phdr(Some(first), (&mut counts as *mut (u64, u64)).cast()) };
    counts
}

/// Calls `f` with every loaded object.
fn for_each_object(mut f: impl FnMut(Object)) {
    crate::objects::for_each_loaded(|l| {
        let mut o = Object {
            name: l.name.clone(),
            bias: l.bias,
            range: (usize::MAX, 0),
            text: None,
            eh_frame_hdr: None,
            loads: Vec::new(),
        };
        for p in l.phdrs {
            let start = l.bias.wrapping_add(p.p_vaddr as usize);
            let end = start.wrapping_add(p.p_memsz as usize);
            match p.p_type {
                libc::PT_LOAD => {
                    o.range = (o.range.0.min(start), o.range.1.max(end));
                    o.loads.push((start, end));
                    if p.p_flags & libc::PF_X != 0 {
                        o.text = Some(match o.text {
                            Some((s, e)) => (s.min(start), e.max(end)),
                            None => (start, end),
                        });
                    }
                }
                libc::PT_GNU_EH_FRAME => o.eh_frame_hdr = Some((start, end)),
                _ => {}
            }
        }
        if o.range.0 < o.range.1 {
            f(o);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_eh_frame_pointer() {
        // version 1, pcrel|sdata4, then -16 relative to the field (at + 4).
        let hdr = [1u8, 0x1b, 0x03, 0x3b, 0xf0, 0xff, 0xff, 0xff];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x1000 + 4 - 16));
        let abs = [1u8, 0x00, 0x03, 0x3b, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0];
        assert_eq!(eh_frame_address(&abs, 0x1000), Some(0x1234_5678));
        assert_eq!(eh_frame_address(&[2u8, 0x1b, 0, 0, 0, 0, 0, 0], 0), None);
        assert_eq!(eh_frame_address(&[1u8, 0xff, 0, 0], 0), None);
    }

    #[inline(never)]
    fn dwarf_level3(out: &mut Stack) {
        let (lo, hi) = crate::stack::current_thread_bounds().expect("bounds");
        let regs = current_regs();
        assert!(lo <= regs.sp && regs.sp < hi);
        // SAFETY: the current thread's own live stack.
        assert!(unsafe { walk(regs, regs.sp, hi, out) }, "a free cache");
        std::hint::black_box(&out);
    }
    #[inline(never)]
    fn dwarf_level2(out: &mut Stack) {
        dwarf_level3(out);
        std::hint::black_box(&out);
    }
    #[inline(never)]
    fn dwarf_level1(out: &mut Stack) {
        dwarf_level2(out);
        std::hint::black_box(&out);
    }

    /// Whether a frame-pointer walk would get this far does not matter: this test also
    /// runs in a build without frame pointers (CI), where only CFI can.
    #[test]
    fn walks_the_current_stack_by_cfi_through_std_to_the_thread_start() {
        prepare();
        let mut s = Stack::empty();
        dwarf_level1(&mut s);
        let mut sym = crate::symbol::Symbolizer::new();
        let names: Vec<String> = s
            .ips()
            .iter()
            .enumerate()
            .map(|(i, &ip)| {
                let f = sym.resolve(ip, i > 0);
                f.iter()
                    .map(|f| f.name.clone())
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .collect();
        let pos = |want: &str| names.iter().position(|n| n.contains(want));
        let (l3, l2, l1) = (
            pos("dwarf_level3"),
            pos("dwarf_level2"),
            pos("dwarf_level1"),
        );
        assert!(
            l3.is_some() && l3 < l2 && l2 < l1,
            "levels missing or out of order: {names:#?}"
        );
        // On through the test harness and std's thread start into the C library.
        assert!(
            names.iter().any(|n| n.contains("thread_start")
                || n.contains("start_thread")
                || n.contains("clone")),
            "did not reach the thread's start: {names:#?}"
        );
    }

    #[test]
    fn registers_the_loaded_objects_with_unwind_tables() {
        let p = prepare();
        // The test binary, and the C library unless linked statically (musl).
        let at_least = if cfg!(target_env = "musl") { 1 } else { 2 };
        assert!(p.modules >= at_least, "{p:?}");
        assert!(p.with_tables >= at_least, "{p:?}");
        assert!(is_ready());
        assert!(!is_stale());
        assert_eq!(prepare(), p, "unchanged objects: the same unwinder");
    }
}
