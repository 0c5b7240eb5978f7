//! The `#[holmes::watch]` attribute. Use it through the `holmes` crate, which re-exports
//! it; this crate only holds the macro (the runtime lives in `holmes-runtime`).
//!
//! The arguments are parsed in `args` (tables of rule kinds and settings, duplicate
//! checks, compile-time parsing of durations and sizes), the code is generated in `expand`.
#![warn(missing_docs)]

mod args;
mod errors;
mod expand;

use proc_macro::TokenStream;

/// Makes the function profile itself while it runs: holmes starts when the function is
/// entered and stops (flushing dumps in flight, within a bound) when it returns.
///
/// ```text
/// #[holmes::watch(cpu(10, 25, 80), mem(3, 25, 80), cooldown = "1m")]
/// fn main() { /* … */ }
///
/// #[holmes::watch(cpu(10, 25, 80, cooldown = "30s"), interval = "2s", dump_dir = "/var/tmp/holmes")]
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> { /* … */ Ok(()) }
/// ```
///
/// The attribute goes on `main` or on any non-generic function (sync or `async`, with any
/// return type; `?` and `return` keep working). The examples of the `holmes` crate
/// compile; these blocks only show the syntax.
///
/// # Placement next to `#[tokio::main]`
///
/// Both orders work. Attributes expand from the top down, so:
///
/// - above `#[tokio::main]`, holmes starts inside the tokio runtime, when the async body
///   starts, and stops when it returns (before the runtime shuts down). The `tasks` rule
///   needs this order.
/// - below `#[tokio::main]`, holmes starts before the runtime is built and stops after it
///   has shut down, so it also watches the runtime's start-up and shutdown.
///
/// # What it expands to
///
/// One statement is inserted at the top of the body and the original body is kept, as is,
/// in its own block:
///
/// ```text
/// fn main() {
///     let __holmes_guard = ::holmes::__private::start(
///         ::holmes::Holmes::builder().cooldown(/* 1 min */).cpu(::holmes::Rule::new(10, 25, 80)),
///         ::holmes::__private::OnError::Log,
///     );
///     { /* the original statements */ }
/// }
/// ```
///
/// The guard lives until the function returns. Everything is checked at compile time: a
/// bad argument is a compile error pointing at it, and the function is still emitted
/// unchanged so that no follow-on errors appear.
///
/// # When holmes cannot start
///
/// If starting fails at run time (for example, the dump directory cannot be created, or
/// holmes already runs in this process), the error is logged with `log::error!` (target
/// `holmes`) and the function runs without holmes: a profiler must never take the service
/// down. Write `on_error = "panic"` to fail fast instead.
///
/// # Rules
///
/// A rule decides when a dump is taken. After a warm-up of 10 samples, a sample `cur`
/// dumps when `cur >= min` and either `cur > abs` or `cur` is `diff` percent above the
/// average of the last 10 samples. At least one rule is required; each rule kind may
/// appear once.
///
/// ## `cpu(min, diff, abs)`
///
/// The process's CPU usage in percent of the available cores (100 = every core busy).
/// The dump is a CPU profile (see `cpu_profile`). `min` and `abs` are at most 100,
/// `min <= abs`, `diff >= 1` (`diff` may exceed 100: 200 means three times the average).
///
/// ```text
/// cpu(10, 25, 80)      →  .cpu(holmes::Rule::new(10, 25, 80))
/// ```
///
/// ## `mem(min, diff, abs)`
///
/// Resident memory in percent of the memory limit (see `memory_limit`). The dump is a
/// heap profile, so the attribute also installs holmes's sampling allocator (see
/// `allocator`). Same limits as `cpu`.
///
/// ```text
/// mem(3, 25, 80)       →  .mem(holmes::Rule::new(3, 25, 80))
/// ```
///
/// ## `heap(min, diff, abs)`
///
/// Live heap (as seen by the sampling allocator) in percent of the memory limit. The dump
/// is a heap profile; the allocator is installed as for `mem`. Same limits as `cpu`.
///
/// ```text
/// heap(10, 20, 40)     →  .heap(holmes::Rule::new(10, 20, 40))
/// ```
///
/// ## `threads(min, diff, abs[, max])`
///
/// The number of OS threads of the process; the dump lists their stacks. Counts are not
/// capped at 100. The optional `max` (greater than `abs`) skips dumping at or above it.
///
/// ```text
/// threads(10, 25, 70)          →  .threads(holmes::Rule::new(10, 25, 70))
/// threads(10, 25, 70, 5000)    →  .threads(holmes::Rule::new(10, 25, 70).max(5000))
/// ```
///
/// ## `tasks(min, diff, abs[, max])`
///
/// The number of alive tasks of the tokio runtime holmes starts in (needs the `tokio`
/// feature of holmes); the dump lists them. Same shape as `threads`. Holmes must start
/// inside the runtime: put the attribute above `#[tokio::main]` or on an `async fn`
/// (below `#[tokio::main]` is a compile error, see "Placement").
///
/// ```text
/// tasks(3000, 20, 200000)      →  .tasks(holmes::Rule::new(3000, 20, 200000))
/// ```
///
/// ## Rule option `cooldown = "<duration>"`
///
/// Written after the values, inside the rule: how long this rule stays quiet after a
/// dump. Default: the `cooldown` setting. Must be longer than zero.
///
/// ```text
/// cpu(10, 25, 80, cooldown = "30s")  →  .cpu(holmes::Rule::new(10, 25, 80).cooldown(Duration::from_secs(30)))
/// ```
///
/// ## Rule option `sustain = <samples>`
///
/// Fire only when the rule matched on this many consecutive samples; any sample that
/// does not match resets the count. Default 1 (the Go behaviour).
///
/// ```text
/// cpu(10, 25, 80, sustain = 3)       →  .cpu(holmes::Rule::new(10, 25, 80).sustain(3))
/// ```
///
/// ## Rule option `escalate = "<duration>"`
///
/// After a dump, fire again only above the value that fired (the new high-water mark)
/// until this long has passed since the last dump: a flapping metric gives one dump.
///
/// ```text
/// cpu(10, 25, 80, escalate = "1h")   →  .cpu(holmes::Rule::new(10, 25, 80).escalate(Duration::from_secs(3600)))
/// ```
///
/// # Settings
///
/// Values are written as in the `HOLMES_*` variables (one grammar, `holmes-settings`).
/// Durations are strings in humantime syntax, fractions allowed (`"500ms"`, `"1.5s"`,
/// `"1m30s"`, `"1h 30m"`). Sizes are strings: a number and a unit, binary (`KiB`/`Ki`,
/// `MiB`/`Mi`, `GiB`/`Gi`, `TiB`/`Ti`: 1024) or decimal (`KB`/`K`, `MB`/`M`, `GB`/`G`,
/// `TB`/`T`: 1000), any case, or bytes (`B`, or no unit); `"1.5GiB"` works when it is a
/// whole number of bytes. Each setting may appear once.
///
/// ## `interval = "<duration>"`
///
/// How often metrics are sampled and rules checked. Default 5 s. Must be longer than zero.
///
/// ```text
/// interval = "2s"                →  .interval(Duration::from_secs(2))
/// ```
///
/// ## `cooldown = "<duration>"`
///
/// How long a rule stays quiet after a dump, for every rule without its own `cooldown`.
/// Default 1 min. Must be longer than zero.
///
/// ```text
/// cooldown = "1m"                →  .cooldown(Duration::from_secs(60))
/// ```
///
/// ## `dump_dir = "<path>"`
///
/// Where dump files are written; a relative path is resolved against the working
/// directory. Default `<temp dir>/holmes`.
///
/// ```text
/// dump_dir = "/var/tmp/holmes"   →  .dump_dir("/var/tmp/holmes")
/// ```
///
/// ## `cpu_profile = "<duration>"`
///
/// How long a CPU profile records once the `cpu` rule fires. Default 5 s. Needs a `cpu`
/// rule.
///
/// ```text
/// cpu_profile = "10s"            →  .cpu_profile_duration(Duration::from_secs(10))
/// ```
///
/// ## `cpu_max = <percent>`
///
/// Skip every dump while the process's CPU usage is at or above this percentage (dumping
/// costs CPU). An integer from 1 to 100. Default: no limit.
///
/// ```text
/// cpu_max = 95                   →  .cpu_max(95)
/// ```
///
/// ## `memory_limit = "<size>"`
///
/// The memory that memory percentages refer to. Default: the cgroup limit, else the
/// host's total memory.
///
/// ```text
/// memory_limit = "2GiB"          →  .memory_limit(2147483648)
/// ```
///
/// ## `cpu_cores = <number>`
///
/// The number of cores that CPU percentages refer to. A positive number. Default: the
/// cgroup CPU quota, else the CPUs the process may run on.
///
/// ```text
/// cpu_cores = 1.5                →  .cpu_cores(1.5)
/// ```
///
/// ## `heap_sample_rate = "<size>"`
///
/// The sampling allocator records one allocation per this many bytes on average. Default
/// 512 KiB. Needs a `mem` or `heap` rule.
///
/// ```text
/// heap_sample_rate = "512KiB"    →  .heap_sample_rate(524288)
/// ```
///
/// ## `formats(<format>, ...)`
///
/// Which files each dump writes: `pprof` (`.pb.gz`, for `go tool pprof`), `text` (`.txt`)
/// and `svg` (a flamegraph). Default: all three.
///
/// ```text
/// formats(pprof, svg)            →  .formats([holmes::Format::Pprof, holmes::Format::Svg])
/// ```
///
/// ## `min_free_space = "<size>"`
///
/// Skip dumps (logged and counted) while the dump directory's disk has less than this
/// free. Default 256 MiB.
///
/// ```text
/// min_free_space = "1GiB"        →  .min_free_space(1073741824)
/// ```
///
/// ## `cascade = <bool>`
///
/// When one rule fires, also capture every other enabled kind of dump. Default `false`.
///
/// ```text
/// cascade = true                 →  .cascade(true)
/// ```
///
/// ## `reporter = <expression>`
///
/// Also hand every dump to a reporter (a `holmes::Reporter`), on its own thread behind a
/// bounded queue. The expression is passed through unchanged.
///
/// ```text
/// reporter = holmes::PyroscopeReporter::new("http://pyroscope:4040", "my-service")
///                                →  .reporter(holmes::PyroscopeReporter::new("http://pyroscope:4040", "my-service"))
/// ```
///
/// ## `allocator = false | <path>`
///
/// With a `mem` or `heap` rule the attribute emits, next to the function,
///
/// ```text
/// #[global_allocator]
/// static __HOLMES_ALLOCATOR: holmes::Allocator = holmes::Allocator::system();
/// ```
///
/// `allocator = mimalloc::MiMalloc` wraps your own allocator instead: the path of a unit
/// struct implementing `GlobalAlloc`, used as both type and value
/// (`static __HOLMES_ALLOCATOR: holmes::Allocator<mimalloc::MiMalloc> =
/// holmes::Allocator::new(mimalloc::MiMalloc);`). `allocator = false` emits nothing, for
/// programs that install `holmes::Allocator` themselves. Only valid with a `mem` or `heap`
/// rule. A program has one global allocator: with this attribute, do not declare another.
/// If you do, rustc's "cannot define multiple global allocators" underlines the rule and
/// its note names the macro the static comes from,
/// `to_keep_your_global_allocator_write__allocator_eq_YourAllocator__or__allocator_eq_false`
/// (with `allocator = …`: `allocator_eq_wraps_yours__remove_your_own_global_allocator`).
///
/// ## `on_error = "log" | "panic"`
///
/// What happens when holmes fails to start at run time. Default `"log"`: log the error
/// (target `holmes`) and run the function without holmes. `"panic"` panics with the error.
///
/// ```text
/// on_error = "panic"   ≈  let guard = builder.start().expect("holmes failed to start");
/// ```
///
/// ## `enabled = <bool>`
///
/// `enabled = false` emits the function unchanged (the arguments are still checked).
/// Default `true`. Handy with `cfg_attr`, or to switch holmes off while keeping the
/// configuration.
///
/// ## `crate = "<path>"`
///
/// The path of the holmes crate in the generated code, for crates that re-export holmes
/// under another name. Default `"::holmes"`.
///
/// ```text
/// #[my_platform::holmes::watch(cpu(10, 25, 80), crate = "::my_platform::holmes")]
/// ```
#[proc_macro_attribute]
pub fn watch(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}
