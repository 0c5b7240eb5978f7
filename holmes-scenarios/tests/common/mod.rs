//! Helpers shared by the scenario tests: locating scenario binaries, running them
//! with a deadline, finding dump files and asking `go tool pprof` what they say.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../../tests/common/shared.rs"]
mod shared;

// Not every test binary uses them.
#[allow(unused_imports)]
pub use shared::*;

/// Path of a scenario binary: `src/bin/<name>.rs` of this package, or the demo service
/// `http_service` (`../examples/http_service.rs`), each a `[[bin]]`. Cargo builds every
/// binary of the package before it runs its tests, and tells them where
/// (`CARGO_BIN_EXE_<name>`). `HOLMES_SCENARIO_DIR` names another directory of them: CI
/// runs scenario tests again against binaries built the way users build
/// (`.ci/outside.sh`: an outside crate, `--release`, no frame pointers, line tables only).
pub fn scenario_bin(name: &str) -> PathBuf {
    let path = match std::env::var_os("HOLMES_SCENARIO_DIR") {
        Some(dir) => PathBuf::from(dir).join(name),
        None => PathBuf::from(built_bin(name)),
    };
    assert!(
        path.exists(),
        "scenario binary {} not built (run the tests with `cargo test`)",
        path.display()
    );
    path
}

/// `CARGO_BIN_EXE_<name>`, which cargo sets (at compile time) for the integration tests
/// of the package that has the binary.
fn built_bin(name: &str) -> &'static str {
    match name {
        "cpu_spike" => env!("CARGO_BIN_EXE_cpu_spike"),
        "hostile_fork" => env!("CARGO_BIN_EXE_hostile_fork"),
        "hygiene_config" => env!("CARGO_BIN_EXE_hygiene_config"),
        "hygiene_disk" => env!("CARGO_BIN_EXE_hygiene_disk"),
        "hygiene_flap" => env!("CARGO_BIN_EXE_hygiene_flap"),
        "hygiene_kill" => env!("CARGO_BIN_EXE_hygiene_kill"),
        "limits_report" => env!("CARGO_BIN_EXE_limits_report"),
        "rule_heap" => env!("CARGO_BIN_EXE_rule_heap"),
        "rule_mem" => env!("CARGO_BIN_EXE_rule_mem"),
        "rule_threads" => env!("CARGO_BIN_EXE_rule_threads"),
        "threads_deadlock" => env!("CARGO_BIN_EXE_threads_deadlock"),
        "threads_pileup" => env!("CARGO_BIN_EXE_threads_pileup"),
        "watch_start_failure" => env!("CARGO_BIN_EXE_watch_start_failure"),
        "watch_sync" => env!("CARGO_BIN_EXE_watch_sync"),
        "watch_tokio" => env!("CARGO_BIN_EXE_watch_tokio"),
        #[cfg(feature = "http")]
        "http_service" => env!("CARGO_BIN_EXE_http_service"),
        _ => panic!(
            "no scenario binary `{name}`: add src/bin/{name}.rs, its [[bin]] in Cargo.toml and an arm here"
        ),
    }
}

/// Runs `cmd` to completion, killing it after `deadline`. Returns its output.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn scenario");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait_with_output")
}

/// Files in `dir` whose name starts with `prefix` and ends with `suffix`, sorted.
pub fn files(dir: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.starts_with(prefix) && n.ends_with(suffix)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// File mode bits (permissions only).
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A function of a scenario's source, found by where its code is as well as by name.
///
/// A release build with line tables only names an inlined closure or `async fn` body
/// `{closure#0}` / `{async_fn#0}` (its line tables carry no path), and a tail call
/// leaves no frame of the caller; what remains of the user's function is the file and
/// line of its code. A frame is the function's when its name contains `qualified`, or
/// when its `file:line` is in the function's lines of `source`.
pub struct SourceFn {
    qualified: String,
    file: String,
    lines: std::ops::RangeInclusive<u32>,
}

impl SourceFn {
    /// `qualified` (`http_service::make_1gb_handler`) defined in `source`, a path
    /// relative to this package's directory (`src/bin/rule_heap.rs`,
    /// `../examples/http_service.rs`). Its lines run from `fn <name>` to the first
    /// line after it that closes at the same indentation.
    pub fn new(source: &str, qualified: &str) -> SourceFn {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let name = qualified.rsplit("::").next().unwrap_or(qualified);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| w[0] == "fn" && w[1].split(['(', '<']).next() == Some(name))
            })
            .unwrap_or_else(|| panic!("no `fn {name}` in {}", path.display()));
        let indent = lines[start].len() - lines[start].trim_start().len();
        let end = (start + 1..lines.len())
            .find(|&i| {
                let l = lines[i];
                l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
            })
            .unwrap_or_else(|| panic!("`fn {name}` never closes in {}", path.display()));
        SourceFn {
            qualified: qualified.to_owned(),
            file: path.file_name().unwrap().to_string_lossy().into_owned(),
            lines: (start as u32 + 1)..=(end as u32 + 1),
        }
    }

    /// Whether `frame` — a `go tool pprof -lines` frame (`name path:line`) or a
    /// culprit line (`name at file:line …`) — is this function.
    pub fn is(&self, frame: &str) -> bool {
        frame.contains(&self.qualified)
            || frame.split_whitespace().any(|w| {
                w.rsplit_once(':').is_some_and(|(path, line)| {
                    Path::new(path)
                        .file_name()
                        .is_some_and(|f| *f == *self.file)
                        && line.parse().is_ok_and(|n| self.lines.contains(&n))
                })
            })
    }
}

/// The samples of `go tool pprof -traces -lines <extra>`: each one's value (the number
/// before its unit: pass `-unit=`) and frames (`name path:line`), innermost first.
pub fn pprof_traces(file: &Path, extra: &[&str]) -> Vec<(f64, Vec<String>)> {
    let mut args = vec!["-traces", "-lines"];
    args.extend_from_slice(extra);
    let text = pprof(&args, file);
    let mut out: Vec<(f64, Vec<String>)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with("-----------+") {
            open = true;
            continue;
        }
        if !open || line.trim().is_empty() {
            continue;
        }
        // A label (`thread:  tokio-rt-worker`, `thread_name:  main`): its key, right
        // aligned in the value column or longer than it, ends with a colon.
        if line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.ends_with(':') && !w.ends_with("::"))
        {
            continue;
        }
        // `%10s   %s`: the value column is blank on every line but a sample's first.
        let (value, frame) = line.split_at(line.len().min(11));
        let value = value.trim();
        if !value.is_empty() {
            let n = value
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .unwrap_or_else(|_| panic!("not a value: {line:?}"));
            out.push((n, Vec::new()));
        }
        let frame = frame.trim();
        if let Some(last) = out.last_mut() {
            last.1.push(frame.to_owned());
        }
    }
    out
}

/// What the samples with a frame of `f` add up to, its share of all samples (%), and
/// the traces (for the failure message).
pub fn cum_of(file: &Path, extra: &[&str], f: &SourceFn) -> (f64, f64, String) {
    let traces = pprof_traces(file, extra);
    let total: f64 = traces.iter().map(|t| t.0).sum();
    let ours: f64 = traces
        .iter()
        .filter(|t| t.1.iter().any(|fr| f.is(fr)))
        .map(|t| t.0)
        .sum();
    let pct = if total > 0.0 {
        100.0 * ours / total
    } else {
        0.0
    };
    let mut args = vec!["-traces", "-lines"];
    args.extend_from_slice(extra);
    (ours, pct, pprof(&args, file))
}

/// The innermost frame of a trace in the program's own code: one with a source line
/// outside the Rust toolchain's library, the cargo registry and holmes' runtime.
pub fn own_frame(frames: &[String]) -> Option<&str> {
    frames.iter().map(String::as_str).find(|f| {
        f.split_whitespace().any(|w| {
            w.rsplit_once(':').is_some_and(|(path, line)| {
                path.ends_with(".rs")
                    && line.parse::<u32>().is_ok()
                    && !["/library/", "/.cargo/registry/", "/holmes-runtime/src/"]
                        .iter()
                        .any(|p| path.contains(p))
            })
        })
    })
}
