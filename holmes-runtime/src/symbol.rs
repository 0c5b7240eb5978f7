//! Turning code addresses into function names, files and lines — off the hot path.
//!
//! Stacks are captured as raw addresses (allocator, signal handlers) and symbolized
//! later on the dumper thread through [`Symbolizer`], which caches every address it has
//! resolved: a process's stacks repeat, so after the first dump resolution is mostly
//! cache hits. Resolution uses the `backtrace` crate (DWARF line tables), which may
//! allocate and lock, so it must never be called from a signal handler or an allocator.

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
