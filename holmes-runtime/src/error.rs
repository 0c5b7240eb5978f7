//! The one error type of holmes.

use std::path::PathBuf;

/// Why holmes could not start, or why an on-demand capture failed.
///
/// Every variant that wraps a failure keeps it as its `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid holmes configuration: {0}")]
    Config(String),

    /// The dump directory could not be created.
    #[error("cannot create dump directory {path}: {source}")]
    CreateDumpDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The dump directory exists but holmes cannot write files into it.
    #[error("dump directory {path} is not writable: {source}")]
    DumpDirNotWritable {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
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

    /// The capability is not available on this platform.
    #[error("{what} is unsupported on this platform")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
}

/// `Result<T, holmes::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
