//! The issue-2 acceptance: a CPU spike in a child process is caught, and the dump is a
//! real pprof profile naming the function that burned the CPU.

mod common;

use std::process::Command;
use std::time::Duration;

#[test]
fn cpu_spike_is_caught_and_named() {
    let dir = common::fresh_dir("cpu_spike");
    let mut cmd = Command::new(common::scenario_bin("cpu_spike"));
    cmd.env("HOLMES_TEST_DIR", &dir);
    let out = common::run_with_deadline(cmd, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{stderr}");

    let pb = common::files(&dir, "cpu.", ".pb.gz");
    assert_eq!(
        pb.len(),
        1,
        "one CPU dump expected in {}: {stdout}\n{stderr}",
        dir.display()
    );
    let pb = &pb[0];
    assert_eq!(common::mode(pb), 0o600);
    assert_eq!(common::mode(&dir), 0o700);

    let top = common::pprof_top_functions(pb, &[], 5);
    assert!(
        top.iter().any(|f| f.contains("cpu_spike_culprit")),
        "culprit not among the top functions: {top:?}"
    );

    let stem = pb.to_string_lossy().trim_end_matches(".pb.gz").to_owned();
    let txt = std::fs::read_to_string(format!("{stem}.txt")).expect("text dump");
    assert!(txt.contains("reason: curVal"), "{txt}");
    assert!(txt.contains("cpu_spike_culprit"), "{txt}");
    let svg = std::fs::read_to_string(format!("{stem}.svg")).expect("svg dump");
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "not an svg"
    );
    assert!(svg.contains("cpu_spike_culprit"));

    // The event was logged at warn level under target `holmes`.
    assert!(stderr.contains("dump cpu #1"), "{stderr}");
    assert!(stdout.contains("dumps=1 failures=0"), "{stdout}");
    // No temporary file left behind.
    assert!(common::files(&dir, ".holmes-", ".tmp").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
