//! Scenario (hostile host): a pre-fork server. The parent runs holmes with every rule,
//! `holmes::Allocator` and a thread that takes thread dumps in a loop, then forks 30
//! children. Each child allocates from 8 threads, takes a thread dump, starts holmes of
//! its own, stops it, and leaves by `_exit`, by `execv` of this binary, or by returning
//! from `main` (which drops the guard it inherited). The parent requires every child to
//! exit 0 within 1 s. Prints `forked N children, all exited 0`.

#[global_allocator]
static ALLOC: holmes::Allocator = holmes::Allocator::system();

#[cfg(unix)]
fn main() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    if std::env::args().nth(1).as_deref() == Some("exec-child") {
        return; // the re-executed child: a process of its own
    }
    let dir = std::path::PathBuf::from(std::env::var("HOLMES_TEST_DIR").expect("HOLMES_TEST_DIR"));
    let rule = || holmes::Rule::new(1, 25, 1000).cooldown(Duration::from_secs(1));
    let guard = holmes::Holmes::builder()
        .env_overrides(false)
        .interval(Duration::from_millis(20))
        .dump_dir(dir.join("parent"))
        .cpu(holmes::Rule::new(1, 25, 100))
        .mem(holmes::Rule::new(1, 25, 100))
        .heap(holmes::Rule::new(1, 25, 100).cooldown(Duration::from_secs(1)))
        .threads(rule())
        .start()
        .expect("holmes starts in the parent");
    let stop = Arc::new(AtomicBool::new(false));
    let dumper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = holmes::dump_threads();
            }
        })
    };
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut keep = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                keep.push(vec![1u8; 4096]);
                if keep.len() > 256 {
                    keep.clear();
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    const CHILDREN: usize = 30;
    for i in 0..CHILDREN {
        // SAFETY: the child only runs `child` below, then leaves.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            if child(i, &dir) {
                return; // leave by returning from main: drops the inherited guard
            }
            unreachable!("child {i} leaves by _exit or execv");
        }
        let t0 = Instant::now();
        let status = loop {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break Some(status);
            }
            if t0.elapsed() > Duration::from_secs(1) {
                // SAFETY: killing our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let ok = status.is_some_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0);
        assert!(
            ok,
            "child {i} (leaving by {}) did not exit 0 within 1 s: status {status:?} after {:?}",
            ["_exit", "execv", "return from main"][i % 3],
            t0.elapsed()
        );
    }
    stop.store(true, Ordering::Relaxed);
    dumper.join().unwrap();
    churn.join().unwrap();
    assert!(guard.status().ticks > 0, "the parent's holmes kept running");
    drop(guard);
    println!("forked {CHILDREN} children, all exited 0");
}

/// The child's work. Returns true when the child should return from `main`.
#[cfg(unix)]
fn child(i: usize, dir: &std::path::Path) -> bool {
    let fail = |what: String| -> ! {
        eprintln!("child {i}: {what}");
        // SAFETY: leaving the child at once.
        unsafe { libc::_exit(3) }
    };
    let workers: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut v: Vec<Vec<u8>> = Vec::new();
                for k in 0..2_000 {
                    v.push(vec![t as u8; (k * 37) % 3000 + 1]);
                    if v.len() > 64 {
                        v.clear();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        if w.join().is_err() {
            fail("an allocating thread panicked".into());
        }
    }
    match holmes::dump_threads() {
        Ok(d) if d.captured().count() >= 1 => {}
        Ok(d) => fail(format!("thread dump captured nothing: {:?}", d.threads)),
        Err(e) => fail(format!("thread dump: {e}")),
    }
    let started = holmes::Holmes::builder()
        .env_overrides(false)
        .interval(std::time::Duration::from_millis(20))
        .dump_dir(dir.join(format!("child-{i}")))
        .threads(holmes::Rule::new(1, 25, 1000))
        .start();
    match started {
        Ok(g) => drop(g),
        Err(e) => fail(format!("start: {e}")),
    }
    match i % 3 {
        // SAFETY: leaving the child without running exit handlers.
        0 => unsafe { libc::_exit(0) },
        1 => {
            use std::os::unix::ffi::OsStrExt;
            let exe = std::env::current_exe().expect("current_exe");
            let exe = std::ffi::CString::new(exe.as_os_str().as_bytes()).unwrap();
            let arg = std::ffi::CString::new("exec-child").unwrap();
            let argv = [exe.as_ptr(), arg.as_ptr(), std::ptr::null()];
            // SAFETY: NUL-terminated strings and argv.
            unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
            fail(format!("execv: {}", std::io::Error::last_os_error()))
        }
        _ => true,
    }
}

#[cfg(not(unix))]
fn main() {}
