//! Reading and checking a setting's value: durations and sizes in the shared grammar
//! (`holmes_settings`), numbers, paths, formats, walkers.

use super::*;

/// Reads and checks the value of one setting (or rule option).
pub(super) fn parse_setting(def: &SettingDef, entry: Entry) -> syn::Result<Value> {
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

pub(super) fn example(kind: ValueKind) -> &'static str {
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

pub(super) fn parse_formats(group: &Group) -> syn::Result<Value> {
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
pub(super) fn describe(expr: &Expr) -> &'static str {
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

pub(super) fn lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

pub(super) fn expect_u64(expr: &Expr, what: &str) -> syn::Result<u64> {
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

pub(super) fn expect_str(expr: &Expr, name: &str, kind: ValueKind) -> syn::Result<syn::LitStr> {
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
pub(super) fn duration_bounds(name: &str) -> (Duration, Duration) {
    use holmes_settings::bounds;
    let nonzero = Duration::from_nanos(1);
    match name {
        "interval" => (bounds::MIN_INTERVAL, bounds::MAX_INTERVAL),
        "cpu_profile" => (nonzero, bounds::MAX_CPU_PROFILE),
        // `cooldown` (setting and rule option), `escalate`.
        _ => (nonzero, bounds::MAX_COOLDOWN),
    }
}

pub(super) fn parse_value(def: &SettingDef, expr: &Expr) -> syn::Result<Value> {
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
