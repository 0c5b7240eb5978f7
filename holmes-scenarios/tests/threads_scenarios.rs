//! Thread dumps taken inside child processes: a pile-up of 200 threads in one named
//! function, and a lock-order deadlock with 50 waiters.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{fresh_dir, pprof, run_with_deadline, scenario_bin};

fn run(name: &str) -> std::path::PathBuf {
    let dir = fresh_dir(name);
    let mut cmd = Command::new(scenario_bin(name));
    cmd.env("HOLMES_TEST_DIR", &dir);
    let out = run_with_deadline(cmd, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{name} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The `cum` column of the `go tool pprof -top -cum` row naming `function`.
fn cum_of(top: &str, function: &str) -> Option<i64> {
    top.lines()
        .find(|l| l.contains(function))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

#[test]
fn pileup_of_200_threads_shows_in_pprof() {
    let dir = run("threads_pileup");
    let file = dir.join("threads.pb.gz");
    let top = pprof(&["-top", "-cum", "-nodecount=100"], &file);
    let n = cum_of(&top, "threads_pileup_blocked_here")
        .unwrap_or_else(|| panic!("named function missing from pprof -top:\n{top}"));
    assert!(
        (195..=200).contains(&n),
        "expected ~200 threads, got {n}:\n{top}"
    );
    assert!(top.contains("Type: threads"), "{top}");
    let text = std::fs::read_to_string(dir.join("threads.txt")).expect("text dump");
    assert!(text.contains("200 threads with this stack:"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lock_order_deadlock_shows_both_sides_and_the_waiters() {
    let dir = run("threads_deadlock");
    let text = std::fs::read_to_string(dir.join("threads.txt")).expect("text dump");
    for f in ["deadlock_takes_a_then_b", "deadlock_takes_b_then_a"] {
        assert!(text.contains(f), "{f} missing:\n{text}");
    }
    // The 50 waiters form one group whose stack is inside Mutex::lock, called from
    // the waiter function.
    let group = text
        .split("\n\n")
        .find(|g| g.starts_with("50 threads with this stack:"))
        .unwrap_or_else(|| panic!("no group of 50 waiters:\n{text}"));
    let lock = group
        .find("Mutex")
        .expect("waiters are inside the mutex lock call");
    let waiter = group
        .find("deadlock_waiter_wants_a")
        .expect("waiter function on the stack");
    assert!(
        lock < waiter,
        "lock call must be inner to the waiter:\n{group}"
    );
    // Regression: the std function that called into glibc's frameless `syscall` was
    // missing from every stack (recovered from the top of the stack since).
    assert!(group.contains("lock_contended"), "{group}");
    let _ = std::fs::remove_dir_all(&dir);
}
