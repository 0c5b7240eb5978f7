//! Step one's tokenizing: splitting the arguments at top-level commas and reading each
//! as `key = value`, `key(...)` or a bare key.

use super::*;

/// One comma-separated argument, before its key is looked up.
pub(super) enum Entry {
    /// `key = value`
    Assign { key: Ident, value: TokenStream },
    /// `key(...)`
    List { key: Ident, group: Group },
    /// `key` alone.
    Bare { key: Ident },
}

impl Entry {
    pub(super) fn parse(tokens: Vec<TokenTree>) -> syn::Result<Entry> {
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
pub(super) fn split_commas(tokens: TokenStream, errors: &mut Errors) -> Vec<Vec<TokenTree>> {
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

pub(super) fn first_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}
