//! The helpers both test suites use (the facade's `tests/` and holmes-scenarios'
//! `tests/`, which includes this file by path): dump directories and `go tool pprof`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty directory for one test's dumps.
pub fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holmes-test-{}-{}", test, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `go tool pprof <args> <file>`; panics with the tool's stderr when it fails.
pub fn pprof(args: &[&str], file: &Path) -> String {
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", std::env::temp_dir())
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .expect("`go` not found: install golang-go (see .ci/run)");
    assert!(
        out.status.success(),
        "go tool pprof {:?} {} failed: {}",
        args,
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The function names of the first `n` rows of `go tool pprof -top` (flat order).
pub fn pprof_top_functions(file: &Path, extra: &[&str], n: usize) -> Vec<String> {
    let mut args = vec!["-top", "-nodecount=200"];
    args.extend_from_slice(extra);
    let text = pprof(&args, file);
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|l| {
            let name: Vec<&str> = l.split_whitespace().skip(5).collect();
            (!name.is_empty()).then(|| name.join(" "))
        })
        .take(n)
        .collect()
}
