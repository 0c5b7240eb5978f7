//! Copying the sample tables out (on a holmes thread) and turning the copy into a Go
//! heap profile.

use std::time::{Duration, Instant, SystemTime};

use super::{buckets, sampler, stats, table, HeapStats};

/// One call stack of a heap snapshot, with Go's four heap values, already unbiased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapEntry {
    /// Return addresses, innermost first (as captured: the allocator's own frames are
    /// trimmed when the profile is written).
    pub stack: Vec<usize>,
    /// Estimated allocations from this stack since the start.
    pub alloc_objects: u64,
    /// Estimated bytes allocated from this stack since the start.
    pub alloc_space: u64,
    /// Estimated live allocations from this stack.
    pub inuse_objects: u64,
    /// Estimated live bytes from this stack.
    pub inuse_space: u64,
    /// Raw live samples from this stack (not unbiased).
    pub sampled_inuse: u64,
}

/// A copy of the allocator's samples at one moment, see [`snapshot`].
#[derive(Clone, Debug)]
pub struct HeapSnapshot {
    entries: Vec<HeapEntry>,
    sample_rate: u64,
    taken_at: SystemTime,
    stats: HeapStats,
}

impl HeapSnapshot {
    /// One entry per stack that allocated at least one sampled block.
    pub fn entries(&self) -> &[HeapEntry] {
        &self.entries
    }

    /// Sample rate when the snapshot was taken (the profile's period).
    pub fn sample_rate(&self) -> u64 {
        self.sample_rate
    }

    /// Wall-clock time of the snapshot.
    pub fn taken_at(&self) -> SystemTime {
        self.taken_at
    }

    /// The allocator's counters at the time of the snapshot.
    pub fn stats(&self) -> HeapStats {
        self.stats
    }

    /// Estimated live bytes (sum of `inuse_space`).
    pub fn inuse_space(&self) -> u64 {
        self.entries.iter().map(|e| e.inuse_space).sum()
    }

    /// Estimated bytes allocated since the start (sum of `alloc_space`).
    pub fn alloc_space(&self) -> u64 {
        self.entries.iter().map(|e| e.alloc_space).sum()
    }

    /// The profile `go tool pprof` reads as a Go heap profile: sample types
    /// `alloc_objects/count`, `alloc_space/bytes`, `inuse_objects/count`,
    /// `inuse_space/bytes`, period type `space/bytes` with the sample rate as period,
    /// `inuse_space` shown by default. Symbolizes through `sym` (call it on the dumper
    /// thread). The innermost frames of the allocation machinery (`is_alloc_frame`:
    /// this allocator, the `__rust_alloc` shims, `alloc::alloc`, `RawVec`, the
    /// allocating constructors of `Vec`/`Box`) are dropped, inlined ones included, so
    /// the innermost frame — pprof's flat column — is the code that asked for memory
    /// (the user's, or the std container method it called), as Go drops `mallocgc`.
    #[cfg(unix)]
    pub fn to_profile(&self, sym: &mut crate::symbol::Symbolizer) -> crate::pprof::Profile {
        use crate::profile::ProfileBuilder;

        let mut b = ProfileBuilder::new(
            sym,
            &[
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes"),
            ],
            ("space", "bytes"),
            self.sample_rate as i64,
            "inuse_space",
        );
        for e in &self.entries {
            let values = [
                e.alloc_objects as i64,
                e.alloc_space as i64,
                e.inuse_objects as i64,
                e.inuse_space as i64,
            ];
            b.add_trimmed(&e.stack, false, &values, &[], is_alloc_frame);
        }
        let s = &self.stats;
        b.comment(&format!(
            "holmes heap profile: sample rate {} B, {} live samples, {} dropped samples, {} samples without room for their stack",
            self.sample_rate, s.live_samples, s.dropped_samples, s.dropped_stacks
        ));
        b.build()
    }
}

/// True for a frame of the allocation path, which says nothing about who allocated:
/// by where its code lives when the debug info says (holmes' `alloc` sources, the
/// toolchain's `alloc::alloc`, `RawVec`, `core::alloc` and `std::alloc` sources), so
/// that release builds, whose line tables name functions without their path
/// (`charge`, `alloc_slow`), are trimmed too; by name otherwise ([`is_machinery`]).
pub(crate) fn is_alloc_frame(f: &crate::symbol::Frame) -> bool {
    is_machinery(&f.name) || f.file.as_deref().is_some_and(is_alloc_source)
}

/// True for source files of the allocation path.
pub(crate) fn is_alloc_source(file: &str) -> bool {
    let file = file.replace('\\', "/");
    // holmes' allocator, in this build or as a dependency from a registry.
    if file.starts_with(concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/")) {
        return true;
    }
    if let Some(i) = file.rfind("/holmes-runtime") {
        // `…/holmes-runtime/src/alloc/` or `…/holmes-runtime-<version>/src/alloc/`
        let rest = &file[i + "/holmes-runtime".len()..];
        if let Some(j) = rest.find('/') {
            if rest[j..].starts_with("/src/alloc/") {
                return true;
            }
        }
    }
    // The toolchain's allocation sources (`/rustc/<hash>/library/...`).
    const TOOLCHAIN: &[&str] = &[
        "library/alloc/src/alloc.rs",
        "library/alloc/src/raw_vec.rs",
        "library/alloc/src/raw_vec/",
        "library/core/src/alloc/",
        "library/std/src/alloc.rs",
        "library/std/src/sys/alloc/",
    ];
    TOOLCHAIN.iter().any(|t| file.contains(t))
}

/// True for function names of the allocation path, whose frames say nothing about
/// who allocated.
pub(crate) fn is_machinery(name: &str) -> bool {
    let n = name.strip_prefix('<').unwrap_or(name);
    const PREFIXES: &[&str] = &[
        "holmes_runtime::alloc::",
        "__rust_",
        "__rustc::",
        "__rg_",
        "__rdl_",
        "__rg_alloc",
        "alloc::alloc::",
        "std::alloc::",
        "core::alloc::",
        "alloc::raw_vec::",
        "alloc::vec::Vec<T>::with_capacity",
        "alloc::vec::Vec<T,A>::with_capacity_in",
        "alloc::vec::from_elem",
        "alloc::boxed::Box<T>::new",
        "alloc::boxed::Box<T,A>::new_in",
        "alloc::string::String::with_capacity",
        "malloc",
        "calloc",
        "realloc",
    ];
    PREFIXES.iter().any(|p| n.starts_with(p))
        || n.contains(" as alloc::vec::spec_from_elem::SpecFromElem>")
}

/// Copies the live samples and the per-stack cumulative counts out of the allocator's
/// tables. Runs on a holmes thread and allocates; allocating threads are never
/// blocked by it (the tables are read with atomics, no lock).
pub fn snapshot() -> HeapSnapshot {
    let stats = stats();
    let copies = buckets::copy_all();
    // bucket index -> entry index
    let mut index = vec![u32::MAX; buckets::MAX_BUCKETS];
    let mut entries: Vec<HeapEntry> = Vec::with_capacity(copies.len());
    for c in copies {
        if let Some(slot) = index.get_mut(c.index as usize) {
            *slot = entries.len() as u32;
        }
        entries.push(HeapEntry {
            stack: c.stack,
            alloc_objects: c.est_count / sampler::COUNT_ONE,
            alloc_space: c.est_bytes,
            ..HeapEntry::default()
        });
    }
    let mut inuse_count = vec![0u64; entries.len()];
    table::for_each_live(|_, rec| {
        let Some(&i) = index.get(rec.bucket as usize) else {
            return;
        };
        // A sample whose bucket was created after the copy above: skip it.
        if let Some(e) = entries.get_mut(i as usize) {
            e.inuse_space += rec.est_bytes;
            e.sampled_inuse += 1;
            inuse_count[i as usize] += rec.est_count;
        }
    });
    for (e, c) in entries.iter_mut().zip(inuse_count) {
        e.inuse_objects = c / sampler::COUNT_ONE;
    }
    HeapSnapshot {
        entries,
        sample_rate: stats.sample_rate,
        taken_at: SystemTime::now(),
        stats,
    }
}

/// Snapshots the heap at its peak: takes a snapshot, then keeps snapshotting every
/// 10 ms while the live estimate keeps rising, and returns the snapshot with the
/// largest live estimate. Stops when the estimate has not risen for 50 ms or after
/// `max_wait`. Call it right after [`super::wait_trigger`] returned.
pub fn snapshot_peak(max_wait: Duration) -> HeapSnapshot {
    let start = Instant::now();
    let mut best = snapshot();
    let mut best_live = best.inuse_space();
    let mut last_rise = Instant::now();
    while start.elapsed() < max_wait && last_rise.elapsed() < Duration::from_millis(50) {
        std::thread::sleep(Duration::from_millis(10));
        let live = stats().live_bytes_estimate;
        if live > best_live {
            let s = snapshot();
            let l = s.inuse_space();
            if l > best_live {
                best = s;
                best_live = l;
                last_rise = Instant::now();
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machinery_names() {
        for n in [
            "<holmes_runtime::alloc::Allocator<A> as core::alloc::global::GlobalAlloc>::alloc",
            "holmes_runtime::alloc::Allocator<A>::alloc_slow",
            "__rustc::__rust_alloc",
            "__rust_alloc",
            "alloc::alloc::alloc",
            "<alloc::alloc::Global as core::alloc::Allocator>::allocate",
            "alloc::raw_vec::RawVecInner<A>::try_allocate_in",
            "alloc::vec::Vec<T>::with_capacity",
            "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem",
        ] {
            assert!(is_machinery(n), "{n}");
        }
        for n in [
            "alloc_accuracy::retain_64mib",
            "alloc::vec::Vec<T,A>::push",
            "std::collections::hash::map::HashMap<K,V,S>::insert",
            "main",
        ] {
            assert!(!is_machinery(n), "{n}");
        }
    }

    // Guards against: release heap profiles putting 100 % flat on `charge (inline)`:
    // line tables name holmes' allocator functions without their path.
    #[test]
    fn allocator_frames_by_file() {
        use crate::symbol::Frame;
        let frame = |name: &str, file: Option<&str>| Frame {
            name: name.into(),
            file: file.map(Into::into),
            line: Some(1),
        };
        let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/mod.rs");
        let lib = "/rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library";
        for f in [
            frame("charge", Some(own)),
            frame("alloc_slow", Some("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/holmes-runtime-0.1.0/src/alloc/sampler.rs")),
            frame("alloc", Some(&format!("{lib}/alloc/src/alloc.rs"))),
            frame("grow_amortized<alloc::alloc::Global>", Some(&format!("{lib}/alloc/src/raw_vec/mod.rs"))),
            frame("__rust_alloc", None),
            frame("holmes_runtime::alloc::sampler::record", None),
        ] {
            assert!(is_alloc_frame(&f), "{f:?}");
        }
        for f in [
            frame(
                "from_elem<u8>",
                Some(&format!("{lib}/alloc/src/vec/mod.rs")),
            ),
            frame(
                "insert<u64, u64>",
                Some(&format!("{lib}/std/src/collections/hash/map.rs")),
            ),
            frame("make_1gb_handler", Some("/srv/app/src/main.rs")),
            frame("charge", Some("/srv/app/src/billing.rs")),
            frame("charge", None),
        ] {
            assert!(!is_alloc_frame(&f), "{f:?}");
        }
    }
}
