//! `#[sluice(...)]` helper attributes: which keys each place accepts, and
//! parsing them with every mistake recorded (unknown key, duplicate key,
//! missing or unexpected value) rather than stopping at the first.

use proc_macro2::{Span, TokenTree};
use syn::parse::ParseStream;
use syn::{Expr, Ident, LitStr, Token, Type};

use crate::errors::Errors;

/// The name of the helper attribute.
pub(crate) const SLUICE: &str = "sluice";

pub(crate) const CONFIG: &str = "config";
pub(crate) const VM_CONFIG: &str = "vm_config";
pub(crate) const HTTP: &str = "http";
pub(crate) const TCP: &str = "tcp";
pub(crate) const NO_MAIN: &str = "no_main";
pub(crate) const SHARED: &str = "shared";
pub(crate) const CONTEXT_ID: &str = "context_id";
pub(crate) const RENAME: &str = "rename";
pub(crate) const RENAME_ALL: &str = "rename_all";
pub(crate) const DEFAULT: &str = "default";
pub(crate) const DENY_UNKNOWN_FIELDS: &str = "deny_unknown_fields";

/// How a key is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `key`
    Flag,
    /// `key = Type`
    Type,
    /// `key = "text"`
    Str,
    /// `key` or `key = expression`
    FlagOrExpr,
}

impl Form {
    fn usage(self, key: &str) -> String {
        match self {
            Form::Flag => format!("`{key}`"),
            Form::Type => format!("`{key} = Type`"),
            Form::Str => format!("`{key} = \"...\"`"),
            Form::FlagOrExpr => format!("`{key}` or `{key} = expression`"),
        }
    }
}

/// A place where `#[sluice(...)]` may appear, and what it accepts there.
#[derive(Clone, Copy)]
pub(crate) struct Site {
    /// Where, for messages: "on a struct deriving `RootContext`".
    pub(crate) place: &'static str,
    pub(crate) keys: &'static [(&'static str, Form)],
}

pub(crate) const ROOT_STRUCT: Site = Site {
    place: "on a `#[derive(RootContext)]` struct",
    keys: &[
        (CONFIG, Form::Type),
        (VM_CONFIG, Form::Type),
        (HTTP, Form::Type),
        (TCP, Form::Type),
        (NO_MAIN, Form::Flag),
    ],
};
pub(crate) const ROOT_FIELD: Site = Site {
    place: "on a field of a `#[derive(RootContext)]` struct",
    keys: &[(CONFIG, Form::Flag), (VM_CONFIG, Form::Flag), (SHARED, Form::Flag)],
};
pub(crate) const STREAM_STRUCT: Site = Site { place: "on a stream context struct", keys: &[] };
pub(crate) const STREAM_FIELD: Site = Site {
    place: "on a field of a stream context",
    keys: &[(CONFIG, Form::Flag), (SHARED, Form::Flag), (CONTEXT_ID, Form::Flag)],
};
pub(crate) const CONFIG_STRUCT: Site = Site {
    place: "on a `#[derive(Config)]` struct",
    keys: &[(RENAME_ALL, Form::Str), (DEFAULT, Form::Flag), (DENY_UNKNOWN_FIELDS, Form::Flag)],
};
pub(crate) const CONFIG_ENUM: Site = Site { place: "on a `#[derive(Config)]` enum", keys: &[(RENAME_ALL, Form::Str)] };
pub(crate) const CONFIG_FIELD: Site = Site {
    place: "on a field of a `#[derive(Config)]` struct",
    keys: &[(RENAME, Form::Str), (DEFAULT, Form::FlagOrExpr)],
};
pub(crate) const CONFIG_VARIANT: Site =
    Site { place: "on a variant of a `#[derive(Config)]` enum", keys: &[(RENAME, Form::Str)] };

/// The value of one parsed key.
pub(crate) enum Value {
    Flag,
    Type(Type),
    Str(LitStr),
    Expr(Expr),
}

/// One parsed key, with the key's identifier kept for spans.
pub(crate) struct Attr {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

/// The keys given at one place.
#[derive(Default)]
pub(crate) struct Attrs(Vec<Attr>);

impl Attrs {
    pub(crate) fn get(&self, key: &str) -> Option<&Attr> {
        self.0.iter().find(|a| a.key == key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The type given as `key = Type`.
    pub(crate) fn ty(&self, key: &str) -> Option<&Type> {
        match &self.get(key)?.value {
            Value::Type(ty) => Some(ty),
            _ => None,
        }
    }

    /// The string given as `key = "..."`.
    pub(crate) fn str(&self, key: &str) -> Option<&LitStr> {
        match &self.get(key)?.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The span of `key` as written, if given.
    pub(crate) fn span(&self, key: &str) -> Option<Span> {
        self.get(key).map(|a| a.key.span())
    }
}

fn expected_keys(site: Site) -> String {
    match site.keys {
        [] => "it takes none (its fields take `config`, `shared` and `context_id`)".to_owned(),
        keys => {
            let list: Vec<String> = keys.iter().map(|(key, form)| form.usage(key)).collect();
            format!("expected one of {}", list.join(", "))
        }
    }
}

/// Consumes the rest of a malformed `key ...` entry up to the next comma.
fn skip_entry(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Parses every `#[sluice(...)]` among `attrs` for `site`, recording each
/// mistake in `errors` and keeping what is valid.
pub(crate) fn parse(attrs: &[syn::Attribute], site: Site, errors: &mut Errors) -> Attrs {
    let mut out = Attrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(SLUICE)) {
        if let Err(e) = attr.meta.require_list() {
            errors.spanned(attr, format!("expected `#[sluice(...)]` {}; {}", site.place, expected_keys(site)));
            drop(e);
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let key = match meta.path.get_ident() {
                Some(ident) => ident.clone(),
                None => {
                    errors.spanned(
                        &meta.path,
                        format!("unknown `sluice` attribute {}; {}", site.place, expected_keys(site)),
                    );
                    return skip_entry(meta.input);
                }
            };
            let name = key.to_string();
            let Some(&(_, form)) = site.keys.iter().find(|(k, _)| *k == name) else {
                errors.spanned(
                    &key,
                    format!("unknown `sluice` attribute `{name}` {}; {}", site.place, expected_keys(site)),
                );
                return skip_entry(meta.input);
            };
            if out.has(&name) {
                errors.spanned(&key, format!("duplicate `sluice` attribute `{name}`: it is already given above"));
                return skip_entry(meta.input);
            }
            let has_value = meta.input.peek(Token![=]);
            let value = match (form, has_value) {
                (Form::Flag, false) | (Form::FlagOrExpr, false)
                    if meta.input.is_empty() || meta.input.peek(Token![,]) =>
                {
                    Value::Flag
                }
                (Form::Flag, true) => {
                    errors.spanned(&key, format!("`{name}` takes no value {}: write `#[sluice({name})]`", site.place));
                    return skip_entry(meta.input);
                }
                (_, true) => {
                    let parsed = meta.value().and_then(|input| match form {
                        Form::Type => input.parse().map(Value::Type),
                        Form::Str => input.parse().map(Value::Str),
                        _ => input.parse().map(Value::Expr),
                    });
                    match parsed {
                        Ok(value) if meta.input.is_empty() || meta.input.peek(Token![,]) => value,
                        _ => {
                            errors.spanned(&key, format!("expected {} {}", form.usage(&name), site.place));
                            return skip_entry(meta.input);
                        }
                    }
                }
                _ => {
                    errors.spanned(&key, format!("expected {} {}", form.usage(&name), site.place));
                    return skip_entry(meta.input);
                }
            };
            out.0.push(Attr { key, value });
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    out
}
