//! Rules: reading `name(min, diff, abs[, max][, option = value]...)` (step one) and
//! checking the relations between its numbers (step two, `holmes_settings::check_rule`).

use super::*;

/// `min, diff, abs` or `min, diff, abs[, max]`, for messages.
pub(super) fn rule_params(def: &RuleDef) -> &'static str {
    match def.kind {
        RuleKind::Percent => "min, diff, abs",
        RuleKind::Count => "min, diff, abs[, max]",
    }
}

pub(super) const PARAM_NAMES: [&str; 4] = ["min", "diff", "abs", "max"];

/// Reads `name(v1, v2, v3[, v4][, option = value]...)`: types and counts only.
pub(super) fn parse_rule(def: &RuleDef, group: &Group) -> syn::Result<RuleArgs> {
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
pub(super) fn check_rule(
    def: &'static RuleDef,
    args: RuleArgs,
    span: Span,
) -> syn::Result<RuleConfig> {
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
