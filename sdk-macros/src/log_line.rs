//! `log_line!`, behind `sluice::info!` and the other level macros: a format
//! string taken apart at compile time, so that a log line is built by
//! appending its literal pieces and arguments, not by `core::fmt`'s
//! interpreter of format specifications.
//!
//! Input: `$crate, level, "format", args...`, with Rust's format syntax:
//! `{}`, `{0}`, `{name}` (a named argument or a variable in scope), `{{` and
//! `}}`, and any specification (`{:?}`, `{:>8}`, `{name:x}`) except a width
//! or precision taken from another argument (`{:.*}`, `{:w$}`). A placeholder
//! without a specification is appended by the runtime's `Arg` (directly for
//! strings, integers, `bool` and `char`, through `Display` otherwise); one
//! with a specification goes through `format_args!` for that argument alone.
//! Arguments are evaluated once, in order, and only if the level is enabled.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// One argument after the format string.
enum Argument {
    Positional(Expr),
    Named(Ident, Expr),
}

impl Parse for Argument {
    fn parse(input: ParseStream<'_>) -> syn::Result<Argument> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Argument::Named(name, input.parse()?));
        }
        Ok(Argument::Positional(input.parse()?))
    }
}

/// The whole input.
pub(crate) struct LogLine {
    krate: TokenStream,
    level: Expr,
    format: LitStr,
    arguments: Vec<Argument>,
}

impl Parse for LogLine {
    fn parse(input: ParseStream<'_>) -> syn::Result<LogLine> {
        // `$crate` arrives as one token tree (or a path when called from elsewhere).
        let mut krate = TokenStream::new();
        while !input.peek(Token![,]) {
            let tree: proc_macro2::TokenTree = input.parse()?;
            krate.extend([tree]);
        }
        input.parse::<Token![,]>()?;
        let level = input.parse()?;
        input.parse::<Token![,]>()?;
        let format = input.parse().map_err(|e| syn::Error::new(e.span(), "expected a format string literal"))?;
        let mut arguments = Vec::new();
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
            let rest = Punctuated::<Argument, Token![,]>::parse_terminated(input)?;
            arguments.extend(rest);
        }
        Ok(LogLine { krate, level, format, arguments })
    }
}

/// A part of the format string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    /// `{...}`: which argument, and its specification (`""` for none).
    Hole {
        argument: Slot,
        spec: String,
    },
}

/// How a placeholder names its argument.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Next,
    Index(usize),
    Name(String),
}

/// Whether a specification (`:...`) takes its width or precision from
/// another argument (`*`, `$`), which a single-argument `format_args!`
/// cannot serve. A fill character may be `*` or `$`: it is skipped first.
fn takes_argument(spec: &str) -> bool {
    let rest = spec.strip_prefix(':').unwrap_or(spec);
    let mut chars = rest.chars();
    let rest = match (chars.next(), chars.next()) {
        (Some(_), Some('<' | '^' | '>')) => &rest[rest.char_indices().nth(2).map_or(rest.len(), |(i, _)| i)..],
        (Some('<' | '^' | '>'), _) => &rest[1..],
        _ => rest,
    };
    rest.contains(['$', '*'])
}

/// Splits a format string into pieces, or says what is wrong with it.
pub(crate) fn parse_format(format: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("unmatched `}` in format string (write `}}` for a literal brace)".into()),
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') => return Err("`{` inside a placeholder (write `{{` for a literal brace)".into()),
                        Some(c) => inner.push(c),
                        None => return Err("unterminated placeholder: expected `}`".into()),
                    }
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let (name, spec) = match inner.split_once(':') {
                    Some((name, spec)) => (name.trim(), format!(":{spec}")),
                    None => (inner.trim(), String::new()),
                };
                if takes_argument(&spec) {
                    return Err(format!(
                        "`{{{inner}}}`: a width or precision taken from another argument (`*`, `$`) is not supported \
                         here; format the value with `format!` first"
                    ));
                }
                let argument = if name.is_empty() {
                    Slot::Next
                } else if name.bytes().all(|b| b.is_ascii_digit()) {
                    Slot::Index(name.parse().map_err(|_| format!("argument index `{name}` is too large"))?)
                } else if syn::parse_str::<Ident>(name).is_ok() {
                    Slot::Name(name.to_owned())
                } else {
                    return Err(format!("invalid argument name `{name}` in format string"));
                };
                pieces.push(Piece::Hole { argument, spec });
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

impl LogLine {
    pub(crate) fn expand(self) -> syn::Result<TokenStream> {
        let LogLine { krate, level, format, arguments } = self;
        let pieces = parse_format(&format.value()).map_err(|message| syn::Error::new(format.span(), message))?;

        // Arguments, evaluated into locals in order; named ones also by name.
        let mut bindings: Vec<(Ident, &Expr)> = Vec::new();
        let mut positional = Vec::new();
        let mut named: Vec<(String, Ident)> = Vec::new();
        for (i, argument) in arguments.iter().enumerate() {
            let local = format_ident!("__sluice_arg{}", i, span = Span::mixed_site());
            let expr = match argument {
                Argument::Positional(expr) => {
                    if !named.is_empty() {
                        return Err(syn::Error::new_spanned(
                            expr,
                            "positional arguments cannot follow named arguments",
                        ));
                    }
                    positional.push(local.clone());
                    expr
                }
                Argument::Named(name, expr) => {
                    named.push((name.to_string(), local.clone()));
                    expr
                }
            };
            bindings.push((local, expr));
        }

        let mut used = vec![false; arguments.len()];
        let mut next = 0;
        let mut steps = Vec::new();
        for piece in pieces {
            let (slot, spec) = match piece {
                Piece::Text(text) => {
                    steps.push(quote! { __sluice_line.text(#text); });
                    continue;
                }
                Piece::Hole { argument, spec } => (argument, spec),
            };
            let value = match slot {
                Slot::Next | Slot::Index(_) => {
                    let (index, which) = match slot {
                        Slot::Index(index) => (index, format!("`{{{index}}}`")),
                        _ => {
                            next += 1;
                            (next - 1, format!("placeholder {next} (`{{}}`)"))
                        }
                    };
                    let Some(local) = positional.get(index) else {
                        let message = format!(
                            "{which} has no argument: {} positional argument{} given",
                            positional.len(),
                            if positional.len() == 1 { " is" } else { "s are" }
                        );
                        return Err(syn::Error::new(format.span(), message));
                    };
                    used[index] = true;
                    (quote! { #local }, quote! { *#local })
                }
                Slot::Name(name) => match named.iter().position(|(n, _)| *n == name) {
                    Some(at) => {
                        used[positional.len() + at] = true;
                        let local = &named[at].1;
                        (quote! { #local }, quote! { *#local })
                    }
                    // A variable captured from the caller's scope.
                    None => {
                        let ident = Ident::new(&name, format.span());
                        (quote! { &#ident }, quote! { #ident })
                    }
                },
            };
            // `by_ref` is a reference to the argument, `by_value` the argument
            // itself (which `format_args!` borrows: `{:p}` sees the pointer).
            let (by_ref, by_value) = value;
            if spec.is_empty() {
                steps.push(quote! { (&#krate::__private::log_line::Arg(#by_ref)).put(&mut __sluice_line); });
            } else {
                let single = format!("{{{spec}}}");
                steps.push(quote! { __sluice_line.fmt(::core::format_args!(#single, #by_value)); });
            }
        }
        if let Some(unused) = used.iter().position(|u| !u) {
            let expr = match &arguments[unused] {
                Argument::Positional(expr) | Argument::Named(_, expr) => expr,
            };
            return Err(syn::Error::new_spanned(expr, "argument never used by the format string"));
        }

        let locals = bindings.iter().map(|(local, _)| local);
        let exprs = bindings.iter().map(|(_, expr)| expr);
        Ok(quote! {{
            let __sluice_level: #krate::LogLevel = #level;
            if #krate::__private::log_line::enabled(__sluice_level) {
                #[allow(unused_imports)]
                use #krate::__private::log_line::{Direct as _, ByDisplay as _};
                // A `match` keeps the arguments' temporaries alive to its end.
                match (#(&(#exprs),)*) {
                    (#(#locals,)*) => {
                        let mut __sluice_line = #krate::__private::log_line::Line::new();
                        #(#steps)*
                        __sluice_line.log(__sluice_level);
                    }
                }
            }
        }})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.into())
    }

    fn hole(argument: Slot, spec: &str) -> Piece {
        Piece::Hole { argument, spec: spec.into() }
    }

    #[test]
    fn splits_text_and_placeholders() {
        assert_eq!(
            parse_format("#{} -> {}: {}").unwrap(),
            [text("#"), hole(Slot::Next, ""), text(" -> "), hole(Slot::Next, ""), text(": "), hole(Slot::Next, "")]
        );
        assert_eq!(
            parse_format("{{{0}}} {name:?} {:>8}").unwrap(),
            [
                text("{"),
                hole(Slot::Index(0), ""),
                text("} "),
                hole(Slot::Name("name".into()), ":?"),
                text(" "),
                hole(Slot::Next, ":>8")
            ]
        );
        assert_eq!(parse_format("").unwrap(), []);
    }

    #[test]
    fn refuses_broken_format_strings() {
        assert!(parse_format("a } b").unwrap_err().contains("unmatched `}`"));
        assert!(parse_format("a {b").unwrap_err().contains("unterminated"));
        assert!(parse_format("{a{b}").unwrap_err().contains("inside a placeholder"));
        assert!(parse_format("{a-b}").unwrap_err().contains("invalid argument name"));
        assert!(parse_format("{:.*}").unwrap_err().contains("not supported"));
        assert!(parse_format("{:width$}").unwrap_err().contains("not supported"));
        assert!(parse_format("{:*^9} {:$<3}").is_ok(), "`*` and `$` as fill characters");
        assert!(parse_format("{type}").unwrap_err().contains("invalid argument name"));
        assert!(parse_format("{²}").unwrap_err().contains("invalid argument name"));
        assert!(parse_format("{+0}").unwrap_err().contains("invalid argument name"));
    }
}
