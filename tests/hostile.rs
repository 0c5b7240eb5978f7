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
    let mut sym = holmes::symbol::Symbolizer::new();
    let started = Instant::now();
    let mut captures = 0;
    while captures < 300 && started.elapsed() < Duration::from_secs(60) {
        let c = std::thread::scope(|s| {
            // A SIGPROF generated in the middle of the capture, still pending at its end.
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(3));
                late.send();
            });
            holmes::dump::cpu::capture(Duration::from_millis(8), &rx, &mut sym)
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
) -> holmes::dump::cpu::CpuCapture {
    let (_tx, rx) = crossbeam_channel::bounded::<()>(0);
    let mut sym = holmes::symbol::Symbolizer::new();
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(after);
            host();
        });
        holmes::dump::cpu::capture(duration, &rx, &mut sym).expect("capture")
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
        Some(holmes::dump::cpu::Takeover::HandlerAndTimer)
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
    let err = holmes::dump::cpu::capture(
        Duration::from_millis(50),
        &rx,
        &mut holmes::symbol::Symbolizer::new(),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(err, holmes::dump::cpu::CpuError::SignalInUse),
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
    assert_eq!(c.host_took_over, Some(holmes::dump::cpu::Takeover::Handler));
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
