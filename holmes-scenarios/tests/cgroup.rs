//! A real cgroup (v1, as mounted on these machines): a child process placed in a cgroup
//! with a CPU quota of half a core and a 512 MiB memory limit must report exactly those
//! limits, found through /proc/self/cgroup and the mount table.
//!
//! Needs root and a writable cgroup v1 hierarchy (CI has both); elsewhere it says why
//! it did not run.

mod common;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

struct Cgroup(Vec<PathBuf>);

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn writable_v1() -> Option<(PathBuf, PathBuf)> {
    let cpu = Path::new("/sys/fs/cgroup/cpu");
    let mem = Path::new("/sys/fs/cgroup/memory");
    let root = unsafe { libc::geteuid() } == 0;
    (root && cpu.join("cpu.cfs_quota_us").exists() && mem.join("memory.limit_in_bytes").exists())
        .then(|| (cpu.to_path_buf(), mem.to_path_buf()))
}

#[test]
fn child_in_a_limited_cgroup_reports_its_limits() {
    let Some((cpu_root, mem_root)) = writable_v1() else {
        eprintln!(
            "not run: needs root and cgroup v1 cpu+memory controllers mounted at /sys/fs/cgroup"
        );
        return;
    };
    let name = format!("holmes-test-{}", std::process::id());
    let cpu = cpu_root.join(&name);
    let mem = mem_root.join(&name);
    std::fs::create_dir_all(&cpu).expect("create cpu cgroup");
    std::fs::create_dir_all(&mem).expect("create memory cgroup");
    let _cleanup = Cgroup(vec![cpu.clone(), mem.clone()]);
    std::fs::write(cpu.join("cpu.cfs_period_us"), "100000").unwrap();
    std::fs::write(cpu.join("cpu.cfs_quota_us"), "50000").unwrap();
    std::fs::write(
        mem.join("memory.limit_in_bytes"),
        (512u64 << 20).to_string(),
    )
    .unwrap();

    let procs: Vec<CString> = [&cpu, &mem]
        .iter()
        .map(|d| CString::new(d.join("cgroup.procs").to_str().unwrap()).unwrap())
        .collect();
    let dir = common::fresh_dir("cgroup");
    let mut cmd = Command::new(common::scenario_bin("limits_report"));
    cmd.env("HOLMES_TEST_DIR", &dir);
    // SAFETY: only async-signal-safe calls (open/write/close) on preallocated strings.
    unsafe {
        cmd.pre_exec(move || {
            for p in &procs {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // "0" moves the writing process (the child) into the cgroup.
                let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                libc::close(fd);
                if !ok {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = common::run_with_deadline(cmd, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let get = |k: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {stdout}"))
            .to_owned()
    };
    assert_eq!(get("cores"), "0.5", "{stdout}");
    assert!(get("cores_source").contains(&name), "{stdout}");
    assert_eq!(get("memory_limit"), (512u64 << 20).to_string(), "{stdout}");
    assert!(get("memory_source").contains(&name), "{stdout}");
    // RSS (≥ 32 MiB touched) against 512 MiB: between 6 % and 50 %.
    let pct: f64 = get("mem_percent").parse().unwrap();
    assert!(
        (6.0..50.0).contains(&pct),
        "mem % {pct} not relative to the cgroup limit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
