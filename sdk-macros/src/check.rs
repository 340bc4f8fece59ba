//! Checks across fields and attributes: field roles given once, roles that
//! need a struct-level declaration, one kind of stream per root, JSON names
//! that are valid and unique.

use syn::Ident;

use crate::ast::{Field, Struct};
use crate::attr::{self, Attrs};
use crate::errors::Errors;

/// The field marked `#[sluice(role)]`, reporting every extra one.
pub(crate) fn role<'s, 'a>(fields: &'s [Field<'a>], role: &str, errors: &mut Errors) -> Option<&'s Field<'a>> {
    let mut marked = fields.iter().filter(|f| f.attrs.has(role));
    let first = marked.next()?;
    for extra in marked {
        if let Some(span) = extra.attrs.span(role) {
            errors.at(span, format!("only one field can be `#[sluice({role})]`, and `{}` already is", first.ident));
        }
    }
    Some(first)
}

/// A root field role (`config`, `vm_config`) needs its type declared on the struct.
pub(crate) fn role_needs_type(input: &Struct<'_>, role: &str, errors: &mut Errors) {
    if input.attrs.has(role) {
        return;
    }
    for field in input.fields.iter().filter(|f| f.attrs.has(role)) {
        if let Some(span) = field.attrs.span(role) {
            errors.at(
                span,
                format!(
                    "`#[sluice({role})]` field `{}` needs the {role} type: add `#[sluice({role} = Type)]` to struct `{}`",
                    field.ident, input.ident
                ),
            );
        }
    }
}

/// A root declares HTTP or TCP streams, not both: Proxy-Wasm's
/// `proxy_on_context_create(id, root)` does not say which kind of stream a new
/// context is for, so the root could only guess (the dispatcher asks for an
/// HTTP context first, and every TCP connection would get one). The official
/// SDK has the same limit (one `get_type` per root).
pub(crate) fn one_stream_kind(input: &Struct<'_>, errors: &mut Errors) {
    if let (Some(_), Some(tcp)) = (input.attrs.span(attr::HTTP), input.attrs.span(attr::TCP)) {
        errors.at(
            tcp,
            "`#[derive(RootContext)]` expects `http = Type` or `tcp = Type`, not both: Proxy-Wasm does not tell a \
             root whether a new stream is HTTP or TCP, so TCP connections would get the HTTP context; give each \
             kind its own root context (a separate plugin)",
        );
    }
}

/// The naming conventions `rename_all` accepts.
pub(crate) const CASES: &[&str] = &[
    "snake_case",
    "camelCase",
    "PascalCase",
    "kebab-case",
    "SCREAMING_SNAKE_CASE",
    "SCREAMING-KEBAB-CASE",
    "lowercase",
    "UPPERCASE",
];

/// The `rename_all` convention, or `default` when absent or invalid (reported).
pub(crate) fn rename_all(attrs: &Attrs, default: &'static str, errors: &mut Errors) -> String {
    match attrs.str(attr::RENAME_ALL) {
        Some(lit) if CASES.contains(&lit.value().as_str()) => lit.value(),
        Some(lit) => {
            let list: Vec<String> = CASES.iter().map(|c| format!("\"{c}\"")).collect();
            errors.spanned(
                lit,
                format!("unknown case `{}` for `rename_all`; expected one of {}", lit.value(), list.join(", ")),
            );
            default.to_owned()
        }
        None => default.to_owned(),
    }
}

/// The words of an identifier (`max_age` and `MaxAge` both give `max`, `age`).
fn words(ident: &Ident) -> Vec<String> {
    let text = ident.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    let mut words = Vec::new();
    for part in text.split('_').filter(|p| !p.is_empty()) {
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_uppercase() && previous_lower && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = c.is_lowercase() || c.is_ascii_digit();
            word.extend(c.to_lowercase());
        }
        words.push(word);
    }
    words
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `ident` written in `case` (one of [`CASES`]).
pub(crate) fn apply_case(ident: &Ident, case: &str) -> String {
    let words = words(ident);
    match case {
        "camelCase" => words.iter().enumerate().map(|(i, w)| if i == 0 { w.clone() } else { capitalized(w) }).collect(),
        "PascalCase" => words.iter().map(|w| capitalized(w)).collect(),
        "kebab-case" => words.join("-"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        "lowercase" => words.concat(),
        "UPPERCASE" => words.concat().to_uppercase(),
        _ => words.join("_"),
    }
}

/// The JSON name of a field or variant: its `rename`, or its identifier in
/// the container's case.
pub(crate) fn json_name(ident: &Ident, attrs: &Attrs, case: &str) -> String {
    match attrs.str(attr::RENAME) {
        Some(lit) => lit.value(),
        None => apply_case(ident, case),
    }
}

/// Reports two fields or variants that read the same JSON name.
pub(crate) fn unique_names(names: &[(String, &Ident)], what: &str, errors: &mut Errors) {
    for (i, (name, ident)) in names.iter().enumerate() {
        if let Some((_, first)) = names[..i].iter().find(|(n, _)| n == name) {
            errors.spanned(
                ident,
                format!("{what} `{ident}` and `{first}` both read the JSON name \"{name}\"; give one a `#[sluice(rename = \"...\")]`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_identifiers_between_cases() {
        let snake: Ident = syn::parse_quote!(metric_prefix_v2);
        let pascal: Ident = syn::parse_quote!(HttpOnly);
        assert_eq!(apply_case(&snake, "camelCase"), "metricPrefixV2");
        assert_eq!(apply_case(&snake, "kebab-case"), "metric-prefix-v2");
        assert_eq!(apply_case(&pascal, "snake_case"), "http_only");
        assert_eq!(apply_case(&pascal, "SCREAMING_SNAKE_CASE"), "HTTP_ONLY");
        assert_eq!(apply_case(&pascal, "lowercase"), "httponly");
        assert_eq!(apply_case(&snake, "PascalCase"), "MetricPrefixV2");
        assert_eq!(apply_case(&pascal, "SCREAMING-KEBAB-CASE"), "HTTP-ONLY");
        let raw: Ident = syn::parse_quote!(r#type);
        assert_eq!(apply_case(&raw, "snake_case"), "type");
    }
}
