//! What the attribute accepts, as tables: [`RULES`] (one entry per rule kind),
//! [`SETTINGS`] (one per setting) and [`RULE_OPTIONS`] (named options inside a rule), and
//! the spellings of formats and stack walkers. Adding a rule kind or a setting is one
//! table entry; the lists of valid names in error messages come from these tables.

/// Percent rules compare a percentage (0..=100) and take `(min, diff, abs)`; count rules
/// compare a number of things and take `(min, diff, abs[, max])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Percent,
    Count,
}

/// One rule kind, e.g. `cpu(10, 25, 80)` → `Builder::cpu(Rule::new(10, 25, 80))`.
#[derive(Debug)]
pub(crate) struct RuleDef {
    /// The name written in the attribute.
    pub(crate) name: &'static str,
    pub(crate) kind: RuleKind,
    /// The `Builder` method taking the `Rule`.
    pub(crate) method: &'static str,
    /// Its dumps need the sampling allocator (`#[global_allocator]`).
    pub(crate) needs_allocator: bool,
    /// Holmes must start inside a tokio runtime (it counts that runtime's tasks).
    pub(crate) needs_tokio_runtime: bool,
}

/// Every rule kind the attribute accepts.
pub(crate) const RULES: &[RuleDef] = &[
    RuleDef {
        name: "cpu",
        kind: RuleKind::Percent,
        method: "cpu",
        needs_allocator: false,
        needs_tokio_runtime: false,
    },
    RuleDef {
        name: "mem",
        kind: RuleKind::Percent,
        method: "mem",
        needs_allocator: true,
        needs_tokio_runtime: false,
    },
    RuleDef {
        name: "heap",
        kind: RuleKind::Percent,
        method: "heap",
        needs_allocator: true,
        needs_tokio_runtime: false,
    },
    RuleDef {
        name: "threads",
        kind: RuleKind::Count,
        method: "threads",
        needs_allocator: false,
        needs_tokio_runtime: false,
    },
    RuleDef {
        name: "tasks",
        kind: RuleKind::Count,
        method: "tasks",
        needs_allocator: false,
        needs_tokio_runtime: true,
    },
];

/// How the value of a setting is written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A humantime string, `"5s"`, longer than zero.
    Duration,
    /// A size string with a unit, `"2GiB"`; never zero.
    Size,
    /// A non-empty string, used as a path.
    Path,
    /// An integer percentage in 1..=100.
    Percent,
    /// A positive number, integer or decimal.
    Positive,
    /// A list of output formats: `formats(pprof, svg)`.
    Formats,
    /// `true` or `false`.
    Bool,
    /// A string holding a Rust path: `"::my_crate::holmes"`.
    CratePath,
    /// `"log"` or `"panic"`.
    OnError,
    /// `"auto"`, `"frame_pointers"` or `"dwarf"`.
    StackWalk,
    /// `false` or the path of a unit struct implementing `GlobalAlloc`.
    Allocator,
    /// A whole number of at least 1: `sustain = 3`.
    Count,
    /// Any Rust expression, emitted as the builder call's argument:
    /// `reporter = holmes::LogReporter::new()`.
    Expr,
}

/// Where a setting goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A `Builder` method taking the value.
    Builder(&'static str),
    /// Read by the macro itself (`crate`, `enabled`, `on_error`, `allocator`).
    Macro,
}

/// One setting, e.g. `interval = "2s"` → `Builder::interval(Duration::from_nanos(..))`.
#[derive(Debug)]
pub(crate) struct SettingDef {
    pub(crate) name: &'static str,
    pub(crate) kind: ValueKind,
    pub(crate) target: Target,
    /// The setting only has an effect next to one of these rules (empty: always).
    pub(crate) needs_rule: &'static [&'static str],
}

const fn builder(
    name: &'static str,
    kind: ValueKind,
    method: &'static str,
    needs_rule: &'static [&'static str],
) -> SettingDef {
    SettingDef {
        name,
        kind,
        target: Target::Builder(method),
        needs_rule,
    }
}

const fn macro_setting(
    name: &'static str,
    kind: ValueKind,
    needs_rule: &'static [&'static str],
) -> SettingDef {
    SettingDef {
        name,
        kind,
        target: Target::Macro,
        needs_rule,
    }
}

/// Every setting the attribute accepts, in the order the builder calls are emitted.
pub(crate) const SETTINGS: &[SettingDef] = &[
    builder("interval", ValueKind::Duration, "interval", &[]),
    builder("dump_dir", ValueKind::Path, "dump_dir", &[]),
    builder("cooldown", ValueKind::Duration, "cooldown", &[]),
    builder(
        "cpu_profile",
        ValueKind::Duration,
        "cpu_profile_duration",
        &["cpu"],
    ),
    builder("cpu_max", ValueKind::Percent, "cpu_max", &[]),
    builder("cpu_cores", ValueKind::Positive, "cpu_cores", &[]),
    builder("memory_limit", ValueKind::Size, "memory_limit", &[]),
    builder(
        "heap_sample_rate",
        ValueKind::Size,
        "heap_sample_rate",
        &["mem", "heap"],
    ),
    builder("formats", ValueKind::Formats, "formats", &[]),
    builder("min_free_space", ValueKind::Size, "min_free_space", &[]),
    builder("cascade", ValueKind::Bool, "cascade", &[]),
    builder("stack_walk", ValueKind::StackWalk, "stack_walk", &[]),
    builder("reporter", ValueKind::Expr, "reporter", &[]),
    macro_setting("allocator", ValueKind::Allocator, &["mem", "heap"]),
    macro_setting("on_error", ValueKind::OnError, &[]),
    macro_setting("enabled", ValueKind::Bool, &[]),
    macro_setting("crate", ValueKind::CratePath, &[]),
];

/// Named options inside a rule: `cpu(10, 25, 80, cooldown = "30s")` → `Rule::cooldown(..)`.
pub(crate) const RULE_OPTIONS: &[SettingDef] = &[
    builder("cooldown", ValueKind::Duration, "cooldown", &[]),
    builder("sustain", ValueKind::Count, "sustain", &[]),
    builder("escalate", ValueKind::Duration, "escalate", &[]),
];

/// Output formats: (name in the attribute, `holmes::Format` variant).
pub(crate) const FORMATS: &[(&str, &str)] = &[("pprof", "Pprof"), ("text", "Text"), ("svg", "Svg")];

/// Stack walkers: (spelling in the attribute and `HOLMES_STACK_WALK`, `holmes::StackWalk`
/// variant).
pub(crate) const STACK_WALKS: &[(&str, &str)] = &[
    ("auto", "Auto"),
    ("frame_pointers", "FramePointers"),
    ("dwarf", "Dwarf"),
];
