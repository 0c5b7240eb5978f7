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
}
