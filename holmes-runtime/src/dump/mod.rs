//! The dumper: the `holmes-dumper` thread, what a dump is ([`DumpEvent`]), and how its
//! files are written.
//!
//! The sampler hands triggers over a bounded channel with `try_send` and never waits;
//! the dumper captures the matching profile (one CPU capture at a time: CPU profiling is
//! process-wide), symbolizes it (the symbolizer's tables are released when no dump came for
//! [`SYMBOLS_KEPT`]), writes the files and logs the
//! event at warn level under target `holmes`.

#[cfg(target_os = "linux")]
pub mod cpu;
#[cfg(target_os = "linux")]
mod sigaction;
#[cfg(feature = "tokio")]
pub mod tasks;
pub mod threads;
pub mod writer;
#[doc(hidden)]
pub use crate::{pprof, profile};

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::config::Format;
use crate::escape::EscapedPath;
pub(crate) use crate::event::Trigger;
pub use crate::event::{DumpEvent, DumpKind, TopEntry};
use crate::rule::Metric;
use crate::state::Shared;
use crate::symbol::Symbolizer;
use writer::DumpWriter;

/// What the dumper is asked to do.
pub(crate) enum Job {
    /// Capture the dump of the trigger's rule now.
    Dump(Trigger),
    /// Write a heap dump captured at its peak by the heap watcher, with the baseline
    /// taken before the spike.
    HeapPeak {
        trigger: Trigger,
        peak: Box<crate::alloc::HeapSnapshot>,
        base: Option<Box<crate::alloc::HeapSnapshot>>,
    },
    /// Capture `kind` now for [`crate::Handle::dump_now`] (the trigger's reason is
    /// [`FireReason::OnDemand`](crate::FireReason)) and send back the event.
    OnDemand {
        kind: DumpKind,
        trigger: Trigger,
        reply: crossbeam_channel::Sender<DumpEvent>,
    },
}

/// The longest a CPU dump waits for another CPU capture (an on-demand profile) to end.
pub const CPU_BUSY_WAIT: Duration = Duration::from_secs(120);

/// How long the dumper keeps the symbolizer's tables after a dump (see
/// [`Symbolizer::release`]): long enough for the next dump of a burst, short enough
/// that between incidents symbolization holds no memory.
pub const SYMBOLS_KEPT: Duration = Duration::from_secs(10);

/// Everything the dumper thread owns.
pub(crate) struct Dumper {
    pub writer: DumpWriter,
    /// Cores a CPU percentage refers to (read by the CPU capture: Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub cores: f64,
    pub shared: Arc<Shared>,
    pub shutdown: Receiver<()>,
    pub sym: Symbolizer,
    pub reports: Option<Arc<crate::report::ReportQueue>>,
    #[cfg(feature = "tokio")]
    pub tokio_handle: Option<tokio::runtime::Handle>,
    /// Disconnected when the warm-up thread is done (see [`warm_up`]); `None` after.
    pub warming: Option<Receiver<()>>,
}

/// A profile and how to present it.
struct Captured {
    profile: pprof::Profile,
    duration: Duration,
    cpu_percent: Option<f64>,
    /// The text body instead of a top-N (thread and task dumps).
    text: Option<String>,
    /// A second profile written as `<stem>.base.pb.gz` (the heap baseline).
    base: Option<pprof::Profile>,
}

impl Captured {
    fn profile(profile: pprof::Profile, duration: Duration) -> Captured {
        Captured {
            profile,
            duration,
            cpu_percent: None,
            text: None,
            base: None,
        }
    }
}

impl Dumper {
    /// Waits until the warm-up thread is done, so that no capture competes with it
    /// (its CPU would show in the first CPU profile, its lock slow the first
    /// symbolization). False when shutdown came first.
    fn warmed_up(&mut self) -> bool {
        let Some(warming) = &self.warming else {
            return true;
        };
        crossbeam_channel::select! {
            recv(warming) -> _ => {}
            recv(self.shutdown) -> _ => return false,
        }
        self.warming = None;
        true
    }

    /// The thread body: serve tasks until the channel closes or shutdown. The
    /// symbolizer's tables serve the dumps of one burst (a cascade, a flapping rule)
    /// and are released once no dump came for [`SYMBOLS_KEPT`].
    pub fn run(mut self, tasks: Receiver<Job>) {
        loop {
            let keep = if self.sym.is_released() {
                Duration::from_secs(24 * 3600)
            } else {
                SYMBOLS_KEPT
            };
            crossbeam_channel::select! {
                recv(tasks) -> t => match t {
                    Ok(_) if !self.warmed_up() => break,
                    Ok(Job::Dump(trigger)) => {
                        let kind = DumpKind::for_metric(trigger.metric);
                        if self.still_wanted(&trigger) && self.room_on_disk(&trigger) {
                            let started = std::time::Instant::now();
                            let captured = self.capture(kind);
                            self.finish(trigger.clone(), kind, started, captured, None);
                            self.cascade(&trigger, kind);
                        }
                        self.shared.set_pending(trigger.metric, false);
                    }
                    Ok(Job::HeapPeak { trigger, peak, base }) => {
                        if self.room_on_disk(&trigger) {
                            let started = std::time::Instant::now();
                            let mut c = Captured::profile(peak.to_profile(&mut self.sym), Duration::ZERO);
                            c.base = base.map(|b| b.to_profile(&mut self.sym));
                            self.finish(trigger.clone(), DumpKind::Heap, started, Ok(c), None);
                            self.cascade(&trigger, DumpKind::Heap);
                        }
                        self.shared.set_pending(trigger.metric, false);
                    }
                    Ok(Job::OnDemand { kind, trigger, reply }) => {
                        let started = std::time::Instant::now();
                        let captured = if self.room_on_disk(&trigger) {
                            self.capture(kind)
                        } else {
                            Err("not taken: the dump directory's disk is below the free-space floor".into())
                        };
                        let event = self.finish(trigger, kind, started, captured, None);
                        let _ = reply.try_send(event); // the caller may have given up
                    }
                    Err(_) => break,
                },
                recv(self.shutdown) -> _ => break,
                default(keep) => self.sym.release(),
            }
        }
    }

    /// False when the trigger's rule was disabled or changed by `Guard::update` while
    /// the trigger waited in the queue: a stale trigger is not worth a dump.
    fn still_wanted(&self, t: &Trigger) -> bool {
        let now = self.shared.config().rules[t.metric as usize];
        let same = now.is_some_and(|r| {
            (r.min, r.diff, r.abs, r.max) == (t.rule.min, t.rule.diff, t.rule.abs, t.rule.max)
        });
        if !same {
            log::info!(target: "holmes", "dropping the queued {} trigger #{}: its rule changed meanwhile", t.metric, t.id);
        }
        same
    }

    /// False (logged and counted) when the dump directory is below the free-space floor.
    fn room_on_disk(&self, t: &Trigger) -> bool {
        let floor = self.shared.config().min_free_space;
        match self.writer.free_space() {
            Ok(free) if free < floor => {
                self.shared.counters.skipped_low_disk.inc();
                log::warn!(
                    target: "holmes",
                    "skipping the {} dump #{}: {} MiB free in {}, below the {} MiB floor",
                    t.metric,
                    t.id,
                    free >> 20,
                    EscapedPath(self.writer.dir()),
                    floor >> 20
                );
                false
            }
            _ => true,
        }
    }

    /// With cascade on, captures every other enabled kind after the primary dump.
    fn cascade(&mut self, t: &Trigger, primary: DumpKind) {
        if !t.cascade {
            return;
        }
        let cfg = self.shared.config();
        let mut done = vec![primary];
        for m in Metric::ALL {
            let kind = DumpKind::for_metric(m);
            if cfg.rules[m as usize].is_none() || done.contains(&kind) {
                continue;
            }
            done.push(kind);
            let mut follow = t.clone();
            follow.id = self
                .shared
                .next_event
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = std::time::Instant::now();
            let captured = self.capture(kind);
            self.finish(follow, kind, started, captured, Some(t.id));
        }
    }

    fn finish(
        &mut self,
        t: Trigger,
        kind: DumpKind,
        started: std::time::Instant,
        captured: Result<Captured, String>,
        cascade_of: Option<u64>,
    ) -> DumpEvent {
        let mut event = DumpEvent {
            id: t.id,
            kind,
            metric: t.metric,
            reason: t.reason,
            value: t.value,
            average: t.average,
            ring: t.ring,
            rule: t.rule,
            time: t.time,
            capture_duration: started.elapsed(),
            capture_cpu_percent: None,
            top: Vec::new(),
            top_total: 0,
            culprit: None,
            files: Vec::new(),
            error: None,
            cascade_of,
        };
        match captured {
            Ok(c) => {
                if !c.duration.is_zero() {
                    event.capture_duration = c.duration;
                }
                event.capture_cpu_percent = c.cpu_percent;
                (event.top, event.top_total) = profile::top(&c.profile, 10);
                event.culprit = profile::culprit(&c.profile);
                let files = self.write_files(&mut event, &c);
                if let (Some(q), false) = (&self.reports, files.is_empty()) {
                    q.submit(crate::report::Report::new(event.clone(), files));
                }
            }
            Err(e) => event.error = Some(e),
        }
        if event.error.is_some() {
            self.shared.counters.dump_failures.inc();
        } else {
            self.shared.counters.dumps.inc();
        }
        log::warn!(target: "holmes", "{event}");
        #[cfg(feature = "tracing")]
        crate::event::trace(&event);
        let retention = self.shared.config().retention;
        match self.writer.enforce_retention(retention) {
            Ok(0) => {}
            Ok(n) => {
                self.shared.counters.files_deleted.add(n as u64);
                log::info!(target: "holmes", "retention: deleted the {n} oldest dump files");
            }
            Err(e) => {
                log::warn!(target: "holmes", "retention: cannot list {}: {e}", EscapedPath(self.writer.dir()))
            }
        }
        // A rule's last dump; an on-demand dump is not a rule's.
        if event.reason != crate::rule::FireReason::OnDemand {
            self.shared.record_dump(event.clone());
        }
        event
    }

    /// A CPU capture of `duration`. While another CPU capture holds the process's
    /// profiler (an operator's on-demand profile), waits for it, at most
    /// [`CPU_BUSY_WAIT`] and never past shutdown: the rule's dump comes late rather than
    /// not at all.
    #[cfg(target_os = "linux")]
    fn capture_cpu(&mut self, duration: Duration) -> Result<cpu::CpuCapture, String> {
        let give_up = std::time::Instant::now() + CPU_BUSY_WAIT;
        let mut said = false;
        loop {
            match cpu::capture(duration, &self.shutdown, &mut self.sym) {
                Err(cpu::CpuError::Busy) if std::time::Instant::now() < give_up => {
                    if !said {
                        log::info!(target: "holmes", "CPU dump: another CPU profile holds the process's profiler; waiting for it (at most {CPU_BUSY_WAIT:?})");
                        said = true;
                    }
                    match self.shutdown.recv_timeout(Duration::from_millis(50)) {
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        _ => return Err("holmes stopped while another CPU profile ran".into()),
                    }
                }
                r => return r.map_err(|e| e.to_string()),
            }
        }
    }

    fn capture(&mut self, kind: DumpKind) -> Result<Captured, String> {
        match kind {
            DumpKind::Cpu => {
                #[cfg(target_os = "linux")]
                {
                    let duration = self.shared.config().cpu_profile_duration;
                    let c = self.capture_cpu(duration)?;
                    if let Some(t) = c.host_took_over {
                        self.shared.counters.signal_takeovers.inc();
                        log::warn!(target: "holmes", "CPU profile: during the capture {t}; holmes left it in place and keeps the samples taken before");
                    }
                    let mut out = Captured::profile(c.profile, c.duration);
                    out.cpu_percent = Some(crate::sample::cpu_percent(
                        Duration::ZERO,
                        c.cpu_time,
                        c.duration,
                        self.cores,
                    ));
                    Ok(out)
                }
                #[cfg(not(target_os = "linux"))]
                {
                    Err("CPU profiles are unsupported on this platform".into())
                }
            }
            DumpKind::Heap => {
                let snap = crate::alloc::snapshot();
                Ok(Captured::profile(
                    snap.to_profile(&mut self.sym),
                    Duration::ZERO,
                ))
            }
            DumpKind::Threads => {
                let t0 = std::time::Instant::now();
                let dump = threads::dump_threads().map_err(|e| {
                    if matches!(e, threads::CaptureError::SignalInUse { .. }) {
                        self.shared.counters.signal_takeovers.inc();
                    }
                    e.to_string()
                })?;
                let mut c = Captured::profile(dump.to_profile(&mut self.sym), t0.elapsed());
                c.text = Some(dump.to_text(&mut self.sym));
                Ok(c)
            }
            #[cfg(feature = "tokio")]
            DumpKind::Tasks => {
                let Some(handle) = &self.tokio_handle else {
                    return Err("no tokio runtime handle".into());
                };
                let t0 = std::time::Instant::now();
                let dump =
                    tasks::dump_tasks(handle, Duration::from_secs(5)).map_err(|e| e.to_string())?;
                let mut c = Captured::profile(dump.to_profile(&mut self.sym), t0.elapsed());
                c.text = Some(dump.to_text(&mut self.sym));
                Ok(c)
            }
        }
    }

    /// Writes every format; returns the files written with their bytes (for reporters).
    fn write_files(
        &mut self,
        event: &mut DumpEvent,
        c: &Captured,
    ) -> Vec<crate::report::ReportFile> {
        match self.writer.ensure_dir() {
            Ok(false) => {}
            Ok(true) => log::warn!(
                target: "holmes",
                "dump directory {} was removed (a tmp cleaner?); recreated it (mode 0700)",
                EscapedPath(self.writer.dir())
            ),
            Err(e) => {
                self.shared.counters.write_failures.inc();
                event.error = Some(format!("not written: {e}"));
                return Vec::new();
            }
        }
        let stem = writer::file_stem(event.kind.name(), event.time);
        let p = &c.profile;
        let mut errors = Vec::new();
        let mut files: Vec<(String, Result<Vec<u8>, String>)> = Vec::new();
        let formats = self.shared.config().formats.clone();
        for &format in &formats {
            let name = format!("{stem}.{}", format.extension());
            let bytes = match format {
                Format::Pprof => profile::to_pprof_gz(p).map_err(|e| e.to_string()),
                Format::Text => {
                    let mut header = text_header(event);
                    let pprof_file = format!("{stem}.{}", Format::Pprof.extension());
                    if let Some(note) = profile::symbols_note(p, &pprof_file) {
                        header.push_str(&note);
                    }
                    Ok(match &c.text {
                        Some(body) => format!("{header}\n{body}").into_bytes(),
                        None => profile::to_text(p, &header, 30).into_bytes(),
                    })
                }
                Format::Svg => profile::to_svg(p, &svg_title(event)),
            };
            files.push((name, bytes));
            if format == Format::Pprof {
                if let Some(base) = &c.base {
                    files.push((
                        format!("{stem}.base.pb.gz"),
                        profile::to_pprof_gz(base).map_err(|e| e.to_string()),
                    ));
                }
            }
        }
        let mut written = Vec::new();
        for (name, bytes) in files {
            let result = bytes.and_then(|b| {
                let path = self.writer.write(&name, &b).map_err(|e| e.to_string())?;
                Ok((path, b))
            });
            match result {
                Ok((path, b)) => {
                    event.files.push(path.clone());
                    if self.reports.is_some() {
                        written.push(crate::report::ReportFile::new(
                            path,
                            std::sync::Arc::<[u8]>::from(b),
                        ));
                    }
                }
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        if !errors.is_empty() {
            self.shared.counters.write_failures.inc();
            event.error = Some(format!("writing failed: {}", errors.join("; ")));
        }
        written
    }
}

/// Checks, at start on a thread of its own that shutdown does not wait for (dropping a
/// just-started guard stays quick), what this build's stacks will look like, and logs
/// what a person should know: stacks that look truncated ([`frame_pointer_check`]), an
/// executable without line tables ([`NO_LINE_TABLES`]). The dumper waits for it before
/// its first capture.
pub(crate) fn warm_up() {
    if let Some(warning) = frame_pointer_check(&mut Symbolizer::new()) {
        log::warn!(target: "holmes", "{warning}");
    }
    if Symbolizer::executable_has_line_tables() == Some(false) {
        log::warn!(target: "holmes", "{NO_LINE_TABLES}");
    }
}

/// Said at start and in every dump's header when the executable has no line tables.
pub const NO_LINE_TABLES: &str = "built without line tables: inlined functions are attributed \
to their callers and frames have no file:line; set `[profile.release] debug = \"line-tables-only\"` \
(a larger binary, no run-time cost)";

/// Said in a dump's header when its culprit is a closure or `async fn` body that line
/// tables name only by its place (`{async_fn#0} at main.rs:12`).
pub(crate) const UNNAMED_INLINE: &str = "line tables name an inlined closure or async fn body \
`{closure#N}` / `{async_fn#N}` and give its file:line, not its function; set `[profile.release] \
debug = \"limited\"` to name it (a larger binary, no run-time cost)";

/// A warning when the stacks holmes records look truncated: only possible with the
/// frame-pointer walker on code built without frame pointers. Judged without symbols
/// (a stripped binary has none) by walking this thread's stack both ways when unwind
/// tables are available; else by whether the walk reached the thread's start by name.
/// Also sets [`crate::stack::stacks_truncated`].
pub(crate) fn frame_pointer_check(sym: &mut Symbolizer) -> Option<String> {
    if !cfg!(linux_stack_walk) || crate::stack::uses_dwarf() {
        return None;
    }
    let mut st = crate::stack::Stack::empty();
    crate::stack::capture_current(&mut st);
    #[cfg(linux_stack_walk)]
    let whole = if crate::stack::dwarf::is_ready() {
        crate::stack::frame_pointers_are_whole()
    } else {
        st.ips().iter().any(|&ip| {
            sym.resolve(ip, true)
                .iter()
                .any(|f| f.name.contains("thread_start") || f.name.contains("start_thread"))
        })
    };
    #[cfg(not(linux_stack_walk))]
    let whole = {
        let _ = sym;
        true
    };
    crate::stack::set_stacks_truncated(!whole);
    (!whole).then(|| {
        format!(
            "stacks look truncated (a frame-pointer walk of {} frames stopped short): this build keeps \
             no frame pointers; use stack_walk = \"auto\" or \"dwarf\" (HOLMES_STACK_WALK), or build with \
             RUSTFLAGS=\"-C force-frame-pointers=yes\"",
            st.len()
        )
    })
}

fn svg_title(e: &DumpEvent) -> String {
    format!(
        "holmes {} dump #{}: {} {:.1} ({}), {}",
        e.kind,
        e.id,
        e.metric,
        e.value,
        e.reason,
        humantime::format_rfc3339_seconds(e.time)
    )
}

fn text_header(e: &DumpEvent) -> String {
    // An on-demand dump has no rule that fired.
    let rule = if e.reason == crate::rule::FireReason::OnDemand {
        String::new()
    } else {
        format!(
            "rule: {} (min {}, diff {}, abs {}{})\n",
            e.metric,
            e.rule.min,
            e.rule.diff,
            e.rule.abs,
            if e.rule.max != 0 {
                format!(", max {}", e.rule.max)
            } else {
                String::new()
            },
        )
    };
    let mut h = format!(
        "holmes {} dump #{} at {}\n{rule}reason: {}\ncurrent: {:.2}, average: {:.2}, previous: {:?}\n",
        e.kind,
        e.id,
        humantime::format_rfc3339_millis(e.time),
        e.reason,
        e.value,
        e.average,
        e.ring.iter().map(|v| (v * 100.0).round() / 100.0).collect::<Vec<_>>(),
    );
    if let Some(c) = &e.culprit {
        h.push_str(&format!(
            "culprit: {c} (innermost frame of the heaviest stack in the program's own code: not std, dependencies, system libraries or holmes)\n"
        ));
    }
    if Symbolizer::executable_has_line_tables() == Some(false) {
        h.push_str(&format!("symbols: {NO_LINE_TABLES}\n"));
    } else if e.culprit.as_deref().is_some_and(|c| c.starts_with('{')) {
        h.push_str(&format!("symbols: {UNNAMED_INLINE}\n"));
    }
    h.push_str(&format!(
        "stacks: walked by {}{}\n",
        crate::stack::walker_name(crate::stack::walker()),
        if crate::stack::stacks_truncated() {
            " (they look truncated: this build keeps no frame pointers; see the log)"
        } else {
            ""
        }
    ));
    if let Some(c) = e.capture_cpu_percent {
        h.push_str(&format!(
            "capture: {:.2?}, cpu during capture: {c:.1}%{}\n",
            e.capture_duration,
            if c * 2.0 < e.value {
                " (much lower than at the trigger: the spike may have ended before the capture)"
            } else {
                ""
            }
        ));
    }
    h
}

// Only a build that forces frame pointers has something to check here.
#[cfg(all(test, holmes_frame_pointers))]
mod fp_tests {
    use super::*;

    #[test]
    fn this_build_has_frame_pointers() {
        // Built with -C force-frame-pointers=yes (this workspace's .cargo/config.toml,
        // CI's musl run): no warning.
        let h = std::thread::spawn(|| frame_pointer_check(&mut Symbolizer::new()));
        assert_eq!(h.join().unwrap(), None);
    }
}
