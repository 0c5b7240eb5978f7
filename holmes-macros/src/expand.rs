//! The expansion of `#[holmes::watch]`: insert one guard statement at the top of the
//! function and keep the original body, untouched and unparsed, as an inner block.
//!
//! ```text
//! // Only with a `mem`/`heap` rule: `#[global_allocator] static __HOLMES_ALLOCATOR: <type> =
//! // <value>;`, through a macro whose name says what to write when the program has its own.
//! // With `allocator = A`: `::holmes::Allocator<A> = ::holmes::Allocator::new(A)`.
//! ::holmes::__private::to_keep_your_global_allocator_…!(::holmes::Allocator = ::holmes::Allocator::system());
//! <attributes> <visibility> <signature> {
//!     <inner attributes>
//!     let __holmes_guard = ::holmes::__private::start(<builder>, ::holmes::__private::OnError::Log);
//!     { <original statements> }
//! }
//! ```
//!
//! The original block is the tail expression of the new body, so its value is the
//! function's value; `return` and `?` inside it still leave the function, and `async`, the
//! return type and other attributes (such as `#[tokio::main]`, above or below) are kept.

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, GenericParam, Signature, Token, Visibility};

use crate::args::{self, AllocatorChoice, Call, Config, OnError, RuleConfig, Value};
use crate::errors::Errors;

/// Expands `#[holmes::watch(<args>)] <item>`. On any error the item is emitted unchanged
/// next to the `compile_error!`s, so that no follow-on errors appear.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let config = errors.take(args::parse(args));
    let function = errors.take(syn::parse2::<WatchedFn>(item.clone()).and_then(|f| f.check()));
    match (config, function, errors.finish(())) {
        (Some(config), Some(function), Ok(())) => match function.check_with(&config) {
            Err(error) => {
                let mut out = item;
                out.extend(error.into_compile_error());
                out
            }
            Ok(()) if config.enabled => function.expand(&config),
            Ok(()) => item,
        },
        (_, _, result) => {
            let mut out = item;
            if let Err(error) = result {
                out.extend(error.into_compile_error());
            }
            out
        }
    }
}

/// A function whose body is kept as tokens: the statements are never parsed.
struct WatchedFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    inner_attrs: Vec<Attribute>,
    body: Group,
}

impl Parse for WatchedFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let not_a_function = |input: ParseStream| {
            let span = input
                .cursor()
                .token_tree()
                .map_or_else(Span::call_site, |(tt, _)| tt.span());
            syn::Error::new(
                span,
                "#[holmes::watch] can only be put on a function, such as `fn main()` or `async fn run()`",
            )
        };
        let looks_like_fn = input.peek(Token![fn])
            || input.peek(Token![async])
            || input.peek(Token![unsafe])
            || input.peek(Token![extern])
            || (input.peek(Token![const]) && !input.peek2(syn::Ident));
        if !looks_like_fn {
            return Err(not_a_function(input));
        }
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new(
                input.span(),
                "#[holmes::watch] needs a function with a body",
            ));
        }
        let body: Group = match input.parse::<TokenTree>()? {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => group,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "expected the function body `{ ... }`",
                ))
            }
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        // Inner attributes (`#![allow(..)]`) must stay first in the body: split them off.
        let (inner_attrs, rest) = syn::parse::Parser::parse2(
            |input: ParseStream| {
                let inner = input.call(Attribute::parse_inner)?;
                let rest: TokenStream = input.parse()?;
                Ok((inner, rest))
            },
            body.stream(),
        )?;
        let mut body_rest = Group::new(Delimiter::Brace, rest);
        body_rest.set_span(body.span());
        Ok(WatchedFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            body: body_rest,
        })
    }
}

impl WatchedFn {
    /// Rejects the functions holmes cannot watch.
    fn check(self) -> syn::Result<Self> {
        let mut errors = Errors::default();
        if let Some(constness) = &self.sig.constness {
            errors.push(syn::Error::new_spanned(
                constness,
                "#[holmes::watch] cannot be put on a `const fn`: starting holmes happens at run time",
            ));
        }
        for param in &self.sig.generics.params {
            if !matches!(param, GenericParam::Lifetime(_)) {
                errors.push(syn::Error::new_spanned(
                    param,
                    "#[holmes::watch] cannot be put on a generic function; put it on `main` or on a non-generic function that calls this one",
                ));
            }
        }
        if self.sig.ident == "main" && !self.sig.inputs.is_empty() {
            errors.push(syn::Error::new_spanned(
                &self.sig.inputs,
                "`main` cannot take arguments; read them with `std::env::args()`",
            ));
        }
        errors.finish(self)
    }

    /// Checks that depend on both the function and the arguments.
    fn check_with(&self, config: &Config) -> syn::Result<()> {
        let Some(rule) = config.rules.iter().find(|r| r.def.needs_tokio_runtime) else {
            return Ok(());
        };
        // Attributes expand from the top down. Above `#[tokio::main]`, this attribute sees
        // the `async fn main` and the guard ends up inside the runtime's `block_on`.
        // Below it, `#[tokio::main]` has already turned `main` into a synchronous
        // function that builds the runtime, and a synchronous `main` never runs inside one.
        if self.sig.ident == "main" && self.sig.asyncness.is_none() {
            return Err(syn::Error::new(
                rule.span,
                format!(
                    "the `{}` rule counts the tasks of the tokio runtime holmes starts in, and a synchronous `main` runs outside any runtime: put #[holmes::watch] above #[tokio::main], or on an async function",
                    rule.def.name
                ),
            ));
        }
        Ok(())
    }

    fn expand(self, config: &Config) -> TokenStream {
        let WatchedFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            body,
        } = self;
        let krate = &config.krate;
        let builder = builder_expr(config);
        let on_error = match config.on_error {
            OnError::Log => quote!(Log),
            OnError::Panic => quote!(Panic),
        };
        let allocator = config.allocator.as_ref().map(|choice| {
            let (ty, value, name) = match choice {
                AllocatorChoice::System => (
                    quote!(#krate::Allocator),
                    quote!(#krate::Allocator::system()),
                    "to_keep_your_global_allocator_write__allocator_eq_YourAllocator__or__allocator_eq_false",
                ),
                // A unit struct is both the type and its value (`mimalloc::MiMalloc`).
                AllocatorChoice::Wrap(path) => (
                    quote!(#krate::Allocator<#path>),
                    quote!(#krate::Allocator::new(#path)),
                    "allocator_eq_wraps_yours__remove_your_own_global_allocator",
                ),
            };
            // A program that declares its own global allocator gets rustc's "cannot
            // define multiple global allocators". The static comes from a macro of
            // holmes invoked with the span of the rule that needs it (the user's own
            // tokens, so no expansion of ours hides it), so the error underlines the
            // rule and its note names the macro, whose name says what to write.
            let span = config
                .rules
                .iter()
                .find(|r| r.def.needs_allocator)
                .map_or_else(Span::call_site, |r| r.span);
            let krate = respan(krate.to_token_stream(), span);
            let name = Ident::new(name, span);
            quote_spanned! {span=>
                #krate::__private::#name!(#ty = #value);
            }
        });
        quote! {
            #allocator
            #(#attrs)*
            #vis #sig {
                #(#inner_attrs)*
                let __holmes_guard = #krate::__private::start(
                    #builder,
                    #krate::__private::OnError::#on_error,
                );
                #body
            }
        }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(g) => {
                let mut out = Group::new(g.delimiter(), respan(g.stream(), span));
                out.set_span(span);
                TokenTree::Group(out)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// `<krate>::Holmes::builder().<setting>(..)...<rule>(<krate>::Rule::new(..)...)`.
fn builder_expr(config: &Config) -> TokenStream {
    let krate = &config.krate;
    let mut builder = quote!(#krate::Holmes::builder());
    for call in &config.settings {
        builder = method_call(builder, call, krate);
    }
    for rule in &config.rules {
        builder = rule_call(builder, rule, krate);
    }
    builder
}

fn rule_call(builder: TokenStream, rule: &RuleConfig, krate: &syn::Path) -> TokenStream {
    let [min, diff, abs] = [rule.min, rule.diff, rule.abs].map(Literal::u64_unsuffixed);
    let mut value = quote!(#krate::Rule::new(#min, #diff, #abs));
    if let Some(max) = rule.max {
        let max = Literal::u64_unsuffixed(max);
        value = quote!(#value.max(#max));
    }
    for option in &rule.options {
        value = method_call(value, option, krate);
    }
    // The method name carries the span of the rule name in the attribute, so that a
    // runtime without this rule kind reports the error there.
    let method = Ident::new(rule.def.method, rule.span);
    quote!(#builder.#method(#value))
}

fn method_call(receiver: TokenStream, call: &Call, krate: &syn::Path) -> TokenStream {
    let method = Ident::new(call.method, call.span);
    let value = value_tokens(&call.value, krate);
    quote!(#receiver.#method(#value))
}

fn value_tokens(value: &Value, krate: &syn::Path) -> TokenStream {
    match value {
        Value::Duration(nanos) => {
            let nanos = Literal::u64_unsuffixed(*nanos);
            quote!(#krate::__private::Duration::from_nanos(#nanos))
        }
        Value::Size(n) | Value::Int(n) => Literal::u64_unsuffixed(*n).into_token_stream(),
        Value::Float(f) => Literal::f64_suffixed(*f).into_token_stream(),
        Value::Str(s) => Literal::string(s).into_token_stream(),
        Value::Bool(b) => quote!(#b),
        Value::Formats(formats) => {
            let formats = formats.iter().map(|f| Ident::new(f, Span::call_site()));
            quote!([#(#krate::Format::#formats),*])
        }
        // Read by the macro itself, never passed to a builder method.
        Value::Path(path) => path.to_token_stream(),
        Value::Expr(expr) => expr.to_token_stream(),
        Value::StackWalk(variant) => {
            let variant = Ident::new(variant, Span::call_site());
            quote!(#krate::StackWalk::#variant)
        }
        Value::OnError(_) | Value::Allocator(_) => TokenStream::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::{Expr, Item, ItemFn, Pat, Stmt};

    fn expand_fn(args: TokenStream, item: TokenStream) -> (Vec<Item>, ItemFn) {
        let out = expand(args, item);
        let file: syn::File = syn::parse2(out.clone()).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(!out.to_string().contains("compile_error"), "{out}");
        let mut items = file.items;
        let function = match items.pop() {
            Some(Item::Fn(f)) => f,
            _ => panic!("the function must come last: {out}"),
        };
        (items, function)
    }

    /// The expansion failed: the item is emitted unchanged, then the errors.
    fn expand_err(args: TokenStream, item: TokenStream) -> Vec<String> {
        let out = expand(args, item.clone()).to_string();
        let item = item.to_string();
        assert!(out.starts_with(&item), "item not kept unchanged: {out}");
        let errors = &out[item.len()..];
        assert!(errors.contains("compile_error"), "{out}");
        let errors: syn::File = syn::parse_str(errors).unwrap_or_else(|e| panic!("{e}"));
        errors
            .items
            .iter()
            .map(|i| match i {
                Item::Macro(m) => m.mac.tokens.to_string(),
                _ => panic!("not compile_error!"),
            })
            .collect()
    }

    fn guard_statement(function: &ItemFn) -> String {
        match &function.block.stmts[0] {
            Stmt::Local(local) => {
                assert!(matches!(&local.pat, Pat::Ident(p) if p.ident == "__holmes_guard"));
                local
                    .init
                    .as_ref()
                    .map(|i| i.expr.to_token_stream().to_string())
                    .unwrap_or_default()
            }
            _ => panic!("the first statement must be the guard"),
        }
    }

    #[test]
    fn sync_main_keeps_its_body_as_the_tail_block() {
        let (items, f) = expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn main() -> Result<(), String> {
                    let x = "1".parse::<u8>().map_err(|e| e.to_string())?;
                    drop(x);
                    Ok(())
                }
            ),
        );
        assert!(items.is_empty(), "no allocator without mem/heap");
        assert_eq!(
            f.sig.to_token_stream().to_string(),
            "fn main () -> Result < () , String >"
        );
        assert_eq!(f.block.stmts.len(), 2);
        assert_eq!(
            guard_statement(&f),
            ":: holmes :: __private :: start (:: holmes :: Holmes :: builder () . cpu (:: holmes :: Rule :: new (10 , 25 , 80)) , :: holmes :: __private :: OnError :: Log ,)"
        );
        match &f.block.stmts[1] {
            Stmt::Expr(Expr::Block(block), None) => assert_eq!(
                block.block.to_token_stream().to_string(),
                "{ let x = \"1\" . parse :: < u8 > () . map_err (| e | e . to_string ()) ? ; drop (x) ; Ok (()) }"
            ),
            _ => panic!("the original block must be the tail expression"),
        }
    }

    #[test]
    fn async_fn_keeps_attributes_visibility_and_asyncness() {
        let (_, f) = expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                #[tokio::main(flavor = "current_thread")]
                #[doc = "x"]
                pub async fn run() {}
            ),
        );
        assert!(f.sig.asyncness.is_some());
        assert!(matches!(f.vis, Visibility::Public(_)));
        let attrs: Vec<String> = f
            .attrs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect();
        assert_eq!(
            attrs,
            [
                "# [tokio :: main (flavor = \"current_thread\")]",
                "# [doc = \"x\"]"
            ]
        );
    }

    #[test]
    fn inner_attributes_stay_first() {
        let (_, f) = expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn main() {
                    #![allow(unused)]
                    let a = 1;
                }
            ),
        );
        let inner: Vec<String> = f
            .attrs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect();
        assert_eq!(inner, ["# ! [allow (unused)]"]);
        assert_eq!(f.block.stmts.len(), 2);
    }

    #[test]
    fn every_builder_setting_is_emitted() {
        let (_, f) = expand_fn(
            quote!(
                cpu(10, 25, 80, cooldown = "30s"),
                threads(10, 25, 70, 500),
                interval = "2s",
                dump_dir = "/tmp/x",
                cooldown = "1m",
                cpu_profile = "1s",
                cpu_max = 95,
                cpu_cores = 1.5,
                memory_limit = "1KiB",
                formats(pprof, svg),
                on_error = "panic"
            ),
            quote!(
                fn main() {}
            ),
        );
        let guard = guard_statement(&f);
        for expected in [
            ". interval (:: holmes :: __private :: Duration :: from_nanos (2000000000))",
            ". dump_dir (\"/tmp/x\")",
            ". cooldown (:: holmes :: __private :: Duration :: from_nanos (60000000000))",
            ". cpu_profile_duration (:: holmes :: __private :: Duration :: from_nanos (1000000000))",
            ". cpu_max (95)",
            ". cpu_cores (1.5f64)",
            ". memory_limit (1024)",
            ". formats ([:: holmes :: Format :: Pprof , :: holmes :: Format :: Svg])",
            ". cpu (:: holmes :: Rule :: new (10 , 25 , 80) . cooldown (:: holmes :: __private :: Duration :: from_nanos (30000000000)))",
            ". threads (:: holmes :: Rule :: new (10 , 25 , 70) . max (500))",
            ":: holmes :: __private :: OnError :: Panic",
        ] {
            assert!(guard.contains(expected), "missing `{expected}` in {guard}");
        }
    }

    #[test]
    fn crate_path_is_used_everywhere() {
        let (items, f) = expand_fn(
            quote!(
                mem(3, 25, 80),
                interval = "1s",
                crate = "::platform::holmes"
            ),
            quote!(
                fn main() {}
            ),
        );
        let all = quote!(#(#items)* #f).to_string();
        assert!(
            !all.replace(":: platform :: holmes", "")
                .contains("holmes ::"),
            "{all}"
        );
        assert!(
            all.contains(":: platform :: holmes :: __private :: start"),
            "{all}"
        );
        assert!(
            all.contains(":: platform :: holmes :: Allocator :: system ()"),
            "{all}"
        );
    }

    #[test]
    fn allocator_static() {
        let (items, _) = expand_fn(
            quote!(heap(3, 25, 80)),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(
            quote!(#(#items)*).to_string(),
            ":: holmes :: __private :: to_keep_your_global_allocator_write__allocator_eq_YourAllocator__or__allocator_eq_false ! (:: holmes :: Allocator = :: holmes :: Allocator :: system ()) ;"
        );
        let (items, _) = expand_fn(
            quote!(mem(3, 25, 80), allocator = my::Alloc),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(
            quote!(#(#items)*).to_string(),
            ":: holmes :: __private :: allocator_eq_wraps_yours__remove_your_own_global_allocator ! (:: holmes :: Allocator < my :: Alloc > = :: holmes :: Allocator :: new (my :: Alloc)) ;"
        );
        let (items, _) = expand_fn(
            quote!(mem(3, 25, 80), allocator = false),
            quote!(
                fn main() {}
            ),
        );
        assert!(items.is_empty());
    }

    #[test]
    fn disabled_emits_the_function_unchanged() {
        let item = quote!(
            #[inline]
            fn main() {
                println!("hi");
            }
        );
        let out = expand(
            quote!(cpu(10, 25, 80), mem(3, 25, 80), enabled = false),
            item.clone(),
        );
        assert_eq!(out.to_string(), item.to_string());
    }

    #[test]
    fn non_main_functions_and_lifetimes_are_fine() {
        expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn run(port: u16) -> u16 {
                    port
                }
            ),
        );
        expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn run<'a>(s: &'a str) -> &'a str {
                    s
                }
            ),
        );
        expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                unsafe extern "C" fn run() {}
            ),
        );
    }

    #[test]
    fn bad_arguments_keep_the_function() {
        let errors = expand_err(
            quote!(cpu(90, 25, 80)),
            quote!(
                fn main() {
                    work();
                }
            ),
        );
        assert_eq!(
            errors,
            ["\"`cpu` rule: `min` (90) must not be greater than `abs` (80): the rule could never fire on `abs`\""]
        );
    }

    #[test]
    fn not_a_function() {
        let errors = expand_err(
            quote!(cpu(10, 25, 80)),
            quote!(
                pub struct S;
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("can only be put on a function"),
            "{errors:?}"
        );
        let errors = expand_err(
            quote!(cpu(10, 25, 80)),
            quote!(
                const X: u8 = 1;
            ),
        );
        assert!(
            errors[0].contains("can only be put on a function"),
            "{errors:?}"
        );
        let errors = expand_err(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn f();
            ),
        );
        assert!(
            errors[0].contains("needs a function with a body"),
            "{errors:?}"
        );
    }

    #[test]
    fn rejected_functions_and_argument_errors_are_reported_together() {
        let errors = expand_err(
            quote!(cpu(10, 0, 80)),
            quote!(
                const fn main<T: Copy, const N: usize>(args: Vec<String>) {}
            ),
        );
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].contains("diff"), "{errors:?}");
        assert!(errors[1].contains("`const fn`"), "{errors:?}");
        assert!(errors[2].contains("generic function"), "{errors:?}");
        assert!(errors[3].contains("generic function"), "{errors:?}");
        assert!(
            errors[4].contains("`main` cannot take arguments"),
            "{errors:?}"
        );
    }

    #[test]
    fn tasks_rule_must_start_inside_the_tokio_runtime() {
        // What this attribute sees below `#[tokio::main]`: a synchronous `main`.
        let errors = expand_err(
            quote!(tasks(3000, 20, 200000)),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("put #[holmes::watch] above #[tokio::main]"),
            "{errors:?}"
        );
        // Above `#[tokio::main]`, on an async fn, or on a sync fn called inside the runtime.
        expand_fn(
            quote!(tasks(3000, 20, 200000)),
            quote!(
                #[tokio::main]
                async fn main() {}
            ),
        );
        expand_fn(
            quote!(tasks(3000, 20, 200000)),
            quote!(
                async fn serve() {}
            ),
        );
        expand_fn(
            quote!(tasks(3000, 20, 200000)),
            quote!(
                fn handle() {}
            ),
        );
        // Other rules do not care.
        expand_fn(
            quote!(cpu(10, 25, 80)),
            quote!(
                fn main() {}
            ),
        );
    }

    #[test]
    fn unparsable_item_is_kept() {
        let item = quote!(fn main(x:) {});
        let out = expand(quote!(cpu(10, 25, 80)), item.clone()).to_string();
        assert!(
            out.starts_with(&item.to_string()) && out.contains("compile_error"),
            "{out}"
        );
    }
}
