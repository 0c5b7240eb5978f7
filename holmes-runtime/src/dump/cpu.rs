//! CPU profiles through `pprof` (pprof-rs).
//!
//! CPU profiling is process-wide: there is one `SIGPROF` handler and one profiler per
//! process, so holmes runs one capture at a time, on the dumper thread, and refuses to
//! start twice. pprof-rs is built with its `frame-pointer` unwinder, which is
//! async-signal-safe (its default libgcc unwinder is not). Samples are taken at 99 Hz;
//! the kernel tick here is 250 Hz, so faster timers would not sample more finely.
//!
//! The report is taken unresolved while the profiler runs (cheap) and symbolized only
//! after the profiler stopped, so symbolization never shows up in the profile.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use pprof::protos::Profile;

/// Sampling frequency of CPU profiles.
pub const FREQUENCY_HZ: i32 = 99;

/// Libraries whose frames are not walked (they are built without frame pointers).
const BLOCKLIST: &[&str] = &["libc", "libgcc", "pthread", "vdso"];

/// A finished CPU capture.
pub struct CpuCapture {
    /// The profile (`samples/count`, `cpu/nanoseconds`).
    pub profile: Profile,
    /// Wall time covered.
    pub duration: Duration,
    /// CPU time the process used during the capture.
    pub cpu_time: Duration,
}

/// Starts and immediately stops a profiler: pprof's first `ProfilerGuard` costs ~100 ms,
/// which should be paid at start-up, not when a spike is caught.
pub fn warm_up() {
    match pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(BLOCKLIST)
        .build()
    {
        Ok(guard) => drop(guard),
        Err(e) => log::warn!(target: "holmes", "CPU profiler warm-up failed: {e}"),
    }
}

/// Profiles the process for `duration`, or until `shutdown` is disconnected.
pub fn capture(duration: Duration, shutdown: &Receiver<()>) -> Result<CpuCapture, String> {
    let t0 = Instant::now();
    let c0 = process_cpu_time();
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(BLOCKLIST)
        .build()
        .map_err(|e| format!("cannot start the CPU profiler: {e}"))?;
    let _ = shutdown.recv_timeout(duration);
    let unresolved = guard.report().build_unresolved();
    drop(guard);
    let elapsed = t0.elapsed();
    let cpu_time = process_cpu_time().saturating_sub(c0);
    let unresolved = unresolved.map_err(|e| format!("cannot read the CPU profile: {e}"))?;
    let report = pprof::Report {
        data: unresolved
            .data
            .into_iter()
            .map(|(frames, count)| (pprof::Frames::from(frames), count))
            .collect(),
        timing: unresolved.timing,
    };
    let profile = report
        .pprof()
        .map_err(|e| format!("cannot encode the CPU profile: {e}"))?;
    Ok(CpuCapture {
        profile,
        duration: elapsed,
        cpu_time,
    })
}

/// CPU time used by the whole process.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
