//! holmes: a service profiles itself the moment its CPU, memory, threads or heap spike.
//!
//! Put [`watch`] on `main`. Holmes samples the process every `interval`, and when a rule
//! fires it writes the matching profile (a CPU profile for `cpu`, …) to the dump
//! directory, so the evidence exists even after the process was restarted.
//!
//! ```rust,no_run
//! #[holmes::watch(cpu(10, 25, 80), cooldown = "1m", dump_dir = "/var/tmp/holmes")]
//! fn main() {
//!     // … the service; holmes runs until `main` returns.
//! }
//! ```
//!
//! With tokio, above or below `#[tokio::main]`, and with `?` in the body:
//!
//! ```rust,no_run
//! #[holmes::watch(cpu(10, 25, 80, cooldown = "30s"), interval = "2s", dump_dir = "/var/tmp/holmes")]
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let port: u16 = "8080".parse()?;
//!     # let _ = port;
//!     Ok(())
//! }
//! ```
//!
//! The attribute is the same as building holmes by hand and keeping the guard alive:
//!
//! ```rust,no_run
//! use std::time::Duration;
//!
//! fn main() -> Result<(), holmes::Error> {
//!     let _guard = holmes::Holmes::builder()
//!         .interval(Duration::from_secs(2))
//!         .dump_dir("/var/tmp/holmes")
//!         .cpu(holmes::Rule::new(10, 25, 80).cooldown(Duration::from_secs(30)))
//!         .start()?;
//!     // … the service
//!     Ok(())
//! }
//! ```
//!
//! One difference: if holmes cannot start (say the dump directory cannot be created),
//! the attribute logs the error (target `holmes`) and lets the program run without
//! holmes, unless it says `on_error = "panic"`. See [`watch`] for every argument.
//!
//! # What is here
//!
//! - Setup: [`watch`], [`Builder`] (from [`Holmes::builder`]), [`Rule`], [`Guard`]
//!   (live [`Status`], [`Guard::update`]), [`Error`]; [`bounds`] of every setting and
//!   [`ENV_VARS`], the `HOLMES_*` variables that override them.
//! - What a dump is: [`DumpEvent`] (why, what was written, the culprit), [`DumpKind`].
//! - Heap profiles: [`Allocator`], the sampling global allocator (the attribute installs
//!   it for `mem` and `heap` rules).
//! - On demand: [`profile_cpu`], [`profile_heap`], [`profile_threads`] and, with the
//!   `tokio` feature, `profile_tasks`, each a [`Profile`] written as pprof, text or SVG;
//!   [`Handle::dump_now`] takes a dump through holmes' pipeline (files, reporters), and
//!   [`Handle::current`] reaches the holmes `#[holmes::watch]` started. The raw captures:
//!   [`dump_threads`] and, with `tokio`, `dump_tasks`.
//! - A debug endpoint (feature `http`): `holmes::http::router()`, an axum router serving
//!   `/debug/pprof/profile`, `/debug/pprof/heap`, … and a page at `/debug/holmes/`.
//! - Shipping dumps elsewhere: [`Reporter`], with [`HttpReporter`], [`PyroscopeReporter`]
//!   and [`LogReporter`].
//! - Optional: with the `serde` feature [`Status`] and [`DumpEvent`] implement
//!   `serde::Serialize`; with `tracing` every dump is also a `tracing` event (target
//!   `holmes`), besides its `log` line.
//!
//! The CPU profile, heap profile and stack captures are Linux-only (x86_64, aarch64);
//! elsewhere holmes compiles, samples what the platform reports, and says a capture is
//! unsupported there.
#![warn(missing_docs)]

pub use holmes_macros::watch;
/// The debug endpoint (feature `http`): an axum router with profiles on demand, holmes'
/// status, metrics, dumps and a page.
#[cfg(feature = "http")]
pub use holmes_runtime::http;
#[cfg(feature = "tokio")]
pub use holmes_runtime::profile_tasks;
pub use holmes_runtime::Allocator;
#[cfg(feature = "tokio")]
pub use holmes_runtime::{alive_tasks, dump_tasks, TaskDump, TaskDumpError};
pub use holmes_runtime::{
    bounds, default_dump_dir, Builder, DumpLimit, Error, FireReason, Format, Guard, Handle, Holmes,
    Metric, Result, Retention, Rule, StackWalk, ENV_VARS, FLUSH_TIMEOUT,
};
pub use holmes_runtime::{
    dump_threads, dump_threads_with_timeout, CaptureError, StackStatus, ThreadDump, ThreadInfo,
    ThreadState,
};
pub use holmes_runtime::{profile_cpu, profile_heap, profile_threads, Profile, ProfileError};
pub use holmes_runtime::{
    DumpEvent, DumpKind, LimitSource, Limits, MetricStatus, RuleState, Status, TopEntry,
};
pub use holmes_runtime::{
    HttpReporter, LogReporter, PyroscopeReporter, Report, ReportError, ReportFile, ReportStats,
    Reporter,
};

/// What `#[holmes::watch]` expands to calls; not API.
#[doc(hidden)]
pub use holmes_runtime::__private;
