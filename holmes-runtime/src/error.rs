//! The one error type of holmes.

use std::path::PathBuf;

use crate::escape::EscapedPath;

/// Why holmes could not start, or why an on-demand capture failed.
///
/// Every variant that wraps a failure keeps it as its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid holmes configuration: {0}")]
    Config(String),

    /// A setting is outside its documented range (see [`crate::bounds`]): too small to
    /// work or too large to mean anything (an interval of a nanosecond, a cooldown of
    /// a thousand years, a queue of `usize::MAX` reports).
    #[error("invalid holmes setting `{setting}`: {reason}")]
    Setting {
        /// The setting as the builder names it: `interval`, `cooldown`,
        /// `cpu.cooldown` (a rule's option), `max_dumps.window`, `report_queue`.
        setting: String,
        /// What is wrong, with the accepted range and the value given.
        reason: String,
    },

    /// The dump directory exists but is not safe to write dumps into, or to delete
    /// old dumps from: it is a symlink, not a directory, owned by another user, or
    /// writable by group or others. holmes never changes such a directory.
    #[error("untrusted dump directory {}: {reason}", EscapedPath(.path))]
    UntrustedDumpDir {
        /// The directory, as configured.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },

    /// The dump directory could not be created.
    #[error("cannot create dump directory {}: {source}", EscapedPath(.path))]
    CreateDumpDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The dump directory exists but holmes cannot write files into it.
    #[error("dump directory {} is not writable: {source}", EscapedPath(.path))]
    DumpDirNotWritable {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A reporter refused its configuration at `start()` (see
    /// [`Reporter::check`](crate::report::Reporter::check)): an `https://` URL in a
    /// build without TLS, say.
    #[error("reporter `{name}` cannot work: {source}")]
    Reporter {
        /// The reporter's [`name`](crate::report::Reporter::name).
        name: String,
        /// What is wrong.
        #[source]
        source: ReportError,
    },

    /// holmes is already running in this process. CPU profiling is process-global
    /// (one `SIGPROF` handler per process), so only one instance may run at a time.
    #[error("holmes is already running in this process (drop the other Guard first)")]
    AlreadyRunning,

    /// A holmes thread could not be spawned.
    #[error("cannot spawn thread {name}: {source}")]
    Spawn {
        /// The thread's name.
        name: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// `HOLMES_DISABLE` is set: holmes does not start (not a failure; logged at info
    /// level by `#[holmes::watch]`).
    #[error("holmes is disabled by HOLMES_DISABLE")]
    Disabled,

    /// This holmes has stopped (its [`Guard`](crate::Guard) was dropped).
    #[error("holmes is not running (its guard was dropped)")]
    NotRunning,

    /// The dumper's queue is full: dumps are being taken; try again later.
    #[error("holmes is busy taking dumps (its queue is full); try again later")]
    Busy,

    /// An on-demand dump ([`Handle::dump_now`](crate::Handle::dump_now)) was taken but
    /// its capture failed or no file could be written.
    #[error("the on-demand {kind} dump failed: {reason}")]
    DumpFailed {
        /// What was asked for: [`DumpKind::name`](crate::DumpKind::name).
        kind: &'static str,
        /// Why (the dump event's error).
        reason: String,
    },

    /// The capability is not available on this platform.
    #[error("{what} is unsupported on this platform")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
}

/// `Result<T, holmes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a reporter could not deliver a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The server answered with a non-success status (after any retries).
    #[error("HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the response body (at most 1 KiB, lossy UTF-8).
        body: String,
    },

    /// The request did not get an answer: connection refused or reset, DNS, TLS, timeout.
    #[error("transport error: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),

    /// The URL is `https://` and this build has no TLS: none of holmes' features
    /// `tls-ring`, `tls-aws-lc` and `native-tls` is on (none is by default, so that no
    /// TLS stack or crypto provider is forced on the service).
    #[error(
        "{url}: https:// needs one of holmes' TLS features (`tls-ring`, `tls-aws-lc` or \
         `native-tls`), none of which this build has"
    )]
    TlsUnavailable {
        /// The URL, without its query string and user info.
        url: String,
    },

    /// Reading or writing a local file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Anything else (a reporter's own failure, an invalid configuration).
    #[error("{0}")]
    Other(String),
}
