//! Each rule fires in a child process and its dump names the culprit, through
//! `go tool pprof` (the Go library's scenarios 1gbslice, gcheap, thread_trigger).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn run(scenario: &str, deadline: Duration) -> (PathBuf, String) {
    let dir = common::fresh_dir(scenario);
    let mut cmd = Command::new(common::scenario_bin(scenario));
    cmd.env("HOLMES_TEST_DIR", &dir);
    let out = common::run_with_deadline(cmd, deadline);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{scenario} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("dumps=1 failures=0"),
        "{scenario}:\n{stdout}\n{stderr}"
    );
    (dir, stdout)
}

fn only(dir: &std::path::Path, prefix: &str, suffix: &str) -> PathBuf {
    let f = common::files(dir, prefix, suffix);
    assert_eq!(
        f.len(),
        1,
        "one {prefix}*{suffix} expected in {}: {f:?}",
        dir.display()
    );
    f.into_iter().next().unwrap()
}

#[test]
fn mem_rule_dumps_a_heap_profile_led_by_the_1gib_handler() {
    let (dir, _) = run("rule_mem", Duration::from_secs(60));
    let heap = common::files(&dir, "heap.", ".pb.gz")
        .into_iter()
        .find(|p| !p.to_string_lossy().ends_with(".base.pb.gz"))
        .expect("heap dump");
    // Flat lands on the std method the handler called (`vec!`'s `from_elem`, inlined
    // into it in a release build) or on the handler; the handler carries it all.
    let top = common::pprof_top_functions(&heap, &["-sample_index=inuse_space", "-cum"], 30);
    assert!(
        top.iter().any(|f| f.contains("make_1gb_handler")),
        "{top:?}"
    );
    let text = common::pprof(&["-top", "-sample_index=inuse_space"], &heap);
    assert!(text.contains("GB") || text.contains("MB"), "{text}");
    let stem = heap.to_string_lossy().trim_end_matches(".pb.gz").to_owned();
    let txt = std::fs::read_to_string(format!("{stem}.txt")).expect("text dump");
    let culprit = txt.lines().find(|l| l.starts_with("culprit: "));
    assert!(
        culprit.is_some_and(|l| l.contains("make_1gb_handler")),
        "{txt}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn heap_rule_catches_a_spike_between_two_ticks_with_a_baseline() {
    let (dir, stdout) = run("rule_heap", Duration::from_secs(60));
    assert!(
        stdout.contains("ticks during the spike: 0"),
        "the spike must fall between ticks: {stdout}"
    );
    let base = only(&dir, "heap.", ".base.pb.gz");
    let peak = PathBuf::from(base.to_string_lossy().replace(".base.pb.gz", ".pb.gz"));
    assert!(peak.exists(), "{peak:?}");
    // The culprit carries the spike: by name, or — a release build tail-calls
    // `collect` from it and inlines the `vec!` closure, which its line tables name
    // `{closure#0}` — by the lines of its code.
    let culprit = common::SourceFn::new("src/bin/rule_heap.rs", "rule_heap::heap_spike_culprit");
    let (mb, _, text) = common::cum_of(&peak, &["-sample_index=inuse_space", "-unit=MB"], &culprit);
    assert!(mb >= 150.0, "~200 MiB expected:\n{text}");
    // What grew since the baseline: the spike.
    let base_arg = format!("-base={}", base.display());
    let (grew, _, text) = common::cum_of(
        &peak,
        &[&base_arg, "-sample_index=inuse_space", "-unit=MB"],
        &culprit,
    );
    assert!(grew >= 150.0, "~200 MiB expected:\n{text}");
    let stem = peak.to_string_lossy().trim_end_matches(".pb.gz").to_owned();
    let txt = std::fs::read_to_string(format!("{stem}.txt")).expect("text dump");
    let line = txt.lines().find_map(|l| l.strip_prefix("culprit: "));
    assert!(line.is_some_and(|l| culprit.is(l)), "{txt}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn threads_rule_dumps_the_pileup() {
    let (dir, _) = run("rule_threads", Duration::from_secs(60));
    let pb = only(&dir, "threads.", ".pb.gz");
    let text = common::pprof(&["-top", "-nodecount=300"], &pb);
    let line = text
        .lines()
        .find(|l| l.contains("park_in_pileup_culprit"))
        .unwrap_or_else(|| panic!("culprit missing:\n{text}"));
    let cum: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(
        (190.0..=201.0).contains(&cum),
        "~200 threads expected: {line}"
    );
    let txt = std::fs::read_to_string(pb.to_string_lossy().replace(".pb.gz", ".txt")).unwrap();
    assert!(txt.contains("reason: curVal"), "{txt}");
    assert!(txt.contains("park_in_pileup_culprit"), "{txt}");
    let _ = std::fs::remove_dir_all(&dir);
}
