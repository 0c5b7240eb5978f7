//! Support for the code `#[holmes::watch]` generates. Not a public API.

pub use std::time::Duration;

use crate::{Builder, Guard};

/// What the generated code does when holmes cannot start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Log at error level (target `holmes`) and run the program without holmes.
    Log,
    /// Panic with the error.
    Panic,
}

/// Starts holmes for the attributed function.
pub fn start(builder: Builder, on_error: OnError) -> Option<Guard> {
    match builder.start() {
        Ok(g) => Some(g),
        Err(crate::Error::Disabled) => {
            log::info!(target: "holmes", "holmes is disabled by HOLMES_DISABLE");
            None
        }
        Err(e) => match on_error {
            OnError::Log => {
                // On `main`, holmes starts before the program could install a logger:
                // say it on stderr then, rather than lose it.
                if log::max_level() == log::LevelFilter::Off {
                    eprintln!("holmes did not start, the program runs without it: {e}");
                } else {
                    log::error!(target: "holmes", "holmes did not start, the program runs without it: {e}");
                }
                None
            }
            OnError::Panic => panic!("holmes did not start: {e}"),
        },
    }
}
