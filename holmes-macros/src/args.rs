//! Parsing the arguments of `#[holmes::watch(...)]` into a [`Config`].
//!
//! Two steps, as in tokio-macros: [`parse`] reads every comma-separated argument on its
//! own and stores it in a slot (`Option<(T, Span)>`; a second value for the same slot is
//! rejected by [`set_once`]), then [`Args::build`] runs the checks that involve several
//! arguments. Every error is spanned to the token it is about, and independent errors are
//! all reported.
//!
//! What the attribute accepts is described by three tables: [`RULES`] (one entry per rule
//! kind), [`SETTINGS`] (one entry per setting) and [`RULE_OPTIONS`] (named options inside a
//! rule). Adding a rule kind or a builder setting is one table entry; the lists of valid
//! names in error messages come from the tables.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

use crate::errors::Errors;
use std::time::Duration;

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

/// What to do when holmes fails to start at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnError {
    Log,
    Panic,
}

/// The `#[global_allocator]` the attribute emits next to the function.
#[derive(Clone)]
pub(crate) enum AllocatorChoice {
    /// `Allocator::system()`.
    System,
    /// `Allocator::<path>::new(<path>)`: the path names a unit struct implementing
    /// `GlobalAlloc`, such as `mimalloc::MiMalloc`.
    Wrap(syn::Path),
}

/// A checked setting value.
#[derive(Clone)]
pub(crate) enum Value {
    /// Whole nanoseconds.
    Duration(u64),
    /// Bytes.
    Size(u64),
    Str(String),
    Int(u64),
    Float(f64),
    Bool(bool),
    /// `holmes::Format` variant names.
    Formats(Vec<&'static str>),
    Path(syn::Path),
    OnError(OnError),
    /// A `holmes::StackWalk` variant name.
    StackWalk(&'static str),
    /// `None` for `allocator = false`.
    Allocator(Option<AllocatorChoice>),
    /// An expression passed through unchanged.
    Expr(Box<Expr>),
}

/// One `Builder` (or `Rule`) method call to emit.
#[derive(Clone)]
pub(crate) struct Call {
    pub(crate) method: &'static str,
    pub(crate) value: Value,
    /// The key as the user wrote it, so errors about the call point there.
    pub(crate) span: Span,
}

/// A checked rule.
#[derive(Clone)]
pub(crate) struct RuleConfig {
    pub(crate) def: &'static RuleDef,
    pub(crate) min: u64,
    pub(crate) diff: u64,
    pub(crate) abs: u64,
    pub(crate) max: Option<u64>,
    pub(crate) options: Vec<Call>,
    /// The rule name as the user wrote it.
    pub(crate) span: Span,
}

/// Everything the expansion needs, checked.
#[derive(Clone)]
pub(crate) struct Config {
    /// Path of the holmes crate in generated code (`::holmes` unless `crate = "..."`).
    pub(crate) krate: syn::Path,
    pub(crate) enabled: bool,
    pub(crate) on_error: OnError,
    pub(crate) allocator: Option<AllocatorChoice>,
    /// Builder settings, in [`SETTINGS`] order.
    pub(crate) settings: Vec<Call>,
    /// Rules, in [`RULES`] order.
    pub(crate) rules: Vec<RuleConfig>,
}

/// A parsed but not yet cross-checked rule.
struct RuleArgs {
    /// `(value, span)` of min, diff, abs and the optional max.
    values: Vec<(u64, Span)>,
    options: Vec<Option<(Value, Span)>>,
}

/// Arguments after step one: one slot per table entry.
pub(crate) struct Args {
    rules: Vec<Option<(RuleArgs, Span)>>,
    /// Rules written in the attribute, even those whose arguments had errors, so that
    /// step two does not report "no rule" on top of the rule's own error.
    mentioned: Vec<&'static str>,
    settings: Vec<Option<(Value, Span)>>,
}

/// Stores `value` in `slot`, or reports that `key` was given twice. The one duplicate check.
pub(crate) fn set_once<T>(
    slot: &mut Option<(T, Span)>,
    value: T,
    key: &Ident,
    what: &str,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("duplicate {what} `{key}`: it is already given earlier in this attribute"),
        ));
    }
    *slot = Some((value, key.span()));
    Ok(())
}

/// Parses the attribute arguments and checks them.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Config> {
    let mut errors = Errors::default();
    let mut parsed = Args {
        rules: RULES.iter().map(|_| None).collect(),
        mentioned: Vec::new(),
        settings: SETTINGS.iter().map(|_| None).collect(),
    };
    for entry in split_commas(args, &mut errors) {
        if let Some(TokenTree::Ident(key)) = entry.first() {
            if let Some(rule) = RULES.iter().find(|r| key == r.name) {
                parsed.mentioned.push(rule.name);
            }
        }
        if let Some(entry) = errors.take(Entry::parse(entry)) {
            errors.take(parsed.set(entry));
        }
    }
    // Step two runs even after errors in step one, so that they are reported together.
    let clean = errors.is_empty();
    errors.finish_with(parsed.build(clean))
}

/// One comma-separated argument, before its key is looked up.
enum Entry {
    /// `key = value`
    Assign { key: Ident, value: TokenStream },
    /// `key(...)`
    List { key: Ident, group: Group },
    /// `key` alone.
    Bare { key: Ident },
}

impl Entry {
    fn parse(tokens: Vec<TokenTree>) -> syn::Result<Entry> {
        let mut iter = tokens.into_iter();
        let key = match iter.next() {
            Some(TokenTree::Ident(key)) => key,
            Some(other) => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "expected a rule such as `cpu(10, 25, 80)` or a setting such as `interval = \"5s\"`; {}",
                        valid_names()
                    ),
                ))
            }
            // `split_commas` never yields an empty entry.
            None => return Err(syn::Error::new(Span::call_site(), "expected an argument")),
        };
        let entry = match iter.next() {
            None => return Ok(Entry::Bare { key }),
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {
                let value: TokenStream = iter.collect();
                if value.is_empty() {
                    return Err(syn::Error::new(
                        p.span(),
                        format!("expected a value after `{key} =`"),
                    ));
                }
                return Ok(Entry::Assign { key, value });
            }
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
                Entry::List { key, group }
            }
            Some(other) => {
                return Err(syn::Error::new(
                    other.span(),
                    format!("expected `=` or `(...)` after `{key}`"),
                ))
            }
        };
        match iter.next() {
            None => Ok(entry),
            Some(extra) => Err(syn::Error::new(
                extra.span(),
                "unexpected token; separate arguments with commas",
            )),
        }
    }
}

/// Splits `tokens` at top-level commas. Groups are single token trees, so commas inside
/// `cpu(...)` stay inside. A trailing comma is fine; an empty argument is an error.
fn split_commas(tokens: TokenStream, errors: &mut Errors) -> Vec<Vec<TokenTree>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        match token {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                if current.is_empty() {
                    errors.push(syn::Error::new(p.span(), "expected an argument before `,`"));
                } else {
                    out.push(std::mem::take(&mut current));
                }
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn rule_names() -> String {
    join(RULES.iter().map(|r| r.name))
}

fn setting_names() -> String {
    join(SETTINGS.iter().map(|s| s.name))
}

fn valid_names() -> String {
    format!(
        "valid rules: {}; valid settings: {}",
        rule_names(),
        setting_names()
    )
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest name within two edits, for "did you mean" hints.
fn suggest<'a>(unknown: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (edit_distance(unknown, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn did_you_mean<'a>(unknown: &str, names: impl Iterator<Item = &'a str>) -> String {
    suggest(unknown, names)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

impl Args {
    /// Step one: look the key up in the tables and store the value in its slot.
    fn set(&mut self, entry: Entry) -> syn::Result<()> {
        let key = match &entry {
            Entry::Assign { key, .. } | Entry::List { key, .. } | Entry::Bare { key } => {
                key.clone()
            }
        };
        let name = key.to_string();
        if let Some(index) = RULES.iter().position(|r| r.name == name) {
            let def = &RULES[index];
            return match entry {
                Entry::List { key, group } => {
                    let rule = parse_rule(def, &group)?;
                    set_once(&mut self.rules[index], rule, &key, "rule")
                }
                _ => Err(syn::Error::new(
                    key.span(),
                    format!(
                        "`{name}` is a rule; write it as `{name}({})`",
                        rule_params(def)
                    ),
                )),
            };
        }
        if let Some(index) = SETTINGS.iter().position(|s| s.name == name) {
            let value = parse_setting(&SETTINGS[index], entry)?;
            return set_once(&mut self.settings[index], value, &key, "setting");
        }
        let names = RULES
            .iter()
            .map(|r| r.name)
            .chain(SETTINGS.iter().map(|s| s.name));
        Err(syn::Error::new(
            key.span(),
            format!(
                "unknown argument `{name}`{}; {}",
                did_you_mean(&name, names),
                valid_names()
            ),
        ))
    }

    /// Step two: the checks that involve several arguments. `clean` says step one found no
    /// error; otherwise "no rule" is not reported (the broken argument may be the rule).
    pub(crate) fn build(self, clean: bool) -> syn::Result<Config> {
        let mut errors = Errors::default();
        let present = &self.mentioned;
        if present.is_empty() && clean {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[holmes::watch] needs at least one rule, e.g. `#[holmes::watch(cpu(10, 25, 80))]`; valid rules: {}",
                    rule_names()
                ),
            ));
        }

        let mut rules = Vec::new();
        for (def, slot) in RULES.iter().zip(self.rules) {
            if let Some((args, span)) = slot {
                if let Some(rule) = errors.take(check_rule(def, args, span)) {
                    rules.push(rule);
                }
            }
        }

        let mut config = Config {
            krate: syn::parse_quote!(::holmes),
            enabled: true,
            on_error: OnError::Log,
            allocator: RULES
                .iter()
                .any(|r| r.needs_allocator && present.contains(&r.name))
                .then_some(AllocatorChoice::System),
            settings: Vec::new(),
            rules,
        };
        for (def, slot) in SETTINGS.iter().zip(self.settings) {
            let Some((value, span)) = slot else { continue };
            if !def.needs_rule.is_empty() && !def.needs_rule.iter().any(|r| present.contains(r)) {
                errors.push(syn::Error::new(
                    span,
                    format!(
                        "`{}` has no effect without a {} rule",
                        def.name,
                        def.needs_rule
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ));
                continue;
            }
            match (def.target, value) {
                (Target::Builder(method), value) => config.settings.push(Call {
                    method,
                    value,
                    span,
                }),
                (Target::Macro, Value::Path(path)) => config.krate = path,
                (Target::Macro, Value::Bool(enabled)) => config.enabled = enabled,
                (Target::Macro, Value::OnError(on_error)) => config.on_error = on_error,
                (Target::Macro, Value::Allocator(choice)) => config.allocator = choice,
                (Target::Macro, _) => errors.push(syn::Error::new(
                    span,
                    format!(
                        "internal error in holmes-macros: unexpected value for `{}`",
                        def.name
                    ),
                )),
            }
        }
        errors.finish(config)
    }
}

/// `min, diff, abs` or `min, diff, abs[, max]`, for messages.
fn rule_params(def: &RuleDef) -> &'static str {
    match def.kind {
        RuleKind::Percent => "min, diff, abs",
        RuleKind::Count => "min, diff, abs[, max]",
    }
}

const PARAM_NAMES: [&str; 4] = ["min", "diff", "abs", "max"];

/// Reads `name(v1, v2, v3[, v4][, option = value]...)`: types and counts only.
fn parse_rule(def: &RuleDef, group: &Group) -> syn::Result<RuleArgs> {
    let name = def.name;
    let mut errors = Errors::default();
    let mut values = Vec::new();
    let mut options: Vec<Option<(Value, Span)>> = RULE_OPTIONS.iter().map(|_| None).collect();
    let mut saw_option = false;
    let mut reported_order = false;
    let max_values = match def.kind {
        RuleKind::Percent => 3,
        RuleKind::Count => 4,
    };
    for tokens in split_commas(group.stream(), &mut errors) {
        let is_option = matches!(
            (tokens.first(), tokens.get(1)),
            (Some(TokenTree::Ident(_)), Some(TokenTree::Punct(p))) if p.as_char() == '='
        );
        if is_option {
            saw_option = true;
            let Some(entry) = errors.take(Entry::parse(tokens)) else {
                continue;
            };
            let Entry::Assign { key: option, .. } = &entry else {
                continue;
            };
            let option_name = option.to_string();
            let Some(index) = RULE_OPTIONS.iter().position(|o| o.name == option_name) else {
                errors.push(syn::Error::new(
                    option.span(),
                    format!(
                        "unknown option `{option_name}` for rule `{name}`{}; valid options: {}",
                        did_you_mean(&option_name, RULE_OPTIONS.iter().map(|o| o.name)),
                        join(RULE_OPTIONS.iter().map(|o| o.name))
                    ),
                ));
                continue;
            };
            let option = option.clone();
            if let Some(value) = errors.take(parse_setting(&RULE_OPTIONS[index], entry)) {
                errors.take(set_once(&mut options[index], value, &option, "option"));
            }
            continue;
        }
        if let [TokenTree::Ident(ident)] = tokens.as_slice() {
            let option = ident.to_string();
            if let Some(def) = RULE_OPTIONS.iter().find(|o| o.name == option) {
                errors.push(syn::Error::new(
                    ident.span(),
                    format!(
                        "`{option}` needs a value: `{option} = {}`",
                        example(def.kind)
                    ),
                ));
                saw_option = true;
                continue;
            }
        }
        let expr: TokenStream = tokens.into_iter().collect();
        let span = first_span(&expr);
        let position = values.len();
        if saw_option && !reported_order {
            reported_order = true;
            errors.push(syn::Error::new(
                span,
                format!(
                    "the values ({}) of `{name}` must come before its named options",
                    rule_params(def)
                ),
            ));
        }
        if position >= max_values {
            let message = match def.kind {
                RuleKind::Percent => format!(
                    "`{name}` takes 3 values (min, diff, abs); only count rules ({}) take a fourth, `max`",
                    join(RULES.iter().filter(|r| r.kind == RuleKind::Count).map(|r| r.name))
                ),
                RuleKind::Count => {
                    format!("`{name}` takes at most 4 values (min, diff, abs, max)")
                }
            };
            errors.push(syn::Error::new(span, message));
            values.push((0, span));
            continue;
        }
        let what = format!("`{}` of `{name}`", PARAM_NAMES[position]);
        match syn::parse2::<Expr>(expr) {
            Ok(expr) => {
                if let Some(value) = errors.take(expect_u64(&expr, &what)) {
                    values.push((value, expr.span()));
                } else {
                    values.push((0, expr.span()));
                }
            }
            Err(e) => {
                errors.push(e);
                values.push((0, span));
            }
        }
    }
    if values.len() < 3 {
        errors.push(syn::Error::new(
            if values.is_empty() {
                group.span()
            } else {
                group.span_close()
            },
            format!(
                "`{name}` takes {} values ({}), found {}: e.g. `{name}({})`",
                if def.kind == RuleKind::Count {
                    "3 or 4"
                } else {
                    "3"
                },
                rule_params(def),
                values.len(),
                match def.kind {
                    RuleKind::Percent => "10, 25, 80",
                    RuleKind::Count => "100, 25, 1000",
                }
            ),
        ));
    }
    errors.finish(RuleArgs { values, options })
}

/// Step two for one rule: relations between min, diff, abs and max.
fn check_rule(def: &'static RuleDef, args: RuleArgs, span: Span) -> syn::Result<RuleConfig> {
    let name = def.name;
    let mut errors = Errors::default();
    let (min, min_span, diff, diff_span, abs, abs_span, max) = match args.values.as_slice() {
        [(min, min_span), (diff, diff_span), (abs, abs_span), rest @ ..] => (
            *min,
            *min_span,
            *diff,
            *diff_span,
            *abs,
            *abs_span,
            rest.first().copied(),
        ),
        // `parse_rule` rejects fewer than three values.
        _ => {
            return Err(syn::Error::new(
                span,
                format!("`{name}` needs three values"),
            ))
        }
    };
    let kind = match def.kind {
        RuleKind::Percent => holmes_settings::RuleKind::Percent,
        RuleKind::Count => holmes_settings::RuleKind::Count,
    };
    let max_value = max.map(|(m, _)| m);
    for problem in holmes_settings::check_rule(kind, min, diff, abs, max_value) {
        let span = match problem.param {
            "min" => min_span,
            "diff" => diff_span,
            "abs" => abs_span,
            _ => max.map_or(span, |(_, s)| s),
        };
        errors.push(syn::Error::new(
            span,
            format!("`{name}` rule: {}", problem.message),
        ));
    }
    let options = RULE_OPTIONS
        .iter()
        .zip(args.options)
        .filter_map(|(def, slot)| {
            let (value, span) = slot?;
            let Target::Builder(method) = def.target else {
                return None;
            };
            Some(Call {
                method,
                value,
                span,
            })
        })
        .collect();
    errors.finish(RuleConfig {
        def,
        min,
        diff,
        abs,
        max: max.map(|(m, _)| m),
        options,
        span,
    })
}

fn first_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

/// Reads and checks the value of one setting (or rule option).
fn parse_setting(def: &SettingDef, entry: Entry) -> syn::Result<Value> {
    let name = def.name;
    match (def.kind, entry) {
        (ValueKind::Formats, Entry::List { group, .. }) => parse_formats(&group),
        (ValueKind::Formats, Entry::Assign { key, .. } | Entry::Bare { key }) => {
            Err(syn::Error::new(
                key.span(),
                format!(
                    "`{name}` takes a list, e.g. `{name}(pprof, svg)`; valid formats: {}",
                    join(FORMATS.iter().map(|f| f.0))
                ),
            ))
        }
        (_, Entry::Assign { value, .. }) => {
            let expr: Expr = syn::parse2(value)?;
            parse_value(def, &expr)
        }
        (_, Entry::List { key, .. } | Entry::Bare { key }) => Err(syn::Error::new(
            key.span(),
            format!(
                "`{name}` is a setting; write it as `{name} = {}`",
                example(def.kind)
            ),
        )),
    }
}

fn example(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Duration => "\"5s\"",
        ValueKind::Size => "\"2GiB\"",
        ValueKind::Path => "\"/var/tmp/holmes\"",
        ValueKind::Percent => "95",
        ValueKind::Positive => "1.5",
        ValueKind::Formats => "(pprof, svg)",
        ValueKind::Bool => "false",
        ValueKind::CratePath => "\"::my_crate::holmes\"",
        ValueKind::OnError => "\"panic\"",
        ValueKind::StackWalk => "\"dwarf\"",
        ValueKind::Allocator => "false",
        ValueKind::Count => "3",
        ValueKind::Expr => "holmes::LogReporter::new()",
    }
}

fn parse_formats(group: &Group) -> syn::Result<Value> {
    let mut errors = Errors::default();
    let mut slots: Vec<Option<((), Span)>> = FORMATS.iter().map(|_| None).collect();
    let mut formats = Vec::new();
    for tokens in split_commas(group.stream(), &mut errors) {
        let ident = match tokens.as_slice() {
            [TokenTree::Ident(ident)] => ident,
            _ => {
                let tokens: TokenStream = tokens.into_iter().collect();
                errors.push(syn::Error::new(
                    first_span(&tokens),
                    format!(
                        "expected a format name; valid formats: {}",
                        join(FORMATS.iter().map(|f| f.0))
                    ),
                ));
                continue;
            }
        };
        let format = ident.to_string();
        match FORMATS.iter().position(|f| f.0 == format) {
            Some(index) => {
                if errors
                    .take(set_once(&mut slots[index], (), ident, "format"))
                    .is_some()
                {
                    formats.push(FORMATS[index].1);
                }
            }
            None => errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "unknown format `{format}`{}; valid formats: {}",
                    did_you_mean(&format, FORMATS.iter().map(|f| f.0)),
                    join(FORMATS.iter().map(|f| f.0))
                ),
            )),
        }
    }
    if formats.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new(
            group.span(),
            format!(
                "`formats` needs at least one format: {}",
                join(FORMATS.iter().map(|f| f.0))
            ),
        ));
    }
    errors.finish(Value::Formats(formats))
}

/// What an expression is, for "expected X, found Y" messages.
fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(_) => "a string",
            Lit::Int(_) => "an integer",
            Lit::Float(_) => "a decimal number",
            Lit::Bool(_) => "a boolean",
            _ => "a literal",
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => "a negative number",
        Expr::Path(_) => "a path",
        _ => "an expression",
    }
}

fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn expect_u64(expr: &Expr, what: &str) -> syn::Result<u64> {
    match lit(expr) {
        Some(Lit::Int(int)) => int.base10_parse::<u64>(),
        _ => Err(syn::Error::new_spanned(
            expr,
            format!(
                "expected a non-negative integer for {what}, found {}",
                describe(expr)
            ),
        )),
    }
}

fn expect_str(expr: &Expr, name: &str, kind: ValueKind) -> syn::Result<syn::LitStr> {
    match lit(expr) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => {
            let message = match (kind, lit(expr)) {
                (ValueKind::Duration, Some(Lit::Int(n))) => format!(
                    "durations are strings with a unit: write `{name} = \"{}s\"` or `\"{0}ms\"`, found an integer",
                    n.base10_digits()
                ),
                (ValueKind::Size, Some(Lit::Int(n))) => format!(
                    "sizes are strings with a unit: write `{name} = \"{}B\"` or `\"{0}MiB\"`, found an integer",
                    n.base10_digits()
                ),
                _ => format!(
                    "expected a string for `{name}`, e.g. `{name} = {}`, found {}",
                    example(kind),
                    describe(expr)
                ),
            };
            Err(syn::Error::new_spanned(expr, message))
        }
    }
}

/// The accepted range of a duration setting or rule option: `holmes::bounds`.
fn duration_bounds(name: &str) -> (Duration, Duration) {
    use holmes_settings::bounds;
    let nonzero = Duration::from_nanos(1);
    match name {
        "interval" => (bounds::MIN_INTERVAL, bounds::MAX_INTERVAL),
        "cpu_profile" => (nonzero, bounds::MAX_CPU_PROFILE),
        // `cooldown` (setting and rule option), `escalate`.
        _ => (nonzero, bounds::MAX_COOLDOWN),
    }
}

fn parse_value(def: &SettingDef, expr: &Expr) -> syn::Result<Value> {
    let name = def.name;
    let error = |message: String| Err(syn::Error::new_spanned(expr, message));
    match def.kind {
        ValueKind::Duration => {
            let text = expect_str(expr, name, def.kind)?;
            let d = holmes_settings::parse_duration(&text.value())
                .map_err(|e| syn::Error::new(text.span(), e))?;
            let (min, max) = duration_bounds(name);
            if let Err(why) = holmes_settings::check_duration(d, min, max) {
                return error(format!("`{name}` {why}"));
            }
            let nanos = u64::try_from(d.as_nanos()).map_err(|_| {
                syn::Error::new(text.span(), format!("`{name}` is too long"))
            })?;
            Ok(Value::Duration(nanos))
        }
        ValueKind::Size => {
            let text = expect_str(expr, name, def.kind)?;
            let bytes =
                holmes_settings::parse_size(&text.value()).map_err(|e| syn::Error::new(text.span(), e))?;
            if bytes == 0 {
                return error(format!("`{name}` must be greater than zero"));
            }
            Ok(Value::Size(bytes))
        }
        ValueKind::Path => {
            let text = expect_str(expr, name, def.kind)?.value();
            if text.trim().is_empty() {
                return error(format!("`{name}` must not be empty"));
            }
            Ok(Value::Str(text))
        }
        ValueKind::Percent => {
            let value = expect_u64(expr, &format!("`{name}`"))?;
            if !(1..=100).contains(&value) {
                return error(format!(
                    "`{name}` is a percentage of all cores and must be between 1 and 100, found {value}"
                ));
            }
            Ok(Value::Int(value))
        }
        ValueKind::Positive => {
            let value = match lit(expr) {
                Some(Lit::Float(f)) => f.base10_parse::<f64>()?,
                Some(Lit::Int(i)) => i.base10_parse::<f64>()?,
                _ => {
                    return error(format!(
                        "expected a number for `{name}`, e.g. `{name} = 1.5`, found {}",
                        describe(expr)
                    ))
                }
            };
            if !(value.is_finite() && value > 0.0) {
                return error(format!("`{name}` must be greater than zero"));
            }
            Ok(Value::Float(value))
        }
        ValueKind::Count => {
            let value = expect_u64(expr, &format!("`{name}`"))?;
            if value == 0 || value > u32::MAX as u64 {
                return error(format!("`{name}` counts samples and must be at least 1, found {value}"));
            }
            Ok(Value::Int(value))
        }
        ValueKind::Expr => Ok(Value::Expr(Box::new(expr.clone()))),
        ValueKind::Bool => match lit(expr) {
            Some(Lit::Bool(b)) => Ok(Value::Bool(b.value)),
            _ => error(format!(
                "expected `true` or `false` for `{name}`, found {}",
                describe(expr)
            )),
        },
        ValueKind::CratePath => {
            let text = expect_str(expr, name, def.kind)?;
            let path: syn::Path = text.parse().map_err(|_| {
                syn::Error::new(
                    text.span(),
                    format!(
                        "`{name}` must be a path such as \"::holmes\" or \"::my_crate::holmes\", found \"{}\"",
                        text.value()
                    ),
                )
            })?;
            Ok(Value::Path(path))
        }
        ValueKind::StackWalk => {
            let text = expect_str(expr, name, def.kind)?;
            match STACK_WALKS.iter().find(|(word, _)| *word == text.value()) {
                Some(&(_, variant)) => Ok(Value::StackWalk(variant)),
                None => error(format!(
                    "`{name}` must be {}, found \"{}\"",
                    STACK_WALKS.iter().map(|(w, _)| format!("\"{w}\"")).collect::<Vec<_>>().join(", "),
                    text.value()
                )),
            }
        }
        ValueKind::OnError => {
            let text = expect_str(expr, name, def.kind)?;
            match text.value().as_str() {
                "log" => Ok(Value::OnError(OnError::Log)),
                "panic" => Ok(Value::OnError(OnError::Panic)),
                other => error(format!(
                    "`{name}` must be \"log\" or \"panic\", found \"{other}\""
                )),
            }
        }
        ValueKind::Allocator => match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(Value::Allocator(b.value.then_some(AllocatorChoice::System))),
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(
                Value::Allocator(Some(AllocatorChoice::Wrap(path.path.clone()))),
            ),
            _ => error(format!(
                "expected `false` or an allocator for `{name}`: the path of a unit struct implementing `GlobalAlloc`, such as `{name} = mimalloc::MiMalloc`; found {}",
                describe(expr)
            )),
        },
        ValueKind::Formats => error(format!("`{name}` takes a list, e.g. `{name}(pprof, svg)`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{quote, ToTokens};

    fn ok(args: TokenStream) -> Config {
        parse(args).unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    /// Every error message, in order.
    fn errs(args: TokenStream) -> Vec<String> {
        match parse(args) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    /// The single error message.
    fn err(args: TokenStream) -> String {
        let all = errs(args);
        assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
        all.into_iter().next().unwrap_or_default()
    }

    fn setting<'a>(config: &'a Config, method: &str) -> &'a Value {
        &config
            .settings
            .iter()
            .find(|c| c.method == method)
            .unwrap_or_else(|| panic!("no call to `{method}`"))
            .value
    }

    fn duration(value: &Value) -> u64 {
        match value {
            Value::Duration(n) => *n,
            _ => panic!("not a duration"),
        }
    }

    fn path(path: &syn::Path) -> String {
        path.to_token_stream().to_string()
    }

    #[test]
    fn one_rule_and_defaults() {
        let c = ok(quote!(cpu(10, 25, 80)));
        assert_eq!(path(&c.krate), ":: holmes");
        assert!(c.enabled);
        assert_eq!(c.on_error, OnError::Log);
        assert!(c.allocator.is_none());
        assert!(c.settings.is_empty());
        assert_eq!(c.rules.len(), 1);
        let r = &c.rules[0];
        assert_eq!(
            (r.def.name, r.min, r.diff, r.abs, r.max),
            ("cpu", 10, 25, 80, None)
        );
        assert!(r.options.is_empty());
    }

    #[test]
    fn every_rule_kind() {
        let c = ok(quote!(
            tasks(3000, 20, 200000, 300000),
            threads(10, 25, 70),
            heap(10, 20, 40),
            mem(3, 25, 80),
            cpu(10, 25, 80),
        ));
        let names: Vec<_> = c.rules.iter().map(|r| r.def.method).collect();
        // Emitted in table order, whatever the order in the attribute.
        assert_eq!(names, ["cpu", "mem", "heap", "threads", "tasks"]);
        assert_eq!(c.rules[4].max, Some(300000));
        assert_eq!(c.rules[3].max, None);
    }

    #[test]
    fn stack_walk_takes_the_walker_names() {
        for (word, variant) in STACK_WALKS {
            let c = ok(quote!(cpu(10, 25, 80), stack_walk = #word));
            assert!(
                matches!(setting(&c, "stack_walk"), Value::StackWalk(v) if v == variant),
                "{word}"
            );
        }
        let e = err(quote!(cpu(10, 25, 80), stack_walk = "libunwind"));
        assert_eq!(
            e,
            "`stack_walk` must be \"auto\", \"frame_pointers\", \"dwarf\", found \"libunwind\""
        );
    }

    #[test]
    fn rule_cooldown_option() {
        let c = ok(quote!(cpu(10, 25, 80, cooldown = "30s")));
        let options = &c.rules[0].options;
        assert_eq!(options.len(), 1);
        assert_eq!(options[0].method, "cooldown");
        assert_eq!(duration(&options[0].value), 30_000_000_000);
        let c = ok(quote!(threads(10, 25, 70, 500, cooldown = "1h")));
        assert_eq!(c.rules[0].max, Some(500));
        assert_eq!(duration(&c.rules[0].options[0].value), 3_600_000_000_000);
    }

    #[test]
    fn durations_and_paths() {
        let c = ok(quote!(
            cpu(10, 25, 80),
            interval = "2s",
            cooldown = "1m",
            cpu_profile = "500ms",
            dump_dir = "/var/tmp/holmes"
        ));
        assert_eq!(duration(setting(&c, "interval")), 2_000_000_000);
        assert_eq!(duration(setting(&c, "cooldown")), 60_000_000_000);
        assert_eq!(duration(setting(&c, "cpu_profile_duration")), 500_000_000);
        assert!(matches!(setting(&c, "dump_dir"), Value::Str(s) if s == "/var/tmp/holmes"));
        let methods: Vec<_> = c.settings.iter().map(|s| s.method).collect();
        assert_eq!(
            methods,
            ["interval", "dump_dir", "cooldown", "cpu_profile_duration"],
            "settings are emitted in table order"
        );
    }

    #[test]
    fn numbers_and_sizes() {
        let c = ok(quote!(
            mem(3, 25, 80),
            cpu_max = 95,
            memory_limit = "2GiB",
            cpu_cores = 1.5,
            heap_sample_rate = "512KiB"
        ));
        assert!(matches!(setting(&c, "cpu_max"), Value::Int(95)));
        assert!(matches!(
            setting(&c, "memory_limit"),
            Value::Size(2147483648)
        ));
        assert!(matches!(setting(&c, "cpu_cores"), Value::Float(f) if *f == 1.5));
        assert!(matches!(
            setting(&c, "heap_sample_rate"),
            Value::Size(524288)
        ));
        let c = ok(quote!(cpu(10, 25, 80), cpu_cores = 2, memory_limit = "2GB"));
        assert!(matches!(setting(&c, "cpu_cores"), Value::Float(f) if *f == 2.0));
        assert!(matches!(
            setting(&c, "memory_limit"),
            Value::Size(2000000000)
        ));
    }

    #[test]
    fn formats() {
        let c = ok(quote!(cpu(10, 25, 80), formats(svg, pprof)));
        assert!(matches!(setting(&c, "formats"), Value::Formats(f) if f == &["Svg", "Pprof"]));
        let c = ok(quote!(cpu(10, 25, 80), formats(text,)));
        assert!(matches!(setting(&c, "formats"), Value::Formats(f) if f == &["Text"]));
    }

    #[test]
    fn macro_settings() {
        let c = ok(quote!(
            cpu(10, 25, 80),
            enabled = false,
            on_error = "panic",
            crate = "::my_platform::holmes"
        ));
        assert!(!c.enabled);
        assert_eq!(c.on_error, OnError::Panic);
        assert_eq!(path(&c.krate), ":: my_platform :: holmes");
        assert!(
            c.settings.is_empty(),
            "macro settings are not builder calls"
        );
        let c = ok(quote!(
            cpu(10, 25, 80),
            on_error = "log",
            enabled = true,
            crate = "holmes"
        ));
        assert!(c.enabled);
        assert_eq!(c.on_error, OnError::Log);
        assert_eq!(path(&c.krate), "holmes");
    }

    #[test]
    fn allocator_follows_the_rules() {
        assert!(ok(quote!(cpu(10, 25, 80), threads(1, 2, 3)))
            .allocator
            .is_none());
        assert!(matches!(
            ok(quote!(mem(3, 25, 80))).allocator,
            Some(AllocatorChoice::System)
        ));
        assert!(matches!(
            ok(quote!(heap(3, 25, 80))).allocator,
            Some(AllocatorChoice::System)
        ));
        assert!(ok(quote!(mem(3, 25, 80), allocator = false))
            .allocator
            .is_none());
        assert!(matches!(
            ok(quote!(mem(3, 25, 80), allocator = true)).allocator,
            Some(AllocatorChoice::System)
        ));
        match ok(quote!(heap(3, 25, 80), allocator = my::Alloc)).allocator {
            Some(AllocatorChoice::Wrap(p)) => assert_eq!(path(&p), "my :: Alloc"),
            _ => panic!("expected a wrapped allocator"),
        }
    }

    #[test]
    fn trailing_comma_and_empty_rule_options() {
        ok(quote!(cpu(10, 25, 80,),));
    }

    #[test]
    fn unknown_argument_lists_the_valid_ones() {
        let e = err(quote!(cpu(10, 25, 80), intervall = "5s"));
        assert!(
            e.starts_with("unknown argument `intervall` (did you mean `interval`?)"),
            "{e}"
        );
        assert!(
            e.contains("valid rules: `cpu`, `mem`, `heap`, `threads`, `tasks`"),
            "{e}"
        );
        assert!(
            e.contains("valid settings: `interval`, `dump_dir`, `cooldown`"),
            "{e}"
        );
        assert!(e.contains("`crate`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), goroutines(1, 2, 3)));
        assert!(e.starts_with("unknown argument `goroutines`;"), "{e}");
    }

    #[test]
    fn unknown_rule_option_and_format() {
        let e = err(quote!(cpu(10, 25, 80, cooldwn = "1s")));
        assert!(e.contains("unknown option `cooldwn` for rule `cpu` (did you mean `cooldown`?); valid options: `cooldown`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), formats(pprof, json)));
        assert!(
            e.contains("unknown format `json`; valid formats: `pprof`, `text`, `svg`"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), formats()));
        assert!(e.contains("`formats` needs at least one format"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), formats("pprof")));
        assert!(e.contains("expected a format name"), "{e}");
    }

    #[test]
    fn duplicates_share_one_message() {
        let e = err(quote!(cpu(10, 25, 80), interval = "1s", interval = "2s"));
        assert_eq!(
            e,
            "duplicate setting `interval`: it is already given earlier in this attribute"
        );
        let e = err(quote!(cpu(10, 25, 80), cpu(1, 2, 3)));
        assert!(e.starts_with("duplicate rule `cpu`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80, cooldown = "1s", cooldown = "2s")));
        assert!(e.starts_with("duplicate option `cooldown`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), formats(svg, svg)));
        assert!(e.starts_with("duplicate format `svg`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), crate = "a", crate = "b"));
        assert!(e.starts_with("duplicate setting `crate`"), "{e}");
    }

    #[test]
    fn wrong_number_of_values() {
        let e = err(quote!(cpu(10, 25)));
        assert_eq!(
            e,
            "`cpu` takes 3 values (min, diff, abs), found 2: e.g. `cpu(10, 25, 80)`"
        );
        let e = err(quote!(cpu()));
        assert!(e.contains("found 0"), "{e}");
        let e = err(quote!(cpu(10, 25, 80, 90)));
        assert!(
            e.contains("only count rules (`threads`, `tasks`) take a fourth, `max`"),
            "{e}"
        );
        let e = err(quote!(threads(10, 25, 80, 90, 100)));
        assert_eq!(e, "`threads` takes at most 4 values (min, diff, abs, max)");
        let e = err(quote!(tasks(1)));
        assert!(
            e.contains("`tasks` takes 3 or 4 values (min, diff, abs[, max]), found 1"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types() {
        let e = err(quote!(cpu("10", 25, 80)));
        assert_eq!(
            e,
            "expected a non-negative integer for `min` of `cpu`, found a string"
        );
        let e = err(quote!(cpu(10, -25, 80)));
        assert!(
            e.contains("`diff` of `cpu`, found a negative number"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80.5)));
        assert!(e.contains("`abs` of `cpu`, found a decimal number"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), interval = 5));
        assert_eq!(
            e,
            "durations are strings with a unit: write `interval = \"5s\"` or `\"5ms\"`, found an integer"
        );
        let e = err(quote!(cpu(10, 25, 80), memory_limit = 2048));
        assert!(
            e.starts_with("sizes are strings with a unit: write `memory_limit = \"2048B\"`"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), cpu_max = 95.5));
        assert!(
            e.contains("expected a non-negative integer for `cpu_max`, found a decimal number"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), cpu_cores = "2"));
        assert!(e.contains("expected a number for `cpu_cores`"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), enabled = "no"));
        assert!(
            e.contains("expected `true` or `false` for `enabled`, found a string"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), dump_dir = tmp));
        assert!(e.contains("expected a string for `dump_dir`"), "{e}");
        let e = err(quote!(mem(3, 25, 80), allocator = "system"));
        assert!(
            e.starts_with("expected `false` or an allocator for `allocator`"),
            "{e}"
        );
    }

    #[test]
    fn wrong_shapes() {
        let e = err(quote!(cpu = 10));
        assert_eq!(e, "`cpu` is a rule; write it as `cpu(min, diff, abs)`");
        let e = err(quote!(threads));
        assert_eq!(
            e,
            "`threads` is a rule; write it as `threads(min, diff, abs[, max])`"
        );
        let e = err(quote!(cpu(10, 25, 80), interval("5s")));
        assert_eq!(
            e,
            "`interval` is a setting; write it as `interval = \"5s\"`"
        );
        let e = err(quote!(cpu(10, 25, 80), enabled));
        assert_eq!(e, "`enabled` is a setting; write it as `enabled = false`");
        let e = err(quote!(cpu(10, 25, 80), formats = "svg"));
        assert!(
            e.starts_with("`formats` takes a list, e.g. `formats(pprof, svg)`"),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), interval =));
        assert_eq!(e, "expected a value after `interval =`");
        let e = err(quote!(cpu(10, 25, 80) interval = "1s"));
        assert_eq!(e, "unexpected token; separate arguments with commas");
        let e = err(quote!(cpu(10, 25, 80), , interval = "1s"));
        assert_eq!(e, "expected an argument before `,`");
        let e = err(quote!("cpu"));
        assert!(
            e.starts_with("expected a rule such as `cpu(10, 25, 80)`"),
            "{e}"
        );
        let e = err(quote!(cpu[10, 25, 80]));
        assert_eq!(e, "expected `=` or `(...)` after `cpu`");
        let e = err(quote!(cpu(cooldown = "1s", 10, 25, 80)));
        assert!(e.contains("must come before its named options"), "{e}");
        let e = err(quote!(cpu(10, 25, 80, cooldown)));
        assert_eq!(e, "`cooldown` needs a value: `cooldown = \"5s\"`");
    }

    #[test]
    fn rule_relations() {
        let e = err(quote!(cpu(90, 25, 80)));
        assert_eq!(e, "`cpu` rule: `min` (90) must not be greater than `abs` (80): the rule could never fire on `abs`");
        let e = err(quote!(mem(10, 25, 120)));
        assert_eq!(
            e,
            "`mem` rule: `abs` is a percentage and must be at most 100, found 120"
        );
        let e = err(quote!(cpu(10, 0, 80)));
        assert!(
            e.starts_with("`cpu` rule: `diff` must be at least 1"),
            "{e}"
        );
        let e = err(quote!(threads(10, 25, 70, 70)));
        assert_eq!(e, "`threads` rule: `max` (70) must be greater than `abs` (70); leave it out for no upper bound");
        // diff is a rise over the average: above 100 is meaningful (200 = three times).
        ok(quote!(cpu(10, 200, 80)));
        // Count rules are not percentages.
        ok(quote!(threads(100, 25, 1000)));
        ok(quote!(cpu(0, 1, 0)));
        ok(quote!(cpu(100, 1, 100)));
    }

    #[test]
    fn bad_values() {
        let e = err(quote!(cpu(10, 25, 80), interval = "0s"));
        assert_eq!(e, "`interval` must be longer than zero");
        let e = err(quote!(cpu(10, 25, 80, cooldown = "0s")));
        assert_eq!(e, "`cooldown` must be longer than zero");
        let e = err(quote!(cpu(10, 25, 80), interval = "5 parsecs"));
        assert!(e.starts_with("invalid duration \"5 parsecs\""), "{e}");
        let e = err(quote!(cpu(10, 25, 80), memory_limit = "2 gigs"));
        assert!(e.starts_with("unknown size unit \"gigs\""), "{e}");
        let e = err(quote!(cpu(10, 25, 80), memory_limit = "0GiB"));
        assert_eq!(e, "`memory_limit` must be greater than zero");
        let e = err(quote!(cpu(10, 25, 80), cpu_max = 0));
        assert!(e.contains("must be between 1 and 100, found 0"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), cpu_max = 101));
        assert!(e.contains("found 101"), "{e}");
        let e = err(quote!(cpu(10, 25, 80), cpu_cores = 0.0));
        assert_eq!(e, "`cpu_cores` must be greater than zero");
        let e = err(quote!(cpu(10, 25, 80), dump_dir = ""));
        assert_eq!(e, "`dump_dir` must not be empty");
        let e = err(quote!(cpu(10, 25, 80), on_error = "ignore"));
        assert_eq!(
            e,
            "`on_error` must be \"log\" or \"panic\", found \"ignore\""
        );
        let e = err(quote!(cpu(10, 25, 80), crate = "not a path"));
        assert!(
            e.starts_with("`crate` must be a path such as \"::holmes\""),
            "{e}"
        );
    }

    // Guards against: `interval = "1ns"` (a core burnt at ~300 000 ticks/s) or a
    // cooldown of centuries compiling, then failing or panicking only at run time.
    #[test]
    fn durations_out_of_their_range() {
        let e = err(quote!(cpu(10, 25, 80), interval = "1ns"));
        assert_eq!(e, "`interval` must be at least 10ms, found 1ns");
        let e = err(quote!(cpu(10, 25, 80), interval = "2days"));
        assert_eq!(e, "`interval` must be at most 1day, found 2days");
        let e = err(quote!(cpu(10, 25, 80), cooldown = "100y"));
        assert!(
            e.starts_with("`cooldown` must be at most 1year, found "),
            "{e}"
        );
        let e = err(quote!(cpu(10, 25, 80), cooldown = "500000000000y"));
        assert!(e.starts_with("`cooldown` must be at most 1year"), "{e}");
        let e = err(quote!(cpu(10, 25, 80, cooldown = "2y")));
        assert_eq!(e, "`cooldown` must be at most 1year, found 2years");
        let e = err(quote!(cpu(10, 25, 80, escalate = "2y")));
        assert_eq!(e, "`escalate` must be at most 1year, found 2years");
        let e = err(quote!(cpu(10, 25, 80), cpu_profile = "2h"));
        assert_eq!(e, "`cpu_profile` must be at most 1h, found 2h");
        // The bounds themselves (those of `holmes::bounds`) are accepted.
        let c = ok(quote!(
            cpu(10, 25, 80, cooldown = "1y", escalate = "1y"),
            interval = "10ms",
            cooldown = "1y",
            cpu_profile = "1h"
        ));
        assert_eq!(duration(setting(&c, "interval")), 10_000_000);
        ok(quote!(cpu(10, 25, 80), interval = "1day"));
    }

    #[test]
    fn cross_field_checks() {
        let e = err(quote!());
        assert!(
            e.starts_with("#[holmes::watch] needs at least one rule"),
            "{e}"
        );
        let e = err(quote!(interval = "1s"));
        assert!(
            e.starts_with("#[holmes::watch] needs at least one rule"),
            "{e}"
        );
        let e = err(quote!(threads(1, 2, 3), cpu_profile = "1s"));
        assert_eq!(e, "`cpu_profile` has no effect without a `cpu` rule");
        let e = err(quote!(cpu(10, 25, 80), heap_sample_rate = "1MiB"));
        assert_eq!(
            e,
            "`heap_sample_rate` has no effect without a `mem` or `heap` rule"
        );
        let e = err(quote!(cpu(10, 25, 80), allocator = false));
        assert_eq!(
            e,
            "`allocator` has no effect without a `mem` or `heap` rule"
        );
    }

    #[test]
    fn independent_errors_are_all_reported() {
        let all = errs(quote!(
            cpu(90, 0, 80),
            interval = "0s",
            nope = 1,
            threads(1, 2),
            cooldown = "soon",
            memory_limit = "1XB"
        ));
        assert_eq!(all.len(), 7, "{all:#?}");
        // Checks between values (step two) come after the others.
        assert!(all[5].contains("`cpu` rule: `diff`"), "{all:#?}");
        assert!(all[6].contains("`cpu` rule: `min`"), "{all:#?}");
    }

    #[test]
    fn a_broken_rule_does_not_add_follow_on_errors() {
        // Not also "needs at least one rule" or "cpu_profile has no effect".
        let e = err(quote!(cpu(10, 25), cpu_profile = "1s"));
        assert!(e.starts_with("`cpu` takes 3 values"), "{e}");
    }

    #[test]
    fn tables_are_consistent() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(RULES[i + 1..].iter().all(|b| b.name != a.name));
            assert!(
                SETTINGS.iter().all(|s| s.name != a.name),
                "{} is both",
                a.name
            );
        }
        for (i, a) in SETTINGS.iter().enumerate() {
            assert!(SETTINGS[i + 1..].iter().all(|b| b.name != a.name));
            for needed in a.needs_rule {
                assert!(RULES.iter().any(|r| r.name == *needed), "{needed}");
            }
        }
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("interval", "interval"), 0);
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(edit_distance("cpu_profil", "cpu_profile"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("thread", RULES.iter().map(|r| r.name)),
            Some("threads")
        );
        assert_eq!(suggest("xyz", RULES.iter().map(|r| r.name)), None);
    }
}
