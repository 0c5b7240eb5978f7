//! Helpers shared by the facade's integration tests: dump directories, `go tool pprof`,
//! byte patterns and heap snapshots. (The scenario tests, which run programs in child
//! processes, have theirs in `holmes-scenarios/tests/common`.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty directory for one test's dumps.
pub fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holmes-test-{}-{}", test, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `go tool pprof <args> <file>`; panics with the tool's stderr when it fails.
pub fn pprof(args: &[&str], file: &Path) -> String {
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", std::env::temp_dir())
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .expect("`go` not found: install golang-go (see .ci/run)");
    assert!(
        out.status.success(),
        "go tool pprof {:?} {} failed: {}",
        args,
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The function names of the first `n` rows of `go tool pprof -top` (flat order).
pub fn pprof_top_functions(file: &Path, extra: &[&str], n: usize) -> Vec<String> {
    let mut args = vec!["-top", "-nodecount=200"];
    args.extend_from_slice(extra);
    let text = pprof(&args, file);
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|l| {
            let name: Vec<&str> = l.split_whitespace().skip(5).collect();
            (!name.is_empty()).then(|| name.join(" "))
        })
        .take(n)
        .collect()
}

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
