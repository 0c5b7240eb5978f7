//! Tokio task dumps (feature `tokio`): what every task of a runtime is waiting on.
//!
//! - [`alive_tasks`] reads the runtime's alive-task count from tokio's stable metrics
//!   (`RuntimeMetrics::num_alive_tasks`), cheap enough for every sampler tick.
//! - [`dump_tasks`] captures the tasks. With tokio's task-dump support compiled in, it
//!   is tokio's own [`Handle::dump`](tokio::runtime::Handle) — each task's trace, down to
//!   the leaf future it is parked on — bounded by a timeout. Without it, it falls back
//!   to a [thread dump](crate::dump::threads) plus the runtime's metrics, and says how to
//!   turn task dumps on.
//!
//! # Turning task dumps on
//! Task dumps need tokio's unstable `taskdump` feature, on Linux (x86, x86_64, aarch64,
//! s390x):
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" cargo build --features holmes-runtime/taskdump
//! ```
//! (Setting `RUSTFLAGS` replaces any `build.rustflags` of a `.cargo/config.toml`: a
//! build that forces frame pointers there repeats `-C force-frame-pointers=yes`.)
//! Without `--cfg tokio_unstable`, the `taskdump`
//! feature compiles but stays inert and [`dump_tasks`] falls back.
//!
//! # Costs and rules
//! `Handle::dump` runs inside the runtime: tokio polls every task once in a tracing
//! mode, which needs every worker to reach the scheduler (it can wait up to the dump's
//! timeout on a worker blocked in synchronous code). The request is spawned onto the
//! runtime and its result comes back over a std channel, so the caller (the dumper
//! thread) waits at most `timeout`; a late dump is dropped. Symbolizing the traces
//! parses debug info and is done on the caller's thread, never on a runtime worker.
//! Do not call [`dump_tasks`] from a worker thread of the runtime it dumps: it blocks
//! that worker until the timeout.
// `tokio_unstable` is a cfg set through RUSTFLAGS, unknown to `check-cfg`.
#![allow(unexpected_cfgs)]

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Handle;

use crate::dump::profile::ProfileBuilder;
use crate::dump::threads::{CaptureError, ThreadDump};
use crate::symbol::Symbolizer;

/// How to turn task dumps on, shown when they are off.
pub const TASK_DUMP_HINT: &str = "tokio task dumps are off in this build: build with \
RUSTFLAGS=\"--cfg tokio_unstable\" and holmes's `taskdump` \
feature (tokio's `taskdump`, Linux x86/x86_64/aarch64/s390x only) to see each task's trace";

/// True when this build can take tokio task dumps (see the [module docs](self)).
pub const fn task_dumps_supported() -> bool {
    cfg!(tokio_task_dumps)
}

/// Number of tasks alive in the runtime (spawned and not yet completed), from tokio's
/// stable metrics. Cheap: one atomic load per worker.
pub fn alive_tasks(handle: &Handle) -> usize {
    handle.metrics().num_alive_tasks()
}

/// The runtime's metrics as text: flavor, workers, alive tasks, global queue depth, and
/// with `--cfg tokio_unstable` the blocking pool and spawn counters.
pub fn runtime_metrics_text(handle: &Handle) -> String {
    let m = handle.metrics();
    let mut out = String::new();
    let _ = writeln!(out, "tokio runtime: {:?}", handle.runtime_flavor());
    let _ = writeln!(out, "  workers: {}", m.num_workers());
    let _ = writeln!(out, "  alive tasks: {}", m.num_alive_tasks());
    let _ = writeln!(out, "  global queue depth: {}", m.global_queue_depth());
    #[cfg(tokio_unstable)]
    {
        let _ = writeln!(
            out,
            "  blocking threads: {} ({} idle), blocking queue depth: {}",
            m.num_blocking_threads(),
            m.num_idle_blocking_threads(),
            m.blocking_queue_depth()
        );
        let _ = writeln!(
            out,
            "  tasks spawned since start: {}",
            m.spawned_tasks_count()
        );
        for w in 0..m.num_workers() {
            let _ = writeln!(
                out,
                "  worker {w}: local queue {}, polls {}, parks {}, busy {:.2?}",
                m.worker_local_queue_depth(w),
                m.worker_poll_count(w),
                m.worker_park_count(w),
                m.worker_total_busy_duration(w)
            );
        }
    }
    out
}

/// Why a task dump could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskDumpError {
    /// tokio's dump did not complete in time (a worker blocked in synchronous code,
    /// or the runtime is overloaded).
    #[error("tokio task dump did not complete within {timeout:?}")]
    Timeout {
        /// The bound that elapsed.
        timeout: Duration,
    },
    /// The dump request was dropped without an answer (the runtime is shutting down).
    #[error("the tokio runtime dropped the task-dump request (shutting down?)")]
    RuntimeGone,
    /// Without task-dump support, the fallback thread dump failed.
    #[error("task dumps are off and the fallback thread dump failed")]
    Threads(#[source] CaptureError),
}

/// One task of a tokio task dump.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskTrace {
    /// tokio's task id, when tokio exposes it (`--cfg tokio_unstable`).
    pub id: Option<String>,
    /// tokio's rendering of the task's trace (a tree from the task's root future to the
    /// leaf futures it waits on).
    pub trace: String,
    /// One backtrace per leaf future the task waits on, each as function names,
    /// innermost first.
    pub backtraces: Vec<Vec<String>>,
}

/// What a task dump contains.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TaskDumpContent {
    /// tokio's task dump: every task's trace.
    Tasks(Vec<TaskTrace>),
    /// Task dumps are off in this build ([`TASK_DUMP_HINT`]): the threads instead.
    Threads(ThreadDump),
}

/// A capture of a tokio runtime's tasks.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskDump {
    /// When the capture began.
    pub captured_at: SystemTime,
    /// How long it took, including symbolizing the traces.
    pub capture_duration: Duration,
    /// Alive tasks when the capture began.
    pub alive_tasks: usize,
    /// [`runtime_metrics_text`] when the capture began.
    pub metrics: String,
    /// The traces, or the fallback thread dump.
    pub content: TaskDumpContent,
}

/// Captures the tasks of the runtime behind `handle`, waiting at most `timeout`
/// (tokio's dump, or the fallback thread dump). See the [module docs](self).
pub fn dump_tasks(handle: &Handle, timeout: Duration) -> Result<TaskDump, TaskDumpError> {
    let captured_at = SystemTime::now();
    let started = Instant::now();
    let alive = alive_tasks(handle);
    let metrics = runtime_metrics_text(handle);
    let content = capture_content(handle, timeout)?;
    Ok(TaskDump {
        captured_at,
        capture_duration: started.elapsed(),
        alive_tasks: alive,
        metrics,
        content,
    })
}

#[cfg(tokio_task_dumps)]
fn capture_content(handle: &Handle, timeout: Duration) -> Result<TaskDumpContent, TaskDumpError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let h = handle.clone();
    handle.spawn(async move {
        let dump = h.dump().await;
        let _ = tx.send(dump); // the caller may have given up
    });
    let dump = rx.recv_timeout(timeout).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => TaskDumpError::Timeout { timeout },
        std::sync::mpsc::RecvTimeoutError::Disconnected => TaskDumpError::RuntimeGone,
    })?;
    let tasks = dump
        .tasks()
        .iter()
        .map(|t| TaskTrace {
            id: Some(t.id().to_string()),
            trace: t.trace().to_string(),
            backtraces: t
                .trace()
                .resolve_backtraces()
                .iter()
                .map(|bt| {
                    bt.frames()
                        .flat_map(|f| f.symbols())
                        .map(|s| {
                            s.name_demangled()
                                .map(strip_hash)
                                .unwrap_or("[unknown]")
                                .to_owned()
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    Ok(TaskDumpContent::Tasks(tasks))
}

#[cfg(not(tokio_task_dumps))]
fn capture_content(_handle: &Handle, timeout: Duration) -> Result<TaskDumpContent, TaskDumpError> {
    crate::dump::threads::dump_threads_with_timeout(timeout)
        .map(TaskDumpContent::Threads)
        .map_err(TaskDumpError::Threads)
}

/// `foo::bar::h0123456789abcdef` → `foo::bar`.
#[allow(dead_code)] // only the task-dump build (`--cfg tokio_unstable`) uses it
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    }
}

impl TaskDump {
    /// One line: kind, time, alive tasks.
    pub fn summary(&self) -> String {
        let kind = match &self.content {
            TaskDumpContent::Tasks(t) => format!("{} task traces", t.len()),
            TaskDumpContent::Threads(_) => "task dumps off, thread dump instead".to_owned(),
        };
        format!(
            "tokio task dump at {}: {} alive tasks, {kind}, captured in {:.2?}",
            humantime::format_rfc3339_millis(self.captured_at),
            self.alive_tasks,
            self.capture_duration
        )
    }

    /// Readable text: the summary, the runtime metrics, then either the task traces with
    /// identical traces grouped ("100 tasks with this trace:"), or the hint and the
    /// thread dump's text.
    pub fn to_text(&self, sym: &mut Symbolizer) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.summary());
        out.push_str(&self.metrics);
        match &self.content {
            TaskDumpContent::Tasks(tasks) => {
                let mut groups: HashMap<&str, Vec<&TaskTrace>> = HashMap::new();
                for t in tasks {
                    groups.entry(t.trace.as_str()).or_default().push(t);
                }
                let mut groups: Vec<_> = groups.into_iter().collect();
                groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
                for (trace, members) in groups {
                    let n = members.len();
                    let _ = writeln!(
                        out,
                        "\n{n} task{} with this trace:",
                        if n == 1 { "" } else { "s" }
                    );
                    let ids: Vec<&str> = members.iter().filter_map(|t| t.id.as_deref()).collect();
                    if !ids.is_empty() {
                        let shown = ids.len().min(32);
                        let _ = writeln!(
                            out,
                            "  task ids: {}{}",
                            ids[..shown].join(", "),
                            if ids.len() > shown { ", …" } else { "" }
                        );
                    }
                    for line in trace.lines() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
            TaskDumpContent::Threads(dump) => {
                let _ = writeln!(out, "\n{TASK_DUMP_HINT}\n");
                out.push_str(&dump.to_text(sym));
            }
        }
        out
    }

    /// A pprof profile. With task traces: sample type `tasks/count`, one sample per
    /// leaf future a task waits on (a task awaiting several futures at once, e.g. in
    /// `join!`, counts once per future), frames named by the trace. Without: the
    /// thread dump's `threads/count` profile. The metrics and, when off, the hint are
    /// added as comments (`go tool pprof -comments`).
    pub fn to_profile(&self, sym: &mut Symbolizer) -> pprof::protos::Profile {
        let mut p = match &self.content {
            TaskDumpContent::Tasks(tasks) => {
                let mut b =
                    ProfileBuilder::new(sym, &[("tasks", "count")], ("tasks", "count"), 1, "tasks");
                for t in tasks {
                    let id = t.id.as_deref().unwrap_or("");
                    for bt in &t.backtraces {
                        let frames: Vec<&str> = bt.iter().map(String::as_str).collect();
                        b.add_named(&frames, &[1], &[("task_id", id)]);
                    }
                    if t.backtraces.is_empty() {
                        b.add_named(&["[no trace]"], &[1], &[("task_id", id)]);
                    }
                }
                b.duration(self.capture_duration);
                b.comment(&self.summary());
                b.build()
            }
            TaskDumpContent::Threads(dump) => {
                let mut p = dump.to_profile(sym);
                let hint = self.string_index(&mut p, TASK_DUMP_HINT);
                p.comment.push(hint);
                p
            }
        };
        for line in self.metrics.lines() {
            let i = self.string_index(&mut p, line.trim());
            p.comment.push(i);
        }
        p
    }

    fn string_index(&self, p: &mut pprof::protos::Profile, s: &str) -> i64 {
        p.string_table.push(s.to_owned());
        p.string_table.len() as i64 - 1
    }

    /// [`to_text`](Self::to_text) with a fresh [`Symbolizer`].
    pub fn symbolized_text(&self) -> String {
        self.to_text(&mut Symbolizer::new())
    }
}

impl fmt::Display for TaskDump {
    /// [`TaskDump::to_text`] with a fresh symbolizer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbolized_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    async fn task_blocked_sending_into_an_unread_channel(
        tx: tokio::sync::mpsc::Sender<u64>,
        i: u64,
    ) {
        let _ = tx.send(i).await;
    }

    #[test]
    fn strips_rust_hashes() {
        assert_eq!(strip_hash("a::b::h0123456789abcdef"), "a::b");
        assert_eq!(strip_hash("a::b::hello"), "a::b::hello");
        assert_eq!(strip_hash("plain"), "plain");
    }

    // 100 tasks blocked sending into a bounded channel nobody reads: the count sees
    // them, and the dump shows them (task traces) or the metrics (fallback).
    #[test]
    fn blocked_senders_are_counted_and_dumped() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tasks-test-worker")
            .build()
            .expect("runtime");
        let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
        for i in 0..101 {
            rt.spawn(task_blocked_sending_into_an_unread_channel(tx.clone(), i));
        }
        let start = Instant::now();
        while alive_tasks(rt.handle()) < 100 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(alive_tasks(rt.handle()) >= 100);
        let dump = dump_tasks(rt.handle(), Duration::from_secs(2)).expect("task dump");
        assert!(dump.alive_tasks >= 100, "{}", dump.summary());
        let text = dump.symbolized_text();
        if std::env::var_os("PRINT_TASK_DUMP").is_some() {
            eprintln!("{text}");
        }
        let mut sym = Symbolizer::new();
        let p = dump.to_profile(&mut sym);
        let (_, total) = crate::dump::profile::top(&p, 10);
        match &dump.content {
            TaskDumpContent::Tasks(tasks) => {
                assert!(tasks.len() >= 100, "{text}");
                assert!(text.contains("tasks with this trace"), "{text}");
                assert!(
                    text.contains("task_blocked_sending_into_an_unread_channel"),
                    "{text}"
                );
                assert!(total >= 100);
            }
            TaskDumpContent::Threads(threads) => {
                assert!(!task_dumps_supported());
                let alive_line = text
                    .lines()
                    .find(|l| l.trim_start().starts_with("alive tasks: "))
                    .expect("metrics in the text");
                let n: usize = alive_line
                    .trim_start()
                    .trim_start_matches("alive tasks: ")
                    .parse()
                    .expect("count");
                assert!(n >= 100, "{text}");
                assert!(text.contains(TASK_DUMP_HINT), "{text}");
                assert!(text.contains("tasks-test-work"), "{text}");
                assert_eq!(total as usize, threads.threads.len());
                assert!(p
                    .comment
                    .iter()
                    .any(|&i| p.string_table[i as usize].starts_with("alive tasks: ")));
            }
        }
        drop(rx);
        drop(tx);
        rt.shutdown_timeout(Duration::from_secs(1));
    }
}
