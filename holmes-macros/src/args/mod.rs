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

mod names;
mod rules;
mod tables;
mod tokens;
mod values;

use names::*;
use rules::*;
pub(crate) use tables::*;
use tokens::*;
use values::*;

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
