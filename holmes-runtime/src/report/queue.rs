//! The `holmes-reporter` thread and the bounded queue in front of it.
//!
//! The caller (the dumper) only ever `try_send`s: a full queue drops the report and
//! counts it, it never waits. The thread hands each report to every reporter in turn,
//! each call inside `catch_unwind`. Counters are atomics, read without locks.
//!
//! Counting, per report (not per reporter): `submitted` counts every report handed to
//! [`ReportQueue::submit`]; each then ends as `dropped` (queue full, or still queued when
//! shutdown gave up), `delivered` (every reporter returned `Ok`) or `failed` (at least one
//! returned an error or panicked). So `submitted = delivered + failed + dropped + pending`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::{Report, Reporter};
use crate::escape::Escaped;

/// The counters of the reporter queue, per report (not per reporter): every report
/// handed to the queue is counted in `submitted`, then ends in exactly one of `dropped`,
/// `delivered` or `failed`, so `submitted = delivered + failed + dropped + pending`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ReportStats {
    /// Reports handed to the queue, accepted or not.
    pub submitted: u64,
    /// Reports every reporter accepted.
    pub delivered: u64,
    /// Reports at least one reporter failed on (an error or a panic).
    pub failed: u64,
    /// Reports dropped: the queue was full, or shutdown gave up on them.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    submitted: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    /// Set when shutdown timed out: the thread drops what is left after its current report.
    abandon: AtomicBool,
}

/// The reporter thread: a bounded queue in front of every reporter.
///
/// [`ReportQueue::shutdown`] is the orderly end. Dropping the queue without it stops
/// accepting and lets the thread finish the queued reports in the background (detached).
pub(crate) struct ReportQueue {
    tx: Option<Sender<Report>>,
    done: Receiver<()>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

// Wired into the builder and the dumper by the integration; until then only tests use it.
impl ReportQueue {
    /// Spawns the `holmes-reporter` thread serving `reporters` through a queue of
    /// `capacity` reports (1 ..= [`crate::bounds::MAX_REPORT_QUEUE`]; the builder
    /// rejects other values, this clamps).
    pub(crate) fn start(
        reporters: Vec<Box<dyn Reporter>>,
        capacity: usize,
    ) -> std::io::Result<ReportQueue> {
        let (tx, rx) =
            crossbeam_channel::bounded(capacity.clamp(1, crate::bounds::MAX_REPORT_QUEUE));
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("holmes-reporter".into())
            .spawn(move || {
                crate::alloc::exclude_current_thread();
                run(reporters, &rx, &c);
                let _ = done_tx.send(());
            })?;
        Ok(ReportQueue {
            tx: Some(tx),
            done,
            thread: Some(thread),
            counters,
        })
    }

    /// Queues `report` without blocking. Returns `false`, and counts the report as
    /// dropped, when the queue is full.
    pub(crate) fn submit(&self, report: Report) -> bool {
        let c = &self.counters;
        c.submitted.fetch_add(1, Ordering::Relaxed);
        let Some(tx) = &self.tx else {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        match tx.try_send(report) {
            Ok(()) => true,
            Err(TrySendError::Full(r)) => {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    target: "holmes",
                    "holmes reporter queue is full (reporters are slow or down): dump #{} is not reported (its files are on disk)",
                    r.event.id
                );
                false
            }
            Err(TrySendError::Disconnected(r)) => {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    target: "holmes",
                    "holmes reporter thread is gone: dump #{} is not reported",
                    r.event.id
                );
                false
            }
        }
    }

    /// The counters, read without locking.
    pub(crate) fn stats(&self) -> ReportStats {
        self.counters.stats()
    }

    /// Stops accepting reports and lets the thread deliver what is queued for at most
    /// `timeout`; then joins it, or, if it is still busy, tells it to drop the rest
    /// (counted as dropped) and detaches it. Never panics, never waits longer.
    pub(crate) fn shutdown(mut self, timeout: Duration) {
        self.tx = None; // the thread ends once the queue is empty
        match self.done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(t) = self.thread.take() {
                    if t.join().is_err() {
                        log::error!(target: "holmes", "holmes reporter thread panicked");
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                self.counters.abandon.store(true, Ordering::Relaxed);
                self.thread = None; // detach: it stops after its current report
                log::warn!(
                    target: "holmes",
                    "holmes reporters did not finish within {timeout:?}: the reports still queued are dropped"
                );
            }
        }
    }
}

impl Counters {
    fn stats(&self) -> ReportStats {
        ReportStats {
            submitted: self.submitted.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ReportQueue {
    fn drop(&mut self) {
        // Without `shutdown`: stop accepting; the detached thread drains the queue.
        self.tx = None;
    }
}

/// The thread body: serve reports until the queue is closed and empty, or abandoned.
fn run(mut reporters: Vec<Box<dyn Reporter>>, rx: &Receiver<Report>, c: &Counters) {
    let names: Vec<String> = reporters
        .iter()
        .map(|r| {
            catch_unwind(AssertUnwindSafe(|| r.name().to_owned())).unwrap_or_else(|_| "?".into())
        })
        .collect();
    while let Ok(report) = rx.recv() {
        if c.abandon.load(Ordering::Relaxed) {
            let left = 1 + rx.try_iter().count() as u64;
            c.dropped.fetch_add(left, Ordering::Relaxed);
            return;
        }
        let mut ok = true;
        for (r, name) in reporters.iter_mut().zip(&names) {
            match catch_unwind(AssertUnwindSafe(|| r.report(&report))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    ok = false;
                    log::warn!(
                        target: "holmes",
                        "holmes reporter {} failed on dump #{}: {}",
                        Escaped(name),
                        report.event.id,
                        Escaped(&chain(&e))
                    );
                }
                Err(panic) => {
                    ok = false;
                    log::error!(
                        target: "holmes",
                        "holmes reporter {} panicked on dump #{}: {}",
                        Escaped(name),
                        report.event.id,
                        Escaped(panic_message(&*panic))
                    );
                }
            }
        }
        let counter = if ok { &c.delivered } else { &c.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// `e: source: source…`, the whole cause chain on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let msg = src.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = src.source();
    }
    s
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DumpKind;
    use crate::report::ReportError;
    use std::sync::Mutex;
    use std::time::{Instant, SystemTime};

    fn report(id: u64) -> Report {
        Report::for_test(
            id,
            DumpKind::Cpu,
            SystemTime::now(),
            Duration::ZERO,
            vec![("/d/cpu.x.pb.gz".into(), vec![1, 2, 3])],
        )
    }

    /// Sleeps on each report; records the ids it saw.
    struct Slow(Duration, Arc<Mutex<Vec<u64>>>);
    impl Reporter for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        fn report(&mut self, r: &Report) -> Result<(), ReportError> {
            std::thread::sleep(self.0);
            self.1.lock().unwrap().push(r.event.id);
            Ok(())
        }
    }

    /// Panics on even ids, fails on ids divisible by 3, accepts the rest.
    struct Flaky;
    impl Reporter for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn report(&mut self, r: &Report) -> Result<(), ReportError> {
            if r.event.id.is_multiple_of(2) {
                panic!("flaky reporter panics on #{}", r.event.id);
            }
            if r.event.id.is_multiple_of(3) {
                return Err(ReportError::Other("refused".into()));
            }
            Ok(())
        }
    }

    #[test]
    fn slow_reporter_never_blocks_submit_and_full_queue_drops() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let q = ReportQueue::start(
            vec![Box::new(Slow(Duration::from_millis(300), seen.clone()))],
            2,
        )
        .unwrap();
        for id in 1..=10 {
            let t = Instant::now();
            q.submit(report(id));
            assert!(
                t.elapsed() < Duration::from_millis(100),
                "submit blocked {:?}",
                t.elapsed()
            );
        }
        let s = q.stats();
        assert_eq!(s.submitted, 10);
        // At most 2 queued + 1 being delivered were accepted.
        assert!(s.dropped >= 7, "{s:?}");
        let accepted = 10 - s.dropped;
        let t = Instant::now();
        q.shutdown(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(seen.lock().unwrap().len() as u64, accepted);
    }

    #[test]
    fn shutdown_returns_within_its_timeout_and_counts_the_rest_as_dropped() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let q = ReportQueue::start(
            vec![Box::new(Slow(Duration::from_millis(500), seen.clone()))],
            4,
        )
        .unwrap();
        for id in 1..=5 {
            q.submit(report(id));
        }
        let counters = Arc::clone(&q.counters);
        let t = Instant::now();
        q.shutdown(Duration::from_millis(200));
        let took = t.elapsed();
        assert!(took < Duration::from_millis(450), "shutdown took {took:?}");
        // The detached thread finishes its current report, then drops the rest.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (d, f, x) = (
                counters.delivered.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed),
                counters.dropped.load(Ordering::Relaxed),
            );
            if d + f + x == 5 {
                assert!(d <= 2 && x >= 3, "delivered {d}, dropped {x}");
                break;
            }
            assert!(Instant::now() < deadline, "reports unaccounted for");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn panicking_reporter_is_counted_and_the_thread_keeps_delivering() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let q = ReportQueue::start(
            vec![
                Box::new(Flaky),
                Box::new(Slow(Duration::ZERO, seen.clone())),
            ],
            16,
        )
        .unwrap();
        for id in 1..=7 {
            assert!(q.submit(report(id)));
        }
        let counters = Arc::clone(&q.counters);
        q.shutdown(Duration::from_secs(5));
        // Every report reached the reporter after the flaky one, panics included.
        assert_eq!(*seen.lock().unwrap(), (1..=7).collect::<Vec<_>>());
        let expected = ReportStats {
            submitted: 7,
            delivered: 3, // 1, 5, 7
            failed: 4,    // 2, 4, 6 panicked; 3 refused
            dropped: 0,
        };
        assert_eq!(counters.stats(), expected);
    }

    #[test]
    fn a_hanging_endpoint_fills_the_queue_without_blocking_and_shutdown_is_bounded() {
        // A server on 127.0.0.1 that accepts and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().take(16) {
                held.push(s);
            }
            std::thread::sleep(Duration::from_secs(10));
        });
        let http = crate::report::HttpReporter::new(format!("http://{addr}/u"))
            .timeout(Duration::from_millis(300))
            .retries(0);
        let q = ReportQueue::start(vec![Box::new(http)], 2).unwrap();
        let t = Instant::now();
        for id in 1..=10 {
            q.submit(report(id));
        }
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        let s = q.stats();
        assert_eq!((s.submitted, s.delivered), (10, 0));
        assert!(s.dropped >= 7, "{s:?}");
        let counters = Arc::clone(&q.counters);
        let t = Instant::now();
        q.shutdown(Duration::from_secs(3));
        assert!(t.elapsed() < Duration::from_millis(3500));
        let s = counters.stats();
        // Every accepted report timed out (failed) or was given up at shutdown (dropped).
        assert_eq!(s.delivered, 0);
        assert_eq!(s.failed + s.dropped, 10, "{s:?}");
        assert!(s.failed >= 1, "{s:?}");
    }
}
