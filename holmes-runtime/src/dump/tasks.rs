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
//! Frame pointers are optional: holmes walks stacks by DWARF call-frame information
//! when they are absent (`-C force-frame-pointers=yes` only makes its walks faster).
//! Setting `RUSTFLAGS` replaces the `build.rustflags` of a `.cargo/config.toml`, so
//! repeat any flag set there. Without `--cfg tokio_unstable`, the `taskdump` feature
//! compiles but stays inert and [`dump_tasks`] falls back.
//!
//! # What a trace shows in an optimized build
//! tokio captures each leaf future's stack from the leaf up to, excluding, the task's
//! root future (`Root::poll`, which tokio keeps a function of its own). An optimized
//! build inlines the spawned future — the user's `async fn`, and what it awaits down to
//! the first function not inlined — into that root, so it is in no captured frame, and
//! tokio's public API hands out nothing else (`Task` has an id and a trace). Such tasks
//! are reported as showing none of the program's code ([`NO_USER_FRAME_NOTE`]).
//! Spawning the future as a trait object (`Box::pin(fut) as Pin<Box<dyn Future …>>`)
//! keeps its `poll` out of the root, in the trace.
//!
//! holmes reads tokio's captured addresses unresolved (from `Trace`'s `Debug`) and
//! symbolizes them itself, inlined frames included; tokio's `Display` and
//! `resolve_backtraces` would load the `backtrace` crate's process-wide debug-info
//! caches for the life of the process.
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

use crate::dump::threads::{CaptureError, ThreadDump};
use crate::profile::ProfileBuilder;
use crate::symbol::{Frame, Symbolizer};

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
    /// The task's trace as a tree, outermost frame first, down to the leaf futures it
    /// waits on (`name at file:line`, inlined frames included), symbolized by holmes.
    pub trace: String,
    /// One backtrace per leaf future the task waits on, each as function names,
    /// innermost first (inlined frames included).
    pub backtraces: Vec<Vec<String>>,
    /// The code addresses of each of [`backtraces`](Self::backtraces): return
    /// addresses, innermost first, as tokio captured them.
    pub addresses: Vec<Vec<usize>>,
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
    let own = handle
        .spawn(async move {
            let dump = h.dump().await;
            let _ = tx.send(dump); // the caller may have given up
        })
        .id();
    let dump = rx.recv_timeout(timeout).map_err(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Timeout => TaskDumpError::Timeout { timeout },
        std::sync::mpsc::RecvTimeoutError::Disconnected => TaskDumpError::RuntimeGone,
    })?;
    let mut sym = Symbolizer::new();
    let tasks = dump
        .tasks()
        .iter()
        .filter(|t| t.id() != own) // holmes' request, not the program's
        .map(|t| {
            let addresses = trace_addresses(t.trace());
            TaskTrace {
                id: Some(t.id().to_string()),
                trace: render_trace(&addresses, &mut sym),
                backtraces: addresses
                    .iter()
                    .map(|bt| {
                        bt.iter()
                            .flat_map(|&a| sym.resolve(a, true).iter().cloned().collect::<Vec<_>>())
                            .map(|f| f.name)
                            .collect()
                    })
                    .collect(),
                addresses,
            }
        })
        .collect();
    Ok(TaskDumpContent::Tasks(tasks))
}

/// The return addresses of a task's trace, one list per leaf backtrace, innermost
/// first. tokio hands them out unresolved only through `Debug`
/// ([`parse_trace_debug`]); its `Display` and `resolve_backtraces` resolve every frame
/// through the `backtrace` crate, whose process-wide debug-info caches then stay
/// resident for the life of the process. When the `Debug` text cannot be read (a
/// tokio whose format changed), the addresses come from `resolve_backtraces`.
#[cfg(tokio_task_dumps)]
fn trace_addresses(trace: &tokio::runtime::dump::Trace) -> Vec<Vec<usize>> {
    parse_trace_debug(&format!("{trace:?}")).unwrap_or_else(|| {
        trace
            .resolve_backtraces()
            .iter()
            .map(|bt| bt.frames().map(|f| f.ip() as usize).collect())
            .collect()
    })
}

#[cfg(not(tokio_task_dumps))]
fn capture_content(_handle: &Handle, timeout: Duration) -> Result<TaskDumpContent, TaskDumpError> {
    crate::dump::threads::dump_threads_with_timeout(timeout)
        .map(TaskDumpContent::Threads)
        .map_err(TaskDumpError::Threads)
}

/// The addresses in the `Debug` text of tokio 1.x's `dump::Trace`:
/// `Trace { inner: Trace { backtraces: [[BacktraceFrame { ip: 0x…, symbol_address:
/// 0x… }, …], …] } }`, one list per backtrace. `None` when the text is not of that form.
#[allow(dead_code)] // only the task-dump build (`--cfg tokio_unstable`) uses it
fn parse_trace_debug(text: &str) -> Option<Vec<Vec<usize>>> {
    let mut rest = text.split_once("backtraces: [")?.1.trim_start();
    let mut out = Vec::new();
    loop {
        if rest.starts_with(']') {
            return Some(out);
        }
        let (group, after) = rest.strip_prefix('[')?.split_once(']')?;
        let mut ips = Vec::new();
        for part in group.split("ip: ").skip(1) {
            let hex = part.strip_prefix("0x")?;
            let end = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            ips.push(usize::from_str_radix(&hex[..end], 16).ok()?);
        }
        if ips.len() != group.matches("BacktraceFrame").count() {
            return None;
        }
        out.push(ips);
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// True when `f` is the program's own code: its source file is not the toolchain's, a
/// dependency's or holmes' or, without a file, its name is not runtime machinery (the
/// rule of the dump's culprit).
fn is_users_frame(f: &Frame) -> bool {
    match &f.file {
        Some(file) => !crate::profile::is_foreign_source(file),
        None => f.is_named() && !crate::profile::is_machinery(&f.name),
    }
}

/// `name at file:line` of a symbolized frame.
#[allow(dead_code)] // only the task-dump build (`--cfg tokio_unstable`) uses it
fn frame_label(f: &Frame) -> String {
    match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{} at {file}:{line}", f.name),
        (Some(file), None) => format!("{} at {file}", f.name),
        _ => f.name.clone(),
    }
}

/// A task's backtraces (`addresses`, innermost first) as a tree from the outermost
/// frame down, backtraces sharing their outer frames merged (as tokio draws it):
/// `╼ outer`, then `└╼ inner` lines indented under their caller.
#[allow(dead_code)] // only the task-dump build (`--cfg tokio_unstable`) uses it
fn render_trace(addresses: &[Vec<usize>], sym: &mut Symbolizer) -> String {
    #[derive(Default)]
    struct Node {
        label: String,
        children: Vec<Node>,
    }
    fn draw(nodes: &[Node], indent: &str, top: bool, out: &mut String) {
        for (i, n) in nodes.iter().enumerate() {
            let last = i + 1 == nodes.len();
            let (mark, more) = match (top, last) {
                (true, _) => ("╼ ", "  "),
                (false, true) => ("└╼ ", "   "),
                (false, false) => ("├╼ ", "│  "),
            };
            let _ = writeln!(out, "{indent}{mark}{}", n.label);
            draw(&n.children, &format!("{indent}{more}"), false, out);
        }
    }
    let mut root = Node::default();
    for bt in addresses {
        let mut labels: Vec<String> = bt
            .iter()
            .flat_map(|&a| {
                sym.resolve(a, true)
                    .iter()
                    .map(frame_label)
                    .collect::<Vec<_>>()
            })
            .collect();
        if labels.is_empty() {
            labels.push("[no trace]".to_owned());
        }
        let mut node = &mut root;
        for label in labels.into_iter().rev() {
            let i = match node.children.iter().position(|c| c.label == label) {
                Some(i) => i,
                None => {
                    node.children.push(Node {
                        label,
                        children: Vec::new(),
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i];
        }
    }
    let mut out = String::new();
    draw(&root.children, "", true, &mut out);
    out
}

/// True when a frame of `t`'s trace is the program's own code ([`is_users_frame`]).
fn shows_users_code(t: &TaskTrace, sym: &mut Symbolizer) -> bool {
    t.addresses
        .iter()
        .flatten()
        .any(|&a| sym.resolve(a, true).iter().any(is_users_frame))
}

/// Said in a task dump when some tasks' traces hold no frame of the program's own code.
pub const NO_USER_FRAME_NOTE: &str = "show no frame of the program's own code. tokio's \
trace of a task stops at the task's root future (`tokio::runtime::task::trace::Root::poll`, \
excluded), and an optimized build inlines the task's own future (your `async fn`, and \
what it awaits down to the first function not inlined) into that root, so it cannot be \
shown; debug info (`debug = true`), `#[inline(never)]` on the `async fn`, opt-level 1 or \
`-C llvm-args=-inline-threshold=0` do not change that. To see it, spawn the future as a \
trait object, which keeps its `poll` out of the root: \
`tokio::spawn(Box::pin(fut) as Pin<Box<dyn Future<Output = T> + Send>>)` (one allocation \
per spawn, one indirect call per poll)";

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

    #[doc(hidden)] // Takes holmes' internal symbolizer: for its own pipeline and tests.
    /// Readable text: the summary, the runtime metrics, then either the task traces with
    /// identical traces grouped ("100 tasks with this trace:"), or the hint and the
    /// thread dump's text.
    pub fn to_text(&self, sym: &mut Symbolizer) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.summary());
        out.push_str(&self.metrics);
        match &self.content {
            TaskDumpContent::Tasks(tasks) => {
                let hidden = tasks.iter().filter(|t| !shows_users_code(t, sym)).count();
                if hidden > 0 {
                    let _ = writeln!(
                        out,
                        "\nnote: {hidden} of {} tasks {NO_USER_FRAME_NOTE}.",
                        tasks.len()
                    );
                }
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
                    if !shows_users_code(members[0], sym) {
                        let _ = writeln!(
                            out,
                            "  (no frame of the program's own code: see the note above)"
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

    #[doc(hidden)] // Takes holmes' internal symbolizer: for its own pipeline and tests.
    /// A pprof profile. With task traces: sample type `tasks/count`, one sample per
    /// leaf future a task waits on (a task awaiting several futures at once, e.g. in
    /// `join!`, counts once per future), frames named by the trace. Without: the
    /// thread dump's `threads/count` profile. The metrics and, when off, the hint are
    /// added as comments (`go tool pprof -comments`).
    pub fn to_profile(&self, sym: &mut Symbolizer) -> crate::pprof::Profile {
        let mut p = match &self.content {
            TaskDumpContent::Tasks(tasks) => {
                let hidden = tasks.iter().filter(|t| !shows_users_code(t, sym)).count();
                let mut b =
                    ProfileBuilder::new(sym, &[("tasks", "count")], ("tasks", "count"), 1, "tasks");
                for t in tasks {
                    let id = t.id.as_deref().unwrap_or("");
                    for bt in &t.addresses {
                        if bt.is_empty() {
                            b.add_named(&["[no trace]"], &[1], &[("task_id", id)]);
                        } else {
                            b.add(bt, false, &[1], &[("task_id", id)]);
                        }
                    }
                    if t.addresses.is_empty() {
                        b.add_named(&["[no trace]"], &[1], &[("task_id", id)]);
                    }
                }
                b.duration(self.capture_duration);
                b.comment(&self.summary());
                if hidden > 0 {
                    b.comment(&format!(
                        "note: {hidden} of {} tasks {NO_USER_FRAME_NOTE}",
                        tasks.len()
                    ));
                }
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

    fn string_index(&self, p: &mut crate::pprof::Profile, s: &str) -> i64 {
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

    /// The line of the `send` in [`task_spawned_as_a_trait_object`] (keep them together).
    const TRAIT_OBJECT_SEND_LINE: u32 = line!() + 2;
    async fn task_spawned_as_a_trait_object(tx: tokio::sync::mpsc::Sender<u64>, i: u64) {
        let _ = tx.send(i).await;
    }

    /// tokio's own dump of the runtime's tasks.
    #[cfg(tokio_task_dumps)]
    fn tokio_dump(handle: &Handle) -> tokio::runtime::dump::Dump {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let h = handle.clone();
        handle.spawn(async move {
            let _ = tx.send(h.dump().await);
        });
        rx.recv_timeout(Duration::from_secs(2))
            .expect("tokio's dump")
    }

    #[test]
    fn reads_the_addresses_of_tokios_trace_debug_text() {
        let text = "Trace { inner: Trace { backtraces: [[BacktraceFrame { ip: 0x55e42e22bfbd, \
                    symbol_address: 0x55e42e22bfa0 }, BacktraceFrame { ip: 0x10, symbol_address: \
                    0x1 }], [], [BacktraceFrame { ip: 0xabc, symbol_address: 0xab0 }]] } }";
        assert_eq!(
            parse_trace_debug(text),
            Some(vec![vec![0x55e42e22bfbd, 0x10], vec![], vec![0xabc]])
        );
        assert_eq!(
            parse_trace_debug("Trace { inner: Trace { backtraces: [] } }"),
            Some(vec![])
        );
        // Another format: not guessed at.
        assert_eq!(parse_trace_debug("Trace { frames: [0x1] }"), None);
        assert_eq!(
            parse_trace_debug(
                "Trace { inner: Trace { backtraces: [[BacktraceFrame { pc: 0x1 }]] } }"
            ),
            None
        );
    }

    // 101 tasks blocked sending into a full channel nobody reads, and 3 more spawned as
    // trait objects: the count sees them, and the dump shows them (task traces) or the
    // metrics (fallback). In an optimized build the 101 tasks' async fn is inlined
    // into tokio's task root, which its traces exclude: the dump says so; the trait
    // objects' async fn is in their traces, by name (the symbol table's, where line
    // tables say only `{async_fn#0}`) and line, in the text and in the pprof.
    #[test]
    fn blocked_senders_are_counted_and_dumped() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tasks-test-worker")
            .build()
            .expect("runtime");
        let (tx, rx) = tokio::sync::mpsc::channel::<u64>(1);
        tx.try_send(u64::MAX).expect("room for one"); // full: every sender blocks
        for i in 0..101 {
            rt.spawn(task_blocked_sending_into_an_unread_channel(tx.clone(), i));
        }
        for i in 0..3 {
            let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
                Box::pin(task_spawned_as_a_trait_object(tx.clone(), i));
            rt.spawn(boxed);
        }
        let start = Instant::now();
        while alive_tasks(rt.handle()) < 104 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(alive_tasks(rt.handle()), 104);
        let dump = dump_tasks(rt.handle(), Duration::from_secs(2)).expect("task dump");
        assert!(dump.alive_tasks >= 100, "{}", dump.summary());
        let text = dump.symbolized_text();
        if std::env::var_os("PRINT_TASK_DUMP").is_some() {
            eprintln!("{text}");
        }
        let mut sym = Symbolizer::new();
        let p = dump.to_profile(&mut sym);
        let (_, total) = crate::profile::top(&p, 10);
        match &dump.content {
            TaskDumpContent::Tasks(tasks) => {
                // holmes' own request to tokio is left out.
                assert_eq!(tasks.len(), 104, "{text}");
                assert!(text.contains("tasks with this trace"), "{text}");
                // tokio's addresses, read without resolving them, are its frames'.
                #[cfg(tokio_task_dumps)]
                for t in tokio_dump(rt.handle()).tasks().iter() {
                    let resolved: Vec<Vec<usize>> = t
                        .trace()
                        .resolve_backtraces()
                        .iter()
                        .map(|bt| bt.frames().map(|f| f.ip() as usize).collect())
                        .collect();
                    let read = parse_trace_debug(&format!("{:?}", t.trace()));
                    assert_eq!(read, Some(resolved));
                }
                // The trait objects' async fn, by name and line.
                let boxed = format!("/tasks.rs:{TRAIT_OBJECT_SEND_LINE}");
                let named = |l: &str| {
                    l.contains("task_spawned_as_a_trait_object::{{closure}} at ")
                        && l.ends_with(&boxed)
                };
                let group = text
                    .split("\n\n")
                    .find(|g| g.lines().any(named))
                    .unwrap_or_else(|| panic!("no trace at {boxed}:\n{text}"));
                assert!(group.contains("3 tasks with this trace"), "{text}");
                // The 101: named in a debug build; in an optimized one, the dump says
                // why it cannot name them (holmes' own test code is not "the program's
                // own", so the note may be there in both).
                let plain = text
                    .split("\n\n")
                    .find(|g| g.contains("101 tasks with this trace"))
                    .expect("the 101 tasks grouped");
                assert!(
                    plain.contains("task_blocked_sending_into_an_unread_channel")
                        || (plain.contains("no frame of the program's own code")
                            && text.contains(NO_USER_FRAME_NOTE)),
                    "{text}"
                );
                assert_eq!(total, 104);
                // The pprof's frames have names, files and lines: the trait objects'
                // async fn is among them.
                let at_line = p.location.iter().flat_map(|l| &l.line).any(|l| {
                    l.line == i64::from(TRAIT_OBJECT_SEND_LINE)
                        && p.function.iter().any(|f| {
                            f.id == l.function_id
                                && p.string_table[f.filename as usize].ends_with("tasks.rs")
                                && p.string_table[f.name as usize]
                                    .contains("task_spawned_as_a_trait_object")
                        })
                });
                assert!(at_line, "{p:?}");
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
