//! Hostile hosts: what a process that holmes lives in may do to the signals holmes uses.
//!
//! Each test changes process-wide signal state, so each runs its body in a child process
//! of its own: this test binary again, filtered to that one test, with
//! `HOLMES_HOSTILE_CHILD` naming it (see [`in_child`]). A child that a signal kills shows
//! up as a failed exit status in the parent.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const CHILD: &str = "HOLMES_HOSTILE_CHILD";

/// True in the child process that runs `test`'s body; in the parent, runs that child
/// (with `extra` environment) and asserts it exited 0 within `deadline`.
fn in_child(test: &str, extra: &[(&str, &str)], deadline: Duration) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        return true;
    }
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = common::run_with_deadline(cmd, deadline);
    assert!(
        out.status.success(),
        "child of {test} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

fn block_signal(sig: i32, how: i32) {
    // SAFETY: plain sigset manipulation on this thread's own mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        assert_eq!(
            libc::pthread_sigmask(how, &set, std::ptr::null_mut()),
            0,
            "pthread_sigmask"
        );
    }
}

fn handler_of(sig: i32) -> libc::sighandler_t {
    // SAFETY: querying a disposition into a zeroed struct.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut sa), 0);
        sa.sa_sigaction
    }
}

fn prof_timer() -> libc::itimerval {
    // SAFETY: valid out-pointer.
    unsafe {
        let mut it: libc::itimerval = std::mem::zeroed();
        assert_eq!(libc::getitimer(libc::ITIMER_PROF, &mut it), 0);
        it
    }
}

/// Threads that sleep in `epoll_wait` and on a condition variable (woken by nothing but
/// signals), and threads that spin with `SIGPROF` blocked, so that the profiling signal is
/// always sent to a sleeper that must wait for a CPU before it can take it.
fn hostile_crowd(stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for _ in 0..12 {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            // SAFETY: a fresh epoll instance with no fds; waiting on it only sleeps.
            let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(ep >= 0);
            let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 1];
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: valid buffer of one event.
                unsafe { libc::epoll_wait(ep, ev.as_mut_ptr(), 1, 50) };
            }
            // SAFETY: ep is ours.
            unsafe { libc::close(ep) };
        }));
    }
    let pair = Arc::new((Mutex::new(()), Condvar::new()));
    for _ in 0..12 {
        let (stop, pair) = (stop.clone(), pair.clone());
        threads.push(std::thread::spawn(move || {
            let (m, cv) = &*pair;
            let mut g = m.lock().unwrap();
            while !stop.load(Ordering::Relaxed) {
                g = cv.wait_timeout(g, Duration::from_millis(50)).unwrap().0;
            }
        }));
    }
    for _ in 0..3 {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            block_signal(libc::SIGPROF, libc::SIG_BLOCK);
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..10_000u64 {
                    x = std::hint::black_box(x.rotate_left(5) ^ i);
                }
            }
        }));
    }
    threads
}

/// A thread that holds `SIGPROF` blocked, so that a `SIGPROF` sent to it stays pending
/// until [`LateTaker::take`] unblocks it: a signal generated during a capture and
/// delivered after it ended.
struct LateTaker {
    tid: libc::pid_t,
    go: crossbeam_channel::Sender<()>,
    done: crossbeam_channel::Receiver<()>,
}

impl LateTaker {
    fn spawn() -> LateTaker {
        let (go, go_rx) = crossbeam_channel::bounded::<()>(0);
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let (tid_tx, tid_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            block_signal(libc::SIGPROF, libc::SIG_BLOCK);
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            while go_rx.recv().is_ok() {
                block_signal(libc::SIGPROF, libc::SIG_UNBLOCK); // a pending one is taken here
                block_signal(libc::SIGPROF, libc::SIG_BLOCK);
                let _ = done_tx.send(());
            }
        });
        LateTaker {
            tid: tid_rx.recv().unwrap(),
            go,
            done,
        }
    }

    /// Makes a `SIGPROF` pending on the thread.
    fn send(&self) {
        // SAFETY: tgkill to a thread of this process.
        let r = unsafe { libc::tgkill(libc::getpid(), self.tid, libc::SIGPROF) };
        assert_eq!(r, 0, "tgkill");
    }

    /// Lets the thread take what is pending.
    fn take(&self) {
        self.go.send(()).unwrap();
        self.done.recv().unwrap();
    }
}

// Broke: the end of a CPU capture put SIG_DFL back while a SIGPROF was still pending for a
// thread about to wake up from epoll_wait, and that signal then killed the process (exit 155).
#[test]
fn back_to_back_cpu_captures_never_let_a_late_sigprof_kill_the_process() {
    if !in_child(
        "back_to_back_cpu_captures_never_let_a_late_sigprof_kill_the_process",
        &[],
        Duration::from_secs(300),
    ) {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let crowd = hostile_crowd(&stop);
    let late = LateTaker::spawn();
    let (_tx, rx) = crossbeam_channel::bounded::<()>(0);
    let mut sym = holmes_runtime::symbol::Symbolizer::new();
    let started = Instant::now();
    let mut captures = 0;
    while captures < 300 && started.elapsed() < Duration::from_secs(60) {
        let c = std::thread::scope(|s| {
            // A SIGPROF generated in the middle of the capture, still pending at its end.
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(3));
                late.send();
            });
            holmes_runtime::dump::cpu::capture(Duration::from_millis(8), &rx, &mut sym)
        });
        c.expect("capture");
        late.take();
        captures += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in crowd {
        t.join().unwrap();
    }
    // The process is still alive after every capture's late signals were delivered.
    std::thread::sleep(Duration::from_millis(100));
    println!("{captures} captures survived");
}

static HOST_PROFS: AtomicU64 = AtomicU64::new(0);

extern "C" fn host_sigprof(_: libc::c_int) {
    HOST_PROFS.fetch_add(1, Ordering::Relaxed);
}

fn install_host_sigprof() {
    // SAFETY: a plain handler that only bumps an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = host_sigprof as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGPROF, &sa, std::ptr::null_mut()), 0);
    }
}

fn set_prof_timer(period_us: i64) {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: period_us as _,
    };
    let it = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    // SAFETY: valid itimerval.
    assert_eq!(
        unsafe { libc::setitimer(libc::ITIMER_PROF, &it, std::ptr::null_mut()) },
        0
    );
}

/// Captures `duration` while `host` runs `after` into it on another thread.
fn capture_while(
    duration: Duration,
    after: Duration,
    host: impl FnOnce() + Send,
) -> holmes_runtime::dump::cpu::CpuCapture {
    let (_tx, rx) = crossbeam_channel::bounded::<()>(0);
    let mut sym = holmes_runtime::symbol::Symbolizer::new();
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(after);
            host();
        });
        holmes_runtime::dump::cpu::capture(duration, &rx, &mut sym).expect("capture")
    })
}

// Broke: a host profiler that installed its SIGPROF handler and timer while a holmes CPU
// capture ran was silently stopped: holmes put SIG_DFL back and disarmed the host's timer
// (and the host's next timer tick would then have killed the process).
#[test]
fn a_host_profiler_started_during_a_cpu_capture_is_left_running() {
    if !in_child(
        "a_host_profiler_started_during_a_cpu_capture_is_left_running",
        &[],
        Duration::from_secs(60),
    ) {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spin = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut x = 1u64;
            while !stop.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.rotate_left(7) ^ 3);
            }
        })
    };
    let host_handler = host_sigprof as extern "C" fn(libc::c_int) as libc::sighandler_t;

    // 1. Handler and timer (5 ms, not holmes' period) taken over mid-capture.
    let c = capture_while(
        Duration::from_millis(300),
        Duration::from_millis(80),
        || {
            install_host_sigprof();
            set_prof_timer(5_000);
        },
    );
    assert_eq!(
        c.host_took_over,
        Some(holmes_runtime::dump::cpu::Takeover::HandlerAndTimer)
    );
    assert_eq!(handler_of(libc::SIGPROF), host_handler, "host handler kept");
    assert_eq!(prof_timer().it_interval.tv_usec, 5_000, "host timer kept");
    let before = HOST_PROFS.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        HOST_PROFS.load(Ordering::Relaxed) > before,
        "the host profiler still gets its signals"
    );
    // While the host profiles, holmes refuses instead of taking SIGPROF away.
    let (_tx, rx) = crossbeam_channel::bounded::<()>(0);
    let err = holmes_runtime::dump::cpu::capture(
        Duration::from_millis(50),
        &rx,
        &mut holmes_runtime::symbol::Symbolizer::new(),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(err, holmes_runtime::dump::cpu::CpuError::SignalInUse),
        "{err}"
    );

    // 2. The host stops its profiler, then installs a handler (no timer) mid-capture:
    //    holmes' own timer is disarmed, the host's handler kept.
    set_prof_timer(0);
    // SAFETY: restoring the default action with no timer armed.
    unsafe { libc::signal(libc::SIGPROF, libc::SIG_DFL) };
    let c = capture_while(
        Duration::from_millis(200),
        Duration::from_millis(50),
        || {
            install_host_sigprof();
        },
    );
    assert_eq!(
        c.host_took_over,
        Some(holmes_runtime::dump::cpu::Takeover::Handler)
    );
    assert_eq!(handler_of(libc::SIGPROF), host_handler);
    assert_eq!(
        prof_timer().it_interval.tv_usec,
        0,
        "holmes' timer disarmed"
    );
    // The host re-arms its timer later: its handler takes the signals.
    set_prof_timer(5_000);
    std::thread::sleep(Duration::from_millis(200));
    set_prof_timer(0);
    stop.store(true, Ordering::Relaxed);
    spin.join().unwrap();
}

// Broke: in the child of a fork, dropping the inherited guard blocked for 5 s, start()
// returned AlreadyRunning forever, and a thread dump could be Busy (the capture lock was
// copied locked from a parent thread).
#[test]
fn forked_children_are_processes_of_their_own() {
    let dir = common::fresh_dir("hostile_fork");
    let mut cmd = Command::new(common::scenario_bin("hostile_fork"));
    cmd.env("HOLMES_TEST_DIR", &dir);
    let out = common::run_with_deadline(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("forked 30 children, all exited 0"),
        "{:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `SigPnd` of thread `tid` of this process, from its `/proc` status.
fn pending_of(tid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("SigPnd:"))
        .expect("SigPnd");
    u64::from_str_radix(line["SigPnd:".len()..].trim(), 16).unwrap()
}

fn gettid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() as u32 }
}

// Broke: a thread dump queued SIGRTMIN+6 on a thread that blocked every signal (a daemon's
// sigwait thread); the signal outlived the dump, and when that thread re-executed the
// program (mask and queue survive execve, the handler does not) the new image died of it
// as soon as it unblocked signals ("Real-time signal 6", exit 168).
#[test]
fn a_thread_dump_leaves_no_signal_queued_on_a_thread_that_blocks_it() {
    const TEST: &str = "a_thread_dump_leaves_no_signal_queued_on_a_thread_that_blocks_it";
    let sig = holmes_runtime::dump::threads::dump_signal();
    if std::env::var("HOLMES_HOSTILE_STAGE").as_deref() == Ok("re-executed") {
        // The new image: the thread that called execv is this process's main thread now.
        let bit = 1u64 << (sig - 1);
        let pid = std::process::id();
        assert_eq!(
            pending_of(pid) & bit,
            0,
            "signal {sig} queued on the main thread"
        );
        assert_eq!(pending_of(gettid()) & bit, 0, "signal {sig} queued");
        // SAFETY: unblocking every signal of this thread.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        }
        std::thread::sleep(Duration::from_millis(50));
        println!("re-executed image alive with signals unblocked");
        return;
    }
    if !in_child(TEST, &[], Duration::from_secs(60)) {
        return;
    }
    // This thread blocks every signal, as a sigwait thread does; another takes the dump.
    // SAFETY: plain sigset manipulation on this thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
    let me = gettid();
    let dump = std::thread::spawn(|| {
        block_signal(
            holmes_runtime::dump::threads::dump_signal(),
            libc::SIG_UNBLOCK,
        );
        holmes::dump_threads().expect("thread dump")
    })
    .join()
    .unwrap();
    let entry = dump.threads.iter().find(|t| t.tid == me).expect("listed");
    assert_eq!(entry.status, holmes::StackStatus::SignalBlocked);
    assert_eq!(pending_of(me) & (1u64 << (sig - 1)), 0, "nothing queued");
    // The program re-executes itself (a binary upgrade) from this thread.
    use std::os::unix::ffi::OsStrExt;
    let exe = std::env::current_exe().unwrap();
    let exe = std::ffi::CString::new(exe.as_os_str().as_bytes()).unwrap();
    let args: Vec<std::ffi::CString> = [TEST, "--exact", "--nocapture", "--test-threads=1"]
        .iter()
        .map(|a| std::ffi::CString::new(*a).unwrap())
        .collect();
    let mut argv = vec![exe.as_ptr()];
    argv.extend(args.iter().map(|a| a.as_ptr()));
    argv.push(std::ptr::null());
    std::env::set_var("HOLMES_HOSTILE_STAGE", "re-executed");
    // SAFETY: NUL-terminated strings, NULL-terminated argv.
    unsafe { libc::execv(exe.as_ptr(), argv.as_ptr()) };
    panic!("execv: {}", std::io::Error::last_os_error());
}

static HOST_RT: AtomicU64 = AtomicU64::new(0);

extern "C" fn host_rt_handler(_: libc::c_int) {
    HOST_RT.fetch_add(1, Ordering::Relaxed);
}

// Broke: a host that installed its own handler on the dump signal after holmes' first
// thread dump received holmes' signals, and dumps of "did not answer" entries counted as
// successful.
#[test]
fn a_dump_signal_taken_over_by_the_host_is_not_used() {
    if !in_child(
        "a_dump_signal_taken_over_by_the_host_is_not_used",
        &[],
        Duration::from_secs(60),
    ) {
        return;
    }
    let parked: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| std::thread::sleep(Duration::from_millis(500))))
        .collect();
    let first = holmes::dump_threads().expect("first dump");
    assert!(first.captured().count() >= 5, "{:?}", first.threads);
    let sig = holmes_runtime::dump::threads::dump_signal();
    // SAFETY: a plain handler that bumps an atomic.
    unsafe {
        libc::signal(
            sig,
            host_rt_handler as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    let err = holmes::dump_threads().expect_err("refused");
    assert!(
        matches!(err, holmes::CaptureError::SignalInUse { signal } if signal == sig),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        HOST_RT.load(Ordering::Relaxed),
        0,
        "the host's handler got our signals"
    );
    for t in parked {
        t.join().unwrap();
    }
}
