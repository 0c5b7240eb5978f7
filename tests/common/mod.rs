//! Helpers shared by the facade's integration tests: dump directories, `go tool pprof`,
//! byte patterns and heap snapshots. (The scenario tests, which run programs in child
//! processes, have theirs in `holmes-scenarios/tests/common`.)
#![allow(dead_code)]

mod shared;

// Not every test binary uses them.
#[allow(unused_imports)]
pub use shared::*;

/// Writes a recognisable byte pattern (depending on `seed` and the offset) into
/// `len` bytes at `p`; [`check_pattern`] verifies it.
///
/// # Safety
/// `p` must be valid for writes of `len` bytes.
pub unsafe fn fill_pattern(p: *mut u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: `p` has at least `len` bytes (caller's contract).
        unsafe { p.add(i).write(seed.wrapping_add((i % 251) as u8)) };
    }
}

/// Panics unless the `len` bytes at `p` hold [`fill_pattern`]'s pattern for `seed`.
///
/// # Safety
/// `p` must be valid for reads of `len` bytes.
pub unsafe fn check_pattern(p: *const u8, len: usize, seed: u8) {
    for i in 0..len {
        // SAFETY: `p` has at least `len` bytes (caller's contract).
        let b = unsafe { p.add(i).read() };
        assert_eq!(b, seed.wrapping_add((i % 251) as u8), "byte {i} of {len}");
    }
}

/// Sum of `field` over the entries of a heap snapshot whose stack has a frame named
/// `func`.
pub fn by_func(
    snap: &holmes_runtime::alloc::HeapSnapshot,
    sym: &mut holmes_runtime::symbol::Symbolizer,
    func: &str,
    field: fn(&holmes_runtime::alloc::HeapEntry) -> u64,
) -> u64 {
    snap.entries()
        .iter()
        .filter(|e| {
            e.stack
                .iter()
                .any(|&ip| sym.resolve(ip, true).iter().any(|f| f.name.contains(func)))
        })
        .map(field)
        .sum()
}
