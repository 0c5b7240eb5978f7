//! Reporters: ship each dump to a fleet backend (an HTTP endpoint, Grafana Pyroscope, a
//! log), so the evidence of a thousand services lands in one place instead of a thousand
//! local disks.
//!
//! # Design
//!
//! - **A dedicated thread behind a bounded queue.** The dumper hands a [`Report`] (the
//!   [`DumpEvent`] and its files' bytes) to the `holmes-reporter` thread with a
//!   non-blocking `try_send`. When the queue is full the report is **dropped and
//!   counted** instead of blocking: a slow or dead backend must never delay sampling or
//!   dumping, and the files are on disk anyway. Reporters run one report at a time, in
//!   order, on that thread.
//! - **A panicking reporter does not kill the thread.** Every call is wrapped in
//!   `catch_unwind`; a panic is logged and counted as a failure, and the next report is
//!   delivered as usual.
//! - **Every network call is bounded.** The built-in HTTP reporters use a blocking client
//!   with one end-to-end timeout per attempt (default 10 s: DNS, connect, TLS, request,
//!   response) — the Go library's uploader had none. Redirects are not followed (they
//!   would drop the `Authorization` header or turn the POST into a GET).
//! - **Retries are bounded and selective.** A failed attempt is retried (default 2 more
//!   attempts, exponential backoff from 250 ms with jitter, capped at 8 s; a
//!   `Retry-After` of up to 10 s is honoured) only when retrying can help: transport
//!   failures (connection refused or reset, timeouts, DNS) and HTTP 5xx, 429 and 408.
//!   Other 4xx answers (bad token, bad request) and TLS certificate errors fail at once.
//!   The worst case for one file is thus `(retries + 1) × timeout` plus the backoff.
//! - **Shutdown is bounded.** Stopping holmes stops accepting, lets the thread
//!   deliver what is queued within a timeout, then detaches it; what it could not deliver
//!   is counted as dropped.
//!
//! # Built-ins
//!
//! - [`LogReporter`]: one info line per dump (target `holmes`).
//! - [`HttpReporter`]: the Go library's multipart upload (`profile`, `token`,
//!   `profile_type`, `event_id`, `comment`), one POST per pprof file.
//! - [`PyroscopeReporter`]: pushes the pprof files to Pyroscope's `/ingest` API with basic
//!   or bearer auth and a tenant header.
//!
//! Write your own by implementing [`Reporter`].

pub(crate) mod client;
mod http;
mod logging;
mod multipart;
mod pyroscope;
mod queue;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use crate::error::ReportError;
use crate::event::{DumpEvent, DumpKind};

pub use self::http::HttpReporter;
pub use self::logging::LogReporter;
pub use self::pyroscope::PyroscopeReporter;
pub(crate) use self::queue::ReportQueue;
pub use self::queue::ReportStats;

/// One dump handed to reporters: the event and the bytes of every file it wrote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// Why the dump was taken and what it captured.
    pub event: DumpEvent,
    /// The files of the dump with their contents, in the order they were written.
    pub files: Vec<ReportFile>,
}

impl Report {
    /// A report of `event` with `files`.
    pub fn new(event: DumpEvent, files: Vec<ReportFile>) -> Report {
        Report { event, files }
    }

    /// The pprof files of the dump (`.pb.gz`, the heap baseline `.base.pb.gz` included).
    pub fn pprof_files(&self) -> impl Iterator<Item = &ReportFile> {
        self.files.iter().filter(|f| f.is_pprof() || f.is_base())
    }

    /// A report for tests outside this crate, where [`DumpEvent`] cannot be built: a
    /// `kind` dump numbered `id`, fired at `time`, whose capture took `capture_duration`.
    #[doc(hidden)]
    pub fn for_test(
        id: u64,
        kind: DumpKind,
        time: SystemTime,
        capture_duration: Duration,
        files: Vec<(PathBuf, Vec<u8>)>,
    ) -> Report {
        use crate::rule::FireReason;
        let metric = kind.metric();
        let files: Vec<ReportFile> = files
            .into_iter()
            .map(|(path, bytes)| ReportFile::new(path, bytes))
            .collect();
        // A struct literal on purpose: a field added to `DumpEvent` must be set here too.
        let event = DumpEvent {
            id,
            kind,
            metric,
            reason: FireReason::AboveAbs,
            value: 90.0,
            average: 30.0,
            ring: vec![10.0, 20.0, 90.0],
            rule: crate::Rule::new(10, 25, 80),
            time,
            capture_duration,
            capture_cpu_percent: None,
            top: Vec::new(),
            top_total: 0,
            culprit: Some("app::handler".into()),
            files: files.iter().map(|f| f.path.clone()).collect(),
            error: None,
            cascade_of: None,
        };
        Report { event, files }
    }
}

/// One file of a dump and its contents.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReportFile {
    /// Where the dumper wrote it.
    pub path: PathBuf,
    /// Its contents (shared: every reporter sees the same bytes, nothing is copied).
    pub bytes: Arc<[u8]>,
}

impl ReportFile {
    /// A file at `path` holding `bytes`.
    pub fn new(path: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> ReportFile {
        ReportFile {
            path: path.into(),
            bytes: bytes.into(),
        }
    }

    /// The file name (the last component of the path; empty if it is not UTF-8).
    pub fn file_name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }

    /// A gzipped pprof profile (`.pb.gz`) that is not a heap baseline.
    pub fn is_pprof(&self) -> bool {
        self.file_name().ends_with(".pb.gz") && !self.is_base()
    }

    /// The heap baseline written next to a heap dump (`<stem>.base.pb.gz`, or
    /// `<stem>.base-<n>.pb.gz` when the dumper had to pick a free name).
    pub fn is_base(&self) -> bool {
        let Some(stem) = self.file_name().strip_suffix(".pb.gz") else {
            return false;
        };
        // The writer resolves name clashes by appending `-<n>` to the stem.
        let stem = match stem.rsplit_once('-') {
            Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
            _ => stem,
        };
        stem.ends_with(".base")
    }

    /// A text report (`.txt`).
    pub fn is_text(&self) -> bool {
        self.file_name().ends_with(".txt")
    }

    /// The MIME type of the file, from its extension (`application/octet-stream` for
    /// pprof files, as the Go library's uploader sends them).
    pub fn content_type(&self) -> &'static str {
        let name = self.file_name();
        if name.ends_with(".txt") {
            "text/plain; charset=utf-8"
        } else if name.ends_with(".svg") {
            "image/svg+xml"
        } else {
            "application/octet-stream"
        }
    }
}

/// Receives every dump on the `holmes-reporter` thread.
///
/// Implementations may block (network, disk): they delay only later reports, never the
/// service or the sampler. A report that arrives while the queue is full is dropped
/// before any reporter sees it.
///
/// # Delivery
///
/// - **A dedicated thread behind a bounded queue.** The dumper hands a [`Report`] (the
///   [`DumpEvent`] and its files' bytes) to the `holmes-reporter` thread with a
///   non-blocking `try_send`. When the queue is full the report is **dropped and
///   counted** instead of blocking: a slow or dead backend must never delay sampling or
///   dumping, and the files are on disk anyway. Reporters run one report at a time, in
///   order, on that thread.
/// - **A panicking reporter does not kill the thread.** Every call is wrapped in
///   `catch_unwind`; a panic is logged and counted as a failure, and the next report is
///   delivered as usual.
/// - **Every network call is bounded.** The built-in HTTP reporters use a blocking client
///   with one end-to-end timeout per attempt (default 10 s: DNS, connect, TLS, request,
///   response) — the Go library's uploader had none. Redirects are not followed (they
///   would drop the `Authorization` header or turn the POST into a GET).
/// - **Retries are bounded and selective.** A failed attempt is retried (default 2 more
///   attempts, exponential backoff from 250 ms with jitter, capped at 8 s; a
///   `Retry-After` of up to 10 s is honoured) only when retrying can help: transport
///   failures (connection refused or reset, timeouts, DNS) and HTTP 5xx, 429 and 408.
///   Other 4xx answers (bad token, bad request) and TLS certificate errors fail at once.
///   The worst case for one file is thus `(retries + 1) × timeout` plus the backoff.
/// - **Shutdown is bounded.** Stopping holmes stops accepting, lets the thread
///   deliver what is queued within a timeout, then detaches it; what it could not deliver
///   is counted as dropped.
///
pub trait Reporter: Send + 'static {
    /// A short name for logs and counters.
    fn name(&self) -> &str;

    /// Called on the `holmes-reporter` thread, one report at a time. Errors are logged
    /// and counted; a panic is caught, logged and counted as a failure.
    fn report(&mut self, report: &Report) -> Result<(), ReportError>;

    /// Called by `start()`, before any report: a reporter that cannot work as
    /// configured says so here, and `start()` fails with
    /// [`Error::Reporter`](crate::Error::Reporter) instead of the first dump's upload
    /// failing, maybe days later. The built-in HTTP reporters refuse an `https://` URL
    /// in a build without TLS ([`ReportError::TlsUnavailable`]). The default accepts.
    fn check(&self) -> Result<(), ReportError> {
        Ok(())
    }
}

impl<R: Reporter + ?Sized> Reporter for Box<R> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn report(&mut self, report: &Report) -> Result<(), ReportError> {
        (**self).report(report)
    }

    fn check(&self) -> Result<(), ReportError> {
        (**self).check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> ReportFile {
        ReportFile::new(PathBuf::from("/tmp/holmes").join(name), b"x".to_vec())
    }

    #[test]
    fn file_kinds_from_names() {
        let p = file("heap.20260101-000000.000.42.pb.gz");
        assert!(p.is_pprof() && !p.is_base() && !p.is_text());
        let b = file("heap.20260101-000000.000.42.base.pb.gz");
        assert!(b.is_base() && !b.is_pprof());
        // The writer's clash suffix must not turn a baseline into a plain profile.
        let b1 = file("heap.20260101-000000.000.42.base-1.pb.gz");
        assert!(b1.is_base() && !b1.is_pprof());
        let p1 = file("heap.20260101-000000.000.42-3.pb.gz");
        assert!(p1.is_pprof() && !p1.is_base());
        let t = file("threads.20260101-000000.000.42.txt");
        assert!(t.is_text() && !t.is_pprof());
        assert_eq!(t.content_type(), "text/plain; charset=utf-8");
        assert_eq!(t.file_name(), "threads.20260101-000000.000.42.txt");
    }

    #[test]
    fn pprof_files_include_the_baseline() {
        let r = Report::for_test(
            1,
            DumpKind::Heap,
            SystemTime::now(),
            Duration::ZERO,
            vec![
                ("/d/heap.x.pb.gz".into(), vec![1]),
                ("/d/heap.x.base.pb.gz".into(), vec![2]),
                ("/d/heap.x.txt".into(), vec![3]),
            ],
        );
        let names: Vec<&str> = r.pprof_files().map(|f| f.file_name()).collect();
        assert_eq!(names, ["heap.x.pb.gz", "heap.x.base.pb.gz"]);
    }
}
