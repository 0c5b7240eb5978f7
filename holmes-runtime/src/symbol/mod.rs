//! Turning code addresses into function names, files and lines — off the hot path,
//! within a memory bound.
//!
//! Stacks are captured as raw addresses (allocator, signal handlers) and symbolized
//! later, on the dumper thread, through a [`Symbolizer`].
//!
//! # Contract
//! - A [`Symbolizer`] holds nothing until its first [`resolve`](Symbolizer::resolve).
//!   Then (on Linux) it maps the files of the loaded objects read-only as it needs them
//!   and keeps, per file, an index of its function symbols and, when the file has DWARF,
//!   its address-to-unit table; a compile unit's functions and line rows are parsed
//!   when an address in it is asked for, at most `dwarf::UNITS_KEPT` units at a time.
//!   [`release`](Symbolizer::release) drops all of it: the dumper calls it once no dump
//!   came for a few seconds, so between incidents holmes' symbolization holds no memory
//!   at all; during one it holds what the dumps' addresses touched (measured by
//!   `benches/symbolizer_rss.sh`).
//! - Names: the function containing an address is named by the object's symbol table
//!   (`.symtab`, else `.dynsym`), demangled, qualified (`crate::module::function`,
//!   `<T as Trait>::method`) and without the hash; the functions inlined into it, and
//!   every file and line, come from the DWARF line tables (`debug = "line-tables-only"`
//!   is enough; such tables name inlined functions without their path). Code of a
//!   shared object that no symbol covers (a C library's internal function) is named by
//!   the object and address (`libc.so.6+0x9a1f5`); the executable's, by its address
//!   (`0x…`, a stripped binary), which the pprof keeps with its mapping for offline
//!   symbolization.
//! - Nothing is read but the loaded objects themselves (no `.gnu_debuglink`, no
//!   `/usr/lib/debug`, no debuginfod): a dump never grows by a distribution's debug
//!   files. A shared object whose file on disk no longer matches the loaded one (its
//!   build-id differs: upgraded in place) is not read.
//! - No global state and no lock: a `fork()` child's symbolizers are as usable as any.
//! - Outside Linux, names come from the `backtrace` crate (see `other`).
//!
//! Written here rather than through `backtrace::resolve` (which holmes used before):
//! `backtrace` keeps every object's whole parsed debug info in a process-wide cache for
//! the life of the process (+47 MiB resident for a 29 MB service with line tables,
//! +100 MiB with full debug info), follows debug links into `/usr/lib/debug` at the
//! moment a dump fires, names frames by the DWARF's unqualified names in line-tables
//! builds, and holds a global lock a `fork()` can leave locked. The parsing itself is
//! the `object` and `gimli` crates' (the ones `backtrace` uses; see `dwarf` for why not
//! `addr2line`'s).

use std::collections::HashMap;
use std::sync::Arc;

/// One frame of a resolved address. An address inside inlined code resolves to
/// several frames, innermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Demangled function name without the hash suffix, or `0x…` when unknown.
    pub name: String,
    /// Source file, when debug info has it.
    pub file: Option<String>,
    /// Source line, when debug info has it.
    pub line: Option<u32>,
}

impl Frame {
    /// False when the address could not be named (the name is the address, `0x…`).
    pub fn is_named(&self) -> bool {
        !self.name.starts_with("0x")
    }

    fn unnamed(addr: usize) -> Frame {
        Frame {
            name: format!("{addr:#x}"),
            file: None,
            line: None,
        }
    }
}

/// Addresses a [`Symbolizer`] remembers at most (a few MiB); beyond, it starts over.
const MAX_CACHED: usize = 16_384;

/// Address-to-frames resolver with a cache, released by [`release`](Self::release)
/// (see the [module docs](self)). One per dumper thread; it is `Send`, so it can be
/// built anywhere.
#[derive(Default)]
pub struct Symbolizer {
    cache: HashMap<usize, Arc<[Frame]>>,
    #[cfg(target_os = "linux")]
    objects: Option<elf::Objects>,
}

impl Symbolizer {
    /// An empty symbolizer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `addr`. `is_return_address` is true for every frame but an interrupted
    /// PC: a return address points after the call, so `addr - 1` is looked up to name
    /// the call site; a PC is looked up as it is (a PC on a function's first byte must
    /// not resolve to the padding before it).
    pub fn resolve(&mut self, addr: usize, is_return_address: bool) -> Arc<[Frame]> {
        let lookup = if is_return_address {
            addr.saturating_sub(1)
        } else {
            addr
        };
        if let Some(hit) = self.cache.get(&lookup) {
            return hit.clone();
        }
        let mut frames = Vec::new();
        self.resolve_into(lookup, &mut frames);
        if frames.is_empty() {
            frames.push(Frame::unnamed(addr));
        }
        let frames: Arc<[Frame]> = frames.into();
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(lookup, frames.clone());
        frames
    }

    #[cfg(target_os = "linux")]
    fn resolve_into(&mut self, lookup: usize, frames: &mut Vec<Frame>) {
        self.objects
            .get_or_insert_with(elf::Objects::new)
            .resolve(lookup, frames);
    }

    #[cfg(not(target_os = "linux"))]
    fn resolve_into(&mut self, lookup: usize, frames: &mut Vec<Frame>) {
        other::resolve(lookup, frames);
    }

    /// Number of cached addresses.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// True when it holds nothing: new, or released since its last resolution.
    pub fn is_released(&self) -> bool {
        #[cfg(target_os = "linux")]
        let objects = self.objects.is_none();
        #[cfg(not(target_os = "linux"))]
        let objects = true;
        self.cache.is_empty() && objects
    }

    /// Drops every cache, mapping and parsed table (see the [module docs](self)); the
    /// next [`resolve`](Self::resolve) starts afresh.
    pub fn release(&mut self) {
        self.cache = HashMap::new();
        #[cfg(target_os = "linux")]
        {
            self.objects = None;
        }
    }

    /// True when the main executable has DWARF line tables (`debug =
    /// "line-tables-only"` or more); without them inlined functions are attributed to
    /// their callers and frames have no file or line. `None` where it cannot be told
    /// (the file cannot be read; outside Linux).
    /// Read once per process.
    pub fn executable_has_line_tables() -> Option<bool> {
        static ONCE: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
        *ONCE.get_or_init(|| {
            #[cfg(target_os = "linux")]
            {
                elf::has_line_tables(std::path::Path::new("/proc/self/exe"))
            }
            #[cfg(not(target_os = "linux"))]
            {
                None
            }
        })
    }
}

/// A symbol demangled without its hash (`crate::module::function`); a C name as it is.
#[cfg(target_os = "linux")]
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_owned(),
    }
}

/// In the child of a `fork()` (see `crate::fork`). Async-signal-safe: atomics only.
#[cfg(not(target_os = "linux"))]
pub(crate) fn reset_after_fork() {
    other::reset_after_fork();
}

#[cfg(not(target_os = "linux"))]
mod other {
    //! Outside Linux: names from the `backtrace` crate. It keeps its caches behind one
    //! process-wide lock; in the child of a `fork()` taken while a holmes thread was
    //! resolving, that lock is held by a thread that does not exist there, so the
    //! child's frames are named by address (`0x…`) instead of waiting forever.

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::Frame;

    /// Calls of holmes' into `backtrace` in progress.
    static RESOLVING: AtomicUsize = AtomicUsize::new(0);
    /// Set in the child of a fork taken while `RESOLVING` was non-zero.
    static LOCK_LOST_IN_FORK: AtomicBool = AtomicBool::new(false);

    pub(super) fn reset_after_fork() {
        if RESOLVING.swap(0, Ordering::SeqCst) != 0 {
            LOCK_LOST_IN_FORK.store(true, Ordering::SeqCst);
        }
    }

    pub(super) fn resolve(lookup: usize, frames: &mut Vec<Frame>) {
        RESOLVING.fetch_add(1, Ordering::SeqCst);
        if !LOCK_LOST_IN_FORK.load(Ordering::SeqCst) {
            // `backtrace` looks up `addr - 1` itself (it expects return addresses).
            backtrace::resolve((lookup + 1) as *mut std::ffi::c_void, |sym| {
                frames.push(Frame {
                    name: match sym.name() {
                        Some(n) => format!("{n:#}"),
                        None => format!("{lookup:#x}"),
                    },
                    file: sym.filename().map(|p| p.display().to_string()),
                    line: sym.lineno(),
                });
            });
        }
        RESOLVING.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(target_os = "linux")]
mod dwarf;

#[cfg(target_os = "linux")]
mod elf {
    //! The Linux symbolizer: ELF files mapped read-only, their symbol tables and DWARF.

    use std::borrow::Cow;
    use std::collections::HashMap;
    use std::io::Read as _;
    use std::path::Path;

    use object::{Object as _, ObjectSection as _, ObjectSegment as _, ObjectSymbol as _};

    use super::Frame;
    use crate::objects::Object;

    use super::dwarf::{Dwarf, Slice};

    /// The loaded objects' segments and, opened as asked for, their files.
    pub(super) struct Objects {
        segments: Vec<Object>,
        /// By path; `None` when the file cannot be used.
        files: HashMap<String, Option<Box<File>>>,
        refreshed: bool,
    }

    impl Objects {
        pub(super) fn new() -> Objects {
            Objects {
                segments: crate::objects::loaded(),
                files: HashMap::new(),
                refreshed: false,
            }
        }

        pub(super) fn resolve(&mut self, addr: usize, out: &mut Vec<Frame>) {
            let seg = match self.segments.iter().position(|s| s.contains(addr)) {
                Some(i) => i,
                // Loaded since this symbolizer began: look again, once.
                None if !self.refreshed => {
                    self.refreshed = true;
                    self.segments = crate::objects::loaded();
                    match self.segments.iter().position(|s| s.contains(addr)) {
                        Some(i) => i,
                        None => return,
                    }
                }
                None => return,
            };
            let seg = &self.segments[seg];
            let key = if seg.is_main {
                "/proc/self/exe"
            } else {
                seg.path.as_str()
            };
            let file = self
                .files
                .entry(key.to_owned())
                .or_insert_with(|| File::open(Path::new(key), &seg.build_id).map(Box::new));
            let first = out.len();
            let mut at = (addr - seg.start) as u64 + seg.offset;
            if let Some(file) = file.as_deref_mut() {
                if let Some(svma) = file.svma(seg, addr) {
                    file.frames(svma, out);
                    at = svma;
                }
            }
            // A shared object's code without a symbol (a C library's internal
            // function): named by the object, `libc.so.6+0x9a1f5`. The executable's
            // stays `0x…`: a stripped binary, symbolized offline from the pprof.
            if out.len() == first && !seg.is_main {
                let base = seg.path.rsplit('/').next().unwrap_or(&seg.path);
                out.push(Frame {
                    name: format!("{base}+{at:#x}"),
                    file: None,
                    line: None,
                });
            }
        }
    }

    /// A function symbol: start, size, name (in the mapped string table).
    struct Symbol {
        start: u64,
        size: u64,
        name: &'static [u8],
    }

    /// One object file, mapped. The `'static` slices in `symbols` and `dwarf` point
    /// into `map` and `owned` and must not outlive them: the fields drop in declaration
    /// order, so both go before what they borrow, and nothing hands them out.
    pub(super) struct File {
        dwarf: Option<Dwarf>,
        symbols: Vec<Symbol>,
        /// `(p_offset, p_vaddr)` of each `PT_LOAD` segment.
        loads: Vec<(u64, u64)>,
        /// Decompressed DWARF sections.
        _owned: Vec<Box<[u8]>>,
        _map: memmap2::Mmap,
    }

    impl File {
        fn open(path: &Path, build_id: &str) -> Option<File> {
            let f = std::fs::File::open(path).ok()?;
            // SAFETY: mapped read-only and private; object files in use are not
            // modified in place (an upgrade replaces the file, which this mapping
            // keeps alive), and every read below is bounds-checked by `object`.
            let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
            // SAFETY: the slice lives as long as `map`, which `File` owns and drops
            // last (see the struct's docs).
            let data: &'static [u8] =
                unsafe { std::slice::from_raw_parts(map.as_ptr(), map.len()) };
            let obj = object::File::parse(data).ok()?;
            if !build_id.is_empty() {
                let on_disk = obj.build_id().ok().flatten().map(hex);
                if on_disk.is_some_and(|b| b != build_id) {
                    return None; // replaced since it was loaded
                }
            }
            let loads = obj
                .segments()
                .map(|s| (s.file_range().0, s.address()))
                .collect();
            let mut symbols = function_symbols(obj.symbols());
            if symbols.is_empty() {
                symbols = function_symbols(obj.dynamic_symbols());
            }
            let mut owned = Vec::new();
            let dwarf = if obj.section_by_name(".debug_info").is_some() {
                let endian = if obj.is_little_endian() {
                    gimli::RunTimeEndian::Little
                } else {
                    gimli::RunTimeEndian::Big
                };
                let dwarf = gimli::Dwarf::load(|id| -> Result<Slice, ()> {
                    let bytes: &'static [u8] = match obj.section_by_name(id.name()) {
                        Some(s) => match section_data(&s) {
                            Some(Cow::Borrowed(b)) => b,
                            Some(Cow::Owned(v)) => {
                                let b = v.into_boxed_slice();
                                // SAFETY: the box is kept in `owned`, moved into the
                                // `File` and dropped after `dwarf` (its docs).
                                let s = unsafe { std::slice::from_raw_parts(b.as_ptr(), b.len()) };
                                owned.push(b);
                                s
                            }
                            None => &[],
                        },
                        None => &[],
                    };
                    Ok(gimli::EndianSlice::new(bytes, endian))
                })
                .ok();
                dwarf.and_then(Dwarf::new)
            } else {
                None
            };
            Some(File {
                dwarf,
                symbols,
                loads,
                _owned: owned,
                _map: map,
            })
        }

        /// The address in the file's own numbering of `addr`, inside `seg`.
        fn svma(&self, seg: &Object, addr: usize) -> Option<u64> {
            let &(_, vaddr) = self.loads.iter().find(|(off, _)| *off == seg.offset)?;
            Some(vaddr + (addr - seg.start) as u64)
        }

        /// The frames at `svma`, innermost first: DWARF's inline chain, its outermost
        /// (the function the code is in) named by the symbol table.
        fn frames(&mut self, svma: u64, out: &mut Vec<Frame>) {
            let symbol = self.symbol(svma);
            let first = out.len();
            if let Some(dwarf) = &mut self.dwarf {
                dwarf.frames(svma, out);
            }
            if out.len() == first {
                if let Some(name) = symbol {
                    out.push(Frame {
                        name,
                        file: None,
                        line: None,
                    });
                }
                return;
            }
            // The symbol table's name is qualified; line tables' are not.
            if let (Some(name), Some(outer)) = (symbol, out.last_mut()) {
                outer.name = name;
            }
            for f in &mut out[first..] {
                if f.name.is_empty() {
                    f.name = format!("{svma:#x}");
                }
            }
        }

        /// The demangled name of the function symbol containing `svma`.
        fn symbol(&self, svma: u64) -> Option<String> {
            let i = self
                .symbols
                .partition_point(|s| s.start <= svma)
                .checked_sub(1)?;
            let s = &self.symbols[i];
            let end = if s.size > 0 {
                s.start + s.size
            } else {
                self.symbols.get(i + 1).map_or(u64::MAX, |n| n.start)
            };
            (svma < end).then(|| super::demangle(&String::from_utf8_lossy(s.name)))
        }
    }

    /// The text symbols of `symbols`, sorted by address, the sized one first where
    /// several start at one address.
    fn function_symbols<'a>(
        symbols: impl Iterator<Item = object::Symbol<'static, 'a>>,
    ) -> Vec<Symbol> {
        let mut out: Vec<Symbol> = symbols
            .filter(|s| {
                s.kind() == object::SymbolKind::Text && s.address() != 0 && s.is_definition()
            })
            .filter_map(|s| {
                Some(Symbol {
                    start: s.address(),
                    size: s.size(),
                    name: s.name_bytes().ok().filter(|n| !n.is_empty())?,
                })
            })
            .collect();
        out.sort_unstable_by_key(|s| (s.start, s.size));
        // Keep one per address (the last: the largest size).
        out.dedup_by(|later, earlier| {
            if later.start == earlier.start {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        out.shrink_to_fit();
        out
    }

    /// A section's bytes: borrowed from the mapping, or inflated when compressed with
    /// zlib (`SHF_COMPRESSED`). `None` for formats this build cannot read (zstd).
    fn section_data(s: &object::Section<'static, '_>) -> Option<Cow<'static, [u8]>> {
        let c = s.compressed_data().ok()?;
        match c.format {
            object::CompressionFormat::None => Some(Cow::Borrowed(c.data)),
            object::CompressionFormat::Zlib => {
                let mut out = Vec::with_capacity(usize::try_from(c.uncompressed_size).ok()?);
                flate2::read::ZlibDecoder::new(c.data)
                    .read_to_end(&mut out)
                    .ok()?;
                Some(Cow::Owned(out))
            }
            _ => None,
        }
    }

    /// True when the ELF file at `path` has a `.debug_line` section.
    pub(super) fn has_line_tables(path: &Path) -> Option<bool> {
        let f = std::fs::File::open(path).ok()?;
        // SAFETY: as in `File::open`; the mapping lives for this call only.
        let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
        let obj = object::File::parse(&*map).ok()?;
        Some(
            obj.section_by_name(".debug_line")
                .is_some_and(|s| s.size() > 0),
        )
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_named_function_for_symbolizing() -> usize {
        a_named_function_for_symbolizing as *const () as usize
    }

    #[test]
    fn resolves_and_caches() {
        let addr = std::hint::black_box(a_named_function_for_symbolizing());
        let mut s = Symbolizer::new();
        // An interrupted PC on the function's very first byte names that function.
        let f = s.resolve(addr, false);
        assert!(
            f.iter()
                .any(|f| f.name.contains("a_named_function_for_symbolizing")),
            "{f:?}"
        );
        assert_eq!(s.cached(), 1);
        let again = s.resolve(addr, false);
        assert!(Arc::ptr_eq(&f, &again));
        assert!(!s.is_released());
        s.release();
        assert!(s.is_released());
        assert_eq!(s.cached(), 0);
        assert_eq!(s.resolve(addr, false), f, "the same answer after a release");
    }

    // Guards against: frames named by the line tables' unqualified names
    // (`a_named_function_for_symbolizing`) rather than the symbol table's path.
    #[test]
    #[cfg(target_os = "linux")]
    fn functions_are_named_with_their_path_file_and_line() {
        let addr = std::hint::black_box(a_named_function_for_symbolizing());
        let f = Symbolizer::new().resolve(addr, false);
        let outer = f.last().expect("a frame");
        assert_eq!(
            outer.name, "holmes_runtime::symbol::tests::a_named_function_for_symbolizing",
            "{f:?}"
        );
        assert!(
            outer
                .file
                .as_deref()
                .is_some_and(|p| p.ends_with("symbol/mod.rs")),
            "{f:?}"
        );
        assert!(outer.line.is_some_and(|l| l > 0), "{f:?}");
        assert_eq!(Symbolizer::executable_has_line_tables(), Some(true));
    }

    #[cfg(all(target_os = "linux", linux_stack_walk))]
    #[inline(always)]
    fn inlined_into_its_caller(out: &mut crate::stack::Stack) {
        crate::stack::capture_current(out);
    }

    #[cfg(all(target_os = "linux", linux_stack_walk))]
    #[inline(never)]
    fn caller_of_an_inlined_function(out: &mut crate::stack::Stack) {
        inlined_into_its_caller(out);
        std::hint::black_box(out);
    }

    // Guards against: inlined functions missing from the frames of an address (the
    // inline tree not walked, or the call site not carried to the caller's frame).
    #[test]
    #[cfg(all(target_os = "linux", linux_stack_walk))]
    fn inlined_functions_are_frames_of_their_own_innermost_first() {
        let mut st = crate::stack::Stack::empty();
        caller_of_an_inlined_function(&mut st);
        let mut sym = Symbolizer::new();
        let frames = st
            .ips()
            .iter()
            .map(|&ip| sym.resolve(ip, true))
            .find(|f| {
                f.iter()
                    .any(|f| f.name.ends_with("inlined_into_its_caller"))
            })
            .expect("a frame of the inlined function");
        let names: Vec<&str> = frames.iter().map(|f| f.name.as_str()).collect();
        let inner = names
            .iter()
            .position(|n| n.ends_with("inlined_into_its_caller"));
        let outer = names
            .iter()
            .position(|n| *n == "holmes_runtime::symbol::tests::caller_of_an_inlined_function");
        assert!(
            inner.is_some() && outer.is_some() && inner < outer,
            "{frames:?}"
        );
        // The caller's frame is at the call, in this file.
        let caller = &frames[outer.unwrap()];
        assert!(
            caller
                .file
                .as_deref()
                .is_some_and(|f| f.ends_with("symbol/mod.rs")),
            "{frames:?}"
        );
    }

    #[test]
    fn an_address_outside_any_object_is_named_by_itself() {
        let f = Symbolizer::new().resolve(0x10, false);
        assert_eq!(&*f, &[Frame::unnamed(0x10)]);
        assert!(!f[0].is_named());
    }
}
