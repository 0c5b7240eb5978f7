//! What a dump is and why it was taken: the data the sampler, the dumper, the
//! reporters and [`crate::Status`] share.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::escape::{Escaped, EscapedPath};
use crate::rule::{FireReason, Metric, Rule};

/// What a dump captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DumpKind {
    /// A CPU profile.
    Cpu,
    /// A heap profile from [`crate::Allocator`]'s samples.
    Heap,
    /// The stack of every thread.
    Threads,
    /// The tokio tasks (feature `tokio`).
    #[cfg(feature = "tokio")]
    Tasks,
}

impl DumpKind {
    /// The file name prefix and profile name (`cpu`, `heap`, `threads`, `tasks`).
    pub const fn name(self) -> &'static str {
        match self {
            DumpKind::Cpu => "cpu",
            DumpKind::Heap => "heap",
            DumpKind::Threads => "threads",
            #[cfg(feature = "tokio")]
            DumpKind::Tasks => "tasks",
        }
    }

    /// The metric whose value an on-demand dump of this kind records (the heap rule's
    /// for a heap dump).
    pub(crate) const fn metric(self) -> Metric {
        match self {
            DumpKind::Cpu => Metric::Cpu,
            DumpKind::Heap => Metric::Heap,
            DumpKind::Threads => Metric::Threads,
            #[cfg(feature = "tokio")]
            DumpKind::Tasks => Metric::Tasks,
        }
    }

    /// The dump a rule on `metric` takes.
    pub const fn for_metric(metric: Metric) -> DumpKind {
        match metric {
            Metric::Cpu => DumpKind::Cpu,
            Metric::Mem | Metric::Heap => DumpKind::Heap,
            Metric::Threads => DumpKind::Threads,
            #[cfg(feature = "tokio")]
            Metric::Tasks => DumpKind::Tasks,
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for DumpKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for DumpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dump: why it was taken and what it wrote. Logged at warn level (target
/// `holmes`) and kept as the rule's last dump in [`crate::Status`]. Its `Display` (the
/// log line) escapes control characters in the culprit, the error and the file names.
/// With the feature `serde` it serializes as its fields, written as in
/// [`crate::Status`]; with the feature `tracing` every dump is also a `tracing` event.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DumpEvent {
    /// Identifier, unique within the process run.
    pub id: u64,
    /// What was captured.
    pub kind: DumpKind,
    /// The rule that fired.
    pub metric: Metric,
    /// Why it fired.
    pub reason: FireReason,
    /// The metric's value when it fired.
    pub value: f64,
    /// The average of the ring (including `value`).
    pub average: f64,
    /// The ring, oldest first.
    pub ring: Vec<f64>,
    /// The rule's configuration.
    pub rule: Rule,
    /// When the rule fired.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::time"))]
    pub time: SystemTime,
    /// How long the capture took (the CPU profile's length for CPU dumps).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_util::duration")
    )]
    pub capture_duration: Duration,
    /// For CPU dumps: the CPU % the process used *during* the capture. Much lower than
    /// `value` means the spike ended before the capture could see it.
    pub capture_cpu_percent: Option<f64>,
    /// The heaviest functions of the profile (flat order).
    pub top: Vec<TopEntry>,
    /// The profile's total in the unit of `top` (CPU nanoseconds, bytes, threads).
    pub top_total: i64,
    /// The innermost frame of the heaviest stack in the program's own code, judged by
    /// where the code lives (not the toolchain's sources, a dependency's, a system
    /// library's or holmes'; by name when there is no debug info), see
    /// [`crate::profile::culprit`]: usually the function to look at first.
    pub culprit: Option<String>,
    /// The files written.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::paths"))]
    pub files: Vec<PathBuf>,
    /// Set when the capture or a file write failed (the event is still reported).
    pub error: Option<String>,
    /// For a dump taken because another rule fired with
    /// [`cascade`](crate::Builder::cascade) on: that dump's id.
    pub cascade_of: Option<u64>,
}

impl fmt::Display for DumpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason == FireReason::OnDemand {
            write!(
                f,
                "[holmes] dump {} #{}: on demand, {} current: {:.1}, average: {:.1}",
                self.kind, self.id, self.metric, self.value, self.average
            )?;
        } else {
            write!(
            f,
            "[holmes] dump {} #{}: {} rule ({}, {}, {}) fired, reason: {}, current: {:.1}, average: {:.1}",
            self.kind,
            self.id,
            self.metric,
            self.rule.min,
            self.rule.diff,
            self.rule.abs,
            self.reason,
            self.value,
            self.average
        )?;
        }
        if let Some(c) = self.capture_cpu_percent {
            write!(f, ", cpu during capture: {c:.1}%")?;
        }
        if let Some(c) = &self.culprit {
            write!(f, ", culprit: {}", Escaped(c))?;
        }
        if let Some(e) = &self.error {
            write!(f, ", error: {}", Escaped(e))?;
        }
        if !self.files.is_empty() {
            f.write_str(", files:")?;
            for p in &self.files {
                write!(f, " {}", EscapedPath(p))?;
            }
        }
        Ok(())
    }
}

/// Emits `event` as one `tracing` event (feature `tracing`): target `holmes`, level
/// WARN, or ERROR when `event.error` is set, message `holmes dump`, with the fields `id`,
/// `kind` and `rule` (names), `reason` (its `Display`), `value`, `average`, `files` (the
/// paths joined by `", "`, empty when none), and `culprit`, `error` and `cascade_of` when
/// set. Strings are recorded as strings, for the subscriber to escape.
///
/// Emits nothing when the calling thread has no subscriber: tracing's `log` feature
/// would otherwise forward the event to `log`, a second log line for the dump.
#[cfg(feature = "tracing")]
pub(crate) fn trace(event: &DumpEvent) {
    if tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>()) {
        return;
    }
    let files = event
        .files
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join(", ");
    macro_rules! emit {
        ($level:expr) => {
            tracing::event!(
                target: "holmes",
                $level,
                id = event.id,
                kind = event.kind.name(),
                rule = event.metric.name(),
                reason = %event.reason,
                value = event.value,
                average = event.average,
                culprit = event.culprit.as_deref(),
                files = files.as_str(),
                error = event.error.as_deref(),
                cascade_of = event.cascade_of,
                "holmes dump"
            )
        };
    }
    if event.error.is_some() {
        emit!(tracing::Level::ERROR);
    } else {
        emit!(tracing::Level::WARN);
    }
}

/// A trigger from the sampler.
#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    pub id: u64,
    pub metric: Metric,
    pub reason: FireReason,
    pub value: f64,
    pub average: f64,
    pub ring: Vec<f64>,
    pub rule: Rule,
    pub time: SystemTime,
    /// Also capture the other enabled kinds.
    pub cascade: bool,
}

/// One row of a text top-N.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TopEntry {
    /// Function name.
    pub name: String,
    /// Value where the function is the innermost frame.
    pub flat: i64,
    /// Value where the function is anywhere on the stack.
    pub cum: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards against: a newline in a dump path, culprit or error forging a log line.
    #[test]
    fn the_dump_log_line_escapes_control_characters() {
        let event = DumpEvent {
            id: 1,
            kind: DumpKind::Threads,
            metric: Metric::Threads,
            reason: FireReason::AboveAbs,
            value: 30.0,
            average: 20.0,
            ring: vec![10.0, 30.0],
            rule: Rule::new(5, 25, 20),
            time: SystemTime::UNIX_EPOCH,
            capture_duration: Duration::ZERO,
            capture_cpu_percent: None,
            top: Vec::new(),
            top_total: 0,
            culprit: Some("evil\n[ERROR holmes] forged".into()),
            files: vec![PathBuf::from("/tmp/holmes\r\nx/threads.txt")],
            error: Some("disk\u{1b}[2J".into()),
            cascade_of: None,
        };
        let line = event.to_string();
        assert!(!line.contains(['\n', '\r', '\u{1b}']), "{line:?}");
        assert!(
            line.contains("culprit: evil\\n[ERROR holmes] forged"),
            "{line}"
        );
        assert!(
            line.contains("files: /tmp/holmes\\r\\nx/threads.txt"),
            "{line}"
        );
        assert!(line.contains("error: disk\\x1b[2J"), "{line}");
    }

    #[cfg(feature = "tracing")]
    mod trace {
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};

        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};
        use tracing::{Event, Level, Metadata, Subscriber};

        use super::super::trace;
        use super::*;

        /// A recorded field value, by the type tracing recorded it as.
        #[derive(Clone, Debug, PartialEq)]
        enum V {
            U64(u64),
            F64(f64),
            Str(String),
            /// A `Debug` or `Display` value (`%x`, the message), formatted.
            Fmt(String),
        }

        #[derive(Clone, Debug)]
        struct Seen {
            target: String,
            level: Level,
            fields: BTreeMap<&'static str, V>,
        }

        struct Fields<'a>(&'a mut BTreeMap<&'static str, V>);

        impl Visit for Fields<'_> {
            fn record_u64(&mut self, field: &Field, value: u64) {
                self.0.insert(field.name(), V::U64(value));
            }
            fn record_f64(&mut self, field: &Field, value: f64) {
                self.0.insert(field.name(), V::F64(value));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.insert(field.name(), V::Str(value.into()));
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name(), V::Fmt(format!("{value:?}")));
            }
        }

        /// A subscriber that keeps every event it is given.
        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<Seen>>>);

        impl Capture {
            fn seen(&self) -> Vec<Seen> {
                self.0.lock().unwrap().clone()
            }
        }

        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut fields = BTreeMap::new();
                event.record(&mut Fields(&mut fields));
                self.0.lock().unwrap().push(Seen {
                    target: event.metadata().target().into(),
                    level: *event.metadata().level(),
                    fields,
                });
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }

        fn failed_cascade() -> DumpEvent {
            DumpEvent {
                id: 7,
                kind: DumpKind::Heap,
                metric: Metric::Mem,
                reason: FireReason::Diff,
                value: 30.5,
                average: 20.25,
                ring: vec![10.0, 30.5],
                rule: Rule::new(5, 25, 80),
                time: SystemTime::UNIX_EPOCH,
                capture_duration: Duration::ZERO,
                capture_cpu_percent: None,
                top: Vec::new(),
                top_total: 0,
                culprit: Some("svc::leak".into()),
                files: vec![PathBuf::from("/d/heap.txt"), PathBuf::from("/d/heap.pb.gz")],
                error: Some("disk full".into()),
                cascade_of: Some(6),
            }
        }

        fn s(v: &str) -> V {
            V::Str(v.into())
        }

        #[test]
        fn tracing_event_has_every_field() {
            let capture = Capture::default();
            let failed = failed_cascade();
            let plain = DumpEvent {
                id: 8,
                kind: DumpKind::Threads,
                metric: Metric::Threads,
                reason: FireReason::AboveAbs,
                culprit: None,
                files: Vec::new(),
                error: None,
                cascade_of: None,
                ..failed.clone()
            };
            tracing::subscriber::with_default(capture.clone(), || {
                trace(&failed);
                trace(&plain);
            });
            let seen = capture.seen();
            assert_eq!(seen.len(), 2, "{seen:#?}");

            assert_eq!(seen[0].target, "holmes");
            assert_eq!(seen[0].level, Level::ERROR, "a failed dump");
            let expected = BTreeMap::from([
                ("message", V::Fmt("holmes dump".into())),
                ("id", V::U64(7)),
                ("kind", s("heap")),
                ("rule", s("mem")),
                ("reason", V::Fmt(FireReason::Diff.to_string())),
                ("value", V::F64(30.5)),
                ("average", V::F64(20.25)),
                ("culprit", s("svc::leak")),
                ("files", s("/d/heap.txt, /d/heap.pb.gz")),
                ("error", s("disk full")),
                ("cascade_of", V::U64(6)),
            ]);
            assert_eq!(seen[0].fields, expected);

            assert_eq!(seen[1].target, "holmes");
            assert_eq!(seen[1].level, Level::WARN);
            let expected = BTreeMap::from([
                ("message", V::Fmt("holmes dump".into())),
                ("id", V::U64(8)),
                ("kind", s("threads")),
                ("rule", s("threads")),
                ("reason", V::Fmt("curVal > ruleAbs".into())),
                ("value", V::F64(30.5)),
                ("average", V::F64(20.25)),
                ("files", s("")),
            ]);
            assert_eq!(seen[1].fields, expected);
        }

        // The dump is emitted on the holmes-dumper thread: this test sets the process's
        // global subscriber, the only test in this binary to do so.
        #[cfg(target_os = "linux")]
        #[test]
        fn tracing_sees_a_dump_of_a_running_holmes() {
            static GLOBAL: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
            let capture = GLOBAL.get_or_init(|| {
                let c = Capture::default();
                tracing::subscriber::set_global_default(c.clone())
                    .expect("no other global subscriber in this test binary");
                c
            });
            let _one = crate::guard::test_lock();
            let dir = tempfile::tempdir().expect("tempdir");
            let prefix = dir.path().to_str().expect("a UTF-8 temp dir").to_owned();
            // Fires on the first tick: the process has more than 2 threads.
            let guard = crate::Holmes::builder()
                .env_overrides(false)
                .interval(Duration::from_millis(20))
                .ring_size(1)
                .min_free_space(0)
                .formats([crate::Format::Text])
                .dump_dir(dir.path())
                .threads(Rule::new(1, 1, 2))
                .start()
                .expect("start");
            let ours = |s: &Seen| matches!(s.fields.get("files"), Some(V::Str(f)) if f.starts_with(&prefix));
            let t0 = std::time::Instant::now();
            let found = loop {
                if let Some(s) = capture.seen().into_iter().find(ours) {
                    break s;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "no dump of ours in 30 s; seen: {:#?}",
                    capture.seen()
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            drop(guard);
            assert_eq!(found.target, "holmes");
            assert_eq!(found.level, Level::WARN, "{found:#?}");
            assert_eq!(found.fields["message"], V::Fmt("holmes dump".into()));
            assert_eq!(found.fields["kind"], s("threads"), "{found:#?}");
            assert_eq!(found.fields["rule"], s("threads"));
            assert_eq!(found.fields["reason"], V::Fmt("curVal > ruleAbs".into()));
            assert!(
                matches!(found.fields["value"], V::F64(v) if v > 2.0),
                "{found:#?}"
            );
            assert!(!found.fields.contains_key("error"), "{found:#?}");
            let V::Str(files) = &found.fields["files"] else {
                panic!("{found:#?}");
            };
            for f in files.split(", ") {
                assert!(f.starts_with(&prefix) && f.ends_with(".txt"), "{files}");
                assert!(std::path::Path::new(f).is_file(), "{f}");
            }
        }
    }
}
