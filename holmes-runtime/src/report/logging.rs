//! [`LogReporter`]: one log line per dump.

use super::{Report, ReportError, Reporter};
use crate::escape::Escaped;

/// Logs each report at info level under target `holmes`: the event's one-line
/// description, then each file's name and size. Useful to see what a fleet reporter
/// would send, or as the only reporter where logs are shipped anyway.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct LogReporter;

impl LogReporter {
    /// A log reporter.
    pub fn new() -> LogReporter {
        LogReporter
    }
}

impl Reporter for LogReporter {
    fn name(&self) -> &str {
        "log"
    }

    fn report(&mut self, report: &Report) -> Result<(), ReportError> {
        let files: Vec<String> = report
            .files
            .iter()
            .map(|f| format!("{} ({} B)", Escaped(f.file_name()), f.bytes.len()))
            .collect();
        log::info!(
            target: "holmes",
            "holmes report: {}; {} file(s): {}",
            report.event,
            files.len(),
            files.join(", ")
        );
        Ok(())
    }
}
