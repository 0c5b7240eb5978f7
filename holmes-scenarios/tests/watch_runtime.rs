//! `#[holmes::watch]` at run time: a binary built with the attribute spikes its CPU and
//! the CPU profile of the spike appears in its dump directory, for a synchronous and a
//! tokio `main`; and a binary whose holmes cannot start runs on and logs why. The
//! binaries are `src/bin/watch_*.rs`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs `scenario` in a fresh working directory and checks its CPU dump names `culprit`.
fn spike_dumps_cpu_profile(scenario: &str, culprit: &str) {
    let cwd = common::fresh_dir(scenario);
    std::fs::create_dir_all(&cwd).expect("create the working directory");
    let mut cmd = Command::new(common::scenario_bin(scenario));
    cmd.current_dir(&cwd).env("RUST_LOG", "holmes=debug");
    let out = common::run_with_deadline(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{scenario} failed ({}); stderr:\n{stderr}",
        out.status
    );

    // `dump_dir = "dumps"` is relative to the child's working directory.
    let dumps = cwd.join("dumps");
    let profiles = common::files(&dumps, "cpu.", ".pb.gz");
    assert!(
        !profiles.is_empty(),
        "no cpu.*.pb.gz in {}: {:?}; stderr:\n{stderr}",
        dumps.display(),
        listing(&dumps)
    );
    // The spinner is the only busy thread during the capture: the culprit leads the flat
    // list (in a debug build, inlined helpers such as `black_box` follow it).
    let top = common::pprof_top_functions(&profiles[0], &[], 3);
    assert!(
        top.iter().any(|f| f.contains(culprit)),
        "{culprit} is not among the top functions of {}: {top:#?}",
        profiles[0].display()
    );
    let _ = std::fs::remove_dir_all(&cwd);
}

fn listing(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sync_main_dumps_the_spike() {
    spike_dumps_cpu_profile("watch_sync", "watch_spin_culprit");
}

#[test]
fn tokio_main_dumps_the_spike() {
    spike_dumps_cpu_profile("watch_tokio", "watch_spin_culprit");
}

#[test]
fn start_failure_is_logged_and_the_program_runs_on() {
    let mut cmd = Command::new(common::scenario_bin("watch_start_failure"));
    cmd.env("RUST_LOG", "holmes=error");
    let out = common::run_with_deadline(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {}; stderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("run: the body ran") && stdout.contains("main: run returned 7"),
        "stdout:\n{stdout}"
    );
    // env_logger prints `[<time> ERROR holmes] <message>`: error level, target `holmes`.
    let line = stderr
        .lines()
        .find(|l| l.contains(" ERROR holmes]"))
        .unwrap_or_else(|| panic!("no error logged with target `holmes`; stderr:\n{stderr}"));
    assert!(
        line.contains("holmes-cannot-create-this"),
        "the error names the directory: {line}"
    );
}
