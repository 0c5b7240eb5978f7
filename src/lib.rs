pub use holmes_runtime::*;
