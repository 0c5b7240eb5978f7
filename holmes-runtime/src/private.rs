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

/// The `#[global_allocator]` of a `mem` or `heap` rule: `(type = value)`.
///
/// `#[holmes::watch]` invokes it, under one of the two names below, with the span of the
/// rule. When the program declares a global allocator of its own, rustc's "cannot define
/// multiple global allocators" underlines that rule, and its note ("… comes from the
/// expansion of the macro `…`") names the macro: the name says what to write.
#[doc(hidden)]
#[macro_export]
macro_rules! __holmes_global_allocator {
    ($ty:ty = $value:expr) => {
        #[global_allocator]
        static __HOLMES_ALLOCATOR: $ty = $value;
    };
}

/// The allocator of a `mem` or `heap` rule without `allocator = …`.
pub use crate::__holmes_global_allocator as to_keep_your_global_allocator_write__allocator_eq_YourAllocator__or__allocator_eq_false;
/// The allocator of `allocator = YourAllocator`, which wraps it.
pub use crate::__holmes_global_allocator as allocator_eq_wraps_yours__remove_your_own_global_allocator;
