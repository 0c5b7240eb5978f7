//! The runtime of [holmes](https://docs.rs/holmes-profiler): a process watches its own CPU,
//! memory, heap, threads and tokio tasks and, when one spikes, captures the matching profile to disk.
//!
//! Use it through the `holmes` facade crate. Layout: [`sample`] (metrics and cgroup
//! limits), [`rule`] (rings and the trigger rule), [`dump`] (the dumper thread, file
//! writing, CPU profiles, thread and task dumps), [`alloc`] (the sampling allocator and
//! heap profiles), [`stack`] and [`symbol`] (stack capture and symbolization), [`objects`]
//! (the loaded executable and shared objects, for the profiles' mappings).
#![warn(missing_docs)]

pub mod alloc;
pub mod bounds;
mod clock;
mod config;
pub mod dump;
mod error;
mod escape;
mod event;
mod fork;
mod guard;
mod limit;
pub mod objects;
pub mod report;
pub mod rule;
pub mod sample;
pub mod stack;
mod state;
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
pub use guard::{Guard, Holmes, FLUSH_TIMEOUT};
pub use report::{
    HttpReporter, LogReporter, PyroscopeReporter, Report, ReportError, ReportFile, ReportStats,
    Reporter,
};
pub use rule::{DumpLimit, FireReason, Metric, Rule};
pub use sample::limits::{LimitSource, Limits};
pub use stack::StackWalk;
pub use state::{MetricStatus, RuleState, Status};
