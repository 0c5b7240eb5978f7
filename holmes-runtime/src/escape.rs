//! Escaping for log lines and error messages.
//!
//! Paths, file names and names that come from the host or its environment (thread
//! names, symbols, the dump directory) are printed through [`Escaped`] or
//! [`EscapedPath`]: every control character (C0, DEL, C1) and the Unicode line and
//! paragraph separators are written as an escape (`\n`, `\r`, `\t`, `\x1b`,
//! `\u{2028}`), so such a value can neither end a log line early nor forge another one.
//! Everything else is written as is.

use std::fmt::{self, Write};
use std::path::Path;

/// Displays a string with its control characters escaped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\x{:02x}", u32::from(c))?,
                '\u{2028}' | '\u{2029}' => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Displays a path (lossily decoded) with its control characters escaped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EscapedPath<'a>(pub &'a Path);

impl fmt::Display for EscapedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaped(&self.0.to_string_lossy()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let s = |v: &str| Escaped(v).to_string();
        assert_eq!(s("plain /tmp/holmes é"), "plain /tmp/holmes é");
        assert_eq!(
            s("a\nWARN forged\r\tb"),
            "a\\nWARN forged\\r\\tb",
            "a newline must not start a new log line"
        );
        assert_eq!(s("\u{1b}[31mred\u{7f}\u{85}"), "\\x1b[31mred\\x7f\\x85");
        assert_eq!(s("x\u{2028}y"), "x\\u{2028}y");
        assert_eq!(
            EscapedPath(Path::new("/tmp/evil\ndir")).to_string(),
            "/tmp/evil\\ndir"
        );
    }
}
