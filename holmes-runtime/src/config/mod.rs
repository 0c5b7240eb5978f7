//! Configuration: [`Rule`], [`Format`] and the [`Builder`] that starts holmes.

use std::path::PathBuf;
use std::time::Duration;

use crate::bounds::{self, check_duration, check_setting};
use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::rule::{DumpLimit, Metric, Rule};
use crate::stack::StackWalk;

mod env;

pub use env::ENV_VARS;

/// Limits on what the dump directory may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Most dump files kept (every format counts: a CPU dump writes 3 files).
    pub max_files: usize,
    /// Most bytes kept in dump files.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_files: 300,
            max_bytes: 512 << 20,
        }
    }
}

/// An output format of a dump. By default every format is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Gzipped pprof protobuf (`.pb.gz`), for `go tool pprof` and Pyroscope.
    Pprof,
    /// A text report: the dump's reason and a top-N table (`.txt`).
    Text,
    /// A flamegraph (`.svg`), for a browser.
    Svg,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 3] = [Format::Pprof, Format::Text, Format::Svg];

    /// The file extension written for this format.
    pub const fn extension(self) -> &'static str {
        match self {
            Format::Pprof => "pb.gz",
            Format::Text => "txt",
            Format::Svg => "svg",
        }
    }
}

/// Where dumps go when [`Builder::dump_dir`] is not set: `<temp dir>/holmes`.
pub fn default_dump_dir() -> PathBuf {
    std::env::temp_dir().join("holmes")
}

/// Configures and starts holmes. Create it with [`crate::Holmes::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// # fn main() -> Result<(), holmes_runtime::Error> {
/// let guard = holmes_runtime::Holmes::builder()
///     .interval(Duration::from_secs(2))
///     .dump_dir("/var/tmp/holmes")
///     .cooldown(Duration::from_secs(60))
///     .cpu(holmes_runtime::Rule::new(10, 25, 80).cooldown(Duration::from_secs(30)))
///     .cpu_profile_duration(Duration::from_secs(5))
///     .start()?;
/// // … the service runs; dropping the guard stops holmes.
/// drop(guard);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Builder does nothing until .start() is called"]
pub struct Builder {
    pub(crate) interval: Duration,
    pub(crate) dump_dir: PathBuf,
    pub(crate) cooldown: Duration,
    pub(crate) rules: [Option<Rule>; Metric::COUNT],
    pub(crate) cpu_profile_duration: Duration,
    pub(crate) cpu_max: u64,
    pub(crate) stack_walk: StackWalk,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) cpu_cores: Option<f64>,
    pub(crate) formats: Vec<Format>,
    pub(crate) ring_size: usize,
    pub(crate) heap_sample_rate: Option<u64>,
    pub(crate) per_rule_limit: DumpLimit,
    pub(crate) overall_limit: DumpLimit,
    pub(crate) cascade: bool,
    pub(crate) retention: Retention,
    pub(crate) min_free_space: u64,
    pub(crate) env_overrides: bool,
    pub(crate) reporters: Vec<SharedReporter>,
    pub(crate) report_queue: usize,
    #[cfg(feature = "tokio")]
    pub(crate) tokio_handle: Option<tokio::runtime::Handle>,
}

/// A reporter kept in a cloneable [`Builder`] until `start()` takes it out.
#[derive(Clone)]
pub(crate) struct SharedReporter(std::sync::Arc<std::sync::Mutex<Option<Box<dyn Reporter>>>>);

impl std::fmt::Debug for SharedReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0.lock() {
            Ok(r) => r.as_ref().map(|r| r.name().to_owned()),
            Err(_) => None,
        };
        f.debug_tuple("Reporter")
            .field(&name.unwrap_or_else(|| "(started)".into()))
            .finish()
    }
}

impl SharedReporter {
    /// The reporter's [`Reporter::check`] (passes once it was taken out).
    fn check(&self) -> Result<()> {
        let r = match self.0.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        match r.as_ref().map(|r| (r.name(), r.check())) {
            Some((name, Err(source))) => Err(Error::Reporter {
                name: name.to_owned(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// Takes the reporter out (once).
    pub(crate) fn take(&self) -> Option<Box<dyn Reporter>> {
        match self.0.lock() {
            Ok(mut r) => r.take(),
            Err(p) => p.into_inner().take(),
        }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            interval: Duration::from_secs(5),
            dump_dir: default_dump_dir(),
            cooldown: Duration::from_secs(60),
            rules: [None; Metric::COUNT],
            cpu_profile_duration: Duration::from_secs(5),
            cpu_max: 0,
            stack_walk: StackWalk::Auto,
            memory_limit: None,
            cpu_cores: None,
            formats: Format::ALL.to_vec(),
            ring_size: 10,
            heap_sample_rate: None,
            per_rule_limit: DumpLimit::new(10, Duration::from_secs(3600)),
            overall_limit: DumpLimit::new(30, Duration::from_secs(3600)),
            cascade: false,
            retention: Retention::default(),
            min_free_space: 256 << 20,
            env_overrides: true,
            reporters: Vec::new(),
            report_queue: 32,
            #[cfg(feature = "tokio")]
            tokio_handle: None,
        }
    }
}

impl Builder {
    /// How often the process's metrics are sampled and the rules checked. Default 5 s;
    /// from [`bounds::MIN_INTERVAL`] (10 ms) to [`bounds::MAX_INTERVAL`] (1 day).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Where dump files are written. Default `<temp dir>/holmes`. Created with mode
    /// 0700 when missing (also when removed while holmes runs); files are written with
    /// mode 0600. It must be a real directory (not a symlink), owned by the process's
    /// effective uid and not writable by group or others, or `start()` fails with
    /// [`Error::UntrustedDumpDir`].
    pub fn dump_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dump_dir = dir.into();
        self
    }

    /// The cooldown of every rule that does not set its own: after a dump, the rule stays
    /// quiet this long. Default 1 min; above zero and at most [`bounds::MAX_COOLDOWN`]
    /// (1 year).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The CPU rule, on the process's CPU usage as a percentage of the available cores
    /// (100 = every core busy). Its dump is a CPU profile of
    /// [`cpu_profile_duration`](Self::cpu_profile_duration). The Go library's default is
    /// `Rule::new(10, 25, 70)`.
    pub fn cpu(mut self, rule: Rule) -> Self {
        self.rules[Metric::Cpu as usize] = Some(rule);
        self
    }

    /// The memory rule, on the resident set size (RSS) as a percentage of the memory
    /// limit, checked every interval. Its dump is a heap profile from
    /// [`crate::Allocator`], which must be the global allocator (`#[holmes::watch]`
    /// installs it). The Go library's default is `Rule::new(10, 25, 80)`.
    pub fn mem(mut self, rule: Rule) -> Self {
        self.rules[Metric::Mem as usize] = Some(rule);
        self
    }

    /// The heap rule, on the live heap estimated from [`crate::Allocator`]'s samples, as
    /// a percentage of the memory limit. It is checked on the allocator's sampling path,
    /// not only on the interval, so a spike that comes and goes between two ticks is
    /// still caught, at its peak. Its dump holds the heap profile at the peak and a
    /// baseline from before the spike (`go tool pprof -base heap.….base.pb.gz
    /// heap.….pb.gz` shows what grew). The Go library's GC-heap default is
    /// `Rule::new(10, 20, 40)`.
    pub fn heap(mut self, rule: Rule) -> Self {
        self.rules[Metric::Heap as usize] = Some(rule);
        self
    }

    /// Mean bytes between heap samples of [`crate::Allocator`]. Default 512 KiB, as Go.
    pub fn heap_sample_rate(mut self, bytes: u64) -> Self {
        self.heap_sample_rate = Some(bytes);
        self
    }

    /// The threads rule, on the number of OS threads. Its dump is the stack of every
    /// thread (text grouped by identical stacks, pprof, flamegraph). `max` skips dumping
    /// when there are too many threads to dump cheaply. The Go library's default is
    /// `Rule::new(10, 25, 70)` with a 1 h cooldown.
    pub fn threads(mut self, rule: Rule) -> Self {
        self.rules[Metric::Threads as usize] = Some(rule);
        self
    }

    /// The tasks rule (feature `tokio`), on the number of alive tasks of the tokio
    /// runtime given by [`tokio_handle`](Self::tokio_handle) or, when unset, the runtime
    /// `start()` is called from. Its dump is a tokio task dump when the program is built
    /// with task-dump support, else a thread dump plus the runtime's metrics. The Go
    /// library's goroutine default is `Rule::new(3000, 20, 200000)`.
    #[cfg(feature = "tokio")]
    pub fn tasks(mut self, rule: Rule) -> Self {
        self.rules[Metric::Tasks as usize] = Some(rule);
        self
    }

    /// The tokio runtime whose tasks the `tasks` rule counts (feature `tokio`).
    #[cfg(feature = "tokio")]
    pub fn tokio_handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_handle = Some(handle);
        self
    }

    /// Removes the rule on `metric`, e.g. to switch a rule off with
    /// [`Guard::update`](crate::Guard::update): `guard.update(guard.config().disable(Metric::Cpu))`.
    pub fn disable(mut self, metric: Metric) -> Self {
        self.rules[metric as usize] = None;
        self
    }

    /// How long a CPU profile records. Default 5 s; above zero and at most
    /// [`bounds::MAX_CPU_PROFILE`] (1 hour).
    pub fn cpu_profile_duration(mut self, duration: Duration) -> Self {
        self.cpu_profile_duration = duration;
        self
    }

    /// How stacks are walked (heap samples, CPU samples, thread dumps): see
    /// [`StackWalk`]. Default [`StackWalk::Auto`]. Fixed at start.
    pub fn stack_walk(mut self, walk: StackWalk) -> Self {
        self.stack_walk = walk;
        self
    }

    /// Skip every dump while the process's CPU % is at or above `percent` (dumping costs
    /// CPU). 0, the default, disables the check.
    pub fn cpu_max(mut self, percent: u64) -> Self {
        self.cpu_max = percent;
        self
    }

    /// The memory limit in bytes that memory percentages refer to, instead of the
    /// detected one (cgroup limit, else the host's total memory).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// The number of cores that CPU percentages refer to, instead of the detected one
    /// (cgroup CPU quota, else the CPUs this process may run on).
    pub fn cpu_cores(mut self, cores: f64) -> Self {
        self.cpu_cores = Some(cores);
        self
    }

    /// Which files each dump writes. Default: every [`Format`].
    pub fn formats(mut self, formats: impl IntoIterator<Item = Format>) -> Self {
        let mut v: Vec<Format> = Vec::new();
        for f in formats {
            if !v.contains(&f) {
                v.push(f);
            }
        }
        self.formats = v;
        self
    }

    /// How many recent samples each metric keeps for the average (and the warm-up
    /// length). Default 10, as in the Go library.
    pub fn ring_size(mut self, samples: usize) -> Self {
        self.ring_size = samples;
        self
    }

    /// At most `max` dumps per rule in any sliding `window`. Default 10 per hour. A rule
    /// over its limit shows as [`crate::RuleState::Throttled`] in the status. `window`
    /// is above zero and at most [`bounds::MAX_COOLDOWN`] (1 year).
    pub fn max_dumps_per_rule(mut self, max: usize, window: Duration) -> Self {
        self.per_rule_limit = DumpLimit::new(max, window);
        self
    }

    /// At most `max` dumps of all rules together in any sliding `window`. Default 30
    /// per hour. `window` is above zero and at most [`bounds::MAX_COOLDOWN`] (1 year).
    pub fn max_dumps(mut self, max: usize, window: Duration) -> Self {
        self.overall_limit = DumpLimit::new(max, window);
        self
    }

    /// When one rule fires, also capture every other enabled kind of dump (CPU, heap,
    /// threads, tasks) for a full picture. Default off.
    pub fn cascade(mut self, on: bool) -> Self {
        self.cascade = on;
        self
    }

    /// Keep at most `max_files` dump files and `max_bytes` bytes of them in the dump
    /// directory, deleting the oldest first (only files holmes wrote). Default 300 files
    /// and 512 MiB.
    pub fn retention(mut self, max_files: usize, max_bytes: u64) -> Self {
        self.retention = Retention {
            max_files,
            max_bytes,
        };
        self
    }

    /// Skip dumps (and count them) while the dump directory's file system has less than
    /// `bytes` available. Default 256 MiB.
    pub fn min_free_space(mut self, bytes: u64) -> Self {
        self.min_free_space = bytes;
        self
    }

    /// Also hands every dump to `reporter` ([`crate::LogReporter`],
    /// [`crate::HttpReporter`], [`crate::PyroscopeReporter`] or your own), on a dedicated
    /// `holmes-reporter` thread behind a bounded queue: a slow or dead backend never
    /// delays sampling or dumping; reports that do not fit are dropped and counted
    /// ([`crate::Status::reports`]). May be called several times. Reporters are fixed at
    /// start ([`crate::Guard::update`] keeps the started ones).
    pub fn reporter(mut self, reporter: impl Reporter) -> Self {
        let boxed: Box<dyn Reporter> = Box::new(reporter);
        self.reporters
            .push(SharedReporter(std::sync::Arc::new(std::sync::Mutex::new(
                Some(boxed),
            ))));
        self
    }

    /// Capacity of the reporters' queue. Default 32, as the Go library; at most
    /// [`bounds::MAX_REPORT_QUEUE`] (65 536), and at least 1 when a reporter is set.
    pub fn report_queue(mut self, reports: usize) -> Self {
        self.report_queue = reports;
        self
    }

    /// Whether `HOLMES_*` environment variables override this configuration at
    /// [`start`](Self::start) (see [`crate::ENV_VARS`]). Default on.
    pub fn env_overrides(mut self, on: bool) -> Self {
        self.env_overrides = on;
        self
    }

    /// Checks every value; `start` calls it.
    pub(crate) fn validate(&self) -> Result<()> {
        let nonzero = Duration::from_nanos(1);
        check_setting(
            "interval",
            self.interval,
            bounds::MIN_INTERVAL,
            bounds::MAX_INTERVAL,
        )?;
        check_setting("cooldown", self.cooldown, nonzero, bounds::MAX_COOLDOWN)?;
        check_setting(
            "cpu_profile_duration",
            self.cpu_profile_duration,
            nonzero,
            bounds::MAX_CPU_PROFILE,
        )?;
        check_setting(
            "max_dumps_per_rule.window",
            self.per_rule_limit.window,
            nonzero,
            bounds::MAX_COOLDOWN,
        )?;
        check_setting(
            "max_dumps.window",
            self.overall_limit.window,
            nonzero,
            bounds::MAX_COOLDOWN,
        )?;
        if self.cpu_max > 100 {
            return Err(Error::Config(format!(
                "cpu_max ({}) is a percentage and cannot be above 100",
                self.cpu_max
            )));
        }
        if self.memory_limit == Some(0) {
            return Err(Error::Config("memory_limit must not be zero".into()));
        }
        if let Some(c) = self.cpu_cores {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::Config(format!(
                    "cpu_cores ({c}) must be a positive number"
                )));
            }
        }
        if self.formats.is_empty() {
            return Err(Error::Config(
                "formats must name at least one format".into(),
            ));
        }
        if self.retention.max_files == 0 || self.retention.max_bytes == 0 {
            return Err(Error::Config(
                "retention must keep at least one file and one byte".into(),
            ));
        }
        if !self.reporters.is_empty() && self.report_queue == 0 {
            return Err(Error::Setting {
                setting: "report_queue".into(),
                reason: "must hold at least one report".into(),
            });
        }
        for r in &self.reporters {
            r.check()?;
        }
        if self.report_queue > bounds::MAX_REPORT_QUEUE {
            return Err(Error::Setting {
                setting: "report_queue".into(),
                reason: format!(
                    "must be at most {}, found {}",
                    bounds::MAX_REPORT_QUEUE,
                    self.report_queue
                ),
            });
        }
        if self.heap_sample_rate == Some(0) {
            return Err(Error::Config("heap_sample_rate must not be zero".into()));
        }
        if !(1..=1024).contains(&self.ring_size) {
            return Err(Error::Config(format!(
                "ring_size ({}) must be between 1 and 1024",
                self.ring_size
            )));
        }
        for kind in Metric::ALL {
            if let Some(rule) = &self.rules[kind as usize] {
                rule.validate(kind)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_overrides_apply_and_malformed_values_are_ignored() {
        let b = Builder::default().cpu(Rule::new(10, 25, 80).cooldown(Duration::from_secs(7)));
        let (b2, warnings) = b.clone().apply_env(env(&[
            ("HOLMES_DUMP_DIR", "/var/tmp/x"),
            ("HOLMES_INTERVAL", "2s"),
            ("HOLMES_CPU", "20,30,90"),
            ("HOLMES_THREADS", "100,25,1000,5000"),
            ("HOLMES_MEMORY_LIMIT", "2GiB"),
            ("HOLMES_COOLDOWN", "soon"),
            ("HOLMES_MEM", "90,25,80"),
            ("HOLMES_CPU_MAX", "101"),
        ]));
        let b2 = b2.unwrap();
        assert_eq!(b2.dump_dir, PathBuf::from("/var/tmp/x"));
        assert_eq!(b2.interval, Duration::from_secs(2));
        let cpu = b2.rules[Metric::Cpu as usize].unwrap();
        assert_eq!((cpu.min, cpu.diff, cpu.abs), (20, 30, 90));
        assert_eq!(cpu.cooldown, Some(Duration::from_secs(7)), "options kept");
        assert_eq!(b2.rules[Metric::Threads as usize].unwrap().max, 5000);
        assert_eq!(b2.memory_limit, Some(2 << 30));
        assert_eq!(b2.cooldown, b.cooldown, "malformed: ignored");
        assert!(
            b2.rules[Metric::Mem as usize].is_none(),
            "min > abs: ignored"
        );
        assert_eq!(b2.cpu_max, 0);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("HOLMES_COOLDOWN")));
        let (off, _) = b.clone().apply_env(env(&[("HOLMES_CPU", "off")]));
        assert!(off.unwrap().rules[Metric::Cpu as usize].is_none());
        let (disabled, _) = b.apply_env(env(&[("HOLMES_DISABLE", "true")]));
        assert!(disabled.is_none());
    }

    // Guards against: the attribute and the environment accepting different spellings
    // (both parse with holmes_settings now).
    #[test]
    fn memory_limit_takes_the_shared_size_grammar() {
        for (v, bytes) in [
            ("2Gi", 2u64 << 30),
            ("2GiB", 2 << 30),
            ("512MB", 512_000_000),
            ("4096", 4096),
        ] {
            let (b, warnings) = Builder::default().apply_env(env(&[("HOLMES_MEMORY_LIMIT", v)]));
            assert!(warnings.is_empty(), "{v}: {warnings:?}");
            assert_eq!(b.unwrap().memory_limit, Some(bytes), "{v}");
        }
        let (b, warnings) =
            Builder::default().apply_env(env(&[("HOLMES_MEMORY_LIMIT", "5 parsecs")]));
        assert_eq!(b.unwrap().memory_limit, None);
        assert!(
            warnings.iter().any(|w| w.contains("unknown size unit")),
            "{warnings:?}"
        );
        let (b, _) = Builder::default().apply_env(env(&[("HOLMES_INTERVAL", "1.5s")]));
        assert_eq!(b.unwrap().interval, Duration::from_millis(1500));
    }

    fn err(b: Builder) -> String {
        b.validate().unwrap_err().to_string()
    }

    // Guards against: an https:// reporter in a build without TLS (the default) starting
    // fine and failing only at the first dump's upload, maybe days later.
    #[test]
    fn an_https_reporter_needs_a_tls_feature_at_start() {
        use crate::report::{HttpReporter, PyroscopeReporter, ReportError};
        let https = || {
            Builder::default()
                .reporter(HttpReporter::new("http://collector/upload"))
                .reporter(PyroscopeReporter::new("HTTPS://u:p@pyroscope:4040", "app"))
        };
        if crate::report::client::HAS_TLS {
            assert!(https().validate().is_ok());
            return;
        }
        match https().validate() {
            Err(Error::Reporter {
                name,
                source: ReportError::TlsUnavailable { url },
            }) => assert_eq!(
                (name.as_str(), url.as_str()),
                ("pyroscope", "HTTPS://…@pyroscope:4040")
            ),
            r => panic!("{r:?}"),
        }
        let e = err(https());
        assert!(
            e.contains(
                "reporter `pyroscope` cannot work: HTTPS://…@pyroscope:4040: https:// needs \
                 one of holmes' TLS features (`tls-ring`, `tls-aws-lc` or `native-tls`)"
            ),
            "{e}"
        );
    }

    #[test]
    fn rejects_bad_configurations() {
        let b = Builder::default;
        assert!(err(b().cpu(Rule::new(90, 25, 80)))
            .contains("cpu rule: `min` (90) must not be greater than `abs` (80)"));
        assert!(err(b().cpu(Rule::new(10, 25, 180)))
            .contains("`abs` is a percentage and must be at most 100"));
        assert!(err(b().cpu(Rule::new(10, 0, 80))).contains("`diff` must be at least 1"));
        assert!(err(b().interval(Duration::ZERO))
            .contains("setting `interval`: must be longer than zero"));
        assert!(err(b().cpu_max(101)).contains("cpu_max"));
        assert!(err(b().cpu_cores(0.0)).contains("cpu_cores"));
        assert!(err(b().cpu_cores(f64::NAN)).contains("cpu_cores"));
        assert!(err(b().memory_limit(0)).contains("memory_limit"));
        assert!(err(b().formats([])).contains("formats"));
        assert!(err(b().ring_size(0)).contains("ring_size"));
        assert!(err(b().cpu(Rule::new(1, 1, 2).cooldown(Duration::ZERO))).contains("cooldown"));
        assert!(err(b().cpu(Rule::new(10, 25, 80).max(100)))
            .contains("`max` (100) is only for count rules"));
        assert!(err(b().threads(Rule::new(10, 25, 80).max(80)))
            .contains("`max` (80) must be greater than `abs` (80)"));
        assert!(err(b().mem(Rule::new(10, 25, 101))).contains("must be at most 100"));
        assert!(err(b().heap_sample_rate(0)).contains("heap_sample_rate"));
        assert!(b().cpu(Rule::new(10, 25, 80)).validate().is_ok());
        assert!(b()
            .threads(Rule::new(100, 25, 1000).max(5000))
            .validate()
            .is_ok());
    }

    fn setting(b: Builder) -> String {
        match b.validate() {
            Err(Error::Setting { setting, .. }) => setting,
            other => panic!("expected Error::Setting, got {other:?}"),
        }
    }

    // Guards against: Duration::MAX / 1 ns / usize::MAX settings accepted, then panicking
    // holmes' threads (Instant overflow) or start() (crossbeam's capacity check).
    #[test]
    fn extreme_settings_are_typed_errors_naming_the_setting() {
        let b = Builder::default;
        let max = Duration::MAX;
        let rule = Rule::new(10, 25, 80);
        assert_eq!(setting(b().interval(max)), "interval");
        assert_eq!(setting(b().interval(Duration::from_nanos(1))), "interval");
        assert_eq!(setting(b().interval(Duration::from_millis(9))), "interval");
        assert_eq!(
            setting(b().interval(Duration::from_secs(86_401))),
            "interval"
        );
        assert_eq!(setting(b().cooldown(max)), "cooldown");
        assert_eq!(setting(b().cpu(rule.cooldown(max))), "cpu.cooldown");
        assert_eq!(setting(b().threads(rule.escalate(max))), "threads.escalate");
        assert_eq!(setting(b().max_dumps(1, max)), "max_dumps.window");
        assert_eq!(
            setting(b().max_dumps_per_rule(1, max)),
            "max_dumps_per_rule.window"
        );
        assert_eq!(
            setting(b().cpu_profile_duration(max)),
            "cpu_profile_duration"
        );
        assert_eq!(setting(b().report_queue(usize::MAX)), "report_queue");
        assert_eq!(
            err(b().interval(Duration::from_nanos(1))),
            "invalid holmes setting `interval`: must be at least 10ms, found 1ns"
        );
        assert!(err(b().cooldown(max)).contains("must be at most 1year, found "));
        // The bounds themselves are accepted.
        assert!(b()
            .interval(bounds::MIN_INTERVAL)
            .cooldown(bounds::MAX_COOLDOWN)
            .cpu(
                rule.cooldown(bounds::MAX_COOLDOWN)
                    .escalate(bounds::MAX_COOLDOWN)
            )
            .max_dumps(1, bounds::MAX_COOLDOWN)
            .cpu_profile_duration(bounds::MAX_CPU_PROFILE)
            .report_queue(bounds::MAX_REPORT_QUEUE)
            .validate()
            .is_ok());
        assert!(b().interval(bounds::MAX_INTERVAL).validate().is_ok());
        assert_eq!(
            humantime::parse_duration("1y").ok(),
            Some(bounds::MAX_COOLDOWN),
            "the attribute's \"1y\" is the bound"
        );
    }

    // Guards against: HOLMES_COOLDOWN=500000000000y applied (and panicking the sampler)
    // instead of logged and ignored like a malformed value.
    #[test]
    fn out_of_range_env_values_are_logged_and_ignored() {
        let b = Builder::default();
        let (b2, warnings) = b.clone().apply_env(env(&[
            ("HOLMES_COOLDOWN", "500000000000y"),
            ("HOLMES_INTERVAL", "1ns"),
            ("HOLMES_CPU_PROFILE", "2h"),
        ]));
        let b2 = b2.unwrap();
        assert_eq!(b2.cooldown, b.cooldown);
        assert_eq!(b2.interval, b.interval);
        assert_eq!(b2.cpu_profile_duration, b.cpu_profile_duration);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("HOLMES_INTERVAL") && warnings[0].contains("at least 10ms"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains("HOLMES_COOLDOWN") && warnings[1].contains("at most 1year"),
            "{warnings:?}"
        );
        assert!(b2.validate().is_ok());
        let (b3, warnings) = b.apply_env(env(&[("HOLMES_INTERVAL", "10ms")]));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(b3.unwrap().interval, Duration::from_millis(10));
    }

    #[test]
    fn formats_deduplicate() {
        let b = Builder::default().formats([Format::Svg, Format::Svg, Format::Pprof]);
        assert_eq!(b.formats, vec![Format::Svg, Format::Pprof]);
    }

    #[test]
    fn stack_walk_from_the_environment_with_the_attribute_s_spelling() {
        for w in [StackWalk::Auto, StackWalk::FramePointers, StackWalk::Dwarf] {
            let (b, warnings) =
                Builder::default().apply_env(env(&[("HOLMES_STACK_WALK", w.name())]));
            assert_eq!(b.unwrap().stack_walk, w);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        let (b, warnings) = Builder::default()
            .stack_walk(StackWalk::Dwarf)
            .apply_env(env(&[("HOLMES_STACK_WALK", "frame-pointers")]));
        assert_eq!(
            b.unwrap().stack_walk,
            StackWalk::Dwarf,
            "malformed: ignored"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
