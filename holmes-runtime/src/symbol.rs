//! Turning code addresses into function names, files and lines — off the hot path.
//!
//! Stacks are captured as raw addresses (allocator, signal handlers) and symbolized
//! later on the dumper thread through [`Symbolizer`], which caches every address it has
//! resolved: a process's stacks repeat, so after the first dump resolution is mostly
//! cache hits. Resolution uses the `backtrace` crate (DWARF line tables), which may
//! allocate and lock, so it must never be called from a signal handler or an allocator.
//!
//! `backtrace` keeps its caches behind one process-wide lock. In the child of a `fork()`
//! taken while a holmes thread was resolving, that lock is held by a thread that does not
//! exist there, so every [`Symbolizer`] of that child names frames by address only
//! (`0x…`; the pprof files keep their addresses) instead of waiting forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Calls of holmes' into `backtrace` in progress.
static RESOLVING: AtomicUsize = AtomicUsize::new(0);
/// Set in the child of a fork taken while `RESOLVING` was non-zero.
static LOCK_LOST_IN_FORK: AtomicBool = AtomicBool::new(false);

/// In the child of a `fork()` (see `crate::fork`): a resolution that was in progress in
/// the parent left `backtrace`'s lock held for good. Async-signal-safe: atomics only.
pub(crate) fn reset_after_fork() {
    if RESOLVING.swap(0, Ordering::SeqCst) != 0 {
        LOCK_LOST_IN_FORK.store(true, Ordering::SeqCst);
    }
}

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
}

/// `backtrace`'s frames for `lookup` (a return address), named `addr` when unnamed.
fn resolve_into(lookup: usize, addr: usize, frames: &mut Vec<Frame>) {
    backtrace::resolve(lookup as *mut std::ffi::c_void, |sym| {
        let name = match sym.name() {
            Some(n) => format!("{n:#}"),
            None => format!("{addr:#x}"),
        };
        frames.push(Frame {
            name,
            file: sym.filename().map(|p| p.display().to_string()),
            line: sym.lineno(),
        });
    });
}

/// Address-to-frames resolver with a cache. One per dumper thread; it is `Send`, so it can be built anywhere.
#[derive(Default)]
pub struct Symbolizer {
    cache: HashMap<usize, Arc<[Frame]>>,
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
        // `backtrace::resolve` looks up `addr - 1` itself (it expects return addresses):
        // pass an interrupted PC as `pc + 1` so that the PC itself is looked up.
        let lookup = if is_return_address {
            addr
        } else {
            addr.saturating_add(1)
        };
        if let Some(hit) = self.cache.get(&lookup) {
            return hit.clone();
        }
        let mut frames = Vec::new();
        RESOLVING.fetch_add(1, Ordering::SeqCst);
        if !LOCK_LOST_IN_FORK.load(Ordering::SeqCst) {
            resolve_into(lookup, addr, &mut frames);
        }
        RESOLVING.fetch_sub(1, Ordering::SeqCst);
        if frames.is_empty() {
            frames.push(Frame {
                name: format!("{addr:#x}"),
                file: None,
                line: None,
            });
        }
        let frames: Arc<[Frame]> = frames.into();
        self.cache.insert(lookup, frames.clone());
        frames
    }

    /// Number of cached addresses.
    pub fn cached(&self) -> usize {
        self.cache.len()
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
    }
}
