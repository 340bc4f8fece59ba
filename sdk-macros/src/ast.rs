//! The typed view of a derive input: what kind of item it is, its fields or
//! variants with their parsed attributes, and the original tokens for spans.
//! Building it reports a wrong item kind and every attribute mistake.

use syn::{Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, Attrs, Site};
use crate::errors::Errors;

/// A named field (or none, for a unit struct).
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: Attrs,
}

/// A unit variant.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: Attrs,
}

/// A struct with named fields, or a unit struct (no fields).
pub(crate) struct Struct<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: Attrs,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) unit: bool,
}

/// What `#[derive(Config)]` accepts.
pub(crate) enum ConfigInput<'a> {
    Struct(Struct<'a>),
    Enum { attrs: Attrs, variants: Vec<Variant<'a>> },
}

/// The derive's name as users write it, for messages.
pub(crate) fn rejects_generics(input: &DeriveInput, derive: &str, why: &str, errors: &mut Errors) {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        errors.spanned(
            &input.generics,
            format!("`#[derive({derive})]` expects a type without generic parameters: {why}"),
        );
    }
}

fn fields<'a>(fields: &'a Fields, site: Site, errors: &mut Errors) -> Vec<Field<'a>> {
    fields
        .iter()
        .filter_map(|f| Some(Field { ident: f.ident.as_ref()?, ty: &f.ty, attrs: attr::parse(&f.attrs, site, errors) }))
        .collect()
}

/// A context struct: named fields or unit. Other item kinds are reported.
pub(crate) fn context_struct<'a>(
    input: &'a DeriveInput,
    derive: &str,
    struct_site: Site,
    field_site: Site,
    errors: &mut Errors,
) -> Option<Struct<'a>> {
    rejects_generics(input, derive, "the SDK creates this context itself, so its type must be concrete", errors);
    let expected = "a struct with named fields or a unit struct";
    let attrs = attr::parse(&input.attrs, struct_site, errors);
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) | Fields::Unit => Some(Struct {
                ident: &input.ident,
                attrs,
                fields: fields(&data.fields, field_site, errors),
                unit: matches!(data.fields, Fields::Unit),
            }),
            Fields::Unnamed(unnamed) => {
                errors.spanned(unnamed, format!("`#[derive({derive})]` expects {expected}, found a tuple struct"));
                None
            }
        },
        Data::Enum(data) => {
            errors.spanned(data.enum_token, format!("`#[derive({derive})]` expects {expected}, found an enum"));
            None
        }
        Data::Union(data) => {
            errors.spanned(data.union_token, format!("`#[derive({derive})]` expects {expected}, found a union"));
            None
        }
    }
}

/// A configuration type: a struct with named fields, or an enum of unit variants.
pub(crate) fn config_input<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<ConfigInput<'a>> {
    const EXPECTED: &str = "`#[derive(Config)]` expects a struct with named fields (read from a JSON object) or an enum of unit variants (read from a JSON string)";
    rejects_generics(input, "Config", "configuration types are concrete", errors);
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => Some(ConfigInput::Struct(Struct {
                ident: &input.ident,
                attrs: attr::parse(&input.attrs, attr::CONFIG_STRUCT, errors),
                fields: fields(&data.fields, attr::CONFIG_FIELD, errors),
                unit: false,
            })),
            Fields::Unnamed(unnamed) => {
                errors.spanned(unnamed, format!("{EXPECTED}, found a tuple struct"));
                None
            }
            Fields::Unit => {
                errors.spanned(&input.ident, format!("{EXPECTED}, found a unit struct"));
                None
            }
        },
        Data::Enum(data) => {
            let attrs = attr::parse(&input.attrs, attr::CONFIG_ENUM, errors);
            let mut variants = Vec::new();
            for variant in &data.variants {
                let attrs = attr::parse(&variant.attrs, attr::CONFIG_VARIANT, errors);
                if matches!(variant.fields, Fields::Unit) {
                    variants.push(Variant { ident: &variant.ident, attrs });
                } else {
                    errors.spanned(
                        &variant.fields,
                        format!(
                            "`#[derive(Config)]` expects unit variants (configuration enums are read from strings); `{}` has fields",
                            variant.ident
                        ),
                    );
                }
            }
            if data.variants.is_empty() {
                errors.spanned(&input.ident, "`#[derive(Config)]` expects an enum with at least one variant");
            }
            Some(ConfigInput::Enum { attrs, variants })
        }
        Data::Union(data) => {
            errors.spanned(data.union_token, format!("{EXPECTED}, found a union"));
            None
        }
    }
}
