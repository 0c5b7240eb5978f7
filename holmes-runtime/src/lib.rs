//! The runtime of [holmes](https://docs.rs/holmes-profiler): a process watches its own CPU,
//! memory, heap, threads and tokio tasks and, when one spikes, captures the matching profile
//! to disk.
//!
//! Depend on `holmes-profiler` (library name `holmes`), which re-exports this crate's API:
//! the items at its root. The hidden modules are for holmes' own tests and benchmarks and
//! change with any release.
#![warn(missing_docs)]

// The modules holmes' own tests and benchmarks reach into; not API (the facade
// re-exports what users call, and only that).
#[doc(hidden)]
pub mod alloc;
pub mod bounds;
mod clock;
mod config;
#[doc(hidden)]
pub mod dump;
mod error;
mod escape;
mod event;
mod fork;
mod futex;
mod guard;
#[cfg(feature = "http")]
pub mod http;
mod limit;
#[doc(hidden)]
pub mod objects;
mod on_demand;
#[doc(hidden)]
pub mod pprof;
#[doc(hidden)]
pub mod profile;
mod report;
mod rule;
#[doc(hidden)]
pub mod sample;
#[cfg(feature = "serde")]
mod serde_util;
#[doc(hidden)]
pub mod stack;
mod state;
#[doc(hidden)]
pub mod symbol;
mod watch;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use alloc::Allocator;
pub use config::{default_dump_dir, Builder, Format, Retention, ENV_VARS};
#[cfg(feature = "tokio")]
pub use dump::tasks::{alive_tasks, dump_tasks, TaskDump, TaskDumpError};
pub use dump::threads::{
    dump_threads, dump_threads_with_timeout, CaptureError, StackStatus, ThreadDump, ThreadInfo,
    ThreadState,
};
pub use error::{Error, Result};
pub use event::{DumpEvent, DumpKind, TopEntry};
pub use guard::{Guard, Handle, Holmes, FLUSH_TIMEOUT};
#[cfg(feature = "tokio")]
pub use on_demand::profile_tasks;
pub use on_demand::{profile_cpu, profile_heap, profile_threads, Profile, ProfileError};
pub use report::{
    HttpReporter, LogReporter, PyroscopeReporter, Report, ReportError, ReportFile, ReportStats,
    Reporter,
};
pub use rule::{DumpLimit, FireReason, Metric, Rule};
pub use sample::limits::{LimitSource, Limits};
pub use stack::StackWalk;
pub use state::{MetricStatus, RuleState, Status};
