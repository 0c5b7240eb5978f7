//! Profiles on demand, for a person looking now: [`profile_cpu`], [`profile_heap`],
//! [`profile_threads`] and, with the `tokio` feature, [`profile_tasks`]. Each returns a
//! [`Profile`], written as the same artifacts as a rule's dump: gzipped pprof
//! ([`Profile::to_pprof_gz`]), text ([`Profile::to_text`]) and a flamegraph SVG
//! ([`Profile::to_svg`]).
//!
//! Contracts:
//! - They work with or without a running holmes. CPU profiling is process-wide: one
//!   CPU capture runs at a time in the process, holmes' own or an on-demand one, and a
//!   second one gets [`ProfileError::Busy`] at once; it never disturbs the running one.
//!   A rule's CPU dump that fires meanwhile waits for the profile to end (at most
//!   [`CPU_BUSY_WAIT`](crate::dump::CPU_BUSY_WAIT)), then captures.
//! - They block the calling thread: for the profile's duration (CPU), then while the
//!   stacks are symbolized (every kind). From async code call them on a blocking
//!   thread (`tokio::task::spawn_blocking`).
//! - Symbolization tables are loaded for the call and released when it returns. The
//!   memory holmes uses meanwhile on the calling thread is not sampled into heap
//!   profiles.
//! - Linux (x86_64, aarch64) only for CPU, thread and task stacks; elsewhere they
//!   return [`ProfileError::Unsupported`].

use std::time::{Duration, SystemTime};

use crate::event::{DumpKind, TopEntry};
use crate::symbol::Symbolizer;
use crate::{pprof, profile};

/// Why an on-demand profile could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Another CPU profile is being captured in this process (holmes' own, for a rule,
    /// or another on-demand one): CPU profiling is process-wide.
    #[error("another CPU profile is being captured in this process; try again when it ends")]
    Busy,
    /// The platform cannot take this profile.
    #[error("{what} are unsupported on this platform")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// Heap profiles come from [`crate::Allocator`]'s samples, and it is not this
    /// program's global allocator.
    #[error(
        "heap profiles need holmes::Allocator as the global allocator \
         (`#[global_allocator] static A: holmes::Allocator = holmes::Allocator::system();`, \
         which #[holmes::watch] adds for a mem or heap rule)"
    )]
    NoAllocator,
    /// The requested CPU profile length is zero or longer than
    /// [`bounds::MAX_CPU_PROFILE`](crate::bounds::MAX_CPU_PROFILE).
    #[error("a CPU profile lasts more than 0 and at most {max:?}; asked for {given:?}")]
    InvalidDuration {
        /// What was asked for.
        given: Duration,
        /// The longest allowed.
        max: Duration,
    },
    /// The capture failed.
    #[error("the {what} capture failed: {source}")]
    Capture {
        /// What was captured: `CPU`, `thread`, `task`.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A profile taken on demand: a CPU, heap, thread or task profile.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let p = holmes_runtime::profile_cpu(std::time::Duration::from_secs(5))?;
/// std::fs::write("cpu.pb.gz", p.to_pprof_gz()?)?; // go tool pprof -top cpu.pb.gz
/// println!("{}", p.to_text());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Profile {
    kind: DumpKind,
    profile: pprof::Profile,
    /// The body of the text form for thread and task dumps (their stacks, grouped);
    /// `None`: the text form is a top-N table.
    text: Option<String>,
    taken_at: SystemTime,
    duration: Duration,
}

impl Profile {
    pub(crate) fn new(
        kind: DumpKind,
        profile: pprof::Profile,
        text: Option<String>,
        taken_at: SystemTime,
        duration: Duration,
    ) -> Profile {
        Profile {
            kind,
            profile,
            text,
            taken_at,
            duration,
        }
    }

    /// What it profiled.
    pub fn kind(&self) -> DumpKind {
        self.kind
    }

    /// When the capture began.
    pub fn taken_at(&self) -> SystemTime {
        self.taken_at
    }

    /// How long the capture took (for a CPU profile: the time it covers).
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The gzipped pprof protobuf (`go tool pprof`, Pyroscope, Grafana).
    pub fn to_pprof_gz(&self) -> std::io::Result<Vec<u8>> {
        profile::to_pprof_gz(&self.profile)
    }

    /// A flamegraph SVG (inferno) of the profile's default sample type.
    pub fn to_svg(&self) -> std::io::Result<Vec<u8>> {
        profile::to_svg(&self.profile, &self.title()).map_err(std::io::Error::other)
    }

    /// The text form: a header (kind, time, culprit), then the stacks of every thread
    /// or task grouped (thread and task dumps, like Go's `goroutine?debug=2`) or the
    /// heaviest functions (CPU and heap, like `go tool pprof -top`).
    pub fn to_text(&self) -> String {
        let mut header = format!(
            "holmes {} profile at {}, on demand\ncapture: {:.2?}\n",
            self.kind,
            humantime::format_rfc3339_millis(self.taken_at),
            self.duration
        );
        if let Some(c) = self.culprit() {
            header.push_str(&format!("culprit: {c}\n"));
        }
        match &self.text {
            Some(body) => format!("{header}\n{body}"),
            None => profile::to_text(&self.profile, &header, 30),
        }
    }

    /// The innermost frame of the heaviest stack in the program's own code (as in a
    /// rule's dump): usually the function to look at first.
    pub fn culprit(&self) -> Option<String> {
        profile::culprit(&self.profile)
    }

    /// The `n` functions with the largest flat value, like `go tool pprof -top`, and
    /// the profile's total in their unit.
    pub fn top(&self, n: usize) -> (Vec<TopEntry>, i64) {
        profile::top(&self.profile, n)
    }

    fn title(&self) -> String {
        format!(
            "holmes {} profile, on demand, {}",
            self.kind,
            humantime::format_rfc3339_seconds(self.taken_at)
        )
    }
}

/// Profiles the CPU of the whole process for `duration` (99 Hz `SIGPROF` sampling).
/// Blocks the calling thread for `duration`, then while it symbolizes.
///
/// Fails with [`ProfileError::Busy`] while another CPU capture runs in the process, and
/// with [`ProfileError::InvalidDuration`] for a zero duration or one over
/// [`bounds::MAX_CPU_PROFILE`](crate::bounds::MAX_CPU_PROFILE).
pub fn profile_cpu(duration: Duration) -> Result<Profile, ProfileError> {
    let max = crate::bounds::MAX_CPU_PROFILE;
    if duration.is_zero() || duration > max {
        return Err(ProfileError::InvalidDuration {
            given: duration,
            max,
        });
    }
    #[cfg(target_os = "linux")]
    {
        use crate::dump::cpu::{capture, CpuError};
        let _unsampled = crate::alloc::ExcludedScope::enter();
        let taken_at = SystemTime::now();
        let mut sym = Symbolizer::new();
        let c = capture(duration, &crossbeam_channel::never(), &mut sym).map_err(|e| match e {
            CpuError::Busy => ProfileError::Busy,
            e => ProfileError::Capture {
                what: "CPU",
                source: Box::new(e),
            },
        })?;
        if let Some(t) = c.host_took_over {
            log::warn!(target: "holmes", "on-demand CPU profile: during the capture {t}; holmes left it in place");
        }
        Ok(Profile::new(
            DumpKind::Cpu,
            c.profile,
            None,
            taken_at,
            c.duration,
        ))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(ProfileError::Unsupported {
            what: "CPU profiles",
        })
    }
}

/// The live heap now, from [`crate::Allocator`]'s samples: `inuse_space` (the
/// default), `inuse_objects`, `alloc_space`, `alloc_objects`, like Go's heap profile.
///
/// Fails with [`ProfileError::NoAllocator`] when `holmes::Allocator` is not the
/// global allocator.
pub fn profile_heap() -> Result<Profile, ProfileError> {
    if !crate::alloc::stats().installed {
        return Err(ProfileError::NoAllocator);
    }
    let _unsampled = crate::alloc::ExcludedScope::enter();
    let t0 = std::time::Instant::now();
    let snap = crate::alloc::snapshot();
    let p = snap.to_profile(&mut Symbolizer::new());
    Ok(Profile::new(
        DumpKind::Heap,
        p,
        None,
        snap.taken_at(),
        t0.elapsed(),
    ))
}

/// The stack of every thread now ([`crate::dump_threads`]) as a [`Profile`]: its text
/// form lists every thread by name, state and stack, grouped by identical stack.
pub fn profile_threads() -> Result<Profile, ProfileError> {
    let dump = crate::dump::threads::dump_threads().map_err(|e| match e {
        crate::dump::threads::CaptureError::Unsupported => ProfileError::Unsupported {
            what: "thread dumps",
        },
        e => ProfileError::Capture {
            what: "thread",
            source: Box::new(e),
        },
    })?;
    Ok(dump.profile())
}

/// The tasks of the tokio runtime behind `handle` ([`crate::dump_tasks`], at most 5 s)
/// as a [`Profile`]. Call it from a thread that is not one of that runtime's workers
/// (`spawn_blocking`): it waits for the runtime to answer.
#[cfg(feature = "tokio")]
pub fn profile_tasks(handle: &tokio::runtime::Handle) -> Result<Profile, ProfileError> {
    let dump = crate::dump::tasks::dump_tasks(handle, Duration::from_secs(5)).map_err(|e| {
        ProfileError::Capture {
            what: "task",
            source: Box::new(e),
        }
    })?;
    Ok(dump.profile())
}

/// A thread or task capture as a [`Profile`]: `render` builds its pprof and its text
/// with one symbolizer, on the calling thread, unsampled by the heap profiler.
fn symbolized(
    kind: DumpKind,
    taken_at: SystemTime,
    duration: Duration,
    render: impl FnOnce(&mut Symbolizer) -> (pprof::Profile, String),
) -> Profile {
    let _unsampled = crate::alloc::ExcludedScope::enter();
    let (p, text) = render(&mut Symbolizer::new());
    Profile::new(kind, p, Some(text), taken_at, duration)
}

impl crate::dump::threads::ThreadDump {
    /// As a [`Profile`]: pprof (one sample per thread, `threads/count`,
    /// labels `thread_name` and `thread_state`), text (every thread by name, state and
    /// stack, grouped by identical stack) and SVG. Symbolizes on the calling thread.
    pub fn profile(&self) -> Profile {
        symbolized(
            DumpKind::Threads,
            self.captured_at,
            self.capture_duration,
            |sym| (self.to_profile(sym), self.to_text(sym)),
        )
    }
}

#[cfg(feature = "tokio")]
impl crate::dump::tasks::TaskDump {
    /// As a [`Profile`]: pprof, text (every task's trace, or the
    /// threads when task dumps are off) and SVG. Symbolizes on the calling thread.
    pub fn profile(&self) -> Profile {
        symbolized(
            DumpKind::Tasks,
            self.captured_at,
            self.capture_duration,
            |sym| (self.to_profile(sym), self.to_text(sym)),
        )
    }
}

#[cfg(all(test, target_os = "linux"))]
pub(crate) mod tests {
    use super::*;

    #[inline(never)]
    fn on_demand_spin(stop: &std::sync::atomic::AtomicBool) -> u64 {
        let mut x = 1u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        x
    }

    /// Spins in [`on_demand_spin`] on a thread of its own until dropped.
    struct Spinner(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        Option<std::thread::JoinHandle<u64>>,
    );

    impl Spinner {
        fn start() -> Spinner {
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = stop.clone();
            Spinner(stop, Some(std::thread::spawn(move || on_demand_spin(&s))))
        }
    }

    impl Drop for Spinner {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(t) = self.1.take() {
                let _ = t.join();
            }
        }
    }

    /// [`profile_cpu`], waiting while another test of this binary captures.
    pub(crate) fn profile_cpu_when_free(d: Duration) -> Result<Profile, ProfileError> {
        let give_up = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match profile_cpu(d) {
                Err(ProfileError::Busy) if std::time::Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                r => return r,
            }
        }
    }

    #[test]
    fn a_cpu_profile_names_the_spinning_function_in_every_form() {
        let spinner = Spinner::start();
        let p = profile_cpu_when_free(Duration::from_millis(1000)).expect("cpu profile");
        drop(spinner);
        assert_eq!(p.kind(), DumpKind::Cpu);
        let (top, total) = p.top(5);
        assert!(total > 0, "no CPU time in {top:?}");
        assert!(
            top.iter().any(|t| t.name.contains("on_demand_spin")),
            "{top:?}"
        );
        let text = p.to_text();
        assert!(text.contains("holmes cpu profile at"), "{text}");
        assert!(text.contains("on_demand_spin"), "{text}");
        let svg = String::from_utf8(p.to_svg().expect("svg")).expect("utf-8");
        assert!(svg.contains("on_demand_spin"), "svg lacks the function");
        let gz = p.to_pprof_gz().expect("pprof");
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    }

    #[test]
    fn a_second_cpu_profile_is_busy_and_the_first_is_unharmed() {
        let spinner = Spinner::start();
        let first = std::thread::spawn(|| profile_cpu_when_free(Duration::from_millis(1000)));
        // Once a capture runs (the first's, or another test's before it), a second
        // request is refused at once.
        while !crate::dump::cpu::capturing() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let second = profile_cpu(Duration::from_millis(100));
        assert!(matches!(second, Err(ProfileError::Busy)), "{second:?}");
        let first = first.join().expect("join").expect("first profile");
        drop(spinner);
        // Unharmed: a whole profile, the spinner in it (the machine may be busy with
        // other work, so not necessarily on top).
        let (all, total) = first.top(usize::MAX);
        assert!(total > 0);
        assert!(
            all.iter()
                .any(|t| t.name.contains("on_demand_spin") && t.cum > 0),
            "{all:?}"
        );
    }

    #[test]
    fn bad_durations_are_refused() {
        assert!(matches!(
            profile_cpu(Duration::ZERO),
            Err(ProfileError::InvalidDuration { .. })
        ));
        let e = profile_cpu(Duration::from_secs(100_000)).unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
    }

    #[test]
    fn a_thread_profile_lists_a_parked_thread_by_name() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let parked = std::thread::Builder::new()
            .name("od-parked".into())
            .spawn(move || {
                let _ = rx.recv();
            })
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(50));
        let p = profile_threads().expect("thread profile");
        drop(tx);
        let _ = parked.join();
        assert_eq!(p.kind(), DumpKind::Threads);
        let text = p.to_text();
        assert!(text.contains("od-parked"), "{text}");
    }
}
